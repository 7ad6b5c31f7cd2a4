//! `just bench`: pkiforge's parallel runner against its own lower bound.
//!
//! RSA key generation is a random prime search, so two runs of the same
//! profile differ by seconds: each run is judged against its own limit.
//! A small library, preloaded (LD_PRELOAD) into pkiforge and every openssl
//! it starts, logs each process's own CPU time as it exits; no extra process
//! stands between pkiforge and openssl. For each run:
//!
//! - LB = max(total openssl CPU / cores, the longest dependency chain of
//!   openssl CPU through the plan's graph, plus the longest check);
//! - wall / LB, and E = openssl CPU / (wall × cores);
//! - pkiforge's own CPU: the rusage of the pkiforge process itself (all its
//!   threads), against the CPU of it and all its children.
//!
//! Profiles: the shipped localhost profile (median of --runs, default 8) and
//! a workshop (one CA, one server, 32 clients, RSA 2048). For the reader, the
//! tutorial run as a sequential bash script, measured the same way.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pkiforge::run::openssl::Openssl;
use pkiforge::{pki::profile, plan, plan::graph};

mod common;
use common::{median, timed, workshop_profile};

const PKIFORGE: &str = env!("CARGO_BIN_EXE_pkiforge");

/// One openssl call as the library logged it.
struct Call {
    out: String,
    openssl_cpu: f64,
}

struct Measure {
    wall: f64,
    /// pkiforge and all its children (wait4's rusage).
    total_cpu: f64,
    /// The pkiforge process alone.
    own_cpu: f64,
    calls: Vec<Call>,
}

/// The library, in C and compiled here with `cc`. Its destructor runs as a
/// process exits (openssl and pkiforge both end through exit(3)); it logs
/// `KIND OUT cpu`, KIND being `pkiforge` or `openssl`, OUT the openssl
/// call's -out file, `check`, or `probe` for pkiforge's questions to the
/// binary (version, -help, object names), with a single write, as calls end
/// at once. Other programs (bash, in the script) log nothing.
const PRELOAD_C: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
__attribute__((destructor)) static void pkiforge_bench_log(void) {
    const char *log = getenv("PKIFORGE_BENCH_LOG");
    if (!log) return;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n < 0) return;
    exe[n] = 0;
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    if (strcmp(base, "pkiforge") && strcmp(base, "openssl")) return;
    char cmd[16384];
    int fd = open("/proc/self/cmdline", O_RDONLY);
    if (fd < 0) return;
    ssize_t len = read(fd, cmd, sizeof cmd - 1);
    close(fd);
    if (len < 0) return;
    cmd[len] = 0;
    char *argv[512];
    int argc = 0;
    for (char *p = cmd; p < cmd + len && argc < 512; p += strlen(p) + 1) argv[argc++] = p;
    const char *out = "check";
    for (int i = 1; i + 1 < argc; i++) if (!strcmp(argv[i], "-out")) out = argv[i + 1];
    if (argc > 1 && (!strcmp(argv[1], "version") || !strcmp(argv[1], "asn1parse") || (argc > 2 && !strcmp(argv[2], "-help")))) out = "probe";
    if (!strcmp(base, "pkiforge")) out = "-";
    struct rusage self;
    getrusage(RUSAGE_SELF, &self);
    double cpu = self.ru_utime.tv_sec + self.ru_utime.tv_usec / 1e6 + self.ru_stime.tv_sec + self.ru_stime.tv_usec / 1e6;
    char line[4200];
    int m = snprintf(line, sizeof line, "%s %s %.6f\n", base, out, cpu);
    int lf = open(log, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (lf >= 0) { write(lf, line, m); close(lf); }
}
"#;

/// Compiles the library into `dir`; returns its path.
fn write_preload(dir: &Path) -> PathBuf {
    let src = dir.join("preload.c");
    let path = dir.join("preload.so");
    std::fs::write(&src, PRELOAD_C).unwrap();
    let status = Command::new("cc")
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(&path)
        .arg(&src)
        .status()
        .expect("cc (gcc) is installed");
    assert!(status.success(), "cannot compile the preload library");
    path
}

/// Sets the library and its log on `cmd`.
fn instrument<'a>(cmd: &'a mut Command, preload: &Path, log: &Path) -> &'a mut Command {
    cmd.env("LD_PRELOAD", preload)
        .env("PKIFORGE_BENCH_LOG", log)
}

/// The calls logged since the last read, and pkiforge's own CPU.
fn read_log(log: &Path) -> (Vec<Call>, f64) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    std::fs::remove_file(log).ok();
    let mut calls = Vec::new();
    let mut own = 0.0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [kind, out, cpu] = f[..] else { continue };
        let cpu: f64 = cpu.parse().unwrap_or(0.0);
        match kind {
            "pkiforge" => own += cpu,
            _ => calls.push(Call {
                out: out.to_string(),
                openssl_cpu: cpu,
            }),
        }
    }
    (calls, own)
}

/// What every measured run uses: the openssl, the library and its log.
struct Bench {
    openssl: PathBuf,
    preload: PathBuf,
    log: PathBuf,
}

impl Bench {
    fn run_pkiforge(&self, work: &Path, profile: &Path, extra: &[String]) -> Measure {
        let out = work.join("out");
        let _ = std::fs::remove_dir_all(&out);
        let (wall, total_cpu) = timed(
            instrument(&mut Command::new(PKIFORGE), &self.preload, &self.log)
                .args(["run", "--quiet"])
                .args(extra)
                .arg("--out")
                .arg(&out)
                .arg("--openssl")
                .arg(&self.openssl)
                .arg(profile)
                .stdout(std::process::Stdio::null()),
        );
        let (calls, own_cpu) = read_log(&self.log);
        Measure {
            wall,
            total_cpu,
            own_cpu,
            calls,
        }
    }

    /// The tutorial as a sequential bash script in an empty directory.
    fn run_script(&self, work: &Path, script: &Path) -> Measure {
        let dir = work.join("script");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let (wall, total_cpu) = timed(
            instrument(&mut Command::new("bash"), &self.preload, &self.log)
                .arg(script)
                .current_dir(&dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null()),
        );
        let (calls, _) = read_log(&self.log);
        Measure {
            wall,
            total_cpu,
            own_cpu: 0.0,
            calls,
        }
    }
}

/// The tutorial as a bash script: the plan's lines, with the answers piped in.
fn tutorial_script(profile: &Path, openssl: &Path) -> String {
    let out = Command::new(PKIFORGE)
        .args(["plan", "--answers"])
        .arg(profile)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        match line.strip_prefix("#   ") {
            Some(prompt) => lines
                .last_mut()
                .unwrap()
                .1
                .push(prompt.rsplit_once("]: ").unwrap().1.to_string()),
            None => lines.push((line.to_string(), Vec::new())),
        }
    }
    let mut script = format!("set -e\nopenssl() {{ '{}' \"$@\"; }}\n", openssl.display());
    for (command, answers) in lines {
        if answers.is_empty() {
            let _ = writeln!(script, "{command}");
        } else {
            let _ = writeln!(
                script,
                "printf '%s\\n' {} | {command}",
                answers
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
        }
    }
    script
}

/// One run's openssl CPU: each step's (0 for the native `cat`s), each
/// openssl check's, and all calls' (probes too).
#[derive(Clone)]
struct Costs {
    steps: Vec<f64>,
    checks: Vec<f64>,
    total: f64,
}

impl Costs {
    fn of(plan: &plan::Plan, m: &Measure) -> Costs {
        let by_out: BTreeMap<&str, f64> = m
            .calls
            .iter()
            .map(|c| (c.out.as_str(), c.openssl_cpu))
            .collect();
        let steps = plan
            .steps
            .iter()
            .map(|s| {
                s.outputs
                    .first()
                    .and_then(|o| by_out.get(o.to_str().unwrap_or("")))
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect();
        let checks = m
            .calls
            .iter()
            .filter(|c| c.out == "check")
            .map(|c| c.openssl_cpu)
            .collect();
        Costs {
            steps,
            checks,
            total: m.calls.iter().map(|c| c.openssl_cpu).sum(),
        }
    }

    /// LB: the plan's graph weighted by each step's openssl CPU.
    fn lower_bound(&self, plan: &plan::Plan, cores: f64) -> f64 {
        let longest_check = self.checks.iter().copied().fold(0.0, f64::max);
        let chain =
            graph::critical_path(&graph::dependencies(&plan.steps), &self.steps) + longest_check;
        (self.total / cores).max(chain)
    }

    /// The wall the run would take with no overhead at all (see
    /// `graph::schedule`): the steps, then the checks. With `limit` = cores
    /// this is pkiforge's schedule; with no limit, every ready step at once,
    /// time-shared by an ideally fair kernel.
    fn model(&self, plan: &plan::Plan, cores: f64, limit: usize) -> f64 {
        graph::schedule(&graph::dependencies(&plan.steps), &self.steps, cores, limit)
            + graph::schedule(
                &vec![Vec::new(); self.checks.len()],
                &self.checks,
                cores,
                limit,
            )
    }
}

fn lower_bound(plan: &plan::Plan, m: &Measure, cores: f64) -> f64 {
    Costs::of(plan, m).lower_bound(plan, cores)
}

/// What the schedules would score over many more runs than were measured:
/// synthetic runs that take a measured run's costs and give its keys CPU
/// times drawn (with replacement) from every key measured, grouped by 8 as
/// the bench's median is. Returns, for two at a time (`limit`) and for every
/// step at once, the median of the medians of 8 and the share of those
/// medians at most 1.10.
fn resample(
    plan: &plan::Plan,
    runs: &[Costs],
    cores: f64,
    limit: usize,
) -> ([(f64, f64); 2], usize) {
    let keys: Vec<usize> = (0..plan.steps.len())
        .filter(|&i| {
            plan.steps[i]
                .outputs
                .first()
                .is_some_and(|o| o.extension().is_some_and(|e| e == "key"))
        })
        .collect();
    let pool: Vec<f64> = runs
        .iter()
        .flat_map(|c| keys.iter().map(|&k| c.steps[k]))
        .collect();
    // xorshift64*: enough for drawing indices, and the same every time.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut draw = |n: usize| {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    };
    let groups = 500;
    let mut medians = [Vec::new(), Vec::new()];
    for g in 0..groups {
        let mut ratios = [Vec::new(), Vec::new()];
        for r in 0..8 {
            let mut c = runs[(g * 8 + r) % runs.len()].clone();
            for &k in &keys {
                let key = pool[draw(pool.len())];
                c.total += key - c.steps[k];
                c.steps[k] = key;
            }
            let lb = c.lower_bound(plan, cores);
            ratios[0].push(c.model(plan, cores, limit) / lb);
            ratios[1].push(c.model(plan, cores, usize::MAX) / lb);
        }
        for (m, r) in medians.iter_mut().zip(ratios) {
            m.push(median(r));
        }
    }
    let scores = medians.map(|m| {
        let met = m.iter().filter(|&&x| x <= 1.10).count() as f64 / m.len() as f64;
        (median(m), met)
    });
    (scores, pool.len())
}

/// The openssl config reader on a 300,000-line config (target: under a
/// second; it was quadratic, over a minute): a section of 150,000 distinct
/// keys, then the same keys set again, as a generated config might.
fn config_parse() {
    let mut text = String::from("[req]\ndistinguished_name = dn\n[dn]\n");
    for round in 0..2 {
        for i in 0..150_000 {
            text.push_str(&format!("key{i} = value {round}\n"));
        }
    }
    let started = std::time::Instant::now();
    let config = pkiforge::pki::config::Config::parse(&text).unwrap();
    let took = started.elapsed();
    assert_eq!(config.get("dn", "key149999"), Some("value 1"));
    println!(
        "config reader: {} lines in {:.3} s (target < 1 s)\n",
        text.lines().count(),
        took.as_secs_f64()
    );
}

/// `pkiforge plan` of a 10,000-client profile (target: under a second; it
/// was quadratic, 7 s: each subject value's line was counted from the top
/// of the file), and the dependency graph of that plan (it listed every
/// earlier signing step for each: 50 million edges).
fn plan_of_many_clients() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("many.toml"), workshop_profile(10_000)).unwrap();
    let start = Instant::now();
    let out = Command::new(PKIFORGE)
        .current_dir(work.path())
        .args(["--quiet", "plan", "many.toml"])
        .output()
        .unwrap();
    let took = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let profile = profile::load(&work.path().join("many.toml")).unwrap();
    let mut openssl = Openssl::locate(None, std::time::Duration::from_secs(300)).unwrap();
    let layout = pkiforge::run::prompts::read_layout(&mut openssl).unwrap();
    let caps = openssl.capabilities(false).unwrap();
    let plan = plan::tutorial::build(&profile, &layout, caps, pkiforge::commands::now()).unwrap();
    let start = Instant::now();
    let edges: usize = graph::dependencies(&plan.steps).iter().map(Vec::len).sum();
    let graph_took = start.elapsed().as_secs_f64();
    println!(
        "plan: 10,000 clients, {} steps, in {took:.3} s (target < 1 s); their graph: {edges} edges in {graph_took:.3} s\n",
        plan.steps.len()
    );
}

/// The workshop page of a 64-client PKI (target: under 1 MB, written in
/// under a second): the best of 5 runs of `pkiforge report`.
fn report_size_and_time() {
    let work = tempfile::tempdir().unwrap();
    let mut profile = workshop_profile(64);
    profile = profile.replace("bits = 2048", "key = \"ec:P-256\"");
    std::fs::write(work.path().join("room.toml"), profile).unwrap();
    let made = Command::new(PKIFORGE)
        .current_dir(work.path())
        .args(["--quiet", "run", "room.toml", "--out", "pki"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        let out = Command::new(PKIFORGE)
            .current_dir(work.path())
            .args(["--quiet", "report", "pki"])
            .output()
            .unwrap();
        assert!(out.status.success());
        best = best.min(start.elapsed().as_secs_f64());
    }
    let size = std::fs::metadata(work.path().join("pki/report.html"))
        .unwrap()
        .len();
    println!(
        "report: 66 certificates (64 clients), {size} bytes (target < 1,000,000), written in {best:.3} s (target < 1 s)\n"
    );
}

fn main() {
    config_parse();
    plan_of_many_clients();
    report_size_and_time();
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(8);
    // `--jobs N` is passed on to pkiforge.
    let extra: Vec<String> = args
        .iter()
        .position(|a| a == "--jobs")
        .and_then(|i| args.get(i + 1))
        .map(|n| vec!["--jobs".to_string(), n.clone()])
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let work = tempfile::tempdir().unwrap();
    let mut openssl = Openssl::locate(
        std::env::var_os("PKIFORGE_OPENSSL")
            .map(PathBuf::from)
            .as_deref(),
        std::time::Duration::from_secs(300),
    )
    .unwrap();
    let bench = Bench {
        openssl: openssl.path.clone(),
        preload: write_preload(work.path()),
        log: work.path().join("calls.log"),
    };
    let layout = pkiforge::run::prompts::read_layout(&mut openssl).unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let localhost = repo.join("profiles/localhost.toml");
    let workshop = work.path().join("workshop.toml");
    std::fs::write(&workshop, workshop_profile(32)).unwrap();
    println!(
        "pkiforge bench: {} cores, {}, {runs} runs of the localhost profile\n",
        cores, openssl.version
    );

    // The localhost profile: wall / LB, median over the runs.
    let plan = plan::tutorial::build(
        &profile::load(&localhost).unwrap(),
        &layout,
        openssl.capabilities(false).unwrap(),
        pkiforge::commands::now(),
    )
    .unwrap();
    let jobs: usize = extra
        .get(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(cores as usize);
    let (mut ratios, mut walls, mut models, mut shared, mut overheads) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut measured = Vec::new();
    println!("localhost profile (RSA 4096 x3)");
    println!(
        "  wall/LB = model/LB (the schedule, with this run's CPU times and no overhead) x wall/model (overhead)"
    );
    println!(
        "  shared/LB: every ready step at once, on an ideally fair kernel; keys: each key's CPU s"
    );
    println!("  run   wall s   LB s  wall/LB     E  model/LB  wall/model  shared/LB  keys");
    for i in 1..=runs {
        let m = bench.run_pkiforge(work.path(), &localhost, &extra);
        let lb = lower_bound(&plan, &m, cores);
        let cpu: f64 = m.calls.iter().map(|c| c.openssl_cpu).sum();
        let c = Costs::of(&plan, &m);
        let (modelled, all_at_once) = (
            c.model(&plan, cores, jobs),
            c.model(&plan, cores, usize::MAX),
        );
        measured.push(c);
        let keys: Vec<String> = m
            .calls
            .iter()
            .filter(|c| c.out.ends_with(".key"))
            .map(|c| format!("{:.2}", c.openssl_cpu))
            .collect();
        println!(
            "  {i:>3}  {:>7.2} {:>6.2}  {:>7.3}  {:>5.2}  {:>8.3}  {:>10.3}  {:>9.3}  {}",
            m.wall,
            lb,
            m.wall / lb,
            cpu / (m.wall * cores),
            modelled / lb,
            m.wall / modelled,
            all_at_once / lb,
            keys.join(" ")
        );
        ratios.push(m.wall / lb);
        walls.push(m.wall);
        models.push(modelled / lb);
        shared.push(all_at_once / lb);
        overheads.push(m.wall / modelled);
    }
    let median_ratio = median(ratios);
    let ([(fifo, fifo_met), (all, all_met)], pool) = resample(&plan, &measured, cores, jobs);

    // The tutorial as a sequential bash script, for the reader.
    let script = work.path().join("tutorial.sh");
    std::fs::write(&script, tutorial_script(&localhost, &openssl.path)).unwrap();
    let mut script_ratios = Vec::new();
    let mut script_walls = Vec::new();
    for _ in 0..runs {
        let m = bench.run_script(work.path(), &script);
        script_ratios.push(m.wall / lower_bound(&plan, &m, cores));
        script_walls.push(m.wall);
    }

    // Workshop scale: one CA, one server, 32 clients.
    let wplan = plan::tutorial::build(
        &profile::load(&workshop).unwrap(),
        &layout,
        openssl.capabilities(false).unwrap(),
        pkiforge::commands::now(),
    )
    .unwrap();
    let wruns = runs.clamp(1, 3);
    let (mut we, mut wshare, mut wratio) = (Vec::new(), Vec::new(), Vec::new());
    println!("\nworkshop profile (1 CA, 1 server, 32 clients, RSA 2048)");
    println!("  run   wall s   LB s  wall/LB     E   total CPU s   pkiforge CPU");
    for i in 1..=wruns {
        let m = bench.run_pkiforge(work.path(), &workshop, &extra);
        let lb = lower_bound(&wplan, &m, cores);
        let openssl_cpu: f64 = m.calls.iter().map(|c| c.openssl_cpu).sum();
        let e = openssl_cpu / (m.wall * cores);
        let share = m.own_cpu / m.total_cpu;
        println!(
            "  {i:>3}  {:>7.2} {:>6.2}  {:>7.3}  {e:>5.3}   {:>11.2}   {:.3} s ({:.2}%)",
            m.wall,
            lb,
            m.wall / lb,
            m.total_cpu,
            m.own_cpu,
            share * 100.0
        );
        we.push(e);
        wshare.push(share);
        wratio.push(m.wall / lb);
    }
    let (e, share) = (median(we), median(wshare));

    println!("\nsummary (targets on a 2-core machine)");
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "  localhost median wall/LB      {median_ratio:.3}   target <= 1.10  {}",
        verdict(median_ratio <= 1.10)
    );
    println!(
        "  workshop parallel efficiency  {e:.3}   target >= 0.92  {}",
        verdict(e >= 0.92)
    );
    println!(
        "  workshop pkiforge CPU share   {:.2}%  target < 1%     {}",
        share * 100.0,
        verdict(share < 0.01)
    );
    println!(
        "  for the reader: the tutorial as a sequential bash script, median wall/LB {:.3}; median wall, script / pkiforge: {:.2} s / {:.2} s = {:.2}",
        median(script_ratios),
        median(script_walls.clone()),
        median(walls.clone()),
        median(script_walls) / median(walls)
    );
    println!("  workshop median wall/LB {:.3}", median(wratio));
    println!(
        "  localhost medians: model/LB {:.3} (the schedule itself), wall/model {:.3} (pkiforge's overhead), shared/LB {:.3} (every key at once)",
        median(models),
        median(overheads),
        median(shared)
    );
    println!(
        "  resampled (4000 runs whose keys take the {} measured key times, medians of 8): {jobs} at a time {fifo:.3} (<= 1.10 in {:.0}% of medians), every key at once {all:.3} ({:.0}%)",
        pool,
        fifo_met * 100.0,
        all_met * 100.0
    );
}
