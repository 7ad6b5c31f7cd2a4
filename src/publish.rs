//! The output directory: its lock, the private staging directory inside it,
//! and the transactional publish that moves a run's files into it.
//!
//! - A run takes `DIR/.pkiforge.lock` (a POSIX record lock) before it
//!   looks at what DIR holds, and keeps it until its files are in place, so
//!   two runs on one DIR take turns; the second re-checks what it would
//!   overwrite.
//! - Steps run in `DIR/.pkiforge-staging-PID-RANDOM`, made 0700 whatever the
//!   umask, on DIR's own filesystem, so that moving a file in is a rename.
//! - Publishing first writes a journal of the files it moves, moves each
//!   original aside into the staging directory, then the new file in. On any
//!   failure it puts every original back; the journal lets a later run do
//!   the same for a run that was killed part-way.

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::signals;

/// The lock file in an output directory.
pub const LOCK_FILE: &str = ".pkiforge.lock";
/// What a staging directory's name starts with.
pub const STAGING_PREFIX: &str = ".pkiforge-staging-";
/// The list of files a publish moves, written before the first move.
const JOURNAL: &str = "publish.journal";
/// Where the originals wait, inside the staging directory.
const ORIGINALS: &str = ".originals";
/// How often a waiting run tries the lock again.
const RETRY: Duration = Duration::from_millis(50);

/// An output directory, locked for this run.
pub struct OutDir {
    pub path: PathBuf,
    lock: File,
    /// Directories this run created (DIR and its missing parents), deepest
    /// first: removed again unless the run publishes.
    created: Vec<PathBuf>,
    published: bool,
    /// Whether this run holds the lock: only then may it remove the lock
    /// file (a waiting run must never remove the holder's).
    held: bool,
}

impl OutDir {
    /// Checks that `path` can hold a PKI, creates it if missing (never group-
    /// or world-writable), and takes its lock, waiting for another run.
    pub fn lock(path: &Path, progress: &Progress) -> Result<OutDir> {
        let mut said_waiting = false;
        loop {
            let created = prepare(path)?;
            let lock_path = path.join(LOCK_FILE);
            let file = open_lock(&lock_path).inspect_err(|_| remove_dirs(&created))?;
            let mut out = OutDir {
                path: path.to_path_buf(),
                lock: file,
                created,
                published: false,
                held: false,
            };
            loop {
                // Interrupted while waiting: the lock, its file and DIR are
                // the holder's; nothing is removed.
                if let Err(e) = signals::check() {
                    out.created.clear();
                    return Err(e);
                }
                match try_lock(&out.lock) {
                    Ok(true) => break,
                    Ok(false) => {
                        if !said_waiting {
                            let holder = lock_holder(&out.lock)
                                .map_or(String::new(), |pid| format!(" (pid {pid})"));
                            progress.say(&format!(
                                "waiting for another pkiforge run on {}{holder}",
                                path.display()
                            ));
                            said_waiting = true;
                        }
                        std::thread::sleep(RETRY);
                    }
                    Err(e) => {
                        return Err(Error::io(format!("cannot lock {}", lock_path.display()), e));
                    }
                }
            }
            // The run before may have finished and removed the lock file (or
            // DIR) while this one waited: then this lock guards nothing.
            if same_file(&out.lock, &lock_path) {
                out.held = true;
                return Ok(out);
            }
            // A lock on a file that is gone: nothing to remove; try again.
            out.created.clear();
        }
    }

    /// Removes the staging directories of runs that are no longer running,
    /// first putting back what a run killed while publishing had moved.
    /// Returns what it did, one line each.
    pub fn clean_stale(&self) -> Result<Vec<String>> {
        let mut said = Vec::new();
        let entries = fs::read_dir(&self.path)
            .map_err(|e| Error::io(format!("cannot read {}", self.path.display()), e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = staging_pid(&name) else {
                continue;
            };
            if process_alive(pid) {
                continue;
            }
            let dir = entry.path();
            let restored = if dir.join(JOURNAL).is_file() {
                let (files, removes) = read_journal(&dir)?;
                roll_back(&dir, &self.path, &files, &removes, &RealFs).map_err(|e| {
                    Error::io(
                        format!(
                            "cannot put back the files that pkiforge pid {pid} was publishing when it stopped; they are in {}",
                            dir.display()
                        ),
                        e,
                    )
                })?;
                " (it had stopped while publishing: the files it replaced are back)"
            } else {
                ""
            };
            fs::remove_dir_all(&dir)
                .map_err(|e| Error::io(format!("cannot remove {}", dir.display()), e))?;
            said.push(format!(
                "removed {}, left by pkiforge pid {pid}, which is no longer running{restored}",
                dir.display()
            ));
        }
        Ok(said)
    }

    /// A new staging directory in DIR, mode 0700.
    pub fn staging(&self) -> Result<tempfile::TempDir> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{}-", std::process::id()))
            .permissions(fs::Permissions::from_mode(0o700))
            .tempdir_in(&self.path)
            .map_err(|e| {
                Error::io(
                    format!(
                        "cannot create a staging directory in {}",
                        self.path.display()
                    ),
                    e,
                )
            })?;
        // mkdir's mode is masked by the umask, never widened; make sure.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("cannot make the staging directory private", e))?;
        Ok(dir)
    }

    /// Moves `files` from `staging` into DIR and takes `removes` out of
    /// it, all or nothing.
    pub fn publish(
        &mut self,
        staging: &Path,
        files: &[PathBuf],
        removes: &[PathBuf],
    ) -> Result<()> {
        publish(staging, &self.path, files, removes, &RealFs)?;
        self.published = true;
        Ok(())
    }

    fn forget_lock_file_if_ours(&mut self, keep_dirs: bool) {
        let lock_path = self.path.join(LOCK_FILE);
        if self.held && same_file(&self.lock, &lock_path) {
            let _ = fs::remove_file(&lock_path);
        }
        if !keep_dirs {
            remove_dirs(&self.created);
        }
        self.created.clear();
    }
}

impl Drop for OutDir {
    /// Removes the lock file (while still holding the lock, so a waiting run
    /// sees it is gone and starts again), and the directories this run
    /// created unless it published into them.
    fn drop(&mut self) {
        let keep = self.published;
        self.forget_lock_file_if_ours(keep);
    }
}

/// Checks the output path and creates it and its parents if missing;
/// returns the directories created, deepest first.
fn prepare(path: &Path) -> Result<Vec<PathBuf>> {
    let unusable = |why: String| Error::Usage(format!("--out {}: {why}", path.display()));
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => match fs::metadata(path) {
            Ok(m) if m.is_dir() => Ok(Vec::new()),
            Ok(_) => Err(unusable(
                "is a symbolic link to something that is not a directory; name a directory".into(),
            )),
            Err(_) => Err(unusable(format!(
                "is a symbolic link to {}, which does not exist; create that directory or name another",
                fs::read_link(path).map_or("nothing".into(), |t| t.display().to_string())
            ))),
        },
        Ok(meta) if meta.is_dir() => Ok(Vec::new()),
        Ok(_) => Err(unusable(
            "is a file, not a directory; name a directory".into(),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_dirs(path),
        Err(e) => Err(Error::io(format!("cannot use {}", path.display()), e)),
    }
}

/// Creates `path` and its missing parents, never group- or world-writable
/// whatever the umask; returns them deepest first.
fn create_dirs(path: &Path) -> Result<Vec<PathBuf>> {
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
        let made = fs::DirBuilder::new().mode(0o755).create(d).and_then(|_| {
            let mode = fs::metadata(d)?.permissions().mode() & 0o7777 & !0o022;
            fs::set_permissions(d, fs::Permissions::from_mode(mode))
        });
        if let Err(e) = made {
            remove_dirs(&missing[i + 1..]);
            return Err(Error::io(format!("cannot create {}", d.display()), e));
        }
    }
    Ok(missing)
}

fn remove_dirs(dirs: &[PathBuf]) {
    for d in dirs {
        let _ = fs::remove_dir(d);
    }
}

fn open_lock(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| {
            Error::io(
                format!(
                    "cannot write in {}; pkiforge needs to write there",
                    path.parent().unwrap_or(path).display()
                ),
                e,
            )
        })
}

fn lock_request(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is plain old data; all-zero is a valid value.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl
}

/// Takes the lock if it is free: `Ok(false)` when another process holds it.
fn try_lock(file: &File) -> std::io::Result<bool> {
    let fl = lock_request(libc::F_WRLCK as libc::c_short);
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

/// The pid of the process holding the lock, if the system says.
fn lock_holder(file: &File) -> Option<i32> {
    let mut fl = lock_request(libc::F_WRLCK as libc::c_short);
    // SAFETY: fcntl(2) F_GETLK writes into the flock struct it is given.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut fl) };
    (r == 0 && fl.l_type != libc::F_UNLCK as libc::c_short && fl.l_pid > 0).then_some(fl.l_pid)
}

/// Whether the open `file` is still the file at `path`.
fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// The pid in a staging directory's name, `.pkiforge-staging-PID-RANDOM`.
fn staging_pid(name: &str) -> Option<i32> {
    name.strip_prefix(STAGING_PREFIX)?
        .split('-')
        .next()?
        .parse()
        .ok()
}

fn process_alive(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// The one filesystem operation a publish makes, behind a seam so that the
/// tests can make any move fail.
pub trait Rename {
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()>;
}

pub struct RealFs;

impl Rename for RealFs {
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        fs::rename(from, to)
    }
}

/// Moves each of `files` from `staging` into `out` (the original, if any,
/// aside into `staging/.originals`, then the new file in; a missing
/// directory such as `archive/SERIAL` made 0700), and each of `removes`
/// aside. All or nothing: on a failure every original is put back.
pub fn publish(
    staging: &Path,
    out: &Path,
    files: &[PathBuf],
    removes: &[PathBuf],
    fs_ops: &impl Rename,
) -> Result<()> {
    let originals = staging.join(ORIGINALS);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&originals)
        .map_err(|e| Error::io("cannot prepare the publish", e))?;
    write_journal(staging, files, removes)
        .map_err(|e| Error::io("cannot write the publish journal", e))?;
    let mut made_dirs = Vec::new();
    let moves = files
        .iter()
        .map(|f| (f, true))
        .chain(removes.iter().map(|f| (f, false)));
    for (f, new) in moves {
        let moved = if new {
            make_parent(out, f, &mut made_dirs).and_then(|_| move_in(staging, out, f, fs_ops))
        } else {
            // A removal may take a whole directory (`run --force`: archive/).
            move_aside_any(staging, out, f, fs_ops)
        };
        if let Err(e) = moved {
            let back = roll_back(staging, out, files, removes, fs_ops);
            for d in made_dirs.iter().rev() {
                let _ = fs::remove_dir(d);
            }
            return Err(match back {
                Ok(()) => e,
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
    fs::remove_file(staging.join(JOURNAL))
        .map_err(|e| Error::io("cannot finish the publish", e))?;
    let _ = fs::remove_dir_all(&originals);
    Ok(())
}

fn move_in(staging: &Path, out: &Path, f: &Path, fs_ops: &impl Rename) -> Result<()> {
    move_aside(staging, out, f, fs_ops)?;
    let target = out.join(f);
    fs_ops
        .rename(&staging.join(f), &target)
        .map_err(|e| Error::io(format!("cannot write {}", target.display()), e))
}

/// Moves `out/f`, if there, aside into the staging directory's originals.
fn move_aside(staging: &Path, out: &Path, f: &Path, fs_ops: &impl Rename) -> Result<()> {
    let target = out.join(f);
    if fs::symlink_metadata(&target).is_ok_and(|meta| meta.is_dir()) {
        return Err(Error::Usage(format!(
            "{} is a directory; pkiforge writes a file there. Move it away",
            target.display()
        )));
    }
    move_aside_any(staging, out, f, fs_ops)
}

/// Moves `out/f`, if there, file or directory, aside into the originals.
fn move_aside_any(staging: &Path, out: &Path, f: &Path, fs_ops: &impl Rename) -> Result<()> {
    let target = out.join(f);
    if fs::symlink_metadata(&target).is_err() {
        return Ok(());
    }
    let aside = staging.join(ORIGINALS).join(f);
    if let Some(parent) = aside.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("cannot prepare the publish", e))?;
    }
    fs_ops
        .rename(&target, &aside)
        .map_err(|e| Error::io(format!("cannot move aside {}", target.display()), e))
}

/// Creates the missing directories above `out/f` (0700: an archive holds
/// keys), remembering them so that a failed publish removes them again.
fn make_parent(out: &Path, f: &Path, made: &mut Vec<PathBuf>) -> Result<()> {
    let Some(parent) = out.join(f).parent().map(Path::to_path_buf) else {
        return Ok(());
    };
    let mut missing = Vec::new();
    let mut dir = parent.as_path();
    while fs::symlink_metadata(dir).is_err() {
        missing.push(dir.to_path_buf());
        match dir.parent() {
            Some(p) => dir = p,
            None => break,
        }
    }
    for d in missing.into_iter().rev() {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&d)
            .map_err(|e| Error::io(format!("cannot create {}", d.display()), e))?;
        made.push(d);
    }
    Ok(())
}

/// Puts `out` back as it was before a publish of `files` from `staging`
/// and of `removes`, from what the filesystem shows: an original waiting in
/// `.originals` goes back in place; a new file that was moved in, with no
/// original, goes back out. Files not reached yet are as they were.
fn roll_back(
    staging: &Path,
    out: &Path,
    files: &[PathBuf],
    removes: &[PathBuf],
    fs_ops: &impl Rename,
) -> std::io::Result<()> {
    let mut first_error = None;
    for f in removes.iter().rev() {
        let original = staging.join(ORIGINALS).join(f);
        if fs::symlink_metadata(&original).is_ok()
            && let Err(e) = fs_ops.rename(&original, &out.join(f))
        {
            first_error.get_or_insert(e);
        }
    }
    for f in files.iter().rev() {
        let (original, staged, target) = (
            staging.join(ORIGINALS).join(f),
            staging.join(f),
            out.join(f),
        );
        let result = if fs::symlink_metadata(&original).is_ok() {
            if let Some(parent) = target.parent() {
                let _ = fs::create_dir_all(parent);
            }
            if fs::symlink_metadata(&staged).is_err() && fs::symlink_metadata(&target).is_ok() {
                // Keep the new file out of the way first, for a clean rename.
                fs_ops.rename(&target, &staged)?;
            }
            fs_ops.rename(&original, &target)
        } else if fs::symlink_metadata(&staged).is_err() && fs::symlink_metadata(&target).is_ok() {
            fs_ops.rename(&target, &staged)
        } else {
            Ok(())
        };
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The journal: `put FILE` for each new file, `remove FILE` for each
/// removal, one a line.
fn write_journal(staging: &Path, files: &[PathBuf], removes: &[PathBuf]) -> std::io::Result<()> {
    let mut text = String::new();
    for (word, list) in [("put", files), ("remove", removes)] {
        for f in list {
            text.push_str(&format!("{word} {}\n", f.to_string_lossy()));
        }
    }
    let mut file = File::create(staging.join(JOURNAL))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// `(files, removes)` of a journal.
fn read_journal(staging: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let text = fs::read_to_string(staging.join(JOURNAL))
        .map_err(|e| Error::io("cannot read a publish journal", e))?;
    let (mut files, mut removes) = (Vec::new(), Vec::new());
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("put ") {
            files.push(PathBuf::from(f));
        } else if let Some(f) = line.strip_prefix("remove ") {
            removes.push(PathBuf::from(f));
        }
    }
    Ok((files, removes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Renames for real, but fails the `fail_at`-th rename (1-based).
    struct FailAt {
        fail_at: usize,
        count: Cell<usize>,
    }

    impl Rename for FailAt {
        fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
            self.count.set(self.count.get() + 1);
            if self.count.get() == self.fail_at {
                return Err(std::io::Error::other("injected fault"));
            }
            fs::rename(from, to)
        }
    }

    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, fs::read(e.path()).unwrap_or_default())
            })
            .collect();
        out.sort();
        out
    }

    /// A DIR holding old `a`, `b` (replaced) and `keep`, and a staging
    /// directory with new `a`, `b` and `c` (new).
    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf, Vec<PathBuf>) {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let staging = out.join(".pkiforge-staging-1-x");
        fs::create_dir_all(&staging).unwrap();
        for (f, text) in [("a", "old a"), ("b", "old b"), ("keep", "keep")] {
            fs::write(out.join(f), text).unwrap();
        }
        for f in ["a", "b", "c"] {
            fs::write(staging.join(f), format!("new {f}")).unwrap();
        }
        let files = ["a", "b", "c"].map(PathBuf::from).to_vec();
        (tmp, out, staging, files)
    }

    #[test]
    fn a_publish_replaces_every_file() {
        let (_tmp, out, staging, files) = setup();
        publish(&staging, &out, &files, &[], &RealFs).unwrap();
        fs::remove_dir_all(&staging).unwrap();
        let expect: Vec<(String, Vec<u8>)> = [
            ("a", "new a"),
            ("b", "new b"),
            ("c", "new c"),
            ("keep", "keep"),
        ]
        .iter()
        .map(|(f, t)| (f.to_string(), t.as_bytes().to_vec()))
        .collect();
        assert_eq!(snapshot(&out), expect);
    }

    #[test]
    fn a_fault_at_any_move_leaves_every_original_in_place() {
        // Five moves: a aside, a in, b aside, b in, c in.
        for k in 1..=5 {
            let (_tmp, out, staging, files) = setup();
            let before: Vec<_> = snapshot(&out)
                .into_iter()
                .filter(|(f, _)| !f.starts_with('.'))
                .collect();
            let fs_ops = FailAt {
                fail_at: k,
                count: Cell::new(0),
            };
            let e = publish(&staging, &out, &files, &[], &fs_ops).unwrap_err();
            assert!(e.to_string().ends_with("injected fault"), "{e}");
            fs::remove_dir_all(&staging).unwrap();
            assert_eq!(snapshot(&out), before, "fault at move {k}");
        }
    }

    #[test]
    fn a_run_killed_while_publishing_is_rolled_back_from_its_journal() {
        for stop_after in 0..=5 {
            let (_tmp, out, staging, files) = setup();
            let before: Vec<_> = snapshot(&out)
                .into_iter()
                .filter(|(f, _)| !f.starts_with('.'))
                .collect();
            // The run "dies" at the move after `stop_after`: what it left
            // is what the filesystem shows.
            let fs_ops = FailAt {
                fail_at: stop_after + 1,
                count: Cell::new(0),
            };
            fs::create_dir(staging.join(ORIGINALS)).unwrap();
            write_journal(&staging, &files, &[]).unwrap();
            for f in &files {
                if move_in(&staging, &out, f, &fs_ops).is_err() {
                    break;
                }
            }
            let (files, removes) = read_journal(&staging).unwrap();
            roll_back(&staging, &out, &files, &removes, &RealFs).unwrap();
            fs::remove_dir_all(&staging).unwrap();
            assert_eq!(snapshot(&out), before, "stopped after {stop_after} moves");
        }
    }

    #[test]
    fn removals_and_new_directories_are_undone_by_a_fault_at_any_move() {
        // Moves: a aside, a in, archive/1/b in, keep aside (removed).
        for k in 1..=5 {
            let (_tmp, out, staging, _) = setup();
            fs::create_dir_all(staging.join("archive/1")).unwrap();
            fs::write(staging.join("archive/1/b"), "old b").unwrap();
            let before: Vec<_> = snapshot(&out)
                .into_iter()
                .filter(|(f, _)| !f.starts_with('.'))
                .collect();
            let files = ["a", "archive/1/b"].map(PathBuf::from).to_vec();
            let removes = vec![PathBuf::from("keep")];
            let fs_ops = FailAt {
                fail_at: k,
                count: Cell::new(0),
            };
            let result = publish(&staging, &out, &files, &removes, &fs_ops);
            fs::remove_dir_all(&staging).unwrap();
            if k == 5 {
                // Four moves in all: the fifth never comes.
                result.unwrap();
                assert!(!out.join("keep").exists());
                assert_eq!(fs::read(out.join("archive/1/b")).unwrap(), b"old b");
                continue;
            }
            assert!(result.is_err());
            assert_eq!(snapshot(&out), before, "fault at move {k}");
        }
    }

    #[test]
    fn a_directory_is_removed_whole_or_put_back_whole() {
        // Moves: a aside, a in, archive aside (run --force's old archive).
        for k in 1..=4 {
            let (_tmp, out, staging, _) = setup();
            fs::create_dir_all(out.join("archive/0A")).unwrap();
            fs::write(out.join("archive/0A/old.key"), "old key").unwrap();
            let files = vec![PathBuf::from("a")];
            let removes = vec![PathBuf::from("archive")];
            let fs_ops = FailAt {
                fail_at: k,
                count: Cell::new(0),
            };
            let result = publish(&staging, &out, &files, &removes, &fs_ops);
            fs::remove_dir_all(&staging).unwrap();
            if k == 4 {
                result.unwrap();
                assert!(!out.join("archive").exists());
                assert_eq!(fs::read(out.join("a")).unwrap(), b"new a");
                continue;
            }
            assert!(result.is_err(), "fault at move {k}");
            assert_eq!(
                fs::read(out.join("a")).unwrap(),
                b"old a",
                "fault at move {k}"
            );
            assert_eq!(
                fs::read(out.join("archive/0A/old.key")).unwrap(),
                b"old key",
                "fault at move {k}"
            );
        }
    }

    #[test]
    fn staging_names_carry_the_pid() {
        assert_eq!(staging_pid(".pkiforge-staging-4242-AbC12"), Some(4242));
        assert_eq!(staging_pid(".pkiforge-staging-x-1"), None);
        assert_eq!(staging_pid("ca.crt"), None);
    }
}
