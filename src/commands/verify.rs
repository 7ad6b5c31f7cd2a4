//! `pkiforge verify DIR [--profile PROFILE]`: every check, one line each.

use std::path::Path;
use std::time::Duration;

use super::{Context, Outcome};
use crate::cli::VerifyArgs;
use crate::error::{Result, render_check};
use crate::pki::profile::{self, P12};
use crate::pki::read::Pki;
use crate::plan::{self, CheckSpec};
use crate::run::openssl::Openssl;
use crate::run::progress::Progress;
use crate::run::publish::ReadLock;
use crate::run::runner::{self, Runner};

/// `verify DIR [--profile PROFILE]`.
pub fn command(ctx: &Context, args: VerifyArgs) -> Result<Outcome> {
    let progress = ctx.progress();
    verify(
        &args.dir,
        args.profile.as_deref(),
        (args.online, args.jobs.unwrap_or_else(runner::default_jobs)),
        ctx.openssl(),
        ctx.timeout,
        &progress,
    )
}

fn verify(
    dir: &Path,
    profile: Option<&Path>,
    (online, jobs): (bool, usize),
    openssl_flag: Option<&Path>,
    timeout: Duration,
    progress: &Progress,
) -> Result<String> {
    // Never while a run writes DIR, nor after one killed part way.
    let _lock = ReadLock::take(dir, progress)?;
    let spec = match profile {
        Some(path) => CheckSpec::for_profile(&profile::load(path)?),
        None => CheckSpec::read_back(&Pki::read(dir))?,
    };
    let openssl = Openssl::locate(openssl_flag, timeout)?;
    let p12 = spec.leaves.iter().any(|l| l.p12 != P12::No);
    let caps = openssl.capabilities(p12)?;
    let runner = Runner {
        openssl: &openssl,
        progress: &Progress::Quiet,
        p12_password: if p12 {
            super::p12_password_from_env()
        } else {
            None
        },
        pause: false,
        jobs,
        judge: &crate::check::verify::Verifier,
    };
    let mut checks = plan::checks(&spec, caps);
    if online {
        checks.extend(online_checks(dir, &spec)?);
    }
    let outcomes = runner.run_checks(&checks, dir, timeout)?;
    let mut text = String::new();
    for outcome in &outcomes {
        let reason = outcome.result.as_ref().err().map(ToString::to_string);
        text.push_str(&render_check(
            "",
            &outcome.step.to_string(),
            reason.as_deref(),
        ));
        // What a fixture was refused for.
        let refusal = matches!(
            outcome.step.expect,
            Some(crate::plan::step::Expect::Refused(_))
        );
        if let (Ok(lines), true) = (&outcome.result, refusal) {
            for line in lines {
                text.push_str(&format!("       {line}\n"));
            }
        }
    }
    let failed = outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.step.id.clone())
        .collect();
    super::conclude(text, "checks", "passed", outcomes.len(), failed)
}

/// `--online`: the checks of each leaf through the revocation pointers its
/// certificate carries; none at all is bad input.
fn online_checks(dir: &Path, spec: &CheckSpec) -> Result<Vec<crate::plan::step::Step>> {
    use crate::pki::pointers::HttpUrl;
    use crate::plan::revocation::Online;
    let pki = Pki::read(dir);
    let mut leaves = Vec::new();
    for leaf in &spec.leaves {
        let files = leaf.files();
        let info = pki
            .certificate(&files.crt())
            .map_err(|e| crate::error::Error::BadInput(e.to_string()))?;
        let ocsp = info
            .ocsp_urls
            .iter()
            .find(|u| HttpUrl::parse(u).is_ok())
            .cloned();
        let crl = info.crl_urls.iter().find(|u| HttpUrl::parse(u).is_ok());
        if crl.is_some() || ocsp.is_some() {
            leaves.push(Online {
                leaf: files,
                crl: crl.is_some(),
                urls: crl.into_iter().chain(&ocsp).cloned().collect(),
                ocsp,
            });
        }
    }
    if let Some(url) = unanswered(&leaves) {
        return Err(crate::error::Error::BadInput(format!(
            "--online: nothing answers at {url}, where the leaves of {} point for their CRL or OCSP (openssl verify -crl_download would retry without end); start `pkiforge serve {}` in another terminal, then try again",
            dir.display(),
            dir.display()
        )));
    }
    if leaves.is_empty() {
        return Err(crate::error::Error::Usage(format!(
            "--online: no leaf of {} names a CRL distribution point or an OCSP responder; give [ca] crl_url and ocsp_url in the profile and make the PKI again (docs/revocation.md)",
            dir.display()
        )));
    }
    Ok(crate::plan::revocation::online_checks(spec, &leaves))
}

/// The first pointer of `leaves` at whose address nothing accepts a
/// connection within a few seconds.
fn unanswered(leaves: &[crate::plan::revocation::Online]) -> Option<String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let urls = leaves.iter().flat_map(|o| o.urls.iter());
    for url in urls {
        let Ok(parsed) = crate::pki::pointers::HttpUrl::parse(url) else {
            continue;
        };
        let answers = (parsed.host.as_str(), parsed.port)
            .to_socket_addrs()
            .into_iter()
            .flatten()
            .any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).is_ok());
        if !answers {
            return Some(url.clone());
        }
    }
    None
}
