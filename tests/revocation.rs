//! Revocation pointers (profiles/revocation.toml): the URLs every
//! certificate a CA signs carries, the database that lists every
//! certificate for OCSP, CRLs as RFC 5280 asks, and lint's rules for them.

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

/// profiles/revocation.toml, run once for the tests of this file.
fn revocation_pki() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    run_once(&DIR, "revocation.toml")
}

/// A copy of the PKI to change: (its temp dir, DIR). Its files only: not
/// the lock files of the commands other tests run on it meanwhile, which
/// come and go.
fn copy_of(dir: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let to = tmp.path().join("pki");
    fs::create_dir(&to).unwrap();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(".pkiforge") {
            continue;
        }
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), to.join(name)).unwrap();
        }
    }
    (tmp, to)
}

const POINTERS: &str = "X509v3 CRL Distribution Points: Full Name: URI:http://127.0.0.1:8080/ca.crl Authority Information Access: OCSP - URI:http://127.0.0.1:8080/ocsp CA Issuers - URI:http://127.0.0.1:8080/ca.cer";

/// openssl's text with its layout taken out (versions differ in blank
/// lines and indentation).
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The revocation pointers of `crt` in `dir`, as openssl shows them.
fn pointers_of(dir: &Path, crt: &str) -> String {
    let ext = "crlDistributionPoints,authorityInfoAccess";
    words(&openssl_out(
        dir,
        &["x509", "-in", crt, "-noout", "-ext", ext],
    ))
}

#[test]
fn every_certificate_the_ca_signs_carries_its_pointers_and_is_in_its_database() {
    let dir = revocation_pki().join("pki");
    for crt in ["server.crt", "alice.crt", "bob.crt"] {
        assert_eq!(pointers_of(&dir, crt), POINTERS, "{crt}");
    }
    let index = fs::read_to_string(dir.join("ca.index")).unwrap();
    let subjects: Vec<&str> = index
        .lines()
        .map(|l| l.rsplit('\t').next().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "/O=Workshop/CN=localhost",
            "/O=Workshop/CN=alice",
            "/O=Workshop/CN=bob"
        ]
    );
    assert!(index.lines().all(|l| l.starts_with("V\t")), "{index}");
    // The CRL is there from the start, with its CA's key identifier and a number.
    let crl = words(&openssl_out(
        &dir,
        &["crl", "-in", "ca.crl", "-noout", "-text"],
    ));
    assert!(crl.contains("X509v3 Authority Key Identifier"), "{crl}");
    assert!(crl.contains("X509v3 CRL Number: 1 "), "{crl}");
    assert!(crl.contains("No Revoked Certificates."), "{crl}");
    let lint = run_ok(revocation_pki(), &["lint", "pki"]);
    assert_eq!(lint, "0 errors, 0 warnings in 4 certificates\n");
}

#[test]
fn the_plan_shows_the_pointers_the_records_and_the_first_crl() {
    let profile = repo().join("profiles/revocation.toml");
    let tmp = tempfile::tempdir().unwrap();
    let plan = run_ok(tmp.path(), &["plan", profile.to_str().unwrap()]);
    for want in [
        "printf \"\" > ca.index\n",
        "\\ncrlDistributionPoints=URI:http://127.0.0.1:8080/ca.crl\\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:8080/ocsp,caIssuers;URI:http://127.0.0.1:8080/ca.cer\") -days 825 -out alice.crt\n",
        " -batch -keyfile ca.key -cert ca.crt -valid alice.crt\n",
        " -batch -keyfile ca.key -cert ca.crt -gencrl -crldays 30 -out ca.crl\n",
    ] {
        assert!(plan.contains(want), "{want}\nnot in:\n{plan}");
    }
}

/// The responder of `openssl ocsp` over `dir`'s database: what it says of `crt`.
fn ocsp_status(dir: &Path, crt: &str) -> String {
    let q = [
        "ocsp",
        "-issuer",
        "ca.crt",
        "-cert",
        crt,
        "-no_nonce",
        "-reqout",
        "q.der",
    ];
    openssl_out(dir, &q);
    let r = [
        "ocsp", "-index", "ca.index", "-CA", "ca.crt", "-rsigner", "ca.crt", "-rkey", "ca.key",
        "-reqin", "q.der", "-respout", "r.der",
    ];
    openssl_out(dir, &r);
    let out = openssl_out(
        dir,
        &[
            "ocsp", "-respin", "r.der", "-issuer", "ca.crt", "-cert", crt, "-CAfile", "ca.crt",
        ],
    );
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn a_revocation_without_a_reason_carries_none_and_ocsp_knows_every_certificate() {
    let (tmp, dir) = copy_of(&revocation_pki().join("pki"));
    assert_eq!(ocsp_status(&dir, "alice.crt"), "alice.crt: good");
    run_ok(tmp.path(), &["revoke", "pki", "alice"]);
    run_ok(
        tmp.path(),
        &["revoke", "pki", "bob", "--reason", "keyCompromise"],
    );
    let crl = words(&openssl_out(
        &dir,
        &["crl", "-in", "ca.crl", "-noout", "-text"],
    ));
    assert_eq!(crl.matches("CRL Reason Code").count(), 1, "{crl}");
    assert!(
        crl.contains("X509v3 CRL Reason Code: Key Compromise"),
        "{crl}"
    );
    assert!(crl.contains("X509v3 CRL Number: 3 "), "{crl}");
    assert_eq!(ocsp_status(&dir, "server.crt"), "server.crt: good");
    let lint = run_ok(tmp.path(), &["lint", "pki"]);
    assert_eq!(lint, "0 errors, 0 warnings in 2 certificates\n");
}

#[test]
fn a_pki_made_without_a_database_gets_one_listing_what_its_ca_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = repo().join("profiles/localhost.toml");
    let text = fs::read_to_string(&profile)
        .unwrap()
        .replace("4096", "2048");
    write(&tmp.path().join("p.toml"), &text);
    run_ok(tmp.path(), &["run", "p.toml", "--out", "pki"]);
    let dir = tmp.path().join("pki");
    assert!(!dir.join("ca.index").exists());
    run_ok(tmp.path(), &["crl", "pki"]);
    let index = fs::read_to_string(dir.join("ca.index")).unwrap();
    assert_eq!(index.lines().count(), 2, "{index}");
    assert_eq!(ocsp_status(&dir, "client.crt"), "client.crt: good");
    // Nothing is recorded twice.
    run_ok(tmp.path(), &["crl", "pki"]);
    assert_eq!(fs::read_to_string(dir.join("ca.index")).unwrap(), index);
}

#[test]
fn an_intermediate_and_its_root_each_point_at_their_own() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("profiles/intermediate.toml"))
        .unwrap()
        .replace(
            "days = 3650\n",
            "days = 3650\ncrl_url = \"http://127.0.0.1:8080/root.crl\"\nca_issuers_url = \"http://127.0.0.1:8080/root.cer\"\n",
        )
        .replace(
            "days = 1825\n",
            "days = 1825\ncrl_url = \"http://127.0.0.1:8080/intermediate.crl\"\nocsp_url = \"http://127.0.0.1:8080/ocsp/intermediate\"\n",
        );
    write(&tmp.path().join("p.toml"), &text);
    run_ok(tmp.path(), &["run", "p.toml", "--out", "pki"]);
    let dir = tmp.path().join("pki");
    assert_eq!(
        pointers_of(&dir, "intermediate.crt"),
        "X509v3 CRL Distribution Points: Full Name: URI:http://127.0.0.1:8080/root.crl Authority Information Access: CA Issuers - URI:http://127.0.0.1:8080/root.cer"
    );
    assert_eq!(
        pointers_of(&dir, "alice.crt"),
        "X509v3 CRL Distribution Points: Full Name: URI:http://127.0.0.1:8080/intermediate.crl Authority Information Access: OCSP - URI:http://127.0.0.1:8080/ocsp/intermediate"
    );
    let root_index = fs::read_to_string(dir.join("ca.index")).unwrap();
    assert!(
        root_index.ends_with("/O=Workshop/CN=Workshop Intermediate CA\n"),
        "{root_index}"
    );
    assert_eq!(
        fs::read_to_string(dir.join("intermediate.index"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert!(dir.join("ca.crl").is_file() && dir.join("intermediate.crl").is_file());
    run_ok(tmp.path(), &["verify", "pki"]);
}

#[test]
fn a_url_pkiforge_cannot_write_is_refused_naming_its_key() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("profiles/revocation.toml"))
        .unwrap()
        .replace(
            "http://127.0.0.1:8080/ca.crl",
            "https://127.0.0.1:8080/ca.crl",
        )
        .replace(
            "http://127.0.0.1:8080/ocsp",
            "http://127.0.0.1:8080/ocsp,URI:http://evil/",
        );
    write(&tmp.path().join("p.toml"), &text);
    let (stdout, stderr, code) = run(tmp.path(), &["run", "p.toml", "--out", "pki"]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert!(stderr.contains("ca.crl_url: \"https://127.0.0.1:8080/ca.crl\" is not an http:// URL: clients fetch CRLs and ask OCSP over plain HTTP (the answers are signed); e.g. \"http://127.0.0.1:8080/crl\""), "{stderr}");
    assert!(stderr.contains("ca.ocsp_url: \"http://127.0.0.1:8080/ocsp,URI:http://evil/\" has ',' in its path; use letters, digits and / - . _ ~ (percent-encode the rest), no query or fragment"), "{stderr}");
    assert!(!tmp.path().join("pki").exists());
}

#[test]
fn lint_finds_pointers_nothing_serves_and_crls_rfc_5280_asks_more_of() {
    let (tmp, dir) = copy_of(&revocation_pki().join("pki"));
    fs::remove_file(dir.join("ca.crl")).unwrap();
    let index = fs::read_to_string(dir.join("ca.index")).unwrap();
    let kept: Vec<&str> = index.lines().filter(|l| !l.ends_with("CN=alice")).collect();
    fs::write(dir.join("ca.index"), format!("{}\n", kept.join("\n"))).unwrap();
    let (stdout, _, code) = run(tmp.path(), &["lint", "pki"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("error alice.crt [ocsp-not-recorded]: names the OCSP responder http://127.0.0.1:8080/ocsp of ca, whose database ca.index does not list it: the responder answers \"unknown\"\n"), "{stdout}");
    assert!(stdout.contains("error server.crt [pointer-not-served]: names http://127.0.0.1:8080/ca.crl for the CRL of ca, but there is no ca.crl: pkiforge serve has nothing to answer with\n"), "{stdout}");
    // A CRL made by openssl ca without pkiforge's config: no AKI, and an
    // entry revoked for the reason "unspecified".
    let cnf = dir.join("plain.cnf");
    fs::write(&cnf, "[ca]\ndefault_ca = p\n[p]\ndatabase = ca.index\ncrlnumber = ca.crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n").unwrap();
    let cnf = cnf.to_str().unwrap();
    let ca = ["-config", cnf, "-keyfile", "ca.key", "-cert", "ca.crt"];
    openssl_out(
        &dir,
        &[
            &["ca"][..],
            &ca,
            &["-revoke", "bob.crt", "-crl_reason", "unspecified"],
        ]
        .concat(),
    );
    openssl_out(
        &dir,
        &[&["ca"][..], &ca, &["-gencrl", "-out", "ca.crl"]].concat(),
    );
    fs::remove_file(cnf).unwrap();
    let (stdout, _, _) = run(tmp.path(), &["lint", "pki"]);
    assert!(stdout.contains("warning ca.crl [crl-no-aki]: has no Authority Key Identifier, which RFC 5280 (5.2.1) requires of every CRL\n"), "{stdout}");
    assert!(
        stdout.contains(
            "warning ca.crl [crl-unspecified-reason]: gives the reason \"unspecified\" for "
        ),
        "{stdout}"
    );
    // pkiforge crl records what the database lacks, and issues a CRL with
    // its AKI (bob's files taken away, as pkiforge revoke would have).
    for f in ["bob.crt", "bob.pem", "bob.key", "bob.csr"] {
        fs::remove_file(dir.join(f)).unwrap();
    }
    run_ok(tmp.path(), &["crl", "pki"]);
    let (stdout, _, _) = run(tmp.path(), &["lint", "pki"]);
    assert!(
        !stdout.contains("ocsp-not-recorded") && !stdout.contains("crl-no-aki"),
        "{stdout}"
    );
}

/// The lines of `dir`'s `ca.index`, by subject.
fn recorded(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("ca.index"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.rsplit('\t').next().unwrap().to_string())
        .collect()
}

#[test]
fn a_pki_made_in_parts_or_added_to_records_each_certificate_once() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = repo().join("profiles/revocation.toml");
    let p = profile.to_str().unwrap();
    for only in ["ca", "server", "client"] {
        run_ok(tmp.path(), &["run", p, "--out", "pki", "--only", only]);
    }
    let dir = tmp.path().join("pki");
    assert_eq!(
        recorded(&dir),
        [
            "/O=Workshop/CN=localhost",
            "/O=Workshop/CN=alice",
            "/O=Workshop/CN=bob"
        ]
    );
    let more = fs::read_to_string(&profile).unwrap()
        + "\n[[client]]\nname = \"carol\"\nkey = \"ec:P-256\"\nsubject = { O = \"Workshop\", CN = \"carol\" }\nsan = [\"DNS:carol.workshop.test\"]\n";
    write(&tmp.path().join("more.toml"), &more);
    run_ok(tmp.path(), &["run", "more.toml", "--out", "pki", "--add"]);
    assert_eq!(recorded(&dir).len(), 4);
    assert_eq!(recorded(&dir)[3], "/O=Workshop/CN=carol");
    assert_eq!(pointers_of(&dir, "carol.crt"), POINTERS);
    assert_eq!(
        run_ok(tmp.path(), &["lint", "pki"]),
        "0 errors, 0 warnings in 5 certificates\n"
    );
}

#[test]
fn a_renewal_keeps_the_pointers_and_is_recorded() {
    let (tmp, dir) = copy_of(&revocation_pki().join("pki"));
    run_ok(tmp.path(), &["renew", "pki", "alice"]);
    assert_eq!(pointers_of(&dir, "alice.crt"), POINTERS);
    let alices = recorded(&dir)
        .iter()
        .filter(|s| s.ends_with("CN=alice"))
        .count();
    assert_eq!(alices, 2, "the old certificate and the new");
    assert_eq!(ocsp_status(&dir, "alice.crt"), "alice.crt: good");
}

/// With the root kept offline (`--root`), nothing of its database or CRL
/// is made or recorded in DIR.
#[test]
fn an_offline_root_keeps_its_database_to_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(repo().join("profiles/intermediate.toml"))
        .unwrap()
        .replace(
            "days = 3650\n",
            "days = 3650\ncrl_url = \"http://127.0.0.1:8080/root.crl\"\n",
        )
        .replace(
            "days = 1825\n",
            "days = 1825\nocsp_url = \"http://127.0.0.1:8080/ocsp\"\n",
        );
    write(&tmp.path().join("p.toml"), &text);
    run_ok(
        tmp.path(),
        &["run", "p.toml", "--out", "root", "--only", "ca"],
    );
    run_ok(
        tmp.path(),
        &["run", "p.toml", "--root", "root", "--out", "pki"],
    );
    let dir = tmp.path().join("pki");
    for file in ["ca.index", "ca.crl", "ca.crlnumber", "ca.key"] {
        assert!(!dir.join(file).exists(), "{file}");
    }
    assert_eq!(
        fs::read_to_string(dir.join("intermediate.index"))
            .unwrap()
            .lines()
            .count(),
        2
    );
    assert_eq!(
        pointers_of(&dir, "intermediate.crt"),
        "X509v3 CRL Distribution Points: Full Name: URI:http://127.0.0.1:8080/root.crl"
    );
}

/// The lines of `handshake` about OCSP, with the archive's directory of
/// `serial` written as SERIAL.
fn ocsp_lines(out: &str, serial: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.contains("OCSP"))
        .map(|l| l.replace(serial, "SERIAL"))
        .collect()
}

/// The one serial directory in DIR's archive.
fn archived_serial(dir: &Path) -> String {
    let entries: Vec<_> = fs::read_dir(dir.join("archive"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(entries.len(), 1);
    entries[0].file_name().to_string_lossy().into_owned()
}

#[test]
fn handshake_staples_the_servers_answer_and_asks_ocsp_about_each_client() {
    let (tmp, dir) = copy_of(&revocation_pki().join("pki"));
    run_ok(tmp.path(), &["revoke", "pki", "bob"]);
    let serial = archived_serial(&dir);
    let out = run_ok(tmp.path(), &["handshake", "pki"]);
    let untried = "openssl s_server cannot ask OCSP about a client's certificate (nginx's ssl_ocsp can: docs/revocation.md)";
    assert_eq!(
        ocsp_lines(&out, &serial),
        [
            format!("ok   openssl untried   server.crt asking OCSP (no CRL), with alice.crt, good: {untried}"),
            format!("ok   openssl untried   server.crt asking OCSP (no CRL), with archive/SERIAL/bob.crt, revoked: {untried}"),
            "ok   openssl accepted  server.crt stapling its OCSP answer, with alice.crt as localhost: payload sent and answered; the stapled OCSP answer says good".into(),
            "ok   rustls  accepted  server.crt asking OCSP (no CRL), with alice.crt, good: payload sent and answered".into(),
            "ok   rustls  refused   server.crt asking OCSP (no CRL), with archive/SERIAL/bob.crt, revoked: server: invalid peer certificate: Revoked (rustls: Revoked); client: received fatal alert: CertificateRevoked".into(),
            "ok   rustls  accepted  server.crt stapling its OCSP answer, with alice.crt as localhost: payload sent and answered; the stapled OCSP answer says good".into(),
        ],
        "{out}"
    );
    assert!(
        out.ends_with("all 16 handshakes went as expected\n"),
        "{out}"
    );

    // The server's certificate revoked in its CA's database alone (not in
    // the CRL, which the clients also check): only the stapled answer says
    // so, and both clients refuse it.
    let index = fs::read_to_string(dir.join("ca.index")).unwrap();
    let server_line = index
        .lines()
        .find(|l| l.ends_with("/CN=localhost"))
        .unwrap();
    let fields: Vec<&str> = server_line.split('\t').collect();
    let revoked_line = format!(
        "R\t{}\t261201000000Z\t{}",
        fields[1],
        fields[3..].join("\t")
    );
    fs::write(
        dir.join("ca.index"),
        index.replace(server_line, &revoked_line),
    )
    .unwrap();
    let (out, err, code) = run(tmp.path(), &["handshake", "pki"]);
    assert_eq!(code, 1, "{out}{err}");
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(
        failed,
        [
            "FAIL openssl refused   server.crt stapling its OCSP answer, with alice.crt as localhost (expected accepted): client: no good OCSP answer stapled (s_client -status: Cert Status: revoked)",
            "FAIL rustls  refused   server.crt stapling its OCSP answer, with alice.crt as localhost (expected accepted): server: received fatal alert: CertificateRevoked; client: invalid peer certificate: Revoked (rustls: Revoked)",
        ],
        "{out}"
    );
    assert_eq!(
        err,
        "error: 2 of 16 handshakes failed: openssl server.crt stapling its OCSP answer, with alice.crt as localhost, rustls server.crt stapling its OCSP answer, with alice.crt as localhost\n"
    );
}

#[test]
fn a_pki_whose_certificates_name_no_responder_has_no_ocsp_cases() {
    let pki = good_pki();
    let out = run_ok(pki.parent().unwrap(), &["handshake", "fast"]);
    assert!(!out.contains("OCSP"), "{out}");
}
