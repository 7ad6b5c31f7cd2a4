//! Who refuses a fixture: for each verifier pkiforge tries (`openssl
//! verify`, openssl's `s_server`/`s_client`, rustls), what it is recorded to
//! do with each kind, for each role. Verifiers disagree: OpenSSL matches a
//! host against the CN, judges key sizes and digests only under a security
//! level, and lets an RSA server key encipher without signing; rustls
//! (ring) cannot even sign with an RSA 1024 key. `verify` and `handshake`
//! hold each verifier to exactly what is recorded here.

use serde::{Deserialize, Serialize};

/// The security level under which weak-key and sha1-signature fixtures are
/// refused: OpenSSL's level 2 (112 bits: RSA 2048, SHA-256), the default
/// TLS level of OpenSSL 3.2 and later and of Debian's builds. Given on the
/// command line (`-auth_level 2`), so that every version is held to the same.
/// https://docs.openssl.org/master/man3/SSL_CTX_set_security_level/
pub const SECURITY_LEVEL: u8 = 2;

/// A verifier pkiforge tries a fixture with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verifier {
    /// `openssl verify`, as `pkiforge verify` runs it.
    OpensslVerify,
    /// `openssl s_server` and `s_client`, in `pkiforge handshake`.
    OpensslTls,
    /// rustls's verifiers (webpki, the ring provider), in `pkiforge handshake`.
    Rustls,
}

impl Verifier {
    pub const ALL: [Verifier; 3] = [
        Verifier::OpensslVerify,
        Verifier::OpensslTls,
        Verifier::Rustls,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Verifier::OpensslVerify => "openssl verify",
            Verifier::OpensslTls => "openssl s_server/s_client",
            Verifier::Rustls => "rustls",
        }
    }
}

/// What a verifier is recorded to do with a fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// It refuses it, for the kind's reason (`Kind::openssl_errors`, `Kind::rustls_errors`).
    Refuses,
    /// It accepts it, for this reason: checked to accept it.
    Accepts(&'static str),
    /// The handshake cannot try it with this stack, for this reason.
    Untried(&'static str),
}

impl Verdict {
    pub fn accepted(self) -> Option<&'static str> {
        match self {
            Verdict::Accepts(why) => Some(why),
            _ => None,
        }
    }

    pub fn untried(self) -> Option<&'static str> {
        match self {
            Verdict::Untried(why) => Some(why),
            _ => None,
        }
    }
}

/// A verifier and why it accepts a fixture, or why a handshake cannot try it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub by: String,
    pub why: String,
}

pub const CN_MATCH: &str = "OpenSSL matches the host against the CN when the certificate has no DNS name in a subjectAltName (X509_check_host)";
pub const ENCIPHER_ONLY: &str = "for a server, OpenSSL takes keyEncipherment as enough (TLS 1.2's RSA key exchange encrypts with the key)";
pub const WEBPKI_KEY_USAGE: &str =
    "webpki does not read an end-entity certificate's keyUsage, only its extendedKeyUsage";
pub const RING_RSA_1024: &str = "ring, rustls's crypto provider here, cannot sign with an RSA key under 2048 bits, so a rustls client or server cannot present it (webpki refuses such a key's signatures)";
pub const RUSTLS_WONT_LOAD: &str = "rustls will not present a certificate with a critical extension it does not know: it parses its own certificate as it loads it, and webpki refuses it there (UnsupportedCriticalExtension), so the verifier on the other side is not reached";
pub const NO_LEVEL: &str =
    "openssl verify judges key sizes and digests only when given a security level (-auth_level)";

/// The manifest's words for the policy a kind is refused under.
pub fn policy(level: u8) -> String {
    format!(
        "refused at OpenSSL security level {level} (openssl verify -auth_level {level}; the verifying side of s_server/s_client is given it too), the default TLS level of OpenSSL 3.2 and later and of Debian's 3.0; OpenSSL 1.1.1's default TLS level 1 accepts it, and so does upstream 3.0/3.1's for weak-key"
    )
}
