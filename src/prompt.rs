//! Asking for a password on the terminal, so that Ctrl-C at the prompt stops
//! pkiforge as it does anywhere else (exit 130), with the terminal's echo
//! put back.

use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::signals;

/// Reads a password without echo. The read runs on its own thread, since
/// Ctrl-C only sets a flag; this thread watches that flag meanwhile.
pub fn password(label: &str) -> Result<String> {
    let tty = std::fs::File::open("/dev/tty").ok();
    // SAFETY: termios is plain old data, filled in by tcgetattr below.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr(3) writes into `saved`, a local of the right type.
    let have_saved = tty
        .as_ref()
        .is_some_and(|t| unsafe { libc::tcgetattr(t.as_raw_fd(), &mut saved) } == 0);
    let (tx, rx) = mpsc::channel();
    let label = label.to_string();
    std::thread::spawn(move || {
        let _ = tx.send(rpassword::prompt_password(label));
    });
    loop {
        if let Some(signal) = signals::raised() {
            if let (Some(t), true) = (&tty, have_saved) {
                // SAFETY: tcsetattr(3) reads `saved`, which tcgetattr filled.
                unsafe { libc::tcsetattr(t.as_raw_fd(), libc::TCSANOW, &saved) };
            }
            eprintln!();
            return Err(Error::Interrupted { signal });
        }
        match rx.recv_timeout(Duration::from_millis(25)) {
            Ok(read) => {
                // Ctrl-C may end the read itself (EINTR) before this loop sees it.
                signals::check()?;
                return read.map_err(|e| Error::io("cannot read the password", e));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Usage("cannot read the password".into()));
            }
        }
    }
}
