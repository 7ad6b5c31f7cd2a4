//! Why a lifecycle plan (renew, revoke, crl) cannot be made.

use std::path::PathBuf;

use crate::error::Problem;
use crate::pki::error::{Malformed, ReadError};
use crate::pki::x509::KeyInfo;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A certificate whose extensions cannot be read.
    #[error(transparent)]
    Malformed(#[from] Malformed),
    #[error("{} has no certificate called {name}; it has {} (and ca)", dir.display(), names.join(", "))]
    NoSuchLeaf {
        dir: PathBuf,
        name: String,
        names: Vec<String>,
    },
    #[error("{crt} has a {key} key, which pkiforge does not make")]
    ForeignKey { crt: String, key: KeyInfo },
    #[error("{crt}'s subject has {field}, a field pkiforge does not write")]
    ForeignField { crt: String, field: String },
    #[error(
        "cannot answer openssl's prompts for {crt} with its subject as it is: {}",
        problem_lines(problems)
    )]
    Prompts { crt: String, problems: Vec<Problem> },
    /// The config cannot give a strict CA its extensions.
    #[error(transparent)]
    StrictCa(crate::plan::caps::NotStrictEnough),
    /// The intermediate's name constraints, as read back.
    #[error(transparent)]
    Constraints(crate::pki::constraints::Unreadable),
    #[error("{} has no {key}: the root signs the intermediate; renew it where the root's key is", dir.display())]
    NoRootKey { dir: PathBuf, key: String },
    #[error(
        "{name} is the CA, which cannot revoke itself (a CRL is signed by the CA it lists). To replace it, make the PKI again with a new CA: pkiforge run PROFILE --out {} --force, then give every server and client the new {crt}",
        dir.display()
    )]
    RevokeCa {
        name: String,
        dir: PathBuf,
        crt: String,
    },
    #[error(
        "{name} is the intermediate CA, which every leaf depends on: make the PKI again with a new one (pkiforge run PROFILE --force)"
    )]
    RevokeIntermediate { name: String },
}

fn problem_lines(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect();
    lines.join("; ")
}

/// An entity's certificate that cannot be read: its file's error, or its
/// extensions' (said without the file).
impl From<crate::pki::error::CertError> for LifecycleError {
    fn from(e: crate::pki::error::CertError) -> Self {
        match e {
            crate::pki::error::CertError::Read(e) => LifecycleError::Read(e),
            crate::pki::error::CertError::Malformed(e) => LifecycleError::Malformed(e),
        }
    }
}

/// An operation the PKI does not allow is a problem with what the user asked.
impl From<LifecycleError> for crate::error::Error {
    fn from(e: LifecycleError) -> Self {
        crate::error::Error::Input(Box::new(e))
    }
}
