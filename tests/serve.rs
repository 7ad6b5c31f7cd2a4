//! `pkiforge serve`, with real programs on loopback: `openssl verify
//! -crl_download` fetches the CRL through the certificates' distribution
//! point, `openssl ocsp` asks the responder their AIA names (POST, and GET
//! with curl), a `revoke` made while serving shows in the next answers;
//! bad and oversize requests; SIGTERM, Ctrl-C and kill -9 leave nothing
//! behind; a PKI without pointers is refused.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// profiles/revocation.toml, its URLs on `port`.
fn profile(port: u16) -> String {
    let text = std::fs::read_to_string(repo().join("profiles/revocation.toml")).unwrap();
    text.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
}

/// A PKI of profiles/revocation.toml with its URLs on a free port, in
/// `TMP/NAME`: (tmp, dir, port).
fn pki(name: &str) -> (tempfile::TempDir, PathBuf, u16) {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    write(&tmp.path().join("rv.toml"), &profile(port));
    run_ok(tmp.path(), &["--quiet", "run", "rv.toml", "--out", name]);
    let dir = tmp.path().join(name);
    (tmp, dir, port)
}

/// A running `pkiforge serve`, killed if a test ends while it runs.
struct Serving {
    child: Child,
    /// Its stdout, line by line, read as it comes.
    lines: Receiver<String>,
    /// The lines before "serving on …", that line included.
    start: Vec<String>,
    /// Its TMPDIR, where its scratch directory is.
    temp: tempfile::TempDir,
}

impl Serving {
    fn start(dir: &Path, extra: &[&str]) -> Serving {
        let temp = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("pkiforge"));
        cmd.arg("serve")
            .arg(dir)
            .args(extra)
            .env_remove("OPENSSL_CONF")
            .env("TMPDIR", temp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Ok(openssl) = std::env::var("PKIFORGE_TEST_OPENSSL") {
            cmd.env("PKIFORGE_OPENSSL", openssl);
        }
        let mut child = cmd.spawn().unwrap();
        let (send, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let mut serving = Serving {
            child,
            lines,
            start: Vec::new(),
            temp,
        };
        loop {
            let line = serving.next_line();
            let done = line.starts_with("serving on ");
            serving.start.push(line);
            if done {
                return serving;
            }
        }
    }

    /// The next line it prints, waiting for it (generously).
    fn next_line(&self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(120))
            .expect("serve printed no line within 120 s")
    }

    /// Waits for the log line `line`; every line until then.
    fn wait_for(&self, line: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let next = self.next_line();
            if next == line {
                return seen;
            }
            seen.push(next);
        }
    }

    /// Signals it and waits (generously) for its exit: (exit code, stderr).
    fn stop(mut self, signal: i32) -> (Option<i32>, String) {
        // SAFETY: kill(2) of the pkiforge this test started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "still serving");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut stderr).unwrap();
        (status.code(), stderr)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the tests' openssl in `dir`.
fn openssl_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(openssl())
        .args(args)
        .current_dir(dir)
        .env_remove("OPENSSL_CONF")
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The first line of what openssl printed, and its lines without the
/// times, which change (`This Update: …`).
fn ocsp_said(out: &Output) -> Vec<String> {
    let (stdout, _) = text(out);
    stdout
        .lines()
        .map(|l| match l.split_once(": ") {
            Some((k, _)) if k.ends_with("Update") || k.ends_with("Time") => format!("{k}: T"),
            _ => l.to_string(),
        })
        .collect()
}

/// The OCSP URL a certificate carries, as openssl reads it.
fn ocsp_url(dir: &Path, crt: &str) -> String {
    let out = succeeded(openssl_in(
        dir,
        &["x509", "-noout", "-ocsp_uri", "-in", crt],
    ));
    text(&out).0.trim().to_string()
}

fn ask(dir: &Path, crt: &str, url: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "ocsp", "-issuer", "ca.crt", "-cert", crt, "-url", url, "-CAfile", "ca.crt",
    ];
    args.extend(extra);
    openssl_in(dir, &args)
}

#[test]
fn crl_and_ocsp_answer_from_the_database_and_follow_a_revoke_made_while_serving() {
    let (tmp, dir, port) = pki("rv");
    let serving = Serving::start(&dir, &[]);
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        serving.start,
        [
            format!("{base}/ca.cer  the certificate of ca (ca.crt)"),
            format!("{base}/ca.crl  the CRL of ca (ca.crl)"),
            format!("{base}/ocsp  the OCSP responder of ca (ca.index)"),
            format!("serving on 127.0.0.1:{port} until Ctrl-C (SIGINT) or SIGTERM"),
        ]
    );
    // The CRL, fetched where the certificate's distribution point says.
    let verify = |crt: &str| {
        text(&openssl_in(
            &dir,
            &[
                "verify",
                "-crl_download",
                "-crl_check",
                "-CAfile",
                "ca.crt",
                crt,
            ],
        ))
    };
    assert_eq!(verify("alice.crt").0, "alice.crt: OK\n");
    serving.wait_for("127.0.0.1 GET /ca.crl 200 crl of ca");
    // OCSP, where its AIA says, with a nonce (the default) and without.
    let url = ocsp_url(&dir, "server.crt");
    assert_eq!(url, format!("{base}/ocsp"));
    let good = ["server.crt: good", "\tThis Update: T", "\tNext Update: T"];
    for extra in [&[][..], &["-no_nonce"]] {
        let out = ask(&dir, "server.crt", &url, extra);
        assert_eq!(ocsp_said(&out), good, "{:?}", text(&out));
        assert_eq!(text(&out).1, "Response verify OK\n");
        serving.wait_for("127.0.0.1 POST /ocsp 200 ocsp of ca");
    }

    // Revoked in another terminal while serving: the next answers say so.
    let kept = tmp.path().join("alice.crt");
    std::fs::copy(dir.join("alice.crt"), &kept).unwrap();
    run_ok(
        tmp.path(),
        &[
            "--quiet",
            "revoke",
            "rv",
            "alice",
            "--reason",
            "keyCompromise",
        ],
    );
    let kept = kept.to_str().unwrap();
    let (stdout, stderr) = verify(kept);
    assert!(
        (stdout.clone() + &stderr).contains("error 23 at 0 depth lookup: certificate revoked"),
        "{stdout}{stderr}"
    );
    let out = ask(&dir, kept, &url, &[]);
    assert_eq!(
        ocsp_said(&out),
        [
            format!("{kept}: revoked"),
            "\tThis Update: T".into(),
            "\tNext Update: T".into(),
            "\tReason: keyCompromise".into(),
            "\tRevocation Time: T".into(),
        ]
    );
    // bob is untouched.
    let out = ask(&dir, "bob.crt", &url, &[]);
    assert_eq!(ocsp_said(&out)[0], "bob.crt: good");
}

#[test]
fn a_certificate_of_a_foreign_ca_with_the_same_name_is_unknown() {
    let (tmp, dir, port) = pki("rv");
    // The same profile again: a CA of the same subject, with another key.
    run_ok(
        tmp.path(),
        &["--quiet", "run", "rv.toml", "--out", "foreign"],
    );
    let serving = Serving::start(&dir, &[]);
    let url = format!("http://127.0.0.1:{port}/ocsp");
    let foreign = tmp.path().join("foreign");
    let out = openssl_in(
        &foreign,
        &[
            "ocsp",
            "-issuer",
            "ca.crt",
            "-cert",
            "server.crt",
            "-url",
            &url,
            "-VAfile",
        ]
        .into_iter()
        .chain([dir.join("ca.crt").to_str().unwrap()])
        .collect::<Vec<_>>(),
    );
    assert_eq!(
        ocsp_said(&out),
        [
            "server.crt: unknown",
            "\tThis Update: T",
            "\tNext Update: T"
        ],
        "{:?}",
        text(&out)
    );
    serving.wait_for("127.0.0.1 POST /ocsp 200 ocsp of ca");
}

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "120",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
        ])
        .args(args)
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = all.rsplit_once('\n').unwrap();
    (body.to_string(), code.to_string())
}

#[test]
fn get_bad_and_oversize_requests_are_answered_and_serving_goes_on() {
    let (_tmp, dir, port) = pki("rv");
    let serving = Serving::start(&dir, &[]);
    let base = format!("http://127.0.0.1:{port}");
    // GET with the request in the path, as RFC 6960 A.1 says.
    let req = dir.parent().unwrap().join("req.der");
    let req = req.to_str().unwrap();
    succeeded(openssl_in(
        &dir,
        &[
            "ocsp", "-issuer", "ca.crt", "-cert", "bob.crt", "-reqout", req,
        ],
    ));
    let b64 = base64_of(&std::fs::read(req).unwrap());
    let escaped = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let resp = dir.parent().unwrap().join("resp.der");
    let resp = resp.to_str().unwrap();
    let got = Command::new("curl")
        .args(["-sS", "--max-time", "120", "-o", resp])
        .arg(format!("{base}/ocsp/{escaped}"))
        .status()
        .unwrap();
    assert!(got.success());
    let out = openssl_in(
        &dir,
        &[
            "ocsp",
            "-respin",
            resp,
            "-issuer",
            "ca.crt",
            "-cert",
            "bob.crt",
            "-CAfile",
            "ca.crt",
            "-no_nonce",
        ],
    );
    assert_eq!(ocsp_said(&out)[0], "bob.crt: good", "{:?}", text(&out));
    serving.wait_for(&format!("127.0.0.1 GET /ocsp/{escaped} 200 ocsp of ca"));

    // A malformed request: 400, a log line, and serving goes on.
    let (body, code) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/ocsp-request",
        "--data-binary",
        "garbage",
        &format!("{base}/ocsp"),
    ]);
    assert_eq!(
        (body.as_str(), code.as_str()),
        ("bad OCSP request: Error reading OCSP request\n", "400")
    );
    serving.wait_for("127.0.0.1 POST /ocsp 400 bad OCSP request: Error reading OCSP request");
    // Over 64 KiB: 413.
    let big = dir.parent().unwrap().join("big");
    std::fs::write(&big, vec![0u8; 70_000]).unwrap();
    let (body, code) = curl(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", big.display()),
        &format!("{base}/ocsp"),
    ]);
    assert_eq!(
        (body.as_str(), code.as_str()),
        ("the body is over 65536 bytes\n", "413")
    );
    serving.wait_for("127.0.0.1 POST /ocsp 413 the body is over 65536 bytes");
    // Nothing there, and a method that is not served.
    let (body, code) = curl(&[&format!("{base}/nothing")]);
    assert_eq!(
        (body.as_str(), code.as_str()),
        ("nothing is served at this path\n", "404")
    );
    let (body, code) = curl(&["-X", "DELETE", &format!("{base}/ca.crl")]);
    assert_eq!(
        (body.as_str(), code.as_str()),
        ("only GET and HEAD are served here\n", "405")
    );
    // Still serving: the CA's certificate, in DER.
    let cer = dir.parent().unwrap().join("ca.cer");
    let got = Command::new("curl")
        .args(["-sS", "--max-time", "120", "-o", cer.to_str().unwrap()])
        .arg(format!("{base}/ca.cer"))
        .status()
        .unwrap();
    assert!(got.success());
    let der = succeeded(openssl_in(
        &dir,
        &["x509", "-in", "ca.crt", "-outform", "DER"],
    ))
    .stdout;
    assert_eq!(std::fs::read(&cer).unwrap(), der);
    serving.wait_for("127.0.0.1 GET /ca.cer 200 certificate of ca");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn sigterm_and_ctrl_c_stop_it_and_kill_9_leaves_nothing_in_dir() {
    let (_tmp, dir, port) = pki("rv");
    let before = tree(&dir);
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let serving = Serving::start(&dir, &[]);
        let out = ask(
            &dir,
            "server.crt",
            &format!("http://127.0.0.1:{port}/ocsp"),
            &[],
        );
        assert_eq!(ocsp_said(&out)[0], "server.crt: good");
        serving.wait_for("127.0.0.1 POST /ocsp 200 ocsp of ca");
        // Idle: no lock held, nothing of its own in DIR.
        assert_eq!(tree(&dir), before);
        let temp = serving.temp.path().to_path_buf();
        assert_eq!(
            std::fs::read_dir(&temp).unwrap().count(),
            1,
            "its scratch directory"
        );
        let (code, stderr) = serving_stop_keeping_temp(serving, signal);
        assert_eq!(code, Some(0), "{stderr}");
        assert_eq!(stderr, "stopped serving after 1 request\n");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        assert_eq!(tree(&dir), before);
    }
    // kill -9 while idle: DIR is as it was (no lock is held while idle).
    let serving = Serving::start(&dir, &[]);
    let out = ask(
        &dir,
        "server.crt",
        &format!("http://127.0.0.1:{port}/ocsp"),
        &[],
    );
    assert_eq!(ocsp_said(&out)[0], "server.crt: good");
    serving.wait_for("127.0.0.1 POST /ocsp 200 ocsp of ca");
    let (code, _) = serving.stop(libc::SIGKILL);
    assert_eq!(code, None);
    assert_eq!(tree(&dir), before);
}

/// Stops `serving` with `signal`; asserts its scratch directory is gone
/// (its TMPDIR is empty) before the TMPDIR itself goes.
fn serving_stop_keeping_temp(mut serving: Serving, signal: i32) -> (Option<i32>, String) {
    let temp = std::mem::replace(&mut serving.temp, tempfile::tempdir().unwrap());
    let stopped = serving.stop(signal);
    let left: Vec<_> = std::fs::read_dir(temp.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    stopped
}

#[test]
fn a_pki_without_pointers_is_refused_saying_how_to_add_them() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    run_ok(tmp.path(), &["--quiet", "run", "fast.toml", "--out", "pki"]);
    let (stdout, stderr, code) = run(tmp.path(), &["serve", "pki"]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert_eq!(
        stderr,
        "error: pki has no revocation pointers to serve: no certificate its CA signed names a CRL, an OCSP responder or the CA's certificate.\n  Add crl_url, ocsp_url and ca_issuers_url to the profile's [ca] (and [intermediate]), e.g. crl_url = \"http://127.0.0.1:8080/ca.crl\", then make the PKI again with `pkiforge run PROFILE --out pki --force` (profiles/revocation.toml shows how).\n"
    );
}

#[test]
fn urls_elsewhere_than_listen_are_not_served() {
    let (_tmp, dir, port) = pki("rv");
    let other = free_port();
    let (stdout, stderr, code) = run(
        dir.parent().unwrap(),
        &["serve", "rv", "--listen", &format!("127.0.0.1:{other}")],
    );
    assert_eq!((stdout.as_str(), code), ("", 2));
    let base = format!("http://127.0.0.1:{port}");
    let (_, said, code) = run(dir.parent().unwrap(), &["serve", "rv", "--listen", "8080"]);
    assert_eq!(
        (said.as_str(), code),
        (
            "error: --listen 8080: give ADDR:PORT, e.g. 127.0.0.1:8080, or 0.0.0.0:8080 to be reached from other machines\n",
            2
        )
    );
    assert_eq!(
        stderr,
        format!(
            "error: nothing of rv can be served on 127.0.0.1:{other}:\n  {base}/ca.cer (the certificate of ca (ca.crt)): not on 127.0.0.1:{other}, where this serves\n  {base}/ca.crl (the CRL of ca (ca.crl)): not on 127.0.0.1:{other}, where this serves\n  {base}/ocsp (the OCSP responder of ca (ca.index)): not on 127.0.0.1:{other}, where this serves\n  Serve where the certificates point (leave out --listen), or make them point here with the profile's crl_url, ocsp_url and ca_issuers_url.\n"
        )
    );
}

#[test]
fn a_connection_past_the_bound_gets_a_503_and_is_closed() {
    let (_tmp, dir, port) = pki("rv");
    let serving = Serving::start(&dir, &[]);
    let connect = || std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // An idle connection is closed after 10 s without a request: on a
    // machine so slow that one was before the last opened, try again.
    for _ in 0..5 {
        let idle: Vec<_> = (0..64).map(|_| connect()).collect();
        let mut extra = connect();
        extra
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let mut said = String::new();
        let _ = std::io::Read::read_to_string(&mut extra, &mut said);
        drop(idle);
        if said.is_empty() {
            continue;
        }
        assert_eq!(
            said,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 30\r\nConnection: close\r\n\r\nbusy: 64 connections are open\n"
        );
        serving.wait_for("127.0.0.1 - - 503 busy: 64 connections are open");
        return;
    }
    panic!("the 65th connection was never refused");
}

/// A root and an intermediate, each with pointers of its own, on `port`.
fn intermediate_profile(port: u16) -> String {
    format!(
        r#"extensions = "strict"
[ca]
key = "ec:P-256"
subject = {{ O = "W", CN = "Root" }}
crl_url = "http://127.0.0.1:{port}/root.crl"
ocsp_url = "http://127.0.0.1:{port}/root-ocsp"
[intermediate]
key = "ec:P-256"
subject = {{ O = "W", CN = "Issuing" }}
crl_url = "http://127.0.0.1:{port}/int.crl"
ocsp_url = "http://127.0.0.1:{port}/int-ocsp"
ca_issuers_url = "http://127.0.0.1:{port}/int.cer"
permitted = ["DNS:localhost"]
[[server]]
key = "ec:P-256"
subject = {{ O = "W", CN = "localhost" }}
san = ["DNS:localhost"]
[[client]]
name = "alice"
key = "ec:P-256"
subject = {{ O = "W", CN = "alice" }}
san = ["DNS:localhost"]
"#
    )
}

#[test]
fn an_intermediate_is_served_beside_the_root_each_from_its_own_database() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    write(&tmp.path().join("it.toml"), &intermediate_profile(port));
    run_ok(tmp.path(), &["--quiet", "run", "it.toml", "--out", "pki"]);
    let dir = tmp.path().join("pki");
    let serving = Serving::start(&dir, &[]);
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        serving.start,
        [
            format!("{base}/int-ocsp  the OCSP responder of intermediate (intermediate.index)"),
            format!("{base}/int.cer  the certificate of intermediate (intermediate.crt)"),
            format!("{base}/int.crl  the CRL of intermediate (intermediate.crl)"),
            format!("{base}/root-ocsp  the OCSP responder of ca (ca.index)"),
            format!("{base}/root.crl  the CRL of ca (ca.crl)"),
            format!("serving on 127.0.0.1:{port} until Ctrl-C (SIGINT) or SIGTERM"),
        ]
    );
    let out = openssl_in(
        &dir,
        &[
            "ocsp",
            "-issuer",
            "intermediate.crt",
            "-cert",
            "server.crt",
            "-url",
            &format!("{base}/int-ocsp"),
            "-CAfile",
            "ca.crt",
            "-verify_other",
            "intermediate.crt",
        ],
    );
    assert_eq!(ocsp_said(&out)[0], "server.crt: good", "{:?}", text(&out));
    serving.wait_for("127.0.0.1 POST /int-ocsp 200 ocsp of intermediate");
    let out = ask(&dir, "intermediate.crt", &format!("{base}/root-ocsp"), &[]);
    assert_eq!(
        ocsp_said(&out)[0],
        "intermediate.crt: good",
        "{:?}",
        text(&out)
    );
    serving.wait_for("127.0.0.1 POST /root-ocsp 200 ocsp of ca");
    // The leaf's CRL is the intermediate's, fetched where it points.
    let out = openssl_in(
        &dir,
        &[
            "verify",
            "-crl_download",
            "-crl_check",
            "-CAfile",
            "ca.crt",
            "-untrusted",
            "intermediate.crt",
            "server.crt",
        ],
    );
    assert_eq!(text(&out).0, "server.crt: OK\n");
    serving.wait_for("127.0.0.1 GET /int.crl 200 crl of intermediate");
}

/// `verify --online` follows each leaf's pointers to the running serve: the
/// CRL from its distribution point, `good` from its OCSP responder. With
/// nothing serving, or without pointers, it is bad input.
#[test]
fn verify_online_follows_the_pointers_to_serve() {
    let (tmp, dir, port) = pki("pki");
    let serving = Serving::start(&dir, &[]);
    let out = run_ok(tmp.path(), &["verify", "pki", "--online"]);
    for leaf in ["server", "alice", "bob"] {
        for want in [
            format!("ok   openssl verify -crl_download -crl_check -CAfile ca.crt {leaf}.crt\n"),
            format!("ok   openssl ocsp -issuer ca.crt -cert {leaf}.crt -url "),
        ] {
            assert!(out.contains(&want), "{want}\nnot in:\n{out}");
        }
    }
    let (code, _) = serving.stop(libc::SIGTERM);
    assert_eq!(code, Some(0));
    let (stdout, stderr, code) = run(tmp.path(), &["verify", "pki", "--online"]);
    assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
    assert!(
        stderr.contains(&format!("--online: nothing answers at http://127.0.0.1:{port}/ca.crl, where the leaves of pki point for their CRL or OCSP (openssl verify -crl_download would retry without end); start `pkiforge serve pki` in another terminal, then try again")),
        "{stderr}"
    );
    let plain = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo().join("profiles/starter.toml")).unwrap();
    write(&plain.path().join("p.toml"), &text);
    run_ok(plain.path(), &["--quiet", "run", "p.toml", "--out", "pki"]);
    let (stdout, stderr, code) = run(plain.path(), &["verify", "pki", "--online"]);
    assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
    assert!(
        stderr.contains("--online: no leaf of pki names a CRL distribution point or an OCSP responder; give [ca] crl_url and ocsp_url in the profile and make the PKI again (docs/revocation.md)"),
        "{stderr}"
    );
}

/// nginx with `ssl_ocsp on` asks the responder the client certificate's
/// AIA names (serve's), with no CRL handed over: a good client is let in,
/// one revoked while serving is refused.
#[test]
fn nginx_checks_clients_through_the_ocsp_responder_serve_answers() {
    let (tmp, dir, _port) = pki("pki");
    let serving = Serving::start(&dir, &[]);
    let prefix = tempfile::tempdir().unwrap();
    let https = free_port();
    let d = std::fs::canonicalize(&dir).unwrap();
    let d = d.display();
    let http = format!(
        "  server {{\n    listen 127.0.0.1:{https} ssl;\n    server_name localhost;\n    ssl_certificate {d}/server.bundle.crt;\n    ssl_certificate_key {d}/server.key;\n    ssl_client_certificate {d}/ca.crt;\n    ssl_verify_client on;\n    ssl_ocsp on;\n    location / {{ return 200 \"mutual TLS ok\\n\"; }}\n  }}\n"
    );
    let _nginx = start_nginx(prefix.path(), &http, https);
    assert!(curl_as(&dir, https, "alice"), "the good client is refused");
    // nginx asked serve (by GET, base64 in the path).
    loop {
        let line = serving.next_line();
        if line.contains(" /ocsp") && line.ends_with(" 200 ocsp of ca") {
            break;
        }
    }
    // Keep bob's files to present them after the revoke archives them.
    let kept = tmp.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    for f in ["bob.pem", "bob.key"] {
        std::fs::copy(dir.join(f), kept.join(f)).unwrap();
    }
    run_ok(tmp.path(), &["--quiet", "revoke", "pki", "bob"]);
    assert!(
        !curl_as(&kept, https, "bob"),
        "the revoked client is let in"
    );
}

/// s_server `-status` fetches an OCSP response for its own certificate from
/// the responder its AIA names, and staples it: `s_client -status` shows it
/// good.
#[test]
fn s_server_staples_the_response_serve_gives_for_its_certificate() {
    let (_tmp, dir, _port) = pki("pki");
    let _serving = Serving::start(&dir, &[]);
    // Its -CAfile (ca.crt) is where s_server finds its certificate's
    // issuer, which the OCSP request names.
    let (_server, https) = s_server_in(&dir, &["-status", "-www"]);
    let out = Command::new(openssl())
        .current_dir(&dir)
        .args(["s_client", "-connect", &format!("127.0.0.1:{https}")])
        .args(["-servername", "localhost", "-CAfile", "ca.crt", "-status"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("OCSP Response Status: successful (0x0)"),
        "{said}"
    );
    assert!(said.contains("Cert Status: good"), "{said}");
}

/// A POST of `request` to `/ocsp` on `port`, read to the end: whether the
/// answer was a 200.
fn post_ocsp(port: u16, request: &[u8]) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let head = format!(
        "POST /ocsp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        request.len()
    );
    if s.write_all(head.as_bytes())
        .and_then(|_| s.write_all(request))
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    answer.starts_with(b"HTTP/1.1 200 ")
}

/// Answers that overlap without end do not keep `revoke` out: it gets DIR's
/// lock while they go on (before, it waited for the load to stop).
#[test]
fn revoke_gets_in_under_a_load_of_overlapping_answers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let (tmp, dir, port) = pki("pki");
    let _serving = Serving::start(&dir, &[]);
    let q = [
        "ocsp", "-issuer", "ca.crt", "-cert", "bob.crt", "-reqout", "q.der",
    ];
    succeeded(openssl_in(&dir, &q));
    let request = std::fs::read(dir.join("q.der")).unwrap();
    std::fs::remove_file(dir.join("q.der")).unwrap();
    let (stop, answered) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    // The load stops when revoke is done, or after 300 s: reaching that
    // cap is what the test fails on.
    let load: Vec<_> = (0..6)
        .map(|_| {
            let (stop, answered, request) = (stop.clone(), answered.clone(), request.clone());
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::SeqCst) {
                    if started.elapsed() > Duration::from_secs(300) {
                        return false;
                    }
                    if post_ocsp(port, &request) {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                }
                true
            })
        })
        .collect();
    while answered.load(Ordering::SeqCst) < 20 {
        std::thread::sleep(Duration::from_millis(10));
    }
    run_ok(tmp.path(), &["--quiet", "revoke", "pki", "alice"]);
    stop.store(true, Ordering::SeqCst);
    for t in load {
        assert!(
            t.join().unwrap(),
            "revoke got in only when the load stopped"
        );
    }
}

/// What hyper refuses to read is logged too; a 5xx tells the client only
/// that the log says why.
#[test]
fn every_refusal_is_logged_and_a_5xx_names_no_file() {
    use std::io::{Read, Write};
    let (_tmp, dir, port) = pki("pki");
    let serving = Serving::start(&dir, &[]);
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /ca.crl\x00 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    assert!(answer.starts_with(b"HTTP/1.1 400 "), "{answer:?}");
    let line = serving.next_line();
    assert!(line.starts_with("127.0.0.1 - - 400 closed: "), "{line}");
    std::fs::rename(dir.join("ca.key"), dir.join("moved.key")).unwrap();
    let q = [
        "ocsp", "-issuer", "ca.crt", "-cert", "bob.crt", "-reqout", "q.der",
    ];
    succeeded(openssl_in(&dir, &q));
    let (body, _) = curl(&[
        "--data-binary",
        &format!("@{}", dir.join("q.der").display()),
        &format!("http://127.0.0.1:{port}/ocsp"),
    ]);
    assert_eq!(body, "the server could not answer; its log says why\n");
    let line = serving.next_line();
    assert!(
        line.starts_with("127.0.0.1 POST /ocsp 500 no OCSP answer: "),
        "{line}"
    );
}

/// A CA whose OCSP responder is served must have its key in DIR: serve
/// says so at the start, rather than fail every answer.
#[test]
fn a_missing_signing_key_is_refused_at_the_start() {
    let (tmp, dir, port) = pki("pki");
    std::fs::rename(dir.join("ca.key"), tmp.path().join("ca.key")).unwrap();
    let (stdout, stderr, code) = run(tmp.path(), &["serve", "pki"]);
    assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: cannot read pki/ca.key: No such file or directory (os error 2); the OCSP responder of ca at http://127.0.0.1:{port}/ocsp signs its answers with it: put it back, or serve from the directory that holds it\n"
        )
    );
}

/// `ocsp_signer = true`: the CA signs a certificate for OCSP signing
/// alone, which signs its answers; clients check them against the CA.
#[test]
fn an_ocsp_signer_signs_the_answers_and_clients_accept_them() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let signer = profile(port).replace("/ocsp\"\n", "/ocsp\"\nocsp_signer = true\n");
    write(&tmp.path().join("rv.toml"), &signer);
    let plan = run_ok(tmp.path(), &["plan", "rv.toml"]);
    let lines: Vec<&str> = plan.lines().filter(|l| l.contains("ca.ocsp")).collect();
    assert_eq!(
        lines[..3],
        [
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.ocsp.key",
            "openssl req -new -subj \"/CN=ca OCSP responder\" -key ca.ocsp.key -out ca.ocsp.csr",
            "openssl x509 -req -in ca.ocsp.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"basicConstraints=critical,CA:FALSE\\nkeyUsage=critical,digitalSignature\\nextendedKeyUsage=critical,OCSPSigning\\nnoCheck=ignored\\nsubjectKeyIdentifier=hash\\nauthorityKeyIdentifier=keyid,issuer\") -days 825 -out ca.ocsp.crt",
        ],
        "{plan}"
    );
    assert!(lines[3].ends_with(" -valid ca.ocsp.crt"), "{plan}");
    run_ok(tmp.path(), &["--quiet", "run", "rv.toml", "--out", "pki"]);
    let dir = tmp.path().join("pki");
    // Its key and certificate are kept; its CSR is not.
    assert!(dir.join("ca.ocsp.key").is_file() && dir.join("ca.ocsp.crt").is_file());
    assert!(!dir.join("ca.ocsp.csr").exists());
    let ext = succeeded(openssl_in(
        &dir,
        &[
            "x509",
            "-in",
            "ca.ocsp.crt",
            "-noout",
            "-ext",
            "extendedKeyUsage,noCheck",
        ],
    ));
    let ext = text(&ext)
        .0
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        ext,
        "X509v3 Extended Key Usage: critical OCSP Signing OCSP No Check:"
    );
    assert_eq!(
        run_ok(tmp.path(), &["lint", "pki"]),
        "0 errors, 0 warnings in 5 certificates\n"
    );

    let serving = Serving::start(&dir, &[]);
    let url = ocsp_url(&dir, "alice.crt");
    let out = ask(&dir, "alice.crt", &url, &["-resp_text"]);
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("Response verify OK"), "{stderr}");
    assert!(
        stdout.contains("Responder Id: CN = ca OCSP responder"),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "alice.crt: good"), "{stdout}");
    drop(serving);
    // The handshake's server staples an answer its signer signed.
    let shook = run_ok(tmp.path(), &["handshake", "pki"]);
    assert!(
        shook.contains("ok   openssl accepted  server.crt stapling its OCSP answer, with alice.crt as localhost: payload sent and answered; the stapled OCSP answer says good\n"),
        "{shook}"
    );

    // Without the signer's key, serve refuses to start, naming it.
    std::fs::rename(dir.join("ca.ocsp.key"), tmp.path().join("kept.key")).unwrap();
    let (_, stderr, code) = run(tmp.path(), &["serve", "pki"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: cannot read pki/ca.ocsp.key: No such file or directory (os error 2); the OCSP responder of ca at http://127.0.0.1:{port}/ocsp signs its answers with it: put it back, or serve from the directory that holds it\n"
        )
    ); // A FIFO for its certificate would hold every answer: refused too.
    std::fs::rename(tmp.path().join("kept.key"), dir.join("ca.ocsp.key")).unwrap();
    std::fs::remove_file(dir.join("ca.ocsp.crt")).unwrap();
    succeeded(
        Command::new("mkfifo")
            .arg(dir.join("ca.ocsp.crt"))
            .output()
            .unwrap(),
    );
    let (_, stderr, code) = run(tmp.path(), &["serve", "pki"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: cannot read pki/ca.ocsp.crt: it is a FIFO (named pipe), not a regular file; the OCSP responder of ca at http://127.0.0.1:{port}/ocsp signs its answers with it: put it back, or serve from the directory that holds it\n"
        )
    );
}

#[test]
fn an_ocsp_signer_without_an_ocsp_url_is_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let text = profile(8080).replace(
        "ocsp_url = \"http://127.0.0.1:8080/ocsp\"\n",
        "ocsp_signer = true\n",
    );
    write(&tmp.path().join("rv.toml"), &text);
    let (stdout, stderr, code) = run(tmp.path(), &["run", "rv.toml"]);
    assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
    assert_eq!(
        stderr,
        "error: rv.toml: 1 problem found, nothing was written:\n  rv.toml:17:15: ca.ocsp_signer: asks for a certificate that signs OCSP answers, and ca has no ocsp_url for clients to ask; add ocsp_url = \"http://127.0.0.1:8080/ocsp\", or remove ocsp_signer\n"
    );
    assert!(!tmp.path().join("pki").exists());
}
