//! The servers of test-client: one `openssl s_server` per server of the
//! PKI, on a loopback port the system picks, started through run/exec.rs in
//! a private scratch directory (the handshake's), serving its certificate
//! and the chain its bundle holds. Dropping [`Servers`] stops every one
//! with its process group and removes the scratch directory.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::check::handshake::{Scratch, accept_port, remove_stale, write_new};
use crate::error::{At, Error, Result, Status};
use crate::pki::names;
use crate::plan::step::path_arg;
use crate::run::exec::Background;
use crate::run::openssl::Openssl;

use super::{LOOPBACK, Lineup, Target};

/// How long a server may take to start listening: generous, for a loaded
/// machine starting several at once.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Every server of a lineup, listening.
pub struct Servers<'a> {
    /// Declared first, so dropped first: the processes, then their logs.
    running: Vec<Running<'a>>,
    scratch: Scratch,
}

struct Running<'a> {
    target: &'a Target,
    port: u16,
    process: Background,
    /// Its logs and chain file, in the scratch directory.
    _files: tempfile::TempDir,
}

impl<'a> Servers<'a> {
    /// Starts a server for each target, and waits until each listens.
    pub fn start(openssl: &Openssl, lineup: &'a Lineup) -> Result<Servers<'a>> {
        // What killed runs left, then this run's own private directory.
        let temp = std::env::temp_dir();
        remove_stale(&temp);
        let mut servers = Servers {
            running: Vec::new(),
            scratch: Scratch::create_in(&temp)?,
        };
        for target in &lineup.targets {
            let running = servers.start_one(openssl, target)?;
            servers.running.push(running);
        }
        Ok(servers)
    }

    fn start_one(&self, openssl: &Openssl, target: &'a Target) -> Result<Running<'a>> {
        let files = self.scratch.case_dir()?;
        let (out, err) = (
            files.path().join("server.out"),
            files.path().join("server.err"),
        );
        let args = s_server_args(openssl, target, files.path())?;
        let step = format!("test-client-server {}", target.case);
        // No deadline of its own: it runs until the clients are done (or
        // Ctrl-C with --serve), and is stopped when `Running` is dropped.
        let process = openssl.call(args, &step, START_TIMEOUT).spawn(&out, &err)?;
        let deadline = Instant::now() + START_TIMEOUT;
        match accept_port(&process, &out, deadline)? {
            Some(port) => Ok(Running {
                target,
                port,
                process,
                _files: files,
            }),
            None => {
                let stderr = crate::files::read_text(&err).unwrap_or_default();
                let status = if process.exited() {
                    "s_server exited before it listened"
                } else {
                    "s_server did not listen within 60 s"
                };
                Err(Error::StepFailed {
                    at: At::new(step, &process.shown),
                    status: Status::Other(status.into()),
                    stderr,
                    stderr_lines: 0,
                })
            }
        }
    }

    /// Each target with the port it listens on, in the lineup's order.
    pub fn listening(&self) -> impl Iterator<Item = (&'a Target, u16)> + '_ {
        self.running.iter().map(|r| (r.target, r.port))
    }

    /// The first server that has stopped, if one has.
    pub fn stopped(&self) -> Option<&'a Target> {
        self.running
            .iter()
            .find(|r| r.process.exited())
            .map(|r| r.target)
    }
}

/// s_server's words: listen on a loopback port the system picks, serve the
/// certificate and what its bundle holds after it, answer `GET /`.
fn s_server_args(openssl: &Openssl, target: &Target, files: &Path) -> Result<Vec<OsString>> {
    let mut args: Vec<OsString> = vec![
        "s_server".into(),
        "-accept".into(),
        format!("{LOOPBACK}:0").into(),
        "-cert".into(),
        path_arg(&target.crt),
        "-key".into(),
        path_arg(&target.key),
    ];
    if let Some(chain) = chain_of(target, files)? {
        args.extend(["-cert_chain".into(), path_arg(&chain)]);
    }
    // No trust store: s_server would otherwise complete a chain from it,
    // and serve more than the bundle holds. It asks for no client
    // certificate (no -verify): the client is what is tested.
    args.extend(["-no-CAfile".into(), "-no-CApath".into()]);
    if openssl.major_minor().is_some_and(|v| v >= (3, 0)) {
        args.push("-no-CAstore".into());
    }
    args.extend([
        // Security level 0, so that s_server loads and serves a fixture
        // with a weak key or a SHA-1 signature: refusing it is the client's
        // job (https://docs.openssl.org/master/man3/SSL_CTX_set_security_level/).
        "-cipher".into(),
        "DEFAULT@SECLEVEL=0".into(),
        // An HTTP status page for `GET /`, so that an HTTP client gets an
        // answer; any other client may just complete the handshake.
        "-www".into(),
    ]);
    Ok(args)
}

/// The certificates the bundle holds after the server's own, written to
/// the scratch directory; `None` when it holds none (an incomplete chain,
/// a self-signed certificate).
fn chain_of(target: &Target, files: &Path) -> Result<Option<std::path::PathBuf>> {
    let bundle = crate::files::read_text(&target.bundle).map_err(super::unreadable)?;
    let end = "-----END CERTIFICATE-----";
    let rest = bundle.find(end).map_or("", |at| &bundle[at + end.len()..]);
    if !rest.contains("-----BEGIN") {
        return Ok(None);
    }
    let path = files.join(names::handshake::SERVER_CHAIN);
    write_new(&path, rest.trim_start())?;
    Ok(Some(path))
}
