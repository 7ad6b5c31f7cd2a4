//! Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal, a dropped ssh
//! session), for the whole process.
//!
//! They set flags instead of killing pkiforge outright, so that whatever is
//! running can stop its children, put back what it moved and remove its
//! staging directory first. Every wait in pkiforge (a child, a lock, the
//! password prompt, a pause) asks [`raised`] as it goes.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

struct Flags {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// Installs the handlers (once; later calls do nothing).
pub fn install() -> Result<()> {
    if FLAGS.get().is_some() {
        return Ok(());
    }
    let flags = Flags {
        int: Arc::new(AtomicBool::new(false)),
        term: Arc::new(AtomicBool::new(false)),
        hup: Arc::new(AtomicBool::new(false)),
    };
    let register = |sig, flag: &Arc<AtomicBool>| {
        signal_hook::flag::register(sig, Arc::clone(flag))
            .map(|_| ())
            .map_err(|e| Error::io("cannot install the signal handler", e))
    };
    register(libc::SIGINT, &flags.int)?;
    register(libc::SIGTERM, &flags.term)?;
    register(libc::SIGHUP, &flags.hup)?;
    let _ = FLAGS.set(flags);
    Ok(())
}

/// The signal that asked pkiforge to stop, if one did: SIGTERM, then
/// SIGHUP, then SIGINT.
pub fn raised() -> Option<i32> {
    let flags = FLAGS.get()?;
    if flags.term.load(Ordering::SeqCst) {
        Some(libc::SIGTERM)
    } else if flags.hup.load(Ordering::SeqCst) {
        Some(libc::SIGHUP)
    } else if flags.int.load(Ordering::SeqCst) {
        Some(libc::SIGINT)
    } else {
        None
    }
}

/// `Err(Interrupted)` once a signal asked pkiforge to stop.
pub fn check() -> Result<()> {
    match raised() {
        Some(signal) => Err(Error::Interrupted { signal }),
        None => Ok(()),
    }
}
