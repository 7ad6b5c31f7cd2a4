//! Undoing a publish from its journal: what a failed publish does at once,
//! and what the next command does for a run that was killed part way.
//! Every step can be repeated, so a kill during the recovery is recovered
//! by the next command too; the journal is removed last.

use std::fs;
use std::path::Path;

use crate::run::publish::fsops::{Fs, ORIGINALS, make_staging_parents, remove_tree};
use crate::run::publish::journal::{self, Entry, Identity, JOURNAL};

/// What a rollback did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Undone {
    /// Originals put back.
    pub restored: usize,
    /// New files taken out of DIR.
    pub taken_out: usize,
    /// Whether there was a journal to undo.
    pub journal: bool,
}

impl Undone {
    pub fn said(&self) -> &'static str {
        match self {
            Undone { journal: false, .. } => "",
            Undone {
                restored: 0,
                taken_out: 0,
                ..
            } => " (it had stopped while publishing, and nothing here needed putting back)",
            _ => " (it had stopped while publishing: the files it replaced are back)",
        }
    }
}

/// Puts `out` back as it was before the publish `entries` describe, from
/// what the filesystem shows: a new file is taken out only if it is, by its
/// identity, the one the publish moved in; an original waiting in
/// `.originals` goes back only where nothing else is. Repeating it changes
/// nothing more, so a kill part way is recovered by running it again.
pub fn roll_back(
    staging: &Path,
    out: &Path,
    entries: &[Entry],
    fs_ops: &impl Fs,
) -> std::io::Result<Undone> {
    let mut undone = Undone {
        journal: true,
        ..Undone::default()
    };
    let mut first_error = None;
    for entry in entries.iter().rev() {
        let done = match entry {
            Entry::MadeDir { dir } => {
                remove_made_dir(out, dir, fs_ops);
                Ok(())
            }
            Entry::Put { file, new, .. } => take_out(staging, out, file, *new, fs_ops)
                .map(|took| undone.taken_out += usize::from(took))
                .and_then(|_| put_back(staging, out, file, fs_ops))
                .map(|back| undone.restored += usize::from(back)),
            Entry::Remove { file, .. } => put_back(staging, out, file, fs_ops)
                .map(|back| undone.restored += usize::from(back)),
        };
        if let Err(e) = done {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(undone), Err)
}

/// Moves `out/file` back into staging if it is the new file `new`.
fn take_out(
    staging: &Path,
    out: &Path,
    file: &Path,
    new: Option<Identity>,
    fs_ops: &impl Fs,
) -> std::io::Result<bool> {
    let target = out.join(file);
    let Some(new) = new else {
        return Ok(false);
    };
    if Identity::at(&target) != Some(new) || !stays_inside(out, file) {
        return Ok(false);
    }
    let staged = staging.join(file);
    make_staging_parents(staging, &staged, fs_ops)?;
    fs_ops.rename(&target, &staged)?;
    Ok(true)
}

/// Moves the original of `file`, if it waits in `.originals`, back to
/// `out/file`; an error if something else is there now.
fn put_back(staging: &Path, out: &Path, file: &Path, fs_ops: &impl Fs) -> std::io::Result<bool> {
    let original = staging.join(ORIGINALS).join(file);
    if fs::symlink_metadata(&original).is_err() {
        return Ok(false);
    }
    let target = out.join(file);
    if fs::symlink_metadata(&target).is_ok() || !stays_inside(out, file) {
        return Err(std::io::Error::other(format!(
            "{} is in the way of the original it replaced, which is {}",
            target.display(),
            original.display()
        )));
    }
    fs_ops.rename(&original, &target)?;
    Ok(true)
}

/// Removes `out/dir`, which the publish made, if it is empty.
fn remove_made_dir(out: &Path, dir: &Path, fs_ops: &impl Fs) {
    let path = out.join(dir);
    let real_dir = fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
    if real_dir && stays_inside(out, dir) {
        let _ = fs_ops.remove_dir(&path);
    }
}

/// Whether every directory above `out/file` that exists is a real
/// directory, so that the path cannot lead out of `out`.
fn stays_inside(out: &Path, file: &Path) -> bool {
    let mut dir = out.to_path_buf();
    for part in file.parent().into_iter().flat_map(Path::components) {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return false,
            Err(_) => return true,
        }
    }
    true
}

/// Why a staging directory could not be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// A file could not be put back (the journal is kept).
    #[error(transparent)]
    Undo(std::io::Error),
    #[error("cannot remove {}: {source}", staging.display())]
    Remove {
        staging: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// Recovers the staging directory `staging` of `out`: undoes the publish
/// its journal describes, if any, and removes it, the journal last. `Err`
/// (and the directory kept) when something could not be put back.
pub fn recover(
    staging: &Path,
    out: &Path,
    fs_ops: &impl Fs,
) -> std::result::Result<Undone, RecoverError> {
    let undone = match journal::read(staging)? {
        Some(entries) => roll_back(staging, out, &entries, fs_ops).map_err(RecoverError::Undo)?,
        None => Undone::default(),
    };
    let cannot = |source: std::io::Error| RecoverError::Remove {
        staging: staging.to_path_buf(),
        source,
    };
    // An openssl the dead run started dies with it (PR_SET_PDEATHSIG), but
    // one caught creating a file may finish that file after the listing:
    // then the directory is listed and emptied again, a few times.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let entries = fs::read_dir(staging).map_err(cannot)?;
        for entry in entries.flatten() {
            if entry.file_name() != JOURNAL {
                remove_tree(&entry.path(), fs_ops).map_err(cannot)?;
            }
        }
        match fs_ops.remove_file(&staging.join(JOURNAL)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(cannot(e)),
            _ => {}
        }
        match fs_ops.remove_dir(staging) {
            Err(e) if e.kind() == std::io::ErrorKind::DirectoryNotEmpty && attempt < EMPTYING => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            done => return done.map(|()| undone).map_err(cannot),
        }
    }
}

/// How many times a dead run's staging directory is emptied before its
/// recovery gives up (and keeps it, for the next command to try again).
const EMPTYING: u32 = 10;
