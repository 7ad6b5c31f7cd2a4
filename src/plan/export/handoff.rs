//! Hand-off: a CA of the PKI (its intermediate, or the root itself) made
//! ready for a CA service that goes on issuing under it: cfssl,
//! cert-manager, HashiCorp Vault or OpenBao, step-ca. Each format copies
//! the CA's certificate and key as the service reads them and writes what
//! configures it; the key files are the publish's private files (0600),
//! in a directory of the owner's alone.

use std::path::PathBuf;

use serde::Serialize;

use crate::pki::names::export::{self as names, named};
use crate::plan::step::{Action, Inspection, Render, Section, Step};

use super::shared::{Format, Options, Source, cat, k8s_name, step, write};

/// The Kubernetes API group of cert-manager, and of trust-manager.
const CERT_MANAGER: &str = "cert-manager.io/v1";
const TRUST_MANAGER: &str = "trust.cert-manager.io/v1alpha1";
/// Where a ClusterIssuer's Secret lives: cert-manager's cluster resource
/// namespace, as installed.
pub const CLUSTER_NAMESPACE: &str = "cert-manager";

/// The CA's own certificate, then the CAs above it but the root: what a
/// service issuing under it hands out after each leaf.
fn ca_chain(src: &Source) -> Vec<PathBuf> {
    src.sent_chain()
}

/// The root's certificate, which every client trusts.
fn root(src: &Source) -> PathBuf {
    src.at(&src.root().crt())
}

/// The check: the key handed off belongs to the certificate handed off
/// (as DIR holds them; every format copies them as they are).
pub fn key_check(src: &Source) -> Step {
    let (key, crt) = (src.at(&src.leaf.key()), src.at(&src.leaf.crt()));
    let mut s = step(
        "check-key",
        src,
        "The CA's private key belongs to its certificate.",
        Action::Inspect(Inspection::KeyMatches {
            key: key.clone(),
            crt: crt.clone(),
        }),
        &[],
    );
    s.section = Section::Verify;
    s.inputs = vec![key, crt];
    s
}

/// The steps of a hand-off format.
pub fn handoff_steps(src: &Source, opts: &Options) -> Vec<Step> {
    let name = &src.leaf.name;
    let (crt, key) = (src.leaf.crt(), src.leaf.key());
    let mut steps = match opts.format {
        Format::Cfssl => vec![
            cat(src, "crt", ca_chain(src), &crt, false),
            cat(src, "key", vec![src.at(&src.leaf.key())], &key, true),
            write(src, "cfssl-config", names::CFSSL_CONFIG, cfssl_config(src)),
        ],
        Format::Vault => {
            let bundle = named(name, names::VAULT_BUNDLE);
            let mut parts = vec![src.at(&src.leaf.key())];
            parts.extend(ca_chain(src));
            if !src.chain.is_empty() {
                parts.push(root(src));
            }
            vec![cat(src, "vault-bundle", parts, &bundle, true)]
        }
        Format::Step => {
            let (crt, key) = match src.chain.is_empty() {
                true => (names::STEP_ROOT_CRT, names::STEP_ROOT_KEY),
                false => (names::STEP_INTERMEDIATE_CRT, names::STEP_INTERMEDIATE_KEY),
            };
            let mut steps = vec![
                cat(src, "crt", ca_chain(src), crt, false),
                cat(src, "key", vec![src.at(&src.leaf.key())], key, true),
            ];
            if !src.chain.is_empty() {
                steps.push(cat(
                    src,
                    "root",
                    vec![root(src)],
                    names::STEP_ROOT_CRT,
                    false,
                ));
            }
            steps
        }
        _ => cert_manager_steps(src, opts),
    };
    if opts.format != Format::Step && !src.chain.is_empty() {
        steps.push(cat(src, "root", vec![root(src)], names::CA_CRT, false));
    }
    steps
}

/// cfssl's signing config: one default profile for servers and clients,
/// valid as long as the PKI's leaves are.
fn cfssl_config(src: &Source) -> String {
    let config = serde_json::json!({
        "signing": {
            "default": {
                "expiry": format!("{}h", src.leaf_days * 24),
                "usages": ["signing", "digital signature", "key encipherment", "server auth", "client auth"],
            }
        }
    });
    let mut text = serde_json::to_string_pretty(&config).unwrap_or_default();
    text.push('\n');
    text
}

#[derive(Serialize)]
struct Meta<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    labels: std::collections::BTreeMap<&'a str, &'a str>,
}

#[derive(Serialize)]
struct Object<'a, S: Serialize> {
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    kind: &'a str,
    metadata: Meta<'a>,
    spec: S,
}

fn object<'a, S: Serialize>(
    (api_version, kind): (&'a str, &'a str),
    name: &'a str,
    namespace: Option<&'a str>,
    spec: S,
) -> String {
    let object = Object {
        api_version,
        kind,
        metadata: Meta {
            name,
            namespace,
            labels: [("app.kubernetes.io/managed-by", "pkiforge")].into(),
        },
        spec,
    };
    serde_norway::to_string(&object).unwrap_or_default()
}

/// The CA's Secret (rendered when the step runs: it holds the key), the
/// Issuer of kind `ca` that names it, a trust-manager Bundle of the root,
/// and an example Certificate.
fn cert_manager_steps(src: &Source, opts: &Options) -> Vec<Step> {
    let issuer = k8s_name(&src.leaf.name);
    let secret_name = format!("{issuer}-ca");
    let (kind, secret_ns, ns) = match opts.cluster {
        true => ("ClusterIssuer", CLUSTER_NAMESPACE.to_string(), None),
        false => (
            "Issuer",
            opts.namespace.clone(),
            Some(opts.namespace.as_str()),
        ),
    };
    let secret_file = named(&src.leaf.name, names::CA_SECRET);
    let mut secret = step(
        "ca-secret",
        src,
        &format!(
            "The CA's Secret that the Issuer signs with: {}, {} and the root as {}.",
            names::TLS_CRT,
            names::TLS_KEY,
            names::CA_CRT
        ),
        Action::Render {
            what: Render::TlsSecret {
                name: secret_name.clone(),
                namespace: secret_ns.clone(),
                chain: ca_chain(src),
                key: src.at(&src.leaf.key()),
                ca: root(src),
            },
            out: PathBuf::from(&secret_file),
        },
        &[&secret_file],
    );
    secret.keys = vec![PathBuf::from(&secret_file)];
    let issuer_yaml = object(
        (CERT_MANAGER, kind),
        &issuer,
        ns,
        serde_json::json!({ "ca": { "secretName": secret_name } }),
    );
    let (source, bundle) = trust_steps(src);
    let example = object(
        (CERT_MANAGER, "Certificate"),
        "example",
        Some(opts.namespace.as_str()),
        serde_json::json!({
            "secretName": "example-tls",
            "duration": format!("{}h", src.leaf_days * 24),
            "dnsNames": [src.host],
            "usages": ["server auth", "client auth"],
            "issuerRef": { "name": issuer, "kind": kind, "group": "cert-manager.io" },
        }),
    );
    vec![
        secret,
        write(
            src,
            "issuer",
            &named(&src.leaf.name, names::ISSUER),
            issuer_yaml,
        ),
        source,
        bundle,
        write(src, "example", names::EXAMPLE_CERTIFICATE, example),
    ]
}

/// The root for trust-manager: a ConfigMap in its trust namespace, where
/// it reads a Bundle's sources (cert-manager's, whatever namespace the
/// Issuer and its Secret are in), and the Bundle that copies it into every
/// namespace.
fn trust_steps(src: &Source) -> (Step, Step) {
    let bundle_name = format!("{}-ca", k8s_name(&src.pki_name));
    let source = step(
        "trust-source",
        src,
        "The root, in trust-manager's namespace, for the Bundle to read.",
        Action::Render {
            what: Render::TrustBundle {
                name: format!("{bundle_name}-root"),
                namespace: CLUSTER_NAMESPACE.to_string(),
                ca: root(src),
            },
            out: PathBuf::from(names::TRUST_SOURCE),
        },
        &[names::TRUST_SOURCE],
    );
    let bundle = object(
        (TRUST_MANAGER, "Bundle"),
        &bundle_name,
        None,
        serde_json::json!({
            "sources": [{ "configMap": { "name": format!("{bundle_name}-root"), "key": names::CA_CRT } }],
            "target": { "configMap": { "key": names::CA_CRT } },
        }),
    );
    (source, write(src, "bundle", names::TRUST_BUNDLE, bundle))
}
