//! The output directory: its lock, the private staging directory inside it,
//! and the transactional publish that moves a run's files into it.
//!
//! - A command that writes DIR takes `DIR/.pkiforge.lock` exclusively
//!   before it looks at what DIR holds, and keeps it until its files are in
//!   place; one that only reads DIR takes it shared ([`ReadLock`]).
//! - Steps run in `DIR/.pkiforge-staging-PID-START-BOOT-RANDOM`, 0700
//!   whatever the umask, on DIR's own filesystem, so that moving a file in
//!   is a rename.
//! - Publishing first writes a journal (journal.rs) of every move, with the
//!   identity of each file moved; then moves each original aside into the
//!   staging directory and the new file in, giving each the mode it must
//!   have (0600 for what holds a secret, 0644 otherwise) whatever the
//!   umask. Removing the journal is the commit. Until then, a failure, or a
//!   later run finding the journal of a killed one, puts every original
//!   back and takes out only the files it can prove are the new ones.
//!   Every step of that is safe to repeat, so a kill during the recovery is
//!   recovered by the next run too; the journal is removed last.
//! - Only a staging directory of this user, private, with pkiforge's name
//!   and whose maker no longer runs (stale.rs) is ever recovered or removed.

mod fsops;
mod journal;
mod lock;
mod owner;
mod rollback;
mod stale;

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::run::progress::Progress;
use crate::run::publish::fsops::{
    Fs, ORIGINALS, PRIVATE_DIR_MODE, RealFs, create_dirs, make_staging_parents, remove_dirs,
    remove_tree,
};
use crate::run::publish::rollback::{recover, roll_back};
use journal::{Entry, Identity, JOURNAL};
use lock::Kind;
use stale::{left_by_the_dead, staging_dirs, unfinished, unfinished_error};

pub use lock::LOCK_FILE;
pub use stale::STAGING_PREFIX;

/// The mode of every file pkiforge publishes that holds no secret.
pub const PUBLIC_MODE: u32 = 0o644;
/// The mode of a file that holds a private key or a secret.
pub const SECRET_MODE: u32 = crate::pki::names::KEY_MODE;

/// An output directory, locked for this run.
pub struct OutDir {
    pub path: PathBuf,
    lock: File,
    /// Directories this run created (DIR and its missing parents), deepest
    /// first: removed again unless the run publishes.
    created: Vec<PathBuf>,
    published: bool,
}

impl OutDir {
    /// Checks that `path` can hold a PKI, creates it if missing (0755
    /// whatever the umask), and takes its lock, waiting for another run.
    pub fn lock(path: &Path, progress: &Progress) -> Result<OutDir> {
        OutDir::lock_named(path, "--out", progress)
    }

    /// [`OutDir::lock`], its errors naming the option that gave `path`
    /// (`--trace`).
    pub fn lock_named(path: &Path, option: &str, progress: &Progress) -> Result<OutDir> {
        OutDir::lock_with(path, (option, false), progress)
    }

    /// [`OutDir::lock`] of a directory for a CA's key: made 0700, refused
    /// when it exists and others may read it.
    pub fn lock_private(path: &Path, progress: &Progress) -> Result<OutDir> {
        OutDir::lock_with(path, ("--out", true), progress)
    }

    fn lock_with(
        path: &Path,
        (option, private): (&str, bool),
        progress: &Progress,
    ) -> Result<OutDir> {
        loop {
            let created = prepare(path, option, private)?;
            let file = lock::open(path).inspect_err(|_| remove_dirs(&created))?;
            // Interrupted while waiting: the lock, its file and DIR are
            // the holder's; nothing is removed.
            lock::wait(&file, Kind::Exclusive, path, progress)?;
            let mut out = OutDir {
                path: path.to_path_buf(),
                lock: file,
                created,
                published: false,
            };
            // The run before may have finished and removed the lock file (or
            // DIR) while this one waited: then this lock guards nothing.
            if lock::same_file(&out.lock, &path.join(LOCK_FILE)) {
                return Ok(out);
            }
            // A lock on a file that is gone: nothing to remove (dropped, it
            // removes no lock file but its own); try again.
            out.created.clear();
        }
    }

    /// Recovers and removes the staging directories of runs that are no
    /// longer running: first putting back what a run killed while
    /// publishing had moved. Returns what it did, one line each.
    pub fn clean_stale(&self) -> Result<Vec<String>> {
        let mut said = Vec::new();
        for found in staging_dirs(&self.path)? {
            if found.maker.running() {
                continue;
            }
            let (dir, pid) = (&found.path, found.maker.pid);
            if let Some(why) = &found.not_ours {
                said.push(format!("left {} alone: {why}", dir.display()));
                continue;
            }
            let done = recover(dir, &self.path, &RealFs).map_err(|why| {
                Error::BadInput(format!(
                    "cannot put back the files that pkiforge pid {pid} was publishing when it stopped: {why}; they are in {}",
                    dir.display()
                ))
            })?;
            said.push(format!(
                "removed {}, left by pkiforge pid {pid}, which is no longer running{}",
                dir.display(),
                done.said()
            ));
        }
        Ok(said)
    }

    /// A new staging directory in DIR, mode 0700.
    pub fn staging(&self) -> Result<Staging> {
        let cannot = |e| {
            Error::io(
                format!(
                    "cannot create a staging directory in {}",
                    self.path.display()
                ),
                e,
            )
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{}-", stale::own_tag()))
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(&self.path)
            .map_err(cannot)?;
        let staging = Staging {
            path: dir.keep(),
            out: self.path.clone(),
        };
        // mkdir's mode is masked by the umask, never widened; make sure.
        fs::set_permissions(&staging.path, fs::Permissions::from_mode(0o700)).map_err(cannot)?;
        Ok(staging)
    }

    /// Moves `files` from `staging` into DIR (those in `secrets` mode 0600,
    /// the others 0644) and takes `removes` out of it, all or nothing.
    pub fn publish(
        &mut self,
        staging: &Path,
        files: &[PathBuf],
        secrets: &[PathBuf],
        removes: &[PathBuf],
    ) -> Result<()> {
        publish(staging, &self.path, files, secrets, removes, &RealFs)?;
        self.published = true;
        Ok(())
    }
}

impl Drop for OutDir {
    /// Removes the lock file (while still holding the lock, so a waiting run
    /// sees it is gone and starts again), and the directories this run
    /// created unless it published into them.
    fn drop(&mut self) {
        lock::remove_if_held(&self.lock, &self.path);
        if !self.published {
            remove_dirs(&self.created);
        }
    }
}

/// A staging directory of this run. Dropped, it is recovered as a stale
/// one would be (a publish that failed is put back, again if need be) and
/// removed; what cannot be put back stays in it, for the next run.
pub struct Staging {
    path: PathBuf,
    out: PathBuf,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = recover(&self.path, &self.out, &RealFs);
    }
}

/// A read-only command's hold on DIR: shared with other readers, never
/// while a command writes DIR. A publish that a killed run left unfinished
/// is put back first, under the exclusive lock; one this user cannot put
/// back (another user's) is refused, saying so.
pub struct ReadLock {
    held: Option<Held>,
}

enum Held {
    Shared { file: File, dir: PathBuf },
    Exclusive(#[allow(dead_code)] OutDir),
}

impl ReadLock {
    /// Takes `dir`'s lock shared, waiting for a run that writes it. Not a
    /// directory: nothing to hold (the command says what is wrong).
    pub fn take(dir: &Path, progress: &Progress) -> Result<ReadLock> {
        if !dir.is_dir() {
            return Ok(ReadLock { held: None });
        }
        loop {
            let stale = unfinished(dir)?;
            // A dead run's staging directory of this user's, journal or not,
            // is put back and removed first: it may hold copies of keys.
            if stale.iter().any(|s| s.not_ours.is_none()) || !left_by_the_dead(dir)?.is_empty() {
                let out = OutDir::lock(dir, progress)?;
                for line in out.clean_stale()? {
                    progress.say(&format!("note: {line}"));
                }
                return Ok(ReadLock {
                    held: Some(Held::Exclusive(out)),
                });
            }
            if let Some(theirs) = stale.first() {
                return Err(unfinished_error(dir, theirs));
            }
            let Some(file) = lock::open_to_read(dir)? else {
                return Ok(ReadLock { held: None });
            };
            lock::wait(&file, Kind::Shared, dir, progress)?;
            // The lock file gone while this one waited, or the run that held
            // it killed part way: look again.
            if !lock::same_file(&file, &dir.join(LOCK_FILE)) || !unfinished(dir)?.is_empty() {
                continue;
            }
            let held = Some(Held::Shared {
                file,
                dir: dir.to_path_buf(),
            });
            return Ok(ReadLock { held });
        }
    }
}

impl Drop for ReadLock {
    /// The last reader removes the lock file, as a writer does: only when it
    /// can take the lock exclusively, so never under another's feet.
    fn drop(&mut self) {
        if let Some(Held::Shared { file, dir }) = &self.held
            && lock::try_lock(file, Kind::Exclusive).unwrap_or(false)
        {
            lock::remove_if_held(file, dir);
        }
    }
}

/// Checks the output path and creates it and its parents if missing;
/// returns the directories created, deepest first. A directory another user
/// may change is refused (owner.rs): they could swap the files of a PKI.
fn prepare(path: &Path, option: &str, private: bool) -> Result<Vec<PathBuf>> {
    let unusable = |why: String| Error::Usage(format!("{option} {}: {why}", path.display()));
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(unusable(
                    "is a symbolic link to something that is not a directory; name a directory"
                        .into(),
                ));
            }
            Err(_) => {
                return Err(unusable(format!(
                    "is a symbolic link to {}, which does not exist; create that directory or name another",
                    fs::read_link(path).map_or("nothing".into(), |t| t.display().to_string())
                )));
            }
        },
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(unusable(
                "is a file, not a directory; name a directory".into(),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let created = create_dirs(path, private)?;
            if let Some(why) = owner::others_may_change(path) {
                remove_dirs(&created);
                return Err(unusable(why));
            }
            return Ok(created);
        }
        Err(e) => return Err(Error::io(format!("cannot use {}", path.display()), e)),
    }
    if let Some(why) = owner::others_may_change(path) {
        return Err(unusable(why));
    }
    match fs::metadata(path).map(|m| m.permissions().mode() & 0o077) {
        Ok(open) if private && open != 0 => Err(unusable(format!(
            "others may read it (mode {:04o}), and it would hold a CA's private key; chmod 700 it, or name a new directory",
            0o700 | open
        ))),
        _ => Ok(Vec::new()),
    }
}

/// Writes one file outside any PKI directory (the profile of `init`, a
/// report given `--out` elsewhere), where pkiforge neither locks nor cleans
/// anything: whole or not at all (a temp file beside it, renamed into
/// place), 0644 whatever the umask, and never through a symbolic link; a
/// missing directory is made (0755). Without `replace`, a file already
/// there is refused.
pub fn write_file(target: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::Usage(format!(
                "{} is a symbolic link; pkiforge does not write through one. Remove it, or name the file it points to",
                target.display()
            )));
        }
        Ok(m) if m.is_dir() => {
            return Err(Error::Usage(format!(
                "{} is a directory; name a file",
                target.display()
            )));
        }
        _ => {}
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let created = match fs::symlink_metadata(parent) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_dirs(parent, false)?,
        _ => Vec::new(),
    };
    let written = write_beside(target, parent, bytes, replace);
    if written.is_err() {
        remove_dirs(&created);
    }
    written
}

/// [`write_file`] once `parent`, the directory of `target`, exists.
fn write_beside(target: &Path, parent: &Path, bytes: &[u8], replace: bool) -> Result<()> {
    let cannot = |e| Error::io(format!("cannot write {}", target.display()), e);
    let mut temp = tempfile::Builder::new()
        .prefix(".pkiforge-write-")
        .tempfile_in(parent)
        .map_err(cannot)?;
    temp.write_all(bytes)
        .and_then(|_| {
            temp.as_file()
                .set_permissions(fs::Permissions::from_mode(PUBLIC_MODE))
        })
        .and_then(|_| temp.as_file().sync_all())
        .map_err(cannot)?;
    let placed = if replace {
        temp.persist(target)
    } else {
        temp.persist_noclobber(target)
    };
    placed.map(|_| ()).map_err(|e| match e.error.kind() {
        std::io::ErrorKind::AlreadyExists => Error::Usage(format!(
            "{} exists; choose another path or pass --force to overwrite it",
            target.display()
        )),
        _ => cannot(e.error),
    })
}

/// Moves each of `files` from `staging` into `out` (the original, if any,
/// aside into `staging/.originals`, then the new file in, with its final
/// mode; a missing directory such as `archive/SERIAL` made 0700), and each
/// of `removes` aside. All or nothing: on a failure every original is put
/// back. On success the originals are removed; on failure the journal stays
/// for the staging directory's own recovery to finish and remove.
pub fn publish(
    staging: &Path,
    out: &Path,
    files: &[PathBuf],
    secrets: &[PathBuf],
    removes: &[PathBuf],
    fs_ops: &impl Fs,
) -> Result<()> {
    let entries = plan_moves(staging, out, files, secrets, removes, fs_ops)?;
    let originals = staging.join(ORIGINALS);
    fs_ops
        .mkdir(&originals, PRIVATE_DIR_MODE)
        .and_then(|_| fs_ops.write_journal(staging, &entries))
        .map_err(|e| Error::io("cannot write the publish journal", e))?;
    for entry in &entries {
        if let Err(e) = apply(staging, out, entry, fs_ops) {
            return Err(match roll_back(staging, out, &entries, fs_ops) {
                Ok(_) => e,
                Err(back) => Error::io(
                    format!(
                        "{e}; and putting the originals back failed, they are in {}",
                        originals.display()
                    ),
                    back,
                ),
            });
        }
    }
    // The commit: once the journal is gone, the new files stand.
    fs_ops
        .remove_file(&staging.join(JOURNAL))
        .map_err(|e| Error::io("cannot finish the publish", e))?;
    let _ = remove_tree(&originals, fs_ops);
    Ok(())
}

/// The journal of a publish: checks every path, gives each staged file its
/// final mode, and notes the identity of each file it will move. Nothing in
/// `out` is touched.
fn plan_moves(
    staging: &Path,
    out: &Path,
    files: &[PathBuf],
    secrets: &[PathBuf],
    removes: &[PathBuf],
    fs_ops: &impl Fs,
) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for f in files {
        for dir in missing_parents(out, f)? {
            if !entries.contains(&Entry::MadeDir { dir: dir.clone() }) {
                entries.push(Entry::MadeDir { dir });
            }
        }
        let staged = staging.join(f);
        let not_staged = |e| Error::io(format!("cannot publish {}", staged.display()), e);
        let meta = fs::symlink_metadata(&staged).map_err(not_staged)?;
        if !meta.is_file() {
            return Err(Error::BadInput(format!(
                "{} is not a regular file; pkiforge publishes regular files only",
                staged.display()
            )));
        }
        let mode = if secrets.contains(f) {
            SECRET_MODE
        } else {
            PUBLIC_MODE
        };
        fs_ops.chmod(&staged, mode).map_err(not_staged)?;
        entries.push(Entry::Put {
            file: f.clone(),
            new: Identity::at(&staged),
            original: original(out, f)?,
        });
    }
    for f in removes {
        missing_parents(out, f)?;
        // A removal may take a whole directory (`run --force`: archive/).
        if let Some(id) = existing(out, f)? {
            entries.push(Entry::Remove {
                file: f.clone(),
                original: Some(id),
            });
        }
    }
    Ok(entries)
}

/// The identity of `out/f`, if there is a file there; a directory is refused.
fn original(out: &Path, f: &Path) -> Result<Option<Identity>> {
    let target = out.join(f);
    if fs::symlink_metadata(&target).is_ok_and(|meta| meta.is_dir()) {
        return Err(Error::Usage(format!(
            "{} is a directory; pkiforge writes a file there. Move it away",
            target.display()
        )));
    }
    existing(out, f)
}

/// The identity of whatever stands at `out/f`, file or directory.
fn existing(out: &Path, f: &Path) -> Result<Option<Identity>> {
    let target = out.join(f);
    match fs::symlink_metadata(&target) {
        Ok(meta) => Ok(Some(Identity::of(&meta))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("cannot use {}", target.display()), e)),
    }
}

/// The directories above `out/f` that are missing, shallowest first. `f`
/// must be a plain relative name, and every directory above it in `out`
/// a real directory: a link there could lead out of DIR.
fn missing_parents(out: &Path, f: &Path) -> Result<Vec<PathBuf>> {
    if !journal::is_inside(f) {
        return Err(Error::BadInput(format!(
            "{} is not a file name inside {}; pkiforge publishes nothing else",
            f.display(),
            out.display()
        )));
    }
    let mut missing = Vec::new();
    let mut dir = PathBuf::new();
    for part in f.parent().into_iter().flat_map(Path::components) {
        dir.push(part);
        if !missing.is_empty() {
            missing.push(dir.clone());
            continue;
        }
        match fs::symlink_metadata(out.join(&dir)) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Usage(format!(
                    "{} is not a directory (a file or a symbolic link), and pkiforge writes {} there; move it away",
                    out.join(&dir).display(),
                    f.display()
                )));
            }
            Err(_) => missing.push(dir.clone()),
        }
    }
    Ok(missing)
}

/// Makes one change of a publish.
fn apply(staging: &Path, out: &Path, entry: &Entry, fs_ops: &impl Fs) -> Result<()> {
    match entry {
        Entry::MadeDir { dir } => fs_ops
            .mkdir(&out.join(dir), PRIVATE_DIR_MODE)
            .map_err(|e| Error::io(format!("cannot create {}", out.join(dir).display()), e)),
        Entry::Put { file, original, .. } => {
            if original.is_some() {
                move_aside(staging, out, file, fs_ops)?;
            }
            let target = out.join(file);
            fs_ops
                .rename(&staging.join(file), &target)
                .map_err(|e| Error::io(format!("cannot write {}", target.display()), e))
        }
        Entry::Remove { file, .. } => move_aside(staging, out, file, fs_ops),
    }
}

/// Moves `out/f` aside into the staging directory's originals.
fn move_aside(staging: &Path, out: &Path, f: &Path, fs_ops: &impl Fs) -> Result<()> {
    let target = out.join(f);
    let aside = staging.join(ORIGINALS).join(f);
    make_staging_parents(staging, &aside, fs_ops)
        .and_then(|_| fs_ops.rename(&target, &aside))
        .map_err(|e| Error::io(format!("cannot move aside {}", target.display()), e))
}

#[cfg(test)]
mod tests;
