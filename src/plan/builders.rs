//! The step builders that the tutorial's plan, the fixtures, the
//! lifecycle, the handshake and the exports share: a key, a CSR, a
//! signature, a bundle, a PKCS#12 file, and the extension texts they use.

use std::path::{Path, PathBuf};

use crate::pki::names::Files;
use crate::pki::profile::days::{STRICT_CA as STRICT_CA_DAYS, STRICT_LEAF as STRICT_LEAF_DAYS};
use crate::pki::profile::{Curve, Entity, Intermediate, KeySpec, P12, Role};
use crate::plan::caps::Capabilities;
use crate::plan::prompts::Answers;
use crate::plan::step::{Action, Arg, P12_PASSWORD_VAR, Section, Step, SubjectCheck};

pub(crate) fn lits(words: &[&str]) -> Vec<Arg> {
    words.iter().map(|w| Arg::lit(*w)).collect()
}

pub(crate) fn step(
    id: &str,
    e: &Entity,
    heading: String,
    action: Action,
    inputs: &[&str],
    outputs: &[&str],
) -> Step {
    Step {
        id: format!("{}-{id}", e.name),
        entity: e.name.clone(),
        section: Section::of(e.role),
        heading,
        action,
        inputs: inputs.iter().map(PathBuf::from).collect(),
        outputs: outputs.iter().map(PathBuf::from).collect(),
        keys: Vec::new(),
        subject_check: None,
        expect: None,
        report: false,
    }
}

/// Puts `words` into a step's openssl command just before its last `flag`
/// (at the end when it has none).
pub(crate) fn insert_before(step: &mut Step, flag: &str, words: &[&str]) {
    if let Action::Openssl { args, .. } = &mut step.action {
        let at = args
            .iter()
            .rposition(|a| matches!(a, Arg::Lit(w) if w == flag))
            .unwrap_or(args.len());
        for (i, w) in words.iter().enumerate() {
            args.insert(at + i, Arg::lit(*w));
        }
    }
}

/// A step that names `file` right after one of `flags` (`-CAkey ca.key`)
/// names it `at` instead, where it lives, and no longer reads it from the
/// directory it runs in.
pub(crate) fn name_at(step: &mut Step, flags: &[&str], file: &Path, at: &str) {
    let Action::Openssl { args, .. } = &mut step.action else {
        return;
    };
    let mut named = false;
    for i in 1..args.len() {
        if matches!(&args[i - 1], Arg::Lit(flag) if flags.contains(&flag.as_str()))
            && matches!(&args[i], Arg::Lit(f) if Path::new(f) == file)
        {
            args[i] = Arg::lit(at);
            named = true;
        }
    }
    if named {
        step.inputs.retain(|f| f != file);
    }
}

/// The key step: the tutorial's `genrsa` for RSA, `genpkey` for the others.
pub(crate) fn genkey(e: &Entity, heading: String) -> Step {
    let key = e.files().key();
    let args = match e.key {
        KeySpec::Rsa(bits) => lits(&["genrsa", "-out", &key, &bits.to_string()]),
        KeySpec::Ec(curve) => lits(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{}", curve.name()),
            "-out",
            &key,
        ]),
        KeySpec::Ed25519 => lits(&["genpkey", "-algorithm", "ed25519", "-out", &key]),
        KeySpec::MlDsa(m) => lits(&["genpkey", "-algorithm", m.name(), "-out", &key]),
    };
    let mut s = step(
        "key",
        e,
        heading,
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        &[],
        &[&key],
    );
    s.keys = vec![PathBuf::from(key)];
    s
}

pub(crate) fn key_words(e: &Entity) -> String {
    match e.key {
        KeySpec::Rsa(bits) => format!("{bits}-bit RSA private key"),
        KeySpec::Ec(Curve::P256) => "EC P-256 private key".into(),
        KeySpec::Ec(Curve::P384) => "EC P-384 private key".into(),
        KeySpec::Ed25519 => "Ed25519 private key".into(),
        KeySpec::MlDsa(m) => format!("{} private key", m.name()),
    }
}

/// `-utf8` goes right after `-new` when a subject value is not ASCII: without
/// it openssl reads the answers as Latin-1 and writes mojibake.
pub(crate) fn req_args(utf8: bool, rest: Vec<Arg>) -> Vec<Arg> {
    let mut args = lits(&["req", "-new"]);
    if utf8 {
        args.push(Arg::lit("-utf8"));
    }
    args.extend(rest);
    args
}

pub(crate) fn days_args(days: Option<u32>) -> Vec<Arg> {
    days.map(|d| lits(&["-days", &d.to_string()]))
        .unwrap_or_default()
}

/// The tutorial's `openssl req -new -x509 -key ca.key -out ca.crt`: the
/// CA's self-signed certificate, with the answers typed at its prompts.
pub(crate) fn ca_cert_step(
    ca: &Entity,
    answers: Answers,
    extensions: &[&str],
    strict: bool,
) -> Step {
    let (key, crt) = (ca.files().key(), ca.files().crt());
    let mut rest = lits(&["-x509", "-key", &key]);
    for ext in extensions {
        rest.extend([Arg::lit("-addext"), Arg::lit(*ext)]);
    }
    rest.extend(days_args(
        ca.days.or(strict.then_some(STRICT_CA_DAYS as u32)),
    ));
    rest.extend(lits(&["-out", &crt]));
    let mut cert = step(
        "crt",
        ca,
        "Using the private key generated in the previous step, this will generate a self-signed x509 certificate for the CA using the `req` command.".into(),
        Action::Openssl {
            args: req_args(answers.utf8, rest),
            stdin: answers.lines,
        },
        &[&key],
        &[&crt],
    );
    cert.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&crt),
        expected: answers.expected,
    });
    cert
}

/// The extension text of the intermediate's certificate: a CA with no CA
/// below it, that signs certificates and CRLs, for the names of its
/// constraints only (critical, so that a client that cannot check them
/// refuses it rather than ignores them).
pub(crate) fn intermediate_extensions(inter: &Intermediate) -> String {
    let constraints: Vec<String> = inter
        .permitted
        .iter()
        .map(|c| format!("permitted;{}", c.openssl()))
        .chain(
            inter
                .excluded
                .iter()
                .map(|c| format!("excluded;{}", c.openssl())),
        )
        .collect();
    [
        "basicConstraints=critical,CA:TRUE,pathlen:0".to_string(),
        "keyUsage=critical,keyCertSign,cRLSign".to_string(),
        format!("nameConstraints=critical,{}", constraints.join(",")),
        "subjectKeyIdentifier=hash".to_string(),
        "authorityKeyIdentifier=keyid".to_string(),
    ]
    .join("\n")
}

/// The extension text of a leaf certificate: the tutorial's subjectAltName,
/// and in strict mode what Apple's TLS rules and CA/Browser-style verifiers
/// require of a leaf.
pub(crate) fn leaf_extensions(leaf: &Entity, sans: &[String], strict: bool) -> String {
    let mut lines = vec![format!("subjectAltName={}", sans.join(","))];
    if strict {
        let usage = match leaf.key {
            // RSA key exchange (TLS 1.2's RSA suites) encrypts with the key.
            KeySpec::Rsa(_) => "critical,digitalSignature,keyEncipherment",
            _ => "critical,digitalSignature",
        };
        let purpose = match leaf.role {
            Role::Client => "clientAuth",
            _ => "serverAuth",
        };
        lines.extend([
            "basicConstraints=CA:FALSE".to_string(),
            format!("keyUsage={usage}"),
            format!("extendedKeyUsage={purpose}"),
            "subjectKeyIdentifier=hash".to_string(),
            "authorityKeyIdentifier=keyid,issuer".to_string(),
        ]);
    }
    lines.join("\n")
}

/// The tutorial's `openssl req -new -key NAME.key -addext "subjectAltName = …"`.
pub(crate) fn csr_step(leaf: &Entity, answers: Answers) -> Step {
    let (f, who) = (leaf.files(), leaf.role.table());
    let (key, csr) = (f.key(), f.csr());
    let sans: Vec<String> = leaf.san.iter().map(|s| s.to_string()).collect();
    let mut words = lits(&["-key", &key]);
    if !sans.is_empty() {
        let addext = format!("subjectAltName = {}", sans.join(", "));
        words.extend(lits(&["-addext", &addext]));
    }
    words.extend(lits(&["-out", &csr]));
    let mut csr_step = step(
        "csr",
        leaf,
        match leaf.role {
            Role::Client => "Create a CSR for the client.".into(),
            _ => format!(
                "Generate a Certificate Signing Request (CSR) using the {who}'s private key."
            ),
        },
        Action::Openssl {
            args: req_args(answers.utf8, words),
            stdin: answers.lines,
        },
        &[&key],
        &[&csr],
    );
    csr_step.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&csr),
        expected: answers.expected,
    });
    csr_step
}

/// The tutorial's `openssl x509 -req … -extfile <(printf "…")`: the CA signs.
pub(crate) fn sign_step(
    leaf: &Entity,
    ca: &Entity,
    expected: Vec<(String, String)>,
    strict: bool,
) -> Step {
    let sans: Vec<String> = leaf.san.iter().map(|s| s.to_string()).collect();
    let days = leaf_days(leaf, strict);
    sign_step_with(
        leaf,
        ca,
        expected,
        leaf_extensions(leaf, &sans, strict),
        days,
    )
}

/// The `-days` of a leaf: the profile's, else strict mode's, else none
/// (openssl's default).
pub(crate) fn leaf_days(leaf: &Entity, strict: bool) -> Option<u32> {
    leaf.days.or(strict.then_some(STRICT_LEAF_DAYS as u32))
}

/// [`sign_step`] with the `-extfile` text and the `-days` given (an
/// intermediate's).
pub(crate) fn sign_step_with(
    leaf: &Entity,
    ca: &Entity,
    expected: Vec<(String, String)>,
    extensions: String,
    days: Option<u32>,
) -> Step {
    let (f, c, who) = (leaf.files(), ca.files(), leaf.role.table());
    let (csr, crt) = (f.csr(), f.crt());
    let (ca_key, ca_crt, serial) = (c.key(), c.crt(), c.srl());
    let mut args = lits(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-extfile",
    ]);
    // bash's <(printf "…"): the runner passes a temp file holding these bytes.
    args.push(Arg::Inline(with_pointers(extensions, ca)));
    args.extend(days_args(days));
    args.extend(lits(&["-out", &crt]));
    let mut sign = step(
        "crt",
        leaf,
        match leaf.role {
            Role::Client => "Use the CA to sign it.".into(),
            _ => format!(
                "Using the certificate of the CA, and the CSR, this will create an x509 certificate for the {who}."
            ),
        },
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        // The serial file is read and written by every signing step, in plan order.
        &[&csr, &ca_crt, &ca_key, &serial],
        &[&crt, &serial],
    );
    sign.subject_check = Some(SubjectCheck {
        file: PathBuf::from(&crt),
        expected,
    });
    sign
}

/// A certificate's extension text with the revocation pointers of the CA
/// that signs it (its CRL, OCSP responder and certificate), when it has any.
pub(crate) fn with_pointers(extensions: String, ca: &Entity) -> String {
    let lines = ca.pointers.extension_lines();
    if lines.is_empty() {
        return extensions;
    }
    let mut all: Vec<&str> = extensions.lines().filter(|l| !l.is_empty()).collect();
    all.extend(lines.iter().map(String::as_str));
    all.join("\n")
}

/// The tutorial's `cat NAME.crt ca.crt > BUNDLE`: the leaf, then each CA
/// above it up to the root (`chain`, issuer first).
pub(crate) fn bundle_step(leaf: &Entity, chain: &[&Entity]) -> Step {
    let files: Vec<Files> = chain.iter().map(|ca| ca.files()).collect();
    bundle_files_step(leaf, &files)
}

/// [`bundle_step`] with the CAs above the leaf given by their files (a
/// fixture's, whose chain may hold a CA of its own).
pub(crate) fn bundle_files_step(leaf: &Entity, chain: &[Files]) -> Step {
    let (f, who) = (leaf.files(), leaf.role.table());
    let bundle = f.bundle();
    let parts: Vec<String> = std::iter::once(f.crt())
        .chain(chain.iter().map(|ca| ca.crt()))
        .collect();
    let heading = match (leaf.role, chain.len()) {
        (Role::Client, _) => "Generate PEM file.".to_string(),
        (_, 1) => format!(
            "Create a file which is a bundle of the {who} certificate and the CA certificate."
        ),
        _ => format!(
            "Create a file which is a bundle of the {who} certificate and the CA certificates above it."
        ),
    };
    let inputs: Vec<&str> = parts.iter().map(String::as_str).collect();
    step(
        "bundle",
        leaf,
        heading,
        Action::Concat {
            parts: parts.iter().map(PathBuf::from).collect(),
            out: PathBuf::from(&bundle),
        },
        &inputs,
        &[&bundle],
    )
}

/// OpenSSL 3's PKCS#12 defaults (AES-256, PBKDF2, SHA-256 MAC), named for
/// an OpenSSL 1.1.1, whose own defaults are the legacy ones.
pub(crate) fn current_pkcs12_algorithms() -> Vec<Arg> {
    lits(&[
        "-keypbe",
        "AES-256-CBC",
        "-certpbe",
        "AES-256-CBC",
        "-macalg",
        "sha256",
    ])
}

/// `openssl pkcs12 -export …`, the password through the environment.
pub(crate) fn p12_step(leaf: &Entity, ca: &Entity, caps: Capabilities) -> Step {
    let (f, who) = (leaf.files(), leaf.role.table());
    let (key, crt, p12, ca_crt) = (f.key(), f.crt(), f.p12(), ca.files().crt());
    let mut args = lits(&["pkcs12", "-export"]);
    match (leaf.p12, caps.pkcs12_legacy) {
        // RC2/3DES and SHA-1 MACs: what Java 8 and older macOS keychains read.
        (P12::Legacy, true) => args.push(Arg::lit("-legacy")),
        // OpenSSL 1.1.1 has no -legacy: its defaults are those algorithms,
        // so a current bundle names OpenSSL 3's defaults instead.
        (P12::Modern, false) => args.extend(current_pkcs12_algorithms()),
        _ => {}
    }
    args.extend(lits(&[
        "-in",
        &crt,
        "-inkey",
        &key,
        "-certfile",
        &ca_crt,
        "-name",
        &leaf.name,
        "-passout",
        &format!("env:{P12_PASSWORD_VAR}"),
        "-out",
        &p12,
    ]));
    let mut s = step(
        "p12",
        leaf,
        format!(
            "Bundle the {who}'s key, certificate and the CA certificate as PKCS#12 (for Java, browsers and keychains)."
        ),
        Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        &[&crt, &key, &ca_crt],
        &[&p12],
    );
    s.keys = vec![PathBuf::from(&p12)];
    s
}
