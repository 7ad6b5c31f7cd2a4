//! `pkiforge status DIR [--within DAYS] [--json]`: when each certificate and
//! the CRL expire, and whether they are valid, expiring, expired, not yet
//! valid or revoked; exit 1 when something needs doing.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::{Context, Outcome};
use crate::check::json;
use crate::check::status::{Window, state_of};
use crate::cli::StatusArgs;
use crate::error::{Error, Result};
use crate::pki::read::Pki;
use crate::pki::x509::CertInfo;
use crate::plan::lifecycle::Entities;
use crate::run::progress::Progress;
use crate::run::publish::ReadLock;
use crate::time::utc;

/// One line of the status.
#[derive(Debug, Serialize)]
struct Row<'a> {
    /// `certificate` or `crl`.
    kind: &'static str,
    file: String,
    cn: Option<&'a str>,
    serial: Option<&'a str>,
    /// `not after` for a certificate, `next update` for a CRL.
    until: String,
    until_unix: i64,
    days_left: i64,
    /// valid, expiring, expired, not-yet-valid, revoked (certificates);
    /// valid, expiring, stale (the CRL).
    state: &'static str,
    /// When it is called expiring: `less than a third of its lifetime
    /// left`, or `at most N days left` with `--within N`.
    expiring_rule: String,
    /// A certificate's details, in the schema `inspect --json` uses.
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<json::Certificate<'a>>,
    /// The serials a CRL revokes.
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<Vec<String>>,
}

/// `status DIR [--within DAYS] [--json]`.
pub fn command(ctx: &Context, args: StatusArgs) -> Result<Outcome> {
    let window = args.within.map_or(Window::Lifetime, Window::Days);
    status(&args.dir, window, args.json, &ctx.progress())
}

fn status(dir: &Path, window: Window, as_json: bool, progress: &Progress) -> Result<String> {
    // Never while a run writes DIR, nor after one killed part way.
    let _lock = ReadLock::take(dir, progress)?;
    let read = Pki::read(dir);
    let pki = Entities::of(&read)?;
    let now = super::now();
    let crl_file = pki.issuer().files.crl();
    let crl = if read.has(&crl_file) {
        Some(read.crl(&crl_file)?)
    } else {
        None
    };
    let revoked = crl.as_ref().map_or(&[][..], |c| c.revoked.as_slice());
    let cas = std::iter::once(&pki.ca).chain(&pki.intermediate);
    // A CA's OCSP signer expires too: then its answers cannot be checked.
    let mut signers = Vec::new();
    for signer in cas.clone().map(|ca| ca.files.ocsp_signer()) {
        let crt = signer.crt();
        if read.has(&crt) {
            signers.push(read.known(signer).map_err(|e| e.naming(&crt))?);
        }
    }
    let certs = cas.chain(&signers).chain(&pki.leaves);
    let mut rows: Vec<Row> = certs
        .map(|k| cert_row(&k.info, revoked, window, now))
        .collect();
    if let Some(crl) = &crl {
        let next = crl.next_update.unwrap_or(i64::MAX);
        let left = (next - now).div_euclid(86_400);
        rows.push(Row {
            kind: "crl",
            file: pki.issuer().files.crl(),
            cn: None,
            serial: None,
            until: crl.next_update.map_or("none".into(), utc),
            until_unix: next,
            days_left: left,
            state: if next <= now {
                "stale"
            } else if window.expiring(crl.this_update, next, now) {
                "expiring"
            } else {
                "valid"
            },
            expiring_rule: window.rule(),
            certificate: None,
            revoked: Some(crl.revoked.clone()),
        });
    }
    let needs_doing: Vec<String> = rows
        .iter()
        .filter(|r| r.state != "valid")
        .map(|r| format!("{} {}", r.file, r.state))
        .collect();
    let text = if as_json {
        json::to_text(&rows)
    } else {
        table(&rows)
    };
    if needs_doing.is_empty() {
        return Ok(text);
    }
    Err(Error::reported(
        text,
        Error::NeedsAttention {
            total: rows.len(),
            items: needs_doing,
        },
    ))
}

fn cert_row<'a>(c: &'a CertInfo, revoked: &[String], window: Window, now: i64) -> Row<'a> {
    let left = c.days_left(now);
    let state = state_of(c, revoked, window, now);
    let details = json::Certificate::of(c, now);
    Row {
        kind: "certificate",
        file: c.file().to_string(),
        cn: details.cn,
        serial: Some(&c.serial),
        until: utc(c.not_after),
        until_unix: c.not_after,
        days_left: left,
        state,
        expiring_rule: window.rule(),
        certificate: Some(details),
        revoked: None,
    }
}

/// The rows as an aligned table.
fn table(rows: &[Row]) -> String {
    let mut text = String::new();
    let width =
        |f: &dyn Fn(&Row) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let (wf, wc) = (
        width(&|r| r.file.len(), 4),
        width(&|r| r.cn.map_or(1, str::len), 2),
    );
    let ws = width(&|r| r.serial.map_or(1, str::len), 6);
    let _ = writeln!(
        text,
        "{:<wf$}  {:<wc$}  {:<ws$}  {:<23}  {:>9}  STATE",
        "FILE", "CN", "SERIAL", "NOT AFTER / NEXT UPDATE", "DAYS LEFT"
    );
    for r in rows {
        let _ = writeln!(
            text,
            "{:<wf$}  {:<wc$}  {:<ws$}  {:<23}  {:>9}  {}",
            r.file,
            r.cn.unwrap_or("-"),
            r.serial.unwrap_or("-"),
            r.until,
            r.days_left,
            r.state
        );
    }
    text
}
