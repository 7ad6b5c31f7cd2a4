//! Finding the openssl binary and asking it what it is.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The openssl binary in use, as it describes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Openssl {
    pub path: PathBuf,
    /// The first line of `openssl version`, e.g. `OpenSSL 3.0.19 27 Jan 2026 (…)`.
    pub version: String,
    /// The OPENSSLDIR that `openssl version -d` reports.
    pub openssldir: PathBuf,
}

impl Openssl {
    /// Finds openssl: the explicit path (from `--openssl` or `PKIFORGE_OPENSSL`)
    /// if given, else `openssl` on PATH; then asks it for its version and
    /// OPENSSLDIR.
    pub fn locate(explicit: Option<&Path>) -> Result<Openssl> {
        let path = match explicit {
            Some(p) if p.as_os_str().is_empty() => return Err(Error::OpensslNotFound),
            Some(p) if p.components().count() > 1 => {
                if !p.is_file() {
                    return Err(Error::OpensslUnusable {
                        path: p.to_path_buf(),
                        reason: "no such file".into(),
                    });
                }
                p.to_path_buf()
            }
            Some(p) => which::which(p).map_err(|_| Error::OpensslUnusable {
                path: p.to_path_buf(),
                reason: "not found on PATH".into(),
            })?,
            None => which::which("openssl").map_err(|_| Error::OpensslNotFound)?,
        };
        let output = duct::cmd(&path, ["version", "-v", "-d"])
            .stdin_null()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| Error::OpensslUnusable {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(Error::OpensslUnusable {
                path,
                reason: format!(
                    "`openssl version -v -d` failed ({}): {}",
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            });
        }
        parse_version(&path, &stdout)
    }

    /// The config file this openssl reads: `OPENSSL_CONF` if set, else
    /// `openssl.cnf` in its OPENSSLDIR.
    pub fn config_path(&self) -> PathBuf {
        match std::env::var_os("OPENSSL_CONF") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => self.openssldir.join("openssl.cnf"),
        }
    }
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
