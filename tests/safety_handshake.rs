//! Nothing lost, nothing stolen, round two: `pkiforge handshake`. Its
//! scratch space is private whatever the umask (another user can neither
//! read nor plant a config openssl loads), every file of the PKI is read
//! through the guarded reader (a FIFO or a device is refused, naming it,
//! at once), what a killed handshake left is cleaned by the next one, and
//! a PKI with no server and client to try together is refused, not passed.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A directory anyone may create entries in, as /tmp (sticky), inside the
/// test's own `tmp` (made traversable), for TMPDIR.
fn shared_tmp(tmp: &Path) -> PathBuf {
    fs::set_permissions(tmp, fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.join("tmp");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    dir
}

/// A directory of the test's for TMPDIR, empty.
fn own_tmp(tmp: &Path) -> PathBuf {
    let dir = tmp.join("tmp");
    fs::create_dir(&dir).unwrap();
    dir
}

/// `pkiforge handshake pki` in `work`, with TMPDIR and a umask.
fn handshake_with(
    work: &Path,
    tmpdir: &Path,
    umask: libc::mode_t,
    envs: &[(&str, &Path)],
) -> Output {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pkiforge"));
    cmd.args(["handshake", "pki"])
        .current_dir(work)
        .env_remove("OPENSSL_CONF")
        .env_remove("PKIFORGE_OPENSSL")
        .env("NO_COLOR", "1")
        .env("TMPDIR", tmpdir)
        .envs(envs.iter().map(|(k, v)| (k, v.as_os_str())));
    // SAFETY: umask(2) is async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask);
            Ok(())
        });
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

/// The openssl wrapper of the attack: when the throwaway CA is made
/// (`req -new -x509 -config CNF`) and when each s_server starts, `nobody`
/// tries to list the directory the config or the server's log is in, read
/// it, create a file there, and replace it with a config that loads an
/// engine of nobody's; then openssl runs, as root. `nobody at DIR` is
/// logged for every try, and a line for anything nobody managed.
const ATTACK: &str = r#"
attack() {
  (cd / && setpriv --reuid=nobody --regid=nogroup --clear-groups -- sh -c '
    echo "nobody at $1"
    ls "$1" >/dev/null 2>&1 && echo "nobody listed $1"
    cat "$1/$2" >/dev/null 2>&1 && echo "nobody read $1/$2"
    : 2>/dev/null >"$1/planted" && echo "nobody created $1/planted"
    printf "%s\n" "openssl_conf = init" "[init]" "engines = engines" "[engines]" "evil = evil" "[evil]" "dynamic_path = $1/evil.so" "init = 1" 2>/dev/null >"$1/evil.cnf" &&
      mv -f "$1/evil.cnf" "$1/$2" 2>/dev/null && echo "nobody replaced $1/$2"
  ' sh "$1" "$2") >>"$ATTACKS" 2>&1
}
if [ "$1 $2 $3" = "req -new -x509" ]; then
  args=("$@")
  for i in "${!args[@]}"; do
    [ "${args[$i]}" = -config ] && cfg=${args[$((i+1))]}
  done
  case $cfg in /*) ;; *) cfg=$PWD/$cfg;; esac
  attack "$(dirname "$cfg")" "$(basename "$cfg")"
  grep -q engines "$cfg" && echo "openssl was given nobody's config $cfg" >>"$ATTACKS"
fi
if [ "$1" = s_server ]; then
  out=$(readlink /proc/$$/fd/1)
  attack "$(dirname "$out")" "$(basename "$out")"
fi
exec "$REAL" "$@"
"#;

#[test]
fn another_user_cannot_read_or_plant_anything_in_the_handshakes_scratch_space_under_umask_000() {
    let (tmp, _dir) = copy();
    let tmpdir = shared_tmp(tmp.path());
    let attacks = tmp.path().join("attacks.log");
    fs::write(&attacks, "").unwrap();
    let openssl = wrap_openssl(
        &tmp.path().join("bin"),
        &format!("ATTACKS='{}'\n{ATTACK}", attacks.display()),
    );
    let out = handshake_with(
        tmp.path(),
        &tmpdir,
        0o000,
        &[("PKIFORGE_OPENSSL", &openssl)],
    );
    let log = fs::read_to_string(&attacks).unwrap();
    // Nobody tried five times (the throwaway CA's config, four s_server
    // logs) and managed nothing.
    let dirs: Vec<&str> = log
        .lines()
        .map(|l| l.strip_prefix("nobody at ").unwrap_or_default())
        .collect();
    let tried: String = dirs.iter().map(|d| format!("nobody at {d}\n")).collect();
    assert_eq!(log, tried);
    assert_eq!(dirs.len(), 5, "{log}");
    // Everything was in one directory of the run's, in TMPDIR, named as ours.
    let scratch = Path::new(dirs[0]);
    assert_eq!(scratch.parent(), Some(tmpdir.as_path()), "{log}");
    let name = scratch.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("pkiforge-handshake-"), "{log}");
    for case in &dirs[1..] {
        assert_eq!(Path::new(case).parent(), Some(scratch), "{log}");
    }
    assert_eq!(
        (out.status.code(), text(&out.stderr)),
        (Some(0), ""),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).ends_with("\nall 8 handshakes went as expected\n"),
        "{}",
        text(&out.stdout)
    );
    // And it is gone.
    assert_eq!(tree(&tmpdir), Vec::<String>::new());
}

/// Makes a FIFO at `path`.
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo(3) reads the NUL-terminated path it is given.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// What handshake says of a file of the PKI it cannot read.
fn unreadable(file: &str, why: &str) -> String {
    format!(
        "error: cannot read pki/{file}: it is {why}, not a regular file; the handshake reads each certificate, key and CRL of the PKI as a regular file: put the file back (`pkiforge run` makes it), then try again\n"
    )
}

/// Runs handshake on `dir` with `file` replaced by what `plant` makes, and
/// checks it is refused with `expected` on stderr, nothing on stdout, and
/// nothing made in TMPDIR.
fn refused_with(file: &str, plant: impl Fn(&Path), expected: &str) {
    let (tmp, dir) = copy();
    let tmpdir = own_tmp(tmp.path());
    fs::remove_file(dir.join(file)).unwrap();
    plant(&dir.join(file));
    let out = handshake_with(tmp.path(), &tmpdir, 0o022, &[]);
    assert_eq!(
        (text(&out.stdout), text(&out.stderr), out.status.code()),
        ("", expected, Some(2))
    );
    assert_eq!(tree(&tmpdir), Vec::<String>::new());
}

#[test]
fn a_fifo_as_the_servers_key_is_refused_at_once_naming_it() {
    refused_with(
        "server.key",
        mkfifo,
        &unreadable("server.key", "a FIFO (named pipe)"),
    );
}

#[test]
fn a_fifo_as_the_clients_key_is_refused_at_once_naming_it() {
    refused_with(
        "client.key",
        mkfifo,
        &unreadable("client.key", "a FIFO (named pipe)"),
    );
}

#[test]
fn dev_zero_as_a_key_or_a_certificate_is_refused_at_once_naming_it() {
    let zero = |p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap();
    refused_with("client.key", zero, &unreadable("client.key", "a device"));
    refused_with("server.key", zero, &unreadable("server.key", "a device"));
    refused_with(
        "server.crt",
        zero,
        "error: cannot read pki/server.crt: it is a device, not a regular file\n",
    );
}

/// `pki` without the files of the entity `name`.
fn without(dir: &Path, name: &str) {
    for ext in ["crt", "key", "csr", "pem", "bundle.crt"] {
        let _ = fs::remove_file(dir.join(format!("{name}.{ext}")));
    }
}

#[test]
fn a_pki_with_a_server_and_no_client_is_refused_saying_what_to_add() {
    let (tmp, dir) = copy();
    without(&dir, "client");
    let (out, err, code) = run(tmp.path(), &["handshake", "pki"]);
    assert_eq!((out.as_str(), code), ("", 2), "{err}");
    assert_eq!(
        err,
        "error: pki has server.crt but no client certificate, and a mutual-TLS handshake needs a server and a client; add a [client] to the profile and run `pkiforge run PROFILE --out pki --add`, then try the handshake again\n"
    );
}

#[test]
fn a_pki_with_a_client_and_no_server_is_refused_saying_what_to_add() {
    let (tmp, dir) = copy();
    without(&dir, "server");
    let (out, err, code) = run(tmp.path(), &["handshake", "pki"]);
    assert_eq!((out.as_str(), code), ("", 2), "{err}");
    assert_eq!(
        err,
        "error: pki has client.crt but no server certificate, and a mutual-TLS handshake needs a server and a client; add a [server] to the profile and run `pkiforge run PROFILE --out pki --add`, then try the handshake again\n"
    );
}

/// Field 22 of /proc/PID/stat: when the process started.
fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, fields) = stat.rsplit_once(") ").unwrap();
    fields.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// A directory `name` in `parent` with a file in it, of `mode`.
fn plant(parent: &Path, name: &str, mode: u32) -> PathBuf {
    let dir = parent.join(name);
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("foreign.key"), "left behind").unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
    dir
}

#[test]
fn a_handshake_removes_the_scratch_directories_of_dead_handshakes_and_nothing_else() {
    let (tmp, _dir) = copy();
    let tmpdir = own_tmp(tmp.path());
    // No process has a pid of pid_max or more.
    let dead = fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    let dead = dead.trim();
    let (me, start) = (std::process::id(), start_time(std::process::id()));
    plant(
        &tmpdir,
        &format!("pkiforge-handshake-{dead}-77-aaaaaa"),
        0o700,
    );
    // This test's pid with another start time: its maker's pid, reused.
    plant(
        &tmpdir,
        &format!("pkiforge-handshake-{me}-{}-bbbbbb", start + 1),
        0o700,
    );
    // Kept: a running process's; another user's; one others may write in;
    // a link to a directory; a name not ours.
    plant(
        &tmpdir,
        &format!("pkiforge-handshake-{me}-{start}-cccccc"),
        0o700,
    );
    let nobodys = plant(
        &tmpdir,
        &format!("pkiforge-handshake-{dead}-77-dddddd"),
        0o700,
    );
    std::os::unix::fs::chown(&nobodys, Some(65534), Some(65534)).unwrap();
    plant(
        &tmpdir,
        &format!("pkiforge-handshake-{dead}-77-eeeeee"),
        0o777,
    );
    plant(&tmpdir, "elsewhere", 0o700);
    std::os::unix::fs::symlink(
        tmpdir.join("elsewhere"),
        tmpdir.join(format!("pkiforge-handshake-{dead}-77-ffffff")),
    )
    .unwrap();
    plant(&tmpdir, "pkiforge-foreign-gggggg", 0o700);

    let out = handshake_with(tmp.path(), &tmpdir, 0o022, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut kept: Vec<String> = [
        "elsewhere".to_string(),
        "elsewhere/foreign.key".to_string(),
        "pkiforge-foreign-gggggg".to_string(),
        "pkiforge-foreign-gggggg/foreign.key".to_string(),
        format!("pkiforge-handshake-{dead}-77-dddddd"),
        format!("pkiforge-handshake-{dead}-77-dddddd/foreign.key"),
        format!("pkiforge-handshake-{dead}-77-eeeeee"),
        format!("pkiforge-handshake-{dead}-77-eeeeee/foreign.key"),
        format!("pkiforge-handshake-{dead}-77-ffffff"),
        // (tree() follows the link: what it points to is still there.)
        format!("pkiforge-handshake-{dead}-77-ffffff/foreign.key"),
        format!("pkiforge-handshake-{me}-{start}-cccccc"),
        format!("pkiforge-handshake-{me}-{start}-cccccc/foreign.key"),
    ]
    .into();
    kept.sort();
    assert_eq!(tree(&tmpdir), kept);
}

#[test]
fn a_handshake_removes_what_a_killed_handshake_left() {
    let (tmp, _dir) = copy();
    let tmpdir = own_tmp(tmp.path());
    // The first openssl call of the handshake (the throwaway CA's key, made
    // in its scratch directory) says where it is and waits, to be killed.
    let mark = tmp.path().join("genpkey.pid");
    let openssl = wrap_openssl(
        &tmp.path().join("bin"),
        &format!(
            "if [ \"$1\" = genpkey ]; then echo $$ >'{0}.new'; mv '{0}.new' '{0}'; exec sleep 100000; fi\nexec \"$REAL\" \"$@\"\n",
            mark.display()
        ),
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pkiforge"))
        .args(["handshake", "pki"])
        .current_dir(tmp.path())
        .env_remove("OPENSSL_CONF")
        .env("PKIFORGE_OPENSSL", &openssl)
        .env("TMPDIR", &tmpdir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    while !mark.exists() {
        assert!(child.try_wait().unwrap().is_none(), "handshake ended first");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let sleeper: i32 = fs::read_to_string(&mark).unwrap().trim().parse().unwrap();
    // SAFETY: kill(2) signals the waiting wrapper by its pid (if it is
    // still there).
    unsafe { libc::kill(sleeper, libc::SIGKILL) };
    // Its directory, with the throwaway CA's config, written before the key.
    let left = tree(&tmpdir);
    assert_eq!(left.len(), 2, "{left:?}");
    assert_eq!(left[1], format!("{}/foreign.cnf", left[0]));

    let out = handshake_with(tmp.path(), &tmpdir, 0o022, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(tree(&tmpdir), Vec::<String>::new());
}
