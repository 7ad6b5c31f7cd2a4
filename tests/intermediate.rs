//! An intermediate CA with name constraints: the plan, the chain as openssl,
//! rustls, Python's cryptography and GnuTLS see it, leaves outside the
//! constraints refused, and lint's chain rules.

mod common;

use common::*;
use std::fs;
use std::path::PathBuf;

fn profile() -> PathBuf {
    repo().join("profiles/intermediate.toml")
}

/// The PKI of profiles/intermediate.toml, made once per test binary; each
/// test works on a copy.
fn made() -> (tempfile::TempDir, PathBuf) {
    static PKI: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let src = PKI.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap().keep();
        run_ok(
            &tmp,
            &[
                "run",
                profile().to_str().unwrap(),
                "--out",
                "pki",
                "--quiet",
            ],
        );
        tmp.join("pki")
    });
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    fs::create_dir(&dir).unwrap();
    for f in tree(src) {
        fs::copy(src.join(&f), dir.join(&f)).unwrap();
    }
    (tmp, dir)
}

#[test]
fn the_plan_is_the_golden_transcript_and_the_tutorials_stays_ten_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let plan = run_ok(tmp.path(), &["plan", profile().to_str().unwrap()]);
    let golden = if is_openssl_1() {
        "tests/golden/intermediate-openssl-1.1.1.plan"
    } else {
        "tests/golden/intermediate.plan"
    };
    assert_eq!(plan, fs::read_to_string(repo().join(golden)).unwrap());
    assert!(plan.contains(
        "nameConstraints=critical,permitted;DNS:localhost,permitted;DNS:workshop.test,permitted;IP:127.0.0.0/255.0.0.0,permitted;email:.workshop.test"
    ));
    let tutorial = run_ok(
        tmp.path(),
        &[
            "plan",
            repo().join("profiles/localhost.toml").to_str().unwrap(),
        ],
    );
    assert_eq!(
        tutorial,
        fs::read_to_string(repo().join("tests/golden/localhost.plan")).unwrap()
    );
}

#[test]
fn openssl_verifies_the_chain_and_the_bundles_hold_it() {
    let (_tmp, dir) = made();
    assert_eq!(
        openssl_out(
            &dir,
            &[
                "verify",
                "-CAfile",
                "ca.crt",
                "-untrusted",
                "intermediate.crt",
                "server.crt",
                "alice.crt"
            ]
        ),
        "server.crt: OK\nalice.crt: OK\n"
    );
    // Without the intermediate, the root alone does not vouch for a leaf.
    let out = std::process::Command::new(openssl())
        .args(["verify", "-CAfile", "ca.crt", "server.crt"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    for (bundle, leaf) in [
        ("server.bundle.crt", "server.crt"),
        ("alice.pem", "alice.crt"),
    ] {
        let want = [leaf, "intermediate.crt", "ca.crt"]
            .map(|f| fs::read(dir.join(f)).unwrap())
            .concat();
        assert_eq!(fs::read(dir.join(bundle)).unwrap(), want, "{bundle}");
    }
    assert!(!dir.join("intermediate.pem").exists());
}

#[test]
fn verify_handshake_inspect_and_lint_understand_the_chain() {
    let (tmp, _dir) = made();
    let verified = run_ok(tmp.path(), &["verify", "pki"]);
    assert!(
        verified.starts_with("ok   openssl verify -CAfile ca.crt -untrusted intermediate.crt server.crt alice.crt\nok   openssl verify -CAfile ca.crt intermediate.crt\n"),
        "{verified}"
    );
    assert!(verified.contains(
        "ok   check: server.bundle.crt holds server.crt then intermediate.crt then ca.crt\n"
    ));
    let shaken = run_ok(tmp.path(), &["handshake", "pki"]);
    for stack in ["openssl", "rustls "] {
        assert!(
            shaken.contains(&format!("ok   {stack} accepted  server.crt with alice.crt as localhost: payload sent and answered\n")),
            "{shaken}"
        );
        assert!(
            shaken.contains(&format!("ok   {stack} refused   outside-constraints.pkiforge.invalid's certificate, outside the name constraints as outside-constraints.pkiforge.invalid: ")),
            "{shaken}"
        );
    }
    assert!(
        shaken.contains(
            "client: invalid peer certificate: Other(OtherError(NameConstraintViolation))"
        ),
        "{shaken}"
    );
    let inspected = run_ok(tmp.path(), &["inspect", "pki"]);
    assert!(
        inspected.contains("  chain        server.crt → intermediate.crt → ca.crt\n"),
        "{inspected}"
    );
    assert!(inspected.contains("nameConstraints (critical): permitted: DNS:localhost, DNS:workshop.test, IP:127.0.0.0/255.0.0.0, email:.workshop.test"), "{inspected}");
    assert_eq!(
        run_ok(tmp.path(), &["lint", "pki", "--deny-warnings"]),
        "0 errors, 0 warnings in 4 certificates\n"
    );
}

/// Python's cryptography X.509 verifier, with the intermediate given as
/// untrusted: the server by name and by IP, the client.
const PY_VERIFY: &str = r#"
import ipaddress
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store
def load(n): return x509.load_pem_x509_certificate(open(n + ".crt", "rb").read())
builder = PolicyBuilder().store(Store([load("ca")]))
inter = [load("intermediate")]
for name in [x509.DNSName("localhost"), x509.DNSName("api.workshop.test"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]:
    chain = builder.build_server_verifier(name).verify(load("server"), inter)
    print("server", name.value, len(chain))
print("client", len(builder.build_client_verifier().verify(load("alice"), inter).chain))
"#;

#[test]
fn pythons_cryptography_and_gnutls_accept_the_chain() {
    let (_tmp, dir) = made();
    let out = succeeded(
        std::process::Command::new("python3")
            .args(["-c", PY_VERIFY])
            .current_dir(&dir)
            .output()
            .unwrap(),
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "server localhost 3\nserver api.workshop.test 3\nserver 127.0.0.1 3\nclient 3\n"
    );
    for bundle in ["server.bundle.crt", "alice.pem"] {
        let out = std::process::Command::new("certtool")
            .args([
                "--verify",
                "--load-ca-certificate",
                "ca.crt",
                "--infile",
                bundle,
            ])
            .current_dir(&dir)
            .output()
            .expect("certtool (gnutls-bin) is installed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("Chain verification output: Verified. The certificate is trusted."),
            "{bundle}: {stdout}"
        );
    }
}

#[test]
fn a_leaf_outside_the_constraints_is_refused_before_any_key() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(profile()).unwrap().replace(
        r#"san = ["DNS:alice.workshop.test"]"#,
        r#"san = ["DNS:alice.example.com", "IP:10.0.0.1"]"#,
    );
    write(&tmp.path().join("p.toml"), &text);
    let (_, stderr, code) = run(tmp.path(), &["run", "p.toml"]);
    assert_eq!(
        stderr,
        "error: p.toml: 2 problems found, nothing was written:
  p.toml:42:7: client[0].san[0]: \"DNS:alice.example.com\" cannot be signed by the intermediate: it is not within the permitted DNS:localhost, DNS:workshop.test. Change the name, or the intermediate's constraints
  p.toml:42:7: client[0].san[1]: \"IP:10.0.0.1\" cannot be signed by the intermediate: it is not within the permitted IP:127.0.0.0/8. Change the name, or the intermediate's constraints
"
    );
    assert_eq!(code, 2);
    assert_eq!(tree(tmp.path()), ["p.toml"]);
}

#[test]
fn a_leaf_made_by_hand_outside_the_constraints_is_refused_by_openssl_verify() {
    let (_tmp, dir) = made();
    write(
        &dir.join("evil.ext"),
        "subjectAltName=DNS:evil.example.com\n",
    );
    openssl_out(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "evil.key",
        ],
    );
    openssl_out(
        &dir,
        &[
            "req", "-new", "-key", "evil.key", "-subj", "/CN=evil", "-out", "evil.csr",
        ],
    );
    openssl_out(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "evil.csr",
            "-CA",
            "intermediate.crt",
            "-CAkey",
            "intermediate.key",
            "-CAserial",
            "evil.srl",
            "-CAcreateserial",
            "-extfile",
            "evil.ext",
            "-out",
            "evil.crt",
        ],
    );
    let out = std::process::Command::new(openssl())
        .args([
            "verify",
            "-CAfile",
            "ca.crt",
            "-untrusted",
            "intermediate.crt",
            "evil.crt",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("permitted subtree violation"), "{said}");
}

#[test]
fn lint_finds_a_bundle_that_skips_the_intermediate() {
    let (tmp, dir) = made();
    let skipped = [
        fs::read(dir.join("server.crt")).unwrap(),
        fs::read(dir.join("ca.crt")).unwrap(),
    ]
    .concat();
    fs::write(dir.join("server.bundle.crt"), skipped).unwrap();
    let (stdout, stderr, code) = run(tmp.path(), &["lint", "pki"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with("error server.bundle.crt [bundle-missing-link]: holds server.crt then ca.crt, but server.crt was not issued by ca.crt: a link of the chain is missing or out of order\n"),
        "{stdout}"
    );
    assert_eq!(
        stderr,
        "error: lint found 1 problem: server.bundle.crt bundle-missing-link\n"
    );
    let (verified, _, code) = run(tmp.path(), &["verify", "pki"]);
    assert_eq!(code, 1);
    assert!(
        verified.contains(
            "FAIL check: server.bundle.crt holds server.crt then intermediate.crt then ca.crt\n"
        ),
        "{verified}"
    );
}

#[test]
fn renew_and_revoke_work_through_the_intermediate() {
    let (tmp, dir) = made();
    let bob = fs::read_to_string(profile()).unwrap()
        + "\n[[client]]\nname = \"bob\"\nkey = \"ec:P-256\"\nsubject = { O = \"Workshop\", CN = \"bob\" }\nsan = [\"DNS:bob.workshop.test\"]\n";
    write(&tmp.path().join("room.toml"), &bob);
    run_ok(
        tmp.path(),
        &["run", "room.toml", "--out", "pki", "--add", "--quiet"],
    );
    // The intermediate signed again by the root keeps its key, constraints
    // and subject: every leaf still verifies, and bundles end with it.
    let old_text = openssl_out(
        &dir,
        &[
            "x509",
            "-in",
            "intermediate.crt",
            "-noout",
            "-ext",
            "nameConstraints",
        ],
    );
    run_ok(tmp.path(), &["renew", "pki", "intermediate", "--quiet"]);
    assert_eq!(
        openssl_out(
            &dir,
            &[
                "x509",
                "-in",
                "intermediate.crt",
                "-noout",
                "-ext",
                "nameConstraints"
            ]
        ),
        old_text
    );
    assert_eq!(
        openssl_out(
            &dir,
            &[
                "verify",
                "-CAfile",
                "ca.crt",
                "-untrusted",
                "intermediate.crt",
                "server.crt",
                "alice.crt",
                "bob.crt"
            ]
        ),
        "server.crt: OK\nalice.crt: OK\nbob.crt: OK\n"
    );
    let want = ["alice.crt", "intermediate.crt", "ca.crt"]
        .map(|f| fs::read(dir.join(f)).unwrap())
        .concat();
    assert_eq!(fs::read(dir.join("alice.pem")).unwrap(), want);
    // A leaf is renewed by the intermediate, with its chain.
    run_ok(tmp.path(), &["renew", "pki", "bob", "--quiet"]);
    let issuer = openssl_out(&dir, &["x509", "-in", "bob.crt", "-noout", "-issuer"]);
    assert!(issuer.contains("Workshop Intermediate CA"), "{issuer}");
    // Revoked in the intermediate's database and CRL, refused by both stacks.
    let stdout = run_ok(tmp.path(), &["revoke", "pki", "alice", "--quiet"]);
    assert!(stdout.contains("intermediate.crl"), "{stdout}");
    assert!(!dir.join("ca.crl").exists());
    let verified = run_ok(tmp.path(), &["verify", "pki"]);
    assert!(
        verified.contains("-crl_check -CRLfile intermediate.crl bob.crt\n"),
        "{verified}"
    );
    let shaken = run_ok(tmp.path(), &["handshake", "pki"]);
    assert_eq!(
        shaken.matches(", revoked in the CRL: ").count(),
        2,
        "{shaken}"
    );
    assert!(
        shaken.contains("accepted  server.crt with bob.crt as localhost"),
        "{shaken}"
    );
    let (_, stderr, code) = run(tmp.path(), &["revoke", "pki", "intermediate"]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: intermediate is the intermediate CA, which every leaf depends on: make the PKI again with a new one (pkiforge run PROFILE --force)\n"
    );
}

#[test]
fn with_root_the_output_never_holds_the_roots_key_and_the_serial_continues_there() {
    let tmp = tempfile::tempdir().unwrap();
    let p = profile();
    let p = p.to_str().unwrap();
    run_ok(
        tmp.path(),
        &["run", p, "--only", "ca", "--out", "root", "--quiet"],
    );
    assert_eq!(
        tree(&tmp.path().join("root")),
        ["ca.crt", "ca.key", "commands.sh"]
    );
    let (stdout, stderr, code) = run(tmp.path(), &["run", p, "--root", "root", "--out", "pki"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("\nnote: the root CA's key stays in root; pki gets its certificate only\n"),
        "{stderr}"
    );
    assert!(
        stdout.ends_with(" alice.pem ca.crt commands.sh\n"),
        "{stdout}"
    );
    let pki = tmp.path().join("pki");
    assert!(!pki.join("ca.key").exists());
    assert!(!pki.join("ca.srl").exists());
    assert_eq!(
        fs::read(pki.join("ca.crt")).unwrap(),
        fs::read(tmp.path().join("root/ca.crt")).unwrap()
    );
    // The root signed the intermediate: its serial file is in the root's directory.
    let serial = fs::read_to_string(tmp.path().join("root/ca.srl")).unwrap();
    let signed = openssl_out(
        &pki,
        &["x509", "-noout", "-serial", "-in", "intermediate.crt"],
    );
    assert_eq!(signed.trim().trim_start_matches("serial="), serial.trim());
    assert_eq!(
        tree(&tmp.path().join("root")),
        ["ca.crt", "ca.key", "ca.srl", "commands.sh"]
    );
    // verify and handshake work without the root's key.
    let verified = run_ok(tmp.path(), &["verify", "pki"]);
    assert!(!verified.contains("ca.key"), "{verified}");
    run_ok(tmp.path(), &["handshake", "pki"]);
    // The room grows with --add: the intermediate in DIR signs.
    let bob = fs::read_to_string(p).unwrap()
        + "\n[[client]]\nname = \"bob\"\nkey = \"ec:P-256\"\nsubject = { O = \"Workshop\", CN = \"bob\" }\nsan = [\"DNS:bob.workshop.test\"]\n";
    write(&tmp.path().join("room.toml"), &bob);
    let added = run_ok(
        tmp.path(),
        &["run", "room.toml", "--out", "pki", "--add", "--quiet"],
    );
    assert!(
        added.ends_with(
            "PKI written to pki: bob.key bob.csr bob.crt intermediate.srl bob.pem commands.sh\n"
        ),
        "{added}"
    );
    assert!(!pki.join("ca.key").exists());
}

#[test]
fn a_handshake_dry_run_shows_the_server_outside_the_constraints_signed_where_the_key_lives() {
    let (tmp, dir) = made();
    let before: Vec<(String, Vec<u8>)> = tree(&dir)
        .into_iter()
        .map(|f| (f.clone(), fs::read(dir.join(&f)).unwrap()))
        .collect();
    let shown = run_ok(tmp.path(), &["handshake", "pki", "--dry-run"]);
    // The intermediate's certificate and key by the PKI's absolute path.
    let at = format!("{}/", std::path::absolute(&dir).unwrap().display());
    let golden = repo().join("tests/golden/handshake-intermediate.dry-run");
    let want = fs::read_to_string(golden).unwrap().replace("PKI/", &at);
    assert_eq!(shown, want);
    // The handshake itself makes them in its scratch directory: the PKI,
    // its intermediate's serial file too, stays as it was.
    run_ok(tmp.path(), &["handshake", "pki"]);
    let after: Vec<(String, Vec<u8>)> = tree(&dir)
        .into_iter()
        .map(|f| (f.clone(), fs::read(dir.join(&f)).unwrap()))
        .collect();
    assert_eq!(after, before);
}

/// An intermediate that only excludes names: the handshake's server
/// outside its constraints is named below the excluded domain (a name no
/// permitted list keeps out would be inside), and every client refuses it.
#[test]
fn an_intermediate_that_only_excludes_has_its_outside_server_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(profile()).unwrap().replace(
        "permitted = [\"DNS:localhost\", \"DNS:workshop.test\", \"IP:127.0.0.0/8\", \"email:.workshop.test\"]\nexcluded = []",
        "excluded = [\"DNS:evil.test\"]",
    );
    assert!(text.contains("excluded = [\"DNS:evil.test\"]"));
    write(&tmp.path().join("ex.toml"), &text);
    run_ok(tmp.path(), &["run", "ex.toml", "--out", "pki", "--quiet"]);
    let out = run_ok(tmp.path(), &["handshake", "pki"]);
    let outside: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("outside the name"))
        .collect();
    assert_eq!(outside.len(), 2, "{out}");
    assert!(
        outside[0].starts_with("ok   openssl refused   outside-constraints.evil.test's certificate, outside the name constraints as outside-constraints.evil.test: ")
            && outside[0].ends_with("client: verify error 48: excluded subtree violation"),
        "{out}"
    );
    assert!(
        outside[1].starts_with("ok   rustls  refused   outside-constraints.evil.test's certificate, outside the name constraints as outside-constraints.evil.test: ")
            && outside[1].ends_with("(rustls: NameConstraintViolation)"),
        "{out}"
    );
}
