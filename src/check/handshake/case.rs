//! What one case of the handshake is made of, for every side: its outcome,
//! the parties (certificate, key and the chain each sends), how a client
//! names the server, what the servers trust, and what is exchanged. A leaf:
//! the scenarios, the openssl side and the rustls side all use it, and it
//! uses none of them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::pki::names::Files;

/// How long one case may take, end to end.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(15);
/// What the client sends, and what the server sends back.
pub const PING: &str = "pkiforge ping from the client";
pub const PONG: &str = "pkiforge pong from the server";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Refused,
    /// Not tried with this stack, which cannot present the fixture: the
    /// detail says why (recorded in fixtures.json).
    Untried,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Accepted => "accepted",
            Outcome::Refused => "refused",
            Outcome::Untried => "untried",
        })
    }
}

/// What an accepted session negotiated, as its client saw it: the
/// protocol, the key-exchange group (`X25519MLKEM768`) and the type of the
/// server's signature (`mldsa65`), each in its stack's own words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Negotiated {
    pub protocol: String,
    pub group: String,
    pub peer_signature: String,
}

impl fmt::Display for Negotiated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, group {}, server signature {}",
            self.protocol, self.group, self.peer_signature
        )
    }
}

/// How a session ended: its outcome, why (or what was exchanged), and
/// what it negotiated when it was accepted.
pub type Ended = (Outcome, String, Option<Negotiated>);

/// One handshake and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub stack: &'static str,
    pub name: String,
    pub expected: Outcome,
    pub got: Outcome,
    /// Why it was refused, or what was exchanged.
    pub detail: String,
    /// For a fixture: the reasons it must be refused for (one of them must
    /// be in the detail).
    pub reasons: Vec<String>,
    /// What an accepted session negotiated.
    pub negotiated: Option<Negotiated>,
    /// With `--trace`: the stem of the session's trace and keylog files
    /// (an openssl session's; rustls prints no messages).
    pub trace: Option<String>,
    /// With `--trace` and tcpdump: the session's pcap file.
    pub pcap: Option<String>,
}

impl Case {
    pub fn passed(&self) -> bool {
        self.expected == self.got && self.for_its_reason()
    }

    fn for_its_reason(&self) -> bool {
        self.reasons.is_empty() || self.reasons.iter().any(|r| self.detail.contains(r))
    }
}

/// A case as `handshake --json` prints it, and as `TRACES/sessions.json`
/// keeps it for `report --traces` to read back (docs/json.md).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Shown {
    pub stack: String,
    pub name: String,
    pub expected: String,
    pub got: String,
    pub passed: bool,
    pub detail: String,
    pub negotiated: Option<Negotiated>,
    /// The session's files in TRACES, with `--trace` (else left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keylog: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pcap: Option<String>,
}

/// The cases as a JSON array (docs/json.md).
pub fn json(cases: &[Case]) -> String {
    let shown: Vec<Shown> = cases
        .iter()
        .map(|c| Shown {
            stack: c.stack.to_string(),
            name: c.name.clone(),
            expected: c.expected.to_string(),
            got: c.got.to_string(),
            passed: c.passed(),
            detail: c.detail.clone(),
            negotiated: c.negotiated.clone(),
            trace: c.trace.as_deref().map(crate::pki::names::handshake::trace),
            keylog: c.trace.as_deref().map(crate::pki::names::handshake::keylog),
            pcap: c.pcap.clone(),
        })
        .collect();
    crate::check::json::to_text(&shown)
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() { "ok  " } else { "FAIL" };
        write!(
            f,
            "{verdict} {:<7} {:<9} {}",
            self.stack,
            self.got.to_string(),
            self.name
        )?;
        if self.expected != self.got {
            write!(f, " (expected {})", self.expected)?;
        } else if !self.for_its_reason() {
            write!(
                f,
                " (for another reason than {})",
                self.reasons.join(" or ")
            )?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        if let Some(n) = &self.negotiated {
            write!(f, "\n       {n}")?;
        }
        Ok(())
    }
}

/// The certificate and key files of one party.
#[derive(Debug, Clone)]
pub struct Party {
    pub label: String,
    pub crt: PathBuf,
    pub key: PathBuf,
    /// The CA certificates it sends after its own (an intermediate).
    pub chain: Vec<PathBuf>,
}

impl Party {
    /// An entity of the PKI in `dir`: `NAME.crt` and `NAME.key`.
    pub fn of(dir: &Path, files: &Files) -> Party {
        Party {
            label: files.crt(),
            crt: dir.join(files.crt()),
            key: dir.join(files.key()),
            chain: Vec::new(),
        }
    }

    pub fn with_chain(self, chain: &[PathBuf]) -> Party {
        Party {
            chain: chain.to_vec(),
            ..self
        }
    }
}

/// Where one session's trace goes (`handshake --trace`): the directory
/// (the trace directory's staging), the file stem, and the flag that makes
/// s_server and s_client print each message (`-trace`, else `-msg`).
#[derive(Debug, Clone)]
pub struct TraceTo {
    pub dir: PathBuf,
    pub stem: String,
    pub flag: &'static str,
    /// The session's name, as the handshake's line says it.
    pub name: String,
    /// tcpdump, to record the session into a pcap, where it may.
    pub tcpdump: Option<super::capture::Tcpdump>,
}

/// What a session needs besides its parties: the security level a fixture
/// is judged under, the OCSP answer the server staples, and its trace.
#[derive(Debug, Clone, Default)]
pub struct Extras<'a> {
    pub security: Option<Security>,
    pub staple: Option<&'a Path>,
    pub trace: Option<TraceTo>,
}

/// The security level a fixture is judged under (weak-key, sha1-signature):
/// the side that checks it is given `-auth_level LEVEL`, the side that
/// presents it level 0, so that it can load the fixture at all (OpenSSL 3
/// at level 2 refuses to use a weak certificate of its own).
#[derive(Debug, Clone, Copy)]
pub struct Security {
    pub level: u8,
    /// Who presents the fixture: the server, or the client.
    pub presenter: crate::pki::names::Role,
}

/// How the client names the server: a DNS name (sent as SNI) or an IP address.
#[derive(Debug, Clone)]
pub enum Host {
    Dns(String),
    Ip(String),
}

impl Host {
    pub fn as_str(&self) -> &str {
        match self {
            Host::Dns(s) | Host::Ip(s) => s,
        }
    }
}

/// What the servers trust: the CA, and its CRL when there is one (then a
/// revoked client must be refused).
pub struct Trust {
    pub ca: PathBuf,
    pub crl: Option<PathBuf>,
}

/// A file of the PKI the handshake cannot read, and what to do.
pub fn unreadable(e: crate::files::ReadError) -> Error {
    Error::BadInput(format!(
        "{e}; the handshake reads each certificate, key and CRL of the PKI as a regular file: put the file back (`pkiforge run` makes it), then try again"
    ))
}
