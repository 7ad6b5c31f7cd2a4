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
    /// How the client ended, and the last thing it said.
    pub detail: String,
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

/// The verdicts as a table with a header: `ok` or `WRONG`, the case, its
/// kind, what was expected and observed, then the detail (last, as it is
/// the one column of any length), escaped for the terminal.
pub fn table(verdicts: &[Verdict]) -> String {
    let width = |f: fn(&Verdict) -> usize, header: &str| {
        verdicts
            .iter()
            .map(f)
            .chain([header.len()])
            .max()
            .unwrap_or(0)
    };
    let case_w = width(|v| v.case.chars().count(), "CASE");
    let kind_w = width(|v| v.kind.chars().count(), "KIND");
    let mut text = String::new();
    let mut line = |verdict: &str, case: &str, kind: &str, exp: &str, obs: &str, detail: &str| {
        let row =
            format!("{verdict:<5} {case:<case_w$} {kind:<kind_w$} {exp:<8} {obs:<8} {detail}");
        let _ = writeln!(text, "{}", row.trim_end());
    };
    line("", "CASE", "KIND", "EXPECTED", "OBSERVED", "DETAIL");
    for v in verdicts {
        line(
            if v.ok() { "ok" } else { "WRONG" },
            &escape_controls(&v.case),
            &escape_controls(&v.kind),
            v.expected.as_str(),
            v.observed.as_str(),
            &escape_controls(&v.detail),
        );
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
            "      CASE           KIND    EXPECTED OBSERVED DETAIL\n\
             ok    server         good    accept   accepted exit 60: curl: (60) \\x1b[31m\n\
             WRONG server-revoked revoked refuse   accepted exit 60: curl: (60) \\x1b[31m\n"
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
