//! Negative-test fixtures: certificates a server or client must refuse,
//! each bad in exactly one way, with the error a correct verifier gives.
//! Pure data: what each kind is, and the manifest (`fixtures.json`) that
//! says which files of a PKI are fixtures.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::pki::names::{Files, Role};

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
}

/// The error of `openssl verify` (`error CODE at 0 depth lookup: TEXT`),
/// in OpenSSL 3's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpensslError {
    pub code: u32,
    pub text: String,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Expired,
        Kind::NotYetValid,
        Kind::WrongPurpose,
        Kind::ForeignCa,
        Kind::SelfSigned,
        Kind::Revoked,
        Kind::WrongHost,
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
        }
    }

    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether an entity of `role` can be this fixture.
    pub fn allowed_for(self, role: Role) -> bool {
        self != Kind::WrongHost || role == Role::Server
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
            Kind::WrongHost => &["NotValidForName"],
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
        }
    }

    /// Whether it is made with dates other than "from now" (`-not_before`,
    /// or `openssl ca -startdate` where x509 has no such flag).
    pub fn has_dates(self) -> bool {
        matches!(self, Kind::Expired | Kind::NotYetValid)
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
}

/// `fixtures.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub fixtures: Vec<Entry>,
}

impl Entry {
    pub fn new(files: &Files, fixture: &Fixture) -> Entry {
        let kind = fixture.kind;
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
            wrong: kind.wrong(files.role),
            openssl: kind.openssl_errors(),
            rustls: kind.rustls_errors().iter().map(|s| s.to_string()).collect(),
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
}
