//! Executes a plan: each openssl step as a child process in a staging directory,
//! temp files for `<(printf …)`, native `cat`, checks after every step, and
//! the result moved into place only when every check has passed. Steps run
//! as a dependency graph (see graph.rs), up to `--jobs` at a time.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::exec::P12_PASSWORD_VAR;
use crate::graph;
use crate::openssl::Openssl;
use crate::plan::Plan;
use crate::progress::Progress;
use crate::publish::OutDir;
use crate::signals;
use crate::step::{Action, Arg, Expect, Step};
use crate::verify;

pub use crate::exec::DEFAULT_TIMEOUT;

/// How often a running step is checked for Ctrl-C and its deadline.
const POLL: Duration = Duration::from_millis(25);

#[derive(Debug, Clone)]
pub struct RunOptions {
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

pub struct Runner<'a> {
    pub openssl: &'a Openssl,
    pub progress: &'a Progress,
    /// The PKCS#12 password, given only to the steps that name its variable.
    pub p12_password: Option<String>,
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
    /// Runs every step and check of `plan` in a private staging directory
    /// inside the locked output directory; on success publishes the files
    /// into it. On any failure the output directory is as it was.
    pub fn run(&self, plan: &Plan, opts: &RunOptions, out: &mut OutDir) -> Result<Report> {
        let outputs = plan.outputs();
        check_clobber(&out.path, &outputs, opts)?;
        let staging = out.staging()?;
        for input in &opts.inputs {
            fs::copy(out.path.join(input), staging.path().join(input)).map_err(|e| {
                Error::io(
                    format!(
                        "cannot copy {} from {}",
                        input.display(),
                        out.path.display()
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
        signals::check()?;
        out.publish(staging.path(), &outputs)?;
        Ok(Report {
            out: out.path.clone(),
            files: outputs.to_vec(),
            check_lines,
            checks_passed,
        })
    }

    /// `--step`: shows the tutorial's words and the command, and waits for
    /// Enter (or the end of stdin); Ctrl-C still stops the run at once.
    fn wait_for_enter(&self, step: &Step) -> Result<()> {
        crate::output::stderr_line(&format!(
            "\n# {}\n$ {step}\n[Enter runs it; Ctrl-C stops]",
            step.heading
        ));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let _ = tx.send(());
        });
        loop {
            signals::check()?;
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
        // Set when one step failed: the others stop too.
        let cancel = AtomicBool::new(false);
        self.progress.begin();
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
                let (tx, cancel) = (tx.clone(), &cancel);
                scope.spawn(move || {
                    for i in work {
                        let began = Instant::now();
                        let result = self.run_step(&steps[i], dir, timeout, cancel);
                        if tx.send((worker, i, result, began.elapsed())).is_err() {
                            break;
                        }
                    }
                });
            }
            let mut idle: Vec<usize> = (0..queues.len()).rev().collect();
            loop {
                let stopping = signals::raised().is_some();
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
                match rx.recv_timeout(POLL) {
                    Ok((worker, i, result, took)) => {
                        idle.push(worker);
                        match &result {
                            Ok(_) => self.progress.finish(i, &steps[i], took),
                            Err(Error::Cancelled) => {}
                            Err(_) => {
                                self.progress.fail(i, &steps[i]);
                                if fail_fast {
                                    cancel.store(true, Ordering::SeqCst);
                                }
                            }
                        }
                        results[i] = Some(result);
                    }
                    Err(_) => {
                        // Nothing finished yet; each step stops itself on
                        // its deadline, a signal or the cancel flag.
                    }
                }
            }
        })?;
        // An interrupt outranks the failures it caused.
        signals::check()?;
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
        cancel: &AtomicBool,
    ) -> Result<Vec<String>> {
        let mut printed = Vec::new();
        match &step.action {
            Action::Openssl { args, stdin } => {
                let stdout = self.run_openssl(step, args, stdin, dir, timeout, cancel)?;
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
        cancel: &AtomicBool,
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
        let mut call = self.openssl.call(argv, &step.id, timeout);
        call.shown = step.to_string();
        call.dir = Some(dir.to_path_buf());
        call.cancel = Some(cancel);
        if !stdin.is_empty() {
            let mut bytes = stdin.join("\n");
            bytes.push('\n');
            call.stdin = Some(bytes.into_bytes());
        }
        if let Some(password) = &self.p12_password
            && step.reads_p12_password()
        {
            call.env.push((P12_PASSWORD_VAR.into(), password.into()));
        }
        let done = call.run_ok()?;
        drop(temps);
        Ok(done.stdout_text())
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
            let found = crate::x509::read_subject(&dir.join(&check.file)).map_err(|message| {
                Error::Check {
                    step: step.id.clone(),
                    command: step.to_string(),
                    message,
                }
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

fn concat(step: &Step, dir: &Path, parts: &[PathBuf], out: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    for part in parts {
        let data = crate::files::read_regular(&dir.join(part)).map_err(|e| Error::StepFailed {
            step: step.id.clone(),
            command: step.to_string(),
            status: format!("cannot read {}: {}", part.display(), e.why),
            stderr: String::new(),
            stderr_lines: 0,
        })?;
        bytes.extend_from_slice(&data);
    }
    fs::write(dir.join(out), bytes)
        .map_err(|e| Error::io(format!("cannot write {}", out.display()), e))
}

/// Refuses to overwrite files unless `--force`; a directory where a file
/// goes is refused even then. Asked under DIR's lock, before any step runs.
fn check_clobber(out: &Path, outputs: &[PathBuf], opts: &RunOptions) -> Result<()> {
    let mut existing = Vec::new();
    for p in outputs {
        let Ok(meta) = out.join(p).symlink_metadata() else {
            continue;
        };
        if meta.is_dir() {
            return Err(Error::Usage(format!(
                "{} is a directory, where this run writes the file {}; move it away first",
                out.join(p).display(),
                p.display()
            )));
        }
        // A file that is read as well as written (ca.srl, for --add) is
        // meant to be updated.
        if !opts.inputs.contains(p) {
            existing.push(p.display().to_string());
        }
    }
    if !existing.is_empty() && !opts.force {
        return Err(Error::WouldClobber {
            dir: out.to_path_buf(),
            files: existing.join(" "),
        });
    }
    Ok(())
}
