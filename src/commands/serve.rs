//! `pkiforge serve DIR [--listen ADDR:PORT]`: each CA's CRL, certificate
//! and OCSP responder over HTTP, at the URLs its certificates carry, until
//! Ctrl-C or SIGTERM.

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
        Routes::of(&Pki::read(&args.dir), args.listen.as_deref())?
    };
    let openssl = Openssl::locate(ctx.openssl(), ctx.timeout)?;
    let temp = std::env::temp_dir();
    remove_stale(&temp);
    let scratch = Scratch::create_named(&temp, SERVE_PREFIX)?;
    let server = http::listen(&routes.listen)?;
    let responder = Responder {
        openssl: &openssl,
        dir: &args.dir,
        scratch: &scratch,
    };
    let handler = Handler::new(&routes, responder);
    crate::output::stdout(&format!(
        "{}serving on {} until Ctrl-C (SIGINT) or SIGTERM\n",
        start_lines(&routes),
        routes.listen
    ));
    let answered = http::serve(&server, &handler);
    drop(server);
    drop(scratch);
    progress.say(&format!(
        "stopped serving after {answered} request{}",
        if answered == 1 { "" } else { "s" }
    ));
    Ok(String::new())
}
