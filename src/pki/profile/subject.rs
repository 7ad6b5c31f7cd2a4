//! An entity's subject: the `subject` table, and what openssl's prompt
//! and encoder accept in each of its values.

use toml::de::DeValue;

use crate::pki::profile::model::{Field, SubjectValue};
use crate::pki::profile::validator::{Table, Validator, join, kind};

impl Validator<'_> {
    pub(crate) fn subject(&mut self, table: &Table<'_>, prefix: &str) -> Option<Vec<SubjectValue>> {
        let path = join(prefix, "subject");
        let Some(value) = table.get("subject") else {
            self.problem(
                None,
                &path,
                format!(
                    "missing; add a [{path}] table with at least CN, e.g. CN = \"My {prefix}\""
                ),
            );
            return None;
        };
        let DeValue::Table(sub) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                format!("must be a table, [{path}], not {}", kind(value.get_ref())),
            );
            return None;
        };
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.short()).collect();
        self.unknown_keys(sub, &path, &names);
        let mut out = Vec::new();
        let mut ok = true;
        for field in Field::ALL {
            let Some(v) = sub.get(field.short()) else {
                continue;
            };
            let fpath = join(&path, field.short());
            let DeValue::String(s) = v.get_ref() else {
                self.problem(
                    Some(v.span()),
                    &fpath,
                    format!("must be a string, not {}", kind(v.get_ref())),
                );
                ok = false;
                continue;
            };
            match check_subject_value(field, s) {
                Ok(()) => out.push(SubjectValue {
                    field,
                    value: s.to_string(),
                    at: self.at(v.span()),
                }),
                Err(message) => {
                    self.problem(Some(v.span()), &fpath, message);
                    ok = false;
                }
            }
        }
        if ok && out.is_empty() {
            self.problem(
                Some(value.span()),
                &path,
                "is empty; give at least CN, e.g. CN = \"localhost\"",
            );
            return None;
        }
        ok.then_some(out)
    }
}

pub(crate) fn first_control(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control())
}

pub(crate) fn describe_char(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        c => format!("the control character U+{:04X}", c as u32),
    }
}

/// Checks a subject value against what openssl's prompt and encoder accept.
pub fn check_subject_value(field: Field, s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err(format!(
            "is empty; openssl's prompt would take an empty answer as \"use the config's default\". Leave {} out to leave it blank",
            field.short()
        ));
    }
    if s == "." {
        return Err(format!(
            "\".\" alone means \"leave blank\" at openssl's prompt; leave {} out instead",
            field.short()
        ));
    }
    if let Some(c) = first_control(s) {
        return Err(format!(
            "contains {}; it would be read as a separate answer to the next prompt. Remove it",
            describe_char(c)
        ));
    }
    if s.trim() != s {
        return Err("has leading or trailing spaces; remove them".into());
    }
    match field {
        Field::C if !(s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())) => {
            return Err(format!(
                "\"{s}\" is not a two-letter ISO 3166 country code such as \"US\" or \"DE\"; openssl would ask again and every later answer would land in the wrong field"
            ));
        }
        Field::C if s.bytes().any(|b| b.is_ascii_lowercase()) => {
            return Err(format!(
                "\"{s}\" is in lower case; ISO 3166 country codes are upper case, and clients compare them as written: write \"{}\"",
                s.to_ascii_uppercase()
            ));
        }
        Field::EmailAddress if !s.is_ascii() => {
            return Err(
                "must be ASCII (an IA5String); non-ASCII addresses are not allowed here".into(),
            );
        }
        Field::EmailAddress if s.matches('@').count() != 1 || s.contains(' ') => {
            return Err(format!(
                "\"{s}\" is not an email address such as \"admin@example.com\""
            ));
        }
        _ => {}
    }
    if s.len() > field.max_bytes() {
        return Err(format!(
            "is {} bytes long; openssl allows at most {} for {}",
            s.len(),
            field.max_bytes(),
            field.short()
        ));
    }
    Ok(())
}
