//! Crash tests: every command that writes into a PKI directory is killed
//! (SIGKILL) at a random moment, then the next command is killed too, early,
//! while it repairs; then a command runs to its end. DIR must then hold the
//! old PKI or the new one, whole: every file as it was, or exactly the files
//! an uninterrupted run changes changed, and `pkiforge verify` content.
//!
//! Half of the first kills land at a random moment of the whole command, the
//! other half right after its publish journal appears (the publish is a few
//! milliseconds of a run of a second, and the window the kills are for).
//! `PKIFORGE_CRASH_TRIALS` sets the number of trials per command (default
//! 4); the seed is printed, and `PKIFORGE_CRASH_SEED` replays a run.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// EC keys: the tests are about the moments between steps, not the keys.
const PROFILE: &str = r#"
[ca]
key = "ec:P-256"
subject = { O = "Crash Test", CN = "Crash CA" }

[[server]]
key = "ec:P-256"
subject = { O = "Crash Test", CN = "localhost" }
san = ["DNS:localhost", "IP:127.0.0.1"]

[[client]]
key = "ec:P-256"
subject = { O = "Crash Test", CN = "alice" }
san = ["DNS:localhost"]
"#;

/// The profile with one more client, for `run --add`.
const MORE: &str = r#"
[[client]]
name = "bob"
key = "ec:P-256"
subject = { O = "Crash Test", CN = "bob" }
san = ["DNS:localhost"]
"#;

/// A small xorshift generator: the tests need spread, not quality.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn seed() -> u64 {
    std::env::var("PKIFORGE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        })
}

fn trials() -> usize {
    std::env::var("PKIFORGE_CRASH_TRIALS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4)
}

/// Every entry below `dir` but pkiforge's own hidden ones (lock, staging)
/// and the report the repairing command writes, with its bytes' hash (or
/// its kind) and whether it is private.
fn state(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    for rel in tree(dir) {
        if rel.split('/').any(|part| part.starts_with('.')) || rel.ends_with("report.html") {
            continue;
        }
        let p = dir.join(&rel);
        let meta = fs::symlink_metadata(&p).unwrap();
        let what = if meta.is_file() {
            let bytes = fs::read(&p).unwrap();
            format!(
                "{:x} {} mode {:o}",
                fnv(&bytes),
                bytes.len(),
                meta.mode() & 0o7777
            )
        } else {
            format!("{:?}", meta.file_type())
        };
        out.insert(rel, what);
    }
    out
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The names whose entry differs between two states (changed, added or gone).
fn changed(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .cloned()
        .collect()
}

/// pkiforge's hidden leftovers in DIR (or below it, for export's DIR/export).
fn leftovers(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    tree(dir)
        .into_iter()
        .filter(|rel| {
            rel.split('/')
                .any(|part| part.starts_with(".pkiforge-staging-") || part == "publish.journal")
        })
        .collect()
}

/// One command that writes into DIR, and how to set the scene for it.
struct Op {
    name: &'static str,
    /// Arguments, with `DIR` standing for the PKI directory.
    args: &'static [&'static str],
    /// Whether it starts from no PKI at all (a first run).
    fresh: bool,
    /// The next command a user would give, which repairs what a killed one
    /// left: `report` takes DIR's lock; a first run and an export are run
    /// again (their output directory is theirs alone).
    repair: &'static [&'static str],
}

const REPORT: &[&str] = &["report", "DIR", "--quiet"];

const OPS: &[Op] = &[
    Op {
        name: "run",
        args: &["run", "p.toml", "--out", "DIR"],
        fresh: true,
        repair: &["run", "p.toml", "--out", "DIR", "--quiet"],
    },
    Op {
        name: "run --force",
        args: &["run", "p.toml", "--out", "DIR", "--force"],
        fresh: false,
        repair: REPORT,
    },
    Op {
        name: "run --add",
        args: &["run", "more.toml", "--out", "DIR", "--add"],
        fresh: false,
        repair: REPORT,
    },
    Op {
        name: "renew",
        args: &["renew", "DIR", "server", "--rekey"],
        fresh: false,
        repair: REPORT,
    },
    Op {
        name: "revoke",
        args: &["revoke", "DIR", "client"],
        fresh: false,
        repair: REPORT,
    },
    Op {
        name: "export",
        args: &["export", "DIR", "server", "--format", "nginx"],
        fresh: false,
        repair: &[
            "export", "DIR", "server", "--format", "nginx", "--force", "--quiet",
        ],
    },
];

/// A work directory with the profiles and, unless the op starts fresh, a
/// PKI in `pki` (copied from `base`, modes kept).
fn scene(op: &Op, base: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), PROFILE);
    write(&tmp.path().join("more.toml"), &format!("{PROFILE}{MORE}"));
    let dir = tmp.path().join("pki");
    if !op.fresh {
        let copied = std::process::Command::new("cp")
            .arg("-a")
            .arg(base)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(copied.success());
    }
    (tmp, dir)
}

fn start(work: &Path, dir: &Path, args: &[&str]) -> Child {
    let args: Vec<&OsStr> = args
        .iter()
        .map(|a| {
            if *a == "DIR" {
                dir.as_os_str()
            } else {
                OsStr::new(a)
            }
        })
        .collect();
    spawn_pkiforge(work, &args)
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Whether a publish journal exists anywhere below `dir`.
fn publishing(dir: &Path) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let path = e.path();
        (name.to_string_lossy().starts_with(".pkiforge-staging-")
            && path.join("publish.journal").exists())
            || (name == "export" && publishing(&path))
    })
}

/// How a first command ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ending {
    /// On its own, before its kill was due.
    Finished,
    /// Killed at a random moment.
    Killed,
    /// Killed after its publish journal appeared.
    KilledPublishing,
}

/// Kills `child` at a random moment: within `span` of its start, or soon
/// after its publish journal appears. Says how it ended.
fn kill_somewhere(child: &mut Child, dir: &Path, span: Duration, rng: &mut Rng) -> Ending {
    let started = Instant::now();
    let at_publish = rng.below(2) == 0;
    let at = Duration::from_micros(rng.below(span.as_micros() as u64));
    // The publish takes a few milliseconds: once its journal is seen, the
    // kill comes within a fraction of one, at a random point.
    let after_journal = Duration::from_micros(rng.below(400));
    let mut journal_seen: Option<Instant> = None;
    loop {
        if child.try_wait().unwrap().is_some() {
            return Ending::Finished;
        }
        if at_publish {
            if journal_seen.is_none() && publishing(dir) {
                journal_seen = Some(Instant::now());
            }
            if journal_seen.is_some_and(|t| t.elapsed() >= after_journal) {
                kill(child);
                return Ending::KilledPublishing;
            }
            std::thread::yield_now();
        } else if started.elapsed() >= at {
            kill(child);
            return Ending::Killed;
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// The base PKI: made, then one client revoked, so that it has a CRL, a
/// database and an archive for `--force` to deal with.
fn base() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), PROFILE);
    write(&tmp.path().join("more.toml"), &format!("{PROFILE}{MORE}"));
    run_ok(tmp.path(), &["run", "more.toml", "--out", "pki", "--quiet"]);
    run_ok(tmp.path(), &["revoke", "pki", "bob", "--quiet"]);
    let dir = tmp.path().join("pki");
    (tmp, dir)
}

/// What an uninterrupted `op` changes, and how long it takes.
fn reference(op: &Op, base: &Path) -> (BTreeSet<String>, Duration) {
    let (tmp, dir) = scene(op, base);
    let before = state(&dir);
    let started = Instant::now();
    let out = start(tmp.path(), &dir, op.args).wait_with_output().unwrap();
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}: {}",
        op.name,
        String::from_utf8_lossy(&out.stderr)
    );
    (changed(&before, &state(&dir)), took)
}

/// One trial: kill `op`, kill the repairing command early, repair, judge.
fn trial(
    op: &Op,
    base: &Path,
    expected: &BTreeSet<String>,
    span: Duration,
    rng: &mut Rng,
) -> Ending {
    let (tmp, dir) = scene(op, base);
    let before = state(&dir);
    let mut first = start(tmp.path(), &dir, op.args);
    let killed = kill_somewhere(&mut first, &dir, span, rng);
    let _ = first.wait();
    // The next command, killed in its first milliseconds (it takes the lock
    // and repairs what the first left).
    let mut second = start(tmp.path(), &dir, op.repair);
    std::thread::sleep(Duration::from_micros(rng.below(15_000)));
    kill(&mut second);
    let out = start(tmp.path(), &dir, op.repair)
        .wait_with_output()
        .unwrap();
    // A first run that had published refuses to overwrite; any other
    // repair succeeds.
    assert!(
        out.status.success() || op.fresh,
        "{}: {:?} after the kills: {}",
        op.name,
        op.repair,
        String::from_utf8_lossy(&out.stderr)
    );
    let after = state(&dir);
    let diff = changed(&before, &after);
    let whole_old = diff.is_empty();
    let whole_new = &diff == expected;
    assert!(
        whole_old || whole_new,
        "{} (ended: {killed:?}): DIR is neither the old PKI nor the new one.\nchanged: {diff:?}\nan uninterrupted run changes: {expected:?}\nbefore: {before:#?}\nafter: {after:#?}",
        op.name
    );
    assert_eq!(
        leftovers(&dir),
        Vec::<String>::new(),
        "{}: leftovers",
        op.name
    );
    if whole_new || !op.fresh {
        let out = start(tmp.path(), &dir, &["verify", "DIR"])
            .wait_with_output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} (ended: {killed:?}, {}): verify after the repair:\n{}{}",
            op.name,
            if whole_new { "new PKI" } else { "old PKI" },
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    killed
}

#[test]
fn a_kill_at_any_moment_and_another_while_repairing_leave_the_old_pki_or_the_new_one_whole() {
    let seed = seed();
    eprintln!("crash tests: PKIFORGE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let (_base_tmp, base) = base();
    let mut endings = Vec::new();
    for op in OPS {
        let (expected, took) = reference(op, &base);
        for _ in 0..trials() {
            endings.push(trial(op, &base, &expected, took + took / 4, &mut rng));
        }
    }
    let count = |e: Ending| endings.iter().filter(|&&x| x == e).count();
    eprintln!(
        "crash tests: {} trials over {} commands; {} killed at a random moment, {} killed while publishing, {} finished first; each followed by a repair killed early, then one run to its end",
        endings.len(),
        OPS.len(),
        count(Ending::Killed),
        count(Ending::KilledPublishing),
        count(Ending::Finished)
    );
    assert!(
        count(Ending::Killed) + count(Ending::KilledPublishing) > 0,
        "no trial was killed before it ended"
    );
}
