//! The rustls side of a handshake: the same scenario with rustls on both
//! ends, in this process: a server thread and a client on a loopback port,
//! each checking the other against the CA (and its CRL), exchanging a line
//! each way.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::UnixTime;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, ServerName};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::error::{Error, Result};

use super::case::{
    CASE_TIMEOUT, Ended, Host, Negotiated, Outcome, PING, PONG, Party, Trust, unreadable,
};
use super::ocsp::{Asker, AsksAboutClients, OcspCase};
use super::scratch::Scratch;

/// Why a rustls session failed, or rustls refused what one side was
/// configured with: its text is the case's detail, in the words of rustls
/// and of the socket.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    /// A certificate verifier rustls would not build (a CRL it cannot use).
    #[error("{0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// A certificate, key or connection rustls refuses.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
    /// The loopback socket: listening, connecting, its timeouts.
    #[error("{0}")]
    Socket(std::io::Error),
    /// Reading or writing through TLS: a refused certificate is named as
    /// rustls names it ([`io_text`]).
    #[error("{}", io_text(.0))]
    Tls(std::io::Error),
    /// The server's thread ended without saying how its session went.
    #[error("the server thread failed")]
    ServerThread,
}

/// The bytes of a file of the PKI, through the guarded reader.
fn read_pem(path: &Path) -> Result<Vec<u8>> {
    crate::files::read_regular(path).map_err(unreadable)
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_slice_iter(&read_pem(path)?)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::BadInput(format!(
                "cannot read certificates from {}: {e}",
                path.display()
            ))
        })
}

fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    CertificateRevocationListDer::pem_slice_iter(&read_pem(path)?)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::BadInput(format!("cannot read the CRL {}: {e}", path.display())))
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(&read_pem(path)?).map_err(|e| {
        Error::BadInput(format!(
            "cannot read the private key {}: {e}",
            path.display()
        ))
    })
}

/// The same scenario with rustls on both ends: the server requires a client
/// certificate from the CA, the client checks the server's name; the client
/// sends PING and the server answers PONG.
pub fn rustls_case(
    trust: &Trust,
    server: &Party,
    client: Option<&Party>,
    host: &Host,
    ocsp: Option<OcspCase<'_>>,
    scratch: &Scratch,
) -> Result<Ended> {
    // The private directories the verifiers that read OCSP write in.
    let dirs = match ocsp {
        Some(o) => Some((o, scratch.case_dir()?, scratch.case_dir()?)),
        None => None,
    };
    let ocsp = dirs.as_ref().map(|(o, s, c)| (*o, s.path(), c.path()));
    let scheme = Scheme::default();
    let (server_config, client_config) =
        match rustls_configs(trust, (server, client), ocsp, &scheme)? {
            Ok(configs) => configs,
            Err((outcome, detail)) => return Ok((outcome, detail, None)),
        };
    let staple = ocsp.is_some_and(|(o, ..)| o.staple.is_some());
    let name = match host {
        Host::Dns(n) => ServerName::try_from(n.clone()),
        Host::Ip(ip) => ServerName::try_from(ip.clone()),
    }
    .map_err(|e| Error::Usage(format!("{}: {e}", host.as_str())))?;

    let (outcome, detail, session) = rustls_exchange(server_config, client_config, name)?;
    let signed = scheme.lock().ok().and_then(|s| *s);
    let negotiated = session.map(|(protocol, group)| Negotiated {
        protocol,
        group,
        peer_signature: signed.map_or("-".into(), |s| format!("{s:?}")),
    });
    Ok(match outcome {
        Outcome::Accepted if staple => (
            outcome,
            format!("{detail}; the stapled OCSP answer says good"),
            negotiated,
        ),
        _ => (outcome, detail, negotiated),
    })
}

/// A case's OCSP, with a private directory for each side's verifier (the
/// server's, the client's).
type Ocsp<'a> = Option<(OcspCase<'a>, &'a Path, &'a Path)>;

type Configs = (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>);

/// The server's and the client's configurations; `Err` with the refusal
/// when rustls refuses a certificate or key as it loads them.
fn rustls_configs(
    trust: &Trust,
    (server, client): (&Party, Option<&Party>),
    ocsp: Ocsp<'_>,
    scheme: &Scheme,
) -> Result<std::result::Result<Configs, (Outcome, String)>> {
    let ca = trust.ca.as_path();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots.add(cert).map_err(|e| {
            Error::BadInput(format!(
                "rustls refuses {} as a trust anchor: {e}",
                ca.display()
            ))
        })?;
    }
    let roots = Arc::new(roots);
    // Each side checks the other's certificate against the CA's CRL: the
    // leaf only, as openssl's -crl_check (the CRL is its issuer's).
    let crls = match &trust.crl {
        Some(crl) => load_crls(crl)?,
        None => Vec::new(),
    };
    let server_config = match rustls_server(ca, server, (&roots, &crls), ocsp, &provider)? {
        Ok(c) => c,
        Err(e) => return Ok(Err((Outcome::Refused, format!("server: {e}")))),
    };
    let client_config = match rustls_client(client, (roots, crls), ocsp, provider, scheme)? {
        Ok(c) => c,
        Err(e) => return Ok(Err((Outcome::Refused, format!("client: {e}")))),
    };
    Ok(Ok((server_config, client_config)))
}

type Provider = Arc<rustls::crypto::CryptoProvider>;

/// The server's rustls configuration: its certificate and chain (the CA
/// when it names none), requiring a client certificate from the CA; `Err`
/// with what rustls refused.
fn rustls_server(
    ca: &Path,
    server: &Party,
    (roots, crls): (
        &Arc<rustls::RootCertStore>,
        &[CertificateRevocationListDer<'static>],
    ),
    ocsp: Ocsp<'_>,
    provider: &Provider,
) -> Result<std::result::Result<Arc<rustls::ServerConfig>, SessionError>> {
    let mut verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    );
    if !crls.is_empty() {
        verifier = verifier
            .with_crls(crls.to_vec())
            .only_check_end_entity_revocation();
    }
    let mut verifier = match verifier.build() {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.into())),
    };
    if let Some((o, dir, _)) = ocsp.filter(|(o, ..)| o.ask_about_client) {
        verifier = Arc::new(AsksAboutClients::new(verifier, &o, dir));
    }
    // The CA's OCSP answer for the server's certificate, stapled.
    let staple = match ocsp.and_then(|(o, ..)| o.staple) {
        Some(answer) => crate::files::read_regular(answer).map_err(unreadable)?,
        None => Vec::new(),
    };
    let mut chain = load_certs(&server.crt)?;
    if server.chain.is_empty() {
        chain.extend(load_certs(ca)?);
    }
    for c in &server.chain {
        chain.extend(load_certs(c)?);
    }
    Ok(
        rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Usage(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert_with_ocsp(chain, load_key(&server.key)?, staple)
            .map(Arc::new)
            .map_err(SessionError::from),
    )
}

/// The client's rustls configuration: it checks the server against the
/// CA, and presents its certificate and chain if it has one.
fn rustls_client(
    client: Option<&Party>,
    (roots, crls): (
        Arc<rustls::RootCertStore>,
        Vec<CertificateRevocationListDer<'static>>,
    ),
    ocsp: Ocsp<'_>,
    provider: Provider,
    scheme: &Scheme,
) -> Result<std::result::Result<Arc<rustls::ClientConfig>, SessionError>> {
    let mut verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone());
    if !crls.is_empty() {
        verifier = verifier.with_crls(crls).only_check_end_entity_revocation();
    }
    let verifier = match verifier.build() {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.into())),
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Usage(e.to_string()))?;
    let staple = ocsp
        .filter(|(o, ..)| o.staple.is_some())
        .map(|(o, _, dir)| Asker::new(&o, dir));
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Recording {
            inner: verifier,
            scheme: Arc::clone(scheme),
            staple,
        }));
    let config = match client {
        Some(c) => {
            let mut certs = load_certs(&c.crt)?;
            for link in &c.chain {
                certs.extend(load_certs(link)?);
            }
            builder.with_client_auth_cert(certs, load_key(&c.key)?)
        }
        None => Ok(builder.with_no_client_auth()),
    };
    Ok(config.map(Arc::new).map_err(SessionError::from))
}

/// The signature scheme the server signed the handshake with, once the
/// client's verifier has seen it.
type Scheme = Arc<std::sync::Mutex<Option<SignatureScheme>>>;

/// The client's verifier: webpki's, noting the scheme of the server's
/// handshake signature (rustls has no call that tells it afterwards), and
/// when the server must staple, requiring a stapled answer that says good.
#[derive(Debug)]
struct Recording {
    inner: Arc<dyn ServerCertVerifier>,
    scheme: Scheme,
    staple: Option<Asker>,
}

impl Recording {
    fn note(&self, dss: &DigitallySignedStruct) {
        if let Ok(mut slot) = self.scheme.lock() {
            *slot = Some(dss.scheme);
        }
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )?;
        match &self.staple {
            Some(asker) => asker.stapled(end_entity, ocsp_response).map(|()| verified),
            None => Ok(verified),
        }
    }

    signatures_by_inner!(note);
}

/// A rustls server thread and client on a loopback port, exchanging a line
/// each way.
fn rustls_exchange(
    server_config: Arc<rustls::ServerConfig>,
    client_config: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
) -> Result<(Outcome, String, Option<Session>)> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("cannot listen on 127.0.0.1", e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io("cannot read the listening address", e))?;
    let server_thread = std::thread::spawn(move || -> std::result::Result<String, SessionError> {
        let (tcp, _) = listener.accept().map_err(SessionError::Socket)?;
        tcp.set_read_timeout(Some(CASE_TIMEOUT))
            .map_err(SessionError::Socket)?;
        tcp.set_write_timeout(Some(CASE_TIMEOUT))
            .map_err(SessionError::Socket)?;
        let conn = rustls::ServerConnection::new(server_config)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut line = String::new();
        BufReader::new(&mut tls)
            .read_line(&mut line)
            .map_err(SessionError::Tls)?;
        tls.write_all(format!("{PONG}\n").as_bytes())
            .map_err(SessionError::Tls)?;
        tls.conn.send_close_notify();
        let _ = tls.flush();
        Ok(line.trim_end().to_string())
    });

    let client_result = (|| -> std::result::Result<(String, (String, String)), SessionError> {
        let tcp = TcpStream::connect_timeout(&addr, CASE_TIMEOUT).map_err(SessionError::Socket)?;
        tcp.set_read_timeout(Some(CASE_TIMEOUT))
            .map_err(SessionError::Socket)?;
        tcp.set_write_timeout(Some(CASE_TIMEOUT))
            .map_err(SessionError::Socket)?;
        let conn = rustls::ClientConnection::new(client_config, name)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(format!("{PING}\n").as_bytes())
            .map_err(SessionError::Tls)?;
        tls.flush().map_err(SessionError::Tls)?;
        let mut line = String::new();
        BufReader::new(&mut tls)
            .read_line(&mut line)
            .map_err(SessionError::Tls)?;
        Ok((line.trim_end().to_string(), session_of(&tls.conn)))
    })();
    let server_result = server_thread
        .join()
        .unwrap_or_else(|_| Err(SessionError::ServerThread));
    let refused = |why: String| Ok((Outcome::Refused, why, None));
    match (client_result, server_result) {
        (Ok((reply, session)), Ok(got)) if reply == PONG && got == PING => Ok((
            Outcome::Accepted,
            "payload sent and answered".into(),
            Some(session),
        )),
        (Err(e), Err(s)) => refused(format!("server: {s}; client: {e}")),
        (_, Err(s)) => refused(format!("server: {s}")),
        (Err(e), _) => refused(format!("client: {e}")),
        (Ok((reply, _)), Ok(got)) => {
            refused(format!("unexpected exchange: sent {got:?}, got {reply:?}"))
        }
    }
}

/// The protocol and key-exchange group of a session.
type Session = (String, String);

/// The protocol and key-exchange group a client's session negotiated, in
/// rustls's names (`TLSv1.3`, `X25519`).
fn session_of(conn: &rustls::ClientConnection) -> (String, String) {
    let protocol = conn
        .protocol_version()
        .map_or("-".into(), |v| format!("{v:?}").replace('_', "."));
    let group = conn
        .negotiated_key_exchange_group()
        .map_or("-".into(), |g| format!("{:?}", g.name()));
    (protocol, group)
}

/// An I/O error of a rustls session; a refused certificate is named as
/// rustls names the error (`(rustls: Expired)`), which fixtures are judged by.
fn io_text(e: &std::io::Error) -> String {
    let reason = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(certificate_error);
    match reason {
        Some(name) => format!("{e} (rustls: {name})"),
        None => e.to_string(),
    }
}

/// The errors of webpki that rustls passes on as `Other`, by name.
const WEBPKI_NAMES: [&str; 5] = [
    "UnsupportedCriticalExtension",
    "EndEntityUsedAsCa",
    "PathLenConstraintViolated",
    "NameConstraintViolation",
    "CaUsedAsEndEntity",
];

/// The name of the certificate error in a rustls error, without its context.
fn certificate_error(e: &rustls::Error) -> Option<&'static str> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return None;
    };
    Some(match c {
        C::Expired | C::ExpiredContext { .. } => "Expired",
        C::NotValidYet | C::NotValidYetContext { .. } => "NotValidYet",
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => "InvalidPurpose",
        C::NotValidForName | C::NotValidForNameContext { .. } => "NotValidForName",
        C::UnknownIssuer => "UnknownIssuer",
        C::BadSignature => "BadSignature",
        C::Revoked => "Revoked",
        C::UnhandledCriticalExtension => "UnhandledCriticalExtension",
        C::UnsupportedSignatureAlgorithmContext { .. } => "UnsupportedSignatureAlgorithm",
        C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            "UnsupportedSignatureAlgorithmForPublicKey"
        }
        // webpki's own errors, which rustls passes on as Other: their
        // names are all that says why.
        C::Other(other) => {
            let said = format!("{other:?}");
            WEBPKI_NAMES
                .into_iter()
                .find(|name| said.contains(name))
                .unwrap_or("Other")
        }
        _ => "Other",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_error_reads_as_the_text_it_replaced() {
        let io = || std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
        assert_eq!(SessionError::Socket(io()).to_string(), "timed out");
        assert_eq!(SessionError::Tls(io()).to_string(), "timed out");
        let refused = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        let tls = std::io::Error::new(std::io::ErrorKind::InvalidData, refused.clone());
        assert_eq!(
            SessionError::Tls(tls).to_string(),
            format!("{refused} (rustls: Expired)")
        );
        assert_eq!(
            SessionError::Rustls(refused.clone()).to_string(),
            refused.to_string()
        );
        assert_eq!(
            SessionError::ServerThread.to_string(),
            "the server thread failed"
        );
    }
}
