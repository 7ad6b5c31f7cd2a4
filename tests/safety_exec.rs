//! The exec wrapper against children that do not play along: descendants
//! that hold the pipes open from a session of their own, a pkiforge killed
//! outright while s_server listens, and a program other than openssl that
//! fails (keytool), which must be named with what it said.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// A generous bound for things that happen at once on an idle machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// How long the holder sleeps: far longer than any run here takes, so
/// that a run that waited for it to close the pipes shows as one that
/// returned after it had gone.
const HOLD: &str = "setsid sleep 600 & echo $! >> \"$HOLDERS\"";

fn alive(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{}/stat", pid.trim()))
        .is_ok_and(|s| s.split(") ").nth(1).is_some_and(|s| !s.starts_with('Z')))
}

/// The holders' pids, each still running when pkiforge returned; then
/// they are stopped.
fn holders_alive_and_stopped(bin: &Path) -> Vec<bool> {
    let pids = fs::read_to_string(bin.join("holders")).unwrap_or_default();
    let alive: Vec<bool> = pids.lines().map(alive).collect();
    for pid in pids.lines() {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", pid])
            .status();
    }
    alive
}

/// An openssl wrapper that leaves a holder of its stdout and stderr behind,
/// in a session of its own, then runs `then`.
fn holding_openssl(bin: &Path, then: &str) -> std::path::PathBuf {
    let real = which::which(openssl()).unwrap();
    let path = bin.join("openssl");
    write_executable(
        &path,
        &format!(
            "#!/usr/bin/env bash\nREAL='{}'\nHOLDERS='{}'\n{HOLD}\n{then}\n",
            real.display(),
            bin.join("holders").display()
        ),
    );
    path
}

#[test]
fn a_descendant_holding_the_pipes_does_not_keep_plan_waiting() {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let fake = holding_openssl(bin.path(), "exec \"$REAL\" \"$@\"");
    let out = pkiforge(work.path())
        .args(["plan", "fast.toml", "--timeout", "900", "--openssl"])
        .arg(&fake)
        .output()
        .unwrap();
    let alive = holders_alive_and_stopped(bin.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("openssl genrsa -out ca.key 2048\n"),
        "{stderr}"
    );
    assert!(!alive.is_empty());
    assert!(
        alive.iter().all(|&a| a),
        "plan waited for the holders to close the pipes: {alive:?}"
    );
}

#[test]
fn a_hung_probe_with_its_pipes_held_is_stopped_at_the_deadline() {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    // The hang is certain: the very first call never answers.
    let fake = holding_openssl(bin.path(), "sleep 600");
    let out = pkiforge(work.path())
        .args(["plan", "fast.toml", "--timeout", "1", "--openssl"])
        .arg(&fake)
        .output()
        .unwrap();
    let alive = holders_alive_and_stopped(bin.path());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: cannot run openssl at {}: `openssl version -v -d` did not answer within 1 s (raise --timeout if it is only slow)\n  Check --openssl or PKIFORGE_OPENSSL.\n",
            fake.display()
        )
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(alive, [true], "pkiforge waited for the holder");
}

/// pkiforge started on a plan whose first call hangs with its pipes held,
/// signalled once the call has begun.
fn signalled(signal: &str, code: i32) {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let fake = holding_openssl(bin.path(), "sleep 600");
    let child = spawn_pkiforge(
        work.path(),
        &[
            "plan".as_ref(),
            "fast.toml".as_ref(),
            "--timeout".as_ref(),
            "900".as_ref(),
            "--openssl".as_ref(),
            fake.as_os_str(),
        ],
    );
    let started = Instant::now();
    // The file exists as soon as the wrapper opens it; the holder's pid is
    // there once its line ends. A signal sent in between would stop the
    // wrapper before it wrote it.
    while !fs::read_to_string(bin.path().join("holders")).is_ok_and(|s| s.ends_with('\n')) {
        assert!(started.elapsed() < PATIENCE, "openssl was never called");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let alive = holders_alive_and_stopped(bin.path());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: interrupted; nothing was written\n"
    );
    assert_eq!(out.status.code(), Some(code));
    assert_eq!(alive, [true], "pkiforge waited for the holder");
}

#[test]
fn sigterm_stops_a_call_whose_pipes_are_held() {
    signalled("-TERM", 143);
}

#[test]
fn ctrl_c_stops_a_call_whose_pipes_are_held() {
    signalled("-INT", 130);
}

/// The children of `pid` whose command line holds `what`.
fn children(pid: u32, what: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let stat = fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let ppid = stat.rsplit(") ").next().and_then(|s| s.split(' ').nth(1));
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let alive = stat
            .rsplit(") ")
            .next()
            .is_some_and(|s| !s.starts_with('Z'));
        if alive
            && ppid == Some(&pid.to_string())
            && String::from_utf8_lossy(&cmdline).contains(what)
        {
            found.push(name);
        }
    }
    found
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_killed_handshake_leaves_no_s_server_listening() {
    let (tmp, _dir) = copy();
    let start = || spawn_pkiforge(tmp.path(), &["handshake".as_ref(), "pki".as_ref()]);
    let mut child = start();
    // Freeze pkiforge while an s_server of its runs and no s_client does:
    // no client can come, so that s_server can only end by being killed.
    let started = Instant::now();
    let servers = loop {
        assert!(
            started.elapsed() < PATIENCE,
            "no s_server was seen without its s_client"
        );
        if child.try_wait().unwrap().is_some() {
            // It finished before it was caught: once more.
            child = start();
        }
        let pid = child.id();
        if !children(pid, "s_server").is_empty() {
            signal(pid, "-STOP");
            let servers = children(pid, "s_server");
            if !servers.is_empty() && children(pid, "s_client").is_empty() {
                break servers;
            }
            signal(pid, "-CONT");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    signal(child.id(), "-KILL");
    let _ = child.wait();
    let started = Instant::now();
    while servers.iter().any(|p| alive(p)) && started.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<&String> = servers.iter().filter(|p| alive(p)).collect();
    for p in &left {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", p])
            .status();
    }
    assert!(left.is_empty(), "s_server {left:?} outlived pkiforge");
}

#[test]
fn keytool_failing_is_named_with_what_it_printed() {
    let (tmp, _dir) = copy();
    let bin = tempfile::tempdir().unwrap();
    // keytool prints its reason on stdout.
    write_executable(
        &bin.path().join("keytool"),
        "#!/bin/sh\necho 'keytool error: java.lang.Exception: Input not an X.509 certificate'\nexit 1\n",
    );
    // An openssl whose pkcs12 lacks -jdktrust (before 3.2), so that the
    // truststore is keytool's on every openssl the suite runs against.
    let real = which::which(openssl()).unwrap();
    write_executable(
        &bin.path().join("openssl"),
        &format!(
            "#!/usr/bin/env bash\nif [ \"$1 $2\" = \"pkcs12 -help\" ]; then '{}' \"$@\" 2>&1 | grep -v -- -jdktrust >&2; exit 0; fi\nexec '{}' \"$@\"\n",
            real.display(),
            real.display()
        ),
    );
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = pkiforge(tmp.path())
        .args(["export", "pki", "server", "--format", "java", "--openssl"])
        .arg(bin.path().join("openssl"))
        .env("PATH", path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let command = stderr
        .lines()
        .find_map(|l| l.strip_prefix("error: step export-truststore failed: "))
        .unwrap_or_default();
    assert!(command.starts_with("keytool -importcert "), "{stderr}");
    // The steps beside it may finish first (a busy machine, another
    // openssl): their lines come before, each `ok`.
    let failed = format!(
        "FAIL          {command}\nerror: step export-truststore failed: {command}\n  keytool exited with status 1\n  keytool said:\n    keytool error: java.lang.Exception: Input not an X.509 certificate\n"
    );
    let before = stderr
        .strip_suffix(&failed)
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(before.lines().all(|l| l.starts_with("ok ")), "{stderr}");
    assert_eq!(out.status.code(), Some(1));
}
