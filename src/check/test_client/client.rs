//! The user's client: COMMAND and its arguments, run once per server
//! through run/exec.rs (its own process group, a deadline, stopped on
//! Ctrl-C), never through a shell. Each argument is one word of the
//! command line whatever it holds; in each, `{host}`, `{port}`, `{ca}` and
//! `{crl}` are replaced by their values, the rest of it kept as it is.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result, Status};
use crate::run::exec::Call;

/// What the placeholders of one run stand for.
#[derive(Debug, Clone)]
pub struct Placeholders {
    pub host: String,
    pub port: u16,
    /// The trust anchor, absolute.
    pub ca: PathBuf,
    /// The issuer's CRL, absolute, when the PKI has one.
    pub crl: Option<PathBuf>,
}

/// The placeholders, as they are written in COMMAND's arguments.
pub const HOST: &str = "{host}";
pub const PORT: &str = "{port}";
pub const CA: &str = "{ca}";
pub const CRL: &str = "{crl}";

impl Placeholders {
    fn values(&self) -> [(&'static str, Vec<u8>); 4] {
        let bytes = |p: &PathBuf| p.as_os_str().as_encoded_bytes().to_vec();
        [
            (HOST, self.host.as_bytes().to_vec()),
            (PORT, self.port.to_string().into_bytes()),
            (CA, bytes(&self.ca)),
            (CRL, self.crl.as_ref().map(bytes).unwrap_or_default()),
        ]
    }
}

/// COMMAND, its program found.
#[derive(Debug, Clone)]
pub struct UserClient {
    /// Its first word, as given: what failures call it.
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    timeout: Duration,
}

/// How one run of the client ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// Whether it exited 0.
    pub accepted: bool,
    /// Its exit status and the last line it wrote on stderr.
    pub detail: String,
}

impl UserClient {
    /// COMMAND's words; its program is looked up on PATH (unless it names
    /// a path) before any server starts.
    pub fn new(words: &[OsString], timeout: Duration) -> Result<UserClient> {
        let Some((first, args)) = words.split_first() else {
            return Err(Error::Usage(
                "no COMMAND to run: give it after `--`, as in `pkiforge test-client DIR -- curl -sS --cacert {ca} https://{host}:{port}/`, or pass --serve".into(),
            ));
        };
        let name = first.to_string_lossy().into_owned();
        let program = which::which(first).map_err(|_| {
            Error::Usage(format!(
                "cannot run COMMAND {}: no such program{}; install it, or give its path",
                crate::shell::shell_word_os(first),
                if name.contains('/') { "" } else { " on PATH" }
            ))
        })?;
        Ok(UserClient {
            name,
            program,
            args: args.to_vec(),
            timeout,
        })
    }

    /// Whether an argument holds `placeholder`.
    pub fn uses(&self, placeholder: &str) -> bool {
        let p = placeholder.as_bytes();
        self.args
            .iter()
            .any(|a| a.as_encoded_bytes().windows(p.len()).any(|w| w == p))
    }

    /// Runs it once against one server; `case` names the run in failures.
    pub fn run(&self, placeholders: &Placeholders, case: &str) -> Result<Ran> {
        let values = placeholders.values();
        let args: Vec<OsString> = self.args.iter().map(|a| substitute(a, &values)).collect();
        let shown = std::iter::once(crate::shell::shell_word(&self.name))
            .chain(args.iter().map(|a| crate::shell::shell_word_os(a)))
            .collect::<Vec<_>>()
            .join(" ");
        let call = Call {
            program: self.program.clone(),
            name: self.name.clone(),
            args,
            step: format!("test-client {case}"),
            shown,
            dir: None,
            stdin: None,
            env: Vec::new(),
            timeout: self.timeout,
            cancel: None,
        };
        match call.run() {
            Ok(done) => {
                let status = Status::from(done.status);
                Ok(Ran {
                    accepted: done.status.success(),
                    detail: detail(&status, &self.name, &done.stderr_text()),
                })
            }
            Err(Error::Timeout { seconds, .. }) => Ok(Ran {
                accepted: false,
                detail: format!("stopped after {seconds} s (--timeout)"),
            }),
            Err(e) => Err(e),
        }
    }
}

/// `word` with each placeholder replaced by its value.
fn substitute(word: &OsStr, values: &[(&'static str, Vec<u8>)]) -> OsString {
    let bytes = word.as_encoded_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        match values.iter().find(|(p, _)| rest.starts_with(p.as_bytes())) {
            Some((p, value)) => {
                out.extend_from_slice(value);
                i += p.len();
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    OsString::from_vec(out)
}

/// `exit N` (or `killed by signal N`), then the last line of stderr that
/// starts with the program's name (`curl: (60) …`: a Unix program's error,
/// before any advice it adds), else its last line that is not blank.
fn detail(status: &Status, name: &str, stderr: &str) -> String {
    let how = match status {
        Status::Exited(code) => format!("exit {code}"),
        Status::Killed(signal) => format!("killed by signal {signal}"),
        other => other.to_string(),
    };
    let base = name.rsplit('/').next().unwrap_or(name);
    let prefix = format!("{base}:");
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines()
        .rfind(|l| l.starts_with(&prefix))
        .or_else(|| lines().next_back())
    {
        Some(line) => format!("{how}: {line}"),
        None => how,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders() -> Placeholders {
        Placeholders {
            host: "localhost".into(),
            port: 8443,
            ca: PathBuf::from("/pki/my ca.crt"),
            crl: None,
        }
    }

    #[test]
    fn a_placeholder_is_replaced_inside_a_word_which_stays_one_word() {
        let values = placeholders().values();
        assert_eq!(
            substitute(OsStr::new("https://{host}:{port}/"), &values),
            "https://localhost:8443/"
        );
        assert_eq!(
            substitute(OsStr::new("--cacert={ca}"), &values),
            "--cacert=/pki/my ca.crt"
        );
        // Other braces are kept: a script's own text.
        assert_eq!(
            substitute(OsStr::new("{'a': {port}} {hostname}"), &values),
            "{'a': 8443} {hostname}"
        );
    }

    #[test]
    fn the_detail_is_the_status_and_the_programs_own_error() {
        let curl = "curl: (60) SSL certificate problem: certificate has expired\nMore details here: https://curl.se/docs/sslcerts.html\n\nhow to fix it, please visit the web page mentioned above.\n";
        assert_eq!(
            detail(&Status::Exited(60), "/usr/bin/curl", curl),
            "exit 60: curl: (60) SSL certificate problem: certificate has expired"
        );
        assert_eq!(
            detail(
                &Status::Exited(1),
                "python3",
                "Traceback\n  ssl.SSLError: bad\n\n"
            ),
            "exit 1: ssl.SSLError: bad"
        );
        assert_eq!(detail(&Status::Exited(0), "curl", ""), "exit 0");
        assert_eq!(detail(&Status::Killed(9), "curl", ""), "killed by signal 9");
    }

    #[test]
    fn a_program_that_is_not_there_is_a_usage_error() {
        let e = UserClient::new(&["pkiforge-no-such-client".into()], Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot run COMMAND pkiforge-no-such-client: no such program on PATH; install it, or give its path"
        );
        assert_eq!(e.exit_code(), crate::error::exit::USAGE);
    }
}
