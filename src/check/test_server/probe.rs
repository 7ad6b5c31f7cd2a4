//! One connection to the server under test: `openssl s_client` through
//! run/exec.rs, presenting a client's certificate and chain (or none),
//! verifying the server against the PKI's CA, sending a line or an HTTP
//! request, and reading what comes back: an answer, an HTTP status, a TLS
//! alert, the connection closed, or nothing before the deadline.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::check::handshake::{last_error, verify_error_lines};
use crate::error::{Error, Result};
use crate::pki::names;
use crate::plan::step::path_arg;
use crate::run::openssl::Openssl;
use crate::run::scratch::{self, Scratch};
use crate::signals;

use super::Target;

/// After the handshake, how long a server that neither answers the line
/// sent nor sends an alert is given before it counts as having accepted.
/// A refusing TLS 1.3 server sends its alert as it reads the client's
/// certificate, at once; seconds are generous on a loaded machine.
pub const QUIET: Duration = Duration::from_secs(3);
/// What is sent without `--http`.
pub const PING: &str = "pkiforge test-server ping";

/// What the client presents: a certificate with its chain, and its key.
pub struct Client {
    /// `NAME.pem`: the certificate, then the chain it sends.
    pub bundle: PathBuf,
    pub key: PathBuf,
}

/// How every connection of a run is made.
pub struct Probe<'a> {
    pub openssl: &'a Openssl,
    pub target: &'a Target,
    /// The PKI's trust anchor, `ca.crt`.
    pub ca: &'a Path,
    /// The name the server's certificate must carry.
    pub servername: &'a str,
    /// `--http PATH`.
    pub http: Option<&'a str>,
    /// How long one connection may take, start to end.
    pub deadline: Duration,
    pub scratch: &'a Scratch,
}

/// What the server did with one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// It answered the line (the start of its answer).
    Answered(String),
    /// The handshake completed and nothing came back within [`QUIET`].
    Silent,
    /// Its HTTP status, and the status line.
    Http(u16, String),
    /// It sent this TLS alert (its name, snake_case, or its number).
    Alert(String),
    /// It closed the connection without an answer or an alert.
    Closed { established: bool, said: String },
    /// Nothing happened before the deadline.
    TimedOut { established: bool, seconds: u64 },
}

impl Observed {
    /// Whether the server accepted the client: it answered, stayed quiet
    /// after the handshake, or gave a 2xx or 3xx HTTP status.
    pub fn accepted(&self) -> bool {
        match self {
            Observed::Answered(_) | Observed::Silent => true,
            Observed::Http(status, _) => (200..400).contains(status),
            _ => false,
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Observed::Answered(text) => format!("completed, answered {text:?}"),
            Observed::Silent => format!(
                "completed, no alert and no answer within {} s",
                QUIET.as_secs()
            ),
            Observed::Http(_, line) => line.clone(),
            Observed::Alert(name) => format!("alert {name}"),
            Observed::Closed { established, said } => {
                let when = if *established {
                    "closed after the handshake, without an answer"
                } else {
                    "closed during the handshake"
                };
                match said.as_str() {
                    "" => when.to_string(),
                    said => format!("{when} ({said})"),
                }
            }
            Observed::TimedOut {
                established: true,
                seconds,
            } => format!("completed, no answer within {seconds} s"),
            Observed::TimedOut { seconds, .. } => {
                format!("no handshake within {seconds} s")
            }
        }
    }
}

/// How one s_client ended, before it is judged.
enum Ended {
    Observed(Observed),
    /// s_client would not use the client's certificate at its security
    /// level (a weak key, a SHA-1 signature): try again at level 0.
    CertificateRefusedLocally(String),
}

impl Probe<'_> {
    /// Connects once as `client` (or without a certificate).
    pub fn connect(&self, client: Option<&Client>) -> Result<Observed> {
        let dir = self.scratch.case_dir()?;
        let mut args = self.s_client_args(client, dir.path())?;
        match self.exchange(args.clone(), dir.path(), "first")? {
            Ended::Observed(seen) => Ok(seen),
            Ended::CertificateRefusedLocally(_) => {
                // Only the client's own certificate is at stake: the server
                // is still verified against the CA, by its name.
                args.extend(["-cipher".into(), "DEFAULT@SECLEVEL=0".into()]);
                match self.exchange(args, dir.path(), "again")? {
                    Ended::Observed(seen) => Ok(seen),
                    Ended::CertificateRefusedLocally(said) => Err(Error::BadInput(format!(
                        "openssl s_client cannot present {}: {said}; check the certificate and key are a pair (`pkiforge verify DIR`)",
                        client.map_or(String::new(), |c| c.bundle.display().to_string())
                    ))),
                }
            }
        }
    }

    /// s_client's words: connect, verify the server by its name against
    /// the CA and fail if it does not verify, print the connection on
    /// stderr when it is made (-brief), and keep reading after the request
    /// is sent (-ign_eof).
    fn s_client_args(&self, client: Option<&Client>, dir: &Path) -> Result<Vec<OsString>> {
        let mut args: Vec<OsString> = vec![
            "s_client".into(),
            "-connect".into(),
            self.target.to_string().into(),
            "-CAfile".into(),
            path_arg(self.ca),
            "-verify_return_error".into(),
            "-brief".into(),
            "-ign_eof".into(),
        ];
        if self.servername.parse::<std::net::IpAddr>().is_ok() {
            // An address is no SNI name (RFC 6066).
            args.extend([
                "-noservername".into(),
                "-verify_ip".into(),
                self.servername.into(),
            ]);
        } else {
            args.extend([
                "-servername".into(),
                self.servername.into(),
                "-verify_hostname".into(),
                self.servername.into(),
            ]);
        }
        if let Some(c) = client {
            // -cert takes the first certificate of the bundle; the rest is
            // the chain the client sends after it.
            args.extend([
                "-cert".into(),
                path_arg(&c.bundle),
                "-key".into(),
                path_arg(&c.key),
            ]);
            if let Some(chain) = chain_file(&c.bundle, dir)? {
                args.extend(["-cert_chain".into(), path_arg(&chain)]);
            }
        }
        Ok(args)
    }

    /// What is sent once the handshake is done.
    fn request(&self) -> String {
        match self.http {
            Some(path) => format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pkiforge test-server\r\nConnection: close\r\n\r\n",
                self.servername
            ),
            None => format!("{PING}\n"),
        }
    }

    /// Runs s_client until the server answers, alerts, closes, stays quiet
    /// long enough after the handshake, or the deadline passes.
    fn exchange(&self, args: Vec<OsString>, dir: &Path, attempt: &str) -> Result<Ended> {
        let out = dir.join(format!("{attempt}.out"));
        let err = dir.join(format!("{attempt}.err"));
        let mut call = self.openssl.call(args, "test-server", self.deadline);
        call.stdin = Some(self.request().into_bytes());
        let client = call.spawn(&out, &err)?;
        let deadline = Instant::now() + self.deadline;
        let mut established: Option<Instant> = None;
        loop {
            signals::check()?;
            let exited = client.exited();
            let (stdout, stderr) = (read(&out), read(&err));
            if established.is_none() && stderr.contains("CONNECTION ESTABLISHED") {
                established = Some(Instant::now());
            }
            if let Some(seen) = self.answer(&stdout, exited) {
                return Ok(Ended::Observed(seen));
            }
            if exited {
                return self.ended(&stderr, established.is_some());
            }
            let quiet = established.is_some_and(|at| at.elapsed() >= QUIET.min(self.deadline));
            if quiet && self.http.is_none() {
                return Ok(Ended::Observed(Observed::Silent));
            }
            if Instant::now() >= deadline {
                return Ok(Ended::Observed(Observed::TimedOut {
                    established: established.is_some(),
                    seconds: self.deadline.as_secs(),
                }));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's answer, once there is enough of it: any bytes without
    /// `--http`; with it, the whole status line (or what came before the
    /// connection ended).
    fn answer(&self, stdout: &str, exited: bool) -> Option<Observed> {
        if stdout.is_empty() {
            return None;
        }
        let first = stdout.lines().next().unwrap_or("").trim_end();
        if self.http.is_none() {
            return Some(Observed::Answered(shorten(first)));
        }
        if !stdout.contains('\n') && !exited {
            return None;
        }
        Some(match http_status(first) {
            Some(status) => Observed::Http(status, shorten(first)),
            None => Observed::Answered(shorten(first)),
        })
    }

    /// How s_client ended without an answer: the alert the server sent, the
    /// connection closed, or a problem that is no verdict (an error).
    fn ended(&self, stderr: &str, established: bool) -> Result<Ended> {
        if let Some(why) = server_unverified(stderr) {
            return Err(Error::BadInput(format!(
                "the server at {} does not verify as {} against {}: {why}; serve a server certificate of this PKI, or name the host it was made for with --servername",
                self.target,
                self.servername,
                self.ca.display()
            )));
        }
        if stderr.contains("error setting certificate") {
            let said = last_error(stderr).unwrap_or_default();
            return Ok(Ended::CertificateRefusedLocally(said));
        }
        if let Some(number) = alert_number(stderr) {
            let name = alert_name(number).map_or(number.to_string(), str::to_string);
            return Ok(Ended::Observed(Observed::Alert(name)));
        }
        if !established && stderr.contains("connect:errno=") {
            return Err(Error::BadInput(format!(
                "{} stopped accepting connections during the test: {}",
                self.target,
                last_error(stderr).unwrap_or_default()
            )));
        }
        Ok(Ended::Observed(Observed::Closed {
            established,
            said: last_error(stderr).unwrap_or_default(),
        }))
    }
}

/// The chain after the bundle's first certificate, in a file of the
/// case's private directory; `None` when the bundle holds one certificate.
fn chain_file(bundle: &Path, dir: &Path) -> Result<Option<PathBuf>> {
    let bytes = crate::files::read_regular(bundle).map_err(|e| {
        Error::BadInput(format!(
            "{e}; test-server presents each client's bundle as a regular file: make it again with `pkiforge run`"
        ))
    })?;
    let text = String::from_utf8_lossy(&bytes);
    const END: &str = "-----END CERTIFICATE-----";
    let Some(rest) = text.split_once(END).map(|(_, rest)| rest) else {
        return Ok(None);
    };
    if !rest.contains("-----BEGIN CERTIFICATE-----") {
        return Ok(None);
    }
    let path = dir.join(names::handshake::CLIENT_CHAIN);
    scratch::write_new(&path, rest.trim_start())?;
    Ok(Some(path))
}

/// What s_client has written so far to a file of the case's directory.
fn read(path: &Path) -> String {
    crate::files::read_text(path).unwrap_or_default()
}

/// At most a line's worth of what the server said.
fn shorten(text: &str) -> String {
    const MAX: usize = 60;
    let printable: String = text.chars().filter(|c| !c.is_control()).collect();
    if printable.chars().count() <= MAX {
        return printable;
    }
    let cut: String = printable.chars().take(MAX).collect();
    format!("{cut}…")
}

/// The status of an HTTP status line: `HTTP/1.1 400 Bad Request` → 400.
fn http_status(line: &str) -> Option<u16> {
    let mut words = line.split_whitespace();
    words.next().filter(|w| w.starts_with("HTTP/"))?;
    words
        .next()?
        .parse()
        .ok()
        .filter(|s| (100..600).contains(s))
}

/// Why s_client refused the server's certificate, if it did: its verify
/// error (`verify error:num=62:hostname mismatch` → `hostname mismatch`).
fn server_unverified(stderr: &str) -> Option<String> {
    let verify = verify_error_lines(stderr).next().map(|(_, text)| {
        // In the middle of a sentence, as 3.0 writes it ("hostname
        // mismatch"), whichever version wrote it (1.1.1: "Hostname …").
        let mut chars = text.chars();
        chars.next().map_or_else(String::new, |first| {
            first.to_lowercase().chain(chars).collect()
        })
    });
    verify.or_else(|| {
        stderr
            .contains("certificate verify failed")
            .then(|| "certificate verify failed".to_string())
    })
}

/// The alert the server sent, as openssl reports it: `SSL alert number 42`.
fn alert_number(stderr: &str) -> Option<u8> {
    let (_, rest) = stderr.rsplit_once("SSL alert number ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A TLS alert's name, as the TLS registry spells it (RFC 8446 §6, RFC
/// 5246 §7.2; the IANA "TLS Alerts" registry).
pub fn alert_name(number: u8) -> Option<&'static str> {
    Some(match number {
        0 => "close_notify",
        10 => "unexpected_message",
        20 => "bad_record_mac",
        21 => "decryption_failed",
        22 => "record_overflow",
        30 => "decompression_failure",
        40 => "handshake_failure",
        41 => "no_certificate",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        49 => "access_denied",
        50 => "decode_error",
        51 => "decrypt_error",
        60 => "export_restriction",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        90 => "user_canceled",
        100 => "no_renegotiation",
        109 => "missing_extension",
        110 => "unsupported_extension",
        111 => "certificate_unobtainable",
        112 => "unrecognized_name",
        113 => "bad_certificate_status_response",
        114 => "bad_certificate_hash_value",
        115 => "unknown_psk_identity",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_s_words_are_read_exactly() {
        let tls13 = "CONNECTION ESTABLISHED\nProtocol version: TLSv1.3\n40F7:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../ssl/record/rec_layer_s3.c:1601:SSL alert number 116\n";
        assert_eq!(
            alert_number(tls13).and_then(alert_name),
            Some("certificate_required")
        );
        assert_eq!(alert_number("no alert here"), None);
        assert_eq!(alert_name(44), Some("certificate_revoked"));
        assert_eq!(alert_name(200), None);
        let mismatch = "depth=0 O = x, CN = localhost\nverify error:num=62:hostname mismatch\n4037:error:0A000086:SSL routines:tls_post_process_server_certificate:certificate verify failed:../ssl/statem/statem_clnt.c:1889:\n";
        assert_eq!(
            server_unverified(mismatch).as_deref(),
            Some("hostname mismatch")
        );
        assert_eq!(server_unverified(tls13), None);
        assert_eq!(http_status("HTTP/1.1 400 Bad Request"), Some(400));
        assert_eq!(http_status("gnip"), None);
    }

    #[test]
    fn only_2xx_and_3xx_statuses_an_answer_or_silence_count_as_accepted() {
        let http = |s| Observed::Http(s, String::new());
        assert!(http(200).accepted() && http(302).accepted());
        for refused in [400, 495, 496, 403, 500] {
            assert!(!http(refused).accepted(), "{refused}");
        }
        assert!(Observed::Answered("x".into()).accepted() && Observed::Silent.accepted());
        assert!(!Observed::Alert("bad_certificate".into()).accepted());
        let closed = Observed::Closed {
            established: true,
            said: String::new(),
        };
        assert!(!closed.accepted());
        assert_eq!(
            closed.detail(),
            "closed after the handshake, without an answer"
        );
    }
}
