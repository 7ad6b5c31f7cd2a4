//! What `test-server` concludes, as data: each case's verdict, the table,
//! the lines that say what the server fails to check, and the JSON.

use crate::check::handshake::Outcome;
use crate::check::verdict::{Expected, Observed, Verdict as Shared};
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

impl Verdict {
    /// As the table and JSON every tester shares take it.
    pub fn shared(&self) -> Shared {
        let (expected, observed) = (self.expected(), self.observed);
        Shared {
            case: self.case.clone(),
            kind: self.kind.name().to_string(),
            expected: match expected {
                Outcome::Accepted => Expected::Accept,
                _ => Expected::Refuse,
            },
            observed: match observed {
                Outcome::Accepted => Observed::Accepted,
                _ => Observed::Refused,
            },
            detail: self.detail.clone(),
            if_wrong: format!("the server {}", self.kind.if_wrong()),
        }
    }
}

/// The table, one row per case, then one line per wrong verdict saying
/// what the server fails to check.
pub fn table(verdicts: &[Verdict]) -> String {
    crate::check::verdict::table(&verdicts.iter().map(Verdict::shared).collect::<Vec<_>>())
}

/// `test-server --json` (docs/json.md).
pub fn json(verdicts: &[Verdict]) -> String {
    crate::check::verdict::json(&verdicts.iter().map(Verdict::shared).collect::<Vec<_>>())
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
        let json = json(&verdicts[2..]);
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
