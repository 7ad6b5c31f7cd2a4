//! The export pack, each format proven by its real consumer on loopback: a
//! JDK (`java Client.java`, `java Server.java`), a YAML parser and openssl
//! for the Kubernetes Secret, nginx and HAProxy (the distribution's
//! packages; .ci/run installs them).

mod common;

use common::*;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// curl with the client's exported files, or none: `(exit code, body)`.
fn curl(port: u16, dir: &Path, client: Option<&str>) -> (i32, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-f", "--max-time", "10", "--cacert"])
        .arg(dir.join("ca.crt"));
    if let Some(name) = client {
        cmd.arg("--cert")
            .arg(dir.join(format!("{name}.pem")))
            .arg("--key")
            .arg(dir.join(format!("{name}.key")));
    }
    let out = cmd
        .arg(format!("https://localhost:{port}/"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// HAProxy in the foreground with the exported frontend, once it listens.
fn start_haproxy(haproxy: &Path, dir: &Path, frontend: &str, port: u16) -> Running {
    let cfg = dir.join("haproxy.cfg");
    let defaults = "defaults\n    mode http\n    timeout connect 5s\n    timeout client 5s\n    timeout server 5s\n";
    fs::write(&cfg, format!("{defaults}\n{frontend}")).unwrap();
    let running = Running(
        Command::new(haproxy)
            .args(["-db", "-f"])
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    running
}

/// FAST's PKI, copied; exports go to TMP/out.
fn pki() -> (tempfile::TempDir, PathBuf) {
    let (tmp, _) = copy();
    let out = tmp.path().join("out");
    (tmp, out)
}

#[test]
fn nginx_accepts_the_exported_client_and_refuses_one_without_a_certificate() {
    installed("nginx", "nginx");
    let (tmp, out) = pki();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let printed = run_ok(
        tmp.path(),
        &[
            "--quiet", "export", "pki", "server", "--format", "nginx", "--out", "out", "--listen",
            &listen,
        ],
    );
    assert!(
        printed.starts_with(
            "wrote out/server.chain.crt: the certificate and the chain it sends (no root)\n"
        ),
        "{printed}"
    );
    let curl_line = run_ok(
        tmp.path(),
        &[
            "--quiet", "export", "--force", "pki", "client", "--format", "nginx", "--out", "out",
            "--listen", &listen,
        ],
    );
    let abs = fs::canonicalize(&out).unwrap();
    assert!(curl_line.ends_with(&format!(
        "curl --cert {d}/client.pem --key {d}/client.key --cacert {d}/ca.crt https://localhost:{port}/\n",
        d = abs.display()
    )), "{curl_line}");
    let http = format!("  include {}/server.nginx.conf;\n", abs.display());
    let _nginx = start_nginx(tmp.path(), &http, port);
    let (code, body) = curl(port, &out, Some("client"));
    assert_eq!(code, 0, "{body}");
    assert!(
        body.starts_with("mutual TLS: ") && body.contains("CN=alice"),
        "{body}"
    );
    let (code, _) = curl(port, &out, None);
    assert_eq!(
        code, 22,
        "curl without a client certificate gets nginx's 400"
    );
}

#[test]
fn haproxy_lets_the_exported_client_through_and_refuses_one_without() {
    let haproxy = installed("haproxy", "haproxy");
    let (tmp, out) = pki();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    for (name, format) in [("server", "haproxy"), ("client", "nginx")] {
        run_ok(
            tmp.path(),
            &[
                "--quiet", "export", "--force", "pki", name, "--format", format, "--out", "out",
                "--listen", &listen,
            ],
        );
    }
    let pem = fs::read_to_string(out.join("server.haproxy.pem")).unwrap();
    let blocks: Vec<&str> = pem
        .lines()
        .filter(|l| l.starts_with("-----BEGIN"))
        .collect();
    // The certificate, then the key (PKCS#8, or PKCS#1 from OpenSSL 1.1.1).
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    assert_eq!(blocks[0], "-----BEGIN CERTIFICATE-----");
    assert!(blocks[1].ends_with("PRIVATE KEY-----"), "{blocks:?}");
    let exported = fs::read_to_string(out.join("server.haproxy.cfg")).unwrap();
    assert!(
        exported.contains(&format!("    bind {listen} ssl crt ")),
        "{exported}"
    );
    assert!(exported.contains(" verify required\n"), "{exported}");
    let _haproxy = start_haproxy(&haproxy, tmp.path(), &exported, port);
    assert_eq!(
        curl(port, &out, Some("client")),
        (0, "mutual TLS ok".to_string())
    );
    let (code, _) = curl(port, &out, None);
    assert_ne!(code, 0, "a client without a certificate is refused");
}

#[test]
fn with_a_crl_haproxy_and_nginx_configs_name_it_and_refuse_the_revoked() {
    let haproxy = installed("haproxy", "haproxy");
    let (tmp, out) = pki();
    let work = tmp.path();
    let three = FAST.replace("[client]\n", "[[client]]\n")
        + "\n[[client]]\nname = \"bob\"\nbits = 2048\nsubject = { CN = \"bob\" }\nsan = [\"DNS:localhost\"]\n";
    write(&work.join("three.toml"), &three);
    run_ok(
        work,
        &["--quiet", "run", "three.toml", "--out", "pki", "--add"],
    );
    // bob's files, exported before bob is revoked.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    for name in ["client", "bob"] {
        run_ok(
            work,
            &[
                "--quiet", "export", "--force", "pki", name, "--format", "nginx", "--out", "out",
            ],
        );
    }
    run_ok(work, &["--quiet", "revoke", "pki", "bob"]);
    run_ok(
        work,
        &[
            "--quiet", "export", "--force", "pki", "server", "--format", "haproxy", "--out", "out",
            "--listen", &listen,
        ],
    );
    let exported = fs::read_to_string(out.join("server.haproxy.cfg")).unwrap();
    assert!(
        exported.contains(" verify required crl-file "),
        "{exported}"
    );
    let _haproxy = start_haproxy(&haproxy, work, &exported, port);
    assert_eq!(
        curl(port, &out, Some("client")),
        (0, "mutual TLS ok".to_string())
    );
    assert_ne!(
        curl(port, &out, Some("bob")).0,
        0,
        "the revoked client is refused"
    );
}

#[test]
fn the_kubernetes_secret_decodes_to_files_that_openssl_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = fs::read_to_string(repo().join("profiles/intermediate.toml"))
        .unwrap()
        .replace("4096", "2048");
    write(&tmp.path().join("i.toml"), &profile);
    run_ok(tmp.path(), &["--quiet", "run", "i.toml", "--out", "pki"]);
    let server = first_server(&tmp.path().join("pki"));
    run_ok(
        tmp.path(),
        &[
            "--quiet",
            "export",
            "pki",
            &server,
            "--format",
            "k8s",
            "--namespace",
            "shop",
        ],
    );
    let out = tmp.path().join("pki/export");
    let secret: serde_norway::Value = serde_norway::from_str(
        &fs::read_to_string(out.join(format!("{server}.secret.yaml"))).unwrap(),
    )
    .unwrap();
    assert_eq!(secret["apiVersion"], "v1");
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    assert_eq!(secret["metadata"]["namespace"], "shop");
    assert_eq!(secret["metadata"]["name"], server.as_str());
    let decoded = tmp.path().join("decoded");
    fs::create_dir(&decoded).unwrap();
    for key in ["tls.crt", "tls.key", "ca.crt"] {
        use base64::Engine as _;
        let b64 = secret["data"][key].as_str().unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        fs::write(decoded.join(key), bytes).unwrap();
    }
    // tls.crt: the leaf and the intermediate, not the root.
    let crt = fs::read_to_string(decoded.join("tls.crt")).unwrap();
    assert_eq!(crt.matches("BEGIN CERTIFICATE").count(), 2);
    assert_eq!(
        openssl_out(
            &decoded,
            &[
                "verify",
                "-CAfile",
                "ca.crt",
                "-untrusted",
                "tls.crt",
                "tls.crt"
            ]
        ),
        "tls.crt: OK\n"
    );
    assert_eq!(
        openssl_out(&decoded, &["pkey", "-in", "tls.key", "-pubout"]),
        openssl_out(&decoded, &["x509", "-in", "tls.crt", "-noout", "-pubkey"])
    );
    assert_eq!(
        fs::read(decoded.join("ca.crt")).unwrap(),
        fs::read(tmp.path().join("pki/ca.crt")).unwrap()
    );
    let map: serde_norway::Value =
        serde_norway::from_str(&fs::read_to_string(out.join("ca.configmap.yaml")).unwrap())
            .unwrap();
    assert_eq!(map["kind"], "ConfigMap");
    assert_eq!(map["metadata"]["name"], "pki-ca");
    assert_eq!(
        map["data"]["ca.crt"].as_str().unwrap(),
        fs::read_to_string(tmp.path().join("pki/ca.crt")).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(out.join(format!("{server}.secret.yaml")))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the Secret holds the key");
}

fn first_server(dir: &Path) -> String {
    let mut names: Vec<String> = tree(dir)
        .into_iter()
        .filter_map(|f| f.strip_suffix(".bundle.crt").map(str::to_string))
        .collect();
    names.sort();
    names.remove(0)
}

/// `java -Dprop=value … @PASSWORDS FILE.java ARGS`, from an exported
/// properties file; the passwords in an argument file (mode 0600), as
/// README.md's recipe gives them, never on the command line.
fn java(properties: &Path, program: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(installed("java", "default-jdk-headless"));
    let text = fs::read_to_string(properties).unwrap();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
    {
        cmd.arg(format!("-D{line}"));
    }
    let passwords = properties.with_extension("passwords");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&passwords)
            .unwrap();
        write!(file, "\"-Djavax.net.ssl.keyStorePassword={P12_PASSWORD}\"\n\"-Djavax.net.ssl.trustStorePassword={P12_PASSWORD}\"\n").unwrap();
    }
    cmd.arg(format!("@{}", passwords.display()))
        .arg(repo().join("tests/java").join(program))
        .args(args);
    cmd
}

#[test]
fn a_java_client_and_a_java_server_use_the_exported_keystores() {
    let (tmp, out) = pki();
    let work = tmp.path();
    for name in ["client", "server"] {
        let printed = run_ok(
            work,
            &[
                "--quiet", "export", "--force", "pki", name, "--format", "java", "--out", "out",
            ],
        );
        assert!(printed.contains(&format!("wrote out/{name}.keystore.p12: the key and its chain for javax.net.ssl.keyStore (PKCS12, alias {name})\n")), "{printed}");
    }
    let truststore = openssl_out(
        &out,
        &[
            "pkcs12",
            "-in",
            "truststore.p12",
            "-nokeys",
            "-passin",
            &format!("pass:{P12_PASSWORD}"),
        ],
    );
    assert!(truststore.contains("BEGIN CERTIFICATE"), "{truststore}");

    // The Java client against openssl s_server, which requires its certificate.
    let port = free_port();
    let dir = work.join("pki");
    let mut server = Running(
        Command::new(openssl())
            .current_dir(&dir)
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                "server.crt",
                "-key",
                "server.key",
                "-CAfile",
                "ca.crt",
                "-Verify",
                "1",
                "-verify_return_error",
                "-rev",
                "-naccept",
                "1",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // s_server says ACCEPT when it listens (a probe would take its one accept).
    let mut said = BufReader::new(server.0.stdout.take().unwrap()).lines();
    assert!(
        said.any(|l| l.unwrap() == "ACCEPT"),
        "s_server did not start"
    );
    let client = java(
        &out.join("client.java.properties"),
        "Client.java",
        &["localhost", &port.to_string(), "ping from java"],
    )
    .output()
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&client.stdout),
        "reply: avaj morf gnip\n",
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );

    // The Java server, with openssl s_client: the exported client is
    // served, a client from a foreign CA is refused.
    let mut server = Running(
        java(&out.join("server.java.properties"), "Server.java", &["2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let port: u16 = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("port ")
        .unwrap()
        .parse()
        .unwrap();
    let s_client = |dir: &Path| {
        let mut child = Command::new(openssl())
            .current_dir(dir)
            .args([
                "s_client",
                "-connect",
                &format!("127.0.0.1:{port}"),
                "-cert",
                "client.crt",
                "-key",
                "client.key",
                "-CAfile",
                "ca.crt",
                "-quiet",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(s_client(&dir), "pong hello\n");
    assert!(lines.next().unwrap().unwrap().starts_with("served "));
    let (_foreign_tmp, foreign) = copy();
    resign_client_with_foreign_ca(&foreign);
    // The foreign client still trusts the real CA to check the Java server.
    fs::copy(dir.join("ca.crt"), foreign.join("ca.crt")).unwrap();
    assert_eq!(s_client(&foreign), "");
    let refused = lines.next().unwrap().unwrap();
    assert!(
        refused.starts_with("refused: javax.net.ssl.SSLHandshakeException"),
        "{refused}"
    );
}

#[test]
fn export_refuses_a_ca_a_missing_name_and_a_bad_namespace_before_writing() {
    let (tmp, _) = pki();
    let cases: [(&[&str], &str); 4] = [
        (
            &["export", "pki", "ca", "--format", "nginx"],
            "error: ca is a CA; export takes a server or a client (the CA goes along with it)\n",
        ),
        (
            &["export", "pki", "carol", "--format", "k8s"],
            "error: pki has no certificate called carol; it has server, client (and ca)\n",
        ),
        (
            &[
                "export",
                "pki",
                "server",
                "--format",
                "k8s",
                "--namespace",
                "Shop",
            ],
            "error: --namespace \"Shop\": a Kubernetes namespace is lower-case letters, digits and '-' (at most 63), such as \"default\"\n",
        ),
        (
            &["export", "pki", "client", "--format", "haproxy"],
            "error: client is a client; HAProxy presents a server's certificate: export a server, or client with --format nginx for the curl command\n",
        ),
    ];
    for (args, want) in cases {
        let (stdout, stderr, code) = run(tmp.path(), args);
        assert_eq!((stdout.as_str(), stderr.as_str()), ("", want), "{args:?}");
        assert_eq!(code, 2, "{args:?}");
    }
    assert!(
        !tmp.path().join("pki/export").exists(),
        "nothing was written"
    );
}
