//! `pkiforge init` and `pkiforge completions`.

use std::path::Path;

use super::{Context, Outcome};
use crate::cli::InitArgs;
use crate::error::{Error, Result};

/// What `pkiforge init` writes.
pub const STARTER_PROFILE: &str = include_str!("../../profiles/starter.toml");

/// `init PATH [--force]`.
pub fn command(_ctx: &Context, args: InitArgs) -> Result<Outcome> {
    init(&args.path, args.force)
}

/// `pkiforge init [PATH] [--force]`: a commented starter profile, 0644,
/// written whole or not at all, never through a symbolic link.
fn init(path: &Path, force: bool) -> Result<String> {
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
