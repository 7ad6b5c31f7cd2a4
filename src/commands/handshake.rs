//! `pkiforge handshake DIR [--dry-run]`: real mutual-TLS sessions, one
//! line each; or the commands that make its throwaway certificates.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::{Context, Outcome};
use crate::check::handshake;
use crate::cli::HandshakeArgs;
use crate::error::Result;
use crate::pki::read::Pki;
use crate::plan::spec::CheckSpec;
use crate::run::openssl::Openssl;
use crate::run::progress::Progress;
use crate::run::publish::ReadLock;

/// `handshake DIR [--dry-run]`.
pub fn command(ctx: &Context, args: HandshakeArgs) -> Result<Outcome> {
    let progress = ctx.progress();
    handshake(&args, ctx.openssl(), ctx.timeout, &progress)
}

fn handshake(
    args: &HandshakeArgs,
    openssl_flag: Option<&Path>,
    timeout: Duration,
    progress: &Progress,
) -> Result<String> {
    let dir = args.dir.as_path();
    // Never while a run writes DIR, nor after one killed part way.
    let _lock = ReadLock::take(dir, progress)?;
    let spec = CheckSpec::read_back(&Pki::read(dir))?;
    if args.dry_run {
        return handshake::dry_run(dir, &spec);
    }
    let openssl = Openssl::locate(openssl_flag, timeout)?;
    let jobs = args.jobs.unwrap_or_else(crate::run::runner::default_jobs);
    let (cases, traced) = match &args.trace {
        None => (handshake::run(&openssl, dir, &spec, (jobs, None))?, None),
        Some(to) => {
            let (cases, files) = traced(&openssl, (dir, &spec, jobs), to, progress)?;
            (cases, Some((to, files)))
        }
    };
    let failed: Vec<String> = cases
        .iter()
        .filter(|c| !c.passed())
        .map(|c| format!("{} {}", c.stack, c.name))
        .collect();
    if args.json {
        return super::conclude_json(handshake::json(&cases), "handshakes", cases.len(), failed);
    }
    let mut text = String::new();
    for case in &cases {
        let _ = writeln!(text, "{case}");
    }
    if let Some((to, traced)) = traced {
        let _ = writeln!(
            text,
            "traces written to {}: {} files (docs/trace.md opens them)",
            to.display(),
            traced.files
        );
        if let Some(why) = traced.no_pcap {
            let _ = writeln!(
                text,
                "no pcap of the sessions: {why} (docs/trace.md records one by hand)"
            );
        }
    }
    super::conclude(text, "handshakes", "went as expected", cases.len(), failed)
}

/// What `--trace` wrote: how many files, and why there is no pcap when
/// tcpdump cannot record.
struct Traced {
    files: usize,
    no_pcap: Option<String>,
}

/// The handshake with a trace of each openssl session: written in a
/// staging directory of `to` (made if need be, under its lock), then
/// published into it all at once, the keylogs readable by their owner
/// alone; files of earlier traces with the same names are replaced.
fn traced(
    openssl: &Openssl,
    (dir, spec, jobs): (&Path, &CheckSpec, usize),
    to: &Path,
    progress: &Progress,
) -> Result<(Vec<crate::check::handshake::Case>, Traced)> {
    if crate::files::same_dir(to, dir) {
        return Err(crate::error::Error::Usage(format!(
            "--trace {}: that is the PKI's directory; give the traces one of their own, e.g. --trace traces",
            to.display()
        )));
    }
    let mut out = crate::run::publish::OutDir::lock_named(to, "--trace", progress)?;
    for line in out.clean_stale()? {
        progress.say(&format!("note: {line}"));
    }
    let staging = out.staging()?;
    // A pcap of each session where tcpdump may record the loopback.
    let tcpdump = handshake::Tcpdump::find(openssl.timeout.min(Duration::from_secs(15)));
    let tracing = handshake::Tracing {
        dir: staging.path(),
        tcpdump: tcpdump.as_ref().ok(),
    };
    let mut cases = handshake::run(openssl, dir, spec, (jobs, Some(tracing)))?;
    for case in &mut cases {
        let pcap = case
            .trace
            .as_deref()
            .map(crate::pki::names::handshake::pcap);
        case.pcap = pcap.filter(|p| staging.path().join(p).is_file());
    }
    // The index `report --traces` links each session to its trace by.
    std::fs::write(
        staging.path().join(crate::pki::names::handshake::SESSIONS),
        handshake::json(&cases),
    )
    .map_err(|e| crate::error::Error::io("cannot write the sessions' index", e))?;
    let mut files = Vec::new();
    let entries = std::fs::read_dir(staging.path())
        .map_err(|e| crate::error::Error::io("cannot list the traces", e))?;
    for entry in entries.flatten() {
        files.push(std::path::PathBuf::from(entry.file_name()));
    }
    files.sort();
    let secrets: Vec<std::path::PathBuf> = files
        .iter()
        .filter(|f| crate::pki::names::handshake::is_secret(f))
        .cloned()
        .collect();
    out.publish(staging.path(), &files, &secrets, &[])?;
    Ok((
        cases,
        Traced {
            files: files.len(),
            no_pcap: tcpdump.err(),
        },
    ))
}
