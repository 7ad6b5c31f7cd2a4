//! `pkiforge inspect DIR [--json]`: every certificate, parsed in Rust.

use std::path::Path;

use crate::error::Result;
use crate::run::progress::Progress;
use crate::run::publish::ReadLock;
use crate::{check::inspect, check::json, pki::x509};

pub fn inspect(dir: &Path, as_json: bool, progress: &Progress) -> Result<String> {
    // Never while a run writes DIR, nor after one killed part way.
    let _lock = ReadLock::take(dir, progress)?;
    let found = x509::certificates(dir)?;
    let now = super::now();
    let text = if as_json {
        let certs: Vec<json::Certificate> = found
            .certs
            .iter()
            .map(|c| json::Certificate::of(c, now))
            .collect();
        json::to_text(&certs)
    } else {
        let fixtures = crate::pki::read::read_fixtures(dir)?;
        let mut text = inspect::render(&found.certs, now);
        text.push_str(&inspect::render_fixtures(&fixtures));
        text
    };
    super::unless_unreadable(text, found.unreadable)
}
