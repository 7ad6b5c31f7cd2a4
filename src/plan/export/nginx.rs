//! nginx: a `server` block requiring client certificates, and the files it
//! names; for a client, the files curl needs to present it.

use crate::pki::names::Role;
use crate::pki::names::export::{self as names, named};
use crate::plan::step::Step;

use super::error::ExportError;
use super::shared::{Options, Source, cat, crl_file, write};

/// The files a peer names, copied into the export: the certificate with
/// the chain it sends (no root) as `chain_out`, the key, and the CA.
fn peer_files(src: &Source, chain_out: &str) -> Vec<Step> {
    let (key, root) = (src.leaf.key(), src.root().crt());
    vec![
        cat(src, "chain", src.sent_chain(), chain_out, false),
        cat(src, "key", vec![src.at(&key)], &key, true),
        cat(src, "ca", vec![src.at(&root)], &root, false),
    ]
}

/// A server's files, and the CRLs when every CA has one.
fn server_files(src: &Source, chain_out: &str) -> Vec<Step> {
    let mut steps = peer_files(src, chain_out);
    if src.crls {
        steps.push(crl_file(src));
    }
    steps
}

/// `NAME.nginx.conf`, a `server` block requiring client certificates; for a
/// client, the files curl needs.
pub fn nginx_steps(src: &Source, opts: &Options) -> Result<Vec<Step>, ExportError> {
    let name = &src.leaf.name;
    if src.leaf.role == Role::Client {
        // What curl needs to present it (the command line is printed).
        return Ok(peer_files(src, &src.leaf.bundle()));
    }
    // ssl_certificate and _key read `$` as a variable (nginx 1.15.9 and
    // later), even in quotes, and nginx has no escape for it.
    if opts.out.to_string_lossy().contains('$') {
        return Err(ExportError::DollarInOut {
            out: opts.out.clone(),
        });
    }
    let chain = named(name, names::CHAIN);
    let mut steps = server_files(src, &chain);
    let at = |file: &str| nginx_quote(&opts.out.join(file).to_string_lossy());
    let crl = if src.crls {
        format!("    ssl_crl {};\n", at(names::CRL))
    } else {
        "    # no ssl_crl: not every CA of the chain has a CRL in the PKI\n".to_string()
    };
    let text = format!(
        "# nginx: mutual TLS for {name} (pkiforge export). Include it in the http block.\nserver {{\n    listen {listen} ssl;\n    server_name {host};\n    ssl_certificate {cert};\n    ssl_certificate_key {key};\n    ssl_client_certificate {ca};\n    ssl_verify_client on;\n    ssl_verify_depth {depth};\n{crl}    location / {{\n        return 200 \"mutual TLS: $ssl_client_s_dn\\n\";\n    }}\n}}\n",
        listen = opts.listen,
        host = nginx_quote(&src.host),
        cert = at(&chain),
        key = at(&src.leaf.key()),
        ca = at(&src.root().crt()),
        depth = src.chain.len(),
    );
    steps.push(write(src, "nginx", &named(name, names::NGINX_CONF), text));
    Ok(steps)
}

/// An nginx string: double quotes, `\` and `"` escaped with a backslash (as
/// ngx_conf_read_token reads them); `;`, `#`, `{` and spaces stay literal.
pub fn nginx_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '\\' || c == '"' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}
