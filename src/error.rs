//! The error type of the library and the exit codes they map to.

use std::fmt;
use std::path::PathBuf;

/// Exit codes, as documented in the README.
pub mod exit {
    /// A step, a check or verification failed.
    pub const FAILED: i32 = 1;
    /// The command line, the profile, the openssl config or the environment is
    /// not usable; nothing was run.
    pub const USAGE: i32 = 2;
    /// Interrupted by Ctrl-C (SIGINT).
    pub const INTERRUPTED: i32 = 130;
    /// Terminated by SIGTERM.
    pub const TERMINATED: i32 = 143;
}

/// Where in a file a problem is: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl Location {
    /// The line and column of byte offset `offset` in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { line, column }
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One thing wrong with an input file, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub location: Option<Location>,
    /// The field's path, such as `server.subject.C`; empty for the whole file.
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn new(
        location: Option<Location>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            location,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Problems of one file, rendered one per line as `file:line:col: field: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    pub file: PathBuf,
    pub list: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.list.len();
        write!(
            f,
            "{}: {} problem{} found, nothing was written:",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.list {
            write!(f, "\n  {}", self.file.display())?;
            if let Some(loc) = p.location {
                write!(f, ":{}:{}", loc.line, loc.column)?;
            }
            if !p.field.is_empty() {
                write!(f, ": {}", p.field)?;
            }
            write!(f, ": {}", p.message)?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Profile(Problems),

    #[error(
        "openssl was not found on PATH.\n  Install it (Debian/Ubuntu: `apt-get install openssl`, Fedora: `dnf install openssl`, macOS: `brew install openssl@3`),\n  or name the binary with --openssl PATH or the PKIFORGE_OPENSSL variable."
    )]
    OpensslNotFound,

    #[error("cannot run openssl at {path}: {reason}\n  Check --openssl or PKIFORGE_OPENSSL.")]
    OpensslUnusable { path: PathBuf, reason: String },

    #[error(
        "{path} is {version}, which has no {missing}.\n  Install OpenSSL 1.1.1 or later (3.x recommended), or name one with --openssl PATH."
    )]
    OpensslUnsupported {
        path: PathBuf,
        version: String,
        missing: String,
    },

    #[error("openssl config {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error(
        "step {step} failed: {command}\n  {status}{stderr}",
        stderr = indent_stderr(stderr, *stderr_lines)
    )]
    StepFailed {
        step: String,
        command: String,
        status: String,
        /// The end of what openssl wrote on stderr.
        stderr: String,
        /// How many lines it wrote in all (more than `stderr` holds when
        /// its beginning was dropped); 0 to count them in `stderr`.
        stderr_lines: usize,
    },

    #[error("step {step} exited 0 but did not write {file}: {command}{stderr}", stderr = indent_stderr(stderr, 0))]
    MissingOutput {
        step: String,
        command: String,
        file: PathBuf,
        stderr: String,
    },

    #[error(
        "step {step}: {file} has {field} = {found}, but the profile says {expected}: {command}\n  The openssl config's prompts and pkiforge's answers disagree; run `pkiforge plan --answers` to see them."
    )]
    SubjectMismatch {
        step: String,
        command: String,
        file: PathBuf,
        field: String,
        expected: String,
        found: String,
    },

    #[error("step {step}: {message}: {command}")]
    Check {
        step: String,
        command: String,
        message: String,
    },

    #[error("verification failed: {} of {total} checks failed{}", failed.len(), list_failures(failed))]
    Verify {
        total: usize,
        /// `(check, reason)`
        failed: Vec<(String, String)>,
    },

    #[error("{} of {total} {what} failed: {}", failed.len(), failed.join(", "))]
    ChecksFailed {
        /// What was counted: "checks", "handshakes".
        what: &'static str,
        total: usize,
        failed: Vec<String>,
    },

    #[error("lint found {}: {}", count(findings.len(), "problem"), findings.join(", "))]
    Lint {
        /// `FILE RULE` of each finding that fails the run.
        findings: Vec<String>,
    },

    #[error("{} could not be read:{}", count(files.len(), "file"), files.iter().map(|f| format!("\n  {f}")).collect::<String>())]
    Unreadable {
        /// `FILE: why` for each.
        files: Vec<String>,
    },

    #[error(
        "{dir} already holds files this run would write: {files}\n  Choose another --out directory, remove them, or pass --force to overwrite them."
    )]
    WouldClobber { dir: PathBuf, files: String },

    #[error(
        "step {step} did not finish within {seconds} s and was stopped: {command}\n  Raise the limit with --timeout SECONDS."
    )]
    Timeout {
        step: String,
        command: String,
        seconds: u64,
    },

    #[error("interrupted; nothing was written")]
    Interrupted { signal: i32 },

    /// A step stopped because another one failed; never shown alone.
    #[error("stopped because another step failed")]
    Cancelled,

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Usage(String),
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn list_failures(failed: &[(String, String)]) -> String {
    let mut out = String::new();
    for (check, reason) in failed {
        out.push_str(&format!("\n  FAIL {check}"));
        for line in reason.lines() {
            out.push_str(&format!("\n       {line}"));
        }
    }
    out
}

/// How many of its last lines of stderr a failed step shows.
const STDERR_LINES: usize = 20;

fn indent_stderr(stderr: &str, total_lines: usize) -> String {
    let trimmed = stderr.trim_end();
    if trimmed.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = trimmed.lines().collect();
    let shown = &lines[lines.len().saturating_sub(STDERR_LINES)..];
    let total = total_lines.max(lines.len());
    let mut out = if shown.len() < total {
        format!(
            "\n  openssl said (the last {} of {total} lines):",
            shown.len(),
        )
    } else {
        String::from("\n  openssl said:")
    };
    for line in shown {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Profile(_)
            | Error::OpensslNotFound
            | Error::OpensslUnusable { .. }
            | Error::OpensslUnsupported { .. }
            | Error::Config { .. }
            | Error::WouldClobber { .. }
            | Error::Usage(_) => exit::USAGE,
            Error::Interrupted { signal } if *signal == libc::SIGTERM => exit::TERMINATED,
            Error::Interrupted { .. } => exit::INTERRUPTED,
            Error::StepFailed { .. }
            | Error::MissingOutput { .. }
            | Error::SubjectMismatch { .. }
            | Error::Check { .. }
            | Error::Verify { .. }
            | Error::ChecksFailed { .. }
            | Error::Lint { .. }
            | Error::Unreadable { .. }
            | Error::Timeout { .. }
            | Error::Cancelled
            | Error::Io { .. } => exit::FAILED,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(
            Location::of_offset(text, 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(text, 6),
            Location { line: 2, column: 1 }
        );
        // "é" is two bytes but one column.
        assert_eq!(
            Location::of_offset(text, 9),
            Location { line: 2, column: 3 }
        );
    }
}
