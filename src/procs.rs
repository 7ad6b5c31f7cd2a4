//! Other processes, as /proc tells of them: whether the one that made a
//! directory named after it still runs. A pid is reused, so a maker is its
//! pid and its start time; a zombie (dead, not yet reaped by its parent)
//! runs no more.

use std::fs;

/// What /proc says of a process: its start time, and whether it has died.
pub struct Stat {
    /// Clock ticks after boot (proc(5), field 22).
    pub start: u64,
    /// A zombie, or being torn down.
    pub dead: bool,
}

pub fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// A `/proc/PID/stat` line read.
fn parse_stat(text: &str) -> Option<Stat> {
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    // Field 3 is the state, field 22 the start time (proc(5)).
    let state = fields.first()?;
    let start = fields.get(19)?.parse().ok()?;
    Some(Stat {
        start,
        dead: *state == "Z" || *state == "X",
    })
}

/// A process's start time, if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.start)
}

/// Whether `pid` runs and, given `start`, is the process that started then
/// (not a later one given the same pid); a zombie does not run.
pub fn running(pid: u32, start: Option<u64>) -> bool {
    match stat(pid) {
        Some(s) => !s.dead && start.is_none_or(|t| t == s.start),
        // No /proc: ask the kernel whether the pid exists at all.
        None => pid_exists(pid),
    }
}

fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_another_start_time_is_another_process() {
        let me = std::process::id();
        let start = start_time(me).unwrap();
        assert!(running(me, Some(start)));
        assert!(running(me, None));
        assert!(!running(me, Some(start + 1)));
    }

    #[test]
    fn a_zombie_is_dead_whatever_its_name() {
        let line = |state: &str| {
            format!(
                "4242 (a) b) c) {state} 1 4242 4242 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0"
            )
        };
        let running = parse_stat(&line("S")).unwrap();
        assert_eq!((running.start, running.dead), (98765, false));
        let zombie = parse_stat(&line("Z")).unwrap();
        assert_eq!((zombie.start, zombie.dead), (98765, true));
        assert!(parse_stat("4242 (cut").is_none());
    }
}
