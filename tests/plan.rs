//! `pkiforge plan`: the tutorial's commands, byte for byte.

mod common;

use common::*;
use std::fs;

fn tutorial_commands() -> Option<String> {
    let text = fs::read_to_string(repo().join("../shared/tutorial.md")).ok()?;
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line == "~~~~" {
            inside = !inside;
        } else if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    Some(out)
}

#[test]
fn localhost_plan_is_the_golden_transcript() {
    let tmp = tempfile::tempdir().unwrap();
    let out = succeeded(
        pkiforge(tmp.path())
            .args([
                "plan",
                repo().join("profiles/localhost.toml").to_str().unwrap(),
            ])
            .output()
            .unwrap(),
    );
    let golden = fs::read_to_string(repo().join("tests/golden/localhost.plan")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), golden);
    assert!(out.stderr.is_empty(), "plan prints nothing else");
    assert!(common::tree(tmp.path()).is_empty(), "plan writes nothing");
}

#[test]
fn golden_transcript_is_the_tutorial_itself() {
    // The spec lives beside the repository; where it is present, the golden
    // file must be exactly its ten command lines.
    let Some(tutorial) = tutorial_commands() else {
        eprintln!("../shared/tutorial.md not present; the golden file stands for it");
        return;
    };
    let golden = fs::read_to_string(repo().join("tests/golden/localhost.plan")).unwrap();
    assert_eq!(golden, tutorial);
    assert_eq!(golden.lines().count(), 10);
}

#[test]
fn other_profiles_change_only_key_sizes_and_sans() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), FAST);
    pkiforge(tmp.path())
        .args(["plan", "p.toml"])
        .assert()
        .success()
        .stdout(
            "openssl genrsa -out ca.key 2048
openssl req -new -x509 -key ca.key -out ca.crt
openssl genrsa -out server.key 2048
openssl req -new -key server.key -addext \"subjectAltName = DNS:localhost, IP:127.0.0.1\" -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"subjectAltName=DNS:localhost,IP:127.0.0.1\") -out server.crt
cat server.crt ca.crt > server.bundle.crt
openssl genrsa -out client.key 2048
openssl req -new -key client.key -addext \"subjectAltName = DNS:localhost\" -out client.csr
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"subjectAltName=DNS:localhost\") -out client.crt
cat client.crt ca.crt > client.pem
",
        );
}

#[test]
fn plan_answers_shows_each_prompt_of_the_active_config() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), FAST);
    write(
        &tmp.path().join("my.cnf"),
        "[req]\ndistinguished_name = dn\n[dn]\ncommonName = Your name\norganizationName = Firm\norganizationName_default = ACME\nC = Land\nOU = Team\nemailAddress = Mail\n",
    );
    let out = succeeded(
        pkiforge(tmp.path())
            .args(["plan", "--answers", "p.toml"])
            .env("OPENSSL_CONF", tmp.path().join("my.cnf"))
            .output()
            .unwrap(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let ca: Vec<&str> = text.lines().skip(2).take(5).collect();
    assert_eq!(
        ca,
        [
            "#   Your name []: Test CA",
            "#   Firm [ACME]: Test Org",
            "#   Land []: DE",
            "#   Team []: .",
            "#   Mail []: .",
        ]
    );
}

#[test]
fn plan_without_openssl_says_how_to_get_it() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("p.toml"), FAST);
    pkiforge(tmp.path())
        .args(["plan", "p.toml"])
        .env("PATH", tmp.path())
        .env_remove("PKIFORGE_OPENSSL")
        .assert()
        .code(2)
        .stdout("")
        .stderr(
            "error: openssl was not found on PATH.
  Install it (Debian/Ubuntu: `apt-get install openssl`, Fedora: `dnf install openssl`, macOS: `brew install openssl@3`),
  or name the binary with --openssl PATH or the PKIFORGE_OPENSSL variable.
",
        );
}

#[test]
fn inline_text_renders_so_that_bash_printf_writes_exactly_its_bytes() {
    use pkiforge::plan::step::Arg;
    for text in [
        "subjectAltName=DNS:localhost",
        "subjectAltName=URI:https://example.com/a%20b?x=1&y=$z",
        "subjectAltName=URI:urn:x:\"q\"\\n`id`",
    ] {
        let rendered = Arg::Inline(text.into()).to_string();
        let out = std::process::Command::new("bash")
            .args(["-c", &format!("cat {rendered}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{rendered}");
        assert_eq!(String::from_utf8(out.stdout).unwrap(), text, "{rendered}");
    }
}
