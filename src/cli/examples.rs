//! The examples each command's `--help` leads with, where they are more
//! than a line of the command's attribute.

/// `report --help`'s examples.
pub fn report_examples() -> String {
    let page = crate::pki::names::REPORT;
    format!(
        "Examples:
  pkiforge report pki/localhost                    writes pki/localhost/{page}
  pkiforge report pki/localhost --out room-{page}
  pkiforge report pki/localhost --traces traces    with each session of handshake --trace traces

One self-contained HTML file (no network, fonts or scripts): open it from a
USB stick, project it, or print it as a handout."
    )
}

/// `test-server --help`'s examples.
pub fn test_server_examples() -> String {
    use crate::pki::names::{Files, Role};
    let ca = Files::new(Role::Ca.table(), Role::Ca).crt();
    let client = Files::new("NAME", Role::Client);
    let (bundle, key) = (client.bundle(), client.key());
    let quiet = crate::check::test_server::probe::QUIET.as_secs();
    let most = crate::check::test_server::CONNECTION_TIMEOUT.as_secs();
    format!(
        "Examples:
  pkiforge test-server pki/fixtures localhost:8443
  pkiforge test-server pki/fixtures localhost:8443 --http /          nginx and other HTTP servers
  pkiforge test-server pki/fixtures 10.0.0.5:443 --servername api.internal --json

Your server trusts DIR's {ca} and serves one of DIR's server certificates
(or one that verifies against {ca} as --servername). Each case is one
connection with openssl s_client: a good client, no certificate, each client
fixture presenting its {bundle} (the certificate and its chain) and {key}.
With --http, a 2xx or 3xx status is accepted and any other status refused;
without it, a line is sent, and an answer, or no alert within {quiet} seconds of
the handshake, is accepted. Each connection is stopped after {most} seconds (or
--timeout, if less). Up to --jobs N clients connect at once (default: the
cores); the table keeps the cases' order.

Exit status: 0 when the server did what it must in every case, 1 when it did
not in one (a line says what it fails to check), 2 when it cannot be tested
(nothing listening, its certificate does not verify, DIR has no fixtures)."
    )
}

/// `serve --help`'s examples.
pub fn serve_examples() -> String {
    use crate::pki::names::{Files, Role};
    let ca = Files::new(Role::Ca.table(), Role::Ca).crt();
    let alice = Files::new("alice", Role::Client).crt();
    format!(
        "Examples:
  pkiforge run profiles/revocation.toml --out pki/rv
  pkiforge serve pki/rv
  pkiforge serve pki/rv --listen 0.0.0.0:8080

Then, in another terminal, in pki/rv:
  openssl verify -crl_download -crl_check -CAfile {ca} {alice}
  openssl ocsp -issuer {ca} -cert {alice} -url http://127.0.0.1:8080/ocsp -CAfile {ca}
  pkiforge revoke . alice        the next answers say revoked

One line per request on stdout; Ctrl-C or SIGTERM stops it (exit 0)."
    )
}

/// `renew --help`'s examples.
pub fn renew_examples() -> String {
    let archive = crate::pki::names::ARCHIVE;
    format!(
        "Examples:
  pkiforge renew pki/localhost client             the same key, a new serial and validity
  pkiforge renew pki/localhost server --rekey     a new key and CSR first
  pkiforge renew pki/localhost ca --days 3650     every leaf still verifies; bundles are rebuilt
  pkiforge renew pki/localhost client --dry-run   print the commands and stop

What is replaced is kept in DIR/{archive}/SERIAL/."
    )
}

/// `export --help`'s examples.
pub fn export_examples() -> String {
    use crate::pki::names::export::{NGINX_CONF, named};
    let nginx = named("server", NGINX_CONF);
    format!(
        "Examples:
  pkiforge export pki/localhost server --format nginx     pki/localhost/export/{nginx} …
  pkiforge export pki/localhost server --format haproxy
  pkiforge export pki/localhost client --format java      keystore, truststore, properties
  pkiforge export pki/localhost server --format k8s --namespace shop

Hand a CA to a CA service that goes on issuing under it (docs/handoff.md):
  pkiforge export pki/intermediate intermediate --format cfssl
  pkiforge export pki/intermediate intermediate --format cert-manager --cluster
  pkiforge export pki/intermediate intermediate --format vault
  pkiforge export pki/intermediate intermediate --format step

Files go to --out (default DIR/export; DIR/handoff/FORMAT for a CA, a
directory of yours alone, 0700), published all or nothing; nothing is
written elsewhere, and a file already there is overwritten only with --force.
Java keystores take their password from
PKIFORGE_P12_PASSWORD or the terminal, never a command line."
    )
}
