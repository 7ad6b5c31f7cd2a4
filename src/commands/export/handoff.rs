//! `export DIR CA --format cfssl|cert-manager|vault|step`: which CA is
//! handed off, for how long its service issues, and what to run next.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Request;
use crate::error::{Error, Result};
use crate::pki::names::export as names;
use crate::pki::read::Known;
use crate::pki::x509::KeyInfo;
use crate::plan::export::{CLUSTER_NAMESPACE, Format, Options, Source, k8s_name};
use crate::plan::lifecycle::Entities;
use crate::shell::shell_word;

/// Said before the files are written when the root itself is handed off.
pub const ROOT_LEAVES: &str = "warning: this hands off the root CA: its private key leaves DIR for the service, which can then issue anything in any name. Hand off the intermediate instead where you can (profiles/intermediate.toml), and keep the root offline";

/// OpenSSL's default validity, the tutorial's: when no leaf says longer.
const DEFAULT_DAYS: i64 = 30;

/// The CA named: the intermediate (with the root above it) or the root.
pub fn source(req: &Request, pki: &Entities) -> Result<Source> {
    let (ca, chain): (&Known, Vec<&Known>) = match &pki.intermediate {
        Some(i) if i.files.name == req.name => (i, vec![&pki.ca]),
        _ if pki.ca.files.name == req.name => (&pki.ca, Vec::new()),
        _ => {
            let cas: Vec<&str> = std::iter::once(&pki.ca)
                .chain(&pki.intermediate)
                .map(|k| k.files.name.as_str())
                .collect();
            return Err(Error::BadInput(format!(
                "{} is not a CA of {}; a hand-off takes a CA: {} (the intermediate where there is one)",
                req.name,
                req.dir.display(),
                cas.join(" or ")
            )));
        }
    };
    if req.format == Format::Cfssl && !matches!(ca.info.key, KeyInfo::Rsa(_) | KeyInfo::Ec(_)) {
        return Err(Error::BadInput(format!(
            "{} has an {} key, and cfssl signs with RSA and ECDSA keys only; hand it to step-ca or Vault, or give the CA an RSA or EC key (key = \"ec:P-256\")",
            ca.files.crt(),
            ca.info.key
        )));
    }
    // What it signed: how long its leaves last, and a name they carry.
    let signed: Vec<&Known> = pki
        .leaves
        .iter()
        .filter(|l| l.info.issuer == ca.info.subject)
        .collect();
    // The root of a PKI with an intermediate signs no leaf itself: then
    // the leaves of the PKI.
    let lasting = |leaves: &[&Known]| {
        leaves
            .iter()
            .map(|l| (l.info.not_after - l.info.not_before + 43_199) / 86_400)
            .max()
    };
    let leaf_days = lasting(&signed)
        .or_else(|| lasting(&pki.leaves.iter().collect::<Vec<_>>()))
        .unwrap_or(DEFAULT_DAYS);
    let permitted_dns = match ca.info.name_constraints() {
        Ok((permitted, _)) => permitted
            .iter()
            .filter_map(|c| match c {
                crate::pki::constraints::Constraint::Dns(d) => Some(d.clone()),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    let names: Vec<_> = signed
        .iter()
        .flat_map(|l| l.info.san_entries.iter().cloned())
        .collect();
    let host = super::dialed_host(&names);
    let (dir, pki_name) = super::located(req.dir)?;
    Ok(Source {
        crls: chain.iter().all(|k| dir.join(k.files.crl()).is_file()),
        dir,
        leaf: ca.files.clone(),
        chain: chain.iter().map(|k| k.files.clone()).collect(),
        host,
        pki_name,
        leaf_days,
        permitted_dns,
    })
}

/// The DNS names a Vault role may issue for: those the CA's name
/// constraints permit, else the name its leaves carry.
fn allowed_domains(src: &Source) -> String {
    match src.permitted_dns.is_empty() {
        true => src.host.clone(),
        false => src.permitted_dns.join(","),
    }
}

/// What each file is, then the commands that start the service on them.
pub fn summary(src: &Source, opts: &Options, out: &Path, files: &[PathBuf]) -> String {
    let mut text = String::new();
    for file in files {
        let f = file.to_string_lossy();
        let what = match f.as_ref() {
            names::CFSSL_CONFIG => {
                "cfssl's signing config (one default profile, server and client auth)"
            }
            names::CA_CRT | names::STEP_ROOT_CRT => "the root CA, which every client trusts",
            names::TRUST_BUNDLE => "kubectl apply -f it: a trust-manager Bundle of the root",
            names::TRUST_SOURCE => {
                "kubectl apply -f it: the root as a ConfigMap in cert-manager's namespace, which the Bundle reads"
            }
            names::EXAMPLE_CERTIFICATE => {
                "kubectl apply -f it: an example Certificate the Issuer signs"
            }
            _ if f.ends_with(names::CA_SECRET) => {
                "kubectl apply -f it: the CA's Secret (mode 0600)"
            }
            _ if f.ends_with(names::ISSUER) => "kubectl apply -f it: the Issuer of kind ca",
            _ if f.ends_with(names::VAULT_BUNDLE) => {
                "the CA's key, its certificate, then the chain to the root (mode 0600)"
            }
            _ if f == src.leaf.crt() || f == names::STEP_INTERMEDIATE_CRT => {
                "the CA's certificate (and the CAs above it but the root)"
            }
            _ => "the CA's private key (mode 0600)",
        };
        let _ = writeln!(text, "wrote {}: {what}", out.join(file).display());
    }
    let _ = writeln!(text, "next:");
    for line in next_commands(src, opts, out) {
        let _ = writeln!(text, "  {line}");
    }
    if src.chain.is_empty() {
        let dir = src.dir.display().to_string();
        let _ = writeln!(text, "{}", ROOT_LEAVES.replace("DIR", &dir));
    }
    text
}

/// The commands that start the service on the files in `out`.
fn next_commands(src: &Source, opts: &Options, out: &Path) -> Vec<String> {
    let at = |file: &str| shell_word(&out.join(file).to_string_lossy());
    let name = &src.leaf.name;
    let (crt, key) = (src.leaf.crt(), src.leaf.key());
    match opts.format {
        Format::Cfssl => vec![format!(
            "cfssl serve -address 127.0.0.1 -port 8888 -ca {} -ca-key {} -config {}",
            at(&crt),
            at(&key),
            at(names::CFSSL_CONFIG)
        )],
        Format::Vault => {
            let path = format!("pki_{}", k8s_name(name).replace('-', "_"));
            vec![
                format!("vault secrets enable -path={path} pki"),
                format!(
                    "vault secrets tune -max-lease-ttl={}h {path}",
                    src.leaf_days * 24
                ),
                format!(
                    "vault write {path}/issuers/import/bundle pem_bundle=@{}",
                    at(&format!("{name}{}", names::VAULT_BUNDLE))
                ),
                format!(
                    "vault write {path}/roles/workshop allowed_domains={} allow_bare_domains=true allow_subdomains=true server_flag=true client_flag=true max_ttl={}h",
                    shell_word(&allowed_domains(src)),
                    src.leaf_days * 24
                ),
                format!(
                    "vault write {path}/issue/workshop common_name={}",
                    shell_word(&src.host)
                ),
            ]
        }
        Format::Step if src.chain.is_empty() => vec![format!(
            "step ca init --name {} --dns localhost --address 127.0.0.1:9000 --provisioner admin --root {} --key {}",
            shell_word(&src.pki_name),
            at(names::STEP_ROOT_CRT),
            at(names::STEP_ROOT_KEY)
        )],
        Format::Step => vec![
            format!(
                "step ca init --name {} --dns localhost --address 127.0.0.1:9000 --provisioner admin",
                shell_word(&src.pki_name)
            ),
            format!(
                "cp {} {} \"$(step path)/certs/\"",
                at(names::STEP_ROOT_CRT),
                at(names::STEP_INTERMEDIATE_CRT)
            ),
            format!(
                "cp {} \"$(step path)/secrets/\"   # not encrypted: step-ca needs no password for it",
                at(names::STEP_INTERMEDIATE_KEY)
            ),
        ],
        _ => {
            let ns = match opts.cluster {
                true => CLUSTER_NAMESPACE,
                false => opts.namespace.as_str(),
            };
            vec![
                format!(
                    "kubectl apply -f {}   # into {ns}",
                    at(&format!("{name}{}", names::CA_SECRET))
                ),
                format!(
                    "kubectl apply -f {}",
                    at(&format!("{name}{}", names::ISSUER))
                ),
                format!("kubectl apply -f {}", at(names::TRUST_SOURCE)),
                format!("kubectl apply -f {}", at(names::TRUST_BUNDLE)),
                format!("kubectl apply -f {}", at(names::EXAMPLE_CERTIFICATE)),
            ]
        }
    }
}
