//! Reading a PKI directory back, once: [`Pki::read`] lists it, reads its
//! fixtures' manifest, every certificate of its `.crt` and `.pem` files and
//! its CRLs, and makes out its entities by their file names. What cannot
//! be read is kept with the part it belongs to, and said by the accessor
//! of that part: `inspect` lists the certificates of a directory that is
//! not a PKI of pkiforge's, `status` needs its entities. Also what `run
//! --force` takes away with a PKI.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::pki::crl::CrlInfo;
use crate::pki::error::{CertError, ReadError};
use crate::pki::fixture::Manifest;
use crate::pki::names::{self, ARCHIVE, Files, ISSUER, MANIFEST, Role, TRANSCRIPT};
use crate::pki::x509::{self, CertInfo};

/// A PKI directory, read back once.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    /// The names of the directory's entries, as listed once.
    listing: Result<Vec<String>, ReadError>,
    manifest: Result<Manifest, ReadError>,
    layout: Result<Layout, ReadError>,
    /// Every certificate file, read the first time a command asks for
    /// them all (a command about a few entities reads only theirs).
    scanned: OnceLock<Scan>,
    /// Each `NAME.crl`, by file name, read or not: the first time a
    /// command asks for them all.
    crls: OnceLock<Vec<(String, Result<CrlInfo, ReadError>)>>,
}

/// The certificates of some files, and what each file holds, in the order
/// read.
type Scan = (Result<Certificates, ReadError>, Vec<Holding>);

/// A PKI directory's entities, by their file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub ca: Files,
    /// `intermediate.crt`, when the leaves were signed by one.
    pub intermediate: Option<Files>,
    /// Servers first, then clients, each by name.
    pub leaves: Vec<Files>,
    /// The negative-test fixtures, as the manifest lists them: not leaves.
    pub fixtures: Vec<crate::pki::fixture::Entry>,
}

/// The certificates of a directory, and the files that could not be read.
#[derive(Debug, Clone)]
pub struct Certificates {
    /// Every distinct certificate in the `.crt` and `.pem` files: the CA's
    /// first, then by file name. One in several files (the bundles) is
    /// listed once, with every file that holds it.
    pub certs: Vec<CertInfo>,
    /// Each file that holds more than one certificate (a bundle), with the
    /// indices in `certs` of what it holds, in order.
    pub bundles: Vec<(String, Vec<usize>)>,
    /// One line per `.crt` or `.pem` file that holds no readable
    /// certificate, saying why: never skipped silently.
    pub unreadable: Vec<String>,
}

/// One certificate of the PKI's entities, read.
#[derive(Debug, Clone)]
pub struct Known {
    pub files: Files,
    pub info: CertInfo,
    /// Its serial in hex, without colons: the name of its archive directory.
    pub serial: String,
}

/// What one certificate file holds: for each certificate, its index in
/// [`Certificates::certs`] or why its extensions cannot be read; or why
/// the file cannot be read.
#[derive(Debug, Clone)]
struct Holding {
    file: String,
    certs: Result<Vec<Result<usize, crate::pki::error::Malformed>>, ReadError>,
}

impl Pki {
    /// Reads `dir`. Nothing here fails: each part keeps why it could not
    /// be read, for the accessor of that part to say.
    pub fn read(dir: &Path) -> Pki {
        let listing: Result<Vec<String>, ReadError> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .map_err(|e| ReadError::unlistable(dir, e));
        let manifest = read_manifest(dir);
        let layout = layout(dir, &listing, &manifest);
        Pki {
            dir: dir.to_path_buf(),
            listing,
            manifest,
            layout,
            scanned: OnceLock::new(),
            crls: OnceLock::new(),
        }
    }

    /// Every certificate file of the directory, read (once).
    fn scanned(&self) -> &Scan {
        self.scanned.get_or_init(|| match &self.listing {
            Ok(names) => scan(&self.dir, names),
            Err(e) => (Err(e.clone()), Vec::new()),
        })
    }

    /// Every CRL file of the directory, read (once).
    fn crls(&self) -> &[(String, Result<CrlInfo, ReadError>)] {
        self.crls.get_or_init(|| {
            self.crl_files()
                .into_iter()
                .map(|f| {
                    let crl = crate::pki::crl::crl(&self.dir.join(&f));
                    (f, crl)
                })
                .collect()
        })
    }

    /// The directory, as it was given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether `dir` holds the regular file `file` (one of [`names`]).
    pub fn has(&self, file: &str) -> bool {
        self.dir.join(file).is_file()
    }

    /// The fixtures of the PKI, from its manifest (none without one).
    pub fn manifest(&self) -> Result<&Manifest, ReadError> {
        self.manifest.as_ref().map_err(Clone::clone)
    }

    /// Every certificate of the directory's `.crt` and `.pem` files; an
    /// error when it cannot be listed or has none at all.
    pub fn certificates(&self) -> Result<&Certificates, ReadError> {
        self.scanned().0.as_ref().map_err(Clone::clone)
    }

    /// The entities by their file names: `ca.crt`, and each other
    /// `NAME.crt` with `NAME.bundle.crt` (a server) or `NAME.pem` (a
    /// client); the CA may be all there is.
    pub fn layout(&self) -> Result<&Layout, ReadError> {
        self.layout.as_ref().map_err(Clone::clone)
    }

    /// [`Pki::layout`], with at least one server or client.
    pub fn layout_with_leaves(&self) -> Result<&Layout, ReadError> {
        let layout = self.layout()?;
        if layout.leaves.is_empty() {
            return Err(ReadError::NoLeaves {
                dir: self.dir.clone(),
                ca: layout.ca.crt(),
            });
        }
        Ok(layout)
    }

    /// The one certificate of the file `crt` (named as in DIR), as `x509`
    /// reads it: its `files` is `crt` alone.
    /// Read with the rest if they were read already, else on its own in
    /// the same way.
    pub fn certificate(&self, crt: &str) -> Result<CertInfo, CertError> {
        let listed = self.listing.iter().flatten().any(|f| f == crt);
        let alone;
        let (found, holdings) = match self.scanned.get() {
            Some(scan) => scan,
            None => {
                let files = if listed {
                    vec![crt.to_string()]
                } else {
                    Vec::new()
                };
                alone = scan(&self.dir, &files);
                &alone
            }
        };
        let path = self.dir.join(crt);
        let Some(holding) = holdings.iter().find(|h| h.file == crt) else {
            // Not among what was listed: read on its own, as it is now.
            let der = x509::read_certificate(&path)?;
            return Ok(x509::cert_info(&der, crt)?);
        };
        let certs = holding.certs.clone()?;
        match certs.as_slice() {
            [one] => {
                let found = found.as_ref().map_err(Clone::clone)?;
                let mut info = found.certs[one.clone()?].clone();
                info.files = vec![crt.to_string()];
                Ok(info)
            }
            [] => Err(ReadError::Empty {
                path,
                what: "certificate",
            }
            .into()),
            more => Err(ReadError::NotOne {
                path,
                count: more.len(),
            }
            .into()),
        }
    }

    /// The entity `files` with its certificate.
    pub fn known(&self, files: Files) -> Result<Known, CertError> {
        let info = self.certificate(&files.crt())?;
        let serial = info.serial.replace(':', "");
        Ok(Known {
            files,
            info,
            serial,
        })
    }

    /// The CRL `file` (`NAME.crl`), as read with the directory.
    /// The records of `ca`'s database (none without one).
    pub fn database(&self, ca: &Files) -> Result<Vec<crate::pki::database::Record>, ReadError> {
        crate::pki::database::read(&self.dir, ca)
    }

    pub fn crl(&self, file: &str) -> Result<CrlInfo, ReadError> {
        let read = self.crls.get().map_or(&[][..], Vec::as_slice);
        match read.iter().find(|(f, _)| f == file) {
            Some((_, crl)) => crl.clone(),
            None => crate::pki::crl::crl(&self.dir.join(file)),
        }
    }

    /// The CRLs of the directory (`*.crl`) by file name, sorted; those
    /// that cannot be read left out.
    pub fn readable_crls(&self) -> Vec<(String, CrlInfo)> {
        let mut out: Vec<(String, CrlInfo)> = self
            .crls()
            .iter()
            .filter_map(|(f, crl)| crl.as_ref().ok().map(|c| (f.clone(), c.clone())))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The names of the CRL files (`*.crl`) of the directory, sorted.
    pub fn crl_files(&self) -> Vec<String> {
        let mut files: Vec<String> = self
            .listing
            .iter()
            .flatten()
            .filter(|f| names::is_crl(f))
            .cloned()
            .collect();
        files.sort();
        files
    }

    /// The leaves kept in an archive directory (`archive/SERIAL/`): each
    /// `NAME.crt` with its bundle.
    pub fn archived(dir: &Path) -> Result<Vec<Files>, ReadError> {
        let entries = std::fs::read_dir(dir).map_err(|e| ReadError::unlistable(dir, e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(name) = names::crt_stem(&file) else {
                continue;
            };
            if let Some(role) = leaf_role(dir, name) {
                out.push(Files::new(name, role));
            }
        }
        Ok(out)
    }
}

/// The fixtures of `dir`, from its manifest (none without one).
fn read_manifest(dir: &Path) -> Result<Manifest, ReadError> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(Manifest::default());
    }
    let bytes = crate::files::read_regular(&path)?;
    Manifest::parse(&String::from_utf8_lossy(&bytes)).map_err(|source| ReadError::Manifest {
        path,
        source: std::sync::Arc::new(source),
    })
}

/// The role a leaf `name` has by its bundle in `dir`, if it has one.
fn leaf_role(dir: &Path, name: &str) -> Option<Role> {
    [Role::Server, Role::Client]
        .into_iter()
        .find(|&role| dir.join(Files::new(name, role).bundle()).is_file())
}

/// The entities of `dir` (the names it lists), by their file names.
fn layout(
    dir: &Path,
    listing: &Result<Vec<String>, ReadError>,
    manifest: &Result<Manifest, ReadError>,
) -> Result<Layout, ReadError> {
    let ca = Files::new(Role::Ca.table(), Role::Ca);
    if !dir.join(ca.crt()).is_file() {
        return Err(ReadError::NoCa {
            dir: dir.to_path_buf(),
            ca: ca.crt(),
        });
    }
    let listing = listing.as_ref().map_err(Clone::clone)?;
    let fixtures = manifest.as_ref().map_err(Clone::clone)?.fixtures.clone();
    let mut leaves = Vec::new();
    let mut unknown = Vec::new();
    for file in listing {
        let Some(name) = names::crt_stem(file) else {
            continue;
        };
        if name == ca.name
            || name == Role::Intermediate.table()
            || name.ends_with(".bundle")
            || name.ends_with(ISSUER)
            || name.ends_with(names::OCSP_SIGNER)
            || fixtures.iter().any(|f| f.name == name)
        {
            continue;
        }
        match leaf_role(dir, name) {
            Some(role) => leaves.push(Files::new(name, role)),
            None => unknown.push(file.clone()),
        }
    }
    if !unknown.is_empty() {
        unknown.sort();
        return Err(ReadError::NoRole {
            dir: dir.to_path_buf(),
            files: unknown,
        });
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

/// Every distinct certificate in the `.crt` and `.pem` files of `dir`
/// (`names` are what it lists), and what each file holds.
fn scan(dir: &Path, names: &[String]) -> (Result<Certificates, ReadError>, Vec<Holding>) {
    let ca = Files::new(Role::Ca.table(), Role::Ca).crt();
    let mut files: Vec<&String> = names
        .iter()
        .filter(|f| names::may_hold_certificates(f))
        .collect();
    // Single certificates before bundles, so each is named by its own file.
    files.sort_by_key(|f| (**f != ca, names::is_bundle(f), (*f).clone()));
    let mut found = Certificates {
        certs: Vec::new(),
        bundles: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut holdings = Vec::new();
    for file in files {
        let certs = x509::read_certificates(&dir.join(file)).map(|ders| {
            if ders.is_empty() {
                found.unreadable.push(format!(
                    "{file}: holds no PEM certificate (BEGIN CERTIFICATE)"
                ));
            }
            ders.iter().map(|der| found.add(der, file)).collect()
        });
        if let Err(e) = &certs {
            found.unreadable.push(format!("{file}: {e}"));
        }
        let order: Vec<usize> = certs.iter().flatten().flatten().copied().collect();
        if order.len() > 1 {
            found.bundles.push((file.clone(), order));
        }
        holdings.push(Holding {
            file: file.clone(),
            certs,
        });
    }
    if found.certs.is_empty() && found.unreadable.is_empty() {
        let e = ReadError::Empty {
            path: dir.to_path_buf(),
            what: names::ANY_CERTIFICATE,
        };
        return (Err(e), holdings);
    }
    (Ok(found), holdings)
}

impl Certificates {
    /// Adds the certificate `der` of `file`, or the file to a known one;
    /// its index, or why its extensions cannot be read (said in
    /// `unreadable`).
    fn add(&mut self, der: &[u8], file: &str) -> Result<usize, crate::pki::error::Malformed> {
        let info = match x509::cert_info(der, file) {
            Ok(info) => info,
            Err(e) => {
                self.unreadable.push(format!("{file}: {e}"));
                return Err(e);
            }
        };
        match self.certs.iter().position(|c| c.sha256 == info.sha256) {
            Some(i) => {
                self.certs[i].files.push(file.to_string());
                Ok(i)
            }
            None => {
                self.certs.push(info);
                Ok(self.certs.len() - 1)
            }
        }
    }
}

/// The files of the PKI in `dir` that pkiforge made, as it names them,
/// for `run --force` to take away with the PKI they belong to: each CA's
/// (`ca`, `intermediate`) key, certificate, CSR, serial, database, CRL
/// and OCSP signer;
/// each leaf and fixture (a `NAME.crt` with its bundle) with its key, CSR,
/// PKCS#12 and foreign issuer; the manifest, the transcript and
/// `archive/` when it holds only serial directories of files. Nothing
/// when `dir` has no `ca.crt`; never a directory other than `archive`,
/// nor a file pkiforge does not name.
pub fn pki_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let ca = Files::new(Role::Ca.table(), Role::Ca);
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
        let signer = f.ocsp_signer();
        names.extend([signer.key(), signer.crt()]);
    }
    let entries = std::fs::read_dir(dir).into_iter().flatten().flatten();
    for entry in entries {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = names::crt_stem(&file) else {
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
}
