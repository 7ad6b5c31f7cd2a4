//! `pkiforge crl DIR --days N`: issue the CA's CRL again, run as `run`
//! runs (see [`super::execute`]), or printed with `--dry-run`.

use super::{Context, Operation, Outcome, execute};
use crate::cli::CrlArgs;
use crate::error::Result;
use crate::plan::lifecycle;

/// `crl DIR [--days N] [--dry-run]`.
pub fn command(ctx: &Context, args: CrlArgs) -> Result<Outcome> {
    crl(&Operation::new(&args.dir, args.dry_run, ctx), args.days)
}

/// `crl DIR --days N`.
fn crl(op: &Operation, days: u32) -> Result<String> {
    execute(op, "issued in", |pki, openssl| {
        let caps = openssl.capabilities(false)?;
        Ok((lifecycle::crl_plan(pki, days, caps), None))
    })
}
