//! OCSP in a handshake. The server staples the answer its CA's responder
//! gives for its certificate (the responder `pkiforge serve` runs: `openssl
//! ocsp` over the CA's database, asked here without HTTP), and a server
//! that checks its clients through OCSP instead of the CRL asks the same
//! responder about each client, as nginx's `ssl_ocsp` does. What an answer
//! says is read by openssl's OCSP client, which first checks its signature.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

use crate::error::{Error, Result};
use crate::pki::names::{self, Files};
use crate::plan::step::path_arg;
use crate::run::openssl::Openssl;
use crate::run::serve::ocsp::{Question, answer_call, signer_of};

use super::case::CASE_TIMEOUT;

/// The CA that signs the PKI's leaves, as an OCSP responder: its files in
/// the PKI's directory, and the root every answer is checked against.
#[derive(Debug, Clone)]
pub struct Responder {
    pub dir: PathBuf,
    pub issuer: Files,
    pub ca: PathBuf,
}

/// What a case does with OCSP, and what it needs to.
#[derive(Clone, Copy)]
pub struct OcspCase<'a> {
    pub openssl: &'a Openssl,
    pub responder: &'a Responder,
    /// The answer the server staples, which the client must find good.
    pub staple: Option<&'a Path>,
    /// Whether the server asks the responder about the client's certificate.
    pub ask_about_client: bool,
}

/// What an answer says of a certificate: openssl's word for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Good,
    Revoked,
    Unknown,
}

impl Responder {
    /// The files of the PKI it reads: the issuer's certificate and
    /// database, and the certificate and key its answers are signed with.
    pub fn files(&self) -> [PathBuf; 4] {
        let (i, s) = (&self.issuer, signer_of(&self.dir, &self.issuer));
        [i.crt(), i.index(), s.crt(), s.key()].map(|f| self.dir.join(f))
    }

    /// The issuer's answer for the certificate at `cert` (PEM), written at
    /// `out` (DER).
    pub fn answer(&self, openssl: &Openssl, cert: &Path, out: &Path) -> Result<()> {
        let issuer = self.dir.join(self.issuer.crt());
        let question = Question::Certificate {
            cert,
            issuer: &issuer,
        };
        let done = answer_call(openssl, &self.dir, &self.issuer, question, out).run()?;
        if done.status.success() {
            return Ok(());
        }
        Err(Error::BadInput(format!(
            "the OCSP responder of {} gave no answer for {}: {}; `pkiforge crl {}` brings its database ({}) up to date",
            self.issuer.name,
            cert.display(),
            done.stderr_text().trim(),
            self.dir.display(),
            self.issuer.index()
        )))
    }

    /// What `response` (DER) says of `cert`, once openssl has checked that
    /// the CA signed it.
    pub fn status(&self, openssl: &Openssl, cert: &Path, response: &Path) -> Result<Status> {
        let args = vec![
            "ocsp".into(),
            "-respin".into(),
            path_arg(response),
            "-issuer".into(),
            path_arg(&self.dir.join(self.issuer.crt())),
            "-cert".into(),
            path_arg(cert),
            "-CAfile".into(),
            path_arg(&self.ca),
            "-no_nonce".into(),
        ];
        let done = openssl.call(args, "ocsp status", CASE_TIMEOUT).run()?;
        let (out, err) = (done.stdout_text(), done.stderr_text());
        let status = out.lines().find_map(|l| match l.rsplit_once(": ")?.1 {
            "good" => Some(Status::Good),
            "revoked" => Some(Status::Revoked),
            "unknown" => Some(Status::Unknown),
            _ => None,
        });
        match status {
            Some(s) if done.status.success() && err.contains("Response verify OK") => Ok(s),
            _ => Err(Error::BadInput(format!(
                "openssl ocsp cannot read the answer about {}: {}",
                cert.display(),
                err.trim()
            ))),
        }
    }

    /// Asks about a certificate a peer presented (DER), with files in
    /// `dir` (a private directory of the case): the answer, then its status.
    pub fn ask(&self, openssl: &Openssl, dir: &Path, der: &[u8]) -> Result<Status> {
        self.read_answer(openssl, dir, der, None)
    }

    /// What `answer` (DER), stapled by a peer, says of its certificate (DER).
    pub fn stapled(
        &self,
        openssl: &Openssl,
        dir: &Path,
        der: &[u8],
        answer: &[u8],
    ) -> Result<Status> {
        self.read_answer(openssl, dir, der, Some(answer))
    }

    /// The status of `der` in `answer`, or in the responder's answer now.
    fn read_answer(
        &self,
        openssl: &Openssl,
        dir: &Path,
        der: &[u8],
        answer: Option<&[u8]>,
    ) -> Result<Status> {
        let (cert, at) = (
            dir.join(names::handshake::ASKED_CERT),
            dir.join(names::handshake::ASKED_ANSWER),
        );
        let _ = std::fs::remove_file(&cert);
        let _ = std::fs::remove_file(&at);
        crate::run::scratch::write_new(&cert, pem_certificate(der))?;
        match answer {
            Some(bytes) => crate::run::scratch::write_new(&at, bytes)?,
            None => self.answer(openssl, &cert, &at)?,
        }
        self.status(openssl, &cert, &at)
    }
}

/// What a verifier that reads OCSP needs: openssl, the responder, and a
/// private directory of the case for its files.
#[derive(Debug, Clone)]
pub struct Asker {
    openssl: Openssl,
    responder: Responder,
    dir: PathBuf,
}

impl Asker {
    pub fn new(ocsp: &OcspCase<'_>, dir: &Path) -> Asker {
        Asker {
            openssl: ocsp.openssl.clone(),
            responder: ocsp.responder.clone(),
            dir: dir.to_path_buf(),
        }
    }

    /// A client's verdict on the answer the server stapled for its
    /// certificate (rustls itself reads no OCSP answer: it hands the
    /// stapled one to the verifier): there must be one, and it must say good.
    pub fn stapled(
        &self,
        end_entity: &CertificateDer<'_>,
        answer: &[u8],
    ) -> std::result::Result<(), rustls::Error> {
        if answer.is_empty() {
            return Err(rustls::Error::General("no OCSP answer stapled".into()));
        }
        let status = self
            .responder
            .stapled(&self.openssl, &self.dir, end_entity, answer);
        self.verdict(status)
    }

    /// rustls's verdict on a status: good passes, revoked is rustls's
    /// `Revoked`, anything else a refusal that says what openssl read.
    fn verdict(&self, status: Result<Status>) -> std::result::Result<(), rustls::Error> {
        match status {
            Ok(Status::Good) => Ok(()),
            Ok(Status::Revoked) => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Revoked,
            )),
            Ok(Status::Unknown) => Err(rustls::Error::General(
                "the OCSP responder does not know the certificate".into(),
            )),
            Err(e) => Err(rustls::Error::General(e.to_string())),
        }
    }
}

/// A server's verifier that, once webpki accepts the client's chain, asks
/// the CA's OCSP responder about the client's certificate, and refuses it
/// unless the answer says good: what nginx's `ssl_ocsp on` does.
#[derive(Debug)]
pub struct AsksAboutClients {
    inner: Arc<dyn ClientCertVerifier>,
    asker: Asker,
}

impl AsksAboutClients {
    pub fn new(inner: Arc<dyn ClientCertVerifier>, ocsp: &OcspCase<'_>, dir: &Path) -> Self {
        AsksAboutClients {
            inner,
            asker: Asker::new(ocsp, dir),
        }
    }
}

impl ClientCertVerifier for AsksAboutClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let a = &self.asker;
        a.verdict(a.responder.ask(&a.openssl, &a.dir, end_entity))
            .map(|()| verified)
    }

    signatures_by_inner!();
}

/// A certificate in PEM, as every openssl reads it (1.1.1's `ocsp -cert`
/// reads nothing else).
fn pem_certificate(der: &[u8]) -> String {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
