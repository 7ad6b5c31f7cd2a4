//! Certificate revocation lists, read back: who issued one, when, and which
//! serials it revokes.

use std::path::Path;

use x509_parser::prelude::FromDer;

use crate::pki::error::{Malformed, ReadError};
use crate::pki::x509::{pem_blocks, read, serial_hex};

/// What a certificate revocation list says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlInfo {
    pub issuer: String,
    pub this_update: i64,
    pub next_update: Option<i64>,
    /// The revoked serials, in hex without colons.
    pub revoked: Vec<String>,
    /// Whether it names its CA's key (Authority Key Identifier, which RFC
    /// 5280 (5.2.1) requires).
    pub has_aki: bool,
    /// The revoked serials whose entry says the reason "unspecified", which
    /// RFC 5280 (5.3.1) says should be left out.
    pub unspecified: Vec<String>,
}

/// Reads a PEM CRL.
pub fn crl(path: &Path) -> Result<CrlInfo, ReadError> {
    let bytes = read(path)?;
    let der = pem_blocks(&bytes, "X509 CRL")
        .map_err(|e| ReadError::malformed(path, e))?
        .into_iter()
        .next()
        .ok_or_else(|| ReadError::Empty {
            path: path.to_path_buf(),
            what: "CRL (BEGIN X509 CRL)",
        })?;
    let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der)
        .map_err(|e| {
            let why = e.to_string();
            ReadError::malformed(path, Malformed::Invalid { what: "CRL", why })
        })?;
    Ok(CrlInfo {
        issuer: crl.issuer().to_string(),
        this_update: crl.last_update().timestamp(),
        next_update: crl.next_update().map(|t| t.timestamp()),
        revoked: crl
            .iter_revoked_certificates()
            .map(|r| serial_hex(r.raw_serial()).replace(':', ""))
            .collect(),
        has_aki: crl.extensions().iter().any(|e| {
            matches!(
                e.parsed_extension(),
                x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(_)
            )
        }),
        unspecified: crl
            .iter_revoked_certificates()
            .filter(|r| r.reason_code().is_some_and(|(_, code)| code.0 == 0))
            .map(|r| serial_hex(r.raw_serial()).replace(':', ""))
            .collect(),
    })
}
