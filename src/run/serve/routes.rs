//! What `serve` serves, read from a PKI's certificates: for each CA (the
//! root and the intermediate), the URLs that the certificates it signed
//! carry. A path two things claim, and a URL on another host or port than
//! the one served, are set aside with the reason, never served.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::pki::names::{Files, Role};
use crate::pki::pointers::HttpUrl;
use crate::pki::read::Pki;

/// Where `serve` listens when the certificates name nowhere.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// What a path serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum What {
    /// The CA's CRL (`NAME.crl`), in DER.
    Crl,
    /// The CA's OCSP responder, answering from `NAME.index`.
    Ocsp,
    /// The CA's certificate (`NAME.crt`), in DER.
    CaCert,
}

/// One path served: what, and for which CA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub url: HttpUrl,
    pub what: What,
    pub ca: Files,
}

impl Route {
    /// `the CRL of ca (ca.crl)`: what a start line and a log line say.
    pub fn describe(&self) -> String {
        let name = &self.ca.name;
        match self.what {
            What::Crl => format!("the CRL of {name} ({})", self.ca.crl()),
            What::Ocsp => format!("the OCSP responder of {name} ({})", self.ca.index()),
            What::CaCert => format!("the certificate of {name} ({})", self.ca.crt()),
        }
    }

    /// `crl of ca`: the end of a log line.
    pub fn short(&self) -> String {
        let what = match self.what {
            What::Crl => "crl",
            What::Ocsp => "ocsp",
            What::CaCert => "certificate",
        };
        format!("{what} of {}", self.ca.name)
    }
}

/// Every route of a PKI, where it listens, and what is not served.
#[derive(Debug, Clone)]
pub struct Routes {
    /// `HOST:PORT`, as given to `--listen` or found in the URLs.
    pub listen: String,
    pub routes: Vec<Route>,
    /// One line for each URL set aside: the URL, what it is, and why.
    pub not_served: Vec<String>,
}

impl Routes {
    /// The routes of the PKI in `pki`, listening on `listen` if given, else
    /// on the authority its URLs share (the first CA's first, if they
    /// differ). An error when the PKI has no URL to serve.
    pub fn of(pki: &Pki, listen: Option<&str>) -> Result<Routes> {
        let claims = claims(pki)?;
        if claims.is_empty() {
            return Err(no_pointers(pki));
        }
        let listen = match listen {
            Some(l) if !is_address(l) => {
                return Err(Error::Usage(format!(
                    "--listen {l}: give ADDR:PORT, e.g. 127.0.0.1:8080, or 0.0.0.0:8080 to be reached from other machines"
                )));
            }
            Some(l) => l.to_string(),
            None => claims[0].url.authority(),
        };
        let mut routes = Routes {
            listen,
            routes: Vec::new(),
            not_served: Vec::new(),
        };
        let mut by_path: BTreeMap<String, Vec<Route>> = BTreeMap::new();
        for route in claims {
            by_path
                .entry(route.url.path.clone())
                .or_default()
                .push(route);
        }
        for (path, claimed) in by_path {
            routes.sort_out(&path, claimed);
        }
        if routes.routes.is_empty() {
            return Err(Error::Usage(format!(
                "nothing of {} can be served on {}:\n  {}\n  Serve where the certificates point (leave out --listen), or make them point here with the profile's crl_url, ocsp_url and ca_issuers_url.",
                pki.dir().display(),
                routes.listen,
                routes.not_served.join("\n  ")
            )));
        }
        Ok(routes)
    }

    /// Keeps the one route that claims `path`, served here; or sets aside
    /// what claims it, saying why.
    fn sort_out(&mut self, path: &str, mut claimed: Vec<Route>) {
        claimed.dedup_by(|a, b| a.what == b.what && a.ca == b.ca && a.url == b.url);
        if claimed.len() > 1 {
            let what: Vec<String> = claimed.iter().map(Route::describe).collect();
            self.not_served.push(format!(
                "{path}: claimed by {}; give each its own path",
                what.join(" and ")
            ));
            return;
        }
        let route = claimed.remove(0);
        if !served_at(&route.url, &self.listen) {
            self.not_served.push(format!(
                "{} ({}): not on {}, where this serves",
                route.url,
                route.describe(),
                self.listen
            ));
            return;
        }
        self.routes.push(route);
    }

    /// The route for a request's path: its own path, or for an OCSP
    /// responder, its path and `/` and a base64 request (GET).
    pub fn find<'p>(&self, path: &'p str) -> Option<(&Route, Option<&'p str>)> {
        self.routes.iter().find_map(|r| {
            if path == r.url.path {
                return Some((r, None));
            }
            let rest = path.strip_prefix(r.url.path.as_str())?;
            let rest = rest.strip_prefix('/').or_else(|| {
                // A path that ends in '/' already: openssl adds none.
                r.url.path.ends_with('/').then_some(rest)
            })?;
            (r.what == What::Ocsp && !rest.is_empty()).then_some((r, Some(rest)))
        })
    }
}

/// Whether `listen` reads as `HOST:PORT` (a port above 0).
fn is_address(listen: &str) -> bool {
    listen
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
}

/// Whether a URL is served by a server listening on `listen`: the same
/// port, and the same host, unless it listens on every address.
fn served_at(url: &HttpUrl, listen: &str) -> bool {
    let Some((host, port)) = listen.rsplit_once(':') else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    port.parse::<u16>() == Ok(url.port)
        && (host.eq_ignore_ascii_case(&url.host) || host == "0.0.0.0" || host == "::")
}

/// Every URL in the certificates each CA signed, in the CAs' order
/// (root, intermediate) and then the certificates'.
fn claims(pki: &Pki) -> Result<Vec<Route>> {
    let layout = pki.layout()?;
    let cas = std::iter::once(&layout.ca).chain(layout.intermediate.as_ref());
    let certs = &pki.certificates()?.certs;
    let mut out: Vec<Route> = Vec::new();
    for ca in cas {
        let crt = ca.crt();
        let subject = pki.certificate(&crt).map_err(|e| e.naming(&crt))?.subject;
        for cert in certs
            .iter()
            .filter(|c| c.issuer == subject && !c.self_issued)
        {
            let urls = [
                (What::Crl, &cert.crl_urls),
                (What::Ocsp, &cert.ocsp_urls),
                (What::CaCert, &cert.ca_issuers_urls),
            ];
            for (what, list) in urls {
                for url in list.iter().filter_map(|u| HttpUrl::parse(u).ok()) {
                    let route = Route {
                        url,
                        what,
                        ca: ca.clone(),
                    };
                    if !out.contains(&route) {
                        out.push(route);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn no_pointers(pki: &Pki) -> Error {
    let crl = Files::new(Role::Ca.table(), Role::Ca).crl();
    let dir = pki.dir().display();
    Error::Usage(format!(
        "{dir} has no revocation pointers to serve: no certificate its CA signed names a CRL, an OCSP responder or the CA's certificate.\n  Add crl_url, ocsp_url and ca_issuers_url to the profile's [ca] (and [intermediate]), e.g. crl_url = \"http://{DEFAULT_LISTEN}/{crl}\", then make the PKI again with `pkiforge run PROFILE --out {dir} --force` (profiles/revocation.toml shows how)."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(url: &str, what: What) -> Route {
        Route {
            url: HttpUrl::parse(url).unwrap(),
            what,
            ca: Files::new("ca", Role::Ca),
        }
    }

    fn routes(list: Vec<(&str, What)>, listen: &str) -> Routes {
        let mut routes = Routes {
            listen: listen.into(),
            routes: Vec::new(),
            not_served: Vec::new(),
        };
        let mut by_path: BTreeMap<String, Vec<Route>> = BTreeMap::new();
        for (url, what) in list {
            let r = route(url, what);
            by_path.entry(r.url.path.clone()).or_default().push(r);
        }
        for (path, claimed) in by_path {
            routes.sort_out(&path, claimed);
        }
        routes
    }

    #[test]
    fn a_path_claimed_twice_or_elsewhere_is_not_served() {
        let r = routes(
            vec![
                ("http://127.0.0.1:8080/ca.crl", What::Crl),
                ("http://127.0.0.1:8080/x", What::Ocsp),
                ("http://127.0.0.1:8080/x", What::CaCert),
                ("http://127.0.0.1:9090/ocsp", What::Ocsp),
            ],
            "127.0.0.1:8080",
        );
        assert_eq!(r.routes, [route("http://127.0.0.1:8080/ca.crl", What::Crl)]);
        assert_eq!(
            r.not_served,
            [
                "http://127.0.0.1:9090/ocsp (the OCSP responder of ca (ca.index)): not on 127.0.0.1:8080, where this serves".to_string(),
                "/x: claimed by the OCSP responder of ca (ca.index) and the certificate of ca (ca.crt); give each its own path".into(),
            ]
        );
    }

    #[test]
    fn listen_is_host_and_port() {
        assert!(is_address("127.0.0.1:8080"));
        assert!(is_address("[::1]:8080"));
        for bad in ["8080", "127.0.0.1", ":8080", "h:0", "h:x", "h:99999"] {
            assert!(!is_address(bad), "{bad}");
        }
    }

    #[test]
    fn an_ocsp_get_carries_the_request_after_the_path() {
        let r = routes(
            vec![
                ("http://h:80/ocsp", What::Ocsp),
                ("http://h:80/ca.crl", What::Crl),
            ],
            "0.0.0.0:80",
        );
        let found = |p| r.find(p).map(|(r, rest)| (r.what, rest));
        assert_eq!(found("/ocsp"), Some((What::Ocsp, None)));
        assert_eq!(found("/ocsp/MEMw"), Some((What::Ocsp, Some("MEMw"))));
        assert_eq!(found("/ca.crl"), Some((What::Crl, None)));
        assert_eq!(found("/ca.crl/x"), None);
        assert_eq!(found("/ocspx"), None);
        assert_eq!(found("/"), None);
    }
}
