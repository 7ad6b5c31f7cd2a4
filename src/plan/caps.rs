//! What a plan needs to know of the openssl that will run it: data, asked
//! of the binary by run/openssl.rs, so that planning stays pure.

/// What a plan needs to know of a binary, asked of it rather than guessed
/// from its version number where a flag tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `openssl pkcs12 -legacy` (OpenSSL 3): without it, the binary's
    /// defaults are the legacy algorithms already (OpenSSL 1.1.1).
    pub pkcs12_legacy: bool,
    /// Whether `req -addext` replaces an extension the config's
    /// x509_extensions also sets (OpenSSL 3), rather than adding a second,
    /// duplicate one (1.1.1, which makes the certificate invalid). This one
    /// is behaviour, not a flag `-help` lists: it is told by the version.
    pub addext_replaces: bool,
    /// `openssl x509 -not_before`/`-not_after` (OpenSSL 3.4): without them,
    /// a certificate with other dates than "from now" is signed with
    /// `openssl ca -startdate -enddate`.
    pub x509_dates: bool,
}

/// Why a strict CA cannot get its extensions on this openssl: the config's
/// x509_extensions section sets one without what strict needs, and its
/// `req -addext` cannot replace it (1.1.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "its x509_extensions section sets {name} = {value}, without {missing}; this OpenSSL's req -addext cannot replace it (it would write the extension twice), so extensions = \"strict\" needs {text} there, or OpenSSL 3"
)]
pub struct NotStrictEnough {
    pub name: &'static str,
    pub value: String,
    pub missing: &'static str,
    /// The `-addext` text strict writes.
    pub text: &'static str,
}

impl Default for Capabilities {
    /// OpenSSL 3's: what a plan assumes when no binary was asked.
    fn default() -> Self {
        Capabilities {
            pkcs12_legacy: true,
            addext_replaces: true,
            x509_dates: true,
        }
    }
}
