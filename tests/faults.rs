//! Fault injection with a fake openssl (a wrapper around the real one that
//! misbehaves at its K-th step), timeouts and signals: either a complete,
//! verified PKI is left, or nothing at all, and no temp file or process.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Exit 3 with a message on stderr.
    Fail,
    /// Exit 0 without doing anything.
    Silent,
    /// Never finish (a grandchild that sleeps).
    Hang,
    /// Write more than a pipe holds to both stdout and stderr, then exit 3.
    Flood,
}

/// Lines a flooding openssl writes to each of stdout and stderr (some
/// 90 KiB each, more than a pipe's 64 KiB).
const FLOOD_LINES: usize = 8000;

/// A fake openssl in `bin_dir` that passes through to the real one, except
/// that its K-th step call (not counting version and name probes) misbehaves.
fn fake_openssl(bin_dir: &Path, k: usize, fault: Fault) -> PathBuf {
    let count = bin_dir.join("count");
    let pidfile = bin_dir.join("hung.pid");
    let action = match fault {
        Fault::Fail => "echo \"fake failure at call $n\" >&2; exit 3".to_string(),
        Fault::Silent => "exit 0".to_string(),
        // The sleep is a grandchild, as under a wrapper that does not exec:
        // stopping the step must stop it too.
        Fault::Hang => format!("sleep 120 & echo $! > '{}'; wait", pidfile.display()),
        Fault::Flood => format!(
            "for i in $(seq 1 {FLOOD_LINES}); do echo \"out $i\"; echo \"noise $i\" >&2; done; exit 3"
        ),
    };
    wrap_openssl(
        bin_dir,
        &format!(
            "n=$(( $(cat '{count}' 2>/dev/null || echo 0) + 1 )); echo $n > '{count}'\n\
             if [ $n -eq {k} ]; then {action}; fi\n\
             exec \"$REAL\" \"$@\"\n",
            count = count.display(),
        ),
    )
}

/// The step ids and command lines of every openssl call of a run of FAST:
/// the plan's steps, then the checks that end the run.
fn steps() -> Vec<(String, String)> {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let out = pkiforge(tmp.path())
        .args(["plan", "fast.toml"])
        .output()
        .unwrap();
    let plan = String::from_utf8(out.stdout).unwrap();
    let ids = [
        "ca-key",
        "ca-crt",
        "server-key",
        "server-csr",
        "server-crt",
        "server-bundle",
        "client-key",
        "client-csr",
        "client-crt",
        "client-bundle",
    ];
    let mut steps: Vec<(String, String)> = ids
        .into_iter()
        .map(String::from)
        .zip(plan.lines().map(String::from))
        .collect();
    // Only openssl calls reach the fake; cat is done natively.
    steps.retain(|(_, cmd)| cmd.starts_with("openssl "));
    for (id, cmd) in [
        (
            "verify",
            "openssl verify -CAfile ca.crt server.crt client.crt",
        ),
        (
            "verify-server-DNS:localhost",
            "openssl verify -CAfile ca.crt -purpose sslserver -verify_hostname localhost server.crt",
        ),
        (
            "verify-server-IP:127.0.0.1",
            "openssl verify -CAfile ca.crt -purpose sslserver -verify_ip 127.0.0.1 server.crt",
        ),
        (
            "verify-client-DNS:localhost",
            "openssl verify -CAfile ca.crt -purpose sslclient -verify_hostname localhost client.crt",
        ),
    ] {
        steps.push((id.into(), cmd.into()));
    }
    steps
}

/// How many checks end a run of FAST.
const CHECKS: usize = 19;

fn first_output(command: &str) -> &str {
    command
        .split(" -out ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
}

fn expected_error(k: usize, fault: Fault, steps: &[(String, String)]) -> String {
    let (id, command) = &steps[k - 1];
    let is_check = k > 8;
    let inner = match fault {
        Fault::Flood => {
            let tail: Vec<String> = (FLOOD_LINES - 19..=FLOOD_LINES)
                .map(|i| format!("\n    noise {i}"))
                .collect();
            format!(
                "step {id} failed: {command}\n  openssl exited with status 3\n  openssl said (the last 20 of {FLOOD_LINES} lines):{}",
                tail.concat()
            )
        }
        Fault::Fail => format!(
            "step {id} failed: {command}\n  openssl exited with status 3\n  openssl said:\n    fake failure at call {k}"
        ),
        Fault::Silent if is_check => {
            let want = if id == "verify" {
                "server.crt: OK\\nclient.crt: OK".to_string()
            } else {
                format!("{}: OK", command.rsplit(' ').next().unwrap())
            };
            format!("step {id}: expected \"{want}\", openssl printed \"\": {command}")
        }
        Fault::Silent => format!(
            "step {id} exited 0 but did not write {}: {command}",
            first_output(command)
        ),
        Fault::Hang => format!(
            "step {id} did not finish within {HANG_TIMEOUT} s and was stopped: {command}\n  Raise the limit with --timeout SECONDS."
        ),
    };
    if !is_check {
        return format!("error: {inner}\n");
    }
    let mut out =
        format!("error: verification failed: 1 of {CHECKS} checks failed\n  FAIL {command}\n");
    for line in inner.lines() {
        out.push_str(&format!("       {line}\n"));
    }
    out
}

/// A hanging step is stopped after this. The calls before it replay a
/// recorded run (see [`replaying_openssl`]), so the real steps are not
/// bounded by it however loaded the machine is.
const HANG_TIMEOUT: &str = "5";

/// One real run of FAST, one step at a time and unbounded in time, with
/// every openssl call recorded: `N.out`, `N.err`, `N.code` and the files
/// of the staging directory after it, in `N/`.
fn recorded_run() -> &'static Path {
    static REC: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    REC.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap().keep();
        let rec = tmp.join("rec");
        fs::create_dir(&rec).unwrap();
        let fake = wrap_openssl(
            &tmp,
            &format!(
                "REC='{}'\n\
                 n=$(( $(cat \"$REC/count\" 2>/dev/null || echo 0) + 1 )); echo $n > \"$REC/count\"\n\
                 \"$REAL\" \"$@\" > \"$REC/$n.out\" 2> \"$REC/$n.err\"; code=$?; echo $code > \"$REC/$n.code\"\n\
                 mkdir \"$REC/$n\"; cp -p -- * \"$REC/$n/\" 2>/dev/null\n\
                 cat \"$REC/$n.out\"; cat \"$REC/$n.err\" >&2; exit $code\n",
                rec.display()
            ),
        );
        write(&tmp.join("fast.toml"), FAST);
        let out = pkiforge(&tmp)
            .args(["run", "fast.toml", "--quiet", "--jobs", "1", "--out", "pki"])
            .arg("--openssl")
            .arg(&fake)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        rec
    })
}

/// A fake openssl whose K-th step call hangs for certain, and whose other
/// step calls replay the recorded run's (its files, output and status) in
/// a moment, so that only the hang meets the timeout.
fn replaying_openssl(bin_dir: &Path, k: usize) -> PathBuf {
    let count = bin_dir.join("count");
    let pidfile = bin_dir.join("hung.pid");
    wrap_openssl(
        bin_dir,
        &format!(
            "REC='{rec}'\n\
             n=$(( $(cat '{count}' 2>/dev/null || echo 0) + 1 )); echo $n > '{count}'\n\
             if [ $n -eq {k} ]; then sleep 3600 & echo $! > '{pid}'; wait; fi\n\
             cp -p -- \"$REC/$n/\"* . 2>/dev/null\n\
             cat \"$REC/$n.out\"; cat \"$REC/$n.err\" >&2; exit \"$(cat \"$REC/$n.code\")\"\n",
            rec = recorded_run().display(),
            count = count.display(),
            pid = pidfile.display(),
        ),
    )
}

fn fault_matrix(fault: Fault) {
    let steps = steps();
    assert_eq!(
        steps.len(),
        12,
        "the eight openssl steps of the tutorial, and four openssl checks"
    );
    // One run per K; hangs spend their time waiting, so those run side by side.
    let ks: Vec<usize> = (1..=steps.len() + 1).collect();
    match fault {
        Fault::Hang => {
            // Every fake is written before any run starts: a file being
            // written while another thread forks cannot be executed
            // (ETXTBSY).
            let fakes: Vec<Fake> = ks.iter().map(|&k| fake_for(k, fault)).collect();
            std::thread::scope(|s| {
                for (fake, &k) in fakes.into_iter().zip(&ks) {
                    let steps = &steps;
                    s.spawn(move || fault_with(fake, k, fault, steps));
                }
            });
        }
        _ => ks.iter().for_each(|&k| fault_at(k, fault, &steps)),
    }
}

/// The fake openssl for a fault at K, in a directory of its own.
struct Fake {
    bin: tempfile::TempDir,
    path: PathBuf,
    timeout: &'static str,
}

fn fake_for(k: usize, fault: Fault) -> Fake {
    let bin = tempfile::tempdir().unwrap();
    let (path, timeout) = match fault {
        Fault::Hang => (replaying_openssl(bin.path(), k), HANG_TIMEOUT),
        _ => (fake_openssl(bin.path(), k, fault), "300"),
    };
    Fake { bin, path, timeout }
}

fn fault_at(k: usize, fault: Fault, steps: &[(String, String)]) {
    fault_with(fake_for(k, fault), k, fault, steps);
}

fn fault_with(fake: Fake, k: usize, fault: Fault, steps: &[(String, String)]) {
    let Fake {
        bin,
        path: fake,
        timeout,
    } = fake;
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    // An output directory that already holds an unrelated file.
    write(&work.path().join("pki/notes.txt"), "mine\n");
    let out = pkiforge(work.path())
        .args([
            "run",
            "fast.toml",
            "--quiet",
            "--out",
            "pki",
            // One step at a time, so that the K-th call is the K-th step
            // of the plan (tests/parallel.rs covers failures while steps
            // run at once).
            "--jobs",
            "1",
            "--timeout",
            timeout,
        ])
        .arg("--openssl")
        .arg(&fake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if k > steps.len() {
        assert!(out.status.success(), "k={k}: {stderr}");
        let mut want: Vec<String> = vec!["fast.toml".into(), "pki".into(), "pki/notes.txt".into()];
        want.extend(ELEVEN.iter().map(|f| format!("pki/{f}")));
        want.push("pki/commands.sh".into());
        want.sort();
        assert_eq!(tree(work.path()), want, "k={k}: a complete PKI");
        return;
    }
    assert_eq!(stderr, expected_error(k, fault, steps), "k={k} {fault:?}");
    assert_eq!(out.status.code(), Some(1), "k={k}");
    assert!(out.stdout.is_empty());
    assert_eq!(
        tree(work.path()),
        ["fast.toml", "pki", "pki/notes.txt"],
        "k={k} {fault:?}: the output directory is as before, no staging or temp file"
    );
    if let Fault::Hang = fault {
        let pid = fs::read_to_string(bin.path().join("hung.pid")).unwrap();
        assert!(process_gone(&pid), "k={k}: the hung openssl was stopped");
    }
}

#[test]
fn a_failing_openssl_at_any_step_leaves_nothing() {
    fault_matrix(Fault::Fail);
}

#[test]
fn an_openssl_that_exits_0_without_output_at_any_step_leaves_nothing() {
    fault_matrix(Fault::Silent);
}

#[test]
fn a_hanging_openssl_at_any_step_is_stopped_and_leaves_nothing() {
    fault_matrix(Fault::Hang);
}

/// Both pipes are read while openssl runs: one that fills them is neither
/// stalled nor waited for forever, and its error shows the end of stderr.
#[test]
fn an_openssl_that_floods_its_output_is_read_to_the_end() {
    let steps = steps();
    // A step, and a check (the first verify).
    fault_at(1, Fault::Flood, &steps);
    fault_at(9, Fault::Flood, &steps);
}

#[test]
fn a_failure_in_a_new_directory_removes_the_directories_it_made() {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let fake = fake_openssl(bin.path(), 4, Fault::Fail);
    let out = pkiforge(work.path())
        .args(["run", "fast.toml", "--quiet", "--out", "a/b/c"])
        .arg("--openssl")
        .arg(&fake)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(tree(work.path()), ["fast.toml"]);
}

fn interrupt(signal: &str, code: i32) {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let fake = fake_openssl(bin.path(), 3, Fault::Hang);
    let child = spawn_pkiforge(
        work.path(),
        &[
            "run".as_ref(),
            "fast.toml".as_ref(),
            "--quiet".as_ref(),
            "--openssl".as_ref(),
            fake.as_os_str(),
        ],
    );
    // Wait until the run is in the middle of its third openssl step.
    let pidfile = bin.path().join("hung.pid");
    let started = Instant::now();
    while !pidfile.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never reached step 3"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: interrupted; nothing was written\n"
    );
    assert_eq!(out.status.code(), Some(code));
    assert_eq!(tree(work.path()), ["fast.toml"], "nothing left behind");
    let pid = fs::read_to_string(&pidfile).unwrap();
    assert!(process_gone(&pid), "the openssl child was stopped");
}

#[test]
fn ctrl_c_in_the_middle_of_a_run_leaves_nothing() {
    interrupt("-INT", 130);
}

#[test]
fn sigterm_in_the_middle_of_a_run_leaves_nothing() {
    interrupt("-TERM", 143);
}

#[test]
fn a_subject_openssl_wrote_differently_is_caught() {
    // A wrapper that drops -utf8: openssl then reads UTF-8 bytes as Latin-1
    // and writes mojibake, which the subject check must refuse.
    let bin = tempfile::tempdir().unwrap();
    let real = which::which(openssl()).unwrap();
    let fake = bin.path().join("openssl");
    write_executable(
        &fake,
        &format!(
            "#!/usr/bin/env bash\nargs=(); for a in \"$@\"; do [ \"$a\" = -utf8 ] || args+=(\"$a\"); done\nexec '{}' \"${{args[@]}}\"\n",
            real.display()
        ),
    );
    let work = tempfile::tempdir().unwrap();
    write(
        &work.path().join("utf8.toml"),
        &FAST.replace("CN = \"alice\"", "CN = \"Zoë\""),
    );
    pkiforge(work.path())
        .args(["run", "utf8.toml", "--quiet"])
        .arg("--openssl")
        .arg(&fake)
        .assert()
        .code(1)
        .stderr(
            "error: step client-csr: client.csr has CN = \"ZoÃ«\", but the profile says \"Zoë\": openssl req -new -utf8 -key client.key -addext \"subjectAltName = DNS:localhost\" -out client.csr
  The openssl config's prompts and pkiforge's answers disagree; run `pkiforge plan --answers` to see them.
",
        );
    assert_eq!(tree(work.path()), ["utf8.toml"]);
}
