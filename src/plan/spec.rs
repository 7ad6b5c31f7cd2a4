//! What the checks need to know of a PKI, from a profile or read back from
//! its certificates and manifest: the data the check steps are planned from.

use crate::pki::error::ReadError;
use crate::pki::fixture::{Entry, Kind};
use crate::pki::names::{Files, Role};
use crate::pki::profile::{Entity, P12, Profile};
use crate::pki::read::Pki;
use crate::pki::san::San;

/// What the checks need to know of a PKI: file stems, roles, and what the
/// certificates must say (from a profile, or read from the certificates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckSpec {
    pub ca: String,
    /// The CA's expected subject, when a profile gives it.
    pub ca_subject: Option<Vec<(String, String)>>,
    pub leaves: Vec<LeafSpec>,
    /// Whether the leaves' issuer has a CRL (`ca.crl`, or the
    /// intermediate's): every leaf is then checked against it (`-crl_check`).
    pub crl: bool,
    /// The intermediate CA that signed the leaves, if any (its file stem):
    /// verify is given it as untrusted, and bundles must hold it.
    pub intermediate: Option<String>,
    /// Whether the root's key is at hand (`ca.key`); not when the root
    /// stays offline (`run --root`) and an intermediate signs.
    pub root_key: bool,
    /// The negative-test fixtures: each must be refused, for its reason.
    pub fixtures: Vec<FixtureSpec>,
}

/// A fixture, as the checks need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureSpec {
    pub leaf: LeafSpec,
    pub kind: Kind,
    /// The host its clients dial (wrong-host).
    pub host: Option<String>,
}

impl FixtureSpec {
    /// From a PKI's manifest, with the names its certificate carries.
    pub fn of_entry(entry: &Entry, sans: Vec<San>) -> FixtureSpec {
        FixtureSpec {
            leaf: LeafSpec {
                name: entry.name.clone(),
                role: entry.role(),
                sans,
                sans_from_profile: false,
                subject: None,
                p12: P12::No,
            },
            kind: entry.fixture,
            host: entry.host.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    pub name: String,
    pub role: Role,
    /// The names to verify the certificate for.
    pub sans: Vec<San>,
    /// Whether the SANs come from a profile, so the certificate must carry exactly them.
    pub sans_from_profile: bool,
    pub subject: Option<Vec<(String, String)>>,
    pub p12: P12,
}

impl LeafSpec {
    pub fn files(&self) -> Files {
        Files::new(&self.name, self.role)
    }
}

impl CheckSpec {
    pub fn ca_files(&self) -> Files {
        Files::new(&self.ca, Role::Ca)
    }

    /// The checks for a profile's PKI.
    pub fn for_profile(profile: &Profile) -> CheckSpec {
        let leaf = |e: &Entity| LeafSpec {
            name: e.name.clone(),
            role: e.role,
            sans: e.san.clone(),
            sans_from_profile: true,
            subject: Some(e.subject_fields()),
            p12: e.p12,
        };
        let fixtures: Vec<FixtureSpec> = profile
            .fixtures()
            .map(|(e, f)| FixtureSpec {
                leaf: LeafSpec {
                    // A cn-only fixture carries no san: its host is in its CN.
                    sans: match f.kind {
                        Kind::CnOnly => Vec::new(),
                        _ => e.san.clone(),
                    },
                    ..leaf(e)
                },
                kind: f.kind,
                host: f.host.clone(),
            })
            .collect();
        CheckSpec {
            ca: profile.ca.name.clone(),
            ca_subject: Some(profile.ca.subject_fields()),
            leaves: profile.good_leaves().map(leaf).collect(),
            // A revoked fixture is in the issuer's CRL, which every leaf is
            // then checked against.
            crl: fixtures.iter().any(|f| f.kind == Kind::Revoked)
                || profile.issuer().pointers.crl.is_some(),
            intermediate: profile.intermediate.as_ref().map(|i| i.entity.name.clone()),
            root_key: true,
            fixtures,
        }
    }

    /// The CA that signs the leaves (and whose CRL they are checked against).
    pub fn issuer_files(&self) -> Files {
        self.intermediate_files().unwrap_or_else(|| self.ca_files())
    }

    pub fn intermediate_files(&self) -> Option<Files> {
        self.intermediate
            .as_ref()
            .map(|n| Files::new(n, Role::Intermediate))
    }

    /// The CAs above a leaf, its issuer first: what its bundle holds after it.
    pub fn chain(&self) -> Vec<Files> {
        self.intermediate_files()
            .into_iter()
            .chain(std::iter::once(self.ca_files()))
            .collect()
    }
}

/// The fixtures the manifest of `pki` lists, with the names their
/// certificates carry.
pub fn fixture_specs(pki: &Pki) -> Result<Vec<FixtureSpec>, ReadError> {
    pki.layout()?
        .fixtures
        .iter()
        .map(|e| Ok(FixtureSpec::of_entry(e, sans_in(pki, &e.files())?)))
        .collect()
}

/// The names the certificate of `files` in `pki` carries.
fn sans_in(pki: &Pki, files: &Files) -> Result<Vec<San>, ReadError> {
    let crt = files.crt();
    pki.certificate(&crt)
        .map(|info| info.san_entries)
        .map_err(|e| e.naming(&crt))
}

impl CheckSpec {
    /// The checks of the PKI read back in `pki`, found by the tutorial's
    /// file names; the names to verify come from the certificates
    /// themselves. Its CA and intermediate are not read here: the checks
    /// read them.
    pub fn read_back(pki: &Pki) -> Result<CheckSpec, ReadError> {
        let found = pki.layout_with_leaves()?;
        let mut leaves = Vec::new();
        for files in &found.leaves {
            leaves.push(LeafSpec {
                name: files.name.clone(),
                role: files.role,
                sans: sans_in(pki, files)?,
                sans_from_profile: false,
                subject: None,
                // Opening a PKCS#12 bundle needs its password, which verify
                // without a profile does not ask for.
                p12: P12::No,
            });
        }
        let issuer = found.intermediate.as_ref().unwrap_or(&found.ca);
        let crl = pki.has(&issuer.crl());
        // An offline root: its key is elsewhere when an intermediate signs.
        let root_key = found.intermediate.is_none() || pki.dir().join(found.ca.key()).exists();
        Ok(CheckSpec {
            ca: found.ca.name.clone(),
            ca_subject: None,
            leaves,
            crl,
            root_key,
            intermediate: found.intermediate.as_ref().map(|f| f.name.clone()),
            fixtures: fixture_specs(pki)?,
        })
    }
}
