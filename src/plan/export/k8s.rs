//! Kubernetes: a kubernetes.io/tls Secret and the trust bundle as a
//! ConfigMap, as YAML that pkiforge renders itself when the step runs (the
//! Secret holds the key, so its text is never shown).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;

use crate::pki::names::export::{self as names, named};
use crate::plan::step::{Action, Render, Step};

use super::error::ExportError;
use super::shared::{Options, Source, step};

pub use super::shared::k8s_name;

/// `NAME.secret.yaml` and `ca.configmap.yaml`.
pub fn k8s_steps(src: &Source, opts: &Options) -> Vec<Step> {
    let (name, ns) = (k8s_name(&src.leaf.name), opts.namespace.clone());
    let ca = src.at(&src.root().crt());
    let secret_file = named(&src.leaf.name, names::SECRET);
    let mut secret = step(
        "secret",
        src,
        &format!(
            "The Secret a pod mounts: {} (the chain without the root), {} and {}.",
            names::TLS_CRT,
            names::TLS_KEY,
            names::CA_CRT
        ),
        Action::Render {
            what: Render::TlsSecret {
                name,
                namespace: ns.clone(),
                chain: src.sent_chain(),
                key: src.at(&src.leaf.key()),
                ca: ca.clone(),
            },
            out: PathBuf::from(&secret_file),
        },
        &[&secret_file],
    );
    secret.keys = vec![PathBuf::from(&secret_file)];
    let bundle = step(
        "configmap",
        src,
        "The trust bundle alone, for workloads that only verify.",
        Action::Render {
            what: Render::TrustBundle {
                name: format!("{}-ca", k8s_name(&src.pki_name)),
                namespace: ns,
                ca,
            },
            out: PathBuf::from(names::CA_CONFIGMAP),
        },
        &[names::CA_CONFIGMAP],
    );
    vec![secret, bundle]
}

#[derive(Serialize)]
struct Metadata<'a> {
    name: &'a str,
    namespace: &'a str,
    labels: std::collections::BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct Secret<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    #[serde(rename = "type")]
    kind_of: &'a str,
    data: std::collections::BTreeMap<&'a str, String>,
}

#[derive(Serialize)]
struct ConfigMap<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    metadata: Metadata<'a>,
    data: std::collections::BTreeMap<&'a str, String>,
}

fn metadata<'a>(name: &'a str, namespace: &'a str) -> Metadata<'a> {
    Metadata {
        name,
        namespace,
        labels: [("app.kubernetes.io/managed-by", "pkiforge")].into(),
    }
}

/// A Kubernetes object as YAML (serde_norway), from the files `read`
/// gives: what run/runner.rs writes for an `Action::Render` step. Pure: the
/// runner reads and writes.
pub fn render(
    what: &Render,
    read: impl Fn(&Path) -> Result<Vec<u8>, crate::files::ReadError>,
) -> Result<String, ExportError> {
    let b64 = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let yaml = match what {
        Render::TlsSecret {
            name,
            namespace,
            chain,
            key,
            ca,
        } => {
            let mut crt = Vec::new();
            for part in chain {
                crt.extend(read(part)?);
            }
            let data = [
                (names::TLS_CRT, b64(crt)),
                (names::TLS_KEY, b64(read(key)?)),
                (names::CA_CRT, b64(read(ca)?)),
            ];
            serde_norway::to_string(&Secret {
                api_version: "v1",
                kind: "Secret",
                metadata: metadata(name, namespace),
                kind_of: "kubernetes.io/tls",
                data: data.into(),
            })
        }
        Render::TrustBundle {
            name,
            namespace,
            ca,
        } => {
            let pem = String::from_utf8_lossy(&read(ca)?).into_owned();
            serde_norway::to_string(&ConfigMap {
                api_version: "v1",
                kind: "ConfigMap",
                metadata: metadata(name, namespace),
                data: [(names::CA_CRT, pem)].into(),
            })
        }
    }?;
    Ok(yaml)
}
