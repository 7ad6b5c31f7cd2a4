//! The openssl side of a handshake: `openssl s_server` on a loopback port
//! and `openssl s_client` against it, both started through run/exec.rs,
//! their logs and chain files in the run's scratch directory, and what each
//! said when the session was refused.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::pki::names::{self, Role};
use crate::plan::step::path_arg;
use crate::run::exec::Background;
use crate::run::openssl::Openssl;
use crate::signals;

use super::capture::Capture;
use super::case::{
    CASE_TIMEOUT, Ended, Extras, Host, Negotiated, Outcome, PING, Party, Security, TraceTo, Trust,
    unreadable,
};
use super::scratch::{self, Scratch};

/// s_server on an ephemeral loopback port in `-rev` mode (it sends back each
/// line reversed), s_client sending PING: accepted when the reversed PING
/// comes back, which needs data to flow both ways.
pub fn openssl_case(
    openssl: &Openssl,
    trust: &Trust,
    scratch: &Scratch,
    (server, client): (&Party, Option<&Party>),
    host: &Host,
    extras: &Extras,
) -> Result<Ended> {
    let (security, staple) = (extras.security, extras.staple);
    let ca = trust.ca.as_path();
    // Its logs and chain files, in the run's private directory.
    let logs = scratch.case_dir()?;
    let (server_out, server_err) = (
        logs.path().join("server.out"),
        logs.path().join("server.err"),
    );
    let chain = chain_file(server, logs.path(), names::handshake::SERVER_CHAIN)?;
    let mut server_args = s_server_args(server, ca, chain.as_deref(), trust, security, staple);
    if let Some(t) = &extras.trace {
        server_args.push(t.flag.into());
    }
    let shown_server = shown(&server_args);
    let server_proc = openssl
        .call(server_args, "handshake-server", CASE_TIMEOUT)
        .spawn(&server_out, &server_err)?;
    let deadline = Instant::now() + CASE_TIMEOUT;
    let mut client_shown = String::new();
    let mut capture = None;
    let result = match accept_port(&server_proc, &server_out, deadline)? {
        Some(port) => {
            capture = start_capture(extras.trace.as_ref(), port, logs.path(), deadline)?;
            let mut client_args = s_client_args(port, ca, client, host);
            if let Some(crl) = &trust.crl {
                // The server's certificate must not be in the CA's CRL.
                client_args.extend(["-crl_check".into(), "-CRL".into(), path_arg(crl)]);
            }
            client_args.extend(security_args(security, Role::Client));
            if staple.is_some() {
                // s_client asks for the server's OCSP answer, and prints it.
                client_args.push("-status".into());
            }
            if let Some(c) = client
                && let Some(chain) = chain_file(c, logs.path(), names::handshake::CLIENT_CHAIN)?
            {
                client_args.extend(["-cert_chain".into(), path_arg(&chain)]);
            }
            client_shown = shown(&client_args);
            if let Some(t) = &extras.trace {
                let keylog = names::handshake::keylog(&t.stem);
                client_args.extend([
                    t.flag.into(),
                    "-keylogfile".into(),
                    path_arg(&t.dir.join(&keylog)),
                ]);
                client_shown = format!("{client_shown} {} -keylogfile {keylog}", t.flag);
            }
            s_client_exchange(openssl, client_args, logs.path(), deadline)?
        }
        None => (Outcome::Refused, "s_server did not start".to_string()),
    };
    drop(server_proc);
    let packets = capture.map(|(capture, port)| end_capture(extras.trace.as_ref(), capture, port));
    let server_log = read_log(&server_err);
    let client_out = read_log(&logs.path().join("client.out"));
    let (outcome, detail) = match result {
        (Outcome::Refused, client_err) => (Outcome::Refused, why_refused(&server_log, &client_err)),
        accepted if staple.is_some() => stapled(accepted, &client_out),
        accepted => accepted,
    };
    let negotiated = (outcome == Outcome::Accepted).then(|| negotiated(&client_out));
    if let Some(t) = &extras.trace {
        let sides = [("client", client_shown), ("server", shown_server)];
        write_trace(t, (outcome, &detail), logs.path(), &sides, packets)?;
    }
    Ok((outcome, detail, negotiated))
}

/// With `--trace` and tcpdump: a capture of the session's port, started
/// before the client connects (or why it did not start), and the port.
type Started = (std::result::Result<Capture, String>, u16);

fn start_capture(
    trace: Option<&TraceTo>,
    port: u16,
    logs: &Path,
    deadline: Instant,
) -> Result<Option<Started>> {
    let Some((t, tcpdump)) = trace.and_then(|t| t.tcpdump.as_ref().map(|d| (t, d))) else {
        return Ok(None);
    };
    let pcap = t.dir.join(names::handshake::pcap(&t.stem));
    Ok(Some((tcpdump.start(port, &pcap, logs, deadline)?, port)))
}

/// Ends the capture once both sides are done: the trace's words for the
/// pcap, with the tshark line that decrypts it; or why there is none (and
/// no file).
fn end_capture(
    trace: Option<&TraceTo>,
    capture: std::result::Result<Capture, String>,
    port: u16,
) -> String {
    let Some(t) = trace else {
        return String::new();
    };
    let pcap = names::handshake::pcap(&t.stem);
    match capture {
        Ok(capture) => {
            capture.stop();
            format!(
                "{pcap} (tcpdump on the loopback, port {port}): tshark -r {pcap} -d tcp.port=={port},tls -o tls.keylog_file:{} -V",
                names::handshake::keylog(&t.stem)
            )
        }
        Err(why) => {
            let _ = std::fs::remove_file(t.dir.join(&pcap));
            format!("none ({why})")
        }
    }
}

/// The TLS alerts (RFC 8446, 6) an older openssl's `-trace` calls
/// `description=unknown(N)`, by name.
const ALERTS: [(u8, &str); 4] = [
    (109, "missing_extension"),
    (115, "unknown_psk_identity"),
    (116, "certificate_required"),
    (120, "no_application_protocol"),
];

/// `-trace` output with each alert it could not name named
/// (`description=unknown(116)` → `description=certificate_required(116)`).
fn named_alerts(log: &str) -> String {
    let mut text = log.to_string();
    for (code, name) in ALERTS {
        text = text.replace(
            &format!("description=unknown({code})"),
            &format!("description={name}({code})"),
        );
    }
    text
}

/// A command line as the trace shows it.
fn shown(args: &[OsString]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    words.join(" ")
}

/// `STEM.trace.txt` in the trace's directory: the session, how it ended and
/// who refused whom, then what each side printed (its `-trace` of every
/// message, alerts named), the client's first.
fn write_trace(
    t: &TraceTo,
    (outcome, detail): (Outcome, &str),
    logs: &Path,
    sides: &[(&str, String)],
    packets: Option<String>,
) -> Result<()> {
    let mut text = format!(
        "# pkiforge handshake: {}\n# {outcome}: {detail}\n# keys: {} (SSLKEYLOGFILE format; docs/trace.md)\n",
        t.name,
        names::handshake::keylog(&t.stem)
    );
    if let Some(packets) = packets {
        text.push_str(&format!("# packets: {packets}\n"));
    }
    for (side, command) in sides {
        text.push_str(&format!("\n== {side}: openssl {command}\n"));
        for ext in ["out", "err"] {
            let log = named_alerts(&read_log(&logs.join(format!("{side}.{ext}"))));
            text.push_str(&log);
            if !log.is_empty() && !log.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    scratch::write_new(&t.dir.join(names::handshake::trace(&t.stem)), text)
}

/// What s_client printed of the session it made: the protocol (`New,
/// TLSv1.3, Cipher is …`), the group (`Negotiated TLS1.3 group: X`, or
/// before OpenSSL 3.5 `Server Temp Key: X, 253 bits`) and the server's
/// signature (`Peer signature type: X`); `-` for what it did not print.
fn negotiated(client_out: &str) -> Negotiated {
    let after = |start: &str| {
        client_out
            .lines()
            .find_map(|l| l.trim().strip_prefix(start))
            .map(str::trim)
    };
    let protocol = after("New, ").and_then(|rest| rest.split(',').next());
    let group = after("Negotiated TLS1.3 group:")
        .or_else(|| after("Server Temp Key:").and_then(|k| k.split(',').next()));
    let shown = |v: Option<&str>| v.unwrap_or("-").to_string();
    Negotiated {
        protocol: shown(protocol),
        group: shown(group),
        peer_signature: shown(after("Peer signature type:")),
    }
}

/// An accepted session whose client had to see a good stapled answer: it
/// stays accepted when s_client printed one, else it is refused, with what
/// s_client said instead, as a client that requires stapling would.
fn stapled(accepted: (Outcome, String), client_out: &str) -> (Outcome, String) {
    let printed = |what: &str| client_out.lines().any(|l| l.trim() == what);
    if printed("OCSP Response Status: successful (0x0)") && printed("Cert Status: good") {
        let (outcome, detail) = accepted;
        return (
            outcome,
            format!("{detail}; the stapled OCSP answer says good"),
        );
    }
    let line = |start: &str| {
        client_out
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
    };
    let said = line("Cert Status:")
        .or_else(|| line("OCSP response: no"))
        .or_else(|| line("OCSP Response Status:"))
        .unwrap_or("nothing about OCSP");
    (
        Outcome::Refused,
        format!("client: no good OCSP answer stapled (s_client -status: {said})"),
    )
}

/// s_server's words: listen on an ephemeral loopback port for one session,
/// send the certificate and its chain (the CA when it has none), require a
/// client certificate from the CA (and not in its CRL), and staple the
/// CA's OCSP answer when given one.
fn s_server_args(
    server: &Party,
    ca: &Path,
    chain: Option<&Path>,
    trust: &Trust,
    security: Option<Security>,
    staple: Option<&Path>,
) -> Vec<OsString> {
    let mut server_args: Vec<OsString> = vec![
        "s_server".into(),
        "-accept".into(),
        "127.0.0.1:0".into(),
        "-naccept".into(),
        "1".into(),
        "-cert".into(),
        path_arg(&server.crt),
        "-key".into(),
        path_arg(&server.key),
        "-cert_chain".into(),
        path_arg(chain.unwrap_or(ca)),
        "-CAfile".into(),
        path_arg(ca),
        // Require a client certificate, and fail the handshake on a bad one.
        "-Verify".into(),
        "1".into(),
        "-verify_return_error".into(),
        "-rev".into(),
    ];
    if let Some(crl) = &trust.crl {
        // The client's certificate must not be in the CA's CRL.
        server_args.extend(["-crl_check".into(), "-CRL".into(), path_arg(crl)]);
    }
    server_args.extend(security_args(security, Role::Server));
    if let Some(answer) = staple {
        // The CA's OCSP answer for its certificate, sent to every client
        // that asks (status_request).
        server_args.extend(["-status_file".into(), path_arg(answer)]);
    }
    server_args
}

/// The words that set the security level of `side` for a fixture judged
/// under one: the side that checks it is held to the level
/// (`-auth_level`), the side that presents it goes down to level 0, as
/// OpenSSL 3 at level 2 will not use a weak certificate of its own.
fn security_args(security: Option<Security>, side: Role) -> Vec<OsString> {
    match security {
        None => Vec::new(),
        Some(s) if s.presenter == side => vec!["-cipher".into(), "DEFAULT:@SECLEVEL=0".into()],
        Some(s) => vec!["-auth_level".into(), s.level.to_string().into()],
    }
}

/// A file holding the certificates a party sends after its own, in order;
/// `None` when it sends none.
fn chain_file(party: &Party, dir: &Path, name: &str) -> Result<Option<PathBuf>> {
    match party.chain.as_slice() {
        [] => return Ok(None),
        // One file already is the chain: no copy (the tutorial's ca.crt).
        [one] => return Ok(Some(one.clone())),
        _ => {}
    }
    let mut bytes = Vec::new();
    for c in &party.chain {
        bytes.extend(crate::files::read_regular(c).map_err(unreadable)?);
    }
    let path = dir.join(name);
    scratch::write_new(&path, bytes)?;
    Ok(Some(path))
}

/// s_client's words: connect to the port, verify the server against the CA
/// and by its name, present the client's certificate if there is one.
fn s_client_args(port: u16, ca: &Path, client: Option<&Party>, host: &Host) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "s_client".into(),
        "-connect".into(),
        format!("127.0.0.1:{port}").into(),
        "-CAfile".into(),
        path_arg(ca),
        "-verify_return_error".into(),
        // Not -quiet, which would silence what the session negotiated (and
        // the OCSP answer): -ign_eof keeps the session open after stdin
        // ends, as -quiet does.
        "-ign_eof".into(),
    ];
    match host {
        Host::Dns(name) => args.extend([
            "-servername".into(),
            name.into(),
            "-verify_hostname".into(),
            name.into(),
        ]),
        Host::Ip(ip) => args.extend(["-verify_ip".into(), ip.into()]),
    }
    if let Some(c) = client {
        args.extend([
            "-cert".into(),
            path_arg(&c.crt),
            "-key".into(),
            path_arg(&c.key),
        ]);
    }
    args
}

/// Runs s_client, sending PING; accepted when the reversed PING comes back,
/// refused (with its stderr) when it exits first or the deadline passes.
fn s_client_exchange(
    openssl: &Openssl,
    args: Vec<OsString>,
    logs: &Path,
    deadline: Instant,
) -> Result<(Outcome, String)> {
    let (client_out, client_err) = (logs.join("client.out"), logs.join("client.err"));
    let mut call = openssl.call(args, "handshake-client", CASE_TIMEOUT);
    call.stdin = Some(format!("{PING}\n").into_bytes());
    let client = call.spawn(&client_out, &client_err)?;
    // s_client -ign_eof keeps the connection open after stdin ends, so
    // watch its output for the answer rather than wait for it to exit.
    loop {
        let answer = read_log(&client_out);
        if answer.contains(&reversed(PING)) {
            return Ok((Outcome::Accepted, "payload sent and answered".to_string()));
        }
        signals::check()?;
        if client.exited() {
            let stderr = read_log(&client_err);
            return Ok((Outcome::Refused, stderr));
        }
        if Instant::now() >= deadline {
            return Ok((Outcome::Refused, "timed out".to_string()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What openssl has written so far to a log in the scratch directory
/// (through the guarded reader, as every file pkiforge reads).
fn read_log(path: &Path) -> String {
    crate::files::read_text(path).unwrap_or_default()
}

/// What each side said when a session was refused: its verify error
/// where openssl names one (why), else its last error (what it saw).
fn why_refused(server_log: &str, client_err: &str) -> String {
    let sides: Vec<String> = [("server", server_log), ("client", client_err)]
        .iter()
        .filter_map(|(side, log)| {
            let errors = verify_errors(log);
            let said = if errors.is_empty() {
                last_error(log)?
            } else {
                errors.join(", ")
            };
            Some(format!("{side}: {said}"))
        })
        .collect();
    if sides.is_empty() {
        "no reply".to_string()
    } else {
        sides.join("; ")
    }
}

/// Waits until s_server's stdout (a file) names the port it listens on
/// (`ACCEPT 127.0.0.1:PORT`); `None` if it exits or the deadline passes first.
pub fn accept_port(server: &Background, stdout: &Path, deadline: Instant) -> Result<Option<u16>> {
    loop {
        let text = read_log(stdout);
        let port = text.lines().find_map(|l| {
            l.trim()
                .strip_prefix("ACCEPT ")
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok())
        });
        if port.is_some() {
            return Ok(port);
        }
        signals::check()?;
        if server.exited() || Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// openssl's verify errors in a log (`verify error:num=10:certificate has
/// expired`), as `verify error 10: certificate has expired`.
fn verify_errors(log: &str) -> Vec<String> {
    verify_error_lines(log)
        .map(|(code, text)| format!("verify error {code}: {text}"))
        .collect()
}

/// openssl's `verify error:num=N:TEXT` lines in `log`, as (N, TEXT).
pub fn verify_error_lines(log: &str) -> impl Iterator<Item = (&str, &str)> {
    log.lines()
        .filter_map(|l| l.trim().strip_prefix("verify error:num="))
        .filter_map(|rest| rest.split_once(':'))
}

fn reversed(s: &str) -> String {
    s.chars().rev().collect()
}

/// The last line of openssl's stderr that says what went wrong, shortened
/// to its reason (`…:error:CODE:LIB:FUNC:REASON:FILE:LINE:` → `REASON`).
pub fn last_error(stderr: &str) -> Option<String> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("error") || l.contains("alert"))?
        .trim();
    let fields: Vec<&str> = line.split(':').collect();
    let reason = fields
        .iter()
        .position(|f| *f == "error")
        .and_then(|i| fields.get(i + 4))
        .filter(|_| fields.len() >= 6)
        .map_or(line, |r| *r);
    Some(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_s_client_printed_of_the_session_is_read_in_each_versions_words() {
        // OpenSSL 1.1.1 and 3.0: the group as the server's temporary key.
        let old = "---\nPeer signature type: ECDSA\nServer Temp Key: X25519, 253 bits\n---\nNew, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\n    Protocol  : TLSv1.3\n";
        assert_eq!(
            negotiated(old).to_string(),
            "TLSv1.3, group X25519, server signature ECDSA"
        );
        // OpenSSL 3.5 and 4.0: the group by name, ML-KEM hybrids included.
        let new = "Peer signature type: mldsa65\nNegotiated TLS1.3 group: X25519MLKEM768\n---\nNew, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\nProtocol: TLSv1.3\n";
        assert_eq!(
            negotiated(new).to_string(),
            "TLSv1.3, group X25519MLKEM768, server signature mldsa65"
        );
        assert_eq!(
            negotiated("nothing").to_string(),
            "-, group -, server signature -"
        );
    }
}
