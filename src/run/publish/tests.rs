use super::*;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::MetadataExt;

/// Does every filesystem change for real until the `at`-th (1-based):
/// that one and every one after it fail, as if the process had been
/// killed just before it. `at: usize::MAX` never kills.
struct KillAt {
    at: usize,
    count: Cell<usize>,
}

impl KillAt {
    fn new(at: usize) -> KillAt {
        KillAt {
            at,
            count: Cell::new(0),
        }
    }

    fn op(&self) -> std::io::Result<()> {
        self.count.set(self.count.get() + 1);
        if self.count.get() >= self.at {
            return Err(std::io::Error::other("killed"));
        }
        Ok(())
    }

    /// Whether the process "died" (some change was refused).
    fn killed(&self) -> bool {
        self.count.get() >= self.at
    }
}

impl Fs for KillAt {
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.op()?;
        RealFs.rename(from, to)
    }
    fn mkdir(&self, dir: &Path, mode: u32) -> std::io::Result<()> {
        // mkdir and chmod are two steps: a kill may fall between them.
        self.op()?;
        fs::DirBuilder::new().mode(0o700).create(dir)?;
        self.op()?;
        RealFs.chmod(dir, mode)
    }
    fn chmod(&self, path: &Path, mode: u32) -> std::io::Result<()> {
        self.op()?;
        RealFs.chmod(path, mode)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.op()?;
        RealFs.remove_file(path)
    }
    fn remove_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.op()?;
        RealFs.remove_dir(dir)
    }
    fn write_journal(&self, staging: &Path, entries: &[Entry]) -> std::io::Result<()> {
        // Written whole to a temp file, then renamed: killed in between,
        // only the temp file is there.
        self.op()?;
        let part = staging.join(format!("{JOURNAL}.part"));
        fs::write(&part, "partial")?;
        self.op()?;
        fs::remove_file(&part)?;
        journal::write(staging, entries)
    }
}

/// Every file and directory below `dir` but staging directories, with its
/// contents and mode.
fn snapshot(dir: &Path) -> BTreeMap<String, (String, u32)> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, (String, u32)>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(STAGING_PREFIX) {
                continue;
            }
            let path = e.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let mode = meta.mode() & 0o7777;
            if meta.is_dir() {
                out.insert(format!("{rel}/"), (String::new(), mode));
                walk(base, &path, out);
            } else {
                out.insert(rel, (fs::read_to_string(&path).unwrap(), mode));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn entry(name: &str, text: &str, mode: u32) -> (String, (String, u32)) {
    (name.to_string(), (text.to_string(), mode))
}

/// A publish into a DIR holding old `a`, `b`, `keep` and `gone`: new `a`
/// and `b` replace the old, `c` and `archive/1/b` (a secret, in a new
/// directory) are new, and `gone` and the directory `gonedir` are removed.
struct Case {
    _tmp: tempfile::TempDir,
    out: PathBuf,
    staging: PathBuf,
    files: Vec<PathBuf>,
    secrets: Vec<PathBuf>,
    removes: Vec<PathBuf>,
}

impl Case {
    fn new() -> Case {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let staging = out.join(".pkiforge-staging-1-x");
        fs::create_dir_all(staging.join("archive/1")).unwrap();
        for (f, text) in [
            ("a", "old a"),
            ("b", "old b"),
            ("keep", "keep"),
            ("gone", "gone"),
        ] {
            fs::write(out.join(f), text).unwrap();
            RealFs.chmod(&out.join(f), 0o644).unwrap();
        }
        // A directory removed whole (`run --force`: the old archive/).
        fs::create_dir(out.join("gonedir")).unwrap();
        fs::write(out.join("gonedir/k"), "old key").unwrap();
        RealFs.chmod(&out.join("gonedir"), 0o700).unwrap();
        RealFs.chmod(&out.join("gonedir/k"), 0o600).unwrap();
        for f in ["a", "b", "c", "archive/1/b"] {
            fs::write(staging.join(f), format!("new {f}")).unwrap();
            // Whatever mode a step left, the publish gives the final one.
            RealFs.chmod(&staging.join(f), 0o666).unwrap();
        }
        Case {
            _tmp: tmp,
            out,
            staging,
            files: ["a", "b", "c", "archive/1/b"].map(PathBuf::from).to_vec(),
            secrets: vec![PathBuf::from("archive/1/b")],
            removes: ["gone", "gonedir"].map(PathBuf::from).to_vec(),
        }
    }

    fn publish(&self, fs_ops: &impl Fs) -> Result<()> {
        publish(
            &self.staging,
            &self.out,
            &self.files,
            &self.secrets,
            &self.removes,
            fs_ops,
        )
    }

    fn before() -> BTreeMap<String, (String, u32)> {
        [
            entry("a", "old a", 0o644),
            entry("b", "old b", 0o644),
            entry("gone", "gone", 0o644),
            entry("gonedir/", "", 0o700),
            entry("gonedir/k", "old key", 0o600),
            entry("keep", "keep", 0o644),
        ]
        .into_iter()
        .collect()
    }

    fn after() -> BTreeMap<String, (String, u32)> {
        [
            entry("a", "new a", 0o644),
            entry("archive/", "", 0o700),
            entry("archive/1/", "", 0o700),
            entry("archive/1/b", "new archive/1/b", 0o600),
            entry("b", "new b", 0o644),
            entry("c", "new c", 0o644),
            entry("keep", "keep", 0o644),
        ]
        .into_iter()
        .collect()
    }
}

#[test]
fn a_publish_replaces_every_file_with_its_final_mode() {
    let case = Case::new();
    case.publish(&RealFs).unwrap();
    assert!(!case.staging.join(JOURNAL).exists());
    assert!(!case.staging.join(ORIGINALS).exists());
    recover(&case.staging, &case.out, &RealFs).unwrap();
    assert!(!case.staging.exists());
    assert_eq!(snapshot(&case.out), Case::after());
}

/// Fails the `at`-th rename only (1-based); every other change is real.
struct FailRename {
    at: usize,
    count: Cell<usize>,
}

impl Fs for FailRename {
    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.count.set(self.count.get() + 1);
        if self.count.get() == self.at {
            return Err(std::io::Error::other("injected fault"));
        }
        RealFs.rename(from, to)
    }
    fn mkdir(&self, dir: &Path, mode: u32) -> std::io::Result<()> {
        RealFs.mkdir(dir, mode)
    }
    fn chmod(&self, path: &Path, mode: u32) -> std::io::Result<()> {
        RealFs.chmod(path, mode)
    }
    fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        RealFs.remove_file(path)
    }
    fn remove_dir(&self, dir: &Path) -> std::io::Result<()> {
        RealFs.remove_dir(dir)
    }
    fn write_journal(&self, staging: &Path, entries: &[Entry]) -> std::io::Result<()> {
        RealFs.write_journal(staging, entries)
    }
}

#[test]
fn a_fault_at_any_move_leaves_every_original_in_place() {
    // Seven moves: a aside, a in, b aside, b in, c in, archive/1/b in,
    // gone aside.
    for k in 1..=7 {
        let case = Case::new();
        let fs_ops = FailRename {
            at: k,
            count: Cell::new(0),
        };
        let e = case.publish(&fs_ops).unwrap_err();
        assert!(e.to_string().ends_with("injected fault"), "{e}");
        assert!(
            case.staging.join(JOURNAL).exists(),
            "removed last, by the recovery"
        );
        recover(&case.staging, &case.out, &RealFs).unwrap();
        assert_eq!(snapshot(&case.out), Case::before(), "fault at move {k}");
    }
}

#[test]
fn a_kill_at_any_change_and_another_during_the_recovery_leave_the_old_files_or_the_new() {
    let count = KillAt::new(usize::MAX);
    Case::new().publish(&count).unwrap();
    let publish_changes = count.count.get();
    let mut seen = (0, 0);
    for k in 1..=publish_changes + 1 {
        // The recovery's own changes, after a kill at k, counted first.
        let dry = Case::new();
        let _ = dry.publish(&KillAt::new(k));
        let count = KillAt::new(usize::MAX);
        recover(&dry.staging, &dry.out, &count).unwrap();
        for j in 1..=count.count.get() + 1 {
            let case = Case::new();
            let killed = KillAt::new(k);
            let published = case.publish(&killed);
            assert!(published.is_ok() || killed.killed(), "{published:?}");
            // The next run is killed at its j-th change while recovering,
            // and the one after it recovers what is left.
            let _ = recover(&case.staging, &case.out, &KillAt::new(j));
            if case.staging.exists() {
                recover(&case.staging, &case.out, &RealFs)
                    .unwrap_or_else(|e| panic!("kill at {k}, then at {j}: {e}"));
            }
            assert!(!case.staging.exists());
            let now = snapshot(&case.out);
            if now == Case::before() {
                seen.0 += 1;
            } else {
                assert_eq!(now, Case::after(), "kill at {k}, then at {j}");
                seen.1 += 1;
            }
        }
    }
    assert!(seen.0 > 0 && seen.1 > 0, "{seen:?}");
}

#[test]
fn a_journal_whose_new_files_are_gone_takes_nothing_out_of_dir() {
    // A run put the originals back and was killed while removing its
    // staging directory: the journal is there, the new files are not.
    let case = Case::new();
    let entries = plan_moves(
        &case.staging,
        &case.out,
        &case.files,
        &case.secrets,
        &case.removes,
        &RealFs,
    )
    .unwrap();
    journal::write(&case.staging, &entries).unwrap();
    for f in ["a", "b", "c", "archive/1/b"] {
        fs::remove_file(case.staging.join(f)).unwrap();
    }
    let undone = recover(&case.staging, &case.out, &RealFs).unwrap();
    assert_eq!(snapshot(&case.out), Case::before());
    assert_eq!(
        undone.said(),
        " (it had stopped while publishing, and nothing here needed putting back)"
    );
}

#[test]
fn an_old_journal_never_takes_a_file_out_of_dir() {
    let case = Case::new();
    fs::write(case.staging.join(JOURNAL), "put a\nput b\nremove keep\n").unwrap();
    recover(&case.staging, &case.out, &RealFs).unwrap();
    assert_eq!(snapshot(&case.out), Case::before());
}

#[test]
fn a_journal_leaving_dir_is_refused_and_nothing_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    fs::write(&victim, "root's").unwrap();
    for text in [
        format!("remove {}\n", victim.display()),
        "put ../victim\n".to_string(),
    ] {
        let case = Case::new();
        fs::create_dir_all(case.staging.join(ORIGINALS)).unwrap();
        fs::write(case.staging.join(JOURNAL), text).unwrap();
        let e = recover(&case.staging, &case.out, &RealFs)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a file inside the directory"), "{e}");
        assert!(
            case.staging.join(JOURNAL).exists(),
            "kept for a person to look at"
        );
        assert_eq!(snapshot(&case.out), Case::before());
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "root's");
}

#[test]
fn a_link_in_dir_is_never_followed_by_a_rollback() {
    // `sub` in DIR is a link to a directory elsewhere: the original of
    // `sub/x` is never moved there, nor a file there taken out.
    let case = Case::new();
    let elsewhere = case._tmp.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    fs::write(elsewhere.join("y"), "theirs").unwrap();
    std::os::unix::fs::symlink(&elsewhere, case.out.join("sub")).unwrap();
    fs::create_dir_all(case.staging.join(".originals/sub")).unwrap();
    fs::write(case.staging.join(".originals/sub/x"), "planted").unwrap();
    let id = Identity::at(&elsewhere.join("y"));
    let entries = [
        Entry::Remove {
            file: "sub/x".into(),
            original: id,
        },
        Entry::Put {
            file: "sub/y".into(),
            new: id,
            original: None,
        },
    ];
    journal::write(&case.staging, &entries).unwrap();
    let e = recover(&case.staging, &case.out, &RealFs)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("is in the way of the original it replaced"),
        "{e}"
    );
    assert_eq!(fs::read_to_string(elsewhere.join("y")).unwrap(), "theirs");
    assert!(!elsewhere.join("x").exists());
}

#[test]
fn names_that_leave_dir_or_pass_through_a_link_are_not_published() {
    let case = Case::new();
    for bad in ["../a", "/etc/passwd", "a/../../b"] {
        let e = publish(&case.staging, &case.out, &[bad.into()], &[], &[], &RealFs).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{bad} is not a file name inside {}; pkiforge publishes nothing else",
                case.out.display()
            )
        );
    }
    std::os::unix::fs::symlink("/tmp", case.out.join("archive")).unwrap();
    let e = case.publish(&RealFs).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{} is not a directory (a file or a symbolic link), and pkiforge writes archive/1/b there; move it away",
            case.out.join("archive").display()
        )
    );
    assert!(
        !case.staging.join(JOURNAL).exists(),
        "refused before the journal"
    );
}
