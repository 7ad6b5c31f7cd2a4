//! `pkiforge test-server DIR HOST:PORT [--servername NAME] [--http PATH]
//! [--json] [--jobs N]`: the table of what the server did with each client of DIR, and
//! what it fails to check.

use super::{Context, Outcome};
use crate::check::test_server::{self, Options, Target};
use crate::cli::TestServerArgs;
use crate::error::Result;
use crate::pki::read::Pki;
use crate::run::openssl::Openssl;
use crate::run::publish::ReadLock;

/// `test-server DIR HOST:PORT`.
pub fn command(ctx: &Context, args: TestServerArgs) -> Result<Outcome> {
    let target = Target::parse(&args.address)?;
    // Never while a run writes DIR, nor after one killed part way.
    let _lock = ReadLock::take(&args.dir, &ctx.progress())?;
    let pki = Pki::read(&args.dir);
    let openssl = Openssl::locate(ctx.openssl(), ctx.timeout)?;
    let options = Options {
        servername: args.servername.as_deref(),
        http: args.http.as_deref(),
        jobs: args.jobs.unwrap_or_else(crate::run::runner::default_jobs),
    };
    let verdicts = test_server::run(&openssl, &pki, &target, &options)?;
    let wrong: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.ok())
        .map(|v| v.case.clone())
        .collect();
    if !args.json {
        let text = test_server::table(&verdicts);
        return super::conclude(text, "cases", "went as expected", verdicts.len(), wrong);
    }
    super::conclude_json(test_server::json(&verdicts), "cases", verdicts.len(), wrong)
}
