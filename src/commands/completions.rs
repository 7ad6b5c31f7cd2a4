//! `pkiforge completions SHELL`: the shell's completion script, on stdout.

use super::{Context, Outcome};
use crate::cli::{Cli, CompletionsArgs};
use crate::error::Result;

/// `pkiforge completions SHELL`.
pub fn command(_ctx: &Context, args: CompletionsArgs) -> Result<Outcome> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pkiforge", &mut buf);
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
