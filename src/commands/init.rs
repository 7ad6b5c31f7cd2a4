//! `pkiforge init` and `pkiforge completions`.

use std::path::Path;

use crate::cli::Cli;
use crate::error::{Error, Result};

/// What `pkiforge init` writes.
pub const STARTER_PROFILE: &str = include_str!("../../profiles/starter.toml");

/// `pkiforge init [PATH] [--force]`: a commented starter profile, 0644,
/// written whole or not at all, never through a symbolic link.
pub fn init(path: &Path, force: bool) -> Result<String> {
    // A link is refused even when dangling: writing through it would
    // create or overwrite the file it points to.
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if std::fs::symlink_metadata(path).is_ok() && !force && !is_link {
        return Err(Error::Usage(format!(
            "{} exists; choose another path or pass --force to overwrite it",
            path.display()
        )));
    }
    crate::run::publish::write_file(path, STARTER_PROFILE.as_bytes(), force)?;
    Ok(format!(
        "wrote {p}; edit it, then: pkiforge plan {p} && pkiforge run {p}\n",
        p = path.display()
    ))
}

/// `pkiforge completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Result<String> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "pkiforge", &mut buf);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
