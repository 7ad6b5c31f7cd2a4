//! Java: a PKCS#12 keystore (the key and its chain), a truststore (the
//! root as a trusted entry) and the javax.net.ssl system properties.

use std::path::PathBuf;

use crate::pki::names::export::{self as names, named};
use crate::plan::caps::Capabilities;
use crate::plan::lits;
use crate::plan::step::P12_PASSWORD_VAR;
use crate::plan::step::{Action, Arg, Expect, Section, Step};

use super::error::ExportError;
use super::shared::{Options, Source, config_path, step, write};

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
pub fn java_steps(src: &Source, opts: &Options) -> Result<Vec<Step>, ExportError> {
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
pub fn keystore_check(src: &Source) -> Step {
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
