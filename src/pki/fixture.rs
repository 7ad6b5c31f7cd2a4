//! Negative-test fixtures: certificates a server or client must refuse,
//! each bad in exactly one way, with the error a correct verifier gives.
//! Pure data: what each kind is, and the manifest (`fixtures.json`) that
//! says which files of a PKI are fixtures.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::pki::names::{Files, Role};
use crate::pki::verdict::{
    CN_MATCH, ENCIPHER_ONLY, NO_LEVEL, Note, RING_RSA_1024, RUSTLS_WONT_LOAD, SECURITY_LEVEL,
    Verdict, Verifier, WEBPKI_KEY_USAGE,
};

/// The key size of a weak-key fixture: RSA 1024, 80 bits of security,
/// refused at OpenSSL's security level 2 and by rustls (ring) always.
pub const WEAK_RSA_BITS: u32 = 1024;

/// The extension of an unknown-critical-extension fixture: an OID under
/// IANA's example enterprise number (RFC 5612), which no verifier knows.
pub const PRIVATE_OID: &str = "1.3.6.1.4.1.32473.1";

/// The ways a fixture is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Expired,
    NotYetValid,
    WrongPurpose,
    ForeignCa,
    SelfSigned,
    Revoked,
    WrongHost,
    WeakKey,
    Sha1Signature,
    CnOnly,
    UnknownCriticalExtension,
    WrongKeyUsage,
}

/// The error of `openssl verify` (`error CODE at 0 depth lookup: TEXT`),
/// in OpenSSL 3's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpensslError {
    pub code: u32,
    pub text: String,
}

impl Kind {
    pub const ALL: [Kind; 12] = [
        Kind::Expired,
        Kind::NotYetValid,
        Kind::WrongPurpose,
        Kind::ForeignCa,
        Kind::SelfSigned,
        Kind::Revoked,
        Kind::WrongHost,
        Kind::WeakKey,
        Kind::Sha1Signature,
        Kind::CnOnly,
        Kind::UnknownCriticalExtension,
        Kind::WrongKeyUsage,
    ];

    /// Its name in a profile: `fixture = "expired"`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Expired => "expired",
            Kind::NotYetValid => "not-yet-valid",
            Kind::WrongPurpose => "wrong-purpose",
            Kind::ForeignCa => "foreign-ca",
            Kind::SelfSigned => "self-signed",
            Kind::Revoked => "revoked",
            Kind::WrongHost => "wrong-host",
            Kind::WeakKey => "weak-key",
            Kind::Sha1Signature => "sha1-signature",
            Kind::CnOnly => "cn-only",
            Kind::UnknownCriticalExtension => "unknown-critical-extension",
            Kind::WrongKeyUsage => "wrong-key-usage",
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether an entity of `role` can be this fixture.
    pub fn allowed_for(self, role: Role) -> bool {
        !matches!(self, Kind::WrongHost | Kind::CnOnly) || role == Role::Server
    }

    /// What is wrong with it, in one sentence.
    pub fn wrong(self, role: Role) -> String {
        let other = match role {
            Role::Client => "serverAuth (a server's)",
            _ => "clientAuth (a client's)",
        };
        match self {
            Kind::Expired => "its validity ended the day before it was made".into(),
            Kind::NotYetValid => "its validity starts a year after it was made".into(),
            Kind::WrongPurpose => format!("its extendedKeyUsage is {other} only"),
            Kind::ForeignCa => format!(
                "another CA signed it, one with the real CA's subject (its {})",
                crate::pki::names::Files::new("", crate::pki::names::Role::Ca)
                    .issuer()
                    .crt()
            ),
            Kind::SelfSigned => "it is self-signed".into(),
            Kind::Revoked => "the CA's CRL revokes it".into(),
            Kind::WrongHost => "its subjectAltName does not name the host its clients dial".into(),
            Kind::WeakKey => format!(
                "its key is RSA {WEAK_RSA_BITS} bits, not the 2048 or more verifiers require"
            ),
            Kind::Sha1Signature => "its issuer signed it with SHA-1".into(),
            Kind::CnOnly => "it names its host in the CN only, with no subjectAltName".into(),
            Kind::UnknownCriticalExtension => {
                format!("it carries a critical extension of a private OID ({PRIVATE_OID})")
            }
            Kind::WrongKeyUsage => {
                "its keyUsage is keyEncipherment only, without digitalSignature".into()
            }
        }
    }

    /// The errors `openssl verify` may give, the first the usual one. A
    /// foreign CA's certificate is refused as a bad signature when it names
    /// no authority key (openssl tries the real CA, whose subject matches),
    /// and as an unknown issuer when its authority key names the other CA.
    pub fn openssl_errors(self) -> Vec<OpensslError> {
        let e = |code, text: &str| OpensslError {
            code,
            text: text.to_string(),
        };
        match self {
            Kind::Expired => vec![e(10, "certificate has expired")],
            Kind::NotYetValid => vec![e(9, "certificate is not yet valid")],
            Kind::WrongPurpose => vec![e(26, "unsuitable certificate purpose")],
            Kind::ForeignCa => vec![
                e(7, "certificate signature failure"),
                e(20, "unable to get local issuer certificate"),
            ],
            Kind::SelfSigned => vec![e(18, "self-signed certificate")],
            Kind::Revoked => vec![e(23, "certificate revoked")],
            Kind::WrongHost => vec![e(62, "hostname mismatch")],
            Kind::WeakKey => vec![e(66, "EE certificate key too weak")],
            Kind::Sha1Signature => vec![e(68, "CA signature digest algorithm too weak")],
            // OpenSSL matches the host against the CN: see verdict.rs.
            Kind::CnOnly => Vec::new(),
            Kind::UnknownCriticalExtension => vec![e(34, "unhandled critical extension")],
            Kind::WrongKeyUsage => vec![e(26, "unsuitable certificate purpose")],
        }
    }

    /// The errors rustls (webpki) gives, as its `CertificateError` names them.
    pub fn rustls_errors(self) -> &'static [&'static str] {
        match self {
            Kind::Expired => &["Expired"],
            Kind::NotYetValid => &["NotValidYet"],
            Kind::WrongPurpose => &["InvalidPurpose"],
            Kind::ForeignCa => &["BadSignature", "UnknownIssuer"],
            Kind::SelfSigned => &["UnknownIssuer"],
            Kind::Revoked => &["Revoked"],
            Kind::WrongHost | Kind::CnOnly => &["NotValidForName"],
            // Not tried: rustls cannot present it (verdict.rs).
            Kind::WeakKey => &[],
            Kind::Sha1Signature => &["UnsupportedSignatureAlgorithm"],
            // webpki's name; rustls's own UnhandledCriticalExtension is for
            // extensions it reads itself.
            Kind::UnknownCriticalExtension => &["UnsupportedCriticalExtension"],
            Kind::WrongKeyUsage => &[],
        }
    }

    /// What a server that accepts a client presenting this fixture fails
    /// to check, and the fix, as `test-server` says it: the words after
    /// "the server".
    pub fn if_server_accepts(self) -> &'static str {
        match self {
            Kind::Expired => {
                "accepts expired client certificates: verify the client's certificate, its dates included (nginx: ssl_verify_client on)"
            }
            Kind::NotYetValid => {
                "accepts client certificates that are not yet valid: verify the client's certificate, its dates included (nginx: ssl_verify_client on)"
            }
            Kind::WrongPurpose => {
                "accepts client certificates made for servers only: check their extendedKeyUsage allows clientAuth (OpenSSL's verification does; a verify callback of your own must not skip it)"
            }
            Kind::ForeignCa => {
                "accepts client certificates signed by another CA with the real CA's name: trust the PKI's CA alone and check signatures (nginx: ssl_client_certificate and ssl_verify_client on)"
            }
            Kind::SelfSigned => {
                "accepts self-signed client certificates: trust the PKI's CA alone (nginx: ssl_verify_client on, not optional_no_ca)"
            }
            Kind::Revoked => "accepts revoked client certificates: load the CRL (nginx: ssl_crl)",
            Kind::WrongHost => {
                "accepts a certificate that does not name the host it is for: check the peer's subjectAltName"
            }
            Kind::WeakKey => {
                "accepts client certificates with weak keys (RSA 1024): require 2048 bits or more (OpenSSL: security level 2, as in ssl_ciphers DEFAULT:@SECLEVEL=2)"
            }
            Kind::Sha1Signature => {
                "accepts client certificates signed with SHA-1: require SHA-256 or better (OpenSSL: security level 2)"
            }
            Kind::CnOnly => {
                "accepts a certificate that names its host in the CN only: match the subjectAltName alone"
            }
            Kind::UnknownCriticalExtension => {
                "accepts client certificates with a critical extension it does not know: refuse them, as RFC 5280 (4.2) requires"
            }
            Kind::WrongKeyUsage => {
                "accepts client certificates whose keyUsage does not allow signing: check keyUsage for digitalSignature"
            }
        }
    }

    /// Whether a fixture of this kind for `role` has the root in its bundle
    /// after its chain: the first kinds' client bundles do, as the
    /// tutorial's `client.pem`; a later kind's bundle holds what a client
    /// sends, the leaf then its chain without the root.
    pub fn bundle_holds_root(self, role: Role) -> bool {
        role != Role::Client || Kind::ALL[..7].contains(&self)
    }

    /// Whether it is made with dates other than "from now" (`-not_before`,
    /// or `openssl ca -startdate` where x509 has no such flag).
    pub fn has_dates(self) -> bool {
        matches!(self, Kind::Expired | Kind::NotYetValid)
    }
}

/// Who refuses a fixture of each kind: see verdict.rs.
impl Kind {
    /// What `by` is recorded to do with a fixture of this kind for `role`.
    pub fn verdict(self, role: Role, by: Verifier) -> Verdict {
        use Verifier::*;
        match (self, by) {
            (Kind::CnOnly, OpensslVerify | OpensslTls) => Verdict::Accepts(CN_MATCH),
            (Kind::WrongKeyUsage, OpensslVerify | OpensslTls) if role == Role::Server => {
                Verdict::Accepts(ENCIPHER_ONLY)
            }
            (Kind::WrongKeyUsage, Rustls) => Verdict::Accepts(WEBPKI_KEY_USAGE),
            (Kind::WeakKey, Rustls) => Verdict::Untried(RING_RSA_1024),
            (Kind::UnknownCriticalExtension, Rustls) => Verdict::Untried(RUSTLS_WONT_LOAD),
            _ => Verdict::Refuses,
        }
    }

    /// The security level it is refused under, for the kinds OpenSSL
    /// judges only under one.
    pub fn security_level(self) -> Option<u8> {
        matches!(self, Kind::WeakKey | Kind::Sha1Signature).then_some(SECURITY_LEVEL)
    }

    /// What a server or client that accepts it gets wrong (the kinds of
    /// issue 23's third part; the others say it in `wrong`).
    pub fn accepting(self) -> Option<&'static str> {
        Some(match self {
            Kind::WeakKey => {
                "it trusts a key small enough to factor: RSA under 2048 bits has been refused by CAs and browsers since 2013"
            }
            Kind::Sha1Signature => {
                "it trusts a digest with practical chosen-prefix collisions (SHAmbles, 2020): whoever gets a CA to sign one certificate can present another"
            }
            Kind::CnOnly => {
                "it matches the host against the CN, which RFC 6125 and the CA/Browser Forum retired for subjectAltName; Chrome and rustls refuse it"
            }
            Kind::UnknownCriticalExtension => {
                "it ignores an extension its issuer marked critical, which RFC 5280 (4.2) says a verifier must refuse when it does not know it"
            }
            Kind::WrongKeyUsage => {
                "it lets the key sign a TLS handshake although the certificate's keyUsage does not allow signing (RFC 5280, 4.2.1.3)"
            }
            _ => return None,
        })
    }

    /// The notes of every verifier whose verdict `pick` takes, and for a
    /// kind refused under a security level, `openssl verify` without one.
    pub fn notes(self, role: Role, pick: impl Fn(Verdict) -> Option<&'static str>) -> Vec<Note> {
        let mut notes: Vec<Note> = Verifier::ALL
            .iter()
            .filter_map(|v| {
                pick(self.verdict(role, *v)).map(|why| Note {
                    by: v.name().to_string(),
                    why: why.to_string(),
                })
            })
            .collect();
        if self.security_level().is_some() && pick(Verdict::Accepts(NO_LEVEL)).is_some() {
            notes.push(Note {
                by: "openssl verify without -auth_level".into(),
                why: NO_LEVEL.into(),
            });
        }
        notes
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a server that accepts a client without a certificate fails to
/// check, and the fix (as [`Kind::if_server_accepts`]).
pub const IF_SERVER_ACCEPTS_NO_CERTIFICATE: &str = "accepts clients without a certificate: require one (nginx: ssl_verify_client on; openssl s_server: -Verify, not -verify)";

/// What a server that refuses a good client of the PKI fails to do, and
/// the fix (as [`Kind::if_server_accepts`]).
pub const IF_SERVER_REFUSES_A_GOOD_CLIENT: &str = "refuses a good client: trust the CA that issued it (nginx: ssl_client_certificate with the PKI's CA certificate, and ssl_verify_depth 2 or more with an intermediate)";

/// What makes an entity a fixture: its kind, and for `wrong-host` the host
/// its clients dial (which none of its names covers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    pub kind: Kind,
    pub host: Option<String>,
}

/// One fixture, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub role: String,
    pub fixture: Kind,
    /// The host its clients dial (wrong-host only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    pub files: Vec<String>,
    pub wrong: String,
    pub openssl: Vec<OpensslError>,
    pub rustls: Vec<String>,
    /// What a server or client that accepts it gets wrong (the kinds of
    /// issue 23's third part).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub accepting: Option<String>,
    /// The policy under which it is refused (a security level).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub policy: Option<String>,
    /// The verifiers recorded to accept it, and why: checked to accept it.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub accepted: Vec<Note>,
    /// The handshakes that cannot try it, and why.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub untried: Vec<Note>,
}

/// `fixtures.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub fixtures: Vec<Entry>,
}

impl Entry {
    pub fn new(files: &Files, fixture: &Fixture) -> Entry {
        let kind = fixture.kind;
        let role = files.role;
        let refuses = |by| kind.verdict(role, by) == Verdict::Refuses;
        let mut list = vec![files.key(), files.csr(), files.crt(), files.bundle()];
        if kind == Kind::ForeignCa {
            list.push(files.issuer().crt());
        }
        Entry {
            name: files.name.clone(),
            role: files.role.table().to_string(),
            fixture: kind,
            host: fixture.host.clone(),
            files: list,
            wrong: kind.wrong(role),
            openssl: match refuses(Verifier::OpensslVerify) {
                true => kind.openssl_errors(),
                false => Vec::new(),
            },
            // The error webpki gives, also where the handshake cannot try it.
            rustls: match kind.verdict(role, Verifier::Rustls) {
                Verdict::Accepts(_) => Vec::new(),
                _ => kind.rustls_errors().iter().map(|s| s.to_string()).collect(),
            },
            accepting: kind.accepting().map(str::to_string),
            policy: kind.security_level().map(crate::pki::verdict::policy),
            accepted: kind.notes(role, |v| v.accepted()),
            untried: kind.notes(role, |v| v.untried()),
        }
    }

    pub fn role(&self) -> Role {
        if self.role == "server" {
            Role::Server
        } else {
            Role::Client
        }
    }

    pub fn files(&self) -> Files {
        Files::new(&self.name, self.role())
    }

    /// Who refuses it and for what, who accepts it, and what accepting it
    /// gets wrong: the words of the report.
    pub fn verdicts(&self) -> String {
        let openssl: Vec<String> = self
            .openssl
            .iter()
            .map(|o| format!("openssl error {} ({})", o.code, o.text))
            .collect();
        let openssl = match openssl.is_empty() {
            true => "(openssl accepts it)".to_string(),
            false => openssl.join(" or "),
        };
        let untried = self.untried.iter().any(|n| n.by == "rustls");
        let rustls = match (self.rustls.is_empty(), untried) {
            (false, false) => self.rustls.join(" or "),
            (false, true) => format!("{} (not tried in a handshake)", self.rustls.join(" or ")),
            (true, true) => "(not tried in a handshake)".to_string(),
            (true, false) => "(accepts it)".to_string(),
        };
        let mut text = format!("{openssl}; rustls {rustls}");
        if let Some(accepting) = &self.accepting {
            text.push_str(&format!("; a verifier that accepts it: {accepting}"));
        }
        text
    }
}

impl Manifest {
    /// The manifest as JSON, one fixture per line.
    pub fn to_json(&self) -> String {
        let lines: Vec<String> = self
            .fixtures
            .iter()
            .map(|f| serde_json::to_string(f).unwrap_or_default())
            .collect();
        format!("{{\"fixtures\": [\n{}\n]}}\n", lines.join(",\n"))
    }

    pub fn parse(text: &str) -> Result<Manifest, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.fixtures.iter().find(|f| f.name == name)
    }
}

/// A certificate's validity as openssl takes it on a command line
/// (`YYMMDDHHMMSSZ`, UTCTime, for the years 1950 to 2049; else
/// `YYYYMMDDHHMMSSZ`).
pub fn openssl_time(unix: i64) -> String {
    let (y, m, d, hh, mm, ss) = crate::time::civil(unix);
    if (1950..2050).contains(&y) {
        format!("{:02}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z", y % 100)
    } else {
        format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}Z")
    }
}

/// The validity of a dated fixture made at `now` for `days` days, as
/// `(notBefore, notAfter)` in Unix seconds: an expired one ended at the
/// start of yesterday (UTC); a not-yet-valid one starts a year from the
/// start of today, so that it stays a fixture for that long.
pub fn dates(kind: Kind, now: i64, days: u32) -> Option<(i64, i64)> {
    let today = now.div_euclid(86_400) * 86_400;
    let length = i64::from(days) * 86_400;
    match kind {
        Kind::Expired => Some((today - 86_400 - length, today - 86_400)),
        Kind::NotYetValid => Some((today + 365 * 86_400, today + 365 * 86_400 + length)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_times() {
        assert_eq!(openssl_time(0), "700101000000Z");
        assert_eq!(openssl_time(1_795_824_000), "261128000000Z");
        assert_eq!(
            openssl_time(2_556_144_000),
            "510101000000Z".replace("51", "2051")
        );
        assert_eq!(openssl_time(951_782_400), "000229000000Z");
    }

    #[test]
    fn dated_fixtures_are_well_formed() {
        let now = 1_795_867_200; // 2026-11-28 12:00
        let (b, a) = dates(Kind::Expired, now, 30).unwrap();
        assert!(b < a && a < now);
        assert_eq!(openssl_time(a), "261127000000Z");
        assert_eq!(openssl_time(b), "261028000000Z");
        let (b, a) = dates(Kind::NotYetValid, now, 30).unwrap();
        assert!(now < b && b < a);
        assert_eq!(openssl_time(b), "271128000000Z");
        assert_eq!(dates(Kind::Revoked, now, 30), None);
    }

    #[test]
    fn the_manifest_reads_back() {
        let m = Manifest {
            fixtures: vec![Entry::new(
                &Files::new("bad", Role::Client),
                &Fixture {
                    kind: Kind::ForeignCa,
                    host: None,
                },
            )],
        };
        assert_eq!(Manifest::parse(&m.to_json()).unwrap(), m);
        assert_eq!(
            m.fixtures[0].files,
            ["bad.key", "bad.csr", "bad.crt", "bad.pem", "bad.issuer.crt"]
        );
    }

    #[test]
    fn the_old_kinds_are_refused_by_every_verifier() {
        for kind in &Kind::ALL[..7] {
            for v in Verifier::ALL {
                for role in [Role::Server, Role::Client] {
                    assert_eq!(kind.verdict(role, v), Verdict::Refuses, "{kind}");
                }
            }
            assert!(kind.notes(Role::Client, |v| v.accepted()).is_empty());
        }
    }

    #[test]
    fn a_kind_under_a_policy_is_accepted_by_openssl_verify_without_one() {
        let notes = Kind::Sha1Signature.notes(Role::Client, |v| v.accepted());
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].by, "openssl verify without -auth_level");
        assert!(Kind::WeakKey.notes(Role::Client, |v| v.untried())[0].by == "rustls");
    }
}
