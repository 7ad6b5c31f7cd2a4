//! `pkiforge serve DIR [--listen ADDR:PORT]`: each CA's CRL, certificate
//! and OCSP responder over HTTP, at the URLs its certificates carry, until
//! Ctrl-C or SIGTERM.

use std::sync::Arc;

use super::{Context, Outcome};
use crate::cli::ServeArgs;
use crate::error::Result;
use crate::pki::read::Pki;
use crate::run::openssl::Openssl;
use crate::run::publish::ReadLock;
use crate::run::scratch::{SERVE_PREFIX, Scratch, remove_stale};
use crate::run::serve::ocsp::Responder;
use crate::run::serve::routes::Routes;
use crate::run::serve::{Handler, http, start_lines};

/// `serve DIR`.
pub fn command(ctx: &Context, args: ServeArgs) -> Result<Outcome> {
    let progress = ctx.progress();
    let routes = {
        // Read while no run writes DIR; let go before serving.
        let _lock = ReadLock::take(&args.dir, &progress)?;
        let routes = Routes::of(&Pki::read(&args.dir), args.listen.as_deref())?;
        signing_keys(&args.dir, &routes)?;
        routes
    };
    let openssl = Openssl::locate(ctx.openssl(), ctx.timeout)?;
    let temp = std::env::temp_dir();
    remove_stale(&temp);
    let scratch = Scratch::create_named(&temp, SERVE_PREFIX)?;
    let scratch_path = scratch.path().to_path_buf();
    let listen = routes.listen.clone();
    let starting = start_lines(&routes);
    let responder = Responder {
        openssl,
        dir: args.dir.clone(),
        scratch,
    };
    let handler = Arc::new(Handler::new(routes, responder));
    let started = || {
        crate::output::stdout(&format!(
            "{starting}serving on {listen} until Ctrl-C (SIGINT) or SIGTERM\n"
        ));
    };
    let answered = http::serve(&listen, Arc::clone(&handler), started);
    // The last hold on the scratch directory goes here, unless an answer
    // is somehow still under way: then it is removed all the same.
    drop(handler);
    let _ = std::fs::remove_dir_all(&scratch_path);
    let answered = answered?;
    progress.say(&format!(
        "stopped serving after {answered} request{}",
        if answered == 1 { "" } else { "s" }
    ));
    Ok(String::new())
}

/// Each CA whose OCSP responder is served signs its answers with its
/// certificate and key, or its OCSP signer's: they must be in DIR, regular
/// files, or serve would fail every answer.
fn signing_keys(dir: &std::path::Path, routes: &Routes) -> Result<()> {
    let ocsp = routes
        .routes
        .iter()
        .filter(|r| r.what == crate::run::serve::routes::What::Ocsp);
    for route in ocsp {
        let signer = crate::run::serve::ocsp::signer_of(dir, &route.ca);
        for file in [signer.crt(), signer.key()].map(|f| dir.join(f)) {
            require_signing_file(&file, route)?;
        }
    }
    Ok(())
}

/// A file the answers of `route` are signed with, as a regular file: a
/// FIFO or a device would hold every answer until it timed out.
fn require_signing_file(
    file: &std::path::Path,
    route: &crate::run::serve::routes::Route,
) -> Result<()> {
    crate::files::require_regular(file).map_err(|e| {
        crate::error::Error::BadInput(format!(
            "{e}; the OCSP responder of {} at {} signs its answers with it: put it back, or serve from the directory that holds it",
            route.ca.name, route.url
        ))
    })
}
