//! The JSON that `inspect --json`, `lint --json` and `status --json` print:
//! one schema for a certificate, shared by all three (docs/json.md).

use serde::Serialize;

use crate::check::lint::Finding;
use crate::pki::x509::CertInfo;
use crate::time::utc;

/// A certificate, as every `--json` output shows it.
#[derive(Debug, Serialize)]
pub struct Certificate<'a> {
    /// The file that holds it alone, then every file that holds it.
    pub file: &'a str,
    pub files: &'a [String],
    pub subject: &'a str,
    /// The subject's common name, if it has one.
    pub cn: Option<&'a str>,
    pub issuer: &'a str,
    pub self_signed: bool,
    /// Hex, colon-separated, as `inspect` shows it.
    pub serial: &'a str,
    pub version: u32,
    /// In openssl's syntax: `DNS:localhost`, `IP:127.0.0.1`, …
    pub sans: &'a [String],
    /// `RSA 2048`, `EC P-256`, `Ed25519`.
    pub key: String,
    pub signature: &'a str,
    /// `YYYY-MM-DD HH:MM:SS UTC`, and the Unix time.
    pub not_before: String,
    pub not_after: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
    /// Whole days until not-after (negative once expired).
    pub days_left: i64,
    pub sha256: &'a str,
    pub is_ca: bool,
    pub extensions: Vec<Extension<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Extension<'a> {
    pub name: &'a str,
    pub critical: bool,
    pub value: &'a str,
}

impl<'a> Certificate<'a> {
    pub fn of(c: &'a CertInfo, now: i64) -> Certificate<'a> {
        Certificate {
            file: c.file(),
            files: &c.files,
            subject: &c.subject,
            cn: c
                .subject_fields
                .iter()
                .find(|(k, _)| k == "CN")
                .map(|(_, v)| v.as_str()),
            issuer: &c.issuer,
            self_signed: c.self_issued,
            serial: &c.serial,
            version: c.version,
            sans: &c.sans,
            key: c.key.to_string(),
            signature: &c.signature,
            not_before: utc(c.not_before),
            not_after: utc(c.not_after),
            not_before_unix: c.not_before,
            not_after_unix: c.not_after,
            days_left: c.days_left(now),
            sha256: &c.sha256,
            is_ca: c.is_ca,
            extensions: c
                .extensions
                .iter()
                .map(|(name, critical, value)| Extension {
                    name,
                    critical: *critical,
                    value,
                })
                .collect(),
        }
    }
}

/// A lint finding, with the certificate it concerns.
#[derive(Debug, Serialize)]
pub struct LintFinding<'a> {
    pub severity: String,
    pub rule: &'a str,
    pub file: &'a str,
    pub message: &'a str,
    pub clients: &'a str,
    pub fix: &'a str,
    pub certificate: Option<Certificate<'a>>,
}

impl<'a> LintFinding<'a> {
    pub fn of(f: &'a Finding, certs: &'a [CertInfo], now: i64) -> LintFinding<'a> {
        LintFinding {
            severity: f.severity.to_string(),
            rule: f.rule,
            file: &f.file,
            message: &f.message,
            clients: f.clients,
            fix: &f.fix,
            certificate: certs
                .iter()
                .find(|c| c.file() == f.file)
                .map(|c| Certificate::of(c, now)),
        }
    }
}

/// Pretty JSON and a newline, made by serde_json alone. Its escaping is
/// JSON's, and more: every control character (C0, DEL, C1) and U+2028/U+2029
/// is written as `\uXXXX`, so the text reaches a terminal unchanged by
/// `output::escape_controls` and any strict parser reads back the exact value.
pub fn to_text(value: &impl Serialize) -> String {
    let mut bytes = Vec::new();
    let formatter = EscapeControls(serde_json::ser::PrettyFormatter::new());
    let mut ser = serde_json::Serializer::with_formatter(&mut bytes, formatter);
    if let Err(e) = value.serialize(&mut ser) {
        // Only a map with non-string keys fails, and these types have none.
        return format!(
            "{{\"error\": {}}}\n",
            serde_json::Value::from(e.to_string())
        );
    }
    let mut text = String::from_utf8(bytes).unwrap_or_default();
    text.push('\n');
    text
}

/// serde_json's pretty formatter, with the characters a terminal or a
/// JavaScript parser treats specially escaped as `\uXXXX`.
struct EscapeControls(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for EscapeControls {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        while let Some(at) = rest.find(needs_escape) {
            writer.write_all(&rest.as_bytes()[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            write!(writer, "\\u{:04x}", c as u32)?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// What serde_json leaves raw but a terminal acts on (DEL, C1) or JavaScript
/// reads as a line end (U+2028, U+2029); serde_json escapes C0 itself.
fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped_and_the_value_round_trips() {
        let subject = "CN=a\u{85}b\u{2028}c\u{2029}\u{1b}[31m\u{7f}\u{9b}\t\n\"\\'";
        let text = to_text(&[subject]);
        assert_eq!(
            text,
            "[\n  \"CN=a\\u0085b\\u2028c\\u2029\\u001b[31m\\u007f\\u009b\\t\\n\\\"\\\\'\"\n]\n"
        );
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
        let back: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, [subject]);
        assert_eq!(crate::output::escape_controls(&text), text);
    }
}
