//! pkiforge: a mutual-TLS PKI from a TOML profile, made with exactly the
//! commands of the tutorial (../shared/tutorial.md).
//!
//! Profile (TOML, validated) -> Plan (pure data) -> Runner -> Verify. See
//! ARCHITECTURE.md for the layers and what each module owns.

pub mod check;
pub mod cli;
pub mod commands;
pub mod error;
pub mod files;
pub mod output;
pub mod pki;
pub mod plan;
pub mod procs;
pub mod prompt;
pub mod run;
pub mod shell;
pub mod signals;
pub mod time;

use cli::{Cli, Command};
use commands::Context;
use error::Result;

pub use commands::init::STARTER_PROFILE;
pub use commands::run::default_out;

/// Runs the command line; returns what to print on stdout.
pub fn run(cli: Cli) -> Result<String> {
    signals::install()?;
    let ctx = Context::new(&cli.global);
    match cli.command {
        Command::Plan(args) => commands::plan::command(&ctx, args),
        Command::Run(args) => commands::run::command(&ctx, args),
        Command::Verify(args) => commands::verify::command(&ctx, args),
        Command::Handshake(args) => commands::handshake::command(&ctx, args),
        Command::TestServer(args) => commands::test_server::command(&ctx, args),
        Command::TestClient(args) => commands::test_client::command(&ctx, args),
        Command::Inspect(args) => commands::inspect::command(&ctx, args),
        Command::Export(args) => commands::export::command(&ctx, args),
        Command::Report(args) => commands::report::command(&ctx, args),
        Command::Lint(args) => commands::lint::command(&ctx, args),
        Command::Status(args) => commands::status::command(&ctx, args),
        Command::Renew(args) => commands::renew::command(&ctx, args),
        Command::Revoke(args) => commands::revoke::command(&ctx, args),
        Command::Crl(args) => commands::crl::command(&ctx, args),
        Command::Serve(args) => commands::serve::command(&ctx, args),
        Command::Init(args) => commands::init::command(&ctx, args),
        Command::Completions(args) => commands::completions::command(&ctx, args),
    }
}
