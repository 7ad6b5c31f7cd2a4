//! Reading certificates, CSRs and their names in Rust (x509-parser), not
//! from openssl's text, whose format changes between versions. Reading
//! only: the checks are verify.rs's and lint.rs's.

use crate::pki::constraints::{Constraint, Unreadable};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use sha2::{Digest, Sha256};
use x509_parser::oid_registry::{
    OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS, OID_PKIX_ACCESS_DESCRIPTOR_OCSP,
};
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use crate::pki::error::{Malformed, ReadError};
use crate::pki::profile::Field;
use crate::pki::san::{San, SanKind};

/// Dotted OIDs of the subject fields pkiforge writes.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.6" => Field::C.short(),
        "2.5.4.8" => Field::ST.short(),
        "2.5.4.7" => Field::L.short(),
        "2.5.4.10" => Field::O.short(),
        "2.5.4.11" => Field::OU.short(),
        "2.5.4.3" => Field::CN.short(),
        "1.2.840.113549.1.9.1" => Field::EmailAddress.short(),
        _ => return None,
    })
}

/// The subject of a PEM certificate or CSR as `(short name, value)` pairs, in
/// the order they are written. Unknown attributes appear by dotted OID.
pub fn read_subject(path: &Path) -> Result<Vec<(String, String)>, ReadError> {
    subject_of_pem(&read(path)?).map_err(|why| ReadError::malformed(path, why))
}

/// `(short name, value)` pairs of a name, in order; unknown attributes by dotted OID.
pub fn name_pairs(name: &X509Name<'_>) -> Vec<(String, String)> {
    name.iter_rdn()
        .flat_map(|rdn| rdn.iter())
        .map(|atv| {
            let oid = atv.attr_type().to_id_string();
            let key = short_name(&oid).map_or(oid, str::to_string);
            let value = atv.as_str().map_or_else(
                |_| format!("<undecodable {:?}>", atv.attr_value().header.tag()),
                str::to_string,
            );
            (key, value)
        })
        .collect()
}

/// The subject of a PEM certificate or CSR.
pub fn subject_of_pem(bytes: &[u8]) -> Result<Vec<(String, String)>, Malformed> {
    let (_, pem) = parse_x509_pem(bytes).map_err(|e| Malformed::NotPem(e.to_string()))?;
    match pem.label.as_str() {
        "CERTIFICATE" => subject_of_der(&pem.contents),
        "CERTIFICATE REQUEST" => {
            let (_, csr) = X509CertificationRequest::from_der(&pem.contents).map_err(|e| {
                Malformed::Invalid {
                    what: "CSR",
                    why: e.to_string(),
                }
            })?;
            Ok(name_pairs(&csr.certification_request_info.subject))
        }
        other => Err(Malformed::WrongKind {
            label: other.to_string(),
        }),
    }
}

/// The subject of a DER certificate.
pub fn subject_of_der(der: &[u8]) -> Result<Vec<(String, String)>, Malformed> {
    let cert = parse_certificate(der)?;
    Ok(name_pairs(cert.subject()))
}

/// The DER of every PEM block in `bytes` with the given label.
pub fn pem_blocks(bytes: &[u8], label: &str) -> Result<Vec<Vec<u8>>, Malformed> {
    let mut out = Vec::new();
    for pem in Pem::iter_from_buffer(bytes) {
        let pem = pem.map_err(|e| Malformed::BadPem(e.to_string()))?;
        if pem.label == label {
            out.push(pem.contents);
        }
    }
    Ok(out)
}

pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    Ok(crate::files::read_regular(path)?)
}

/// The certificates of a PEM file, as DER.
pub fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>, ReadError> {
    let ders =
        pem_blocks(&read(path)?, "CERTIFICATE").map_err(|e| ReadError::malformed(path, e))?;
    for der in &ders {
        parse_certificate(der).map_err(|e| ReadError::malformed(path, e))?;
    }
    Ok(ders)
}

/// The one certificate of a PEM file, as DER.
pub fn read_certificate(path: &Path) -> Result<Vec<u8>, ReadError> {
    let mut ders = read_certificates(path)?;
    let path = path.to_path_buf();
    match ders.len() {
        1 => Ok(ders.remove(0)),
        0 => Err(ReadError::Empty {
            path,
            what: "certificate",
        }),
        count => Err(ReadError::NotOne { path, count }),
    }
}

/// A DER certificate, parsed.
pub fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>, Malformed> {
    X509Certificate::from_der(der)
        .map(|(_, cert)| cert)
        .map_err(|e| Malformed::Invalid {
            what: "certificate",
            why: e.to_string(),
        })
}

pub fn describe(der: &[u8]) -> String {
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => format!("\"{}\"", cert.subject()),
        Err(_) => "an unreadable certificate".into(),
    }
}

/// The subjectAltName entries of a certificate, in openssl's syntax.
pub fn sans_of(der: &[u8]) -> Result<Vec<San>, Malformed> {
    let cert = parse_certificate(der)?;
    sans_of_cert(&cert)
}

/// The subjectAltName entries of a parsed certificate.
pub fn sans_of_cert(cert: &X509Certificate<'_>) -> Result<Vec<San>, Malformed> {
    let Some(ext) = cert
        .subject_alternative_name()
        .map_err(|e| Malformed::BadSan(e.to_string()))?
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in &ext.value.general_names {
        let (kind, value) = match name {
            GeneralName::DNSName(d) => (SanKind::Dns, d.to_string()),
            GeneralName::RFC822Name(e) => (SanKind::Email, e.to_string()),
            GeneralName::URI(u) => (SanKind::Uri, u.to_string()),
            GeneralName::IPAddress(b) => {
                let ip = match b.len() {
                    4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap_or_default()),
                    16 => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap_or_default()),
                    _ => continue,
                };
                (SanKind::Ip, ip.to_string())
            }
            _ => continue,
        };
        out.push(San { kind, value });
    }
    Ok(out)
}

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
    /// The same, parsed.
    pub san_entries: Vec<San>,
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
    /// The URLs of its revocation pointers: CRL distribution points, and
    /// the OCSP and caIssuers URLs of its Authority Information Access.
    pub crl_urls: Vec<String>,
    pub ocsp_urls: Vec<String>,
    pub ca_issuers_urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyInfo {
    Rsa(usize),
    Ec(String),
    Ed25519,
    /// ML-DSA (FIPS 204), by its name: `ML-DSA-65`.
    MlDsa(&'static str),
    Other(String),
}

/// The OIDs of ML-DSA (FIPS 204; RFC 9881), as keys and as signatures,
/// with openssl's names: x509-parser does not know them.
const ML_DSA: [(&str, &str); 3] = [
    ("2.16.840.1.101.3.4.3.17", "ML-DSA-44"),
    ("2.16.840.1.101.3.4.3.18", "ML-DSA-65"),
    ("2.16.840.1.101.3.4.3.19", "ML-DSA-87"),
];

/// The ML-DSA parameter set an OID names, if it names one.
fn ml_dsa(oid: &str) -> Option<&'static str> {
    ML_DSA.iter().find(|(o, _)| *o == oid).map(|(_, n)| *n)
}

/// Whether a signature algorithm (as [`CertInfo::signature`] names it)
/// is post-quantum: ML-DSA.
pub fn is_post_quantum_signature(name: &str) -> bool {
    ML_DSA.iter().any(|(_, n)| *n == name)
}

impl fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyInfo::Rsa(bits) => write!(f, "RSA {bits}"),
            KeyInfo::Ec(curve) => write!(f, "EC {curve}"),
            KeyInfo::Ed25519 => f.write_str("Ed25519"),
            KeyInfo::MlDsa(name) => f.write_str(name),
            KeyInfo::Other(oid) => write!(f, "other ({oid})"),
        }
    }
}

impl CertInfo {
    /// An extension by name: `(name, critical, value)`.
    pub fn extension(&self, name: &str) -> Option<&(String, bool, String)> {
        self.extensions.iter().find(|e| e.0 == name)
    }

    /// Its nameConstraints as `(permitted, excluded)`, read back from the
    /// text [`cert_info`] made of them; both empty when it has none.
    pub fn name_constraints(&self) -> Result<(Vec<Constraint>, Vec<Constraint>), Unreadable> {
        match self.extension("nameConstraints") {
            Some((_, _, text)) => crate::pki::constraints::from_certificate_text(text),
            None => Ok((Vec::new(), Vec::new())),
        }
    }

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
        other => return ml_dsa(other).map_or_else(|| other.to_string(), str::to_string),
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

/// Parses one DER certificate, which `file` holds. Every caller has parsed
/// it before (reading the file), so what can go wrong is in its extensions.
pub fn cert_info(der: &[u8], file: &str) -> Result<CertInfo, Malformed> {
    let cert = parse_certificate(der)?;
    let key = key_info(&cert);
    let Extensions {
        list: extensions,
        has_eku,
        eku_server,
        eku_client,
        key_cert_sign,
        urls,
    } = extensions_of(&cert);
    let san_entries = sans_of_cert(&cert)?;
    let sans = san_entries.iter().map(|s| s.to_string()).collect();
    let subject_fields = name_pairs(cert.subject());
    Ok(CertInfo {
        files: vec![file.to_string()],
        version: cert.version().0 + 1,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
        serial: serial_hex(cert.raw_serial()),
        sans,
        san_entries,
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
        crl_urls: urls.crl,
        ocsp_urls: urls.ocsp,
        ca_issuers_urls: urls.ca_issuers,
    })
}

/// The kind and size of a certificate's public key.
fn key_info(cert: &X509Certificate<'_>) -> KeyInfo {
    let spki = &cert.tbs_certificate.subject_pki;
    match spki.parsed() {
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
        _ => {
            let oid = spki.algorithm.algorithm.to_id_string();
            ml_dsa(&oid).map_or(KeyInfo::Other(oid), KeyInfo::MlDsa)
        }
    }
}

/// What a certificate's extensions say, as `cert_info` reports them.
struct Extensions {
    /// `(name, critical, value)`.
    list: Vec<(String, bool, String)>,
    has_eku: bool,
    eku_server: bool,
    eku_client: bool,
    key_cert_sign: Option<bool>,
    urls: Urls,
}

/// The URLs of a certificate's revocation pointers.
#[derive(Default)]
struct Urls {
    crl: Vec<String>,
    ocsp: Vec<String>,
    ca_issuers: Vec<String>,
}

fn extensions_of(cert: &X509Certificate<'_>) -> Extensions {
    let mut extensions = Vec::new();
    let (mut has_eku, mut eku_server, mut eku_client, mut key_cert_sign) =
        (false, false, false, None);
    let mut urls = Urls::default();
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
            ParsedExtension::NameConstraints(nc) => ("nameConstraints", name_constraints(nc)),
            ParsedExtension::SubjectKeyIdentifier(_) => ("subjectKeyIdentifier", String::new()),
            ParsedExtension::AuthorityKeyIdentifier(_) => ("authorityKeyIdentifier", String::new()),
            ParsedExtension::CRLDistributionPoints(_) | ParsedExtension::AuthorityInfoAccess(_) => {
                pointer_urls(ext.parsed_extension(), &mut urls)
            }
            _ => {
                extensions.push((ext.oid.to_id_string(), ext.critical, String::new()));
                continue;
            }
        };
        extensions.push((name.to_string(), ext.critical, value));
    }
    Extensions {
        list: extensions,
        has_eku,
        eku_server,
        eku_client,
        key_cert_sign,
        urls,
    }
}

/// The URLs of a CRL Distribution Points or Authority Information Access
/// extension, added to `urls`; its name and value as `cert_info` shows it.
fn pointer_urls(ext: &ParsedExtension<'_>, urls: &mut Urls) -> (&'static str, String) {
    match ext {
        ParsedExtension::CRLDistributionPoints(points) => {
            urls.crl
                .extend(points.iter().flat_map(|p| match &p.distribution_point {
                    Some(DistributionPointName::FullName(names)) => uris(names),
                    _ => Vec::new(),
                }));
            ("crlDistributionPoints", urls.crl.join(", "))
        }
        ParsedExtension::AuthorityInfoAccess(aia) => {
            let mut shown = Vec::new();
            for d in aia.iter() {
                let found = uris(std::slice::from_ref(&d.access_location));
                let (list, what) = match &d.access_method {
                    m if *m == OID_PKIX_ACCESS_DESCRIPTOR_OCSP => (&mut urls.ocsp, "OCSP"),
                    m if *m == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS => {
                        (&mut urls.ca_issuers, "caIssuers")
                    }
                    _ => continue,
                };
                shown.extend(found.iter().map(|u| format!("{what}: {u}")));
                list.extend(found);
            }
            ("authorityInfoAccess", shown.join(", "))
        }
        _ => ("", String::new()),
    }
}

/// The URIs among `names`.
fn uris(names: &[GeneralName<'_>]) -> Vec<String> {
    names
        .iter()
        .filter_map(|n| match n {
            GeneralName::URI(u) => Some(u.to_string()),
            _ => None,
        })
        .collect()
}

/// `permitted: DNS:localhost, IP:127.0.0.0/255.0.0.0; excluded: …`, with
/// the names in openssl's syntax.
fn name_constraints(nc: &x509_parser::extensions::NameConstraints<'_>) -> String {
    let show =
        |subtrees: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| -> Vec<String> {
            subtrees
                .iter()
                .flatten()
                .map(|t| match &t.base {
                    GeneralName::DNSName(d) => format!("DNS:{d}"),
                    GeneralName::RFC822Name(e) => format!("email:{e}"),
                    GeneralName::URI(u) => format!("URI:{u}"),
                    GeneralName::IPAddress(b) => match b.len() {
                        8 => format!(
                            "IP:{}/{}",
                            IpAddr::from(<[u8; 4]>::try_from(&b[..4]).unwrap_or_default()),
                            IpAddr::from(<[u8; 4]>::try_from(&b[4..]).unwrap_or_default())
                        ),
                        32 => format!(
                            "IP:{}/{}",
                            IpAddr::from(<[u8; 16]>::try_from(&b[..16]).unwrap_or_default()),
                            IpAddr::from(<[u8; 16]>::try_from(&b[16..]).unwrap_or_default())
                        ),
                        _ => "IP:?".into(),
                    },
                    other => format!("{other:?}"),
                })
                .collect()
        };
    let mut parts = Vec::new();
    for (word, list) in [
        ("permitted", show(&nc.permitted_subtrees)),
        ("excluded", show(&nc.excluded_subtrees)),
    ] {
        if !list.is_empty() {
            parts.push(format!("{word}: {}", list.join(", ")));
        }
    }
    parts.join("; ")
}

/// A serial number in hex as openssl prints it: without the zero byte DER
/// puts before a number whose top bit is set (which keeps it positive).
pub fn serial_hex(raw: &[u8]) -> String {
    match raw {
        [0, rest @ ..] if !rest.is_empty() => hex(rest),
        _ => hex(raw),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn serials_are_shown_as_openssl_shows_them() {
        assert_eq!(super::serial_hex(&[0x00, 0xD9, 0x01]), "D9:01");
        assert_eq!(super::serial_hex(&[0x12, 0x34]), "12:34");
        assert_eq!(super::serial_hex(&[0x00]), "00");
    }

    use super::*;

    #[test]
    fn garbage_is_not_a_subject() {
        assert_eq!(
            subject_of_pem(b"hello").unwrap_err().to_string(),
            "not a PEM file (Parsing Error: MissingHeader)"
        );
    }
}
