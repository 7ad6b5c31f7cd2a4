//! Progress on a terminal: in a real terminal (a tmux pane), the finished
//! steps of a run show in the tutorial's order, as `plan` prints them,
//! however the parallel runner finishes them.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of this test's own, stopped when dropped.
struct Tmux {
    program: std::path::PathBuf,
    socket: String,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(["-L", &self.socket]);
        cmd
    }

    /// The pane's whole history and screen, wrapped lines joined.
    fn capture(&self) -> String {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-J", "-S", "-", "-t", "run"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// Runs `line` (a shell command) in a new tmux pane in `dir`, 250 columns
/// wide, and returns what the pane shows once it has printed `EXIT=`.
fn in_a_terminal(dir: &Path, line: &str) -> String {
    let tmux = Tmux {
        program: installed("tmux", "tmux"),
        socket: format!("pkiforge-test-{}", std::process::id()),
    };
    let mut start = tmux.command();
    start
        .args([
            "new-session",
            "-d",
            "-s",
            "run",
            "-x",
            "250",
            "-y",
            "80",
            "-c",
        ])
        .arg(dir)
        .arg(format!("{line}; echo EXIT=$?; sleep 600"))
        .env_remove("PKIFORGE_OPENSSL")
        .env_remove("OPENSSL_CONF")
        .env_remove("NO_COLOR");
    if let Ok(openssl) = std::env::var("PKIFORGE_TEST_OPENSSL") {
        start.env("PKIFORGE_OPENSSL", openssl);
    }
    assert!(start.status().unwrap().success());
    // Generous: a run of 2048-bit keys on a loaded machine.
    let started = Instant::now();
    loop {
        let screen = tmux.capture();
        if screen.contains("EXIT=") {
            return screen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no EXIT= in the pane:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn on_a_terminal_the_finished_steps_show_in_the_tutorials_order() {
    let tmp = tempfile::tempdir().unwrap();
    write(&tmp.path().join("fast.toml"), FAST);
    let plan = run_ok(tmp.path(), &["plan", "fast.toml"]);
    let planned: Vec<&str> = plan.lines().collect();
    let bin = assert_cmd::cargo::cargo_bin("pkiforge");
    let line = format!(
        "'{}' run fast.toml --out pki --jobs 4",
        bin.display().to_string().replace('\'', "'\\''")
    );
    let screen = in_a_terminal(tmp.path(), &line);
    assert!(screen.contains("EXIT=0"), "{screen}");
    // `ok   0.52s  COMMAND`, one a line, spinners cleared.
    let finished: Vec<&str> = screen
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .filter_map(|rest| rest.trim_start().split_once("s  "))
        .map(|(_, command)| command.trim_end())
        .collect();
    assert!(finished.len() > planned.len(), "{screen}");
    assert_eq!(finished[..planned.len()], planned[..], "{screen}");
}
