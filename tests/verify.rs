//! `pkiforge verify`: every tampered PKI is caught, and named.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Runs `pkiforge verify pki` and returns (stdout, stderr, code).
fn verify(work: &Path, extra: &[&str]) -> (String, String, i32) {
    run(work, &[&["verify", "pki"][..], extra].concat())
}

fn fail_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("FAIL ")).collect()
}

#[test]
fn a_good_pki_passes_every_check() {
    let (tmp, _) = copy();
    let profile = tmp.path().join("fast.toml");
    write(&profile, FAST);
    let (stdout, stderr, code) = verify(tmp.path(), &["--profile", profile.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "ok   openssl verify -CAfile ca.crt server.crt client.crt
ok   openssl verify -CAfile ca.crt -purpose sslserver -verify_hostname localhost server.crt
ok   openssl verify -CAfile ca.crt -purpose sslserver -verify_ip 127.0.0.1 server.crt
ok   openssl verify -CAfile ca.crt -purpose sslclient -verify_hostname localhost client.crt
ok   check: ca.key is the private key of ca.crt
ok   check: ca.key is readable by its owner only
ok   check: server.key is the private key of server.crt
ok   check: server.key is readable by its owner only
ok   check: client.key is the private key of client.crt
ok   check: client.key is readable by its owner only
ok   check: server.bundle.crt holds server.crt then ca.crt
ok   check: server.crt has the subject of server.csr
ok   check: client.pem holds client.crt then ca.crt
ok   check: client.crt has the subject of client.csr
ok   check: ca.crt has the profile's subject C=DE, O=Test Org, CN=Test CA
ok   check: server.crt has the profile's subject C=DE, O=Test Org, CN=localhost
ok   check: client.crt has the profile's subject O=Test Org, OU=Clients, CN=alice, emailAddress=alice@example.com
ok   check: server.crt has the profile's subjectAltName DNS:localhost, IP:127.0.0.1
ok   check: client.crt has the profile's subjectAltName DNS:localhost
all 19 checks passed
"
    );
    // Without a profile, the names come from the certificates themselves.
    let (stdout, _, code) = verify(tmp.path(), &[]);
    assert_eq!(code, 0);
    assert!(stdout.ends_with("\nall 14 checks passed\n"), "{stdout}");
}

#[test]
fn a_client_certificate_from_a_foreign_ca_is_caught() {
    let (_tmp, dir) = copy();
    resign_client_with_foreign_ca(&dir);
    let (stdout, stderr, code) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: 2 of 14 checks failed: verify, verify-client-DNS:localhost\n"
    );
    assert_eq!(
        fail_lines(&stdout),
        [
            "FAIL openssl verify -CAfile ca.crt server.crt client.crt",
            "FAIL openssl verify -CAfile ca.crt -purpose sslclient -verify_hostname localhost client.crt",
        ]
    );
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_caught() {
    let (_tmp, dir) = copy();
    openssl_out(&dir, &["genrsa", "-out", "server.key", "2048"]);
    fs::set_permissions(dir.join("server.key"), fs::Permissions::from_mode(0o600)).unwrap();
    let (stdout, stderr, code) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "error: 1 of 14 checks failed: key-server\n");
    assert!(
        stdout.contains(
            "FAIL check: server.key is the private key of server.crt
       step key-server: server.key does not belong to server.crt: their public keys differ: check: server.key is the private key of server.crt
"
        ),
        "{stdout}"
    );
}

#[test]
fn a_key_of_another_kind_and_a_key_that_is_no_key_are_named() {
    let (_tmp, dir) = copy();
    openssl_out(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "server.key",
        ],
    );
    fs::write(dir.join("client.key"), "not a key\n").unwrap();
    for key in ["server.key", "client.key"] {
        fs::set_permissions(dir.join(key), fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (stdout, stderr, code) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: 2 of 14 checks failed: key-server, key-client\n"
    );
    let details: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("       step key-"))
        .collect();
    assert_eq!(
        details,
        [
            "       step key-server: server.key does not belong to server.crt: the key is EC, the certificate's is RSA: check: server.key is the private key of server.crt",
            "       step key-client: client.key: the file holds no private key: check: client.key is the private key of client.crt",
        ]
    );
}

#[test]
fn a_bundle_in_the_wrong_order_is_caught() {
    let (_tmp, dir) = copy();
    let bundle = [
        fs::read(dir.join("ca.crt")).unwrap(),
        fs::read(dir.join("server.crt")).unwrap(),
    ]
    .concat();
    fs::write(dir.join("server.bundle.crt"), bundle).unwrap();
    let (stdout, stderr, code) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "error: 1 of 14 checks failed: bundle-server\n");
    assert!(
        stdout.contains(
            "FAIL check: server.bundle.crt holds server.crt then ca.crt
       step bundle-server: server.bundle.crt holds 2 certificate(s): \"C=DE, O=Test Org, CN=Test CA\" then \"C=DE, O=Test Org, CN=localhost\"; expected server.crt then ca.crt (\"C=DE, O=Test Org, CN=localhost\" then \"C=DE, O=Test Org, CN=Test CA\"): check: server.bundle.crt holds server.crt then ca.crt
"
        ),
        "{stdout}"
    );
}

#[test]
fn a_missing_ca_file_is_named() {
    let (_tmp, dir) = copy();
    fs::remove_file(dir.join("ca.crt")).unwrap();
    let (stdout, stderr, code) = verify(dir.parent().unwrap(), &[]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert_eq!(
        stderr,
        "error: pki has no ca.crt; give the directory a run wrote, e.g. pki/localhost\n"
    );
}

#[test]
fn a_world_readable_key_is_caught() {
    let (_tmp, dir) = copy();
    fs::set_permissions(dir.join("client.key"), fs::Permissions::from_mode(0o644)).unwrap();
    let (stdout, stderr, code) = verify(dir.parent().unwrap(), &[]);
    assert_eq!(code, 1);
    assert_eq!(stderr, "error: 1 of 14 checks failed: mode-client\n");
    assert!(
        stdout.contains("       step mode-client: client.key is mode 0644: others can read the private key; run chmod 600 client.key: check: client.key is readable by its owner only\n"),
        "{stdout}"
    );
}

#[test]
fn certificates_that_are_not_the_profiles_are_caught() {
    let (tmp, _) = copy();
    let other = tmp.path().join("other.toml");
    write(
        &other,
        &FAST
            .replace("CN = \"alice\"", "CN = \"bob\"")
            .replace("\"DNS:localhost\", \"IP:127.0.0.1\"", "\"DNS:localhost\""),
    );
    let (stdout, stderr, code) = verify(tmp.path(), &["--profile", other.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: 2 of 18 checks failed: profile-subject-client, profile-san-server\n"
    );
    assert!(stdout.contains("       step profile-subject-client: client.crt has the subject O=Test Org, OU=Clients, CN=alice, emailAddress=alice@example.com; the profile says O=Test Org, OU=Clients, CN=bob, emailAddress=alice@example.com: "), "{stdout}");
    assert!(stdout.contains("       step profile-san-server: server.crt has subjectAltName DNS:localhost, IP:127.0.0.1; the profile says DNS:localhost: "), "{stdout}");
}

/// The public half pkiforge reads from a private key file is what
/// `openssl pkey -pubout` prints, for every key format openssl writes.
#[test]
fn the_public_half_of_each_kind_of_key_is_openssls() {
    use pkiforge::pki::keys::{PublicKey, public_key_of_pem};
    use x509_parser::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut kinds: Vec<(&str, Vec<&str>)> = vec![
        (
            "rsa.pem",
            vec![
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "rsa.pem",
            ],
        ),
        (
            "p256.pem",
            vec![
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "p256.pem",
            ],
        ),
        (
            "p384.pem",
            vec![
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
                "-out",
                "p384.pem",
            ],
        ),
        (
            "sec1.pem",
            vec![
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
                "sec1.pem",
            ],
        ),
    ];
    kinds.push((
        "ed25519.pem",
        vec!["genpkey", "-algorithm", "ed25519", "-out", "ed25519.pem"],
    ));
    // PKCS#1, as OpenSSL 1.1.1's genrsa writes it.
    let traditional = if is_openssl_1() {
        vec!["rsa", "-in", "rsa.pem", "-out", "pkcs1.pem"]
    } else {
        vec!["rsa", "-in", "rsa.pem", "-traditional", "-out", "pkcs1.pem"]
    };
    kinds.push(("pkcs1.pem", traditional));
    let mut labels = Vec::new();
    for (file, args) in &kinds {
        openssl_out(dir, args);
        let pem = fs::read(dir.join(file)).unwrap();
        labels.push(
            String::from_utf8_lossy(&pem)
                .lines()
                .next()
                .unwrap()
                .to_string(),
        );
        let der = openssl_bytes(dir, &["pkey", "-in", file, "-pubout", "-outform", "DER"]);
        let (_, spki) = SubjectPublicKeyInfo::from_der(&der).unwrap();
        assert_eq!(
            public_key_of_pem(&pem).unwrap(),
            PublicKey::of_spki(&spki),
            "{file}"
        );
    }
    assert!(
        labels.contains(&"-----BEGIN RSA PRIVATE KEY-----".to_string()),
        "{labels:?}"
    );
    assert!(
        labels.contains(&"-----BEGIN EC PRIVATE KEY-----".to_string()),
        "{labels:?}"
    );
}
