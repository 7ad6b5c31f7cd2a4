//! Keeping a PKI alive: the plans of `renew`, `revoke` and `crl`, made from
//! what a PKI directory holds (pure data once the directory is read, like
//! plan.rs), and the CA database that `openssl ca` keeps for revocation.
//!
//! - renew re-issues with `openssl x509 -req` (a leaf) or `openssl req -new
//!   -x509 -key ca.key` (the CA: same key and subject, so every leaf still
//!   verifies), keeping what it replaces in `archive/SERIAL/`;
//! - revoke marks a certificate revoked in the CA's database with `openssl
//!   ca -revoke`, moves its files to `archive/SERIAL/` (so that the name can
//!   be issued again with `run --add`), and writes the CRL;
//! - crl re-issues the CRL with `openssl ca -gencrl`.
//!
//! `openssl ca` reads a config; pkiforge writes it as `-config <(printf
//! "…")`, shown in the plan like the tutorial's `-extfile`.

use std::path::PathBuf;

use crate::pki::database::Record;
use crate::pki::names::{self, Files, Role};
use crate::pki::profile::{Curve, Entity, Field, KeySpec, MlDsa, P12, SubjectValue};
use crate::pki::read::{Known, Pki};
use crate::pki::x509::{CertInfo, KeyInfo};
pub use crate::plan::ca_database::CRL_DAYS;
use crate::plan::ca_database::{ca_step, database_steps, gencrl_step};
use crate::plan::caps::Capabilities;
use crate::plan::prompts::PromptLayout;
use crate::plan::spec::{CheckSpec, LeafSpec};
use crate::plan::step::{Action, Section, Step};
use crate::plan::{self, Plan};

mod error;
pub use error::LifecycleError;

/// A PKI read back, each entity with its certificate: what renew, revoke
/// and crl plan from (and status and export show).
#[derive(Debug, Clone)]
pub struct Entities {
    pub dir: PathBuf,
    pub ca: Known,
    /// The intermediate CA that signed the leaves, if any.
    pub intermediate: Option<Known>,
    pub leaves: Vec<Known>,
    /// The negative-test fixtures, with the names their certificates carry.
    pub fixtures: Vec<crate::plan::spec::FixtureSpec>,
    /// Each CA's database, as read.
    pub databases: Vec<(Files, Vec<Record>)>,
}

impl Entities {
    /// The entities of `pki` by their file names, with their certificates.
    pub fn of(pki: &Pki) -> Result<Entities, LifecycleError> {
        let found = pki.layout()?;
        let known = |files: &Files| pki.known(files.clone());
        let fixtures = crate::plan::spec::fixture_specs(pki)?;
        let mut databases = Vec::new();
        for ca in std::iter::once(&found.ca).chain(&found.intermediate) {
            databases.push((ca.clone(), pki.database(ca)?));
        }
        Ok(Entities {
            dir: pki.dir().to_path_buf(),
            fixtures,
            databases,
            ca: known(&found.ca)?,
            intermediate: found.intermediate.as_ref().map(known).transpose()?,
            leaves: found.leaves.iter().map(known).collect::<Result<_, _>>()?,
        })
    }

    /// The CA that signs the leaves: the intermediate, else the root.
    pub fn issuer(&self) -> &Known {
        self.intermediate.as_ref().unwrap_or(&self.ca)
    }

    /// The leaf called `name`, or what to do.
    pub fn leaf(&self, name: &str) -> Result<&Known, LifecycleError> {
        self.leaves
            .iter()
            .find(|l| l.files.name == name)
            .ok_or_else(|| LifecycleError::NoSuchLeaf {
                dir: self.dir.clone(),
                name: name.to_string(),
                names: self.leaves.iter().map(|l| l.files.name.clone()).collect(),
            })
    }

    /// What the checks of the PKI are, leaving out the leaves named in
    /// `without` (a revoked one); with the CRL when there is or will be one.
    pub fn check_spec(&self, without: &[&str], crl: bool) -> CheckSpec {
        CheckSpec {
            ca: self.ca.files.name.clone(),
            ca_subject: None,
            leaves: self
                .leaves
                .iter()
                .filter(|l| !without.contains(&l.files.name.as_str()))
                .map(|l| LeafSpec {
                    name: l.files.name.clone(),
                    role: l.files.role,
                    sans: l.info.san_entries.clone(),
                    sans_from_profile: false,
                    subject: None,
                    p12: P12::No,
                })
                .collect(),
            crl,
            intermediate: self.intermediate.as_ref().map(|i| i.files.name.clone()),
            root_key: self.has(&self.ca.files.key()),
            fixtures: self.fixtures.clone(),
        }
    }

    pub(crate) fn has(&self, file: &str) -> bool {
        self.dir.join(file).is_file()
    }
}

/// The profile entity a certificate was made from, as far as the
/// certificate tells: its name, key, subject, names and validity.
pub fn entity_of(known: &Known, days: u32, p12: P12) -> Result<Entity, LifecycleError> {
    let info = &known.info;
    let key = match &info.key {
        KeyInfo::Rsa(bits) => KeySpec::Rsa(*bits as u32),
        KeyInfo::Ec(curve) if curve == "P-256" => KeySpec::Ec(Curve::P256),
        KeyInfo::Ec(curve) if curve == "P-384" => KeySpec::Ec(Curve::P384),
        KeyInfo::Ed25519 => KeySpec::Ed25519,
        KeyInfo::MlDsa(name)
            if let Some(m) = MlDsa::ALL.into_iter().find(|m| m.name() == *name) =>
        {
            KeySpec::MlDsa(m)
        }
        other => {
            return Err(LifecycleError::ForeignKey {
                crt: known.files.crt(),
                key: other.clone(),
            });
        }
    };
    let mut subject = Vec::new();
    for (name, value) in &info.subject_fields {
        let field = Field::from_openssl_name(name).ok_or_else(|| LifecycleError::ForeignField {
            crt: known.files.crt(),
            field: name.clone(),
        })?;
        subject.push(SubjectValue {
            field,
            value: value.clone(),
            at: None,
        });
    }
    subject.sort_by_key(|v| Field::ALL.iter().position(|f| *f == v.field));
    Ok(Entity {
        role: known.files.role,
        name: known.files.name.clone(),
        path: known.files.crt(),
        key,
        days: Some(days),
        p12,
        subject,
        san: info.san_entries.clone(),
        fixture: None,
        pointers: Default::default(),
    })
}

/// The revocation pointers a certificate carries, as its CA wrote them.
fn pointers_of(info: &CertInfo) -> crate::pki::pointers::Pointers {
    crate::pki::pointers::Pointers::from_urls(
        &info.crl_urls,
        &info.ocsp_urls,
        &info.ca_issuers_urls,
    )
}

/// Whether a certificate was made strict (see profile `extensions`): a
/// leaf with extendedKeyUsage, a CA with keyUsage keyCertSign.
pub fn is_strict(info: &CertInfo) -> bool {
    if info.is_ca {
        info.key_cert_sign == Some(true)
    } else {
        info.has_eku
    }
}

/// How many whole days a certificate was valid for.
pub fn validity_days(info: &CertInfo) -> u32 {
    u32::try_from(info.validity_days().max(1)).unwrap_or(u32::MAX)
}

/// What `renew` was asked.
#[derive(Debug, Clone)]
pub struct Renewal<'a> {
    pub names: &'a [String],
    /// The new validity; by default the previous one.
    pub days: Option<u32>,
    /// A new key and CSR before signing (leaves).
    pub rekey: bool,
}

/// The kind of each leaf's PKCS#12 bundle, as the caller found it.
pub type P12Kinds<'a> = &'a dyn Fn(&Known) -> P12;

/// The plan of `renew`: for each name, its old files copied to
/// `archive/SERIAL/`, then the new certificate and bundle; for `ca`, the
/// CA's certificate again with its own key and subject, then every bundle.
pub fn renew_plan(
    pki: &Entities,
    req: &Renewal,
    prompts: &PromptLayout,
    caps: Capabilities,
    p12_of: P12Kinds,
) -> Result<Plan, LifecycleError> {
    let mut steps = Vec::new();
    let renews = |k: &Known| req.names.contains(&k.files.name);
    let renew_ca = renews(&pki.ca);
    let renew_inter = pki.intermediate.as_ref().is_some_and(renews);
    let days_of = |k: &Known, renewed: bool| {
        req.days
            .filter(|_| renewed)
            .unwrap_or_else(|| validity_days(&k.info))
    };
    let ca = entity_of(&pki.ca, days_of(&pki.ca, renew_ca), P12::No)?;
    if renew_ca {
        steps.extend(renew_ca_steps(pki, &ca, prompts, caps)?);
    }
    let inter = match &pki.intermediate {
        Some(k) => Some(entity_of(k, days_of(k, renew_inter), P12::No)?),
        None => None,
    };
    if let (Some(known), Some(entity), true) = (&pki.intermediate, &inter, renew_inter) {
        steps.extend(renew_intermediate_steps(pki, known, entity, &ca)?);
    }
    let chain: Vec<&Entity> = inter.iter().chain(std::iter::once(&ca)).collect();
    // With a new CA certificate every bundle is made again, after the
    // leaves renewed with it.
    let mut bundles = Vec::new();
    if renew_ca || renew_inter {
        for leaf in &pki.leaves {
            let entity = entity_of(leaf, validity_days(&leaf.info), P12::No)?;
            bundles.push(plan::bundle_step(&entity, &chain));
        }
    }
    let cas = [&pki.ca.files.name, &pki.issuer().files.name];
    for name in req.names.iter().filter(|n| !cas.contains(n)) {
        let known = pki.leaf(name)?;
        let days = req.days.unwrap_or_else(|| validity_days(&known.info));
        let leaf = entity_of(known, days, p12_of(known))?;
        steps.push(archive_step(pki, known, req.rekey));
        if req.rekey {
            let answers = prompts
                .answers_for(&leaf, true)
                .map_err(|p| problems_text(&leaf, p))?;
            steps.push(plan::genkey(&leaf, format!("A new key for {name}.")));
            steps.push(plan::csr_step(&leaf, answers));
        }
        let expected = leaf.subject_fields();
        // The CA puts in it what it put in the certificate it replaces.
        let signer = Entity {
            pointers: pointers_of(&known.info),
            ..chain[0].clone()
        };
        steps.push(plan::sign_step(
            &leaf,
            &signer,
            expected,
            is_strict(&known.info),
        ));
        if bundles.is_empty() {
            steps.push(plan::bundle_step(&leaf, &chain));
        }
        if leaf.p12 != P12::No {
            steps.push(plan::p12_step(&leaf, chain[0], caps));
        }
    }
    steps.extend(bundles);
    let crl = pki.has(&pki.issuer().files.crl());
    Ok(Plan {
        steps: pki.with_records(steps, &[]),
        checks: crate::plan::checks::checks(&pki.check_spec(&[], crl), caps),
        removes: Vec::new(),
    })
}

/// The CA again, with its own key and subject (answers as before).
fn renew_ca_steps(
    pki: &Entities,
    ca: &Entity,
    prompts: &PromptLayout,
    caps: Capabilities,
) -> Result<Vec<Step>, LifecycleError> {
    let answers = prompts
        .answers_for(ca, false)
        .map_err(|p| problems_text(ca, p))?;
    let strict = is_strict(&pki.ca.info);
    let extensions = if strict {
        plan::strict_ca_extensions(prompts, caps).map_err(LifecycleError::StrictCa)?
    } else {
        Vec::new()
    };
    let mut steps = vec![archive_step(pki, &pki.ca, false)];
    let mut cert = plan::ca_cert_step(ca, answers, &extensions, strict);
    cert.heading = "The CA's certificate again, with its own key and subject, so that every certificate it signed still verifies.".into();
    steps.push(cert);
    Ok(steps)
}

/// The intermediate signed again by the root, from its kept CSR, with the
/// constraints it has now; the root's key must be in DIR.
fn renew_intermediate_steps(
    pki: &Entities,
    known: &Known,
    inter: &Entity,
    ca: &Entity,
) -> Result<Vec<Step>, LifecycleError> {
    if !pki.has(&pki.ca.files.key()) {
        return Err(LifecycleError::NoRootKey {
            dir: pki.dir.clone(),
            key: pki.ca.files.key(),
        });
    }
    let (permitted, excluded) = known
        .info
        .name_constraints()
        .map_err(LifecycleError::Constraints)?;
    let intermediate = crate::pki::profile::Intermediate {
        entity: inter.clone(),
        permitted,
        excluded,
    };
    let root = Entity {
        pointers: pointers_of(&known.info),
        ..ca.clone()
    };
    let mut sign = plan::sign_step_with(
        inter,
        &root,
        inter.subject_fields(),
        plan::intermediate_extensions(&intermediate),
        inter.days,
    );
    sign.heading = "The root signs the intermediate again, with its key and constraints.".into();
    Ok(vec![archive_step(pki, known, false), sign])
}

fn problems_text(entity: &Entity, problems: Vec<crate::error::Problem>) -> LifecycleError {
    LifecycleError::Prompts {
        crt: entity.files().crt(),
        problems,
    }
}

/// `mkdir -p archive/SERIAL && cp …`: the files a certificate replaces or
/// retires, kept under its serial. With `all`, the key and CSR too.
fn archive_step(pki: &Entities, known: &Known, all: bool) -> Step {
    let f = &known.files;
    let mut files = vec![f.crt()];
    if f.role != Role::Ca {
        files.push(f.bundle());
        if all {
            files.extend([f.key(), f.csr()]);
        }
        if pki.has(&f.p12()) {
            files.push(f.p12());
        }
    }
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|file| all || pki.has(file))
        .map(PathBuf::from)
        .collect();
    let dir = names::archive(&known.serial);
    let outputs: Vec<PathBuf> = files
        .iter()
        .map(|file| dir.join(file.file_name().unwrap_or_default()))
        .collect();
    Step {
        id: format!("{}-archive", f.name),
        entity: f.name.clone(),
        section: Section::of(f.role),
        heading: format!(
            "Keep the files {} replaces, under its serial number.",
            f.crt()
        ),
        action: Action::Copy {
            files: files.clone(),
            dir,
        },
        inputs: files,
        keys: outputs
            .iter()
            .filter(|o| o.extension().is_some_and(|e| e == "key" || e == "p12"))
            .cloned()
            .collect(),
        outputs,
        subject_check: None,
        expect: None,
        report: false,
    }
}

/// The plan of `revoke NAME`: its files to `archive/SERIAL/`, the revocation
/// in the CA's database, a new CRL; NAME's files then leave DIR.
pub fn revoke_plan(
    pki: &Entities,
    name: &str,
    reason: &str,
    caps: Capabilities,
) -> Result<Plan, LifecycleError> {
    if name == pki.ca.files.name {
        return Err(LifecycleError::RevokeCa {
            name: name.to_string(),
            dir: pki.dir.clone(),
            crt: pki.ca.files.crt(),
        });
    }
    if pki
        .intermediate
        .as_ref()
        .is_some_and(|i| i.files.name == name)
    {
        return Err(LifecycleError::RevokeIntermediate {
            name: name.to_string(),
        });
    }
    let known = pki.leaf(name)?;
    let ca = &pki.issuer().files;
    let crt = known.files.crt();
    let mut steps = database_steps(ca, &|f| pki.has(f));
    let mut archive = archive_step(pki, known, true);
    archive.inputs.retain(|f| pki.has(&f.to_string_lossy()));
    if let Action::Copy { files, .. } = &mut archive.action {
        files.retain(|f| pki.has(&f.to_string_lossy()));
    }
    archive
        .outputs
        .retain(|o| pki.has(&o.file_name().unwrap_or_default().to_string_lossy()));
    let removes: Vec<PathBuf> = match &archive.action {
        Action::Copy { files, .. } => files.clone(),
        _ => Vec::new(),
    };
    steps.push(archive);
    steps.push(ca_step(
        ca,
        "ca-revoke",
        &format!("Mark {crt} revoked in the CA's database."),
        &revoke_words(&crt, reason),
        &[ca.index(), ca.index_attr()],
    ));
    steps.push(gencrl_step(ca, CRL_DAYS));
    Ok(Plan {
        steps: pki.with_records(steps, &[name]),
        checks: crate::plan::checks::checks(&pki.check_spec(&[name], true), caps),
        removes,
    })
}

/// `-revoke CRT -crl_reason REASON`, without a reason when none is stated:
/// RFC 5280 (5.3.1) says the reasonCode "unspecified" SHOULD be absent.
fn revoke_words<'a>(crt: &'a str, reason: &'a str) -> Vec<&'a str> {
    match reason {
        "unspecified" => vec!["-revoke", crt],
        _ => vec!["-revoke", crt, "-crl_reason", reason],
    }
}

/// The plan of `crl`: the CA's CRL issued again, valid for `days`.
pub fn crl_plan(pki: &Entities, days: u32, caps: Capabilities) -> Plan {
    let ca = &pki.issuer().files;
    let mut steps = database_steps(ca, &|f| pki.has(f));
    steps.push(gencrl_step(ca, days));
    Plan {
        steps: pki.with_records(steps, &[]),
        checks: crate::plan::checks::checks(&pki.check_spec(&[], true), caps),
        removes: Vec::new(),
    }
}

/// The serials the CA's database marks revoked (`R` lines of its
/// index.txt: status, expiry, revocation, serial, file, subject).
pub fn revoked_serials(index: &str) -> Vec<String> {
    index
        .lines()
        .filter(|l| l.starts_with('R'))
        .filter_map(|l| l.split('\t').nth(3))
        .map(|s| s.trim().to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_says_what_is_revoked() {
        let index = "V\t270101000000Z\t\t01\tunknown\t/CN=a\nR\t270101000000Z\t261128000000Z,keyCompromise\t0a\tunknown\t/CN=b\n";
        assert_eq!(revoked_serials(index), ["0A"]);
    }
}
