//! `pkiforge test-client DIR [--host NAME] [--json] -- COMMAND ARGS…`: serve
//! every server of the PKI and run the user's client against each, one
//! verdict each; or `--serve`: serve them until Ctrl-C.

use super::{Context, Outcome};
use crate::check::test_client::{self, Lineup, Servers, UserClient};
use crate::check::verdict;
use crate::cli::TestClientArgs;
use crate::error::Result;
use crate::pki::read::Pki;
use crate::run::openssl::Openssl;
use crate::run::publish::ReadLock;

/// `test-client DIR`.
pub fn command(ctx: &Context, args: TestClientArgs) -> Result<Outcome> {
    let progress = ctx.progress();
    // Never while a run writes DIR, nor after one killed part way.
    let lock = ReadLock::take(&args.dir, &progress)?;
    let lineup = Lineup::of(&Pki::read(&args.dir), args.host.as_deref())?;
    let openssl = Openssl::locate(ctx.openssl(), ctx.timeout)?;
    if args.serve {
        let servers = Servers::start(&openssl, &lineup)?;
        // Each s_server has read its files: DIR is free for other commands.
        drop(lock);
        crate::output::stdout(&test_client::serving_table(&servers, &lineup));
        let stopped = test_client::serve_until_signal(servers)?;
        progress.say(&format!("stopped {stopped} servers"));
        return Ok(String::new());
    }
    let command = UserClient::new(&args.command, ctx.timeout)?;
    let count = lineup.targets.len();
    progress.say(&format!(
        "serving {count} server{} on {}, and running COMMAND against each",
        if count == 1 { "" } else { "s" },
        test_client::LOOPBACK
    ));
    let verdicts = test_client::run(&openssl, &lineup, &command)?;
    drop(lock);
    let failed = verdict::wrong(&verdicts);
    if args.json {
        return super::conclude_json(verdict::json(&verdicts), "verdicts", verdicts.len(), failed);
    }
    super::conclude(
        verdict::table(&verdicts),
        "verdicts",
        "right",
        verdicts.len(),
        failed,
    )
}
