//! What `test-server` concludes, as data: each case's verdict, the table,
//! the lines that say what the server fails to check, and the JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::handshake::Outcome;
use crate::pki::fixture::{
    IF_SERVER_ACCEPTS_NO_CERTIFICATE, IF_SERVER_REFUSES_A_GOOD_CLIENT, Kind,
};

/// What a case presents to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKind {
    /// A client of the PKI that is no fixture: must be accepted.
    Good,
    /// No client certificate at all: must be refused.
    NoCertificate,
    /// A client fixture: must be refused.
    Fixture(Kind),
}

impl CaseKind {
    /// As the table and the JSON name it: `good`, `no-certificate`, or
    /// the fixture's kind.
    pub fn name(self) -> &'static str {
        match self {
            CaseKind::Good => "good",
            CaseKind::NoCertificate => NO_CERTIFICATE,
            CaseKind::Fixture(kind) => kind.name(),
        }
    }

    pub fn expected(self) -> Outcome {
        match self {
            CaseKind::Good => Outcome::Accepted,
            _ => Outcome::Refused,
        }
    }

    /// What a server that gets this case wrong fails to check, and the fix.
    pub fn if_wrong(self) -> &'static str {
        match self {
            CaseKind::Good => IF_SERVER_REFUSES_A_GOOD_CLIENT,
            CaseKind::NoCertificate => IF_SERVER_ACCEPTS_NO_CERTIFICATE,
            CaseKind::Fixture(kind) => kind.if_server_accepts(),
        }
    }
}

/// The name of the case without a client certificate, and of its kind.
pub const NO_CERTIFICATE: &str = "no-certificate";

/// One case and what the server did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The client's name in the PKI, or `no-certificate`.
    pub case: String,
    pub kind: CaseKind,
    pub observed: Outcome,
    /// What the server did: the alert it sent, the HTTP status, its answer.
    pub detail: String,
}

impl Verdict {
    pub fn expected(&self) -> Outcome {
        self.kind.expected()
    }

    pub fn ok(&self) -> bool {
        self.observed == self.expected()
    }

    /// `CASE: the server accepts …: FIX`, for a wrong verdict.
    pub fn wrong_line(&self) -> String {
        format!("{}: the server {}", self.case, self.kind.if_wrong())
    }
}

/// The verb of an expectation: `accept`, `refuse`.
fn verb(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Accepted => "accept",
        Outcome::Refused => "refuse",
        // test-server expects one of the two; never this.
        Outcome::Untried => "untried",
    }
}

/// The table, one row per case, then one line per wrong verdict saying
/// what the server fails to check.
pub fn table(verdicts: &[Verdict]) -> String {
    let header = ["case", "kind", "expected", "observed", "detail", ""];
    let rows: Vec<[String; 6]> = verdicts
        .iter()
        .map(|v| {
            [
                v.case.clone(),
                v.kind.name().to_string(),
                verb(v.expected()).to_string(),
                v.observed.to_string(),
                v.detail.clone(),
                if v.ok() { "ok" } else { "WRONG" }.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header = header.map(String::from);
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
            let _ = writeln!(text, "{}", v.wrong_line());
        }
    }
    text
}

/// One case in `test-server --json` (docs/json.md).
#[derive(Debug, Serialize)]
pub struct JsonVerdict<'a> {
    pub case: &'a str,
    pub kind: &'static str,
    /// `accept` or `refuse`.
    pub expected: &'static str,
    /// `accepted` or `refused`.
    pub observed: String,
    pub detail: &'a str,
    pub ok: bool,
}

impl<'a> JsonVerdict<'a> {
    pub fn of(v: &'a Verdict) -> JsonVerdict<'a> {
        JsonVerdict {
            case: &v.case,
            kind: v.kind.name(),
            expected: verb(v.expected()),
            observed: v.observed.to_string(),
            detail: &v.detail,
            ok: v.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(case: &str, kind: CaseKind, observed: Outcome, detail: &str) -> Verdict {
        Verdict {
            case: case.into(),
            kind,
            observed,
            detail: detail.into(),
        }
    }

    #[test]
    fn the_table_says_what_the_server_fails_to_check() {
        let verdicts = [
            verdict("client", CaseKind::Good, Outcome::Accepted, "HTTP 200 OK"),
            verdict(
                NO_CERTIFICATE,
                CaseKind::NoCertificate,
                Outcome::Refused,
                "alert certificate_required",
            ),
            verdict(
                "client-revoked",
                CaseKind::Fixture(Kind::Revoked),
                Outcome::Accepted,
                "HTTP 200 OK",
            ),
        ];
        assert_eq!(
            table(&verdicts),
            "\
case            kind            expected  observed  detail
client          good            accept    accepted  HTTP 200 OK                 ok
no-certificate  no-certificate  refuse    refused   alert certificate_required  ok
client-revoked  revoked         refuse    accepted  HTTP 200 OK                 WRONG

client-revoked: the server accepts revoked client certificates: load the CRL (nginx: ssl_crl)
"
        );
        let json = crate::check::json::to_text(&[JsonVerdict::of(&verdicts[2])]);
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back,
            serde_json::json!([{"case": "client-revoked", "kind": "revoked", "expected": "refuse",
                "observed": "accepted", "detail": "HTTP 200 OK", "ok": false}])
        );
    }

    #[test]
    fn a_refused_good_client_and_an_accepted_clientless_one_are_named() {
        let good = verdict(
            "client",
            CaseKind::Good,
            Outcome::Refused,
            "alert unknown_ca",
        );
        assert!(
            good.wrong_line()
                .starts_with("client: the server refuses a good client: ")
        );
        let none = verdict(
            NO_CERTIFICATE,
            CaseKind::NoCertificate,
            Outcome::Accepted,
            "",
        );
        assert_eq!(
            none.wrong_line(),
            "no-certificate: the server accepts clients without a certificate: require one (nginx: ssl_verify_client on; openssl s_server: -Verify, not -verify)"
        );
    }
}
