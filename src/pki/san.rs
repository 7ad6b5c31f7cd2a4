//! subjectAltName entries: what the profile and certificates name, and
//! which entry covers which name. Part of the model; it uses nothing else of
//! the crate.

use std::fmt;
use std::net::IpAddr;

/// A subjectAltName entry in openssl's `TYPE:value` syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct San {
    pub kind: SanKind,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanKind {
    Dns,
    Ip,
    Email,
    Uri,
}

impl SanKind {
    /// The type name in openssl's syntax (case matters to openssl).
    pub fn openssl_name(self) -> &'static str {
        match self {
            SanKind::Dns => "DNS",
            SanKind::Ip => "IP",
            SanKind::Email => "email",
            SanKind::Uri => "URI",
        }
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.openssl_name(), self.value)
    }
}

impl San {
    /// A host a client dials, as a name to check: an IP address or a DNS name.
    pub fn host(host: &str) -> San {
        let kind = if host.parse::<IpAddr>().is_ok() {
            SanKind::Ip
        } else {
            SanKind::Dns
        };
        San {
            kind,
            value: host.to_string(),
        }
    }

    /// The entry as a certificate reads back: IP addresses in their
    /// canonical form (`IP:FE80::1` is `IP:fe80::1`), so that they are
    /// compared as addresses, not as text.
    pub fn canonical(&self) -> String {
        match (self.kind, self.value.parse::<IpAddr>()) {
            (SanKind::Ip, Ok(ip)) => format!("IP:{ip}"),
            _ => self.to_string(),
        }
    }
}

/// Whether the SAN entry `san` of a certificate covers the name `name`, by
/// the rules openssl's `-verify_hostname`, `-verify_ip` and
/// `-verify_email` apply: host names without regard to case, a wildcard
/// for exactly one leftmost label (with two or more labels after it), IP
/// addresses as addresses, email addresses with the domain without regard
/// to case.
pub fn covers(san: &San, name: &San) -> bool {
    if san.kind != name.kind {
        return false;
    }
    match san.kind {
        SanKind::Dns => {
            let (pattern, host) = (
                san.value.to_ascii_lowercase(),
                name.value.to_ascii_lowercase(),
            );
            match pattern.strip_prefix("*.") {
                Some(rest) if rest.contains('.') && !host.starts_with("*.") => host
                    .split_once('.')
                    .is_some_and(|(first, after)| !first.is_empty() && after == rest),
                _ => pattern == host,
            }
        }
        SanKind::Ip => san.canonical() == name.canonical(),
        SanKind::Email => match (san.value.rsplit_once('@'), name.value.rsplit_once('@')) {
            (Some((a, d)), Some((b, e))) => a == b && d.eq_ignore_ascii_case(e),
            _ => false,
        },
        SanKind::Uri => san.value == name.value,
    }
}
