//! `pkiforge inspect`: what every certificate in a directory says, parsed in
//! Rust (openssl's text output changes between versions).

use std::fmt::Write as _;

use crate::time::utc;

pub use crate::pki::x509::{CertInfo, KeyInfo, is_weak_signature};

/// The report: one block per certificate, one row per fact.
/// The files of `c` and each certificate above it, by issuer and subject,
/// up to a self-signed one (or as far as `certs` go).
fn chain_of<'a>(c: &'a CertInfo, certs: &'a [CertInfo]) -> Vec<&'a str> {
    let mut chain = vec![c.file()];
    let mut at = c;
    while !at.self_issued && chain.len() <= certs.len() {
        let Some(up) = certs.iter().find(|i| i.is_ca && i.subject == at.issuer) else {
            break;
        };
        chain.push(up.file());
        at = up;
    }
    chain
}

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
        let chain = chain_of(c, certs);
        if chain.len() > 2 {
            // With an intermediate: the way up to the root, as a client walks it.
            row("chain", chain.join(" → "));
        }
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

/// The fixtures of a PKI as a table: what is wrong with each, and the
/// error a correct verifier gives (empty without fixtures).
pub fn render_fixtures(manifest: &crate::pki::fixture::Manifest) -> String {
    if manifest.fixtures.is_empty() {
        return String::new();
    }
    let rows: Vec<[String; 5]> = manifest
        .fixtures
        .iter()
        .map(|f| {
            let openssl: Vec<String> = f.openssl.iter().map(|e| e.shown()).collect();
            let untried = f.untried.iter().any(|n| n.by == "rustls");
            let rustls = match (f.rustls.is_empty(), untried) {
                (false, false) => f.rustls.join(" or "),
                (false, true) => format!("{} (untried)", f.rustls.join(" or ")),
                (true, true) => "untried".to_string(),
                (true, false) => "accepts".to_string(),
            };
            [
                f.files().crt(),
                f.fixture.to_string(),
                f.wrong.clone(),
                match openssl.is_empty() {
                    true => "accepts".to_string(),
                    false => openssl.join(" or "),
                },
                rustls,
            ]
        })
        .collect();
    let head = [
        "FIXTURE",
        "KIND",
        "WHAT IS WRONG",
        "OPENSSL VERIFY",
        "RUSTLS",
    ]
    .map(String::from);
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            std::iter::once(&head)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!(
        "\nfixtures ({}): each must be refused, for its reason\n",
        crate::pki::names::MANIFEST
    );
    for row in std::iter::once(&head).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
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
            san_entries: vec![],
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
            crl_urls: Vec::new(),
            ocsp_urls: Vec::new(),
            ca_issuers_urls: Vec::new(),
        };
        assert_eq!(c.validity_days(), 30);
        assert_eq!(c.days_left(86_400 + 1), 28);
        assert_eq!(c.days_left(31 * 86_400), -1);
    }
}
