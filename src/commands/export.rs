//! `pkiforge export DIR NAME --format FORMAT`: holds DIR's lock while it
//! reads the entity, and writes into OUTDIR only, through the publish.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Context, Outcome};
use crate::cli::ExportArgs;
use crate::error::{Error, Result};
use crate::pki::names::export::{self as names, is_key};
use crate::pki::names::{Files, Role};
use crate::pki::read::Pki;
use crate::pki::san::SanKind;
use crate::plan::export::{Format, Options, Source};
use crate::plan::lifecycle::Entities;
use crate::run::openssl::Openssl;
use crate::run::progress::Progress;
use crate::run::publish::OutDir;
use crate::run::runner::{RunOptions, Runner};

mod handoff;

/// What `export` was asked.
pub struct Request<'a> {
    pub dir: &'a Path,
    pub name: &'a str,
    pub format: Format,
    pub out: Option<&'a Path>,
    pub namespace: &'a str,
    pub listen: &'a str,
    /// Overwrite files already in OUTDIR.
    pub force: bool,
    /// cert-manager: a ClusterIssuer.
    pub cluster: bool,
}

/// `export DIR NAME --format F [--out DIR] [--namespace NS] [--listen ADDR]
/// [--force]`.
pub fn command(ctx: &Context, args: ExportArgs) -> Result<Outcome> {
    let request = Request {
        dir: &args.dir,
        name: &args.name,
        format: args.format.format(),
        out: args.out.as_deref(),
        namespace: &args.namespace,
        listen: &args.listen,
        force: args.force,
        cluster: args.cluster,
    };
    export(&request, ctx.openssl(), ctx.timeout, &ctx.progress())
}

fn export(
    req: &Request,
    openssl_flag: Option<&Path>,
    timeout: Duration,
    progress: &Progress,
) -> Result<String> {
    check_request(req)?;
    if !req.dir.is_dir() {
        return Err(Error::BadInput(format!(
            "{} is not a directory; give the directory a run wrote, e.g. pki/localhost",
            req.dir.display()
        )));
    }
    let hands_off = req.format.hands_off();
    let default_out = match hands_off {
        true => req.dir.join("handoff").join(format_name(req.format)),
        false => req.dir.join("export"),
    };
    let out_path = req.out.map_or(default_out, Path::to_path_buf);
    let out_abs = std::path::absolute(&out_path)
        .map_err(|e| Error::io(format!("cannot resolve {}", out_path.display()), e))?;
    // DIR first, then OUTDIR: what is read does not change meanwhile.
    let _dir_lock = OutDir::lock(req.dir, progress)?;
    let pki = Pki::read(req.dir);
    let src = source(req, &pki)?;
    let openssl = Openssl::locate(openssl_flag, timeout)?;
    let java = req.format == Format::Java;
    let opts = Options {
        format: req.format,
        out: out_abs,
        namespace: req.namespace.to_string(),
        listen: req.listen.to_string(),
        caps: openssl.capabilities(java)?,
        jdktrust: java && openssl.help_lists("pkcs12", "-jdktrust")?,
        keytool: java && which::which("keytool").is_ok(),
        cluster: req.cluster,
    };
    let plan = crate::plan::export::plan(&src, &opts)?;
    let mut out = lock_out(req, &out_path, progress)?;
    if hands_off && src.chain.is_empty() {
        progress.say(&handoff::ROOT_LEAVES.replace("DIR", &req.dir.display().to_string()));
    }
    for line in out.clean_stale()? {
        progress.say(&format!("note: {line}"));
    }
    let p12_password =
        super::p12_password_for(&plan, "export --format java writes PKCS#12 keystores")?;
    let runner = Runner {
        openssl: &openssl,
        progress,
        p12_password,
        pause: false,
        jobs: crate::run::runner::default_jobs(),
        judge: &crate::check::verify::Verifier,
    };
    let run = RunOptions {
        // Files already in OUTDIR are refused before any step runs, unless --force.
        force: req.force,
        timeout,
        inputs: Vec::new(),
        root: None,
        transcript: None,
        replaced: Vec::new(),
    };
    let report = runner.run(&plan, &run, &mut out, None)?;
    if hands_off {
        return Ok(handoff::summary(&src, &opts, &out_path, &report.files));
    }
    Ok(summary(&src, &opts, &out_path, &report.files))
}

/// A Kubernetes namespace is an RFC 1123 label; a listen address is
/// `PORT` or `ADDRESS:PORT`. Checked before anything is read.
fn check_request(req: &Request) -> Result<()> {
    let ns = req.namespace;
    let label = !ns.is_empty()
        && ns.len() <= 63
        && ns
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if !label {
        return Err(Error::Usage(format!(
            "--namespace {ns:?}: a Kubernetes namespace is lower-case letters, digits and '-' (at most 63), such as \"default\""
        )));
    }
    let (address, port) = req.listen.rsplit_once(':').unwrap_or(("", req.listen));
    // Pasted into the nginx and HAProxy configs as is: a host name, an IPv4
    // address, `*`, or an IPv6 address in brackets, nothing a config reads.
    let host = address
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    let v6 = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok());
    if port.parse::<u16>().map_or(true, |p| p == 0) || !(host || v6 || address == "*") {
        return Err(Error::Usage(format!(
            "--listen {:?}: give a port (8443) or an address and a port (127.0.0.1:8443)",
            req.listen
        )));
    }
    Ok(())
}

/// The entity in DIR: its files, the CAs above it, whether each has a CRL,
/// and the host its clients dial.
/// Refuses a Java export of a chain with an ML-DSA key: JDK TLS has no
/// ML-DSA (JDK 24 signs and verifies ML-DSA in its API, JEP 497, but its
/// TLS offers no ML-DSA signature scheme), so a keystore of it would load
/// and then fail every handshake.
fn java_takes<'a>(
    leaf: &'a crate::pki::read::Known,
    cas: impl Iterator<Item = &'a crate::pki::read::Known>,
) -> Result<()> {
    let post_quantum = std::iter::once(leaf)
        .chain(cas)
        .find(|k| matches!(k.info.key, crate::pki::x509::KeyInfo::MlDsa(_)));
    match post_quantum {
        None => Ok(()),
        Some(k) => Err(Error::BadInput(format!(
            "{} has an {} key, and Java's TLS has no ML-DSA (JDK 24 and later sign with it, JEP 497, but offer no ML-DSA signature scheme in TLS): a keystore of it would fail every handshake. Export --format nginx, haproxy or k8s instead, or give the chain classical keys (key = \"ec:P-256\") for Java",
            k.files.crt(),
            k.info.key
        ))),
    }
}

fn source(req: &Request, pki: &Pki) -> Result<Source> {
    let pki = Entities::of(pki)?;
    if req.format.hands_off() {
        return handoff::source(req, &pki);
    }
    if [&pki.ca]
        .into_iter()
        .chain(&pki.intermediate)
        .any(|k| k.files.name == req.name)
    {
        return Err(Error::BadInput(format!(
            "{} is a CA; export takes a server or a client (the CA goes along with it)",
            req.name
        )));
    }
    let leaf = pki.leaf(req.name)?;
    if req.format == Format::Java {
        java_takes(
            leaf,
            pki.intermediate.iter().chain(std::iter::once(&pki.ca)),
        )?;
    }
    let chain: Vec<Files> = pki
        .intermediate
        .iter()
        .chain(std::iter::once(&pki.ca))
        .map(|k| k.files.clone())
        .collect();
    let (dir, pki_name) = located(req.dir)?;
    let crls = chain.iter().all(|f| dir.join(f.crl()).is_file());
    Ok(Source {
        dir,
        leaf: leaf.files.clone(),
        chain,
        crls,
        host: dialed_host(&leaf.info.san_entries),
        pki_name,
        leaf_days: 0,
        permitted_dns: Vec::new(),
    })
}

/// DIR as an absolute path (the configs name its files so), and its name,
/// which the Kubernetes objects of the PKI are named after.
fn located(dir: &Path) -> Result<(PathBuf, String)> {
    let abs = std::path::absolute(dir)
        .map_err(|e| Error::io(format!("cannot resolve {}", dir.display()), e))?;
    let name = abs
        .file_name()
        .map_or_else(|| "pki".to_string(), |n| n.to_string_lossy().into_owned());
    Ok((abs, name))
}

/// The host clients dial, from certificates' names: the first DNS name
/// that is not a wildcard, else the first IP address; `localhost` when
/// there is neither.
fn dialed_host(sans: &[crate::pki::san::San]) -> String {
    sans.iter()
        .find(|s| s.kind == SanKind::Dns && !s.value.starts_with("*."))
        .or_else(|| sans.iter().find(|s| s.kind == SanKind::Ip))
        .map_or_else(|| "localhost".to_string(), |s| s.value.clone())
}

/// OUTDIR, locked; for a hand-off, a directory of the owner's alone, and
/// not DIR.
fn lock_out(req: &Request, out_path: &Path, progress: &Progress) -> Result<OutDir> {
    if !req.format.hands_off() {
        return OutDir::lock(out_path, progress);
    }
    if crate::files::same_dir(out_path, req.dir) {
        return Err(Error::Usage(format!(
            "--out {}: that is the PKI's directory; give the hand-off one of its own (the default is {})",
            out_path.display(),
            req.dir
                .join("handoff")
                .join(format_name(req.format))
                .display()
        )));
    }
    OutDir::lock_private(out_path, progress)
}

/// The format's name on the command line (`cert-manager`).
fn format_name(format: Format) -> &'static str {
    match format {
        Format::Java => "java",
        Format::K8s => "k8s",
        Format::Nginx => "nginx",
        Format::Haproxy => "haproxy",
        Format::Cfssl => "cfssl",
        Format::CertManager => "cert-manager",
        Format::Vault => "vault",
        Format::Step => "step",
    }
}

/// What each file is for, one line each; for a client, the curl line.
fn summary(src: &Source, opts: &Options, out: &Path, files: &[PathBuf]) -> String {
    let name = &src.leaf.name;
    let mut text = String::new();
    for file in files {
        let f = file.to_string_lossy();
        let what = match f.as_ref() {
            _ if f.ends_with(names::KEYSTORE) => {
                format!("the key and its chain for javax.net.ssl.keyStore (PKCS12, alias {name})")
            }
            names::TRUSTSTORE => {
                "the root CA as a trusted entry, for javax.net.ssl.trustStore".into()
            }
            _ if f.ends_with(names::JAVA_PROPERTIES) => {
                "the javax.net.ssl system properties (the passwords go in a java @argument file: docs/export.md)"
                    .into()
            }
            _ if f.ends_with(names::SECRET) => format!(
                "kubectl apply -f it: the Secret {}/{} (kubernetes.io/tls, with {})",
                opts.namespace,
                crate::plan::export::k8s_name(name),
                names::CA_CRT
            ),
            names::CA_CONFIGMAP => "kubectl apply -f it: the trust bundle alone".into(),
            _ if f.ends_with(names::NGINX_CONF) => "include it in nginx's http block".into(),
            _ if f.ends_with(names::HAPROXY_CFG) => format!(
                "the frontend with the bind line, for {}",
                names::HAPROXY_CONFIG
            ),
            _ if f.ends_with(names::HAPROXY_PEM) => {
                "certificate, chain and key, for HAProxy's crt".into()
            }
            _ if f.ends_with(names::CHAIN) => {
                "the certificate and the chain it sends (no root)".into()
            }
            _ if is_key(&f) => "the private key (mode 0600)".into(),
            names::CRL => "the CRL of each CA".into(),
            _ if f == src.leaf.bundle() => "the client certificate and the chain it sends".into(),
            _ => "the CA that peers trust".into(),
        };
        let _ = writeln!(text, "wrote {}: {what}", out.join(file).display());
    }
    if src.leaf.role == Role::Client && opts.format == Format::Nginx {
        let at = |file: String| crate::shell::shell_word(&opts.out.join(file).to_string_lossy());
        let port = opts.listen.rsplit(':').next().unwrap_or("8443");
        let ca = src
            .chain
            .last()
            .map_or_else(|| Files::new(Role::Ca.table(), Role::Ca).crt(), |f| f.crt());
        let _ = writeln!(
            text,
            "curl --cert {} --key {} --cacert {} https://localhost:{port}/",
            at(src.leaf.bundle()),
            at(src.leaf.key()),
            at(ca),
        );
    }
    text
}
