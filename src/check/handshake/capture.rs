//! `handshake --trace`: each openssl session recorded off the loopback by
//! tcpdump, where tcpdump is installed and may capture there, into a pcap
//! that Wireshark or tshark decrypts with the session's keylog. tcpdump is
//! started through run/exec.rs like every other program, its packets
//! written to the pcap as they come (`-U -w -`, stdout into the file).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::run::exec::{Background, Call};
use crate::signals;

/// The loopback interface.
const LOOPBACK: &str = "lo";
/// How long tcpdump has, once asked to end, to write its last packets.
const FLUSH: Duration = Duration::from_secs(5);
/// What tcpdump prints on stderr once it captures.
const LISTENING: &str = "listening on ";
/// The supervisor tcpdump runs under.
const SHELL: &str = "/bin/sh";
/// The supervisor: runs tcpdump (its path and arguments are `$@`, never
/// part of the script), and on SIGTERM, SIGINT or SIGHUP stops it with
/// SIGTERM, so that it writes its last packets, and waits for it. A signal
/// that comes before tcpdump's pid is known is kept (`s`) and acted on
/// once it is.
const SUPERVISOR: &str = "trap 's=1; [ -n \"$c\" ] && kill -TERM \"$c\" 2>/dev/null' TERM INT HUP\n\"$@\" & c=$!\n[ -n \"$s\" ] && kill -TERM \"$c\" 2>/dev/null\nwhile kill -0 \"$c\" 2>/dev/null; do wait \"$c\"; done\n";

/// `sh -c SUPERVISOR pkiforge-capture TCPDUMP ARGS…`.
fn supervised(tcpdump: &Path, args: Vec<OsString>) -> Vec<OsString> {
    let mut all: Vec<OsString> = vec!["-c".into(), SUPERVISOR.into(), "pkiforge-capture".into()];
    all.push(tcpdump.as_os_str().to_os_string());
    all.extend(args);
    all
}

/// tcpdump, found and allowed to capture on the loopback.
#[derive(Debug, Clone)]
pub struct Tcpdump {
    pub path: PathBuf,
}

/// tcpdump on PATH, else where distributions put it (`/usr/sbin`, which a
/// user's PATH often lacks).
fn locate() -> Option<PathBuf> {
    which::which("tcpdump")
        .or_else(|_| which::which_in("tcpdump", Some("/usr/sbin:/sbin"), "/"))
        .ok()
}

impl Tcpdump {
    /// tcpdump, if it is installed and may capture here: it is started once
    /// on a port nothing uses, and must say it listens. Else why not, in
    /// words for the handshake's output.
    pub fn find(timeout: Duration) -> std::result::Result<Tcpdump, String> {
        let Some(path) = locate() else {
            return Err("tcpdump is not installed".into());
        };
        let tcpdump = Tcpdump { path };
        let scratch = crate::run::scratch::Scratch::create_in(&std::env::temp_dir())
            .map_err(|e| e.to_string())?;
        let (pcap, logs) = (scratch.path().join("probe.pcap"), scratch.path());
        match tcpdump.start(9, &pcap, logs, Instant::now() + timeout) {
            Ok(Ok(capture)) => {
                capture.stop();
                Ok(tcpdump)
            }
            Ok(Err(why)) => Err(why),
            Err(e) => Err(format!("tcpdump could not be started: {e}")),
        }
    }

    /// Starts capturing TCP port `port` on the loopback into `pcap`, its
    /// messages in `logs`; returns once tcpdump captures. The inner error
    /// is why it does not (its last words), for the trace to say.
    pub fn start(
        &self,
        port: u16,
        pcap: &Path,
        logs: &Path,
        deadline: Instant,
    ) -> Result<std::result::Result<Capture, String>> {
        let args: Vec<OsString> = [
            "-i",
            LOOPBACK,
            "-U",
            "--immediate-mode",
            "-w",
            "-",
            "tcp",
            "port",
            &port.to_string(),
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let mut call = Call::new(
            Path::new(SHELL),
            supervised(&self.path, args),
            "handshake-capture",
            FLUSH,
        );
        call.name = "tcpdump".into();
        call.shown = format!("tcpdump -i {LOOPBACK} -U --immediate-mode -w - tcp port {port}");
        let err = logs.join(format!("tcpdump-{port}.err"));
        // The shell gets SIGTERM when pkiforge ends, however it ends, and
        // passes it on: tcpdump itself loses any death signal when it
        // drops its privileges (to user tcpdump) or runs with capabilities.
        let process = call.spawn_dying_by(pcap, &err, libc::SIGTERM)?;
        loop {
            let said = crate::files::read_text(&err).unwrap_or_default();
            if said.contains(LISTENING) {
                return Ok(Ok(Capture { process }));
            }
            signals::check()?;
            if process.exited() || Instant::now() >= deadline {
                let last = said.lines().last().unwrap_or("it said nothing").trim();
                return Ok(Err(format!("tcpdump does not capture here: {last}")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A running capture.
pub struct Capture {
    process: Background,
}

impl Capture {
    /// Ends it once its last packets are written.
    pub fn stop(self) {
        self.process.stop(FLUSH);
    }
}
