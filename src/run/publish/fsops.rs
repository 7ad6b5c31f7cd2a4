//! The filesystem changes a publish and its recovery make, behind one seam
//! (`Fs`) so that the tests can fail, or "kill", any one of them.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::run::publish::journal::{self, Entry};

/// Where the originals wait, inside the staging directory.
pub const ORIGINALS: &str = ".originals";
/// The mode of a directory pkiforge makes inside DIR (`archive/SERIAL`: it
/// holds keys).
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// The mode of an output directory pkiforge makes, and of its parents.
pub const OUT_DIR_MODE: u32 = 0o755;

/// Every change a publish or a recovery makes to the filesystem, behind a
/// seam so that the tests can fail, or "kill", any one of them.
pub trait Fs {
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()>;
    /// Creates a directory with exactly `mode`.
    fn mkdir(&self, dir: &Path, mode: u32) -> std::io::Result<()>;
    fn chmod(&self, path: &Path, mode: u32) -> std::io::Result<()>;
    fn remove_file(&self, path: &Path) -> std::io::Result<()>;
    fn remove_dir(&self, dir: &Path) -> std::io::Result<()>;
    fn write_journal(&self, staging: &Path, entries: &[Entry]) -> std::io::Result<()>;
}

pub struct RealFs;

impl Fs for RealFs {
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        fs::rename(from, to)
    }
    fn mkdir(&self, dir: &Path, mode: u32) -> std::io::Result<()> {
        fs::DirBuilder::new().mode(mode).create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))
    }
    fn chmod(&self, path: &Path, mode: u32) -> std::io::Result<()> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        fs::remove_file(path)
    }
    fn remove_dir(&self, dir: &Path) -> std::io::Result<()> {
        fs::remove_dir(dir)
    }
    fn write_journal(&self, staging: &Path, entries: &[Entry]) -> std::io::Result<()> {
        journal::write(staging, entries)
    }
}

/// Creates the directories above `path`, inside `staging`.
pub fn make_staging_parents(staging: &Path, path: &Path, fs_ops: &impl Fs) -> std::io::Result<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let mut missing = Vec::new();
    let mut dir = parent;
    while dir != staging && fs::symlink_metadata(dir).is_err() {
        missing.push(dir);
        dir = dir.parent().unwrap_or(staging);
    }
    for d in missing.into_iter().rev() {
        fs_ops.mkdir(d, PRIVATE_DIR_MODE)?;
    }
    Ok(())
}

/// Removes `path` and, if it is a directory (not a link), all it holds.
pub fn remove_tree(path: &Path, fs_ops: &impl Fs) -> std::io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return fs_ops.remove_file(path);
    }
    for entry in fs::read_dir(path)? {
        remove_tree(&entry?.path(), fs_ops)?;
    }
    fs_ops.remove_dir(path)
}
/// Creates `path` and its missing parents, 0755 whatever the umask (`path`
/// itself 0700 when `private`); returns them deepest first.
pub fn create_dirs(path: &Path, private: bool) -> crate::error::Result<Vec<std::path::PathBuf>> {
    let mut missing = Vec::new();
    let mut dir = path.to_path_buf();
    while fs::symlink_metadata(&dir).is_err() {
        missing.push(dir.clone());
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
            _ => break,
        }
    }
    for (i, d) in missing.iter().enumerate().rev() {
        let mode = if private && i == 0 {
            0o700
        } else {
            OUT_DIR_MODE
        };
        let made = fs::DirBuilder::new()
            .mode(mode)
            .create(d)
            .and_then(|_| fs::set_permissions(d, fs::Permissions::from_mode(mode)));
        if let Err(e) = made {
            remove_dirs(&missing[i + 1..]);
            return Err(crate::error::Error::io(
                format!("cannot create {}", d.display()),
                e,
            ));
        }
    }
    Ok(missing)
}

pub fn remove_dirs(dirs: &[std::path::PathBuf]) {
    for d in dirs {
        let _ = fs::remove_dir(d);
    }
}
