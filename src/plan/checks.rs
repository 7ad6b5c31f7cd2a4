//! The checks that prove a PKI, planned as steps (pure data, like the
//! rest of the plan): the tutorial's `openssl verify`, each leaf for its
//! purpose and names, keys, bundles, subjects, PKCS#12 bundles, and what a
//! profile says. verify.rs carries out the ones openssl does not.

use std::path::PathBuf;

use crate::pki::fixture::Kind;
use crate::pki::names::{Files, Role};
use crate::pki::profile::P12;
use crate::pki::san::{San, SanKind};
use crate::pki::verdict::{Verdict, Verifier};
use crate::plan::caps::Capabilities;
use crate::plan::spec::{CheckSpec, FixtureSpec, LeafSpec};
use crate::plan::step::{Action, Arg, Expect, Inspection, Section, Step};
use crate::plan::step::{P12_PASSWORD_VAR, file_arg};

/// How many of a leaf's names `openssl verify` checks, one process each;
/// the others are matched in-process.
pub const NAMES_BY_OPENSSL: usize = 8;

/// The checks that prove a PKI: the tutorial's `openssl verify`, then per
/// leaf the purpose and each name, keys matching certificates, bundle order,
/// CSR and certificate subjects, key modes, PKCS#12 bundles, and the
/// profile's subjects and SANs where a profile says them.
pub fn checks(spec: &CheckSpec, caps: Capabilities) -> Vec<Step> {
    let mut out = Vec::new();
    if !spec.leaves.is_empty() {
        out.push(tutorial_check(spec));
    }
    if let Some(inter) = spec.intermediate_files() {
        out.push(verify_step(
            format!("verify-{}", inter.name),
            "The root signed the intermediate CA.",
            &spec.ca_files().crt(),
            &[],
            Vec::new(),
            &[inter.crt()],
        ));
    }
    if spec.crl {
        // A CRL of another CA (an old PKI's) fails every -crl_check with
        // "unable to get certificate CRL": this check says why.
        let (crl, ca) = (spec.issuer_files().crl(), spec.issuer_files().crt());
        out.push(inspection(
            "crl-signed".into(),
            "The CRL is signed by the CA whose leaves it revokes.",
            Inspection::CrlSignedBy {
                crl: PathBuf::from(&crl),
                ca: PathBuf::from(&ca),
            },
            &[&crl, &ca],
        ));
    }
    out.extend(name_checks(spec));
    out.extend(key_checks(spec));
    for leaf in &spec.leaves {
        out.extend(leaf_file_checks(spec, leaf, &spec.chain(), caps));
    }
    for fixture in &spec.fixtures {
        out.extend(fixture_checks(spec, fixture, caps));
    }
    out.extend(profile_checks(spec));
    out
}

/// A fixture: `openssl verify` refuses it, for its reason; then its files
/// as a good leaf's (key, bundle, subjects), and a foreign CA's subject.
fn fixture_checks(spec: &CheckSpec, fixture: &FixtureSpec, caps: Capabilities) -> Vec<Step> {
    let leaf = &fixture.leaf;
    let f = leaf.files();
    // Its purpose; for a wrong-host fixture, the host its clients dial.
    let host: Vec<San> = fixture.host.iter().map(|h| San::host(h)).collect();
    let (_, mut ways) = verify_ways(leaf.role, &host).remove(0);
    let (crl_words, crl) = match fixture.kind.checked_without_crl() {
        true => (Vec::new(), None),
        false => crl_check(spec),
    };
    ways.extend(crl_words);
    // What its bundle holds after it; a chain kind's verifier is given
    // the chain it presents, without the root, the others the profile's.
    let chain = fixture.kind.bundle_chain(&f, &spec.chain());
    let root = spec.ca_files().crt();
    let untrusted: Vec<String> = match fixture.kind.is_chain_kind() {
        true => chain
            .iter()
            .map(Files::crt)
            .filter(|c| *c != root)
            .collect(),
        false => spec
            .intermediate_files()
            .map(|i| i.crt())
            .into_iter()
            .collect(),
    };
    let verify = |id: String, heading: &str, ways: Vec<Arg>| {
        let mut s = verify_step(id, heading, &root, &untrusted, ways, &[f.crt()]);
        s.inputs.extend(crl.clone());
        s
    };
    let mut out = Vec::new();
    match fixture.kind.verdict(leaf.role, Verifier::OpensslVerify) {
        Verdict::Accepts(_) => out.push(verify(
            format!("accepted-{}", leaf.name),
            "openssl verify accepts the fixture, as its manifest records (other verifiers refuse it).",
            ways,
        )),
        _ => {
            if fixture.kind.security_level().is_some() {
                out.push(verify(
                    format!("accepted-{}", leaf.name),
                    "Without a security level, openssl verify accepts the fixture, as recorded.",
                    ways.clone(),
                ));
            }
            let mut at_level = ways;
            if let Some(level) = fixture.kind.security_level() {
                // Key sizes and digests are judged only under a security
                // level: the one pkiforge holds every openssl to.
                at_level.extend(lits(&["-auth_level", &level.to_string()]));
            }
            let mut refused = verify(
                format!("refused-{}", leaf.name),
                "The fixture is refused, for its reason.",
                at_level,
            );
            refused.expect = Some(Expect::Refused(fixture.kind));
            out.push(refused);
        }
    }
    out.extend(leaf_file_checks(spec, leaf, &chain, caps));
    if fixture.kind == Kind::ForeignCa {
        let (real, other) = (spec.issuer_files().crt(), f.issuer().crt());
        out.push(inspection(
            format!("subjects-{}-issuer", leaf.name),
            "The foreign CA has the real CA's subject.",
            Inspection::SubjectsAgree {
                csr: PathBuf::from(&real),
                crt: PathBuf::from(&other),
            },
            &[&real, &other],
        ));
    }
    out
}

/// `openssl verify -CAfile ca.crt LEAF.crt…`: verify lines, `FILE: OK`.
fn verify_step(
    id: String,
    heading: &str,
    ca_crt: &str,
    untrusted: &[String],
    ways: Vec<Arg>,
    crts: &[String],
) -> Step {
    // File names found in a directory may start with `-`: such a name is
    // passed as `./-name.crt`, never as an option (step::file_arg).
    let mut args = lits(&["verify", "-CAfile", &file_arg(ca_crt)]);
    for u in untrusted {
        // The intermediate: a link of the chain, not a trust anchor.
        args.extend(lits(&["-untrusted", &file_arg(u)]));
    }
    args.extend(ways);
    args.extend(crts.iter().map(|c| Arg::lit(file_arg(c))));
    let mut inputs: Vec<&str> = vec![ca_crt];
    inputs.extend(untrusted.iter().map(String::as_str));
    inputs.extend(crts.iter().map(String::as_str));
    let lines = crts
        .iter()
        .map(|c| format!("{}: OK", file_arg(c)))
        .collect();
    openssl_check(id, heading, args, Expect::Lines(lines), &inputs)
}

/// The tutorial's own check; its output is shown as it is, in the report.
fn tutorial_check(spec: &CheckSpec) -> Step {
    let crts: Vec<String> = spec.leaves.iter().map(|l| l.files().crt()).collect();
    let untrusted: Vec<String> = spec
        .intermediate_files()
        .map(|f| f.crt())
        .into_iter()
        .collect();
    let mut tutorial = verify_step(
        "verify".into(),
        "The tutorial's check: the CA signed every certificate.",
        &spec.ca_files().crt(),
        &untrusted,
        Vec::new(),
        &crts,
    );
    tutorial.report = true;
    tutorial
}

/// Leaves verified the same way (purpose and name), in one openssl call.
struct VerifyGroup {
    /// `sslclient-DNS:localhost`, or the purpose alone.
    key: String,
    /// The openssl words for the purpose and the name.
    ways: Vec<Arg>,
    names: Vec<String>,
    crts: Vec<String>,
}

/// Each leaf for its purpose and each name in its SAN. Leaves checked the
/// same way share one openssl call (a workshop's clients are all
/// `sslclient` for `localhost`): one process instead of dozens. openssl
/// takes one name per process, so names past the first few are matched
/// in-process by the same rules.
fn name_checks(spec: &CheckSpec) -> Vec<Step> {
    let mut groups: Vec<VerifyGroup> = Vec::new();
    let mut out = Vec::new();
    for leaf in &spec.leaves {
        let (by_openssl, by_rust) = leaf.sans.split_at(leaf.sans.len().min(NAMES_BY_OPENSSL));
        if !by_rust.is_empty() {
            out.push(names_covered(&leaf.files(), by_rust.to_vec()));
        }
        for (key, ways) in verify_ways(leaf.role, by_openssl) {
            let crt = leaf.files().crt();
            match groups.iter_mut().find(|g| g.key == key) {
                Some(g) => {
                    g.names.push(leaf.name.clone());
                    g.crts.push(crt);
                }
                None => groups.push(VerifyGroup {
                    key,
                    ways,
                    names: vec![leaf.name.clone()],
                    crts: vec![crt],
                }),
            }
        }
    }
    let ca_crt = spec.ca_files().crt();
    let untrusted: Vec<String> = spec
        .intermediate_files()
        .map(|f| f.crt())
        .into_iter()
        .collect();
    let mut steps: Vec<Step> = groups
        .into_iter()
        .map(|g| {
            // `verify-server-DNS:localhost` for one leaf (`verify-server-sslserver`
            // without a name), `verify-sslclient-DNS:localhost` for several.
            let id = match (g.names.as_slice(), g.key.split_once('-')) {
                ([one], Some((_, san))) => format!("verify-{one}-{san}"),
                ([one], None) => format!("verify-{one}-{}", g.key),
                _ => format!("verify-{}", g.key),
            };
            let (crl_words, crl) = crl_check(spec);
            let mut ways = g.ways;
            ways.extend(crl_words);
            let mut step = verify_step(
                id,
                "The certificates are valid for their purpose and for this name.",
                &ca_crt,
                &untrusted,
                ways,
                &g.crts,
            );
            step.inputs.extend(crl);
            step
        })
        .collect();
    steps.extend(out);
    steps
}

/// With a CRL, verify's words to check a certificate is not revoked (the
/// CA's CRL must be there, current, and not list it), and the CRL file.
fn crl_check(spec: &CheckSpec) -> (Vec<Arg>, Option<PathBuf>) {
    if !spec.crl {
        return (Vec::new(), None);
    }
    let crl = spec.issuer_files().crl();
    (
        lits(&["-crl_check", "-CRLfile", &crl]),
        Some(PathBuf::from(crl)),
    )
}

/// The ways to verify a leaf of `role` for `sans`: `(group key, words)`.
fn verify_ways(role: Role, sans: &[San]) -> Vec<(String, Vec<Arg>)> {
    let purpose = match role {
        Role::Client => "sslclient",
        _ => "sslserver",
    };
    let mut ways = Vec::new();
    for san in sans {
        // openssl verify checks DNS names, IP addresses and email
        // addresses; it has no flag for URIs.
        let flag = match san.kind {
            SanKind::Dns => "-verify_hostname",
            SanKind::Ip => "-verify_ip",
            SanKind::Email => "-verify_email",
            SanKind::Uri => continue,
        };
        // A wildcard is checked with a name it covers.
        let name = match san.value.strip_prefix("*.") {
            Some(rest) if san.kind == SanKind::Dns => format!("pkiforge-wildcard-check.{rest}"),
            _ => san.value.clone(),
        };
        ways.push((
            format!("{purpose}-{san}"),
            lits(&["-purpose", purpose, flag, &name]),
        ));
    }
    if ways.is_empty() {
        ways.push((purpose.to_string(), lits(&["-purpose", purpose])));
    }
    ways
}

fn names_covered(files: &Files, names: Vec<San>) -> Step {
    let crt = files.crt();
    inspection(
        format!("names-{}", files.name),
        "The certificate is valid for each of its other names.",
        Inspection::NamesCovered {
            crt: PathBuf::from(&crt),
            names,
        },
        &[&crt],
    )
}

/// Each private key belongs to its certificate and is private.
fn key_checks(spec: &CheckSpec) -> Vec<Step> {
    let entities = std::iter::once(spec.ca_files())
        .filter(|_| spec.root_key)
        .chain(spec.intermediate_files())
        .chain(spec.leaves.iter().map(LeafSpec::files))
        .chain(spec.fixtures.iter().map(|f| f.leaf.files()));
    let mut out = Vec::new();
    for f in entities {
        let (name, key, crt) = (&f.name, f.key(), f.crt());
        out.push(inspection(
            format!("key-{name}"),
            "The private key belongs to the certificate.",
            Inspection::KeyMatches {
                key: PathBuf::from(&key),
                crt: PathBuf::from(&crt),
            },
            &[&key, &crt],
        ));
        out.push(inspection(
            format!("mode-{name}"),
            "The private key is readable by its owner only.",
            Inspection::PrivateMode {
                key: PathBuf::from(&key),
            },
            &[&key],
        ));
    }
    out
}

/// A leaf's bundle, its CSR's subject, and its PKCS#12 bundle.
fn leaf_file_checks(
    spec: &CheckSpec,
    leaf: &LeafSpec,
    chain: &[Files],
    caps: Capabilities,
) -> Vec<Step> {
    let (f, ca_crt) = (leaf.files(), spec.ca_files().crt());
    let (crt, csr, bundle) = (f.crt(), f.csr(), f.bundle());
    let mut parts = vec![crt.clone()];
    parts.extend(chain.iter().map(Files::crt));
    let mut inputs: Vec<&str> = vec![&bundle];
    inputs.extend(parts.iter().map(String::as_str));
    let heading = if parts.len() == 1 {
        "The bundle is the certificate alone."
    } else if parts.len() > 2 {
        "The bundle is the leaf certificate, then each CA's up to the root."
    } else {
        "The bundle is the leaf certificate, then the CA's."
    };
    let mut out = vec![
        inspection(
            format!("bundle-{}", leaf.name),
            heading,
            Inspection::BundleOrder {
                bundle: PathBuf::from(&bundle),
                parts: parts.iter().map(PathBuf::from).collect(),
            },
            &inputs,
        ),
        inspection(
            format!("subjects-{}", leaf.name),
            "The certificate carries the CSR's subject.",
            Inspection::SubjectsAgree {
                csr: PathBuf::from(&csr),
                crt: PathBuf::from(&crt),
            },
            &[&csr, &crt],
        ),
    ];
    if leaf.p12 == P12::No {
        return out;
    }
    let p12 = f.p12();
    let mut args = lits(&[
        "pkcs12",
        "-in",
        &file_arg(&p12),
        "-nodes",
        "-passin",
        &format!("env:{P12_PASSWORD_VAR}"),
    ]);
    if leaf.p12 == P12::Legacy && caps.pkcs12_legacy {
        // OpenSSL 3 reads RC2-encrypted bundles only with the legacy provider.
        args.insert(1, Arg::lit("-legacy"));
    }
    out.push(openssl_check(
        format!("p12-{}", leaf.name),
        "The PKCS#12 bundle opens with the password and holds the key and both certificates.",
        args,
        Expect::Pkcs12 {
            certs: vec![PathBuf::from(&crt), PathBuf::from(&ca_crt)],
        },
        &[&p12, &crt, &ca_crt],
    ));
    out.push(inspection(
        format!("mode-{}-p12", leaf.name),
        "The PKCS#12 bundle, which holds the private key, is readable by its owner only.",
        Inspection::PrivateMode {
            key: PathBuf::from(&p12),
        },
        &[&p12],
    ));
    out
}

/// The subjects and SANs a profile says.
fn profile_checks(spec: &CheckSpec) -> Vec<Step> {
    let mut out = Vec::new();
    let ca_subject = spec.ca_subject.as_ref().map(|s| (spec.ca_files(), s));
    let leaves: Vec<&LeafSpec> = spec
        .leaves
        .iter()
        .chain(spec.fixtures.iter().map(|f| &f.leaf))
        .collect();
    let leaf_subjects = leaves
        .iter()
        .filter_map(|l| l.subject.as_ref().map(|s| (l.files(), s)));
    for (files, subject) in ca_subject.into_iter().chain(leaf_subjects) {
        let crt = files.crt();
        out.push(inspection(
            format!("profile-subject-{}", files.name),
            "The certificate's subject is the profile's.",
            Inspection::ProfileSubject {
                crt: PathBuf::from(&crt),
                expected: subject.clone(),
            },
            &[&crt],
        ));
    }
    for leaf in leaves.iter().filter(|l| l.sans_from_profile) {
        let crt = leaf.files().crt();
        out.push(inspection(
            format!("profile-san-{}", leaf.name),
            "The certificate's subjectAltName is the profile's.",
            Inspection::ProfileSans {
                crt: PathBuf::from(&crt),
                expected: leaf.sans.iter().map(|s| s.canonical()).collect(),
            },
            &[&crt],
        ));
    }
    out
}

fn lits(words: &[&str]) -> Vec<Arg> {
    words.iter().map(|w| Arg::lit(*w)).collect()
}

fn check(
    id: String,
    heading: &str,
    action: Action,
    expect: Option<Expect>,
    inputs: Vec<PathBuf>,
) -> Step {
    Step {
        id,
        entity: String::new(),
        section: Section::Verify,
        heading: heading.to_string(),
        action,
        inputs,
        outputs: Vec::new(),
        keys: Vec::new(),
        subject_check: None,
        expect,
        report: false,
    }
}

pub(crate) fn openssl_check(
    id: String,
    heading: &str,
    args: Vec<Arg>,
    expect: Expect,
    inputs: &[&str],
) -> Step {
    check(
        id,
        heading,
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        Some(expect),
        inputs.iter().map(PathBuf::from).collect(),
    )
}

fn inspection(id: String, heading: &str, inspection: Inspection, inputs: &[&str]) -> Step {
    check(
        id,
        heading,
        Action::Inspect(inspection),
        None,
        inputs.iter().map(PathBuf::from).collect(),
    )
}
