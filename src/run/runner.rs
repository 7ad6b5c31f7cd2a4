//! Executes a plan: stages the inputs in a private directory, runs the steps
//! and then the checks through the scheduler (schedule.rs), and publishes
//! the files only when every check has passed. Running a step is the
//! executor's part: openssl through exec.rs, with a temp file for each
//! `<(printf …)`, or a native `cat`; what a step must have left behind is
//! verify.rs's to judge.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::error::{At, Error, Failure, Result, Status};
use crate::plan::Plan;
use crate::plan::graph;
use crate::plan::step::P12_PASSWORD_VAR;
use crate::plan::step::{Action, Arg, Expect, Judge, Step};
use crate::run::openssl::Openssl;
use crate::run::progress::Progress;
use crate::run::publish::OutDir;
use crate::run::schedule::{self, Execute, Outcome};
use crate::signals;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub force: bool,
    pub timeout: Duration,
    /// Files of DIR the steps and checks read (the CA, for `--add` and
    /// `--only`): copied into the staging directory first.
    pub inputs: Vec<PathBuf>,
    /// With `--root`: the root CA's directory, what is copied from it
    /// (instead of from DIR), and what goes back into it (its serial file).
    pub root: Option<RootFiles>,
    /// What this run adds to DIR's `commands.sh` (when continued, the
    /// transcript is among `inputs`).
    pub transcript: Option<crate::plan::transcript::Transcript>,
    /// With `--force`: the old PKI's files that this run does not write,
    /// taken out of DIR by the same publish (put back if it fails).
    pub replaced: Vec<PathBuf>,
}

/// The root CA's files, for a run whose root stays in another directory.
#[derive(Debug, Clone)]
pub struct RootFiles {
    /// Copied from the root's directory into staging (`ca.crt`, `ca.key`, `ca.srl`).
    pub inputs: Vec<PathBuf>,
    /// Published into the root's directory, not DIR (`ca.srl`).
    pub back: Vec<PathBuf>,
    /// Published into DIR although no step writes it (`ca.crt`, the trust anchor).
    pub to_out: Vec<PathBuf>,
}

/// What a successful run leaves to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub out: PathBuf,
    pub files: Vec<PathBuf>,
    /// What the checks whose output the report shows printed (the
    /// tutorial's `openssl verify`: `server.crt: OK`).
    pub check_lines: Vec<String>,
    pub checks_passed: usize,
}

/// One check and how it went: `Ok` with the lines it printed, or why it failed.
#[derive(Debug)]
pub struct CheckOutcome {
    pub step: Step,
    pub result: std::result::Result<Vec<String>, NotPassed>,
}

/// Why a check did not pass.
#[derive(Debug, thiserror::Error)]
pub enum NotPassed {
    #[error(transparent)]
    Failed(Error),
    /// Never started (the run was stopped).
    #[error("did not run")]
    NotRun,
}

/// Each failed check, with why.
pub fn failures(outcomes: &[CheckOutcome]) -> Vec<Failure> {
    outcomes
        .iter()
        .filter_map(|o| {
            o.result.as_ref().err().map(|reason| Failure {
                check: o.step.to_string(),
                reason: reason.to_string(),
            })
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
    /// What judges each step's outputs and runs the in-process checks.
    pub judge: &'a dyn Judge,
}

/// The available cores: the default for `--jobs`.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Runner<'_> {
    /// Runs every step and check of `plan` in a private staging directory
    /// inside the locked output directory; on success publishes the files
    /// into it. On any failure the output directory is as it was.
    pub fn run(
        &self,
        plan: &Plan,
        opts: &RunOptions,
        out: &mut OutDir,
        root: Option<&mut OutDir>,
    ) -> Result<Report> {
        let mut outputs = plan.outputs();
        if let Some(r) = &opts.root {
            outputs.retain(|f| !r.back.contains(f));
            outputs.extend(r.to_out.iter().cloned());
        }
        let made = outputs.clone();
        if opts.transcript.is_some() {
            outputs.push(PathBuf::from(crate::pki::names::TRANSCRIPT));
        }
        check_clobber(&out.path, &outputs, opts)?;
        let staging = out.staging()?;
        copy_in(&out.path, &opts.inputs, staging.path())?;
        if let (Some(r), Some(root_dir)) = (&opts.root, root.as_deref()) {
            copy_in(&root_dir.path, &r.inputs, staging.path())?;
        }
        self.run_steps_in(&plan.steps, staging.path(), opts.timeout)?;
        let outcomes = self.run_checks(&plan.checks, staging.path(), opts.timeout)?;
        let failed = failures(&outcomes);
        if !failed.is_empty() {
            return Err(Error::Verify {
                total: outcomes.len(),
                failed,
            });
        }
        let check_lines: Vec<String> = outcomes
            .iter()
            .filter(|o| o.step.report)
            .filter_map(|o| o.result.as_ref().ok())
            .flatten()
            .cloned()
            .collect();
        if let Some(t) = &opts.transcript {
            write_transcript(staging.path(), t, plan, &made)?;
        }
        signals::check()?;
        if let (Some(r), Some(root_dir)) = (&opts.root, root) {
            // The root's serial file first: should DIR's publish fail
            // after it, the serials have only moved on, never repeat.
            let root_staging = root_dir.staging()?;
            copy_in(staging.path(), &r.back, root_staging.path())?;
            root_dir.publish(root_staging.path(), &r.back, &[], &[])?;
        }
        let mut removes = plan.removes.clone();
        removes.extend(
            opts.replaced
                .iter()
                .filter(|f| !outputs.contains(f))
                .cloned(),
        );
        // What the steps declared a key or a secret is published 0600.
        let secrets: Vec<PathBuf> = plan.steps.iter().flat_map(|s| s.keys.clone()).collect();
        out.publish(staging.path(), &outputs, &secrets, &removes)?;
        Ok(Report {
            out: out.path.clone(),
            files: outputs,
            check_lines,
            checks_passed: outcomes.len(),
        })
    }

    /// Runs `steps` in `dir`, each once the steps whose files it needs
    /// are done, and stops at the first failure, which it returns. Nothing
    /// is published: what they write stays in `dir` (a run's staging, or
    /// the handshake's scratch directory, thrown away with it).
    pub fn run_steps_in(&self, steps: &[Step], dir: &Path, timeout: Duration) -> Result<()> {
        let executor = self.executor(dir, timeout);
        let options = schedule::Options {
            jobs: self.jobs,
            fail_fast: true,
            pause: self.pause,
        };
        let deps = graph::dependencies(steps);
        let outcomes = schedule::run(steps, &deps, &executor, options, self.progress)?;
        match schedule::first_failure(outcomes) {
            Some(e) => Err(e),
            None => Ok(()),
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
        let options = schedule::Options {
            jobs: self.jobs,
            fail_fast: false,
            pause: false,
        };
        let executor = self.executor(dir, timeout);
        let outcomes = schedule::run(checks, &independent, &executor, options, self.progress)?;
        Ok(checks
            .iter()
            .cloned()
            .zip(outcomes)
            .map(|(step, outcome)| CheckOutcome {
                step,
                result: match outcome {
                    Outcome::Done(lines) => Ok(lines),
                    Outcome::Failed(e) => Err(NotPassed::Failed(e)),
                    Outcome::NotRun => Err(NotPassed::NotRun),
                },
            })
            .collect())
    }

    fn executor<'a>(&'a self, dir: &'a Path, timeout: Duration) -> StepExecutor<'a> {
        StepExecutor {
            runner: self,
            dir,
            timeout,
        }
    }
}

/// Runs the steps of a plan in one directory: the scheduler's [`Execute`].
struct StepExecutor<'a> {
    runner: &'a Runner<'a>,
    dir: &'a Path,
    timeout: Duration,
}

impl Execute for StepExecutor<'_> {
    /// Runs the step, makes its keys private, and has the judge judge what
    /// it left; returns the lines the report shows.
    fn execute(&self, step: &Step, stop: &AtomicBool) -> Result<Vec<String>> {
        let stdout = match &step.action {
            Action::Openssl { args, stdin } => self.openssl(step, args, stdin, stop)?,
            Action::Concat { parts, out } => {
                concat(step, self.dir, parts, out)?;
                String::new()
            }
            Action::Copy { files, dir } => {
                copy_into(self.dir, files, dir)?;
                String::new()
            }
            Action::Write { text, out } => {
                write_new(&self.dir.join(out), text.as_bytes())?;
                String::new()
            }
            Action::Inspect(inspection) => {
                self.runner
                    .judge
                    .inspect(self.dir, inspection)
                    .map_err(|reason| Error::Check {
                        at: At::new(&step.id, step.to_string()),
                        reason,
                    })?;
                String::new()
            }
            Action::Tool { program, args } => self.tool(step, program, args, stop)?,
            Action::Render { what, out } => {
                let read = |file: &Path| crate::files::read_regular(&self.dir.join(file));
                crate::plan::export::render(what, read)
                    .and_then(|yaml| {
                        fs::write(self.dir.join(out), yaml).map_err(|source| {
                            crate::plan::export::ExportError::Write {
                                out: out.to_path_buf(),
                                source,
                            }
                        })
                    })
                    .map_err(|e| Error::Check {
                        at: At::new(&step.id, step.to_string()),
                        reason: e.into(),
                    })?;
                String::new()
            }
        };
        for key in &step.keys {
            // A key that is missing is reported as a missing output below.
            let made = fs::set_permissions(
                self.dir.join(key),
                fs::Permissions::from_mode(crate::pki::names::KEY_MODE),
            );
            if let Err(e) = made
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(Error::io(
                    format!("cannot make {} private", key.display()),
                    e,
                ));
            }
        }
        self.runner.judge.after_step(step, self.dir, &stdout)
    }
}

impl StepExecutor<'_> {
    /// Runs another program for a step (keytool), as openssl is run: in
    /// staging, bounded by the timeout, with the password only if it names it.
    fn tool(
        &self,
        step: &Step,
        program: &str,
        args: &[String],
        stop: &AtomicBool,
    ) -> Result<String> {
        let path = which::which(program).map_err(|_| {
            Error::Usage(format!("{program} is not on PATH; install a JDK (Debian: apt-get install default-jdk-headless)"))
        })?;
        let argv = args.iter().map(Into::into).collect();
        let mut call = crate::run::exec::Call::new(&path, argv, &step.id, self.timeout);
        call.name = program.to_string();
        call.shown = step.to_string();
        call.dir = Some(self.dir.to_path_buf());
        call.cancel = Some(stop);
        if let Some(password) = &self.runner.p12_password
            && step.reads_p12_password()
        {
            call.env.push((P12_PASSWORD_VAR.into(), password.into()));
        }
        Ok(call.run_ok()?.stdout_text())
    }

    /// Runs openssl for a step; returns what it printed on stdout.
    fn openssl(
        &self,
        step: &Step,
        args: &[Arg],
        stdin: &[String],
        stop: &AtomicBool,
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
                        .tempfile_in(self.dir)
                        .map_err(|e| Error::io("cannot create a temp file", e))?;
                    file.write_all(text.as_bytes())
                        .and_then(|_| file.flush())
                        .map_err(|e| Error::io("cannot write a temp file", e))?;
                    argv.push(file.path().as_os_str().to_owned());
                    temps.push(file);
                }
            }
        }
        let mut call = self.runner.openssl.call(argv, &step.id, self.timeout);
        call.shown = step.to_string();
        call.dir = Some(self.dir.to_path_buf());
        call.cancel = Some(stop);
        if !stdin.is_empty() {
            let mut bytes = stdin.join("\n");
            bytes.push('\n');
            call.stdin = Some(bytes.into_bytes());
        }
        if let Some(password) = &self.runner.p12_password
            && step.reads_p12_password()
        {
            call.env.push((P12_PASSWORD_VAR.into(), password.into()));
        }
        if matches!(step.expect, Some(Expect::Refused(_))) {
            // A fixture's check: openssl must fail, and says why on either stream.
            // (On success it prints `NAME.crt: OK`, which verify.rs refuses.)
            let done = call.run()?;
            drop(temps);
            return Ok(format!("{}{}", done.stdout_text(), done.stderr_text()));
        }
        let done = call.run_ok()?;
        drop(temps);
        Ok(done.stdout_text())
    }
}

/// Copies `files` from `from` into the staging directory `to`.
fn copy_in(from: &Path, files: &[PathBuf], to: &Path) -> Result<()> {
    for f in files {
        fs::copy(from.join(f), to.join(f)).map_err(|e| {
            Error::io(
                format!("cannot copy {} from {}", f.display(), from.display()),
                e,
            )
        })?;
    }
    Ok(())
}

/// `cat parts… > out`, natively.
fn concat(step: &Step, dir: &Path, parts: &[PathBuf], out: &Path) -> Result<()> {
    let mut bytes = Vec::new();
    for part in parts {
        let data = crate::files::read_regular(&dir.join(part)).map_err(|e| Error::StepFailed {
            at: At::new(&step.id, step.to_string()),
            status: Status::Other(format!("cannot read {}: {}", part.display(), e.why)),
            stderr: String::new(),
            stderr_lines: 0,
        })?;
        bytes.extend_from_slice(&data);
    }
    write_new(&dir.join(out), &bytes)
}

/// `mkdir -p dir && cp files… dir/`, in the staging directory `base`; the
/// copies keep their modes (a key stays 0600).
fn copy_into(base: &Path, files: &[PathBuf], dir: &Path) -> Result<()> {
    let target = base.join(dir);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&target)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    for file in files {
        let name = file.file_name().unwrap_or(file.as_os_str());
        fs::copy(base.join(file), target.join(name))
            .map_err(|e| Error::io(format!("cannot copy {}", file.display()), e))?;
    }
    Ok(())
}

/// Writes a file in the staging directory, creating its directory.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let shown = || {
        path.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("cannot write {}", shown()), e))?;
    }
    fs::write(path, bytes).map_err(|e| Error::io(format!("cannot write {}", shown()), e))
}

/// Refuses to overwrite files unless `--force`; a directory where a file
/// goes is refused even then. Asked under DIR's lock, before any step runs.
/// Appends this run's part to the transcript in staging (copied in when it
/// is continued): its steps, and the SHA-256 of each file it made.
fn write_transcript(
    staging: &Path,
    t: &crate::plan::transcript::Transcript,
    plan: &Plan,
    made: &[PathBuf],
) -> Result<()> {
    use sha2::{Digest, Sha256};
    let mut hashes = Vec::with_capacity(made.len());
    for file in made {
        let bytes = fs::read(staging.join(file))
            .map_err(|e| Error::io(format!("cannot read {}", file.display()), e))?;
        let digest = Sha256::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        hashes.push((file.clone(), hex));
    }
    let path = staging.join(crate::pki::names::TRANSCRIPT);
    let mut text = if t.append {
        fs::read_to_string(&path).unwrap_or_default()
    } else {
        String::new()
    };
    text.push_str(&t.render(&plan.steps, &plan.removes, &hashes));
    fs::write(&path, text).map_err(|e| Error::io("cannot write the transcript", e))
}

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
        // meant to be updated; so is the fixtures' manifest, which lists
        // every fixture of the profile.
        // openssl ca keeps NAME.index.attr beside the database it updates.
        let beside_input = opts
            .inputs
            .iter()
            .any(|i| crate::pki::names::is_attr_of(p, i));
        if !opts.inputs.contains(p) && !beside_input && p != Path::new(crate::pki::names::MANIFEST)
        {
            existing.push(p.clone());
        }
    }
    if !existing.is_empty() && !opts.force {
        return Err(Error::WouldClobber {
            dir: out.to_path_buf(),
            files: existing,
        });
    }
    Ok(())
}
