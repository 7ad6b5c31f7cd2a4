//! The publish, the lock and staging directories: what a killed run leaves
//! is put back and never costs a good file; staging directories and
//! journals that pkiforge did not write as this user are left alone; every
//! file gets its mode whatever the umask; readers wait for writers.

mod common;
use common::*;

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// pkiforge in `dir` under `umask`: `(stdout, stderr, exit code)`.
fn run_umask(dir: &Path, umask: u32, args: &[&str]) -> (String, String, i32) {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pkiforge"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("PKIFORGE_OPENSSL")
        .env_remove("OPENSSL_CONF")
        .env("NO_COLOR", "1")
        .env("PKIFORGE_P12_PASSWORD", P12_PASSWORD);
    if let Ok(openssl) = std::env::var("PKIFORGE_TEST_OPENSSL") {
        cmd.env("PKIFORGE_OPENSSL", openssl);
    }
    // SAFETY: umask(2) is async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn run_umask_ok(dir: &Path, umask: u32, args: &[&str]) {
    let (_, stderr, code) = run_umask(dir, umask, args);
    assert_eq!(
        code, 0,
        "pkiforge {args:?} under umask {umask:03o}:\n{stderr}"
    );
}

/// Every file and directory below `dir` (staging and the lock left out),
/// with its contents.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    tree(dir)
        .into_iter()
        .filter(|f| !f.contains(".pkiforge"))
        .map(|f| {
            let bytes = fs::read(dir.join(&f)).unwrap_or_default();
            (f, bytes)
        })
        .collect()
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

/// The dead pid of a process that has just ended.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// A staging directory as a run leaves it: private to this user.
fn staging_dir(dir: &Path, name: &str) -> PathBuf {
    let staging = dir.join(name);
    fs::create_dir(&staging).unwrap();
    fs::set_permissions(&staging, fs::Permissions::from_mode(0o700)).unwrap();
    staging
}

// 1. A leftover journal must never cost a good PKI its files.
#[test]
fn a_journal_left_by_a_run_killed_after_its_rollback_removes_nothing() {
    let (tmp, dir) = copy();
    let before = contents(&dir);
    // The issue's own steps, with the directory private as pkiforge makes
    // it: a run put the originals back and was killed while removing its
    // staging directory, the journal still there.
    let pid = dead_pid();
    let name = format!(".pkiforge-staging-{pid}-x");
    let staging = staging_dir(&dir, &name);
    fs::write(staging.join("publish.journal"), "put ca.key\nput ca.crt\n").unwrap();
    let (_, stderr, code) = run(tmp.path(), &["report", "pki"]);
    assert_eq!(code, 0, "{stderr}");
    let mut after = contents(&dir);
    after.retain(|(f, _)| f != "report.html");
    assert_eq!(after, before, "ca.key and ca.crt are still there");
    assert_eq!(
        stderr,
        format!(
            "note: removed pki/{name}, left by pkiforge pid {pid}, which is no longer running (it had stopped while publishing, and nothing here needed putting back)\n"
        )
    );
    assert!(!staging.exists());
}

// 2. Staging directories are trusted by owner and mode, not by name.
#[test]
fn a_staging_directory_planted_by_another_user_is_left_alone() {
    let (tmp, dir) = copy();
    let before = contents(&dir);
    // A shared directory, as /tmp is: nobody plants a staging directory
    // whose journal would have root move its 0600 file out, and a file of
    // nobody's in.
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let shared = tmp.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let secret = shared.join("secret");
    fs::write(&secret, "root's secret").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let name = format!(".pkiforge-staging-{}-x", dead_pid());
    let script = format!(
        "mkdir -m 700 {name} && mkdir {name}/.originals && echo nobody > {name}/.originals/planted && printf 'put secret\\nremove planted\\n' > {name}/publish.journal"
    );
    let planted = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "sh",
            "-c",
        ])
        .arg(&script)
        .current_dir(&shared)
        .status()
        .unwrap();
    assert!(planted.success());
    let theirs = contents(&shared.join(&name));
    for args in [
        ["report", "pki", "--out", "shared/r.html"],
        ["report", "pki", "--out", "pki/report.html"],
    ] {
        // Into DIR, where nobody plants the same: left alone there too.
        if args[3] == "pki/report.html" {
            fs::rename(shared.join(&name), dir.join(&name)).unwrap();
        }
        let (_, stderr, code) = run(tmp.path(), &args);
        assert_eq!(code, 0, "{stderr}");
        if args[3] == "pki/report.html" {
            let uid = fs::metadata(dir.join(&name)).unwrap().uid();
            assert_eq!(
                stderr,
                format!(
                    "note: left pki/{name} alone: pkiforge makes its staging directories private to the user it runs as, and this one is a directory owned by uid {uid} with mode 0700\n"
                )
            );
        } else {
            assert_eq!(
                stderr, "",
                "no lock, no cleaning in a directory that is not a PKI's"
            );
            assert!(!shared.join(".pkiforge.lock").exists());
        }
    }
    assert_eq!(fs::read_to_string(&secret).unwrap(), "root's secret");
    assert!(!shared.join("planted").exists());
    assert_eq!(
        contents(&dir.join(&name)),
        theirs,
        "nobody's directory as it was"
    );
    assert_eq!(mode(&shared.join("r.html")), 0o644);
    let mut after = contents(&dir);
    after.retain(|(f, _)| f != "report.html" && !f.starts_with(".pkiforge-staging"));
    assert_eq!(after, before);
}

#[test]
fn a_journal_naming_files_outside_dir_is_refused_and_nothing_moves() {
    let (tmp, dir) = copy();
    let victim = tmp.path().join("victim");
    fs::write(&victim, "elsewhere").unwrap();
    for line in [
        format!("remove {}", victim.display()),
        "put ../victim".into(),
    ] {
        let pid = dead_pid();
        let name = format!(".pkiforge-staging-{pid}-x");
        let staging = staging_dir(&dir, &name);
        fs::create_dir(staging.join(".originals")).unwrap();
        fs::write(staging.join("publish.journal"), format!("{line}\n")).unwrap();
        let (_, stderr, code) = run(tmp.path(), &["crl", "pki"]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "error: cannot put back the files that pkiforge pid {pid} was publishing when it stopped: pki/{name}/publish.journal: line 1: {} is not a file inside the directory; pkiforge never writes such an entry; they are in pki/{name}\n",
                line.split_once(' ').unwrap().1
            )
        );
        assert!(staging.join("publish.journal").exists());
        fs::remove_dir_all(&staging).unwrap();
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "elsewhere");
}

#[test]
fn a_directory_every_user_may_write_in_is_refused_as_an_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let shared = tmp.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    let (_, stderr, code) = run(tmp.path(), &["run", "fast.toml", "--out", "shared"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: --out shared: every user may write in it (mode 1777), and could replace what pkiforge writes there, keys included; name a directory of your own that only you may write in\n"
    );
    assert_eq!(tree(&shared), Vec::<String>::new());
}

/// Another user who may write in DIR (its owner, or its group) could swap
/// the private staging directory for their own while the steps run, and so
/// own the keys openssl writes: such a DIR is refused before anything is
/// made, and so is one below a directory others may write in.
#[test]
fn a_directory_another_user_may_change_is_refused_before_any_key() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    write(&work.join("fast.toml"), FAST);
    let theirs = work.join("theirs");
    fs::create_dir(&theirs).unwrap();
    fs::set_permissions(&theirs, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let group = work.join("group");
    fs::create_dir(&group).unwrap();
    fs::set_permissions(&group, fs::Permissions::from_mode(0o775)).unwrap();
    let open = work.join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let real = fs::canonicalize(work).unwrap();
    let nobody = fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.get(2) == Some(&"65534")).then(|| format!("user {}", f[0]))
        })
        .unwrap_or_else(|| "user 65534".into());
    for (out, why) in [
        (
            "theirs",
            format!("it belongs to {nobody}, and could replace what pkiforge writes there, keys included; name a directory of your own that only you may write in"),
        ),
        (
            "group",
            "the members of its group may write in it (mode 0775; `chmod g-w` it if that is not meant), and could replace what pkiforge writes there, keys included; name a directory of your own that only you may write in".into(),
        ),
        (
            "open/pki",
            format!("{}/open, above it: every user may write in it (mode 0777), so another user could move {}/open/pki away and put their own in its place; name a directory whose parents only you (or root) may change", real.display(), real.display()),
        ),
    ] {
        let before = tree(work);
        let (_, stderr, code) = run(work, &["run", "fast.toml", "--out", out]);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stderr, format!("error: --out {out}: {why}\n"));
        assert_eq!(tree(work), before, "{out}: nothing made, nothing left");
    }
}

// 4a. Every file gets its mode whatever the umask.
#[test]
fn every_file_and_directory_gets_its_mode_whatever_the_umask() {
    for umask in [0o000, 0o077] {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path();
        let p12 = FAST.replace("CN = \"alice\"", "CN = \"alice\" }\np12 = true\n#");
        write(&work.join("fast.toml"), &p12);
        let bob = "\n[[client]]\nname = \"bob\"\nbits = 2048\nsubject = { O = \"Test Org\", CN = \"bob\" }\nsan = [\"DNS:localhost\"]\n";
        let two =
            format!("{p12}{bob}").replace("[client]\nbits", "[[client]]\nname = \"client\"\nbits");
        write(&work.join("two.toml"), &two);
        for args in [
            &["run", "fast.toml", "--out", "pki", "--quiet"][..],
            &["run", "two.toml", "--out", "pki", "--add", "--quiet"],
            &["renew", "pki", "client", "--rekey", "--quiet"],
            &["revoke", "pki", "bob", "--quiet"],
            &["crl", "pki", "--quiet"],
            &["report", "pki", "--quiet"],
            &["report", "pki", "--out", "elsewhere.html", "--quiet"],
            &[
                "export", "pki", "server", "--format", "nginx", "--out", "x/nginx", "--quiet",
            ],
            &[
                "export",
                "pki",
                "server",
                "--format",
                "haproxy",
                "--out",
                "x/haproxy",
                "--quiet",
            ],
            &[
                "export", "pki", "server", "--format", "k8s", "--out", "x/k8s", "--quiet",
            ],
            &[
                "export", "pki", "client", "--format", "nginx", "--out", "x/client", "--quiet",
            ],
        ] {
            run_umask_ok(work, umask, args);
        }
        let mut wrong = Vec::new();
        let mut seen = 0;
        for f in tree(work) {
            if f.ends_with(".toml") {
                continue;
            }
            let path = work.join(&f);
            let secret = [".key", ".p12", ".secret.yaml", ".haproxy.pem"]
                .iter()
                .any(|s| f.ends_with(s));
            let expected = match () {
                _ if path.is_dir() && f.starts_with("pki/archive") => 0o700,
                _ if path.is_dir() => 0o755,
                _ if secret => 0o600,
                _ => 0o644,
            };
            seen += 1;
            if mode(&path) != expected {
                wrong.push(format!("{f} {:04o}, not {expected:04o}", mode(&path)));
            }
        }
        assert!(seen > 40, "{:?}", tree(work));
        assert_eq!(wrong, Vec::<String>::new(), "under umask {umask:03o}");
    }
}

// 9. Readers: a publish left part way is put back first; a writer is waited for.
/// The identity of a file as the publish journal notes it.
fn identity(path: &Path) -> String {
    let m = fs::symlink_metadata(path).unwrap();
    format!(
        r#"{{"dev":{},"ino":{},"size":{},"mtime":{},"mtime_nsec":{}}}"#,
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    )
}

/// `dir` as a run killed in the middle of publishing a new server key and
/// certificate leaves it: the new key in place, the old one and the old
/// certificate aside, the new certificate still staged. The staging
/// directory is named for `maker`.
fn half_published(dir: &Path, maker: &str) -> PathBuf {
    let other = tempfile::tempdir_in(dir.parent().unwrap()).unwrap();
    write(&other.path().join("fast.toml"), FAST);
    run_ok(
        other.path(),
        &["run", "fast.toml", "--out", "new", "--quiet"],
    );
    let new = other.path().join("new");
    let staging = staging_dir(dir, &format!(".pkiforge-staging-{maker}-abcdef"));
    let originals = staging.join(".originals");
    fs::create_dir(&originals).unwrap();
    let mut journal = String::from("pkiforge publish journal 2\n");
    for f in ["server.key", "server.crt"] {
        fs::rename(new.join(f), staging.join(f)).unwrap();
        journal.push_str(&format!(
            "{{\"put\":{{\"file\":\"{f}\",\"new\":{},\"original\":{}}}}}\n",
            identity(&staging.join(f)),
            identity(&dir.join(f))
        ));
    }
    fs::write(staging.join("publish.journal"), journal).unwrap();
    fs::rename(dir.join("server.key"), originals.join("server.key")).unwrap();
    fs::rename(staging.join("server.key"), dir.join("server.key")).unwrap();
    fs::rename(dir.join("server.crt"), originals.join("server.crt")).unwrap();
    staging
}

#[test]
fn a_reader_puts_back_a_publish_left_part_way_before_it_reads() {
    let (tmp, dir) = copy();
    let before = contents(&dir);
    let pid = dead_pid();
    let staging = half_published(&dir, &pid.to_string());
    let (stdout, stderr, code) = run(tmp.path(), &["verify", "pki"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stderr,
        format!(
            "note: removed {}, left by pkiforge pid {pid}, which is no longer running (it had stopped while publishing: the files it replaced are back)\n",
            Path::new("pki")
                .join(staging.file_name().unwrap())
                .display()
        )
    );
    assert!(stdout.ends_with(" checks passed\n"), "{stdout}");
    assert_eq!(contents(&dir), before);
}

#[test]
fn a_staging_directory_whose_pid_now_runs_another_process_is_recovered() {
    // This test's own pid, running, but with another start time: the pid
    // of a dead run, reused.
    let boot: String = fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(12)
        .collect();
    let (tmp, dir) = copy();
    let before = contents(&dir);
    let pid = std::process::id();
    let staging = half_published(&dir, &format!("{pid}-1-{boot}"));
    for command in ["status", "inspect", "lint"] {
        // FAST's certificates last 30 days: not "expiring" within 1.
        let (stdout, stderr, code) = run(
            tmp.path(),
            &[command, "pki", "--within", "1"][..if command == "status" { 4 } else { 2 }],
        );
        if command == "status" {
            assert_eq!(code, 0, "{stdout}{stderr}");
            assert_eq!(
                stderr,
                format!(
                    "note: removed {}, left by pkiforge pid {pid}, which is no longer running (it had stopped while publishing: the files it replaced are back)\n",
                    Path::new("pki")
                        .join(staging.file_name().unwrap())
                        .display()
                )
            );
        } else {
            assert_eq!(stderr, "", "{command}");
        }
    }
    assert_eq!(contents(&dir), before);
}

#[test]
fn a_reader_waits_while_a_writer_holds_the_lock() {
    let (tmp, dir) = copy();
    // This test holds DIR's lock as a run would.
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(".pkiforge.lock"))
        .unwrap();
    // SAFETY: flock is plain old data; fcntl(2) F_SETLK reads it.
    let taken = unsafe {
        let mut fl: libc::flock = std::mem::zeroed();
        fl.l_type = libc::F_WRLCK as libc::c_short;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        libc::fcntl(lock.as_raw_fd(), libc::F_SETLK, &fl)
    };
    assert_eq!(taken, 0);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("pkiforge"))
        .args(["status", "pki", "--within", "1"])
        .current_dir(tmp.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Blocks until status says it waits (or ends without saying so).
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert_eq!(
        line,
        format!(
            "waiting for another pkiforge run on pki (pid {})\n",
            std::process::id()
        )
    );
    // Released (and gone, as a run leaves it): status goes on.
    fs::remove_file(dir.join(".pkiforge.lock")).unwrap();
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("FILE "));
    assert!(
        !dir.join(".pkiforge.lock").exists(),
        "the reader leaves no lock file"
    );
}

// 14. init, the lock file.
#[test]
fn init_never_writes_through_a_symbolic_link() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("elsewhere.toml");
    std::os::unix::fs::symlink(&target, tmp.path().join("p.toml")).unwrap();
    for args in [&["init", "p.toml"][..], &["init", "p.toml", "--force"]] {
        let (_, stderr, code) = run(tmp.path(), args);
        assert_eq!(code, 2, "{args:?}");
        assert_eq!(
            stderr,
            "error: p.toml is a symbolic link; pkiforge does not write through one. Remove it, or name the file it points to\n"
        );
        assert!(!target.exists(), "{args:?}");
    }
    let (_, stderr, code) = run_umask(tmp.path(), 0o000, &["init", "new.toml"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(mode(&tmp.path().join("new.toml")), 0o644);
}

#[test]
fn a_symbolic_link_as_the_lock_file_is_named_as_such() {
    let (tmp, dir) = copy();
    std::os::unix::fs::symlink("/nonexistent", dir.join(".pkiforge.lock")).unwrap();
    let (_, stderr, code) = run(tmp.path(), &["crl", "pki"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: pki/.pkiforge.lock is a symbolic link or not a regular file; pkiforge's lock must be a file of its own. Remove it (rm pki/.pkiforge.lock) and try again\n"
    );
}

/// A run killed before its publish leaves its staging directory, keys and
/// all; the next command on DIR removes it, a read-only one too.
#[test]
fn a_reader_removes_a_dead_runs_staging_directory_without_a_journal() {
    let (tmp, dir) = copy();
    let before = contents(&dir);
    let pid = dead_pid();
    let name = format!(".pkiforge-staging-{pid}-x");
    let staging = staging_dir(&dir, &name);
    fs::copy(dir.join("ca.key"), staging.join("ca.key")).unwrap();
    for command in ["status", "verify", "inspect", "lint"] {
        if !staging.exists() {
            break;
        }
        let (_, stderr, _) = run(tmp.path(), &[command, "pki"]);
        assert_eq!(
            stderr.lines().next().unwrap_or_default(),
            format!(
                "note: removed pki/{name}, left by pkiforge pid {pid}, which is no longer running"
            ),
            "{command}"
        );
    }
    assert!(!staging.exists());
    assert_eq!(contents(&dir), before);
}
