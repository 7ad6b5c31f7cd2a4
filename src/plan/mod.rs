//! Profile -> Plan: the tutorial's commands as data. Nothing here touches
//! the file system or starts a process.
//!
//! This file is the [`Plan`] and what a run asks of it; the steps are built
//! in `builders` (shared by every plan), `entities` (the tutorial's, per
//! entity) and `tutorial` (the whole); `limits` refuses a command line
//! Linux would not start, and `warnings` says what to know before a run.

pub mod ca_database;
pub mod caps;
pub mod checks;
pub mod export;
pub mod fixtures;
pub mod graph;
pub mod handshake;
pub mod lifecycle;
mod ocsp_signer;
pub mod prompts;
pub mod revocation;
pub mod spec;
pub mod step;
pub mod transcript;
pub mod tutorial;

mod builders;
mod entities;
mod limits;
mod warnings;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Problem, Problems, Result};
use crate::pki::names::{Files, is_scratch, is_serial, is_shared};
use crate::pki::profile::{Profile, Role};
use crate::plan::limits::arg_limit_problem;
use crate::plan::step::{Action, Section, Step};

pub use crate::plan::checks::checks;
pub use crate::plan::limits::{ArgLimits, MAX_ARG_STRLEN};
pub use crate::plan::spec::{CheckSpec, LeafSpec};
/// The variable that carries the PKCS#12 password to openssl (`-passout
/// env:…`), so that it never appears on a command line or in the transcript.
pub use crate::plan::step::P12_PASSWORD_VAR;
pub use crate::plan::warnings::{outlives_ca, validity_days, warnings};

pub use crate::pki::profile::days::{STRICT_CA as STRICT_CA_DAYS, STRICT_LEAF as STRICT_LEAF_DAYS};

pub(crate) use crate::plan::builders::{
    bundle_files_step, bundle_step, ca_cert_step, csr_step, current_pkcs12_algorithms, days_args,
    genkey, insert_before, intermediate_extensions, key_words, leaf_days, leaf_extensions, lits,
    name_at, p12_step, sign_step, sign_step_with, step, with_pointers,
};
// The tutorial's pieces, for plan/tutorial.rs and plan/lifecycle.rs.
use crate::plan::entities::{
    Answered, ca_steps, intermediate_steps, leaf_steps, strict_ca_extensions,
};

/// The steps of a run in the tutorial's order, then the checks that prove it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub checks: Vec<Step>,
    /// Files of DIR the publish takes away (a revoked entity's, whose
    /// copies the plan keeps in `archive/`).
    pub removes: Vec<PathBuf>,
}

impl Plan {
    /// Every file the plan writes, in the order first written.
    pub fn outputs(&self) -> Vec<PathBuf> {
        let mut seen: BTreeSet<&PathBuf> = BTreeSet::new();
        let mut out: Vec<PathBuf> = Vec::new();
        for path in self.steps.iter().flat_map(|s| &s.outputs) {
            if !is_scratch(path) && seen.insert(path) {
                out.push(path.clone());
            }
        }
        out
    }

    /// Files the steps read that no step of the plan writes: what must
    /// already be in the output directory (for `--add` and `--only`).
    pub fn prerequisites(&self) -> Vec<PathBuf> {
        let mut written: BTreeSet<&PathBuf> = BTreeSet::new();
        let mut seen: BTreeSet<&PathBuf> = BTreeSet::new();
        let mut out = Vec::new();
        for step in &self.steps {
            for input in &step.inputs {
                if !written.contains(input) && seen.insert(input) {
                    out.push(input.clone());
                }
            }
            written.extend(&step.outputs);
        }
        out
    }

    /// What a run copies from the output directory into staging before its
    /// first step (`exists` says whether a file is there): the
    /// prerequisites, the files the checks read that no step writes (the
    /// other leaves, for `--add`), and the CA's serial file when the CA is
    /// reused, so that its serial numbers continue; a CA made anew starts
    /// its own. Errs with the prerequisites that are missing (the serial file
    /// is never one: `-CAcreateserial` starts it).
    pub fn staging_inputs(
        &self,
        exists: impl Fn(&Path) -> bool,
    ) -> std::result::Result<Vec<PathBuf>, Vec<PathBuf>> {
        let needed = self.prerequisites();
        let missing: Vec<PathBuf> = needed
            .iter()
            .filter(|f| !is_serial(f) && !exists(f))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        let written: BTreeSet<PathBuf> = self.outputs().into_iter().collect();
        let mut inputs = needed;
        let mut seen: BTreeSet<PathBuf> = inputs.iter().cloned().collect();
        for f in self.checks.iter().flat_map(|c| &c.inputs) {
            if !written.contains(f) && seen.insert(f.clone()) {
                inputs.push(f.clone());
            }
        }
        inputs.retain(|f| exists(f) && !(is_serial(f) && written.contains(&serial_owner(f))));
        Ok(inputs)
    }

    /// Steps then checks, in the order they run.
    pub fn all(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().chain(&self.checks)
    }

    /// Whether any step needs the PKCS#12 password.
    pub fn needs_p12_password(&self) -> bool {
        self.all().any(|s| {
            s.outputs
                .iter()
                .any(|o| o.extension().is_some_and(|e| e == "p12"))
        })
    }

    /// Only the steps of one section of the tutorial (ca, server or client),
    /// and the checks of what they make.
    pub fn only(self, section: Section) -> Plan {
        // Files of the sections after this one do not exist yet: a check
        // that reads one waits for that section's run.
        let last = self
            .steps
            .iter()
            .rposition(|s| s.section == section)
            .unwrap_or(0);
        let later: BTreeSet<PathBuf> = self.steps[last..]
            .iter()
            .filter(|s| s.section != section)
            .flat_map(|s| s.outputs.clone())
            .collect();
        let steps: Vec<Step> = self
            .steps
            .into_iter()
            .filter(|s| s.section == section)
            .collect();
        let made: BTreeSet<PathBuf> = steps.iter().flat_map(|s| s.outputs.clone()).collect();
        let checks = self
            .checks
            .into_iter()
            .filter(|c| {
                c.reads_any_of(&made)
                    && !c
                        .inputs
                        .iter()
                        .any(|i| later.contains(i) && !made.contains(i))
            })
            .collect();
        Plan {
            steps,
            checks,
            removes: self.removes,
        }
    }

    /// Without the entities whose files all exist already (`--add`): the
    /// steps of an entity are kept or dropped together, and checks are kept
    /// for what is made anew. `exists` says whether a file is in the output
    /// directory. Returns the names of entities that are half there.
    pub fn without_existing(self, exists: impl Fn(&PathBuf) -> bool) -> (Plan, Vec<String>) {
        // Each entity's own files; the files CAs share (serial, database,
        // CRL) grow with every entity, and count only for an entity that
        // has no others (a new CA database).
        let mut entities: Vec<(String, Vec<bool>, Vec<bool>)> = Vec::new();
        for step in &self.steps {
            // (Scratch files never reach DIR.)
            let (shared, own): (Vec<&PathBuf>, Vec<&PathBuf>) = step
                .outputs
                .iter()
                .filter(|o| !is_scratch(o))
                .partition(|o| is_shared(o));
            let (own, shared) = (
                own.into_iter().map(&exists).collect::<Vec<_>>(),
                shared.into_iter().map(&exists).collect::<Vec<_>>(),
            );
            match entities.iter_mut().find(|(e, _, _)| *e == step.entity) {
                Some((_, o, s)) => {
                    o.extend(own);
                    s.extend(shared);
                }
                None => entities.push((step.entity.clone(), own, shared)),
            }
        }
        let entities: Vec<(String, Vec<bool>)> = entities
            .into_iter()
            .map(|(e, own, shared)| (e, if own.is_empty() { shared } else { own }))
            .collect();
        let complete = |e: &str| {
            entities
                .iter()
                .any(|(name, files)| name == e && files.iter().all(|p| *p))
        };
        let half: Vec<String> = entities
            .iter()
            .filter(|(_, files)| files.iter().any(|p| *p) && !files.iter().all(|p| *p))
            .map(|(e, _)| e.clone())
            .collect();
        let kept: BTreeSet<PathBuf> = self
            .steps
            .iter()
            .filter(|s| !complete(&s.entity))
            .flat_map(|s| s.outputs.clone())
            .collect();
        // A file written from the profile's text about what is made (the
        // fixtures' manifest) is written again when any of it is made anew.
        let steps: Vec<Step> = self
            .steps
            .into_iter()
            .filter(|s| {
                !complete(&s.entity)
                    || (matches!(s.action, Action::Write { .. }) && s.reads_any_of(&kept))
            })
            .collect();
        let made: BTreeSet<PathBuf> = steps.iter().flat_map(|s| s.outputs.clone()).collect();
        let checks = self
            .checks
            .into_iter()
            .filter(|c| c.reads_any_of(&made))
            .collect();
        (
            Plan {
                steps,
                checks,
                removes: self.removes,
            },
            half,
        )
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

/// Refuses a plan with a step or check that Linux would not start: an
/// argument or a command line too long, named by the profile's field
/// (`client[2].san`) with the limit and what to do.
pub fn check_arg_limits(plan: &Plan, profile: &Profile, limits: ArgLimits) -> Result<()> {
    let problems: Vec<Problem> = plan
        .all()
        .filter_map(|step| arg_limit_problem(step, profile, limits))
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Profile(Problems {
        file: profile.path.clone(),
        list: problems,
    }))
}

/// The certificate of the CA whose serial file is `serial`.
fn serial_owner(serial: &Path) -> PathBuf {
    let stem = serial.file_stem().unwrap_or_default().to_string_lossy();
    PathBuf::from(Files::new(&stem, Role::Ca).crt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::config::Config;
    use crate::pki::profile;
    use crate::plan::caps::Capabilities;
    use crate::plan::prompts::PromptLayout;
    use crate::plan::step::Expect;
    use crate::plan::tutorial::build;
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
            Capabilities::default(),
            0,
        )
        .unwrap()
    }

    /// 2026-11-28 12:00 UTC.
    const NOW: i64 = 1_795_867_200;

    fn fixture_plan(kind: &str, x509_dates: bool) -> Vec<String> {
        let toml = format!(
            "{PROFILE}[[client]]\nname = \"bad\"\nfixture = \"{kind}\"\nbits = 2048\nsubject = {{ CN = \"bad\" }}\nsan = [\"DNS:localhost\"]\n"
        )
        .replace("[client]\n", "[[client]]\n");
        let caps = Capabilities {
            x509_dates,
            ..Capabilities::default()
        };
        let p = profile::parse(Path::new("p.toml"), &toml).unwrap();
        build(&p, &layout(), caps, NOW)
            .unwrap()
            .steps
            .iter()
            .filter(|s| s.entity == "bad" || s.entity.ends_with("-database"))
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn dated_fixtures_use_x509_dates_where_openssl_has_them_else_openssl_ca() {
        let with = fixture_plan("expired", true);
        assert_eq!(
            with[2],
            "openssl x509 -req -in bad.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"subjectAltName=DNS:localhost\") -not_before 261028000000Z -not_after 261127000000Z -out bad.crt"
        );
        let without = fixture_plan("not-yet-valid", false);
        assert_eq!(
            without[..2],
            ["printf \"\" > ca.index", "printf \"01\\n\" > ca.crlnumber"]
        );
        assert_eq!(
            without[4],
            "openssl ca -config <(printf \"[ca]\\ndefault_ca = pkiforge\\n[pkiforge_crl]\\nauthorityKeyIdentifier = keyid\\n[pkiforge]\\ndatabase = ca.index\\ncrlnumber = ca.crlnumber\\ndefault_md = sha256\\ndefault_crl_days = 30\\nunique_subject = no\\ncrl_extensions = pkiforge_crl\\nserial = ca.srl\\nnew_certs_dir = .\\npolicy = pkiforge_policy\\n[pkiforge_policy]\\ncommonName = optional\\n\") -batch -notext -preserveDN -rand_serial -keyfile ca.key -cert ca.crt -in bad.csr -extfile <(printf \"subjectAltName=DNS:localhost\") -startdate 271128000000Z -enddate 271228000000Z -out bad.crt"
        );
    }

    #[test]
    fn each_fixture_is_planned_as_openssl_commands() {
        let purpose = fixture_plan("wrong-purpose", true);
        assert!(purpose[2].contains("-extfile <(printf \"subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\") -out bad.crt"), "{}", purpose[2]);
        let foreign = fixture_plan("foreign-ca", true);
        assert_eq!(foreign[2], "openssl genrsa -out bad.issuer.key 2048");
        assert_eq!(
            foreign[3],
            "openssl req -new -x509 -key bad.issuer.key -out bad.issuer.crt"
        );
        assert!(foreign[4].starts_with(
            "openssl x509 -req -in bad.csr -CA bad.issuer.crt -CAkey bad.issuer.key -CAcreateserial"
        ));
        assert_eq!(foreign[5], "cat bad.crt bad.issuer.crt > bad.pem");
        let own = fixture_plan("self-signed", true);
        assert!(own[2].starts_with("openssl x509 -req -in bad.csr -signkey bad.key -extfile"));
        assert_eq!(own[3], "cat bad.crt > bad.pem");
        let revoked = fixture_plan("revoked", true);
        assert!(revoked[6].ends_with(
            " -batch -keyfile ca.key -cert ca.crt -revoke bad.crt -crl_reason keyCompromise"
        ));
        assert!(
            revoked[7]
                .ends_with(" -batch -keyfile ca.key -cert ca.crt -gencrl -crldays 365 -out ca.crl")
        );
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
    fn a_run_starts_from_the_reused_ca_and_its_serial_only() {
        let paths = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        let only = |files: &'static [&'static str]| {
            move |f: &Path| files.iter().any(|x| Path::new(x) == f)
        };
        // A whole run makes its own CA: an old serial file is not continued.
        let whole = plan(PROFILE);
        assert_eq!(whole.staging_inputs(only(&["ca.srl"])), Ok(vec![]));
        // The server alone signs with the CA in DIR, and continues its serial.
        let server = plan(PROFILE).only(Section::Server);
        assert_eq!(
            server.staging_inputs(only(&["ca.crt", "ca.key", "ca.srl"])),
            Ok(paths(&["ca.crt", "ca.key", "ca.srl"]))
        );
        // No serial file yet: -CAcreateserial starts one.
        assert_eq!(
            server.staging_inputs(only(&["ca.crt", "ca.key"])),
            Ok(paths(&["ca.crt", "ca.key"]))
        );
        assert_eq!(
            server.staging_inputs(only(&["ca.crt"])),
            Err(paths(&["ca.key"]))
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
                "check: ca.key is the private key of ca.crt",
                "check: ca.key is readable by its owner only",
                "check: server.key is the private key of server.crt",
                "check: server.key is readable by its owner only",
                "check: client.key is the private key of client.crt",
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

    #[test]
    fn a_command_line_linux_would_not_start_is_refused_naming_the_field() {
        let p = profile::parse(Path::new("p.toml"), PROFILE).unwrap();
        let plan = build(&p, &layout(), Capabilities::default(), 0).unwrap();
        let roomy = ArgLimits {
            one: MAX_ARG_STRLEN,
            total: 1 << 20,
        };
        assert!(check_arg_limits(&plan, &p, roomy).is_ok());
        // "subjectAltName = DNS:localhost, IP:127.0.0.1" and its NUL: 45 bytes.
        let one = ArgLimits {
            one: 44,
            total: 1 << 20,
        };
        let Err(Error::Profile(problems)) = check_arg_limits(&plan, &p, one) else {
            panic!("refused")
        };
        let said: Vec<(String, String)> = problems
            .list
            .iter()
            .map(|p| (p.field.clone(), p.message.clone()))
            .collect();
        assert_eq!(
            said,
            [(
                "server.san".to_string(),
                "its 2 names make the argument -addext \"subjectAltName = …\" of `openssl req` 45 bytes long, but Linux passes at most 44 bytes in one argument (MAX_ARG_STRLEN), so openssl would not start; give it fewer or shorter names, spread over several certificates".to_string()
            )]
        );
        // `genrsa -out ca.key 2048`: 24 bytes, 48 of pointers, and 4096 for
        // openssl's path.
        let total = ArgLimits {
            one: MAX_ARG_STRLEN,
            total: 4167,
        };
        let Err(Error::Profile(problems)) = check_arg_limits(&plan, &p, total) else {
            panic!("refused")
        };
        assert_eq!(problems.list[0].field, "ca");
        assert_eq!(
            problems.list[0].message,
            "makes the command line of `openssl genrsa` (ca-key) 4168 bytes long with 4 arguments, but this system passes at most 4167 bytes of arguments and environment (ARG_MAX), so openssl would not start; split the profile into smaller ones"
        );
    }

    #[test]
    fn leaves_checked_the_same_way_share_one_verify() {
        let mut text = String::from(
            "[ca]\nsubject = { CN = \"Root\" }\n[server]\nsubject = { CN = \"s\" }\nsan = [\"DNS:localhost\"]\n",
        );
        for n in ["a", "b", "c"] {
            text.push_str(&format!("[[client]]\nname = \"{n}\"\nsubject = {{ CN = \"{n}\" }}\nsan = [\"DNS:localhost\"]\n"));
        }
        let p = plan(&text);
        let verifies: Vec<(String, String)> = p
            .checks
            .iter()
            .filter(|c| c.id.starts_with("verify"))
            .map(|c| (c.id.clone(), c.to_string()))
            .collect();
        assert_eq!(
            verifies,
            [
                ("verify".to_string(), "openssl verify -CAfile ca.crt server.crt a.crt b.crt c.crt".to_string()),
                (
                    "verify-server-DNS:localhost".to_string(),
                    "openssl verify -CAfile ca.crt -purpose sslserver -verify_hostname localhost server.crt".to_string()
                ),
                (
                    "verify-sslclient-DNS:localhost".to_string(),
                    "openssl verify -CAfile ca.crt -purpose sslclient -verify_hostname localhost a.crt b.crt c.crt".to_string()
                ),
            ]
        );
    }
}
