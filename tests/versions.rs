//! Whatever openssl a user has: probed, named, refused up front when it
//! lacks what the tutorial needs. Stand-ins report other versions; every
//! real command still goes to the real openssl.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// A stand-in that answers `version` as `version_text` says and `req -help`
/// as `req_help` says, and hands everything else to the real openssl.
fn stand_in(dir: &Path, version_text: &str, req_help: Option<&str>) -> PathBuf {
    let real = which::which(openssl()).unwrap();
    let path = dir.join("openssl");
    let help = match req_help {
        Some(text) => {
            format!("[ \"$1 $2\" = \"req -help\" ] && {{ printf '%s\\n' '{text}' >&2; exit 1; }}\n")
        }
        None => String::new(),
    };
    write_executable(
        &path,
        &format!(
            "#!/usr/bin/env bash\n[ \"$1\" = version ] && {{ printf '%s\\n' {version_text}; exit 0; }}\n{help}exec '{}' \"$@\"\n",
            real.display()
        ),
    );
    path
}

fn real_openssldir() -> String {
    let out = std::process::Command::new(openssl())
        .args(["version", "-d"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("OPENSSLDIR: ")
        .trim_matches('"')
        .to_string()
}

#[test]
fn libressl_is_named_and_still_runs() {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let fake = stand_in(
        bin.path(),
        &format!("'LibreSSL 3.8.2' 'OPENSSLDIR: \"{}\"'", real_openssldir()),
        None,
    );
    let out = pkiforge(work.path())
        .args(["run", "fast.toml", "--openssl"])
        .arg(&fake)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().take(2).collect();
    assert_eq!(
        lines[0],
        format!(
            "pkiforge: LibreSSL 3.8.2 ({}), writing pki/fast",
            fake.display()
        )
    );
    assert_eq!(
        lines[1],
        "warning: LibreSSL 3.8.2 is LibreSSL, which pkiforge is not tested with (it cannot be built here); the commands are the tutorial's, but check the result with `pkiforge verify`"
    );
}

#[test]
fn an_openssl_without_addext_is_refused_before_anything_is_written() {
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let fake = stand_in(
        bin.path(),
        &format!(
            "'OpenSSL 1.0.2u  20 Dec 2019' 'OPENSSLDIR: \"{}\"'",
            real_openssldir()
        ),
        Some(
            "usage: req args\n -inform arg    input format - DER or PEM\n -newkey rsa:bits generate a new RSA key of bits in size\n -x509          output a x509 structure instead of a cert. req.",
        ),
    );
    for command in ["run", "plan"] {
        let out = pkiforge(work.path())
            .args([command, "fast.toml", "--openssl"])
            .arg(&fake)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "error: {} is OpenSSL 1.0.2u  20 Dec 2019, which has no `openssl req -addext`, which the tutorial's CSR commands use (OpenSSL 1.1.1 or later has it).\n  Install OpenSSL 1.1.1 or later (3.x recommended), or name one with --openssl PATH.\n",
                fake.display()
            )
        );
    }
    assert_eq!(tree(work.path()), ["fast.toml"]);
}

#[test]
fn the_prompts_come_from_the_config_of_the_openssl_in_use() {
    // No OPENSSL_CONF: the config is OPENSSLDIR/openssl.cnf of the binary
    // named, as its `openssl version -d` says, never an assumed /usr/lib/ssl.
    let bin = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let ssl_dir = bin.path().join("ssl");
    write(
        &ssl_dir.join("openssl.cnf"),
        "[req]\ndistinguished_name = dn\n[dn]\nCN = Your name, please\nO = Your firm\nOU = Your team\nC = Country\nemailAddress = Mail\n",
    );
    write(
        &work.path().join("fast.toml"),
        &FAST.replace("C = \"DE\", ", ""),
    );
    let version = std::process::Command::new(openssl())
        .arg("version")
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let fake = stand_in(
        bin.path(),
        &format!("'{version}' 'OPENSSLDIR: \"{}\"'", ssl_dir.display()),
        None,
    );
    let out = succeeded(
        pkiforge(work.path())
            .args([
                "plan",
                "--answers",
                "--only",
                "ca",
                "fast.toml",
                "--openssl",
            ])
            .arg(&fake)
            .output()
            .unwrap(),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "openssl genrsa -out ca.key 2048\nopenssl req -new -x509 -key ca.key -out ca.crt\n#   Your name, please []: Test CA\n#   Your firm []: Test Org\n#   Your team []: .\n#   Country []: .\n#   Mail []: .\n"
    );
}

#[test]
fn openssl_1_1_1_says_it_writes_pkcs1_where_the_tutorial_says_pkcs8() {
    // Runs for real in `just matrix`, against the OpenSSL 1.1.1w it builds.
    if !is_openssl_1() {
        eprintln!(
            "not OpenSSL 1.x ({}); nothing to check here",
            openssl_version()
        );
        return;
    }
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    let out = pkiforge(work.path())
        .args(["run", "fast.toml"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "\nnote: this OpenSSL's genrsa writes RSA keys as PKCS#1 (BEGIN RSA PRIVATE KEY), not the PKCS#8 the tutorial's first step says; OpenSSL 3 writes PKCS#8\n"
    ));
}

#[test]
fn a_config_that_gives_the_ca_no_basic_constraints_is_warned_about() {
    // Such a CA passes OpenSSL 3's verify but OpenSSL 4 refuses it; the
    // warning comes first, whichever openssl runs.
    let work = tempfile::tempdir().unwrap();
    write(&work.path().join("fast.toml"), FAST);
    write(
        &work.path().join("bare.cnf"),
        "[req]\ndistinguished_name = dn\n[dn]\nC = Country\nO = Org\nOU = Unit\nCN = Name\nemailAddress = Mail\n",
    );
    let out = pkiforge(work.path())
        .args(["run", "fast.toml"])
        .env("OPENSSL_CONF", work.path().join("bare.cnf"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = stderr
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_default();
    assert_eq!(
        warning,
        format!(
            "warning: the openssl config {} gives `req -x509` no basicConstraints, so the CA certificate will not say CA:TRUE; OpenSSL 4, rustls and other strict verifiers refuse such a CA. Set extensions = \"strict\" in the profile, or use a config whose x509_extensions section sets basicConstraints = critical,CA:true",
            work.path().join("bare.cnf").display()
        )
    );
}
