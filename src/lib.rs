//! pkiforge: a mutual-TLS PKI from a TOML profile, made with exactly the
//! commands of the tutorial (../shared/tutorial.md).
//!
//! Profile (TOML, validated) -> Plan (pure data) -> Runner -> Verify.

pub mod cli;
pub mod config;
pub mod error;
pub mod exec;
pub mod files;
pub mod graph;
pub mod handshake;
pub mod inspect;
pub mod keys;
pub mod layout;
pub mod lint;
pub mod openssl;
pub mod output;
pub mod plan;
pub mod profile;
pub mod progress;
pub mod prompt;
pub mod prompts;
pub mod publish;
pub mod runner;
pub mod schedule;
pub mod shell;
pub mod signals;
pub mod step;
pub mod verify;
pub mod x509;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cli::{Cli, Command};
use error::{Error, Result};
use openssl::Openssl;
use plan::Plan;
use progress::Progress;
use prompts::PromptLayout;
use publish::OutDir;
use runner::{RunOptions, Runner};
use step::Action;

/// Runs the command line; returns what to print on stdout.
pub fn run(cli: Cli) -> Result<String> {
    signals::install()?;
    let progress = Progress::for_stderr(cli.global.quiet);
    let openssl_flag = cli.global.openssl.as_deref();
    let timeout = Duration::from_secs(cli.global.timeout);
    match cli.command {
        Command::Plan {
            profile,
            answers,
            only,
        } => {
            let (_, mut plan, layout, _) = plan_for(&profile, openssl_flag, timeout)?;
            if let Some(only) = only {
                plan = plan.only(only.section());
            }
            Ok(if answers {
                with_answers(&plan, &layout)
            } else {
                plan.to_string()
            })
        }
        Command::Run {
            profile,
            out,
            force,
            add,
            only,
            step,
            jobs,
        } => {
            let out = out.unwrap_or_else(|| default_out(&profile));
            let request = RunRequest {
                profile,
                out,
                force,
                timeout,
                add,
                only,
                pause: step,
                jobs: jobs.unwrap_or_else(runner::default_jobs),
            };
            let progress = if step { Progress::plain() } else { progress };
            run_profile(&request, openssl_flag, &progress)
        }
        Command::Init { path, force } => init(&path, force),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "pkiforge", &mut buf);
            Ok(String::from_utf8_lossy(&buf).into_owned())
        }
        Command::Handshake { dir } => handshake(&dir, openssl_flag, timeout),
        Command::Inspect { dir } => {
            let found = inspect::certificates(&dir).map_err(Error::Usage)?;
            let text = inspect::render(&found.certs, now());
            unreadable_fail(text, found.unreadable)
        }
        Command::Lint { dir, deny_warnings } => {
            let found = inspect::certificates(&dir).map_err(Error::Usage)?;
            let certs = found.certs;
            let findings = lint::lint(&certs, now());
            let mut text = String::new();
            for f in &findings {
                let _ = writeln!(text, "{f}");
            }
            let errors = findings
                .iter()
                .filter(|f| f.severity == lint::Severity::Error)
                .count();
            let warnings = findings.len() - errors;
            let _ = writeln!(
                text,
                "{errors} errors, {warnings} warnings in {} certificates",
                certs.len()
            );
            if errors > 0 || (deny_warnings && warnings > 0) {
                output::stdout(&text);
                let failing = findings
                    .iter()
                    .filter(|f| deny_warnings || f.severity == lint::Severity::Error)
                    .map(|f| format!("{} {}", f.file, f.rule))
                    .collect();
                if !found.unreadable.is_empty() {
                    return Err(Error::Unreadable {
                        files: found.unreadable,
                    });
                }
                return Err(Error::Lint { findings: failing });
            }
            unreadable_fail(text, found.unreadable)
        }
        Command::Verify { dir, profile } => {
            let spec = match &profile {
                Some(path) => plan::CheckSpec::for_profile(&profile::load(path)?),
                None => verify::discover(&dir).map_err(Error::Usage)?,
            };
            let openssl = Openssl::locate(openssl_flag, timeout)?;
            let p12 = spec.leaves.iter().any(|l| l.p12 != profile::P12::No);
            let caps = openssl.capabilities(p12)?;
            let runner = Runner {
                openssl: &openssl,
                progress: &Progress::Quiet,
                p12_password: if p12 { p12_password_from_env() } else { None },
                pause: false,
                jobs: runner::default_jobs(),
            };
            let outcomes = runner.run_checks(&plan::checks(&spec, caps), &dir, timeout)?;
            let mut text = String::new();
            for outcome in &outcomes {
                match &outcome.result {
                    Ok(_) => {
                        let _ = writeln!(text, "ok   {}", outcome.step);
                    }
                    Err(e) => {
                        let _ = writeln!(text, "FAIL {}", outcome.step);
                        for line in e.to_string().lines() {
                            let _ = writeln!(text, "       {line}");
                        }
                    }
                }
            }
            let failed = outcomes
                .iter()
                .filter(|o| o.result.is_err())
                .map(|o| o.step.id.clone())
                .collect();
            conclude(text, "checks", "passed", outcomes.len(), failed)
        }
    }
}

/// The report of `verify` or `handshake`: on success, with a closing line;
/// otherwise printed as it is, and an error naming what failed.
fn conclude(
    mut text: String,
    what: &'static str,
    verdict: &str,
    total: usize,
    failed: Vec<String>,
) -> Result<String> {
    if failed.is_empty() {
        let _ = writeln!(text, "all {total} {what} {verdict}");
        return Ok(text);
    }
    output::stdout(&text);
    Err(Error::ChecksFailed {
        what,
        total,
        failed,
    })
}

/// The report as it is, unless some files could not be read: then the
/// report is printed and the error names each of them.
fn unreadable_fail(text: String, unreadable: Vec<String>) -> Result<String> {
    if unreadable.is_empty() {
        return Ok(text);
    }
    output::stdout(&text);
    Err(Error::Unreadable { files: unreadable })
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs the handshake cases and reports one line each.
fn handshake(dir: &Path, openssl_flag: Option<&Path>, timeout: Duration) -> Result<String> {
    let spec = verify::discover(dir).map_err(Error::Usage)?;
    let openssl = Openssl::locate(openssl_flag, timeout)?;
    let cases = handshake::run(&openssl, dir, &spec)?;
    let mut text = String::new();
    for case in &cases {
        let _ = writeln!(text, "{case}");
    }
    let failed = cases
        .iter()
        .filter(|c| !c.passed())
        .map(|c| format!("{} {}", c.stack, c.name))
        .collect();
    conclude(text, "handshakes", "went as expected", cases.len(), failed)
}

/// The default output directory: `pki/<profile file stem>`.
pub fn default_out(profile: &Path) -> PathBuf {
    let stem = profile
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "profile".into());
    PathBuf::from("pki").join(stem)
}

/// Profile -> Plan, with the prompts of the openssl that will run.
fn plan_for(
    profile: &Path,
    openssl_flag: Option<&Path>,
    timeout: Duration,
) -> Result<(profile::Profile, Plan, PromptLayout, Openssl)> {
    let profile = profile::load(profile)?;
    let mut openssl = Openssl::locate(openssl_flag, timeout)?;
    openssl.require_addext()?;
    let layout = PromptLayout::read(&mut openssl)?;
    let plan = plan::build(&profile, &layout, openssl.capabilities(profile.has_p12())?)?;
    Ok((profile, plan, layout, openssl))
}

/// What `pkiforge run` was asked to do.
struct RunRequest {
    profile: PathBuf,
    out: PathBuf,
    force: bool,
    timeout: Duration,
    add: bool,
    only: Option<cli::Only>,
    pause: bool,
    jobs: usize,
}

fn run_profile(
    req: &RunRequest,
    openssl_flag: Option<&Path>,
    progress: &Progress,
) -> Result<String> {
    let (profile, mut plan, layout, openssl) = plan_for(&req.profile, openssl_flag, req.timeout)?;
    if let Some(only) = req.only {
        plan = plan.only(only.section());
    }
    // From here to the publish, DIR is this run's alone: what it holds is
    // read under the lock, so a second run sees what the first one wrote.
    let mut out = OutDir::lock(&req.out, progress)?;
    for line in out.clean_stale()? {
        progress.say(&format!("note: {line}"));
    }
    let mut ca_not_after = None;
    if req.add {
        ca_not_after = Some(check_ca_for_add(&profile, &req.out)?);
        let (rest, half) = plan.without_existing(|f| req.out.join(f).exists());
        if !half.is_empty() {
            return Err(Error::Usage(format!(
                "{} holds some but not all files of {}; remove them to issue those again",
                req.out.display(),
                half.join(", ")
            )));
        }
        plan = rest;
        if plan.steps.is_empty() {
            return Ok(format!(
                "nothing to add: every entity of {} is in {} already\n",
                req.profile.display(),
                req.out.display()
            ));
        }
    }
    let inputs = staging_inputs(&plan, req)?;
    let p12_password = p12_password(&plan)?;
    progress.say(&format!(
        "pkiforge: {} ({}), writing {}",
        openssl.version,
        openssl.path.display(),
        req.out.display()
    ));
    let makes_ca = plan.steps.iter().any(|s| s.entity == profile.ca.name);
    let mut notes = openssl.notes();
    if makes_ca {
        notes.extend(plan::warnings(&profile, &layout));
    }
    let issued: Vec<&String> = plan.steps.iter().map(|s| &s.entity).collect();
    notes.extend(
        plan::outlives_ca(&profile, ca_not_after, now())
            .into_iter()
            .filter(|w| {
                issued
                    .iter()
                    .any(|e| w.starts_with(&format!("warning: {e}.crt ")))
            }),
    );
    for note in notes {
        progress.say(&note);
    }
    let runner = Runner {
        openssl: &openssl,
        progress,
        p12_password,
        pause: req.pause,
        jobs: req.jobs,
    };
    let opts = RunOptions {
        force: req.force,
        timeout: req.timeout,
        inputs,
    };
    let report = runner.run(&plan, &opts, &mut out)?;
    let mut text = String::new();
    for line in &report.check_lines {
        let _ = writeln!(text, "{line}");
    }
    let _ = writeln!(text, "all {} checks passed", report.checks_passed);
    let names: Vec<String> = report
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let _ = writeln!(
        text,
        "PKI written to {}: {}",
        report.out.display(),
        names.join(" ")
    );
    Ok(text)
}

/// What the steps read but do not write must be in DIR (the CA, for --add
/// and --only server|client): those files, to copy into staging.
fn staging_inputs(plan: &Plan, req: &RunRequest) -> Result<Vec<PathBuf>> {
    plan.staging_inputs(|f| files::is_regular(&req.out.join(f)))
        .map_err(|missing| {
            let hint = if req.add {
                "--add reuses the CA in DIR"
            } else {
                "run --only ca first"
            };
            let names: Vec<String> = missing.iter().map(|f| f.display().to_string()).collect();
            Error::Usage(format!(
                "{} has no {}; {hint}",
                req.out.display(),
                names.join(", ")
            ))
        })
}

/// `--add` reuses the CA in DIR: it must be there, be the profile's, and
/// its key must be private. Returns the CA's not-after (Unix time).
fn check_ca_for_add(profile: &profile::Profile, out: &Path) -> Result<i64> {
    let crt = out.join(profile.ca.files().crt());
    if !crt.is_file() {
        return Err(Error::Usage(format!(
            "{} has no CA to add to; run without --add first",
            out.display()
        )));
    }
    let found = x509::read_subject(&crt).map_err(Error::Usage)?;
    let want = profile.ca.subject_fields();
    if !step::same_fields(&want, &found) {
        return Err(Error::Usage(format!(
            "{} is the CA {}, but the profile's [ca] says {}; --add issues with the CA in DIR, so they must agree",
            crt.display(),
            step::show_fields(&found),
            step::show_fields(&want)
        )));
    }
    let key = out.join(profile.ca.files().key());
    if let Ok(meta) = std::fs::metadata(&key) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Error::Usage(format!(
                "{} is mode {mode:04o}: other users can read the CA's private key, and so may have copied it. Run `chmod 600 {}` (and make a new CA if others had access), then try again",
                key.display(),
                key.display()
            )));
        }
    }
    let der = x509::read_certificates(&crt).map_err(Error::Usage)?;
    let not_after = der
        .first()
        .and_then(|d| {
            x509::parse_certificate(d)
                .ok()
                .map(|c| c.validity().not_after.timestamp())
        })
        .unwrap_or(i64::MAX);
    Ok(not_after)
}

/// The PKCS#12 password from PKIFORGE_P12_PASSWORD, if set.
fn p12_password_from_env() -> Option<String> {
    std::env::var(plan::P12_PASSWORD_VAR)
        .ok()
        .filter(|v| !v.is_empty())
}

/// The PKCS#12 password, for the steps that name its variable only: from
/// PKIFORGE_P12_PASSWORD, else asked on the terminal. It is never put on a
/// command line.
fn p12_password(plan: &Plan) -> Result<Option<String>> {
    if !plan.needs_p12_password() {
        return Ok(None);
    }
    if let Some(password) = p12_password_from_env() {
        return Ok(Some(password));
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "the profile asks for PKCS#12 bundles (p12), which need a password: set {} (it is never read from the profile, written to disk or shown)",
            plan::P12_PASSWORD_VAR
        )));
    }
    let first = prompt::password("PKCS#12 password: ")?;
    let again = prompt::password("again: ")?;
    if first != again {
        return Err(Error::Usage("the two passwords differ".into()));
    }
    if first.is_empty() {
        return Err(Error::Usage(
            "an empty PKCS#12 password protects nothing; give one".into(),
        ));
    }
    Ok(Some(first))
}

/// `pkiforge init`: a commented starter profile.
fn init(path: &Path, force: bool) -> Result<String> {
    if path.exists() && !force {
        return Err(Error::Usage(format!(
            "{} exists; choose another path or pass --force to overwrite it",
            path.display()
        )));
    }
    std::fs::write(path, STARTER_PROFILE)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
    Ok(format!(
        "wrote {p}; edit it, then: pkiforge plan {p} && pkiforge run {p}\n",
        p = path.display()
    ))
}

/// What `pkiforge init` writes.
pub const STARTER_PROFILE: &str = include_str!("../profiles/starter.toml");

/// The plan with, under each command that reads stdin, the prompts and the
/// answers typed at them as `#` comment lines.
fn with_answers(plan: &Plan, layout: &PromptLayout) -> String {
    let mut text = String::new();
    for step in &plan.steps {
        let _ = writeln!(text, "{step}");
        if let Action::Openssl { stdin, .. } = &step.action {
            let prompts = layout
                .dn
                .iter()
                .chain(&layout.attributes)
                .filter(|p| p.reads_stdin());
            for (prompt, answer) in prompts.zip(stdin) {
                let default = prompt.default.as_deref().unwrap_or("");
                let _ = writeln!(text, "#   {} [{default}]: {answer}", prompt.label);
            }
        }
    }
    text
}
