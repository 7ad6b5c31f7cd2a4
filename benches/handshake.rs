//! `just bench-handshake`: `pkiforge handshake` of a room, its sessions one
//! at a time (`--jobs 1`) and side by side (`--jobs N`, the cores), wall
//! time of each, best of --runs (default 3); the output must be the same.
//!
//!   cargo bench --bench handshake -- [--clients 256] [--runs 3]
//!
//! The clients have EC P-256 keys: the PKI is made once, quickly, and what
//! is measured is the sessions, which do not depend on the key type much.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const PKIFORGE: &str = env!("CARGO_BIN_EXE_pkiforge");

mod common;
use common::{arg, pkiforge};

/// A profile of one CA, one server and `clients` clients.
fn profile(clients: usize) -> String {
    let mut text = String::from(
        "[ca]\nkey = \"ec:P-256\"\nsubject = { O = \"Bench\", CN = \"Bench CA\" }\n\n[[server]]\nkey = \"ec:P-256\"\nsubject = { O = \"Bench\", CN = \"localhost\" }\nsan = [\"DNS:localhost\"]\n",
    );
    for i in 0..clients {
        let _ = write!(
            text,
            "\n[[client]]\nname = \"c{i:04}\"\nkey = \"ec:P-256\"\nsubject = {{ O = \"Bench\", CN = \"c{i:04}\" }}\nsan = [\"DNS:c{i:04}.bench.test\"]\n"
        );
    }
    text
}

/// One `handshake --jobs N`: its wall time, and what it printed.
fn handshake(dir: &Path, jobs: usize) -> (f64, String) {
    let started = Instant::now();
    let out = Command::new(PKIFORGE)
        .args(["handshake", "pki", "--jobs", &jobs.to_string()])
        .current_dir(dir)
        .output()
        .expect("pkiforge runs");
    let took = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "handshake --jobs {jobs} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines of the cases, without what each negotiated (the group and
/// signature are the same; this keeps the comparison about order).
fn cases(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with(' ')).collect()
}

fn main() {
    let clients = arg("--clients", 256);
    let runs = arg("--runs", 3).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tmp = tempfile::tempdir().expect("a temp dir");
    std::fs::write(tmp.path().join("room.toml"), profile(clients)).expect("the profile");
    pkiforge(tmp.path(), &["run", "room.toml", "--out", "pki"]);
    let mut best = [f64::MAX, f64::MAX];
    let mut texts = [String::new(), String::new()];
    for _ in 0..runs {
        for (k, jobs) in [1, cores].into_iter().enumerate() {
            let (took, text) = handshake(tmp.path(), jobs);
            best[k] = best[k].min(took);
            texts[k] = text;
        }
    }
    assert_eq!(
        cases(&texts[0]),
        cases(&texts[1]),
        "the order changed with --jobs"
    );
    let sessions = cases(&texts[0]).len().saturating_sub(1);
    println!(
        "handshake of {clients} clients ({sessions} sessions), best of {runs}: --jobs 1 {:.1} s, --jobs {cores} {:.1} s: {:.2}x",
        best[0],
        best[1],
        best[0] / best[1]
    );
}
