//! Profile -> Plan: the tutorial's commands as data. All file naming lives
//! here, and nothing here touches the file system or starts a process.

pub mod caps;
pub mod checks;
pub mod export;
pub mod fixtures;
pub mod graph;
pub mod handshake;
pub mod lifecycle;
pub mod prompts;
pub mod spec;
pub mod step;
pub mod transcript;
pub mod tutorial;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Problem, Problems, Result};
use crate::pki::names::{Files, is_scratch, is_serial, is_shared};
use crate::pki::profile::{Curve, Entity, Extensions, Intermediate, KeySpec, P12, Profile, Role};
use crate::plan::caps::Capabilities;
use crate::plan::prompts::{Answers, PromptLayout};
use crate::plan::step::{Action, Arg, Section, Step, SubjectCheck};

/// The variable that carries the PKCS#12 password to openssl (`-passout
/// env:…`), so that it never appears on a command line or in the transcript.
pub use crate::plan::checks::checks;
pub use crate::plan::spec::{CheckSpec, LeafSpec};
pub use crate::plan::step::P12_PASSWORD_VAR;

pub use crate::pki::profile::days::{STRICT_CA as STRICT_CA_DAYS, STRICT_LEAF as STRICT_LEAF_DAYS};

/// The steps of a run in the tutorial's order, then the checks that prove it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub checks: Vec<Step>,
    /// Files of DIR the publish takes away (a revoked entity's, whose
    /// copies the plan keeps in `archive/`).
    pub removes: Vec<PathBuf>,
}

impl Plan {
    /// Every file the plan writes, in the order first written.
    pub fn outputs(&self) -> Vec<PathBuf> {
        let mut seen: BTreeSet<&PathBuf> = BTreeSet::new();
        let mut out: Vec<PathBuf> = Vec::new();
        for path in self.steps.iter().flat_map(|s| &s.outputs) {
            if !is_scratch(path) && seen.insert(path) {
                out.push(path.clone());
            }
        }
        out
    }

    /// Files the steps read that no step of the plan writes: what must
    /// already be in the output directory (for `--add` and `--only`).
    pub fn prerequisites(&self) -> Vec<PathBuf> {
        let mut written: BTreeSet<&PathBuf> = BTreeSet::new();
        let mut seen: BTreeSet<&PathBuf> = BTreeSet::new();
        let mut out = Vec::new();
        for step in &self.steps {
            for input in &step.inputs {
                if !written.contains(input) && seen.insert(input) {
                    out.push(input.clone());
                }
            }
            written.extend(&step.outputs);
        }
        out
    }

    /// What a run copies from the output directory into staging before its
    /// first step (`exists` says whether a file is there): the
    /// prerequisites, the files the checks read that no step writes (the
    /// other leaves, for `--add`), and the CA's serial file when the CA is
    /// reused, so that its serial numbers continue; a CA made anew starts
    /// its own. Errs with the prerequisites that are missing (the serial file
    /// is never one: `-CAcreateserial` starts it).
    pub fn staging_inputs(
        &self,
        exists: impl Fn(&Path) -> bool,
    ) -> std::result::Result<Vec<PathBuf>, Vec<PathBuf>> {
        let needed = self.prerequisites();
        let missing: Vec<PathBuf> = needed
            .iter()
            .filter(|f| !is_serial(f) && !exists(f))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        let written: BTreeSet<PathBuf> = self.outputs().into_iter().collect();
        let mut inputs = needed;
        let mut seen: BTreeSet<PathBuf> = inputs.iter().cloned().collect();
        for f in self.checks.iter().flat_map(|c| &c.inputs) {
            if !written.contains(f) && seen.insert(f.clone()) {
                inputs.push(f.clone());
            }
        }
        inputs.retain(|f| exists(f) && !(is_serial(f) && written.contains(&serial_owner(f))));
        Ok(inputs)
    }

    /// Steps then checks, in the order they run.
    pub fn all(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().chain(&self.checks)
    }

    /// Whether any step needs the PKCS#12 password.
    pub fn needs_p12_password(&self) -> bool {
        self.all().any(|s| {
            s.outputs
                .iter()
                .any(|o| o.extension().is_some_and(|e| e == "p12"))
        })
    }

    /// Only the steps of one section of the tutorial (ca, server or client),
    /// and the checks of what they make.
    pub fn only(self, section: Section) -> Plan {
        // Files of the sections after this one do not exist yet: a check
        // that reads one waits for that section's run.
        let last = self
            .steps
            .iter()
            .rposition(|s| s.section == section)
            .unwrap_or(0);
        let later: BTreeSet<PathBuf> = self.steps[last..]
            .iter()
            .filter(|s| s.section != section)
            .flat_map(|s| s.outputs.clone())
            .collect();
        let steps: Vec<Step> = self
            .steps
            .into_iter()
            .filter(|s| s.section == section)
            .collect();
        let made: BTreeSet<PathBuf> = steps.iter().flat_map(|s| s.outputs.clone()).collect();
        let checks = self
            .checks
            .into_iter()
            .filter(|c| {
                c.reads_any_of(&made)
                    && !c
                        .inputs
                        .iter()
                        .any(|i| later.contains(i) && !made.contains(i))
            })
            .collect();
        Plan {
            steps,
            checks,
            removes: self.removes,
        }
    }

    /// Without the entities whose files all exist already (`--add`): the
    /// steps of an entity are kept or dropped together, and checks are kept
    /// for what is made anew. `exists` says whether a file is in the output
    /// directory. Returns the names of entities that are half there.
    pub fn without_existing(self, exists: impl Fn(&PathBuf) -> bool) -> (Plan, Vec<String>) {
        // Each entity's own files; the files CAs share (serial, database,
        // CRL) grow with every entity, and count only for an entity that
        // has no others (a new CA database).
        let mut entities: Vec<(String, Vec<bool>, Vec<bool>)> = Vec::new();
        for step in &self.steps {
            // (Scratch files never reach DIR.)
            let (shared, own): (Vec<&PathBuf>, Vec<&PathBuf>) = step
                .outputs
                .iter()
                .filter(|o| !is_scratch(o))
                .partition(|o| is_shared(o));
            let (own, shared) = (
                own.into_iter().map(&exists).collect::<Vec<_>>(),
                shared.into_iter().map(&exists).collect::<Vec<_>>(),
            );
            match entities.iter_mut().find(|(e, _, _)| *e == step.entity) {
                Some((_, o, s)) => {
                    o.extend(own);
                    s.extend(shared);
                }
                None => entities.push((step.entity.clone(), own, shared)),
            }
        }
        let entities: Vec<(String, Vec<bool>)> = entities
            .into_iter()
            .map(|(e, own, shared)| (e, if own.is_empty() { shared } else { own }))
            .collect();
        let complete = |e: &str| {
            entities
                .iter()
                .any(|(name, files)| name == e && files.iter().all(|p| *p))
        };
        let half: Vec<String> = entities
            .iter()
            .filter(|(_, files)| files.iter().any(|p| *p) && !files.iter().all(|p| *p))
            .map(|(e, _)| e.clone())
            .collect();
        let kept: BTreeSet<PathBuf> = self
            .steps
            .iter()
            .filter(|s| !complete(&s.entity))
            .flat_map(|s| s.outputs.clone())
            .collect();
        // A file written from the profile's text about what is made (the
        // fixtures' manifest) is written again when any of it is made anew.
        let steps: Vec<Step> = self
            .steps
            .into_iter()
            .filter(|s| {
                !complete(&s.entity)
                    || (matches!(s.action, Action::Write { .. }) && s.reads_any_of(&kept))
            })
            .collect();
        let made: BTreeSet<PathBuf> = steps.iter().flat_map(|s| s.outputs.clone()).collect();
        let checks = self
            .checks
            .into_iter()
            .filter(|c| c.reads_any_of(&made))
            .collect();
        (
            Plan {
                steps,
                checks,
                removes: self.removes,
            },
            half,
        )
    }
}

/// The transcript: one command per line, exactly as the tutorial writes them.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        Ok(())
    }
}

/// What Linux lets one process be given (execve(2)): each argument at most
/// `one` bytes with its NUL (MAX_ARG_STRLEN, 32 pages: 131072), and all
/// arguments, the environment and their pointers at most `total` bytes
/// (ARG_MAX, a quarter of the stack limit). Past them openssl never starts
/// (E2BIG), so a plan past them is refused before anything runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgLimits {
    pub one: usize,
    /// What is left for the arguments once the environment is counted.
    pub total: usize,
}

/// Linux's MAX_ARG_STRLEN, NUL included.
pub const MAX_ARG_STRLEN: usize = 131_072;
/// What a `<(printf …)` argument may take as a temp file's path (PATH_MAX).
const INLINE_PATH: usize = 4096;

impl ArgLimits {
    /// This system's limits, less this process's environment (which every
    /// openssl inherits) and room for the PKCS#12 password's variable.
    pub fn of_system() -> ArgLimits {
        // SAFETY: sysconf(3) only reads a system value.
        let arg_max = unsafe { libc::sysconf(libc::_SC_ARG_MAX) };
        let arg_max = usize::try_from(arg_max).unwrap_or(MAX_ARG_STRLEN);
        let env: usize = std::env::vars_os()
            .map(|(k, v)| k.len() + v.len() + 2 + POINTER)
            .sum();
        ArgLimits {
            one: MAX_ARG_STRLEN,
            total: arg_max.saturating_sub(env + INLINE_PATH),
        }
    }
}

/// The size of one pointer of argv or envp.
const POINTER: usize = std::mem::size_of::<usize>();

/// Refuses a plan with a step or check that Linux would not start: an
/// argument or a command line too long, named by the profile's field
/// (`client[2].san`) with the limit and what to do.
pub fn check_arg_limits(plan: &Plan, profile: &Profile, limits: ArgLimits) -> Result<()> {
    let problems: Vec<Problem> = plan
        .all()
        .filter_map(|step| arg_limit_problem(step, profile, limits))
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::Profile(Problems {
        file: profile.path.clone(),
        list: problems,
    }))
}

/// What makes `step` too long for execve(2), if anything.
fn arg_limit_problem(step: &Step, profile: &Profile, limits: ArgLimits) -> Option<Problem> {
    let Action::Openssl { args, .. } = &step.action else {
        return None;
    };
    let sizes: Vec<usize> = args
        .iter()
        .map(|a| match a {
            Arg::Lit(word) => word.len() + 1,
            Arg::Inline(_) => INLINE_PATH,
        })
        .collect();
    // argv[0], the openssl binary's path, may be as long as a path.
    let total = INLINE_PATH + sizes.iter().sum::<usize>() + POINTER * (sizes.len() + 2);
    // A temp file's path fits in one argument whatever the staging path.
    let (longest, len) = args
        .iter()
        .zip(&sizes)
        .enumerate()
        .filter(|(_, (a, _))| matches!(a, Arg::Lit(_)))
        .map(|(i, (_, n))| (i, *n))
        .max_by_key(|(_, n)| *n)
        .unwrap_or((0, 0));
    if len <= limits.one && total <= limits.total {
        return None;
    }
    // Looked up only here: a plan has an entity's steps by the thousand.
    let entity = profile.entities().find(|e| e.name == step.entity);
    let command = match args.first() {
        Some(Arg::Lit(word)) => word.as_str(),
        _ => "",
    };
    if len <= limits.one {
        return Some(Problem::new(
            None,
            entity.map_or(String::new(), |e| e.path.clone()),
            format!(
                "makes the command line of `openssl {command}` ({}) {total} bytes long with {} arguments, but this system passes at most {} bytes of arguments and environment (ARG_MAX), so openssl would not start; split the profile into smaller ones",
                step.id,
                sizes.len(),
                limits.total
            ),
        ));
    }
    let sans = matches!(&args[longest], Arg::Lit(word) if word.starts_with("subjectAltName"));
    Some(match (entity, sans) {
        (Some(e), true) => Problem::new(
            None,
            format!("{}.san", e.path),
            format!(
                "its {} names make the argument -addext \"subjectAltName = …\" of `openssl {command}` {len} bytes long, but Linux passes at most {} bytes in one argument (MAX_ARG_STRLEN), so openssl would not start; give it fewer or shorter names, spread over several certificates",
                e.san.len(),
                limits.one
            ),
        ),
        _ => Problem::new(
            None,
            entity.map_or(String::new(), |e| e.path.clone()),
            format!(
                "makes argument {longest} of `openssl {command}` ({}) {len} bytes long, but Linux passes at most {} bytes in one argument (MAX_ARG_STRLEN), so openssl would not start; shorten it",
                step.id, limits.one
            ),
        ),
    })
}

/// The answers typed at openssl's prompts, for every entity of a profile.
struct Answered {
    ca: Answers,
    intermediate: Option<Answers>,
    leaves: Vec<Answers>,
    /// A CA certificate with the leaves' issuer's subject (a foreign-ca
    /// fixture's other CA), when the profile has fixtures.
    issuer: Option<Answers>,
}

impl Answered {
    /// Every entity's answers, or every problem with them at once.
    fn of(profile: &Profile, layout: &PromptLayout) -> Result<Answered> {
        let mut problems: Vec<Problem> = Vec::new();
        let mut answers = |entity: &Entity, csr: bool| match layout.answers_for(entity, csr) {
            Ok(a) => Some(a),
            Err(p) => {
                problems.extend(p);
                None
            }
        };
        let ca = answers(&profile.ca, false);
        let intermediate = profile
            .intermediate
            .as_ref()
            .map(|i| answers(&i.entity, true));
        let leaves: Vec<Option<Answers>> = profile.leaves().map(|e| answers(e, true)).collect();
        let issuer = profile
            .fixtures()
            .next()
            .map(|_| answers(profile.issuer(), false));
        let optional = |a: Option<Option<Answers>>| a.map_or(Some(None), |a| a.map(Some));
        match (
            ca,
            optional(intermediate),
            leaves.into_iter().collect::<Option<Vec<_>>>(),
            optional(issuer),
        ) {
            (Some(ca), Some(intermediate), Some(leaves), Some(issuer)) => Ok(Answered {
                ca,
                intermediate,
                leaves,
                issuer,
            }),
            _ => Err(Error::Profile(Problems {
                file: profile.path.clone(),
                list: problems,
            })),
        }
    }
}

/// How many days an entity's certificate will be valid for.
pub fn validity_days(e: &Entity, extensions: Extensions) -> u32 {
    let strict = match e.role {
        Role::Ca | Role::Intermediate => STRICT_CA_DAYS as u32,
        _ => STRICT_LEAF_DAYS as u32,
    };
    e.days.unwrap_or(if extensions == Extensions::Strict {
        strict
    } else {
        crate::pki::profile::days::OPENSSL_DEFAULT as u32
    })
}

/// A warning for each leaf among `issued` that would outlive its CA: clients
/// refuse it once the CA expires. `ca_not_after` is the reused CA's end
/// (for `--add`), `None` for a CA made in the same run; `now` is seconds
/// since the epoch.
pub fn outlives_ca(
    profile: &Profile,
    issued: &[&str],
    ca_not_after: Option<i64>,
    now: i64,
) -> Vec<String> {
    let issued: BTreeSet<&str> = issued.iter().copied().collect();
    let ends = |e: &Entity| now + i64::from(validity_days(e, profile.extensions)) * 86_400;
    let ca_end = ca_not_after.unwrap_or_else(|| ends(&profile.ca));
    let ca_days_left = (ca_end - now).div_euclid(86_400);
    profile
        .leaves()
        // By more than a day, as lint's outlives-ca: a leaf made a moment after
        // its CA, for as many days, ends a moment later.
        .filter(|leaf| issued.contains(leaf.name.as_str()) && ends(leaf) > ca_end + 86_400)
        .map(|leaf| {
            format!(
                "warning: {} will be valid for {} days, but its CA {} for {ca_days_left} more: every client refuses it once the CA expires. Give [ca] a longer days, or this entity a shorter one",
                leaf.files().crt(),
                validity_days(leaf, profile.extensions),
                profile.ca.files().crt()
            )
        })
        .collect()
}

/// What a user should know before a run about what this profile and the
/// active config will make.
pub fn warnings(profile: &Profile, layout: &PromptLayout) -> Vec<String> {
    let mut out = Vec::new();
    let basic = layout
        .x509_extensions
        .iter()
        .any(|(k, _)| k == "basicConstraints");
    if profile.extensions == Extensions::Tutorial && !basic {
        out.push(format!(
            "warning: the openssl config {} gives `req -x509` no basicConstraints, so the CA certificate will not say CA:TRUE; OpenSSL 4, rustls and other strict verifiers refuse such a CA. Set extensions = \"strict\" in the profile, or use a config whose x509_extensions section sets basicConstraints = critical,CA:true",
            layout.config.display()
        ));
    }
    out
}

/// The certificate of the CA whose serial file is `serial`.
fn serial_owner(serial: &Path) -> PathBuf {
    let stem = serial.file_stem().unwrap_or_default().to_string_lossy();
    PathBuf::from(Files::new(&stem, Role::Ca).crt())
}

pub(crate) fn lits(words: &[&str]) -> Vec<Arg> {
    words.iter().map(|w| Arg::lit(*w)).collect()
}

pub(crate) fn step(
    id: &str,
    e: &Entity,
    heading: String,
    action: Action,
    inputs: &[&str],
    outputs: &[&str],
) -> Step {
    Step {
        id: format!("{}-{id}", e.name),
        entity: e.name.clone(),
        section: Section::of(e.role),
        heading,
        action,
        inputs: inputs.iter().map(PathBuf::from).collect(),
        outputs: outputs.iter().map(PathBuf::from).collect(),
        keys: Vec::new(),
        subject_check: None,
        expect: None,
        report: false,
    }
}

/// Puts `words` into a step's openssl command just before its last `flag`
/// (at the end when it has none).
pub(crate) fn insert_before(step: &mut Step, flag: &str, words: &[&str]) {
    if let Action::Openssl { args, .. } = &mut step.action {
        let at = args
            .iter()
            .rposition(|a| matches!(a, Arg::Lit(w) if w == flag))
            .unwrap_or(args.len());
        for (i, w) in words.iter().enumerate() {
            args.insert(at + i, Arg::lit(*w));
        }
    }
}

/// A step that names `file` right after one of `flags` (`-CAkey ca.key`)
/// names it `at` instead, where it lives, and no longer reads it from the
/// directory it runs in.
pub(crate) fn name_at(step: &mut Step, flags: &[&str], file: &Path, at: &str) {
    let Action::Openssl { args, .. } = &mut step.action else {
        return;
    };
    let mut named = false;
    for i in 1..args.len() {
        if matches!(&args[i - 1], Arg::Lit(flag) if flags.contains(&flag.as_str()))
            && matches!(&args[i], Arg::Lit(f) if Path::new(f) == file)
        {
            args[i] = Arg::lit(at);
            named = true;
        }
    }
    if named {
        step.inputs.retain(|f| f != file);
    }
}

/// The key step: the tutorial's `genrsa` for RSA, `genpkey` for the others.
pub(crate) fn genkey(e: &Entity, heading: String) -> Step {
    let key = e.files().key();
    let args = match e.key {
        KeySpec::Rsa(bits) => lits(&["genrsa", "-out", &key, &bits.to_string()]),
        KeySpec::Ec(curve) => lits(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{}", curve.name()),
            "-out",
            &key,
        ]),
        KeySpec::Ed25519 => lits(&["genpkey", "-algorithm", "ed25519", "-out", &key]),
    };
    let mut s = step(
        "key",
        e,
        heading,
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        &[],
        &[&key],
    );
    s.keys = vec![PathBuf::from(key)];
    s
}

pub(crate) fn key_words(e: &Entity) -> String {
    match e.key {
        KeySpec::Rsa(bits) => format!("{bits}-bit RSA private key"),
        KeySpec::Ec(Curve::P256) => "EC P-256 private key".into(),
        KeySpec::Ec(Curve::P384) => "EC P-384 private key".into(),
        KeySpec::Ed25519 => "Ed25519 private key".into(),
    }
}

/// `-utf8` goes right after `-new` when a subject value is not ASCII: without
/// it openssl reads the answers as Latin-1 and writes mojibake.
pub(crate) fn req_args(utf8: bool, rest: Vec<Arg>) -> Vec<Arg> {
    let mut args = lits(&["req", "-new"]);
    if utf8 {
        args.push(Arg::lit("-utf8"));
    }
    args.extend(rest);
    args
}

pub(crate) fn days_args(days: Option<u32>) -> Vec<Arg> {
    days.map(|d| lits(&["-days", &d.to_string()]))
        .unwrap_or_default()
}

/// What RFC 5280 and the CA/Browser Forum ask of a CA certificate; strict
/// verifiers (OpenSSL's -x509_strict among them) refuse a CA without keyUsage
/// keyCertSign. Each is `(name, -addext text, what a config's own value must
/// hold to do instead)`.
const STRICT_CA: [(&str, &str, &[&str]); 3] = [
    (
        "basicConstraints",
        "basicConstraints = critical, CA:TRUE",
        &["critical", "CA:TRUE"],
    ),
    (
        "keyUsage",
        "keyUsage = critical, keyCertSign, cRLSign",
        &["critical", "keyCertSign", "cRLSign"],
    ),
    ("subjectKeyIdentifier", "subjectKeyIdentifier = hash", &[]),
];

/// The `-addext` texts of a strict CA. An OpenSSL whose -addext does not
/// replace the config's own extensions (1.1.1) would write duplicates, so
/// there the config's value stands, when it is strict enough.
pub(crate) fn strict_ca_extensions(
    layout: &PromptLayout,
    caps: Capabilities,
) -> std::result::Result<Vec<&'static str>, crate::plan::caps::NotStrictEnough> {
    let mut out = Vec::new();
    for (name, text, needs) in STRICT_CA {
        let configured = layout.x509_extensions.iter().find(|(k, _)| k == name);
        match configured {
            Some((_, value)) if !caps.addext_replaces => {
                let words: Vec<String> = value
                    .split(',')
                    .map(|w| w.trim().to_ascii_lowercase())
                    .collect();
                if let Some(missing) = needs
                    .iter()
                    .find(|n| !words.contains(&n.to_ascii_lowercase()))
                {
                    return Err(crate::plan::caps::NotStrictEnough {
                        name,
                        value: value.clone(),
                        missing,
                        text,
                    });
                }
            }
            _ => out.push(text),
        }
    }
    Ok(out)
}

fn ca_steps(ca: &Entity, answers: Answers, extensions: &[&str], strict: bool) -> Vec<Step> {
    let heading = match ca.key {
        KeySpec::Rsa(_) => format!(
            "Generate a {}, for the CA, using the PKCS#8 format.",
            key_words(ca)
        ),
        _ => format!("Generate an {}, for the CA.", key_words(ca)),
    };
    vec![
        genkey(ca, heading),
        ca_cert_step(ca, answers, extensions, strict),
    ]
}

/// The tutorial's `openssl req -new -x509 -key ca.key -out ca.crt`: the
/// CA's self-signed certificate, with the answers typed at its prompts.
pub(crate) fn ca_cert_step(
    ca: &Entity,
    answers: Answers,
    extensions: &[&str],
    strict: bool,
) -> Step {
    let (key, crt) = (ca.files().key(), ca.files().crt());
    let mut rest = lits(&["-x509", "-key", &key]);
    for ext in extensions {
        rest.extend([Arg::lit("-addext"), Arg::lit(*ext)]);
    }
    rest.extend(days_args(
        ca.days.or(strict.then_some(STRICT_CA_DAYS as u32)),
    ));
    rest.extend(lits(&["-out", &crt]));
    let mut cert = step(
        "crt",
        ca,
        "Using the private key generated in the previous step, this will generate a self-signed x509 certificate for the CA using the `req` command.".into(),
        Action::Openssl {
            args: req_args(answers.utf8, rest),
            stdin: answers.lines,
        },
        &[&key],
        &[&crt],
    );
    cert.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&crt),
        expected: answers.expected,
    });
    cert
}

/// The intermediate CA: its key, its CSR (answers as for the others), and
/// the root signing it as a CA that may sign leaves only (pathlen:0), for
/// the names of its constraints only.
fn intermediate_steps(inter: &Intermediate, root: &Entity, answers: Answers) -> Vec<Step> {
    let e = &inter.entity;
    let heading = format!("Generate {}, for the intermediate CA.", key_words(e));
    let expected = answers.expected.clone();
    let mut sign = sign_step_with(e, root, expected, intermediate_extensions(inter), e.days);
    sign.heading = "The root CA signs the intermediate: a CA for leaves only (pathlen:0), within its name constraints.".into();
    vec![genkey(e, heading), csr_step(e, answers), sign]
}

/// The extension text of the intermediate's certificate: a CA with no CA
/// below it, that signs certificates and CRLs, for the names of its
/// constraints only (critical, so that a client that cannot check them
/// refuses it rather than ignores them).
pub(crate) fn intermediate_extensions(inter: &Intermediate) -> String {
    let constraints: Vec<String> = inter
        .permitted
        .iter()
        .map(|c| format!("permitted;{}", c.openssl()))
        .chain(
            inter
                .excluded
                .iter()
                .map(|c| format!("excluded;{}", c.openssl())),
        )
        .collect();
    [
        "basicConstraints=critical,CA:TRUE,pathlen:0".to_string(),
        "keyUsage=critical,keyCertSign,cRLSign".to_string(),
        format!("nameConstraints=critical,{}", constraints.join(",")),
        "subjectKeyIdentifier=hash".to_string(),
        "authorityKeyIdentifier=keyid".to_string(),
    ]
    .join("\n")
}

/// The extension text of a leaf certificate: the tutorial's subjectAltName,
/// and in strict mode what Apple's TLS rules and CA/Browser-style verifiers
/// require of a leaf.
pub(crate) fn leaf_extensions(leaf: &Entity, sans: &[String], strict: bool) -> String {
    let mut lines = vec![format!("subjectAltName={}", sans.join(","))];
    if strict {
        let usage = match leaf.key {
            // RSA key exchange (TLS 1.2's RSA suites) encrypts with the key.
            KeySpec::Rsa(_) => "critical,digitalSignature,keyEncipherment",
            _ => "critical,digitalSignature",
        };
        let purpose = match leaf.role {
            Role::Client => "clientAuth",
            _ => "serverAuth",
        };
        lines.extend([
            "basicConstraints=CA:FALSE".to_string(),
            format!("keyUsage={usage}"),
            format!("extendedKeyUsage={purpose}"),
            "subjectKeyIdentifier=hash".to_string(),
            "authorityKeyIdentifier=keyid,issuer".to_string(),
        ]);
    }
    lines.join("\n")
}

/// A leaf's steps: key, CSR, signed by `chain[0]`, bundle (with the
/// chain up to the root), PKCS#12.
fn leaf_steps(
    leaf: &Entity,
    chain: &[&Entity],
    answers: Answers,
    strict: bool,
    caps: Capabilities,
) -> Vec<Step> {
    let ca = chain[0];
    let who = leaf.role.table();
    let key_heading = match leaf.role {
        Role::Client => format!("Generate a {} for the client.", key_words(leaf)),
        _ => format!("Generate {}, for the {who}.", key_words(leaf)),
    };
    let expected = answers.expected.clone();
    let mut steps = vec![
        genkey(leaf, key_heading),
        csr_step(leaf, answers),
        sign_step(leaf, ca, expected, strict),
        bundle_step(leaf, chain),
    ];
    if leaf.p12 != P12::No {
        steps.push(p12_step(leaf, ca, caps));
    }
    steps
}

/// The tutorial's `openssl req -new -key NAME.key -addext "subjectAltName = …"`.
pub(crate) fn csr_step(leaf: &Entity, answers: Answers) -> Step {
    let (f, who) = (leaf.files(), leaf.role.table());
    let (key, csr) = (f.key(), f.csr());
    let sans: Vec<String> = leaf.san.iter().map(|s| s.to_string()).collect();
    let mut words = lits(&["-key", &key]);
    if !sans.is_empty() {
        let addext = format!("subjectAltName = {}", sans.join(", "));
        words.extend(lits(&["-addext", &addext]));
    }
    words.extend(lits(&["-out", &csr]));
    let mut csr_step = step(
        "csr",
        leaf,
        match leaf.role {
            Role::Client => "Create a CSR for the client.".into(),
            _ => format!(
                "Generate a Certificate Signing Request (CSR) using the {who}'s private key."
            ),
        },
        Action::Openssl {
            args: req_args(answers.utf8, words),
            stdin: answers.lines,
        },
        &[&key],
        &[&csr],
    );
    csr_step.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&csr),
        expected: answers.expected,
    });
    csr_step
}

/// The tutorial's `openssl x509 -req … -extfile <(printf "…")`: the CA signs.
pub(crate) fn sign_step(
    leaf: &Entity,
    ca: &Entity,
    expected: Vec<(String, String)>,
    strict: bool,
) -> Step {
    let sans: Vec<String> = leaf.san.iter().map(|s| s.to_string()).collect();
    let days = leaf_days(leaf, strict);
    sign_step_with(
        leaf,
        ca,
        expected,
        leaf_extensions(leaf, &sans, strict),
        days,
    )
}

/// The `-days` of a leaf: the profile's, else strict mode's, else none
/// (openssl's default).
pub(crate) fn leaf_days(leaf: &Entity, strict: bool) -> Option<u32> {
    leaf.days.or(strict.then_some(STRICT_LEAF_DAYS as u32))
}

/// [`sign_step`] with the `-extfile` text and the `-days` given (an
/// intermediate's).
pub(crate) fn sign_step_with(
    leaf: &Entity,
    ca: &Entity,
    expected: Vec<(String, String)>,
    extensions: String,
    days: Option<u32>,
) -> Step {
    let (f, c, who) = (leaf.files(), ca.files(), leaf.role.table());
    let (csr, crt) = (f.csr(), f.crt());
    let (ca_key, ca_crt, serial) = (c.key(), c.crt(), c.srl());
    let mut args = lits(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-extfile",
    ]);
    // bash's <(printf "…"): the runner passes a temp file holding these bytes.
    args.push(Arg::Inline(extensions));
    args.extend(days_args(days));
    args.extend(lits(&["-out", &crt]));
    let mut sign = step(
        "crt",
        leaf,
        match leaf.role {
            Role::Client => "Use the CA to sign it.".into(),
            _ => format!(
                "Using the certificate of the CA, and the CSR, this will create an x509 certificate for the {who}."
            ),
        },
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        // The serial file is read and written by every signing step, in plan order.
        &[&csr, &ca_crt, &ca_key, &serial],
        &[&crt, &serial],
    );
    sign.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&crt),
        expected,
    });
    sign
}

/// The tutorial's `cat NAME.crt ca.crt > BUNDLE`.
/// The tutorial's `cat NAME.crt ca.crt > BUNDLE`: the leaf, then each CA
/// above it up to the root (`chain`, issuer first).
pub(crate) fn bundle_step(leaf: &Entity, chain: &[&Entity]) -> Step {
    let (f, who) = (leaf.files(), leaf.role.table());
    let bundle = f.bundle();
    let parts: Vec<String> = std::iter::once(f.crt())
        .chain(chain.iter().map(|ca| ca.files().crt()))
        .collect();
    let heading = match (leaf.role, chain.len()) {
        (Role::Client, _) => "Generate PEM file.".to_string(),
        (_, 1) => format!(
            "Create a file which is a bundle of the {who} certificate and the CA certificate."
        ),
        _ => format!(
            "Create a file which is a bundle of the {who} certificate and the CA certificates above it."
        ),
    };
    let inputs: Vec<&str> = parts.iter().map(String::as_str).collect();
    step(
        "bundle",
        leaf,
        heading,
        Action::Concat {
            parts: parts.iter().map(PathBuf::from).collect(),
            out: PathBuf::from(&bundle),
        },
        &inputs,
        &[&bundle],
    )
}

/// OpenSSL 3's PKCS#12 defaults (AES-256, PBKDF2, SHA-256 MAC), named for
/// an OpenSSL 1.1.1, whose own defaults are the legacy ones.
pub(crate) fn current_pkcs12_algorithms() -> Vec<Arg> {
    lits(&[
        "-keypbe",
        "AES-256-CBC",
        "-certpbe",
        "AES-256-CBC",
        "-macalg",
        "sha256",
    ])
}

/// `openssl pkcs12 -export …`, the password through the environment.
pub(crate) fn p12_step(leaf: &Entity, ca: &Entity, caps: Capabilities) -> Step {
    let (f, who) = (leaf.files(), leaf.role.table());
    let (key, crt, p12, ca_crt) = (f.key(), f.crt(), f.p12(), ca.files().crt());
    let mut args = lits(&["pkcs12", "-export"]);
    match (leaf.p12, caps.pkcs12_legacy) {
        // RC2/3DES and SHA-1 MACs: what Java 8 and older macOS keychains read.
        (P12::Legacy, true) => args.push(Arg::lit("-legacy")),
        // OpenSSL 1.1.1 has no -legacy: its defaults are those algorithms,
        // so a current bundle names OpenSSL 3's defaults instead.
        (P12::Modern, false) => args.extend(current_pkcs12_algorithms()),
        _ => {}
    }
    args.extend(lits(&[
        "-in",
        &crt,
        "-inkey",
        &key,
        "-certfile",
        &ca_crt,
        "-name",
        &leaf.name,
        "-passout",
        &format!("env:{P12_PASSWORD_VAR}"),
        "-out",
        &p12,
    ]));
    let mut s = step(
        "p12",
        leaf,
        format!(
            "Bundle the {who}'s key, certificate and the CA certificate as PKCS#12 (for Java, browsers and keychains)."
        ),
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        &[&crt, &key, &ca_crt],
        &[&p12],
    );
    s.keys = vec![PathBuf::from(&p12)];
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::config::Config;
    use crate::pki::profile;
    use crate::plan::step::Expect;
    use crate::plan::tutorial::build;
    use std::path::Path;

    fn layout() -> PromptLayout {
        let cnf = "[req]\ndistinguished_name = dn\nattributes = attrs\n[dn]\nC = Country\nC_min = 2\nC_max = 2\nO = Org\nCN = Name\n[attrs]\nchallengePassword = pw\n";
        PromptLayout::from_config(Path::new("t.cnf"), &Config::parse(cnf).unwrap(), |_| false)
            .unwrap()
    }

    fn plan(toml: &str) -> Plan {
        build(
            &profile::parse(Path::new("p.toml"), toml).unwrap(),
            &layout(),
            Capabilities::default(),
            0,
        )
        .unwrap()
    }

    /// 2026-11-28 12:00 UTC.
    const NOW: i64 = 1_795_867_200;

    fn fixture_plan(kind: &str, x509_dates: bool) -> Vec<String> {
        let toml = format!(
            "{PROFILE}[[client]]\nname = \"bad\"\nfixture = \"{kind}\"\nbits = 2048\nsubject = {{ CN = \"bad\" }}\nsan = [\"DNS:localhost\"]\n"
        )
        .replace("[client]\n", "[[client]]\n");
        let caps = Capabilities {
            x509_dates,
            ..Capabilities::default()
        };
        let p = profile::parse(Path::new("p.toml"), &toml).unwrap();
        build(&p, &layout(), caps, NOW)
            .unwrap()
            .steps
            .iter()
            .filter(|s| s.entity == "bad" || s.entity.ends_with("-database"))
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn dated_fixtures_use_x509_dates_where_openssl_has_them_else_openssl_ca() {
        let with = fixture_plan("expired", true);
        assert_eq!(
            with[2],
            "openssl x509 -req -in bad.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"subjectAltName=DNS:localhost\") -not_before 261028000000Z -not_after 261127000000Z -out bad.crt"
        );
        let without = fixture_plan("not-yet-valid", false);
        assert_eq!(
            without[..2],
            ["printf \"\" > ca.index", "printf \"01\\n\" > ca.crlnumber"]
        );
        assert_eq!(
            without[4],
            "openssl ca -config <(printf \"[ca]\\ndefault_ca = pkiforge\\n[pkiforge]\\ndatabase = ca.index\\ncrlnumber = ca.crlnumber\\ndefault_md = sha256\\ndefault_crl_days = 30\\nunique_subject = no\\nserial = ca.srl\\nnew_certs_dir = .\\npolicy = pkiforge_policy\\n[pkiforge_policy]\\ncommonName = optional\\n\") -batch -notext -preserveDN -rand_serial -keyfile ca.key -cert ca.crt -in bad.csr -extfile <(printf \"subjectAltName=DNS:localhost\") -startdate 271128000000Z -enddate 271228000000Z -out bad.crt"
        );
    }

    #[test]
    fn each_fixture_is_planned_as_openssl_commands() {
        let purpose = fixture_plan("wrong-purpose", true);
        assert!(purpose[2].contains("-extfile <(printf \"subjectAltName=DNS:localhost\\nextendedKeyUsage=serverAuth\") -out bad.crt"), "{}", purpose[2]);
        let foreign = fixture_plan("foreign-ca", true);
        assert_eq!(foreign[2], "openssl genrsa -out bad.issuer.key 2048");
        assert_eq!(
            foreign[3],
            "openssl req -new -x509 -key bad.issuer.key -out bad.issuer.crt"
        );
        assert!(foreign[4].starts_with(
            "openssl x509 -req -in bad.csr -CA bad.issuer.crt -CAkey bad.issuer.key -CAcreateserial"
        ));
        assert_eq!(foreign[5], "cat bad.crt bad.issuer.crt > bad.pem");
        let own = fixture_plan("self-signed", true);
        assert!(own[2].starts_with("openssl x509 -req -in bad.csr -signkey bad.key -extfile"));
        assert_eq!(own[3], "cat bad.crt > bad.pem");
        let revoked = fixture_plan("revoked", true);
        assert!(revoked[6].ends_with(
            " -batch -keyfile ca.key -cert ca.crt -revoke bad.crt -crl_reason keyCompromise"
        ));
        assert!(
            revoked[7]
                .ends_with(" -batch -keyfile ca.key -cert ca.crt -gencrl -crldays 365 -out ca.crl")
        );
    }

    const PROFILE: &str = "[ca]\nbits = 2048\nsubject = { CN = \"Root\", C = \"DE\" }\n[server]\nbits = 3072\nsubject = { CN = \"localhost\" }\nsan = [\"DNS:localhost\", \"IP:127.0.0.1\"]\n[client]\nsubject = { CN = \"alice\", O = \"Zürich AG\" }\nsan = [\"email:alice@example.com\"]\n";

    #[test]
    fn other_profiles_change_only_sizes_sans_and_utf8() {
        assert_eq!(
            plan(PROFILE).to_string(),
            "openssl genrsa -out ca.key 2048
openssl req -new -x509 -key ca.key -out ca.crt
openssl genrsa -out server.key 3072
openssl req -new -key server.key -addext \"subjectAltName = DNS:localhost, IP:127.0.0.1\" -out server.csr
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"subjectAltName=DNS:localhost,IP:127.0.0.1\") -out server.crt
cat server.crt ca.crt > server.bundle.crt
openssl genrsa -out client.key 4096
openssl req -new -utf8 -key client.key -addext \"subjectAltName = email:alice@example.com\" -out client.csr
openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -extfile <(printf \"subjectAltName=email:alice@example.com\") -out client.crt
cat client.crt ca.crt > client.pem
"
        );
    }

    #[test]
    fn a_run_starts_from_the_reused_ca_and_its_serial_only() {
        let paths = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        let only = |files: &'static [&'static str]| {
            move |f: &Path| files.iter().any(|x| Path::new(x) == f)
        };
        // A whole run makes its own CA: an old serial file is not continued.
        let whole = plan(PROFILE);
        assert_eq!(whole.staging_inputs(only(&["ca.srl"])), Ok(vec![]));
        // The server alone signs with the CA in DIR, and continues its serial.
        let server = plan(PROFILE).only(Section::Server);
        assert_eq!(
            server.staging_inputs(only(&["ca.crt", "ca.key", "ca.srl"])),
            Ok(paths(&["ca.crt", "ca.key", "ca.srl"]))
        );
        // No serial file yet: -CAcreateserial starts one.
        assert_eq!(
            server.staging_inputs(only(&["ca.crt", "ca.key"])),
            Ok(paths(&["ca.crt", "ca.key"]))
        );
        assert_eq!(
            server.staging_inputs(only(&["ca.crt"])),
            Err(paths(&["ca.key"]))
        );
    }

    #[test]
    fn steps_carry_answers_outputs_keys_and_checks() {
        let p = plan(PROFILE);
        let ids: Vec<_> = p.all().map(|s| s.id.as_str()).take(11).collect();
        assert_eq!(
            ids,
            [
                "ca-key",
                "ca-crt",
                "server-key",
                "server-csr",
                "server-crt",
                "server-bundle",
                "client-key",
                "client-csr",
                "client-crt",
                "client-bundle",
                "verify"
            ]
        );
        let Action::Openssl { stdin, .. } = &p.steps[1].action else {
            panic!("ca-crt runs openssl")
        };
        assert_eq!(
            stdin,
            &["DE", ".", "Root"],
            "the CA certificate (-x509) is asked no attributes"
        );
        let Action::Openssl { stdin, .. } = &p.steps[7].action else {
            panic!("client-csr runs openssl")
        };
        assert_eq!(stdin, &[".", "Zürich AG", "alice", "."]);
        assert_eq!(
            p.steps[4].outputs,
            [PathBuf::from("server.crt"), PathBuf::from("ca.srl")]
        );
        assert_eq!(p.steps[0].keys, [PathBuf::from("ca.key")]);
        assert_eq!(p.outputs().len(), 11);
        let checks: Vec<String> = p.checks.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            checks,
            [
                "openssl verify -CAfile ca.crt server.crt client.crt",
                "openssl verify -CAfile ca.crt -purpose sslserver -verify_hostname localhost server.crt",
                "openssl verify -CAfile ca.crt -purpose sslserver -verify_ip 127.0.0.1 server.crt",
                "openssl verify -CAfile ca.crt -purpose sslclient -verify_email alice@example.com client.crt",
                "check: ca.key is the private key of ca.crt",
                "check: ca.key is readable by its owner only",
                "check: server.key is the private key of server.crt",
                "check: server.key is readable by its owner only",
                "check: client.key is the private key of client.crt",
                "check: client.key is readable by its owner only",
                "check: server.bundle.crt holds server.crt then ca.crt",
                "check: server.crt has the subject of server.csr",
                "check: client.pem holds client.crt then ca.crt",
                "check: client.crt has the subject of client.csr",
                "check: ca.crt has the profile's subject C=DE, CN=Root",
                "check: server.crt has the profile's subject CN=localhost",
                "check: client.crt has the profile's subject O=Zürich AG, CN=alice",
                "check: server.crt has the profile's subjectAltName DNS:localhost, IP:127.0.0.1",
                "check: client.crt has the profile's subjectAltName email:alice@example.com",
            ]
        );
        assert_eq!(
            p.checks[0].expect,
            Some(Expect::Lines(vec![
                "server.crt: OK".into(),
                "client.crt: OK".into()
            ]))
        );
    }

    #[test]
    fn a_command_line_linux_would_not_start_is_refused_naming_the_field() {
        let p = profile::parse(Path::new("p.toml"), PROFILE).unwrap();
        let plan = build(&p, &layout(), Capabilities::default(), 0).unwrap();
        let roomy = ArgLimits {
            one: MAX_ARG_STRLEN,
            total: 1 << 20,
        };
        assert!(check_arg_limits(&plan, &p, roomy).is_ok());
        // "subjectAltName = DNS:localhost, IP:127.0.0.1" and its NUL: 45 bytes.
        let one = ArgLimits {
            one: 44,
            total: 1 << 20,
        };
        let Err(Error::Profile(problems)) = check_arg_limits(&plan, &p, one) else {
            panic!("refused")
        };
        let said: Vec<(String, String)> = problems
            .list
            .iter()
            .map(|p| (p.field.clone(), p.message.clone()))
            .collect();
        assert_eq!(
            said,
            [(
                "server.san".to_string(),
                "its 2 names make the argument -addext \"subjectAltName = …\" of `openssl req` 45 bytes long, but Linux passes at most 44 bytes in one argument (MAX_ARG_STRLEN), so openssl would not start; give it fewer or shorter names, spread over several certificates".to_string()
            )]
        );
        // `genrsa -out ca.key 2048`: 24 bytes, 48 of pointers, and 4096 for
        // openssl's path.
        let total = ArgLimits {
            one: MAX_ARG_STRLEN,
            total: 4167,
        };
        let Err(Error::Profile(problems)) = check_arg_limits(&plan, &p, total) else {
            panic!("refused")
        };
        assert_eq!(problems.list[0].field, "ca");
        assert_eq!(
            problems.list[0].message,
            "makes the command line of `openssl genrsa` (ca-key) 4168 bytes long with 4 arguments, but this system passes at most 4167 bytes of arguments and environment (ARG_MAX), so openssl would not start; split the profile into smaller ones"
        );
    }

    #[test]
    fn leaves_checked_the_same_way_share_one_verify() {
        let mut text = String::from(
            "[ca]\nsubject = { CN = \"Root\" }\n[server]\nsubject = { CN = \"s\" }\nsan = [\"DNS:localhost\"]\n",
        );
        for n in ["a", "b", "c"] {
            text.push_str(&format!("[[client]]\nname = \"{n}\"\nsubject = {{ CN = \"{n}\" }}\nsan = [\"DNS:localhost\"]\n"));
        }
        let p = plan(&text);
        let verifies: Vec<(String, String)> = p
            .checks
            .iter()
            .filter(|c| c.id.starts_with("verify"))
            .map(|c| (c.id.clone(), c.to_string()))
            .collect();
        assert_eq!(
            verifies,
            [
                ("verify".to_string(), "openssl verify -CAfile ca.crt server.crt a.crt b.crt c.crt".to_string()),
                (
                    "verify-server-DNS:localhost".to_string(),
                    "openssl verify -CAfile ca.crt -purpose sslserver -verify_hostname localhost server.crt".to_string()
                ),
                (
                    "verify-sslclient-DNS:localhost".to_string(),
                    "openssl verify -CAfile ca.crt -purpose sslclient -verify_hostname localhost a.crt b.crt c.crt".to_string()
                ),
            ]
        );
    }
}
