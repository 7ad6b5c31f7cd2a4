//! `run --root`, `run --force`, and what run, revoke, verify and lint refuse
//! or name: the root's key never under the output directory, a PKI replaced
//! as a whole, a CA that cannot revoke itself, a command line Linux would
//! not start, a CRL that is not its CA's.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Every file below `dir` with its bytes (directories as empty).
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(dir)
        .into_iter()
        .map(|f| {
            let bytes = fs::read(dir.join(&f)).unwrap_or_default();
            (f, bytes)
        })
        .collect()
}

#[test]
fn with_root_the_roots_key_is_never_under_the_output_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let profile = repo().join("profiles/intermediate.toml");
    let p = profile.to_str().unwrap();
    run_ok(
        work,
        &["run", p, "--only", "ca", "--out", "root", "--quiet"],
    );
    // One line of the root key's base64 stands for its bytes: at every
    // openssl call, any file below the output directory that holds it is
    // recorded, then the real openssl runs.
    let key = fs::read_to_string(work.join("root/ca.key")).unwrap();
    let line = key.lines().nth(1).unwrap();
    assert!(line.len() >= 40, "{key}");
    fs::create_dir(work.join("bin")).unwrap();
    let openssl = wrap_openssl(
        &work.join("bin"),
        &format!(
            "echo \"$*\" >> '{calls}'
grep -rlF -- '{line}' '{out}' >> '{hits}' 2>/dev/null || true
exec \"$REAL\" \"$@\"",
            calls = work.join("calls").display(),
            out = work.join("pki").display(),
            hits = work.join("hits").display(),
        ),
    );
    let (stdout, stderr, code) = run(
        work,
        &[
            "--openssl",
            openssl.to_str().unwrap(),
            "run",
            p,
            "--root",
            "root",
            "--out",
            "pki",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fs::read_to_string(work.join("hits")).unwrap_or_default(),
        "",
        "the root's key was under the output directory during the run"
    );
    let calls = fs::read_to_string(work.join("calls")).unwrap();
    assert!(calls.lines().count() >= 10, "{calls}");
    let root_key = work.join("root/ca.key").canonicalize().unwrap();
    let signing = format!(
        "x509 -req -in intermediate.csr -CA ca.crt -CAkey {} -CAcreateserial",
        root_key.display()
    );
    assert!(calls.contains(&signing), "{calls}");
    assert!(
        stdout.ends_with(" alice.pem ca.crt commands.sh\n"),
        "{stdout}"
    );
    assert!(!work.join("pki/ca.key").exists());
    // The transcript names the key where it stays, as the run gave it.
    let transcript = fs::read_to_string(work.join("pki/commands.sh")).unwrap();
    assert!(
        transcript.contains(&format!("openssl {signing} -extfile")),
        "{transcript}"
    );
    run_ok(work, &["verify", "pki"]);
}

/// FAST with a second and a third client.
fn three_clients() -> String {
    FAST.replace("[client]", "[[client]]\nname = \"client\"")
        + "\n[[client]]\nname = \"bob\"\nbits = 2048\nsubject = { CN = \"bob\" }\nsan = [\"DNS:localhost\"]\n"
        + "\n[[client]]\nname = \"carol\"\nbits = 2048\nsubject = { CN = \"carol\" }\nsan = [\"DNS:localhost\"]\n"
}

/// A PKI of three clients, bob revoked (a CRL, a database, an archive),
/// with a user's own file and directory beside it.
fn revoked_pki(work: &Path) {
    write(&work.join("old.toml"), &three_clients());
    write(&work.join("fast.toml"), FAST);
    run_ok(work, &["run", "old.toml", "--out", "pki", "--quiet"]);
    run_ok(work, &["revoke", "pki", "bob", "--quiet"]);
    write(&work.join("pki/notes.txt"), "mine\n");
    write(&work.join("pki/mine/keep.txt"), "mine too\n");
}

#[test]
fn force_replaces_the_pki_as_a_whole_and_leaves_the_users_files() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    revoked_pki(work);
    assert!(work.join("pki/ca.crl").is_file());
    let stdout = run_ok(work, &["run", "fast.toml", "--out", "pki", "--force"]);
    assert!(
        stdout.ends_with(
            " client.pem commands.sh\nremoved with the old PKI: ca.crl ca.crlnumber ca.index ca.index.attr carol.crt carol.csr carol.key carol.pem archive\n"
        ),
        "{stdout}"
    );
    let mut expected: Vec<String> = ELEVEN.iter().map(|f| f.to_string()).collect();
    expected.extend(["commands.sh", "mine", "mine/keep.txt", "notes.txt"].map(String::from));
    expected.sort();
    assert_eq!(tree(&work.join("pki")), expected);
    assert_eq!(
        fs::read_to_string(work.join("pki/mine/keep.txt")).unwrap(),
        "mine too\n"
    );
    run_ok(work, &["verify", "pki"]);
    run_ok(work, &["handshake", "pki"]);
}

/// Sets or clears the immutable attribute, which makes even root's
/// rename fail: a publish that cannot take a file away.
fn immutable(path: &Path, on: bool) {
    let flag = if on { "+i" } else { "-i" };
    let status = Command::new("chattr").arg(flag).arg(path).status().unwrap();
    assert!(status.success(), "chattr {flag} {}", path.display());
}

#[test]
fn a_force_that_cannot_take_the_old_crl_away_leaves_the_old_pki_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    revoked_pki(work);
    let before = contents(&work.join("pki"));
    immutable(&work.join("pki/ca.crl"), true);
    let (_, stderr, code) = run(work, &["run", "fast.toml", "--out", "pki", "--force"]);
    immutable(&work.join("pki/ca.crl"), false);
    assert_eq!(code, 1, "{stderr}");
    let said = stderr.lines().last().unwrap();
    assert_eq!(
        said,
        "error: cannot move aside pki/ca.crl: Operation not permitted (os error 1)"
    );
    assert_eq!(contents(&work.join("pki")), before);
}

#[test]
fn the_ca_cannot_revoke_itself() {
    let (tmp, dir) = copy();
    let before = contents(&dir);
    let (stdout, stderr, code) = run(tmp.path(), &["revoke", "pki", "ca"]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert_eq!(
        stderr,
        "error: ca is the CA, which cannot revoke itself (a CRL is signed by the CA it lists). To replace it, make the PKI again with a new CA: pkiforge run PROFILE --out pki --force, then give every server and client the new ca.crt\n"
    );
    assert_eq!(contents(&dir), before);
}

#[test]
fn a_san_list_too_long_for_one_argument_is_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let names: Vec<String> = (0..10_000)
        .map(|i| format!("DNS:host{i}.example.test"))
        .collect();
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let profile = FAST.replacen(
        "san = [\"DNS:localhost\"]\n",
        &format!("san = [{}]\n", quoted.join(", ")),
        1,
    );
    assert!(profile.contains("[client]\nbits = 2048\nsubject = { O = \"Test Org\""));
    write(&work.join("big.toml"), &profile);
    let bytes = format!("subjectAltName = {}", names.join(", ")).len() + 1;
    let (stdout, stderr, code) = run(work, &["run", "big.toml", "--out", "pki"]);
    assert_eq!((stdout.as_str(), code), ("", 2));
    assert_eq!(
        stderr,
        format!(
            "error: big.toml: 1 problem found, nothing was written:
  big.toml: client.san: its 10000 names make the argument -addext \"subjectAltName = …\" of `openssl req` {bytes} bytes long, but Linux passes at most 131072 bytes in one argument (MAX_ARG_STRLEN), so openssl would not start; give it fewer or shorter names, spread over several certificates\n"
        )
    );
    assert!(!work.join("pki").exists());
}

#[test]
fn lint_and_verify_name_a_crl_that_is_not_a_crl() {
    let (tmp, dir) = copy();
    write(&dir.join("ca.crl"), "garbage\n");
    let (stdout, _, code) = run(tmp.path(), &["lint", "pki"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with(
            "error ca.crl [crl-not-a-crl]: is not a CRL: it holds no PEM block BEGIN X509 CRL
    clients: servers that check revocation (nginx ssl_crl, HAProxy crl-file, openssl -crl_check, rustls with CRLs) refuse every client: they find no CRL of the client's CA
    fix: issue it again with this PKI's CA (pkiforge crl DIR), or remove it if the CA has revoked nothing
"
        ),
        "{stdout}"
    );
    let (stdout, _, code) = run(tmp.path(), &["verify", "pki"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "FAIL check: ca.crl is signed by ca.crt
       step crl-signed: ca.crl is not a CRL: it holds no PEM block BEGIN X509 CRL; issue it again with this PKI's CA (pkiforge crl DIR), or remove it if the CA has revoked nothing: check: ca.crl is signed by ca.crt\n"
        ),
        "{stdout}"
    );
}

#[test]
fn lint_and_verify_name_a_crl_of_another_ca() {
    let (tmp, dir) = copy();
    let work = tmp.path();
    // Another PKI's CRL, as an old run left it.
    write(&work.join("fast.toml"), FAST);
    run_ok(work, &["run", "fast.toml", "--out", "other", "--quiet"]);
    run_ok(work, &["revoke", "other", "client", "--quiet"]);
    fs::copy(work.join("other/ca.crl"), dir.join("ca.crl")).unwrap();
    let issuer = "C=DE, O=Test Org, CN=Test CA";
    let (stdout, _, code) = run(work, &["lint", "pki"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "error ca.crl [crl-not-signed-by-ca]: is not signed by ca.crt: it was issued by {issuer}, and its signature does not verify with ca.crt's key (a CRL left from another PKI?)\n"
        )),
        "{stdout}"
    );
    let (stdout, _, code) = run(work, &["verify", "pki"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "FAIL check: ca.crl is signed by ca.crt
       step crl-signed: ca.crl is not signed by ca.crt: it was issued by {issuer}, and its signature does not verify with ca.crt's key (a CRL left from another PKI?); issue it again"
        )),
        "{stdout}"
    );
    // The PKI's own CRL passes both.
    run_ok(work, &["revoke", "pki", "client", "--quiet"]);
    let (stdout, _, _) = run(work, &["lint", "pki"]);
    assert!(!stdout.contains("ca.crl"), "{stdout}");
    let verified = run_ok(work, &["verify", "pki"]);
    assert!(
        verified.contains("ok   check: ca.crl is signed by ca.crt\n"),
        "{verified}"
    );
}
