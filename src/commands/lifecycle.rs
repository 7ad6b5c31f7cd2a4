//! `pkiforge renew`, `revoke` and `crl`: plan from what DIR holds, then run
//! it as `run` does (under DIR's lock, in private staging, checked, and
//! published all or nothing), or print it with `--dry-run`.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::files;
use crate::pki::profile::P12;
use crate::pki::read::{Known, Pki};
use crate::plan::Plan;
use crate::plan::lifecycle::{self, Entities, Renewal};
use crate::plan::prompts::PromptLayout;
use crate::plan::step::P12_PASSWORD_VAR;
use crate::run::openssl::Openssl;
use crate::run::progress::Progress;
use crate::run::publish::OutDir;
use crate::run::runner::{RunOptions, Runner};

/// Where and how a lifecycle operation runs.
pub struct Operation<'a> {
    pub dir: &'a Path,
    pub dry_run: bool,
    pub timeout: Duration,
    pub openssl: Option<&'a Path>,
    pub progress: Progress,
}

impl<'a> Operation<'a> {
    /// An operation on `dir` with the global options.
    pub fn new(dir: &'a Path, dry_run: bool, global: &'a crate::cli::Global) -> Operation<'a> {
        Operation {
            dir,
            dry_run,
            timeout: Duration::from_secs(global.timeout),
            openssl: global.openssl.as_deref(),
            progress: Progress::for_stderr(global.quiet),
        }
    }
}

/// `renew DIR NAME…`.
pub fn renew(op: &Operation, renewal: &Renewal) -> Result<String> {
    execute(op, "renewed in", |pki, openssl| {
        let renews_ca = renewal.names.contains(&pki.ca.files.name);
        let prompts = if renews_ca || renewal.rekey {
            openssl.require_addext()?;
            Some(crate::run::prompts::read_layout(openssl)?)
        } else {
            None
        };
        let kinds = p12_kinds(pki, renewal.names, openssl)?;
        let p12_of = |k: &Known| {
            kinds
                .iter()
                .find(|(name, _)| *name == k.files.name)
                .map_or(P12::No, |(_, kind)| *kind)
        };
        let has_p12 = kinds.iter().any(|(_, k)| *k != P12::No);
        let caps = openssl.capabilities(has_p12)?;
        let layout = match &prompts {
            Some(p) => p.clone(),
            None => PromptLayout::empty(),
        };
        let plan = lifecycle::renew_plan(pki, renewal, &layout, caps, &p12_of)?;
        Ok((plan, prompts))
    })
}

/// `revoke DIR NAME --reason R`.
pub fn revoke(op: &Operation, name: &str, reason: &str) -> Result<String> {
    execute(op, "revoked in", |pki, openssl| {
        let caps = openssl.capabilities(false)?;
        let plan = lifecycle::revoke_plan(pki, name, reason, caps)?;
        Ok((plan, None))
    })
}

/// `crl DIR --days N`.
pub fn crl(op: &Operation, days: u32) -> Result<String> {
    execute(op, "issued in", |pki, openssl| {
        let caps = openssl.capabilities(false)?;
        Ok((lifecycle::crl_plan(pki, days, caps), None))
    })
}

/// Locks DIR (unless `--dry-run`), reads it, plans, and runs the plan.
fn execute(
    op: &Operation,
    done: &str,
    make_plan: impl FnOnce(&Entities, &mut Openssl) -> Result<(Plan, Option<PromptLayout>)>,
) -> Result<String> {
    if !op.dir.is_dir() {
        return Err(Error::BadInput(format!(
            "{} is not a directory; give the directory a run wrote, e.g. pki/localhost",
            op.dir.display()
        )));
    }
    let mut out = if op.dry_run {
        None
    } else {
        let out = OutDir::lock(op.dir, &op.progress)?;
        for line in out.clean_stale()? {
            op.progress.say(&format!("note: {line}"));
        }
        Some(out)
    };
    let pki = Entities::of(&Pki::read(op.dir))?;
    let mut openssl = Openssl::locate(op.openssl, op.timeout)?;
    let (plan, prompts) = make_plan(&pki, &mut openssl)?;
    let Some(out) = out.as_mut() else {
        return Ok(plan.to_string());
    };
    check_ca_key(&pki)?;
    let mut inputs = plan
        .staging_inputs(|f| files::is_regular(&op.dir.join(f)))
        .map_err(|missing| {
            let names: Vec<String> = missing.iter().map(|f| f.display().to_string()).collect();
            Error::BadInput(format!("{} has no {}", op.dir.display(), names.join(", ")))
        })?;
    let p12_password = super::p12_password(&plan)?;
    let runner = Runner {
        openssl: &openssl,
        progress: &op.progress,
        p12_password,
        pause: false,
        jobs: crate::run::runner::default_jobs(),
        judge: &crate::check::verify::Verifier,
    };
    let transcript = super::transcript(&openssl, prompts.as_ref(), op.dir, false);
    if transcript.append {
        inputs.push(PathBuf::from(crate::pki::names::TRANSCRIPT));
    }
    let opts = RunOptions {
        force: true,
        timeout: op.timeout,
        inputs,
        root: None,
        transcript: Some(transcript),
        replaced: Vec::new(),
    };
    let report = runner.run(&plan, &opts, out, None)?;
    let mut text = super::render(&report, done);
    if !plan.removes.is_empty() {
        let gone: Vec<String> = plan
            .removes
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        let _ = writeln!(text, "moved to the archive: {}", gone.join(" "));
    }
    Ok(text)
}

/// Every lifecycle operation signs with the CA's key: refused, like `run
/// --add`, when others can read it.
fn check_ca_key(pki: &Entities) -> Result<()> {
    let key = pki.dir.join(pki.ca.files.key());
    if !key.is_file() {
        return Err(Error::BadInput(format!(
            "{} has no {}: the CA's key signs what this does",
            pki.dir.display(),
            pki.ca.files.key()
        )));
    }
    super::private_ca_key(&key)
}

/// Each leaf's PKCS#12 bundle kind: none, or legacy when its MAC is SHA-1
/// (what `p12 = "legacy"` made), else the current one. Asked of openssl
/// (`pkcs12 -info`), with the password, only for the leaves being renewed
/// that have one.
fn p12_kinds(pki: &Entities, names: &[String], openssl: &Openssl) -> Result<Vec<(String, P12)>> {
    let mut kinds = Vec::new();
    for leaf in pki.leaves.iter().filter(|l| names.contains(&l.files.name)) {
        let p12 = leaf.files.p12();
        if !pki.dir.join(&p12).is_file() {
            continue;
        }
        let Some(password) = super::p12_password_from_env() else {
            return Err(Error::Usage(format!(
                "{p12} is a PKCS#12 bundle, which renew writes again: set {P12_PASSWORD_VAR} to its password"
            )));
        };
        let args: Vec<OsString> = ["pkcs12", "-info", "-noout", "-passin"]
            .into_iter()
            .map(OsString::from)
            .chain([
                OsString::from(format!("env:{P12_PASSWORD_VAR}")),
                "-in".into(),
                PathBuf::from(crate::plan::step::file_arg(&p12)).into(),
            ])
            .collect();
        let mut call = openssl.call(args, "probe", openssl.timeout);
        call.dir = Some(pki.dir.to_path_buf());
        call.env.push((P12_PASSWORD_VAR.into(), password.into()));
        let done = call.run()?;
        let said = format!("{}{}", done.stdout_text(), done.stderr_text());
        let kind = if said.contains("MAC: sha1") {
            P12::Legacy
        } else {
            P12::Modern
        };
        kinds.push((leaf.files.name.clone(), kind));
    }
    Ok(kinds)
}
