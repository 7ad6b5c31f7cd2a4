//! Whose a directory is: pkiforge writes keys into an output directory only
//! when no other user can change it or move it away. Another user who may
//! write in DIR can rename the private staging directory while the steps
//! run and put their own in its place, and so own the keys openssl writes;
//! one who may write in a directory above DIR can move DIR itself. So DIR
//! must belong to this user (or root) and be writable by no one else, and
//! so must each directory above it, unless that one is sticky (as /tmp is)
//! and the entry below it is this user's or root's, which only they can
//! then rename.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why `dir` (an existing directory) is not this user's alone, if it is not.
pub fn others_may_change(dir: &Path) -> Option<String> {
    let real = match fs::canonicalize(dir) {
        Ok(real) => real,
        Err(e) => return Some(format!("cannot resolve it: {e}")),
    };
    // SAFETY: geteuid(2) cannot fail and has no preconditions.
    let me = unsafe { libc::geteuid() };
    let meta = fs::metadata(&real).ok()?;
    if let Some(why) = not_ours(&meta, me) {
        return Some(format!(
            "{why}, and could replace what pkiforge writes there, keys included; name a directory of your own that only you may write in"
        ));
    }
    // The directories above it as resolved, and as named: a symbolic link
    // on the way (`--out theirs/link`) is as good as the directory it
    // points to to whoever may change the directory that holds the link,
    // who can point it elsewhere while pkiforge writes through it.
    let named = std::path::absolute(dir).unwrap_or_else(|_| real.clone());
    for start in [real, named] {
        let mut child = start;
        while let Some(parent) = child.parent().map(Path::to_path_buf) {
            if let Some(why) = parent_lets_others_move(&parent, &child, me) {
                return Some(why);
            }
            child = parent;
        }
    }
    None
}

/// Why a directory with `meta` is open to other users than `me`.
fn not_ours(meta: &fs::Metadata, me: u32) -> Option<String> {
    let mode = meta.mode() & 0o7777;
    if meta.uid() != me && meta.uid() != 0 {
        return Some(format!("it belongs to {}", user_name(meta.uid())));
    }
    if mode & 0o002 != 0 {
        return Some(format!("every user may write in it (mode {mode:04o})"));
    }
    if mode & 0o020 != 0 {
        return Some(format!(
            "the members of its group may write in it (mode {mode:04o}; `chmod g-w` it if that is not meant)"
        ));
    }
    None
}

/// Why `parent` lets another user than `me` move `child` away, if it does.
fn parent_lets_others_move(parent: &Path, child: &Path, me: u32) -> Option<String> {
    let meta = fs::metadata(parent).ok()?;
    let why = not_ours(&meta, me)?;
    let sticky = meta.mode() & 0o1000 != 0;
    let child_ours = fs::symlink_metadata(child).is_ok_and(|m| m.uid() == me || m.uid() == 0);
    if sticky && child_ours {
        return None;
    }
    Some(format!(
        "{}, above it: {why}, so another user could move {} away and put their own in its place; name a directory whose parents only you (or root) may change",
        parent.display(),
        PathBuf::from(child).display()
    ))
}

/// A user's name from /etc/passwd, or `user UID`.
fn user_name(uid: u32) -> String {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse::<u32>().ok()?;
            (id == uid).then(|| format!("user {name}"))
        })
        .unwrap_or_else(|| format!("user {uid}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_directory_of_ours_below_sticky_tmp_is_ours_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(others_may_change(&dir), None);
    }

    #[test]
    fn group_or_world_write_on_dir_or_a_parent_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        let dir = open.join("pki");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o775)).unwrap();
        assert_eq!(
            others_may_change(&dir).unwrap(),
            "the members of its group may write in it (mode 0775; `chmod g-w` it if that is not meant), and could replace what pkiforge writes there, keys included; name a directory of your own that only you may write in"
        );
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let real = fs::canonicalize(&dir).unwrap();
        assert_eq!(
            others_may_change(&dir).unwrap(),
            format!(
                "{}, above it: every user may write in it (mode 0777), so another user could move {} away and put their own in its place; name a directory whose parents only you (or root) may change",
                real.parent().unwrap().display(),
                real.display()
            )
        );
        // Sticky, as /tmp is: only the owner of `pki` may move it.
        fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(others_may_change(&dir), None);
    }
}
