//! File names: the ONLY place that turns a role and a name into the files
//! of an entity (the tutorial's `ca.key`, `server.bundle.crt`,
//! `client.pem`, …), and that reads a PKI directory back into entities.

use std::path::Path;

/// What an entity is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Ca,
    /// A CA that the root signed and that signs the leaves.
    Intermediate,
    Server,
    Client,
}

impl Role {
    /// Its table in a profile, and the default name of its files.
    pub fn table(self) -> &'static str {
        match self {
            Role::Ca => "ca",
            Role::Intermediate => "intermediate",
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// The files of one entity, by the tutorial's naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    pub name: String,
    pub role: Role,
}

impl Files {
    pub fn new(name: &str, role: Role) -> Files {
        Files {
            name: name.to_string(),
            role,
        }
    }

    /// `NAME.key`: the private key.
    pub fn key(&self) -> String {
        format!("{}.key", self.name)
    }

    /// `NAME.crt`: the certificate.
    pub fn crt(&self) -> String {
        format!("{}.crt", self.name)
    }

    /// `NAME.csr`: a leaf's certificate signing request.
    pub fn csr(&self) -> String {
        format!("{}.csr", self.name)
    }

    /// `NAME.srl`: a CA's serial number file (`-CAcreateserial`).
    pub fn srl(&self) -> String {
        format!("{}.srl", self.name)
    }

    /// A leaf's bundle: the tutorial's `server.bundle.crt` (what a server
    /// presents) and `client.pem` (what a client presents).
    pub fn bundle(&self) -> String {
        match self.role {
            Role::Client => format!("{}.pem", self.name),
            _ => format!("{}.bundle.crt", self.name),
        }
    }

    /// `NAME.index`: a CA's database of what it issued and revoked, as
    /// `openssl ca` keeps it (its index.txt).
    pub fn index(&self) -> String {
        format!("{}.index", self.name)
    }

    /// `NAME.index.attr`: the attributes `openssl ca` keeps beside it.
    pub fn index_attr(&self) -> String {
        format!("{}.index.attr", self.name)
    }

    /// `NAME.crlnumber`: the number of a CA's next CRL.
    pub fn crlnumber(&self) -> String {
        format!("{}.crlnumber", self.name)
    }

    /// `NAME.crl`: a CA's certificate revocation list.
    pub fn crl(&self) -> String {
        format!("{}.crl", self.name)
    }

    /// `NAME.p12`: the PKCS#12 bundle.
    pub fn p12(&self) -> String {
        format!("{}.p12", self.name)
    }

    /// The throwaway CA that signs a `foreign-ca` fixture: `NAME.issuer.crt`
    /// is kept for inspection; its key and serial file are never published.
    pub fn issuer(&self) -> Files {
        Files::new(&format!("{}{ISSUER}", self.name), Role::Ca)
    }

    /// The certificate that signs a CA's OCSP answers, when its profile
    /// asks for one (`ocsp_signer`): `NAME.ocsp.key` and `NAME.ocsp.crt`
    /// are kept; its CSR is never published.
    pub fn ocsp_signer(&self) -> Files {
        Files::new(&format!("{}{OCSP_SIGNER}", self.name), self.role)
    }

    /// Every file the entity's steps write, in the order they are made.
    pub fn all(&self, p12: bool) -> Vec<String> {
        let mut files = vec![self.key(), self.crt()];
        match self.role {
            Role::Ca => files.push(self.srl()),
            Role::Intermediate => files.extend([self.csr(), self.srl()]),
            _ => files.extend([self.csr(), self.bundle()]),
        }
        if p12 {
            files.push(self.p12());
        }
        files
    }
}

/// Where a lifecycle operation keeps the files of a certificate it replaces
/// or revokes: `archive/SERIAL/`, by the old certificate's serial in hex.
pub fn archive(serial_hex: &str) -> std::path::PathBuf {
    Path::new(ARCHIVE).join(serial_hex)
}

/// The mode pkiforge gives private keys and PKCS#12 files.
pub const KEY_MODE: u32 = 0o600;

/// The directory of what lifecycle operations replaced ([`archive`] names its directories).
pub const ARCHIVE: &str = "archive";

/// What ends the name of a foreign-ca fixture's other CA ([`Files::issuer`]).
pub const ISSUER: &str = ".issuer";

/// What ends the stem of a CA's OCSP-signing certificate ([`Files::ocsp_signer`]).
pub const OCSP_SIGNER: &str = ".ocsp";

/// The transcript of every run in DIR, as a bash script (transcript.rs).
pub const TRANSCRIPT: &str = "commands.sh";

/// The manifest of a PKI's negative-test fixtures.
pub const MANIFEST: &str = "fixtures.json";

// What pkiforge keeps in DIR for itself while it works, and the config it
// reads from openssl's directory.

/// `DIR/.pkiforge.lock`: the record lock of a PKI directory.
pub const LOCK_FILE: &str = ".pkiforge.lock";

/// What a staging directory's name starts with.
pub const STAGING_PREFIX: &str = ".pkiforge-staging-";

/// The publish journal, in a staging directory.
pub const JOURNAL: &str = "publish.journal";

/// openssl's config file, in its OPENSSLDIR.
pub const OPENSSL_CNF: &str = "openssl.cnf";

/// The workshop page `report` writes by default.
pub const REPORT: &str = "report.html";

/// Whether a step's output stays in staging and is never published: what
/// a fixture's own CA (`NAME.issuer`, [`Files::issuer`]) is made with, its
/// key, CSR, serial file, database and CRL number (its certificate is
/// kept); and the CSR of a CA's OCSP signer ([`Files::ocsp_signer`]).
pub fn is_scratch(file: &Path) -> bool {
    let name = file.to_string_lossy();
    let signer_csr = Files::new("", Role::Ca).csr();
    if name
        .strip_suffix(signer_csr.as_str())
        .is_some_and(|stem| stem.ends_with(OCSP_SIGNER))
    {
        return true;
    }
    let own = Files::new("", Role::Ca);
    [
        own.key(),
        own.csr(),
        own.srl(),
        own.index(),
        own.index_attr(),
        own.crlnumber(),
    ]
    .iter()
    .any(|suffix| {
        name.strip_suffix(suffix.as_str())
            .is_some_and(|stem| stem.ends_with(ISSUER))
    })
}

/// The files the CAs share between entities: serial numbers, the database
/// of `openssl ca` and the CRL. A step that writes one makes no entity
/// half there.
pub fn is_shared(file: &Path) -> bool {
    is_serial(file)
        || ["index", "attr", "crlnumber", "crl"]
            .iter()
            .any(|e| file.extension().is_some_and(|x| x == *e))
}

/// Whether `file` is a CA's serial number file (see [`Files::srl`]).
pub fn is_serial(file: &Path) -> bool {
    file.extension().is_some_and(|e| e == "srl")
}

/// Whether `file` is the attributes `openssl ca` keeps beside the
/// database `index` ([`Files::index_attr`] beside [`Files::index`]).
pub fn is_attr_of(file: &Path, index: &Path) -> bool {
    file.as_os_str() == format!("{}.attr", index.display()).as_str()
}

/// Whether a file is a server's bundle (`NAME.bundle.crt`): a certificate
/// that a server bundle holds is a server's.
pub fn is_server_bundle(file: &str) -> bool {
    file.ends_with(".bundle.crt")
}

/// Whether a file is a bundle: a server's, or a client's `NAME.pem`.
pub fn is_bundle(file: &str) -> bool {
    is_server_bundle(file) || file.ends_with(".pem")
}

/// Whether a file is one pkiforge reads certificates from (`.crt`, `.pem`).
pub fn may_hold_certificates(file: &str) -> bool {
    file.ends_with(".crt") || file.ends_with(".pem")
}

/// The entity a certificate file is of: `server` of `server.crt`; none
/// for another file.
pub fn crt_stem(file: &str) -> Option<&str> {
    file.strip_suffix(".crt")
}

/// Whether a file is a CRL (`NAME.crl`, see [`Files::crl`]).
pub fn is_crl(file: &str) -> bool {
    file.ends_with(".crl")
}

/// The certificate of the CA whose CRL is `crl` (`NAME.crl`): `NAME.crt`.
pub fn crt_of_crl(crl: &str) -> String {
    format!("{}.crt", crl.trim_end_matches(".crl"))
}

/// Whether a file is the certificate of a foreign-ca fixture's other CA
/// (`NAME.issuer.crt`, see [`Files::issuer`]).
pub fn is_issuer_crt(file: &str) -> bool {
    crt_stem(file).is_some_and(|stem| stem.ends_with(ISSUER))
}

/// Whether a file is a CA's OCSP signer's certificate (`NAME.ocsp.crt`,
/// see [`Files::ocsp_signer`]).
pub fn is_ocsp_signer_crt(file: &str) -> bool {
    crt_stem(file).is_some_and(|stem| stem.ends_with(OCSP_SIGNER))
}

/// What a directory without any certificate file lacks, as messages say it.
pub const ANY_CERTIFICATE: &str = "certificate (*.crt, *.pem)";

// ---------------------------------------------------------------------------
// The handshake's files: in its own scratch directory (check/handshake/
// scratch.rs), never in a PKI's.

/// The files `pkiforge handshake` writes in its scratch directory, besides
/// its throwaway certificates' (named by [`Files`]) and its logs.
pub mod handshake {
    /// The throwaway CA's own config (plan/handshake.rs writes it first).
    pub const FOREIGN_CNF: &str = "foreign.cnf";
    /// What s_server sends after its certificate (`-cert_chain`), when that
    /// is more than one file of the PKI.
    pub const SERVER_CHAIN: &str = "server-chain.crt";
    /// What s_client sends after its certificate, likewise.
    pub const CLIENT_CHAIN: &str = "client-chain.crt";
    /// What the CA's responder answers for a server's certificate, which
    /// the server staples (DER).
    pub const STAPLE: &str = "staple.der";
    /// A certificate a verifier asks the responder about (PEM), and the
    /// answer it gets (DER).
    pub const ASKED_CERT: &str = "asked.crt";
    pub const ASKED_ANSWER: &str = "asked.der";

    /// `handshake --trace DIR`: a session's TLS messages, both sides'.
    pub fn trace(stem: &str) -> String {
        format!("{stem}.trace.txt")
    }

    /// Its keys, in SSLKEYLOGFILE format (for Wireshark or tshark).
    pub fn keylog(stem: &str) -> String {
        format!("{stem}.keylog")
    }

    /// Its packets off the loopback, where tcpdump may record them.
    pub fn pcap(stem: &str) -> String {
        format!("{stem}.pcap")
    }

    /// `handshake --trace DIR`: the sessions, as `handshake --json` prints
    /// them, each with its trace's stem; `report --traces DIR` reads it.
    pub const SESSIONS: &str = "sessions.json";

    /// Whether a file of a trace is a secret: its keys ([`keylog`]), or
    /// its messages ([`trace`]), where s_client prints the session's
    /// resumption secret.
    pub fn is_secret(file: &std::path::Path) -> bool {
        file.to_str()
            .and_then(|f| {
                f.strip_suffix(&keylog(""))
                    .or_else(|| f.strip_suffix(&trace("")))
            })
            .is_some_and(|stem| !stem.is_empty())
    }
}

/// The files `pkiforge serve` hands `openssl ocsp` in its scratch
/// directory, one pair per request.
pub mod serve {
    /// The OCSP request, as the client sent it (DER).
    pub const OCSP_REQUEST: &str = "request.der";
    /// The signed answer openssl writes (DER).
    pub const OCSP_RESPONSE: &str = "response.der";
}

// ---------------------------------------------------------------------------
// The files `pkiforge export` writes into OUTDIR (plan/export/,
// commands/export.rs), besides the copies of the PKI's own named by [`Files`].

/// The files of an export: a suffix after the entity's name
/// (`NAME.keystore.p12`, made by [`export::named`]), or a name of their own.
pub mod export {
    /// `NAME.keystore.p12`: the key and its chain, as a Java keystore (PKCS12).
    pub const KEYSTORE: &str = ".keystore.p12";
    /// `NAME.java.properties`: the javax.net.ssl system properties.
    pub const JAVA_PROPERTIES: &str = ".java.properties";
    /// `NAME.secret.yaml`: the kubernetes.io/tls Secret.
    pub const SECRET: &str = ".secret.yaml";
    /// `NAME.nginx.conf`: a server block requiring client certificates.
    pub const NGINX_CONF: &str = ".nginx.conf";
    /// `NAME.haproxy.pem`: certificate, chain and key, for HAProxy's `crt`.
    pub const HAPROXY_PEM: &str = ".haproxy.pem";
    /// `NAME.haproxy.cfg`: the frontend with the bind line.
    pub const HAPROXY_CFG: &str = ".haproxy.cfg";
    /// `NAME.chain.crt`: the certificate and the chain it sends (no root).
    pub const CHAIN: &str = ".chain.crt";
    /// Hand-off to a CA service (`export DIR CA --format …`): cfssl's
    /// signing config; Vault's (and OpenBao's) PEM bundle, `NAME.vault-bundle.pem`;
    /// the files step-ca keeps in `$(step path)`; cert-manager's CA Secret
    /// (`NAME.ca-secret.yaml`), Issuer (`NAME.issuer.yaml`), trust-manager
    /// Bundle and an example Certificate.
    pub const CFSSL_CONFIG: &str = "cfssl.json";
    pub const VAULT_BUNDLE: &str = ".vault-bundle.pem";
    pub const STEP_ROOT_CRT: &str = "root_ca.crt";
    pub const STEP_ROOT_KEY: &str = "root_ca_key";
    pub const STEP_INTERMEDIATE_CRT: &str = "intermediate_ca.crt";
    pub const STEP_INTERMEDIATE_KEY: &str = "intermediate_ca_key";
    pub const CA_SECRET: &str = ".ca-secret.yaml";
    pub const ISSUER: &str = ".issuer.yaml";
    pub const TRUST_BUNDLE: &str = "trust-bundle.yaml";
    pub const TRUST_SOURCE: &str = "trust-source.yaml";
    pub const EXAMPLE_CERTIFICATE: &str = "example-certificate.yaml";

    /// The entity's file of one of the suffixes above: `NAME.keystore.p12`.
    pub fn named(name: &str, suffix: &str) -> String {
        format!("{name}{suffix}")
    }

    /// The root CA as a trusted entry, for javax.net.ssl.trustStore.
    pub const TRUSTSTORE: &str = "truststore.p12";
    /// The trust bundle alone, as a Kubernetes ConfigMap.
    pub const CA_CONFIGMAP: &str = "ca.configmap.yaml";
    /// The CRL of each CA of the chain, in one file.
    pub const CRL: &str = "crl.pem";
    /// HAProxy's own config, which an exported frontend goes in.
    pub const HAPROXY_CONFIG: &str = "haproxy.cfg";

    /// The data keys of a kubernetes.io/tls Secret, which a pod mounts as
    /// files of these names: the chain without the root, the key, the CA
    /// (also the one key of the trust bundle's ConfigMap).
    pub const TLS_CRT: &str = "tls.crt";
    pub const TLS_KEY: &str = "tls.key";
    pub const CA_CRT: &str = "ca.crt";

    /// Whether a file of an export is a private key: `NAME.key`, copied
    /// from the PKI ([`super::Files::key`]).
    pub fn is_key(file: &str) -> bool {
        file.ends_with(".key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tutorials_names() {
        let server = Files::new("server", Role::Server);
        assert_eq!(
            server.all(false),
            [
                "server.key",
                "server.crt",
                "server.csr",
                "server.bundle.crt"
            ]
        );
        assert_eq!(
            Files::new("client", Role::Client).all(true),
            [
                "client.key",
                "client.crt",
                "client.csr",
                "client.pem",
                "client.p12"
            ]
        );
        assert_eq!(
            Files::new("ca", Role::Ca).all(false),
            ["ca.key", "ca.crt", "ca.srl"]
        );
        assert!(is_serial(Path::new("ca.srl")));
        assert!(!is_serial(Path::new("ca.crt")));
    }
}
