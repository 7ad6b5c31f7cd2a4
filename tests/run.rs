//! `pkiforge run` against the real openssl.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn rsa_bits(key: &Path) -> usize {
    use x509_parser::prelude::*;
    use x509_parser::public_key::PublicKey;
    let path = key.to_str().unwrap();
    let der = openssl_bytes(
        Path::new("."),
        &["pkey", "-in", path, "-pubout", "-outform", "DER"],
    );
    let (_, spki) = SubjectPublicKeyInfo::from_der(&der).unwrap();
    match spki.parsed().unwrap() {
        PublicKey::RSA(rsa) => rsa.key_size(),
        other => panic!("{} is not RSA: {other:?}", key.display()),
    }
}

#[test]
fn a_run_makes_the_eleven_files_with_the_profiles_subjects_and_sans() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let stdout = run_ok(tmp.path(), &["run", "fast.toml", "--quiet"]);
    assert_eq!(
        stdout,
        "server.crt: OK\nclient.crt: OK\nall 19 checks passed\nPKI written to pki/fast: ca.key ca.crt server.key server.csr server.crt ca.srl server.bundle.crt client.key client.csr client.crt client.pem commands.sh\n"
    );
    let mut want: Vec<String> = vec!["fast.toml".into(), "pki".into(), "pki/fast".into()];
    want.extend(ELEVEN.iter().map(|f| format!("pki/fast/{f}")));
    want.push("pki/fast/commands.sh".into());
    want.sort();
    assert_eq!(
        tree(tmp.path()),
        want,
        "the eleven files and no staging or temp file"
    );

    let dir = tmp.path().join("pki/fast");
    assert_eq!(
        subject(&dir.join("ca.crt")),
        pairs(&[("C", "DE"), ("O", "Test Org"), ("CN", "Test CA")])
    );
    assert_eq!(
        subject(&dir.join("server.crt")),
        pairs(&[("C", "DE"), ("O", "Test Org"), ("CN", "localhost")])
    );
    assert_eq!(
        subject(&dir.join("client.crt")),
        pairs(&[
            ("O", "Test Org"),
            ("OU", "Clients"),
            ("CN", "alice"),
            ("emailAddress", "alice@example.com")
        ])
    );
    assert_eq!(
        sans(&dir.join("server.crt")),
        ["DNS:localhost", "IP:127.0.0.1"]
    );
    assert_eq!(sans(&dir.join("client.crt")), ["DNS:localhost"]);

    for key in ["ca.key", "server.key", "client.key"] {
        let path = dir.join(key);
        let text = fs::read_to_string(&path).unwrap();
        // OpenSSL 3 and later write PKCS#8, as the tutorial says; 1.1.1's
        // genrsa writes PKCS#1 (and pkiforge says so in its output).
        let header = if is_openssl_1() {
            "-----BEGIN RSA PRIVATE KEY-----\n"
        } else {
            "-----BEGIN PRIVATE KEY-----\n"
        };
        assert!(
            text.starts_with(header),
            "{key}: {}",
            text.lines().next().unwrap_or("")
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600,
            "{key}"
        );
        assert_eq!(rsa_bits(&path), 2048, "{key}");
    }

    let cat = |a: &str, b: &str| {
        [
            fs::read(dir.join(a)).unwrap(),
            fs::read(dir.join(b)).unwrap(),
        ]
        .concat()
    };
    assert_eq!(
        fs::read(dir.join("server.bundle.crt")).unwrap(),
        cat("server.crt", "ca.crt")
    );
    assert_eq!(
        fs::read(dir.join("client.pem")).unwrap(),
        cat("client.crt", "ca.crt")
    );

    assert_eq!(
        openssl_out(
            &dir,
            &["verify", "-CAfile", "ca.crt", "server.crt", "client.crt"]
        ),
        "server.crt: OK\nclient.crt: OK\n"
    );
}

#[test]
fn openssl_is_given_exactly_the_plans_argv_and_the_extfile_holds_printfs_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let log = tmp.path().join("argv.log");
    // A recording wrapper around the real openssl: it logs each argv and the
    // -extfile's content, then hands over to openssl.
    let real = which::which(openssl()).unwrap();
    write_executable(
        &tmp.path().join("bin/openssl"),
        &format!(
            "#!/usr/bin/env bash\n{{ printf 'argv'; printf ' [%s]' \"$@\"; printf '\\n'; }} >> '{log}'\n\
             prev=; for a in \"$@\"; do if [ \"$prev\" = -extfile ]; then printf 'extfile [%s]\\n' \"$(cat \"$a\")\" >> '{log}'; fi; prev=$a; done\n\
             exec '{real}' \"$@\"\n",
            log = log.display(),
            real = real.display()
        ),
    );
    let plan = run_ok(tmp.path(), &["plan", "fast.toml"]);
    run_ok(
        tmp.path(),
        &[
            "run",
            "fast.toml",
            "--quiet",
            "--jobs",
            "1",
            "--openssl",
            "bin/openssl",
        ],
    );
    let logged = fs::read_to_string(&log).unwrap();
    let steps: Vec<&str> = logged
        .lines()
        // pkiforge's own questions to the binary: its version, and what it can do.
        .filter(|l| {
            !l.starts_with("argv [version]")
                && !l.starts_with("argv [asn1parse]")
                && !l.ends_with(" [-help]")
        })
        .collect();
    let temp = steps
        .iter()
        .find_map(|l| l.split("-extfile] [").nth(1))
        .and_then(|rest| rest.split(']').next())
        .unwrap()
        .to_string();
    assert!(
        Path::new(&temp).is_absolute(),
        "the extfile is passed as a temp file path"
    );
    assert!(!Path::new(&temp).exists(), "and is gone after its step");
    let want: Vec<String> = vec![
        "argv [genrsa] [-out] [ca.key] [2048]".into(),
        "argv [req] [-new] [-x509] [-key] [ca.key] [-out] [ca.crt]".into(),
        "argv [genrsa] [-out] [server.key] [2048]".into(),
        "argv [req] [-new] [-key] [server.key] [-addext] [subjectAltName = DNS:localhost, IP:127.0.0.1] [-out] [server.csr]".into(),
        "argv [x509] [-req] [-in] [server.csr] [-CA] [ca.crt] [-CAkey] [ca.key] [-CAcreateserial] [-extfile] [TEMP] [-out] [server.crt]".into(),
        "extfile [subjectAltName=DNS:localhost,IP:127.0.0.1]".into(),
        "argv [genrsa] [-out] [client.key] [2048]".into(),
        "argv [req] [-new] [-key] [client.key] [-addext] [subjectAltName = DNS:localhost] [-out] [client.csr]".into(),
        "argv [x509] [-req] [-in] [client.csr] [-CA] [ca.crt] [-CAkey] [ca.key] [-CAcreateserial] [-extfile] [TEMP] [-out] [client.crt]".into(),
        "extfile [subjectAltName=DNS:localhost]".into(),
        "argv [verify] [-CAfile] [ca.crt] [server.crt] [client.crt]".into(),
        "argv [verify] [-CAfile] [ca.crt] [-purpose] [sslserver] [-verify_hostname] [localhost] [server.crt]".into(),
        "argv [verify] [-CAfile] [ca.crt] [-purpose] [sslserver] [-verify_ip] [127.0.0.1] [server.crt]".into(),
        "argv [verify] [-CAfile] [ca.crt] [-purpose] [sslclient] [-verify_hostname] [localhost] [client.crt]".into(),
    ];
    let got: Vec<String> = steps
        .iter()
        .map(|l| {
            // Each run has its own temp path; the x509 lines name one each.
            let mut l = l.to_string();
            if let Some(start) = l.find("-extfile] [") {
                let from = start + "-extfile] [".len();
                let end = from + l[from..].find(']').unwrap();
                l.replace_range(from..end, "TEMP");
            }
            l
        })
        .collect();
    assert_eq!(got, want);
    // The plan's openssl lines are the same words, bar the <(printf …) form.
    assert_eq!(
        plan.lines().filter(|l| l.starts_with("openssl ")).count(),
        8
    );
}

#[test]
fn keys_are_0600_whatever_the_umask() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let bin = assert_cmd::cargo::cargo_bin("pkiforge");
    let mut cmd = std::process::Command::new("sh");
    cmd.args([
        "-c",
        &format!("umask 000; exec '{}' run fast.toml --quiet", bin.display()),
    ])
    .current_dir(tmp.path())
    .env_remove("OPENSSL_CONF");
    if let Ok(o) = std::env::var("PKIFORGE_TEST_OPENSSL") {
        cmd.env("PKIFORGE_OPENSSL", o);
    }
    assert!(cmd.status().unwrap().success());
    let dir = tmp.path().join("pki/fast");
    for key in ["ca.key", "server.key", "client.key"] {
        assert_eq!(
            fs::metadata(dir.join(key)).unwrap().permissions().mode() & 0o777,
            0o600,
            "{key}"
        );
    }
    assert_eq!(
        fs::metadata(dir.join("ca.crt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644,
        "certificates are 0644 whatever the umask"
    );
}

#[test]
fn a_config_with_another_prompt_layout_still_gives_the_profiles_subjects() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    // Fields reordered and relabelled, numbered prefixes, defaults that must
    // not leak in, a field openssl does not know, and no attributes section.
    write(
        &tmp.path().join("odd.cnf"),
        "HOME = .\n[ req ]\ndistinguished_name = my_dn\nattributes = my_attrs\nx509_extensions = my_ext\n\
         [ my_dn ]\n1.commonName = Who are you?\n1.commonName_max = 64\n\
         emailAddress = Mail\nemailAddress_default = root@localhost\n\
         0.organizationalUnitName = Team\n0.organizationalUnitName_default = Default Team\n\
         favouriteColour = openssl skips names it does not know\n\
         organizationName = Company\norganizationName_default = Evil Defaults Inc\n\
         countryName = Land\ncountryName_min = 2\ncountryName_max = 2\ncountryName_default = XX\n\
         localityName = Town\nlocalityName_default = Springfield\n\
         [ my_attrs ]\nchallengePassword = Secret\nchallengePassword_min = 4\n\
         [ my_ext ]\nbasicConstraints = critical,CA:true\n",
    );
    succeeded(
        pkiforge(tmp.path())
            .args(["run", "fast.toml", "--quiet"])
            .env("OPENSSL_CONF", tmp.path().join("odd.cnf"))
            .output()
            .unwrap(),
    );
    let dir = tmp.path().join("pki/fast");
    assert_eq!(
        subject(&dir.join("ca.crt")),
        pairs(&[("CN", "Test CA"), ("O", "Test Org"), ("C", "DE")])
    );
    assert_eq!(
        subject(&dir.join("server.crt")),
        pairs(&[("CN", "localhost"), ("O", "Test Org"), ("C", "DE")])
    );
    assert_eq!(
        subject(&dir.join("client.crt")),
        pairs(&[
            ("CN", "alice"),
            ("emailAddress", "alice@example.com"),
            ("OU", "Clients"),
            ("O", "Test Org")
        ])
    );
}

#[test]
fn non_ascii_subjects_get_utf8_visibly_and_no_mojibake() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        &tmp.path().join("utf8.toml"),
        &FAST.replace("CN = \"alice\"", "CN = \"Zoë\", L = \"Zürich\""),
    );
    let plan = run_ok(tmp.path(), &["plan", "utf8.toml"]);
    assert!(
        plan.contains("openssl req -new -utf8 -key client.key -addext"),
        "{plan}"
    );
    assert!(
        plan.contains("openssl req -new -key server.key"),
        "only where needed: {plan}"
    );
    run_ok(tmp.path(), &["run", "utf8.toml", "--quiet"]);
    assert_eq!(
        subject(&tmp.path().join("pki/utf8/client.crt")),
        pairs(&[
            ("L", "Zürich"),
            ("O", "Test Org"),
            ("OU", "Clients"),
            ("CN", "Zoë"),
            ("emailAddress", "alice@example.com")
        ])
    );
}

#[test]
fn the_shipped_profile_makes_a_pki_that_openssl_verify_accepts() {
    // The one test with the tutorial's RSA-4096 keys.
    let tmp = tempfile::tempdir().unwrap();
    let profile = repo().join("profiles/localhost.toml");
    let stdout = run_ok(tmp.path(), &["run", profile.to_str().unwrap()]);
    assert!(
        stdout.starts_with(
            "server.crt: OK\nclient.crt: OK\nall 18 checks passed\nPKI written to pki/localhost: "
        ),
        "{stdout}"
    );
    let dir = tmp.path().join("pki/localhost");
    for key in ["ca.key", "server.key", "client.key"] {
        assert_eq!(rsa_bits(&dir.join(key)), 4096, "{key}");
    }
    assert_eq!(sans(&dir.join("server.crt")), ["DNS:localhost"]);
    assert_eq!(
        openssl_out(
            &dir,
            &["verify", "-CAfile", "ca.crt", "server.crt", "client.crt"]
        ),
        "server.crt: OK\nclient.crt: OK\n"
    );
    let report = run_ok(
        tmp.path(),
        &[
            "verify",
            "pki/localhost",
            "--profile",
            profile.to_str().unwrap(),
        ],
    );
    assert!(report.ends_with("\nall 18 checks passed\n"), "{report}");
}

#[test]
fn progress_is_one_plain_line_per_step_on_stderr_when_not_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let out = pkiforge(tmp.path())
        .args(["run", "fast.toml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    // (OpenSSL 1.1.1 adds a note on its key format after the header.)
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("note: "))
        .collect();
    assert_eq!(
        lines.len(),
        1 + 10 + 19,
        "a header, ten steps, nineteen checks: {stderr}"
    );
    assert!(lines[0].starts_with("pkiforge: OpenSSL"), "{stderr}");
    assert!(lines[0].ends_with(", writing pki/fast"), "{stderr}");
    let plan = run_ok(tmp.path(), &["plan", "fast.toml"]);
    let commands: Vec<&str> = plan.lines().collect();
    for (line, command) in lines[1..11].iter().zip(&commands) {
        assert!(line.starts_with("ok "), "{line}");
        assert!(
            line.ends_with(&format!("s  {command}")),
            "{line} vs {command}"
        );
    }
    assert!(
        lines[11].ends_with("s  openssl verify -CAfile ca.crt server.crt client.crt"),
        "{stderr}"
    );
    assert!(
        lines[29].ends_with("s  check: client.crt has the profile's subjectAltName DNS:localhost"),
        "{stderr}"
    );
    assert!(lines[1..].iter().all(|l| l.starts_with("ok ")), "{stderr}");
}

#[test]
fn an_existing_pki_is_never_overwritten_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    run_ok(tmp.path(), &["run", "fast.toml", "--quiet"]);
    let dir = tmp.path().join("pki/fast");
    let before = fs::read(dir.join("ca.key")).unwrap();
    pkiforge(tmp.path())
        .args(["run", "fast.toml", "--quiet"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "error: pki/fast already holds files this run would write: ca.key ca.crt server.key server.csr server.crt ca.srl server.bundle.crt client.key client.csr client.crt client.pem
  Choose another --out directory, remove them, or pass --force to overwrite them.
",
        );
    assert_eq!(fs::read(dir.join("ca.key")).unwrap(), before);
    run_ok(tmp.path(), &["run", "fast.toml", "--quiet", "--force"]);
    assert_ne!(
        fs::read(dir.join("ca.key")).unwrap(),
        before,
        "--force makes a new CA"
    );
}

#[test]
fn verify_names_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir(tmp.path().join("empty")).unwrap();
    pkiforge(tmp.path())
        .args(["verify", "empty"])
        .assert()
        .code(2)
        .stderr("error: empty has no ca.crt; give the directory a run wrote, e.g. pki/localhost\n");
}
