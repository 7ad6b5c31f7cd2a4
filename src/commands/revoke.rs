//! `pkiforge revoke DIR NAME --reason R`: revoke a leaf and issue the CRL,
//! run as `run` runs (see [`super::execute`]), or printed with `--dry-run`.

use super::{Context, Operation, Outcome, execute};
use crate::cli::RevokeArgs;
use crate::error::Result;
use crate::plan::lifecycle;

/// `revoke DIR NAME --reason R [--dry-run]`.
pub fn command(ctx: &Context, args: RevokeArgs) -> Result<Outcome> {
    let op = Operation::new(&args.dir, args.dry_run, ctx);
    revoke(&op, &args.name, args.reason.openssl_name())
}

/// `revoke DIR NAME --reason R`.
fn revoke(op: &Operation, name: &str, reason: &str) -> Result<String> {
    execute(op, "revoked in", |pki, openssl| {
        let caps = openssl.capabilities(false)?;
        let plan = lifecycle::revoke_plan(pki, name, reason, caps)?;
        Ok((plan, None))
    })
}
