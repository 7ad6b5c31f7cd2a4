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
        let Some(rest) = text.strip_prefix("http://") else {
            return Err(format!(
                "\"{text}\" is not an http:// URL: clients fetch CRLs and ask OCSP over plain HTTP (the answers are signed); {EXAMPLE}"
            ));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => match port.parse::<u16>() {
                Ok(p) if p > 0 => (host, p),
                _ => return Err(format!("\"{text}\" has a bad port \"{port}\"; {EXAMPLE}")),
            },
            None => (authority, 80),
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !host_ok {
            return Err(format!(
                "\"{text}\" needs a host name or IPv4 address of letters, digits, '.' and '-' (no user, no IPv6 brackets); {EXAMPLE}"
            ));
        }
        if path.len() < 2 {
            return Err(format!(
                "\"{text}\" needs a path, which says what is served there; {EXAMPLE}"
            ));
        }
        if let Some(c) = path
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "/-._~%".contains(*c)))
        {
            return Err(format!(
                "\"{text}\" has '{c}' in its path; use letters, digits and / - . _ ~ (percent-encode the rest), no query or fragment; {EXAMPLE}"
            ));
        }
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

/// A CA's revocation pointers, each optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointers {
    /// Where its CRL is served (DER).
    pub crl: Option<HttpUrl>,
    /// Where its OCSP responder answers.
    pub ocsp: Option<HttpUrl>,
    /// Where its certificate is served (DER).
    pub ca_issuers: Option<HttpUrl>,
}

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
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pointers_become_extension_lines() {
        let url = |s| Some(HttpUrl::parse(s).unwrap());
        let p = Pointers {
            crl: url("http://h:8080/ca.crl"),
            ocsp: url("http://h:8080/ocsp"),
            ca_issuers: url("http://h:8080/ca.cer"),
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
