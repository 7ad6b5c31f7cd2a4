//! Revocation pointers: the URLs a CA's certificates carry so that a
//! client finds its CRL (CRL Distribution Points), its OCSP responder and
//! its certificate (Authority Information Access). Pure data and parsing;
//! the profile's `crl_url`, `ocsp_url` and `ca_issuers_url`.

use std::fmt;

/// An `http://` URL as pkiforge writes it into a certificate: no user,
/// query or fragment, and only characters that need no quoting in
/// openssl's extension syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    /// Starts with `/`, and is more than `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses `http://HOST[:PORT]/PATH`, or says what is wrong and how to
    /// write it.
    pub fn parse(text: &str) -> Result<HttpUrl, String> {
        const EXAMPLE: &str = "e.g. \"http://127.0.0.1:8080/crl\"";
        // Shown as Rust quotes it: a newline in the value cannot forge a
        // line of the message.
        let shown = format!("{text:?}");
        if text.len() > MAX_URL {
            return Err(format!(
                "is {} bytes long; a URL in a certificate may have at most {MAX_URL}",
                text.len()
            ));
        }
        let Some(rest) = text.strip_prefix("http://") else {
            return Err(format!(
                "{shown} is not an http:// URL: clients fetch CRLs and ask OCSP over plain HTTP (the answers are signed); {EXAMPLE}"
            ));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => match parse_port(port) {
                Some(p) => (host, p),
                None => return Err(format!("{shown} has a bad port {port:?}; {EXAMPLE}")),
            },
            None => (authority, 80),
        };
        if !is_host(host) {
            return Err(format!(
                "{shown} needs a host name (letters, digits and '-' in dot-separated labels) or an IPv4 address, no user and no IPv6 brackets; {EXAMPLE}"
            ));
        }
        path_problem(path).map_or(Ok(()), |why| Err(format!("{shown} {why}; {EXAMPLE}")))?;
        Ok(HttpUrl {
            host: host.to_ascii_lowercase(),
            port,
            path: path.to_string(),
        })
    }

    /// Where a server for it listens: `HOST:PORT`.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            80 => write!(f, "http://{}{}", self.host, self.path),
            port => write!(f, "http://{}:{port}{}", self.host, self.path),
        }
    }
}

/// The longest URL pkiforge writes into a certificate: every certificate
/// the CA signs carries it, and clients fetch it.
pub const MAX_URL: usize = 512;

/// A port as digits alone, without a sign or a leading zero, 1 to 65535.
fn parse_port(port: &str) -> Option<u16> {
    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    if !digits || port.starts_with('0') {
        return None;
    }
    port.parse::<u16>().ok().filter(|p| *p > 0)
}

/// A DNS name of letters, digits and '-' in labels of 1 to 63 that do not
/// start or end with '-', or a dotted IPv4 address.
fn is_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    if labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return host.parse::<std::net::Ipv4Addr>().is_ok();
    }
    labels.iter().all(|l| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

/// What is wrong with a URL's path, if anything: it needs one beyond `/`,
/// of unreserved characters and `/`, with no empty, `.` or `..` segment,
/// and percent-encoding of two hex digits that is no control character.
fn path_problem(path: &str) -> Option<String> {
    if path.len() < 2 {
        return Some("needs a path, which says what is served there".into());
    }
    if let Some(c) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/-._~%".contains(*c)))
    {
        return Some(format!(
            "has {c:?} in its path; use letters, digits and / - . _ ~ (percent-encode the rest), no query or fragment"
        ));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Some("has an empty, '.' or '..' segment in its path".into());
    }
    let bytes = path.as_bytes();
    for (i, _) in path.match_indices('%') {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if b >= 0x20 && b != 0x7f => {}
            _ => {
                return Some(
                    "has a '%' that is not two hex digits of a printable character".into(),
                );
            }
        }
    }
    None
}

/// A CA's revocation pointers, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointers {
    /// Where its CRL is served (DER).
    pub crl: Option<HttpUrl>,
    /// Where its OCSP responder answers.
    pub ocsp: Option<HttpUrl>,
    /// Where its certificate is served (DER).
    pub ca_issuers: Option<HttpUrl>,
    /// Whether its OCSP answers are signed by a certificate of their own
    /// (`NAME.ocsp.crt`, for OCSP signing alone), not by the CA's key:
    /// the profile's `ocsp_signer = true`, with an `ocsp_url`.
    pub ocsp_signer: bool,
}

/// The profile key that asks for an OCSP-signing certificate.
pub const OCSP_SIGNER_KEY: &str = "ocsp_signer";

/// The profile's keys, in the order [`Pointers::all`] gives them.
pub const KEYS: [&str; 3] = ["crl_url", "ocsp_url", "ca_issuers_url"];

impl Pointers {
    pub fn is_empty(&self) -> bool {
        self.all().iter().all(|(_, u)| u.is_none())
    }

    /// Each pointer with its profile key.
    pub fn all(&self) -> [(&'static str, Option<&HttpUrl>); 3] {
        [
            (KEYS[0], self.crl.as_ref()),
            (KEYS[1], self.ocsp.as_ref()),
            (KEYS[2], self.ca_issuers.as_ref()),
        ]
    }

    /// The pointers a certificate carries (the first URL of each kind that
    /// pkiforge can write): what its CA puts in what it signs, read back
    /// for a renewal.
    pub fn from_urls(crl: &[String], ocsp: &[String], ca_issuers: &[String]) -> Pointers {
        let first = |urls: &[String]| urls.iter().find_map(|u| HttpUrl::parse(u).ok());
        Pointers {
            crl: first(crl),
            ocsp: first(ocsp),
            ca_issuers: first(ca_issuers),
            ocsp_signer: false,
        }
    }

    /// The lines of an `-extfile` that carry them into a certificate this
    /// CA signs: CRL Distribution Points, and Authority Information Access
    /// with the OCSP responder and the CA's certificate. None without any.
    pub fn extension_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(crl) = &self.crl {
            lines.push(format!("crlDistributionPoints=URI:{crl}"));
        }
        let access: Vec<String> = [("OCSP", &self.ocsp), ("caIssuers", &self.ca_issuers)]
            .into_iter()
            .filter_map(|(what, url)| url.as_ref().map(|u| format!("{what};URI:{u}")))
            .collect();
        if !access.is_empty() {
            lines.push(format!("authorityInfoAccess={}", access.join(",")));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_say_why() {
        let u = HttpUrl::parse("http://127.0.0.1:8080/ca.crl").unwrap();
        assert_eq!(
            (u.authority(), u.path.as_str()),
            ("127.0.0.1:8080".into(), "/ca.crl")
        );
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/ca.crl");
        assert_eq!(
            HttpUrl::parse("http://PKI.test/x").unwrap().to_string(),
            "http://pki.test/x"
        );
        for bad in [
            "https://a/x",
            "http://a",
            "http://a/",
            "http://a:0/x",
            "http://a:99999/x",
            "http://u@a/x",
            "http://a/x?y",
            "http://a/x,URI:http://evil/",
            "http://a/x y",
            "http://a/$HOME",
            "http://[::1]/x",
            "http://a/x\n",
            "http://a:+80/x",
            "http://a:080/x",
            "http://-/x",
            "http://../x",
            "http://a..b/x",
            "http://999.999.999.999/x",
            "http://a//",
            "http://a/..",
            "http://a/./x",
            "http://a/%zz",
            "http://a/%0a",
            "http://a/x%",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_message_quotes_the_value_and_a_long_url_is_refused() {
        let why = HttpUrl::parse("http://a/x\nbasicConstraints=CA:TRUE").unwrap_err();
        assert!(
            why.starts_with("\"http://a/x\\nbasicConstraints=CA:TRUE\" has '\\n' in its path"),
            "{why}"
        );
        let long = format!("http://a/{}", "x".repeat(MAX_URL));
        assert_eq!(
            HttpUrl::parse(&long).unwrap_err(),
            format!(
                "is {} bytes long; a URL in a certificate may have at most 512",
                long.len()
            )
        );
        assert!(HttpUrl::parse("http://10.0.0.1:65535/a/b-c_d.e~f%41").is_ok());
    }

    #[test]
    fn pointers_become_extension_lines() {
        let url = |s| Some(HttpUrl::parse(s).unwrap());
        let p = Pointers {
            crl: url("http://h:8080/ca.crl"),
            ocsp: url("http://h:8080/ocsp"),
            ca_issuers: url("http://h:8080/ca.cer"),
            ocsp_signer: false,
        };
        assert_eq!(
            p.extension_lines(),
            [
                "crlDistributionPoints=URI:http://h:8080/ca.crl",
                "authorityInfoAccess=OCSP;URI:http://h:8080/ocsp,caIssuers;URI:http://h:8080/ca.cer"
            ]
        );
        assert!(Pointers::default().extension_lines().is_empty());
    }
}
