//! The JSON that `inspect --json`, `lint --json` and `status --json` print:
//! one schema for a certificate, shared by all three (README.md, "JSON").

use serde::Serialize;

use crate::inspect::utc;
use crate::lint::Finding;
use crate::x509::CertInfo;

/// A certificate, as every `--json` output shows it.
#[derive(Debug, Serialize)]
pub struct Certificate<'a> {
    /// The file that holds it alone, then every file that holds it.
    pub file: &'a str,
    pub files: &'a [String],
    pub subject: &'a str,
    /// The subject's common name, if it has one.
    pub cn: Option<&'a str>,
    pub issuer: &'a str,
    pub self_signed: bool,
    /// Hex, colon-separated, as `inspect` shows it.
    pub serial: &'a str,
    pub version: u32,
    /// In openssl's syntax: `DNS:localhost`, `IP:127.0.0.1`, …
    pub sans: &'a [String],
    /// `RSA 2048`, `EC P-256`, `Ed25519`.
    pub key: String,
    pub signature: &'a str,
    /// `YYYY-MM-DD HH:MM:SS UTC`, and the Unix time.
    pub not_before: String,
    pub not_after: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    /// Whole days until not-after (negative once expired).
    pub days_left: i64,
    pub sha256: &'a str,
    pub is_ca: bool,
    pub extensions: Vec<Extension<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Extension<'a> {
    pub name: &'a str,
    pub critical: bool,
    pub value: &'a str,
}

impl<'a> Certificate<'a> {
    pub fn of(c: &'a CertInfo, now: i64) -> Certificate<'a> {
        Certificate {
            file: c.file(),
            files: &c.files,
            subject: &c.subject,
            cn: c
                .subject_fields
                .iter()
                .find(|(k, _)| k == "CN")
                .map(|(_, v)| v.as_str()),
            issuer: &c.issuer,
            self_signed: c.self_issued,
            serial: &c.serial,
            version: c.version,
            sans: &c.sans,
            key: c.key.to_string(),
            signature: &c.signature,
            not_before: utc(c.not_before),
            not_after: utc(c.not_after),
            not_before_unix: c.not_before,
            not_after_unix: c.not_after,
            days_left: c.days_left(now),
            sha256: &c.sha256,
            is_ca: c.is_ca,
            extensions: c
                .extensions
                .iter()
                .map(|(name, critical, value)| Extension {
                    name,
                    critical: *critical,
                    value,
                })
                .collect(),
        }
    }
}

/// A lint finding, with the certificate it concerns.
#[derive(Debug, Serialize)]
pub struct LintFinding<'a> {
    pub severity: String,
    pub rule: &'a str,
    pub file: &'a str,
    pub message: &'a str,
    pub clients: &'a str,
    pub fix: &'a str,
    pub certificate: Option<Certificate<'a>>,
}

impl<'a> LintFinding<'a> {
    pub fn of(f: &'a Finding, certs: &'a [CertInfo], now: i64) -> LintFinding<'a> {
        LintFinding {
            severity: f.severity.to_string(),
            rule: f.rule,
            file: &f.file,
            message: &f.message,
            clients: f.clients,
            fix: &f.fix,
            certificate: certs
                .iter()
                .find(|c| c.file() == f.file)
                .map(|c| Certificate::of(c, now)),
        }
    }
}

/// Pretty JSON and a newline.
pub fn to_text(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{e:?}"));
    text.push('\n');
    text
}
