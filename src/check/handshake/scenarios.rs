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
use crate::plan::{CheckSpec, LeafSpec};

use super::case::{Host, Outcome, Party, Security, Trust, unreadable};
use super::ocsp::Responder;

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
    /// runs through a CA of its own, which has none, or a client asked
    /// about through OCSP instead).
    pub without_crl: bool,
    /// The OCSP answer the server staples, which the client must find good.
    pub staple: Option<&'a Path>,
    /// Whether the server asks the CA's OCSP responder about the client.
    pub ask_about_client: bool,
}

/// The parties of the PKI in a directory, and what its servers trust.
pub struct Parties {
    pub trust: Trust,
    pub pairs: Vec<Pair>,
    pub revoked: Vec<Party>,
    pub fixtures: Vec<FixtureParty>,
    /// The intermediate, when its key is here to sign a certificate on the spot.
    pub signer: Option<Party>,
    /// The CA that signs the leaves, as an OCSP responder, when the
    /// server's certificate names one and its database and key are here.
    pub ocsp: Option<Responder>,
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
            ocsp: responder_of(dir, spec, &trust.ca),
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
        let ocsp: Vec<PathBuf> = self.ocsp.iter().flat_map(|r| r.files()).collect();
        let files = files.chain(&ocsp);
        for file in files.chain([&self.trust.ca]).chain(&self.trust.crl) {
            crate::files::require_regular(file).map_err(unreadable)?;
        }
        Ok(())
    }
}

/// The CA that signs the leaves as an OCSP responder: when the first
/// server's certificate names a responder (AIA), and the CA's database and
/// key are in `dir` to answer as `pkiforge serve` would.
fn responder_of(dir: &Path, spec: &CheckSpec, ca: &Path) -> Option<Responder> {
    let server = spec.leaves.iter().find(|l| l.role == Role::Server)?;
    let der = crate::pki::x509::read_certificate(&dir.join(server.files().crt())).ok()?;
    let info = crate::pki::x509::cert_info(&der, "").ok()?;
    let issuer = spec.issuer_files();
    let signer = crate::run::serve::ocsp::signer_of(dir, &issuer);
    let here = [issuer.index(), signer.key()]
        .iter()
        .all(|f| present(&dir.join(f)));
    (!info.ocsp_urls.is_empty() && here).then(|| Responder {
        dir: dir.to_path_buf(),
        issuer,
        ca: ca.to_path_buf(),
    })
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

/// The scenarios each server meets once: every revoked client (refused
/// through the CRL, and again through OCSP when the CA answers it), the
/// server stapling its OCSP answer, and a server certificate made outside
/// the intermediate's constraints.
pub fn once_per_server<'a>(
    stack: &str,
    (srv, cli, host): (&Party, &'a Party, &Host),
    revoked: &'a [Party],
    outside: Option<(&'a Party, &str)>,
    staple: Option<&'a Path>,
) -> Vec<Scenario<'a>> {
    let base = |name: String, client: &'a Party, expected| Scenario {
        name,
        client: Some(client),
        host: host.clone(),
        expected,
        server: None,
        reasons: Vec::new(),
        security: None,
        without_crl: false,
        staple: None,
        ask_about_client: false,
    };
    let mut all: Vec<Scenario<'a>> = Vec::new();
    if staple.is_some() {
        all.push(asked_through_ocsp(stack, base, srv, (cli, "good")));
    }
    for r in revoked {
        let name = format!("{} with {}, revoked in the CRL", srv.label, r.label);
        all.push(base(name, r, Outcome::Refused));
        if staple.is_some() {
            all.push(asked_through_ocsp(stack, base, srv, (r, "revoked")));
        }
    }
    all.extend(staple.map(|staple| Scenario {
        staple: Some(staple),
        ..base(
            format!(
                "{} stapling its OCSP answer, with {} as {}",
                srv.label,
                cli.label,
                host.as_str()
            ),
            cli,
            Outcome::Accepted,
        )
    }));
    all.extend(outside.map(|(outside, name)| Scenario {
        host: Host::Dns(name.into()),
        server: Some(outside),
        ..base(
            format!("{} as {name}", outside.label),
            cli,
            Outcome::Refused,
        )
    }));
    all
}

/// A client, good or revoked, with a server that asks the CA's OCSP
/// responder about it and has no CRL: it must accept the good one and
/// refuse the revoked one. With rustls, whose verifier pkiforge wraps to
/// ask; s_server cannot ask.
fn asked_through_ocsp<'a>(
    stack: &str,
    base: impl Fn(String, &'a Party, Outcome) -> Scenario<'a>,
    srv: &Party,
    (client, status): (&'a Party, &str),
) -> Scenario<'a> {
    let name = format!(
        "{} asking OCSP (no CRL), with {}, {status}",
        srv.label, client.label
    );
    let (expected, reasons) = match (stack, status) {
        ("openssl", _) => (Outcome::Untried, vec![S_SERVER_ASKS_NO_OCSP.to_string()]),
        (_, "good") => (Outcome::Accepted, Vec::new()),
        _ => (Outcome::Refused, vec!["(rustls: Revoked)".to_string()]),
    };
    Scenario {
        reasons,
        without_crl: true,
        ask_about_client: true,
        ..base(name, client, expected)
    }
}

/// Why the openssl stack does not try a server that asks OCSP about clients.
const S_SERVER_ASKS_NO_OCSP: &str = "openssl s_server cannot ask OCSP about a client's certificate (nginx's ssl_ocsp can: docs/revocation.md)";

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
                staple: None,
                ask_about_client: false,
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
        staple: None,
        ask_about_client: false,
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
