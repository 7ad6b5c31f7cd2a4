//! Name constraints (RFC 5280 4.2.1.10), as an intermediate CA carries them
//! and as OpenSSL matches names against them (crypto/x509/v3_ncons.c): the
//! profile's `permitted` and `excluded` entries, their openssl text, and
//! whether a name falls inside.

use std::fmt;
use std::net::IpAddr;

use crate::pki::san::{San, SanKind};

/// One constraint, in openssl's `TYPE:value` syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// `DNS:example.com`: it and every name below it.
    Dns(String),
    /// `IP:127.0.0.0/8`: a network, written as CIDR in the profile.
    Ip { net: IpAddr, prefix: u8 },
    /// `email:a@example.com` (that mailbox), `email:example.com` (any
    /// mailbox at that host), `email:.example.com` (at any host below it).
    Email(String),
    /// `URI:example.com` or `URI:.example.com`: the URI's host.
    Uri(String),
}

impl Constraint {
    /// Parses `TYPE:value`; the error says what is wrong and what to write.
    pub fn parse(s: &str) -> Result<Constraint, String> {
        let Some((kind, value)) = s.split_once(':') else {
            return Err(format!(
                "\"{s}\" has no type; write it as TYPE:value, e.g. \"DNS:example.test\" or \"IP:127.0.0.0/8\""
            ));
        };
        if value.is_empty()
            || value.contains([',', ' ', '#', '"', '\''])
            || value.chars().any(char::is_control)
        {
            return Err(format!(
                "\"{s}\": the value must be non-empty, without spaces, commas, quotes or '#'"
            ));
        }
        let host = |v: &str| {
            let body = v.strip_prefix('.').unwrap_or(v);
            if !body.is_empty()
                && body.split('.').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
            {
                Ok(v.to_ascii_lowercase())
            } else {
                Err(format!(
                    "\"{s}\": \"{v}\" is not a host name or a domain such as example.test or .example.test"
                ))
            }
        };
        match kind {
            // RFC 5280: a DNS constraint is a domain name, which covers
            // itself and every name below it. OpenSSL also takes a leading
            // dot; strict verifiers (Python's cryptography) refuse it.
            "DNS" if value.starts_with('.') => Err(format!(
                "\"{s}\": a DNS constraint has no leading dot (RFC 5280); \"DNS:{}\" covers {} and every name below it, and every verifier reads it",
                &value[1..],
                &value[1..]
            )),
            "DNS" => host(value).map(Constraint::Dns),
            "URI" => host(value).map(Constraint::Uri),
            "email" => match value.split_once('@') {
                Some((local, domain)) if !local.is_empty() => {
                    host(domain).map(|d| Constraint::Email(format!("{local}@{d}")))
                }
                Some(_) => Err(format!(
                    "\"{s}\": write a mailbox (a@example.test) or a domain"
                )),
                None => host(value).map(Constraint::Email),
            },
            "IP" => parse_cidr(value).map_err(|why| format!("\"{s}\": {why}")),
            other => Err(format!(
                "\"{s}\": unknown type \"{other}\"; use DNS:, IP:, email: or URI: (case-sensitive, as openssl has them)"
            )),
        }
    }

    /// The entry as openssl's nameConstraints text takes it: IP networks as
    /// `addr/mask` (`IP:127.0.0.0/255.0.0.0`).
    pub fn openssl(&self) -> String {
        match self {
            Constraint::Dns(v) => format!("DNS:{v}"),
            Constraint::Email(v) => format!("email:{v}"),
            Constraint::Uri(v) => format!("URI:{v}"),
            Constraint::Ip { net, prefix } => format!("IP:{net}/{}", mask(*net, *prefix)),
        }
    }

    fn kind(&self) -> SanKind {
        match self {
            Constraint::Dns(_) => SanKind::Dns,
            Constraint::Ip { .. } => SanKind::Ip,
            Constraint::Email(_) => SanKind::Email,
            Constraint::Uri(_) => SanKind::Uri,
        }
    }

    /// Whether the name falls inside this constraint (a name of another
    /// type never does).
    pub fn covers(&self, name: &San) -> bool {
        if name.kind != self.kind() {
            return false;
        }
        match self {
            Constraint::Dns(base) => host_within(&name.value.to_ascii_lowercase(), base),
            Constraint::Uri(base) => {
                uri_host(&name.value).is_some_and(|h| host_matches(&h.to_ascii_lowercase(), base))
            }
            Constraint::Email(base) => email_within(&name.value, base),
            Constraint::Ip { net, prefix } => name
                .value
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(ip, *net, *prefix)),
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::Ip { net, prefix } => write!(f, "IP:{net}/{prefix}"),
            other => f.write_str(&other.openssl()),
        }
    }
}

/// `(permitted, excluded)` read back from a certificate's nameConstraints
/// as x509.rs shows it (`permitted: DNS:localhost, IP:127.0.0.0/255.0.0.0;
/// excluded: …`), so that an intermediate renewed keeps them.
pub fn from_certificate_text(text: &str) -> Result<(Vec<Constraint>, Vec<Constraint>), Unreadable> {
    let (mut permitted, mut excluded) = (Vec::new(), Vec::new());
    let whole = || Unreadable::Text(text.to_string());
    for part in text.split("; ") {
        let (word, list) = part.split_once(": ").ok_or_else(whole)?;
        let into = match word {
            "permitted" => &mut permitted,
            "excluded" => &mut excluded,
            _ => return Err(whole()),
        };
        for item in list.split(", ") {
            let entry = || Unreadable::Entry(item.to_string());
            into.push(
                match item.strip_prefix("IP:").and_then(|v| v.split_once('/')) {
                    Some((addr, mask)) => {
                        let net: IpAddr = addr.parse().map_err(|_| entry())?;
                        let mask: IpAddr = mask.parse().map_err(|_| entry())?;
                        Constraint::Ip {
                            net,
                            prefix: bits(mask).0.count_ones() as u8,
                        }
                    }
                    None => Constraint::parse(item).map_err(Unreadable::Constraint)?,
                },
            );
        }
    }
    Ok((permitted, excluded))
}

/// Why a certificate's nameConstraints, as x509.rs shows them, cannot be
/// read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// Not `permitted: …; excluded: …`.
    #[error("unreadable name constraints: {0}")]
    Text(String),
    /// An IP entry whose address or mask is not one.
    #[error("unreadable {0}")]
    Entry(String),
    /// Another entry, refused as the profile's would be (its words).
    #[error("{0}")]
    Constraint(String),
}

/// Why a network in a profile is not one (after the entry, in words).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum BadNetwork {
    #[error("write a network as CIDR, such as 127.0.0.0/8 or fd00::/8")]
    NotCidr,
    #[error("\"{0}\" is not an IP address")]
    NotAnAddress(String),
    #[error("the prefix length must be 0 to {0}")]
    Prefix(u8),
    #[error("{net} has bits set past /{prefix}; write the network address, {network}/{prefix}")]
    HostBits {
        net: IpAddr,
        prefix: u8,
        network: IpAddr,
    },
}

/// Why `name` is outside the constraints, if it is: excluded by one, or of
/// a type that `permitted` restricts and matched by none.
pub fn violation(name: &San, permitted: &[Constraint], excluded: &[Constraint]) -> Option<String> {
    if let Some(c) = excluded.iter().find(|c| c.covers(name)) {
        return Some(format!("it is excluded by {c}"));
    }
    let same_kind: Vec<&Constraint> = permitted.iter().filter(|c| c.kind() == name.kind).collect();
    if same_kind.is_empty() || same_kind.iter().any(|c| c.covers(name)) {
        return None;
    }
    let list: Vec<String> = same_kind.iter().map(|c| c.to_string()).collect();
    Some(format!(
        "it is not within the permitted {}",
        list.join(", ")
    ))
}

/// The CN openssl would also check as a host name (`cn2dnsid`): two or
/// more labels of letters, digits, `_` and inner `-`.
pub fn cn_as_host(cn: &str) -> Option<San> {
    let labels: Vec<&str> = cn.split('.').collect();
    let ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
    ok.then(|| San {
        kind: SanKind::Dns,
        value: cn.to_string(),
    })
}

/// openssl's nc_dns: the base, or anything that adds labels on its left;
/// a base with a leading dot only the latter.
fn host_within(name: &str, base: &str) -> bool {
    if name.len() > base.len() {
        let (head, tail) = name.split_at(name.len() - base.len());
        tail == base && (base.starts_with('.') || head.ends_with('.'))
    } else {
        name == base
    }
}

/// openssl's nc_uri and the domain part of nc_email: a leading dot means
/// any host below; otherwise that host exactly.
fn host_matches(host: &str, base: &str) -> bool {
    if base.starts_with('.') {
        host.ends_with(base)
    } else {
        host == base
    }
}

fn email_within(email: &str, base: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    match base.split_once('@') {
        Some((bl, bd)) => local == bl && domain.eq_ignore_ascii_case(bd),
        None => host_matches(&domain.to_ascii_lowercase(), base),
    }
}

fn uri_host(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = host.split(':').next()?;
    (!host.is_empty()).then(|| host.to_string())
}

fn parse_cidr(value: &str) -> Result<Constraint, BadNetwork> {
    let (addr, prefix) = value.split_once('/').ok_or(BadNetwork::NotCidr)?;
    let net: IpAddr = addr
        .parse()
        .map_err(|_| BadNetwork::NotAnAddress(addr.to_string()))?;
    let max = if net.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= max)
        .ok_or(BadNetwork::Prefix(max))?;
    if !in_network(net, net, prefix) || network_of(net, prefix) != net {
        return Err(BadNetwork::HostBits {
            net,
            prefix,
            network: network_of(net, prefix),
        });
    }
    Ok(Constraint::Ip { net, prefix })
}

fn bits(ip: IpAddr) -> (u128, u32) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

fn mask_bits(prefix: u8, width: u32) -> u128 {
    if prefix == 0 {
        0
    } else {
        (u128::MAX << (width - u32::from(prefix))) & (u128::MAX >> (128 - width))
    }
}

fn network_of(ip: IpAddr, prefix: u8) -> IpAddr {
    let (b, width) = bits(ip);
    let n = b & mask_bits(prefix, width);
    match ip {
        IpAddr::V4(_) => IpAddr::from((n as u32).to_be_bytes()),
        IpAddr::V6(_) => IpAddr::from(n.to_be_bytes()),
    }
}

fn mask(net: IpAddr, prefix: u8) -> IpAddr {
    let (_, width) = bits(net);
    let m = mask_bits(prefix, width);
    match net {
        IpAddr::V4(_) => IpAddr::from((m as u32).to_be_bytes()),
        IpAddr::V6(_) => IpAddr::from(m.to_be_bytes()),
    }
}

fn in_network(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let ((a, wa), (b, wb)) = (bits(ip), bits(net));
    wa == wb && a & mask_bits(prefix, wa) == b & mask_bits(prefix, wb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn san(s: &str) -> San {
        crate::pki::profile::parse_san(s).unwrap()
    }

    fn c(s: &str) -> Constraint {
        Constraint::parse(s).unwrap()
    }

    #[test]
    fn openssl_text_writes_networks_as_masks() {
        assert_eq!(c("IP:127.0.0.0/8").openssl(), "IP:127.0.0.0/255.0.0.0");
        assert_eq!(c("IP:fd00::/8").openssl(), "IP:fd00::/ff00::");
        assert_eq!(c("DNS:workshop.test").openssl(), "DNS:workshop.test");
        assert_eq!(
            Constraint::parse("IP:127.0.0.1/8").unwrap_err(),
            "\"IP:127.0.0.1/8\": 127.0.0.1 has bits set past /8; write the network address, 127.0.0.0/8"
        );
    }

    #[test]
    fn names_match_as_openssl_matches_them() {
        let domain = c("DNS:workshop.test");
        assert!(domain.covers(&san("DNS:a.workshop.test")));
        assert!(domain.covers(&san("DNS:*.workshop.test")));
        assert!(domain.covers(&san("DNS:workshop.test")));
        assert!(!domain.covers(&san("DNS:evilworkshop.test")));
        assert_eq!(
            Constraint::parse("DNS:.workshop.test").unwrap_err(),
            "\"DNS:.workshop.test\": a DNS constraint has no leading dot (RFC 5280); \"DNS:workshop.test\" covers workshop.test and every name below it, and every verifier reads it"
        );
        let plain = c("DNS:localhost");
        assert!(plain.covers(&san("DNS:localhost")));
        assert!(plain.covers(&san("DNS:a.localhost")));
        assert!(!plain.covers(&san("DNS:xlocalhost")));
        assert!(c("IP:127.0.0.0/8").covers(&san("IP:127.1.2.3")));
        assert!(!c("IP:127.0.0.0/8").covers(&san("IP:10.0.0.1")));
        assert!(!c("IP:127.0.0.0/8").covers(&san("IP:::1")));
        assert!(c("email:.workshop.test").covers(&san("email:a@x.workshop.test")));
        assert!(!c("email:.workshop.test").covers(&san("email:a@workshop.test")));
        assert!(c("email:workshop.test").covers(&san("email:a@workshop.test")));
        assert!(c("URI:.workshop.test").covers(&san("URI:spiffe://a.workshop.test/x")));
    }

    #[test]
    fn constraints_read_back_from_a_certificate_are_the_same() {
        let text = "permitted: DNS:localhost, IP:127.0.0.0/255.0.0.0, email:.workshop.test; excluded: DNS:x.workshop.test";
        let (permitted, excluded) = from_certificate_text(text).unwrap();
        assert_eq!(
            permitted,
            [
                c("DNS:localhost"),
                c("IP:127.0.0.0/8"),
                c("email:.workshop.test")
            ]
        );
        assert_eq!(excluded, [c("DNS:x.workshop.test")]);
    }

    #[test]
    fn a_violation_names_the_constraints() {
        let permitted = [c("DNS:workshop.test"), c("IP:127.0.0.0/8")];
        assert_eq!(
            violation(&san("DNS:a.workshop.test"), &permitted, &[]),
            None
        );
        assert_eq!(
            violation(&san("DNS:example.com"), &permitted, &[]),
            Some("it is not within the permitted DNS:workshop.test".into())
        );
        // No email constraint: email names are not restricted.
        assert_eq!(violation(&san("email:a@b.c"), &permitted, &[]), None);
        assert_eq!(
            violation(
                &san("DNS:x.workshop.test"),
                &permitted,
                &[c("DNS:x.workshop.test")]
            ),
            Some("it is excluded by DNS:x.workshop.test".into())
        );
        assert_eq!(cn_as_host("localhost"), None);
        assert_eq!(cn_as_host("Test CA"), None);
        assert_eq!(cn_as_host("a.example.com").unwrap().value, "a.example.com");
    }
}
