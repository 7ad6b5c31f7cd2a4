//! A child running in the background, started by [`super::Call::spawn`]:
//! the handshake's s_server and s_client, and tcpdump recording them.

use std::process::Child;
use std::time::{Duration, Instant};

use crate::signals;

/// A child running in the background (the handshake's s_server and
/// s_client). Dropping it stops its process group and reaps it, on every
/// way out, an error or an interrupt included.
pub struct Background {
    pub(super) child: Child,
    pub shown: String,
}

impl Background {
    /// Whether it has exited (not reaped yet, so its group stays its own).
    pub fn exited(&self) -> bool {
        super::has_exited(self.child.id())
    }

    /// Asks it to end (SIGTERM), so that it finishes what it writes (a
    /// capture's last packets), and waits for that up to `grace` or a
    /// signal to pkiforge; then it is stopped as on drop.
    pub fn stop(self, grace: Duration) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) on our own child, which is not reaped yet.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let until = Instant::now() + grace;
        while !self.exited() && Instant::now() < until && signals::raised().is_none() {
            std::thread::sleep(super::TICK);
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        super::kill_group(self.child.id());
        let _ = self.child.wait();
    }
}
