//! Why an export cannot be planned, or its Kubernetes objects written.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(
        "a Java truststore needs `openssl pkcs12 -jdktrust` (OpenSSL 3.2 or later) or a JDK's keytool, and there is neither: install a JDK (Debian: apt-get install default-jdk-headless) or a newer OpenSSL (--openssl PATH)"
    )]
    NoTruststoreTool,
    #[error(
        "--out {:?}: holds '$', which nginx reads as a variable in ssl_certificate, with no way to escape it; choose an --out directory without '$'",
        out.display()
    )]
    DollarInOut { out: PathBuf },
    #[error(
        "{name} is a client; HAProxy presents a server's certificate: export a server, or {name} with --format nginx for the curl command"
    )]
    ClientForHaproxy { name: String },
    #[error(
        "--out {}: is not UTF-8, so the nginx, HAProxy and Java configs cannot name it; choose an --out directory whose path is UTF-8",
        out.display()
    )]
    OutNotUtf8 { out: PathBuf },
    #[error(
        "--out {out:?}: holds the control character {control:?}, which the nginx, HAProxy and Java configs (and the commands a hand-off prints) cannot quote; choose an --out directory without one"
    )]
    ControlInOut { out: String, control: char },
    /// A file of the PKI that a Kubernetes object holds.
    #[error(transparent)]
    Unreadable(#[from] crate::files::ReadError),
    #[error("{0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("cannot write {}: {source}", out.display())]
    Write {
        out: PathBuf,
        source: std::io::Error,
    },
}

/// An export that cannot be made as asked is a problem with what the user asked.
impl From<ExportError> for crate::error::Error {
    fn from(e: ExportError) -> Self {
        crate::error::Error::Input(Box::new(e))
    }
}
