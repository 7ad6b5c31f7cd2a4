//! Reading a PKI directory back: its entities by their file names, its
//! fixtures from their manifest, and what `run --force` takes away with it.

use std::path::Path;

use crate::pki::error::ReadError;
use crate::pki::names::{ARCHIVE, Files, ISSUER, MANIFEST, Role, TRANSCRIPT};

/// The fixtures of `dir`, from its manifest (none without one).
pub fn read_fixtures(dir: &Path) -> Result<crate::pki::fixture::Manifest, ReadError> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(crate::pki::fixture::Manifest::default());
    }
    let bytes = crate::files::read_regular(&path)?;
    crate::pki::fixture::Manifest::parse(&String::from_utf8_lossy(&bytes))
        .map_err(|source| ReadError::Manifest { path, source })
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
    pub fixtures: Vec<crate::pki::fixture::Entry>,
}

/// Reads `dir` back into entities: `ca.crt`, and each other `NAME.crt`
/// with `NAME.bundle.crt` (a server) or `NAME.pem` (a client); at least
/// one of them.
pub fn read(dir: &Path) -> Result<Layout, ReadError> {
    let found = read_entities(dir)?;
    if found.leaves.is_empty() {
        return Err(ReadError::NoLeaves {
            dir: dir.to_path_buf(),
            ca: found.ca.crt(),
        });
    }
    Ok(found)
}

/// [`read`], also when the CA is all there is.
pub fn read_entities(dir: &Path) -> Result<Layout, ReadError> {
    let ca = Files::new("ca", Role::Ca);
    if !dir.join(ca.crt()).is_file() {
        return Err(ReadError::NoCa {
            dir: dir.to_path_buf(),
            ca: ca.crt(),
        });
    }
    let entries = std::fs::read_dir(dir).map_err(|e| ReadError::unlistable(dir, e))?;
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

/// The leaves kept in an archive directory (`archive/SERIAL/`): each
/// `NAME.crt` with its bundle.
pub fn read_entities_in(dir: &Path) -> Result<Vec<Files>, ReadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ReadError::unlistable(dir, e))?;
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
