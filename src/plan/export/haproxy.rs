//! HAProxy: one PEM with the certificate, its chain and the key, and a
//! frontend whose `bind` line requires client certificates.

use crate::pki::names::Role;
use crate::pki::names::export::{self as names, named};
use crate::plan::step::Step;

use super::error::ExportError;
use super::shared::{Options, Source, cat, crl_file, write};

/// `NAME.haproxy.pem` (certificate, chain, key) and `NAME.haproxy.cfg`
/// with the `bind` line.
pub fn haproxy_steps(src: &Source, opts: &Options) -> Result<Vec<Step>, ExportError> {
    let name = &src.leaf.name;
    if src.leaf.role == Role::Client {
        return Err(ExportError::ClientForHaproxy { name: name.clone() });
    }
    let pem = named(name, names::HAPROXY_PEM);
    let mut parts = src.sent_chain();
    parts.push(src.at(&src.leaf.key()));
    let mut steps = vec![cat(src, "pem", parts, &pem, true)];
    let root = src.root();
    steps.push(cat(
        src,
        "ca",
        vec![src.at(&root.crt())],
        &root.crt(),
        false,
    ));
    let at = |file: &str| haproxy_quote(&opts.out.join(file).to_string_lossy());
    let crl = if src.crls {
        steps.push(crl_file(src));
        format!(" crl-file {}", at(names::CRL))
    } else {
        String::new()
    };
    let bind = if opts.listen.contains(':') {
        opts.listen.clone()
    } else {
        format!(":{}", opts.listen)
    };
    let text = format!(
        "# HAProxy: mutual TLS for {name} (pkiforge export). The bind line goes in a frontend.\nfrontend {name}\n    mode http\n    bind {bind} ssl crt {pem} ca-file {ca} verify required{crl}\n    http-request return status 200 content-type text/plain string \"mutual TLS ok\"\n",
        pem = at(&pem),
        ca = at(&root.crt()),
    );
    steps.push(write(
        src,
        "haproxy",
        &named(name, names::HAPROXY_CFG),
        text,
    ));
    Ok(steps)
}

/// An HAProxy word in single quotes, where nothing is interpreted (no `$`
/// environment variables, no escapes); a `'` closes, is escaped and reopens.
pub fn haproxy_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
