//! `pkiforge lint`: what real clients will refuse or warn about, each with
//! the clients affected and the fix.

use crate::check::inspect::{CertInfo, KeyInfo, is_weak_signature};
use crate::check::status::Window;
use crate::pki::read::Pki;
use crate::time::utc;

pub use crate::check::finding::{Finding, Severity};

pub use crate::pki::profile::days::{
    APPLE_MAX as APPLE_MAX_DAYS, OPENSSL_DEFAULT as OPENSSL_DEFAULT_DAYS,
};

/// The findings for the certificates of one PKI, at Unix time `now`.
pub fn lint(certs: &[CertInfo], now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    let ca = certs.iter().find(|c| c.is_ca && c.self_issued);
    for c in certs {
        // A self-signed certificate not marked as a CA, where nothing else
        // is one, is meant as the CA (the tutorial's, with a config that
        // gives `req -x509` no extensions).
        let unmarked_ca = c.self_issued && !c.is_ca && !certs.iter().any(|o| o.is_ca);
        let cx = Context {
            cert: c,
            ca,
            now,
            is_leaf: !c.is_ca && !unmarked_ca,
            unmarked_ca,
        };
        let mut find = |severity, rule, message: String, clients, fix: String| {
            out.push(Finding::of(c, severity, rule, message, clients, &fix));
        };
        form_rules(&cx, &mut find);
        validity_rules(&cx, &mut find);
        ca_rules(&cx, &mut find);
        leaf_rules(&cx, &mut find);
    }
    out.sort_by(|a, b| (a.severity, &a.file).cmp(&(b.severity, &b.file)));
    out
}

/// The findings about chains: what an intermediate CA lacks, a CA that
/// outlives the one above it, names that a verifier cannot check against an
/// intermediate's constraints, and bundles that skip a link.
pub fn lint_chains(certs: &[CertInfo], bundles: &[(String, Vec<usize>)]) -> Vec<Finding> {
    let mut out = intermediate_rules(certs);
    out.extend(constraint_rules(certs));
    out.extend(bundle_rules(certs, bundles));
    out.extend(mixed_rules(certs));
    out.extend(serial_rules(certs));
    out
}

/// Two certificates of one issuer with the same serial: a CRL or an OCSP
/// answer about one is about both, and NSS refuses the second. pkiforge
/// never does this, but a CA serial file set back (restored from a backup)
/// makes it do so.
fn serial_rules(certs: &[CertInfo]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, c) in certs.iter().enumerate() {
        let Some(first) = certs[..i]
            .iter()
            .find(|o| o.issuer == c.issuer && o.serial == c.serial && o.sha256 != c.sha256)
        else {
            continue;
        };
        out.push(Finding::of(
            c,
            Severity::Error,
            "duplicate-serial",
            format!(
                "has serial {}, as {} has, from the same issuer ({})",
                c.serial,
                first.file(),
                c.issuer
            ),
            "every client that checks revocation: revoking one revokes the other; Firefox (NSS) refuses the second it sees (SEC_ERROR_REUSED_ISSUER_AND_SERIAL)",
            "issue it again, which gives it a new serial: pkiforge renew DIR NAME; and check that the CA's serial file was not set back, e.g. restored from a backup",
        ));
    }
    out
}

/// A leaf whose chain has both ML-DSA and classical keys: a note, as a
/// migration may mean it, but the chain is then only as strong against a
/// quantum attacker as its classical links.
fn mixed_rules(certs: &[CertInfo]) -> Vec<Finding> {
    let mut out = Vec::new();
    for leaf in certs.iter().filter(|c| !c.is_ca && !c.self_issued) {
        let mut chain = vec![leaf];
        while let Some(up) = chain.last().and_then(|c| issuer_of(c, certs)) {
            if chain.iter().any(|c| c.sha256 == up.sha256) {
                break;
            }
            chain.push(up);
        }
        let pq = |c: &&CertInfo| matches!(c.key, KeyInfo::MlDsa(_));
        if !chain.iter().any(pq) || chain.iter().all(pq) {
            continue;
        }
        let keys: Vec<String> = chain
            .iter()
            .map(|c| format!("{} ({})", c.key, c.file()))
            .collect();
        out.push(Finding::of(
            leaf,
            Severity::Note,
            "mixed-signatures",
            format!(
                "has a chain that mixes post-quantum and classical signatures: {}",
                keys.join(", ")
            ),
            "a client without ML-DSA (OpenSSL before 3.5, rustls with ring, JDK TLS) cannot check the post-quantum links; against a quantum attacker, the chain is as strong as its classical ones",
            "fine for a migration; for an all post-quantum chain, give every key of it the same kind (key = \"ml-dsa-65\")",
        ));
    }
    out
}

/// The CA that issued `c`, among `certs`.
fn issuer_of<'a>(c: &CertInfo, certs: &'a [CertInfo]) -> Option<&'a CertInfo> {
    certs.iter().find(|i| i.is_ca && i.subject == c.issuer)
}

impl Finding {
    fn of(
        c: &CertInfo,
        severity: Severity,
        rule: &'static str,
        message: String,
        clients: &'static str,
        fix: &str,
    ) -> Finding {
        Finding {
            severity,
            rule,
            file: c.file().to_string(),
            message,
            clients,
            fix: fix.to_string(),
        }
    }
}

/// What an intermediate CA lacks (pathlen, nameConstraints), and one that
/// outlives its root.
fn intermediate_rules(certs: &[CertInfo]) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut find = |c: &CertInfo, severity, rule, message: String, clients, fix: &str| {
        out.push(Finding::of(c, severity, rule, message, clients, fix));
    };
    for c in certs.iter().filter(|c| c.is_ca && !c.self_issued) {
        let basic = c.extension("basicConstraints").map_or("", |e| e.2.as_str());
        if !basic.contains("pathlen:") {
            find(
                c,
                Severity::Warning,
                "intermediate-no-pathlen",
                "is an intermediate CA without a pathlen: it may sign further CAs".into(),
                "every client accepts CAs below it, which a workshop's intermediate should never make",
                "give it basicConstraints = critical,CA:TRUE,pathlen:0 (pkiforge's [intermediate] does)",
            );
        }
        if c.extension("nameConstraints").is_none() {
            find(
                c,
                Severity::Warning,
                "intermediate-no-constraints",
                "is an intermediate CA without nameConstraints: it can sign for any name".into(),
                "every client trusts what it signs for any host, so its key is as valuable as the root's",
                "list what it may sign for: permitted = [...] in the profile's [intermediate]",
            );
        }
        if let Some(root) = issuer_of(c, certs)
            && c.not_after > root.not_after + 86_400
        {
            find(
                c,
                Severity::Warning,
                "intermediate-outlives-root",
                format!(
                    "is valid until {}, after {} expires ({})",
                    utc(c.not_after),
                    root.file(),
                    utc(root.not_after)
                ),
                "every client, from the day the root expires",
                "give the root a longer validity, or the intermediate a shorter one",
            );
        }
    }
    out
}

/// Email and URI names under an issuer that constrains them: rustls and
/// webpki cannot check those constraints and refuse the certificate.
fn constraint_rules(certs: &[CertInfo]) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in certs.iter().filter(|c| !c.is_ca) {
        let Some(nc) = issuer_of(c, certs).and_then(|i| i.extension("nameConstraints")) else {
            continue;
        };
        let kinds = [("email", "email:"), ("URI", "URI:")];
        for (kind, prefix) in kinds {
            if nc.2.contains(prefix) && c.sans.iter().any(|n| n.starts_with(prefix)) {
                out.push(Finding::of(
                    c,
                    Severity::Warning,
                    "unsupported-constraint",
                    format!("has {kind} names under an issuer that constrains {kind} names"),
                    "rustls and webpki (and so many Rust servers and clients) cannot check such constraints and refuse the certificate",
                    "name the entity by DNS name or IP address, or drop the issuer's email:/URI: constraints",
                ));
            }
        }
    }
    out
}

/// Bundles whose next certificate did not issue the one before it.
fn bundle_rules(certs: &[CertInfo], bundles: &[(String, Vec<usize>)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, order) in bundles {
        for pair in order.windows(2) {
            let (below, above) = (&certs[pair[0]], &certs[pair[1]]);
            if below.issuer != above.subject {
                out.push(Finding {
                    severity: Severity::Error,
                    rule: "bundle-missing-link",
                    file: file.clone(),
                    message: format!("holds {} then {}, but {} was not issued by {}: a link of the chain is missing or out of order", below.file(), above.file(), below.file(), above.file()),
                    clients: "clients that build the chain from what the server sends (most TLS stacks) fail with \"unable to get local issuer certificate\"",
                    fix: "make the bundle again: the leaf, then each CA above it up to the root (pkiforge run does)".into(),
                });
                break;
            }
        }
    }
    out
}

/// The findings for the CRLs of a PKI (`(file, what it says)`), at `now`:
/// a stale CRL makes servers that check it refuse every client.
pub fn lint_crls(crls: &[(String, crate::pki::crl::CrlInfo)], now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    for (file, crl) in crls {
        let Some(next) = crl.next_update else {
            continue;
        };
        let left = (next - now).div_euclid(86_400);
        let (severity, rule, message) = if next <= now {
            (
                Severity::Error,
                "crl-stale",
                format!("is stale: its next update was due on {}", utc(next)),
            )
        } else if Window::Lifetime.expiring(crl.this_update, next, now) {
            (
                Severity::Warning,
                "crl-expires-soon",
                format!(
                    "goes stale on {} ({left} days left, less than a third of its lifetime)",
                    utc(next)
                ),
            )
        } else {
            continue;
        };
        out.push(Finding {
            severity,
            rule,
            file: file.clone(),
            message,
            clients: "servers that check revocation (nginx ssl_crl, HAProxy crl-file, openssl -crl_check, rustls with CRLs) refuse every client once it is stale",
            fix: "issue it again: pkiforge crl DIR".into(),
        });
    }
    out
}

/// The findings for the CRLs of `pki` (`NAME.crl`, the CA `NAME.crt`'s):
/// one that is not a CRL or not signed by its CA, which servers that check
/// revocation cannot use, and a stale one ([`lint_crls`]).
pub fn crl_findings(pki: &Pki, now: i64) -> Vec<Finding> {
    let dir = pki.dir();
    let mut out = Vec::new();
    let mut readable = Vec::new();
    for file in pki.crl_files() {
        let ca = crate::pki::names::crt_of_crl(&file);
        let problem = crate::check::verify::crl_problem(
            dir,
            std::path::Path::new(&file),
            std::path::Path::new(&ca),
        );
        match problem {
            Some(p) => out.push(Finding {
                severity: Severity::Error,
                rule: p.rule,
                file,
                message: p.message,
                clients: "servers that check revocation (nginx ssl_crl, HAProxy crl-file, openssl -crl_check, rustls with CRLs) refuse every client: they find no CRL of the client's CA",
                fix: crate::check::verify::CRL_FIX.into(),
            }),
            None => {
                if let Ok(info) = pki.crl(&file) {
                    readable.push((file, info));
                }
            }
        }
    }
    out.extend(lint_crls(&readable, now));
    out.extend(crate::check::revocation::crl_conformance(&readable));
    out
}

/// One certificate and what its rules need to know around it.
struct Context<'a> {
    cert: &'a CertInfo,
    /// The PKI's CA, when there is one marked as such.
    ca: Option<&'a CertInfo>,
    now: i64,
    is_leaf: bool,
    unmarked_ca: bool,
}

/// Reports a finding: severity, rule, message, clients, fix.
type Find<'f> = dyn FnMut(Severity, &'static str, String, &'static str, String) + 'f;

/// How the certificate is made: CA marking, version, key, signature.
fn form_rules(cx: &Context, find: &mut Find) {
    let c = cx.cert;
    if cx.unmarked_ca {
        find(
            Severity::Error,
            "ca-not-ca",
            "is self-signed but not marked as a CA (no basicConstraints CA:TRUE)".into(),
            "OpenSSL 4 (\"invalid CA certificate\"), rustls/webpki, Go and browsers refuse it as the CA of the others",
            "set extensions = \"strict\" in the profile, or use an openssl config whose x509_extensions sets basicConstraints = critical,CA:true".into(),
        );
    }
    if c.version < 3 {
        find(
            Severity::Error,
            "not-v3",
            format!("is an X.509 v{} certificate, without extensions", c.version),
            "rustls/webpki, Go crypto/tls, browsers and most strict verifiers",
            "set extensions = \"strict\" in the profile, which gives every certificate its extensions".into(),
        );
    }
    if let KeyInfo::Rsa(bits) = c.key
        && bits < 2048
    {
        find(
            Severity::Error,
            "weak-key",
            format!("has a {bits}-bit RSA key"),
            "every current TLS stack (OpenSSL's default security level 2 refuses keys under 2048 bits)",
            "use bits = 2048 or more, or key = \"ec:P-256\", in the profile".into(),
        );
    }
    if is_weak_signature(&c.signature) {
        find(
            Severity::Error,
            "weak-signature",
            format!("is signed with {}", c.signature),
            "browsers, Apple platforms, Go, rustls and OpenSSL at security level 1 and above",
            "sign with SHA-256 (OpenSSL's default)".into(),
        );
    }
}

/// When it is valid: expired, expiring, OpenSSL's default, too long.
fn validity_rules(cx: &Context, find: &mut Find) {
    let (c, now, is_leaf) = (cx.cert, cx.now, cx.is_leaf);
    let left = c.days_left(now);
    if left < 0 {
        find(
            Severity::Error,
            "expired",
            format!("expired on {}", utc(c.not_after)),
            "every client",
            "make the PKI again".into(),
        );
    } else if Window::Lifetime.expiring(c.not_before, c.not_after, now) {
        find(
            Severity::Warning,
            "expires-soon",
            format!(
                "expires on {} ({left} days left, less than a third of its lifetime)",
                utc(c.not_after)
            ),
            "every client, from that day on",
            "make the PKI again, with a longer validity".into(),
        );
    }
    if c.validity_days() == OPENSSL_DEFAULT_DAYS {
        find(
            Severity::Warning,
            "default-validity",
            format!(
                "is valid for {OPENSSL_DEFAULT_DAYS} days, OpenSSL's default when no -days is given: it stops working on {}",
                utc(c.not_after)
            ),
            "every client, after that day",
            format!(
                "set days = N for it in the profile, or extensions = \"strict\" ({APPLE_MAX_DAYS} days for leaves, {} for the CA); the tutorial's commands pass no -days",
                crate::pki::profile::days::STRICT_CA
            ),
        );
    }
    if is_leaf && c.validity_days() > APPLE_MAX_DAYS {
        find(
            Severity::Warning,
            "long-validity",
            format!("is valid for {} days", c.validity_days()),
            "Apple platforms (iOS 13, macOS 10.15 and later) refuse TLS certificates valid for more than 825 days",
            format!("set days = {APPLE_MAX_DAYS} or less for it in the profile"),
        );
    }
}

/// What a CA needs: keyUsage keyCertSign.
fn ca_rules(cx: &Context, find: &mut Find) {
    let c = cx.cert;
    if c.is_ca && c.key_cert_sign != Some(true) {
        let what = match c.key_cert_sign {
            None => "has no keyUsage extension",
            Some(_) => "has a keyUsage without keyCertSign",
        };
        find(
            Severity::Warning,
            "ca-key-usage",
            format!("is a CA certificate that {what}"),
            "strict RFC 5280 verifiers: OpenSSL with -x509_strict (\"CA cert does not include key usage extension\"), Python cryptography's X.509 verifier, CA/Browser Forum rules",
            "set extensions = \"strict\" in the profile: the CA gets keyUsage = critical, keyCertSign, cRLSign".into(),
        );
    }
}

/// What a leaf needs: names, purposes, a subject of its own, a CA that outlives it.
fn leaf_rules(cx: &Context, find: &mut Find) {
    let (c, ca, is_leaf) = (cx.cert, cx.ca, cx.is_leaf);
    // A CA's OCSP signer names no host and is no TLS certificate: it signs
    // OCSP answers (extendedKeyUsage OCSPSigning).
    let signer = c
        .files
        .iter()
        .any(|f| crate::pki::names::is_ocsp_signer_crt(f));
    if is_leaf && c.sans.is_empty() && !signer {
        find(
            Severity::Error,
            "no-san",
            "has no subjectAltName; clients do not match host names against the CN any more".into(),
            "browsers, Apple platforms, Go (since 1.15), rustls, Java's HTTPS host name check, OpenSSL with -verify_hostname",
            "give it a san list in the profile, e.g. san = [\"DNS:localhost\"]".into(),
        );
    }
    if is_leaf && !c.has_eku {
        let server = c
            .files
            .iter()
            .any(|f| crate::pki::names::is_server_bundle(f));
        let (clients, want) = if server {
            (
                "Apple platforms (iOS 13, macOS 10.15 and later) require extendedKeyUsage serverAuth on TLS server certificates",
                "serverAuth",
            )
        } else {
            (
                "CA/Browser-style verifiers (such as Python cryptography's) expect extendedKeyUsage clientAuth on client certificates",
                "clientAuth",
            )
        };
        find(
            Severity::Warning,
            "no-eku",
            "has no extendedKeyUsage".into(),
            clients,
            format!(
                "set extensions = \"strict\" in the profile: the leaf gets extendedKeyUsage = {want} (the tutorial's -extfile holds only subjectAltName)"
            ),
        );
    }
    if let Some(ca) = ca
        && is_leaf
        && c.issuer == ca.subject
        // By more than a day: a leaf signed seconds after its CA, for
        // as many days, ends those seconds later, which no one notices.
        && c.not_after > ca.not_after + 86_400
    {
        find(
            Severity::Warning,
            "outlives-ca",
            format!(
                "is valid until {}, after its CA {} expires ({})",
                utc(c.not_after),
                ca.file(),
                utc(ca.not_after)
            ),
            "every client, from the day the CA expires: a chain is valid only while every certificate in it is",
            "give the CA a longer validity ([ca] days), or this certificate a shorter one".into(),
        );
    }
    if let Some(ca) = ca
        && is_leaf
        && c.subject_fields == ca.subject_fields
    {
        find(
            Severity::Error,
            "same-subject",
            format!("has the same subject as {} ({})", ca.file(), c.subject),
            "OpenSSL and most verifiers take it for a self-signed certificate and refuse it",
            "give the leaf its own subject (a distinct CN) in the profile".into(),
        );
    }
}

/// Every finding for the certificates and CRLs of `pki`, worst first, but
/// none for its fixtures, which are bad on purpose (what is wrong with each
/// is in the manifest, returned too). `lint` and `report` say the same.
pub fn findings(
    pki: &Pki,
    now: i64,
) -> crate::error::Result<(Vec<Finding>, crate::pki::fixture::Manifest)> {
    let found = pki.certificates()?;
    let mut findings = lint(&found.certs, now);
    findings.extend(lint_chains(&found.certs, &found.bundles));
    findings.extend(crl_findings(pki, now));
    findings.extend(crate::check::revocation::pointer_findings(
        pki,
        &found.certs,
    ));
    let fixtures = pki.manifest()?.clone();
    let theirs: Vec<&String> = fixtures.fixtures.iter().flat_map(|f| &f.files).collect();
    findings.retain(|f| !theirs.contains(&&f.file));
    findings.sort_by(|a, b| (a.severity, &a.file).cmp(&(b.severity, &b.file)));
    Ok((findings, fixtures))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(file: &str, is_ca: bool) -> CertInfo {
        CertInfo {
            files: vec![file.into()],
            version: 3,
            subject: format!("CN={file}"),
            issuer: "CN=ca.crt".into(),
            self_issued: is_ca,
            serial: "01".into(),
            sans: if is_ca {
                vec![]
            } else {
                vec!["DNS:localhost".into()]
            },
            san_entries: vec![],
            key: KeyInfo::Rsa(2048),
            signature: "sha256WithRSAEncryption".into(),
            not_before: 0,
            not_after: 365 * 86_400,
            sha256: file.into(),
            is_ca,
            extensions: vec![],
            has_eku: !is_ca,
            eku_server: !is_ca,
            eku_client: false,
            key_cert_sign: is_ca.then_some(true),
            subject_fields: vec![("CN".into(), file.into())],
            crl_urls: Vec::new(),
            ocsp_urls: Vec::new(),
            ca_issuers_urls: Vec::new(),
        }
    }

    fn rules(certs: &[CertInfo], now: i64) -> Vec<String> {
        lint(certs, now)
            .iter()
            .map(|f| format!("{} {} {}", f.severity, f.file, f.rule))
            .collect()
    }

    #[test]
    fn a_clean_pki_has_no_findings() {
        assert!(rules(&[cert("ca.crt", true), cert("server.crt", false)], 86_400).is_empty());
    }

    #[test]
    fn each_rule_fires() {
        let ca = cert("ca.crt", true);
        let mut leaf = cert("server.crt", false);
        leaf.key = KeyInfo::Rsa(1024);
        leaf.signature = "sha1WithRSAEncryption".into();
        leaf.sans.clear();
        leaf.has_eku = false;
        leaf.not_after = 900 * 86_400;
        leaf.subject_fields = ca.subject_fields.clone();
        leaf.version = 1;
        let mut ca2 = ca.clone();
        ca2.key_cert_sign = None;
        ca2.not_after = 30 * 86_400;
        assert_eq!(
            rules(&[ca2, leaf], 25 * 86_400),
            [
                "error server.crt not-v3",
                "error server.crt weak-key",
                "error server.crt weak-signature",
                "error server.crt no-san",
                "error server.crt same-subject",
                "warning ca.crt expires-soon",
                "warning ca.crt default-validity",
                "warning ca.crt ca-key-usage",
                "warning server.crt long-validity",
                "warning server.crt no-eku",
                "warning server.crt outlives-ca",
            ]
        );
    }

    #[test]
    fn two_certificates_of_one_issuer_with_one_serial_are_an_error() {
        let (mut ca, a, mut b) = (
            cert("ca.crt", true),
            cert("a.crt", false),
            cert("b.crt", false),
        );
        ca.serial = "00".into();
        b.sha256 = "b".into();
        let mut other_issuer = cert("c.crt", false);
        other_issuer.issuer = "CN=other".into();
        let found: Vec<String> = lint_chains(&[ca, a, b, other_issuer], &[])
            .iter()
            .map(|f| format!("{} {} {}: {}", f.severity, f.file, f.rule, f.message))
            .collect();
        assert_eq!(
            found,
            [
                "error b.crt duplicate-serial: has serial 01, as a.crt has, from the same issuer (CN=ca.crt)"
            ]
        );
    }

    #[test]
    fn an_expired_certificate_is_an_error() {
        assert_eq!(
            rules(&[cert("ca.crt", true)], 400 * 86_400),
            ["error ca.crt expired"]
        );
    }

    #[test]
    fn a_self_signed_certificate_not_marked_as_a_ca_is_an_error() {
        let mut ca = cert("ca.crt", false);
        ca.self_issued = true;
        ca.sans.clear();
        ca.has_eku = true;
        assert_eq!(rules(&[ca], 86_400), ["error ca.crt ca-not-ca"]);
    }
}
