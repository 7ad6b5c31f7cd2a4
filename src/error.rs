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
    /// Its terminal closed (SIGHUP).
    pub const HUNG_UP: i32 = 129;
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

/// Which step failed, and its command exactly as `plan` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub step: String,
    pub command: String,
    /// The program that ran it, as failures name it: `openssl`, `keytool`.
    pub program: String,
}

impl At {
    /// Boxed, so that the errors that carry it stay small.
    pub fn new(step: impl Into<String>, command: impl Into<String>) -> Box<At> {
        Box::new(At {
            step: step.into(),
            command: command.into(),
            program: "openssl".into(),
        })
    }
}

/// How an openssl process ended, or why it did not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Exited(i32),
    Killed(i32),
    NotStarted {
        program: PathBuf,
        reason: String,
    },
    /// Anything else, said in words.
    Other(String),
}

impl From<std::process::ExitStatus> for Status {
    fn from(status: std::process::ExitStatus) -> Status {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => Status::Exited(code),
            (None, Some(signal)) => Status::Killed(signal),
            _ => Status::Other(format!("openssl ended: {status}")),
        }
    }
}

impl Status {
    /// The status in words, naming the program that ran (Display says openssl).
    pub fn of(&self, program: &str) -> String {
        match self {
            Status::Exited(code) => format!("{program} exited with status {code}"),
            Status::Killed(signal) => format!("{program} was killed by signal {signal}"),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Exited(code) => write!(f, "openssl exited with status {code}"),
            Status::Killed(signal) => write!(f, "openssl was killed by signal {signal}"),
            Status::NotStarted { program, reason } => {
                write!(f, "could not start {}: {reason}", program.display())
            }
            Status::Other(words) => f.write_str(words),
        }
    }
}

/// A failed check and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check as the report shows it.
    pub check: String,
    pub reason: String,
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
        "step {} failed: {}\n  {}{stderr}",
        at.step,
        at.command,
        status.of(&at.program),
        stderr = indent_stderr(&at.program, stderr, *stderr_lines)
    )]
    StepFailed {
        at: Box<At>,
        status: Status,
        /// The end of what the program wrote on stderr (keytool: stdout too).
        stderr: String,
        /// How many lines it wrote in all (more than `stderr` holds when
        /// its beginning was dropped); 0 to count them in `stderr`.
        stderr_lines: usize,
    },

    #[error("step {} exited 0 but did not write {}: {}", at.step, file.display(), at.command)]
    MissingOutput { at: Box<At>, file: PathBuf },

    #[error(
        "step {}: {} has {field} = {found}, but the profile says {expected}: {}\n  The openssl config's prompts and pkiforge's answers disagree; run `pkiforge plan --answers` to see them.",
        at.step,
        file.display(),
        at.command
    )]
    SubjectMismatch {
        at: Box<At>,
        file: PathBuf,
        field: String,
        expected: String,
        found: String,
    },

    #[error("step {}: {reason}: {}", at.step, at.command)]
    Check { at: Box<At>, reason: Reason },

    #[error("verification failed: {} of {total} checks failed{}", failed.len(), list_failures(failed))]
    Verify { total: usize, failed: Vec<Failure> },

    #[error("{} of {total} {what} failed: {}", failed.len(), failed.join(", "))]
    ChecksFailed {
        /// What was counted: "checks", "handshakes".
        what: &'static str,
        total: usize,
        failed: Vec<String>,
    },

    #[error("{} of {total} certificates and CRLs need attention: {}", items.len(), items.join(", "))]
    NeedsAttention {
        total: usize,
        /// `FILE STATE` of each.
        items: Vec<String>,
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
        "{} already holds files this run would write: {}\n  Choose another --out directory, remove them, or pass --force to overwrite them.",
        dir.display(),
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(" ")
    )]
    WouldClobber { dir: PathBuf, files: Vec<PathBuf> },

    #[error(
        "step {} did not finish within {seconds} s and was stopped: {}\n  Raise the limit with --timeout SECONDS.",
        at.step,
        at.command
    )]
    Timeout { at: Box<At>, seconds: u64 },

    #[error("interrupted; nothing was written")]
    Interrupted { signal: i32 },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// A file or directory the user pointed pkiforge at that it cannot use
    /// (a certificate it cannot read, a PKI directory it cannot make out).
    #[error("{0}")]
    BadInput(String),

    /// A typed error of a lower layer about what the user gave: a PKI
    /// directory or file that cannot be read back (`pki::error::ReadError`),
    /// a lifecycle operation the PKI does not allow (`LifecycleError`), an
    /// export that cannot be made as asked (`ExportError`). Each layer
    /// converts its own error into this one, so that this module names none
    /// of them: it sits below every layer.
    #[error(transparent)]
    Input(Box<dyn std::error::Error + Send + Sync>),

    #[error("{0}")]
    Usage(String),

    /// A command's report, printed on stdout before the error it ends in.
    #[error("{error}")]
    Reported { report: String, error: Box<Error> },
}

fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

fn list_failures(failed: &[Failure]) -> String {
    let mut out = String::new();
    for f in failed {
        out.push('\n');
        out.push_str(render_check("  ", &f.check, Some(&f.reason)).trim_end());
    }
    out
}

/// The one rendering of a check in a report: `ok   CHECK`, or `FAIL CHECK`
/// with the reason's lines under it; `prefix` goes before the first line.
pub fn render_check(prefix: &str, check: &str, reason: Option<&str>) -> String {
    let Some(reason) = reason else {
        return format!("{prefix}ok   {check}\n");
    };
    let mut out = format!("{prefix}FAIL {check}\n");
    for line in reason.lines() {
        out.push_str(&format!("       {line}\n"));
    }
    out
}

/// How many of its last lines of stderr a failed step shows.
const STDERR_LINES: usize = 20;

fn indent_stderr(program: &str, stderr: &str, total_lines: usize) -> String {
    let trimmed = stderr.trim_end();
    if trimmed.is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = trimmed.lines().collect();
    let shown = &lines[lines.len().saturating_sub(STDERR_LINES)..];
    let total = total_lines.max(lines.len());
    let mut out = if shown.len() < total {
        format!(
            "\n  {program} said (the last {} of {total} lines):",
            shown.len(),
        )
    } else {
        format!("\n  {program} said:")
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

    /// `error` with the report to print before it.
    pub fn reported(report: String, error: Error) -> Error {
        Error::Reported {
            report,
            error: Box::new(error),
        }
    }

    /// The report to print on stdout before the error, if any.
    pub fn report(&self) -> Option<&str> {
        match self {
            Error::Reported { report, .. } => Some(report),
            _ => None,
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
            | Error::BadInput(_)
            | Error::Input(_)
            | Error::Usage(_) => exit::USAGE,
            Error::Interrupted { signal } if *signal == libc::SIGTERM => exit::TERMINATED,
            Error::Interrupted { signal } if *signal == libc::SIGHUP => exit::HUNG_UP,
            Error::Interrupted { .. } => exit::INTERRUPTED,
            Error::Reported { error, .. } => error.exit_code(),
            Error::StepFailed { .. }
            | Error::MissingOutput { .. }
            | Error::SubjectMismatch { .. }
            | Error::Check { .. }
            | Error::Verify { .. }
            | Error::ChecksFailed { .. }
            | Error::Lint { .. }
            | Error::NeedsAttention { .. }
            | Error::Unreadable { .. }
            | Error::Timeout { .. }
            | Error::Io { .. } => exit::FAILED,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why something failed, as a lower layer's own error (a check's, a
/// render's), or in words: shown as it is.
pub type Reason = Box<dyn std::error::Error + Send + Sync>;

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
