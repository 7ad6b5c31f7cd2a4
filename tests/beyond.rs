//! Beyond the tutorial: several servers and clients, modern keys, strict
//! extensions checked by a verifier outside OpenSSL, PKCS#12, a PKI that
//! grows, workshop mode, init and completions.

mod common;

use common::*;
use std::fs;

#[test]
fn the_strict_profile_plans_as_the_golden_transcript() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = run_ok(
        tmp.path(),
        &[
            "plan",
            repo().join("profiles/strict.toml").to_str().unwrap(),
        ],
    );
    // OpenSSL 1.1.1 has no `pkcs12 -legacy` (its defaults are the legacy
    // algorithms): the PKCS#12 lines differ there, and only there.
    let golden = if supports("pkcs12", "-legacy") {
        "tests/golden/strict.plan"
    } else {
        "tests/golden/strict-openssl-1.1.1.plan"
    };
    assert_eq!(plan, fs::read_to_string(repo().join(golden)).unwrap());
}

/// Python's cryptography X.509 verifier (CA/Browser Forum policy): an
/// independent strict verifier. Prints one line per certificate.
const PY_VERIFY: &str = r#"
import ipaddress, sys
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store
from cryptography.hazmat.primitives.serialization import pkcs12
ca = x509.load_pem_x509_certificate(open("ca.crt", "rb").read())
builder = PolicyBuilder().store(Store([ca]))
def load(n): return x509.load_pem_x509_certificate(open(n + ".crt", "rb").read())
for n, name in [("web", x509.DNSName("localhost")), ("web", x509.IPAddress(ipaddress.ip_address("::1"))), ("api", x509.DNSName("api.localhost"))]:
    builder.build_server_verifier(name).verify(load(n), [])
    print("server", n, name.value, "ok")
for n in ["alice", "java-client"]:
    builder.build_client_verifier().verify(load(n), [])
    print("client", n, "ok")
for n in ["alice", "java-client"]:
    key, cert, extra = pkcs12.load_key_and_certificates(open(n + ".p12", "rb").read(), sys.argv[1].encode())
    print("p12", n, type(key).__name__, cert == load(n), extra == [ca])
"#;

#[test]
fn the_strict_profile_passes_strict_verifiers_lint_and_handshakes() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = repo().join("profiles/strict.toml");
    let stdout = run_ok(tmp.path(), &["run", profile.to_str().unwrap(), "--quiet"]);
    assert!(
        stdout.starts_with(
            "web.crt: OK\napi.crt: OK\nalice.crt: OK\njava-client.crt: OK\nall 38 checks passed\n"
        ),
        "{stdout}"
    );
    let dir = tmp.path().join("pki/strict");

    let out = succeeded(
        std::process::Command::new("python3")
            .args(["-c", PY_VERIFY, P12_PASSWORD])
            .current_dir(&dir)
            .output()
            .unwrap(),
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "server web localhost ok\nserver web ::1 ok\nserver api api.localhost ok\nclient alice ok\nclient java-client ok\n\
         p12 alice Ed25519PrivateKey True True\np12 java-client RSAPrivateKey True True\n"
    );

    // GnuTLS, a third TLS stack, at its "medium" profile (112-bit security),
    // for the purpose (serverAuth, clientAuth) and the host name.
    for (name, host, purpose) in [
        ("web", Some("localhost"), "1.3.6.1.5.5.7.3.1"),
        ("api", Some("api.localhost"), "1.3.6.1.5.5.7.3.1"),
        ("alice", None, "1.3.6.1.5.5.7.3.2"),
        ("java-client", None, "1.3.6.1.5.5.7.3.2"),
    ] {
        let mut cmd = std::process::Command::new("certtool");
        cmd.args([
            "--verify",
            "--verify-profile",
            "medium",
            "--load-ca-certificate",
            "ca.crt",
            "--verify-purpose",
            purpose,
        ]);
        if let Some(host) = host {
            cmd.args(["--verify-hostname", host]);
        }
        let out = cmd
            .args(["--infile", &format!("{name}.crt")])
            .current_dir(&dir)
            .output()
            .expect("certtool (gnutls-bin) is installed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("Chain verification output: Verified. The certificate is trusted."),
            "{name}: {stdout}"
        );
    }

    let (lint, _, code) = run(tmp.path(), &["lint", "pki/strict", "--deny-warnings"]);
    assert_eq!(
        (lint.as_str(), code),
        ("0 errors, 0 warnings in 5 certificates\n", 0)
    );

    let (hs, stderr, code) = run(tmp.path(), &["handshake", "pki/strict"]);
    assert_eq!(code, 0, "{hs}{stderr}");
    assert!(hs.ends_with("all 24 handshakes went as expected\n"), "{hs}");

    // Keys of every kind, as asked.
    let report = run_ok(tmp.path(), &["inspect", "pki/strict"]);
    for (file, key) in [
        ("ca.crt", "EC P-384"),
        ("web.crt", "EC P-256"),
        ("api.crt", "RSA 2048"),
        ("alice.crt", "Ed25519"),
    ] {
        let block = report
            .split("\n\n")
            .find(|b| b.starts_with(&format!("{file}\n")))
            .unwrap();
        assert!(
            block.contains(&format!("  key          {key}\n")),
            "{block}"
        );
    }
    // Modern PKCS#12 has a SHA-256 MAC; legacy keeps SHA-1 for old readers.
    for (name, legacy, mac) in [
        ("alice", false, "MAC: sha256"),
        ("java-client", true, "MAC: sha1"),
    ] {
        let mut cmd = std::process::Command::new(openssl());
        cmd.args([
            "pkcs12",
            "-info",
            "-noout",
            "-in",
            &format!("{name}.p12"),
            "-passin",
            "env:PKIFORGE_P12_PASSWORD",
        ]);
        if legacy && supports("pkcs12", "-legacy") {
            cmd.arg("-legacy");
        }
        let out = cmd
            .current_dir(&dir)
            .env("PKIFORGE_P12_PASSWORD", P12_PASSWORD)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(mac),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The password is nowhere on disk.
    for f in fs::read_dir(&dir).unwrap() {
        let bytes = fs::read(f.unwrap().path()).unwrap();
        assert!(
            !bytes
                .windows(P12_PASSWORD.len())
                .any(|w| w == P12_PASSWORD.as_bytes())
        );
    }
}

#[test]
fn pkcs12_without_a_password_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        &tmp.path().join("p.toml"),
        &FAST.replace("CN = \"alice\"", "CN = \"alice\" }\np12 = true\n#"),
    );
    pkiforge(tmp.path())
        .args(["run", "p.toml"])
        .env_remove("PKIFORGE_P12_PASSWORD")
        .assert()
        .code(2)
        .stderr("error: the profile asks for PKCS#12 bundles (p12), which need a password: set PKIFORGE_P12_PASSWORD (it is never read from the profile, written to disk or shown)\n");
    assert_eq!(tree(tmp.path()), ["p.toml"]);
}

const WORKSHOP: &str = r#"
[ca]
bits = 2048
subject = { O = "Workshop", CN = "Workshop CA" }

[server]
bits = 2048
subject = { O = "Workshop", CN = "localhost" }
san = ["DNS:localhost"]

[[client]]
name = "p01"
key = "ec:P-256"
subject = { O = "Workshop", CN = "participant 01" }
san = ["DNS:localhost"]

[[client]]
name = "p02"
key = "ec:P-256"
subject = { O = "Workshop", CN = "participant 02" }
san = ["DNS:localhost"]
"#;

const THIRD: &str = r#"
[[client]]
name = "p03"
key = "ec:P-256"
days = 7
subject = { O = "Workshop", CN = "participant 03" }
san = ["DNS:localhost"]
"#;

#[test]
fn a_pki_grows_with_add_and_nothing_else_changes() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("room.toml"), WORKSHOP);
    run_ok(tmp.path(), &["run", "room.toml", "--quiet"]);
    let dir = tmp.path().join("pki/room");
    let before: Vec<(String, Vec<u8>)> = tree(&dir)
        .into_iter()
        .map(|f| (f.clone(), fs::read(dir.join(&f)).unwrap()))
        .collect();

    // Nothing new: nothing to do.
    assert_eq!(
        run_ok(tmp.path(), &["run", "room.toml", "--add", "--quiet"]),
        "nothing to add: every entity of room.toml is in pki/room already\n"
    );

    write(&tmp.path().join("room.toml"), &format!("{WORKSHOP}{THIRD}"));
    let plan_words = run_ok(tmp.path(), &["plan", "room.toml"]);
    assert!(plan_words.contains("-days 7 -out p03.crt"), "{plan_words}");
    let stdout = run_ok(tmp.path(), &["run", "room.toml", "--add", "--quiet"]);
    assert!(
        stdout.ends_with(
            "PKI written to pki/room: p03.key p03.csr p03.crt ca.srl p03.pem commands.sh\n"
        ),
        "{stdout}"
    );
    for (file, bytes) in &before {
        // The serial continues, and the transcript is continued.
        if file != "ca.srl" && file != "commands.sh" {
            assert_eq!(&fs::read(dir.join(file)).unwrap(), bytes, "{file} changed");
        }
    }
    // The serial continues from the last one issued.
    // (Serials are 20 random bytes; their last 60 bits step by one.)
    let low = |s: String| u64::from_str_radix(&s[s.len() - 15..], 16).unwrap();
    assert_eq!(
        low(serial(&dir, "p03.crt")),
        low(serial(&dir, "p02.crt")) + 1
    );
    let (report, _, code) = run(
        tmp.path(),
        &["verify", "pki/room", "--profile", "room.toml"],
    );
    assert_eq!(code, 0, "{report}");
}

#[test]
fn add_refuses_a_ca_that_is_not_the_profiles() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("room.toml"), WORKSHOP);
    run_ok(tmp.path(), &["run", "room.toml", "--quiet"]);
    write(
        &tmp.path().join("room.toml"),
        &format!(
            "{}{THIRD}",
            WORKSHOP.replace("CN = \"Workshop CA\"", "CN = \"Other CA\"")
        ),
    );
    let (_, stderr, code) = run(tmp.path(), &["run", "room.toml", "--add"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: pki/room/ca.crt is the CA O=Workshop, CN=Workshop CA, but the profile's [ca] says O=Workshop, CN=Other CA; --add issues with the CA in DIR, so they must agree\n"
    );
    assert!(!tmp.path().join("pki/room/p03.key").exists());
}

#[test]
fn the_tutorial_section_by_section_makes_the_same_pki() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let (_, stderr, code) = run(tmp.path(), &["run", "fast.toml", "--only", "server"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: pki/fast has no ca.crt, ca.key; run --only ca first\n"
        )
    );
    assert_eq!(
        run_ok(tmp.path(), &["plan", "fast.toml", "--only", "ca"]),
        "openssl genrsa -out ca.key 2048\nopenssl req -new -x509 -key ca.key -out ca.crt\n"
    );
    let ca = run_ok(tmp.path(), &["run", "fast.toml", "--only", "ca", "--quiet"]);
    assert_eq!(
        ca,
        "all 3 checks passed\nPKI written to pki/fast: ca.key ca.crt commands.sh\n"
    );
    run_ok(
        tmp.path(),
        &["run", "fast.toml", "--only", "server", "--quiet"],
    );
    run_ok(
        tmp.path(),
        &["run", "fast.toml", "--only", "client", "--quiet"],
    );
    let mut want: Vec<String> = ELEVEN.iter().map(|f| f.to_string()).collect();
    want.push("commands.sh".into());
    want.sort();
    assert_eq!(tree(&tmp.path().join("pki/fast")), want);
    let (report, _, code) = run(
        tmp.path(),
        &["verify", "pki/fast", "--profile", "fast.toml"],
    );
    assert_eq!(code, 0, "{report}");
}

#[test]
fn step_mode_shows_the_tutorials_words_before_each_command() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let out = pkiforge(tmp.path())
        .args(["run", "fast.toml", "--step"])
        .write_stdin("\n".repeat(10))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "\n# Generate a 2048-bit RSA private key, for the CA, using the PKCS#8 format.\n$ openssl genrsa -out ca.key 2048\n[Enter runs it; Ctrl-C stops]\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("\n# Generate PEM file.\n$ cat client.crt ca.crt > client.pem\n"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("[Enter runs it; Ctrl-C stops]").count(), 10);
}

#[test]
fn bad_settings_of_the_new_keys_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            WORKSHOP.replace("name = \"p02\"", "name = \"p01\""),
            "  p.toml:18:8: client[1].name: would write p01.key, which client[0] writes too; give each entity its own name\n",
        ),
        (
            WORKSHOP.replace(
                "key = \"ec:P-256\"\nsubject = { O = \"Workshop\", CN = \"participant 01\" }",
                "key = \"ec:P-521\"\nsubject = { O = \"Workshop\", CN = \"participant 01\" }",
            ),
            "  p.toml:13:7: client[0].key: \"ec:P-521\" is not a key type pkiforge makes; use \"rsa:BITS\" (e.g. \"rsa:4096\"), \"ec:P-256\", \"ec:P-384\", \"ed25519\" or \"ml-dsa-44\", \"ml-dsa-65\", \"ml-dsa-87\" (OpenSSL 3.5 or later)\n",
        ),
        (
            WORKSHOP.replace("name = \"p01\"\nkey", "name = \"p01\"\nbits = 2048\nkey"),
            "  p.toml:13:8: client[0].bits: give either bits or key, not both; for RSA write key = \"rsa:2048\"\n",
        ),
        (
            WORKSHOP.replace("name = \"p01\"", "name = \"../p01\""),
            "  p.toml:12:8: client[0].name: \"../p01\" cannot be a file name here; use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)\n",
        ),
        (
            WORKSHOP.replace("name = \"p01\"", "name = \"p01\"\ndays = 0"),
            "  p.toml:13:8: client[0].days: must be a whole number of days from 1 to 36500, e.g. days = 365\n",
        ),
        (
            WORKSHOP.replace("name = \"p01\"", "name = \"p01\"\np12 = \"yes\""),
            "  p.toml:13:7: client[0].p12: must be true (a PKCS#12 bundle with current algorithms), \"legacy\" (for Java 8 and older macOS keychains) or false\n",
        ),
        (
            format!("extensions = \"strong\"\n{WORKSHOP}"),
            "  p.toml:1:14: extensions: is \"strong\"; use \"tutorial\" (the tutorial's commands, the default) or \"strict\" (what Apple platforms and strict verifiers require)\n",
        ),
    ];
    for (text, problem) in cases {
        write(&tmp.path().join("p.toml"), &text);
        let (_, stderr, code) = run(tmp.path(), &["plan", "p.toml"]);
        assert_eq!(code, 2);
        assert_eq!(
            stderr,
            format!("error: p.toml: 1 problem found, nothing was written:\n{problem}")
        );
    }
}

#[test]
fn init_writes_a_starter_profile_that_plans_and_runs() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(
        run_ok(tmp.path(), &["init", "lab.toml"]),
        "wrote lab.toml; edit it, then: pkiforge plan lab.toml && pkiforge run lab.toml\n"
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("lab.toml")).unwrap(),
        fs::read_to_string(repo().join("profiles/starter.toml")).unwrap()
    );
    let (_, stderr, code) = run(tmp.path(), &["init", "lab.toml"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            2,
            "error: lab.toml exists; choose another path or pass --force to overwrite it\n"
        )
    );
    let stdout = run_ok(tmp.path(), &["run", "lab.toml", "--quiet"]);
    assert!(stdout.contains("all 27 checks passed\n"), "{stdout}");
    let (lint, _, code) = run(tmp.path(), &["lint", "pki/lab", "--deny-warnings"]);
    assert_eq!(
        (lint.as_str(), code),
        ("0 errors, 0 warnings in 4 certificates\n", 0)
    );
}

#[test]
fn completions_and_help_lead_with_examples() {
    let tmp = tempfile::tempdir().unwrap();
    let bash = run_ok(tmp.path(), &["completions", "bash"]);
    assert!(
        bash.contains("_pkiforge()") && bash.contains("handshake"),
        "{bash}"
    );
    for sub in [
        "plan",
        "run",
        "verify",
        "handshake",
        "inspect",
        "lint",
        "init",
        "completions",
    ] {
        let help = run_ok(tmp.path(), &[sub, "--help"]);
        assert!(help.starts_with("Examples:\n  pkiforge "), "{sub}: {help}");
    }
    assert!(
        run_ok(tmp.path(), &["--help"])
            .starts_with("Examples:\n  pkiforge plan profiles/localhost.toml")
    );
}

/// An openssl that cannot load its legacy provider (a build or a
/// distribution without `legacy.so`; here, modules looked for in an empty
/// directory) gets a profile with a legacy PKCS#12 bundle refused before
/// anything runs, naming the field.
#[test]
fn a_legacy_p12_without_the_legacy_provider_is_refused_up_front() {
    let empty = tempfile::tempdir().unwrap();
    let loads = std::process::Command::new(openssl())
        .args(["list", "-providers", "-provider", "legacy"])
        .env("OPENSSL_MODULES", empty.path())
        .output()
        .unwrap()
        .status
        .success();
    if loads || !supports("pkcs12", "-legacy") {
        eprintln!(
            "skipped: {} has its legacy provider built in, or no pkcs12 -legacy",
            openssl_version()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let strict = repo().join("profiles/strict.toml");
    let out = pkiforge(tmp.path())
        .args(["run", strict.to_str().unwrap(), "--out", "pki"])
        .env("OPENSSL_MODULES", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let path = which::which(openssl()).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {}: client[1].p12 = \"legacy\" asks for a legacy PKCS#12 bundle (RC2, 3DES, SHA-1), and {} is {}, which cannot load its legacy provider (`openssl list -providers -provider legacy` fails); install the provider (ossl-modules/legacy.so), name another openssl with --openssl PATH, or write p12 = true (AES-256, which Java 8u301 and later read). Nothing was written\n",
            strict.display(),
            path.display(),
            openssl_version()
        )
    );
    assert!(!tmp.path().join("pki").exists());
}
