//! Executes a plan: each openssl step as a child process in a staging directory,
//! temp files for `<(printf …)`, native `cat`, checks after every step, and
//! the result moved into place only when every check has passed. Steps run
//! as a dependency graph (see graph.rs), up to `--jobs` at a time.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::graph;
use crate::openssl::Openssl;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::step::{Action, Arg, Expect, Step};
use crate::verify;

/// How long one step may run before it is stopped, unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a running step is checked for Ctrl-C and its deadline.
const POLL: Duration = Duration::from_millis(25);

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out: PathBuf,
    pub force: bool,
    pub timeout: Duration,
    /// Files of `out` the steps and checks read (the CA, for `--add` and
    /// `--only`): copied into the staging directory first.
    pub inputs: Vec<PathBuf>,
}

/// What a successful run leaves to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub out: PathBuf,
    pub files: Vec<PathBuf>,
    /// What the tutorial's `openssl verify` printed, e.g. `server.crt: OK`.
    pub check_lines: Vec<String>,
    pub checks_passed: usize,
}

/// One check and how it went.
#[derive(Debug)]
pub struct CheckOutcome {
    pub step: Step,
    pub result: Result<Vec<String>>,
}

/// The openssl processes running now. Their threads block in `waitid`; the
/// scheduler stops them from here, on a timeout, a failure elsewhere or a
/// signal, so that no thread has to poll its child.
#[derive(Default)]
struct Running {
    /// By pid, which is also the process group's id.
    procs: std::sync::Mutex<std::collections::HashMap<u32, Arc<Proc>>>,
}

struct Proc {
    deadline: Instant,
    timed_out: AtomicBool,
}

impl Running {
    fn add(&self, pid: u32, deadline: Instant) -> Arc<Proc> {
        let proc = Arc::new(Proc {
            deadline,
            timed_out: AtomicBool::new(false),
        });
        self.lock().insert(pid, Arc::clone(&proc));
        proc
    }

    /// Called once the child has exited and before it is reaped: while it
    /// is listed its pid cannot have been reused, so `sweep` never signals
    /// a stranger.
    fn remove(&self, pid: u32) {
        self.lock().remove(&pid);
    }

    /// Stops the processes past their deadline, or every one when `all`.
    fn sweep(&self, all: bool) {
        let now = Instant::now();
        for (&pid, proc) in self.lock().iter() {
            if all || now >= proc.deadline {
                if !all {
                    proc.timed_out.store(true, Ordering::SeqCst);
                }
                kill_group(pid);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<u32, Arc<Proc>>> {
        self.procs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a list of steps is, for [`Runner::execute`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Steps,
    Checks,
}

/// The first failure in plan order, other than a step stopped because
/// another failed.
fn first_error(results: Vec<Option<Result<Vec<String>>>>) -> Option<Error> {
    results
        .into_iter()
        .flatten()
        .filter_map(|r| r.err())
        .find(|e| !matches!(e, Error::Cancelled))
}

/// `(check, reason)` for each failed check.
pub fn failures(outcomes: &[CheckOutcome]) -> Vec<(String, String)> {
    outcomes
        .iter()
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|e| (o.step.to_string(), e.to_string()))
        })
        .collect()
}

/// SIGINT and SIGTERM set these instead of killing pkiforge outright, so that
/// a run can stop its child and remove its staging directory first.
#[derive(Debug, Clone)]
pub struct Signals {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    /// Set when one step failed: the others stop too.
    cancel: Arc<AtomicBool>,
}

impl Signals {
    pub fn install() -> Result<Signals> {
        let s = Signals::none();
        let register = |sig, flag: &Arc<AtomicBool>| {
            signal_hook::flag::register(sig, Arc::clone(flag))
                .map_err(|e| Error::io("cannot install the signal handler", e))
        };
        register(signal_hook::consts::SIGINT, &s.int)?;
        register(signal_hook::consts::SIGTERM, &s.term)?;
        Ok(s)
    }

    /// Signals that are never raised, for callers that handle none.
    pub fn none() -> Signals {
        Signals {
            int: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    fn check(&self) -> Result<()> {
        if self.int.load(Ordering::SeqCst) {
            return Err(Error::Interrupted { signal: 2 });
        }
        if self.term.load(Ordering::SeqCst) {
            return Err(Error::Interrupted { signal: 15 });
        }
        if self.cancel.load(Ordering::SeqCst) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }
}

pub struct Runner<'a> {
    pub openssl: &'a Openssl,
    pub progress: &'a Progress,
    pub signals: &'a Signals,
    /// Variables set for every openssl child (the PKCS#12 password when it
    /// was asked on the terminal).
    pub env: Vec<(String, String)>,
    /// Wait for Enter before each step (`--step`); steps then run one at a time.
    pub pause: bool,
    /// How many steps may run at the same time.
    pub jobs: usize,
}

/// The available cores: the default for `--jobs`.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Runner<'_> {
    /// Runs every step and check of `plan`; on success moves the files into
    /// `opts.out`. On any failure the output directory is as it was.
    pub fn run(&self, plan: &Plan, opts: &RunOptions) -> Result<Report> {
        let outputs = plan.outputs();
        // A file that is read as well as written (ca.srl, for --add) is
        // meant to be updated.
        let existing: Vec<String> = outputs
            .iter()
            .filter(|p| !opts.inputs.contains(p))
            .filter(|p| opts.out.join(p).symlink_metadata().is_ok())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() && !opts.force {
            return Err(Error::WouldClobber {
                dir: opts.out.clone(),
                files: existing.join(" "),
            });
        }
        let created = create_parents(&opts.out)?;
        let result = self.run_staged(plan, opts, &outputs);
        if result.is_err() {
            remove_created(&created);
        }
        result
    }

    fn run_staged(&self, plan: &Plan, opts: &RunOptions, outputs: &[PathBuf]) -> Result<Report> {
        let parent = parent_of(&opts.out);
        let staging = tempfile::Builder::new()
            .prefix(".pkiforge-staging-")
            .tempdir_in(parent)
            .map_err(|e| {
                Error::io(
                    format!("cannot create a staging directory in {}", parent.display()),
                    e,
                )
            })?;
        for input in &opts.inputs {
            fs::copy(opts.out.join(input), staging.path().join(input)).map_err(|e| {
                Error::io(
                    format!(
                        "cannot copy {} from {}",
                        input.display(),
                        opts.out.display()
                    ),
                    e,
                )
            })?;
        }
        let results = self.execute(
            &plan.steps,
            &graph::dependencies(&plan.steps),
            staging.path(),
            opts.timeout,
            Mode::Steps,
        )?;
        if let Some(e) = first_error(results) {
            return Err(e);
        }
        let outcomes = self.run_checks(&plan.checks, staging.path(), opts.timeout)?;
        let failed = failures(&outcomes);
        if !failed.is_empty() {
            return Err(Error::Verify {
                total: outcomes.len(),
                failed,
            });
        }
        // What the tutorial's own `openssl verify` printed is shown as it is.
        let check_lines: Vec<String> = outcomes
            .iter()
            .filter(|o| o.step.id == "verify")
            .filter_map(|o| o.result.as_ref().ok())
            .flatten()
            .cloned()
            .collect();
        let checks_passed = outcomes.len();
        self.signals.check()?;
        publish(staging.path(), &opts.out, outputs)?;
        Ok(Report {
            out: opts.out.clone(),
            files: outputs.to_vec(),
            check_lines,
            checks_passed,
        })
    }

    /// `--step`: shows the tutorial's words and the command, and waits for
    /// Enter (or the end of stdin); Ctrl-C still stops the run at once.
    fn wait_for_enter(&self, step: &Step) -> Result<()> {
        eprintln!(
            "\n# {}\n$ {step}\n[Enter runs it; Ctrl-C stops]",
            step.heading
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let _ = tx.send(());
        });
        loop {
            self.signals.check()?;
            match rx.recv_timeout(POLL) {
                Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// Runs every check in `dir` (they read only, so all may run at once),
    /// failed or not; the outcomes are in the checks' order.
    pub fn run_checks(
        &self,
        checks: &[Step],
        dir: &Path,
        timeout: Duration,
    ) -> Result<Vec<CheckOutcome>> {
        let independent = vec![Vec::new(); checks.len()];
        let results = self.execute(checks, &independent, dir, timeout, Mode::Checks)?;
        Ok(checks
            .iter()
            .cloned()
            .zip(results)
            .map(|(step, result)| CheckOutcome {
                step,
                result: result.unwrap_or(Err(Error::Cancelled)),
            })
            .collect())
    }

    /// Runs `steps` as a graph: each starts as soon as the steps it depends
    /// on have finished, up to `jobs` at a time, in plan order among those
    /// ready. With `fail_fast`, the first failure stops the others (their
    /// children are killed) and nothing new starts. Returns each step's
    /// result, `None` for steps that never started; Ctrl-C and SIGTERM stop
    /// everything and return the interrupt.
    fn execute(
        &self,
        steps: &[Step],
        deps: &[Vec<usize>],
        dir: &Path,
        timeout: Duration,
        mode: Mode,
    ) -> Result<Vec<Option<Result<Vec<String>>>>> {
        // Steps stop at the first failure, and pause one at a time with
        // --step; checks all run, to report every failure.
        let (fail_fast, pause) = (mode == Mode::Steps, mode == Mode::Steps && self.pause);
        let jobs = if pause { 1 } else { self.jobs.max(1) };
        let mut results: Vec<Option<Result<Vec<String>>>> =
            (0..steps.len()).map(|_| None).collect();
        let mut started = vec![false; steps.len()];
        self.signals.cancel.store(false, Ordering::SeqCst);
        self.progress.begin();
        let procs = Running::default();
        std::thread::scope(|scope| -> Result<()> {
            // `jobs` workers, each with its own queue, running one step at a
            // time; the loop below hands a ready step to an idle worker. When
            // this closure returns, the queues are dropped and the workers
            // end, before the scope joins them.
            let (tx, rx) = std::sync::mpsc::channel();
            let mut queues = Vec::new();
            for worker in 0..jobs.min(steps.len()) {
                let (queue, work) = std::sync::mpsc::channel::<usize>();
                queues.push(queue);
                let (tx, procs) = (tx.clone(), &procs);
                scope.spawn(move || {
                    for i in work {
                        let began = Instant::now();
                        let result = self.run_step(&steps[i], dir, timeout, procs);
                        if tx.send((worker, i, result, began.elapsed())).is_err() {
                            break;
                        }
                    }
                });
            }
            let mut idle: Vec<usize> = (0..queues.len()).rev().collect();
            loop {
                let stopping = self.signals.check().is_err();
                while !stopping && !idle.is_empty() {
                    let ready = (0..steps.len()).find(|&i| {
                        !started[i] && deps[i].iter().all(|&d| matches!(results[d], Some(Ok(_))))
                    });
                    let Some(i) = ready else { break };
                    if pause {
                        self.wait_for_enter(&steps[i])?;
                    }
                    started[i] = true;
                    self.progress.start(i, &steps[i]);
                    if let Some(worker) = idle.pop() {
                        // The workers outlive this loop, so the send succeeds.
                        let _ = queues[worker].send(i);
                    }
                }
                // Every worker idle: nothing runs, and nothing more is ready.
                if idle.len() == queues.len() {
                    return Ok(());
                }
                // Timeouts; and on a signal or a failure, everything.
                procs.sweep(self.signals.check().is_err());
                match rx.recv_timeout(POLL) {
                    Ok((worker, i, result, took)) => {
                        idle.push(worker);
                        match &result {
                            Ok(_) => self.progress.finish(i, &steps[i], took),
                            Err(Error::Cancelled) => {}
                            Err(_) => {
                                self.progress.fail(i, &steps[i]);
                                if fail_fast {
                                    self.signals.cancel.store(true, Ordering::SeqCst);
                                }
                            }
                        }
                        results[i] = Some(result);
                    }
                    Err(_) => {
                        // Nothing finished: the sweep above runs again.
                    }
                }
            }
        })?;
        self.signals.cancel.store(false, Ordering::SeqCst);
        // An interrupt outranks the failures it caused.
        self.signals.check()?;
        for r in results.iter_mut() {
            if let Some(Err(Error::Interrupted { signal })) = r {
                return Err(Error::Interrupted { signal: *signal });
            }
        }
        Ok(results)
    }

    /// Runs one step in `dir`; returns the lines a check printed.
    fn run_step(
        &self,
        step: &Step,
        dir: &Path,
        timeout: Duration,
        procs: &Running,
    ) -> Result<Vec<String>> {
        let mut printed = Vec::new();
        match &step.action {
            Action::Openssl { args, stdin } => {
                let stdout = self.run_openssl(step, args, stdin, dir, timeout, procs)?;
                let fail = |message: String| Error::Check {
                    step: step.id.clone(),
                    command: step.to_string(),
                    message,
                };
                match &step.expect {
                    Some(Expect::Lines(expected)) => {
                        printed = stdout.lines().map(str::to_string).collect();
                        if &printed != expected {
                            return Err(fail(format!(
                                "expected {:?}, openssl printed {:?}",
                                expected.join("\n"),
                                stdout.trim_end()
                            )));
                        }
                    }
                    Some(Expect::Pkcs12 { certs }) => {
                        verify::pkcs12_matches(stdout.as_bytes(), dir, certs).map_err(fail)?;
                    }
                    None => {}
                }
            }
            Action::Concat { parts, out } => concat(step, dir, parts, out)?,
            Action::Inspect(inspection) => {
                verify::inspect(dir, inspection).map_err(|message| Error::Check {
                    step: step.id.clone(),
                    command: step.to_string(),
                    message,
                })?;
            }
        }
        self.check_outputs(step, dir)?;
        Ok(printed)
    }

    fn run_openssl(
        &self,
        step: &Step,
        args: &[Arg],
        stdin: &[String],
        dir: &Path,
        timeout: Duration,
        procs: &Running,
    ) -> Result<String> {
        // Temp files for <(printf …) live exactly as long as this step.
        let mut temps = Vec::new();
        let mut argv = Vec::with_capacity(args.len());
        for arg in args {
            match arg {
                Arg::Lit(word) => argv.push(word.clone().into()),
                Arg::Inline(text) => {
                    let mut file = tempfile::Builder::new()
                        .prefix(".inline-")
                        .tempfile_in(dir)
                        .map_err(|e| Error::io("cannot create a temp file", e))?;
                    file.write_all(text.as_bytes())
                        .and_then(|_| file.flush())
                        .map_err(|e| Error::io("cannot write a temp file", e))?;
                    argv.push(file.path().as_os_str().to_owned());
                    temps.push(file);
                }
            }
        }
        let fail_start = |e: std::io::Error| Error::StepFailed {
            step: step.id.clone(),
            command: step.to_string(),
            status: format!("could not start {}: {e}", self.openssl.path.display()),
            stderr: String::new(),
        };
        let mut cmd = Command::new(&self.openssl.path);
        cmd.args(&argv)
            .current_dir(dir)
            // Its own process group, so that stopping a step also stops
            // anything a wrapper around openssl started (see kill_group()).
            .process_group(0)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if stdin.is_empty() {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(fail_start)?;
        let proc = procs.add(child.id(), Instant::now() + timeout);
        if let Some(mut pipe) = child.stdin.take() {
            let mut bytes = stdin.join("\n");
            bytes.push('\n');
            // The answers are far smaller than a pipe's buffer. An openssl
            // that exits without reading them fails the step by its status.
            let _ = pipe.write_all(bytes.as_bytes());
        }
        let captured = read_both(child.stdout.take(), child.stderr.take());
        wait_exited(child.id());
        procs.remove(child.id());
        let waited = child.wait();
        if proc.timed_out.load(Ordering::SeqCst) {
            return Err(Error::Timeout {
                step: step.id.clone(),
                command: step.to_string(),
                seconds: timeout.as_secs(),
            });
        }
        // Stopped for a signal or another step's failure; and Ctrl-C on a
        // terminal reaches openssl too: report that, not the child's death.
        self.signals.check()?;
        let wait_error = |e| Error::io(format!("waiting for step {}", step.id), e);
        let status = waited.map_err(wait_error)?;
        let (stdout, stderr) = captured.map_err(wait_error)?;
        drop(temps);
        if !status.success() {
            return Err(Error::StepFailed {
                step: step.id.clone(),
                command: step.to_string(),
                status: describe_status(status),
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&stdout).into_owned())
    }

    fn check_outputs(&self, step: &Step, dir: &Path) -> Result<()> {
        for out in &step.outputs {
            let ok = fs::metadata(dir.join(out)).is_ok_and(|m| m.is_file() && m.len() > 0);
            if !ok {
                return Err(Error::MissingOutput {
                    step: step.id.clone(),
                    command: step.to_string(),
                    file: out.clone(),
                    stderr: String::new(),
                });
            }
        }
        for key in &step.keys {
            let path = dir.join(key);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(format!("cannot make {} private", key.display()), e))?;
            let mode = fs::metadata(&path)
                .map_err(|e| Error::io(format!("cannot read {}", key.display()), e))?
                .permissions()
                .mode()
                & 0o777;
            if mode != 0o600 {
                return Err(Error::Check {
                    step: step.id.clone(),
                    command: step.to_string(),
                    message: format!("{} has mode {mode:o}, not 600", key.display()),
                });
            }
        }
        if let Some(check) = &step.subject_check {
            let found =
                verify::read_subject(&dir.join(&check.file)).map_err(|message| Error::Check {
                    step: step.id.clone(),
                    command: step.to_string(),
                    message,
                })?;
            if let Some((field, expected, found)) =
                verify::subject_difference(&check.expected, &found)
            {
                return Err(Error::SubjectMismatch {
                    step: step.id.clone(),
                    command: step.to_string(),
                    file: check.file.clone(),
                    field,
                    expected,
                    found,
                });
            }
        }
        Ok(())
    }
}

/// Kills a running step's process group: openssl, and anything a wrapper
/// around it started. The step's thread, waiting on it, reaps it.
fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) with a negative pid signals the process group that
        // pid leads; it has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Reads a child's stdout and stderr to their ends, both at once (poll(2)),
/// so that neither can fill its pipe and stall openssl; the step's own
/// thread does it, with no helper thread per pipe.
fn read_both(
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let file = |fd: OwnedFd| fs::File::from(fd);
    let mut pipes = [
        stdout.map(OwnedFd::from).map(file),
        stderr.map(OwnedFd::from).map(file),
    ];
    let mut bufs = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 8192];
    while pipes.iter().any(Option::is_some) {
        let mut fds: Vec<libc::pollfd> = pipes
            .iter()
            .map(|p| libc::pollfd {
                fd: p.as_ref().map_or(-1, |p| p.as_raw_fd()),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: poll(2) reads and writes only the `fds` array it is given.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for (i, fd) in fds.iter().enumerate() {
            let Some(pipe) = pipes[i].as_mut().filter(|_| fd.revents != 0) else {
                continue;
            };
            match pipe.read(&mut chunk) {
                Ok(0) => pipes[i] = None,
                Ok(n) => {
                    let buf = if i == 0 { &mut bufs.0 } else { &mut bufs.1 };
                    buf.extend_from_slice(&chunk[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(bufs)
}

/// Blocks until the child `pid` has exited, without reaping it (WNOWAIT):
/// until `Child::wait` reaps it, its pid and process group stay its own.
fn wait_exited(pid: u32) {
    loop {
        // SAFETY: waitid(2) writes only into `info`, a local of the right type.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if r == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

fn concat(step: &Step, dir: &Path, parts: &[PathBuf], out: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    for part in parts {
        let data = fs::read(dir.join(part)).map_err(|e| Error::StepFailed {
            step: step.id.clone(),
            command: step.to_string(),
            status: format!("cannot read {}: {e}", part.display()),
            stderr: String::new(),
        })?;
        bytes.extend_from_slice(&data);
    }
    fs::write(dir.join(out), bytes)
        .map_err(|e| Error::io(format!("cannot write {}", out.display()), e))
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("openssl exited with status {code}"),
        (None, Some(sig)) => format!("openssl was killed by signal {sig}"),
        _ => format!("openssl ended: {status}"),
    }
}

fn parent_of(dir: &Path) -> &Path {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Creates the missing ancestors of `out` (not `out` itself); returns those
/// created, deepest first, so a failed run can remove them again.
fn create_parents(out: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut dir = parent_of(out).to_path_buf();
    while !dir.exists() {
        missing.push(dir.clone());
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p.to_path_buf(),
            _ => break,
        }
    }
    for d in missing.iter().rev() {
        if let Err(e) = fs::create_dir(d) {
            remove_created(&missing);
            return Err(Error::io(format!("cannot create {}", d.display()), e));
        }
    }
    Ok(missing)
}

fn remove_created(dirs: &[PathBuf]) {
    for d in dirs {
        let _ = fs::remove_dir(d);
    }
}

/// Moves the staged files into `out`, creating it if needed. If a move fails
/// part-way, the files already moved are taken back out.
fn publish(staging: &Path, out: &Path, files: &[PathBuf]) -> Result<()> {
    let created_out = !out.exists();
    if created_out {
        fs::create_dir(out)
            .map_err(|e| Error::io(format!("cannot create {}", out.display()), e))?;
    }
    let mut moved: Vec<&PathBuf> = Vec::new();
    for f in files {
        if let Err(e) = fs::rename(staging.join(f), out.join(f)) {
            for m in &moved {
                let _ = fs::remove_file(out.join(m));
            }
            if created_out {
                let _ = fs::remove_dir(out);
            }
            return Err(Error::io(
                format!("cannot move {} into {}", f.display(), out.display()),
                e,
            ));
        }
        moved.push(f);
    }
    Ok(())
}
