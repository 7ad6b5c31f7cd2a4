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

/// What ends the name of a foreign-ca fixture's other CA ([`Files::issuer`]).
pub const ISSUER: &str = ".issuer";

/// The transcript of every run in DIR, as a bash script (transcript.rs).
pub const TRANSCRIPT: &str = "commands.sh";

/// The manifest of a PKI's negative-test fixtures.
pub const MANIFEST: &str = "fixtures.json";

/// Whether a step's output stays in staging and is never published: the
/// key and serial file of a fixture's throwaway CA.
pub fn is_scratch(file: &Path) -> bool {
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    stem.ends_with(ISSUER) && (is_serial(file) || file.extension().is_some_and(|e| e == "key"))
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

/// The fixtures of `dir`, from its manifest (none without one).
pub fn read_fixtures(dir: &Path) -> Result<crate::fixture::Manifest, String> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(crate::fixture::Manifest::default());
    }
    let bytes = crate::files::read_regular(&path).map_err(|e| e.to_string())?;
    crate::fixture::Manifest::parse(&String::from_utf8_lossy(&bytes))
        .map_err(|e| format!("{}: {e}; make the PKI again to rewrite it", path.display()))
}

/// Whether `file` is a CA's serial number file (see [`Files::srl`]).
pub fn is_serial(file: &Path) -> bool {
    file.extension().is_some_and(|e| e == "srl")
}

/// A PKI directory read back by its file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub ca: Files,
    /// `intermediate.crt`, when the leaves were signed by one.
    pub intermediate: Option<Files>,
    /// Servers first, then clients, each by name.
    pub leaves: Vec<Files>,
    /// The negative-test fixtures, as the manifest lists them: not leaves.
    pub fixtures: Vec<crate::fixture::Entry>,
}

/// Reads `dir` back into entities: `ca.crt`, and each other `NAME.crt`
/// with `NAME.bundle.crt` (a server) or `NAME.pem` (a client); at least
/// one of them.
pub fn read(dir: &Path) -> Result<Layout, String> {
    let found = read_entities(dir)?;
    if found.leaves.is_empty() {
        return Err(format!(
            "{} has {} but no server or client certificate",
            dir.display(),
            found.ca.crt()
        ));
    }
    Ok(found)
}

/// [`read`], also when the CA is all there is.
pub fn read_entities(dir: &Path) -> Result<Layout, String> {
    let ca = Files::new("ca", Role::Ca);
    if !dir.join(ca.crt()).is_file() {
        return Err(format!(
            "{} has no {}; give the directory a run wrote, e.g. pki/localhost",
            dir.display(),
            ca.crt()
        ));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let fixtures = read_fixtures(dir)?.fixtures;
    let mut leaves = Vec::new();
    let mut unknown = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".crt") else {
            continue;
        };
        if name == ca.name
            || name == Role::Intermediate.table()
            || name.ends_with(".bundle")
            || name.ends_with(ISSUER)
            || fixtures.iter().any(|f| f.name == name)
        {
            continue;
        }
        let role = [Role::Server, Role::Client]
            .into_iter()
            .find(|&role| dir.join(Files::new(name, role).bundle()).is_file());
        match role {
            Some(role) => leaves.push(Files::new(name, role)),
            None => unknown.push(file.clone()),
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(format!(
            "cannot tell whether {} belong to a server (NAME.bundle.crt) or a client (NAME.pem); restore the bundle files",
            unknown.join(", ")
        ));
    }
    leaves.sort_by_key(|l| (l.role != Role::Server, l.name.clone()));
    let intermediate = Files::new(Role::Intermediate.table(), Role::Intermediate);
    let intermediate = dir
        .join(intermediate.crt())
        .is_file()
        .then_some(intermediate);
    Ok(Layout {
        ca,
        intermediate,
        leaves,
        fixtures,
    })
}

/// The leaves kept in an archive directory (`archive/SERIAL/`): each
/// `NAME.crt` with its bundle.
pub fn read_entities_in(dir: &Path) -> Result<Vec<Files>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".crt") else {
            continue;
        };
        if let Some(role) = [Role::Server, Role::Client]
            .into_iter()
            .find(|&role| dir.join(Files::new(name, role).bundle()).is_file())
        {
            out.push(Files::new(name, role));
        }
    }
    Ok(out)
}

/// The files of the PKI in `dir` that pkiforge made, as it names them,
/// for `run --force` to take away with the PKI they belong to: each CA's
/// (`ca`, `intermediate`) key, certificate, CSR, serial, database and CRL;
/// each leaf and fixture (a `NAME.crt` with its bundle) with its key, CSR,
/// PKCS#12 and foreign issuer; the manifest, the transcript and
/// `archive/` when it holds only serial directories of files. Nothing
/// when `dir` has no `ca.crt`; never a directory other than `archive`,
/// nor a file pkiforge does not name.
pub fn pki_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let ca = Files::new("ca", Role::Ca);
    if !dir.join(ca.crt()).is_file() {
        return Vec::new();
    }
    let mut names: Vec<String> = Vec::new();
    for f in [
        ca,
        Files::new(Role::Intermediate.table(), Role::Intermediate),
    ] {
        names.extend([f.key(), f.crt(), f.csr(), f.srl(), f.index()]);
        names.extend([f.index_attr(), f.crlnumber(), f.crl()]);
    }
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    for entry in entries {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file.strip_suffix(".crt") else {
            continue;
        };
        for role in [Role::Server, Role::Client] {
            let f = Files::new(name, role);
            if dir.join(f.bundle()).is_file() {
                names.extend([f.key(), f.crt(), f.csr(), f.bundle(), f.p12()]);
                names.push(f.issuer().crt());
            }
        }
    }
    names.extend([MANIFEST.to_string(), TRANSCRIPT.to_string()]);
    names.sort();
    names.dedup();
    let mut out: Vec<std::path::PathBuf> = names
        .into_iter()
        .filter(|n| std::fs::symlink_metadata(dir.join(n)).is_ok_and(|m| !m.is_dir()))
        .map(std::path::PathBuf::from)
        .collect();
    if is_archive(&dir.join(ARCHIVE)) {
        out.push(ARCHIVE.into());
    }
    out
}

/// The directory of what lifecycle operations replaced ([`archive`]).
const ARCHIVE: &str = "archive";

/// Whether `dir` is an archive as pkiforge keeps it: directories named by
/// a serial in hex, each holding files only.
fn is_archive(dir: &Path) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return false;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    meta.is_dir()
        && entries.flatten().all(|serial| {
            let hex = serial
                .file_name()
                .to_str()
                .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_hexdigit()));
            let files_only = std::fs::read_dir(serial.path()).is_ok_and(|files| {
                files
                    .flatten()
                    .all(|f| f.file_type().is_ok_and(|t| t.is_file()))
            });
            hex && serial.file_type().is_ok_and(|t| t.is_dir()) && files_only
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_pki_is_what_pkiforge_names_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let files = [
            "ca.crt",
            "ca.key",
            "ca.crl",
            "ca.index",
            "bob.crt",
            "bob.pem",
            "bob.key",
            "bob.p12",
            "evil.crt",
            "evil.pem",
            "evil.issuer.crt",
            "web.crt",
            "web.bundle.crt",
            "fixtures.json",
            "commands.sh", // pkiforge's
            "mine.crt",
            "mine.key",
            "notes.txt",
            "ca.txt",
            "report.html", // the user's
        ];
        for f in files {
            std::fs::write(dir.join(f), f).unwrap();
        }
        std::fs::create_dir_all(dir.join("archive/0A")).unwrap();
        std::fs::write(dir.join("archive/0A/bob.key"), "k").unwrap();
        std::fs::create_dir(dir.join("bob.csr")).unwrap();
        let names = |found: Vec<std::path::PathBuf>| -> Vec<String> {
            found.iter().map(|f| f.display().to_string()).collect()
        };
        assert_eq!(
            names(pki_files(dir)),
            [
                "bob.crt",
                "bob.key",
                "bob.p12",
                "bob.pem",
                "ca.crl",
                "ca.crt",
                "ca.index",
                "ca.key",
                "commands.sh",
                "evil.crt",
                "evil.issuer.crt",
                "evil.pem",
                "fixtures.json",
                "web.bundle.crt",
                "web.crt",
                "archive"
            ]
        );
        // An archive with something pkiforge does not put there is the user's.
        std::fs::write(dir.join("archive/list.txt"), "mine").unwrap();
        assert!(!names(pki_files(dir)).contains(&"archive".to_string()));
        // No ca.crt: no PKI of pkiforge's.
        std::fs::remove_file(dir.join("ca.crt")).unwrap();
        assert_eq!(pki_files(dir), Vec::<std::path::PathBuf>::new());
    }

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
