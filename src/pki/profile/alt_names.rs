//! An entity's subjectAltName entries (`san`), in openssl's `TYPE:value`
//! syntax: DNS names, IP addresses, email addresses and URIs.

use std::net::IpAddr;

use toml::de::DeValue;

use crate::pki::profile::subject::{describe_char, first_control};
use crate::pki::profile::validator::{Table, Validator, join, kind};
use crate::pki::san::{San, SanKind};

impl Validator<'_> {
    pub(crate) fn sans(&mut self, table: &Table<'_>, prefix: &str) -> Option<Vec<San>> {
        let path = join(prefix, "san");
        let Some(value) = table.get("san") else {
            self.problem(
                None,
                &path,
                format!("missing; add san = [\"DNS:localhost\"] to [{prefix}] (modern clients match the host name against it)"),
            );
            return None;
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                format!(
                    "must be a list of strings such as [\"DNS:localhost\"], not {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.problem(
                Some(value.span()),
                &path,
                "is empty; give at least one entry such as \"DNS:localhost\"",
            );
            return None;
        }
        let mut out: Vec<San> = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            let DeValue::String(s) = item.get_ref() else {
                self.problem(
                    Some(item.span()),
                    &ipath,
                    format!(
                        "must be a string such as \"DNS:localhost\", not {}",
                        kind(item.get_ref())
                    ),
                );
                continue;
            };
            match parse_san(s) {
                Ok(san) if !listed.insert(san.to_string()) => {
                    self.problem(
                        Some(item.span()),
                        &ipath,
                        format!("\"{san}\" is listed twice; remove one"),
                    );
                }
                Ok(san) => out.push(san),
                Err(message) => self.problem(Some(item.span()), &ipath, message),
            }
        }
        Some(out)
    }
}

/// Parses and checks one subjectAltName entry in openssl's `TYPE:value` syntax.
pub fn parse_san(s: &str) -> std::result::Result<San, String> {
    if let Some(c) = first_control(s) {
        return Err(format!(
            "contains {}; it would inject another line into openssl's extension text. Remove it",
            describe_char(c)
        ));
    }
    let Some((kind, value)) = s.split_once(':') else {
        return Err(format!(
            "\"{s}\" has no type; write it as TYPE:value, e.g. \"DNS:{s}\" or \"IP:127.0.0.1\""
        ));
    };
    let kind = san_kind(kind, value)?;
    check_san_value(kind, value).map_err(|why| {
        format!(
            "\"{s}\" is not a valid {} entry: {why}",
            kind.openssl_name()
        )
    })?;
    Ok(San {
        kind,
        value: value.to_string(),
    })
}

/// The type of a SAN entry, by openssl's (case-sensitive) name.
fn san_kind(kind: &str, value: &str) -> std::result::Result<SanKind, String> {
    let known = [SanKind::Dns, SanKind::Ip, SanKind::Email, SanKind::Uri];
    if let Some(k) = known.into_iter().find(|k| k.openssl_name() == kind) {
        return Ok(k);
    }
    if let Some(k) = known
        .into_iter()
        .find(|k| k.openssl_name().eq_ignore_ascii_case(kind))
    {
        return Err(format!(
            "openssl's type names are case-sensitive: write \"{}:{value}\"",
            k.openssl_name()
        ));
    }
    Err(format!(
        "unknown type \"{kind}\"; use DNS:, IP:, email: or URI:"
    ))
}

/// What is wrong with a SAN value of a type, as openssl would write it.
fn check_san_value(kind: SanKind, value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err("the value is empty".into());
    }
    if value.contains([',', ' ']) {
        return Err(
            "spaces and commas are not allowed (a comma starts another entry in openssl's syntax)"
                .into(),
        );
    }
    // openssl reads the extension text as config text: `#` starts a
    // comment (the entry would be cut there) and quotes are taken away.
    if let Some(c) = value.chars().find(|c| matches!(c, '#' | '\'' | '"')) {
        let fix = match (kind, c) {
            (SanKind::Uri, '#') => "; percent-encode it as %23",
            (SanKind::Uri, _) => "; percent-encode it as %27 or %22",
            _ => "; remove it",
        };
        let why = if c == '#' {
            "openssl reads '#' as the start of a comment and would cut the entry there"
        } else {
            "openssl reads quotes in extension text as quoting and would drop them"
        };
        return Err(format!("{why}{fix}"));
    }
    match kind {
        SanKind::Dns => check_dns_name(value, true),
        SanKind::Ip => match value.parse::<IpAddr>() {
            Ok(_) => Ok(()),
            Err(_) => {
                Err("write an IPv4 address such as 127.0.0.1 or an IPv6 address such as ::1".into())
            }
        },
        SanKind::Email => check_email(value),
        SanKind::Uri => check_uri(value),
    }
}

fn check_email(value: &str) -> std::result::Result<(), String> {
    let Some((local, domain)) = value.split_once('@') else {
        return Err("write it as name@domain".into());
    };
    if local.is_empty()
        || !local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"\"\\$`!@".contains(c))
    {
        return Err(
            "the part before @ must be plain ASCII without quotes, backslashes, $, ` or !".into(),
        );
    }
    check_dns_name(domain, false).map_err(|why| format!("the domain: {why}"))
}

fn check_uri(value: &str) -> std::result::Result<(), String> {
    let scheme_ok = value.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if !scheme_ok {
        return Err(
            "write an absolute URI with a scheme, such as spiffe://example.org/workload or https://example.com/".into(),
        );
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~:/?#[]@&'()*+;=%".contains(*c)))
    {
        Some(c) => Err(format!("'{c}' is not allowed; percent-encode it")),
        None => Ok(()),
    }
}

/// Checks a DNS name: labels of letters, digits and hyphens, optionally a
/// leading `*.` wildcard label.
fn check_dns_name(name: &str, allow_wildcard: bool) -> std::result::Result<(), String> {
    let body = match name.strip_prefix("*.") {
        Some(rest) if allow_wildcard => {
            // OpenSSL (and browsers) honour a wildcard only with at least
            // two labels after it: *.example.com, never *.com.
            if !rest.contains('.') {
                return Err(format!(
                    "openssl matches a wildcard only with two or more labels after it, as in *.example.{rest}; \"*.{rest}\" would match no host name"
                ));
            }
            rest
        }
        _ => name,
    };
    if name.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    if name.ends_with('.') {
        return Err("remove the trailing dot".into());
    }
    for label in body.split('.') {
        if label.is_empty() {
            return Err("has an empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "the label \"{label}\" is longer than 63 characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(match c {
                '*' => "a wildcard is allowed only as the whole first label, as in *.example.com"
                    .into(),
                c if !c.is_ascii() => {
                    "non-ASCII names must be written in their xn-- (punycode) form".into()
                }
                c => format!(
                    "'{c}' is not allowed in a host name (letters, digits and hyphens only)"
                ),
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "the label \"{label}\" starts or ends with a hyphen"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn san_entries_are_checked_for_their_type() {
        assert!(parse_san("DNS:*.example.com").is_ok());
        assert!(parse_san("IP:::1").is_ok());
        assert!(parse_san("URI:spiffe://example.org/ns/a").is_ok());
        assert!(parse_san("email:a.b@example.com").is_ok());
        assert_eq!(
            parse_san("dns:localhost").unwrap_err(),
            "openssl's type names are case-sensitive: write \"DNS:localhost\""
        );
        assert_eq!(
            parse_san("DNS:local host").unwrap_err(),
            "\"DNS:local host\" is not a valid DNS entry: spaces and commas are not allowed (a comma starts another entry in openssl's syntax)"
        );
        assert_eq!(
            parse_san("IP:300.1.1.1").unwrap_err(),
            "\"IP:300.1.1.1\" is not a valid IP entry: write an IPv4 address such as 127.0.0.1 or an IPv6 address such as ::1"
        );
        assert_eq!(
            parse_san("DNS:a\nDNS:b").unwrap_err(),
            "contains a newline; it would inject another line into openssl's extension text. Remove it"
        );
        assert_eq!(
            parse_san("RID:1.2.3").unwrap_err(),
            "unknown type \"RID\"; use DNS:, IP:, email: or URI:"
        );
    }
}
