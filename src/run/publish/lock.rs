//! `DIR/.pkiforge.lock`: a POSIX record lock, exclusive for a command that
//! writes DIR, shared for one that only reads it. Whoever holds it
//! exclusively removes the file when done (a waiting process then sees its
//! lock guards a file that is gone, and starts again).

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::run::progress::Progress;
use crate::signals;

/// The lock file in an output directory.
pub use crate::pki::names::LOCK_FILE;
/// How often a waiting run tries the lock again.
const RETRY: Duration = Duration::from_millis(50);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A command that reads DIR: any number at once, but no writer.
    Shared,
    /// A command that writes DIR: it alone.
    Exclusive,
}

impl Kind {
    fn l_type(self) -> libc::c_short {
        (match self {
            Kind::Shared => libc::F_RDLCK,
            Kind::Exclusive => libc::F_WRLCK,
        }) as libc::c_short
    }
}

/// Opens (creating it, 0600) the lock file of `dir`, for writing.
pub fn open(dir: &Path) -> Result<File> {
    open_with(dir, true).map_err(|e| lock_error(dir, e))
}

/// Opens the lock file of `dir` to take it shared: created if this user
/// may write in `dir`, else the one there, if any (`None`: a directory
/// this user cannot write in and that no run holds).
pub fn open_to_read(dir: &Path) -> Result<Option<File>> {
    match open_with(dir, true) {
        Ok(f) => Ok(Some(f)),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EACCES | libc::EROFS | libc::EPERM)
            ) =>
        {
            match open_with(dir, false) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(lock_error(dir, e)),
            }
        }
        Err(e) => Err(lock_error(dir, e)),
    }
}

fn open_with(dir: &Path, write: bool) -> std::io::Result<File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(write)
        .create(write)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir.join(LOCK_FILE))?;
    if !file.metadata()?.is_file() {
        // Reported as a link is: not a lock file of pkiforge's.
        return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
    }
    Ok(file)
}

fn lock_error(dir: &Path, e: std::io::Error) -> Error {
    let path = dir.join(LOCK_FILE);
    if e.raw_os_error() == Some(libc::ELOOP) {
        return Error::Usage(format!(
            "{} is a symbolic link or not a regular file; pkiforge's lock must be a file of its own. Remove it (rm {}) and try again",
            path.display(),
            path.display()
        ));
    }
    Error::io(
        format!(
            "cannot write in {}; pkiforge needs to write there",
            dir.display()
        ),
        e,
    )
}

fn request(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is plain old data; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl
}

/// Takes the lock if it is free: `Ok(false)` when another process holds it.
pub fn try_lock(file: &File, kind: Kind) -> std::io::Result<bool> {
    let fl = request(kind.l_type());
    // SAFETY: fcntl(2) F_SETLK reads the flock struct it is given.
    if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EACCES) => Ok(false),
        _ => Err(e),
    }
}

/// The pid of a process holding the lock against `kind`, if the system says.
fn holder(file: &File, kind: Kind) -> Option<i32> {
    let mut fl = request(kind.l_type());
    // SAFETY: fcntl(2) F_GETLK writes into the flock struct it is given.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) };
    (r == 0 && fl.l_type != libc::F_UNLCK as libc::c_short && fl.l_pid > 0).then_some(fl.l_pid)
}

/// Waits until `file`, the lock of `dir`, is taken as `kind`; says once
/// that it waits. `Err` when a signal asks pkiforge to stop meanwhile.
pub fn wait(file: &File, kind: Kind, dir: &Path, progress: &Progress) -> Result<()> {
    let mut said_waiting = false;
    loop {
        signals::check()?;
        match try_lock(file, kind) {
            Ok(true) => return Ok(()),
            Ok(false) => {
                if !said_waiting {
                    let pid = holder(file, kind).map_or(String::new(), |p| format!(" (pid {p})"));
                    progress.say(&format!(
                        "waiting for another pkiforge run on {}{pid}",
                        dir.display()
                    ));
                    said_waiting = true;
                }
                std::thread::sleep(RETRY);
            }
            Err(e) => {
                return Err(Error::io(
                    format!("cannot lock {}", dir.join(LOCK_FILE).display()),
                    e,
                ));
            }
        }
    }
}

/// Whether the open `file` is still the file at `path`.
pub fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Removes the lock file of `dir` if `file`, held exclusively, is it.
pub fn remove_if_held(file: &File, dir: &Path) {
    let path = dir.join(LOCK_FILE);
    if same_file(file, &path) {
        let _ = fs::remove_file(&path);
    }
}
