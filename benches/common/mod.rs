//! What the benches share: timing a command with its children's CPU, the
//! median, their `--name N` arguments, and the workshop profile.
#![allow(dead_code)] // each bench uses some of it

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Runs a command, returning its wall time and the CPU time of it and all
/// its descendants (from wait4's rusage).
pub fn timed(cmd: &mut Command) -> (f64, f64) {
    let started = Instant::now();
    // Reaped with wait4 below, for its rusage, rather than Child::wait.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, into locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = started.elapsed().as_secs_f64();
    assert!(
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed"
    );
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (wall, tv(usage.ru_utime) + tv(usage.ru_stime))
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `--name N` from the bench's arguments, or `default`.
pub fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One CA, one server and `clients` participants, all RSA 2048: the
/// workshop of the tutorial, at a room's size.
pub fn workshop_profile(clients: usize) -> String {
    let mut p = String::from(
        "[ca]\nbits = 2048\nsubject = { O = \"Workshop\", CN = \"Workshop CA\" }\n\n[server]\nbits = 2048\nsubject = { O = \"Workshop\", CN = \"localhost\" }\nsan = [\"DNS:localhost\"]\n",
    );
    for i in 1..=clients {
        let _ = write!(
            p,
            "\n[[client]]\nname = \"p{i:02}\"\nbits = 2048\nsubject = {{ O = \"Workshop\", CN = \"participant {i:02}\" }}\nsan = [\"DNS:localhost\"]\n"
        );
    }
    p
}

/// `pkiforge ARGS` in `dir`, quietly; panics with its stderr on failure.
pub fn pkiforge(dir: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_pkiforge"))
        .arg("--quiet")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("pkiforge runs");
    assert!(
        out.status.success(),
        "pkiforge {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
