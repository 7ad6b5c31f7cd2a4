//! `pkiforge test-server`, against real servers on loopback: openssl
//! s_server and nginx, each set up right and then missing one check, with
//! the PKI of profiles/fixtures.toml; and what is bad input.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The client fixtures of profiles/fixtures.toml, in the order the table
/// lists them.
const FIXTURES: [&str; 6] = [
    "client-expired",
    "client-not-yet-valid",
    "client-wrong-purpose",
    "client-foreign-ca",
    "client-self-signed",
    "client-revoked",
];

/// The PKI of profiles/fixtures.toml, made once per test binary: `TMP/pki`.
fn fixtures_pki() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    static PKI: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PKI.get_or_init(|| run_once(&DIR, "fixtures.toml").join("pki"))
}

/// `openssl s_server` serving the good server on a loopback port with
/// `checks` (how it verifies clients), answering each line reversed.
fn s_server(checks: &[&str]) -> (Running, u16) {
    let mut args = checks.to_vec();
    args.extend(["-rev", "-quiet"]);
    s_server_in(fixtures_pki(), &args)
}

/// test-server against `127.0.0.1:PORT`: `(stdout, stderr, exit code)`.
fn test_server(port: u16, more: &[&str]) -> (String, String, i32) {
    let address = format!("127.0.0.1:{port}");
    let mut args = vec!["--quiet", "test-server", "pki", &address];
    args.extend(more);
    run(fixtures_pki().parent().unwrap(), &args)
}

/// Each row of the table: `(case, observed, verdict)`.
fn rows(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty() && !l.starts_with("all "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (
                words[0].to_string(),
                words[3].to_string(),
                words[words.len() - 1].to_string(),
            )
        })
        .collect()
}

/// The table's rows as they must be when every verdict but `wrong`'s is right.
fn expected_rows(wrong: &[&str]) -> Vec<(String, String, String)> {
    let mut all = vec![("client", "accepted")];
    all.push(("no-certificate", "refused"));
    all.extend(FIXTURES.iter().map(|f| (*f, "refused")));
    all.into_iter()
        .map(|(case, seen)| {
            let is_wrong = wrong.contains(&case);
            let seen = match (is_wrong, seen) {
                (true, "refused") => "accepted",
                (true, _) => "refused",
                _ => seen,
            };
            let verdict = if is_wrong { "WRONG" } else { "ok" };
            (case.to_string(), seen.to_string(), verdict.to_string())
        })
        .collect()
}

const REVOKED_LINE: &str = "client-revoked: the server accepts revoked client certificates: load the CRL (nginx: ssl_crl)\n";

#[test]
fn s_server_set_up_right_refuses_every_fixture_and_accepts_the_good_client() {
    let (_server, port) = s_server(&[
        "-Verify",
        "1",
        "-verify_return_error",
        "-crl_check",
        "-CRL",
        "ca.crl",
    ]);
    let (stdout, stderr, code) = test_server(port, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(rows(&stdout), expected_rows(&[]), "{stdout}");
    assert!(stdout.starts_with("case "), "{stdout}");
    assert!(
        stdout.contains("  alert certificate_revoked  ")
            && stdout.contains("  alert certificate_required  ")
            && stdout.contains(r#"completed, answered "gnip revres-tset egrofikp""#),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("\nall 8 cases went as expected\n"),
        "{stdout}"
    );
}

#[test]
fn s_server_without_the_crl_is_reported_to_accept_the_revoked_client() {
    let (_server, port) = s_server(&["-Verify", "1", "-verify_return_error"]);
    let (stdout, stderr, code) = test_server(port, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(
        rows(&stdout),
        expected_rows(&["client-revoked"]),
        "{stdout}"
    );
    assert!(
        stdout.ends_with(&format!("WRONG\n\n{REVOKED_LINE}")),
        "{stdout}"
    );
    assert_eq!(stderr, "error: 1 of 8 cases failed: client-revoked\n");

    let (json, _, code) = test_server(port, &["--json"]);
    assert_eq!(code, 1);
    let cases: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 8);
    assert_eq!(
        cases[7],
        serde_json::json!({"case": "client-revoked", "kind": "revoked", "expected": "refuse",
            "observed": "accepted", "detail": r#"completed, answered "gnip revres-tset egrofikp""#,
            "ok": false})
    );
    assert_eq!(cases[1]["kind"], "no-certificate");
    assert_eq!(cases[1]["detail"], "alert certificate_required");
}

#[test]
fn s_server_with_verify_rather_than_capital_verify_is_reported_to_accept_no_certificate() {
    let (_server, port) = s_server(&[
        "-verify",
        "1",
        "-verify_return_error",
        "-crl_check",
        "-CRL",
        "ca.crl",
    ]);
    let (stdout, stderr, code) = test_server(port, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(
        rows(&stdout),
        expected_rows(&["no-certificate"]),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("  ok\n\nno-certificate: the server accepts clients without a certificate: require one (nginx: ssl_verify_client on; openssl s_server: -Verify, not -verify)\n"),
        "{stdout}"
    );
}

/// nginx serving the good server of the fixtures' PKI, requiring a client
/// certificate from its CA, with or without its CRL.
fn nginx(with_crl: bool) -> (tempfile::TempDir, Running, u16) {
    let prefix = tempfile::tempdir().unwrap();
    let port = free_port();
    let pki = fs::canonicalize(fixtures_pki()).unwrap();
    let d = pki.display();
    let crl = if with_crl {
        format!("ssl_crl {d}/ca.crl;")
    } else {
        String::new()
    };
    let http = format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name localhost;\n    ssl_certificate {d}/server.bundle.crt;\n    ssl_certificate_key {d}/server.key;\n    ssl_client_certificate {d}/ca.crt;\n    ssl_verify_client on;\n    {crl}\n    location / {{ return 200 \"mutual TLS ok\\n\"; }}\n  }}\n"
    );
    let running = start_nginx(prefix.path(), &http, port);
    (prefix, running, port)
}

/// Whether curl gets a successful answer from the server on `port` with
/// the client `name`'s bundle and key (or none).
fn curl_accepted(port: u16, name: Option<&str>) -> bool {
    let dir = fixtures_pki();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "-f",
        "-o",
        "/dev/null",
        "--max-time",
        "10",
        "--cacert",
    ])
    .arg(dir.join("ca.crt"));
    if let Some(name) = name {
        cmd.arg("--cert")
            .arg(dir.join(format!("{name}.pem")))
            .arg("--key")
            .arg(dir.join(format!("{name}.key")));
    }
    let out = cmd
        .arg(format!("https://localhost:{port}/"))
        .output()
        .unwrap();
    out.status.success()
}

/// Each case of test-server's table says what curl sees from the same server.
fn assert_curl_agrees(port: u16, rows: &[(String, String, String)]) {
    for (case, observed, _) in rows {
        let client = (case != "no-certificate").then_some(case.as_str());
        let curl = if curl_accepted(port, client) {
            "accepted"
        } else {
            "refused"
        };
        assert_eq!(observed, curl, "{case}: test-server and curl disagree");
    }
}

#[test]
fn nginx_with_its_crl_is_right_and_curl_sees_the_same() {
    let (_prefix, _nginx, port) = nginx(true);
    let (stdout, stderr, code) = test_server(port, &["--http", "/"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Clients side by side (nginx serves them at once), the table the same,
    // in the same order, as one at a time.
    for jobs in ["1", "8"] {
        let (alone, stderr, code) = test_server(port, &["--http", "/", "--jobs", jobs]);
        assert_eq!(
            (code, alone.as_str()),
            (0, stdout.as_str()),
            "--jobs {jobs}: {stderr}"
        );
    }
    let rows = rows(&stdout);
    assert_eq!(rows, expected_rows(&[]), "{stdout}");
    // nginx finishes the handshake and answers 400 to a bad certificate.
    assert!(stdout.contains("  HTTP/1.1 400 Bad Request  "), "{stdout}");
    assert!(stdout.contains("  HTTP/1.1 200 OK  "), "{stdout}");
    assert_curl_agrees(port, &rows);
}

#[test]
fn nginx_without_ssl_crl_is_reported_to_accept_the_revoked_client() {
    let (_prefix, _nginx, port) = nginx(false);
    let (stdout, stderr, code) = test_server(port, &["--http", "/"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let rows = rows(&stdout);
    assert_eq!(rows, expected_rows(&["client-revoked"]), "{stdout}");
    assert!(
        stdout.ends_with(&format!("WRONG\n\n{REVOKED_LINE}")),
        "{stdout}"
    );
    assert_curl_agrees(port, &rows);
}

#[test]
fn nothing_listening_is_bad_input_and_says_what_to_do() {
    let port = free_port();
    let (stdout, stderr, code) = test_server(port, &[]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert_eq!(
        stderr,
        format!(
            "error: nothing is listening on 127.0.0.1:{port} (Connection refused (os error 111)): start your server there first, or name the address it listens on\n"
        )
    );
}

#[test]
fn a_server_that_does_not_verify_an_address_and_a_pki_without_fixtures_are_bad_input() {
    let (_server, port) = s_server(&["-Verify", "1", "-verify_return_error"]);
    let (stdout, stderr, code) = test_server(port, &["--servername", "elsewhere.invalid"]);
    assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: the server at 127.0.0.1:{port} does not verify as elsewhere.invalid against pki/ca.crt: hostname mismatch; ")),
        "{stderr}"
    );

    let (_, stderr, code) = test_server(port, &["--http", "no-slash"]);
    assert_eq!(code, 2, "{stderr}");
    let work = fixtures_pki().parent().unwrap();
    let (_, stderr, code) = run(work, &["test-server", "pki", "localhost"]);
    assert_eq!(
        (stderr.as_str(), code),
        (
            "error: \"localhost\" is not HOST:PORT (no port): name where your server listens, as localhost:8443, 127.0.0.1:8443 or [::1]:8443\n",
            2
        )
    );

    let (tmp, dir) = copy();
    let address = format!("127.0.0.1:{port}");
    let (_, stderr, code) = run(
        tmp.path(),
        &["test-server", dir.to_str().unwrap(), &address],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(" has no client fixtures for the server to refuse; "),
        "{stderr}"
    );
}

#[test]
fn a_fixture_with_a_key_openssl_calls_too_weak_is_still_presented_and_refused() {
    // A copy of the fixtures' PKI whose self-signed client has an RSA-1024
    // key: s_client refuses to load it at the usual security level, and
    // test-server presents it again at level 0 rather than skip the case.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("pki");
    fs::create_dir(&copy).unwrap();
    for entry in fs::read_dir(fixtures_pki()).unwrap().flatten() {
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    openssl_out(
        &copy,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:1024",
            "-nodes",
            "-subj",
            "/CN=weak client",
            "-days",
            "2",
            "-keyout",
            "client-self-signed.key",
            "-out",
            "client-self-signed.pem",
        ],
    );
    let (_server, port) = s_server(&[
        "-Verify",
        "1",
        "-verify_return_error",
        "-crl_check",
        "-CRL",
        "ca.crl",
    ]);
    let address = format!("127.0.0.1:{port}");
    let (stdout, stderr, code) = run(tmp.path(), &["--quiet", "test-server", "pki", &address]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(rows(&stdout), expected_rows(&[]), "{stdout}");
}
