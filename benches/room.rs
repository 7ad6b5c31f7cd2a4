//! `just bench` (and `just bench-room`): a room of 1,000 participants.
//!
//!   cargo bench --bench room -- [--clients 1000] [--runs 7]
//!
//! - The run: one CA, one server and 1,000 clients, RSA 2048, made by
//!   `pkiforge run`; parallel efficiency E = the CPU of pkiforge and every
//!   process it started (wait4's rusage) / (wall × cores). Target E ≥ 0.93.
//! - `run --add` of one more participant, to that PKI and to a PKI of 2
//!   (each a fresh copy, median of --runs). Target: within 3× the time for
//!   2, plus 0.3 s: the cost of adding one does not grow with the room.
//! - The report of the room: its size (target under 2 MB), and Chromium's
//!   time from opening it to the whole page laid out (target under 5 s),
//!   read in the page by a script added to a copy, median of 3 after a
//!   first load that warms Chromium up; and Chromium's whole wall time,
//!   start to exit, for the reader.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

mod common;
use common::{arg, median, pkiforge, timed, workshop_profile};

const PKIFORGE: &str = env!("CARGO_BIN_EXE_pkiforge");

/// The profile with one more participant, `late`.
fn with_latecomer(profile: &str) -> String {
    format!(
        "{profile}\n[[client]]\nname = \"late\"\nbits = 2048\nsubject = {{ O = \"Workshop\", CN = \"latecomer\" }}\nsan = [\"DNS:localhost\"]\n"
    )
}

/// `cp -a from to`, a fresh copy of a PKI for one --add.
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cp -a {} {}", from.display(), to.display());
}

/// The median wall time of `run --add` of the latecomer to copies of
/// `pki`, with `profile` (which lists it).
fn add_one(work: &Path, pki: &str, profile: &str, runs: usize) -> (f64, Vec<f64>) {
    let mut walls = Vec::new();
    for _ in 0..runs {
        copy_dir(&work.join(pki), &work.join("added"));
        let (wall, _) = timed(
            Command::new(PKIFORGE)
                .args(["--quiet", "run", profile, "--out", "added", "--add"])
                .current_dir(work)
                .stdout(Stdio::null()),
        );
        walls.push(wall);
    }
    (median(walls.clone()), walls)
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|name| which::which(name).ok())
}

/// A script that, at the load event, lays the whole page out (by asking
/// its height) and records the time since navigation started.
const TIMER: &str = r#"<script>addEventListener("load", function () {
  var h = document.documentElement.scrollHeight;
  var p = document.createElement("p");
  p.id = "pkiforge-bench";
  p.textContent = "laid-out " + performance.now().toFixed(0) + " " + h;
  document.body.appendChild(p);
});</script>"#;

/// One headless load of `page`: the in-page time to the whole page laid
/// out (ms), and Chromium's wall time (s).
fn load(chromium: &Path, page: &Path) -> (f64, f64) {
    let started = Instant::now();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!("file://{}", page.display()))
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("chromium runs");
    let wall = started.elapsed().as_secs_f64();
    let dom = String::from_utf8_lossy(&out.stdout);
    let ms = dom
        .split("laid-out ")
        .nth(2) // the first is the script's own text
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "the timer did not run: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    (ms, wall)
}

fn main() {
    let clients = arg("--clients", 1000);
    let runs = arg("--runs", 7).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let tmp = tempfile::tempdir().expect("a temp dir");
    let work = tmp.path();
    let room = workshop_profile(clients);
    std::fs::write(work.join("room.toml"), &room).unwrap();
    std::fs::write(work.join("room-late.toml"), with_latecomer(&room)).unwrap();
    let two = workshop_profile(2);
    std::fs::write(work.join("two.toml"), &two).unwrap();
    std::fs::write(work.join("two-late.toml"), with_latecomer(&two)).unwrap();
    println!("pkiforge room bench: {cores} cores, {clients} participants (RSA 2048)\n");

    // The run.
    let (wall, cpu) = timed(
        Command::new(PKIFORGE)
            .args(["--quiet", "run", "room.toml", "--out", "room"])
            .current_dir(work)
            .stdout(Stdio::null()),
    );
    let e = cpu / (wall * cores);
    println!(
        "run: {} certificates in {wall:.1} s, {cpu:.1} s CPU (pkiforge and every openssl): E = {e:.3} (target >= 0.93)",
        clients + 2
    );

    // --add, to the room and to a room of 2.
    pkiforge(work, &["run", "two.toml", "--out", "two"]);
    let (small, small_runs) = add_one(work, "two", "two-late.toml", runs);
    let (big, big_runs) = add_one(work, "room", "room-late.toml", runs);
    let limit = 3.0 * small + 0.3;
    let show = |v: &[f64]| {
        v.iter()
            .map(|t| format!("{t:.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("run --add of one participant, median of {runs} (each to a fresh copy):");
    println!("  to a PKI of 2:     {small:.3} s ({})", show(&small_runs));
    println!("  to a PKI of {clients}: {big:.3} s ({})", show(&big_runs));
    println!(
        "  target: <= 3 x {small:.3} + 0.3 = {limit:.3} s: {}",
        if big <= limit { "met" } else { "MISSED" }
    );

    // The report.
    let started = Instant::now();
    pkiforge(work, &["report", "room"]);
    let written = started.elapsed().as_secs_f64();
    let page = work.join("room/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    println!(
        "report: {} bytes (target < 2,000,000), written in {written:.2} s",
        html.len()
    );
    let Some(chromium) = chromium() else {
        println!("  Chromium is not installed: its render time is not measured");
        return;
    };
    let timed_page = work.join("timed.html");
    std::fs::write(
        &timed_page,
        html.replace("</body>", &format!("{TIMER}</body>")),
    )
    .unwrap();
    load(&chromium, &timed_page); // Chromium's first start is slow
    let loads: Vec<(f64, f64)> = (0..3).map(|_| load(&chromium, &timed_page)).collect();
    let laid_out = median(loads.iter().map(|l| l.0 / 1000.0).collect());
    let whole = median(loads.iter().map(|l| l.1).collect());
    println!(
        "  Chromium (headless): opened to laid out in {laid_out:.2} s (target < 5 s), median of 3; start to exit {whole:.2} s"
    );
}
