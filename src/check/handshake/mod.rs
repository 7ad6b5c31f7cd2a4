//! `pkiforge handshake`: real mutual-TLS sessions on loopback, with
//! `openssl s_server`/`s_client` and again with rustls in-process, so the
//! proof does not rest on OpenSSL grading its own work.
//!
//! This file is the run: what is read of the PKI, the throwaway
//! certificates made, every scenario tried with each stack. It uses its
//! submodules, which never use it: `scenarios` (which pairs and fixtures
//! are tried, and what must happen), `openssl` (s_server and s_client,
//! through run/exec.rs) and `rustls` (the in-process handshake), all on
//! the leaf `case` (what one case is made of). The run's private directory
//! is `run::scratch`'s, re-exported here for the checks that share it.

use std::path::Path;

use crate::error::{Error, Result};
use crate::pki::names::Files;
use crate::pki::profile::Role;
use crate::plan::handshake::{self as handshake_plan, Signer};
use crate::plan::step::Step;
use crate::plan::{CheckSpec, Plan};
use crate::run::openssl::Openssl;
use crate::run::progress::Progress;
use crate::run::runner::Runner;

/// The signature checks of a certificate verifier wrapped around its
/// `inner` one (rustls's server and client verifier traits share them),
/// handed to it; after `self.NOTE(dss)` when a method is named.
macro_rules! signatures_by_inner {
    ($($note:ident)?) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> std::result::Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error>
        {
            $(self.$note(dss);)?
            self.inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> std::result::Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error>
        {
            $(self.$note(dss);)?
            self.inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<::rustls::SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

mod capture;
mod case;
mod ocsp;
mod openssl;
mod rustls;
mod scenarios;
pub use crate::run::scratch;

use self::ocsp::{OcspCase, Responder};
pub use self::openssl::accept_port;
use self::openssl::openssl_case;
pub use self::openssl::{last_error, verify_error_lines};
use self::rustls::rustls_case;
pub use capture::Tcpdump;
use case::{CASE_TIMEOUT, Extras, Party, TraceTo, Trust};
pub use case::{Case, Negotiated, Outcome, Shown, json};
use scenarios::{Pair, Parties, Scenario, fixture_scenarios, once_per_server, scenarios};
pub use scratch::{Scratch, remove_stale, write_new};

/// What the handshake reads of the PKI in `dir`, checked, and the steps
/// that make its throwaway certificates: the same for a run and a dry run.
fn prepare(dir: &Path, spec: &CheckSpec) -> Result<(Parties, Option<Signer>, Vec<Step>)> {
    let parties = Parties::of(dir, spec)?;
    parties.require_readable()?;
    let signer = match (&parties.signer, &spec.intermediate) {
        (Some(inter), Some(name)) => match outside_of(&inter.crt) {
            Some(host) => Some(Signer {
                name: name.clone(),
                dir: utf8_absolute(dir)?,
                host,
            }),
            None => None,
        },
        _ => None,
    };
    let steps = handshake_plan::steps(signer.as_ref());
    Ok((parties, signer, steps))
}

/// A name outside the constraints of the intermediate at `crt`, as its
/// certificate carries them; none when it keeps no DNS name out.
fn outside_of(crt: &Path) -> Option<String> {
    let der = crate::pki::x509::read_certificate(crt).ok()?;
    let info = crate::pki::x509::cert_info(&der, "").ok()?;
    let (permitted, excluded) = info.name_constraints().ok()?;
    handshake_plan::outside_host(&permitted, &excluded)
}

/// `handshake --dry-run`: the commands that make the throwaway
/// certificates, one a line as `plan` shows steps; nothing is started.
pub fn dry_run(dir: &Path, spec: &CheckSpec) -> Result<String> {
    let (_, _, steps) = prepare(dir, spec)?;
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

/// `handshake --trace`: where the traces go, and tcpdump when it may
/// record each session.
#[derive(Debug, Clone, Copy)]
pub struct Tracing<'a> {
    pub dir: &'a Path,
    pub tcpdump: Option<&'a Tcpdump>,
}

/// Runs every case for each server with each client found in `dir`, up
/// to `jobs` sessions at a time (each on ports of its own); the cases come
/// back in the same order whatever the jobs.
pub fn run(
    openssl: &Openssl,
    dir: &Path,
    spec: &CheckSpec,
    (jobs, trace): (usize, Option<Tracing>),
) -> Result<Vec<Case>> {
    // Each message by name where this openssl can (`-trace`), else in hex.
    let trace = match trace {
        Some(to)
            if openssl.help_lists("s_client", "-trace")?
                && openssl.help_lists("s_server", "-trace")? =>
        {
            Some((to, "-trace"))
        }
        Some(to) => Some((to, "-msg")),
        None => None,
    };
    let (parties, signer, steps) = prepare(dir, spec)?;
    // What killed handshakes left, then this run's own private directory.
    let temp = std::env::temp_dir();
    scratch::remove_stale(&temp);
    let scratch = Scratch::create_in(&temp)?;
    let (foreign, outside) = make_throwaways(openssl, &steps, &scratch, &parties, signer.as_ref())?;
    let outside = outside
        .as_ref()
        .zip(signer.as_ref().map(|s| s.host.as_str()));
    let session = Session {
        openssl,
        trust: &parties.trust,
        scratch: &scratch,
        responder: parties.ocsp.as_ref(),
        trace,
        post_quantum: Default::default(),
    };
    let staple_dir = scratch.case_dir()?;
    let staples = staples(openssl, &parties, staple_dir.path())?;
    let mut work: Vec<(&'static str, &Party, Scenario)> = Vec::new();
    let mut tried: Vec<&str> = Vec::new();
    for (pair, staple) in parties.pairs.iter().zip(&staples) {
        let Pair {
            server_name,
            srv,
            cli,
            host,
        } = pair;
        let first = !tried.contains(&server_name.as_str());
        // The same scenarios with each TLS stack, openssl's first.
        for stack in ["openssl", "rustls"] {
            let mut all = scenarios(srv, cli, &foreign, host).to_vec();
            // Revoked clients, stapling and the outside server once per
            // server, with its first client; the fixtures with the first pair.
            if first {
                all.extend(once_per_server(
                    stack,
                    (srv, cli, host),
                    &parties.revoked,
                    outside,
                    staple.as_deref(),
                ));
                if tried.is_empty() {
                    all.extend(fixture_scenarios(stack, &parties.fixtures, srv, cli, host));
                }
            }
            work.extend(all.into_iter().map(|sc| (stack, srv, sc)));
        }
        tried.push(server_name);
    }
    crate::run::schedule::in_order(work, jobs, |i, (stack, srv, sc)| {
        session.run_case(i, srv, stack, sc)
    })
}

/// Each pair's server's OCSP answer, when its CA answers OCSP, to staple:
/// made in `dir` once per server (its first pair), before any session.
fn staples(
    openssl: &Openssl,
    parties: &Parties,
    dir: &Path,
) -> Result<Vec<Option<std::path::PathBuf>>> {
    let mut staples = Vec::new();
    let mut tried: Vec<&str> = Vec::new();
    for (i, pair) in parties.pairs.iter().enumerate() {
        let first = !tried.contains(&pair.server_name.as_str());
        staples.push(match &parties.ocsp {
            Some(responder) if first => {
                let at = dir.join(format!("{i}"));
                std::fs::create_dir(&at)
                    .map_err(|e| Error::io("cannot make a staple's directory", e))?;
                let at = at.join(crate::pki::names::handshake::STAPLE);
                responder.answer(openssl, &pair.srv.crt, &at)?;
                Some(at)
            }
            _ => None,
        });
        tried.push(&pair.server_name);
    }
    Ok(staples)
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
    signer: Option<&Signer>,
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
    let outside = parties.signer.as_ref().zip(signer).map(|(inter, s)| Party {
        label: format!("{}'s certificate, outside the name constraints", s.host),
        ..made(handshake_plan::OUTSIDE, Role::Server).with_chain(&inter.chain)
    });
    Ok((foreign, outside))
}

/// What every session of a run shares.
struct Session<'a> {
    openssl: &'a Openssl,
    trust: &'a Trust,
    scratch: &'a Scratch,
    /// The CA's OCSP responder, when it answers.
    responder: Option<&'a Responder>,
    /// Where the openssl sessions' traces go, and the flag that makes
    /// each side print its messages (`handshake --trace`).
    trace: Option<(Tracing<'a>, &'static str)>,
    /// Whether each certificate file read so far has an ML-DSA key or
    /// signature.
    post_quantum: std::sync::Mutex<std::collections::BTreeMap<std::path::PathBuf, bool>>,
}

/// The file stem of case `index`'s trace: its number, then its name with
/// what is not a letter or a digit as `-` (`007-server-crt-with-alice-crt`).
fn trace_stem(index: usize, name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_matches('-').chars().take(80).collect();
    format!("{:03}-{}", index + 1, slug.trim_end_matches('-'))
}

impl Session<'_> {
    /// One scenario with one TLS stack, against `srv` unless it names its own server.
    fn run_case(
        &self,
        index: usize,
        srv: &Party,
        stack: &'static str,
        sc: Scenario,
    ) -> Result<Case> {
        let server = sc.server.unwrap_or(srv);
        let post_quantum = stack == "rustls" && self.post_quantum(server, sc.client);
        if sc.expected == Outcome::Untried || post_quantum {
            // Recorded as not tried with this stack: say why, start nothing.
            let why = match post_quantum {
                true => vec![RUSTLS_HAS_NO_ML_DSA.to_string()],
                false => sc.reasons,
            };
            return Ok(Case {
                stack,
                name: sc.name,
                expected: Outcome::Untried,
                got: Outcome::Untried,
                detail: why.join("; "),
                reasons: Vec::new(),
                negotiated: None,
                trace: None,
                pcap: None,
            });
        }
        let without = Trust {
            ca: self.trust.ca.clone(),
            crl: None,
        };
        let trust = if sc.without_crl { &without } else { self.trust };
        let ocsp = self.responder.map(|responder| OcspCase {
            openssl: self.openssl,
            responder,
            staple: sc.staple,
            ask_about_client: sc.ask_about_client,
        });
        let trace = self
            .trace
            .filter(|_| stack == "openssl")
            .map(|(to, flag)| TraceTo {
                dir: to.dir.to_path_buf(),
                stem: trace_stem(index, &sc.name),
                flag,
                name: sc.name.clone(),
                tcpdump: to.tcpdump.cloned(),
            });
        let stem = trace.as_ref().map(|t| t.stem.clone());
        let (got, detail, negotiated) = match stack {
            "openssl" => {
                let extras = Extras {
                    security: sc.security,
                    staple: sc.staple,
                    trace,
                };
                openssl_case(
                    self.openssl,
                    trust,
                    self.scratch,
                    (server, sc.client),
                    &sc.host,
                    &extras,
                )?
            }
            _ => rustls_case(trust, server, sc.client, &sc.host, ocsp, self.scratch)?,
        };
        Ok(Case {
            stack,
            name: sc.name,
            expected: sc.expected,
            got,
            detail,
            reasons: sc.reasons,
            negotiated,
            trace: stem,
            pcap: None,
        })
    }

    /// Whether a certificate of the session has an ML-DSA key or
    /// signature: the CA's, the server's or the client's, or one of their
    /// chains.
    /// Each file is read once a run (sessions share parties).
    fn post_quantum(&self, server: &Party, client: Option<&Party>) -> bool {
        let parties = std::iter::once(server).chain(client);
        let files = parties.flat_map(|p| std::iter::once(&p.crt).chain(&p.chain));
        let mut known = self.post_quantum.lock().unwrap_or_else(|p| p.into_inner());
        files.chain([&self.trust.ca]).any(|crt| {
            *known.entry(crt.clone()).or_insert_with(|| {
                let info = crate::pki::x509::read_certificate(crt)
                    .ok()
                    .and_then(|der| crate::pki::x509::cert_info(&der, "").ok());
                info.is_some_and(|i| {
                    matches!(i.key, crate::pki::x509::KeyInfo::MlDsa(_))
                        || crate::pki::x509::is_post_quantum_signature(&i.signature)
                })
            })
        })
    }
}

/// Why the rustls side of a session with ML-DSA certificates is not tried.
const RUSTLS_HAS_NO_ML_DSA: &str = "rustls (with ring, as built here) has no ML-DSA: it can neither sign with an ML-DSA key nor check an ML-DSA signature; openssl's session is the proof";
