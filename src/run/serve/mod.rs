//! `pkiforge serve`: each CA's certificate, CRL and OCSP responder over
//! HTTP, at the paths its certificates point to ([`routes`]). The HTTP
//! side, its workers and its bounds are in [`http`]; the answers to OCSP
//! requests in [`ocsp`]. Here: what each request gets ([`Handler`]).
//!
//! DIR is read afresh for every request, under its shared lock, taken only
//! while the request reads DIR: a `revoke` in another terminal waits at
//! most for the answer being made, and shows in the next one.

pub mod http;
pub mod ocsp;
pub mod routes;

use std::path::PathBuf;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::run::progress::Progress;
use crate::run::publish::ReadLock;

use ocsp::{Failure, Responder};
use routes::{Route, Routes, What};

/// The largest request body taken (an OCSP request is a few hundred bytes).
pub const BODY_LIMIT: usize = 64 << 10;

/// What a request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// The end of its log line: what was served, or why not.
    pub note: String,
}

impl Reply {
    fn ok(content_type: &'static str, body: Vec<u8>, route: &Route) -> Reply {
        Reply {
            status: 200,
            content_type,
            body,
            note: route.short(),
        }
    }

    /// An error status, with its reason as the body and the note.
    /// A refusal. A client's fault (4xx) is told why; the server's own
    /// (5xx) only that its log says why: the log names files of DIR and
    /// what openssl printed, which a client in the room need not read.
    pub fn error(status: u16, why: impl Into<String>) -> Reply {
        let note: String = why.into();
        let body = match status {
            500.. => "the server could not answer; its log says why".to_string(),
            _ => note.clone(),
        };
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: format!("{body}\n").into_bytes(),
            note,
        }
    }
}

/// DIR's lock, shared, held while any request reads DIR and let go when
/// none does. POSIX record locks are the process's, not a thread's: the
/// workers share one hold, counted here, rather than each taking its own.
/// Overlapping requests would keep it for as long as they come, and a
/// `revoke` waiting for it with them: a hold older than [`HOLD_AT_MOST`]
/// takes no new request, and once its last one is done the lock stays free
/// for [`WRITER_GAP`], for a writer that tries again to take it.
struct DirLock {
    dir: PathBuf,
    held: Mutex<Held>,
    /// Told when the last request of a hold is done.
    done: Condvar,
}

#[derive(Default)]
struct Held {
    /// How many requests read DIR now.
    count: usize,
    lock: Option<ReadLock>,
    /// When the hold was taken.
    since: Option<Instant>,
    /// Until when no new hold is taken.
    gap_until: Option<Instant>,
}

/// How long one hold of DIR's lock takes new requests.
const HOLD_AT_MOST: Duration = Duration::from_millis(250);

/// How long the lock stays free after a hold that lasted that long: more
/// than the 50 ms between a waiting writer's tries.
const WRITER_GAP: Duration = Duration::from_millis(150);

impl DirLock {
    fn new(dir: PathBuf) -> DirLock {
        DirLock {
            dir,
            held: Mutex::new(Held::default()),
            done: Condvar::new(),
        }
    }

    fn hold<T>(&self, read: impl FnOnce() -> T) -> Result<T> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            let old = held.since.is_some_and(|s| now - s > HOLD_AT_MOST);
            match held.gap_until {
                Some(until) if now < until => {
                    drop(held);
                    std::thread::sleep(until - now);
                    held = self.held.lock().unwrap_or_else(|p| p.into_inner());
                }
                _ if held.count > 0 && old => {
                    held = self.done.wait(held).unwrap_or_else(|p| p.into_inner());
                }
                _ => break,
            }
        }
        if held.count == 0 {
            held.lock = Some(ReadLock::take(&self.dir, &Progress::for_stderr(true))?);
            held.since = Some(Instant::now());
            held.gap_until = None;
        }
        held.count += 1;
        drop(held);
        let out = read();
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.count -= 1;
        if held.count == 0 {
            if held.since.is_some_and(|s| s.elapsed() > HOLD_AT_MOST) {
                held.gap_until = Some(Instant::now() + WRITER_GAP);
            }
            held.lock = None;
            held.since = None;
            self.done.notify_all();
        }
        Ok(out)
    }
}

/// Answers each request from the routes and DIR as it is now.
pub struct Handler {
    pub routes: Routes,
    pub responder: Responder,
    lock: DirLock,
}

impl Handler {
    pub fn new(routes: Routes, responder: Responder) -> Handler {
        let lock = DirLock::new(responder.dir.clone());
        Handler {
            routes,
            responder,
            lock,
        }
    }

    /// The reply to `method path` with `body` (at most [`BODY_LIMIT`]).
    pub fn reply(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        let Some((route, rest)) = self.routes.find(path) else {
            return Reply::error(404, "nothing is served at this path");
        };
        match (route.what, method, rest) {
            (What::Ocsp, "POST", None) => self.ocsp(route, body.to_vec()),
            (What::Ocsp, "GET", Some(rest)) => match ocsp::request_of_get(rest) {
                Ok(request) => self.ocsp(route, request),
                Err(why) => Reply::error(400, format!("bad OCSP GET request: {why}")),
            },
            (What::Ocsp, _, _) => Reply::error(
                405,
                "OCSP takes a POST of application/ocsp-request, or a GET of /PATH/BASE64",
            ),
            (What::Crl | What::CaCert, "GET" | "HEAD", None) => self.file(route),
            _ => Reply::error(405, "only GET and HEAD are served here"),
        }
    }

    fn ocsp(&self, route: &Route, request: Vec<u8>) -> Reply {
        match self
            .lock
            .hold(|| self.responder.answer(&route.ca, &request))
        {
            Ok(Ok(answer)) => Reply::ok("application/ocsp-response", answer, route),
            Ok(Err(Failure::BadRequest(why))) => {
                Reply::error(400, format!("bad OCSP request: {why}"))
            }
            Ok(Err(Failure::Unavailable(why))) => {
                Reply::error(500, format!("no OCSP answer: {why}"))
            }
            Err(e) => Reply::error(503, format!("DIR cannot be read now: {e}")),
        }
    }

    /// The CA's CRL or certificate, in DER, as the file is now.
    fn file(&self, route: &Route) -> Reply {
        let (file, label, content_type) = match route.what {
            What::Crl => (route.ca.crl(), "X509 CRL", "application/pkix-crl"),
            _ => (route.ca.crt(), "CERTIFICATE", "application/pkix-cert"),
        };
        let dir = &self.responder.dir;
        let read = self
            .lock
            .hold(|| crate::files::read_regular(&dir.join(&file)));
        match read {
            Ok(Ok(bytes)) => match der_of(&bytes, label) {
                Some(der) => Reply::ok(content_type, der, route),
                None => Reply::error(500, format!("{file} holds no {label}")),
            },
            Ok(Err(e)) => Reply::error(500, format!("{file}: {e}")),
            Err(e) => Reply::error(503, format!("DIR cannot be read now: {e}")),
        }
    }
}

/// The first PEM block labelled `label`, decoded; a file that is not PEM
/// is taken to be DER already.
fn der_of(bytes: &[u8], label: &str) -> Option<Vec<u8>> {
    if !bytes.starts_with(b"-----BEGIN") {
        return Some(bytes.to_vec());
    }
    crate::pki::x509::pem_blocks(bytes, label)
        .ok()?
        .into_iter()
        .next()
}

/// What `serve` prints as it starts: one line per route, then what is not
/// served.
pub fn start_lines(routes: &Routes) -> String {
    let mut out = String::new();
    for route in &routes.routes {
        out.push_str(&format!("{}  {}\n", route.url, route.describe()));
    }
    for line in &routes.not_served {
        out.push_str(&format!("not served here: {line}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_becomes_der_and_der_stays() {
        let pem = b"-----BEGIN X509 CRL-----\nMAE=\n-----END X509 CRL-----\n";
        assert_eq!(der_of(pem, "X509 CRL"), Some(vec![0x30, 0x01]));
        assert_eq!(der_of(&[0x30, 0x01], "X509 CRL"), Some(vec![0x30, 0x01]));
        assert_eq!(der_of(pem, "CERTIFICATE"), None);
    }
}
