//! OCSP answers (RFC 6960), signed by the CA: `openssl ocsp` as a
//! responder for one request, started through run/exec.rs, reading the
//! CA's database (`NAME.index`) as it is now. The request and the answer
//! pass through a private directory of `serve`'s scratch space, removed
//! with the answer.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

use crate::pki::names::{self, Files};
use crate::plan::step::path_arg;
use crate::run::exec::Call;
use crate::run::openssl::Openssl;
use crate::run::scratch::{Scratch, write_new};

/// How long one answer may take: generous for a loaded machine, short
/// enough that a stuck openssl does not hold a worker for long.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an answer is good for (its nextUpdate): clients ask again
/// after this, and see a revocation made meanwhile.
const MINUTES_VALID: &str = "5";

/// Why no answer was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// openssl could not read the request: the client's fault (400).
    BadRequest(String),
    /// Anything else: the server's (500), or a stop asked for (503).
    Unavailable(String),
}

/// Answers OCSP requests for the CAs of one PKI directory.
pub struct Responder {
    pub openssl: Openssl,
    pub dir: PathBuf,
    pub scratch: Scratch,
}

impl Responder {
    /// The CA's signed answer to `request` (DER), from its database now.
    pub fn answer(&self, ca: &Files, request: &[u8]) -> Result<Vec<u8>, Failure> {
        let unavailable = |e: crate::error::Error| Failure::Unavailable(e.to_string());
        let case = self.scratch.case_dir().map_err(unavailable)?;
        let (req, resp) = (
            case.path().join(names::serve::OCSP_REQUEST),
            case.path().join(names::serve::OCSP_RESPONSE),
        );
        write_new(&req, request).map_err(unavailable)?;
        let question = Question::Request(&req);
        let call = answer_call(&self.openssl, &self.dir, ca, question, &resp);
        let done = call.run().map_err(unavailable)?;
        if !done.status.success() {
            let said = done.stderr_text();
            let first = said.lines().next().unwrap_or("no reason given").to_string();
            // openssl says "Error reading OCSP request" for what it cannot parse.
            return Err(if said.contains("OCSP request") {
                Failure::BadRequest(first)
            } else {
                Failure::Unavailable(format!("openssl ocsp failed: {first}"))
            });
        }
        std::fs::read(&resp).map_err(|e| Failure::Unavailable(format!("no answer written: {e}")))
    }
}

/// What an answer is to: a request a client sent (DER), or a certificate
/// whose status pkiforge asks of the responder itself (PEM), with the
/// certificate of its issuer.
pub enum Question<'a> {
    Request(&'a Path),
    Certificate { cert: &'a Path, issuer: &'a Path },
}

/// Who signs the answers of CA `ca` in `dir`: its OCSP signer
/// (`NAME.ocsp.crt`, made when the profile asks for one) when `dir` has
/// it, else the CA itself.
pub fn signer_of(dir: &Path, ca: &Files) -> Files {
    let signer = ca.ocsp_signer();
    match std::fs::symlink_metadata(dir.join(signer.crt())) {
        Ok(_) => signer,
        Err(_) => ca.clone(),
    }
}

/// `openssl ocsp` as the responder of CA `ca` in `dir`, answering
/// `question` from the CA's database as it is now, signed by its signer
/// ([`signer_of`]), the answer written to `out` (DER).
pub fn answer_call(
    openssl: &Openssl,
    dir: &Path,
    ca: &Files,
    question: Question<'_>,
    out: &Path,
) -> Call<'static> {
    let in_dir = |file: String| path_arg(&dir.join(file));
    let signer = signer_of(dir, ca);
    let mut args: Vec<OsString> = vec![
        "ocsp".into(),
        "-index".into(),
        in_dir(ca.index()),
        "-CA".into(),
        in_dir(ca.crt()),
        "-rsigner".into(),
        in_dir(signer.crt()),
        "-rkey".into(),
        in_dir(signer.key()),
    ];
    match question {
        Question::Request(req) => args.extend(["-reqin".into(), path_arg(req)]),
        // A request made on the spot, without a nonce: the answer may be
        // stapled, sent to any client.
        Question::Certificate { cert, issuer } => args.extend([
            "-issuer".into(),
            path_arg(issuer),
            "-cert".into(),
            path_arg(cert),
            "-no_nonce".into(),
        ]),
    }
    args.extend([
        "-respout".into(),
        path_arg(out),
        // A nextUpdate, so that clients cache the answer for a while
        // (https://docs.openssl.org/master/man1/openssl-ocsp/).
        "-nmin".into(),
        MINUTES_VALID.into(),
    ]);
    openssl.call(
        args,
        &format!("ocsp responder of {}", ca.name),
        ANSWER_TIMEOUT,
    )
}

/// The DER request of an OCSP GET: the path's rest, percent-decoded, then
/// standard base64 (RFC 6960, appendix A.1).
pub fn request_of_get(rest: &str) -> Result<Vec<u8>, String> {
    let text = percent_decode(rest).ok_or("a bad %-escape in the path")?;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim_end_matches('\n'))
        .map_err(|e| format!("not base64: {e}"))
}

/// `%2B` and the like decoded; `None` for a bad escape or bytes that are
/// not text.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_request_is_percent_decoded_then_base64() {
        assert_eq!(request_of_get("MAE%3D"), Ok(vec![0x30, 0x01]));
        assert_eq!(request_of_get("a%2Bb%2F"), Ok(vec![0x6b, 0xe6, 0xff]));
        assert_eq!(
            request_of_get("%zz"),
            Err("a bad %-escape in the path".into())
        );
        assert_eq!(
            request_of_get("!!!!"),
            Err("not base64: Invalid symbol 33, offset 0.".into())
        );
    }
}
