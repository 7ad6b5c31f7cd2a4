//! `pkiforge init` and `pkiforge completions`.

use std::path::Path;

use crate::cli::Cli;
use crate::error::{Error, Result};

/// What `pkiforge init` writes.
pub const STARTER_PROFILE: &str = include_str!("../../profiles/starter.toml");

/// `pkiforge init [PATH] [--force]`: a commented starter profile.
pub fn init(path: &Path, force: bool) -> Result<String> {
    if path.exists() && !force {
        return Err(Error::Usage(format!(
            "{} exists; choose another path or pass --force to overwrite it",
            path.display()
        )));
    }
    std::fs::write(path, STARTER_PROFILE)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
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
