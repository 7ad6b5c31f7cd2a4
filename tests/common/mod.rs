//! Helpers for the integration tests: the built binary, temp dirs, profiles,
//! and executables written on the spot.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;

/// The built pkiforge, run in `dir`, with no PKIFORGE_OPENSSL or OPENSSL_CONF
/// from the caller's environment.
pub fn pkiforge(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("pkiforge").expect("the pkiforge binary is built");
    cmd.current_dir(dir)
        .env_remove("PKIFORGE_OPENSSL")
        .env_remove("OPENSSL_CONF")
        .env("NO_COLOR", "1");
    if let Ok(openssl) = std::env::var("PKIFORGE_TEST_OPENSSL") {
        cmd.env("PKIFORGE_OPENSSL", openssl);
    }
    cmd.env("PKIFORGE_P12_PASSWORD", P12_PASSWORD);
    cmd
}

/// The PKCS#12 password every test run is given.
pub const P12_PASSWORD: &str = "pkiforge-test-password";

/// Runs pkiforge in `dir`: `(stdout, stderr, exit code)`.
pub fn run(dir: &Path, args: &[&str]) -> (String, String, i32) {
    let out = pkiforge(dir).args(args).output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap(),
    )
}

/// Runs pkiforge in `dir`, which must succeed; its stdout.
pub fn run_ok(dir: &Path, args: &[&str]) -> String {
    let (stdout, stderr, code) = run(dir, args);
    assert_eq!(code, 0, "pkiforge {args:?} failed:\n{stderr}");
    stdout
}

/// The openssl the tests check results with.
pub fn openssl() -> String {
    std::env::var("PKIFORGE_TEST_OPENSSL").unwrap_or_else(|_| "openssl".into())
}

/// The first line of `openssl version` of the openssl under test.
pub fn openssl_version() -> String {
    let out = std::process::Command::new(openssl())
        .arg("version")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

/// Whether the openssl under test is OpenSSL 1.x (1.1.1 in `just matrix`).
pub fn is_openssl_1() -> bool {
    openssl_version().starts_with("OpenSSL 1.")
}

/// Whether `openssl COMMAND -help` offers `flag` (a line that starts with
/// it), as pkiforge asks.
pub fn supports(command: &str, flag: &str) -> bool {
    let out = std::process::Command::new(openssl())
        .args([command, "-help"])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .any(|l| l.split_whitespace().next() == Some(flag))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A small, fast profile: RSA 2048 everywhere.
pub const FAST: &str = r#"
[ca]
bits = 2048
subject = { C = "DE", O = "Test Org", CN = "Test CA" }

[server]
bits = 2048
subject = { C = "DE", O = "Test Org", CN = "localhost" }
san = ["DNS:localhost", "IP:127.0.0.1"]

[client]
bits = 2048
subject = { O = "Test Org", OU = "Clients", CN = "alice", emailAddress = "alice@example.com" }
san = ["DNS:localhost"]
"#;

pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, text).unwrap();
}

/// Writes an executable shell script. It is written by `install`, not
/// here: a file this multi-threaded test process has open for writing
/// is inherited by whatever another thread forks meanwhile, and then
/// cannot be executed (ETXTBSY) until that child execs.
pub fn write_executable(path: &Path, script: &str) {
    let draft = path.with_extension("draft");
    write(&draft, script);
    let status = std::process::Command::new("install")
        .args(["-m", "755"])
        .arg(&draft)
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "install {}", path.display());
    fs::remove_file(&draft).unwrap();
}

/// A bash wrapper `bin_dir/openssl` around the real openssl for fault
/// injection and logging: pkiforge's questions to the binary (version,
/// -help, object names) go straight through; every other call runs `body`,
/// in which `$REAL` is the real openssl.
pub fn wrap_openssl(bin_dir: &Path, body: &str) -> PathBuf {
    let real = which::which(openssl()).unwrap();
    let path = bin_dir.join("openssl");
    write_executable(
        &path,
        &format!(
            "#!/usr/bin/env bash
REAL='{}'
             case \"$1 $2\" in version*|asn1parse*|*-help) exec \"$REAL\" \"$@\";; esac
{body}",
            real.display()
        ),
    );
    path
}

/// Every file below `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if p.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

pub const ELEVEN: [&str; 11] = [
    "ca.crt",
    "ca.key",
    "ca.srl",
    "client.crt",
    "client.csr",
    "client.key",
    "client.pem",
    "server.bundle.crt",
    "server.crt",
    "server.csr",
    "server.key",
];

/// A finished command's output; panics with its stderr unless it succeeded.
pub fn succeeded(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the real openssl and returns stdout's bytes; panics with stderr on failure.
pub fn openssl_bytes(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(openssl())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs the real openssl and returns stdout; panics with stderr on failure.
pub fn openssl_out(dir: &Path, args: &[&str]) -> String {
    String::from_utf8(openssl_bytes(dir, args)).unwrap()
}

/// `(short name, value)` of a PEM certificate's subject, parsed here with
/// x509-parser rather than through pkiforge.
pub fn subject(path: &Path) -> Vec<(String, String)> {
    use x509_parser::prelude::*;
    let bytes = fs::read(path).unwrap();
    let (_, pem) = parse_x509_pem(&bytes).unwrap();
    let (_, cert) = X509Certificate::from_der(&pem.contents).unwrap();
    cert.subject()
        .iter_attributes()
        .map(|a| {
            let oid = a.attr_type().to_id_string();
            let name = match oid.as_str() {
                "2.5.4.6" => "C",
                "2.5.4.8" => "ST",
                "2.5.4.7" => "L",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.3" => "CN",
                "1.2.840.113549.1.9.1" => "emailAddress",
                other => other,
            };
            (name.to_string(), a.as_str().unwrap().to_string())
        })
        .collect()
}

pub fn sans(path: &Path) -> Vec<String> {
    use x509_parser::prelude::*;
    let bytes = fs::read(path).unwrap();
    let (_, pem) = parse_x509_pem(&bytes).unwrap();
    let (_, cert) = X509Certificate::from_der(&pem.contents).unwrap();
    let Some(ext) = cert.subject_alternative_name().unwrap() else {
        return vec![];
    };
    ext.value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => format!("DNS:{d}"),
            GeneralName::IPAddress(b) if b.len() == 4 => {
                format!("IP:{}.{}.{}.{}", b[0], b[1], b[2], b[3])
            }
            GeneralName::RFC822Name(e) => format!("email:{e}"),
            GeneralName::URI(u) => format!("URI:{u}"),
            other => format!("{other:?}"),
        })
        .collect()
}

pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// One good PKI of FAST made by pkiforge, shared by the tests of one test
/// binary (each works on a copy).
pub fn good_pki() -> &'static Path {
    static PKI: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap().keep();
        write(&tmp.join("fast.toml"), FAST);
        run_ok(&tmp, &["run", "fast.toml", "--quiet"]);
        tmp.join("pki/fast")
    })
}

/// A copy of the good PKI in a fresh temp dir, as `TMP/pki`.
pub fn copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    fs::create_dir(&dir).unwrap();
    for f in ELEVEN {
        fs::copy(good_pki().join(f), dir.join(f)).unwrap();
    }
    (tmp, dir)
}

/// Replaces `client.crt` (and `client.pem`) with a certificate for the same
/// key and subject signed by a throwaway foreign CA.
pub fn resign_client_with_foreign_ca(dir: &Path) {
    openssl_out(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "evil.key",
        ],
    );
    openssl_out(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-key",
            "evil.key",
            "-subj",
            "/CN=Evil CA",
            "-out",
            "evil.crt",
        ],
    );
    write(&dir.join("evil.ext"), "subjectAltName=DNS:localhost");
    openssl_out(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "evil.crt",
            "-CAkey",
            "evil.key",
            "-CAcreateserial",
            "-extfile",
            "evil.ext",
            "-out",
            "client.crt",
        ],
    );
    for f in ["evil.key", "evil.crt", "evil.srl", "evil.ext"] {
        fs::remove_file(dir.join(f)).unwrap();
    }
    let bundle = [
        fs::read(dir.join("client.crt")).unwrap(),
        fs::read(dir.join("ca.crt")).unwrap(),
    ]
    .concat();
    fs::write(dir.join("client.pem"), bundle).unwrap();
}

/// Whether a process is gone: no /proc entry, or a zombie. A SIGKILLed
/// process dies when next scheduled, so allow it a moment on a busy machine.
pub fn process_gone(pid: &str) -> bool {
    let dead = || match fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat
            .split(") ")
            .nth(1)
            .is_some_and(|s| s.starts_with('Z') || s.starts_with('X')),
    };
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(5) {
        if dead() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// pkiforge started in `work` with `args`, its output piped, for tests that
/// signal it while it runs.
pub fn spawn_pkiforge(work: &Path, args: &[&std::ffi::OsStr]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("pkiforge"))
        .args(args)
        .current_dir(work)
        .env_remove("OPENSSL_CONF")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

// Real servers on loopback (nginx, HAProxy, openssl s_server), for the
// tests that prove pkiforge's files with the programs they are for.

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A program that is stopped when the test ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    /// SIGTERM, so that nginx's master stops its workers too.
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}

/// `openssl s_server` in `dir` on a free loopback port, presenting
/// `server.crt` with `ca.crt` as its CA file, with `args` after; running
/// until dropped, once it listens.
pub fn s_server_in(dir: &Path, args: &[&str]) -> (Running, u16) {
    let port = free_port();
    let server = std::process::Command::new(openssl())
        .current_dir(dir)
        .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
        .args([
            "-cert",
            "server.crt",
            "-key",
            "server.key",
            "-CAfile",
            "ca.crt",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(server);
    wait_for_port(port);
    (running, port)
}

pub fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Runs `cmd` with `input` on its stdin; its output (stdout and stderr
/// captured).
pub fn with_stdin(cmd: &mut std::process::Command, input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// A certificate's serial in hex, as openssl prints it (`serial=` cut).
pub fn serial(dir: &Path, file: &str) -> String {
    openssl_out(dir, &["x509", "-noout", "-serial", "-in", file])
        .trim()
        .trim_start_matches("serial=")
        .to_string()
}

pub fn installed(program: &str, package: &str) -> PathBuf {
    which::which(program)
        .or_else(|_| which::which(format!("/usr/sbin/{program}")))
        .unwrap_or_else(|_| {
            panic!("{program} is installed (apt-get install {package}; .ci/run installs it)")
        })
}

/// `profiles/PROFILE` run once, for all the tests of one file, into `pki`
/// in a temporary directory that `cell` keeps; that directory.
pub fn run_once(cell: &'static OnceLock<tempfile::TempDir>, profile: &str) -> &'static Path {
    cell.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let profile = repo().join("profiles").join(profile);
        run_ok(
            tmp.path(),
            &["--quiet", "run", profile.to_str().unwrap(), "--out", "pki"],
        );
        tmp
    })
    .path()
}

/// nginx, as a user runs it, with `http` as its http block and its files in
/// `prefix`, once it listens on `port`.
pub fn start_nginx(prefix: &Path, http: &str, port: u16) -> Running {
    let nginx = installed("nginx", "nginx");
    let t = prefix.display();
    let conf = prefix.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\npid {t}/nginx.pid;\nerror_log {t}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {t}; proxy_temp_path {t}; fastcgi_temp_path {t}; uwsgi_temp_path {t}; scgi_temp_path {t};\n{http}}}\n"
        ),
    )
    .unwrap();
    let running = Running(
        std::process::Command::new(nginx)
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(prefix)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    running
}

/// A TLS client written with Python's ssl module and its default context:
/// `python3 -c PYTHON_CLIENT HOST PORT CA`.
pub const PYTHON_CLIENT: &str = "import socket, ssl, sys\nc = ssl.create_default_context(cafile=sys.argv[3])\nwith socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60) as s:\n    c.wrap_socket(s, server_hostname=sys.argv[1]).close()\n";

/// `pkiforge --quiet test-client pki --json -- COMMAND…` in `dir`: each
/// server's `(case, kind, observed)`, and the exit status.
pub fn test_client_verdicts(dir: &Path, command: &[&str]) -> (Vec<[String; 3]>, i32) {
    let mut args = vec!["--quiet", "test-client", "pki", "--json", "--"];
    args.extend(command);
    let (stdout, stderr, code) = run(dir, &args);
    let verdicts: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"));
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_string();
    let rows = verdicts
        .as_array()
        .unwrap()
        .iter()
        .map(|v| [field(v, "case"), field(v, "kind"), field(v, "observed")])
        .collect();
    (rows, code)
}

/// Whether curl, presenting `name`'s bundle (`NAME.pem`) and key from
/// `dir`, trusting `dir`'s `ca.crt`, gets a success from
/// `https://localhost:PORT/`.
pub fn curl_as(dir: &Path, port: u16, name: &str) -> bool {
    std::process::Command::new("curl")
        .args([
            "-sS",
            "-f",
            "-o",
            "/dev/null",
            "--max-time",
            "60",
            "--cacert",
        ])
        .arg(dir.join("ca.crt"))
        .arg("--cert")
        .arg(dir.join(format!("{name}.pem")))
        .arg("--key")
        .arg(dir.join(format!("{name}.key")))
        .arg(format!("https://localhost:{port}/"))
        .status()
        .unwrap()
        .success()
}
