//! The one way pkiforge starts openssl: the plan's steps, the probes, the
//! checks, the handshake's servers and clients and its throwaway CA all go
//! through here.
//!
//! Every child runs in its own process group, so that stopping it stops
//! anything a wrapper around openssl started too. It is bounded by a
//! deadline, stopped with its group on Ctrl-C, SIGTERM or a cancelled run,
//! and its output is captured with a bound: the first [`STDOUT_LIMIT`] bytes
//! of stdout (more is a failure) and the last [`STDERR_LIMIT`] bytes of
//! stderr. The PKCS#12 password variable is removed from every child's
//! environment unless the call names it.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{At, Error, Result, Status};
use crate::plan::step::P12_PASSWORD_VAR;
use crate::signals;

mod background;
pub use background::Background;

/// How long one openssl call may run, unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);
/// How much of a child's stdout is kept; a child that prints more fails.
pub const STDOUT_LIMIT: usize = 8 << 20;
/// How much of the end of a child's stderr is kept.
pub const STDERR_LIMIT: usize = 64 << 10;
/// How often a running child is checked for its deadline and for signals.
const TICK: Duration = Duration::from_millis(25);
/// How long stdout and stderr are still read once the child has exited:
/// what it wrote is in the pipes already; a descendant that keeps them
/// open (one in a session of its own, which its group's end does not
/// reach) is not waited for past this.
const EXIT_GRACE: Duration = Duration::from_millis(250);

/// One openssl call.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub program: PathBuf,
    /// What failures call the program: `openssl` (whatever its path), or
    /// another program's name (`keytool`), whose stdout is shown too.
    pub name: String,
    pub args: Vec<OsString>,
    /// What failures name it as: the step id, or what the call is for.
    pub step: String,
    /// The command as `plan` prints it (or as a person would type it).
    pub shown: String,
    pub dir: Option<PathBuf>,
    pub stdin: Option<Vec<u8>>,
    /// Variables set for the child, on top of the inherited environment
    /// (less the PKCS#12 password, unless it is named here).
    pub env: Vec<(OsString, OsString)>,
    pub timeout: Duration,
    /// Set when the child should stop because something else failed.
    pub cancel: Option<&'a AtomicBool>,
}

/// A child that finished on its own.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// The last [`STDERR_LIMIT`] bytes of stderr.
    pub stderr: Vec<u8>,
    /// Whether stderr was longer than what is kept.
    pub stderr_cut: bool,
    /// How many lines stderr had in all.
    pub stderr_lines: usize,
}

impl Finished {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        if self.stderr_cut {
            // The first kept line is likely a fragment of a longer one.
            text.split_once('\n').map_or("", |(_, r)| r).to_string()
        } else {
            text.into_owned()
        }
    }
}

/// Why a running child was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Deadline,
    Signal(i32),
    Cancelled,
    TooMuchOutput,
}

impl Call<'_> {
    /// A call of `program` with `args`, shown as `openssl ARGS`.
    pub fn new(
        program: &Path,
        args: Vec<OsString>,
        step: &str,
        timeout: Duration,
    ) -> Call<'static> {
        let shown = std::iter::once("openssl".to_string())
            .chain(
                args.iter()
                    .map(|a| crate::shell::shell_word(&a.to_string_lossy())),
            )
            .collect::<Vec<_>>()
            .join(" ");
        Call {
            program: program.to_path_buf(),
            name: "openssl".to_string(),
            args,
            step: step.to_string(),
            shown,
            dir: None,
            stdin: None,
            env: Vec::new(),
            timeout,
            cancel: None,
        }
    }

    /// The process to start. A server in the background dies with pkiforge;
    /// the hook that needs makes the start a fork (page tables copied), so
    /// a step, waited for under its deadline, is started by posix_spawn.
    fn command(
        &self,
        stdin: Stdio,
        stdout: Stdio,
        stderr: Stdio,
        death: Option<libc::c_int>,
    ) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        if let Some(signal) = death {
            let parent = std::process::id();
            // SAFETY: the hook runs in the forked child before exec and calls
            // only prctl(2) and getppid(2), which are async-signal-safe.
            unsafe {
                cmd.pre_exec(move || die_with_parent(parent, signal));
            }
        }
        cmd.args(&self.args)
            // Its own process group, so that stopping it also stops anything
            // a wrapper around openssl started (see kill_group()).
            .process_group(0)
            .env_remove(P12_PASSWORD_VAR)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(stdin)
            .stdout(stdout)
            .stderr(stderr);
        if let Some(dir) = &self.dir {
            cmd.current_dir(dir);
        }
        cmd
    }

    fn at(&self) -> Box<At> {
        let mut at = At::new(&self.step, &self.shown);
        at.program = self.name.clone();
        at
    }

    /// Whether failures show stdout as well as stderr: a program other
    /// than openssl (keytool prints its reasons on stdout).
    fn shows_stdout(&self) -> bool {
        self.name != "openssl"
    }

    fn start_error(&self, e: std::io::Error) -> Error {
        Error::StepFailed {
            at: self.at(),
            status: Status::NotStarted {
                program: self.program.clone(),
                reason: e.to_string(),
            },
            stderr: String::new(),
            stderr_lines: 0,
        }
    }

    /// Why the child should stop now, if it should.
    fn stop_reason(&self, deadline: Instant) -> Option<Stop> {
        if let Some(signal) = signals::raised() {
            return Some(Stop::Signal(signal));
        }
        if self.cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
            return Some(Stop::Cancelled);
        }
        (Instant::now() >= deadline).then_some(Stop::Deadline)
    }

    fn stopped(&self, stop: Stop) -> Error {
        match stop {
            Stop::Deadline => Error::Timeout {
                at: self.at(),
                seconds: self.timeout.as_secs(),
            },
            Stop::Signal(signal) => Error::Interrupted { signal },
            // The scheduler that set the flag does not report this one.
            Stop::Cancelled => Error::StepFailed {
                at: self.at(),
                status: Status::Other("stopped because another step failed".into()),
                stderr: String::new(),
                stderr_lines: 0,
            },
            Stop::TooMuchOutput => Error::StepFailed {
                at: self.at(),
                status: Status::Other(format!(
                    "openssl printed more than {} MiB on stdout and was stopped",
                    STDOUT_LIMIT >> 20
                )),
                stderr: String::new(),
                stderr_lines: 0,
            },
        }
    }

    /// Runs the child to its end; its exit status is the caller's to judge.
    pub fn run(&self) -> Result<Finished> {
        if let Some(signal) = signals::raised() {
            return Err(Error::Interrupted { signal });
        }
        let stdin = if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = self
            .command(stdin, Stdio::piped(), Stdio::piped(), None)
            .spawn()
            .map_err(|e| self.start_error(e))?;
        let deadline = Instant::now() + self.timeout;
        let pipes = Pipes {
            stdin: child.stdin.take().map(OwnedFd::from).map(File::from),
            input: self.stdin.clone().unwrap_or_default(),
            stdout: child.stdout.take().map(OwnedFd::from).map(File::from),
            stderr: child.stderr.take().map(OwnedFd::from).map(File::from),
        };
        let mut stop = None;
        let captured = pipes.drain(child.id(), || {
            let reason = self.stop_reason(deadline);
            if let Some(r) = reason {
                stop.get_or_insert(r);
                kill_group(child.id());
            }
            reason.is_some()
        });
        let captured = match captured {
            Ok(c) => c,
            Err(e) => {
                kill_group(child.id());
                let _ = child.wait();
                return Err(Error::io(
                    format!("reading the output of {}", self.shown),
                    e,
                ));
            }
        };
        if captured.overflow {
            stop.get_or_insert(Stop::TooMuchOutput);
            kill_group(child.id());
        }
        let status = self.reap(&mut child, deadline, &mut stop)?;
        if let Some(stop) = stop {
            return Err(self.stopped(stop));
        }
        Ok(Finished {
            status,
            stdout: captured.stdout,
            stderr: captured.stderr,
            stderr_cut: captured.stderr_cut,
            stderr_lines: captured.stderr_lines,
        })
    }

    /// Runs the child and fails unless it exits 0.
    pub fn run_ok(&self) -> Result<Finished> {
        let done = self.run()?;
        if done.status.success() {
            return Ok(done);
        }
        let (stderr, stderr_lines) = if self.shows_stdout() {
            let said = format!("{}{}", done.stdout_text(), done.stderr_text());
            let lines = said.lines().count();
            (said, lines)
        } else {
            (done.stderr_text(), done.stderr_lines)
        };
        Err(Error::StepFailed {
            at: self.at(),
            status: done.status.into(),
            stderr,
            stderr_lines,
        })
    }

    /// Waits for the child to exit (its pipes are closed), still stopping it
    /// on the deadline or a signal; then reaps it.
    fn reap(
        &self,
        child: &mut Child,
        deadline: Instant,
        stop: &mut Option<Stop>,
    ) -> Result<ExitStatus> {
        let mut pause = Duration::from_millis(1);
        loop {
            if has_exited(child.id()) {
                break;
            }
            if stop.is_none()
                && let Some(reason) = self.stop_reason(deadline)
            {
                *stop = Some(reason);
                kill_group(child.id());
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(TICK);
        }
        // What the child left running in its group goes with it. While the
        // child is unreaped its pid, and so its group id, cannot be reused:
        // kill_group() never signals a stranger.
        kill_group(child.id());
        child
            .wait()
            .map_err(|e| Error::io(format!("waiting for {}", self.shown), e))
    }

    /// Starts the child in the background, its stdout and stderr written to
    /// the files given; see [`Background`]. It dies with the thread that
    /// starts it (see [`die_with_parent`]): call this from a thread that
    /// outlives the child's use, as the handshake's main thread does.
    pub fn spawn(&self, stdout: &Path, stderr: &Path) -> Result<Background> {
        self.spawn_dying_by(stdout, stderr, libc::SIGKILL)
    }

    /// [`Call::spawn`], the child getting `death` when the thread that
    /// started it ends: SIGTERM for a supervisor that stops what it runs
    /// (a tcpdump, which changes its user and so loses any death signal).
    pub fn spawn_dying_by(
        &self,
        stdout: &Path,
        stderr: &Path,
        death: libc::c_int,
    ) -> Result<Background> {
        if let Some(signal) = signals::raised() {
            return Err(Error::Interrupted { signal });
        }
        let file = |p: &Path| {
            File::create(p).map_err(|e| Error::io(format!("cannot create {}", p.display()), e))
        };
        let stdin = if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        };
        let mut child = self
            .command(
                stdin,
                file(stdout)?.into(),
                file(stderr)?.into(),
                Some(death),
            )
            .spawn()
            .map_err(|e| self.start_error(e))?;
        if let (Some(mut pipe), Some(bytes)) = (child.stdin.take(), &self.stdin) {
            // Small (a line); an early exit shows in what the child printed.
            let _ = pipe.write_all(bytes);
        }
        Ok(Background {
            child,
            shown: self.shown.clone(),
        })
    }
}

/// What [`Pipes::drain`] read.
#[derive(Default)]
struct Captured {
    stdout: Vec<u8>,
    overflow: bool,
    stderr: Vec<u8>,
    stderr_cut: bool,
    /// Lines written to stderr in all (a last line without newline counts).
    stderr_lines: usize,
}

/// A child's three pipes, served by poll(2) on the calling thread: the input
/// written as the child reads it, stdout and stderr read as they come, so
/// that no pipe fills and stalls the child, and no helper thread is needed.
struct Pipes {
    stdin: Option<File>,
    input: Vec<u8>,
    stdout: Option<File>,
    stderr: Option<File>,
}

impl Pipes {
    /// Serves the pipes until stdout and stderr close, or the child has
    /// exited and [`EXIT_GRACE`] has passed with nothing more to read.
    /// `stop` is asked every tick and kills the child when it says so; the
    /// pipes are then closed at once, for a descendant in another session
    /// may hold them open.
    fn drain(mut self, child: u32, mut stop: impl FnMut() -> bool) -> std::io::Result<Captured> {
        let mut out = Captured::default();
        let mut last_byte = b'\n';
        let mut written = 0;
        if self.input.is_empty() {
            self.stdin = None;
        }
        if let Some(pipe) = &self.stdin {
            set_nonblocking(pipe)?;
        }
        let mut chunk = [0u8; 16384];
        let mut exited: Option<Instant> = None;
        while self.stdout.is_some() || self.stderr.is_some() {
            let mut fds = [
                pollfd(self.stdin.as_ref(), libc::POLLOUT),
                pollfd(self.stdout.as_ref(), libc::POLLIN),
                pollfd(self.stderr.as_ref(), libc::POLLIN),
            ];
            // SAFETY: poll(2) reads and writes only the `fds` array it is given.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), 3, TICK.as_millis() as libc::c_int) };
            if r < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            if stop() {
                break;
            }
            if r <= 0 {
                // Nothing to read: has the child gone, and long enough ago?
                match exited {
                    Some(at) if at.elapsed() >= EXIT_GRACE => break,
                    None if has_exited(child) => exited = Some(Instant::now()),
                    _ => {}
                }
                continue;
            }
            if fds[0].revents != 0 {
                written = self.feed(written);
            }
            if fds[1].revents != 0 {
                let n = read_some(&mut self.stdout, &mut chunk)?;
                if n > STDOUT_LIMIT - out.stdout.len() {
                    out.overflow = true;
                    return Ok(out);
                }
                out.stdout.extend_from_slice(&chunk[..n]);
            }
            if fds[2].revents != 0 {
                let n = read_some(&mut self.stderr, &mut chunk)?;
                out.stderr_lines += chunk[..n].iter().filter(|&&b| b == b'\n').count();
                if n > 0 {
                    last_byte = chunk[n - 1];
                }
                out.keep_stderr(&chunk[..n]);
            }
        }
        if out.stderr.len() > STDERR_LIMIT {
            let cut = out.stderr.len() - STDERR_LIMIT;
            out.stderr.drain(..cut);
            out.stderr_cut = true;
        }
        out.stderr_lines += usize::from(last_byte != b'\n');
        Ok(out)
    }
}

impl Pipes {
    /// Writes what the child will take of the input from `written` on;
    /// returns how far it got. The pipe closes when all is written, or when
    /// the child closed its end (it reads no more answers, and its exit
    /// status says how it went).
    fn feed(&mut self, mut written: usize) -> usize {
        let Some(pipe) = &mut self.stdin else {
            return written;
        };
        match pipe.write(&self.input[written..]) {
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => written = self.input.len(),
        }
        if written >= self.input.len() {
            self.stdin = None;
        }
        written
    }
}

impl Captured {
    /// Appends to stderr, keeping about its last [`STDERR_LIMIT`] bytes.
    fn keep_stderr(&mut self, bytes: &[u8]) {
        self.stderr.extend_from_slice(bytes);
        if self.stderr.len() > 2 * STDERR_LIMIT {
            let cut = self.stderr.len() - STDERR_LIMIT;
            self.stderr.drain(..cut);
            self.stderr_cut = true;
        }
    }
}

fn pollfd(file: Option<&File>, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd: file.map_or(-1, |f| f.as_raw_fd()),
        events,
        revents: 0,
    }
}

/// Reads what is there; at the end of the pipe, closes it and returns 0.
fn read_some(pipe: &mut Option<File>, chunk: &mut [u8]) -> std::io::Result<usize> {
    let Some(file) = pipe.as_mut() else {
        return Ok(0);
    };
    match file.read(chunk) {
        Ok(0) => {
            *pipe = None;
            Ok(0)
        }
        Ok(n) => Ok(n),
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
        Err(e) => Err(e),
    }
}

fn set_nonblocking(file: &File) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl(2) on a descriptor this function borrows; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Runs in the child between fork and exec: the child is killed when the
/// thread that started it ends (PR_SET_PDEATHSIG), so that a pkiforge
/// killed outright leaves no openssl behind listening (an s_server of the
/// handshake or of test-client), nor one started before it died. Servers
/// start from the main thread, whose end is the process's.
fn die_with_parent(parent: u32, signal: libc::c_int) -> std::io::Result<()> {
    // SAFETY: prctl(2) and getppid(2) take no pointers and are
    // async-signal-safe, as the code between fork and exec must be.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if u32::try_from(libc::getppid()) != Ok(parent) {
            return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    Ok(())
}

/// Kills a child's process group: openssl, and anything a wrapper around it
/// started. Its caller reaps it.
fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals the process group that
        // pid leads; it has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Whether the child `pid` has exited, without reaping it (WNOWAIT), so
/// that its pid and process group stay its own until it is reaped.
fn has_exited(pid: u32) -> bool {
    loop {
        // SAFETY: waitid(2) writes only into `info`, a local of the right type.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOWAIT | libc::WNOHANG;
        let r = unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) };
        if r == 0 {
            // With WNOHANG, si_pid stays 0 while the child runs.
            // SAFETY: the union field is valid after a successful waitid.
            return unsafe { info.si_pid() } != 0;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // No such child: reaped already.
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Call<'static> {
        let mut call = Call::new(
            Path::new("/bin/sh"),
            vec!["-c".into(), script.into()],
            "test",
            timeout,
        );
        call.shown = format!("sh -c {script}");
        call
    }

    #[test]
    fn output_is_captured_and_the_status_kept() {
        let done = sh("echo out; echo err >&2; exit 3", Duration::from_secs(10))
            .run()
            .unwrap();
        assert_eq!(done.stdout, b"out\n");
        assert_eq!(done.stderr, b"err\n");
        assert_eq!(done.status.code(), Some(3));
    }

    #[test]
    fn stdin_is_written_while_the_output_is_read() {
        // More than a pipe holds each way: a sequential write would hang.
        let mut call = sh("cat; cat >&2 </dev/null", Duration::from_secs(10));
        call.stdin = Some(vec![b'x'; 200_000]);
        let done = call.run().unwrap();
        assert_eq!(done.stdout.len(), 200_000);
    }

    #[test]
    fn stderr_keeps_its_end_only() {
        let done = sh(
            "i=0; while [ $i -lt 20000 ]; do echo \"line $i\" >&2; i=$((i+1)); done",
            Duration::from_secs(20),
        )
        .run()
        .unwrap();
        assert!(done.stderr.len() <= STDERR_LIMIT);
        assert!(done.stderr_cut);
        assert!(done.stderr_text().ends_with("line 19999\n"));
        assert!(done.stderr_text().starts_with("line "));
        assert_eq!(done.stderr_lines, 20000);
    }

    #[test]
    fn too_much_stdout_stops_the_child() {
        let e = sh("yes", Duration::from_secs(20)).run().unwrap_err();
        assert_eq!(
            e.to_string(),
            "step test failed: sh -c yes\n  openssl printed more than 8 MiB on stdout and was stopped"
        );
    }

    #[test]
    fn a_hung_child_and_its_group_are_stopped_at_the_deadline() {
        let started = Instant::now();
        let e = sh("sleep 30 & wait", Duration::from_millis(300))
            .run()
            .unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// `sh -c SCRIPT` with `$PIDFILE` naming a file in `dir`.
    fn sh_in(dir: &Path, script: &str, timeout: Duration) -> Call<'static> {
        let mut call = sh(script, timeout);
        call.env
            .push(("PIDFILE".into(), dir.join("held.pid").into_os_string()));
        call
    }

    /// The pid `$PIDFILE` names: a descendant in a session of its own
    /// that holds the call's stdout and stderr for 300 s.
    fn holder(dir: &Path) -> u32 {
        let pid = std::fs::read_to_string(dir.join("held.pid")).unwrap();
        pid.trim().parse().unwrap()
    }

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| s.split(") ").nth(1).is_some_and(|s| !s.starts_with('Z')))
    }

    fn end(pid: u32) {
        // SAFETY: kill(2) of the test's own sleeper; no memory is passed.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }

    const HOLD: &str = "setsid sleep 300 & echo $! > \"$PIDFILE\"";

    #[test]
    fn a_descendant_that_holds_the_pipes_does_not_outlast_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let e = sh_in(
            dir.path(),
            &format!("{HOLD}; sleep 300"),
            Duration::from_millis(300),
        )
        .run()
        .unwrap_err();
        let holder = holder(dir.path());
        // Returned while the holder still runs: it was not waited for.
        let waited = !alive(holder);
        end(holder);
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(!waited, "the call waited for the pipes to close");
    }

    #[test]
    fn a_child_that_exits_with_its_pipes_held_open_returns_what_it_printed() {
        let dir = tempfile::tempdir().unwrap();
        let script = format!("{HOLD}; echo printed; echo said >&2; exit 4");
        let done = sh_in(dir.path(), &script, Duration::from_secs(600)).run();
        let holder = holder(dir.path());
        let waited = !alive(holder);
        end(holder);
        let done = done.unwrap();
        assert!(!waited, "the call waited for the pipes to close");
        assert_eq!(
            (done.stdout_text(), done.stderr_text(), done.status.code()),
            ("printed\n".into(), "said\n".into(), Some(4))
        );
    }

    #[test]
    fn what_a_child_left_in_its_group_is_stopped_when_it_exits() {
        let dir = tempfile::tempdir().unwrap();
        let script = "sleep 300 >/dev/null 2>&1 & echo $! > \"$PIDFILE\"";
        sh_in(dir.path(), script, Duration::from_secs(600))
            .run_ok()
            .unwrap();
        let left = holder(dir.path());
        let started = Instant::now();
        // SIGKILL is delivered when the process is next scheduled.
        while alive(left) && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let stayed = alive(left);
        end(left);
        assert!(!stayed, "the sleep the child left behind still runs");
    }

    #[test]
    fn another_program_is_named_in_its_failure_with_what_it_printed() {
        let mut call = sh(
            "echo 'keytool error: java.lang.Exception: Keystore was tampered with'; echo warned >&2; exit 1",
            Duration::from_secs(10),
        );
        call.name = "keytool".into();
        call.shown = "keytool -importcert".into();
        assert_eq!(
            call.run_ok().unwrap_err().to_string(),
            "step test failed: keytool -importcert\n  keytool exited with status 1\n  keytool said:\n    keytool error: java.lang.Exception: Keystore was tampered with\n    warned"
        );
    }

    #[test]
    fn a_cancelled_call_stops() {
        let flag = AtomicBool::new(true);
        let mut call = sh("sleep 30", Duration::from_secs(60));
        call.cancel = Some(&flag);
        assert_eq!(
            call.run().unwrap_err().to_string(),
            "step test failed: sh -c sleep 30\n  stopped because another step failed"
        );
    }

    #[test]
    fn the_p12_password_is_not_inherited_unless_named() {
        // SAFETY: set before any child of this test starts; the variable is
        // read by children only.
        unsafe { std::env::set_var(P12_PASSWORD_VAR, "secret") };
        let probe = format!("echo \"[${P12_PASSWORD_VAR}]\"");
        let done = sh(&probe, Duration::from_secs(10)).run().unwrap();
        assert_eq!(done.stdout, b"[]\n");
        let mut call = sh(&probe, Duration::from_secs(10));
        call.env.push((P12_PASSWORD_VAR.into(), "given".into()));
        assert_eq!(call.run().unwrap().stdout, b"[given]\n");
    }
}
