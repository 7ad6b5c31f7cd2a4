//! One step of a plan, and how it renders as a line of the tutorial.

use std::fmt;
use std::path::PathBuf;

use crate::pki::names::export;
use crate::shell::double_quote_escape;
pub use crate::shell::shell_word;

/// Which part of the tutorial a step belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Ca,
    Intermediate,
    Server,
    Client,
    Verify,
}

impl Section {
    /// The section an entity's steps belong to: the tutorial's CA, server
    /// and client sections, and an intermediate CA's own.
    pub fn of(role: crate::pki::names::Role) -> Section {
        use crate::pki::names::Role;
        match role {
            Role::Ca => Section::Ca,
            Role::Intermediate => Section::Intermediate,
            Role::Server => Section::Server,
            Role::Client => Section::Client,
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Ca => "ca",
            Section::Intermediate => "intermediate",
            Section::Server => "server",
            Section::Client => "client",
            Section::Verify => "verify",
        })
    }
}

/// One word of an openssl command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A plain argument, passed as is; rendered shell-quoted when it needs it.
    Lit(String),
    /// Text that the tutorial feeds through bash process substitution,
    /// `<(printf "…")`. The runner writes exactly these bytes to a temp file
    /// and passes its path instead.
    Inline(String),
}

impl Arg {
    pub fn lit(s: impl Into<String>) -> Arg {
        Arg::Lit(s.into())
    }
}

impl Arg {
    /// `"…"`: the text as a double-quoted printf format that prints it.
    pub fn printf_format(&self) -> String {
        let (Arg::Lit(text) | Arg::Inline(text)) = self;
        // printf treats `%` and `\` in its format string specially.
        let format = text.replace('\\', "\\\\").replace('%', "%%");
        // A newline is written as printf's \n, which bash leaves alone
        // inside double quotes.
        let quoted = double_quote_escape(&format).replace('\n', "\\n");
        format!("\"{quoted}\"")
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Lit(word) => f.write_str(&shell_word(word)),
            Arg::Inline(_) => write!(f, "<(printf {})", self.printf_format()),
        }
    }
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run openssl with these arguments; `stdin` holds the answers to its
    /// prompts, one line each (stdin is closed after them).
    Openssl { args: Vec<Arg>, stdin: Vec<String> },
    /// `cat parts… > out`, done natively.
    Concat { parts: Vec<PathBuf>, out: PathBuf },
    /// `mkdir -p dir && cp files… dir/`, done natively: what a lifecycle
    /// operation keeps of the files it replaces or retires.
    Copy { files: Vec<PathBuf>, dir: PathBuf },
    /// `printf "text" > out`, done natively (a new CA database file).
    Write { text: String, out: PathBuf },
    /// A check done in Rust on files already written.
    Inspect(Inspection),
    /// Run another program than openssl (a JDK's `keytool`), found on PATH,
    /// through the same exec wrapper.
    Tool { program: String, args: Vec<String> },
    /// A file pkiforge writes itself from files already there (a
    /// Kubernetes YAML, which holds a key and is never shown).
    Render { what: Render, out: PathBuf },
}

/// Checks of written files that need no openssl (parsed in Rust).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// `bundle` is exactly `parts`, certificate by certificate, in that order.
    BundleOrder {
        bundle: PathBuf,
        parts: Vec<PathBuf>,
    },
    /// The CSR and the certificate made from it have the same subject.
    SubjectsAgree { csr: PathBuf, crt: PathBuf },
    /// The certificate's subject has exactly these fields (in any order).
    ProfileSubject {
        crt: PathBuf,
        expected: Vec<(String, String)>,
    },
    /// The certificate's subjectAltName is exactly these entries, in order.
    ProfileSans { crt: PathBuf, expected: Vec<String> },
    /// A private key file is readable by its owner only.
    PrivateMode { key: PathBuf },
    /// The private key's public half is the certificate's public key.
    KeyMatches { key: PathBuf, crt: PathBuf },
    /// The certificate is valid for each of these names (the names past
    /// the first few, which openssl verify checks one process each).
    NamesCovered {
        crt: PathBuf,
        names: Vec<crate::pki::san::San>,
    },
    /// The CRL is one, signed by the CA certificate.
    CrlSignedBy { crl: PathBuf, ca: PathBuf },
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" then ")
        };
        match self {
            Inspection::BundleOrder { bundle, parts } => {
                write!(f, "{} holds {}", bundle.display(), join(parts))
            }
            Inspection::SubjectsAgree { csr, crt } => {
                write!(f, "{} has the subject of {}", crt.display(), csr.display())
            }
            Inspection::ProfileSubject { crt, expected } => {
                write!(
                    f,
                    "{} has the profile's subject {}",
                    crt.display(),
                    show_fields(expected)
                )
            }
            Inspection::ProfileSans { crt, expected } => {
                write!(
                    f,
                    "{} has the profile's subjectAltName {}",
                    crt.display(),
                    expected.join(", ")
                )
            }
            Inspection::PrivateMode { key } => {
                write!(f, "{} is readable by its owner only", key.display())
            }
            Inspection::CrlSignedBy { crl, ca } => {
                write!(f, "{} is signed by {}", crl.display(), ca.display())
            }
            Inspection::NamesCovered { crt, names } => {
                write!(
                    f,
                    "{} is valid for its {} other names",
                    crt.display(),
                    names.len()
                )
            }
            Inspection::KeyMatches { key, crt } => {
                write!(
                    f,
                    "{} is the private key of {}",
                    key.display(),
                    crt.display()
                )
            }
        }
    }
}

/// What a check's openssl call must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// stdout is exactly these lines.
    Lines(Vec<String>),
    /// stdout (`openssl pkcs12 -nodes`) holds one private key and exactly
    /// these certificates. It is never printed.
    Pkcs12 { certs: Vec<PathBuf> },
    /// openssl exits with an error, and its verify error (`error CODE at 0
    /// depth lookup`) is one this kind of fixture is refused for.
    Refused(crate::pki::fixture::Kind),
    /// stdout holds this line (`openssl ocsp`: `NAME.crt: good`, then the
    /// response's dates).
    Holds(String),
}

impl Step {
    /// Whether this check reads any of the files in `made`: a check that
    /// reads none of them concerns files this plan does not write.
    pub fn reads_any_of(&self, made: &std::collections::BTreeSet<PathBuf>) -> bool {
        self.inputs.iter().any(|i| made.contains(i))
    }
}

/// A subject's `(short name, value)` fields as pkiforge shows them:
/// `C=DE, O=Org, CN=Name`.
pub fn show_fields(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether two subjects have the same fields, in any order.
pub fn same_fields(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let sorted = |v: &[(String, String)]| {
        let mut v = v.to_vec();
        v.sort();
        v
    };
    sorted(a) == sorted(b)
}

/// What must hold after a `req` step: the subject openssl wrote, field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectCheck {
    pub file: PathBuf,
    /// `(short name, value)` in the order openssl writes them.
    pub expected: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// A short stable name such as `server-csr`.
    pub id: String,
    /// The entity (file stem) the step makes files for; empty for checks.
    pub entity: String,
    pub section: Section,
    /// The tutorial's words for this step.
    pub heading: String,
    pub action: Action,
    /// Files the step reads.
    pub inputs: Vec<PathBuf>,
    /// Files the step must leave behind (checked after it runs).
    pub outputs: Vec<PathBuf>,
    /// Private key files among the outputs: written 0600.
    pub keys: Vec<PathBuf>,
    pub subject_check: Option<SubjectCheck>,
    /// For checks: what openssl must print on stdout.
    pub expect: Option<Expect>,
    /// Whether what it printed is shown in the run's report (the
    /// tutorial's `openssl verify`: `server.crt: OK`).
    pub report: bool,
}

impl Step {
    /// Whether openssl reads the PKCS#12 password for this step
    /// (`-passout env:…` or `-passin env:…`): only such steps are given it.
    pub fn reads_p12_password(&self) -> bool {
        let wanted = format!("env:{}", P12_PASSWORD_VAR);
        match &self.action {
            Action::Openssl { args, .. } => args
                .iter()
                .any(|a| matches!(a, Arg::Lit(w) if *w == wanted)),
            // keytool's `-storepass:env NAME`.
            Action::Tool { args, .. } => args.iter().any(|a| a == P12_PASSWORD_VAR),
            _ => false,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            Action::Openssl { args, .. } => {
                f.write_str("openssl")?;
                for arg in args {
                    write!(f, " {arg}")?;
                }
                Ok(())
            }
            Action::Concat { parts, out } => {
                f.write_str("cat")?;
                for part in parts {
                    write!(f, " {}", shell_word(&part.to_string_lossy()))?;
                }
                write!(f, " > {}", shell_word(&out.to_string_lossy()))
            }
            Action::Copy { files, dir } => {
                let dir = shell_word(&dir.to_string_lossy());
                write!(f, "mkdir -p {dir} && cp")?;
                for file in files {
                    write!(f, " {}", shell_word(&file.to_string_lossy()))?;
                }
                write!(f, " {dir}/")
            }
            Action::Write { text, out } => write!(
                f,
                "printf {} > {}",
                Arg::Inline(text.clone()).printf_format(),
                shell_word(&out.to_string_lossy())
            ),
            Action::Inspect(inspection) => write!(f, "check: {inspection}"),
            Action::Tool { program, args } => {
                f.write_str(program)?;
                for arg in args {
                    write!(f, " {}", shell_word(arg))?;
                }
                Ok(())
            }
            Action::Render { what, out } => {
                write!(f, "# {}: {what}", shell_word(&out.to_string_lossy()))
            }
        }
    }
}

/// A Kubernetes object pkiforge renders from files already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Render {
    /// A `kubernetes.io/tls` Secret: the chain without the root, the key, the CA.
    TlsSecret {
        name: String,
        namespace: String,
        chain: Vec<PathBuf>,
        key: PathBuf,
        ca: PathBuf,
    },
    /// A ConfigMap holding the trust bundle alone.
    TrustBundle {
        name: String,
        namespace: String,
        ca: PathBuf,
    },
}

impl fmt::Display for Render {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Render::TlsSecret {
                name, namespace, ..
            } => write!(
                f,
                "a kubernetes.io/tls Secret {namespace}/{name} ({}, {}, {}), written by pkiforge",
                export::TLS_CRT,
                export::TLS_KEY,
                export::CA_CRT
            ),
            Render::TrustBundle {
                name, namespace, ..
            } => write!(
                f,
                "a ConfigMap {namespace}/{name} holding {}, written by pkiforge",
                export::CA_CRT
            ),
        }
    }
}

/// The variable that carries the PKCS#12 password (`-passout env:…`): only the steps that name it are given it (run/exec.rs).
pub const P12_PASSWORD_VAR: &str = "PKIFORGE_P12_PASSWORD";

/// A file argument as openssl must see it: a name that starts with `-`
/// would be read as an option, so it gets `./` in front.
pub fn file_arg(name: &str) -> String {
    if name.starts_with('-') {
        format!("./{name}")
    } else {
        name.to_string()
    }
}

/// [`file_arg`] for a path.
pub fn path_arg(path: &std::path::Path) -> std::ffi::OsString {
    let s = path.as_os_str();
    if s.as_encoded_bytes().starts_with(b"-") {
        let mut o = std::ffi::OsString::from("./");
        o.push(s);
        o
    } else {
        s.to_owned()
    }
}

/// What judges the files a step left, and runs the checks that need no
/// openssl: the check layer's verifier (`check::verify::Verifier`), handed
/// to the runner by the command that runs a plan, so that the runner, a
/// layer below the checks, never names them.
pub trait Judge: Sync {
    /// What `step` left in `dir` (given what it printed), as the lines the
    /// report shows; an error when it is not what the plan expects.
    fn after_step(
        &self,
        step: &Step,
        dir: &std::path::Path,
        stdout: &str,
    ) -> crate::error::Result<Vec<String>>;
    /// Runs a check that needs no openssl; what is wrong, if anything.
    fn inspect(
        &self,
        dir: &std::path::Path,
        inspection: &Inspection,
    ) -> Result<(), crate::error::Reason>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::path::Path;

    #[test]
    fn plain_words_stay_bare_and_others_are_double_quoted() {
        assert_eq!(shell_word("server.key"), "server.key");
        assert_eq!(
            shell_word("subjectAltName = DNS:localhost"),
            "\"subjectAltName = DNS:localhost\""
        );
        assert_eq!(shell_word("a\"b$c`d\\e"), "\"a\\\"b\\$c\\`d\\\\e\"");
        assert_eq!(shell_word(""), "\"\"");
    }

    #[test]
    fn inline_renders_as_process_substitution_with_printf_escapes() {
        assert_eq!(
            Arg::Inline("subjectAltName=DNS:localhost".into()).to_string(),
            "<(printf \"subjectAltName=DNS:localhost\")"
        );
        assert_eq!(
            Arg::Inline("URI:https://x/a%20b".into()).to_string(),
            "<(printf \"URI:https://x/a%%20b\")"
        );
    }

    #[test]
    fn concat_renders_as_cat_redirect() {
        let step = Step {
            id: "server-bundle".into(),
            entity: "server".into(),
            section: Section::Server,
            heading: String::new(),
            action: Action::Concat {
                parts: vec!["server.crt".into(), "ca.crt".into()],
                out: "server.bundle.crt".into(),
            },
            inputs: vec![],
            outputs: vec![],
            keys: vec![],
            subject_check: None,
            expect: None,
            report: false,
        };
        assert_eq!(
            step.to_string(),
            "cat server.crt ca.crt > server.bundle.crt"
        );
    }

    #[test]
    fn file_arguments_never_look_like_options() {
        assert_eq!(file_arg("server.crt"), "server.crt");
        assert_eq!(file_arg("-engine=foo.crt"), "./-engine=foo.crt");
        assert_eq!(
            path_arg(Path::new("-x/a.crt")),
            OsString::from("./-x/a.crt")
        );
        assert_eq!(
            path_arg(Path::new("/abs/a.crt")),
            OsString::from("/abs/a.crt")
        );
    }
}
