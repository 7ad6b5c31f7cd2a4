//! `commands.sh` rendered from hostile text (paths, a config's prompt
//! labels, the profile's values) and run: bash runs the planned commands
//! and nothing else.

use pkiforge::plan::step::{Action, Arg, Section, Step};
use pkiforge::plan::transcript::Transcript;
use proptest::prelude::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Pieces that have broken transcripts, or could.
const NASTY: &[&str] = &[
    "\n",
    "\r",
    "\r\n",
    "\ntouch PWNED\n",
    "\necho x > PWNED #",
    "$(touch PWNED)",
    "`touch PWNED`",
    "'",
    "\"",
    "\\",
    "$'",
    "..",
    "/",
    " ",
    "#",
    ";",
    "&&",
    "|",
    "<",
    ">",
    "*",
    "~",
    "!",
    "%s",
    "\t",
    "\u{85}",
    "\u{2028}",
    "\u{202e}",
    "\x1b[2K",
    "\u{0}",
];

fn text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(NASTY).prop_map(String::from),
        any::<char>().prop_map(String::from),
        "[a-z.]{1,4}",
    ];
    // Neither bash nor argv can carry NUL.
    prop::collection::vec(piece, 0..6).prop_map(|v| v.concat().replace('\0', ""))
}

fn name() -> impl Strategy<Value = PathBuf> {
    let piece = prop_oneof![
        text().prop_map(String::into_bytes),
        prop::collection::vec(1u8..=255, 1..4),
    ];
    prop::collection::vec(piece, 1..4).prop_map(|v| PathBuf::from(OsStr::from_bytes(&v.concat())))
}

fn step(args: Vec<String>, stdin: Vec<String>) -> Step {
    Step {
        id: "s".into(),
        entity: String::new(),
        section: Section::Ca,
        heading: String::new(),
        action: Action::Openssl {
            args: args.into_iter().map(Arg::Lit).collect(),
            stdin,
        },
        inputs: Vec::new(),
        outputs: Vec::new(),
        keys: Vec::new(),
        subject_check: None,
        expect: None,
        report: false,
    }
}

/// Runs `script` with bash in an empty directory, with only a
/// logging `openssl` and `rm` on PATH; returns bash's status, the
/// log, and the files the script left beside it.
fn replay(script: &str) -> (Option<i32>, Vec<u8>, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let (bin, work) = (dir.path().join("bin"), dir.path().join("work"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let log = dir.path().join("log");
    let stub = "#!/bin/bash\n{ printf '%s' \"${0##*/}\"; for a in \"$@\"; do printf '\\0%s' \"$a\"; done; printf '\\0<'; \
        IFS= read -r -d '' input; printf '%s' \"$input\"; printf '>\\0'; } >> \"$LOG\"\n";
    for tool in ["openssl", "rm"] {
        let path = bin.join(tool);
        std::fs::write(&path, stub).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::write(dir.path().join("commands.sh"), script).unwrap();
    let status = std::process::Command::new("/bin/bash")
        .arg(dir.path().join("commands.sh"))
        .current_dir(&work)
        .env_clear()
        .env("PATH", &bin)
        .env("LOG", &log)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    let left = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    (status.code(), std::fs::read(&log).unwrap_or_default(), left)
}

/// What the stubs log for a call: its name, its arguments, its stdin.
fn logged(tool: &str, args: &[&[u8]], stdin: &[u8]) -> Vec<u8> {
    let mut out = tool.as_bytes().to_vec();
    for a in args {
        out.push(0);
        out.extend_from_slice(a);
    }
    out.extend_from_slice(b"\0<");
    out.extend_from_slice(stdin);
    out.extend_from_slice(b">\0");
    out
}

fn expected(steps: &[Step], removes: &[PathBuf]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in steps {
        let Action::Openssl { args, stdin } = &s.action else {
            unreachable!()
        };
        let args: Vec<&[u8]> = args
            .iter()
            .map(|a| match a {
                Arg::Lit(w) | Arg::Inline(w) => w.as_bytes(),
            })
            .collect();
        let input: String = stdin.iter().map(|a| format!("{a}\n")).collect();
        out.extend(logged("openssl", &args, input.as_bytes()));
    }
    if !removes.is_empty() {
        let mut args: Vec<&[u8]> = vec![b"-f"];
        args.extend(removes.iter().map(|r| r.as_os_str().as_bytes()));
        out.extend(logged("rm", &args, b""));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn only_the_planned_commands_run(
        versions in text(),
        command in text(),
        prompts in prop::collection::vec(text(), 0..3),
        calls in prop::collection::vec(
            (prop::collection::vec(text(), 0..4), prop::collection::vec(text(), 0..3)),
            0..3,
        ),
        removes in prop::collection::vec(name(), 0..3),
        hashed in prop::collection::vec(name(), 0..3),
    ) {
        // Answers are lines: each is one line of stdin.
        let steps: Vec<Step> = calls
            .into_iter()
            .map(|(args, answers)| {
                let answers = answers.iter().map(|a| a.replace(['\n', '\r'], "")).collect();
                step(args, answers)
            })
            .collect();
        let hashes: Vec<(PathBuf, String)> =
            hashed.into_iter().map(|f| (f, "ab".repeat(32))).collect();
        let t = Transcript { versions, command, prompts, append: false };
        let script = t.render(&steps, &removes, &hashes);
        let (status, log, left) = replay(&script);
        prop_assert_eq!(status, Some(0), "{}", script);
        let want = expected(&steps, &removes);
        prop_assert_eq!(
            String::from_utf8_lossy(&log),
            String::from_utf8_lossy(&want),
            "{}", script
        );
        prop_assert!(left.is_empty(), "{:?}\n{}", left, script);
        // What a reader sees is what runs: no line break, carriage
        // return or terminal escape is written raw outside a word.
        for line in script.lines() {
            prop_assert!(!line.contains('\r') && !line.contains('\u{1b}'), "{:?}", line);
        }
    }
}
