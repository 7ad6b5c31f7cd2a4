//! One module per subcommand, each with one entry function,
//! `command(&Context, Args) -> Result<Outcome>`: the global options, the
//! subcommand's own arguments (cli.rs), and what to print on stdout (main
//! prints it). A command that fails after producing a report returns it
//! inside the error (`Error::reported`). What more than one command needs is
//! here, in mod.rs; no command imports another.

pub mod completions;
pub mod crl;
pub mod export;
pub mod handshake;
pub mod init;
pub mod inspect;
pub mod lint;
pub mod plan;
pub mod renew;
pub mod report;
pub mod revoke;
pub mod run;
pub mod serve;
pub mod status;
pub mod test_client;
pub mod test_server;
pub mod verify;

use std::fmt::Write as _;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::pki::profile::{self, Profile};
use crate::pki::read::Pki;
use crate::plan::Plan;
use crate::plan::lifecycle::Entities;
use crate::plan::prompts::PromptLayout;
use crate::plan::step::P12_PASSWORD_VAR;
use crate::plan::tutorial::build;
use crate::run::openssl::Openssl;
use crate::run::progress::Progress;
use crate::run::publish::OutDir;
use crate::run::runner::{Report, RunOptions, Runner};

/// What every command is given besides its own arguments: the global
/// options of the command line.
pub struct Context {
    /// `--openssl`: the binary to drive, if not `openssl` on PATH.
    pub openssl: Option<PathBuf>,
    /// `--timeout`: the longest any openssl call may run.
    pub timeout: Duration,
    /// `--quiet`: no progress lines on stderr.
    pub quiet: bool,
}

impl Context {
    pub fn new(global: &crate::cli::Global) -> Context {
        Context {
            openssl: global.openssl.clone(),
            timeout: Duration::from_secs(global.timeout),
            quiet: global.quiet,
        }
    }

    /// The `--openssl` the user gave, if any.
    pub fn openssl(&self) -> Option<&Path> {
        self.openssl.as_deref()
    }

    /// Where a command says what it does: stderr, unless `--quiet`.
    pub fn progress(&self) -> Progress {
        Progress::for_stderr(self.quiet)
    }
}

/// What a command prints on stdout.
pub type Outcome = String;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// What a run adds to DIR's `commands.sh`: continued unless the run
/// begins DIR anew (`fresh`: a first run, or `--force`) or there is none.
pub fn transcript(
    openssl: &crate::run::openssl::Openssl,
    prompts: Option<&crate::plan::prompts::PromptLayout>,
    dir: &std::path::Path,
    fresh: bool,
) -> crate::plan::transcript::Transcript {
    // Written as words bash would read back, whatever bytes they hold; the
    // transcript's comment keeps them on its line.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| crate::shell::shell_word_os(&a))
        .collect();
    crate::plan::transcript::Transcript {
        versions: format!(
            "pkiforge {}, {}, {}",
            env!("CARGO_PKG_VERSION"),
            openssl.version,
            crate::time::utc(now())
        ),
        command: format!("pkiforge {}", args.join(" ")),
        prompts: prompts
            .map(|p| {
                p.asked()
                    .map(|q| format!("{} [{}]", q.label, q.default.as_deref().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default(),
        append: !fresh && dir.join(crate::pki::names::TRANSCRIPT).is_file(),
    }
}

/// The one renderer of a check report (`verify`, `handshake`): the lines,
/// then on success a closing line, `all N WHAT VERDICT`; otherwise the
/// report goes with an error naming what failed.
pub fn conclude(
    mut text: String,
    what: &'static str,
    verdict: &str,
    total: usize,
    failed: Vec<String>,
) -> Result<String> {
    if failed.is_empty() {
        let _ = writeln!(text, "all {total} {what} {verdict}");
        return Ok(text);
    }
    Err(Error::reported(
        text,
        Error::ChecksFailed {
            what,
            total,
            failed,
        },
    ))
}

/// `--json` output of cases: the JSON as it is when none failed, else the
/// JSON with the error that names the failed ones (the exit status of the
/// text's [`conclude`]).
pub fn conclude_json(
    json: String,
    what: &'static str,
    total: usize,
    failed: Vec<String>,
) -> Result<String> {
    if failed.is_empty() {
        return Ok(json);
    }
    Err(Error::reported(
        json,
        Error::ChecksFailed {
            what,
            total,
            failed,
        },
    ))
}

/// The report as it is, unless some files could not be read: then the
/// report goes with an error naming each of them.
pub fn unless_unreadable(text: String, unreadable: Vec<String>) -> Result<String> {
    if unreadable.is_empty() {
        return Ok(text);
    }
    Err(Error::reported(
        text,
        Error::Unreadable { files: unreadable },
    ))
}

/// The CA's key signs what `run --add`, `--root` and the lifecycle commands
/// make: refused when others can read it (absent is the caller's concern).
pub fn private_ca_key(key: &std::path::Path) -> Result<()> {
    use crate::check::verify::{is_private, mode_of};
    match mode_of(key).filter(|&m| !is_private(m)) {
        Some(mode) => Err(Error::Usage(format!(
            "{} is mode {mode:04o}: other users can read the CA's private key, and so may have copied it. Run `chmod 600 {}` (and make a new CA if others had access), then try again",
            key.display(),
            key.display()
        ))),
        None => Ok(()),
    }
}

/// A profile planned for the openssl that will run it.
pub struct Planned {
    pub profile: Profile,
    pub plan: Plan,
    pub layout: PromptLayout,
    pub openssl: Openssl,
    /// What that openssl does differently, as the plan was built for.
    pub caps: crate::plan::caps::Capabilities,
}

/// Profile -> Plan, with the prompts of the openssl that will run.
pub fn plan_for(profile: &Path, openssl_flag: Option<&Path>, timeout: Duration) -> Result<Planned> {
    let profile = profile::load(profile)?;
    let mut openssl = Openssl::locate(openssl_flag, timeout)?;
    openssl.require_addext()?;
    let caps = openssl.capabilities_for(profile.has_p12(), profile.has_dated_fixtures())?;
    require_what_the_profile_asks(&openssl, &profile, caps)?;
    let layout = crate::run::prompts::read_layout(&mut openssl)?;
    let plan = build(&profile, &layout, caps, now())?;
    Ok(Planned {
        profile,
        plan,
        layout,
        openssl,
        caps,
    })
}

/// Refuses, before anything runs, a profile that asks this openssl for
/// what it cannot do, naming each field that asks: ML-DSA keys (OpenSSL
/// 3.5 and later), or legacy PKCS#12 bundles when its `pkcs12 -legacy`
/// cannot load the legacy provider (1.1.1 has no -legacy: its defaults are
/// the legacy algorithms).
fn require_what_the_profile_asks(
    openssl: &Openssl,
    profile: &Profile,
    caps: crate::plan::caps::Capabilities,
) -> Result<()> {
    use crate::pki::profile::{KeySpec, P12};
    let fields = |wants: &dyn Fn(&crate::pki::profile::Entity) -> Option<String>| -> Vec<String> {
        profile.entities().filter_map(wants).collect()
    };
    let ml_dsa = fields(&|e| {
        matches!(e.key, KeySpec::MlDsa(_)).then(|| format!("{} = \"{}\"", e.key_path("key"), e.key))
    });
    if !ml_dsa.is_empty() && !openssl.makes_ml_dsa()? {
        return Err(cannot(
            openssl,
            profile,
            &ml_dsa,
            "ML-DSA (FIPS 204)",
            "cannot make ML-DSA keys (`openssl list -public-key-algorithms` names none); OpenSSL 3.5 or later can: install it and name it with --openssl PATH or PKIFORGE_OPENSSL, or choose another key type",
        ));
    }
    let legacy =
        fields(&|e| (e.p12 == P12::Legacy).then(|| format!("{} = \"legacy\"", e.key_path("p12"))));
    // (A legacy bundle is a PKCS#12 one: `caps` asked pkcs12 -help.)
    if !legacy.is_empty() && caps.pkcs12_legacy && !openssl.loads_legacy_provider()? {
        return Err(cannot(
            openssl,
            profile,
            &legacy,
            "a legacy PKCS#12 bundle (RC2, 3DES, SHA-1)",
            "cannot load its legacy provider (`openssl list -providers -provider legacy` fails); install the provider (ossl-modules/legacy.so), name another openssl with --openssl PATH, or write p12 = true (AES-256, which Java 8u301 and later read)",
        ));
    }
    Ok(())
}

/// `PROFILE: FIELD = "…" asks for WHAT, and OPENSSL is VERSION, which WHY.`
fn cannot(openssl: &Openssl, profile: &Profile, fields: &[String], what: &str, why: &str) -> Error {
    let asks = if fields.len() == 1 {
        "asks for"
    } else {
        "ask for"
    };
    Error::Usage(format!(
        "{}: {} {asks} {what}, and {} is {}, which {why}. Nothing was written",
        profile.path.display(),
        fields.join(", "),
        openssl.path.display(),
        openssl.version
    ))
}

/// What a run prints: the tutorial's `openssl verify` output, the count of
/// checks, and the files written (`WHAT DIR: files…`).
pub fn render(report: &Report, what: &str) -> String {
    let mut text = String::new();
    for line in &report.check_lines {
        let _ = writeln!(text, "{line}");
    }
    let _ = writeln!(text, "all {} checks passed", report.checks_passed);
    let names: Vec<String> = report
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    let _ = writeln!(text, "{what} {}: {}", report.out.display(), names.join(" "));
    text
}

/// The PKCS#12 password from PKIFORGE_P12_PASSWORD, if set.
pub fn p12_password_from_env() -> Option<String> {
    std::env::var(P12_PASSWORD_VAR)
        .ok()
        .filter(|v| !v.is_empty())
}

/// The PKCS#12 password, for the steps that name its variable only: from
/// PKIFORGE_P12_PASSWORD, else asked on the terminal. It is never put on a
/// command line.
pub fn p12_password(plan: &Plan) -> Result<Option<String>> {
    p12_password_for(plan, "the profile asks for PKCS#12 bundles (p12)")
}

/// [`p12_password`], saying `why` a password is needed.
pub fn p12_password_for(plan: &Plan, why: &str) -> Result<Option<String>> {
    if !plan.needs_p12_password() {
        return Ok(None);
    }
    if let Some(password) = p12_password_from_env() {
        return Ok(Some(password));
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "{why}, which need a password: set {} (it is never read from the profile, written to disk or shown)",
            P12_PASSWORD_VAR
        )));
    }
    let first = crate::prompt::password("PKCS#12 password: ")?;
    let again = crate::prompt::password("again: ")?;
    if first != again {
        return Err(Error::Usage("the two passwords differ".into()));
    }
    if first.is_empty() {
        return Err(Error::Usage(
            "an empty PKCS#12 password protects nothing; give one".into(),
        ));
    }
    Ok(Some(first))
}

// The lifecycle commands (renew, revoke, crl) share how they run.

/// Where and how a lifecycle operation runs.
pub struct Operation<'a> {
    pub dir: &'a Path,
    pub dry_run: bool,
    pub timeout: Duration,
    pub openssl: Option<&'a Path>,
    pub progress: Progress,
}

impl<'a> Operation<'a> {
    /// An operation on `dir` with the global options.
    pub fn new(dir: &'a Path, dry_run: bool, ctx: &'a Context) -> Operation<'a> {
        Operation {
            dir,
            dry_run,
            timeout: ctx.timeout,
            openssl: ctx.openssl(),
            progress: ctx.progress(),
        }
    }
}

/// Locks DIR (unless `--dry-run`), reads it, plans, and runs the plan.
pub fn execute(
    op: &Operation,
    done: &str,
    make_plan: impl FnOnce(&Entities, &mut Openssl) -> Result<(Plan, Option<PromptLayout>)>,
) -> Result<String> {
    if !op.dir.is_dir() {
        return Err(Error::BadInput(format!(
            "{} is not a directory; give the directory a run wrote, e.g. pki/localhost",
            op.dir.display()
        )));
    }
    let mut out = if op.dry_run {
        None
    } else {
        let out = OutDir::lock(op.dir, &op.progress)?;
        for line in out.clean_stale()? {
            op.progress.say(&format!("note: {line}"));
        }
        Some(out)
    };
    let pki = Entities::of(&Pki::read(op.dir))?;
    let mut openssl = Openssl::locate(op.openssl, op.timeout)?;
    let (plan, prompts) = make_plan(&pki, &mut openssl)?;
    let Some(out) = out.as_mut() else {
        return Ok(plan.to_string());
    };
    check_ca_key(&pki)?;
    let mut inputs = plan
        .staging_inputs(|f| crate::files::is_regular(&op.dir.join(f)))
        .map_err(|missing| {
            let names: Vec<String> = missing.iter().map(|f| f.display().to_string()).collect();
            Error::BadInput(format!("{} has no {}", op.dir.display(), names.join(", ")))
        })?;
    let p12_password = p12_password(&plan)?;
    let runner = Runner {
        openssl: &openssl,
        progress: &op.progress,
        p12_password,
        pause: false,
        jobs: crate::run::runner::default_jobs(),
        judge: &crate::check::verify::Verifier,
    };
    let transcript = transcript(&openssl, prompts.as_ref(), op.dir, false);
    if transcript.append {
        inputs.push(PathBuf::from(crate::pki::names::TRANSCRIPT));
    }
    let opts = RunOptions {
        force: true,
        timeout: op.timeout,
        inputs,
        root: None,
        transcript: Some(transcript),
        replaced: Vec::new(),
    };
    let report = runner.run(&plan, &opts, out, None)?;
    let mut text = render(&report, done);
    if !plan.removes.is_empty() {
        let gone: Vec<String> = plan
            .removes
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        let _ = writeln!(text, "moved to the archive: {}", gone.join(" "));
    }
    Ok(text)
}

/// Every lifecycle operation signs with the CA's key: refused, like `run
/// --add`, when others can read it.
fn check_ca_key(pki: &Entities) -> Result<()> {
    let key = pki.dir.join(pki.ca.files.key());
    if !key.is_file() {
        return Err(Error::BadInput(format!(
            "{} has no {}: the CA's key signs what this does",
            pki.dir.display(),
            pki.ca.files.key()
        )));
    }
    private_ca_key(&key)
}
