//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod examples;
use examples::{
    export_examples, renew_examples, report_examples, serve_examples, test_server_examples,
};

#[derive(Debug, Parser)]
#[command(
    name = "pkiforge",
    version,
    about = "A mutual-TLS PKI from a short TOML profile, made with exactly the tutorial's openssl commands.",
    before_help = "Examples:
  pkiforge plan profiles/localhost.toml            print the tutorial's ten commands
  pkiforge run profiles/localhost.toml             make the PKI in pki/localhost
  pkiforge run profiles/localhost.toml --out certs --force
  pkiforge verify pki/localhost                    check it again
  pkiforge handshake pki/localhost                 prove mutual TLS works, with openssl and rustls
  pkiforge init my.toml                            start a profile of your own"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The openssl binary to drive (default: `openssl` on PATH)
    #[arg(long, global = true, env = "PKIFORGE_OPENSSL", value_name = "PATH")]
    pub openssl: Option<PathBuf>,

    /// No progress lines on stderr; errors are still printed
    #[arg(long, short, global = true)]
    pub quiet: bool,

    /// Stop any openssl call (a step, a check, a probe) that runs longer than this
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the commands a run would execute, one per line, without running any
    #[command(before_help = "Examples:
  pkiforge plan profiles/localhost.toml
  pkiforge plan profiles/localhost.toml --answers   also show what is typed at each prompt")]
    Plan(PlanArgs),

    /// Run the commands, check every result, and move the PKI into place
    #[command(before_help = "Examples:
  pkiforge run profiles/localhost.toml                  writes pki/localhost/
  pkiforge run profiles/localhost.toml --out /tmp/pki
  PKIFORGE_OPENSSL=/opt/openssl/bin/openssl pkiforge run profiles/localhost.toml
  pkiforge run profiles/localhost.toml --step           pause before each step (workshops)
  pkiforge run profiles/localhost.toml --only ca        the CA section only; then --only server, --only client
  pkiforge run workshop.toml --out pki/room --add       issue only the clients not made yet, with the CA in pki/room
  pkiforge run profiles/intermediate.toml --root ~/offline-root   the root's key stays in ~/offline-root")]
    Run(RunArgs),

    /// Check a PKI: chain, purpose and names, keys, bundles, subjects
    #[command(before_help = "Examples:
  pkiforge verify pki/localhost
  pkiforge verify pki/localhost --profile profiles/localhost.toml   also check subjects and SANs against the profile")]
    Verify(VerifyArgs),

    /// Prove mutual TLS works: real handshakes on loopback with openssl and with rustls
    #[command(before_help = "Examples:
  pkiforge handshake pki/localhost
  pkiforge handshake pki/localhost --dry-run   print the commands that make the throwaway certificates, and stop

Each server is tried with each client, and must refuse a client without a
certificate, a client certificate from a foreign CA, and a host name that is
not in its subjectAltName. Everything runs on 127.0.0.1 on ports the system
picks, and is stopped after 15 seconds at most.")]
    Handshake(HandshakeArgs),

    /// Test a server of yours: the PKI's good clients must be accepted, a client without a certificate and every client fixture refused
    #[command(before_help = test_server_examples())]
    TestServer(TestServerArgs),
    /// Test a TLS client: serve every server of a PKI, fixtures too, and run COMMAND against each
    #[command(before_help = "Examples:
  pkiforge test-client pki/fixtures -- curl -sS -o /dev/null --cacert {ca} https://{host}:{port}/
  pkiforge test-client pki/fixtures --json -- gnutls-cli --x509cafile {ca} -p {port} {host}
  pkiforge test-client pki/fixtures -- curl -sS -o /dev/null --cacert {ca} --crlfile {crl} https://{host}:{port}/
  pkiforge test-client pki/fixtures --serve     serve them until Ctrl-C, for a client driven by hand

Each server (the good ones and every server fixture) is served by openssl
s_server on 127.0.0.1, on a port the system picks, and COMMAND runs once per
server, never through a shell: in each of its arguments, {host}, {port},
{ca} (the PKI's CA certificate, absolute) and {crl} (its CRL) are replaced.
The client accepted a server when COMMAND exits 0; the good servers must be
accepted, every fixture refused. {host} is each server's first DNS name
unless --host says otherwise, and must resolve to 127.0.0.1. Each run of
COMMAND is stopped after --timeout seconds.

Exit status: 0 when every verdict is right, 1 when one is wrong, 2 on bad
input (no server in DIR, COMMAND not found).")]
    TestClient(TestClientArgs),

    /// Show every certificate: subject, issuer, serial, SANs, key, validity, fingerprint, extensions
    #[command(before_help = "Examples:
  pkiforge inspect pki/localhost")]
    Inspect(InspectArgs),

    /// Write the workshop page: the chain as a picture, every certificate, its findings and the transcript
    #[command(before_help = report_examples())]
    Report(ReportArgs),

    /// Make an entity ready for its program: a Java keystore, a Kubernetes Secret, an nginx or HAProxy config
    #[command(before_help = export_examples())]
    Export(ExportArgs),

    /// Find what real clients will refuse or warn about, with the fix
    #[command(before_help = "Examples:
  pkiforge lint pki/localhost
  pkiforge lint pki/localhost --deny-warnings     exit 1 on warnings too

Exit status: 1 when a finding is an error (most clients refuse the
certificate), or with --deny-warnings when there is any finding.")]
    Lint(LintArgs),

    /// One line per certificate and CRL: when it expires, and whether it is valid, expiring, expired or revoked
    #[command(before_help = "Examples:
  pkiforge status pki/localhost
  pkiforge status pki/localhost                expiring = less than a third of its lifetime left
  pkiforge status pki/localhost --within 60    expiring = at most 60 days left
  pkiforge status pki/localhost --json

Exit status: 1 when a certificate has expired, is revoked and still in use,
or is expiring (less than a third of its lifetime left, or --within days),
or when the CRL is stale or expiring; so it can run from CI or cron.")]
    Status(StatusArgs),

    /// Issue certificates again: a leaf with its key (or a new one), or the CA with its own key and subject
    #[command(before_help = renew_examples())]
    Renew(RenewArgs),

    /// Revoke an entity's certificate: record it in the CA's database, move its files to the archive, write the CRL
    #[command(before_help = "Examples:
  pkiforge revoke pki/room alice
  pkiforge revoke pki/room alice --reason keyCompromise
  pkiforge revoke pki/room alice --dry-run

Then `pkiforge handshake pki/room` shows servers refusing alice, and
`pkiforge run PROFILE --out pki/room --add` can issue the name again.")]
    Revoke(RevokeArgs),

    /// Issue the CA's certificate revocation list (ca.crl) again, before it goes stale
    #[command(before_help = "Examples:
  pkiforge crl pki/room
  pkiforge crl pki/room --days 7")]
    Crl(CrlArgs),

    /// Serve each CA's CRL, certificate and OCSP responder over HTTP, where its certificates point, until Ctrl-C
    #[command(before_help = serve_examples())]
    Serve(ServeArgs),

    /// Write a commented starter profile
    #[command(before_help = "Examples:
  pkiforge init                 writes pkiforge.toml
  pkiforge init my-lab.toml")]
    Init(InitArgs),

    /// Print shell completions
    #[command(before_help = "Examples:
  pkiforge completions bash > ~/.local/share/bash-completion/completions/pkiforge
  pkiforge completions zsh > ~/.zfunc/_pkiforge")]
    Completions(CompletionsArgs),
}

/// `pkiforge plan`'s arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The TOML profile
    pub profile: PathBuf,
    /// Under each `openssl req`, list the prompts and the answers typed at them
    #[arg(long)]
    pub answers: bool,
    /// Only one section of the tutorial
    #[arg(long, value_enum, value_name = "SECTION")]
    pub only: Option<Only>,
}

/// `pkiforge run`'s arguments.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The TOML profile
    pub profile: PathBuf,
    /// Where the files go (default: pki/<profile file stem>)
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the PKI in DIR as a whole, the CA key included: the old one's CRL, database, archive and leaves not in the profile go too
    #[arg(long)]
    pub force: bool,
    /// Reuse the CA in DIR and issue only the entities whose files are not there yet
    #[arg(long)]
    pub add: bool,
    /// Run one section of the tutorial; the others' files must be in DIR already
    #[arg(long, value_enum, value_name = "SECTION")]
    pub only: Option<Only>,
    /// Pause before each step, showing the tutorial's words for it and the command
    #[arg(long)]
    pub step: bool,
    /// Take the root CA (ca.crt, ca.key, ca.srl) from this directory and leave its key there: DIR gets ca.crt only
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// How many steps may run at the same time (default: the available cores)
    #[arg(long, short, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub jobs: Option<usize>,
}

/// `pkiforge verify`'s arguments.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The directory a run wrote (ca.crt, NAME.crt with NAME.bundle.crt or NAME.pem, …)
    pub dir: PathBuf,
    /// Also check that subjects and SANs are this profile's
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<PathBuf>,
    /// Also follow each leaf's revocation pointers: fetch the CRL its
    /// distribution point serves, and ask its OCSP responder (pkiforge
    /// serve DIR answers both)
    #[arg(long)]
    pub online: bool,
    /// How many checks may run at the same time (default: the available cores)
    #[arg(long, short, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub jobs: Option<usize>,
}

/// `pkiforge handshake`'s arguments.
#[derive(Debug, Args)]
pub struct HandshakeArgs {
    /// The directory a run wrote
    pub dir: PathBuf,
    /// Print the commands that make the throwaway certificates (a
    /// foreign CA and its client; a server outside an intermediate's
    /// constraints) and stop
    #[arg(long)]
    pub dry_run: bool,
    /// Print the sessions as a JSON array: each with its stack, name,
    /// what was expected and what happened, why, and what it negotiated
    #[arg(long, conflicts_with = "dry_run")]
    pub json: bool,
    /// How many sessions may run at the same time (default: the available cores)
    #[arg(long, short, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub jobs: Option<usize>,
    /// Write each openssl session's messages and keys into DIR (docs/trace.md)
    #[arg(long, value_name = "DIR", conflicts_with = "dry_run")]
    pub trace: Option<PathBuf>,
}

/// `pkiforge test-server`'s arguments.
#[derive(Debug, Args)]
pub struct TestServerArgs {
    /// The directory a run wrote, with good clients and client fixtures (profiles/fixtures.toml)
    pub dir: PathBuf,
    /// Where the server listens: HOST:PORT, an IPv6 address in brackets ([::1]:8443)
    #[arg(value_name = "HOST:PORT")]
    pub address: String,
    /// The name the server's certificate must carry, sent as SNI (default: DIR's first server's host name, else HOST)
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// Send `GET PATH` over HTTP/1.1 and judge by the status: 2xx and 3xx accepted, any other refused
    #[arg(long, value_name = "PATH")]
    pub http: Option<String>,
    /// A JSON array of the cases instead (the schema is in docs/json.md)
    #[arg(long)]
    pub json: bool,
    /// How many clients may connect at the same time (default: the available cores)
    #[arg(long, short, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub jobs: Option<usize>,
}

/// `pkiforge test-client`'s arguments.
#[derive(Debug, Args)]
pub struct TestClientArgs {
    /// The directory a run wrote
    pub dir: PathBuf,
    /// What {host} is for every server (default: each server's first DNS name)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// A JSON array of verdicts instead of the table (docs/json.md)
    #[arg(long, conflicts_with = "serve")]
    pub json: bool,
    /// Serve every server and print their ports, until Ctrl-C; run no COMMAND
    #[arg(long)]
    pub serve: bool,
    /// The client to run against each server, after `--`, with its arguments
    #[arg(
        last = true,
        value_name = "COMMAND",
        required_unless_present = "serve",
        conflicts_with = "serve"
    )]
    pub command: Vec<std::ffi::OsString>,
}

/// `pkiforge inspect`'s arguments.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A directory of certificates (*.crt, *.pem)
    pub dir: PathBuf,
    /// A JSON array of certificates instead (the schema is in docs/json.md)
    #[arg(long)]
    pub json: bool,
}

/// `pkiforge report`'s arguments.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The directory a run wrote
    pub dir: PathBuf,
    /// Where to write the page (default: DIR/report.html)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Link each handshake session to its trace, from `pkiforge handshake DIR --trace TRACES`
    #[arg(long, value_name = "TRACES")]
    pub traces: Option<PathBuf>,
}

/// `pkiforge export`'s arguments.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The directory a run wrote
    pub dir: PathBuf,
    /// The server or client to export; for cfssl, cert-manager, vault and step, the CA to hand off (the intermediate, or ca)
    pub name: String,
    /// What to make
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Where the files go (default: DIR/export)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The Kubernetes namespace of the Secret and ConfigMap
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// What the nginx and HAProxy configs listen on: PORT or ADDRESS:PORT
    #[arg(long, default_value = "8443")]
    pub listen: String,
    /// Overwrite files already in OUTDIR
    #[arg(long)]
    pub force: bool,
    /// cert-manager: a ClusterIssuer, its Secret in the cert-manager namespace, rather than an Issuer
    #[arg(long)]
    pub cluster: bool,
}

/// `pkiforge lint`'s arguments.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// A directory of certificates (*.crt, *.pem)
    pub dir: PathBuf,
    /// Fail on warnings too
    #[arg(long)]
    pub deny_warnings: bool,
    /// A JSON array of findings instead (the schema is in docs/json.md)
    #[arg(long)]
    pub json: bool,
}

/// `pkiforge status`'s arguments.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The directory a run wrote
    pub dir: PathBuf,
    /// Call a certificate or the CRL expiring when it has at most this many
    /// days left (default: less than a third of its lifetime)
    #[arg(long, value_name = "DAYS")]
    pub within: Option<i64>,
    /// A JSON array instead (the schema is in docs/json.md)
    #[arg(long)]
    pub json: bool,
}

/// `pkiforge renew`'s arguments.
#[derive(Debug, Args)]
pub struct RenewArgs {
    /// The directory a run wrote
    pub dir: PathBuf,
    /// The entities to renew (`ca` for the CA)
    #[arg(required = true)]
    pub names: Vec<String>,
    /// The new validity (default: the previous one)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: Option<u32>,
    /// Make a new key and CSR before signing
    #[arg(long)]
    pub rekey: bool,
    /// Print the commands and stop
    #[arg(long)]
    pub dry_run: bool,
}

/// `pkiforge revoke`'s arguments.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The directory a run wrote
    pub dir: PathBuf,
    /// The entity to revoke
    pub name: String,
    /// Why, as the CRL will say
    #[arg(long, value_enum, default_value = "unspecified")]
    pub reason: Reason,
    /// Print the commands and stop
    #[arg(long)]
    pub dry_run: bool,
}

/// `pkiforge crl`'s arguments.
#[derive(Debug, Args)]
pub struct CrlArgs {
    /// The directory a run wrote
    pub dir: PathBuf,
    /// How long the CRL is valid
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// Print the commands and stop
    #[arg(long)]
    pub dry_run: bool,
}

/// `pkiforge serve`'s arguments.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The directory a run wrote, from a profile with crl_url, ocsp_url or ca_issuers_url
    pub dir: PathBuf,
    /// Where to listen (default: the host and port of the certificates' URLs)
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
}

/// `pkiforge init`'s arguments.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write it
    #[arg(default_value = "pkiforge.toml")]
    pub path: PathBuf,
    /// Overwrite the file if it exists
    #[arg(long)]
    pub force: bool,
}

/// `pkiforge completions`'s arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Why a certificate is revoked (RFC 5280's reason codes, as `openssl ca
/// -crl_reason` names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Reason {
    #[value(name = "unspecified")]
    Unspecified,
    #[value(name = "keyCompromise")]
    KeyCompromise,
    #[value(name = "superseded")]
    Superseded,
    #[value(name = "cessationOfOperation")]
    CessationOfOperation,
}

impl Reason {
    pub fn openssl_name(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "keyCompromise",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessationOfOperation",
        }
    }
}

/// What `export` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Java,
    K8s,
    Nginx,
    Haproxy,
    Cfssl,
    CertManager,
    Vault,
    Step,
}

impl ExportFormat {
    pub fn format(self) -> crate::plan::export::Format {
        match self {
            ExportFormat::Java => crate::plan::export::Format::Java,
            ExportFormat::K8s => crate::plan::export::Format::K8s,
            ExportFormat::Nginx => crate::plan::export::Format::Nginx,
            ExportFormat::Haproxy => crate::plan::export::Format::Haproxy,
            ExportFormat::Cfssl => crate::plan::export::Format::Cfssl,
            ExportFormat::CertManager => crate::plan::export::Format::CertManager,
            ExportFormat::Vault => crate::plan::export::Format::Vault,
            ExportFormat::Step => crate::plan::export::Format::Step,
        }
    }
}

/// A section of the tutorial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    Ca,
    Intermediate,
    Server,
    Client,
}

impl Only {
    pub fn section(self) -> crate::plan::step::Section {
        match self {
            Only::Ca => crate::plan::step::Section::Ca,
            Only::Intermediate => crate::plan::step::Section::Intermediate,
            Only::Server => crate::plan::step::Section::Server,
            Only::Client => crate::plan::step::Section::Client,
        }
    }
}
