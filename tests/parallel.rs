//! The plan runs as a graph: independent steps at the same time, output in
//! plan order, one failure or an interrupt stopping all. These tests check
//! behaviour, never durations.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A wrapper around the real openssl that logs `start OUT` and `end OUT`
/// lines, and runs `extra` (a bash snippet that may look at $out) first.
fn wrapper(bin: &Path, extra: &str) -> PathBuf {
    let log = bin.join("log");
    wrap_openssl(
        bin,
        &format!(
            "out=; prev=; for a in \"$@\"; do [ \"$prev\" = -out ] && out=$a; prev=$a; done\n\
             echo \"start $out\" >> '{log}'\n\
             {extra}\n\
             \"$REAL\" \"$@\"; rc=$?\n\
             echo \"end $out\" >> '{log}'\n\
             exit $rc\n",
            log = log.display(),
        ),
    )
}

fn log(bin: &Path) -> Vec<String> {
    fs::read_to_string(bin.join("log"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Runs FAST in `work` with `openssl` and `--jobs jobs`, quietly; it must succeed.
fn run_ok_with(work: &Path, openssl: &Path, jobs: &str) {
    let openssl = openssl.to_str().unwrap();
    let args = [
        "run",
        "fast.toml",
        "--quiet",
        "--jobs",
        jobs,
        "--openssl",
        openssl,
    ];
    run_ok(work, &args);
}

fn position(log: &[String], line: &str) -> usize {
    log.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("{line} not in {log:?}"))
}

#[test]
fn independent_keys_are_generated_at_the_same_time() {
    for (jobs, overlap) in [("2", true), ("1", false)] {
        let bin = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        write(&work.path().join("fast.toml"), FAST);
        // The CA key takes a while, so a second worker has time to start.
        let fake = wrapper(bin.path(), "[ \"$out\" = ca.key ] && sleep 1");
        run_ok_with(work.path(), &fake, jobs);
        let log = log(bin.path());
        let server_started = position(&log, "start server.key");
        let ca_ended = position(&log, "end ca.key");
        assert_eq!(server_started < ca_ended, overlap, "--jobs {jobs}: {log:?}");
        // Whatever ran at once, dependencies held: a certificate is signed
        // after its CSR, and the CA certificate after the CA key.
        assert!(position(&log, "start server.crt") > position(&log, "end server.csr"));
        assert!(position(&log, "start ca.crt") > position(&log, "end ca.key"));
        assert!(
            position(&log, "start client.crt") > position(&log, "end server.crt"),
            "signing keeps the serial order"
        );
    }
}

/// The most steps the log shows running at once.
fn most_at_once(log: &[String]) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    for line in log {
        if line.starts_with("start ") {
            now += 1;
            most = most.max(now);
        } else if line.starts_with("end ") {
            now -= 1;
        }
    }
    most
}

#[test]
fn never_more_steps_at_once_than_jobs() {
    for jobs in [1, 2, 3] {
        let bin = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        write(&work.path().join("fast.toml"), FAST);
        // Each key takes a while, so that all three are ready to run at once.
        let fake = wrapper(bin.path(), "case \"$out\" in *.key) sleep 0.5;; esac");
        run_ok_with(work.path(), &fake, &jobs.to_string());
        // A step is logged as ended before pkiforge sees it end and starts
        // the next, so the log never shows more than ran.
        let log = log(bin.path());
        assert_eq!(most_at_once(&log), jobs, "--jobs {jobs}: {log:?}");
    }
}

#[test]
fn progress_lines_keep_the_plans_order() {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let fake = wrapper(bin.path(), "[ \"$out\" = ca.key ] && sleep 3");
    let out = pkiforge(work.path())
        .args(["run", "fast.toml", "--jobs", "2"])
        .arg("--openssl")
        .arg(&fake)
        .output()
        .unwrap();
    assert!(out.status.success());
    let log = log(bin.path());
    assert!(
        position(&log, "end server.key") < position(&log, "end ca.key"),
        "the server key finished first: {log:?}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let plan = String::from_utf8(
        pkiforge(work.path())
            .args(["plan", "fast.toml"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let shown: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("ok "))
        .take(10)
        .map(|l| l.split("s  ").nth(1).unwrap())
        .collect();
    let planned: Vec<&str> = plan.lines().collect();
    assert_eq!(shown, planned);
}

#[test]
fn one_failure_stops_the_steps_running_beside_it() {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let pidfile = bin.path().join("hung.pid");
    // The server key never finishes; the client key fails while it runs.
    let fake = wrapper(
        bin.path(),
        &format!(
            "[ \"$out\" = server.key ] && {{ sleep 120 & echo $! > '{}'; wait; }}\n\
             [ \"$out\" = client.key ] && {{ while [ ! -s '{}' ]; do sleep 0.05; done; echo 'client key refused' >&2; exit 3; }}",
            pidfile.display(),
            pidfile.display()
        ),
    );
    let out = pkiforge(work.path())
        .args(["run", "fast.toml", "--quiet", "--jobs", "2"])
        .arg("--openssl")
        .arg(&fake)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: step client-key failed: openssl genrsa -out client.key 2048\n  openssl exited with status 3\n  openssl said:\n    client key refused\n"
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(tree(work.path()), ["fast.toml"]);
    assert!(
        process_gone(&fs::read_to_string(&pidfile).unwrap()),
        "the hanging server key was stopped"
    );
}

#[test]
fn ctrl_c_stops_every_step_running() {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let fake = wrapper(
        bin.path(),
        &format!(
            "[ \"${{out##*.}}\" = key ] && {{ sleep 120 & echo $! > \"{}/$out.pid\"; wait; }}",
            bin.path().display()
        ),
    );
    let child = spawn_pkiforge(
        work.path(),
        &[
            "run".as_ref(),
            "fast.toml".as_ref(),
            "--quiet".as_ref(),
            "--jobs".as_ref(),
            "2".as_ref(),
            "--openssl".as_ref(),
            fake.as_os_str(),
        ],
    );
    let pids = [
        bin.path().join("ca.key.pid"),
        bin.path().join("server.key.pid"),
    ];
    let started = Instant::now();
    while !pids
        .iter()
        .all(|p| p.exists() && fs::metadata(p).unwrap().len() > 0)
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "two keys never ran at once"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: interrupted; nothing was written\n"
    );
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(tree(work.path()), ["fast.toml"]);
    for p in pids {
        assert!(
            process_gone(&fs::read_to_string(&p).unwrap()),
            "{} was stopped",
            p.display()
        );
    }
}
