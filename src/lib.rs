//! pkiforge: a mutual-TLS PKI from a TOML profile, made with exactly the
//! commands of the tutorial (../shared/tutorial.md).
//!
//! Profile (TOML, validated) -> Plan (pure data) -> Runner -> Verify. See
//! ARCHITECTURE.md for the layers and what each module owns.

pub mod check;
pub mod cli;
pub mod commands;
pub mod error;
pub mod files;
pub mod output;
pub mod pki;
pub mod plan;
pub mod procs;
pub mod prompt;
pub mod run;
pub mod shell;
pub mod signals;
pub mod time;

use std::time::Duration;

use cli::{Cli, Command};
use commands::lifecycle::Operation;
use commands::run::RunRequest;
use error::{Error, Result};
use run::progress::Progress;

pub use commands::init::STARTER_PROFILE;
pub use commands::run::default_out;

/// Runs the command line; returns what to print on stdout.
pub fn run(cli: Cli) -> Result<String> {
    signals::install()?;
    let global = &cli.global;
    let openssl = global.openssl.as_deref();
    let timeout = Duration::from_secs(global.timeout);
    let op = |dir, dry_run| Operation::new(dir, dry_run, global);
    // Where a read-only command says it waits for a run, or put back what
    // a killed one left.
    let notes = || Progress::for_stderr(global.quiet);
    match cli.command {
        Command::Plan {
            profile,
            answers,
            only,
        } => commands::plan::plan(&profile, answers, only, openssl, timeout),
        cmd @ Command::Run { .. } => run_command(cmd, global),
        Command::Verify { dir, profile } => {
            commands::verify::verify(&dir, profile.as_deref(), openssl, timeout, &notes())
        }
        Command::Handshake { dir, dry_run } => {
            commands::handshake::handshake(&dir, dry_run, openssl, timeout, &notes())
        }
        Command::Inspect { dir, json } => commands::inspect::inspect(&dir, json, &notes()),
        cmd @ Command::Export { .. } => export_command(cmd, global),
        Command::Report { dir, out } => {
            commands::report::report(&dir, out.as_deref(), &Progress::for_stderr(global.quiet))
        }
        Command::Lint {
            dir,
            deny_warnings,
            json,
        } => commands::lint::lint(&dir, deny_warnings, json, &notes()),
        Command::Status { dir, within, json } => {
            commands::status::status(&dir, within, json, &notes())
        }
        Command::Renew {
            dir,
            names,
            days,
            rekey,
            dry_run,
        } => {
            let renewal = plan::lifecycle::Renewal {
                names: &names,
                days,
                rekey,
            };
            commands::lifecycle::renew(&op(&dir, dry_run), &renewal)
        }
        Command::Revoke {
            dir,
            name,
            reason,
            dry_run,
        } => commands::lifecycle::revoke(&op(&dir, dry_run), &name, reason.openssl_name()),
        Command::Crl { dir, days, dry_run } => commands::lifecycle::crl(&op(&dir, dry_run), days),
        Command::Init { path, force } => commands::init::init(&path, force),
        Command::Completions { shell } => commands::init::completions(shell),
    }
}

/// `pkiforge run`, from its command line.
fn run_command(cmd: Command, global: &cli::Global) -> Result<String> {
    let Command::Run {
        profile,
        out,
        force,
        add,
        only,
        step,
        jobs,
        root,
    } = cmd
    else {
        return Err(Error::Usage("not a run".into()));
    };
    let request = RunRequest {
        root,
        out: out.unwrap_or_else(|| default_out(&profile)),
        profile,
        force,
        timeout: Duration::from_secs(global.timeout),
        add,
        only,
        pause: step,
        jobs: jobs.unwrap_or_else(run::runner::default_jobs),
    };
    // --step shows plain lines between its pauses, never spinners.
    let progress = if step {
        Progress::plain()
    } else {
        Progress::for_stderr(global.quiet)
    };
    commands::run::run(&request, global.openssl.as_deref(), &progress)
}

/// `pkiforge export`, from its command line.
fn export_command(cmd: Command, global: &cli::Global) -> Result<String> {
    let Command::Export {
        dir,
        name,
        format,
        out,
        namespace,
        listen,
        force,
    } = cmd
    else {
        return Err(Error::Usage("not an export".into()));
    };
    let request = commands::export::Request {
        dir: &dir,
        name: &name,
        format: format.format(),
        out: out.as_deref(),
        namespace: &namespace,
        listen: &listen,
        force,
    };
    let progress = Progress::for_stderr(global.quiet);
    let timeout = Duration::from_secs(global.timeout);
    commands::export::export(&request, global.openssl.as_deref(), timeout, &progress)
}
