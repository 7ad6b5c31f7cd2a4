//! Progress on stderr: a spinner per step on a terminal, one plain line per
//! finished step elsewhere, nothing with `--quiet`. No colour is used, so
//! NO_COLOR is honoured as it stands.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::step::Step;

pub enum Progress {
    Quiet,
    Plain,
    Live(Mutex<Option<ProgressBar>>),
}

impl Progress {
    /// Live on a terminal, plain lines otherwise, or nothing when `quiet`.
    pub fn for_stderr(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal()
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        {
            Progress::Live(Mutex::new(None))
        } else {
            Progress::Plain
        }
    }

    pub fn start(&self, step: &Step) {
        if let Progress::Live(bar) = self {
            let pb = ProgressBar::new_spinner();
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.set_message(step.to_string());
            pb.enable_steady_tick(Duration::from_millis(100));
            *lock(bar) = Some(pb);
        }
    }

    pub fn finish(&self, step: &Step, took: Duration) {
        let line = format!("ok   {:>6.2}s  {step}", took.as_secs_f64());
        match self {
            Progress::Quiet => {}
            Progress::Plain => eprintln!("{line}"),
            Progress::Live(bar) => {
                if let Some(pb) = lock(bar).take() {
                    pb.set_style(
                        ProgressStyle::with_template("{msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    pb.finish_with_message(line);
                }
            }
        }
    }

    pub fn fail(&self, step: &Step) {
        let line = format!("FAIL          {step}");
        match self {
            Progress::Quiet => {}
            Progress::Plain => eprintln!("{line}"),
            Progress::Live(bar) => {
                if let Some(pb) = lock(bar).take() {
                    pb.set_style(
                        ProgressStyle::with_template("{msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    pb.abandon_with_message(line);
                }
            }
        }
    }

    /// A line of its own (a result, a note), unless quiet.
    pub fn say(&self, line: &str) {
        match self {
            Progress::Quiet => {}
            Progress::Plain => eprintln!("{line}"),
            Progress::Live(bar) => match lock(bar).as_ref() {
                Some(pb) => pb.println(line),
                None => eprintln!("{line}"),
            },
        }
    }
}

fn lock(bar: &Mutex<Option<ProgressBar>>) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
    bar.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
