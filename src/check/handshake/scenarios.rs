//! The scenarios of a handshake: which servers and clients of the PKI are
//! tried together (not n × m), the revoked clients in its archive, its
//! fixtures, and what must happen in each: the same for both TLS stacks,
//! but for the words a fixture must be refused in.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::pki::fixture::Kind;
use crate::pki::names;
use crate::pki::profile::Role;
use crate::pki::san::{San, SanKind};
use crate::pki::verdict::{Verdict, Verifier};
use crate::plan::handshake::OUTSIDE_HOST;
use crate::plan::{CheckSpec, LeafSpec};

use super::case::{Host, Outcome, Party, Security, Trust, unreadable};

/// A name no certificate of pkiforge's carries (.invalid is reserved, RFC 2606).
const WRONG_HOST: &str = "not-in-san.pkiforge.invalid";

/// One scenario: who connects, as which host, and what must happen.
#[derive(Clone)]
pub struct Scenario<'a> {
    pub name: String,
    pub client: Option<&'a Party>,
    pub host: Host,
    pub expected: Outcome,
    /// Another server than the pair's (a certificate made on the spot).
    pub server: Option<&'a Party>,
    /// What a fixture must be refused for (in this stack's words).
    pub reasons: Vec<String>,
    /// The security level a fixture is judged under (openssl only).
    pub security: Option<Security>,
    /// Whether the session leaves out the PKI's CRL (a fixture whose chain
    /// runs through a CA of its own, which has none).
    pub without_crl: bool,
}

/// The parties of the PKI in a directory, and what its servers trust.
pub struct Parties {
    pub trust: Trust,
    pub pairs: Vec<Pair>,
    pub revoked: Vec<Party>,
    pub fixtures: Vec<FixtureParty>,
    /// The intermediate, when its key is here to sign a certificate on the spot.
    pub signer: Option<Party>,
}

/// A server and a client of the PKI, and the name the client dials.
pub struct Pair {
    pub server_name: String,
    pub srv: Party,
    pub cli: Party,
    pub host: Host,
}

impl Parties {
    pub fn of(dir: &Path, spec: &CheckSpec) -> Result<Parties> {
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
    pub fn require_readable(&self) -> Result<()> {
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

/// The scenarios each server meets once: every revoked client, and a
/// server certificate made outside the intermediate's constraints.
pub fn once_per_server<'a>(
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
            security: None,
            without_crl: false,
        })
        .collect();
    all.extend(outside.map(|outside| Scenario {
        name: format!("{} as {OUTSIDE_HOST}", outside.label),
        client: Some(cli),
        host: Host::Dns(OUTSIDE_HOST.into()),
        expected: Outcome::Refused,
        server: Some(outside),
        reasons: Vec::new(),
        security: None,
        without_crl: false,
    }));
    all
}

/// A fixture as a party of a session: its kind, and the host its clients
/// dial when it is a server.
pub struct FixtureParty {
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
        // verifier meets the trap: an issuer name that is the real CA's. A
        // chain kind sends the chain its bundle holds (a client's without
        // the root); the others the profile's.
        let chain = match (fixture.kind, role) {
            (Kind::ForeignCa | Kind::SelfSigned, _) => Vec::new(),
            (kind, _) if kind.is_chain_kind() => {
                let root = spec.ca_files().crt();
                kind.bundle_chain(&files, &spec.chain())
                    .iter()
                    .map(|f| f.crt())
                    .filter(|c| role == Role::Server || *c != root)
                    .map(|c| dir.join(c))
                    .collect()
            }
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
/// first client: each as its stack is recorded to treat it (verdict.rs):
/// refused for its reason, accepted, or not tried (and why).
pub fn fixture_scenarios<'a>(
    stack: &str,
    fixtures: &'a [FixtureParty],
    srv: &Party,
    cli: &'a Party,
    host: &Host,
) -> Vec<Scenario<'a>> {
    fixtures
        .iter()
        .map(|f| {
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
            let (expected, reasons) = expected_of(stack, f);
            Scenario {
                name,
                client,
                host,
                expected,
                server,
                reasons,
                security: f.kind.security_level().map(|level| Security {
                    level,
                    presenter: f.role,
                }),
                without_crl: f.kind.checked_without_crl(),
            }
        })
        .collect()
}

/// What a fixture's case must come to with `stack`, and the words of the
/// reasons it must be refused for (a reason not to try it, when untried).
fn expected_of(stack: &str, f: &FixtureParty) -> (Outcome, Vec<String>) {
    let by = match stack {
        "openssl" => Verifier::OpensslTls,
        _ => Verifier::Rustls,
    };
    match f.kind.verdict(f.role, by) {
        Verdict::Accepts(_) => (Outcome::Accepted, Vec::new()),
        Verdict::Untried(why) => (Outcome::Untried, vec![why.to_string()]),
        Verdict::Refuses if stack == "openssl" => {
            let errors = f.kind.openssl_errors();
            let words = errors.iter().map(|e| format!("verify error {}:", e.code));
            (Outcome::Refused, words.collect())
        }
        Verdict::Refuses => {
            let names = f.kind.rustls_errors().iter();
            (
                Outcome::Refused,
                names.map(|e| format!("(rustls: {e})")).collect(),
            )
        }
    }
}

/// The clients in `archive/*/` that the CRL revokes and whose key is kept
/// with them: each must be refused.
fn revoked_clients(dir: &Path, trust: &Trust) -> Result<Vec<Party>> {
    let Some(crl) = &trust.crl else {
        return Ok(Vec::new());
    };
    let revoked = crate::pki::crl::crl(crl)?.revoked;
    let Ok(entries) = std::fs::read_dir(dir.join(names::ARCHIVE)) else {
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
                    label: names::archive(&serial)
                        .join(files.crt())
                        .display()
                        .to_string(),
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
pub fn scenarios<'a>(
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
        security: None,
        without_crl: false,
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
