//! Checks of what openssl wrote, parsed in Rust rather than scraped from
//! openssl's text (whose format changes between versions).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{At, Error};
use crate::pki::error::{Malformed, ReadError};
use crate::pki::fixture::Kind;
use crate::pki::keys::{self, KeyError, PublicKey};
use crate::pki::san::{San, covers};
use crate::plan::step::{Expect, Inspection, Step, same_fields, show_fields};
use x509_parser::prelude::FromDer;

use crate::pki::x509::{
    describe, parse_certificate, pem_blocks, read, read_certificate, read_certificates,
    read_subject, sans_of,
};

/// A check of what openssl wrote that failed: what was found, against
/// what was expected.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Bytes that were read but are not what they should be.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    /// A private key that cannot be read (`holder` names its file).
    #[error("{holder}: {source}")]
    Key { holder: String, source: KeyError },
    #[error("cannot read {}: {source}", path.display())]
    NoMode {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is mode {mode:04o}: others can read the private key; run chmod 600 {}", path.display(), path.display())]
    NotPrivate { path: PathBuf, mode: u32 },
    #[error("refused for another reason: {line}; the {kind} fixture must fail with {wanted}")]
    RefusedOtherwise {
        kind: Kind,
        line: String,
        wanted: String,
    },
    #[error(
        "the certificate verifies, but the {kind} fixture must fail with {wanted}; make it again"
    )]
    Verifies { kind: Kind, wanted: String },
    #[error(
        "openssl gave no verify error (it said {said:?}); the {kind} fixture must fail with {wanted}"
    )]
    NoVerifyError {
        kind: Kind,
        said: String,
        wanted: String,
    },
    #[error("{} {}; {CRL_FIX}", crl.display(), problem.message)]
    Crl { crl: PathBuf, problem: CrlProblem },
    /// A bundle's certificates, described, and those of its parts.
    #[error("{} holds {count} certificate(s): {found}; expected {parts} ({expected})", bundle.display())]
    BundleOrder {
        bundle: PathBuf,
        count: usize,
        found: String,
        parts: String,
        expected: String,
    },
    #[error("{} has {field} = {found}, but {} has {want}", crt.display(), csr.display())]
    SubjectsDiffer {
        crt: PathBuf,
        csr: PathBuf,
        field: String,
        want: String,
        found: String,
    },
    #[error("{} has the subject {found}; the profile says {expected}", crt.display())]
    NotProfileSubject {
        crt: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{} has subjectAltName {found}; the profile says {expected}", crt.display())]
    NotProfileSans {
        crt: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{} is not valid for {}", crt.display(), names.join(", "))]
    NotValidFor { crt: PathBuf, names: Vec<String> },
    #[error("the bundle holds {count} certificate(s), not exactly {}", expected.join(" and "))]
    BundleHolds { count: usize, expected: Vec<String> },
    #[error("{key} does not belong to {}: the key is {key_kind}, the certificate's is {cert_kind}", crt.display())]
    KeyKindDiffers {
        key: String,
        crt: PathBuf,
        key_kind: String,
        cert_kind: String,
    },
    #[error("{key} does not belong to {}: their public keys differ", crt.display())]
    KeyDiffers { key: String, crt: PathBuf },
}

/// The first difference between the subject openssl wrote and the expected
/// one, as `(field, expected, found)`, rendering an absent value as `(none)`.
pub fn subject_difference(
    expected: &[(String, String)],
    found: &[(String, String)],
) -> Option<(String, String, String)> {
    let show = |v: Option<&String>| v.map_or_else(|| "(none)".to_string(), |v| format!("{v:?}"));
    for (i, (field, value)) in expected.iter().enumerate() {
        match found.get(i) {
            Some((f, v)) if f == field && v == value => continue,
            Some((f, v)) if f == field => {
                return Some((field.clone(), show(Some(value)), show(Some(v))));
            }
            _ => {
                let found_value = found.iter().find(|(f, _)| f == field).map(|(_, v)| v);
                if found_value != Some(value) {
                    return Some((field.clone(), show(Some(value)), show(found_value)));
                }
                return Some((
                    field.clone(),
                    format!("{value:?} at position {}", i + 1),
                    "it at another position".into(),
                ));
            }
        }
    }
    found
        .get(expected.len())
        .map(|(f, v)| (f.clone(), "(none)".to_string(), show(Some(v))))
}

/// The permission bits of a file (symbolic links followed), if it exists.
pub fn mode_of(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

/// The one rule for a private key file's mode: readable and writable by
/// its owner only, no group or other bits.
pub fn is_private(mode: u32) -> bool {
    mode & 0o077 == 0
}

/// [`is_private`] for a file; otherwise why not, and the fix.
pub fn private_mode(path: &Path, shown: &Path) -> Result<(), CheckError> {
    let meta = std::fs::metadata(path).map_err(|source| CheckError::NoMode {
        path: shown.to_path_buf(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if is_private(mode) {
        return Ok(());
    }
    Err(CheckError::NotPrivate {
        path: shown.to_path_buf(),
        mode,
    })
}

/// What a step must have left in `dir`, judged after it ran: what openssl
/// printed (a check's expectation), its outputs (there and not empty),
/// its keys (private), and the subject openssl wrote (the profile's).
/// Returns the lines the report shows.
pub fn after_step(step: &Step, dir: &Path, stdout: &str) -> crate::error::Result<Vec<String>> {
    let at = || At::new(&step.id, step.to_string());
    let fail = |e: CheckError| Error::Check {
        at: at(),
        reason: Box::new(e),
    };
    let mut printed = Vec::new();
    match &step.expect {
        Some(Expect::Lines(expected)) => {
            printed = stdout.lines().map(str::to_string).collect();
            if &printed != expected {
                let message = format!(
                    "expected {:?}, openssl printed {:?}",
                    expected.join("\n"),
                    stdout.trim_end()
                );
                return Err(Error::Check {
                    at: at(),
                    reason: message.into(),
                });
            }
        }
        Some(Expect::Pkcs12 { certs }) => {
            pkcs12_matches(stdout.as_bytes(), dir, certs).map_err(fail)?;
        }
        Some(Expect::Refused(kind)) => {
            printed = vec![refused_for(*kind, stdout).map_err(fail)?];
        }
        Some(Expect::Holds(line)) => {
            printed = stdout.lines().map(str::to_string).collect();
            if !printed.iter().any(|l| l == line) {
                let message = format!(
                    "expected a line {line:?}, openssl printed {:?}",
                    stdout.trim_end()
                );
                return Err(Error::Check {
                    at: at(),
                    reason: message.into(),
                });
            }
        }
        None => {}
    }
    // A file written from the plan's own text may be empty (a new CA
    // database); what openssl writes may not.
    let may_be_empty = matches!(step.action, crate::plan::step::Action::Write { .. });
    for out in &step.outputs {
        let written = std::fs::metadata(dir.join(out))
            .is_ok_and(|m| m.is_file() && (may_be_empty || m.len() > 0));
        if !written {
            return Err(Error::MissingOutput {
                at: at(),
                file: out.clone(),
            });
        }
    }
    for key in &step.keys {
        private_mode(&dir.join(key), key).map_err(fail)?;
    }
    if let Some(check) = &step.subject_check {
        let found = read_subject(&dir.join(&check.file)).map_err(|e| fail(e.into()))?;
        if let Some((field, expected, found)) = subject_difference(&check.expected, &found) {
            return Err(Error::SubjectMismatch {
                at: at(),
                file: check.file.clone(),
                field,
                expected,
                found,
            });
        }
    }
    let shown = step.report || matches!(step.expect, Some(Expect::Refused(_)));
    Ok(if shown { printed } else { Vec::new() })
}

/// Whether `openssl verify` (all it printed, `output`, after it failed)
/// refused a fixture for its reason; the line that says so.
pub fn refused_for(kind: Kind, output: &str) -> Result<String, CheckError> {
    let line = output.lines().find_map(|l| {
        // `error 10 at 1 depth lookup: …`: a chain kind is refused for a
        // certificate above the leaf.
        let rest = l.trim().strip_prefix("error ")?;
        let (code, rest) = rest.split_once(" at ")?;
        let (depth, why) = rest.split_once(" depth lookup")?;
        depth.parse::<u32>().ok()?;
        Some((
            code.parse::<u32>().ok()?,
            why.trim_start_matches(':').trim(),
            l.trim(),
        ))
    });
    let wanted = kind
        .openssl_errors()
        .iter()
        .map(|e| format!("error {} ({})", e.code, e.text))
        .collect::<Vec<_>>()
        .join(" or ");
    match line {
        Some((code, why, _)) if kind.openssl_errors().iter().any(|e| e.code == code) => {
            Ok(format!("refused as intended ({kind}): error {code}, {why}"))
        }
        Some((_, _, l)) => Err(CheckError::RefusedOtherwise {
            kind,
            line: l.to_string(),
            wanted,
        }),
        None if output.contains(": OK") => Err(CheckError::Verifies { kind, wanted }),
        None => Err(CheckError::NoVerifyError {
            kind,
            said: output.trim().to_string(),
            wanted,
        }),
    }
}

/// What is wrong with a CRL: a lint rule's name and what it says (after
/// the file's name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlProblem {
    pub rule: &'static str,
    pub message: String,
}

/// What to do about a CRL that is not its CA's.
pub const CRL_FIX: &str = "issue it again with this PKI's CA (pkiforge crl DIR), or remove it if the CA has revoked nothing";

/// Whether `crl` (in `dir`) is a CRL signed by the CA certificate `ca`; a
/// CRL of another CA (an old PKI's) makes every server that checks
/// revocation refuse every client.
pub fn crl_problem(dir: &Path, crl: &Path, ca: &Path) -> Option<CrlProblem> {
    let problem = |rule, message: String| Some(CrlProblem { rule, message });
    let bytes = match read(&dir.join(crl)) {
        Ok(b) => b,
        Err(e) => return problem("crl-not-a-crl", format!("cannot be read ({e})")),
    };
    let Some(der) = pem_blocks(&bytes, "X509 CRL")
        .ok()
        .and_then(|blocks| blocks.into_iter().next())
    else {
        return problem(
            "crl-not-a-crl",
            "is not a CRL: it holds no PEM block BEGIN X509 CRL".into(),
        );
    };
    let list = match x509_parser::revocation_list::CertificateRevocationList::from_der(&der) {
        Ok((_, list)) => list,
        Err(e) => return problem("crl-not-a-crl", format!("is not a valid CRL ({e})")),
    };
    if !dir.join(ca).exists() {
        // A CRL with no certificate of its name: nothing to check it against.
        return None;
    }
    let ca_cert = read_certificate(&dir.join(ca)).and_then(|der| {
        parse_certificate(&der)
            .map(|c| c.public_key().raw.to_vec())
            .map_err(|e| ReadError::malformed(ca, e))
    });
    let spki = match &ca_cert {
        Ok(raw) => x509_parser::x509::SubjectPublicKeyInfo::from_der(raw).map(|(_, k)| k),
        Err(e) => {
            return problem(
                "crl-not-signed-by-ca",
                format!("cannot be checked against {}: {e}", ca.display()),
            );
        }
    };
    match spki.map(|k| list.verify_signature(&k)) {
        Ok(Ok(())) => None,
        // An algorithm ring does not know: openssl's -crl_check judges it.
        Ok(Err(x509_parser::error::X509Error::SignatureUnsupportedAlgorithm)) => None,
        _ => problem(
            "crl-not-signed-by-ca",
            format!(
                "is not signed by {}: it was issued by {}, and its signature does not verify with {}'s key (a CRL left from another PKI?)",
                ca.display(),
                list.issuer(),
                ca.display()
            ),
        ),
    }
}

/// [`crl_problem`] as a check: what is wrong, and the fix.
fn crl_signed_by(dir: &Path, crl: &Path, ca: &Path) -> Result<(), CheckError> {
    match crl_problem(dir, crl, ca) {
        None => Ok(()),
        Some(problem) => Err(CheckError::Crl {
            crl: crl.to_path_buf(),
            problem,
        }),
    }
}

/// Runs a check that needs no openssl.
pub fn check(dir: &Path, inspection: &Inspection) -> Result<(), CheckError> {
    match inspection {
        Inspection::BundleOrder { bundle, parts } => bundle_order(dir, bundle, parts),
        Inspection::SubjectsAgree { csr, crt } => subjects_agree(dir, csr, crt),
        Inspection::ProfileSubject { crt, expected } => profile_subject(dir, crt, expected),
        Inspection::ProfileSans { crt, expected } => profile_sans(dir, crt, expected),
        Inspection::KeyMatches { key, crt } => key_matches(dir, key, crt),
        Inspection::NamesCovered { crt, names } => names_covered(dir, crt, names),
        Inspection::PrivateMode { key } => private_mode(&dir.join(key), key),
        Inspection::CrlSignedBy { crl, ca } => crl_signed_by(dir, crl, ca),
    }
}

fn bundle_order(dir: &Path, bundle: &Path, parts: &[PathBuf]) -> Result<(), CheckError> {
    let found = read_certificates(&dir.join(bundle))?;
    let mut want = Vec::new();
    for part in parts {
        want.push(read_certificate(&dir.join(part))?);
    }
    if found == want {
        return Ok(());
    }
    let names = |ders: &[Vec<u8>]| {
        ders.iter()
            .map(|d| describe(d))
            .collect::<Vec<_>>()
            .join(" then ")
    };
    let parts: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
    Err(CheckError::BundleOrder {
        bundle: bundle.to_path_buf(),
        count: found.len(),
        found: names(&found),
        parts: parts.join(" then "),
        expected: names(&want),
    })
}

fn subjects_agree(dir: &Path, csr: &Path, crt: &Path) -> Result<(), CheckError> {
    let a = read_subject(&dir.join(csr))?;
    let b = read_subject(&dir.join(crt))?;
    match subject_difference(&a, &b) {
        None => Ok(()),
        Some((field, want, found)) => Err(CheckError::SubjectsDiffer {
            crt: crt.to_path_buf(),
            csr: csr.to_path_buf(),
            field,
            want,
            found,
        }),
    }
}

fn profile_subject(
    dir: &Path,
    crt: &Path,
    expected: &[(String, String)],
) -> Result<(), CheckError> {
    let found = read_subject(&dir.join(crt))?;
    if same_fields(&found, expected) {
        return Ok(());
    }
    Err(CheckError::NotProfileSubject {
        crt: crt.to_path_buf(),
        found: show_fields(&found),
        expected: show_fields(expected),
    })
}

fn profile_sans(dir: &Path, crt: &Path, expected: &[String]) -> Result<(), CheckError> {
    let der = read_certificate(&dir.join(crt))?;
    let found: Vec<String> = sans_of(&der)?.iter().map(|s| s.canonical()).collect();
    if found == expected {
        return Ok(());
    }
    let show = |v: &[String]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join(", ")
        }
    };
    Err(CheckError::NotProfileSans {
        crt: crt.to_path_buf(),
        found: show(&found),
        expected: show(expected),
    })
}

fn names_covered(dir: &Path, crt: &Path, names: &[San]) -> Result<(), CheckError> {
    let der = read_certificate(&dir.join(crt))?;
    let sans = sans_of(&der)?;
    let missing: Vec<String> = names
        .iter()
        .filter(|n| !sans.iter().any(|s| covers(s, n)))
        .map(|n| n.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(CheckError::NotValidFor {
        crt: crt.to_path_buf(),
        names: missing,
    })
}

/// Whether `pem` (openssl's `pkcs12 -nodes` output) holds one private key and
/// exactly the certificates of `certs` in `dir` (in any order).
pub fn pkcs12_matches(pem: &[u8], dir: &Path, certs: &[PathBuf]) -> Result<(), CheckError> {
    let mut found = pem_blocks(pem, "CERTIFICATE")?;
    // Exactly one private key, and it is the leaf's: the first certificate's.
    let public = keys::public_key_of_pem(pem).map_err(|source| CheckError::Key {
        holder: "the bundle".into(),
        source,
    })?;
    let mut want = Vec::new();
    for c in certs {
        want.push(read_certificate(&dir.join(c))?);
    }
    if let (Some(leaf), Some(der)) = (certs.first(), want.first()) {
        key_belongs(&public, "the bundle's private key", der, leaf)?;
    }
    found.sort();
    want.sort();
    if found != want {
        let names: Vec<String> = certs.iter().map(|c| c.display().to_string()).collect();
        return Err(CheckError::BundleHolds {
            count: found.len(),
            expected: names,
        });
    }
    Ok(())
}

/// Whether the private key file `key` in `dir` belongs to the certificate `crt`.
fn key_matches(dir: &Path, key: &Path, crt: &Path) -> Result<(), CheckError> {
    let public =
        keys::public_key_of_pem(&read(&dir.join(key))?).map_err(|source| CheckError::Key {
            holder: key.display().to_string(),
            source,
        })?;
    let der = read_certificate(&dir.join(crt))?;
    key_belongs(&public, &format!("{}", key.display()), &der, crt)
}

/// Whether `public` (the public half of the private key `what`) is the
/// public key of the certificate `der`, read from `crt`.
fn key_belongs(public: &PublicKey, what: &str, der: &[u8], crt: &Path) -> Result<(), CheckError> {
    let cert = parse_certificate(der)?;
    let theirs = PublicKey::of_certificate(&cert);
    if public.belongs_to(&theirs) {
        Ok(())
    } else if public.algorithm != theirs.algorithm || public.curve != theirs.curve {
        Err(CheckError::KeyKindDiffers {
            key: what.to_string(),
            crt: crt.to_path_buf(),
            key_kind: public.kind(),
            cert_kind: theirs.kind(),
        })
    } else {
        Err(CheckError::KeyDiffers {
            key: what.to_string(),
            crt: crt.to_path_buf(),
        })
    }
}

/// The judge the runner is given: [`after_step`] and [`check`].
pub struct Verifier;

impl crate::plan::step::Judge for Verifier {
    fn after_step(
        &self,
        step: &Step,
        dir: &Path,
        stdout: &str,
    ) -> crate::error::Result<Vec<String>> {
        after_step(step, dir, stdout)
    }

    fn inspect(&self, dir: &Path, inspection: &Inspection) -> Result<(), crate::error::Reason> {
        Ok(check(dir, inspection)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn differences_name_the_field() {
        let want = pairs(&[("C", "DE"), ("CN", "Zürich")]);
        assert_eq!(subject_difference(&want, &want), None);
        assert_eq!(
            subject_difference(&want, &pairs(&[("C", "DE"), ("CN", "ZÃ¼rich")])),
            Some(("CN".into(), "\"Zürich\"".into(), "\"ZÃ¼rich\"".into()))
        );
        assert_eq!(
            subject_difference(
                &want,
                &pairs(&[
                    ("C", "DE"),
                    ("CN", "Zürich"),
                    ("O", "Internet Widgits Pty Ltd")
                ])
            ),
            Some((
                "O".into(),
                "(none)".into(),
                "\"Internet Widgits Pty Ltd\"".into()
            ))
        );
        assert_eq!(
            subject_difference(&want, &pairs(&[("C", "DE")])),
            Some(("CN".into(), "\"Zürich\"".into(), "(none)".into()))
        );
    }
}
