//! A PKI that lives: status, renew, revoke and the CRL, against the real
//! openssl; faults during each operation leave DIR as it was, byte for
//! byte; two operations at once take turns.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A fresh PKI of FAST in `TMP/pki`.
fn pki() -> (tempfile::TempDir, PathBuf) {
    let (tmp, dir) = copy();
    fs::set_permissions(
        dir.join("ca.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    (tmp, dir)
}

fn hashes(dir: &Path) -> BTreeMap<String, String> {
    tree(dir)
        .into_iter()
        .filter(|f| dir.join(f).is_file())
        .map(|f| {
            let digest = Sha256::digest(fs::read(dir.join(&f)).unwrap());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            (f, hex)
        })
        .collect()
}

fn enddate(dir: &Path, file: &str) -> String {
    openssl_out(dir, &["x509", "-noout", "-enddate", "-in", file])
}

fn days_valid(dir: &Path, file: &str) -> i64 {
    use x509_parser::prelude::*;
    let bytes = fs::read(dir.join(file)).unwrap();
    let (_, pem) = parse_x509_pem(&bytes).unwrap();
    let (_, cert) = X509Certificate::from_der(&pem.contents).unwrap();
    let v = cert.validity();
    (v.not_after.timestamp() - v.not_before.timestamp()) / 86_400
}

#[test]
fn renew_keeps_the_key_gives_a_new_serial_and_validity_and_rebuilds_the_bundle() {
    let (tmp, dir) = pki();
    let (old_key, old_serial) = (
        fs::read(dir.join("client.key")).unwrap(),
        serial(&dir, "client.crt"),
    );
    let old_crt = fs::read(dir.join("client.crt")).unwrap();
    let stdout = run_ok(
        tmp.path(),
        &["renew", "pki", "client", "--days", "60", "--quiet"],
    );
    // A PKI made without a database gets one, listing what its CA signed.
    assert!(stdout.contains(&format!("renewed in pki: ca.index ca.crlnumber ca.index.attr archive/{old_serial}/client.crt archive/{old_serial}/client.pem client.crt ca.srl client.pem commands.sh\n")), "{stdout}");
    assert_eq!(
        fs::read(dir.join("client.key")).unwrap(),
        old_key,
        "the key is kept"
    );
    assert_ne!(serial(&dir, "client.crt"), old_serial);
    assert_eq!(days_valid(&dir, "client.crt"), 60);
    assert_eq!(
        fs::read(dir.join(format!("archive/{old_serial}/client.crt"))).unwrap(),
        old_crt
    );
    let bundle = [
        fs::read(dir.join("client.crt")).unwrap(),
        fs::read(dir.join("ca.crt")).unwrap(),
    ]
    .concat();
    assert_eq!(fs::read(dir.join("client.pem")).unwrap(), bundle);
    assert_eq!(
        sans(&dir.join("client.crt")),
        ["DNS:localhost"],
        "same extensions"
    );
    run_ok(tmp.path(), &["verify", "pki"]);
}

#[test]
fn renew_rekey_makes_a_new_key_and_csr() {
    let (tmp, dir) = pki();
    let old_key = fs::read(dir.join("server.key")).unwrap();
    let old_subject = subject(&dir.join("server.crt"));
    run_ok(
        tmp.path(),
        &["renew", "pki", "server", "--rekey", "--quiet"],
    );
    assert_ne!(fs::read(dir.join("server.key")).unwrap(), old_key);
    assert_eq!(subject(&dir.join("server.crt")), old_subject);
    assert_eq!(
        sans(&dir.join("server.crt")),
        ["DNS:localhost", "IP:127.0.0.1"]
    );
    run_ok(tmp.path(), &["verify", "pki"]);
}

#[test]
fn a_renewed_ca_still_verifies_the_old_leaves() {
    let (tmp, dir) = pki();
    let leaf_before = fs::read(dir.join("server.crt")).unwrap();
    let old_ca_serial = serial(&dir, "ca.crt");
    run_ok(
        tmp.path(),
        &["renew", "pki", "ca", "--days", "400", "--quiet"],
    );
    assert_ne!(serial(&dir, "ca.crt"), old_ca_serial);
    assert_eq!(days_valid(&dir, "ca.crt"), 400);
    assert_eq!(
        fs::read(dir.join("server.crt")).unwrap(),
        leaf_before,
        "leaves unchanged"
    );
    // The old leaves, against the new CA only.
    assert_eq!(
        openssl_out(
            &dir,
            &["verify", "-CAfile", "ca.crt", "server.crt", "client.crt"]
        ),
        "server.crt: OK\nclient.crt: OK\n"
    );
    for (bundle, leaf) in [
        ("server.bundle.crt", "server.crt"),
        ("client.pem", "client.crt"),
    ] {
        let want = [
            fs::read(dir.join(leaf)).unwrap(),
            fs::read(dir.join("ca.crt")).unwrap(),
        ]
        .concat();
        assert_eq!(fs::read(dir.join(bundle)).unwrap(), want, "{bundle}");
    }
    assert!(
        dir.join(format!("archive/{old_ca_serial}/ca.crt"))
            .is_file()
    );
    run_ok(tmp.path(), &["handshake", "pki"]);
}

#[test]
fn a_revoked_client_is_refused_by_openssl_and_rustls_and_the_others_accepted() {
    let (tmp, dir) = pki();
    // A second client, so that one is left to accept.
    let profile = format!(
        "{FAST}\n[[client]]\nname = \"bob\"\nbits = 2048\nsubject = {{ O = \"Test Org\", CN = \"bob\" }}\nsan = [\"DNS:localhost\"]\n"
    )
    .replace("[client]\nbits", "[[client]]\nname = \"client\"\nbits");
    write(&tmp.path().join("two.toml"), &profile);
    run_ok(
        tmp.path(),
        &["run", "two.toml", "--out", "pki", "--add", "--quiet"],
    );
    let revoked = serial(&dir, "client.crt");
    let stdout = run_ok(
        tmp.path(),
        &[
            "revoke",
            "pki",
            "client",
            "--reason",
            "keyCompromise",
            "--quiet",
        ],
    );
    assert!(
        stdout.ends_with("moved to the archive: client.crt client.pem client.key client.csr\n"),
        "{stdout}"
    );
    assert!(!dir.join("client.crt").exists());
    let crl = openssl_out(&dir, &["crl", "-in", "ca.crl", "-noout", "-text"]);
    assert!(crl.contains(&format!("Serial Number: {revoked}")), "{crl}");
    assert!(crl.contains("Key Compromise"), "{crl}");
    let report = run_ok(tmp.path(), &["handshake", "pki"]);
    // Each case, without why, nor what an accepted session negotiated.
    let lines: Vec<&str> = report
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "ok   openssl accepted  server.crt with bob.crt as localhost",
            "ok   openssl refused   server.crt with no client certificate",
            "ok   openssl refused   server.crt with a client certificate from a foreign CA",
            "ok   openssl refused   server.crt as not-in-san.pkiforge.invalid (not in its SAN)",
            &format!(
                "ok   openssl refused   server.crt with archive/{revoked}/client.crt, revoked in the CRL"
            ),
            "ok   rustls  accepted  server.crt with bob.crt as localhost",
            "ok   rustls  refused   server.crt with no client certificate",
            "ok   rustls  refused   server.crt with a client certificate from a foreign CA",
            "ok   rustls  refused   server.crt as not-in-san.pkiforge.invalid (not in its SAN)",
            &format!(
                "ok   rustls  refused   server.crt with archive/{revoked}/client.crt, revoked in the CRL"
            ),
            "all 10 handshakes went as expected",
        ]
    );
    // "sslv3 alert certificate revoked" before OpenSSL 4, "tls alert …" since.
    assert!(report.contains(" alert certificate revoked\n"), "{report}");
    assert!(
        report.contains("server: invalid peer certificate: Revoked"),
        "{report}"
    );
    // verify checks the others against the CRL; the name can be issued again.
    let verified = run_ok(tmp.path(), &["verify", "pki"]);
    assert!(
        verified.contains("-crl_check -CRLfile ca.crl bob.crt\n"),
        "{verified}"
    );
    run_ok(
        tmp.path(),
        &["run", "two.toml", "--out", "pki", "--add", "--quiet"],
    );
    assert_ne!(serial(&dir, "client.crt"), revoked);
}

#[test]
fn dry_runs_print_the_commands_and_touch_nothing() {
    let (tmp, dir) = pki();
    let before = hashes(&dir);
    let renew = run_ok(tmp.path(), &["renew", "pki", "client", "--dry-run"]);
    let old = serial(&dir, "client.crt");
    let ext = "<(printf \"subjectAltName=DNS:localhost\")";
    // The database the tutorial's PKI lacks, listing what its CA signed, and
    // the renewed certificate recorded there too.
    let cfg = "<(printf \"[ca]\\ndefault_ca = pkiforge\\n[pkiforge_crl]\\nauthorityKeyIdentifier = keyid\\n[pkiforge]\\ndatabase = ca.index\\ncrlnumber = ca.crlnumber\\ndefault_md = sha256\\ndefault_crl_days = 30\\nunique_subject = no\\ncrl_extensions = pkiforge_crl\\n\")";
    let record = |crt: &str| {
        format!("openssl ca -config {cfg} -batch -keyfile ca.key -cert ca.crt -valid {crt}\n")
    };
    assert_eq!(
        renew,
        format!(
            "printf \"\" > ca.index\nprintf \"01\\n\" > ca.crlnumber\n{}{}mkdir -p archive/{old} && cp client.crt client.pem archive/{old}/\nopenssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile {ext} -days 30 -out client.crt\n{}cat client.crt ca.crt > client.pem\n",
            record("server.crt"),
            record("client.crt"),
            record("client.crt"),
        )
    );
    let revoke = run_ok(tmp.path(), &["revoke", "pki", "client", "--dry-run"]);
    assert!(
        revoke.starts_with("printf \"\" > ca.index\nprintf \"01\\n\" > ca.crlnumber\n"),
        "{revoke}"
    );
    assert!(
        revoke.contains(" -batch -keyfile ca.key -cert ca.crt -revoke client.crt\n"),
        "{revoke}"
    );
    let crl = run_ok(tmp.path(), &["crl", "pki", "--days", "7", "--dry-run"]);
    assert!(
        crl.ends_with(" -batch -keyfile ca.key -cert ca.crt -gencrl -crldays 7 -out ca.crl\n"),
        "{crl}"
    );
    assert_eq!(hashes(&dir), before);
}

/// The status line of `file`: its state word.
fn state_of(stdout: &str, file: &str) -> String {
    stdout
        .lines()
        .find(|l| l.starts_with(&format!("{file} ")))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or("?")
        .to_string()
}

#[test]
fn status_exits_1_at_the_boundaries_it_promises() {
    let (tmp, dir) = pki();
    // A 30-day certificate has 30 whole days left in its first second,
    // then 29: past that second, the boundary holds for a day.
    std::thread::sleep(Duration::from_millis(1100));
    let (json, _, _) = run(tmp.path(), &["status", "pki", "--json", "--within", "0"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let left = rows[2]["days_left"].as_i64().unwrap();
    assert_eq!(rows[2]["file"], "client.crt");
    assert_eq!(left, 29);
    let (stdout, _, code) = run(tmp.path(), &["status", "pki", "--within", "28"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(state_of(&stdout, "client.crt"), "valid");
    let (stdout, stderr, code) = run(tmp.path(), &["status", "pki", "--within", "29"]);
    assert_eq!(code, 1);
    assert_eq!(state_of(&stdout, "client.crt"), "expiring");
    assert_eq!(
        stderr,
        "error: 3 of 3 certificates and CRLs need attention: ca.crt expiring, server.crt expiring, client.crt expiring\n"
    );
    // An expired certificate, signed by the CA with dates in the past.
    expire(&dir, "client");
    let (stdout, _, code) = run(tmp.path(), &["status", "pki", "--within", "0"]);
    assert_eq!(code, 1);
    assert_eq!(state_of(&stdout, "client.crt"), "expired");
    assert_eq!(state_of(&stdout, "server.crt"), "valid");
    // The JSON says the same, with the certificate's details.
    let (json, _, _) = run(tmp.path(), &["status", "pki", "--within", "0", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    let client = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"] == "client.crt")
        .unwrap();
    assert_eq!(client["state"], "expired");
    assert_eq!(client["kind"], "certificate");
    assert_eq!(client["certificate"]["cn"], "alice");
    let server = &rows[1];
    assert_eq!(server["file"], "server.crt");
    assert_eq!(server["state"], "valid");
    assert_eq!(
        server["certificate"]["sans"],
        serde_json::json!(["DNS:localhost", "IP:127.0.0.1"])
    );
    assert_eq!(server["certificate"]["days_left"], server["days_left"]);
}

/// Replaces NAME.crt (and its bundle) with one the CA signed for the same
/// CSR, valid only in 2020.
fn expire(dir: &Path, name: &str) {
    resign(dir, name, ("20200101000000Z", "20200102000000Z"), None);
}

/// Replaces NAME.crt (and its bundle) with one the CA signed for the same
/// CSR, valid from `start` until `end` (GeneralizedTime), with the
/// extensions `ext` (an extfile's text) if given.
fn resign(dir: &Path, name: &str, (start, end): (&str, &str), ext: Option<&str>) {
    write(
        &dir.join("old.cnf"),
        "[ca]\ndefault_ca = x\n[x]\ndatabase = old.index\nserial = old.serial\nnew_certs_dir = .\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = optional\n",
    );
    write(&dir.join("old.index"), "");
    write(&dir.join("old.serial"), "1000\n");
    let (csr, crt) = (format!("{name}.csr"), format!("{name}.crt"));
    let mut args = vec![
        "ca",
        "-config",
        "old.cnf",
        "-batch",
        "-notext",
        "-cert",
        "ca.crt",
        "-keyfile",
        "ca.key",
        "-in",
        &csr,
        "-startdate",
        start,
        "-enddate",
        end,
        "-out",
        &crt,
    ];
    if let Some(ext) = ext {
        write(&dir.join("old.ext"), ext);
        args.extend(["-extfile", "old.ext"]);
    }
    openssl_out(dir, &args);
    for f in fs::read_dir(dir).unwrap().flatten() {
        let n = f.file_name().to_string_lossy().into_owned();
        if n.starts_with("old.") || n.ends_with(".pem") && n != format!("{name}.pem") {
            fs::remove_file(f.path()).unwrap();
        }
    }
    let bundle = [
        fs::read(dir.join(format!("{name}.crt"))).unwrap(),
        fs::read(dir.join("ca.crt")).unwrap(),
    ]
    .concat();
    fs::write(dir.join(format!("{name}.pem")), bundle).unwrap();
}

/// A wrapper openssl whose K-th step call (probes aside) fails; checks run
/// at the same time, so the count is kept under a lock.
fn failing_openssl(bin: &Path, k: usize) -> PathBuf {
    let count = bin.join("count");
    wrap_openssl(
        bin,
        &format!(
            "exec 9>'{c}.lock'; flock 9\n\
             n=$(( $(cat '{c}' 2>/dev/null || echo 0) + 1 )); echo $n > '{c}'\n\
             flock -u 9; exec 9>&-\n\
             if [ $n -eq {k} ]; then echo \"fake failure at call $n\" >&2; exit 3; fi\n\
             exec \"$REAL\" \"$@\"\n",
            c = count.display()
        ),
    )
}

#[test]
fn a_fault_at_any_openssl_call_of_an_operation_leaves_dir_as_it_was() {
    let operations: [&[&str]; 4] = [
        &["renew", "pki", "client", "--rekey"],
        &["renew", "pki", "ca"],
        &["revoke", "pki", "client"],
        &["crl", "pki"],
    ];
    for args in operations {
        let mut k = 1;
        loop {
            let (tmp, dir) = pki();
            let before = hashes(&dir);
            let bin = tmp.path().join("bin");
            let fake = failing_openssl(&bin, k);
            let mut all: Vec<&str> = args.to_vec();
            all.extend(["--quiet", "--openssl", fake.to_str().unwrap()]);
            let (_, stderr, code) = run(tmp.path(), &all);
            let calls: usize =
                fs::read_to_string(bin.join("count")).map_or(0, |c| c.trim().parse().unwrap());
            if calls < k {
                // Every call of the operation has failed once: done.
                assert_eq!(code, 0, "{args:?}: {stderr}");
                break;
            }
            assert_eq!(code, 1, "{args:?} with a fault at call {k}: {stderr}");
            assert!(
                stderr.contains(&format!("fake failure at call {k}")),
                "{stderr}"
            );
            assert_eq!(hashes(&dir), before, "{args:?} with a fault at call {k}");
            assert!(
                !tree(&dir).iter().any(|f| f.starts_with(".pkiforge")),
                "{:?}",
                tree(&dir)
            );
            k += 1;
        }
        assert!(k > 2, "{args:?} made at least two calls");
    }
}

#[test]
fn two_renews_at_once_take_turns() {
    let (tmp, dir) = pki();
    let bin = tmp.path().join("bin");
    let slow = wrap_openssl(&bin, "sleep 0.3\nexec \"$REAL\" \"$@\"\n");
    let start = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("pkiforge"))
            .args([
                "renew",
                "pki",
                "client",
                "--openssl",
                slow.to_str().unwrap(),
            ])
            .current_dir(tmp.path())
            .env_remove("OPENSSL_CONF")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first_serial = serial(&dir, "client.crt");
    let first = start();
    let started = Instant::now();
    while !tree(&dir)
        .iter()
        .any(|f| f.starts_with(".pkiforge-staging-"))
    {
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(5));
    }
    let second = start();
    let a = first.wait_with_output().unwrap();
    let b = second.wait_with_output().unwrap();
    let b_err = String::from_utf8_lossy(&b.stderr);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{b_err}");
    assert!(
        b_err.starts_with("waiting for another pkiforge run on pki (pid "),
        "{b_err}"
    );
    // Each renewed the certificate the other left: both old ones archived.
    let archived: Vec<String> = fs::read_dir(dir.join("archive"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(archived.len(), 2, "{archived:?}");
    assert!(archived.contains(&first_serial));
    assert!(!archived.contains(&serial(&dir, "client.crt")));
    let _ = enddate(&dir, "client.crt");
}

/// Three days from now, as `openssl ca -enddate` takes it (GeneralizedTime).
fn three_days_from_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3 * 86_400;
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y%m%d%H%M%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A fresh short CRL has all its lifetime left: not flagged. One whose
/// lastUpdate lies in the past (OpenSSL 3's `-crl_lastupdate`) is.
#[test]
fn lint_flags_a_crl_about_to_go_stale() {
    let (tmp, dir) = pki();
    run_ok(tmp.path(), &["crl", "pki", "--days", "3", "--quiet"]);
    let (stdout, _, _) = run(tmp.path(), &["lint", "pki"]);
    assert!(!stdout.contains("crl-expires-soon"), "{stdout}");
    if !supports("ca", "-crl_lastupdate") {
        eprintln!(
            "skipped the rest: {} has no ca -crl_lastupdate",
            openssl_version()
        );
        return;
    }
    write(
        &dir.join("old.cnf"),
        "[ca]\ndefault_ca = t\n[t]\ndatabase = ca.index\ndefault_md = sha256\n",
    );
    let until = three_days_from_now();
    openssl_out(
        &dir,
        &[
            "ca",
            "-config",
            "old.cnf",
            "-gencrl",
            "-keyfile",
            "ca.key",
            "-cert",
            "ca.crt",
            "-crl_lastupdate",
            "20200101000000Z",
            "-crl_nextupdate",
            &until,
            "-out",
            "ca.crl",
        ],
    );
    fs::remove_file(dir.join("old.cnf")).unwrap();
    let (stdout, _, _) = run(tmp.path(), &["lint", "pki"]);
    assert!(
        stdout.contains("warning ca.crl [crl-expires-soon]: goes stale on "),
        "{stdout}"
    );
    assert!(
        stdout.contains("    fix: issue it again: pkiforge crl DIR\n"),
        "{stdout}"
    );
}

#[test]
fn add_over_an_expiring_certificate_says_to_renew_it() {
    let (tmp, dir) = pki();
    // Valid from 2020 until three days from now: far less than a third of
    // its lifetime left.
    let until = three_days_from_now();
    resign(
        &dir,
        "client",
        ("20200101000000Z", &until),
        Some("subjectAltName=DNS:localhost\nextendedKeyUsage=clientAuth"),
    );
    let profile = format!(
        "{FAST}\n[[client]]\nname = \"bob\"\nbits = 2048\nsubject = {{ O = \"Test Org\", CN = \"bob\" }}\nsan = [\"DNS:localhost\"]\n"
    )
    .replace("[client]\nbits", "[[client]]\nname = \"client\"\nbits");
    write(&tmp.path().join("two.toml"), &profile);
    let before = fs::read(dir.join("client.crt")).unwrap();
    let (_, stderr, code) = run(tmp.path(), &["run", "two.toml", "--out", "pki", "--add"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("note: client.crt expires on "), "{stderr}");
    assert!(
        stderr.contains(" days left); --add does not renew it"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("warning: bob.crt will be valid"),
        "{stderr}"
    );
    assert!(
        stderr.contains("; --add does not renew it: run `pkiforge renew pki client`\n"),
        "{stderr}"
    );
    assert_eq!(fs::read(dir.join("client.crt")).unwrap(), before);
    assert!(dir.join("bob.crt").is_file());
}

/// A fresh tutorial PKI (30-day certificates, as openssl's default) is
/// healthy: less than a third of its lifetime left is what makes one
/// expiring. `--within DAYS` keeps the absolute window.
#[test]
fn a_fresh_tutorial_pki_is_valid_and_within_keeps_the_absolute_window() {
    let (tmp, _dir) = pki();
    let (stdout, stderr, code) = run(tmp.path(), &["status", "pki"]);
    assert_eq!((code, stderr.as_str()), (0, ""), "{stdout}");
    let states: Vec<&str> = stdout
        .lines()
        .skip(1)
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(states, ["valid", "valid", "valid"], "{stdout}");
    let (_, stderr, code) = run(tmp.path(), &["status", "pki", "--within", "30"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "error: 3 of 3 certificates and CRLs need attention: ca.crt expiring, server.crt expiring, client.crt expiring\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run_ok(tmp.path(), &["status", "pki", "--json"])).unwrap();
    for row in json.as_array().unwrap() {
        assert_eq!(
            row["expiring_rule"],
            "less than a third of its lifetime left"
        );
    }
}
