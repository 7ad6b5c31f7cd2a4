//! `pkiforge report DIR [--out FILE]`: the workshop page. It reads what
//! `inspect --json`, `lint` and `status` read, and writes one HTML file:
//! into DIR through its publish, under its lock; elsewhere on its own.

use std::path::{Path, PathBuf};

use super::{Context, Outcome};
use crate::check::json::Certificate;
use crate::check::lint::Finding;
use crate::check::report::{Card, Page, TracedSession, Traces};
use crate::cli::ReportArgs;
use crate::error::{Error, Result};
use crate::pki::fixture::Manifest;
use crate::pki::names::{self, Files, ISSUER, Role, TRANSCRIPT};
use crate::pki::read::Pki;
use crate::pki::x509::CertInfo;
use crate::run::progress::Progress;
use crate::run::publish::{OutDir, ReadLock};

/// `report DIR [--out FILE]`.
pub fn command(ctx: &Context, args: ReportArgs) -> Result<Outcome> {
    report(
        &args.dir,
        (args.out.as_deref(), args.traces.as_deref()),
        &ctx.progress(),
    )
}

fn report(
    dir: &Path,
    (out, traces): (Option<&Path>, Option<&Path>),
    progress: &Progress,
) -> Result<String> {
    if !dir.is_dir() {
        return Err(Error::BadInput(format!(
            "{} is not a directory; give the directory a run wrote, e.g. pki/localhost",
            dir.display()
        )));
    }
    let target = out.map_or_else(|| dir.join(names::REPORT), Path::to_path_buf);
    let name = match target.file_name() {
        Some(n) if !target.is_dir() => PathBuf::from(n),
        _ => {
            return Err(Error::Usage(format!(
                "--out {}: give a file name, such as {}",
                target.display(),
                names::REPORT
            )));
        }
    };
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Read first, under the traces' own lock, and let go: DIR's lock is
    // then the only one held.
    let traces = match traces {
        Some(t) => Some(traced_sessions(t, &parent, progress)?),
        None => None,
    };
    let unreadable = if crate::files::same_dir(&parent, dir) {
        // Into DIR: under its lock, through its publish.
        let mut lock = OutDir::lock(dir, progress)?;
        for line in lock.clean_stale()? {
            progress.say(&format!("note: {line}"));
        }
        let (html, unreadable) = page(&Pki::read(dir), traces)?;
        let staging = lock.staging()?;
        std::fs::write(staging.path().join(&name), html)
            .map_err(|e| Error::io("cannot write the report", e))?;
        lock.publish(staging.path(), &[name], &[], &[])?;
        unreadable
    } else {
        // Elsewhere: DIR is read under its shared lock, and the page written
        // on its own; a directory that is not a PKI's is neither locked nor
        // cleaned (it may be /tmp, where others write).
        let _lock = ReadLock::take(dir, progress)?;
        let (html, unreadable) = page(&Pki::read(dir), traces)?;
        crate::run::publish::write_file(&target, html.as_bytes(), true)?;
        unreadable
    };
    super::unless_unreadable(
        format!("report written to {}\n", target.display()),
        unreadable,
    )
}

/// The page of `pki`, and the files it could not read.
fn page(pki: &Pki, traces: Option<Traces>) -> Result<(String, Vec<String>)> {
    let dir = pki.dir();
    let found = pki.certificates()?;
    if found.certs.is_empty() {
        return Err(Error::BadInput(format!(
            "{} holds no {}; give the directory a run wrote",
            dir.display(),
            names::ANY_CERTIFICATE
        )));
    }
    let now = super::now();
    let (findings, manifest) = crate::check::lint::findings(pki, now)?;
    let revoked: Vec<String> = pki
        .readable_crls()
        .into_iter()
        .flat_map(|(_, crl)| crl.revoked)
        .collect();
    let transcript = match dir.join(TRANSCRIPT) {
        p if p.is_file() => Some(
            crate::files::read_regular(&p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(|e| Error::BadInput(e.to_string()))?,
        ),
        _ => None,
    };
    let page = Page {
        dir: dir.display().to_string(),
        made: crate::time::utc(now),
        now,
        cards: cards(pki, &found.certs, &findings, &manifest, &revoked, now),
        transcript,
        traces,
    };
    Ok((
        crate::check::report::render(&page),
        found.unreadable.clone(),
    ))
}

/// What each certificate is in the PKI, by its file: its role, its level
/// in the picture, and the fixture it is, if any.
fn role_of(
    file: &str,
    c: &CertInfo,
    roles: &[(String, Role)],
    manifest: &Manifest,
) -> (String, usize) {
    let stem = stem(file);
    let leaf = |role: Role| (role.table().to_string(), 2);
    if let Some(entry) = manifest.get(stem) {
        return leaf(entry.role());
    }
    if let Some((_, role)) = roles.iter().find(|(name, _)| name == stem) {
        return match role {
            Role::Ca => ("root CA".into(), 0),
            Role::Intermediate => ("intermediate CA".into(), 1),
            other => leaf(*other),
        };
    }
    match (c.is_ca, c.self_issued, stem.ends_with(ISSUER)) {
        (_, _, true) => ("foreign CA".into(), 0),
        (true, true, _) => ("CA".into(), 0),
        (true, false, _) => ("CA".into(), 1),
        _ => ("certificate".into(), 2),
    }
}

/// The cards, in the order `inspect` lists the certificates.
fn cards<'a>(
    pki: &Pki,
    certs: &'a [CertInfo],
    findings: &'a [Finding],
    manifest: &Manifest,
    revoked: &[String],
    now: i64,
) -> Vec<Card<'a>> {
    let roles: Vec<(String, Role)> = match pki.layout() {
        Ok(l) => std::iter::once(&l.ca)
            .chain(&l.intermediate)
            .chain(&l.leaves)
            .map(|f| (f.name.clone(), f.role))
            .collect(),
        Err(_) => Vec::new(),
    };
    // Roots, intermediates, then leaves: servers, then clients, then the
    // fixtures; so the picture reads top down and left to right.
    let mut placed: Vec<(&CertInfo, String, usize)> = certs
        .iter()
        .map(|c| {
            let (role, level) = role_of(c.file(), c, &roles, manifest);
            (c, role, level)
        })
        .collect();
    placed.sort_by_key(|(c, role, level)| {
        let fixture = manifest.get(stem(c.file())).is_some();
        (*level, fixture, role != "server", c.file().to_string())
    });
    let sorted: Vec<&CertInfo> = placed.iter().map(|(c, _, _)| *c).collect();
    placed
        .iter()
        .enumerate()
        .map(|(i, (c, role, level))| Card {
            cert: Certificate::of(c, now),
            role: role.clone(),
            state: crate::check::status::state_of(
                c,
                revoked,
                crate::check::status::Window::Lifetime,
                now,
            ),
            issuer: issuer_of(i, &sorted, manifest),
            fixture: manifest
                .get(stem(c.file()))
                .map(|e| (e.fixture.to_string(), e.wrong.clone(), e.verdicts())),
            findings: findings.iter().filter(|f| f.file == c.file()).collect(),
            level: *level,
        })
        .collect()
}

/// A certificate file's entity name: `server` of `server.crt`.
fn stem(file: &str) -> &str {
    names::crt_stem(file).unwrap_or(file)
}

/// The index of the certificate that signed `certs[i]`: a foreign-ca
/// fixture's own CA (which has the real CA's subject), else the CA whose
/// subject is its issuer; none for a self-signed one.
fn issuer_of(i: usize, certs: &[&CertInfo], manifest: &Manifest) -> Option<usize> {
    let c = certs[i];
    if c.self_issued {
        return None;
    }
    let stem = stem(c.file());
    if manifest
        .get(stem)
        .is_some_and(|e| e.fixture == crate::pki::fixture::Kind::ForeignCa)
    {
        let other = Files::new(stem, Role::Ca).issuer().crt();
        return certs.iter().position(|x| x.file() == other);
    }
    certs
        .iter()
        .enumerate()
        .filter(|(j, x)| *j != i && x.subject == c.issuer && (x.is_ca || x.self_issued))
        .min_by_key(|(_, x)| names::is_issuer_crt(x.file()))
        .map(|(j, _)| j)
}

/// `--traces TRACES`: the sessions `handshake --trace TRACES` indexed,
/// each file a link relative to the page's directory `page_dir`. A name in
/// the index that is not a file of TRACES (a path, `..`, a file gone) gets
/// no link.
fn traced_sessions(traces: &Path, page_dir: &Path, progress: &Progress) -> Result<Traces> {
    let index = traces.join(names::handshake::SESSIONS);
    let text = {
        let _lock = ReadLock::take(traces, progress)?;
        crate::files::read_regular(&index).map_err(|e| {
            Error::BadInput(format!(
                "--traces {}: cannot read {} ({e}); write the traces with pkiforge handshake DIR --trace {}",
                traces.display(),
                names::handshake::SESSIONS,
                traces.display()
            ))
        })?
    };
    let sessions: Vec<crate::check::handshake::Shown> = serde_json::from_slice(&text).map_err(|e| {
        Error::BadInput(format!(
            "--traces {}: {} is not what pkiforge handshake --trace writes ({e}); write the traces again",
            traces.display(),
            names::handshake::SESSIONS
        ))
    })?;
    let base = relative_url(page_dir, traces);
    let link = |file: Option<String>| {
        // A plain file of TRACES: not a path, nor a link out of it.
        file.filter(|f| {
            Path::new(f).file_name() == Some(std::ffi::OsStr::new(f))
                && std::fs::symlink_metadata(traces.join(f)).is_ok_and(|m| m.file_type().is_file())
        })
        .map(|f| format!("{base}{}", percent_encode(f.as_bytes())))
    };
    Ok(Traces {
        dir: traces.display().to_string(),
        sessions: sessions
            .into_iter()
            .map(|s| TracedSession {
                trace: link(s.trace),
                keylog: link(s.keylog),
                pcap: link(s.pcap),
                stack: s.stack,
                name: s.name,
                got: s.got,
                passed: s.passed,
            })
            .collect(),
    })
}

/// The URL of directory `to` relative to directory `from`, ending in `/`
/// (or empty when they are the same): `../traces/`. Worked out on the
/// paths as given, made absolute and with `.` and `..` taken lexically, as
/// a browser takes a relative URL from the page's own: through a symbolic
/// link, as the page is opened by the path it was written to.
fn relative_url(from: &Path, to: &Path) -> String {
    let lexical = |p: &Path| -> Vec<std::ffi::OsString> {
        let mut parts = Vec::new();
        for c in std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .components()
        {
            match c {
                std::path::Component::Normal(n) => parts.push(n.to_os_string()),
                std::path::Component::ParentDir => {
                    parts.pop();
                }
                _ => {}
            }
        }
        parts
    };
    let (a, b) = (lexical(from), lexical(to));
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut url = "../".repeat(a.len() - common);
    for c in &b[common..] {
        url.push_str(&percent_encode(c.as_encoded_bytes()));
        url.push('/');
    }
    url
}

/// `bytes` with every byte but letters, digits and `-._~` as `%XX`.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
