//! The prompts `openssl req` will ask, read from the active openssl config,
//! and the answers pkiforge types at them.
//!
//! This follows `prompt_info()` in OpenSSL's apps/req.c: the entries of the
//! `distinguished_name` section in file order, skipping `*_min`, `*_max`,
//! `*_default` and `*_value` keys, dropping a leading `N.` / `N:` / `N,`
//! prefix, skipping names openssl does not know and entries that have a
//! `_value` (those are not read from stdin). `attributes` works the same way,
//! and is asked only for a CSR (not with `-x509`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Problem, Result};
use crate::pki::config::Config;
use crate::pki::profile::{Entity, Field, SubjectValue};

/// One question openssl will ask on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The config key, such as `0.organizationName`.
    pub key: String,
    /// The object name after the prefix, such as `organizationName`.
    pub object: String,
    /// The text openssl shows.
    pub label: String,
    pub default: Option<String>,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// Set by a `*_value` entry: openssl writes this without asking.
    pub fixed: Option<String>,
}

impl Prompt {
    /// False for a `*_value` entry, which openssl fills in without reading stdin.
    pub fn reads_stdin(&self) -> bool {
        self.fixed.is_none()
    }

    pub fn field(&self) -> Option<Field> {
        Field::from_openssl_name(&self.object)
    }
}

/// The questions of the active config, in the order openssl asks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptLayout {
    pub config: PathBuf,
    pub dn_section: String,
    pub dn: Vec<Prompt>,
    pub attributes: Vec<Prompt>,
    /// The extensions `req -x509` adds from the config (`[req]
    /// x509_extensions`), by name: what `-addext` would repeat.
    pub x509_extensions: Vec<(String, String)>,
}

/// What to type at the prompts of one `req`, and the subject it must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub lines: Vec<String>,
    /// `(short name, value)` in the order openssl writes them.
    pub expected: Vec<(String, String)>,
    /// True when a value is not ASCII, so `req` needs `-utf8`.
    pub utf8: bool,
}

/// Object names that every OpenSSL since 1.1.1 knows (OBJ_txt2nid succeeds).
const KNOWN_OBJECTS: &[&str] = &[
    "C",
    "countryName",
    "ST",
    "stateOrProvinceName",
    "L",
    "localityName",
    "O",
    "organizationName",
    "OU",
    "organizationalUnitName",
    "CN",
    "commonName",
    "emailAddress",
    "serialNumber",
    "SN",
    "surname",
    "GN",
    "givenName",
    "title",
    "initials",
    "dnQualifier",
    "pseudonym",
    "generationQualifier",
    "DC",
    "domainComponent",
    "UID",
    "userId",
    "street",
    "streetAddress",
    "postalCode",
    "businessCategory",
    "name",
    "description",
    "postalAddress",
    "postOfficeBox",
    "telephoneNumber",
    "unstructuredName",
    "unstructuredAddress",
    "challengePassword",
    "contentType",
];

impl PromptLayout {
    /// Builds the layout from a parsed config; `knows` says whether openssl
    /// recognises an object name outside pkiforge's built-in list.
    pub fn from_config(
        path: &Path,
        config: &Config,
        knows: impl Fn(&str) -> bool,
    ) -> Result<PromptLayout> {
        let err = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        if config.section("req").is_none() && config.get("req", "distinguished_name").is_none() {
            return Err(err(
                "has no [req] section, so `openssl req` has no prompts to answer; set OPENSSL_CONF to a config with [req] distinguished_name = …".into(),
            ));
        }
        if config
            .get("req", "prompt")
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("no"))
        {
            return Err(err(
                "sets `prompt = no` in [req], so openssl takes the subject from the config and asks nothing; pkiforge cannot answer it. Remove that line or set OPENSSL_CONF to a config that prompts".into(),
            ));
        }
        let dn_section = config
            .get("req", "distinguished_name")
            .ok_or_else(|| {
                err(
                    "[req] has no distinguished_name = …; openssl req cannot ask for a subject"
                        .into(),
                )
            })?
            .to_string();
        let dn_entries = config
            .section(&dn_section)
            .ok_or_else(|| err(format!("[req] names distinguished_name = {dn_section}, but there is no [{dn_section}] section")))?;
        let dn = prompts_of(config, &dn_section, dn_entries, &knows);
        if dn.is_empty() {
            return Err(err(format!(
                "[{dn_section}] asks for no subject fields; openssl req would fail"
            )));
        }
        let attributes = match config.get("req", "attributes") {
            Some(sect) => config
                .section(sect)
                .map(|e| prompts_of(config, sect, e, &knows))
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let x509_extensions = config
            .get("req", "x509_extensions")
            .and_then(|sect| config.section(sect))
            .map(|entries| entries.to_vec())
            .unwrap_or_default();
        Ok(PromptLayout {
            config: path.to_path_buf(),
            dn_section,
            dn,
            attributes,
            x509_extensions,
        })
    }

    /// A layout with no prompts, for plans that run no `req`.
    pub fn empty() -> PromptLayout {
        PromptLayout {
            config: PathBuf::new(),
            dn_section: String::new(),
            dn: Vec::new(),
            attributes: Vec::new(),
            x509_extensions: Vec::new(),
        }
    }

    /// The prompts that read an answer from stdin, in the order openssl
    /// asks them: the subject's, then the attributes'.
    pub fn asked(&self) -> impl Iterator<Item = &Prompt> {
        self.dn
            .iter()
            .chain(&self.attributes)
            .filter(|p| p.reads_stdin())
    }

    /// What to type at the prompts of one `req` for `entity` (and at the
    /// attribute prompts, `.` each, when `with_attributes`), and the
    /// subject openssl will write; or every problem found.
    pub fn answers_for(
        &self,
        entity: &Entity,
        with_attributes: bool,
    ) -> std::result::Result<Answers, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut lines = Vec::new();
        let mut expected = Vec::new();
        let mut used: Vec<Field> = Vec::new();
        for prompt in &self.dn {
            let value = prompt
                .field()
                .filter(|f| !used.contains(f))
                .and_then(|f| entity.subject_value(f));
            if let Some(fixed) = &prompt.fixed {
                // openssl writes a *_value entry as is; the profile must agree.
                match value {
                    Some(v) if v.value == *fixed => {
                        used.push(v.field);
                        expected.push((v.field.short().to_string(), v.value.clone()));
                    }
                    _ if fixed.is_empty() => {}
                    _ => problems.push(self.fixed_problem(prompt, fixed, value, entity)),
                }
                continue;
            }
            let Some(value) = value else {
                lines.push(".".to_string());
                continue;
            };
            used.push(value.field);
            problems.extend(self.limit_problem(prompt, value, entity));
            lines.push(value.value.clone());
            expected.push((value.field.short().to_string(), value.value.clone()));
        }
        for value in entity.subject.iter().filter(|v| !used.contains(&v.field)) {
            problems.push(Problem::new(
                value.at,
                entity.field_path(value.field),
                format!(
                    "the openssl config {} does not ask for {} in [{}], so openssl cannot write it; remove it from the profile or use a config that asks for it",
                    self.config.display(),
                    value.field.long(),
                    self.dn_section,
                ),
            ));
        }
        if with_attributes {
            let attributes = self.attributes.iter().filter(|a| a.reads_stdin());
            lines.extend(attributes.map(|_| ".".to_string()));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let utf8 = entity.subject.iter().any(|v| !v.value.is_ascii());
        Ok(Answers {
            lines,
            expected,
            utf8,
        })
    }

    /// A `*_value` entry of the config that the profile says otherwise.
    fn fixed_problem(
        &self,
        prompt: &Prompt,
        fixed: &str,
        value: Option<&SubjectValue>,
        entity: &Entity,
    ) -> Problem {
        Problem::new(
            value.and_then(|v| v.at),
            prompt
                .field()
                .map_or_else(|| entity.role.table().to_string(), |f| entity.field_path(f)),
            format!(
                "the openssl config {} sets {}_value = {fixed:?}, so openssl writes that into every subject without asking; give the profile the same value, or remove that line from the config",
                self.config.display(),
                prompt.key,
            ),
        )
    }

    /// A value outside the prompt's `_min`/`_max`, at which openssl would
    /// ask again (and every later answer would land in the wrong field).
    fn limit_problem(
        &self,
        prompt: &Prompt,
        value: &SubjectValue,
        entity: &Entity,
    ) -> Option<Problem> {
        let len = value.value.len() as i64;
        let too_short = prompt.min.is_some_and(|min| len < min);
        let too_long = prompt.max.is_some_and(|max| max >= 0 && len > max);
        if !(too_short || too_long) {
            return None;
        }
        let limits = match (prompt.min, prompt.max) {
            (Some(a), Some(b)) if a == b => format!("exactly {a} bytes"),
            (Some(a), Some(b)) => format!("{a} to {b} bytes"),
            (Some(a), None) => format!("at least {a} bytes"),
            (None, _) => format!("at most {} bytes", prompt.max.unwrap_or_default()),
        };
        Some(Problem::new(
            value.at,
            entity.field_path(value.field),
            format!(
                "is {len} bytes, but the openssl config {} allows {limits} for {} ({}_min/_max); openssl would ask again and every later answer would land in the wrong field. Change the value to fit",
                self.config.display(),
                prompt.object,
                prompt.key,
            ),
        ))
    }
}

fn prompts_of(
    config: &Config,
    section: &str,
    entries: &[(String, String)],
    knows: &impl Fn(&str) -> bool,
) -> Vec<Prompt> {
    let mut out = Vec::new();
    for (key, label) in entries {
        if ["_min", "_max", "_default", "_value"]
            .iter()
            .any(|s| key.ends_with(s))
        {
            continue;
        }
        let mut object = key.as_str();
        if let Some(i) = key.find([':', ',', '.'])
            && i + 1 < key.len()
        {
            object = &key[i + 1..];
        }
        let object = object.strip_prefix('+').unwrap_or(object);
        if !(KNOWN_OBJECTS.contains(&object) || knows(object)) {
            continue;
        }
        out.push(Prompt {
            fixed: config
                .get(section, &format!("{key}_value"))
                .map(str::to_string),
            key: key.clone(),
            object: object.to_string(),
            label: label.clone(),
            default: config
                .get(section, &format!("{key}_default"))
                .map(str::to_string),
            min: config.get_number(section, &format!("{key}_min")),
            max: config.get_number(section, &format!("{key}_max")),
        });
    }
    out
}

/// The names and OIDs in `openssl list -objects` (apps/list.c): lines
/// `SN = OID`, `SN = LN, OID`, and `# None-OID object: SN, LN`.
pub fn parse_object_list(text: &str) -> std::collections::HashSet<String> {
    let mut names = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# None-OID object: ") {
            let (sn, ln) = rest.split_once(", ").unwrap_or((rest, rest));
            names.extend([sn.to_string(), ln.to_string()]);
            continue;
        }
        let Some((sn, rest)) = line.split_once(" = ") else {
            continue;
        };
        // A long name may hold ", " itself; the OID comes last.
        let (ln, oid) = rest.rsplit_once(", ").unwrap_or((sn, rest));
        names.extend([sn.to_string(), ln.to_string(), oid.to_string()]);
    }
    names
}

/// The objects `req` adds from the config's `oid_section` (apps' add_oid_section:
/// `name = OID`, the name both short and long).
pub fn added_objects(config: &Config) -> std::collections::HashSet<String> {
    let Some(section) = config.get("default", "oid_section") else {
        return Default::default();
    };
    config
        .section(section)
        .unwrap_or_default()
        .iter()
        .flat_map(|(name, oid)| [name.clone(), oid.trim().to_string()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::profile;

    fn layout(cnf: &str) -> Result<PromptLayout> {
        let config = Config::parse(cnf).unwrap();
        PromptLayout::from_config(Path::new("t.cnf"), &config, |_| false)
    }

    const DEBIAN: &str = "[ req ]\ndistinguished_name = req_distinguished_name\nattributes = req_attributes\n\
[ req_distinguished_name ]\ncountryName = Country Name (2 letter code)\ncountryName_default = AU\ncountryName_min = 2\ncountryName_max = 2\n\
stateOrProvinceName = State\nlocalityName = Locality\n0.organizationName = Org\n0.organizationName_default = Internet Widgits Pty Ltd\n\
organizationalUnitName = OU\ncommonName = CN\ncommonName_max = 64\nemailAddress = Email\nemailAddress_max = 64\n\
[ req_attributes ]\nchallengePassword = A challenge password\nchallengePassword_min = 4\nchallengePassword_max = 20\nunstructuredName = An optional company name\n";

    fn entity(toml: &str) -> profile::Entity {
        let text = format!(
            "[ca]\nsubject = {{ CN = \"Root CA\" }}\n[server]\nsan = [\"DNS:localhost\"]\n{toml}\n[client]\nsan = [\"DNS:localhost\"]\nsubject = {{ CN = \"c\" }}\n"
        );
        profile::parse(Path::new("p.toml"), &text)
            .unwrap()
            .servers
            .remove(0)
    }

    #[test]
    fn debian_layout_is_read_in_file_order() {
        let l = layout(DEBIAN).unwrap();
        let objects: Vec<_> = l.dn.iter().map(|p| p.object.as_str()).collect();
        assert_eq!(
            objects,
            [
                "countryName",
                "stateOrProvinceName",
                "localityName",
                "organizationName",
                "organizationalUnitName",
                "commonName",
                "emailAddress"
            ]
        );
        assert_eq!(l.dn[0].min, Some(2));
        assert_eq!(l.dn[3].default.as_deref(), Some("Internet Widgits Pty Ltd"));
        assert_eq!(l.attributes.len(), 2);
    }

    #[test]
    fn answers_follow_the_config_and_blank_the_rest() {
        let l = layout(DEBIAN).unwrap();
        let e = entity("subject = { CN = \"localhost\", O = \"Acme\", C = \"DE\" }");
        let a = l.answers_for(&e, true).unwrap();
        assert_eq!(
            a.lines,
            ["DE", ".", ".", "Acme", ".", "localhost", ".", ".", "."]
        );
        assert_eq!(
            a.expected,
            [
                ("C".into(), "DE".into()),
                ("O".into(), "Acme".into()),
                ("CN".into(), "localhost".into())
            ]
        );
        let ca = l.answers_for(&e, false).unwrap();
        assert_eq!(ca.lines.len(), 7, "no attributes for -x509");
    }

    #[test]
    fn a_reordered_relabelled_config_changes_the_answers() {
        let l = layout(
            "[req]\ndistinguished_name = dn\n[dn]\n1.commonName = Name please\nCN_max = 5\nO = Company\nfavouriteColour = ignored by openssl\nC = Country\nC_value = DE\n",
        )
        .unwrap();
        let objects: Vec<_> = l.dn.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            objects,
            ["1.commonName", "O", "C"],
            "names openssl does not know are not asked"
        );
        let e = entity("subject = { CN = \"web\", O = \"Acme\", C = \"DE\" }");
        let a = l.answers_for(&e, true).unwrap();
        assert_eq!(
            a.lines,
            ["web", "Acme"],
            "C_value is written without asking"
        );
        assert_eq!(a.expected.len(), 3);
        let e = entity("subject = { CN = \"web\", O = \"Acme\", C = \"FR\" }");
        let problems = l.answers_for(&e, true).unwrap_err();
        assert_eq!(
            problems[0].message,
            "the openssl config t.cnf sets C_value = \"DE\", so openssl writes that into every subject without asking; give the profile the same value, or remove that line from the config"
        );
    }

    #[test]
    fn limits_and_unasked_fields_are_problems() {
        let l =
            layout("[req]\ndistinguished_name = dn\n[dn]\ncommonName = CN\ncommonName_max = 5\n")
                .unwrap();
        let e = entity("subject = { CN = \"localhost\", O = \"Acme\" }");
        let problems: Vec<_> = l
            .answers_for(&e, true)
            .unwrap_err()
            .into_iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect();
        assert_eq!(
            problems,
            [
                "server.subject.CN: is 9 bytes, but the openssl config t.cnf allows at most 5 bytes for commonName (commonName_min/_max); openssl would ask again and every later answer would land in the wrong field. Change the value to fit",
                "server.subject.O: the openssl config t.cnf does not ask for organizationName in [dn], so openssl cannot write it; remove it from the profile or use a config that asks for it",
            ]
        );
    }

    #[test]
    fn the_object_list_gives_short_and_long_names_and_oids() {
        let listed = "rsadsi = RSA Data Security, Inc., 1.2.840.113549\nX509 = 2.5.4\nCN = commonName, 2.5.4.3\n# None-OID object: AES-128-CBC-HMAC-SHA1, aes-128-cbc-hmac-sha1\n";
        let mut names: Vec<String> = parse_object_list(listed).into_iter().collect();
        names.sort();
        assert_eq!(
            names,
            [
                "1.2.840.113549",
                "2.5.4",
                "2.5.4.3",
                "AES-128-CBC-HMAC-SHA1",
                "CN",
                "RSA Data Security, Inc.",
                "X509",
                "aes-128-cbc-hmac-sha1",
                "commonName",
                "rsadsi",
            ]
        );
    }

    #[test]
    fn oid_section_names_are_known_as_req_adds_them() {
        let config = Config::parse("oid_section = extra\n[extra]\nshoeSize = 1.2.3.4\n").unwrap();
        let mut added: Vec<String> = added_objects(&config).into_iter().collect();
        added.sort();
        assert_eq!(added, ["1.2.3.4", "shoeSize"]);
    }

    #[test]
    fn prompt_no_is_refused_with_a_reason() {
        let e = layout("[req]\nprompt = no\ndistinguished_name = dn\n[dn]\nCN = x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "openssl config t.cnf: sets `prompt = no` in [req], so openssl takes the subject from the config and asks nothing; pkiforge cannot answer it. Remove that line or set OPENSSL_CONF to a config that prompts"
        );
    }
}
