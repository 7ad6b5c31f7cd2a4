//! The HTTP side of `serve`, on hyper (HTTP/1.1) and a small tokio
//! runtime. Its bounds: at most [`CONNECTIONS`] connections open (one
//! more gets a 503 and is closed), a request's head read within
//! [`HEAD_TIMEOUT`], a connection closed after [`CONNECTION_TIMEOUT`], a
//! body of at most [`BODY_LIMIT`] bytes (413 past that), and at most
//! [`WORKERS`] answers made at once (each reads DIR, some start openssl).
//! Every request is logged on one line on stdout. Ctrl-C or SIGTERM stops
//! it within a second: the accept loop looks every [`TICK`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

use super::{BODY_LIMIT, Handler, Reply};

/// How many answers are made at once.
pub const WORKERS: usize = 4;
/// How many connections may be open at once.
pub const CONNECTIONS: usize = 64;
/// How long a client may take to send a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may stay open, kept alive or not.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the accept loop looks for a signal.
const TICK: Duration = Duration::from_millis(100);
/// How long answers under way are given once a signal came: openssl stops
/// on the signal by itself (run/exec.rs), well within this.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Serves `handler` on `listen` (`HOST:PORT`) until Ctrl-C or SIGTERM;
/// returns how many requests it answered. An error when it cannot listen.
pub fn serve(listen: &str, handler: Arc<Handler>, started: impl FnOnce()) -> Result<usize> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(WORKERS)
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the HTTP server's threads", e))?;
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = Arc::clone(&answered);
    let served = runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await.map_err(|e| {
            Error::Usage(format!(
                "cannot listen on {listen}: {e}; stop what listens there, or pass --listen ADDR:PORT (the URLs in the certificates must then lead there)"
            ))
        })?;
        started();
        accept_until_signal(&listener, handler, count).await;
        Ok(())
    });
    // What is under way is dropped: its openssl, if any, stops on the signal.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    served.map(|()| answered.load(std::sync::atomic::Ordering::SeqCst))
}

/// Accepts connections until a signal, each served on a task of its own.
async fn accept_until_signal(
    listener: &TcpListener,
    handler: Arc<Handler>,
    answered: Arc<std::sync::atomic::AtomicUsize>,
) {
    let open = Arc::new(Semaphore::new(CONNECTIONS));
    let mut tick = tokio::time::interval(TICK);
    while crate::signals::raised().is_none() {
        let (stream, peer) = tokio::select! {
            _ = tick.tick() => continue,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    crate::output::stderr_line(&format!("serve: cannot accept a connection: {e}"));
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            tokio::spawn(refuse(stream, peer));
            continue;
        };
        let (handler, answered) = (Arc::clone(&handler), Arc::clone(&answered));
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (handler, answered) = (Arc::clone(&handler), Arc::clone(&answered));
                async move {
                    let response = respond(handler, peer, request).await;
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, std::convert::Infallible>(response)
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            // A connection that outstays its time is closed, unanswered; one
            // hyper ends for a request it cannot read (400, 414, 408, or
            // none for what is not HTTP/1) is logged, as every request is.
            match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
                Err(_) => log(
                    peer,
                    "-",
                    "-",
                    408,
                    "closed: the connection outstayed its time",
                ),
                Ok(Err(e)) if !e.is_incomplete_message() => {
                    log(peer, "-", "-", 400, &format!("closed: {e}"));
                }
                Ok(_) => {}
            }
            drop(permit);
        });
    }
}

/// One connection too many: a 503, logged, and closed.
async fn refuse(mut stream: TcpStream, peer: SocketAddr) {
    let why = format!("busy: {CONNECTIONS} connections are open");
    let text = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{why}\n",
        why.len() + 1
    );
    let _ = tokio::time::timeout(HEAD_TIMEOUT, stream.write_all(text.as_bytes())).await;
    log(peer, "-", "-", 503, &why);
}

/// The reply to one request, logged.
async fn respond(
    handler: Arc<Handler>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let method = request.method().as_str().to_string();
    // A CONNECT names an authority, not a path: that is what is logged.
    let uri = request.uri();
    let path = match uri.path() {
        "" => uri.to_string(),
        p => p.to_string(),
    };
    let too_big = request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|n| n > BODY_LIMIT);
    let reply = if too_big {
        body_too_big()
    } else {
        let body = Limited::new(request.into_body(), BODY_LIMIT).collect();
        // The body, as the head, must arrive within HEAD_TIMEOUT: one
        // trickled a byte at a time would hold a connection for a minute.
        let Ok(body) = tokio::time::timeout(HEAD_TIMEOUT, body).await else {
            let reply = Reply::error(408, "the body did not arrive in time");
            log(peer, &method, &path, reply.status, &reply.note);
            return to_response(reply, false);
        };
        match body {
            Ok(body) => {
                let body = body.to_bytes();
                let (m, p) = (method.clone(), path.clone());
                // Reading DIR and openssl block: off the runtime's threads.
                tokio::task::spawn_blocking(move || handler.reply(&m, &p, &body))
                    .await
                    .unwrap_or_else(|_| Reply::error(500, "the answer was not made"))
            }
            Err(e) if e.is::<http_body_util::LengthLimitError>() => body_too_big(),
            Err(e) => Reply::error(400, format!("the body cannot be read: {e}")),
        }
    };
    log(peer, &method, &path, reply.status, &reply.note);
    to_response(reply, method == "HEAD")
}

fn body_too_big() -> Reply {
    Reply::error(413, format!("the body is over {BODY_LIMIT} bytes"))
}

fn to_response(reply: Reply, head: bool) -> Response<Full<Bytes>> {
    let length = reply.body.len();
    let body = if head { Vec::new() } else { reply.body };
    let mut response = Response::builder()
        .status(reply.status)
        .header(hyper::header::CONTENT_TYPE, reply.content_type)
        .header(hyper::header::CONTENT_LENGTH, length);
    if reply.status >= 400 {
        // After a bad request, what follows on the connection is suspect.
        response = response.header(hyper::header::CONNECTION, "close");
    }
    response
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// One line on stdout: `ADDRESS METHOD PATH STATUS NOTE`, each field
/// [`shown`] so that no request can break the line or reorder what a
/// terminal shows; an empty field as `-`.
fn log(peer: SocketAddr, method: &str, path: &str, status: u16, note: &str) {
    crate::output::stdout(&format!(
        "{} {} {} {status} {}\n",
        peer.ip(),
        shown(method),
        shown(path),
        shown(note)
    ));
}

/// A field of a log line: controls (newlines, tabs, escapes) and the
/// invisible characters that reorder or hide text in a terminal
/// (bidirectional overrides and isolates, zero-width characters) written
/// as `\u{…}`, the rest as it is; `-` when empty.
fn shown(field: &str) -> String {
    if field.is_empty() {
        return "-".into();
    }
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
    };
    field
        .chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\t' => "\\t".to_string(),
            c if hidden(c) => format!("\\u{{{:x}}}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn a_log_field_cannot_break_the_line_or_reorder_the_terminal() {
        assert_eq!(shown(""), "-");
        assert_eq!(shown("/ocsp"), "/ocsp");
        assert_eq!(shown("/a\nb\tc"), "/a\\nb\\tc");
        assert_eq!(shown("/x\u{202e}gpj.exe"), "/x\\u{202e}gpj.exe");
        assert_eq!(shown("\u{1b}[31m"), "\\u{1b}[31m");
        assert_eq!(shown("/caf\u{e9}\u{200b}"), "/caf\u{e9}\\u{200b}");
    }
}
