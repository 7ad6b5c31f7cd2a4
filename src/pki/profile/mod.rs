//! The TOML profile: read, validated as a whole (every problem at once), and
//! turned into plain data for planning.
//!
//! `model` is the data; `validator` walks the document, with the checks of
//! each part in `settings`, `subject`, `alt_names`, `fixture` and
//! `intermediate`.

use std::path::Path;

use crate::error::{Error, Location, Problem, Problems, Result};
use crate::pki::profile::validator::Validator;

mod alt_names;
mod fixture;
mod intermediate;
mod model;
mod settings;
mod subject;
mod validator;

pub use crate::pki::names::Role;
pub use crate::pki::profile::alt_names::parse_san;
pub use crate::pki::profile::model::{
    Curve, DEFAULT_BITS, Entity, Extensions, Field, Intermediate, KeySpec, MAX_BITS, MIN_BITS,
    MlDsa, P12, Profile, SubjectValue, days,
};
pub use crate::pki::profile::subject::check_subject_value;

/// Reads and validates a profile file.
pub fn load(path: &Path) -> Result<Profile> {
    let fail = |message: String| {
        Error::Profile(Problems {
            file: path.to_path_buf(),
            list: vec![Problem::new(None, "", message)],
        })
    };
    if !path.exists() {
        return Err(fail(
            "no such file; give the path of a profile such as profiles/localhost.toml, or write one with the reference in README.md".into(),
        ));
    }
    let bytes = crate::files::read_regular(path)
        .map_err(|e| fail(format!("cannot read the profile: {}", e.why)))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let at = Location::of_offset(
            &String::from_utf8_lossy(e.as_bytes()),
            e.utf8_error().valid_up_to(),
        );
        Error::Profile(Problems {
            file: path.to_path_buf(),
            list: vec![Problem::new(
                Some(at),
                "",
                "the profile is not UTF-8 text; save it as UTF-8",
            )],
        })
    })?;
    parse(path, &text)
}

/// Validates profile text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Profile> {
    let mut v = Validator::new(text);
    let profile = v.profile(path);
    // Report in file order; problems of the whole file come first.
    v.problems
        .sort_by_key(|p| p.location.map(|l| (l.line, l.column)));
    if let (true, Some(profile)) = (v.problems.is_empty(), profile) {
        return Ok(profile);
    }
    Err(Error::Profile(Problems {
        file: path.to_path_buf(),
        list: v.problems,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match parse(Path::new("p.toml"), text) {
            Ok(_) => vec![],
            Err(Error::Profile(p)) => p
                .list
                .iter()
                .map(|p| {
                    let at = p
                        .location
                        .map(|l| format!("{}:{}: ", l.line, l.column))
                        .unwrap_or_default();
                    format!("{at}{}: {}", p.field, p.message)
                })
                .collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    const GOOD: &str = r#"
[ca]
subject = { CN = "Root" }
[server]
subject = { CN = "localhost" }
san = ["DNS:localhost", "IP:127.0.0.1"]
[client]
bits = 2048
subject = { CN = "client", O = "Workshop" }
san = ["DNS:localhost"]
"#;

    #[test]
    fn a_good_profile_loads_with_defaults() {
        let p = parse(Path::new("p.toml"), GOOD).unwrap();
        assert_eq!(p.ca.key, KeySpec::Rsa(4096));
        assert_eq!(p.clients[0].key, KeySpec::Rsa(2048));
        assert_eq!(p.servers[0].san.len(), 2);
        assert_eq!(p.servers[0].san[1].to_string(), "IP:127.0.0.1");
        let client: Vec<_> = p.clients[0]
            .subject
            .iter()
            .map(|v| (v.field, v.value.as_str()))
            .collect();
        assert_eq!(client, vec![(Field::O, "Workshop"), (Field::CN, "client")]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = GOOD
            .replace("bits = 2048", "bits = 1024\nsans = []")
            .replace("CN = \"Root\"", "CN = \"Root\", C = \"USA\"");
        assert_eq!(
            problems(&text),
            vec![
                "3:30: ca.subject.C: \"USA\" is not a two-letter ISO 3166 country code such as \"US\" or \"DE\"; openssl would ask again and every later answer would land in the wrong field",
                "8:8: client.bits: 1024-bit RSA keys are unsafe and refused by modern clients; use at least 2048 (the tutorial uses 4096)",
                "9:1: client.sans: unknown key; did you mean `san`? expected one of: name, bits, key, days, subject, san, p12, fixture, host",
            ]
        );
    }
}
