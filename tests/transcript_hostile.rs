//! `commands.sh` under hostile names: a profile file, `--out`, `--root`
//! and `--openssl` paths and an openssl config's prompt label holding line
//! breaks, quotes, `$(…)`, backticks and bytes that are not UTF-8. Each run
//! is real; its transcript is replayed with bash in an empty directory,
//! and nothing but the plan's files may appear.

mod common;

use common::*;
use proptest::prelude::*;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

const PROFILE: &str = r#"
[ca]
key = "ec:P-256"
subject = { O = "Test Org", CN = "Test CA" }

[intermediate]
key = "ec:P-256"
subject = { O = "Test Org", CN = "Test Intermediate" }
permitted = ["DNS:localhost"]

[server]
key = "ec:P-256"
subject = { O = "Test Org", CN = "localhost" }
san = ["DNS:localhost"]

[client]
key = "ec:P-256"
subject = { O = "Test Org", CN = "alice" }
san = ["DNS:localhost"]
"#;

/// Pieces that plant a command in a comment, or could.
const NASTY: &[&str] = &[
    "\n",
    "\r",
    "\ntouch PWNED\n#",
    "\recho x > PWNED; #",
    "$(touch PWNED)",
    "`touch PWNED`",
    "'",
    "\"",
    "\\",
    "$'",
    "..",
    " ",
    "#",
    ";",
    "\u{1b}[2K",
    "\u{202e}",
];

/// A file name (no `/`, no NUL): nasty pieces and arbitrary bytes.
fn name() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::sample::select(NASTY).prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..3),
    ];
    prop::collection::vec(piece, 1..4).prop_map(|v| {
        let mut name: Vec<u8> = v
            .concat()
            .into_iter()
            .filter(|&b| b != 0 && b != b'/')
            .collect();
        name.insert(0, b'n');
        name
    })
}

/// A prompt label: printable text with nasty pieces (a config's value).
fn label() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(NASTY).prop_map(String::from),
        "[A-Za-z]{1,3}",
    ];
    prop::collection::vec(piece, 1..4).prop_map(|v| format!("Org{}", v.concat()))
}

/// `text` as an openssl config value: conf_def.c's escapes.
fn conf_value(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\\' | '#' | '$' | '"' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn with(dir: &Path, name: &[u8]) -> PathBuf {
    dir.join(OsStr::from_bytes(name))
}

/// Every file below `dir`, as bytes, sorted.
fn files(dir: &Path) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().into_vec())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Runs pkiforge in `work` with `args` (and OPENSSL_CONF `conf`); panics
/// with its stderr unless it succeeds.
fn pkiforge_ok(work: &Path, conf: &Path, args: &[&OsStr]) {
    let out = pkiforge(work)
        .args(args)
        .env("OPENSSL_CONF", conf)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Replays `script` with bash in `sandbox`, real openssl on PATH.
fn replay(script: &Path, sandbox: &Path, conf: &Path) {
    let out = std::process::Command::new("bash")
        .arg(script)
        .current_dir(sandbox)
        .env("OPENSSL_CONF", conf)
        .env("PKIFORGE_P12_PASSWORD", P12_PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "replay failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        fs::read_to_string(script).unwrap_or_default()
    );
}

fn hostile_run(profile: &[u8], out: &[u8], root: &[u8], tool: &[u8], label: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    fs::create_dir(&work).unwrap();
    let conf = tmp.path().join("openssl.cnf");
    write(
        &conf,
        &format!(
            "[req]\ndistinguished_name = dn\nx509_extensions = v3_ca\n[dn]\norganizationName = {}\ncommonName = Common Name\n[v3_ca]\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always,issuer\nbasicConstraints = critical,CA:true\n",
            conf_value(label)
        ),
    );
    let mut profile = profile.to_vec();
    profile.extend_from_slice(b".toml");
    fs::write(with(&work, &profile), PROFILE).unwrap();
    let bin = with(tmp.path(), tool);
    fs::create_dir(&bin).unwrap();
    let real = which::which(openssl()).unwrap();
    let openssl = bin.join("openssl");
    std::os::unix::fs::symlink(real, &openssl).unwrap();
    let (profile, out, root) = (
        OsString::from_vec(profile),
        OsString::from_vec(out.to_vec()),
        OsString::from_vec(root.to_vec()),
    );
    let o = OsStr::new;
    pkiforge_ok(
        &work,
        &conf,
        &[
            o("run"),
            &profile,
            o("--only"),
            o("ca"),
            o("--out"),
            &root,
            o("--quiet"),
            o("--openssl"),
            openssl.as_os_str(),
        ],
    );
    // The root's files, as the second run finds them.
    let seeded = tmp.path().join("seeded");
    fs::create_dir(&seeded).unwrap();
    for f in ["ca.crt", "ca.key"] {
        fs::copy(work.join(&root).join(f), seeded.join(f)).unwrap();
    }
    pkiforge_ok(
        &work,
        &conf,
        &[
            o("run"),
            &profile,
            o("--root"),
            &root,
            o("--out"),
            &out,
            o("--quiet"),
            o("--openssl"),
            openssl.as_os_str(),
        ],
    );
    // The root's transcript, replayed alone, makes the root's files.
    let sandbox = tmp.path().join("sandbox-root");
    fs::create_dir(&sandbox).unwrap();
    replay(&work.join(&root).join("commands.sh"), &sandbox, &conf);
    assert_eq!(files(&sandbox), [b"ca.crt".to_vec(), b"ca.key".to_vec()]);
    // DIR's, replayed beside the root's files, makes DIR's files (and the
    // root's serial file, which went back to the root).
    let sandbox = tmp.path().join("sandbox");
    fs::create_dir(&sandbox).unwrap();
    for f in ["ca.crt", "ca.key"] {
        fs::copy(seeded.join(f), sandbox.join(f)).unwrap();
    }
    replay(&work.join(&out).join("commands.sh"), &sandbox, &conf);
    let mut want = files(&work.join(&out));
    want.retain(|f| f != b"commands.sh");
    want.extend([b"ca.key".to_vec(), b"ca.srl".to_vec()]);
    want.sort();
    assert_eq!(files(&sandbox), want);
    let everything = tree(tmp.path());
    // The names hold the word; no file is named it.
    assert!(
        !everything
            .iter()
            .any(|f| f == "PWNED" || f.ends_with("/PWNED")),
        "{everything:?}"
    );
}

proptest! {
    // Each case is two real runs and two replays: few cases, all of them nasty.
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_name_plants_a_command_in_commands_sh(
        profile in name(), out in name(), root in name(), tool in name(), label in label()
    ) {
        // The root's key is named by its path on the signing command line,
        // which must be UTF-8 (a root elsewhere is refused, see below).
        let root = String::from_utf8_lossy(&root).into_owned().into_bytes();
        prop_assume!(out != root);
        hostile_run(&profile, &out, &root, &tool, &label);
    }
}

#[test]
fn the_issue_s_profile_name_plants_nothing() {
    hostile_run(
        b"room\ntouch PWNED\n#",
        b"out\ntouch PWNED\n#",
        b"root\n$(touch PWNED)\n#",
        b"bin\ntouch PWNED\n#",
        "Org\ntouch PWNED\n#",
    );
}

#[test]
fn a_root_whose_path_is_not_utf8_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    write(&work.join("p.toml"), PROFILE);
    let root = OsString::from_vec(b"root\x8c".to_vec());
    let o = OsStr::new;
    let made = pkiforge(work)
        .args([
            o("run"),
            o("p.toml"),
            o("--only"),
            o("ca"),
            o("--out"),
            &root,
            o("--quiet"),
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let before = tree(work);
    let out = pkiforge(work)
        .args([
            o("run"),
            o("p.toml"),
            o("--root"),
            &root,
            o("--out"),
            o("pki"),
            o("--quiet"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: --root root\u{fffd}: its path {}/root\u{fffd}/ca.key is not UTF-8, which openssl's command line here needs; move the root to a directory with a UTF-8 name\n",
            work.canonicalize().unwrap().display()
        )
    );
    assert_eq!(tree(work), before);
}
