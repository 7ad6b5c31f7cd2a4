//! Checks of what openssl wrote, parsed in Rust rather than scraped from
//! openssl's text (whose format changes between versions).

use std::path::Path;

use x509_parser::prelude::*;

use crate::profile::Field;

/// Dotted OIDs of the subject fields pkiforge writes.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.6" => Field::C.short(),
        "2.5.4.8" => Field::ST.short(),
        "2.5.4.7" => Field::L.short(),
        "2.5.4.10" => Field::O.short(),
        "2.5.4.11" => Field::OU.short(),
        "2.5.4.3" => Field::CN.short(),
        "1.2.840.113549.1.9.1" => Field::EmailAddress.short(),
        _ => return None,
    })
}

/// The subject of a PEM certificate or CSR as `(short name, value)` pairs, in
/// the order they are written. Unknown attributes appear by dotted OID.
pub fn read_subject(path: &Path) -> Result<Vec<(String, String)>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    subject_of_pem(&bytes).map_err(|why| format!("{}: {why}", path.display()))
}

pub fn subject_of_pem(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let (_, pem) = parse_x509_pem(bytes).map_err(|e| format!("not a PEM file ({e})"))?;
    let name_pairs = |name: &X509Name<'_>| {
        name.iter_rdn()
            .flat_map(|rdn| rdn.iter())
            .map(|atv| {
                let oid = atv.attr_type().to_id_string();
                let key = short_name(&oid).map_or(oid, str::to_string);
                let value = atv.as_str().map_or_else(
                    |_| format!("<undecodable {:?}>", atv.attr_value().header.tag()),
                    str::to_string,
                );
                (key, value)
            })
            .collect::<Vec<_>>()
    };
    match pem.label.as_str() {
        "CERTIFICATE" => {
            let (_, cert) = X509Certificate::from_der(&pem.contents)
                .map_err(|e| format!("not a valid certificate ({e})"))?;
            Ok(name_pairs(cert.subject()))
        }
        "CERTIFICATE REQUEST" => {
            let (_, csr) = X509CertificationRequest::from_der(&pem.contents)
                .map_err(|e| format!("not a valid CSR ({e})"))?;
            Ok(name_pairs(&csr.certification_request_info.subject))
        }
        other => Err(format!("holds a {other}, not a certificate or CSR")),
    }
}

/// The first difference between the subject openssl wrote and the expected
/// one, as `(field, expected, found)`, rendering an absent value as `(none)`.
pub fn subject_difference(
    expected: &[(String, String)],
    found: &[(String, String)],
) -> Option<(String, String, String)> {
    let show = |v: Option<&String>| v.map_or_else(|| "(none)".to_string(), |v| format!("{v:?}"));
    for (i, (field, value)) in expected.iter().enumerate() {
        match found.get(i) {
            Some((f, v)) if f == field && v == value => continue,
            Some((f, v)) if f == field => {
                return Some((field.clone(), show(Some(value)), show(Some(v))));
            }
            _ => {
                let found_value = found.iter().find(|(f, _)| f == field).map(|(_, v)| v);
                if found_value != Some(value) {
                    return Some((field.clone(), show(Some(value)), show(found_value)));
                }
                return Some((
                    field.clone(),
                    format!("{value:?} at position {}", i + 1),
                    "it at another position".into(),
                ));
            }
        }
    }
    found
        .get(expected.len())
        .map(|(f, v)| (f.clone(), "(none)".to_string(), show(Some(v))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn differences_name_the_field() {
        let want = pairs(&[("C", "DE"), ("CN", "Zürich")]);
        assert_eq!(subject_difference(&want, &want), None);
        assert_eq!(
            subject_difference(&want, &pairs(&[("C", "DE"), ("CN", "ZÃ¼rich")])),
            Some(("CN".into(), "\"Zürich\"".into(), "\"ZÃ¼rich\"".into()))
        );
        assert_eq!(
            subject_difference(
                &want,
                &pairs(&[
                    ("C", "DE"),
                    ("CN", "Zürich"),
                    ("O", "Internet Widgits Pty Ltd")
                ])
            ),
            Some((
                "O".into(),
                "(none)".into(),
                "\"Internet Widgits Pty Ltd\"".into()
            ))
        );
        assert_eq!(
            subject_difference(&want, &pairs(&[("C", "DE")])),
            Some(("CN".into(), "\"Zürich\"".into(), "(none)".into()))
        );
    }

    #[test]
    fn garbage_is_not_a_subject() {
        assert_eq!(
            subject_of_pem(b"hello").unwrap_err(),
            "not a PEM file (Parsing Error: MissingHeader)"
        );
    }
}
