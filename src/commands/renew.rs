//! `pkiforge renew DIR NAME…`: issue certificates again, from what DIR
//! holds, run as `run` runs (see [`super::execute`]), or printed with
//! `--dry-run`.

use std::ffi::OsString;
use std::path::PathBuf;

use super::{Context, Operation, Outcome, execute};
use crate::cli::RenewArgs;
use crate::error::{Error, Result};
use crate::pki::profile::P12;
use crate::pki::read::Known;
use crate::plan::lifecycle::{self, Entities, Renewal};
use crate::plan::prompts::PromptLayout;
use crate::plan::step::P12_PASSWORD_VAR;
use crate::run::openssl::Openssl;

/// `renew DIR NAME… [--days N] [--rekey] [--dry-run]`.
pub fn command(ctx: &Context, args: RenewArgs) -> Result<Outcome> {
    let renewal = Renewal {
        names: &args.names,
        days: args.days,
        rekey: args.rekey,
    };
    renew(&Operation::new(&args.dir, args.dry_run, ctx), &renewal)
}

/// `renew DIR NAME…`.
fn renew(op: &Operation, renewal: &Renewal) -> Result<String> {
    execute(op, "renewed in", |pki, openssl| {
        let renews_ca = renewal.names.contains(&pki.ca.files.name);
        let prompts = if renews_ca || renewal.rekey {
            openssl.require_addext()?;
            Some(crate::run::prompts::read_layout(openssl)?)
        } else {
            None
        };
        let kinds = p12_kinds(pki, renewal.names, openssl)?;
        let p12_of = |k: &Known| {
            kinds
                .iter()
                .find(|(name, _)| *name == k.files.name)
                .map_or(P12::No, |(_, kind)| *kind)
        };
        let has_p12 = kinds.iter().any(|(_, k)| *k != P12::No);
        let caps = openssl.capabilities(has_p12)?;
        let layout = match &prompts {
            Some(p) => p.clone(),
            None => PromptLayout::empty(),
        };
        let plan = lifecycle::renew_plan(pki, renewal, &layout, caps, &p12_of)?;
        Ok((plan, prompts))
    })
}

/// Each leaf's PKCS#12 bundle kind: none, or legacy when its MAC is SHA-1
/// (what `p12 = "legacy"` made), else the current one. Asked of openssl
/// (`pkcs12 -info`), with the password, only for the leaves being renewed
/// that have one.
fn p12_kinds(pki: &Entities, names: &[String], openssl: &Openssl) -> Result<Vec<(String, P12)>> {
    let mut kinds = Vec::new();
    for leaf in pki.leaves.iter().filter(|l| names.contains(&l.files.name)) {
        let p12 = leaf.files.p12();
        if !pki.dir.join(&p12).is_file() {
            continue;
        }
        let Some(password) = super::p12_password_from_env() else {
            return Err(Error::Usage(format!(
                "{p12} is a PKCS#12 bundle, which renew writes again: set {P12_PASSWORD_VAR} to its password"
            )));
        };
        let args: Vec<OsString> = ["pkcs12", "-info", "-noout", "-passin"]
            .into_iter()
            .map(OsString::from)
            .chain([
                OsString::from(format!("env:{P12_PASSWORD_VAR}")),
                "-in".into(),
                PathBuf::from(crate::plan::step::file_arg(&p12)).into(),
            ])
            .collect();
        let mut call = openssl.call(args, "probe", openssl.timeout);
        call.dir = Some(pki.dir.to_path_buf());
        call.env.push((P12_PASSWORD_VAR.into(), password.into()));
        let done = call.run()?;
        let said = format!("{}{}", done.stdout_text(), done.stderr_text());
        let kind = if said.contains("MAC: sha1") {
            P12::Legacy
        } else {
            P12::Modern
        };
        kinds.push((leaf.files.name.clone(), kind));
    }
    Ok(kinds)
}
