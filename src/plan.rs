//! Profile -> Plan: the tutorial's commands as data. All file naming lives
//! here, and nothing here touches the file system or starts a process.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Problem, Problems, Result};
use crate::profile::{Entity, Profile, Role};
use crate::prompts::{Answers, PromptLayout};
use crate::step::{Action, Arg, Section, Step, SubjectCheck};

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

    let checks = vec![verify_step(
        &profile.ca.name,
        &[&profile.server.name, &profile.client.name],
    )];
    Ok(Plan { steps, checks })
}

/// `openssl verify -CAfile CA.crt LEAF.crt…`, which must print `LEAF.crt: OK` for each.
pub fn verify_step(ca: &str, leaves: &[&str]) -> Step {
    let mut args = vec![
        Arg::lit("verify"),
        Arg::lit("-CAfile"),
        Arg::lit(format!("{ca}.crt")),
    ];
    args.extend(leaves.iter().map(|l| Arg::lit(format!("{l}.crt"))));
    Step {
        id: "verify".into(),
        section: Section::Verify,
        heading: "Check that the CA signed every certificate.".into(),
        action: Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        outputs: Vec::new(),
        keys: Vec::new(),
        subject_check: None,
        expect_stdout: Some(leaves.iter().map(|l| format!("{l}.crt: OK")).collect()),
    }
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
        expect_stdout: None,
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
        let ids: Vec<_> = p.all().map(|s| s.id.as_str()).collect();
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
        assert_eq!(
            p.checks[0].to_string(),
            "openssl verify -CAfile ca.crt server.crt client.crt"
        );
        assert_eq!(
            p.checks[0].expect_stdout.as_deref(),
            Some(&["server.crt: OK".to_string(), "client.crt: OK".to_string()][..])
        );
    }
}
