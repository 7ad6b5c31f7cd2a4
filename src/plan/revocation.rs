//! Revocation in the plan: every certificate a CA signs is recorded in its
//! database, as `openssl ca` would have recorded it, so that its OCSP
//! responder knows it (`openssl ca -valid`, planned like every other
//! command). A run records the signings of the CAs that have revocation
//! pointers; a lifecycle command records its own signings, and the
//! certificates a PKI made before this (or without pointers) signed and
//! never recorded.

use std::path::PathBuf;

use crate::pki::database::{Record, serial_key};
use crate::pki::names::Files;
use crate::pki::profile::Profile;
use crate::plan::ca_database::{CRL_DAYS, ca_step, database_steps, gencrl_step};
use crate::plan::checks::openssl_check;
use crate::plan::lifecycle::Entities;
use crate::plan::lits;
use crate::plan::spec::CheckSpec;
use crate::plan::step::{Action, Arg, Expect, Step, file_arg};

/// `openssl ca … -valid NAME.crt`: `crt`, which `ca` signed, recorded in
/// its database as valid.
fn record_step(ca: &Files, crt: &str, entity: &str) -> Step {
    let mut step = ca_step(
        ca,
        &format!("{entity}-record"),
        &format!("Record {crt} in the database of the CA that signed it, for OCSP."),
        &["-valid", crt],
        &[ca.index(), ca.index_attr()],
    );
    step.entity = entity.to_string();
    step
}

/// The CA certificate a step signs with (`x509 -req … -CA X.crt`), and the
/// certificate it writes (`-out`).
fn signing(step: &Step) -> Option<(&str, &str)> {
    let Action::Openssl { args, .. } = &step.action else {
        return None;
    };
    let after = |flag: &str| {
        let at = args
            .iter()
            .position(|a| matches!(a, Arg::Lit(w) if w == flag))?;
        match args.get(at + 1) {
            Some(Arg::Lit(w)) => Some(w.as_str()),
            _ => None,
        }
    };
    Some((after("-CA")?, after("-out")?))
}

/// `steps` with a record step after each that `cas` sign, each CA's
/// database made first where `has` says DIR has none.
pub(crate) fn record_signings(
    steps: Vec<Step>,
    cas: &[Files],
    has: &dyn Fn(&str) -> bool,
) -> Vec<Step> {
    let mut made: Vec<String> = steps
        .iter()
        .flat_map(|s| &s.outputs)
        .map(|o| o.to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::with_capacity(steps.len());
    for step in steps {
        let signed = signing(&step).and_then(|(ca_crt, crt)| {
            let ca = cas.iter().find(|c| c.crt() == ca_crt)?;
            Some((ca.clone(), crt.to_string()))
        });
        let Some((ca, crt)) = signed else {
            out.push(step);
            continue;
        };
        let mut record = record_step(&ca, &crt, &step.entity);
        record.section = step.section;
        if !has(&ca.index()) && !made.contains(&ca.index()) {
            let mut db = database_steps(&ca, &|f| has(f) || made.iter().any(|m| m == f));
            for s in &mut db {
                s.entity = format!("{}-database", ca.name);
                s.section = step.section;
            }
            made.extend(
                db.iter()
                    .flat_map(|s| &s.outputs)
                    .map(|o| o.to_string_lossy().into()),
            );
            out.extend(db);
        }
        out.push(step);
        out.push(record);
    }
    out
}

/// The certificates `signed` (each with the CA that signed it) that their
/// CA's database does not list: a record step for each, after the
/// databases that must be made first (`has` says what DIR holds).
pub(crate) fn missing_records(
    signed: &[(Files, String, Files)],
    databases: &[(Files, Vec<Record>)],
    has: &dyn Fn(&str) -> bool,
) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut made: Vec<String> = Vec::new();
    for (leaf, serial, ca) in signed {
        let listed = databases
            .iter()
            .filter(|(f, _)| f.name == ca.name)
            .flat_map(|(_, records)| records)
            .any(|r| r.serial == serial_key(serial));
        if listed {
            continue;
        }
        if !made.contains(&ca.index()) {
            steps.extend(database_steps(ca, has));
            made.push(ca.index());
        }
        let mut record = record_step(ca, &leaf.crt(), &leaf.name);
        record.section = crate::plan::step::Section::of(leaf.role);
        steps.push(record);
    }
    steps
}

impl Entities {
    /// The CAs whose signings a lifecycle command records: those whose
    /// key is in DIR (a root kept offline signs nothing here).
    fn recording(&self) -> Vec<Files> {
        std::iter::once(&self.ca)
            .chain(&self.intermediate)
            .map(|k| k.files.clone())
            .filter(|f| self.has(&f.key()))
            .collect()
    }

    /// A lifecycle command's `steps`, each signing recorded in its CA's
    /// database, after a record of each certificate the databases miss
    /// (a PKI made before they recorded everything), leaving out `without`.
    pub(crate) fn with_records(&self, steps: Vec<Step>, without: &[&str]) -> Vec<Step> {
        let cas = self.recording();
        let mut signed: Vec<(Files, String, Files)> = Vec::new();
        if let Some(inter) = &self.intermediate {
            signed.push((
                inter.files.clone(),
                inter.serial.clone(),
                self.ca.files.clone(),
            ));
        }
        for leaf in self
            .leaves
            .iter()
            .filter(|l| !without.contains(&l.files.name.as_str()))
        {
            signed.push((
                leaf.files.clone(),
                leaf.serial.clone(),
                self.issuer().files.clone(),
            ));
        }
        signed.retain(|(_, _, ca)| cas.contains(ca));
        // The records first, each database made where DIR has none; the
        // command's own making of a database is then left out.
        let mut all = missing_records(&signed, &self.databases, &|f| self.has(f));
        let made: Vec<PathBuf> = all.iter().flat_map(|s| s.outputs.clone()).collect();
        let steps: Vec<Step> = steps
            .into_iter()
            .filter(|s| {
                !(matches!(s.action, Action::Write { .. })
                    && s.outputs.iter().all(|o| made.contains(o)))
            })
            .collect();
        let has = |f: &str| self.has(f) || made.iter().any(|m| m.as_os_str() == f);
        all.extend(record_signings(steps, &cas, &has));
        all
    }
}

/// `steps` with the first CRL of each CA with a `crl_url`, empty, right
/// after the CA's certificate (and the database it needs), for its
/// distribution point to serve from the start; not where a step of the
/// plan (a revoked fixture's) issues it already.
pub(crate) fn with_first_crls(profile: &Profile, mut steps: Vec<Step>) -> Vec<Step> {
    let cas = std::iter::once(&profile.ca)
        .chain(profile.intermediate.as_ref().map(|i| &i.entity))
        .filter(|ca| ca.pointers.crl.is_some())
        .map(|ca| ca.files());
    for ca in cas {
        let writes = |f: String| {
            let f = std::path::PathBuf::from(f);
            move |s: &Step| s.outputs.contains(&f)
        };
        if steps.iter().any(writes(ca.crl())) {
            continue;
        }
        let Some(at) = steps.iter().rposition(writes(ca.crt())) else {
            continue;
        };
        let before: Vec<String> = steps[..=at]
            .iter()
            .flat_map(|s| &s.outputs)
            .map(|o| o.to_string_lossy().into_owned())
            .collect();
        let mut made = database_steps(&ca, &|f| before.iter().any(|b| b == f));
        let mut crl = gencrl_step(&ca, CRL_DAYS);
        crl.id = format!("{}-first-crl", ca.name);
        made.push(crl);
        // Entities of shared files only: made again where DIR has none
        // (`--add` to a PKI made before the profile had URLs).
        for s in &mut made {
            s.entity = format!("{}-database", ca.name);
        }
        let tail = steps.split_off(at + 1);
        steps.extend(made);
        steps.extend(tail);
    }
    steps
}

/// A leaf as `verify --online` checks it through its revocation pointers.
pub struct Online {
    pub leaf: Files,
    /// Whether it names a CRL distribution point.
    pub crl: bool,
    /// The OCSP responder it names, if any.
    pub ocsp: Option<String>,
    /// The URLs it is checked through.
    pub urls: Vec<String>,
}

/// `verify --online`: each leaf checked against the CRL its distribution
/// point serves (`openssl verify -crl_download`), and by its OCSP
/// responder (`openssl ocsp -url`), which must say `good`.
pub fn online_checks(spec: &CheckSpec, leaves: &[Online]) -> Vec<Step> {
    let root = file_arg(&spec.ca_files().crt());
    let issuer = file_arg(&spec.issuer_files().crt());
    let inter = spec.intermediate_files().map(|f| file_arg(&f.crt()));
    let mut out = Vec::new();
    for o in leaves {
        let crt = file_arg(&o.leaf.crt());
        let mut inputs = vec![root.as_str(), crt.as_str()];
        inputs.extend(inter.as_deref());
        if o.crl {
            let mut args = lits(&["verify", "-crl_download", "-crl_check", "-CAfile", &root]);
            if let Some(i) = &inter {
                args.extend(lits(&["-untrusted", i]));
            }
            args.push(Arg::lit(&crt));
            out.push(openssl_check(
                format!("online-crl-{}", o.leaf.name),
                "The CRL its distribution point serves does not revoke it.",
                args,
                Expect::Lines(vec![format!("{crt}: OK")]),
                &inputs,
            ));
        }
        if let Some(url) = &o.ocsp {
            let mut args = lits(&["ocsp", "-issuer", &issuer, "-cert", &crt, "-url", url]);
            args.extend(lits(&["-CAfile", &root]));
            if let Some(i) = &inter {
                args.extend(lits(&["-verify_other", i]));
            }
            let mut inputs = inputs.clone();
            inputs.push(issuer.as_str());
            out.push(openssl_check(
                format!("online-ocsp-{}", o.leaf.name),
                "Its OCSP responder says it is good.",
                args,
                Expect::Holds(format!("{crt}: good")),
                &inputs,
            ));
        }
    }
    out
}
