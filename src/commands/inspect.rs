//! `pkiforge inspect DIR [--json]`: every certificate, parsed in Rust.

use std::path::Path;

use super::{Context, Outcome};
use crate::cli::InspectArgs;
use crate::error::Result;
use crate::pki::read::Pki;
use crate::run::progress::Progress;
use crate::run::publish::ReadLock;
use crate::{check::inspect, check::json};

/// `inspect DIR [--json]`.
pub fn command(ctx: &Context, args: InspectArgs) -> Result<Outcome> {
    inspect(&args.dir, args.json, &ctx.progress())
}

fn inspect(dir: &Path, as_json: bool, progress: &Progress) -> Result<String> {
    // Never while a run writes DIR, nor after one killed part way.
    let _lock = ReadLock::take(dir, progress)?;
    let pki = Pki::read(dir);
    let found = pki.certificates()?;
    let now = super::now();
    let text = if as_json {
        let certs: Vec<json::Certificate> = found
            .certs
            .iter()
            .map(|c| json::Certificate::of(c, now))
            .collect();
        json::to_text(&certs)
    } else {
        let mut text = inspect::render(&found.certs, now);
        text.push_str(&inspect::render_fixtures(pki.manifest()?));
        text
    };
    super::unless_unreadable(text, found.unreadable.clone())
}
