//! `pkiforge inspect` and `pkiforge lint` on real certificates.

mod common;

use common::*;

/// The value of row `key` in the block of `file`.
fn row(report: &str, file: &str, key: &str) -> String {
    let block = report
        .split("\n\n")
        .find(|b| b.lines().next() == Some(file))
        .unwrap_or_else(|| panic!("no block for {file}"));
    let line = block
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{key} ")))
        .unwrap();
    line.trim_start()[key.len()..].trim().to_string()
}

#[test]
fn inspect_lists_every_certificate_once_with_its_facts() {
    let (tmp, dir) = copy();
    let (report, stderr, code) = run(tmp.path(), &["inspect", "pki"]);
    assert_eq!((code, stderr.as_str()), (0, ""));
    let files: Vec<&str> = report
        .split("\n\n")
        .map(|b| b.lines().next().unwrap())
        .collect();
    assert_eq!(files, ["ca.crt", "client.crt", "server.crt"]);
    let rows: Vec<&str> = report
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            "subject",
            "issuer",
            "version",
            "serial",
            "SANs",
            "key",
            "signature",
            "not",
            "not",
            "SHA-256",
            "extensions",
            "in"
        ]
    );

    assert_eq!(
        row(&report, "ca.crt", "subject"),
        "C=DE, O=Test Org, CN=Test CA"
    );
    assert_eq!(
        row(&report, "ca.crt", "issuer"),
        "C=DE, O=Test Org, CN=Test CA (self-signed)"
    );
    assert_eq!(
        row(&report, "ca.crt", "in files"),
        "ca.crt, client.pem, server.bundle.crt"
    );
    assert_eq!(
        row(&report, "server.crt", "SANs"),
        "DNS:localhost, IP:127.0.0.1"
    );
    assert_eq!(row(&report, "server.crt", "key"), "RSA 2048");
    assert_eq!(row(&report, "server.crt", "version"), "v3");
    assert_eq!(
        row(&report, "server.crt", "signature"),
        "sha256WithRSAEncryption"
    );
    assert_eq!(
        row(&report, "server.crt", "in files"),
        "server.crt, server.bundle.crt"
    );
    assert_eq!(
        row(&report, "client.crt", "issuer"),
        "C=DE, O=Test Org, CN=Test CA"
    );
    assert!(
        // (OpenSSL 3 adds key identifiers; 1.1.1 writes the SAN alone.)
        row(&report, "server.crt", "extensions").starts_with("subjectAltName"),
        "{report}"
    );
    assert!(
        row(&report, "ca.crt", "extensions").contains("basicConstraints (critical): CA:TRUE"),
        "{report}"
    );
    assert!(
        // 29 whole days left, or 30 within the second it was made.
        [
            "(29 days left; valid for 30 days)",
            "(30 days left; valid for 30 days)"
        ]
        .iter()
        .any(|t| row(&report, "ca.crt", "not after").ends_with(t)),
        "{report}"
    );

    // Fingerprint and serial agree with openssl's own reading.
    for file in ["ca.crt", "server.crt", "client.crt"] {
        let fp = openssl_out(
            &dir,
            &["x509", "-in", file, "-noout", "-fingerprint", "-sha256"],
        );
        let fp = fp.trim().split('=').nth(1).unwrap();
        assert_eq!(row(&report, file, "SHA-256"), fp, "{file}");
        let serial = openssl_out(&dir, &["x509", "-in", file, "-noout", "-serial"]);
        let serial = serial.trim().split('=').nth(1).unwrap();
        assert_eq!(
            row(&report, file, "serial").replace(':', ""),
            serial,
            "{file}"
        );
    }
}

#[test]
fn the_tutorials_pki_draws_warnings_and_passes() {
    let (tmp, _) = copy();
    let (stdout, stderr, code) = run(tmp.path(), &["lint", "pki"]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    let headlines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("    "))
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        headlines,
        [
            "warning ca.crt [default-validity]",
            "warning ca.crt [ca-key-usage]",
            "warning client.crt [default-validity]",
            "warning client.crt [no-eku]",
            "warning server.crt [default-validity]",
            "warning server.crt [no-eku]",
            "0 errors, 6 warnings in 3 certificates",
        ]
    );
    assert!(stdout.contains(
        "warning server.crt [no-eku]: has no extendedKeyUsage
    clients: Apple platforms (iOS 13, macOS 10.15 and later) require extendedKeyUsage serverAuth on TLS server certificates
    fix: set extensions = \"strict\" in the profile: the leaf gets extendedKeyUsage = serverAuth (the tutorial's -extfile holds only subjectAltName)
"
    ));
    let (_, stderr, code) = run(tmp.path(), &["lint", "pki", "--deny-warnings"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: lint found 6 problems: ca.crt default-validity, ca.crt ca-key-usage, client.crt default-validity, client.crt no-eku, server.crt default-validity, server.crt no-eku\n"
    );
}

#[test]
fn what_clients_refuse_is_an_error() {
    let (tmp, dir) = copy();
    // A client certificate as careless hands make it: a 1024-bit key, the
    // CA's own subject, SHA-1, no extensions, three years.
    openssl_out(&dir, &["genrsa", "-out", "weak.key", "1024"]);
    openssl_out(
        &dir,
        &[
            "req",
            "-new",
            "-key",
            "weak.key",
            "-subj",
            "/C=DE/O=Test Org/CN=Test CA",
            "-out",
            "weak.csr",
        ],
    );
    openssl_out(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "weak.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-sha1",
            "-days",
            "1000",
            "-out",
            "client.crt",
        ],
    );
    for f in ["weak.key", "weak.csr", "ca.srl"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    let bundle = [
        std::fs::read(dir.join("client.crt")).unwrap(),
        std::fs::read(dir.join("ca.crt")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join("client.pem"), bundle).unwrap();
    // Without -extfile, OpenSSL 1.1.1 and 3 write a v1 certificate; 4.0
    // adds key identifiers, so a v3 one.
    let v1 = {
        use x509_parser::prelude::*;
        let bytes = std::fs::read(dir.join("client.crt")).unwrap();
        let (_, pem) = parse_x509_pem(&bytes).unwrap();
        let (_, cert) = X509Certificate::from_der(&pem.contents).unwrap();
        cert.version().0 == 0
    };
    let (stdout, stderr, code) = run(tmp.path(), &["lint", "pki"]);
    assert_eq!(code, 1, "{stdout}");
    let headlines: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("    "))
        .map(|l| l.split(": ").next().unwrap())
        .collect();
    let mut want = vec![
        "error client.crt [not-v3]",
        "error client.crt [weak-key]",
        "error client.crt [weak-signature]",
        "error client.crt [no-san]",
        "error client.crt [same-subject]",
        "warning ca.crt [default-validity]",
        "warning ca.crt [ca-key-usage]",
        "warning client.crt [long-validity]",
        "warning client.crt [no-eku]",
        "warning client.crt [outlives-ca]",
        "warning server.crt [default-validity]",
        "warning server.crt [no-eku]",
        "5 errors, 7 warnings in 3 certificates",
    ];
    if !v1 {
        want.remove(0);
        *want.last_mut().unwrap() = "4 errors, 7 warnings in 3 certificates";
    }
    assert_eq!(headlines, want);
    let errors = if v1 { "client.crt not-v3, " } else { "" };
    assert_eq!(
        stderr,
        format!(
            "error: lint found {} problems: {errors}client.crt weak-key, client.crt weak-signature, client.crt no-san, client.crt same-subject\n",
            if v1 { 5 } else { 4 }
        )
    );
}

/// A CA serial file set back (restored from a backup) makes `run --add`
/// issue a serial the CA has issued already: lint names it as an error.
#[test]
fn a_serial_file_set_back_gives_a_duplicate_serial_that_lint_names() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let profile = |clients: &[&str]| {
        let mut p = String::from(
            "[ca]\nkey = \"ec:P-256\"\nsubject = { CN = \"Serial CA\" }\n[[server]]\nkey = \"ec:P-256\"\nsubject = { CN = \"localhost\" }\nsan = [\"DNS:localhost\"]\n",
        );
        for c in clients {
            p.push_str(&format!(
                "[[client]]\nname = \"{c}\"\nkey = \"ec:P-256\"\nsubject = {{ CN = \"{c}\" }}\nsan = [\"DNS:localhost\"]\n"
            ));
        }
        write(&work.join("p.toml"), &p);
    };
    profile(&["alice"]);
    run_ok(work, &["--quiet", "run", "p.toml", "--out", "pki"]);
    let lint = |work: &std::path::Path| run(work, &["--quiet", "lint", "pki"]);
    assert!(!lint(work).0.contains("duplicate-serial"));
    let backup = std::fs::read(work.join("pki/ca.srl")).unwrap();
    profile(&["alice", "bob"]);
    run_ok(work, &["--quiet", "run", "p.toml", "--out", "pki", "--add"]);
    std::fs::write(work.join("pki/ca.srl"), &backup).unwrap();
    profile(&["alice", "bob", "carol"]);
    run_ok(work, &["--quiet", "run", "p.toml", "--out", "pki", "--add"]);
    let pki = work.join("pki");
    assert_eq!(
        serial(&pki, "bob.crt"),
        serial(&pki, "carol.crt"),
        "the serial file was set back"
    );
    let (stdout, _, code) = lint(work);
    assert_eq!(code, 1, "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("[duplicate-serial]"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.starts_with("error carol.crt [duplicate-serial]: has serial ")
            || line.starts_with("error bob.crt [duplicate-serial]: has serial "),
        "{line}"
    );
    assert!(
        line.ends_with("from the same issuer (CN=Serial CA)"),
        "{line}"
    );
}
