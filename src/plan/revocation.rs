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
use crate::plan::lifecycle::Entities;
use crate::plan::step::{Action, Arg, Step};

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
        let record = record_step(&ca, &crt, &step.entity);
        if !has(&ca.index()) && !made.contains(&ca.index()) {
            let mut db = database_steps(&ca, &|f| has(f) || made.iter().any(|m| m == f));
            for s in &mut db {
                s.entity = format!("{}-database", ca.name);
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
        steps.push(record_step(ca, &leaf.crt(), &leaf.name));
    }
    steps
}

/// The first CRL of each CA with a `crl_url`, empty, for its distribution
/// point to serve from the start; not where a step of the plan (a revoked
/// fixture's) issues it already.
pub(crate) fn first_crls(profile: &Profile, steps: &[Step]) -> Vec<Step> {
    std::iter::once(&profile.ca)
        .chain(profile.intermediate.as_ref().map(|i| &i.entity))
        .filter(|ca| ca.pointers.crl.is_some())
        .map(|ca| ca.files())
        .filter(|ca| {
            let crl = std::path::PathBuf::from(ca.crl());
            !steps.iter().any(|s| s.outputs.contains(&crl))
        })
        .map(|ca| {
            let mut crl = gencrl_step(&ca, CRL_DAYS);
            crl.id = format!("{}-first-crl", ca.name);
            crl
        })
        .collect()
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
