//! The plan as a dependency graph: which earlier steps each step must wait
//! for, from the files they read and write. Pure data, no I/O.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::plan::step::Step;

/// For each step, the indices of the earlier steps it must wait for: the
/// last writer of each file it reads (read after write), the last writer of
/// each file it writes (write after write), and every earlier reader of a
/// file it writes (write after read). Steps that share no file may run at
/// the same time; the signing steps, which all read and write the CA's
/// serial file, keep the plan's order.
pub fn dependencies(steps: &[Step]) -> Vec<Vec<usize>> {
    // One pass: for each file, its last writer and the readers since.
    let mut last_writer: HashMap<&PathBuf, usize> = HashMap::new();
    let mut readers: HashMap<&PathBuf, Vec<usize>> = HashMap::new();
    let mut deps = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let mut mine: Vec<usize> = Vec::new();
        for f in &step.inputs {
            mine.extend(last_writer.get(f));
        }
        for f in &step.outputs {
            mine.extend(last_writer.get(f));
            mine.extend(readers.get(f).into_iter().flatten().filter(|&&j| j != i));
        }
        mine.sort_unstable();
        mine.dedup();
        deps.push(mine);
        for f in &step.inputs {
            readers.entry(f).or_default().push(i);
        }
        for f in &step.outputs {
            last_writer.insert(f, i);
            // A later writer waits for this one, which waited for every
            // reader so far: they need not be listed again (the signing
            // steps, all readers and writers of the serial file, would
            // otherwise each list every earlier one).
            readers.remove(f);
        }
    }
    deps
}

/// The length of the longest chain through the graph, where step `i` costs
/// `cost[i]`: a lower bound on the wall time of any schedule.
pub fn critical_path(deps: &[Vec<usize>], cost: &[f64]) -> f64 {
    let mut finish = vec![0.0_f64; deps.len()];
    for i in 0..deps.len() {
        let start = deps[i].iter().map(|&j| finish[j]).fold(0.0, f64::max);
        finish[i] = start + cost[i];
    }
    finish.into_iter().fold(0.0, f64::max)
}

/// How long the graph takes with no overhead at all, given each step's CPU
/// seconds: steps start in plan order as soon as the steps they depend on
/// are done, at most `limit` at once, and those running share `cores`
/// evenly (each at min(1, cores / running), as an ideally fair kernel
/// would). `limit` = cores is the runner's schedule; `usize::MAX` starts
/// every ready step at once. The benchmark's model of a run.
pub fn schedule(deps: &[Vec<usize>], cost: &[f64], cores: f64, limit: usize) -> f64 {
    let n = cost.len();
    let mut left = cost.to_vec();
    let (mut started, mut done) = (vec![false; n], vec![false; n]);
    let mut running: Vec<usize> = Vec::new();
    let mut t = 0.0;
    loop {
        for i in 0..n {
            if running.len() < limit && !started[i] && deps[i].iter().all(|&d| done[d]) {
                started[i] = true;
                running.push(i);
            }
        }
        if running.is_empty() {
            return t;
        }
        let rate = (cores / running.len() as f64).min(1.0);
        let dt = running
            .iter()
            .map(|&i| left[i] / rate)
            .fold(f64::INFINITY, f64::min);
        t += dt;
        for &i in &running {
            left[i] -= dt * rate;
        }
        running.retain(|&i| {
            let finished = left[i] <= 1e-9;
            done[i] |= finished;
            !finished
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::step::{Action, Section};

    fn step(id: &str, inputs: &[&str], outputs: &[&str]) -> Step {
        Step {
            id: id.into(),
            entity: String::new(),
            section: Section::Ca,
            heading: String::new(),
            action: Action::Concat {
                parts: vec![],
                out: PathBuf::new(),
            },
            inputs: inputs.iter().map(PathBuf::from).collect(),
            outputs: outputs.iter().map(PathBuf::from).collect(),
            keys: vec![],
            subject_check: None,
            expect: None,
            report: false,
        }
    }

    #[test]
    fn keys_are_independent_and_signing_follows_the_serial_file() {
        let steps = [
            step("ca-key", &[], &["ca.key"]),
            step("ca-crt", &["ca.key"], &["ca.crt"]),
            step("s-key", &[], &["s.key"]),
            step("s-csr", &["s.key"], &["s.csr"]),
            step(
                "s-crt",
                &["s.csr", "ca.crt", "ca.key", "ca.srl"],
                &["s.crt", "ca.srl"],
            ),
            step("c-key", &[], &["c.key"]),
            step("c-csr", &["c.key"], &["c.csr"]),
            step(
                "c-crt",
                &["c.csr", "ca.crt", "ca.key", "ca.srl"],
                &["c.crt", "ca.srl"],
            ),
        ];
        let deps = dependencies(&steps);
        assert_eq!(
            deps,
            vec![
                vec![],
                vec![0],
                vec![],
                vec![2],
                vec![0, 1, 3],
                vec![],
                vec![5],
                vec![0, 1, 4, 6]
            ]
        );
        // Keys of 3, 1 and 2 seconds; the rest costs nothing: the CA key, its
        // certificate and both signings make the longest chain.
        let cost = [3.0, 0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 0.0];
        assert_eq!(critical_path(&deps, &cost), 3.0);
        // Two at a time: the client key starts when the server key is done
        // (at 1) and ends at 3, with the CA key; the rest costs nothing.
        assert_eq!(schedule(&deps, &cost, 2.0, 2), 3.0);
        // All three at once on two cores, each at 2/3: the server key ends
        // at 1.5, then the other two run alone, the client's (1 left) ending
        // at 2.5 and the CA's (2 left) at 3.5.
        assert!((schedule(&deps, &cost, 2.0, usize::MAX) - 3.5).abs() < 1e-9);
        // One at a time: the sum.
        assert_eq!(schedule(&deps, &cost, 2.0, 1), 6.0);
    }

    #[test]
    fn signing_steps_wait_for_the_one_before_not_for_every_one_before() {
        // A workshop: each signing reads and writes the serial file.
        let n = 2000;
        let signs: Vec<Step> = (0..n)
            .map(|i| step(&format!("c{i}-crt"), &["ca.crt", "ca.srl"], &["ca.srl"]))
            .collect();
        let deps = dependencies(&signs);
        assert_eq!(deps[0], Vec::<usize>::new());
        for (i, d) in deps.iter().enumerate().skip(1) {
            assert_eq!(*d, vec![i - 1], "step {i}");
        }
        // And a writer after plain readers waits for each of them once.
        let mut steps = vec![step("w", &[], &["f"])];
        steps.extend((1..=3).map(|i| step(&format!("r{i}"), &["f"], &[])));
        steps.push(step("w2", &[], &["f"]));
        steps.push(step("w3", &[], &["f"]));
        assert_eq!(
            dependencies(&steps),
            vec![vec![], vec![0], vec![0], vec![0], vec![0, 1, 2, 3], vec![4]]
        );
    }

    #[test]
    fn three_equal_keys_on_two_cores() {
        let keys = [
            step("a", &[], &["a"]),
            step("b", &[], &["b"]),
            step("c", &[], &["c"]),
        ];
        let deps = dependencies(&keys);
        // Two, then the third alone: 2 s, where the cores hold 1.5 s of work.
        assert_eq!(schedule(&deps, &[1.0; 3], 2.0, 2), 2.0);
        assert!((schedule(&deps, &[1.0; 3], 2.0, 3) - 1.5).abs() < 1e-9);
    }
}
