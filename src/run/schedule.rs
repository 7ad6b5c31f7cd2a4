//! The scheduler: runs a graph of steps, each as soon as the steps it
//! depends on have finished, up to `jobs` at a time, in plan order among
//! those ready. What running a step means is behind the [`Execute`] seam
//! (the runner's executor starts openssl; the tests' records and sleeps).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::plan::step::Step;
use crate::run::progress::Progress;
use crate::signals;

/// How often the scheduler looks at signals while steps run.
const TICK: Duration = Duration::from_millis(25);

/// Runs one step.
pub trait Execute: Sync {
    /// Runs `step`; returns the lines it printed that the report shows.
    /// `stop` is set when it should stop early (another step failed).
    fn execute(&self, step: &Step, stop: &AtomicBool) -> Result<Vec<String>>;
}

/// How to schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// How many steps may run at once.
    pub jobs: usize,
    /// The first failure stops the others and nothing new starts (steps);
    /// otherwise every step runs, to report every failure (checks).
    pub fail_fast: bool,
    /// Wait for Enter before each step (`--step`); one at a time then.
    pub pause: bool,
}

/// How one step went.
#[derive(Debug)]
pub enum Outcome {
    /// It finished, with the lines it printed.
    Done(Vec<String>),
    Failed(Error),
    /// Stopped because another step failed, or never started.
    NotRun,
}

impl Outcome {
    fn is_done(&self) -> bool {
        matches!(self, Outcome::Done(_))
    }
}

/// What a worker sends back: which worker, which step, how it went, how long it took.
type Finished = (usize, usize, Result<Vec<String>>, Duration);

/// Runs `steps` (`deps[i]` are the indices step `i` waits for) and returns
/// each one's outcome, in the steps' order. Ctrl-C and SIGTERM stop
/// everything and return the interrupt.
pub fn run(
    steps: &[Step],
    deps: &[Vec<usize>],
    executor: &impl Execute,
    opts: Options,
    progress: &Progress,
) -> Result<Vec<Outcome>> {
    let jobs = if opts.pause { 1 } else { opts.jobs.max(1) };
    let mut outcomes: Vec<Outcome> = steps.iter().map(|_| Outcome::NotRun).collect();
    let mut started = vec![false; steps.len()];
    let stop = AtomicBool::new(false);
    progress.begin();
    std::thread::scope(|scope| -> Result<()> {
        // When this closure returns, the queues are dropped and the workers
        // end, before the scope joins them.
        let (queues, rx) = workers(scope, jobs.min(steps.len()), steps, executor, &stop);
        let mut idle: Vec<usize> = (0..queues.len()).rev().collect();
        loop {
            let stopping = signals::raised().is_some() || stop.load(Ordering::SeqCst);
            while !stopping && !idle.is_empty() {
                let ready = (0..steps.len())
                    .find(|&i| !started[i] && deps[i].iter().all(|&d| outcomes[d].is_done()));
                let Some(i) = ready else { break };
                if opts.pause {
                    wait_for_enter(&steps[i])?;
                }
                started[i] = true;
                progress.start(i, &steps[i]);
                if let Some(worker) = idle.pop() {
                    // The workers outlive this loop, so the send succeeds.
                    let _ = queues[worker].send(i);
                }
            }
            // Every worker idle: nothing runs, and nothing more is ready.
            if idle.len() == queues.len() {
                return Ok(());
            }
            // Nothing finished within a tick: look at the signals again;
            // each step stops itself on its deadline, a signal or `stop`.
            let Ok((worker, i, result, took)) = rx.recv_timeout(TICK) else {
                continue;
            };
            idle.push(worker);
            outcomes[i] = match result {
                Ok(lines) => {
                    progress.finish(i, &steps[i], took);
                    Outcome::Done(lines)
                }
                // Stopped for another's failure: not a failure of its own.
                Err(_) if stop.load(Ordering::SeqCst) => Outcome::NotRun,
                Err(e) => {
                    progress.fail(i, &steps[i]);
                    if opts.fail_fast {
                        stop.store(true, Ordering::SeqCst);
                    }
                    Outcome::Failed(e)
                }
            };
        }
    })?;
    // An interrupt outranks the failures it caused.
    signals::check()?;
    for o in &outcomes {
        if let Outcome::Failed(Error::Interrupted { signal }) = o {
            return Err(Error::Interrupted { signal: *signal });
        }
    }
    Ok(outcomes)
}

/// Starts `n` workers, each with its own queue, running one step at a time
/// and sending back how it went. They end when their queues are dropped.
fn workers<'scope, 'env, E: Execute>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    n: usize,
    steps: &'env [Step],
    executor: &'env E,
    stop: &'env AtomicBool,
) -> (Vec<mpsc::Sender<usize>>, mpsc::Receiver<Finished>) {
    let (tx, rx) = mpsc::channel::<Finished>();
    let mut queues = Vec::new();
    for worker in 0..n {
        let (queue, work) = mpsc::channel::<usize>();
        queues.push(queue);
        let tx = tx.clone();
        scope.spawn(move || {
            for i in work {
                let began = Instant::now();
                let result = executor.execute(&steps[i], stop);
                if tx.send((worker, i, result, began.elapsed())).is_err() {
                    break;
                }
            }
        });
    }
    (queues, rx)
}

/// The first failure in plan order.
pub fn first_failure(outcomes: Vec<Outcome>) -> Option<Error> {
    outcomes.into_iter().find_map(|o| match o {
        Outcome::Failed(e) => Some(e),
        _ => None,
    })
}

/// Runs `work` on each item on up to `jobs` threads, each taking the next
/// item: the results in the items' order, or the first error in that
/// order. After an error (or a signal), what is queued is not started.
/// For independent sessions (handshake, test-server), where order is all
/// the scheduling there is.
pub fn in_order<T: Send, R: Send>(
    items: Vec<T>,
    jobs: usize,
    work: impl Fn(usize, T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let count = items.len();
    let queue = std::sync::Mutex::new(items.into_iter().enumerate());
    let results = std::sync::Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, count.max(1)) {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                    let Some((i, item)) = next else {
                        return;
                    };
                    let done = signals::check().and_then(|()| work(i, item));
                    let failed = done.is_err();
                    results
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((i, done));
                    if failed {
                        queue
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .by_ref()
                            .for_each(drop);
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// `--step`: shows the tutorial's words and the command, and waits for
/// Enter (or the end of stdin); Ctrl-C still stops the run at once.
fn wait_for_enter(step: &Step) -> Result<()> {
    crate::output::stderr_line(&format!(
        "\n# {}\n$ {step}\n[Enter runs it; Ctrl-C stops]",
        step.heading
    ));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(());
    });
    loop {
        signals::check()?;
        match rx.recv_timeout(TICK) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::step::{Action, Section};
    use std::sync::Mutex;

    fn steps(n: usize) -> Vec<Step> {
        (0..n)
            .map(|i| Step {
                id: format!("s{i}"),
                entity: String::new(),
                section: Section::Verify,
                heading: String::new(),
                action: Action::Concat {
                    parts: vec![],
                    out: "x".into(),
                },
                inputs: vec![],
                outputs: vec![],
                keys: vec![],
                subject_check: None,
                expect: None,
                report: false,
            })
            .collect()
    }

    /// Records the order steps start in and how many run at once; a step
    /// sleeps `ms[i]` milliseconds (in slices, stopping when asked), and
    /// fails when `fail[i]`.
    struct Fake {
        ms: Vec<u64>,
        fail: Vec<bool>,
        log: Mutex<Vec<String>>,
        running: Mutex<(usize, usize)>,
    }

    impl Fake {
        fn new(ms: &[u64], fail: &[usize]) -> Fake {
            Fake {
                ms: ms.to_vec(),
                fail: (0..ms.len()).map(|i| fail.contains(&i)).collect(),
                log: Mutex::new(Vec::new()),
                running: Mutex::new((0, 0)),
            }
        }

        fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }
    }

    impl Execute for Fake {
        fn execute(&self, step: &Step, stop: &AtomicBool) -> Result<Vec<String>> {
            let i: usize = step.id[1..].parse().unwrap();
            {
                let mut r = self.running.lock().unwrap();
                r.0 += 1;
                r.1 = r.1.max(r.0);
            }
            self.log.lock().unwrap().push(format!("start {}", step.id));
            let until = Instant::now() + Duration::from_millis(self.ms[i]);
            let mut stopped = false;
            while Instant::now() < until {
                if stop.load(Ordering::SeqCst) {
                    stopped = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            self.running.lock().unwrap().0 -= 1;
            self.log.lock().unwrap().push(format!("end {}", step.id));
            if stopped || self.fail[i] {
                return Err(Error::Usage(format!("{} failed", step.id)));
            }
            Ok(vec![step.id.clone()])
        }
    }

    fn opts(jobs: usize, fail_fast: bool) -> Options {
        Options {
            jobs,
            fail_fast,
            pause: false,
        }
    }

    fn done(outcomes: &[Outcome]) -> Vec<&str> {
        outcomes
            .iter()
            .map(|o| match o {
                Outcome::Done(_) => "done",
                Outcome::Failed(_) => "failed",
                Outcome::NotRun => "not run",
            })
            .collect()
    }

    #[test]
    fn a_step_starts_only_after_the_steps_it_depends_on() {
        let fake = Fake::new(&[30, 0, 0], &[]);
        let deps = vec![vec![], vec![0], vec![1]];
        let out = run(&steps(3), &deps, &fake, opts(4, true), &Progress::Quiet).unwrap();
        assert_eq!(done(&out), ["done", "done", "done"]);
        assert_eq!(
            fake.log(),
            [
                "start s0", "end s0", "start s1", "end s1", "start s2", "end s2"
            ]
        );
    }

    #[test]
    fn never_more_than_jobs_at_once_and_exactly_that_many_when_ready() {
        let fake = Fake::new(&[20; 6], &[]);
        let out = run(
            &steps(6),
            &vec![vec![]; 6],
            &fake,
            opts(2, true),
            &Progress::Quiet,
        )
        .unwrap();
        assert_eq!(done(&out), ["done"; 6]);
        assert_eq!(fake.running.lock().unwrap().1, 2);
    }

    #[test]
    fn ready_steps_start_in_plan_order() {
        let fake = Fake::new(&[0, 0, 0, 0], &[]);
        // s1, s2 and s3 are ready, in plan order; s0 waits for s3.
        let deps = vec![vec![3], vec![], vec![], vec![]];
        run(&steps(4), &deps, &fake, opts(1, true), &Progress::Quiet).unwrap();
        let starts: Vec<String> = fake
            .log()
            .into_iter()
            .filter(|l| l.starts_with("start"))
            .collect();
        assert_eq!(starts, ["start s1", "start s2", "start s3", "start s0"]);
    }

    #[test]
    fn a_failure_stops_the_running_steps_and_starts_no_more() {
        // s0 fails at once; s1 is running and is stopped; s2 never starts.
        let fake = Fake::new(&[0, 5_000, 0], &[0]);
        let started = Instant::now();
        let out = run(
            &steps(3),
            &vec![vec![]; 3],
            &fake,
            opts(2, true),
            &Progress::Quiet,
        )
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(4));
        assert_eq!(done(&out), ["failed", "not run", "not run"]);
        assert!(!fake.log().contains(&"start s2".to_string()));
        assert_eq!(first_failure(out).unwrap().to_string(), "s0 failed");
    }

    #[test]
    fn checks_all_run_whatever_fails() {
        let fake = Fake::new(&[0, 10, 0], &[0, 2]);
        let out = run(
            &steps(3),
            &vec![vec![]; 3],
            &fake,
            opts(1, false),
            &Progress::Quiet,
        )
        .unwrap();
        assert_eq!(done(&out), ["failed", "done", "failed"]);
    }

    #[test]
    fn steps_after_a_failed_one_are_not_run() {
        let fake = Fake::new(&[0, 0], &[0]);
        let out = run(
            &steps(2),
            &[vec![], vec![0]],
            &fake,
            opts(2, false),
            &Progress::Quiet,
        )
        .unwrap();
        assert_eq!(done(&out), ["failed", "not run"]);
    }
}
