//! `pkiforge export`: one entity of a PKI, made ready for the program that
//! uses it (a JVM, Kubernetes, nginx, HAProxy). The plan is data, like the
//! others: copies (`cat`), openssl and keytool commands, config text, and
//! the Kubernetes YAML that pkiforge renders itself (it holds the key, so
//! its text is never shown).

mod error;
pub use error::ExportError;

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;

use crate::pki::names::export::{self as names, named};
use crate::pki::names::{Files, Role};
use crate::plan::caps::Capabilities;
use crate::plan::step::P12_PASSWORD_VAR;
use crate::plan::step::{Action, Arg, Expect, Render, Section, Step};
use crate::plan::{Plan, lits};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Java,
    K8s,
    Nginx,
    Haproxy,
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
}

impl Source {
    fn at(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn root(&self) -> &Files {
        self.chain.last().unwrap_or(&self.leaf)
    }

    /// The leaf and the CAs above it but the root: what a TLS peer sends.
    fn sent_chain(&self) -> Vec<PathBuf> {
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

/// The export's steps, and the checks of what it wrote.
pub fn plan(src: &Source, opts: &Options) -> Result<Plan, ExportError> {
    if opts.format != Format::K8s {
        config_path(&opts.out)?;
    }
    let steps = match opts.format {
        Format::Java => java_steps(src, opts)?,
        Format::K8s => k8s_steps(src, opts),
        Format::Nginx => nginx_steps(src, opts)?,
        Format::Haproxy => haproxy_steps(src, opts)?,
    };
    let checks = match opts.format {
        Format::Java => vec![keystore_check(src)],
        _ => Vec::new(),
    };
    Ok(Plan {
        steps,
        checks,
        removes: Vec::new(),
    })
}

fn step(id: &str, src: &Source, heading: &str, action: Action, outputs: &[&str]) -> Step {
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
fn cat(src: &Source, id: &str, parts: Vec<PathBuf>, out: &str, key: bool) -> Step {
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

fn write(src: &Source, id: &str, out: &str, text: String) -> Step {
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

/// The PKCS#12 algorithms every current JDK reads: OpenSSL 3's defaults
/// (AES-256, PBKDF2, SHA-256 MAC), named on OpenSSL 1.1.1, whose defaults
/// are older.
fn modern_pkcs12(caps: Capabilities) -> Vec<Arg> {
    if caps.pkcs12_legacy {
        return Vec::new();
    }
    crate::plan::current_pkcs12_algorithms()
}

/// `NAME.keystore.p12` (key and chain, alias NAME), `truststore.p12` (the
/// root as a trusted certificate entry), `NAME.java.properties`.
fn java_steps(src: &Source, opts: &Options) -> Result<Vec<Step>, ExportError> {
    let name = &src.leaf.name;
    let keystore = named(name, names::KEYSTORE);
    let pass = format!("env:{P12_PASSWORD_VAR}");
    let mut args = lits(&["pkcs12", "-export"]);
    args.extend(modern_pkcs12(opts.caps));
    // The bundle: the leaf, then each CA up to the root.
    let bundle = src.at(&src.leaf.bundle()).display().to_string();
    let key = src.at(&src.leaf.key()).display().to_string();
    args.extend(lits(&[
        "-in", &bundle, "-inkey", &key, "-name", name, "-passout", &pass, "-out", &keystore,
    ]));
    let mut ks = step(
        "keystore",
        src,
        "The key and its chain, as a Java keystore (PKCS12), under the alias NAME.",
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        &[&keystore],
    );
    ks.keys = vec![PathBuf::from(&keystore)];
    let trust = truststore(src, opts)?;
    let ts = step(
        "truststore",
        src,
        "The root CA as a trusted certificate entry, as Java's KeyStore (PKCS12) lists it.",
        trust,
        &[names::TRUSTSTORE],
    );
    let out = config_path(&opts.out)?;
    let properties = format!(
        "# javax.net.ssl system properties for {name} (pkiforge export).\n# The passwords are not written here, and belong on no command line (ps shows\n# it to every user): give them to java in an argument file, java @FILE\n# (docs/export.md).\njavax.net.ssl.keyStore={out}/{keystore}\njavax.net.ssl.keyStoreType=PKCS12\njavax.net.ssl.trustStore={out}/{truststore}\njavax.net.ssl.trustStoreType=PKCS12\n",
        truststore = names::TRUSTSTORE,
    );
    let props = write(
        src,
        "properties",
        &named(name, names::JAVA_PROPERTIES),
        properties,
    );
    Ok(vec![ks, ts, props])
}

/// The root as a trusted entry Java lists: `openssl pkcs12 -jdktrust`
/// where openssl has it, else keytool, else what to install.
fn truststore(src: &Source, opts: &Options) -> Result<Action, ExportError> {
    let pass = format!("env:{P12_PASSWORD_VAR}");
    let root = src.at(&src.root().crt()).display().to_string();
    Ok(if opts.jdktrust {
        let mut args = lits(&["pkcs12", "-export", "-nokeys", "-in", &root]);
        args.extend(lits(&[
            "-jdktrust",
            "anyExtendedKeyUsage",
            "-passout",
            &pass,
            "-out",
            names::TRUSTSTORE,
        ]));
        Action::Openssl {
            args,
            stdin: Vec::new(),
        }
    } else if opts.keytool {
        let alias = format!("{}-ca", src.pki_name);
        let args = [
            "-importcert",
            "-noprompt",
            "-alias",
            &alias,
            "-file",
            &root,
            "-keystore",
            names::TRUSTSTORE,
            "-storetype",
            "PKCS12",
            "-storepass:env",
            P12_PASSWORD_VAR,
        ];
        Action::Tool {
            program: "keytool".into(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    } else {
        return Err(ExportError::NoTruststoreTool);
    })
}

/// The keystore opens with the password and holds the key and its chain.
fn keystore_check(src: &Source) -> Step {
    let keystore = named(&src.leaf.name, names::KEYSTORE);
    let mut args = lits(&["pkcs12", "-in", &keystore, "-nodes", "-passin"]);
    args.push(Arg::lit(format!("env:{P12_PASSWORD_VAR}")));
    let certs: Vec<PathBuf> = std::iter::once(&src.leaf)
        .chain(&src.chain)
        .map(|f| src.at(&f.crt()))
        .collect();
    let mut s = step(
        "check-keystore",
        src,
        "The keystore opens with the password and holds the key and its chain.",
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        &[],
    );
    s.section = Section::Verify;
    s.inputs = vec![PathBuf::from(&keystore)];
    s.expect = Some(Expect::Pkcs12 { certs });
    s
}

/// `NAME.secret.yaml` and `ca.configmap.yaml`.
fn k8s_steps(src: &Source, opts: &Options) -> Vec<Step> {
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

/// The files a peer names, copied into the export: the certificate with
/// the chain it sends (no root) as `chain_out`, the key, and the CA.
fn peer_files(src: &Source, chain_out: &str) -> Vec<Step> {
    let (key, root) = (src.leaf.key(), src.root().crt());
    vec![
        cat(src, "chain", src.sent_chain(), chain_out, false),
        cat(src, "key", vec![src.at(&key)], &key, true),
        cat(src, "ca", vec![src.at(&root)], &root, false),
    ]
}

/// A server's files, and the CRLs when every CA has one.
fn server_files(src: &Source, chain_out: &str) -> Vec<Step> {
    let mut steps = peer_files(src, chain_out);
    if src.crls {
        steps.push(crl_file(src));
    }
    steps
}

/// `crl.pem`: the CRL of each CA of the chain.
fn crl_file(src: &Source) -> Step {
    let crls = src.chain.iter().map(|f| src.at(&f.crl())).collect();
    cat(src, "crl", crls, names::CRL, false)
}

/// `NAME.nginx.conf`, a `server` block requiring client certificates; for a
/// client, the files curl needs.
fn nginx_steps(src: &Source, opts: &Options) -> Result<Vec<Step>, ExportError> {
    let name = &src.leaf.name;
    if src.leaf.role == Role::Client {
        // What curl needs to present it (the command line is printed).
        return Ok(peer_files(src, &src.leaf.bundle()));
    }
    // ssl_certificate and _key read `$` as a variable (nginx 1.15.9 and
    // later), even in quotes, and nginx has no escape for it.
    if opts.out.to_string_lossy().contains('$') {
        return Err(ExportError::DollarInOut {
            out: opts.out.clone(),
        });
    }
    let chain = named(name, names::CHAIN);
    let mut steps = server_files(src, &chain);
    let at = |file: &str| nginx_quote(&opts.out.join(file).to_string_lossy());
    let crl = if src.crls {
        format!("    ssl_crl {};\n", at(names::CRL))
    } else {
        "    # no ssl_crl: not every CA of the chain has a CRL in the PKI\n".to_string()
    };
    let text = format!(
        "# nginx: mutual TLS for {name} (pkiforge export). Include it in the http block.\nserver {{\n    listen {listen} ssl;\n    server_name {host};\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n    ssl_client_certificate {ca};\n    ssl_verify_client on;\n    ssl_verify_depth {depth};\n{crl}    location / {{\n        return 200 \"mutual TLS: $ssl_client_s_dn\\n\";\n    }}\n}}\n",
        listen = opts.listen,
        host = nginx_quote(&src.host),
        cert = at(&chain),
        key = at(&src.leaf.key()),
        ca = at(&src.root().crt()),
        depth = src.chain.len(),
    );
    steps.push(write(src, "nginx", &named(name, names::NGINX_CONF), text));
    Ok(steps)
}

/// `NAME.haproxy.pem` (certificate, chain, key) and `NAME.haproxy.cfg`
/// with the `bind` line.
fn haproxy_steps(src: &Source, opts: &Options) -> Result<Vec<Step>, ExportError> {
    let name = &src.leaf.name;
    if src.leaf.role == Role::Client {
        return Err(ExportError::ClientForHaproxy { name: name.clone() });
    }
    let pem = named(name, names::HAPROXY_PEM);
    let mut parts = src.sent_chain();
    parts.push(src.at(&src.leaf.key()));
    let mut steps = vec![cat(src, "pem", parts, &pem, true)];
    let root = src.root();
    steps.push(cat(
        src,
        "ca",
        vec![src.at(&root.crt())],
        &root.crt(),
        false,
    ));
    let at = |file: &str| haproxy_quote(&opts.out.join(file).to_string_lossy());
    let crl = if src.crls {
        steps.push(crl_file(src));
        format!(" crl-file {}", at(names::CRL))
    } else {
        String::new()
    };
    let bind = if opts.listen.contains(':') {
        opts.listen.clone()
    } else {
        format!(":{}", opts.listen)
    };
    let text = format!(
        "# HAProxy: mutual TLS for {name} (pkiforge export). The bind line goes in a frontend.\nfrontend {name}\n    mode http\n    bind {bind} ssl crt {pem} ca-file {ca} verify required{crl}\n    http-request return status 200 content-type text/plain string \"mutual TLS ok\"\n",
        pem = at(&pem),
        ca = at(&root.crt()),
    );
    steps.push(write(
        src,
        "haproxy",
        &named(name, names::HAPROXY_CFG),
        text,
    ));
    Ok(steps)
}

/// The export directory as the configs name it: UTF-8 without control
/// characters, which no nginx or HAProxy string (nor a Java properties
/// line) can hold; refused before anything is written.
fn config_path(out: &Path) -> Result<&str, ExportError> {
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

/// An nginx string: double quotes, `\` and `"` escaped with a backslash (as
/// ngx_conf_read_token reads them); `;`, `#`, `{` and spaces stay literal.
pub fn nginx_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// An HAProxy word in single quotes, where nothing is interpreted (no `$`
/// environment variables, no escapes); a `'` closes, is escaped and reopens.
pub fn haproxy_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
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

fn read(dir: &Path, file: &Path) -> Result<Vec<u8>, crate::files::ReadError> {
    crate::files::read_regular(&dir.join(file))
}

fn metadata<'a>(name: &'a str, namespace: &'a str) -> Metadata<'a> {
    Metadata {
        name,
        namespace,
        labels: [("app.kubernetes.io/managed-by", "pkiforge")].into(),
    }
}

/// [`write_object`], its error in words: for run/runner.rs, which takes
/// it as text.
pub fn render(dir: &Path, what: &Render, out: &Path) -> Result<(), String> {
    write_object(dir, what, out).map_err(|e| e.to_string())
}

/// Writes a Kubernetes object into `dir` as YAML (serde_norway).
pub fn write_object(dir: &Path, what: &Render, out: &Path) -> Result<(), ExportError> {
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
                crt.extend(read(dir, part)?);
            }
            let data = [
                (names::TLS_CRT, b64(crt)),
                (names::TLS_KEY, b64(read(dir, key)?)),
                (names::CA_CRT, b64(read(dir, ca)?)),
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
            let pem = String::from_utf8_lossy(&read(dir, ca)?).into_owned();
            serde_norway::to_string(&ConfigMap {
                api_version: "v1",
                kind: "ConfigMap",
                metadata: metadata(name, namespace),
                data: [(names::CA_CRT, pem)].into(),
            })
        }
    }?;
    std::fs::write(dir.join(out), yaml).map_err(|source| ExportError::Write {
        out: out.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_kubernetes_takes() {
        assert_eq!(k8s_name("Web_Server.1"), "web-server-1");
        assert_eq!(k8s_name("-x-"), "x");
        assert_eq!(k8s_name(&"a".repeat(70)).len(), 63);
    }

    #[test]
    fn paths_are_quoted_for_nginx_and_haproxy() {
        let dir = r#"/x/a; include /e.conf; # "q" \ $HOME {'"#;
        assert_eq!(
            nginx_quote(dir),
            r#""/x/a; include /e.conf; # \"q\" \\ $HOME {'""#
        );
        assert_eq!(
            haproxy_quote(dir),
            r#"'/x/a; include /e.conf; # "q" \ $HOME {'\'''"#
        );
    }

    #[test]
    fn an_out_path_with_a_control_character_is_refused() {
        assert_eq!(
            config_path(Path::new("/x/a\nb")).unwrap_err().to_string(),
            r#"--out "/x/a\nb": holds the control character '\n', which the nginx, HAProxy and Java configs cannot quote; choose an --out directory without one"#
        );
    }
}
