//! `pkiforge test-client`: every server of a PKI, the good ones and each
//! server fixture, served by `openssl s_server` on a loopback port of its
//! own, and the user's client run against each; a verdict per server.
//!
//! This file is what is served (the [`Lineup`], read from the PKI) and the
//! run. Its submodules never use it: `serve` (the s_servers, through
//! run/exec.rs, in the handshake's private scratch directory) and `client`
//! (the user's COMMAND: its placeholders, its run, what it said).

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use crate::check::verdict::{Expected, Observed, Verdict};
use crate::error::{Error, Result};
use crate::pki::fixture::Kind;
use crate::pki::names::Role;
use crate::pki::read::Pki;
use crate::pki::san::{San, SanKind};
use crate::plan::spec::{CheckSpec, LeafSpec};
use crate::run::openssl::Openssl;

mod client;
mod serve;

pub use client::{Placeholders, UserClient};
pub use serve::Servers;

/// Where every server listens: the host a client dials must resolve here.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// One server of the PKI, as test-client serves it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its file stem: `server`, `server-expired`.
    pub case: String,
    /// `None` for a good server, which must be accepted.
    pub kind: Option<Kind>,
    /// What `{host}` is for it: the name its clients dial.
    pub host: String,
    pub crt: PathBuf,
    pub key: PathBuf,
    /// `NAME.bundle.crt`: what it serves (its certificate, then its chain).
    pub bundle: PathBuf,
}

impl Target {
    pub fn kind_name(&self) -> String {
        self.kind
            .map_or("good".to_string(), |k| k.name().to_string())
    }

    pub fn expected(&self) -> Expected {
        match self.kind {
            None => Expected::Accept,
            Some(_) => Expected::Refuse,
        }
    }
    /// What a client that gets this server wrong fails to check.
    pub fn if_wrong(&self) -> String {
        match self.kind {
            None => "the client refuses a good server: trust the PKI's CA ({ca} in COMMAND) and dial the host its certificate names ({host})".into(),
            Some(kind) => format!(
                "the client accepts a server certificate that is wrong: {}",
                kind.wrong(Role::Server)
            ),
        }
    }
}

/// What test-client serves from a PKI, and what a client trusts.
#[derive(Debug, Clone)]
pub struct Lineup {
    /// The good servers, then the server fixtures, in the manifest's order.
    pub targets: Vec<Target>,
    /// The trust anchor, absolute: `{ca}`.
    pub ca: PathBuf,
    /// The leaves' issuer's CRL, absolute, when there is one: `{crl}`.
    pub crl: Option<PathBuf>,
}

impl Lineup {
    /// The servers of the PKI in `dir`, each dialled as `host` when given,
    /// else by its own first DNS name (a wrong-host fixture by the host the
    /// manifest names); an error when it has no server, or a host does not
    /// resolve to 127.0.0.1.
    pub fn of(pki: &Pki, host: Option<&str>) -> Result<Lineup> {
        let spec = CheckSpec::read_back(pki)?;
        let dir = absolute(pki.dir())?;
        let mut targets = Vec::new();
        for leaf in spec.leaves.iter().filter(|l| l.role == Role::Server) {
            targets.push(target(&dir, leaf, None, host_for(leaf, host, None)?));
        }
        for fixture in spec.fixtures.iter().filter(|f| f.leaf.role == Role::Server) {
            let named = fixture.host.as_deref();
            let chosen = host_for(&fixture.leaf, host, named)?;
            targets.push(target(&dir, &fixture.leaf, Some(fixture.kind), chosen));
        }
        if targets.is_empty() {
            return Err(Error::BadInput(format!(
                "{} has no server certificate to serve (only {}); test-client serves each server of a PKI and its server fixtures: add a [[server]] to the profile and run `pkiforge run PROFILE --out {} --add`",
                pki.dir().display(),
                spec.leaves
                    .iter()
                    .map(|l| l.files().crt())
                    .collect::<Vec<_>>()
                    .join(", "),
                pki.dir().display()
            )));
        }
        for target in &targets {
            crate::files::require_regular(&target.bundle).map_err(unreadable)?;
            crate::files::require_regular(&target.key).map_err(unreadable)?;
        }
        let mut hosts: Vec<&str> = targets.iter().map(|t| t.host.as_str()).collect();
        hosts.dedup();
        for h in hosts {
            require_loopback(h)?;
        }
        let ca = dir.join(spec.ca_files().crt());
        let crl = dir.join(spec.issuer_files().crl());
        Ok(Lineup {
            targets,
            crl: crl.is_file().then_some(crl),
            ca,
        })
    }
}

fn target(dir: &Path, leaf: &LeafSpec, kind: Option<Kind>, host: String) -> Target {
    let files = leaf.files();
    Target {
        case: leaf.name.clone(),
        kind,
        host,
        crt: dir.join(files.crt()),
        key: dir.join(files.key()),
        bundle: dir.join(files.bundle()),
    }
}

/// `--host`, else the host the manifest names (a wrong-host fixture), else
/// the server's first DNS name that is not a wildcard, else its first IP
/// address.
fn host_for(leaf: &LeafSpec, given: Option<&str>, named: Option<&str>) -> Result<String> {
    if let Some(h) = given.or(named) {
        return Ok(h.to_string());
    }
    let first = |kind: SanKind| {
        leaf.sans
            .iter()
            .find(|s: &&San| s.kind == kind && !s.value.starts_with("*."))
    };
    match first(SanKind::Dns).or_else(|| first(SanKind::Ip)) {
        Some(san) => Ok(san.value.clone()),
        None => Err(Error::BadInput(format!(
            "{} has no DNS name or IP address in its subjectAltName for a client to dial; give one with --host",
            leaf.files().crt()
        ))),
    }
}

/// An error unless `host` is 127.0.0.1 or a name that resolves to it,
/// where every server listens.
fn require_loopback(host: &str) -> Result<()> {
    let resolves = match host.parse::<IpAddr>() {
        Ok(ip) => ip == IpAddr::V4(LOOPBACK),
        Err(_) => (host, 0)
            .to_socket_addrs()
            .is_ok_and(|mut addrs| addrs.any(|a| a.ip() == IpAddr::V4(LOOPBACK))),
    };
    if resolves {
        return Ok(());
    }
    Err(Error::BadInput(format!(
        "the host {host} does not resolve to {LOOPBACK}, where test-client's servers listen; pass --host with a name that does (localhost, or an entry in /etc/hosts), or --host {LOOPBACK} when the servers' certificates carry IP:{LOOPBACK}"
    )))
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    std::path::absolute(dir).map_err(|e| Error::io(format!("cannot resolve {}", dir.display()), e))
}

fn unreadable(e: crate::files::ReadError) -> Error {
    Error::BadInput(format!(
        "{e}; test-client serves each server's key and bundle: put the file back (`pkiforge run` makes it), then try again"
    ))
}

/// Serves every server of the lineup, then runs `command` against each in
/// turn: a verdict for each.
pub fn run(openssl: &Openssl, lineup: &Lineup, command: &UserClient) -> Result<Vec<Verdict>> {
    if command.uses(client::CRL) && lineup.crl.is_none() {
        return Err(Error::BadInput(format!(
            "COMMAND names {}, and the PKI has no CRL (its issuer's CRL is made with a revoked fixture, or by `pkiforge revoke` or `pkiforge crl`)",
            client::CRL
        )));
    }
    let servers = Servers::start(openssl, lineup)?;
    let mut verdicts = Vec::new();
    for (target, port) in servers.listening() {
        let placeholders = Placeholders {
            host: target.host.clone(),
            port,
            ca: lineup.ca.clone(),
            crl: lineup.crl.clone(),
        };
        let ran = command.run(&placeholders, &target.case)?;
        verdicts.push(Verdict {
            case: target.case.clone(),
            kind: target.kind_name(),
            expected: target.expected(),
            observed: if ran.accepted {
                Observed::Accepted
            } else {
                Observed::Refused
            },
            detail: ran.detail,
            if_wrong: target.if_wrong(),
        });
    }
    drop(servers);
    Ok(verdicts)
}

/// What `--serve` prints once every server listens: each server's port
/// and kind, and what the placeholders stand for.
pub fn serving_table(servers: &Servers, lineup: &Lineup) -> String {
    let listening: Vec<(&Target, u16)> = servers.listening().collect();
    let width = |f: fn(&Target) -> usize, header: &str| {
        let widest = listening.iter().map(|(t, _)| f(t)).max().unwrap_or(0);
        widest.max(header.len())
    };
    let case_w = width(|t| t.case.chars().count(), "CASE");
    let kind_w = width(|t| t.kind_name().len(), "KIND");
    let mut text = format!(
        "{:<case_w$} {:<kind_w$} {:<8} {:<5} HOST\n",
        "CASE", "KIND", "EXPECTED", "PORT"
    );
    for (t, port) in &listening {
        text.push_str(&format!(
            "{:<case_w$} {:<kind_w$} {:<8} {port:<5} {}\n",
            t.case,
            t.kind_name(),
            t.expected().as_str(),
            t.host
        ));
    }
    text.push_str(&format!("{} {}\n", client::CA, lineup.ca.display()));
    if let Some(crl) = &lineup.crl {
        text.push_str(&format!("{} {}\n", client::CRL, crl.display()));
    }
    text.push_str(&format!(
        "serving on {LOOPBACK} until Ctrl-C (SIGINT) or SIGTERM\n"
    ));
    text
}

/// Keeps the servers up until Ctrl-C or SIGTERM: `Ok` then, with what was
/// stopped; an error if a server stops on its own first.
pub fn serve_until_signal(servers: Servers) -> Result<usize> {
    let count = servers.listening().count();
    while crate::signals::raised().is_none() {
        if let Some(target) = servers.stopped() {
            return Err(Error::BadInput(format!(
                "the server for {} stopped on its own; the others were stopped too",
                target.case
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(servers);
    Ok(count)
}
