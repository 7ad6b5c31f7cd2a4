//! The publish journal: what a publish is about to do, with the identity of
//! every file it moves, written (whole, then renamed into place) before the
//! first move. A rollback reads it to put DIR back, and moves a file out of
//! DIR only when the file there is, by its identity, the one the publish
//! moved in: never a file it cannot prove is that run's.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The journal's name inside a staging directory.
pub use crate::pki::names::JOURNAL;
/// What the first line of a journal says (journals of older pkiforge
/// versions have no such line: `put FILE` and `remove FILE` only).
const HEADER: &str = "pkiforge publish journal 2";
/// A journal is a few lines per file: anything larger is not one.
const MAX_BYTES: u64 = 4 << 20;

/// Which file is at a path: device, inode, size and modification time. A
/// rename keeps all four; another file has another inode, or, were an inode
/// reused, almost surely another size or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Identity {
    pub fn of(meta: &fs::Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }

    /// The identity of what is at `path` (not following a symbolic link).
    pub fn at(path: &Path) -> Option<Identity> {
        fs::symlink_metadata(path).ok().map(|m| Identity::of(&m))
    }
}

/// One thing a publish does, in the order it does them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// Creates the directory `DIR/dir`, which was missing.
    MadeDir { dir: PathBuf },
    /// Moves `DIR/file` (`original`, if there was one) aside, then the
    /// staged file (`new`) in. `new` is unknown only in an old journal.
    Put {
        file: PathBuf,
        new: Option<Identity>,
        original: Option<Identity>,
    },
    /// Moves `DIR/file` aside.
    Remove {
        file: PathBuf,
        original: Option<Identity>,
    },
}

impl Entry {
    pub fn path(&self) -> &Path {
        match self {
            Entry::MadeDir { dir } => dir,
            Entry::Put { file, .. } | Entry::Remove { file, .. } => file,
        }
    }
}

/// Whether `path` names something inside DIR: relative, made of plain
/// names only (no `..`, no `.`, not absolute), and none of pkiforge's own
/// (the lock, a staging directory).
pub fn is_inside(path: &Path) -> bool {
    let bytes = path.as_os_str().as_bytes();
    !bytes.is_empty()
        && !bytes.starts_with(b".pkiforge")
        && bytes
            .split(|&b| b == b'/')
            .all(|part| !part.is_empty() && part != b"." && part != b"..")
}

/// Writes the journal into `staging`: whole into a temp file, synced, then
/// renamed, so that a journal is either all there or not at all.
pub fn write(staging: &Path, entries: &[Entry]) -> std::io::Result<()> {
    let mut text = format!("{HEADER}\n");
    for entry in entries {
        text.push_str(&serde_json::to_string(entry).map_err(std::io::Error::other)?);
        text.push('\n');
    }
    let part = staging.join(format!("{JOURNAL}.part"));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&part)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    fs::rename(&part, staging.join(JOURNAL))
}

/// What is wrong with a publish journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a publish journal (not a regular file, or too large)", path.display())]
    NotAJournal { path: PathBuf },
    #[error("{}: {entry}", path.display())]
    Entry { path: PathBuf, entry: EntryError },
}

/// A line of a journal that is not an entry pkiforge writes.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("line {line}: {source}")]
    Json {
        line: usize,
        source: serde_json::Error,
    },
    #[error("line {line}: not a journal entry")]
    Unknown { line: usize },
    #[error(
        "line {line}: {} is not a file inside the directory; pkiforge never writes such an entry",
        file.display()
    )]
    Outside { line: usize, file: PathBuf },
}

/// Reads the journal of `staging`, if it has one: a regular file, not a
/// link, of bounded size, whose every entry stays inside DIR. `Err` says
/// what is wrong with it.
pub fn read(staging: &Path) -> Result<Option<Vec<Entry>>, JournalError> {
    let path = staging.join(JOURNAL);
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path);
    let mut file: File = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(JournalError::Open { path, source }),
    };
    let meta = match file.metadata() {
        Ok(meta) => meta,
        Err(source) => return Err(JournalError::Read { path, source }),
    };
    if !meta.is_file() || meta.len() > MAX_BYTES {
        return Err(JournalError::NotAJournal { path });
    }
    let mut text = String::new();
    if let Err(source) = file.read_to_string(&mut text) {
        return Err(JournalError::Read { path, source });
    }
    parse(&text)
        .map(Some)
        .map_err(|entry| JournalError::Entry { path, entry })
}

/// The entries of a journal's text (this version's, or an older one's).
pub fn parse(text: &str) -> Result<Vec<Entry>, EntryError> {
    let mut lines = text.lines().enumerate().peekable();
    let current = lines.peek().is_some_and(|(_, l)| *l == HEADER);
    if current {
        lines.next();
    }
    let mut entries = Vec::new();
    for (i, line) in lines {
        let entry = if current {
            serde_json::from_str(line).map_err(|source| EntryError::Json {
                line: i + 1,
                source,
            })?
        } else if let Some(f) = line.strip_prefix("put ") {
            Entry::Put {
                file: PathBuf::from(f),
                new: None,
                original: None,
            }
        } else if let Some(f) = line.strip_prefix("remove ") {
            Entry::Remove {
                file: PathBuf::from(f),
                original: None,
            }
        } else {
            return Err(EntryError::Unknown { line: i + 1 });
        };
        if !is_inside(entry.path()) {
            return Err(EntryError::Outside {
                line: i + 1,
                file: entry.path().to_path_buf(),
            });
        }
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_are_inside() {
        for good in ["ca.key", "archive/1A/server.key", "export/x.p12"] {
            assert!(is_inside(Path::new(good)), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../ca.key",
            "archive/../../x",
            "./ca.key",
            "a/./b",
            ".pkiforge.lock",
            ".pkiforge-staging-1-x/ca.key",
        ] {
            assert!(!is_inside(Path::new(bad)), "{bad}");
        }
    }

    #[test]
    fn a_journal_reads_back_as_written() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("a"), "a").unwrap();
        let id = Identity::at(&tmp.path().join("a"));
        let entries = vec![
            Entry::MadeDir {
                dir: "archive/1".into(),
            },
            Entry::Put {
                file: "archive/1/a b".into(),
                new: id,
                original: None,
            },
            Entry::Remove {
                file: "c".into(),
                original: id,
            },
        ];
        write(tmp.path(), &entries).unwrap();
        assert_eq!(
            read(tmp.path()).map_err(|e| e.to_string()),
            Ok(Some(entries))
        );
        assert!(!tmp.path().join("publish.journal.part").exists());
    }

    #[test]
    fn an_old_journal_is_read_without_identities() {
        assert_eq!(
            parse("put ca.key\nremove old.crt\n").map_err(|e| e.to_string()),
            Ok(vec![
                Entry::Put {
                    file: "ca.key".into(),
                    new: None,
                    original: None
                },
                Entry::Remove {
                    file: "old.crt".into(),
                    original: None
                },
            ])
        );
    }

    #[test]
    fn entries_that_leave_the_directory_are_refused() {
        assert_eq!(
            parse("put ../../etc/shadow\n").map_err(|e| e.to_string()),
            Err("line 1: ../../etc/shadow is not a file inside the directory; pkiforge never writes such an entry".into())
        );
        assert_eq!(
            parse("remove /root/.ssh/id_rsa\n").map_err(|e| e.to_string()),
            Err("line 1: /root/.ssh/id_rsa is not a file inside the directory; pkiforge never writes such an entry".into())
        );
        assert_eq!(
            parse("rename a b\n").map_err(|e| e.to_string()),
            Err("line 1: not a journal entry".into())
        );
    }
}
