//! `pkiforge inspect`: what every certificate in a directory says, parsed in
//! Rust (openssl's text output changes between versions).

use std::fmt::{self, Write as _};
use std::path::Path;

use sha2::{Digest, Sha256};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::verify::{name_pairs, read_certificates, sans_of_cert};

/// The facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The files that hold it, first the one that holds it alone.
    pub files: Vec<String>,
    pub version: u32,
    pub subject: String,
    pub issuer: String,
    pub self_issued: bool,
    pub serial: String,
    pub sans: Vec<String>,
    pub key: KeyInfo,
    pub signature: String,
    pub not_before: i64,
    pub not_after: i64,
    pub sha256: String,
    pub is_ca: bool,
    /// `(name, critical, value)`, such as `("keyUsage", true, "keyCertSign, cRLSign")`.
    pub extensions: Vec<(String, bool, String)>,
    pub has_eku: bool,
    pub eku_server: bool,
    pub eku_client: bool,
    pub key_cert_sign: Option<bool>,
    pub subject_fields: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInfo {
    Rsa(usize),
    Ec(String),
    Ed25519,
    Other(String),
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyInfo::Rsa(bits) => write!(f, "RSA {bits}"),
            KeyInfo::Ec(curve) => write!(f, "EC {curve}"),
            KeyInfo::Ed25519 => f.write_str("Ed25519"),
            KeyInfo::Other(oid) => write!(f, "other ({oid})"),
        }
    }
}

impl CertInfo {
    pub fn validity_days(&self) -> i64 {
        (self.not_after - self.not_before) / 86_400
    }

    /// Whole days from `now` (a Unix time) until it expires; negative once expired.
    pub fn days_left(&self, now: i64) -> i64 {
        (self.not_after - now).div_euclid(86_400)
    }

    /// The file a finding should name: the one holding this certificate alone.
    pub fn file(&self) -> &str {
        &self.files[0]
    }
}

fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.112" => "Ed25519",
        other => return other.to_string(),
    }
    .to_string()
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "P-256",
        "1.3.132.0.34" => "P-384",
        "1.3.132.0.35" => "P-521",
        other => return other.to_string(),
    }
    .to_string()
}

/// Whether a signature algorithm uses SHA-1 or MD5.
pub fn is_weak_signature(name: &str) -> bool {
    name.starts_with("sha1") || name.starts_with("md5") || name.ends_with("SHA1")
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn key_usage_names(ku: &KeyUsage) -> String {
    let names = [
        "digitalSignature",
        "nonRepudiation",
        "keyEncipherment",
        "dataEncipherment",
        "keyAgreement",
        "keyCertSign",
        "cRLSign",
        "encipherOnly",
        "decipherOnly",
    ];
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| (ku.flags >> i) & 1 == 1)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses one DER certificate.
pub fn cert_info(der: &[u8], file: &str) -> Result<CertInfo, String> {
    let cert = crate::verify::parse_certificate(der).map_err(|e| format!("{file}: {e}"))?;
    let spki = &cert.tbs_certificate.subject_pki;
    let key = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyInfo::Rsa(rsa.key_size()),
        Ok(PublicKey::EC(_)) => KeyInfo::Ec(
            spki.algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map_or_else(|| "unknown curve".into(), |o| curve_name(&o.to_id_string())),
        ),
        _ if spki.algorithm.algorithm == x509_parser::oid_registry::OID_SIG_ED25519 => {
            KeyInfo::Ed25519
        }
        _ => KeyInfo::Other(spki.algorithm.algorithm.to_id_string()),
    };
    let mut extensions = Vec::new();
    let (mut has_eku, mut eku_server, mut eku_client, mut key_cert_sign) =
        (false, false, false, None);
    for ext in cert.extensions() {
        let (name, value) = match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => (
                "basicConstraints",
                format!(
                    "CA:{}{}",
                    if bc.ca { "TRUE" } else { "FALSE" },
                    bc.path_len_constraint
                        .map(|n| format!(", pathlen:{n}"))
                        .unwrap_or_default()
                ),
            ),
            ParsedExtension::KeyUsage(ku) => {
                key_cert_sign = Some(ku.key_cert_sign());
                ("keyUsage", key_usage_names(ku))
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                has_eku = true;
                eku_server = eku.server_auth || eku.any;
                eku_client = eku.client_auth || eku.any;
                let mut v = Vec::new();
                for (on, n) in [
                    (eku.server_auth, "serverAuth"),
                    (eku.client_auth, "clientAuth"),
                    (eku.code_signing, "codeSigning"),
                    (eku.email_protection, "emailProtection"),
                    (eku.any, "anyExtendedKeyUsage"),
                ] {
                    if on {
                        v.push(n.to_string());
                    }
                }
                v.extend(eku.other.iter().map(|o| o.to_id_string()));
                ("extendedKeyUsage", v.join(", "))
            }
            ParsedExtension::SubjectAlternativeName(_) => ("subjectAltName", String::new()),
            ParsedExtension::SubjectKeyIdentifier(_) => ("subjectKeyIdentifier", String::new()),
            ParsedExtension::AuthorityKeyIdentifier(_) => ("authorityKeyIdentifier", String::new()),
            _ => {
                extensions.push((ext.oid.to_id_string(), ext.critical, String::new()));
                continue;
            }
        };
        extensions.push((name.to_string(), ext.critical, value));
    }
    let sans = sans_of_cert(&cert)?.iter().map(|s| s.to_string()).collect();
    let subject_fields = name_pairs(cert.subject());
    Ok(CertInfo {
        files: vec![file.to_string()],
        version: cert.version().0 + 1,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        serial: hex(cert.raw_serial()),
        sans,
        key,
        signature: signature_name(&cert.signature_algorithm.algorithm.to_id_string()),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        sha256: hex(&Sha256::digest(der)),
        is_ca: cert.is_ca(),
        extensions,
        has_eku,
        eku_server,
        eku_client,
        key_cert_sign,
        subject_fields,
    })
}

/// The certificates of a directory, and the files that could not be read.
#[derive(Debug)]
pub struct Found {
    pub certs: Vec<CertInfo>,
    /// One line per `.crt` or `.pem` file that holds no readable
    /// certificate, saying why.
    pub unreadable: Vec<String>,
}

/// Every distinct certificate in the `.crt` and `.pem` files of `dir`: the CA's
/// first, then by file name. A certificate in several files (the bundles) is
/// listed once, with every file that holds it. A file that is not PEM, or
/// holds no certificate, is named in `unreadable`, never skipped silently.
pub fn certificates(dir: &Path) -> Result<Found, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".crt") || f.ends_with(".pem"))
        .collect();
    // Single certificates before bundles, so each is named by its own file.
    files.sort_by_key(|f| {
        (
            f != "ca.crt",
            f.ends_with(".bundle.crt") || f.ends_with(".pem"),
            f.clone(),
        )
    });
    let mut out: Vec<CertInfo> = Vec::new();
    let mut unreadable = Vec::new();
    for file in files {
        let ders = match read_certificates(&dir.join(&file)) {
            Ok(ders) if ders.is_empty() => {
                unreadable.push(format!(
                    "{file}: holds no PEM certificate (BEGIN CERTIFICATE)"
                ));
                continue;
            }
            Ok(ders) => ders,
            Err(e) => {
                unreadable.push(format!("{file}: {e}"));
                continue;
            }
        };
        for der in ders {
            let info = match cert_info(&der, &file) {
                Ok(info) => info,
                Err(e) => {
                    unreadable.push(format!("{file}: {e}"));
                    continue;
                }
            };
            match out.iter_mut().find(|c| c.sha256 == info.sha256) {
                Some(known) => known.files.push(file.clone()),
                None => out.push(info),
            }
        }
    }
    if out.is_empty() && unreadable.is_empty() {
        return Err(format!(
            "{} holds no certificate (*.crt, *.pem)",
            dir.display()
        ));
    }
    Ok(Found {
        certs: out,
        unreadable,
    })
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The report: one block per certificate, one row per fact.
pub fn render(certs: &[CertInfo], now: i64) -> String {
    let mut out = String::new();
    for (i, c) in certs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}", c.file());
        let mut row = |k: &str, v: String| {
            let _ = writeln!(out, "  {k:<12} {v}");
        };
        row("subject", c.subject.clone());
        row(
            "issuer",
            if c.self_issued {
                format!("{} (self-signed)", c.issuer)
            } else {
                c.issuer.clone()
            },
        );
        row("version", format!("v{}", c.version));
        row("serial", c.serial.clone());
        row(
            "SANs",
            if c.sans.is_empty() {
                "none".into()
            } else {
                c.sans.join(", ")
            },
        );
        row("key", c.key.to_string());
        row("signature", c.signature.clone());
        row("not before", utc(c.not_before));
        let left = c.days_left(now);
        let left = if left < 0 {
            format!("expired {} days ago", -left)
        } else {
            format!("{left} days left")
        };
        row(
            "not after",
            format!(
                "{} ({left}; valid for {} days)",
                utc(c.not_after),
                c.validity_days()
            ),
        );
        row("SHA-256", c.sha256.clone());
        let exts: Vec<String> = c
            .extensions
            .iter()
            .map(|(n, crit, v)| {
                let crit = if *crit { " (critical)" } else { "" };
                if v.is_empty() {
                    format!("{n}{crit}")
                } else {
                    format!("{n}{crit}: {v}")
                }
            })
            .collect();
        row(
            "extensions",
            if exts.is_empty() {
                "none".into()
            } else {
                exts.join("; ")
            },
        );
        row("in files", c.files.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_render_as_utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_734_000), "2026-11-26 23:00:00 UTC");
        assert_eq!(utc(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn days_left_rounds_down_and_goes_negative() {
        let c = CertInfo {
            files: vec!["x.crt".into()],
            version: 3,
            subject: String::new(),
            issuer: String::new(),
            self_issued: false,
            serial: String::new(),
            sans: vec![],
            key: KeyInfo::Rsa(2048),
            signature: String::new(),
            not_before: 0,
            not_after: 30 * 86_400,
            sha256: String::new(),
            is_ca: false,
            extensions: vec![],
            has_eku: false,
            eku_server: false,
            eku_client: false,
            key_cert_sign: None,
            subject_fields: vec![],
        };
        assert_eq!(c.validity_days(), 30);
        assert_eq!(c.days_left(86_400 + 1), 28);
        assert_eq!(c.days_left(31 * 86_400), -1);
    }
}
