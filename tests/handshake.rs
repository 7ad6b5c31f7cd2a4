//! `pkiforge handshake`: real mutual TLS on loopback with openssl and rustls.

mod common;

use common::*;

fn handshake(work: &std::path::Path) -> (String, String, i32) {
    run(work, &["handshake", "pki"])
}

/// The cases of each line, without openssl's and rustls's wording of why,
/// nor the indented line of what an accepted session negotiated.
fn cases(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| {
            l.split(": ")
                .next()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn no_tls_process_left(dir: &std::path::Path) -> bool {
    let out = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    !String::from_utf8_lossy(&out.stdout).lines().any(|l| {
        (l.contains("s_server") || l.contains("s_client")) && l.contains(dir.to_str().unwrap())
    })
}

#[test]
fn a_good_pki_does_mutual_tls_and_refuses_what_it_must() {
    let (tmp, dir) = copy();
    let (stdout, stderr, code) = handshake(tmp.path());
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    assert_eq!(
        cases(&stdout),
        [
            "ok openssl accepted server.crt with client.crt as localhost",
            "ok openssl refused server.crt with no client certificate",
            "ok openssl refused server.crt with a client certificate from a foreign CA",
            "ok openssl refused server.crt as not-in-san.pkiforge.invalid (not in its SAN)",
            "ok rustls accepted server.crt with client.crt as localhost",
            "ok rustls refused server.crt with no client certificate",
            "ok rustls refused server.crt with a client certificate from a foreign CA",
            "ok rustls refused server.crt as not-in-san.pkiforge.invalid (not in its SAN)",
            "all 8 handshakes went as expected",
        ]
    );
    assert!(stdout.contains("ok   openssl accepted  server.crt with client.crt as localhost: payload sent and answered\n"), "{stdout}");
    // Each accepted session says what it negotiated, on the line under it.
    let negotiated: Vec<&str> = stdout.lines().filter(|l| l.starts_with(' ')).collect();
    assert_eq!(negotiated.len(), 2, "{stdout}");
    for line in negotiated {
        assert!(line.starts_with("       TLSv1.3, group "), "{stdout}");
        assert!(line.contains(", server signature "), "{stdout}");
    }
    assert!(stdout.contains("ok   rustls  refused   server.crt with a client certificate from a foreign CA: server: invalid peer certificate: UnknownIssuer"), "{stdout}");
    assert!(no_tls_process_left(&dir));
}

#[test]
fn a_client_certificate_from_another_ca_fails_the_handshake_in_both_stacks() {
    let (tmp, dir) = copy();
    resign_client_with_foreign_ca(&dir);
    let (stdout, stderr, code) = handshake(tmp.path());
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: 2 of 8 handshakes failed: openssl server.crt with client.crt as localhost, rustls server.crt with client.crt as localhost\n"
    );
    let failed: Vec<String> = cases(&stdout)
        .into_iter()
        .filter(|c| c.starts_with("FAIL"))
        .collect();
    assert_eq!(
        failed,
        [
            "FAIL openssl refused server.crt with client.crt as localhost (expected accepted)",
            "FAIL rustls refused server.crt with client.crt as localhost (expected accepted)",
        ]
    );
    assert!(no_tls_process_left(&dir));
}

#[test]
fn a_server_key_that_does_not_match_fails_the_handshake() {
    let (tmp, dir) = copy();
    openssl_out(&dir, &["genrsa", "-out", "server.key", "2048"]);
    let (stdout, _, code) = handshake(tmp.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with(
            "FAIL openssl refused   server.crt with client.crt as localhost (expected accepted)"
        ),
        "{stdout}"
    );
    assert!(no_tls_process_left(&dir));
}

/// An openssl that logs every call it is given besides pkiforge's
/// questions (version, -help), in `bin/openssl.log`.
fn logging_openssl(tmp: &std::path::Path) -> std::path::PathBuf {
    let log = tmp.join("bin/openssl.log");
    wrap_openssl(
        &tmp.join("bin"),
        &format!("echo \"$*\" >>'{}'\nexec \"$REAL\" \"$@\"\n", log.display()),
    )
}

#[test]
fn a_dry_run_prints_the_throwaway_cas_commands_and_starts_nothing() {
    let (tmp, dir) = copy();
    let openssl = logging_openssl(tmp.path());
    let before = tree(&dir);
    let out = pkiforge(tmp.path())
        .args(["handshake", "pki", "--dry-run"])
        .env("PKIFORGE_OPENSSL", &openssl)
        .env("TMPDIR", tmp.path().join("bin"))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8(out.stderr).unwrap().as_str()
        ),
        (Some(0), ""),
        "{stdout}"
    );
    let golden = repo().join("tests/golden/handshake.dry-run");
    assert_eq!(stdout, std::fs::read_to_string(golden).unwrap());
    // No openssl started, no scratch directory made, nothing written in the PKI.
    assert_eq!(tree(&tmp.path().join("bin")), ["openssl"]);
    assert_eq!(tree(&dir), before);
}

/// Sessions side by side (`--jobs`) come out in the same order, with the
/// same verdicts, as one at a time.
#[test]
fn jobs_run_sessions_side_by_side_and_keep_the_order() {
    let (tmp, _dir) = copy();
    let one = run_ok(tmp.path(), &["handshake", "pki", "--jobs", "1"]);
    let four = run_ok(tmp.path(), &["handshake", "pki", "--jobs", "4"]);
    assert_eq!(cases(&one), cases(&four));
    assert!(
        four.ends_with("all 8 handshakes went as expected\n"),
        "{four}"
    );
    let (_, stderr, code) = run(tmp.path(), &["handshake", "pki", "--jobs", "0"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("invalid value '0' for '--jobs <N>': 0 is not in 1..=256"),
        "{stderr}"
    );
}

/// `--trace DIR`: each openssl session's messages by name, and its keys
/// (mode 0600), moved into DIR at once; nothing else is left there.
#[test]
fn trace_keeps_each_openssl_sessions_messages_and_keys() {
    use std::os::unix::fs::PermissionsExt;
    installed("tcpdump", "tcpdump");
    let (tmp, _dir) = copy();
    let out = run_ok(tmp.path(), &["handshake", "pki", "--trace", "traces"]);
    assert!(
        out.ends_with("traces written to traces: 13 files (docs/trace.md opens them)\nall 8 handshakes went as expected\n"),
        "{out}"
    );
    let traces = tmp.path().join("traces");
    assert_eq!(
        tree(&traces),
        [
            "001-server-crt-with-client-crt-as-localhost.keylog",
            "001-server-crt-with-client-crt-as-localhost.pcap",
            "001-server-crt-with-client-crt-as-localhost.trace.txt",
            "002-server-crt-with-no-client-certificate.keylog",
            "002-server-crt-with-no-client-certificate.pcap",
            "002-server-crt-with-no-client-certificate.trace.txt",
            "003-server-crt-with-a-client-certificate-from-a-foreign-ca.keylog",
            "003-server-crt-with-a-client-certificate-from-a-foreign-ca.pcap",
            "003-server-crt-with-a-client-certificate-from-a-foreign-ca.trace.txt",
            "004-server-crt-as-not-in-san-pkiforge-invalid-not-in-its-san.keylog",
            "004-server-crt-as-not-in-san-pkiforge-invalid-not-in-its-san.pcap",
            "004-server-crt-as-not-in-san-pkiforge-invalid-not-in-its-san.trace.txt",
            "sessions.json",
        ]
    );
    // The index: handshake --json's sessions, each openssl one with its files.
    let index: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(traces.join("sessions.json")).unwrap())
            .unwrap();
    assert_eq!(index.len(), 8);
    assert_eq!(
        (&index[0]["name"], &index[0]["trace"], &index[0]["keylog"]),
        (
            &serde_json::json!("server.crt with client.crt as localhost"),
            &serde_json::json!("001-server-crt-with-client-crt-as-localhost.trace.txt"),
            &serde_json::json!("001-server-crt-with-client-crt-as-localhost.keylog")
        )
    );
    assert_eq!(
        index[0]["pcap"],
        "001-server-crt-with-client-crt-as-localhost.pcap"
    );
    assert_eq!(index[4]["stack"], "rustls");
    assert!(index[4].get("trace").is_none(), "{:?}", index[4]);
    let good = std::fs::read_to_string(
        traces.join("001-server-crt-with-client-crt-as-localhost.trace.txt"),
    )
    .unwrap();
    let port = good
        .split("(tcpdump on the loopback, port ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("no port: {good}"));
    let stem = "001-server-crt-with-client-crt-as-localhost";
    assert!(good.starts_with(&format!("# pkiforge handshake: server.crt with client.crt as localhost\n# accepted: payload sent and answered\n# keys: {stem}.keylog (SSLKEYLOGFILE format; docs/trace.md)\n# packets: {stem}.pcap (tcpdump on the loopback, port {port}): tshark -r {stem}.pcap -d tcp.port=={port},tls -o tls.keylog_file:{stem}.keylog -V\n\n== client: openssl s_client ")), "{good}");
    // The pcap, read with the keylog as the trace says, shows what TLS 1.3
    // encrypts; without the keylog, it does not.
    let types = |keylog: bool| tshark_handshakes(&traces, stem, port, keylog);
    let (open, sealed) = (types(true), types(false));
    for name in ["Certificate Request", "Certificate Verify"] {
        assert!(open.iter().any(|t| t == name), "{name}: {open:?}");
        assert!(
            !sealed.iter().any(|t| t == name),
            "{name} without keys: {sealed:?}"
        );
    }
    assert!(sealed.iter().any(|t| t == "Client Hello"), "{sealed:?}");
    for message in [
        "CertificateRequest",
        "CertificateVerify",
        "\n== server: openssl s_server ",
    ] {
        assert!(good.contains(message), "{message}");
    }
    let refused =
        std::fs::read_to_string(traces.join("002-server-crt-with-no-client-certificate.trace.txt"))
            .unwrap();
    if !is_openssl_1() {
        assert!(refused.contains("certificate_required"), "{refused}");
    }
    let keylog = traces.join("001-server-crt-with-client-crt-as-localhost.keylog");
    let mode = |f: &std::path::Path| std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&keylog), 0o600);
    // The trace holds s_client's resumption secret: the owner's alone too.
    assert_eq!(mode(&traces.join(format!("{stem}.trace.txt"))), 0o600);
    assert!(
        std::fs::read_to_string(&keylog)
            .unwrap()
            .contains("CLIENT_HANDSHAKE_TRAFFIC_SECRET ")
    );
    // Not into the PKI's own directory.
    let (_, stderr, code) = run(tmp.path(), &["handshake", "pki", "--trace", "pki/."]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: --trace pki/.: that is the PKI's directory; give the traces one of their own, e.g. --trace traces\n"
    );
    // Nor into a file.
    std::fs::write(tmp.path().join("a-file"), "").unwrap();
    let (_, stderr, code) = run(tmp.path(), &["handshake", "pki", "--trace", "a-file"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: --trace a-file: is a file, not a directory; name a directory\n"
    );
}

/// The handshake messages tshark reads in a session's pcap, by name
/// (`Client Hello`, `Certificate Request`, …), with its keylog or without.
fn tshark_handshakes(
    traces: &std::path::Path,
    stem: &str,
    port: &str,
    keylog: bool,
) -> Vec<String> {
    let tshark = installed("tshark", "tshark");
    let mut cmd = std::process::Command::new(tshark);
    cmd.current_dir(traces)
        .args([
            "-r",
            &format!("{stem}.pcap"),
            "-d",
            &format!("tcp.port=={port},tls"),
        ])
        .args(["-Y", "tls.handshake", "-V"]);
    if keylog {
        cmd.args(["-o", &format!("tls.keylog_file:{stem}.keylog")]);
    }
    let out = cmd.env("HOME", std::env::temp_dir()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Handshake Type: "))
        .map(|t| t.rsplit_once(" (").map_or(t, |(name, _)| name).to_string())
        .collect()
}

/// Where tcpdump may not capture (a user without the privilege), the
/// traces are written all the same, with no pcap, and the output says why.
/// (A tcpdump that answers as one refused, on PATH: fault injection.)
#[test]
fn trace_without_a_tcpdump_that_may_capture_says_why_and_writes_no_pcap() {
    let (tmp, _dir) = copy();
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    write_executable(
        &bin.join("tcpdump"),
        "#!/bin/sh\necho \"tcpdump: lo: You don't have permission to perform this capture on that device\" >&2\nexit 1\n",
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = pkiforge(tmp.path())
        .env("PATH", path)
        .args(["handshake", "pki", "--trace", "traces"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.ends_with("traces written to traces: 9 files (docs/trace.md opens them)\nno pcap of the sessions: tcpdump does not capture here: tcpdump: lo: You don't have permission to perform this capture on that device (docs/trace.md records one by hand)\nall 8 handshakes went as expected\n"),
        "{stdout}"
    );
    let files = tree(&tmp.path().join("traces"));
    assert!(files.iter().all(|f| !f.ends_with(".pcap")), "{files:?}");
    let good = std::fs::read_to_string(
        tmp.path()
            .join("traces/001-server-crt-with-client-crt-as-localhost.trace.txt"),
    )
    .unwrap();
    assert!(!good.contains("# packets:"), "{good}");
}
