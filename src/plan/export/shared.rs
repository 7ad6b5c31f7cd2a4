//! What every export format shares: the entity as DIR holds it, what
//! export was asked, and the steps that copy or write a file. A leaf below
//! the formats.

use std::path::{Path, PathBuf};

use crate::pki::names::Files;
use crate::pki::names::export as names;
use crate::plan::caps::Capabilities;
use crate::plan::step::{Action, Section, Step};

use super::error::ExportError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Java,
    K8s,
    Nginx,
    Haproxy,
    /// The hand-off formats: a CA for a CA service (handoff.rs).
    Cfssl,
    CertManager,
    Vault,
    Step,
}

impl Format {
    /// Whether it exports a CA (to a CA service) rather than a leaf.
    pub fn hands_off(self) -> bool {
        matches!(
            self,
            Format::Cfssl | Format::CertManager | Format::Vault | Format::Step
        )
    }
}

/// A name Kubernetes takes (an RFC 1123 label): lower case, `-` for
/// anything else, at most 63 characters.
pub fn k8s_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_string()
}

/// What DIR holds for the entity, by absolute path.
#[derive(Debug, Clone)]
pub struct Source {
    pub dir: PathBuf,
    pub leaf: Files,
    /// The CAs above the leaf, its issuer first, up to the root.
    pub chain: Vec<Files>,
    /// Whether each CA of the chain has its CRL in DIR.
    pub crls: bool,
    /// The host its clients dial (its first DNS name), for configs.
    pub host: String,
    /// A name for the trust bundle's ConfigMap (from DIR's name).
    pub pki_name: String,
    /// How many days the PKI's leaves are valid for (a hand-off's service
    /// issues for as long).
    pub leaf_days: i64,
    /// The DNS names a CA's name constraints permit (a hand-off's role
    /// issues for those).
    pub permitted_dns: Vec<String>,
}

impl Source {
    pub fn at(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn root(&self) -> &Files {
        self.chain.last().unwrap_or(&self.leaf)
    }

    /// The leaf and the CAs above it but the root: what a TLS peer sends.
    pub fn sent_chain(&self) -> Vec<PathBuf> {
        let above = &self.chain[..self.chain.len().saturating_sub(1)];
        std::iter::once(&self.leaf)
            .chain(above)
            .map(|f| self.at(&f.crt()))
            .collect()
    }
}

/// What export was asked, beyond the entity.
#[derive(Debug, Clone)]
pub struct Options {
    pub format: Format,
    /// Where the files go (absolute): the configs name them there.
    pub out: PathBuf,
    pub namespace: String,
    /// `[ADDRESS:]PORT` the server configs listen on.
    pub listen: String,
    pub caps: Capabilities,
    /// `openssl pkcs12 -jdktrust` (OpenSSL 3.2 and later).
    pub jdktrust: bool,
    /// A JDK's keytool on PATH.
    pub keytool: bool,
    /// cert-manager: a ClusterIssuer (its Secret in cert-manager's
    /// namespace) rather than an Issuer.
    pub cluster: bool,
}

pub fn step(id: &str, src: &Source, heading: &str, action: Action, outputs: &[&str]) -> Step {
    Step {
        id: format!("export-{id}"),
        entity: src.leaf.name.clone(),
        section: Section::of(src.leaf.role),
        heading: heading.to_string(),
        action,
        inputs: Vec::new(),
        outputs: outputs.iter().map(PathBuf::from).collect(),
        keys: Vec::new(),
        subject_check: None,
        expect: None,
        report: false,
    }
}

/// `cat PARTS… > OUT` from DIR into the export; a key stays private.
pub fn cat(src: &Source, id: &str, parts: Vec<PathBuf>, out: &str, key: bool) -> Step {
    let heading = format!("{out}, from {}", src.dir.display());
    let mut s = step(
        id,
        src,
        &heading,
        Action::Concat {
            parts,
            out: PathBuf::from(out),
        },
        &[out],
    );
    if key {
        s.keys = vec![PathBuf::from(out)];
    }
    s
}

pub fn write(src: &Source, id: &str, out: &str, text: String) -> Step {
    step(
        id,
        src,
        &format!("{out}, the config to include."),
        Action::Write {
            text,
            out: PathBuf::from(out),
        },
        &[out],
    )
}

/// `crl.pem`: the CRL of each CA of the chain.
pub fn crl_file(src: &Source) -> Step {
    let crls = src.chain.iter().map(|f| src.at(&f.crl())).collect();
    cat(src, "crl", crls, names::CRL, false)
}

/// The export directory as the configs name it: UTF-8 without control
/// characters, which no nginx or HAProxy string (nor a Java properties
/// line) can hold; refused before anything is written.
pub fn config_path(out: &Path) -> Result<&str, ExportError> {
    let text = out.to_str().ok_or_else(|| ExportError::OutNotUtf8 {
        out: out.to_path_buf(),
    })?;
    if let Some(control) = text.chars().find(|c| c.is_control()) {
        return Err(ExportError::ControlInOut {
            out: text.to_string(),
            control,
        });
    }
    Ok(text)
}
