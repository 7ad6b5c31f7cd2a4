//! `pkiforge test-server`: a server someone else runs, tested with the
//! clients of a PKI. Every good client must be accepted; a client without
//! a certificate and every client fixture must be refused.
//!
//! This file reads the cases from the PKI and runs them; `probe` makes one
//! connection with `openssl s_client` and says what the server did;
//! `verdict` is what is concluded, as data, and its table and JSON.

use std::fmt;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::check::handshake::Outcome;
use crate::error::{Error, Result};
use crate::pki::names::{Files, Role};
use crate::pki::read::Pki;
use crate::pki::san::SanKind;
use crate::run::openssl::Openssl;
use crate::run::scratch::{self, Scratch};

pub mod probe;
pub mod verdict;

use probe::{Client, Observed, Probe};
pub use verdict::{CaseKind, NO_CERTIFICATE, Verdict, json, table};

/// How long one connection may take at most, handshake to answer (less
/// with a smaller `--timeout`).
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the server listens: `HOST:PORT`, an IPv6 address in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Target {
    pub fn parse(text: &str) -> Result<Target> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "{text:?} is not HOST:PORT ({why}): name where your server listens, as localhost:8443, 127.0.0.1:8443 or [::1]:8443"
            ))
        };
        let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let host = match host.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .ok_or_else(|| bad("an unclosed ["))?,
            None if host.contains(':') => return Err(bad("an IPv6 address goes in brackets")),
            None => host,
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("no host"));
        }
        let port: u16 = port
            .parse()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
        Ok(Target {
            host: host.to_string(),
            port,
        })
    }

    /// An error unless something accepts a TCP connection there.
    fn require_listening(&self, wait: Duration) -> Result<()> {
        let addrs: Vec<_> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| {
                Error::BadInput(format!(
                    "cannot resolve {}: {e}; name your server's address as HOST:PORT",
                    self.host
                ))
            })?
            .collect();
        let mut last = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, wait) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        let why = last.map_or("no address".to_string(), |e| e.to_string());
        Err(Error::BadInput(format!(
            "nothing is listening on {self} ({why}): start your server there first, or name the address it listens on"
        )))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What `test-server` is asked besides the PKI and the target.
pub struct Options<'a> {
    /// `--servername`: the name the server's certificate must carry.
    pub servername: Option<&'a str>,
    /// `--http PATH`: send `GET PATH` and judge by the status.
    pub http: Option<&'a str>,
    /// How many clients connect at the same time; the verdicts keep the
    /// cases' order.
    pub jobs: usize,
}

/// One case: who connects, and what it is.
struct Case {
    name: String,
    kind: CaseKind,
    client: Option<Client>,
}

/// Connects to `target` once per case of the PKI, up to `options.jobs` at
/// a time, and says what the server did with each: the good clients, none,
/// each client fixture, in that order.
pub fn run(
    openssl: &Openssl,
    pki: &Pki,
    target: &Target,
    options: &Options,
) -> Result<Vec<Verdict>> {
    let cases = cases(pki)?;
    if let Some(path) = options.http {
        require_http_path(path)?;
    }
    let dir = pki.dir();
    let ca = dir.join(Files::new(Role::Ca.table(), Role::Ca).crt());
    crate::files::require_regular(&ca).map_err(|e| Error::BadInput(e.to_string()))?;
    let servername = match options.servername {
        Some(name) => name.to_string(),
        None => good_server_host(pki).unwrap_or_else(|| target.host.clone()),
    };
    let deadline = openssl.timeout.min(CONNECTION_TIMEOUT);
    target.require_listening(deadline)?;
    let temp = std::env::temp_dir();
    scratch::remove_stale(&temp);
    let scratch = Scratch::create_in(&temp)?;
    let probe = Probe {
        openssl,
        target,
        ca: &ca,
        servername: &servername,
        http: options.http,
        deadline,
        scratch: &scratch,
    };
    let seen = crate::run::schedule::in_order(cases.iter().collect(), options.jobs, |_, case| {
        probe.connect(case.client.as_ref())
    })?;
    let mut verdicts = Vec::with_capacity(cases.len());
    for (case, mut seen) in cases.into_iter().zip(seen) {
        // A server that serves one connection at a time leaves the others
        // waiting, perhaps past the deadline: a case that timed out while
        // others ran is asked again, alone.
        if options.jobs > 1 && matches!(seen, Observed::TimedOut { .. }) {
            seen = probe.connect(case.client.as_ref())?;
        }
        verdicts.push(Verdict {
            case: case.name,
            kind: case.kind,
            observed: if seen.accepted() {
                Outcome::Accepted
            } else {
                Outcome::Refused
            },
            detail: seen.detail(),
        });
    }
    Ok(verdicts)
}

/// The good clients, none, then the client fixtures; an error when the PKI
/// has no good client or no client fixture.
fn cases(pki: &Pki) -> Result<Vec<Case>> {
    let layout = pki.layout_with_leaves()?;
    let dir = pki.dir();
    let client = |files: &Files| Client {
        bundle: dir.join(files.bundle()),
        key: dir.join(files.key()),
    };
    let good: Vec<Case> = layout
        .leaves
        .iter()
        .filter(|f| f.role == Role::Client)
        .map(|f| Case {
            name: f.name.clone(),
            kind: CaseKind::Good,
            client: Some(client(f)),
        })
        .collect();
    let fixtures: Vec<Case> = layout
        .fixtures
        .iter()
        .filter(|e| e.role() == Role::Client)
        .map(|e| Case {
            name: e.name.clone(),
            kind: CaseKind::Fixture(e.fixture),
            client: Some(client(&e.files())),
        })
        .collect();
    if good.is_empty() {
        return Err(Error::BadInput(format!(
            "{} has no good client (a [[client]] without fixture) for the server to accept; add one to the profile and run it with --out {} --add",
            dir.display(),
            dir.display()
        )));
    }
    if fixtures.is_empty() {
        return Err(Error::BadInput(format!(
            "{} has no client fixtures for the server to refuse; make a PKI with them (`pkiforge run profiles/fixtures.toml`), point your server at its CA, and test it with that",
            dir.display()
        )));
    }
    let none = Case {
        name: NO_CERTIFICATE.to_string(),
        kind: CaseKind::NoCertificate,
        client: None,
    };
    Ok(good.into_iter().chain([none]).chain(fixtures).collect())
}

/// The host the PKI's first good server was made for: its first DNS name
/// that is not a wildcard, or its first IP address.
fn good_server_host(pki: &Pki) -> Option<String> {
    let layout = pki.layout().ok()?;
    let server = layout.leaves.iter().find(|f| f.role == Role::Server)?;
    let info = pki.certificate(&server.crt()).ok()?;
    info.san_entries.iter().find_map(|s| match s.kind {
        SanKind::Dns if !s.value.starts_with("*.") => Some(s.value.clone()),
        SanKind::Ip => Some(s.value.clone()),
        _ => None,
    })
}

/// An error unless `path` is an HTTP request target: `/` and what follows,
/// without spaces or control characters.
fn require_http_path(path: &str) -> Result<()> {
    if path.starts_with('/') && !path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--http {path:?}: give the path to request, starting with / and without spaces, as --http / or --http /health"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        let t = Target::parse("localhost:8443").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("localhost", 8443));
        let t = Target::parse("[::1]:443").unwrap();
        assert_eq!(
            (t.host.as_str(), t.to_string()),
            ("::1", "[::1]:443".into())
        );
        for bad in [
            "localhost",
            "::1:443",
            "localhost:0",
            "localhost:x",
            ":443",
            "[::1:443",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Target::parse("localhost").unwrap_err().to_string(),
            "\"localhost\" is not HOST:PORT (no port): name where your server listens, as localhost:8443, 127.0.0.1:8443 or [::1]:8443"
        );
        assert!(require_http_path("/health").is_ok());
        assert!(require_http_path("health").is_err() && require_http_path("/a b").is_err());
    }
}
