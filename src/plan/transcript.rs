//! `commands.sh`: what a run executed, as a bash script a participant can
//! take away and replay without pkiforge. Pure text from the plan: each
//! command byte for byte as `plan` prints it, the answers typed at
//! openssl's prompts fed on stdin (with the prompts as comments), and the
//! SHA-256 of each file the run wrote.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::pki::names::TRANSCRIPT;
use crate::plan::step::{Action, Step};
use crate::shell::{comment, shell_word, shell_word_os};

/// What opens the script: how to replay it (after its shebang line and
/// the script's name, [`TRANSCRIPT`]).
const PREAMBLE: &str = ": the commands pkiforge ran, to replay without it. Run it with
# bash in an empty directory, with the same openssl first on PATH; it makes
# the same files with the same subjects, names and extensions (new keys).
# PKCS#12 steps read their password from PKIFORGE_P12_PASSWORD.
set -euo pipefail
umask 077
";

/// One run's part of the transcript.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// `pkiforge 0.1.0, OpenSSL 3.0.19 …, 2026-11-28 10:00:00 UTC`.
    pub versions: String,
    /// What ran: `pkiforge run profiles/localhost.toml`.
    pub command: String,
    /// openssl's prompts that read stdin, in order, as `Label [default]`.
    pub prompts: Vec<String>,
    /// Whether DIR's transcript is continued (`--add`, `--only`, `renew`,
    /// `revoke`, `crl`) rather than begun.
    pub append: bool,
}

impl Transcript {
    /// This run's part: the header, each step, then the files' hashes;
    /// after the preamble when the transcript begins here.
    /// `removes`: the files the run took out of DIR (revoke's, kept in the archive).
    pub fn render(
        &self,
        steps: &[Step],
        removes: &[PathBuf],
        hashes: &[(PathBuf, String)],
    ) -> String {
        let mut out = String::new();
        if !self.append {
            out.push_str("#!/usr/bin/env bash\n# ");
            out.push_str(TRANSCRIPT);
            out.push_str(PREAMBLE);
        }
        let _ = writeln!(
            out,
            "\n{}\n{}",
            comment(&self.versions),
            comment(&self.command)
        );
        for step in steps {
            out.push_str(&command_lines(step, &self.prompts));
        }
        if !removes.is_empty() {
            let files: Vec<String> = removes
                .iter()
                .map(|f| shell_word_os(f.as_os_str()))
                .collect();
            let _ = writeln!(out, "rm -f {}", files.join(" "));
        }
        for (file, hash) in hashes {
            let name = shell_word_os(file.as_os_str());
            let _ = writeln!(out, "{}", comment(&format!("sha256 {hash}  {name}")));
        }
        out
    }
}

/// A step as bash runs it: a `req` gets its answers from `printf`, with a
/// comment line for each prompt and the answer given.
pub fn command_lines(step: &Step, prompts: &[String]) -> String {
    let mut out = String::new();
    let stdin = match &step.action {
        Action::Openssl { stdin, .. } => stdin.as_slice(),
        _ => &[],
    };
    for (prompt, answer) in prompts.iter().zip(stdin) {
        let _ = writeln!(out, "{}", comment(&format!("  {prompt}: {answer}")));
    }
    if stdin.is_empty() {
        let _ = writeln!(out, "{step}");
    } else {
        let words: Vec<String> = stdin.iter().map(|a| shell_word(a)).collect();
        let _ = writeln!(out, "printf '%s\\n' {} | {step}", words.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::step::{Arg, Section};

    fn req() -> Step {
        Step {
            id: "ca-crt".into(),
            entity: "ca".into(),
            section: Section::Ca,
            heading: String::new(),
            action: Action::Openssl {
                args: ["req", "-new", "-x509", "-key", "ca.key", "-out", "ca.crt"]
                    .map(Arg::lit)
                    .to_vec(),
                stdin: vec!["US".into(), "My \"Org\" $HOME".into(), ".".into()],
            },
            inputs: Vec::new(),
            outputs: Vec::new(),
            keys: Vec::new(),
            subject_check: None,
            expect: None,
            report: false,
        }
    }

    #[test]
    fn answers_are_fed_as_a_person_would_type_them() {
        let prompts = [
            "Country Name (2 letter code) [AU]",
            "Organization Name (eg, company) [Internet Widgits Pty Ltd]",
            "Common Name (e.g. server FQDN or YOUR name) []",
        ]
        .map(String::from);
        assert_eq!(
            command_lines(&req(), &prompts),
            "#   Country Name (2 letter code) [AU]: US\n#   Organization Name (eg, company) [Internet Widgits Pty Ltd]: My \"Org\" $HOME\n#   Common Name (e.g. server FQDN or YOUR name) []: .\nprintf '%s\\n' US \"My \\\"Org\\\" \\$HOME\" . | openssl req -new -x509 -key ca.key -out ca.crt\n"
        );
    }

    #[test]
    fn a_transcript_begins_once_and_is_continued() {
        let mut t = Transcript {
            versions: "pkiforge 0.1.0, OpenSSL 3.0.19, 2026-11-28 10:00:00 UTC".into(),
            command: "pkiforge run p.toml".into(),
            prompts: Vec::new(),
            append: false,
        };
        let hashes = [(PathBuf::from("ca.crt"), "ab".repeat(32))];
        let first = t.render(&[], &[], &hashes);
        assert!(first.starts_with("#!/usr/bin/env bash\n"));
        assert!(first.ends_with(&format!(
            "\n# pkiforge 0.1.0, OpenSSL 3.0.19, 2026-11-28 10:00:00 UTC\n# pkiforge run p.toml\n# sha256 {}  ca.crt\n",
            "ab".repeat(32)
        )));
        t.append = true;
        assert!(t.render(&[], &[], &[]).starts_with("\n# pkiforge 0.1.0"));
    }
}
