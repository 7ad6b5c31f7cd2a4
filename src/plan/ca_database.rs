//! What `openssl ca` keeps for a CA, and the steps that use it: the
//! config it reads, its database and CRL number, a revocation or a record,
//! and the CRL. Shared by the lifecycle, the fixtures and revocation.

use std::path::PathBuf;

use crate::pki::names::{self, Files};
use crate::plan::step::{Action, Arg, Section, Step};

/// How long a CRL is valid when `--days` does not say (openssl's
/// `default_crl_days`): re-issue it with `pkiforge crl` before then.
pub const CRL_DAYS: u32 = 30;

/// The config `openssl ca` reads for revoking and CRLs: the CA's database
/// and CRL number files, SHA-256, `days` for the CRL, subjects that may
/// repeat (a renewed certificate has its predecessor's), and the CRL's
/// Authority Key Identifier (RFC 5280, 5.2.1: a MUST). Its section comes
/// first, so that callers may extend the CA's, which ends the text.
pub fn ca_config(ca: &Files, crl_days: u32) -> String {
    format!(
        "[ca]\ndefault_ca = pkiforge\n[pkiforge_crl]\nauthorityKeyIdentifier = keyid\n[pkiforge]\ndatabase = {}\ncrlnumber = {}\ndefault_md = sha256\ndefault_crl_days = {crl_days}\nunique_subject = no\ncrl_extensions = pkiforge_crl\n",
        ca.index(),
        ca.crlnumber()
    )
}

/// `openssl ca -config <(printf "…") -batch -keyfile ca.key -cert ca.crt WORDS…`.
pub(crate) fn ca_step(
    ca: &Files,
    id: &str,
    heading: &str,
    words: &[&str],
    outputs: &[String],
) -> Step {
    let mut args = vec![
        Arg::lit("ca"),
        Arg::lit("-config"),
        Arg::Inline(ca_config(ca, CRL_DAYS)),
        Arg::lit("-batch"),
        Arg::lit("-keyfile"),
        Arg::lit(ca.key()),
        Arg::lit("-cert"),
        Arg::lit(ca.crt()),
    ];
    args.extend(words.iter().map(|w| Arg::lit(*w)));
    let mut inputs = vec![ca.key(), ca.crt(), ca.index(), ca.crlnumber()];
    inputs.extend(
        words
            .iter()
            .filter(|w| names::crt_stem(w).is_some())
            .map(|w| w.to_string()),
    );
    Step {
        id: id.to_string(),
        entity: ca.name.clone(),
        section: Section::Ca,
        heading: heading.to_string(),
        action: Action::Openssl {
            args,
            stdin: Vec::new(),
        },
        inputs: inputs.into_iter().map(PathBuf::from).collect(),
        outputs: outputs.iter().map(PathBuf::from).collect(),
        keys: Vec::new(),
        subject_check: None,
        expect: None,
        report: false,
    }
}

/// A new, empty CA database and a first CRL number, where there are none
/// (`has` says whether a file of DIR is there).
pub(crate) fn database_steps(ca: &Files, has: &dyn Fn(&str) -> bool) -> Vec<Step> {
    let write = |id: &str, text: &str, out: String, heading: &str| Step {
        id: id.to_string(),
        entity: ca.name.clone(),
        section: Section::Ca,
        heading: heading.to_string(),
        action: Action::Write {
            text: text.to_string(),
            out: PathBuf::from(&out),
        },
        inputs: Vec::new(),
        outputs: vec![PathBuf::from(&out)],
        keys: Vec::new(),
        subject_check: None,
        expect: None,
        report: false,
    };
    let mut steps = Vec::new();
    if !has(&ca.index()) {
        steps.push(write(
            &format!("{}-index", ca.name),
            "",
            ca.index(),
            "An empty database of what the CA has revoked, for openssl ca.",
        ));
    }
    if !has(&ca.crlnumber()) {
        steps.push(write(
            &format!("{}-crlnumber", ca.name),
            "01\n",
            ca.crlnumber(),
            "The number of the CA's first CRL.",
        ));
    }
    steps
}

/// `openssl ca -gencrl`: the CA's CRL, valid for `days`.
pub(crate) fn gencrl_step(ca: &Files, days: u32) -> Step {
    let days = days.to_string();
    ca_step(
        ca,
        "ca-crl",
        "The certificate revocation list: every certificate the CA has revoked, signed by it.",
        &["-gencrl", "-crldays", &days, "-out", &ca.crl()],
        &[ca.crl(), ca.crlnumber()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::names::Role;

    #[test]
    fn the_ca_config_names_the_database() {
        assert_eq!(
            ca_config(&Files::new("ca", Role::Ca), 30),
            "[ca]\ndefault_ca = pkiforge\n[pkiforge_crl]\nauthorityKeyIdentifier = keyid\n[pkiforge]\ndatabase = ca.index\ncrlnumber = ca.crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\nunique_subject = no\ncrl_extensions = pkiforge_crl\n"
        );
    }
}
