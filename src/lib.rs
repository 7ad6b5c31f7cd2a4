//! pkiforge: a mutual-TLS PKI from a TOML profile, made with exactly the
//! commands of the tutorial (../shared/tutorial.md).
//!
//! Profile (TOML, validated) -> Plan (pure data) -> Runner -> Verify.

// An error is made at most once per run, on the way out; carrying its data
// inline (step, command, stderr) keeps the variants plain to match on.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod config;
pub mod error;
pub mod handshake;
pub mod inspect;
pub mod lint;
pub mod openssl;
pub mod plan;
pub mod profile;
pub mod progress;
pub mod prompts;
pub mod runner;
pub mod step;
pub mod verify;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cli::{Cli, Command};
use error::{Error, Result};
use openssl::Openssl;
use plan::Plan;
use progress::Progress;
use prompts::PromptLayout;
use runner::{RunOptions, Runner, Signals};
use step::Action;

/// Runs the command line; returns what to print on stdout.
pub fn run(cli: Cli) -> Result<String> {
    let progress = Progress::for_stderr(cli.global.quiet);
    let openssl_flag = cli.global.openssl.as_deref();
    match cli.command {
        Command::Plan { profile, answers } => {
            let (plan, layout) = plan_for(&profile, openssl_flag)?;
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
            timeout,
        } => {
            let signals = Signals::install()?;
            let (plan, _) = plan_for(&profile, openssl_flag)?;
            let openssl = Openssl::locate(openssl_flag)?;
            let out = out.unwrap_or_else(|| default_out(&profile));
            progress.say(&format!(
                "pkiforge: {} ({}), writing {}",
                openssl.version,
                openssl.path.display(),
                out.display()
            ));
            let runner = Runner {
                openssl: &openssl,
                progress: &progress,
                signals: &signals,
            };
            let opts = RunOptions {
                out,
                force,
                timeout: Duration::from_secs(timeout),
            };
            let report = runner.run(&plan, &opts)?;
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
        Command::Handshake { dir } => handshake(&dir, openssl_flag),
        Command::Inspect { dir } => {
            let certs = inspect::certificates(&dir).map_err(Error::Usage)?;
            Ok(inspect::render(&certs, now()))
        }
        Command::Lint { dir, deny_warnings } => {
            let certs = inspect::certificates(&dir).map_err(Error::Usage)?;
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
                print!("{text}");
                let failing = findings
                    .iter()
                    .filter(|f| deny_warnings || f.severity == lint::Severity::Error)
                    .map(|f| format!("{} {}", f.file, f.rule))
                    .collect();
                return Err(Error::Lint { findings: failing });
            }
            Ok(text)
        }
        Command::Verify { dir, profile } => {
            let signals = Signals::install()?;
            let spec = match &profile {
                Some(path) => plan::CheckSpec::for_profile(&profile::load(path)?),
                None => verify::discover(&dir).map_err(Error::Usage)?,
            };
            let openssl = Openssl::locate(openssl_flag)?;
            let runner = Runner {
                openssl: &openssl,
                progress: &Progress::Quiet,
                signals: &signals,
            };
            let outcomes =
                runner.run_checks(&plan::checks(&spec), &dir, runner::DEFAULT_TIMEOUT)?;
            let mut text = String::new();
            for outcome in &outcomes {
                match &outcome.result {
                    Ok(_) => {
                        let _ = writeln!(text, "ok   {}{}", outcome.step, explain(&outcome.step));
                    }
                    Err(e) => {
                        let _ = writeln!(text, "FAIL {}{}", outcome.step, explain(&outcome.step));
                        for line in e.to_string().lines() {
                            let _ = writeln!(text, "       {line}");
                        }
                    }
                }
            }
            let failed: Vec<String> = outcomes
                .iter()
                .filter(|o| o.result.is_err())
                .map(|o| o.step.id.clone())
                .collect();
            if failed.is_empty() {
                let _ = writeln!(text, "all {} checks passed", outcomes.len());
                Ok(text)
            } else {
                print!("{text}");
                Err(Error::ChecksFailed {
                    what: "checks",
                    total: outcomes.len(),
                    failed,
                })
            }
        }
    }
}

/// Seconds since the Unix epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Runs the handshake cases and reports one line each.
fn handshake(dir: &Path, openssl_flag: Option<&Path>) -> Result<String> {
    let spec = verify::discover(dir).map_err(Error::Usage)?;
    let openssl = Openssl::locate(openssl_flag)?;
    let cases = handshake::run(&openssl, dir, &spec)?;
    let mut text = String::new();
    for case in &cases {
        let _ = writeln!(text, "{case}");
    }
    let failed: Vec<String> = cases
        .iter()
        .filter(|c| !c.passed())
        .map(|c| format!("{} {}", c.stack, c.name))
        .collect();
    if failed.is_empty() {
        let _ = writeln!(text, "all {} handshakes went as expected", cases.len());
        Ok(text)
    } else {
        print!("{text}");
        Err(Error::ChecksFailed {
            what: "handshakes",
            total: cases.len(),
            failed,
        })
    }
}

/// What an openssl check compares its output with, when the command alone does not say.
fn explain(step: &step::Step) -> String {
    match &step.expect {
        Some(step::Expect::PublicKeyOf(crt)) => format!("  (the public key of {})", crt.display()),
        _ => String::new(),
    }
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
fn plan_for(profile: &Path, openssl_flag: Option<&Path>) -> Result<(Plan, PromptLayout)> {
    let profile = profile::load(profile)?;
    let openssl = Openssl::locate(openssl_flag)?;
    let layout = PromptLayout::read(&openssl)?;
    let plan = plan::build(&profile, &layout)?;
    Ok((plan, layout))
}

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
