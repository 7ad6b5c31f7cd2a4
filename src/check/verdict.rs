//! A table of verdicts: for each case (a server a client was pointed at),
//! what the client had to do, what it did, and whether that was right; as
//! text for a person, or as JSON (docs/json.md). `test-client` fills it;
//! it names no command, so that another (`test-server`) can share it.

use std::fmt::Write as _;

use serde::Serialize;

use crate::output::escape_controls;

/// What must happen in a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    Accept,
    Refuse,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Observed {
    Accepted,
    Refused,
}

impl Expected {
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Accept => "accept",
            Expected::Refuse => "refuse",
        }
    }

    fn met_by(self, observed: Observed) -> bool {
        matches!(
            (self, observed),
            (Expected::Accept, Observed::Accepted) | (Expected::Refuse, Observed::Refused)
        )
    }
}

impl Observed {
    pub fn as_str(self) -> &'static str {
        match self {
            Observed::Accepted => "accepted",
            Observed::Refused => "refused",
        }
    }
}

/// One case and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What was tried: the server's name (`server-expired`).
    pub case: String,
    /// `good`, or the fixture's kind (`expired`).
    pub kind: String,
    pub expected: Expected,
    pub observed: Observed,
    /// What happened: how the client ended and the last thing it said,
    /// or what the server did.
    pub detail: String,
    /// What a peer that got this case wrong fails to check, and the fix:
    /// `the server accepts revoked client certificates: load the CRL …`.
    pub if_wrong: String,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.expected.met_by(self.observed)
    }
}

/// A verdict as `--json` prints it.
#[derive(Serialize)]
struct Row<'a> {
    case: &'a str,
    kind: &'a str,
    expected: Expected,
    observed: Observed,
    detail: &'a str,
    ok: bool,
}

/// The verdicts as a JSON array, one object a line.
pub fn json(verdicts: &[Verdict]) -> String {
    let rows: Vec<String> = verdicts
        .iter()
        .map(|v| {
            serde_json::to_string(&Row {
                case: &v.case,
                kind: &v.kind,
                expected: v.expected,
                observed: v.observed,
                detail: &v.detail,
                ok: v.ok(),
            })
            .unwrap_or_default()
        })
        .collect();
    if rows.is_empty() {
        return "[]\n".to_string();
    }
    format!("[\n{}\n]\n", rows.join(",\n"))
}

/// The verdicts as a table with a header: the case, its kind, what was
/// expected and observed, the detail, and `ok` or `WRONG`, escaped for the
/// terminal; then one line per wrong verdict saying what the peer fails to
/// check (`CASE: the server accepts …`).
pub fn table(verdicts: &[Verdict]) -> String {
    let header = ["case", "kind", "expected", "observed", "detail", ""].map(String::from);
    let rows: Vec<[String; 6]> = verdicts
        .iter()
        .map(|v| {
            [
                escape_controls(&v.case),
                escape_controls(&v.kind),
                v.expected.as_str().to_string(),
                v.observed.as_str().to_string(),
                escape_controls(&v.detail),
                if v.ok() { "ok" } else { "WRONG" }.to_string(),
            ]
        })
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(text, "{}", cells.join("  ").trim_end());
    }
    let wrong: Vec<&Verdict> = verdicts.iter().filter(|v| !v.ok()).collect();
    if !wrong.is_empty() {
        text.push('\n');
        for v in wrong {
            let line = format!("{}: {}", v.case, v.if_wrong);
            let _ = writeln!(text, "{}", escape_controls(&line));
        }
    }
    text
}

/// `CASE (expected EXPECTED, observed OBSERVED)` for each wrong verdict:
/// what the error at the end of the report names.
pub fn wrong(verdicts: &[Verdict]) -> Vec<String> {
    verdicts
        .iter()
        .filter(|v| !v.ok())
        .map(|v| {
            format!(
                "{} ({} expected to {}, {})",
                v.case,
                v.kind,
                v.expected.as_str(),
                v.observed.as_str()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(case: &str, kind: &str, expected: Expected, observed: Observed) -> Verdict {
        Verdict {
            case: case.into(),
            kind: kind.into(),
            expected,
            observed,
            detail: "exit 60: curl: (60) \u{1b}[31m".into(),
            if_wrong: format!("the client accepts it although it is {kind}"),
        }
    }

    #[test]
    fn the_table_aligns_its_columns_and_escapes_the_detail() {
        let verdicts = [
            verdict("server", "good", Expected::Accept, Observed::Accepted),
            verdict(
                "server-revoked",
                "revoked",
                Expected::Refuse,
                Observed::Accepted,
            ),
        ];
        assert_eq!(
            table(&verdicts),
            "case            kind     expected  observed  detail\n\
             server          good     accept    accepted  exit 60: curl: (60) \\x1b[31m  ok\n\
             server-revoked  revoked  refuse    accepted  exit 60: curl: (60) \\x1b[31m  WRONG\n\
             \n\
             server-revoked: the client accepts it although it is revoked\n"
        );
        assert_eq!(
            wrong(&verdicts),
            ["server-revoked (revoked expected to refuse, accepted)"]
        );
    }

    #[test]
    fn the_json_has_the_documented_fields() {
        let text = json(&[verdict(
            "server-expired",
            "expired",
            Expected::Refuse,
            Observed::Refused,
        )]);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            serde_json::json!([{
                "case": "server-expired",
                "kind": "expired",
                "expected": "refuse",
                "observed": "refused",
                "detail": "exit 60: curl: (60) \u{1b}[31m",
                "ok": true
            }])
        );
        assert_eq!(json(&[]), "[]\n");
    }
}
