//! What can be wrong with a file pkiforge reads back: the errors of
//! `read`, `x509`, `keys` and `config`. Each renders as the one line a
//! user sees; the data stay in the variants for the callers that need them.

use std::path::PathBuf;
use std::sync::Arc;

/// What is wrong with bytes that should hold a certificate, a CSR or a
/// CRL, said without the file: the caller names it (or does not).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// The first PEM block could not be found or decoded.
    #[error("not a PEM file ({0})")]
    NotPem(String),
    /// A later PEM block of the file could not be decoded.
    #[error("not a valid PEM file ({0})")]
    BadPem(String),
    /// The DER of a block is not the object its label says.
    #[error("not a valid {what} ({why})")]
    Invalid { what: &'static str, why: String },
    /// A PEM block of a kind other than the one asked for.
    #[error("holds a {label}, not a certificate or CSR")]
    WrongKind { label: String },
    #[error("bad subjectAltName ({0})")]
    BadSan(String),
}

/// A file or directory of a PKI that could not be read back, and why.
/// Cloned: a PKI read once keeps what it could not read for each command
/// that needs that part (the sources are shared).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadError {
    /// Missing, not a regular file, too large, or failing to read.
    #[error(transparent)]
    Unreadable(#[from] crate::files::ReadError),
    /// A directory that could not be listed.
    #[error("cannot read {}: {source}", path.display())]
    Unlistable {
        path: PathBuf,
        source: Arc<std::io::Error>,
    },
    /// Read, but not what it should hold.
    #[error("{}: {what}", path.display())]
    Malformed { path: PathBuf, what: Malformed },
    /// Holds no object of the kind (`what` says which, as the user sees it).
    #[error("{} holds no {what}", path.display())]
    Empty { path: PathBuf, what: &'static str },
    /// Holds several certificates where one belongs.
    #[error("{} holds {count} certificates, not one", path.display())]
    NotOne { path: PathBuf, count: usize },
    /// The fixtures' manifest does not parse.
    #[error("{}: {source}; make the PKI again to rewrite it", path.display())]
    Manifest {
        path: PathBuf,
        source: Arc<serde_json::Error>,
    },
    /// A directory without the CA's certificate is not a PKI of pkiforge's.
    #[error("{} has no {ca}; give the directory a run wrote, e.g. pki/localhost", dir.display())]
    NoCa { dir: PathBuf, ca: String },
    /// A PKI of a CA only, where a server or client is needed.
    #[error("{} has {ca} but no server or client certificate", dir.display())]
    NoLeaves { dir: PathBuf, ca: String },
    /// Certificates whose bundle, which tells their role, is gone.
    #[error(
        "cannot tell whether {} belong to a server ({}) or a client ({}); restore the bundle files",
        files.join(", "),
        crate::pki::names::Files::new("NAME", crate::pki::names::Role::Server).bundle(),
        crate::pki::names::Files::new("NAME", crate::pki::names::Role::Client).bundle()
    )]
    NoRole { dir: PathBuf, files: Vec<String> },
}

/// Why the certificate of an entity cannot be taken from a PKI read back:
/// its file cannot be read or holds other than one certificate, or the
/// certificate's extensions cannot be read (said without the file).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CertError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Malformed(#[from] Malformed),
}

impl CertError {
    /// As a [`ReadError`], a malformed certificate named `crt`.
    pub fn naming(self, crt: &str) -> ReadError {
        match self {
            CertError::Read(e) => e,
            CertError::Malformed(what) => ReadError::malformed(std::path::Path::new(crt), what),
        }
    }
}

impl ReadError {
    pub(crate) fn malformed(path: &std::path::Path, what: Malformed) -> ReadError {
        ReadError::Malformed {
            path: path.to_path_buf(),
            what,
        }
    }

    pub(crate) fn unlistable(path: &std::path::Path, source: std::io::Error) -> ReadError {
        ReadError::Unlistable {
            path: path.to_path_buf(),
            source: Arc::new(source),
        }
    }
}

/// A PKI that cannot be read back is a problem with what the user gave.
impl From<ReadError> for crate::error::Error {
    fn from(e: ReadError) -> Self {
        crate::error::Error::Input(Box::new(e))
    }
}
