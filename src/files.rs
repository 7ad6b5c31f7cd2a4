//! Reading the files pkiforge is pointed at (a PKI directory, a profile, an
//! openssl config) without being made to hang or to swallow a disk: only
//! regular files are read, opened without blocking (a FIFO would wait for a
//! writer forever), and up to a bound.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest file pkiforge reads (a certificate bundle, a config).
pub const READ_LIMIT: u64 = 64 << 20;

/// A file that could not be read, and why.
#[derive(Debug, Clone)]
pub struct ReadError {
    pub path: PathBuf,
    pub why: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.why)
    }
}

impl std::error::Error for ReadError {}

/// The bytes of the regular file at `path` (symbolic links followed).
pub fn read_regular(path: &Path) -> Result<Vec<u8>, ReadError> {
    let (mut file, len) = open_regular(path)?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.by_ref()
        .take(READ_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| failure(path, e.to_string()))?;
    if bytes.len() as u64 > READ_LIMIT {
        return Err(failure(
            path,
            format!("it grew past {} MiB", READ_LIMIT >> 20),
        ));
    }
    Ok(bytes)
}

/// [`read_regular`] as text, invalid UTF-8 replaced (a log, a config).
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    read_regular(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Whether [`read_regular`] would read `path`, asked without reading it:
/// the same refusals (not a regular file, too large), for a file that
/// another program (openssl) is about to be given.
pub fn require_regular(path: &Path) -> Result<(), ReadError> {
    open_regular(path).map(|_| ())
}

/// The regular file at `path`, opened for reading, and its size. Its type
/// is asked before it is opened (opening a device can have effects, and a
/// FIFO would wait for a writer), and asked again of the opened file, in
/// case it was replaced in between; opened without blocking all the same.
fn open_regular(path: &Path) -> Result<(File, u64), ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| failure(path, e.to_string()))?;
    refuse_irregular(path, &meta)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| failure(path, e.to_string()))?;
    let meta = file.metadata().map_err(|e| failure(path, e.to_string()))?;
    refuse_irregular(path, &meta)?;
    Ok((file, meta.len()))
}

/// An error unless `meta` is a regular file of at most [`READ_LIMIT`] bytes.
fn refuse_irregular(path: &Path, meta: &std::fs::Metadata) -> Result<(), ReadError> {
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "a directory"
        } else if kind.is_fifo() {
            "a FIFO (named pipe)"
        } else if kind.is_socket() {
            "a socket"
        } else if kind.is_char_device() || kind.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(failure(path, format!("it is {what}, not a regular file")));
    }
    if meta.len() > READ_LIMIT {
        return Err(failure(
            path,
            format!(
                "it is {} bytes, more than the {} MiB pkiforge reads",
                meta.len(),
                READ_LIMIT >> 20
            ),
        ));
    }
    Ok(())
}

fn failure(path: &Path, why: String) -> ReadError {
    ReadError {
        path: path.to_path_buf(),
        why,
    }
}

/// Whether `path` is a regular file (symbolic links followed), asked
/// without opening it.
pub fn is_regular(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// Whether `a` and `b` are the same directory (or file): the same device
/// and inode, however each is named.
pub fn same_dir(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("x.crt");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo(3) reads the NUL-terminated path it is given.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = read_regular(&fifo).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot read {}: it is a FIFO (named pipe), not a regular file",
                fifo.display()
            )
        );
    }

    #[test]
    fn a_link_to_a_device_is_refused_unread() {
        let tmp = tempfile::tempdir().unwrap();
        let zero = tmp.path().join("server.key");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let expected = format!(
            "cannot read {}: it is a device, not a regular file",
            zero.display()
        );
        assert_eq!(read_regular(&zero).unwrap_err().to_string(), expected);
        assert_eq!(require_regular(&zero).unwrap_err().to_string(), expected);
    }

    #[test]
    fn a_regular_file_is_read_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("a");
        std::fs::write(&f, b"hello").unwrap();
        assert_eq!(read_regular(&f).unwrap(), b"hello");
    }
}
