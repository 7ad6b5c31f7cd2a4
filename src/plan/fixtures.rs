//! Profile -> Plan for negative-test fixtures (fixture.rs): each one made
//! as a good leaf is, but for the one thing that makes it bad, with
//! openssl commands that `plan` shows like every other step.

use std::path::PathBuf;

use crate::pki::fixture::{
    Entry, Fixture, Kind, Manifest, PRIVATE_OID, WEAK_RSA_BITS, dates, openssl_time,
};
use crate::pki::names::{Files, MANIFEST, Role};
use crate::pki::profile::{Entity, Intermediate, KeySpec};
use crate::plan::caps::Capabilities;
use crate::plan::prompts::Answers;
use crate::plan::step::{Action, Arg, Section, Step};
use crate::plan::{self, csr_step, genkey, leaf_extensions, sign_step_with};

/// The reason a revoked fixture is revoked for.
const REVOKE_REASON: &str = "keyCompromise";

/// How long the CRL of a revoked fixture is valid: as long as a
/// not-yet-valid fixture stays one, so that a set of fixtures lasts a year
/// in a test suite (`pkiforge crl` re-issues it).
pub const CRL_DAYS: u32 = 365;

/// What the fixture steps of a leaf need beyond a good leaf's.
pub struct FixtureInputs<'a> {
    /// The CAs above the leaf, its issuer first.
    pub chain: &'a [&'a Entity],
    /// The profile's intermediate, when it has one.
    pub intermediate: Option<&'a Intermediate>,
    pub answers: Answers,
    /// The answers that make the CSR of a CA of its own ([`Entity::own_issuer`]).
    pub own_answers: Option<Answers>,
    /// The answers that make a CA certificate with the issuer's subject
    /// (for a foreign CA), and its `-addext` texts.
    pub issuer_answers: Option<Answers>,
    pub ca_extensions: &'a [&'a str],
    pub strict: bool,
    pub caps: Capabilities,
    /// Seconds since the epoch: the dates of dated fixtures count from it.
    pub now: i64,
}

/// The steps of a fixture leaf: key, CSR, then the certificate made bad in
/// its one way, its bundle, and for a revoked one the revocation and CRL.
pub fn steps(leaf: &Entity, kind: Kind, input: FixtureInputs) -> Vec<Step> {
    let issuer = input.chain[0];
    let expected = input.answers.expected.clone();
    let days = plan::leaf_days(leaf, input.strict);
    let made = made_as(leaf, kind);
    let leaf = &made;
    let extensions = fixture_extensions(leaf, kind, input.strict);
    let heading = format!("Generate {}, for the fixture.", plan::key_words(leaf));
    let mut steps = vec![genkey(leaf, heading), csr_step(leaf, input.answers.clone())];
    let other = foreign_issuer(leaf, issuer);
    let own = leaf.own_issuer();
    let mut sign = match kind {
        Kind::Expired | Kind::NotYetValid => dated_step(leaf, kind, &input, extensions, days),
        Kind::WrongPurpose => {
            let text = other_purpose(&extensions, leaf.role);
            sign_step_with(leaf, issuer, expected, text, days)
        }
        Kind::ForeignCa => {
            steps.extend(foreign_ca_steps(leaf, &other, &input));
            sign_step_with(leaf, &other, expected, extensions, days)
        }
        Kind::SelfSigned => self_signed_step(leaf, extensions, days),
        Kind::Sha1Signature => {
            let mut s = sign_step_with(leaf, issuer, expected, extensions, days);
            // SHA-1 (chosen-prefix collisions since 2020): refused at
            // OpenSSL's security level 1 and up (3.x), 2 (1.1.1), and by rustls.
            plan::insert_before(&mut s, "-out", &["-sha1"]);
            s
        }
        Kind::ExpiredIntermediate | Kind::IssuerNotCa | Kind::PathlenExceeded => {
            steps.extend(own_issuer_steps(leaf, kind, &own, &input));
            sign_step_with(leaf, &own, expected, extensions, days)
        }
        Kind::Revoked
        | Kind::WrongHost
        | Kind::WeakKey
        | Kind::CnOnly
        | Kind::UnknownCriticalExtension
        | Kind::WrongKeyUsage
        | Kind::IncompleteChain
        | Kind::OutsideConstraints => sign_step_with(leaf, issuer, expected, extensions, days),
    };
    sign.heading = format!("The {kind} fixture: {}.", kind.wrong(leaf.role));
    steps.push(sign);
    let files: Vec<Files> = input.chain.iter().map(|e| e.files()).collect();
    let parts = kind.bundle_chain(&leaf.files(), &files);
    steps.push(plan::bundle_files_step(leaf, &parts));
    if kind == Kind::Revoked {
        steps.extend(revoke_steps(leaf, &issuer.files()));
    }
    steps
}

/// The leaf as the fixture is made: a weak-key one with an RSA 1024 key, a
/// cn-only one without its san (its host stays in its CN).
fn made_as(leaf: &Entity, kind: Kind) -> Entity {
    match kind {
        Kind::WeakKey => Entity {
            key: KeySpec::Rsa(WEAK_RSA_BITS),
            ..leaf.clone()
        },
        Kind::CnOnly => Entity {
            san: Vec::new(),
            ..leaf.clone()
        },
        _ => leaf.clone(),
    }
}

/// The extension text of a fixture: a good leaf's, but for what its kind
/// changes there (a cn-only one has no subjectAltName line, its san being
/// empty; a wrong-purpose one's is made by [`other_purpose`]).
fn fixture_extensions(leaf: &Entity, kind: Kind, strict: bool) -> String {
    let sans: Vec<String> = leaf.san.iter().map(|s| s.to_string()).collect();
    let text = leaf_extensions(leaf, &sans, strict);
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| *l != "subjectAltName=")
        .map(str::to_string)
        .collect();
    match kind {
        // ASN1:NULL: the smallest value; critical, so a verifier that does
        // not know the OID must refuse the certificate (RFC 5280, 4.2).
        Kind::UnknownCriticalExtension => lines.push(format!("{PRIVATE_OID}=critical,ASN1:NULL")),
        Kind::WrongKeyUsage => {
            // keyEncipherment alone: TLS 1.2's RSA key exchange, never signing.
            let usage = "keyUsage=critical,keyEncipherment".to_string();
            match lines.iter().position(|l| l.starts_with("keyUsage=")) {
                Some(i) => lines[i] = usage,
                None => lines.push(usage),
            }
        }
        _ => {}
    }
    lines.join("\n")
}

/// An expired or not-yet-valid fixture's certificate, for as many days as
/// the leaf would be valid: x509 sets the dates where it can, else `openssl ca`.
fn dated_step(
    leaf: &Entity,
    kind: Kind,
    input: &FixtureInputs,
    extensions: String,
    days: Option<u32>,
) -> Step {
    let issuer = input.chain[0];
    let length = days.unwrap_or(crate::pki::profile::days::OPENSSL_DEFAULT as u32);
    let (from, to) = dates(kind, input.now, length).unwrap_or_default();
    let (from, to) = (openssl_time(from), openssl_time(to));
    if !input.caps.x509_dates {
        return ca_sign_step(leaf, issuer, &issuer.files(), extensions, &from, &to);
    }
    let expected = input.answers.expected.clone();
    let mut s = sign_step_with(leaf, issuer, expected, extensions, None);
    plan::insert_before(&mut s, "-out", &["-not_before", &from, "-not_after", &to]);
    s
}

/// The leaf's extension text with the other role's extendedKeyUsage only,
/// where a strict leaf has its own (after keyUsage), else at the end.
fn other_purpose(extensions: &str, role: Role) -> String {
    let other = match role {
        Role::Client => "extendedKeyUsage=serverAuth",
        _ => "extendedKeyUsage=clientAuth",
    };
    let mut lines: Vec<&str> = extensions
        .lines()
        .filter(|l| !l.starts_with("extendedKeyUsage="))
        .collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("keyUsage="))
        .map_or(lines.len(), |i| i + 1);
    lines.insert(at, other);
    lines.join("\n")
}

/// The throwaway CA's key and certificate, made, kept and dropped with the
/// fixture (`--add`).
fn foreign_ca_steps(leaf: &Entity, other: &Entity, input: &FixtureInputs) -> Vec<Step> {
    let Some(answers) = input.issuer_answers.clone() else {
        return Vec::new();
    };
    let heading = format!(
        "A throwaway CA for {}, with the real CA's subject.",
        leaf.name
    );
    let mut key = genkey(other, heading);
    let mut cert = plan::ca_cert_step(other, answers, input.ca_extensions, input.strict);
    cert.heading = "Its certificate: the real CA's subject, another key.".into();
    for s in [&mut key, &mut cert] {
        s.entity = leaf.name.clone();
        s.section = Section::of(leaf.role);
    }
    vec![key, cert]
}

/// What a CA may do, as its `-extfile` says: sign certificates and CRLs,
/// `pathlen:0` for a CA that signs leaves only.
fn ca_extensions(pathlen: Option<u8>) -> String {
    let pathlen = pathlen.map_or(String::new(), |n| format!(",pathlen:{n}"));
    format!(
        "basicConstraints=critical,CA:TRUE{pathlen}\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid"
    )
}

/// The fixture's own CA: its key, its CSR, and its certificate, signed
/// by the root (an expired intermediate, a leaf that is not a CA) or by
/// the intermediate (a sub-intermediate, which its pathlen:0 forbids).
fn own_issuer_steps(leaf: &Entity, kind: Kind, own: &Entity, input: &FixtureInputs) -> Vec<Step> {
    let Some(answers) = input.own_answers.clone() else {
        return Vec::new();
    };
    let root = input.chain[input.chain.len() - 1];
    let expected = answers.expected.clone();
    let days = plan::leaf_days(leaf, input.strict);
    let what = own.files().crt();
    let key = genkey(
        own,
        format!(
            "Generate {}, for the fixture's own CA.",
            plan::key_words(own)
        ),
    );
    let mut csr = csr_step(own, answers);
    csr.heading = format!("A CSR for the CA that signs {}.", leaf.files().crt());
    let (heading, signing) = match kind {
        Kind::ExpiredIntermediate => {
            // Its own intermediate, as the profile's is made (else a CA
            // for leaves), but for its dates: it ended yesterday.
            let text = input
                .intermediate
                .map_or_else(|| ca_extensions(Some(0)), plan::intermediate_extensions);
            let days = input.intermediate.and_then(|i| i.entity.days).or(days);
            (
                format!("{what}: an intermediate CA under the root, expired."),
                expired_ca_steps(own, root, input, text, expected, days),
            )
        }
        Kind::IssuerNotCa => (
            format!("{what}: a leaf the root signs, CA:FALSE, to sign the fixture."),
            vec![sign_step_with(
                own,
                root,
                expected,
                not_ca_extensions(leaf, own),
                days,
            )],
        ),
        _ => (
            format!("{what}: a CA under the intermediate, which its pathlen:0 forbids."),
            vec![sign_step_with(
                own,
                input.chain[0],
                expected,
                ca_extensions(None),
                days,
            )],
        ),
    };
    let mut steps = vec![key, csr];
    steps.extend(signing);
    if let Some(last) = steps.last_mut() {
        last.heading = heading;
    }
    for s in &mut steps {
        s.entity = leaf.name.clone();
        s.section = Section::of(leaf.role);
    }
    steps
}

/// The extension text of an issuer-not-ca fixture's issuer: a strict leaf
/// of the fixture's role (CA:FALSE, marked critical, no keyCertSign), with
/// no subjectAltName.
fn not_ca_extensions(leaf: &Entity, own: &Entity) -> String {
    let as_leaf = Entity {
        role: leaf.role,
        ..own.clone()
    };
    plan::leaf_extensions(&as_leaf, &[], true)
        .lines()
        .filter(|l| !l.starts_with("subjectAltName="))
        .map(|l| {
            l.replace(
                "basicConstraints=CA:FALSE",
                "basicConstraints=critical,CA:FALSE",
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The expired intermediate's certificate, last: x509 sets its dates
/// where it can, else `openssl ca`, with a database of its own (written
/// first) that stays in staging.
fn expired_ca_steps(
    own: &Entity,
    root: &Entity,
    input: &FixtureInputs,
    extensions: String,
    expected: Vec<(String, String)>,
    days: Option<u32>,
) -> Vec<Step> {
    let length = days.unwrap_or(crate::pki::profile::days::OPENSSL_DEFAULT as u32);
    let (from, to) = dates(Kind::Expired, input.now, length).unwrap_or_default();
    let (from, to) = (openssl_time(from), openssl_time(to));
    if !input.caps.x509_dates {
        let db = own.files();
        let mut steps = crate::plan::ca_database::database_steps(&db, &|_| false);
        steps.push(ca_sign_step(own, root, &db, extensions, &from, &to));
        return steps;
    }
    let mut s = sign_step_with(own, root, expected, extensions, None);
    plan::insert_before(&mut s, "-out", &["-not_before", &from, "-not_after", &to]);
    vec![s]
}

/// The throwaway CA of a foreign-ca fixture: `NAME.issuer`, with the real
/// issuer's key type and subject.
fn foreign_issuer(leaf: &Entity, issuer: &Entity) -> Entity {
    let files = leaf.files().issuer();
    Entity {
        role: Role::Ca,
        name: files.name.clone(),
        path: format!("{}.fixture", leaf.path),
        p12: crate::pki::profile::P12::No,
        fixture: None,
        san: Vec::new(),
        ..issuer.clone()
    }
}

/// `openssl x509 -req -in NAME.csr -signkey NAME.key …`: the leaf signs
/// its own request.
fn self_signed_step(leaf: &Entity, extensions: String, days: Option<u32>) -> Step {
    let f = leaf.files();
    let (key, csr, crt) = (f.key(), f.csr(), f.crt());
    let mut args = plan::lits(&["x509", "-req", "-in", &csr, "-signkey", &key, "-extfile"]);
    args.push(Arg::Inline(extensions));
    args.extend(plan::days_args(days));
    args.extend(plan::lits(&["-out", &crt]));
    crt_step(leaf, args, &[&csr, &key], &[&crt])
}

/// The step that makes a fixture's certificate with `args` (its heading is
/// the fixture's, set by [`steps`]).
fn crt_step(leaf: &Entity, args: Vec<Arg>, inputs: &[&str], outputs: &[&str]) -> Step {
    let stdin = Vec::new();
    let action = Action::Openssl { args, stdin };
    plan::step("crt", leaf, String::new(), action, inputs, outputs)
}

/// The config `openssl ca` reads to sign: the CA's database, its serial
/// file (with `-rand_serial` a random serial, which it writes there, as
/// x509's `-CAcreateserial` does), and the subject as the CSR has it.
fn sign_config(ca: &Files) -> String {
    format!(
        "{}serial = {}\nnew_certs_dir = .\npolicy = pkiforge_policy\n[pkiforge_policy]\ncommonName = optional\n",
        crate::plan::ca_database::ca_config(ca, crate::plan::ca_database::CRL_DAYS),
        ca.srl()
    )
}

/// `openssl ca … -startdate FROM -enddate TO`: for an openssl whose
/// `x509 -req` cannot set dates (before 3.4). `db` is the database it records the certificate in: the issuer's, or
/// a throwaway one.
fn ca_sign_step(
    leaf: &Entity,
    issuer: &Entity,
    db: &Files,
    extensions: String,
    from: &str,
    to: &str,
) -> Step {
    let (f, ca) = (leaf.files(), issuer.files());
    let (csr, crt) = (f.csr(), f.crt());
    let mut args = vec![
        Arg::lit("ca"),
        Arg::lit("-config"),
        Arg::Inline(sign_config(db)),
    ];
    args.extend(plan::lits(&[
        "-batch",
        "-notext",
        "-preserveDN",
        "-rand_serial",
        "-keyfile",
        &ca.key(),
        "-cert",
        &ca.crt(),
        "-in",
        &csr,
        "-extfile",
    ]));
    args.push(Arg::Inline(plan::with_pointers(extensions, issuer)));
    args.extend(plan::lits(&[
        "-startdate",
        from,
        "-enddate",
        to,
        "-out",
        &crt,
    ]));
    let mut s = crt_step(
        leaf,
        args,
        &[&csr, &ca.crt(), &ca.key(), &db.index(), &db.srl()],
        &[&crt, &db.index(), &db.index_attr(), &db.srl()],
    );
    s.subject_check = Some(crate::plan::step::SubjectCheck {
        file: PathBuf::from(&crt),
        expected: leaf.subject_fields(),
    });
    s
}

/// Marks the leaf revoked in its CA's database, and writes the CRL.
fn revoke_steps(leaf: &Entity, ca: &Files) -> Vec<Step> {
    let crt = leaf.files().crt();
    let section = Section::of(leaf.role);
    let mut revoke = crate::plan::ca_database::ca_step(
        ca,
        &format!("{}-revoke", leaf.name),
        &format!("Mark {crt} revoked in the CA's database."),
        &["-revoke", &crt, "-crl_reason", REVOKE_REASON],
        &[ca.index(), ca.index_attr()],
    );
    let mut crl = crate::plan::ca_database::gencrl_step(ca, CRL_DAYS);
    crl.id = format!("{}-crl", leaf.name);
    for s in [&mut revoke, &mut crl] {
        s.entity = leaf.name.clone();
        s.section = section;
    }
    vec![revoke, crl]
}

/// The database `openssl ca` keeps for the leaves' issuer, new, when a
/// fixture needs it (a revoked one, or dates set by `openssl ca`).
pub fn database_steps(
    fixtures: &[(&Entity, &Fixture)],
    ca: &Files,
    caps: Capabilities,
) -> Vec<Step> {
    let needs = fixtures
        .iter()
        .find(|(_, f)| f.kind == Kind::Revoked || (f.kind.has_dates() && !caps.x509_dates));
    let Some((first, _)) = needs else {
        return Vec::new();
    };
    let mut steps = crate::plan::ca_database::database_steps(ca, &|_| false);
    for s in &mut steps {
        s.entity = format!("{}-database", ca.name);
        s.section = Section::of(first.role);
    }
    steps
}

/// `fixtures.json`: what each fixture is, its files, and the errors a
/// correct verifier gives. Written again whenever a fixture is made.
pub fn manifest_step(fixtures: &[(&Entity, &Fixture)]) -> Option<Step> {
    let (last, _) = fixtures.last()?;
    let manifest = Manifest {
        fixtures: fixtures
            .iter()
            .map(|(e, f)| Entry::new(&e.files(), f))
            .collect(),
    };
    let crts: Vec<PathBuf> = fixtures
        .iter()
        .map(|(e, _)| PathBuf::from(e.files().crt()))
        .collect();
    Some(Step {
        id: "fixtures-manifest".into(),
        entity: "fixtures".into(),
        section: Section::of(last.role),
        heading: "The manifest of the fixtures: what is wrong with each, and the error a correct verifier gives.".into(),
        action: Action::Write {
            text: manifest.to_json(),
            out: PathBuf::from(MANIFEST),
        },
        inputs: crts,
        outputs: vec![PathBuf::from(MANIFEST)],
        keys: Vec::new(),
        subject_check: None,
        expect: None,
        report: false,
    })
}
