//! Which process made a staging directory, and whether it still runs.
//!
//! A staging directory's name is `.pkiforge-staging-PID-START-BOOT-RANDOM`:
//! the pid of the run that made it, that process's start time (in clock
//! ticks since boot, from /proc) and the boot it ran in. A pid reused by
//! another process, or by any process after a reboot, does not keep a
//! dead run's directory alive. Only a directory of the current user, private
//! to it, is ever recovered or removed: one another user planted is left be.

use std::fs;
use std::os::unix::fs::MetadataExt;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::procs;
use crate::run::publish::journal::JOURNAL;

pub use crate::pki::names::STAGING_PREFIX;
/// How many hex digits of the boot id a name carries.
const BOOT_LEN: usize = 12;

/// The process that made a staging directory, from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maker {
    pub pid: i32,
    /// Its start time and boot; unknown for the names of older versions
    /// (`.pkiforge-staging-PID-RANDOM`).
    started: Option<(u64, String)>,
}

/// The part of a staging directory's name that names this process.
pub fn own_tag() -> String {
    let pid = std::process::id() as i32;
    match (procs::start_time(pid as u32), boot_id()) {
        (Some(start), Some(boot)) => format!("{pid}-{start}-{boot}"),
        _ => pid.to_string(),
    }
}

/// The maker of the staging directory named `name`; `None` when the name
/// is not a staging directory's.
pub fn maker(name: &str) -> Option<Maker> {
    let rest = name.strip_prefix(STAGING_PREFIX)?;
    let parts: Vec<&str> = rest.split('-').collect();
    let pid: i32 = parts.first()?.parse().ok().filter(|&p| p > 0)?;
    let started = match parts[..] {
        [_, start, boot, _] if is_boot(boot) => Some((start.parse().ok()?, boot.to_string())),
        _ => None,
    };
    Some(Maker { pid, started })
}

fn is_boot(text: &str) -> bool {
    text.len() == BOOT_LEN && text.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Maker {
    /// Whether the process that made the directory is still running: the
    /// same pid, started at the same time, in this boot, and not a zombie.
    pub fn running(&self) -> bool {
        match &self.started {
            Some((start, boot)) => {
                if boot_id().is_some_and(|now| now != *boot) {
                    return false;
                }
                procs::stat(self.pid as u32).is_some_and(|s| s.start == *start && !s.dead)
            }
            None => procs::running(self.pid as u32, None),
        }
    }
}

/// Whether a directory entry is a staging directory this user may recover
/// and remove: a real directory (not a link), owned by the effective user,
/// with no permission for group or others.
pub fn is_ours(meta: &fs::Metadata) -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let me = unsafe { libc::geteuid() };
    meta.file_type().is_dir() && meta.uid() == me && meta.mode() & 0o077 == 0
}

/// The first hex digits of this boot's random id.
fn boot_id() -> Option<String> {
    let text = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let hex: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    (hex.len() >= BOOT_LEN).then(|| hex[..BOOT_LEN].to_string())
}

/// A staging directory found in DIR.
pub struct Found {
    pub path: PathBuf,
    pub maker: Maker,
    /// Why this user may not touch it, if it may not.
    pub not_ours: Option<String>,
}

/// Every staging directory in `dir`.
pub fn staging_dirs(dir: &Path) -> Result<Vec<Found>> {
    let entries =
        fs::read_dir(dir).map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(maker) = maker(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        let Ok(meta) = fs::symlink_metadata(entry.path()) else {
            continue;
        };
        let not_ours = (!is_ours(&meta)).then(|| {
            format!(
                "pkiforge makes its staging directories private to the user it runs as, and this one is {} owned by uid {} with mode {:04o}",
                if meta.file_type().is_dir() { "a directory" } else { "not a directory," },
                meta.uid(),
                meta.mode() & 0o7777
            )
        });
        found.push(Found {
            path: entry.path(),
            maker,
            not_ours,
        });
    }
    Ok(found)
}

/// The staging directories in `dir` that a run which no longer runs left
/// with a journal: a publish it did not finish.
pub fn unfinished(dir: &Path) -> Result<Vec<Found>> {
    Ok(staging_dirs(dir)?
        .into_iter()
        .filter(|f| !f.maker.running() && f.path.join(JOURNAL).symlink_metadata().is_ok())
        .collect())
}

/// This user's staging directories in `dir` whose runs no longer run.
pub fn left_by_the_dead(dir: &Path) -> Result<Vec<Found>> {
    Ok(staging_dirs(dir)?
        .into_iter()
        .filter(|f| f.not_ours.is_none() && !f.maker.running())
        .collect())
}

/// What a reader is told of a publish that a killed run left part way and
/// that this user cannot put back: another user's.
pub fn unfinished_error(dir: &Path, found: &Found) -> Error {
    Error::BadInput(format!(
        "{} holds a publish that pkiforge pid {} did not finish (it stopped while moving files into place), so its files may not belong together; {}: run a pkiforge command on {} as that user (pkiforge status {}), which puts the old files back first",
        dir.display(),
        found.maker.pid,
        found.not_ours.as_deref().unwrap_or("it is another user's"),
        dir.display(),
        dir.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_pid_start_and_boot() {
        let own = maker(&format!("{STAGING_PREFIX}{}-AbC12x", own_tag())).unwrap();
        assert_eq!(own.pid, std::process::id() as i32);
        assert!(own.started.is_some(), "{own:?}");
        assert!(own.running());
        assert_eq!(
            maker(".pkiforge-staging-4242-AbC12"),
            Some(Maker {
                pid: 4242,
                started: None
            })
        );
        assert_eq!(maker(".pkiforge-staging-x-1"), None);
        assert_eq!(maker(".pkiforge-staging-0-1"), None);
        assert_eq!(maker("ca.crt"), None);
    }

    #[test]
    fn a_reused_pid_or_another_boot_is_not_the_run_that_made_it() {
        let tag = own_tag();
        let parts: Vec<&str> = tag.split('-').collect();
        let (pid, start, boot) = (parts[0], parts[1], parts[2]);
        let later: u64 = start.parse::<u64>().unwrap() + 1;
        let reused = maker(&format!("{STAGING_PREFIX}{pid}-{later}-{boot}-xyz")).unwrap();
        assert!(!reused.running(), "same pid, another start time");
        let other_boot = maker(&format!("{STAGING_PREFIX}{pid}-{start}-0123456789ab-xyz")).unwrap();
        assert!(!other_boot.running(), "same pid and start, another boot");
        let gone = maker(&format!("{STAGING_PREFIX}999999999-{start}-{boot}-xyz")).unwrap();
        assert!(!gone.running());
    }
}
