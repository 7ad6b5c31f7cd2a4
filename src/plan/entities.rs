//! The tutorial's steps for each entity of a profile: the answers typed
//! at openssl's prompts, the CA (and, in strict mode, the extensions it
//! gets), the intermediate and each leaf. plan/tutorial.rs puts them
//! together.

use crate::error::{Error, Problem, Problems, Result};
use crate::pki::fixture::Kind;
use crate::pki::profile::{Entity, Intermediate, KeySpec, P12, Profile, Role};
use crate::plan::builders::{
    bundle_step, ca_cert_step, csr_step, genkey, intermediate_extensions, key_words, p12_step,
    sign_step, sign_step_with,
};
use crate::plan::caps::Capabilities;
use crate::plan::prompts::{Answers, PromptLayout};
use crate::plan::step::Step;

/// The answers typed at openssl's prompts, for every entity of a profile.
pub(crate) struct Answered {
    pub(crate) ca: Answers,
    pub(crate) intermediate: Option<Answers>,
    pub(crate) leaves: Vec<Answers>,
    /// A CA certificate with the leaves' issuer's subject (a foreign-ca
    /// fixture's other CA), when the profile has fixtures.
    pub(crate) issuer: Option<Answers>,
    /// For each leaf, the answers of the CA of its own, for the fixtures
    /// that have one (plan/fixtures.rs, `own_issuer`).
    pub(crate) own: Vec<Option<Answers>>,
}

impl Answered {
    /// Every entity's answers, or every problem with them at once.
    pub(crate) fn of(profile: &Profile, layout: &PromptLayout) -> Result<Answered> {
        let mut problems: Vec<Problem> = Vec::new();
        let mut answers = |entity: &Entity, csr: bool| match layout.answers_for(entity, csr) {
            Ok(a) => Some(a),
            Err(p) => {
                problems.extend(p);
                None
            }
        };
        let ca = answers(&profile.ca, false);
        let intermediate = profile
            .intermediate
            .as_ref()
            .map(|i| answers(&i.entity, true));
        let leaves: Vec<Option<Answers>> = profile.leaves().map(|e| answers(e, true)).collect();
        let issuer = profile
            .fixtures()
            .next()
            .map(|_| answers(profile.issuer(), false));
        let own: Vec<Option<Option<Answers>>> = profile
            .leaves()
            .map(|e| match &e.fixture {
                Some(f) if f.kind.has_own_issuer() && f.kind != Kind::ForeignCa => {
                    answers(&e.own_issuer(), true).map(Some)
                }
                _ => Some(None),
            })
            .collect();
        let optional = |a: Option<Option<Answers>>| a.map_or(Some(None), |a| a.map(Some));
        match (
            ca,
            optional(intermediate),
            leaves.into_iter().collect::<Option<Vec<_>>>(),
            optional(issuer),
            own.into_iter().collect::<Option<Vec<_>>>(),
        ) {
            (Some(ca), Some(intermediate), Some(leaves), Some(issuer), Some(own)) => Ok(Answered {
                ca,
                intermediate,
                leaves,
                issuer,
                own,
            }),
            _ => Err(Error::Profile(Problems {
                file: profile.path.clone(),
                list: problems,
            })),
        }
    }
}

/// What RFC 5280 and the CA/Browser Forum ask of a CA certificate; strict
/// verifiers (OpenSSL's -x509_strict among them) refuse a CA without keyUsage
/// keyCertSign. Each is `(name, -addext text, what a config's own value must
/// hold to do instead)`.
const STRICT_CA: [(&str, &str, &[&str]); 3] = [
    (
        "basicConstraints",
        "basicConstraints = critical, CA:TRUE",
        &["critical", "CA:TRUE"],
    ),
    (
        "keyUsage",
        "keyUsage = critical, keyCertSign, cRLSign",
        &["critical", "keyCertSign", "cRLSign"],
    ),
    ("subjectKeyIdentifier", "subjectKeyIdentifier = hash", &[]),
];

/// The `-addext` texts of a strict CA. An OpenSSL whose -addext does not
/// replace the config's own extensions (1.1.1) would write duplicates, so
/// there the config's value stands, when it is strict enough.
pub(crate) fn strict_ca_extensions(
    layout: &PromptLayout,
    caps: Capabilities,
) -> std::result::Result<Vec<&'static str>, crate::plan::caps::NotStrictEnough> {
    let mut out = Vec::new();
    for (name, text, needs) in STRICT_CA {
        let configured = layout.x509_extensions.iter().find(|(k, _)| k == name);
        match configured {
            Some((_, value)) if !caps.addext_replaces => {
                let words: Vec<String> = value
                    .split(',')
                    .map(|w| w.trim().to_ascii_lowercase())
                    .collect();
                if let Some(missing) = needs
                    .iter()
                    .find(|n| !words.contains(&n.to_ascii_lowercase()))
                {
                    return Err(crate::plan::caps::NotStrictEnough {
                        name,
                        value: value.clone(),
                        missing,
                        text,
                    });
                }
            }
            _ => out.push(text),
        }
    }
    Ok(out)
}

pub(crate) fn ca_steps(
    ca: &Entity,
    answers: Answers,
    extensions: &[&str],
    strict: bool,
) -> Vec<Step> {
    let heading = match ca.key {
        KeySpec::Rsa(_) => format!(
            "Generate a {}, for the CA, using the PKCS#8 format.",
            key_words(ca)
        ),
        _ => format!("Generate an {}, for the CA.", key_words(ca)),
    };
    vec![
        genkey(ca, heading),
        ca_cert_step(ca, answers, extensions, strict),
    ]
}

/// The intermediate CA: its key, its CSR (answers as for the others), and
/// the root signing it as a CA that may sign leaves only (pathlen:0), for
/// the names of its constraints only.
pub(crate) fn intermediate_steps(
    inter: &Intermediate,
    root: &Entity,
    answers: Answers,
) -> Vec<Step> {
    let e = &inter.entity;
    let heading = format!("Generate {}, for the intermediate CA.", key_words(e));
    let expected = answers.expected.clone();
    let mut sign = sign_step_with(e, root, expected, intermediate_extensions(inter), e.days);
    sign.heading = "The root CA signs the intermediate: a CA for leaves only (pathlen:0), within its name constraints.".into();
    vec![genkey(e, heading), csr_step(e, answers), sign]
}

/// A leaf's steps: key, CSR, signed by `chain[0]`, bundle (with the
/// chain up to the root), PKCS#12.
pub(crate) fn leaf_steps(
    leaf: &Entity,
    chain: &[&Entity],
    answers: Answers,
    strict: bool,
    caps: Capabilities,
) -> Vec<Step> {
    let ca = chain[0];
    let who = leaf.role.table();
    let key_heading = match leaf.role {
        Role::Client => format!("Generate a {} for the client.", key_words(leaf)),
        _ => format!("Generate {}, for the {who}.", key_words(leaf)),
    };
    let expected = answers.expected.clone();
    let mut steps = vec![
        genkey(leaf, key_heading),
        csr_step(leaf, answers),
        sign_step(leaf, ca, expected, strict),
        bundle_step(leaf, chain),
    ];
    if leaf.p12 != P12::No {
        steps.push(p12_step(leaf, ca, caps));
    }
    steps
}
