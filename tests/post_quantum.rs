//! Post-quantum PKIs (profiles/post-quantum.toml): ML-DSA keys where the
//! openssl under test makes them (OpenSSL 3.5 and later), refused up front
//! where it does not; what the handshake negotiated, in every version's
//! words; a chain that mixes ML-DSA and classical keys; readers and exports.
//!
//! Each test that needs ML-DSA, or its absence, says when it is skipped on
//! the openssl under test (`just matrix` runs both kinds).

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// Whether the openssl under test makes ML-DSA keys, asked as pkiforge asks.
fn makes_ml_dsa() -> bool {
    let out = std::process::Command::new(openssl())
        .args(["list", "-public-key-algorithms"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("ML-DSA-65")
}

/// Says why a test does nothing on this openssl; true when it must skip.
fn skip_unless(needs_ml_dsa: bool) -> bool {
    if makes_ml_dsa() == needs_ml_dsa {
        return false;
    }
    let what = if needs_ml_dsa { "has no" } else { "has" };
    eprintln!(
        "skipped: {} {what} ML-DSA; this test is for an openssl that {}",
        openssl_version(),
        if needs_ml_dsa { "has it" } else { "has not" }
    );
    true
}

fn profile() -> PathBuf {
    repo().join("profiles/post-quantum.toml")
}

/// profiles/post-quantum.toml with the key of the `n`th table (0: the CA)
/// replaced by `key`.
fn with_key(n: usize, key: &str) -> String {
    let text = fs::read_to_string(profile()).unwrap();
    let at = text.match_indices("key = \"ml-dsa-65\"").nth(n).unwrap().0;
    format!(
        "{}key = \"{key}\"{}",
        &text[..at],
        &text[at + "key = \"ml-dsa-65\"".len()..]
    )
}

/// The lines of a handshake about the good pair, each with what it negotiated.
fn accepted(out: &str) -> Vec<String> {
    let lines: Vec<&str> = out.lines().collect();
    let mut found = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.contains(" accepted  ") {
            found.push(format!("{l} | {}", lines.get(i + 1).unwrap_or(&"").trim()));
        }
    }
    found
}

#[test]
fn an_openssl_without_ml_dsa_is_refused_up_front_naming_each_key() {
    if skip_unless(false) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let path = which::which(openssl()).unwrap();
    let (stdout, stderr, code) = run(
        tmp.path(),
        &["run", profile().to_str().unwrap(), "--out", "pki"],
    );
    assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "error: {}: ca.key = \"ml-dsa-65\", server[0].key = \"ml-dsa-65\", client[0].key = \"ml-dsa-65\" ask for ML-DSA (FIPS 204), and {} is {}, which cannot make ML-DSA keys (`openssl list -public-key-algorithms` names none); OpenSSL 3.5 or later can: install it and name it with --openssl PATH or PKIFORGE_OPENSSL, or choose another key type. Nothing was written\n",
            profile().display(),
            path.display(),
            openssl_version()
        )
    );
    assert!(tree(tmp.path()).is_empty(), "{:?}", tree(tmp.path()));
}

#[test]
fn a_post_quantum_pki_is_made_checked_and_shakes_hands_with_ml_kem() {
    if skip_unless(true) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ok(
        tmp.path(),
        &["run", profile().to_str().unwrap(), "--out", "pki"],
    );
    assert!(out.contains("all 19 checks passed\n"), "{out}");
    let plan = run_ok(tmp.path(), &["plan", profile().to_str().unwrap()]);
    assert_eq!(
        plan.lines().next().unwrap(),
        "openssl genpkey -algorithm ML-DSA-65 -out ca.key"
    );
    let inspect = run_ok(tmp.path(), &["inspect", "pki"]);
    assert_eq!(inspect.matches("  key          ML-DSA-65\n").count(), 3);
    assert_eq!(
        inspect.matches("  signature    ML-DSA-65\n").count(),
        3,
        "{inspect}"
    );
    assert_eq!(
        run_ok(tmp.path(), &["lint", "pki"]),
        "0 errors, 0 warnings in 3 certificates\n"
    );

    let shook = run_ok(tmp.path(), &["handshake", "pki"]);
    let good = accepted(&shook);
    assert_eq!(good.len(), 1, "{shook}");
    assert!(
        good[0].starts_with("ok   openssl accepted  server.crt with client.crt as localhost: payload sent and answered | TLSv1.3, group ")
            && good[0].contains("MLKEM")
            && good[0].ends_with(", server signature mldsa65"),
        "{shook}"
    );
    let untried = "rustls (with ring, as built here) has no ML-DSA: it can neither sign with an ML-DSA key nor check an ML-DSA signature; openssl's session is the proof";
    assert_eq!(shook.matches(untried).count(), 4, "{shook}");
    assert!(
        shook.ends_with("all 8 handshakes went as expected\n"),
        "{shook}"
    );

    // A key that is not the certificate's is found, ML-DSA or not.
    let dir = tmp.path().join("pki");
    fs::copy(dir.join("client.key"), dir.join("server.key")).unwrap();
    let (stdout, _, code) = run(tmp.path(), &["verify", "pki"]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("FAIL check: server.key is the private key of server.crt\n       step key-server: server.key does not belong to server.crt: their public keys differ"),
        "{stdout}"
    );
}

#[test]
fn a_chain_that_mixes_ml_dsa_and_classical_keys_works_and_lint_says_so() {
    if skip_unless(true) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // An ML-DSA root over EC leaves.
    let text = with_key(2, "ec:P-256");
    write(
        &tmp.path().join("mixed.toml"),
        &with_key_in(&text, 1, "ec:P-256"),
    );
    run_ok(tmp.path(), &["run", "mixed.toml", "--out", "pki"]);
    let (lint, _, code) = run(tmp.path(), &["lint", "pki"]);
    assert_eq!(code, 0, "a note fails nothing");
    assert!(lint.starts_with("note client.crt [mixed-signatures]: has a chain that mixes post-quantum and classical signatures: EC P-256 (client.crt), ML-DSA-65 (ca.crt)\n"), "{lint}");
    assert!(
        lint.ends_with("0 errors, 0 warnings, 2 notes in 3 certificates\n"),
        "{lint}"
    );
    // The handshake is signed by the EC server key: classical.
    let shook = run_ok(tmp.path(), &["handshake", "pki"]);
    let good = accepted(&shook);
    assert!(
        good[0].ends_with(", server signature ecdsa_secp256r1_sha256"),
        "{shook}"
    );
    // Java's TLS has no ML-DSA: no keystore of this chain.
    let (_, stderr, code) = run(tmp.path(), &["export", "pki", "server", "--format", "java"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr,
        "error: ca.crt has an ML-DSA-65 key, and Java's TLS has no ML-DSA (JDK 24 and later sign with it, JEP 497, but offer no ML-DSA signature scheme in TLS): a keystore of it would fail every handshake. Export --format nginx, haproxy or k8s instead, or give the chain classical keys (key = \"ec:P-256\") for Java\n"
    );
    assert!(!tmp.path().join("pki/export").exists());

    // The reverse: an EC root over ML-DSA leaves, whose handshakes are
    // signed with ML-DSA.
    write(&tmp.path().join("reverse.toml"), &with_key(0, "ec:P-384"));
    run_ok(tmp.path(), &["run", "reverse.toml", "--out", "rev"]);
    let lint = run_ok(tmp.path(), &["lint", "rev"]);
    assert!(lint.starts_with("note client.crt [mixed-signatures]: has a chain that mixes post-quantum and classical signatures: ML-DSA-65 (client.crt), EC P-384 (ca.crt)\n"), "{lint}");
    let shook = run_ok(tmp.path(), &["handshake", "rev"]);
    assert!(
        accepted(&shook)[0].ends_with(", server signature mldsa65"),
        "{shook}"
    );
}

/// [`with_key`] on a profile's text.
fn with_key_in(text: &str, n: usize, key: &str) -> String {
    let at = text.match_indices("key = \"ml-dsa-65\"").nth(n).unwrap().0;
    format!(
        "{}key = \"{key}\"{}",
        &text[..at],
        &text[at + "key = \"ml-dsa-65\"".len()..]
    )
}

/// What every handshake reports of an accepted session, on every version:
/// the tutorial's RSA CA signs classically.
#[test]
fn every_accepted_session_says_what_it_negotiated_and_json_carries_it() {
    let pki = good_pki();
    let dir: &Path = pki.parent().unwrap();
    let shook = run_ok(dir, &["handshake", "fast"]);
    for line in accepted(&shook) {
        let (_, negotiated) = line.split_once(" | ").unwrap();
        assert!(negotiated.starts_with("TLSv1.3, group "), "{shook}");
        assert!(!negotiated.contains("mldsa"), "{shook}");
        // rsa_pss_rsae_sha256 (OpenSSL 3.5+), RSA-PSS (before), RSA_PSS_SHA512 (rustls).
        assert!(
            negotiated.to_lowercase().contains("server signature rsa"),
            "{shook}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(dir, &["handshake", "fast", "--json"])).unwrap();
    let cases = json.as_array().unwrap();
    assert_eq!(cases.len(), 8);
    for case in cases {
        let accepted = case["got"] == "accepted";
        assert_eq!(case["passed"], true, "{case}");
        assert_eq!(case["negotiated"].is_object(), accepted, "{case}");
        if accepted {
            assert_eq!(case["negotiated"]["protocol"], "TLSv1.3", "{case}");
        }
    }
}

/// A SHA-1 fixture needs a CA that signs with a digest: ML-DSA (and
/// Ed25519) sign without one. Refused with the profile, on every openssl.
#[test]
fn a_sha1_fixture_under_an_ml_dsa_ca_is_refused_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        "{}\n[[client]]\nname = \"old\"\nfixture = \"sha1-signature\"\nkey = \"ml-dsa-65\"\nsubject = {{ CN = \"old\" }}\nsan = [\"DNS:old.workshop.test\"]\n",
        fs::read_to_string(profile()).unwrap()
    );
    write(&tmp.path().join("pq.toml"), &text);
    let (stdout, stderr, code) = run(tmp.path(), &["run", "pq.toml"]);
    assert_eq!((stdout.as_str(), code), ("", 2), "{stderr}");
    let line = text
        .lines()
        .position(|l| l.starts_with("fixture ="))
        .unwrap()
        + 1;
    assert_eq!(
        stderr,
        format!(
            "error: pq.toml: 1 problem found, nothing was written:\n  pq.toml:{line}:11: client[1].fixture: a sha1-signature fixture is signed with SHA-1 by [ca], whose key (\"ml-dsa-65\") signs without a digest; give [ca] an RSA or EC key, or leave this fixture out\n"
        )
    );
    assert!(!tmp.path().join("pki").exists());
}
