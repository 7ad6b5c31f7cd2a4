//! Scratch space: one private directory per run, in the system's temp
//! directory, holding everything the handshake writes (the throwaway CA,
//! its config, the certificate made outside the constraints, chain files,
//! every log), or what `serve` hands openssl (each OCSP request and
//! answer). Nobody else may list, read, create or replace anything in it,
//! whatever the umask: openssl reads configs from it.
//!
//! Its name says who made it, `pkiforge-handshake-PID-START-XXXXXX` or
//! `pkiforge-serve-PID-START-XXXXXX` (START: the process's start time, so
//! that a reused pid is not mistaken for it), so that a later handshake or
//! serve removes what a killed one left.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// What a scratch directory's name starts with: the handshake's (and
/// test-server's and test-client's).
pub const PREFIX: &str = "pkiforge-handshake-";
/// What `serve`'s scratch directory's name starts with.
pub const SERVE_PREFIX: &str = "pkiforge-serve-";
/// Every prefix a stale directory is recognised by.
const PREFIXES: [&str; 2] = [PREFIX, SERVE_PREFIX];

/// The only mode a scratch directory has: its owner's alone.
const PRIVATE: u32 = 0o700;

/// A private directory, removed with everything in it when dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A new scratch directory in `parent` (the system's temp directory).
    pub fn create_in(parent: &Path) -> Result<Scratch> {
        Scratch::create_named(parent, PREFIX)
    }

    /// A new scratch directory in `parent` whose name starts with `prefix`
    /// (one of [`PREFIX`] and [`SERVE_PREFIX`]).
    pub fn create_named(parent: &Path, prefix: &str) -> Result<Scratch> {
        let me = std::process::id();
        let start = crate::procs::start_time(me).unwrap_or(0);
        let dir = private_dir(parent, &format!("{prefix}{me}-{start}-"))?;
        Ok(Scratch { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A private directory inside it, for one case's logs and chain files.
    pub fn case_dir(&self) -> Result<tempfile::TempDir> {
        private_dir(self.path(), "case-")
    }
}

/// Writes a new file in a scratch directory, readable by its owner alone;
/// an error if something is at `path` already (nothing is followed).
pub fn write_new(path: &Path, contents: impl AsRef<[u8]>) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(contents.as_ref()))
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// A new directory in `parent` named `prefix` and random letters, mode
/// 0700 whatever the umask, checked to be ours and not a symbolic link.
fn private_dir(parent: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(fs::Permissions::from_mode(PRIVATE))
        .tempdir_in(parent)
        .map_err(|e| {
            Error::io(
                format!("cannot create a private directory in {}", parent.display()),
                e,
            )
        })?;
    // The umask takes bits away from mkdir's mode: set it in full.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(PRIVATE))
        .map_err(|e| Error::io(format!("cannot chmod 700 {}", dir.path().display()), e))?;
    if !is_private_dir(dir.path()) {
        return Err(Error::Usage(format!(
            "{} is not a directory of mode 0700 owned by this user right after pkiforge made it; another user may be tampering with {}: set TMPDIR to a directory only you can write to",
            dir.path().display(),
            parent.display()
        )));
    }
    Ok(dir)
}

/// Whether `path` itself (not what a link points to) is a directory of
/// this user's, mode 0700.
fn is_private_dir(path: &Path) -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    fs::symlink_metadata(path)
        .is_ok_and(|m| m.file_type().is_dir() && m.uid() == me && m.mode() & 0o7777 == PRIVATE)
}

/// Whether the process that made a scratch directory still runs: `pid`
/// runs, is no zombie, and started at `start` (0: unknown, then the pid
/// alone counts).
fn still_running(pid: u32, start: u64) -> bool {
    crate::procs::running(pid, (start != 0).then_some(start))
}

/// The pid and start time in a scratch directory's name.
fn maker_of(name: &str) -> Option<(u32, u64)> {
    let rest = PREFIXES.iter().find_map(|p| name.strip_prefix(p))?;
    let mut parts = rest.splitn(3, '-');
    let pid = parts.next()?.parse().ok()?;
    let start = parts.next()?.parse().ok()?;
    parts.next().filter(|rest| !rest.is_empty())?;
    Some((pid, start))
}

/// Removes from `parent` the scratch directories that handshakes killed
/// before they could clean up left behind: only a directory named as ours,
/// owned by this user, mode 0700 (not a symbolic link), whose maker no
/// longer runs. What cannot be removed is left, silently: this is
/// housekeeping, not the user's request. Returns what it removed.
pub fn remove_stale(parent: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, start)) = name.to_str().and_then(maker_of) else {
            continue;
        };
        let path = entry.path();
        if pid == std::process::id() || !is_private_dir(&path) || still_running(pid, start) {
            continue;
        }
        // remove_dir_all does not follow symbolic links, at the top or below.
        if fs::remove_dir_all(&path).is_ok() {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_says_who_made_it() {
        assert_eq!(
            maker_of("pkiforge-handshake-42-1234-Ab3xYz"),
            Some((42, 1234))
        );
        assert_eq!(maker_of("pkiforge-handshake-42-1234-"), None);
        assert_eq!(maker_of("pkiforge-handshake-42-Ab3xYz"), None);
        assert_eq!(maker_of("pkiforge-foreign-Ab3xYz"), None);
        assert_eq!(maker_of("pkiforge-serve-7-99-Ab3xYz"), Some((7, 99)));
        assert_eq!(maker_of("pkiforge-handshake-x-1-y"), None);
    }

    #[test]
    fn this_process_runs_and_started_when_proc_says() {
        let me = std::process::id();
        let start = crate::procs::start_time(me).expect("this process's start time");
        assert!(still_running(me, start));
        assert!(still_running(me, 0));
        // The same pid with another start time: a reused pid, not its maker.
        assert!(!still_running(me, start + 1));
    }

    #[test]
    fn a_scratch_directory_is_private_and_goes_when_dropped() {
        // (Under `umask 000`: tests/safety_handshake.rs; the umask is the
        // whole process's, and other tests run beside this one.)
        let parent = tempfile::tempdir().unwrap();
        let scratch = Scratch::create_in(parent.path()).unwrap();
        let name = scratch.path().file_name().unwrap().to_str().unwrap();
        let me = std::process::id();
        assert_eq!(
            maker_of(name),
            Some((me, crate::procs::start_time(me).unwrap()))
        );
        assert_eq!(fs::metadata(scratch.path()).unwrap().mode() & 0o7777, 0o700);
        let case = scratch.case_dir().unwrap();
        assert_eq!(fs::metadata(case.path()).unwrap().mode() & 0o7777, 0o700);
        let path = scratch.path().to_path_buf();
        drop(case);
        drop(scratch);
        assert!(!path.exists());
    }
}
