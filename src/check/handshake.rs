//! `pkiforge handshake`: real mutual-TLS sessions on loopback, with
//! `openssl s_server`/`s_client` and again with rustls in-process, so the
//! proof does not rest on OpenSSL grading its own work.

use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};

use std::ffi::OsString;

use crate::error::{Error, Result};
use crate::pki::fixture::Kind;
use crate::pki::names::Files;
use crate::pki::profile::Role;
use crate::pki::san::{San, SanKind};
use crate::plan::handshake::{self as handshake_plan, OUTSIDE_HOST, Signer};
use crate::plan::step::Step;
use crate::plan::step::path_arg;
use crate::plan::{CheckSpec, LeafSpec, Plan};
use crate::run::exec::Background;
use crate::run::openssl::Openssl;
use crate::run::progress::Progress;
use crate::run::runner::Runner;
use crate::signals;

mod scratch;
use scratch::Scratch;

/// How long one case may take, end to end.
const CASE_TIMEOUT: Duration = Duration::from_secs(15);
/// What the client sends, and what the server sends back.
const PING: &str = "pkiforge ping from the client";
const PONG: &str = "pkiforge pong from the server";
/// A name no certificate of pkiforge's carries (.invalid is reserved, RFC 2606).
const WRONG_HOST: &str = "not-in-san.pkiforge.invalid";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Refused,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Accepted => "accepted",
            Outcome::Refused => "refused",
        })
    }
}

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
}

impl Case {
    pub fn passed(&self) -> bool {
        self.expected == self.got && self.for_its_reason()
    }

    fn for_its_reason(&self) -> bool {
        self.reasons.is_empty() || self.reasons.iter().any(|r| self.detail.contains(r))
    }
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
        Ok(())
    }
}

/// The certificate and key files of one party.
#[derive(Debug, Clone)]
struct Party {
    label: String,
    crt: PathBuf,
    key: PathBuf,
    /// The CA certificates it sends after its own (an intermediate).
    chain: Vec<PathBuf>,
}

impl Party {
    /// An entity of the PKI in `dir`: `NAME.crt` and `NAME.key`.
    fn of(dir: &Path, files: &Files) -> Party {
        Party {
            label: files.crt(),
            crt: dir.join(files.crt()),
            key: dir.join(files.key()),
            chain: Vec::new(),
        }
    }

    fn with_chain(self, chain: &[PathBuf]) -> Party {
        Party {
            chain: chain.to_vec(),
            ..self
        }
    }
}

/// How the client names the server: a DNS name (sent as SNI) or an IP address.
#[derive(Debug, Clone)]
enum Host {
    Dns(String),
    Ip(String),
}

impl Host {
    fn as_str(&self) -> &str {
        match self {
            Host::Dns(s) | Host::Ip(s) => s,
        }
    }
}

/// What the servers trust: the CA, and its CRL when there is one (then a
/// revoked client must be refused).
struct Trust {
    ca: PathBuf,
    crl: Option<PathBuf>,
}

/// One scenario: who connects, as which host, and what must happen.
#[derive(Clone)]
struct Scenario<'a> {
    name: String,
    client: Option<&'a Party>,
    host: Host,
    expected: Outcome,
    /// Another server than the pair's (a certificate made on the spot).
    server: Option<&'a Party>,
    /// What a fixture must be refused for (in this stack's words).
    reasons: Vec<String>,
}

/// The parties of the PKI in a directory, and what its servers trust.
struct Parties {
    trust: Trust,
    pairs: Vec<Pair>,
    revoked: Vec<Party>,
    fixtures: Vec<FixtureParty>,
    /// The intermediate, when its key is here to sign a certificate on the spot.
    signer: Option<Party>,
}

/// A server and a client of the PKI, and the name the client dials.
struct Pair {
    server_name: String,
    srv: Party,
    cli: Party,
    host: Host,
}

impl Parties {
    fn of(dir: &Path, spec: &CheckSpec) -> Result<Parties> {
        require_a_pair(dir, spec)?;
        let crl = dir.join(spec.issuer_files().crl());
        let trust = Trust {
            ca: dir.join(spec.ca_files().crt()),
            crl: present(&crl).then_some(crl),
        };
        // What a server sends after its certificate: the intermediate, if
        // any, and the root (as the tutorial's bundle); a client, the intermediate.
        let inter = spec.intermediate_files().map(|f| dir.join(f.crt()));
        let server_chain: Vec<PathBuf> = inter.iter().cloned().chain([trust.ca.clone()]).collect();
        let client_chain: Vec<PathBuf> = inter.iter().cloned().collect();
        let revoked: Vec<Party> = revoked_clients(dir, &trust)?
            .into_iter()
            .map(|p| p.with_chain(&client_chain))
            .collect();
        let signer = spec
            .intermediate_files()
            .filter(|f| present(&dir.join(f.key())))
            .map(|f| Party::of(dir, &f).with_chain(&server_chain));
        let mut found = Vec::new();
        for (server, client) in pairs(spec) {
            found.push(Pair {
                server_name: server.name.clone(),
                srv: Party::of(dir, &server.files()).with_chain(&server_chain),
                cli: Party::of(dir, &client.files()).with_chain(&client_chain),
                host: host_of(server)?,
            });
        }
        Ok(Parties {
            fixtures: fixture_parties(dir, spec, &server_chain, &client_chain)?,
            trust,
            pairs: found,
            revoked,
            signer,
        })
    }

    /// Every file the sessions will read, through the guarded reader: a
    /// FIFO, a device or a huge file is refused here, naming it, before
    /// openssl or rustls is given it (either would wait or read forever).
    fn require_readable(&self) -> Result<()> {
        let parties = self.pairs.iter().flat_map(|p| [&p.srv, &p.cli]);
        let parties = parties
            .chain(&self.revoked)
            .chain(self.fixtures.iter().map(|f| &f.party))
            .chain(&self.signer);
        let files = parties.flat_map(|p| [&p.crt, &p.key].into_iter().chain(&p.chain));
        for file in files.chain([&self.trust.ca]).chain(&self.trust.crl) {
            crate::files::require_regular(file).map_err(unreadable)?;
        }
        Ok(())
    }
}

/// A file of the PKI the handshake cannot read, and what to do.
fn unreadable(e: crate::files::ReadError) -> Error {
    Error::BadInput(format!(
        "{e}; the handshake reads each certificate, key and CRL of the PKI as a regular file: put the file back (`pkiforge run` makes it), then try again"
    ))
}

/// Whether something is at `path`, even a link to nothing or a FIFO:
/// then the handshake must read it, and says so when it cannot.
fn present(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// An error unless the PKI has a server and a client to try together:
/// with none, no handshake would run, and none would fail.
fn require_a_pair(dir: &Path, spec: &CheckSpec) -> Result<()> {
    if !pairs(spec).is_empty() {
        return Ok(());
    }
    if !spec.fixtures.is_empty() {
        return Err(Error::BadInput(format!(
            "{} has fixtures, which are tried against a good server and client of the same PKI, and it has no pair of them; add a [[server]] and a [[client]] without fixture to the profile, and run it with --add",
            dir.display()
        )));
    }
    let crts = |role| -> Vec<String> {
        let leaves = spec.leaves.iter().filter(|l| l.role == role);
        leaves.map(|l| l.files().crt()).collect()
    };
    let (has, lacks, section) = match crts(Role::Server) {
        servers if servers.is_empty() => (crts(Role::Client), "server", "[server]"),
        servers => (servers, "client", "[client]"),
    };
    Err(Error::BadInput(format!(
        "{} has {} but no {lacks} certificate, and a mutual-TLS handshake needs a server and a client; add a {section} to the profile and run `pkiforge run PROFILE --out {} --add`, then try the handshake again",
        dir.display(),
        has.join(", "),
        dir.display()
    )))
}

/// What the handshake reads of the PKI in `dir`, checked, and the steps
/// that make its throwaway certificates: the same for a run and a dry run.
fn prepare(dir: &Path, spec: &CheckSpec) -> Result<(Parties, Vec<Step>)> {
    let parties = Parties::of(dir, spec)?;
    parties.require_readable()?;
    let signer = match (&parties.signer, &spec.intermediate) {
        (Some(_), Some(name)) => Some(Signer {
            name: name.clone(),
            dir: utf8_absolute(dir)?,
        }),
        _ => None,
    };
    Ok((parties, handshake_plan::steps(signer.as_ref())))
}

/// `handshake --dry-run`: the commands that make the throwaway
/// certificates, one a line as `plan` shows steps; nothing is started.
pub fn dry_run(dir: &Path, spec: &CheckSpec) -> Result<String> {
    let (_, steps) = prepare(dir, spec)?;
    let plan = Plan {
        steps,
        ..Plan::default()
    };
    Ok(plan.to_string())
}

/// The PKI's directory as openssl's command line names it, run from the
/// scratch directory: absolute, and text.
fn utf8_absolute(dir: &Path) -> Result<String> {
    let absolute = std::path::absolute(dir)
        .map_err(|e| Error::io(format!("cannot resolve {}", dir.display()), e))?;
    match absolute.to_str() {
        Some(text) => Ok(text.to_string()),
        None => Err(Error::Usage(format!(
            "{}: its path is not UTF-8, and the handshake names the intermediate's key where it lives on openssl's command line; move the PKI to a directory with a UTF-8 name",
            absolute.display()
        ))),
    }
}

/// Runs every case for each server with each client found in `dir`.
pub fn run(openssl: &Openssl, dir: &Path, spec: &CheckSpec) -> Result<Vec<Case>> {
    let (parties, steps) = prepare(dir, spec)?;
    // What killed handshakes left, then this run's own private directory.
    let temp = std::env::temp_dir();
    scratch::remove_stale(&temp);
    let scratch = Scratch::create_in(&temp)?;
    let (foreign, outside) = make_throwaways(openssl, &steps, &scratch, &parties)?;
    let session = Session {
        openssl,
        trust: &parties.trust,
        scratch: &scratch,
    };
    let mut cases = Vec::new();
    let mut tried: Vec<&str> = Vec::new();
    for Pair {
        server_name,
        srv,
        cli,
        host,
    } in &parties.pairs
    {
        // The same scenarios with each TLS stack, openssl's first.
        for stack in ["openssl", "rustls"] {
            let mut all = scenarios(srv, cli, &foreign, host).to_vec();
            // Revoked clients and the outside server once per server, with
            // its first client; the fixtures with the first pair.
            if !tried.contains(&server_name.as_str()) {
                all.extend(once_per_server(
                    srv,
                    cli,
                    host,
                    &parties.revoked,
                    outside.as_ref(),
                ));
                if tried.is_empty() {
                    all.extend(fixture_scenarios(stack, &parties.fixtures, srv, cli, host));
                }
            }
            for sc in all {
                signals::check()?;
                cases.push(session.run_case(srv, stack, sc)?);
            }
        }
        tried.push(server_name);
    }
    Ok(cases)
}

/// Runs the throwaway certificates' steps in the scratch directory, one at
/// a time in the plan's order (its config is there before any key), and
/// publishes nothing; returns the foreign client and the server outside
/// the constraints (with an intermediate to sign it).
fn make_throwaways(
    openssl: &Openssl,
    steps: &[Step],
    scratch: &Scratch,
    parties: &Parties,
) -> Result<(Party, Option<Party>)> {
    let runner = Runner {
        openssl,
        progress: &Progress::Quiet,
        p12_password: None,
        pause: false,
        jobs: 1,
        judge: &crate::check::verify::Verifier,
    };
    let timeout = openssl.timeout.min(CASE_TIMEOUT);
    runner.run_steps_in(steps, scratch.path(), timeout)?;
    let made = |name, role| Party::of(scratch.path(), &Files::new(name, role));
    let foreign = made(handshake_plan::FOREIGN_CLIENT, Role::Client);
    let outside = parties.signer.as_ref().map(|inter| Party {
        label: format!("{OUTSIDE_HOST}'s certificate, outside the name constraints"),
        ..made(handshake_plan::OUTSIDE, Role::Server).with_chain(&inter.chain)
    });
    Ok((foreign, outside))
}

/// The scenarios each server meets once: every revoked client, and a
/// server certificate made outside the intermediate's constraints.
fn once_per_server<'a>(
    srv: &Party,
    cli: &'a Party,
    host: &Host,
    revoked: &'a [Party],
    outside: Option<&'a Party>,
) -> Vec<Scenario<'a>> {
    let mut all: Vec<Scenario<'a>> = revoked
        .iter()
        .map(|r| Scenario {
            name: format!("{} with {}, revoked in the CRL", srv.label, r.label),
            client: Some(r),
            host: host.clone(),
            expected: Outcome::Refused,
            server: None,
            reasons: Vec::new(),
        })
        .collect();
    all.extend(outside.map(|outside| Scenario {
        name: format!("{} as {OUTSIDE_HOST}", outside.label),
        client: Some(cli),
        host: Host::Dns(OUTSIDE_HOST.into()),
        expected: Outcome::Refused,
        server: Some(outside),
        reasons: Vec::new(),
    }));
    all
}

/// What every session of a run shares.
struct Session<'a> {
    openssl: &'a Openssl,
    trust: &'a Trust,
    scratch: &'a Scratch,
}

impl Session<'_> {
    /// One scenario with one TLS stack, against `srv` unless it names its own server.
    fn run_case(&self, srv: &Party, stack: &'static str, sc: Scenario) -> Result<Case> {
        let server = sc.server.unwrap_or(srv);
        let (got, detail) = match stack {
            "openssl" => openssl_case(self, server, sc.client, &sc.host)?,
            _ => rustls_case(self.trust, server, sc.client, &sc.host)?,
        };
        Ok(Case {
            stack,
            name: sc.name,
            expected: sc.expected,
            got,
            detail,
            reasons: sc.reasons,
        })
    }
}

/// A fixture as a party of a session: its kind, and the host its clients
/// dial when it is a server.
struct FixtureParty {
    party: Party,
    role: Role,
    kind: Kind,
    host: Option<Host>,
}

/// The fixtures of the PKI, each sending the chain its bundle holds.
fn fixture_parties(
    dir: &Path,
    spec: &CheckSpec,
    server_chain: &[PathBuf],
    client_chain: &[PathBuf],
) -> Result<Vec<FixtureParty>> {
    let mut out = Vec::new();
    for fixture in &spec.fixtures {
        let files = fixture.leaf.files();
        let role = fixture.leaf.role;
        // A foreign-ca fixture sends its certificate alone, so that the
        // verifier meets the trap: an issuer name that is the real CA's.
        let chain = match (fixture.kind, role) {
            (Kind::ForeignCa | Kind::SelfSigned, _) => Vec::new(),
            (_, Role::Server) => server_chain.to_vec(),
            _ => client_chain.to_vec(),
        };
        let host = match (role, &fixture.host) {
            (Role::Server, Some(h)) => Some(match San::host(h) {
                San {
                    kind: SanKind::Ip,
                    value,
                } => Host::Ip(value),
                San { value, .. } => Host::Dns(value),
            }),
            (Role::Server, None) => Some(host_of(&fixture.leaf)?),
            _ => None,
        };
        out.push(FixtureParty {
            party: Party::of(dir, &files).with_chain(&chain),
            role,
            kind: fixture.kind,
            host,
        });
    }
    Ok(out)
}

/// Each client fixture with the first server, each server fixture with the
/// first client: every one refused, for its reason.
fn fixture_scenarios<'a>(
    stack: &str,
    fixtures: &'a [FixtureParty],
    srv: &Party,
    cli: &'a Party,
    host: &Host,
) -> Vec<Scenario<'a>> {
    fixtures
        .iter()
        .map(|f| {
            let reasons: Vec<String> = match stack {
                "openssl" => f
                    .kind
                    .openssl_errors()
                    .iter()
                    .map(|e| format!("verify error {}:", e.code))
                    .collect(),
                _ => f
                    .kind
                    .rustls_errors()
                    .iter()
                    .map(|e| format!("(rustls: {e})"))
                    .collect(),
            };
            let (name, client, server, host) = match (&f.role, &f.host) {
                (Role::Server, Some(h)) => (
                    format!(
                        "{} fixture {} as {} with {}",
                        f.kind,
                        f.party.label,
                        h.as_str(),
                        cli.label
                    ),
                    Some(cli),
                    Some(&f.party),
                    h.clone(),
                ),
                _ => (
                    format!("{} with {} fixture {}", srv.label, f.kind, f.party.label),
                    Some(&f.party),
                    None,
                    host.clone(),
                ),
            };
            Scenario {
                name,
                client,
                host,
                expected: Outcome::Refused,
                server,
                reasons,
            }
        })
        .collect()
}

/// The clients in `archive/*/` that the CRL revokes and whose key is kept
/// with them: each must be refused.
fn revoked_clients(dir: &Path, trust: &Trust) -> Result<Vec<Party>> {
    let Some(crl) = &trust.crl else {
        return Ok(Vec::new());
    };
    let revoked = crate::pki::crl::read_crl(crl)
        .map_err(Error::BadInput)?
        .revoked;
    let Ok(entries) = std::fs::read_dir(dir.join("archive")) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let serial = entry.file_name().to_string_lossy().into_owned();
        if !revoked.contains(&serial) {
            continue;
        }
        let Ok(found) = crate::pki::read::Pki::archived(&entry.path()) else {
            continue;
        };
        for files in found.iter().filter(|f| f.role == Role::Client) {
            let archived = Party::of(&entry.path(), files);
            if present(&archived.key) {
                out.push(Party {
                    label: format!("archive/{serial}/{}", files.crt()),
                    ..archived
                });
            }
        }
    }
    out.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(out)
}

/// Every client with the first server, and every other server with the
/// first client: each certificate takes part, without n × m sessions.
fn pairs(spec: &CheckSpec) -> Vec<(&LeafSpec, &LeafSpec)> {
    let of = |role| spec.leaves.iter().filter(move |l| l.role == role);
    let mut pairs = Vec::new();
    for (i, server) in of(Role::Server).enumerate() {
        for (j, client) in of(Role::Client).enumerate() {
            if i == 0 || j == 0 {
                pairs.push((server, client));
            }
        }
    }
    pairs
}

/// The name a client dials the server by: its first DNS name that is not a
/// wildcard, or its first IP address.
fn host_of(server: &LeafSpec) -> Result<Host> {
    server
        .sans
        .iter()
        .find_map(|s| match s.kind {
            SanKind::Dns if !s.value.starts_with("*.") => Some(Host::Dns(s.value.clone())),
            SanKind::Ip => Some(Host::Ip(s.value.clone())),
            _ => None,
        })
        .ok_or_else(|| {
            Error::BadInput(format!(
                "{} has no DNS name or IP address in its subjectAltName to connect to",
                server.files().crt()
            ))
        })
}

/// The accepted case, then the three refusals that must happen.
fn scenarios<'a>(
    srv: &Party,
    cli: &'a Party,
    foreign: &'a Party,
    host: &Host,
) -> [Scenario<'a>; 4] {
    let case = |name: String, client, host: &Host, expected| Scenario {
        name,
        client,
        host: host.clone(),
        expected,
        server: None,
        reasons: Vec::new(),
    };
    [
        case(
            format!("{} with {} as {}", srv.label, cli.label, host.as_str()),
            Some(cli),
            host,
            Outcome::Accepted,
        ),
        case(
            format!("{} with no client certificate", srv.label),
            None,
            host,
            Outcome::Refused,
        ),
        case(
            format!("{} with a client certificate from a foreign CA", srv.label),
            Some(foreign),
            host,
            Outcome::Refused,
        ),
        case(
            format!("{} as {WRONG_HOST} (not in its SAN)", srv.label),
            Some(cli),
            &Host::Dns(WRONG_HOST.into()),
            Outcome::Refused,
        ),
    ]
}

fn reversed(s: &str) -> String {
    s.chars().rev().collect()
}

/// The last line of openssl's stderr that says what went wrong, shortened
/// to its reason (`…:error:CODE:LIB:FUNC:REASON:FILE:LINE:` → `REASON`).
fn last_error(stderr: &str) -> Option<String> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("error") || l.contains("alert"))?
        .trim();
    let fields: Vec<&str> = line.split(':').collect();
    let reason = fields
        .iter()
        .position(|f| *f == "error")
        .and_then(|i| fields.get(i + 4))
        .filter(|_| fields.len() >= 6)
        .map_or(line, |r| *r);
    Some(reason.to_string())
}

/// s_server on an ephemeral loopback port in `-rev` mode (it sends back each
/// line reversed), s_client sending PING: accepted when the reversed PING
/// comes back, which needs data to flow both ways.
fn openssl_case(
    session: &Session,
    server: &Party,
    client: Option<&Party>,
    host: &Host,
) -> Result<(Outcome, String)> {
    let Session { openssl, trust, .. } = *session;
    let ca = trust.ca.as_path();
    // Its logs and chain files, in the run's private directory.
    let logs = session.scratch.case_dir()?;
    let (server_out, server_err) = (
        logs.path().join("server.out"),
        logs.path().join("server.err"),
    );
    let mut server_args: Vec<OsString> = vec![
        "s_server".into(),
        "-accept".into(),
        "127.0.0.1:0".into(),
        "-naccept".into(),
        "1".into(),
        "-cert".into(),
        path_arg(&server.crt),
        "-key".into(),
        path_arg(&server.key),
        "-cert_chain".into(),
        path_arg(
            &chain_file(server, logs.path(), "server-chain.crt")?
                .unwrap_or_else(|| ca.to_path_buf()),
        ),
        "-CAfile".into(),
        path_arg(ca),
        // Require a client certificate, and fail the handshake on a bad one.
        "-Verify".into(),
        "1".into(),
        "-verify_return_error".into(),
        "-rev".into(),
    ];
    if let Some(crl) = &trust.crl {
        // The client's certificate must not be in the CA's CRL.
        server_args.extend(["-crl_check".into(), "-CRL".into(), path_arg(crl)]);
    }
    let server_proc = openssl
        .call(server_args, "handshake-server", CASE_TIMEOUT)
        .spawn(&server_out, &server_err)?;
    let deadline = Instant::now() + CASE_TIMEOUT;
    let result = match accept_port(&server_proc, &server_out, deadline)? {
        Some(port) => {
            let mut client_args = s_client_args(port, ca, client, host);
            if let Some(crl) = &trust.crl {
                // The server's certificate must not be in the CA's CRL.
                client_args.extend(["-crl_check".into(), "-CRL".into(), path_arg(crl)]);
            }
            if let Some(c) = client
                && let Some(chain) = chain_file(c, logs.path(), "client-chain.crt")?
            {
                client_args.extend(["-cert_chain".into(), path_arg(&chain)]);
            }
            s_client_exchange(openssl, client_args, logs.path(), deadline)?
        }
        None => (Outcome::Refused, "s_server did not start".to_string()),
    };
    drop(server_proc);
    let server_log = read_log(&server_err);
    Ok(match result {
        (Outcome::Refused, client_err) => (Outcome::Refused, why_refused(&server_log, &client_err)),
        accepted => accepted,
    })
}

/// A file holding the certificates a party sends after its own, in order;
/// `None` when it sends none.
fn chain_file(party: &Party, dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    match party.chain.as_slice() {
        [] => return Ok(None),
        // One file already is the chain: no copy (the tutorial's ca.crt).
        [one] => return Ok(Some(one.clone())),
        _ => {}
    }
    let mut bytes = Vec::new();
    for c in &party.chain {
        bytes.extend(crate::files::read_regular(c).map_err(unreadable)?);
    }
    let path = dir.join(name);
    scratch::write_new(&path, bytes)?;
    Ok(Some(path))
}

/// s_client's words: connect to the port, verify the server against the CA
/// and by its name, present the client's certificate if there is one.
fn s_client_args(port: u16, ca: &Path, client: Option<&Party>, host: &Host) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "s_client".into(),
        "-connect".into(),
        format!("127.0.0.1:{port}").into(),
        "-CAfile".into(),
        path_arg(ca),
        "-verify_return_error".into(),
        "-quiet".into(),
    ];
    match host {
        Host::Dns(name) => args.extend([
            "-servername".into(),
            name.into(),
            "-verify_hostname".into(),
            name.into(),
        ]),
        Host::Ip(ip) => args.extend(["-verify_ip".into(), ip.into()]),
    }
    if let Some(c) = client {
        args.extend([
            "-cert".into(),
            path_arg(&c.crt),
            "-key".into(),
            path_arg(&c.key),
        ]);
    }
    args
}

/// Runs s_client, sending PING; accepted when the reversed PING comes back,
/// refused (with its stderr) when it exits first or the deadline passes.
fn s_client_exchange(
    openssl: &Openssl,
    args: Vec<OsString>,
    logs: &Path,
    deadline: Instant,
) -> Result<(Outcome, String)> {
    let (client_out, client_err) = (logs.join("client.out"), logs.join("client.err"));
    let mut call = openssl.call(args, "handshake-client", CASE_TIMEOUT);
    call.stdin = Some(format!("{PING}\n").into_bytes());
    let client = call.spawn(&client_out, &client_err)?;
    // s_client -quiet keeps the connection open after stdin ends, so watch
    // its output for the answer rather than wait for it to exit.
    loop {
        let answer = read_log(&client_out);
        if answer.contains(&reversed(PING)) {
            return Ok((Outcome::Accepted, "payload sent and answered".to_string()));
        }
        signals::check()?;
        if client.exited() {
            let stderr = read_log(&client_err);
            return Ok((Outcome::Refused, stderr));
        }
        if Instant::now() >= deadline {
            return Ok((Outcome::Refused, "timed out".to_string()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What openssl has written so far to a log in the scratch directory
/// (through the guarded reader, as every file pkiforge reads).
fn read_log(path: &Path) -> String {
    crate::files::read_text(path).unwrap_or_default()
}

/// What each side said when a session was refused: its verify error
/// where openssl names one (why), else its last error (what it saw).
fn why_refused(server_log: &str, client_err: &str) -> String {
    let sides: Vec<String> = [("server", server_log), ("client", client_err)]
        .iter()
        .filter_map(|(side, log)| {
            let errors = verify_errors(log);
            let said = if errors.is_empty() {
                last_error(log)?
            } else {
                errors.join(", ")
            };
            Some(format!("{side}: {said}"))
        })
        .collect();
    if sides.is_empty() {
        "no reply".to_string()
    } else {
        sides.join("; ")
    }
}

/// Waits until s_server's stdout (a file) names the port it listens on
/// (`ACCEPT 127.0.0.1:PORT`); `None` if it exits or the deadline passes first.
fn accept_port(server: &Background, stdout: &Path, deadline: Instant) -> Result<Option<u16>> {
    loop {
        let text = read_log(stdout);
        let port = text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("ACCEPT ")
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok())
        });
        if port.is_some() {
            return Ok(port);
        }
        signals::check()?;
        if server.exited() || Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An I/O error of a rustls session; a refused certificate is named as
/// rustls names the error (`(rustls: Expired)`), which fixtures are judged by.
fn io_text(e: std::io::Error) -> String {
    let reason = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(certificate_error);
    match reason {
        Some(name) => format!("{e} (rustls: {name})"),
        None => e.to_string(),
    }
}

/// The name of the certificate error in a rustls error, without its context.
fn certificate_error(e: &rustls::Error) -> Option<&'static str> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return None;
    };
    Some(match c {
        C::Expired | C::ExpiredContext { .. } => "Expired",
        C::NotValidYet | C::NotValidYetContext { .. } => "NotValidYet",
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => "InvalidPurpose",
        C::NotValidForName | C::NotValidForNameContext { .. } => "NotValidForName",
        C::UnknownIssuer => "UnknownIssuer",
        C::BadSignature => "BadSignature",
        C::Revoked => "Revoked",
        _ => "Other",
    })
}

/// openssl's verify errors in a log (`verify error:num=10:certificate has
/// expired`), as `verify error 10: certificate has expired`.
fn verify_errors(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("verify error:num="))
        .filter_map(|rest| rest.split_once(':'))
        .map(|(code, text)| format!("verify error {code}: {text}"))
        .collect()
}

/// The bytes of a file of the PKI, through the guarded reader.
fn read_pem(path: &Path) -> Result<Vec<u8>> {
    crate::files::read_regular(path).map_err(unreadable)
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(&read_pem(path)?)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::BadInput(format!(
                "cannot read certificates from {}: {e}",
                path.display()
            ))
        })
}

fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    CertificateRevocationListDer::pem_slice_iter(&read_pem(path)?)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::BadInput(format!("cannot read the CRL {}: {e}", path.display())))
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(&read_pem(path)?).map_err(|e| {
        Error::BadInput(format!(
            "cannot read the private key {}: {e}",
            path.display()
        ))
    })
}

/// The same scenario with rustls on both ends: the server requires a client
/// certificate from the CA, the client checks the server's name; the client
/// sends PING and the server answers PONG.
fn rustls_case(
    trust: &Trust,
    server: &Party,
    client: Option<&Party>,
    host: &Host,
) -> Result<(Outcome, String)> {
    let (server_config, client_config) = match rustls_configs(trust, server, client)? {
        Ok(configs) => configs,
        Err(refused) => return Ok(refused),
    };
    let name = match host {
        Host::Dns(n) => ServerName::try_from(n.clone()),
        Host::Ip(ip) => ServerName::try_from(ip.clone()),
    }
    .map_err(|e| Error::Usage(format!("{}: {e}", host.as_str())))?;

    rustls_exchange(server_config, client_config, name)
}

type Configs = (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>);

/// The server's and the client's configurations; `Err` with the refusal
/// when rustls refuses a certificate or key as it loads them.
fn rustls_configs(
    trust: &Trust,
    server: &Party,
    client: Option<&Party>,
) -> Result<std::result::Result<Configs, (Outcome, String)>> {
    let ca = trust.ca.as_path();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots.add(cert).map_err(|e| {
            Error::BadInput(format!(
                "rustls refuses {} as a trust anchor: {e}",
                ca.display()
            ))
        })?;
    }
    let roots = Arc::new(roots);
    // Each side checks the other's certificate against the CA's CRL: the
    // leaf only, as openssl's -crl_check (the CRL is its issuer's).
    let crls = match &trust.crl {
        Some(crl) => load_crls(crl)?,
        None => Vec::new(),
    };
    let server_config = match rustls_server(ca, server, &roots, &crls, &provider)? {
        Ok(c) => c,
        Err(e) => return Ok(Err((Outcome::Refused, format!("server: {e}")))),
    };
    let client_config = match rustls_client(client, roots, crls, provider)? {
        Ok(c) => c,
        Err(e) => return Ok(Err((Outcome::Refused, format!("client: {e}")))),
    };
    Ok(Ok((server_config, client_config)))
}

type Provider = Arc<rustls::crypto::CryptoProvider>;

/// The server's rustls configuration: its certificate and chain (the CA
/// when it names none), requiring a client certificate from the CA; `Err`
/// with what rustls refused.
fn rustls_server(
    ca: &Path,
    server: &Party,
    roots: &Arc<rustls::RootCertStore>,
    crls: &[CertificateRevocationListDer<'static>],
    provider: &Provider,
) -> Result<std::result::Result<Arc<rustls::ServerConfig>, String>> {
    let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    );
    if !crls.is_empty() {
        verifier = verifier
            .with_crls(crls.to_vec())
            .only_check_end_entity_revocation();
    }
    let verifier = match verifier.build() {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let mut chain = load_certs(&server.crt)?;
    if server.chain.is_empty() {
        chain.extend(load_certs(ca)?);
    }
    for c in &server.chain {
        chain.extend(load_certs(c)?);
    }
    Ok(
        rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Usage(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, load_key(&server.key)?)
            .map(Arc::new)
            .map_err(|e| e.to_string()),
    )
}

/// The client's rustls configuration: it checks the server against the
/// CA, and presents its certificate and chain if it has one.
fn rustls_client(
    client: Option<&Party>,
    roots: Arc<rustls::RootCertStore>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    provider: Provider,
) -> Result<std::result::Result<Arc<rustls::ClientConfig>, String>> {
    let mut verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone());
    if !crls.is_empty() {
        verifier = verifier.with_crls(crls).only_check_end_entity_revocation();
    }
    let verifier = match verifier.build() {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(e.to_string()))?
        .with_webpki_verifier(verifier);
    let config = match client {
        Some(c) => {
            let mut certs = load_certs(&c.crt)?;
            for link in &c.chain {
                certs.extend(load_certs(link)?);
            }
            builder.with_client_auth_cert(certs, load_key(&c.key)?)
        }
        None => Ok(builder.with_no_client_auth()),
    };
    Ok(config.map(Arc::new).map_err(|e| e.to_string()))
}

/// A rustls server thread and client on a loopback port, exchanging a line
/// each way.
fn rustls_exchange(
    server_config: Arc<rustls::ServerConfig>,
    client_config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
) -> Result<(Outcome, String)> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("cannot listen on 127.0.0.1", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("cannot read the listening address", e))?;
    let server_thread = std::thread::spawn(move || -> std::result::Result<String, String> {
        let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(CASE_TIMEOUT))
            .map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(CASE_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let conn = rustls::ServerConnection::new(server_config).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut line = String::new();
        BufReader::new(&mut tls)
            .read_line(&mut line)
            .map_err(io_text)?;
        tls.write_all(format!("{PONG}\n").as_bytes())
            .map_err(io_text)?;
        tls.conn.send_close_notify();
        let _ = tls.flush();
        Ok(line.trim_end().to_string())
    });

    let client_result = (|| -> std::result::Result<String, String> {
        let tcp = TcpStream::connect_timeout(&addr, CASE_TIMEOUT).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(CASE_TIMEOUT))
            .map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(CASE_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let conn = rustls::ClientConnection::new(client_config, name).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(format!("{PING}\n").as_bytes())
            .map_err(io_text)?;
        tls.flush().map_err(io_text)?;
        let mut line = String::new();
        BufReader::new(&mut tls)
            .read_line(&mut line)
            .map_err(io_text)?;
        Ok(line.trim_end().to_string())
    })();
    let server_result = server_thread
        .join()
        .unwrap_or_else(|_| Err("the server thread failed".into()));
    match (client_result, server_result) {
        (Ok(reply), Ok(got)) if reply == PONG && got == PING => {
            Ok((Outcome::Accepted, "payload sent and answered".into()))
        }
        (Err(e), Err(s)) => Ok((Outcome::Refused, format!("server: {s}; client: {e}"))),
        (_, Err(s)) => Ok((Outcome::Refused, format!("server: {s}"))),
        (Err(e), _) => Ok((Outcome::Refused, format!("client: {e}"))),
        (Ok(reply), Ok(got)) => Ok((
            Outcome::Refused,
            format!("unexpected exchange: sent {got:?}, got {reply:?}"),
        )),
    }
}
