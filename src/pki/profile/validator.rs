//! The validator: walks the TOML document, collects every problem with
//! where it stands, and builds the profile when there are none. The
//! checks of each part are methods in the modules beside this one:
//! settings (name, key, days, p12), subject, alt_names, fixture and
//! intermediate.

use std::path::Path;

use toml::de::{DeTable, DeValue};

use crate::error::{Location, Problem};
use crate::pki::names::{Files, Role};
use crate::pki::profile::model::{Entity, Extensions, P12, Profile};

pub(crate) struct Validator<'t> {
    text: &'t str,
    /// The byte offset where each line starts: a value's line is found by
    /// bisection, not by counting from the top of the file for each value
    /// (which made a profile of 10,000 clients take seconds).
    line_starts: Vec<usize>,
    pub(crate) problems: Vec<Problem>,
}

pub(crate) type Table<'i> = DeTable<'i>;

impl<'t> Validator<'t> {
    pub(crate) fn new(text: &'t str) -> Validator<'t> {
        Validator {
            text,
            line_starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
            problems: Vec::new(),
        }
    }

    pub(crate) fn at(&self, span: std::ops::Range<usize>) -> Option<Location> {
        let offset = span.start.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let within = Location::of_offset(&self.text[start..], offset - start);
        Some(Location {
            line,
            column: within.column,
        })
    }

    pub(crate) fn problem(
        &mut self,
        span: Option<std::ops::Range<usize>>,
        field: &str,
        message: impl Into<String>,
    ) {
        let location = span.and_then(|s| self.at(s));
        self.problems.push(Problem::new(location, field, message));
    }

    pub(crate) fn profile(&mut self, path: &Path) -> Option<Profile> {
        if self.text.trim().is_empty() {
            self.problem(
                None,
                "",
                "the profile is empty; it needs [ca], [server] and [client] tables (see profiles/localhost.toml)",
            );
            return None;
        }
        let (doc, errors) = DeTable::parse_recoverable(self.text);
        if !errors.is_empty() {
            for e in errors {
                let message = e.message().trim().replace('\n', "; ");
                self.problem(e.span(), "", format!("TOML syntax: {message}"));
            }
            return None;
        }
        let doc = doc.into_inner();
        self.unknown_keys(
            &doc,
            "",
            &["extensions", "ca", "intermediate", "server", "client"],
        );
        let extensions = self.extensions(&doc);
        let ca = self.entities(&doc, Role::Ca).and_then(|mut v| v.pop());
        let intermediate = self.intermediate(&doc);
        let servers = self.entities(&doc, Role::Server);
        let clients = self.entities(&doc, Role::Client);
        let (extensions, ca, intermediate, servers, clients) =
            (extensions?, ca?, intermediate?, servers?, clients?);
        let profile = Profile {
            path: path.to_path_buf(),
            extensions,
            ca,
            intermediate,
            servers,
            clients,
        };
        for leaf in profile.leaves() {
            self.distinct_subject(&profile.ca, leaf, &doc);
        }
        if profile.intermediate.is_none() {
            for (leaf, fixture) in profile.fixtures() {
                let kind = fixture.kind;
                if kind.needs_intermediate() {
                    self.problem(
                        self.span_of(&doc, &leaf.path, "fixture"),
                        &join(&leaf.path, "fixture"),
                        format!("\"{kind}\" is bad in the chain through an intermediate CA, and this profile has none: add an [intermediate] (see profiles/fixtures-chain.toml), or use it in a profile that has one"),
                    );
                }
            }
        }
        if let Some(inter) = &profile.intermediate {
            self.distinct_subject(&profile.ca, &inter.entity, &doc);
            for leaf in profile.leaves() {
                self.distinct_subject(&inter.entity, leaf, &doc);
                self.within_constraints(inter, leaf, &doc);
            }
        }
        self.distinct_own_issuers(&profile, &doc);
        self.sha1_fixtures_have_a_hashing_issuer(&profile, &doc);
        self.distinct_files(&profile, &doc);
        Some(profile)
    }

    pub(crate) fn extensions(&mut self, doc: &Table<'_>) -> Option<Extensions> {
        let Some(value) = doc.get("extensions") else {
            return Some(Extensions::Tutorial);
        };
        match value.get_ref() {
            DeValue::String(s) if s == "tutorial" => Some(Extensions::Tutorial),
            DeValue::String(s) if s == "strict" => Some(Extensions::Strict),
            other => {
                let shown = match other {
                    DeValue::String(s) => format!("\"{s}\""),
                    other => kind(other).to_string(),
                };
                self.problem(
                    Some(value.span()),
                    "extensions",
                    format!("is {shown}; use \"tutorial\" (the tutorial's commands, the default) or \"strict\" (what Apple platforms and strict verifiers require)"),
                );
                None
            }
        }
    }

    pub(crate) fn unknown_keys(&mut self, table: &Table<'_>, prefix: &str, allowed: &[&str]) {
        for (key, _) in table.iter() {
            let name = key.get_ref();
            if allowed.contains(&name.as_ref()) {
                continue;
            }
            let path = join(prefix, name);
            if prefix == "ca" && name == "san" {
                self.problem(
                    Some(key.span()),
                    &path,
                    "the CA takes no san; subjectAltName entries belong in [server] and [client]",
                );
                continue;
            }
            let hint = match closest(name, allowed) {
                Some(near) => format!("did you mean `{near}`? "),
                None => String::new(),
            };
            let what = if prefix.is_empty() { "table" } else { "key" };
            self.problem(
                Some(key.span()),
                &path,
                format!(
                    "unknown {what}; {hint}expected one of: {}",
                    allowed.join(", ")
                ),
            );
        }
    }

    /// The entities of one role: a single table, or (for servers and
    /// clients) an array of tables.
    pub(crate) fn entities(&mut self, doc: &Table<'_>, role: Role) -> Option<Vec<Entity>> {
        let name = role.table();
        let Some(value) = doc.get(name) else {
            self.problem(
                None,
                name,
                format!("missing [{name}] table; add one (see profiles/localhost.toml)"),
            );
            return None;
        };
        match value.get_ref() {
            DeValue::Table(table) => Some(vec![self.entity(table, role, name.to_string())?]),
            DeValue::Array(items) if role != Role::Ca && !items.is_empty() => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    let path = format!("{name}[{i}]");
                    match item.get_ref() {
                        DeValue::Table(table) => match self.entity(table, role, path) {
                            Some(e) => out.push(e),
                            None => ok = false,
                        },
                        other => {
                            self.problem(
                                Some(item.span()),
                                &path,
                                format!("must be a table, not {}", kind(other)),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(out)
            }
            other => {
                let wanted = if role == Role::Ca {
                    format!("a single [{name}] table (a PKI has one CA)")
                } else {
                    format!("a [{name}] table, or [[{name}]] tables (one per {name})")
                };
                let found = match other {
                    DeValue::Array(a) if a.is_empty() => "an empty list".to_string(),
                    other => kind(other).to_string(),
                };
                self.problem(
                    Some(value.span()),
                    name,
                    format!("must be {wanted}, not {found}"),
                );
                None
            }
        }
    }

    pub(crate) fn entity(&mut self, table: &Table<'_>, role: Role, path: String) -> Option<Entity> {
        let allowed: &[&str] = match role {
            Role::Ca => &[
                "bits",
                "key",
                "days",
                "subject",
                "crl_url",
                "ocsp_url",
                "ca_issuers_url",
                "ocsp_signer",
            ],
            Role::Intermediate => &[
                "bits",
                "key",
                "days",
                "subject",
                "permitted",
                "excluded",
                "crl_url",
                "ocsp_url",
                "ca_issuers_url",
                "ocsp_signer",
            ],
            Role::Server | Role::Client => &[
                "name", "bits", "key", "days", "subject", "san", "p12", "fixture", "host",
            ],
        };
        self.unknown_keys(table, &path, allowed);
        let name = if matches!(role, Role::Ca | Role::Intermediate) {
            Some(role.table().to_string())
        } else {
            self.name(table, &path, role)
        };
        let key = self.key(table, &path);
        let days = self.days(table, &path);
        let p12 = self.p12(table, &path);
        let subject = self.subject(table, &path);
        let san = if matches!(role, Role::Ca | Role::Intermediate) {
            Some(Vec::new())
        } else {
            self.sans(table, &path)
        };
        let fixture = self.fixture(table, &path, role, san.as_deref().unwrap_or_default());
        let pointers = self.pointers(table, &path);
        if let (Some(Some(_)), Some(P12::Legacy | P12::Modern), Some(v)) =
            (&fixture, p12, table.get("p12"))
        {
            // The files of any fixture, named as the reference names them.
            let any = Files::new("NAME", role);
            self.problem(
                Some(v.span()),
                &join(&path, "p12"),
                format!(
                    "fixtures get no PKCS#12 bundle (their key and certificate are {} and {}); remove p12",
                    any.key(),
                    any.crt()
                ),
            );
            return None;
        }
        let entity = Entity {
            role,
            name: name?,
            path,
            key: key?,
            days: days?,
            p12: p12?,
            subject: subject?,
            san: san.unwrap_or_default(),
            fixture: fixture?,
            pointers: pointers?,
        };
        self.fixture_fits(&entity);
        Some(entity)
    }

    pub(crate) fn distinct_subject(&mut self, ca: &Entity, leaf: &Entity, doc: &Table<'_>) {
        let same = ca.subject.len() == leaf.subject.len()
            && ca
                .subject
                .iter()
                .zip(&leaf.subject)
                .all(|(x, y)| x.field == y.field && x.value == y.value);
        if same {
            self.problem(
                self.span_of(doc, &leaf.path, "subject"),
                &format!("{}.subject", leaf.path),
                format!("is the same as {}.subject. A certificate whose subject equals its issuer's looks self-signed, and strict clients reject it (the classic slip of pressing Enter through every prompt); give it its own CN", ca.path),
            );
        }
    }

    /// No two entities may write the same file.
    pub(crate) fn distinct_files(&mut self, profile: &Profile, doc: &Table<'_>) {
        let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
        for e in profile.entities() {
            for file in e.files().all(e.p12 != P12::No) {
                if let Some(other) = seen.get(&file) {
                    let message = format!(
                        "would write {file}, which {other} writes too; give each entity its own name"
                    );
                    let span = self.span_of(doc, &e.path, "name");
                    self.problem(span, &join(&e.path, "name"), message);
                    break;
                }
                seen.insert(file, &e.path);
            }
        }
    }

    /// Where `key` of the entity at `path` (`client` or `client[2]`) stands.
    pub(crate) fn span_of(
        &self,
        doc: &Table<'_>,
        path: &str,
        key: &str,
    ) -> Option<std::ops::Range<usize>> {
        let (table, index) = match path.split_once('[') {
            Some((t, rest)) => (t, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (path, None),
        };
        let value = doc.get(table)?;
        let entity = match (value.get_ref(), index) {
            (DeValue::Table(t), None) => t,
            (DeValue::Array(a), Some(i)) => match a.get(i)?.get_ref() {
                DeValue::Table(t) => t,
                _ => return None,
            },
            _ => return None,
        };
        entity.get(key).map(|v| v.span())
    }
}

pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

pub(crate) fn kind(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

/// The allowed name closest to `name`, if it is a plausible typo.
fn closest<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(&name.to_lowercase(), &a.to_lowercase()), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 3) && *d < a.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typo_suggestions_are_plausible_only() {
        assert_eq!(closest("sans", &["bits", "subject", "san"]), Some("san"));
        assert_eq!(
            closest("subjet", &["bits", "subject", "san"]),
            Some("subject")
        );
        assert_eq!(closest("zzzzzz", &["bits", "subject", "san"]), None);
    }
}
