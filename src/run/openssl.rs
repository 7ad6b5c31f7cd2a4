//! Finding the openssl binary and asking it what it is.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::plan::caps::Capabilities;
use crate::run::exec::Call;

/// The openssl binary in use, as it describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Openssl {
    pub path: PathBuf,
    /// The first line of `openssl version`, e.g. `OpenSSL 3.0.19 27 Jan 2026 (…)`.
    pub version: String,
    /// The OPENSSLDIR that `openssl version -d` reports.
    pub openssldir: PathBuf,
    /// How long one call may run (`--timeout`).
    pub timeout: Duration,
    /// Variables every child is given: `OPENSSL_CONF` made absolute, as
    /// children run in a staging directory, not the caller's.
    pub env: Vec<(OsString, OsString)>,
    /// `OPENSSL_CONF`, as read (includes and all) before the first probe,
    /// so that openssl is never handed a config that would hang it; the
    /// prompt layout takes it rather than reading the file again.
    pub config: Option<crate::pki::config::Config>,
}

/// Which project made the binary, from the first word of `openssl version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    OpenSsl,
    LibreSsl,
    Other,
}

impl Openssl {
    /// Finds openssl: the explicit path (from `--openssl` or `PKIFORGE_OPENSSL`)
    /// if given, else `openssl` on PATH, as an absolute path; then asks it for
    /// its version and OPENSSLDIR.
    pub fn locate(explicit: Option<&Path>, timeout: Duration) -> Result<Openssl> {
        let path = match explicit {
            Some(p) if p.as_os_str().is_empty() => return Err(Error::OpensslNotFound),
            Some(p) if p.components().count() > 1 => {
                if !p.is_file() {
                    return Err(Error::OpensslUnusable {
                        path: p.to_path_buf(),
                        reason: "no such file".into(),
                    });
                }
                // Absolute, as steps run in a staging directory, not here.
                std::path::absolute(p).map_err(|e| Error::OpensslUnusable {
                    path: p.to_path_buf(),
                    reason: e.to_string(),
                })?
            }
            Some(p) => which::which(p).map_err(|_| Error::OpensslUnusable {
                path: p.to_path_buf(),
                reason: "not found on PATH".into(),
            })?,
            None => which::which("openssl").map_err(|_| Error::OpensslNotFound)?,
        };
        // OPENSSL_CONF is checked first: openssl reads it as it starts.
        let (env, config) = config_env()?;
        let mut probe = Call::new(
            &path,
            vec!["version".into(), "-v".into(), "-d".into()],
            "probe",
            timeout,
        );
        probe.env = env.clone();
        let output = probe.run().map_err(|e| match e {
            Error::StepFailed { status, .. } => Error::OpensslUnusable {
                path: path.clone(),
                reason: status.to_string(),
            },
            Error::Timeout { .. } => Error::OpensslUnusable {
                path: path.clone(),
                reason: format!(
                    "`openssl version -v -d` did not answer within {} s (raise --timeout if it is only slow)",
                    timeout.as_secs()
                ),
            },
            other => other,
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(Error::OpensslUnusable {
                path,
                reason: format!(
                    "`openssl version -v -d` failed ({}): {}",
                    crate::error::Status::from(output.status),
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            });
        }
        let mut found = parse_version(&path, &stdout)?;
        found.timeout = timeout;
        found.env = env;
        found.config = config;
        Ok(found)
    }

    /// A call of this openssl, with its environment and timeout.
    pub fn call(&self, args: Vec<OsString>, step: &str, timeout: Duration) -> Call<'static> {
        let mut call = Call::new(&self.path, args, step, timeout);
        call.env = self.env.clone();
        call
    }

    /// A quick question to this openssl (a probe), bounded by `--timeout`.
    pub fn ask(&self, args: &[&str]) -> Result<crate::run::exec::Finished> {
        self.call(
            args.iter().map(OsString::from).collect(),
            "probe",
            self.timeout,
        )
        .run()
    }

    /// Refuses a binary whose `req` has no `-addext` (before OpenSSL 1.1.1):
    /// the tutorial's CSR commands need it. Asked only by the commands that
    /// plan `req` steps.
    pub fn require_addext(&self) -> Result<()> {
        if self.help_lists("req", "-addext")? {
            return Ok(());
        }
        Err(Error::OpensslUnsupported {
            path: self.path.clone(),
            version: self.version.clone(),
            missing: "`openssl req -addext`, which the tutorial's CSR commands use (OpenSSL 1.1.1 or later has it)".into(),
        })
    }

    /// Whether this openssl makes ML-DSA keys (OpenSSL 3.5 and later): its
    /// list of public-key algorithms names them. Asked of the binary, not
    /// told by its version.
    pub fn makes_ml_dsa(&self) -> Result<bool> {
        let done = self.ask(&["list", "-public-key-algorithms"])?;
        let text = done.stdout_text();
        Ok(crate::pki::profile::MlDsa::ALL
            .iter()
            .all(|m| text.contains(m.name())))
    }

    /// What a plan needs to know; `pkcs12 -help` is asked only when the plan
    /// has PKCS#12 bundles (`pkcs12`).
    pub fn capabilities(&self, pkcs12: bool) -> Result<Capabilities> {
        self.capabilities_for(pkcs12, false)
    }

    /// [`Openssl::capabilities`]; `x509 -help` is asked only when the plan
    /// sets dates (`dates`: expired and not-yet-valid fixtures).
    pub fn capabilities_for(&self, pkcs12: bool, dates: bool) -> Result<Capabilities> {
        Ok(Capabilities {
            pkcs12_legacy: !pkcs12 || self.help_lists("pkcs12", "-legacy")?,
            addext_replaces: self.major_minor().is_none_or(|v| v >= (3, 0)),
            x509_dates: dates && self.help_lists("x509", "-not_before")?,
        })
    }

    /// Whether this openssl loads its legacy provider (`openssl list
    /// -providers -provider legacy` succeeds): a build without it, or a
    /// distribution that ships no `legacy.so`, lists `pkcs12 -legacy` and
    /// fails when it is used.
    pub fn loads_legacy_provider(&self) -> Result<bool> {
        let done = self.ask(&["list", "-providers", "-provider", "legacy"])?;
        Ok(done.status.success())
    }

    /// Whether `openssl COMMAND -help` offers `flag`: a line of the usage
    /// (which goes to stderr, with an exit status that differs between
    /// versions, so only the text counts) that starts with it. A flag
    /// named only in another's description is not offered (1.1.1's
    /// `-msgfile`: "output of -msg or -trace", without -trace).
    pub fn help_lists(&self, command: &str, flag: &str) -> Result<bool> {
        let done = self.ask(&[command, "-help"])?;
        let text = format!("{}{}", done.stdout_text(), done.stderr_text());
        Ok(text
            .lines()
            .any(|l| l.split_whitespace().next() == Some(flag)))
    }

    pub fn flavour(&self) -> Flavour {
        match self.version.split_whitespace().next() {
            Some("OpenSSL") => Flavour::OpenSsl,
            Some("LibreSSL") => Flavour::LibreSsl,
            _ => Flavour::Other,
        }
    }

    /// `(major, minor)` from `OpenSSL 3.0.19 …`, when it is OpenSSL.
    pub fn major_minor(&self) -> Option<(u32, u32)> {
        if self.flavour() != Flavour::OpenSsl {
            return None;
        }
        let number = self.version.split_whitespace().nth(1)?;
        let mut parts = number.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some((major, minor))
    }

    /// What a user should know about this binary before a run: an untested
    /// flavour, and where it does other than the tutorial says.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        match self.flavour() {
            Flavour::OpenSsl => {}
            Flavour::LibreSsl => notes.push(format!(
                "warning: {} is LibreSSL, which pkiforge is not tested with (it cannot be built here); the commands are the tutorial's, but check the result with `pkiforge verify`",
                self.version
            )),
            Flavour::Other => notes.push(format!(
                "warning: `{}` is not a version of OpenSSL that pkiforge knows; check the result with `pkiforge verify`",
                self.version
            )),
        }
        if self.major_minor().is_some_and(|v| v < (3, 0)) {
            notes.push(
                "note: this OpenSSL's genrsa writes RSA keys as PKCS#1 (BEGIN RSA PRIVATE KEY), not the PKCS#8 the tutorial's first step says; OpenSSL 3 writes PKCS#8".into(),
            );
        }
        notes
    }

    /// The config file this openssl reads: `OPENSSL_CONF` if set, else
    /// `openssl.cnf` in its OPENSSLDIR.
    /// (As the caller named it; children are given it made absolute.)
    pub fn config_path(&self) -> PathBuf {
        match std::env::var_os("OPENSSL_CONF") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => self.openssldir.join(crate::pki::names::OPENSSL_CNF),
        }
    }

    /// Relative `.include` paths in the config resolve from the caller's
    /// directory, as openssl run here would resolve them: children are told
    /// so through `OPENSSL_CONF_INCLUDE` (unless the caller set it).
    pub fn resolve_includes_from_here(&mut self) -> Result<()> {
        if std::env::var_os("OPENSSL_CONF_INCLUDE").is_some() {
            return Ok(());
        }
        let here = std::env::current_dir()
            .map_err(|e| Error::io("cannot tell the current directory", e))?;
        self.env
            .push(("OPENSSL_CONF_INCLUDE".into(), here.into_os_string()));
        Ok(())
    }
}

/// `OPENSSL_CONF` as an absolute path, as openssl would resolve it from the
/// caller's directory; a config that is not a regular file is refused.
/// `OPENSSL_CONF` made absolute, for the children, and the config it
/// names, read: none when it is unset or names nothing.
type ConfigEnv = (
    Vec<(OsString, OsString)>,
    Option<crate::pki::config::Config>,
);

fn config_env() -> Result<ConfigEnv> {
    let Some(conf) = std::env::var_os("OPENSSL_CONF").filter(|c| !c.is_empty()) else {
        return Ok((Vec::new(), None));
    };
    let path = std::path::absolute(&conf).map_err(|e| Error::Config {
        path: PathBuf::from(&conf),
        message: format!("cannot resolve OPENSSL_CONF: {e}"),
    })?;
    // openssl reads its config as it starts, and would wait forever on a
    // FIFO: only a regular file is handed on.
    if path.exists() && !crate::files::is_regular(&path) {
        let why = crate::files::read_regular(&path)
            .err()
            .map_or_else(|| "not a regular file".to_string(), |e| e.why);
        return Err(Error::Config {
            path: PathBuf::from(&conf),
            message: format!(
                "{why}; set OPENSSL_CONF to an {} file",
                crate::pki::names::OPENSSL_CNF
            ),
        });
    }
    // Nor is one that includes a FIFO or a device: read it as openssl
    // will, through the bounded reader, before openssl does.
    let config = if path.exists() {
        let read = crate::pki::config::Config::load(&path).map_err(|e| Error::Config {
            path: PathBuf::from(&conf),
            message: format!("{e}; fix the config, or set OPENSSL_CONF to another"),
        })?;
        Some(read)
    } else {
        None
    };
    Ok((vec![("OPENSSL_CONF".into(), path.into_os_string())], config))
}

fn parse_version(path: &Path, stdout: &str) -> Result<Openssl> {
    let unusable = |reason: String| Error::OpensslUnusable {
        path: path.to_path_buf(),
        reason,
    };
    let mut lines = stdout.lines();
    let version = lines
        .next()
        .filter(|l| !l.trim().is_empty())
        .ok_or_else(|| unusable("`openssl version` printed nothing".into()))?
        .trim()
        .to_string();
    let dir = lines
        .find_map(|l| l.trim().strip_prefix("OPENSSLDIR:"))
        .ok_or_else(|| {
            unusable(format!(
                "`openssl version -d` did not name an OPENSSLDIR (it said {stdout:?})"
            ))
        })?;
    let dir = dir.trim().trim_matches('"');
    Ok(Openssl {
        path: path.to_path_buf(),
        version,
        openssldir: PathBuf::from(dir),
        timeout: crate::run::exec::DEFAULT_TIMEOUT,
        env: Vec::new(),
        config: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_output_is_parsed_for_both_lines() {
        let o = parse_version(
            Path::new("/usr/bin/openssl"),
            "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)\nOPENSSLDIR: \"/usr/lib/ssl\"\n",
        )
        .unwrap();
        assert_eq!(
            o.version,
            "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19 27 Jan 2026)"
        );
        assert_eq!(o.openssldir, PathBuf::from("/usr/lib/ssl"));
    }

    #[test]
    fn missing_openssldir_is_an_error() {
        let e = parse_version(Path::new("/x/openssl"), "OpenSSL 3.0.0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot run openssl at /x/openssl: `openssl version -d` did not name an OPENSSLDIR (it said \"OpenSSL 3.0.0\\n\")\n  Check --openssl or PKIFORGE_OPENSSL."
        );
    }
}
