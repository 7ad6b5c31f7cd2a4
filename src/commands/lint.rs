//! `pkiforge lint DIR [--deny-warnings]`: what real clients will refuse.

use std::fmt::Write as _;
use std::path::Path;

use super::{Context, Outcome};
use crate::check::json;
use crate::check::lint::{self, Severity};
use crate::cli::LintArgs;
use crate::error::{Error, Result};
use crate::pki::read::Pki;
use crate::run::progress::Progress;
use crate::run::publish::ReadLock;

/// `lint DIR [--deny-warnings] [--json]`.
pub fn command(ctx: &Context, args: LintArgs) -> Result<Outcome> {
    lint(&args.dir, args.deny_warnings, args.json, &ctx.progress())
}

fn lint(dir: &Path, deny_warnings: bool, as_json: bool, progress: &Progress) -> Result<String> {
    // Never while a run writes DIR, nor after one killed part way.
    let _lock = ReadLock::take(dir, progress)?;
    let pki = Pki::read(dir);
    let found = pki.certificates()?;
    let now = super::now();
    let (findings, fixtures) = lint::findings(&pki, now)?;
    let mut text = String::new();
    for f in &findings {
        let _ = writeln!(text, "{f}");
    }
    if !fixtures.fixtures.is_empty() {
        let _ = writeln!(
            text,
            "{} fixtures left out: they are bad on purpose (see {})",
            fixtures.fixtures.len(),
            crate::pki::names::MANIFEST
        );
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let (warnings, notes) = (count(Severity::Warning), count(Severity::Note));
    let noted = match notes {
        0 => String::new(),
        1 => ", 1 note".into(),
        n => format!(", {n} notes"),
    };
    let _ = writeln!(
        text,
        "{errors} errors, {warnings} warnings{noted} in {} certificates",
        found.certs.len()
    );
    if as_json {
        let list: Vec<json::LintFinding> = findings
            .iter()
            .map(|f| json::LintFinding::of(f, &found.certs, now))
            .collect();
        text = json::to_text(&list);
    }
    if !found.unreadable.is_empty() {
        return super::unless_unreadable(text, found.unreadable.clone());
    }
    if errors > 0 || (deny_warnings && warnings > 0) {
        let failing = findings
            .iter()
            .filter(|f| {
                f.severity == Severity::Error || (deny_warnings && f.severity == Severity::Warning)
            })
            .map(|f| format!("{} {}", f.file, f.rule))
            .collect();
        return Err(Error::reported(text, Error::Lint { findings: failing }));
    }
    Ok(text)
}
