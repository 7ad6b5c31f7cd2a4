//! Negative-test fixtures: profiles/fixtures.toml makes every kind; each
//! differs from a good certificate in its one way only; `verify` and
//! `handshake` prove each is refused, for its reason, by openssl and rustls.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;
use x509_parser::prelude::*;

/// profiles/fixtures.toml, run once for the tests of this file.
fn fixtures_pki() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    run_once(&DIR, "fixtures.toml")
}

/// Each fixture of profiles/fixtures.toml: its name, and the verify error
/// openssl gives (strict extensions name the authority key, so a foreign
/// CA's certificate finds no issuer: error 20).
fn expected_errors() -> Vec<(&'static str, u32, &'static str)> {
    let old = is_openssl_1();
    let purpose = if old {
        "unsupported certificate purpose"
    } else {
        "unsuitable certificate purpose"
    };
    let self_signed = if old {
        "self signed certificate"
    } else {
        "self-signed certificate"
    };
    let not_yet = if openssl_version().starts_with("OpenSSL 4") {
        "certificate is not yet valid or the system clock is incorrect"
    } else {
        "certificate is not yet valid"
    };
    let mut out = Vec::new();
    for role in ["server", "client"] {
        let kinds: [(&str, u32, &str); 6] = [
            ("expired", 10, "certificate has expired"),
            ("not-yet-valid", 9, not_yet),
            ("wrong-purpose", 26, purpose),
            ("foreign-ca", 20, "unable to get local issuer certificate"),
            ("self-signed", 18, self_signed),
            ("revoked", 23, "certificate revoked"),
        ];
        for (kind, code, text) in kinds {
            out.push((leak(format!("{role}-{kind}")), code, text));
        }
    }
    let host = if old {
        "Hostname mismatch"
    } else {
        "hostname mismatch"
    };
    out.push(("server-wrong-host", 62, host));
    out
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn kind_of(name: &str) -> &str {
    name.split_once('-').unwrap().1
}

#[test]
fn verify_refuses_each_fixture_for_its_reason() {
    let dir = fixtures_pki();
    let out = run_ok(dir, &["verify", "pki"]);
    for (name, code, text) in expected_errors() {
        let purpose = if name.starts_with("server") {
            "sslserver"
        } else {
            "sslclient"
        };
        let host = if name == "server-wrong-host" {
            " -verify_hostname localhost"
        } else {
            ""
        };
        let want = format!(
            "ok   openssl verify -CAfile ca.crt -purpose {purpose}{host} -crl_check -CRLfile ca.crl {name}.crt\n       refused as intended ({}): error {code}, {text}\n",
            kind_of(name)
        );
        assert!(out.contains(&want), "{want}\nnot in:\n{out}");
    }
    // The good ones are checked against the CRL too, and pass.
    assert!(out.contains("ok   openssl verify -CAfile ca.crt -purpose sslclient -verify_hostname localhost -crl_check -CRLfile ca.crl client.crt\n"));
    assert!(out.ends_with("all 82 checks passed\n"), "{out}");
}

#[test]
fn the_manifest_and_inspect_say_what_is_wrong_with_each() {
    let dir = fixtures_pki().join("pki");
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("fixtures.json")).unwrap()).unwrap();
    let list = manifest["fixtures"].as_array().unwrap();
    assert_eq!(list.len(), 13);
    let expired = list.iter().find(|f| f["name"] == "client-expired").unwrap();
    assert_eq!(
        expired.to_string(),
        r#"{"accepting":"it trusts a certificate after its validity ended, when its key may long have leaked and its CA no longer lists it in a CRL","files":["client-expired.key","client-expired.csr","client-expired.crt","client-expired.pem"],"fixture":"expired","name":"client-expired","openssl":[{"code":10,"text":"certificate has expired"}],"role":"client","rustls":["Expired"],"wrong":"its validity ended the day before it was made"}"#
    );
    let host = list
        .iter()
        .find(|f| f["name"] == "server-wrong-host")
        .unwrap();
    assert_eq!(host["host"], "localhost");
    for f in list {
        for file in f["files"].as_array().unwrap() {
            assert!(dir.join(file.as_str().unwrap()).is_file(), "{file}");
        }
    }
    // The foreign CA's key never leaves staging.
    assert!(!dir.join("client-foreign-ca.issuer.key").exists());
    assert!(!dir.join("client-foreign-ca.issuer.srl").exists());

    let out = run_ok(fixtures_pki(), &["inspect", "pki"]);
    let table = out.split("\nfixtures (fixtures.json)").nth(1).unwrap();
    assert!(
        table.contains("\nclient-revoked.crt        revoked        the CA's CRL revokes it"),
        "{table}"
    );
    // Fixtures are not what status watches, and their CRL lasts a year.
    let status = run_ok(fixtures_pki(), &["status", "pki"]);
    assert!(!status.contains("-expired"), "{status}");
    assert!(
        status.lines().last().unwrap().starts_with("ca.crl "),
        "{status}"
    );
    assert!(
        status.contains(" 364  valid\n") || status.contains(" 365  valid\n"),
        "{status}"
    );
    let lint = run_ok(fixtures_pki(), &["lint", "pki"]);
    assert_eq!(
        lint,
        "13 fixtures left out: they are bad on purpose (see fixtures.json)\n0 errors, 0 warnings in 18 certificates\n"
    );
}

#[test]
fn handshake_refuses_each_fixture_for_its_reason_with_openssl_and_rustls() {
    let dir = fixtures_pki();
    let out = run_ok(dir, &["handshake", "pki"]);
    let rustls_names = |kind: &str| match kind {
        "expired" => vec!["Expired"],
        "not-yet-valid" => vec!["NotValidYet"],
        "wrong-purpose" => vec!["InvalidPurpose"],
        "foreign-ca" => vec!["BadSignature", "UnknownIssuer"],
        "self-signed" => vec!["UnknownIssuer"],
        "revoked" => vec!["Revoked"],
        _ => vec!["NotValidForName"],
    };
    for (name, code, text) in expected_errors() {
        let kind = kind_of(name);
        let (case, side) = if name.starts_with("server") {
            (
                format!("{kind} fixture {name}.crt as localhost with client.crt"),
                "client",
            )
        } else {
            (
                format!("server.crt with {kind} fixture {name}.crt"),
                "server",
            )
        };
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("ok   openssl refused   {case}: ")))
            .unwrap_or_else(|| panic!("no openssl line for {case}:\n{out}"));
        let want = format!("{side}: verify error {code}: {text}");
        assert!(line.contains(&want), "{want}\nnot in:\n{line}");
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("ok   rustls  refused   {case}: ")))
            .unwrap_or_else(|| panic!("no rustls line for {case}:\n{out}"));
        assert!(
            rustls_names(kind)
                .iter()
                .any(|r| line.contains(&format!("(rustls: {r})"))),
            "{line}"
        );
    }
    assert!(
        out.ends_with("all 34 handshakes went as expected\n"),
        "{out}"
    );
}

/// What a certificate says, for comparing a fixture with a good one: each
/// field that may differ is listed by name.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    version: u32,
    signature: String,
    key: String,
    issuer: String,
    subject_fields: Vec<String>,
    sans: Vec<String>,
    extensions: Vec<(String, bool, String)>,
    validity_days: i64,
}

fn shape(path: &Path) -> (Shape, i64, i64, String) {
    let pem = fs::read(path).unwrap();
    let (_, p) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let (_, c) = X509Certificate::from_der(&p.contents).unwrap();
    let mut extensions = Vec::new();
    let mut sans = Vec::new();
    for e in c.extensions() {
        let value = match e.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(s) => {
                sans = s.general_names.iter().map(|n| format!("{n:?}")).collect();
                "names".to_string()
            }
            ParsedExtension::ExtendedKeyUsage(u) => format!("{u:?}"),
            ParsedExtension::KeyUsage(u) => format!("{u:?}"),
            ParsedExtension::BasicConstraints(b) => format!("{b:?}"),
            // Key identifiers differ with every key: present, not equal.
            _ => "present".to_string(),
        };
        extensions.push((e.oid.to_id_string(), e.critical, value));
    }
    let not_before = c.validity().not_before.timestamp();
    let not_after = c.validity().not_after.timestamp();
    (
        Shape {
            version: c.version().0,
            signature: c.signature_algorithm.algorithm.to_id_string(),
            key: c.public_key().algorithm.algorithm.to_id_string(),
            issuer: c.issuer().to_string(),
            subject_fields: c
                .subject()
                .iter_attributes()
                .map(|a| a.attr_type().to_id_string())
                .collect(),
            sans,
            extensions,
            validity_days: (not_after - not_before) / 86_400,
        },
        not_before,
        not_after,
        c.subject().to_string(),
    )
}

#[test]
fn each_fixture_differs_from_a_good_certificate_in_its_one_way_only() {
    let dir = fixtures_pki().join("pki");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (ca, ..) = shape(&dir.join("ca.crt"));
    for role in ["server", "client"] {
        let (good, ..) = shape(&dir.join(format!("{role}.crt")));
        for kind in [
            "expired",
            "not-yet-valid",
            "wrong-purpose",
            "foreign-ca",
            "self-signed",
            "revoked",
            "wrong-host",
        ] {
            let file = dir.join(format!("{role}-{kind}.crt"));
            if !file.exists() {
                assert_eq!((role, kind), ("client", "wrong-host"));
                continue;
            }
            let (bad, not_before, not_after, subject) = shape(&file);
            // The one field that may differ, set back to the good one's.
            let mut same = bad.clone();
            match kind {
                "expired" | "not-yet-valid" => {
                    assert!(not_before < not_after, "{kind}: well-formed dates");
                    assert_eq!(bad.validity_days, 30, "{kind}: the profile's days");
                    if kind == "expired" {
                        assert!(not_after < now);
                    } else {
                        assert!(not_before > now);
                    }
                    same.validity_days = good.validity_days;
                }
                "wrong-purpose" => {
                    let eku = |s: &Shape| {
                        s.extensions
                            .iter()
                            .find(|e| e.0 == "2.5.29.37")
                            .unwrap()
                            .2
                            .clone()
                    };
                    let (want, other) = if role == "client" {
                        ("server_auth: true", "client_auth: true")
                    } else {
                        ("client_auth: true", "server_auth: true")
                    };
                    assert!(eku(&bad).contains(want) && !eku(&bad).contains(other));
                    same.extensions = good.extensions.clone();
                }
                "foreign-ca" => {
                    // Same issuer name as the real CA: signed by another key.
                    assert_eq!(bad.issuer, ca.issuer);
                    let (other, ..) = shape(&dir.join(format!("{role}-foreign-ca.issuer.crt")));
                    assert_eq!(other.issuer, ca.issuer);
                    assert_eq!(other.extensions, ca.extensions);
                }
                "self-signed" => {
                    assert_eq!(bad.issuer, subject);
                    same.issuer = good.issuer.clone();
                    // Its authority key identifier would name itself:
                    // OpenSSL 3.5 leaves it out, 3.0 and 4.0 write it.
                    let aki = |e: &(String, bool, String)| e.0 == "2.5.29.35";
                    if !bad.extensions.iter().any(aki) {
                        let mut without = good.clone();
                        without.extensions.retain(|e| !aki(e));
                        assert_eq!(
                            same, without,
                            "self-signed differs in more than its one way"
                        );
                        continue;
                    }
                }
                "wrong-host" => {
                    assert_eq!(bad.sans, ["DNSName(\"wrong-host.invalid\")"]);
                    same.sans = good.sans.clone();
                    same.subject_fields = good.subject_fields.clone();
                }
                _ => {}
            }
            assert_eq!(same, good, "{role}-{kind} differs in more than its one way");
        }
    }
}

/// A tutorial-mode profile with fixtures (no extendedKeyUsage on good
/// leaves), added with `--add` to a PKI that had none.
#[test]
fn fixtures_are_added_to_a_pki_and_the_manifest_grows() {
    let (tmp, _) = copy();
    let work = tmp.path();
    let with = |extra: &str| format!("{FAST}{extra}");
    let first = r#"
[[client]]
name = "old"
fixture = "wrong-purpose"
bits = 2048
subject = { O = "Test Org", CN = "wrong purpose" }
san = ["DNS:localhost"]
"#;
    let second = r#"
[[client]]
name = "gone"
fixture = "revoked"
bits = 2048
subject = { O = "Test Org", CN = "revoked" }
san = ["DNS:localhost"]
"#;
    // FAST's [client] is one table: make it the first of a list.
    let base = |s: String| s.replace("[client]\n", "[[client]]\n");
    write(&work.join("one.toml"), &base(with(first)));
    write(
        &work.join("two.toml"),
        &base(with(&format!("{first}{second}"))),
    );
    run_ok(
        work,
        &["--quiet", "run", "one.toml", "--out", "pki", "--add"],
    );
    let names = |dir: &Path| -> Vec<String> {
        let m: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.join("fixtures.json")).unwrap()).unwrap();
        m["fixtures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&work.join("pki")), ["old"]);
    run_ok(
        work,
        &["--quiet", "run", "two.toml", "--out", "pki", "--add"],
    );
    assert_eq!(names(&work.join("pki")), ["old", "gone"]);
    let out = run_ok(work, &["verify", "pki"]);
    assert!(
        out.contains("       refused as intended (wrong-purpose): error 26, "),
        "{out}"
    );
    assert!(
        out.contains("       refused as intended (revoked): error 23, certificate revoked\n"),
        "{out}"
    );
    // The good client is checked against the CRL that now exists, and passes.
    assert!(
        out.contains("-crl_check -CRLfile ca.crl client.crt\n"),
        "{out}"
    );
    run_ok(work, &["handshake", "pki"]);
}

#[test]
fn a_fixture_that_verifies_or_fails_for_another_reason_is_a_failed_check() {
    let tmp = tempfile::tempdir().unwrap();
    let src = fixtures_pki().join("pki");
    let dir = tmp.path().join("pki");
    fs::create_dir(&dir).unwrap();
    for entry in fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    // An "expired" fixture that is really a good certificate, and a
    // "self-signed" one that is really expired.
    fs::copy(dir.join("client.crt"), dir.join("client-expired.crt")).unwrap();
    fs::copy(dir.join("client.key"), dir.join("client-expired.key")).unwrap();
    fs::copy(
        src.join("server-expired.crt"),
        dir.join("server-self-signed.crt"),
    )
    .unwrap();
    fs::copy(
        src.join("server-expired.key"),
        dir.join("server-self-signed.key"),
    )
    .unwrap();
    let (out, err, code) = run(tmp.path(), &["verify", "pki"]);
    assert_eq!(code, 1, "{out}{err}");
    let command = "openssl verify -CAfile ca.crt -purpose sslclient -crl_check -CRLfile ca.crl client-expired.crt";
    assert!(out.contains(&format!("FAIL {command}\n       step refused-client-expired: the certificate verifies, but the expired fixture must fail with error 10 (certificate has expired); make it again: {command}\n")), "{out}");
    assert!(out.contains("step refused-server-self-signed: refused for another reason: error 10 at 0 depth lookup: certificate has expired; the self-signed fixture must fail with error 18 (self-signed certificate): openssl verify"), "{out}");
    let (out, _, code) = run(tmp.path(), &["handshake", "pki"]);
    assert_eq!(code, 1);
    assert!(out.contains("FAIL openssl accepted  server.crt with expired fixture client-expired.crt (expected refused): payload sent and answered\n"), "{out}");
    assert!(out.contains("FAIL openssl refused   self-signed fixture server-self-signed.crt as localhost with client.crt (for another reason than verify error 18:): "), "{out}");
    assert!(
        out.contains("client: verify error 10: certificate has expired"),
        "{out}"
    );
}

#[test]
fn handshake_needs_a_good_pair_to_try_the_fixtures_against() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = FAST.replace("[client]\n", "[client]\nfixture = \"self-signed\"\n");
    write(&tmp.path().join("p.toml"), &profile);
    run_ok(tmp.path(), &["--quiet", "run", "p.toml", "--out", "pki"]);
    let (out, err, code) = run(tmp.path(), &["handshake", "pki"]);
    assert_eq!((out.as_str(), code), ("", 2), "{err}");
    assert_eq!(
        err,
        "error: pki has fixtures, which are tried against a good server and client of the same PKI, and it has no pair of them; add a [[server]] and a [[client]] without fixture to the profile, and run it with --add\n"
    );
}
