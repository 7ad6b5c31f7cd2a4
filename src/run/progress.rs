//! Progress on stderr: one line per finished step, in plan order (the
//! tutorial's), whatever order they finish in; on a terminal, under them, a
//! spinner for each step running (steps run at the same time) and for each
//! finished one that waits for the steps above it; nothing with `--quiet`.
//! No colour is used, so NO_COLOR is honoured as it stands.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::plan::step::Step;

pub enum Progress {
    Quiet,
    /// Lines of finished steps wait for the steps before them.
    Plain(Mutex<Ordered>),
    Live(Mutex<Live>),
}

#[derive(Default)]
pub struct Ordered {
    next: usize,
    done: BTreeMap<usize, String>,
}

pub struct Live {
    bars: MultiProgress,
    /// The bar of each step running, or finished and waiting.
    running: BTreeMap<usize, ProgressBar>,
    /// The finished steps' lines, in plan order as they may be printed.
    order: Ordered,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn done_line(step: &Step, took: Duration) -> String {
    format!("ok   {:>6.2}s  {step}", took.as_secs_f64())
}

fn fail_line(step: &Step) -> String {
    format!("FAIL          {step}")
}

impl Progress {
    /// Live on a terminal, plain lines otherwise, or nothing when `quiet`.
    pub fn for_stderr(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        {
            Progress::Live(Mutex::new(Live {
                bars: MultiProgress::new(),
                running: BTreeMap::new(),
                order: Ordered::default(),
            }))
        } else {
            Progress::plain()
        }
    }

    pub fn plain() -> Progress {
        Progress::Plain(Mutex::new(Ordered::default()))
    }

    /// A new list of steps starts (the run's steps, then its checks):
    /// indices count from 0 again.
    pub fn begin(&self) {
        match self {
            Progress::Quiet => {}
            Progress::Plain(state) => *lock(state) = Ordered::default(),
            Progress::Live(live) => lock(live).order = Ordered::default(),
        }
    }

    /// Step `index` of the list started.
    pub fn start(&self, index: usize, step: &Step) {
        if let Progress::Live(live) = self {
            let mut live = lock(live);
            let pb = live.bars.add(ProgressBar::new_spinner());
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.set_message(step.to_string());
            pb.enable_steady_tick(Duration::from_millis(100));
            live.running.insert(index, pb);
        }
    }

    /// Step `index` finished well after `took`.
    pub fn finish(&self, index: usize, step: &Step, took: Duration) {
        self.end(index, done_line(step, took));
    }

    /// Step `index` failed: what finished before it is shown, then it.
    pub fn fail(&self, _index: usize, step: &Step) {
        match self {
            Progress::Quiet => {}
            Progress::Plain(state) => {
                let mut s = lock(state);
                for line in std::mem::take(&mut s.done).into_values() {
                    crate::output::stderr_line(&line);
                }
                crate::output::stderr_line(&fail_line(step));
                s.next = usize::MAX;
            }
            Progress::Live(live) => {
                let mut live = lock(live);
                // Printed while the bars are there (see Live::end); then
                // every bar goes: the others are being stopped.
                for line in std::mem::take(&mut live.order.done).into_values() {
                    let _ = live.bars.println(crate::output::escape_controls(&line));
                }
                let _ = live
                    .bars
                    .println(crate::output::escape_controls(&fail_line(step)));
                for pb in std::mem::take(&mut live.running).into_values() {
                    pb.finish_and_clear();
                }
                live.order.next = usize::MAX;
            }
        }
    }

    fn end(&self, index: usize, line: String) {
        match self {
            Progress::Quiet => {}
            Progress::Plain(state) => {
                let mut s = lock(state);
                if s.next == usize::MAX {
                    return;
                }
                s.done.insert(index, line);
                loop {
                    let next = s.next;
                    let Some(line) = s.done.remove(&next) else {
                        break;
                    };
                    crate::output::stderr_line(&line);
                    s.next += 1;
                }
            }
            Progress::Live(live) => lock(live).end(index, line),
        }
    }

    /// A line of its own (a result, a note), unless quiet.
    pub fn say(&self, line: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Plain(_) => crate::output::stderr_line(line),
            Progress::Live(live) => {
                let _ = lock(live)
                    .bars
                    .println(crate::output::escape_controls(line));
            }
        }
    }
}

impl Live {
    /// Step `index` finished with `line`: printed above the spinners once
    /// every step before it is, with those after it that waited; until
    /// then its spinner says it is done and waits.
    fn end(&mut self, index: usize, line: String) {
        if self.order.next == usize::MAX {
            return;
        }
        if let Some(pb) = self.running.get(&index) {
            pb.set_message(format!("done, waiting for the steps above: {line}"));
        }
        self.order.done.insert(index, line);
        loop {
            let next = self.order.next;
            let Some(line) = self.order.done.remove(&next) else {
                break;
            };
            // Printed while its bar is still there: indicatif prints
            // nothing above a MultiProgress that has no bar left.
            let _ = self.bars.println(crate::output::escape_controls(&line));
            if let Some(pb) = self.running.remove(&next) {
                pb.finish_and_clear();
            }
            self.order.next += 1;
        }
    }
}
