//! `pkiforge run PROFILE …`: plan, lock DIR, run, check, publish.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Context, Outcome};
use super::{Planned, p12_password, plan_for, render};
use crate::cli::Only;
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::files;
use crate::pki::profile::Profile;
use crate::pki::x509;
use crate::plan::step;
use crate::plan::{self, Plan};
use crate::run::progress::Progress;
use crate::run::publish::OutDir;
use crate::run::runner::{RootFiles, RunOptions, Runner};

/// What `pkiforge run` was asked to do.
pub struct RunRequest {
    pub profile: PathBuf,
    pub out: PathBuf,
    pub force: bool,
    pub timeout: Duration,
    pub add: bool,
    pub only: Option<Only>,
    pub pause: bool,
    pub jobs: usize,
    /// `--root DIR`: the root CA's directory, which keeps its key.
    pub root: Option<PathBuf>,
}

/// `run PROFILE [--out DIR] [--force] [--add] [--only SECTION] [--step]
/// [--jobs N] [--root DIR]`.
pub fn command(ctx: &Context, args: RunArgs) -> Result<Outcome> {
    let request = RunRequest {
        root: args.root,
        out: args.out.unwrap_or_else(|| default_out(&args.profile)),
        profile: args.profile,
        force: args.force,
        timeout: ctx.timeout,
        add: args.add,
        only: args.only,
        pause: args.step,
        jobs: args.jobs.unwrap_or_else(crate::run::runner::default_jobs),
    };
    // --step shows plain lines between its pauses, never spinners.
    let progress = if args.step {
        Progress::plain()
    } else {
        ctx.progress()
    };
    run(&request, ctx.openssl(), &progress)
}

/// The default output directory: `pki/<profile file stem>`.
pub fn default_out(profile: &Path) -> PathBuf {
    let stem = profile
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "profile".into());
    PathBuf::from("pki").join(stem)
}

fn run(req: &RunRequest, openssl_flag: Option<&Path>, progress: &Progress) -> Result<String> {
    let Planned {
        profile,
        mut plan,
        layout,
        openssl,
        caps,
    } = plan_for(&req.profile, openssl_flag, req.timeout)?;
    if let Some(only) = req.only {
        plan = plan.only(only.section());
    }
    // From here to the publish, DIR is this run's alone: what it holds is
    // read under the lock, so a second run sees what the first one wrote.
    // The root's directory, with --root, is locked first: always that order.
    let mut root = match &req.root {
        Some(dir) => Some(lock_root(dir, req, &profile, progress)?),
        None => None,
    };
    let mut out = OutDir::lock(&req.out, progress)?;
    for line in out.clean_stale()? {
        progress.say(&format!("note: {line}"));
    }
    let root_files = match &root {
        Some(r) => Some(offline_root(&mut plan, &profile, &r.path, &req.out)?),
        None => None,
    };
    let ca_not_after = if req.add {
        let Some(ca_end) = add_only(&mut plan, req, &profile, caps, progress)? else {
            return Ok(format!(
                "nothing to add: every entity of {} is in {} already\n",
                req.profile.display(),
                req.out.display()
            ));
        };
        Some(ca_end)
    } else {
        None
    };
    let mut inputs = staging_inputs(&plan, req, root_files.as_ref())?;
    let transcript = super::transcript(&openssl, Some(&layout), &req.out, req.force);
    if transcript.append {
        inputs.push(PathBuf::from(crate::pki::names::TRANSCRIPT));
    }
    let p12_password = p12_password(&plan)?;
    for note in notes(req, &profile, &layout, &openssl, &plan, ca_not_after) {
        progress.say(&note);
    }
    let runner = Runner {
        openssl: &openssl,
        progress,
        p12_password,
        pause: req.pause,
        jobs: req.jobs,
        judge: &crate::check::verify::Verifier,
    };
    let opts = RunOptions {
        force: req.force,
        timeout: req.timeout,
        inputs,
        root: root_files,
        transcript: Some(transcript),
        replaced: replaced(req),
    };
    let report = runner.run(&plan, &opts, &mut out, root.as_mut())?;
    let mut text = render(&report, "PKI written to");
    let gone: Vec<String> = opts
        .replaced
        .iter()
        .filter(|f| !report.files.contains(f))
        .map(|f| f.display().to_string())
        .collect();
    if !gone.is_empty() {
        let _ = writeln!(text, "removed with the old PKI: {}", gone.join(" "));
    }
    Ok(text)
}

/// `--force` replaces the PKI in DIR as a whole: the old one's files that
/// this run does not write again (its CRL and database, leaves no longer in
/// the profile, fixtures, archive) leave with it. Read under DIR's lock.
/// `--only` and `--add` build on what DIR holds, and take nothing away.
fn replaced(req: &RunRequest) -> Vec<PathBuf> {
    if req.force && req.only.is_none() && !req.add {
        crate::pki::read::pki_files(&req.out)
    } else {
        Vec::new()
    }
}

/// What a user should know before the steps start: the openssl in use and
/// what it does differently, what the config will make, leaves that would
/// outlive their CA, and where an offline root's key stays.
fn notes(
    req: &RunRequest,
    profile: &Profile,
    layout: &crate::plan::prompts::PromptLayout,
    openssl: &crate::run::openssl::Openssl,
    plan: &Plan,
    ca_not_after: Option<i64>,
) -> Vec<String> {
    let mut notes = vec![format!(
        "pkiforge: {} ({}), writing {}",
        openssl.version,
        openssl.path.display(),
        req.out.display()
    )];
    notes.extend(openssl.notes());
    if plan.steps.iter().any(|s| s.entity == profile.ca.name) {
        notes.extend(plan::warnings(profile, layout));
    }
    let issued: Vec<&str> = plan.steps.iter().map(|s| s.entity.as_str()).collect();
    notes.extend(plan::outlives_ca(
        profile,
        &issued,
        ca_not_after,
        super::now(),
    ));
    if let Some(dir) = &req.root {
        notes.push(format!(
            "note: the root CA's key stays in {}; {} gets its certificate only",
            dir.display(),
            req.out.display()
        ));
    }
    notes
}

/// `--add`: the plan cut to the entities not in DIR yet, after the CA in
/// DIR is checked and what is about to expire is named. Returns the CA's
/// not-after, or `None` when there is nothing to add.
fn add_only(
    plan: &mut Plan,
    req: &RunRequest,
    profile: &Profile,
    caps: crate::plan::caps::Capabilities,
    progress: &Progress,
) -> Result<Option<i64>> {
    let ca_end = check_ca_for_add(profile, &req.out)?;
    for note in expiring_notes(profile, &req.out, super::now()) {
        progress.say(&note);
    }
    *plan = only_missing(std::mem::take(plan), req, profile)?;
    // The checks prove what this run makes, not the whole PKI again: the
    // entities in DIR were checked when they were made, and adding one to a
    // room of 1,000 costs what adding one to a room of 2 does.
    let mut spec = crate::plan::spec::CheckSpec::for_profile(profile);
    // The root stays offline: the intermediate in DIR signs, and no check
    // asks for the root's key.
    spec.root_key =
        profile.intermediate.is_none() || req.out.join(profile.ca.files().key()).exists();
    let made: std::collections::BTreeSet<&str> =
        plan.steps.iter().map(|s| s.entity.as_str()).collect();
    spec.leaves.retain(|l| made.contains(l.name.as_str()));
    spec.fixtures
        .retain(|f| made.contains(f.leaf.name.as_str()));
    let outputs: std::collections::BTreeSet<PathBuf> =
        plan.steps.iter().flat_map(|s| s.outputs.clone()).collect();
    plan.checks = crate::plan::checks::checks(&spec, caps)
        .into_iter()
        .filter(|c| c.reads_any_of(&outputs))
        .collect();
    Ok((!plan.steps.is_empty()).then_some(ca_end))
}

/// `--add` issues only what is missing; it does not renew what is there.
/// For each certificate in DIR with less than a third of its lifetime left
/// (as `status` judges), a note saying so and how to renew it.
fn expiring_notes(profile: &Profile, out: &Path, now: i64) -> Vec<String> {
    let mut notes = Vec::new();
    for e in std::iter::once(&profile.ca).chain(profile.leaves()) {
        let crt = e.files().crt();
        let Ok(ders) = x509::read_certificates(&out.join(&crt)) else {
            continue;
        };
        let Some(info) = ders.first().and_then(|d| x509::cert_info(d, &crt).ok()) else {
            continue;
        };
        let left = info.days_left(now);
        let window = crate::check::status::Window::Lifetime;
        if info.not_after <= now || window.expiring(info.not_before, info.not_after, now) {
            let when = crate::time::utc(info.not_after);
            let what = if left < 0 {
                format!("expired on {when}")
            } else {
                format!("expires on {when} ({left} days left)")
            };
            notes.push(format!(
                "note: {crt} {what}; --add does not renew it: run `pkiforge renew {} {}`",
                out.display(),
                e.name
            ));
        }
    }
    notes
}

/// `--add`: the plan of the entities whose files are not in DIR yet; an
/// entity with some of its files there is refused.
fn only_missing(plan: Plan, req: &RunRequest, profile: &Profile) -> Result<Plan> {
    // A root kept offline (`run --root`) leaves DIR its certificate only:
    // the CA is there all the same.
    let ca = profile.ca.files();
    let offline_root = profile.intermediate.is_some()
        && req.out.join(ca.crt()).is_file()
        && !req.out.join(ca.key()).exists();
    let root_file = |f: &PathBuf| *f == Path::new(&ca.key()) || *f == Path::new(&ca.srl());
    let (rest, half) =
        plan.without_existing(|f| req.out.join(f).exists() || (offline_root && root_file(f)));
    if !half.is_empty() {
        return Err(Error::Usage(format!(
            "{} holds some but not all files of {}; remove them to issue those again",
            req.out.display(),
            half.join(", ")
        )));
    }
    Ok(rest)
}

/// What the steps read but do not write must be in DIR (the CA, for --add
/// and --only server|client): those files, to copy into staging.
fn staging_inputs(plan: &Plan, req: &RunRequest, root: Option<&RootFiles>) -> Result<Vec<PathBuf>> {
    let from_root = |f: &Path| root.is_some_and(|r| r.inputs.iter().any(|i| i == f));
    let root_dir = req.root.clone().unwrap_or_default();
    plan.staging_inputs(|f| {
        if from_root(f) {
            files::is_regular(&root_dir.join(f))
        } else {
            files::is_regular(&req.out.join(f))
        }
    })
    .map(|inputs| inputs.into_iter().filter(|f| !from_root(f)).collect())
    .map_err(|missing| {
        let hint = if req.add {
            "--add reuses the CA in DIR"
        } else {
            "run --only ca first"
        };
        let names: Vec<String> = missing.iter().map(|f| f.display().to_string()).collect();
        Error::Usage(format!(
            "{} has no {}; {hint}",
            req.out.display(),
            names.join(", ")
        ))
    })
}

/// `--root DIR`: the root's directory must hold the profile's root CA, with
/// a private key; then it is locked for this run.
fn lock_root(
    dir: &Path,
    req: &RunRequest,
    profile: &Profile,
    progress: &Progress,
) -> Result<OutDir> {
    if req.add {
        return Err(Error::Usage(
            "--root makes a PKI whose root stays in its own directory; to add entities to it later, run --add without --root (the intermediate in DIR signs them)".into(),
        ));
    }
    if !dir.join(profile.ca.files().crt()).is_file() {
        return Err(Error::Usage(format!(
            "--root {}: has no {}; make the root there first (pkiforge run PROFILE --only ca --out {})",
            dir.display(),
            profile.ca.files().crt(),
            dir.display()
        )));
    }
    check_ca_for_add(profile, dir)?;
    if !dir.join(profile.ca.files().key()).is_file() {
        return Err(Error::Usage(format!(
            "--root {}: has no {}, which signs the intermediate",
            dir.display(),
            profile.ca.files().key()
        )));
    }
    let root = OutDir::lock(dir, progress)?;
    for line in root.clean_stale()? {
        progress.say(&format!("note: {line}"));
    }
    Ok(root)
}

/// With the root in `root_dir`: the plan without the root's own steps and
/// the checks of its key, the root's key named where it lives (`-CAkey
/// ROOT/ca.key`: it never enters DIR, not even its staging), and the root
/// files to copy in from there and the serial file to put back.
fn offline_root(
    plan: &mut Plan,
    profile: &Profile,
    root_dir: &Path,
    out: &Path,
) -> Result<RootFiles> {
    let ca = profile.ca.files();
    if out.join(ca.key()).exists() {
        return Err(Error::Usage(format!(
            "{} holds {}: with --root the output directory must not hold the root's key; move it to the root's directory",
            out.display(),
            ca.key()
        )));
    }
    let key = PathBuf::from(ca.key());
    let root_key = root_dir.join(&key).canonicalize().map_err(|e| {
        Error::io(
            format!("--root {}: cannot find {}", root_dir.display(), ca.key()),
            e,
        )
    })?;
    // The key is named on the command line, which is text.
    let Some(root_key) = root_key.to_str().map(str::to_string) else {
        return Err(Error::Usage(format!(
            "--root {}: its path {} is not UTF-8, which openssl's command line here needs; move the root to a directory with a UTF-8 name",
            root_dir.display(),
            root_key.display()
        )));
    };
    plan.steps.retain(|s| s.entity != profile.ca.name);
    // The root's database and CRL live with the root: nothing of them is
    // made or recorded in DIR.
    let root_db: Vec<PathBuf> = [ca.index(), ca.index_attr(), ca.crlnumber(), ca.crl()]
        .into_iter()
        .map(PathBuf::from)
        .collect();
    plan.steps
        .retain(|s| !s.outputs.iter().any(|o| root_db.contains(o)));
    plan.checks.retain(|c| !c.inputs.contains(&key));
    for step in &mut plan.steps {
        plan::name_at(step, &["-CAkey", "-keyfile"], &key, &root_key);
    }
    let serial = PathBuf::from(ca.srl());
    let mut inputs = vec![PathBuf::from(ca.crt())];
    if root_dir.join(&serial).is_file() {
        inputs.push(serial.clone());
    }
    let writes_serial = plan.outputs().contains(&serial);
    Ok(RootFiles {
        inputs,
        back: if writes_serial {
            vec![serial]
        } else {
            Vec::new()
        },
        to_out: vec![PathBuf::from(ca.crt())],
    })
}

/// `--add` reuses the CA in DIR: it must be there, be the profile's, and
/// its key must be private. Returns the CA's not-after (Unix time).
fn check_ca_for_add(profile: &Profile, out: &Path) -> Result<i64> {
    let crt = out.join(profile.ca.files().crt());
    if !crt.is_file() {
        return Err(Error::Usage(format!(
            "{} has no CA to add to; run without --add first",
            out.display()
        )));
    }
    let der = x509::read_certificate(&crt)?;
    let ca = x509::cert_info(&der, &profile.ca.files().crt())
        .map_err(|e| Error::BadInput(e.to_string()))?;
    let (found, want) = (&ca.subject_fields, profile.ca.subject_fields());
    if !step::same_fields(&want, found) {
        return Err(Error::Usage(format!(
            "{} is the CA {}, but the profile's [ca] says {}; --add issues with the CA in DIR, so they must agree",
            crt.display(),
            step::show_fields(found),
            step::show_fields(&want)
        )));
    }
    super::private_ca_key(&out.join(profile.ca.files().key()))?;
    check_intermediate_for_add(profile, out)?;
    Ok(ca.not_after)
}

/// With an `[intermediate]`, the one in DIR must have the profile's name
/// constraints: the profile's are what its leaves and fixtures were
/// checked against (an outside-constraints fixture, a name outside them).
fn check_intermediate_for_add(profile: &Profile, out: &Path) -> Result<()> {
    let Some(inter) = &profile.intermediate else {
        return Ok(());
    };
    let crt = out.join(inter.entity.files().crt());
    if !crt.is_file() {
        return Ok(());
    }
    let der = x509::read_certificate(&crt)?;
    let found = x509::cert_info(&der, &inter.entity.files().crt())
        .map_err(|e| Error::BadInput(e.to_string()))?;
    let shown = |list: &[crate::pki::constraints::Constraint]| -> Vec<String> {
        let mut v: Vec<String> = list.iter().map(|c| c.openssl()).collect();
        v.sort();
        v
    };
    let in_dir = found
        .name_constraints()
        .map(|(p, e)| (shown(&p), shown(&e)))
        .unwrap_or_default();
    let want = (shown(&inter.permitted), shown(&inter.excluded));
    if in_dir != want {
        return Err(Error::Usage(format!(
            "{} permits {:?} and excludes {:?}, but the profile's [intermediate] says permitted {:?} and excluded {:?}; --add signs with the intermediate in DIR and checks names against the profile's, so they must agree",
            crt.display(),
            in_dir.0,
            in_dir.1,
            want.0,
            want.1
        )));
    }
    Ok(())
}
