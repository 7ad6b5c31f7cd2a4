//! `pkiforge test-client`: real clients (curl, gnutls-cli, Python's ssl
//! module) against every server of profiles/fixtures.toml, served on
//! loopback by openssl s_server; `--serve` stopped by a real SIGINT.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// profiles/fixtures.toml, run once for the tests of this file.
fn fixtures_pki() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    run_once(&DIR, "fixtures.toml")
}

/// The server fixtures of profiles/fixtures.toml, in its order.
const FIXTURES: [&str; 7] = [
    "server-expired",
    "server-not-yet-valid",
    "server-wrong-purpose",
    "server-foreign-ca",
    "server-self-signed",
    "server-revoked",
    "server-wrong-host",
];

/// `pkiforge -q test-client pki ARGS`: (stdout, stderr, exit code).
fn test_client(args: &[&str]) -> (String, String, i32) {
    let mut all = vec!["--quiet", "test-client", "pki"];
    all.extend(args);
    run(fixtures_pki(), &all)
}

/// The verdicts of `--json`: (case, observed, ok) for each server.
fn verdicts(json: &str) -> Vec<(String, String, bool)> {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            assert_eq!(
                keys,
                ["case", "detail", "expected", "kind", "observed", "ok"],
                "{v}"
            );
            (
                v["case"].as_str().unwrap().to_string(),
                v["observed"].as_str().unwrap().to_string(),
                v["ok"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// What a client refused of the servers, by case name.
fn refused(json: &str) -> Vec<String> {
    verdicts(json)
        .into_iter()
        .filter(|(_, observed, _)| observed == "refused")
        .map(|(case, _, _)| case)
        .collect()
}

fn fixtures_but(left_out: &str) -> Vec<String> {
    FIXTURES
        .iter()
        .filter(|f| **f != left_out)
        .map(|f| f.to_string())
        .collect()
}

/// A table row with its columns' padding taken out.
fn words(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

const CURL: &[&str] = &["--", "curl", "-sS", "-o", "/dev/null", "--cacert", "{ca}"];
const URL: &str = "https://{host}:{port}/";

#[test]
fn curl_with_the_ca_and_its_crl_refuses_every_fixture_and_accepts_the_good_server() {
    let args = [CURL, &["--crlfile", "{crl}", URL]].concat();
    let (stdout, stderr, code) = test_client(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("{:<20}  {:<13}  expected  observed  detail", "case", "kind")
    );
    assert_eq!(
        words(lines[1]),
        "server good accept accepted exit 0 ok",
        "{stdout}"
    );
    for (line, fixture) in lines[2..9].iter().zip(FIXTURES) {
        let expected = format!("{fixture:<20}  ");
        assert!(line.starts_with(&expected), "{stdout}");
        assert!(
            line.contains("  refuse    refused   exit 60: curl: (60) "),
            "{line}"
        );
        assert!(line.ends_with("  ok"), "{line}");
    }
    assert_eq!(lines[9..], ["all 8 verdicts right"], "{stdout}");
    assert!(stdout.contains("certificate has expired"), "{stdout}");
    assert!(stdout.contains("certificate revoked"), "{stdout}");
}

#[test]
fn curl_without_the_crl_accepts_the_revoked_server() {
    let args = [CURL, &[URL]].concat();
    let (stdout, stderr, code) = test_client(&args);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let wrong: Vec<String> = stdout
        .lines()
        .filter(|l| l.ends_with("WRONG"))
        .map(words)
        .collect();
    assert_eq!(
        wrong,
        ["server-revoked revoked refuse accepted exit 0 WRONG"],
        "{stdout}"
    );
    assert!(
        stdout.contains("\n\nserver-revoked: the client accepts a server certificate that is wrong: the CA's CRL revokes it\n"),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "error: 1 of 8 verdicts failed: server-revoked (revoked expected to refuse, accepted)\n"
    );
}

#[test]
fn curl_insecure_accepts_every_fixture_and_each_is_wrong() {
    let (stdout, stderr, code) = test_client(&["--", "curl", "-sS", "-k", "-o", "/dev/null", URL]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let wrong: Vec<String> = stdout
        .lines()
        .filter(|l| l.ends_with("WRONG"))
        .map(words)
        .collect();
    let expected: Vec<String> = FIXTURES
        .iter()
        .map(|f| {
            let kind = f.trim_start_matches("server-");
            format!("{f} {kind} refuse accepted exit 0 WRONG")
        })
        .collect();
    assert_eq!(wrong, expected, "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| words(l) == "server good accept accepted exit 0 ok"),
        "{stdout}"
    );
    assert!(stderr.starts_with(
        "error: 7 of 8 verdicts failed: server-expired (expired expected to refuse, accepted), "
    ));
}

#[test]
fn json_is_an_array_of_verdicts_and_exits_as_the_table_does() {
    let args = [&["--json"], CURL, &[URL]].concat();
    let (stdout, _, code) = test_client(&args);
    assert_eq!(code, 1);
    let all = verdicts(&stdout);
    assert_eq!(all.len(), 8);
    assert_eq!(all[0], ("server".into(), "accepted".into(), true));
    assert_eq!(
        all.iter().filter(|(_, _, ok)| !ok).collect::<Vec<_>>(),
        [&("server-revoked".to_string(), "accepted".to_string(), false)]
    );
}

fn require(program: &str) {
    assert!(
        which::which(program).is_ok(),
        "{program} is not installed; .ci/run installs it"
    );
}

/// gnutls-cli, stdin closed: what it refuses, with and without the CRL,
/// measured (docs/testing-clients.md): the same as curl.
#[test]
fn gnutls_cli_refuses_what_curl_refuses() {
    require("gnutls-cli");
    let gnutls = ["--", "gnutls-cli", "--x509cafile", "{ca}"];
    let args = [&["--json"][..], &gnutls, &["-p", "{port}", "{host}"]].concat();
    let (stdout, stderr, code) = test_client(&args);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(refused(&stdout), fixtures_but("server-revoked"));
    let crl = ["--x509crlfile", "{crl}", "-p", "{port}", "{host}"];
    let args = [&["--json"][..], &gnutls, &crl].concat();
    let (stdout, stderr, code) = test_client(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(refused(&stdout), fixtures_but(""));
}

/// A client written with Python's ssl module: the default context, and the
/// CRL checked for the leaf when a fourth argument names it.
const PYTHON_CLIENT: &str = r#"
import socket, ssl, sys
host, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]
context = ssl.create_default_context(cafile=ca)
if len(sys.argv) > 4:
    context.load_verify_locations(cafile=sys.argv[4])
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
with socket.create_connection((host, port), timeout=60) as sock:
    with context.wrap_socket(sock, server_hostname=host):
        pass
"#;

#[test]
fn python_ssl_refuses_what_curl_refuses() {
    require("python3");
    let python = ["--json", "--", "python3", "-c", PYTHON_CLIENT];
    let args = [&python[..], &["{host}", "{port}", "{ca}"]].concat();
    let (stdout, stderr, code) = test_client(&args);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_eq!(refused(&stdout), fixtures_but("server-revoked"));
    assert!(
        stdout.contains("\"detail\":\"exit 1: ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired"),
        "{stdout}"
    );
    let args = [&python[..], &["{host}", "{port}", "{ca}", "{crl}"]].concat();
    let (stdout, stderr, code) = test_client(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(refused(&stdout), fixtures_but(""));
}

#[test]
fn a_command_that_does_not_exist_is_bad_input() {
    let (stdout, stderr, code) = test_client(&["--", "pkiforge-no-such-client", "{port}"]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert_eq!(
        stderr,
        "error: cannot run COMMAND pkiforge-no-such-client: no such program on PATH; install it, or give its path\n"
    );
}

#[test]
fn a_pki_without_servers_is_bad_input() {
    let (_tmp, dir) = copy();
    for file in [
        "server.crt",
        "server.key",
        "server.csr",
        "server.bundle.crt",
    ] {
        std::fs::remove_file(dir.join(file)).unwrap();
    }
    let (stdout, stderr, code) = run(&dir, &["test-client", ".", "--", "curl", "{port}"]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert_eq!(
        stderr,
        "error: . has no server certificate to serve (only client.crt); test-client serves each server of a PKI and its server fixtures: add a [[server]] to the profile and run `pkiforge run PROFILE --out . --add`\n"
    );
}

#[test]
fn a_host_that_is_not_loopback_is_bad_input() {
    let (_, stderr, code) = test_client(&["--host", "192.0.2.1", "--", "curl", "{port}"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: the host 192.0.2.1 does not resolve to 127.0.0.1, where test-client's servers listen; pass --host with a name that does (localhost, or an entry in /etc/hosts), or --host 127.0.0.1 when the servers' certificates carry IP:127.0.0.1\n"
    );
}

#[test]
fn the_ip_address_is_a_host_too() {
    // Every server of fixtures.toml but the wrong-host one names IP:127.0.0.1.
    let args = [&["--host", "127.0.0.1"], CURL, &["--crlfile", "{crl}", URL]].concat();
    let (stdout, stderr, code) = test_client(&args);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.ends_with("\nall 8 verdicts right\n"), "{stdout}");
}

/// The pids of the children of `pid` (from /proc: no pgrep needed).
fn children(pid: u32) -> Vec<String> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn serve_keeps_the_servers_up_until_ctrl_c_and_leaves_nothing_behind() {
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("pkiforge"));
    cmd.args(["test-client", "pki", "--serve"])
        .current_dir(fixtures_pki())
        .env_remove("OPENSSL_CONF")
        .env("TMPDIR", scratch.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Ok(openssl) = std::env::var("PKIFORGE_TEST_OPENSSL") {
        cmd.env("PKIFORGE_OPENSSL", openssl);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut table = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("serving on ");
        table.push(line);
        if done {
            break;
        }
    }
    let port = table
        .iter()
        .find(|l| l.starts_with("server "))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap_or_else(|| panic!("{table:?}"))
        .to_string();
    assert_eq!(
        table[0],
        "CASE                 KIND          EXPECTED PORT  HOST"
    );
    assert_eq!(table.len(), 1 + 8 + 3, "{table:#?}");
    let ca = fixtures_pki().join("pki/ca.crt");
    assert_eq!(table[9], format!("{{ca}} {}", ca.display()));

    // A client driven by hand: curl, to the good server.
    let curl = std::process::Command::new("curl")
        .args(["-sS", "--max-time", "120", "--cacert"])
        .arg(&ca)
        .arg(format!("https://localhost:{port}/"))
        .output()
        .unwrap();
    assert!(curl.status.success(), "{curl:?}");
    assert!(String::from_utf8_lossy(&curl.stdout).contains("<HTML>"));

    let servers = children(child.id());
    assert_eq!(servers.len(), 8, "{servers:?}");
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        1,
        "its scratch directory"
    );
    // SAFETY: kill(2) of the pkiforge this test started.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "still serving"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "stopped 8 servers\n");
    for pid in &servers {
        assert!(process_gone(pid), "s_server {pid} is still running");
    }
    // Nothing started with a file of its scratch directory runs.
    let pgrep = std::process::Command::new("pgrep")
        .args(["-f", &scratch.path().display().to_string()])
        .output()
        .unwrap();
    assert_eq!(pgrep.status.code(), Some(1), "{pgrep:?}");
    let left: Vec<_> = std::fs::read_dir(scratch.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
