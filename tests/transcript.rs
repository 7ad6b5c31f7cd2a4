//! commands.sh: every run leaves a bash script that replays it without
//! pkiforge. Replayed in an empty directory with the same openssl, it makes
//! certificates with the same subjects, names and extensions.

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;
use x509_parser::prelude::*;

/// What a replay must reproduce of a certificate: its subject, and each
/// extension with its value (key identifiers differ with every key).
fn what_it_says(path: &Path) -> (String, Vec<(String, bool, String)>) {
    let pem = fs::read(path).unwrap();
    let (_, p) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let (_, c) = X509Certificate::from_der(&p.contents).unwrap();
    let extensions = c
        .extensions()
        .iter()
        .map(|e| {
            let value = match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(_)
                | ParsedExtension::AuthorityKeyIdentifier(_) => "a key identifier".to_string(),
                other => format!("{other:?}"),
            };
            (e.oid.to_id_string(), e.critical, value)
        })
        .collect();
    (c.subject().to_string(), extensions)
}

/// Runs DIR's commands.sh with bash in an empty directory, with the
/// openssl under test first on PATH.
fn replay(script: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::copy(script, tmp.path().join("commands.sh")).unwrap();
    let mut path = std::env::var("PATH").unwrap();
    if let Ok(openssl) = std::env::var("PKIFORGE_TEST_OPENSSL") {
        let dir = Path::new(&openssl).parent().unwrap().display().to_string();
        path = format!("{dir}:{path}");
    }
    let out = std::process::Command::new("bash")
        .arg("commands.sh")
        .current_dir(tmp.path())
        .env("PATH", path)
        .env("PKIFORGE_P12_PASSWORD", P12_PASSWORD)
        .env_remove("OPENSSL_CONF")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bash commands.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tmp
}

/// Every certificate of `made` says in `replayed` what it says in `made`.
fn same_certificates(made: &Path, replayed: &Path) -> usize {
    let mut n = 0;
    for file in tree(made).iter().filter(|f| f.ends_with(".crt")) {
        assert_eq!(
            what_it_says(&replayed.join(file)),
            what_it_says(&made.join(file)),
            "{file}"
        );
        n += 1;
    }
    n
}

fn run_profile(work: &Path, profile: &Path) -> std::path::PathBuf {
    run_ok(
        work,
        &["--quiet", "run", profile.to_str().unwrap(), "--out", "pki"],
    );
    work.join("pki")
}

#[test]
fn a_run_leaves_a_transcript_with_the_plans_commands_and_the_files_hashes() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), FAST);
    let dir = run_profile(tmp.path(), &tmp.path().join("p.toml"));
    let script = fs::read_to_string(dir.join("commands.sh")).unwrap();
    assert!(script.starts_with(
        "#!/usr/bin/env bash\n# commands.sh: the commands pkiforge ran, to replay without it."
    ));
    assert!(script.contains("\nset -euo pipefail\numask 077\n"));
    assert!(script.contains(&format!(
        "\n# pkiforge {}, {}, ",
        env!("CARGO_PKG_VERSION"),
        openssl_version()
    )));
    assert!(script.contains("\n# pkiforge --quiet run "));
    // Each command of the plan, byte for byte, in plan order; a `req`
    // after the answers typed at its prompts.
    let plan = run_ok(tmp.path(), &["plan", "p.toml"]);
    let mut from = 0;
    for line in plan.lines() {
        let at = script[from..]
            .find(&format!("{line}\n"))
            .unwrap_or_else(|| panic!("{line} is not in order in:\n{script}"));
        from += at + line.len();
    }
    assert!(
        script.contains("#   Common Name (e.g. server FQDN or YOUR name) []: alice\n"),
        "{script}"
    );
    assert!(script.contains(
        "printf '%s\\n' . . . \"Test Org\" Clients alice alice@example.com . . | openssl req -new -key client.key"
    ), "{script}");
    // The SHA-256 of each file it wrote.
    let hashes: Vec<&str> = script
        .lines()
        .filter(|l| l.starts_with("# sha256 "))
        .collect();
    assert_eq!(hashes.len(), 11, "{script}");
    for line in hashes {
        let (hash, file) = line["# sha256 ".len()..].split_once("  ").unwrap();
        let digest = Sha256::digest(fs::read(dir.join(file)).unwrap());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hash, hex, "{file}");
    }
}

#[test]
fn replaying_the_transcript_makes_the_same_certificates() {
    for profile in [
        "strict.toml",
        "intermediate.toml",
        "fixtures.toml",
        "fixtures-more.toml",
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut text = fs::read_to_string(repo().join("profiles").join(profile)).unwrap();
        // 2048-bit keys keep the suite fast.
        text = text.replace("4096", "2048");
        write(&tmp.path().join(profile), &text);
        let dir = run_profile(tmp.path(), &tmp.path().join(profile));
        let replayed = replay(&dir.join("commands.sh"));
        let n = same_certificates(&dir, replayed.path());
        assert!(n >= 4, "{profile}: {n} certificates");
    }
}

#[test]
fn add_and_revoke_continue_the_transcript() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let two = FAST.replace("[client]\n", "[[client]]\n");
    let three = format!(
        "{two}\n[[client]]\nname = \"bob\"\nbits = 2048\nsubject = {{ CN = \"bob\" }}\nsan = [\"DNS:localhost\"]\n"
    );
    write(&work.join("two.toml"), &two);
    write(&work.join("three.toml"), &three);
    let dir = run_profile(work, &work.join("two.toml"));
    run_ok(
        work,
        &["--quiet", "run", "three.toml", "--out", "pki", "--add"],
    );
    run_ok(work, &["--quiet", "revoke", "pki", "client"]);
    let script = fs::read_to_string(dir.join("commands.sh")).unwrap();
    assert_eq!(script.matches("#!/usr/bin/env bash").count(), 1);
    let runs: Vec<&str> = script
        .lines()
        .filter(|l| l.starts_with("# pkiforge --quiet "))
        .collect();
    assert_eq!(runs.len(), 3, "{script}");
    assert!(
        runs[1].ends_with(" --add") && runs[2].ends_with("revoke pki client"),
        "{runs:?}"
    );
    assert!(script.contains("\nopenssl genrsa -out bob.key 2048\n"));
    assert!(script.contains(" -revoke client.crt\n"), "{script}");
    assert!(
        script.contains("\nrm -f client.crt client.pem client.key client.csr\n"),
        "{script}"
    );
    // The whole history replays: bob is there, client is revoked and gone.
    let replayed = replay(&dir.join("commands.sh"));
    assert!(replayed.path().join("bob.crt").is_file());
    assert!(!replayed.path().join("client.crt").exists());
    same_certificates(&dir, replayed.path());
    // --force begins the transcript anew.
    run_ok(
        work,
        &["--quiet", "run", "two.toml", "--out", "pki", "--force"],
    );
    let script = fs::read_to_string(dir.join("commands.sh")).unwrap();
    assert_eq!(
        script.matches("\n# pkiforge --quiet ").count(),
        1,
        "{script}"
    );
}
