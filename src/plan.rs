//! Profile -> Plan: the tutorial's commands as data. All file naming lives
//! here, and nothing here touches the file system or starts a process.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Problem, Problems, Result};
use crate::profile::{Entity, Profile, Role, San, SanKind};
use crate::prompts::{Answers, PromptLayout};
use crate::step::{Action, Arg, Expect, Inspection, Section, Step, SubjectCheck};

/// The steps of a run in the tutorial's order, then the checks that prove it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub checks: Vec<Step>,
}

impl Plan {
    /// Every file the plan writes, in the order first written.
    pub fn outputs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for path in self.steps.iter().flat_map(|s| &s.outputs) {
            if !out.contains(path) {
                out.push(path.clone());
            }
        }
        out
    }

    /// Steps then checks, in the order they run.
    pub fn all(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().chain(&self.checks)
    }
}

/// The transcript: one command per line, exactly as the tutorial writes them.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        Ok(())
    }
}

/// Builds the plan for `profile`, answering prompts as `layout` asks them.
pub fn build(profile: &Profile, layout: &PromptLayout) -> Result<Plan> {
    let mut problems: Vec<Problem> = Vec::new();
    let mut answers = |entity: &Entity, csr: bool| match layout.answers_for(entity, csr) {
        Ok(a) => Some(a),
        Err(p) => {
            problems.extend(p);
            None
        }
    };
    let ca = answers(&profile.ca, false);
    let server = answers(&profile.server, true);
    let client = answers(&profile.client, true);
    let (Some(ca), Some(server), Some(client)) = (ca, server, client) else {
        return Err(Error::Profile(Problems {
            file: profile.path.clone(),
            list: problems,
        }));
    };

    let mut steps = ca_steps(&profile.ca, ca);
    steps.extend(leaf_steps(&profile.server, &profile.ca, server));
    steps.extend(leaf_steps(&profile.client, &profile.ca, client));

    let checks = checks(&CheckSpec::for_profile(profile));
    Ok(Plan { steps, checks })
}

/// What the checks need to know of a PKI: file stems, roles, and what the
/// certificates must say (from a profile, or read from the certificates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    pub ca: String,
    /// The CA's expected subject, when a profile gives it.
    pub ca_subject: Option<Vec<(String, String)>>,
    pub leaves: Vec<LeafSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    pub name: String,
    pub role: Role,
    /// The names to verify the certificate for.
    pub sans: Vec<San>,
    /// Whether the SANs come from a profile, so the certificate must carry exactly them.
    pub sans_from_profile: bool,
    pub subject: Option<Vec<(String, String)>>,
}

impl CheckSpec {
    /// The checks for a profile's PKI.
    pub fn for_profile(profile: &Profile) -> CheckSpec {
        let subject = |e: &Entity| {
            Some(
                e.subject
                    .iter()
                    .map(|v| (v.field.short().to_string(), v.value.clone()))
                    .collect(),
            )
        };
        CheckSpec {
            ca: profile.ca.name.clone(),
            ca_subject: subject(&profile.ca),
            leaves: [&profile.server, &profile.client]
                .into_iter()
                .map(|e| LeafSpec {
                    name: e.name.clone(),
                    role: e.role,
                    sans: e.san.clone(),
                    sans_from_profile: true,
                    subject: subject(e),
                })
                .collect(),
        }
    }
}

/// The name of a leaf's bundle: the tutorial's `server.bundle.crt` and `client.pem`.
pub fn bundle_name(name: &str, role: Role) -> String {
    match role {
        Role::Client => format!("{name}.pem"),
        _ => format!("{name}.bundle.crt"),
    }
}

fn check(id: String, heading: &str, action: Action, expect: Option<Expect>) -> Step {
    Step {
        id,
        section: Section::Verify,
        heading: heading.to_string(),
        action,
        outputs: Vec::new(),
        keys: Vec::new(),
        subject_check: None,
        expect,
    }
}

fn openssl_check(id: String, heading: &str, args: Vec<Arg>, expect: Expect) -> Step {
    check(
        id,
        heading,
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        Some(expect),
    )
}

/// The checks that prove a PKI: the tutorial's `openssl verify`, then per
/// leaf the purpose and each name, keys matching certificates, bundle order,
/// CSR and certificate subjects, key modes, and the profile's subjects and
/// SANs where a profile says them.
pub fn checks(spec: &CheckSpec) -> Vec<Step> {
    let ca_crt = format!("{}.crt", spec.ca);
    let mut out = Vec::new();
    let mut args = lits(&["verify", "-CAfile", &ca_crt]);
    args.extend(
        spec.leaves
            .iter()
            .map(|l| Arg::lit(format!("{}.crt", l.name))),
    );
    out.push(openssl_check(
        "verify".into(),
        "The tutorial's check: the CA signed every certificate.",
        args,
        Expect::Lines(
            spec.leaves
                .iter()
                .map(|l| format!("{}.crt: OK", l.name))
                .collect(),
        ),
    ));
    for leaf in &spec.leaves {
        let crt = format!("{}.crt", leaf.name);
        let purpose = match leaf.role {
            Role::Client => "sslclient",
            _ => "sslserver",
        };
        let ok = Expect::Lines(vec![format!("{crt}: OK")]);
        let mut named = false;
        for san in &leaf.sans {
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
            named = true;
            out.push(openssl_check(
                format!("verify-{}-{}", leaf.name, san),
                "The certificate is valid for its purpose and for this name.",
                lits(&[
                    "verify", "-CAfile", &ca_crt, "-purpose", purpose, flag, &name, &crt,
                ]),
                ok.clone(),
            ));
        }
        if !named {
            out.push(openssl_check(
                format!("verify-{}-{purpose}", leaf.name),
                "The certificate is valid for its purpose.",
                lits(&["verify", "-CAfile", &ca_crt, "-purpose", purpose, &crt]),
                ok.clone(),
            ));
        }
    }
    let names: Vec<&str> = std::iter::once(spec.ca.as_str())
        .chain(spec.leaves.iter().map(|l| l.name.as_str()))
        .collect();
    for name in &names {
        out.push(openssl_check(
            format!("key-{name}"),
            "The private key belongs to the certificate.",
            lits(&["pkey", "-in", &format!("{name}.key"), "-pubout"]),
            Expect::PublicKeyOf(PathBuf::from(format!("{name}.crt"))),
        ));
        out.push(check(
            format!("mode-{name}"),
            "The private key is readable by its owner only.",
            Action::Inspect(Inspection::PrivateMode {
                key: PathBuf::from(format!("{name}.key")),
            }),
            None,
        ));
    }
    for leaf in &spec.leaves {
        let crt = PathBuf::from(format!("{}.crt", leaf.name));
        out.push(check(
            format!("bundle-{}", leaf.name),
            "The bundle is the leaf certificate, then the CA's.",
            Action::Inspect(Inspection::BundleOrder {
                bundle: PathBuf::from(bundle_name(&leaf.name, leaf.role)),
                parts: vec![crt.clone(), PathBuf::from(&ca_crt)],
            }),
            None,
        ));
        out.push(check(
            format!("subjects-{}", leaf.name),
            "The certificate carries the CSR's subject.",
            Action::Inspect(Inspection::SubjectsAgree {
                csr: PathBuf::from(format!("{}.csr", leaf.name)),
                crt: crt.clone(),
            }),
            None,
        ));
    }
    let ca_subject = spec.ca_subject.as_ref().map(|s| (spec.ca.as_str(), s));
    let leaf_subjects = spec
        .leaves
        .iter()
        .filter_map(|l| l.subject.as_ref().map(|s| (l.name.as_str(), s)));
    for (name, subject) in ca_subject.into_iter().chain(leaf_subjects) {
        out.push(check(
            format!("profile-subject-{name}"),
            "The certificate's subject is the profile's.",
            Action::Inspect(Inspection::ProfileSubject {
                crt: PathBuf::from(format!("{name}.crt")),
                expected: subject.clone(),
            }),
            None,
        ));
    }
    for leaf in spec.leaves.iter().filter(|l| l.sans_from_profile) {
        out.push(check(
            format!("profile-san-{}", leaf.name),
            "The certificate's subjectAltName is the profile's.",
            Action::Inspect(Inspection::ProfileSans {
                crt: PathBuf::from(format!("{}.crt", leaf.name)),
                expected: leaf.sans.iter().map(|s| s.to_string()).collect(),
            }),
            None,
        ));
    }
    out
}

fn key(e: &Entity) -> String {
    format!("{}.key", e.name)
}
fn crt(e: &Entity) -> String {
    format!("{}.crt", e.name)
}
fn csr(e: &Entity) -> String {
    format!("{}.csr", e.name)
}

fn section(e: &Entity) -> Section {
    match e.role {
        Role::Ca => Section::Ca,
        Role::Server => Section::Server,
        Role::Client => Section::Client,
    }
}

fn lits(words: &[&str]) -> Vec<Arg> {
    words.iter().map(|w| Arg::lit(*w)).collect()
}

fn step(id: String, e: &Entity, heading: String, action: Action, outputs: &[&str]) -> Step {
    Step {
        id,
        section: section(e),
        heading,
        action,
        outputs: outputs.iter().map(PathBuf::from).collect(),
        keys: Vec::new(),
        subject_check: None,
        expect: None,
    }
}

fn genrsa(e: &Entity, heading: String) -> Step {
    let key = key(e);
    let mut s = step(
        format!("{}-key", e.name),
        e,
        heading,
        Action::Openssl {
            args: lits(&["genrsa", "-out", &key, &e.bits.to_string()]),
            stdin: Vec::new(),
        },
        &[&key],
    );
    s.keys = vec![PathBuf::from(key)];
    s
}

/// `-utf8` goes right after `-new` when a subject value is not ASCII: without
/// it openssl reads the answers as Latin-1 and writes mojibake.
fn req_args(utf8: bool, rest: &[&str]) -> Vec<Arg> {
    let mut args = lits(&["req", "-new"]);
    if utf8 {
        args.push(Arg::lit("-utf8"));
    }
    args.extend(lits(rest));
    args
}

fn ca_steps(ca: &Entity, answers: Answers) -> Vec<Step> {
    let (key, crt) = (key(ca), crt(ca));
    let mut cert = step(
        format!("{}-crt", ca.name),
        ca,
        "Using the private key generated in the previous step, this will generate a self-signed x509 certificate for the CA using the `req` command.".into(),
        Action::Openssl {
            args: req_args(answers.utf8, &["-x509", "-key", &key, "-out", &crt]),
            stdin: answers.lines,
        },
        &[&crt],
    );
    cert.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&crt),
        expected: answers.expected,
    });
    vec![
        genrsa(
            ca,
            format!(
                "Generate a {}-bit RSA private key, for the CA, using the PKCS#8 format.",
                ca.bits
            ),
        ),
        cert,
    ]
}

fn leaf_steps(leaf: &Entity, ca: &Entity, answers: Answers) -> Vec<Step> {
    let who = leaf.role.table();
    let (leaf_key, leaf_csr, leaf_crt) = (key(leaf), csr(leaf), crt(leaf));
    let sans: Vec<String> = leaf.san.iter().map(|s| s.to_string()).collect();
    let addext = format!("subjectAltName = {}", sans.join(", "));
    let extfile = format!("subjectAltName={}", sans.join(","));
    let mut csr_step = step(
        format!("{}-csr", leaf.name),
        leaf,
        match leaf.role {
            Role::Client => "Create a CSR for the client.".into(),
            _ => format!(
                "Generate a Certificate Signing Request (CSR) using the {who}'s private key."
            ),
        },
        Action::Openssl {
            args: req_args(
                answers.utf8,
                &["-key", &leaf_key, "-addext", &addext, "-out", &leaf_csr],
            ),
            stdin: answers.lines,
        },
        &[&leaf_csr],
    );
    csr_step.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&leaf_csr),
        expected: answers.expected.clone(),
    });
    let serial = format!("{}.srl", ca.name);
    let mut args = lits(&[
        "x509",
        "-req",
        "-in",
        &leaf_csr,
        "-CA",
        &crt(ca),
        "-CAkey",
        &key(ca),
        "-CAcreateserial",
        "-extfile",
    ]);
    // bash's <(printf "…"): the runner passes a temp file holding these bytes.
    args.push(Arg::Inline(extfile));
    args.extend(lits(&["-out", &leaf_crt]));
    let mut sign = step(
        format!("{}-crt", leaf.name),
        leaf,
        match leaf.role {
            Role::Client => "Use the CA to sign it.".into(),
            _ => format!(
                "Using the certificate of the CA, and the CSR, this will create an x509 certificate for the {who}."
            ),
        },
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        &[&leaf_crt, &serial],
    );
    sign.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&leaf_crt),
        expected: answers.expected,
    });
    let (bundle, bundle_heading) = match leaf.role {
        Role::Client => (
            format!("{}.pem", leaf.name),
            "Generate PEM file.".to_string(),
        ),
        _ => (
            format!("{}.bundle.crt", leaf.name),
            format!(
                "Create a file which is a bundle of the {who} certificate and the CA certificate."
            ),
        ),
    };
    let cat = step(
        format!("{}-bundle", leaf.name),
        leaf,
        bundle_heading,
        Action::Concat {
            parts: vec![PathBuf::from(&leaf_crt), PathBuf::from(crt(ca))],
            out: PathBuf::from(&bundle),
        },
        &[&bundle],
    );
    let key_heading = match leaf.role {
        Role::Client => format!(
            "Generate a {}-bit RSA private key for the client.",
            leaf.bits
        ),
        _ => format!("Generate {}-bit RSA private key, for the {who}.", leaf.bits),
    };
    vec![genrsa(leaf, key_heading), csr_step, sign, cat]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::profile;
    use std::path::Path;

    fn layout() -> PromptLayout {
        let cnf = "[req]\ndistinguished_name = dn\nattributes = attrs\n[dn]\nC = Country\nC_min = 2\nC_max = 2\nO = Org\nCN = Name\n[attrs]\nchallengePassword = pw\n";
        PromptLayout::from_config(Path::new("t.cnf"), &Config::parse(cnf).unwrap(), |_| false)
            .unwrap()
    }

    fn plan(toml: &str) -> Plan {
        build(
            &profile::parse(Path::new("p.toml"), toml).unwrap(),
            &layout(),
        )
        .unwrap()
    }

    const PROFILE: &str = "[ca]\nbits = 2048\nsubject = { CN = \"Root\", C = \"DE\" }\n[server]\nbits = 3072\nsubject = { CN = \"localhost\" }\nsan = [\"DNS:localhost\", \"IP:127.0.0.1\"]\n[client]\nsubject = { CN = \"alice\", O = \"Zürich AG\" }\nsan = [\"email:alice@example.com\"]\n";

    #[test]
    fn other_profiles_change_only_sizes_sans_and_utf8() {
        assert_eq!(
            plan(PROFILE).to_string(),
            "openssl genrsa -out ca.key 2048
openssl req -new -x509 -key ca.key -out ca.crt
openssl genrsa -out server.key 3072
openssl req -new -key server.key -addext \"subjectAltName = DNS:localhost, IP:127.0.0.1\" -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"subjectAltName=DNS:localhost,IP:127.0.0.1\") -out server.crt
cat server.crt ca.crt > server.bundle.crt
openssl genrsa -out client.key 4096
openssl req -new -utf8 -key client.key -addext \"subjectAltName = email:alice@example.com\" -out client.csr
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"subjectAltName=email:alice@example.com\") -out client.crt
cat client.crt ca.crt > client.pem
"
        );
    }

    #[test]
    fn steps_carry_answers_outputs_keys_and_checks() {
        let p = plan(PROFILE);
        let ids: Vec<_> = p.all().map(|s| s.id.as_str()).take(11).collect();
        assert_eq!(
            ids,
            [
                "ca-key",
                "ca-crt",
                "server-key",
                "server-csr",
                "server-crt",
                "server-bundle",
                "client-key",
                "client-csr",
                "client-crt",
                "client-bundle",
                "verify"
            ]
        );
        let Action::Openssl { stdin, .. } = &p.steps[1].action else {
            panic!("ca-crt runs openssl")
        };
        assert_eq!(
            stdin,
            &["DE", ".", "Root"],
            "the CA certificate (-x509) is asked no attributes"
        );
        let Action::Openssl { stdin, .. } = &p.steps[7].action else {
            panic!("client-csr runs openssl")
        };
        assert_eq!(stdin, &[".", "Zürich AG", "alice", "."]);
        assert_eq!(
            p.steps[4].outputs,
            [PathBuf::from("server.crt"), PathBuf::from("ca.srl")]
        );
        assert_eq!(p.steps[0].keys, [PathBuf::from("ca.key")]);
        assert_eq!(p.outputs().len(), 11);
        let checks: Vec<String> = p.checks.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            checks,
            [
                "openssl verify -CAfile ca.crt server.crt client.crt",
                "openssl verify -CAfile ca.crt -purpose sslserver -verify_hostname localhost server.crt",
                "openssl verify -CAfile ca.crt -purpose sslserver -verify_ip 127.0.0.1 server.crt",
                "openssl verify -CAfile ca.crt -purpose sslclient -verify_email alice@example.com client.crt",
                "openssl pkey -in ca.key -pubout",
                "check: ca.key is readable by its owner only",
                "openssl pkey -in server.key -pubout",
                "check: server.key is readable by its owner only",
                "openssl pkey -in client.key -pubout",
                "check: client.key is readable by its owner only",
                "check: server.bundle.crt holds server.crt then ca.crt",
                "check: server.crt has the subject of server.csr",
                "check: client.pem holds client.crt then ca.crt",
                "check: client.crt has the subject of client.csr",
                "check: ca.crt has the profile's subject C=DE, CN=Root",
                "check: server.crt has the profile's subject CN=localhost",
                "check: client.crt has the profile's subject O=Zürich AG, CN=alice",
                "check: server.crt has the profile's subjectAltName DNS:localhost, IP:127.0.0.1",
                "check: client.crt has the profile's subjectAltName email:alice@example.com",
            ]
        );
        assert_eq!(
            p.checks[0].expect,
            Some(Expect::Lines(vec![
                "server.crt: OK".into(),
                "client.crt: OK".into()
            ]))
        );
    }
}
