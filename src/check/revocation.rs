//! lint's rules for revocation: CRLs that RFC 5280 (section 5) asks more
//! of, and revocation pointers a client cannot follow (a path served for
//! two things, a CRL or database that is not there).

use crate::check::finding::{Finding, Severity};
use crate::pki::crl::CrlInfo;
use crate::pki::database::serial_key;
use crate::pki::names::Files;
use crate::pki::pointers::HttpUrl;
use crate::pki::read::Pki;
use crate::pki::x509::CertInfo;

/// Who follows revocation pointers.
const POINTER_CLIENTS: &str = "clients that check revocation through the certificate (openssl -crl_download, nginx ssl_ocsp, Windows, Java with com.sun.security.enableCRLDP)";

/// What RFC 5280 asks of a CRL beyond what verifiers check: its CA's key
/// identifier, and no reasonCode "unspecified".
pub fn crl_conformance(crls: &[(String, CrlInfo)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, crl) in crls {
        let mut find = |rule, message: String, clients, fix: &str| {
            out.push(Finding {
                severity: Severity::Warning,
                rule,
                file: file.clone(),
                message,
                clients,
                fix: fix.to_string(),
            })
        };
        if !crl.has_aki {
            find(
                "crl-no-aki",
                "has no Authority Key Identifier, which RFC 5280 (5.2.1) requires of every CRL"
                    .into(),
                "verifiers that match a CRL to its CA by key identifier (a CA that has had two keys) find none",
                "issue it again with pkiforge, whose CRLs carry it: pkiforge crl DIR",
            );
        }
        if !crl.unspecified.is_empty() {
            find(
                "crl-unspecified-reason",
                format!(
                    "gives the reason \"unspecified\" for {}, which RFC 5280 (5.3.1) says should be left out",
                    crl.unspecified.join(", ")
                ),
                "none refuse it; strict linters of CRLs (zlint, pkilint) flag it",
                "revoke without a reason (pkiforge revoke leaves it out), or give the real one",
            );
        }
    }
    out
}

/// One pointer a certificate carries: what it is for, and whose.
struct Pointer<'a> {
    cert: &'a CertInfo,
    what: &'static str,
    url: HttpUrl,
    ca: Files,
}

/// The PKI's CAs, by subject.
fn cas(pki: &Pki, certs: &[CertInfo]) -> Vec<(String, Files)> {
    let Ok(layout) = pki.layout() else {
        return Vec::new();
    };
    std::iter::once(&layout.ca)
        .chain(&layout.intermediate)
        .filter_map(|f| {
            let c = certs.iter().find(|c| c.files.contains(&f.crt()))?;
            Some((c.subject.clone(), f.clone()))
        })
        .collect()
}

/// Every pointer the PKI's certificates carry, with the CA it is for.
fn pointers<'a>(pki: &Pki, certs: &'a [CertInfo]) -> Vec<Pointer<'a>> {
    let cas = cas(pki, certs);
    let mut out = Vec::new();
    for cert in certs.iter().filter(|c| !c.self_issued) {
        let Some((_, ca)) = cas.iter().find(|(subject, _)| *subject == cert.issuer) else {
            continue;
        };
        let kinds = [
            ("CRL", &cert.crl_urls),
            ("OCSP responder", &cert.ocsp_urls),
            ("CA certificate", &cert.ca_issuers_urls),
        ];
        for (what, urls) in kinds {
            for url in urls.iter().filter_map(|u| HttpUrl::parse(u).ok()) {
                out.push(Pointer {
                    cert,
                    what,
                    url,
                    ca: ca.clone(),
                });
            }
        }
    }
    out
}

/// The pointers `pkiforge serve` will not serve, and OCSP responders whose
/// CA's database does not list the certificate.
pub fn pointer_findings(pki: &Pki, certs: &[CertInfo]) -> Vec<Finding> {
    let all = pointers(pki, certs);
    let mut out = Vec::new();
    let mut find = |p: &Pointer, rule, message: String, fix: String| {
        out.push(Finding {
            severity: Severity::Error,
            rule,
            file: p.cert.file().to_string(),
            message,
            clients: POINTER_CLIENTS,
            fix,
        })
    };
    for p in &all {
        let clash = all
            .iter()
            .find(|o| o.url.path == p.url.path && (o.what != p.what || o.ca.name != p.ca.name));
        if let Some(o) = clash {
            let message = format!(
                "names {} for the {} of {}, which is also where its {} of {} is: pkiforge serve serves neither there",
                p.url, p.what, p.ca.name, o.what, o.ca.name
            );
            find(
                p,
                "pointer-not-served",
                message,
                "give each URL of [ca] and [intermediate] its own path, and make the PKI again"
                    .into(),
            );
            continue;
        }
        let missing = match p.what {
            "CRL" if !pki.has(&p.ca.crl()) => Some(p.ca.crl()),
            "OCSP responder" if !pki.has(&p.ca.index()) => Some(p.ca.index()),
            _ => None,
        };
        if let Some(file) = missing {
            let message = format!(
                "names {} for the {} of {}, but there is no {file}: pkiforge serve has nothing to answer with",
                p.url, p.what, p.ca.name
            );
            find(
                p,
                "pointer-not-served",
                message,
                format!("issue it: pkiforge crl DIR (it makes {file})"),
            );
            continue;
        }
        if p.what == "OCSP responder" {
            let listed = pki
                .database(&p.ca)
                .unwrap_or_default()
                .iter()
                .any(|r| r.serial == serial_key(&p.cert.serial));
            if !listed {
                let message = format!(
                    "names the OCSP responder {} of {}, whose database {} does not list it: the responder answers \"unknown\"",
                    p.url,
                    p.ca.name,
                    p.ca.index()
                );
                find(
                    p,
                    "ocsp-not-recorded",
                    message,
                    "record it: pkiforge crl DIR records every certificate its CA signed".into(),
                );
            }
        }
    }
    out
}
