//! The HTTP side of `serve`, on tiny_http: the calling thread takes each
//! request from the server and queues it for a fixed pool of workers; a
//! full queue gets a 503 at once, a body over [`BODY_LIMIT`] a 413. Every
//! request is logged on one line on stdout. Ctrl-C or SIGTERM stops it
//! within a second: the calling thread looks every [`TICK`], the workers
//! finish what they have and the server closes.

use std::io::Read;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tiny_http::{Header, Request, Response, Server};

use crate::error::{Error, Result};

use super::{BODY_LIMIT, Handler, Reply};

/// How many requests are answered at once.
pub const WORKERS: usize = 4;
/// How many more may wait for a worker; past that, 503.
pub const QUEUE: usize = 64;
/// How often the calling thread looks for a signal.
const TICK: Duration = Duration::from_millis(100);

/// Listens on `listen` (`HOST:PORT`), or says why it cannot.
pub fn listen(listen: &str) -> Result<Server> {
    Server::http(listen).map_err(|e| {
        Error::Usage(format!(
            "cannot listen on {listen}: {e}; stop what listens there, or pass --listen ADDR:PORT (the URLs in the certificates must then lead there)"
        ))
    })
}

/// Serves until Ctrl-C or SIGTERM; returns how many requests it answered.
pub fn serve(server: &Server, handler: &Handler) -> usize {
    let answered = Mutex::new(0usize);
    let (queue, taken) = sync_channel::<Request>(QUEUE);
    let taken = Arc::new(Mutex::new(taken));
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            let taken = Arc::clone(&taken);
            let answered = &answered;
            scope.spawn(move || work(&taken, handler, answered));
        }
        dispatch(server, &queue);
        // Closing the queue ends each worker once it is empty.
        drop(queue);
    });
    answered.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// Takes requests from the server until a signal; a full queue gets a 503.
fn dispatch(server: &Server, queue: &SyncSender<Request>) {
    while crate::signals::raised().is_none() {
        let request = match server.recv_timeout(TICK) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(e) => {
                crate::output::stderr_line(&format!("serve: accepting a request: {e}"));
                continue;
            }
        };
        if let Err(TrySendError::Full(request) | TrySendError::Disconnected(request)) =
            queue.try_send(request)
        {
            let reply = Reply::error(503, format!("busy: {QUEUE} requests wait already"));
            answer(request, reply);
        }
    }
}

fn work(taken: &Mutex<Receiver<Request>>, handler: &Handler, answered: &Mutex<usize>) {
    loop {
        let next = taken.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(mut request) = next else {
            return;
        };
        let reply = match body(&mut request) {
            Ok(body) => {
                let method = request.method().as_str().to_string();
                handler.reply(&method, request.url(), &body)
            }
            Err(reply) => reply,
        };
        answer(request, reply);
        *answered.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    }
}

/// The request's body, at most [`BODY_LIMIT`] bytes; a 413 past that, a
/// 400 when it cannot be read.
fn body(request: &mut Request) -> std::result::Result<Vec<u8>, Reply> {
    let too_big = || Reply::error(413, format!("the body is over {BODY_LIMIT} bytes"));
    if request.body_length().is_some_and(|n| n > BODY_LIMIT) {
        return Err(too_big());
    }
    let mut body = Vec::new();
    let read = request
        .as_reader()
        .take(BODY_LIMIT as u64 + 1)
        .read_to_end(&mut body);
    match read {
        Ok(n) if n > BODY_LIMIT => Err(too_big()),
        Ok(_) => Ok(body),
        Err(e) => Err(Reply::error(400, format!("the body cannot be read: {e}"))),
    }
}

/// Sends the reply and logs the request on one line:
/// `ADDRESS METHOD PATH STATUS NOTE`.
fn answer(request: Request, reply: Reply) {
    let from = request
        .remote_addr()
        .map_or("-".to_string(), |a| a.ip().to_string());
    let line = format!(
        "{from} {} {} {} {}",
        request.method(),
        one_line(request.url()),
        reply.status,
        one_line(&reply.note)
    );
    let mut response = Response::from_data(reply.body).with_status_code(reply.status);
    if let Ok(header) = Header::from_bytes("Content-Type", reply.content_type) {
        response.add_header(header);
    }
    if reply.status >= 400
        && let Ok(header) = Header::from_bytes("Connection", "close")
    {
        // After a bad request, what follows on the connection is suspect.
        response.add_header(header);
    }
    // A client that went away gets no answer; the line says what it asked.
    let _ = request.respond(response);
    crate::output::stdout(&format!("{line}\n"));
}

/// `text` on one line: newlines and tabs escaped too (the rest of the
/// control characters are escaped by `output`).
fn one_line(text: &str) -> String {
    text.replace('\n', "\\n").replace('\t', "\\t")
}
