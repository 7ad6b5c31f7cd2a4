//! The TOML profile: read, validated as a whole (every problem at once), and
//! turned into plain data for planning.

use std::fmt;
use std::net::IpAddr;

use crate::pki::constraints::Constraint;
use crate::pki::fixture::{Fixture, Kind};
use crate::pki::san::{San, SanKind};
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::error::{Error, Location, Problem, Problems, Result};

/// The tutorial's RSA key size.
pub const DEFAULT_BITS: u32 = 4096;
/// Below this, keys are refused by modern clients (OpenSSL's security level 2).
pub const MIN_BITS: u32 = 2048;
/// OpenSSL's OPENSSL_RSA_MAX_MODULUS_BITS; genrsa refuses larger keys.
pub const MAX_BITS: u32 = 16384;

pub use crate::pki::names::Role;

/// Validity periods, in days: what OpenSSL, Apple and strict mode say.
pub mod days {
    /// Apple's limit for TLS server certificates issued after 1 September
    /// 2020 ("About upcoming limits on trusted certificates", Apple support
    /// HT211025); 825 days for those of private CAs (HT210176).
    pub const APPLE_MAX: i64 = 825;
    /// `openssl req -x509` and `openssl x509 -req` without -days: 30 days.
    pub const OPENSSL_DEFAULT: i64 = 30;
    /// Strict mode's validity for leaves when the profile gives no `days`:
    /// Apple's limit.
    pub const STRICT_LEAF: i64 = APPLE_MAX;
    /// Strict mode's validity for the CA when the profile gives no `days`.
    pub const STRICT_CA: i64 = 3650;
}

/// A subject field, by OpenSSL's short name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    C,
    ST,
    L,
    O,
    OU,
    CN,
    EmailAddress,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::C,
        Field::ST,
        Field::L,
        Field::O,
        Field::OU,
        Field::CN,
        Field::EmailAddress,
    ];

    /// OpenSSL's short name, as the profile spells it.
    pub fn short(self) -> &'static str {
        match self {
            Field::C => "C",
            Field::ST => "ST",
            Field::L => "L",
            Field::O => "O",
            Field::OU => "OU",
            Field::CN => "CN",
            Field::EmailAddress => "emailAddress",
        }
    }

    /// OpenSSL's long name, as configs usually spell it.
    pub fn long(self) -> &'static str {
        match self {
            Field::C => "countryName",
            Field::ST => "stateOrProvinceName",
            Field::L => "localityName",
            Field::O => "organizationName",
            Field::OU => "organizationalUnitName",
            Field::CN => "commonName",
            Field::EmailAddress => "emailAddress",
        }
    }

    /// The field an OpenSSL object name (short or long, as OBJ_txt2nid takes it) stands for.
    pub fn from_openssl_name(name: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.short() == name || f.long() == name)
    }

    /// The upper bound in bytes that OpenSSL enforces (RFC 5280's ub-* values,
    /// OpenSSL's crypto/asn1/a_strnid.c table).
    pub fn max_bytes(self) -> usize {
        match self {
            Field::C => 2,
            Field::ST | Field::L | Field::EmailAddress => 128,
            Field::O | Field::OU | Field::CN => 64,
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// One subject value and where the profile gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectValue {
    pub field: Field,
    pub value: String,
    pub at: Option<Location>,
}

/// How a key is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// `openssl genrsa -out NAME.key BITS`, as the tutorial does.
    Rsa(u32),
    /// `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:CURVE`.
    Ec(Curve),
    /// `openssl genpkey -algorithm ed25519`.
    Ed25519,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    P256,
    P384,
}

impl Curve {
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::Rsa(bits) => write!(f, "rsa:{bits}"),
            KeySpec::Ec(c) => write!(f, "ec:{}", c.name()),
            KeySpec::Ed25519 => f.write_str("ed25519"),
        }
    }
}

/// Whether and how to write a PKCS#12 bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P12 {
    No,
    /// OpenSSL's current defaults (AES-256, PBKDF2).
    Modern,
    /// `-legacy`: RC2/3DES and SHA-1, for Java 8 and older macOS keychains.
    Legacy,
}

/// Which extensions the certificates get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extensions {
    /// Exactly the tutorial's commands.
    Tutorial,
    /// keyUsage, extendedKeyUsage, basicConstraints and key identifiers that
    /// strict verifiers and Apple's TLS rules require.
    Strict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub role: Role,
    /// The file stem: `ca`, `server`, `client`, or the profile's `name`.
    pub name: String,
    /// Where the entity stands in the profile, such as `client[2]`.
    pub path: String,
    pub key: KeySpec,
    pub days: Option<u32>,
    pub p12: P12,
    /// The profile's subject values, in the order of [`Field::ALL`].
    pub subject: Vec<SubjectValue>,
    pub san: Vec<San>,
    /// A negative-test fixture: a certificate that must be refused.
    pub fixture: Option<Fixture>,
}

impl Entity {
    /// Its files, by the tutorial's naming.
    pub fn files(&self) -> crate::pki::names::Files {
        crate::pki::names::Files::new(&self.name, self.role)
    }

    pub fn subject_value(&self, field: Field) -> Option<&SubjectValue> {
        self.subject.iter().find(|v| v.field == field)
    }

    /// The subject as `(short name, value)` pairs, as the checks compare it.
    pub fn subject_fields(&self) -> Vec<(String, String)> {
        self.subject
            .iter()
            .map(|v| (v.field.short().to_string(), v.value.clone()))
            .collect()
    }

    /// The profile path of a subject field, e.g. `server.subject.C`.
    pub fn field_path(&self, field: Field) -> String {
        format!("{}.subject.{}", self.path, field.short())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub path: PathBuf,
    pub extensions: Extensions,
    pub ca: Entity,
    /// The CA that signs the leaves when there is one (`[intermediate]`);
    /// the root signs it.
    pub intermediate: Option<Intermediate>,
    pub servers: Vec<Entity>,
    pub clients: Vec<Entity>,
}

/// An intermediate CA and the names it may sign for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intermediate {
    pub entity: Entity,
    pub permitted: Vec<Constraint>,
    pub excluded: Vec<Constraint>,
}

impl Profile {
    /// The CA that signs the leaves: the intermediate, else the root.
    pub fn issuer(&self) -> &Entity {
        self.intermediate.as_ref().map_or(&self.ca, |i| &i.entity)
    }

    /// The servers, then the clients, in profile order (fixtures too).
    pub fn leaves(&self) -> impl Iterator<Item = &Entity> {
        self.servers.iter().chain(&self.clients)
    }

    /// The leaves that are no fixtures: what must verify.
    pub fn good_leaves(&self) -> impl Iterator<Item = &Entity> {
        self.leaves().filter(|e| e.fixture.is_none())
    }

    /// The negative-test fixtures, each with what makes it one.
    pub fn fixtures(&self) -> impl Iterator<Item = (&Entity, &Fixture)> {
        self.leaves()
            .filter_map(|e| e.fixture.as_ref().map(|f| (e, f)))
    }

    /// Whether a fixture has dates other than "from now" (expired,
    /// not-yet-valid): the plan then asks how openssl sets them.
    pub fn has_dated_fixtures(&self) -> bool {
        self.fixtures().any(|(_, f)| f.kind.has_dates())
    }

    /// Whether any entity asks for a PKCS#12 bundle.
    pub fn has_p12(&self) -> bool {
        self.leaves().any(|e| e.p12 != P12::No)
    }

    /// The CA, then the leaves.
    /// The root, the intermediate if any, then the leaves.
    pub fn entities(&self) -> impl Iterator<Item = &Entity> {
        std::iter::once(&self.ca)
            .chain(self.intermediate.as_ref().map(|i| &i.entity))
            .chain(self.leaves())
    }
}

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
    let mut v = Validator {
        text,
        line_starts: std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect(),
        problems: Vec::new(),
    };
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

struct Validator<'t> {
    text: &'t str,
    /// The byte offset where each line starts: a value's line is found by
    /// bisection, not by counting from the top of the file for each value
    /// (which made a profile of 10,000 clients take seconds).
    line_starts: Vec<usize>,
    problems: Vec<Problem>,
}

type Table<'i> = DeTable<'i>;

impl<'t> Validator<'t> {
    fn at(&self, span: std::ops::Range<usize>) -> Option<Location> {
        let offset = span.start.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let within = Location::of_offset(&self.text[start..], offset - start);
        Some(Location {
            line,
            column: within.column,
        })
    }

    fn problem(
        &mut self,
        span: Option<std::ops::Range<usize>>,
        field: &str,
        message: impl Into<String>,
    ) {
        let location = span.and_then(|s| self.at(s));
        self.problems.push(Problem::new(location, field, message));
    }

    fn profile(&mut self, path: &Path) -> Option<Profile> {
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
        if let Some(inter) = &profile.intermediate {
            self.distinct_subject(&profile.ca, &inter.entity, &doc);
            for leaf in profile.leaves() {
                self.distinct_subject(&inter.entity, leaf, &doc);
                self.within_constraints(inter, leaf, &doc);
            }
        }
        self.distinct_files(&profile, &doc);
        Some(profile)
    }

    fn extensions(&mut self, doc: &Table<'_>) -> Option<Extensions> {
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

    fn unknown_keys(&mut self, table: &Table<'_>, prefix: &str, allowed: &[&str]) {
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
    fn entities(&mut self, doc: &Table<'_>, role: Role) -> Option<Vec<Entity>> {
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

    fn entity(&mut self, table: &Table<'_>, role: Role, path: String) -> Option<Entity> {
        let allowed: &[&str] = match role {
            Role::Ca => &["bits", "key", "days", "subject"],
            Role::Intermediate => &["bits", "key", "days", "subject", "permitted", "excluded"],
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
        if let (Some(Some(_)), Some(P12::Legacy | P12::Modern), Some(v)) =
            (&fixture, p12, table.get("p12"))
        {
            self.problem(
                Some(v.span()),
                &join(&path, "p12"),
                "fixtures get no PKCS#12 bundle (their key and certificate are NAME.key and NAME.crt); remove p12",
            );
            return None;
        }
        Some(Entity {
            role,
            name: name?,
            path,
            key: key?,
            days: days?,
            p12: p12?,
            subject: subject?,
            san: san.unwrap_or_default(),
            fixture: fixture?,
        })
    }

    /// `fixture` (and `host`, for a wrong-host fixture).
    fn fixture(
        &mut self,
        table: &Table<'_>,
        prefix: &str,
        role: Role,
        sans: &[San],
    ) -> Option<Option<Fixture>> {
        let host = table.get("host");
        let Some(value) = table.get("fixture") else {
            if let Some(h) = host {
                self.problem(
                    Some(h.span()),
                    &join(prefix, "host"),
                    "is only for a wrong-host fixture (fixture = \"wrong-host\"); remove it",
                );
                return None;
            }
            return Some(None);
        };
        let path = join(prefix, "fixture");
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        let kind = match value.get_ref() {
            DeValue::String(s) => Kind::from_name(s),
            _ => None,
        };
        let Some(kind) = kind else {
            self.problem(
                Some(value.span()),
                &path,
                format!("must be one of \"{}\"", names.join("\", \"")),
            );
            return None;
        };
        if !kind.allowed_for(role) {
            self.problem(
                Some(value.span()),
                &path,
                "\"wrong-host\" is for servers only: a client's names are not matched against a host",
            );
            return None;
        }
        let host = match (kind, host) {
            (Kind::WrongHost, Some(h)) => Some(self.fixture_host(h, prefix, sans)?),
            (Kind::WrongHost, None) => {
                self.problem(
                    None,
                    &join(prefix, "host"),
                    "missing: a wrong-host fixture needs the host its clients dial, which none of its san names, e.g. host = \"localhost\"",
                );
                return None;
            }
            (_, Some(h)) => {
                self.problem(
                    Some(h.span()),
                    &join(prefix, "host"),
                    format!("is only for a wrong-host fixture, not {kind}; remove it"),
                );
                return None;
            }
            (_, None) => None,
        };
        Some(Some(Fixture { kind, host }))
    }

    /// The host a wrong-host fixture's clients dial: a DNS name or IP
    /// address that none of its names covers. It needs a DNS name of its
    /// own, or openssl would match the host against its CN.
    fn fixture_host(
        &mut self,
        value: &toml::Spanned<DeValue<'_>>,
        prefix: &str,
        sans: &[San],
    ) -> Option<String> {
        let path = join(prefix, "host");
        let DeValue::String(h) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                "must be a string such as \"localhost\"",
            );
            return None;
        };
        let as_san = if h.parse::<IpAddr>().is_ok() {
            parse_san(&format!("IP:{h}"))
        } else {
            parse_san(&format!("DNS:{h}"))
        };
        let san = match as_san {
            Ok(san) if !h.starts_with("*.") => san,
            _ => {
                self.problem(
                    Some(value.span()),
                    &path,
                    format!("\"{h}\" is not a host name or IP address a client dials, e.g. \"localhost\""),
                );
                return None;
            }
        };
        if let Some(by) = sans.iter().find(|s| crate::pki::san::covers(s, &san)) {
            self.problem(
                Some(value.span()),
                &path,
                format!("\"{h}\" is covered by san \"{by}\", so the certificate is valid for it: give the fixture san names that do not cover the host, e.g. san = [\"DNS:wrong-host.invalid\"]"),
            );
            return None;
        }
        if !sans.iter().any(|s| s.kind == SanKind::Dns) {
            self.problem(
                Some(value.span()),
                &path,
                "the fixture needs a DNS name in its san (e.g. \"DNS:wrong-host.invalid\"): without one, openssl matches the host against the CN",
            );
            return None;
        }
        Some(h.to_string())
    }

    fn name(&mut self, table: &Table<'_>, prefix: &str, role: Role) -> Option<String> {
        let path = join(prefix, "name");
        let Some(value) = table.get("name") else {
            return Some(role.table().to_string());
        };
        let DeValue::String(s) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                format!(
                    "must be a string such as \"alice\", not {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        let valid = !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid {
            self.problem(
                Some(value.span()),
                &path,
                format!("\"{s}\" cannot be a file name here; use letters, digits, '.', '_' and '-', starting with a letter or digit (at most 64)"),
            );
            return None;
        }
        if s == "ca" {
            self.problem(
                Some(value.span()),
                &path,
                "\"ca\" is the CA's name (ca.key, ca.crt); choose another",
            );
            return None;
        }
        if s.ends_with(crate::pki::names::ISSUER) {
            self.problem(
                Some(value.span()),
                &path,
                format!("\"{s}\" ends in .issuer, which names a foreign-ca fixture's other CA; choose another"),
            );
            return None;
        }
        Some(s.to_string())
    }

    fn key(&mut self, table: &Table<'_>, prefix: &str) -> Option<KeySpec> {
        let bits = table.get("bits");
        let Some(value) = table.get("key") else {
            return self.bits(table, prefix).map(KeySpec::Rsa);
        };
        let path = join(prefix, "key");
        if let Some(b) = bits {
            self.problem(
                Some(b.span()),
                &join(prefix, "bits"),
                format!(
                    "give either bits or key, not both; for RSA write key = \"rsa:{}\"",
                    match b.get_ref() {
                        DeValue::Integer(i) => i.as_str().to_string(),
                        _ => "4096".into(),
                    }
                ),
            );
            return None;
        }
        let DeValue::String(s) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                format!(
                    "must be a string such as \"rsa:4096\", \"ec:P-256\" or \"ed25519\", not {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        let spec = match s.as_ref() {
            "ec:P-256" => Some(KeySpec::Ec(Curve::P256)),
            "ec:P-384" => Some(KeySpec::Ec(Curve::P384)),
            "ed25519" => Some(KeySpec::Ed25519),
            other => other
                .strip_prefix("rsa:")
                .and_then(|b| b.parse::<u32>().ok())
                .map(KeySpec::Rsa),
        };
        match spec {
            Some(KeySpec::Rsa(b)) if !(MIN_BITS..=MAX_BITS).contains(&b) => {
                self.problem(
                    Some(value.span()),
                    &path,
                    format!("RSA keys must be between {MIN_BITS} and {MAX_BITS} bits"),
                );
                None
            }
            Some(spec) => Some(spec),
            None => {
                self.problem(
                    Some(value.span()),
                    &path,
                    format!("\"{s}\" is not a key type pkiforge makes; use \"rsa:BITS\" (e.g. \"rsa:4096\"), \"ec:P-256\", \"ec:P-384\" or \"ed25519\""),
                );
                None
            }
        }
    }

    fn days(&mut self, table: &Table<'_>, prefix: &str) -> Option<Option<u32>> {
        let Some(value) = table.get("days") else {
            return Some(None);
        };
        let path = join(prefix, "days");
        let parsed = match value.get_ref() {
            DeValue::Integer(int) => {
                i64::from_str_radix(&int.as_str().replace('_', ""), int.radix()).ok()
            }
            _ => None,
        };
        match parsed {
            // 36500 days: a hundred years is plenty, and stays inside X.509's dates.
            Some(n) if (1..=36_500).contains(&n) => Some(Some(n as u32)),
            _ => {
                self.problem(
                    Some(value.span()),
                    &path,
                    "must be a whole number of days from 1 to 36500, e.g. days = 365",
                );
                None
            }
        }
    }

    fn p12(&mut self, table: &Table<'_>, prefix: &str) -> Option<P12> {
        let Some(value) = table.get("p12") else {
            return Some(P12::No);
        };
        match value.get_ref() {
            DeValue::Boolean(true) => Some(P12::Modern),
            DeValue::Boolean(false) => Some(P12::No),
            DeValue::String(s) if s == "legacy" => Some(P12::Legacy),
            _ => {
                self.problem(
                    Some(value.span()),
                    &join(prefix, "p12"),
                    "must be true (a PKCS#12 bundle with current algorithms), \"legacy\" (for Java 8 and older macOS keychains) or false",
                );
                None
            }
        }
    }

    fn bits(&mut self, table: &Table<'_>, prefix: &str) -> Option<u32> {
        let path = join(prefix, "bits");
        let Some(value) = table.get("bits") else {
            return Some(DEFAULT_BITS);
        };
        let DeValue::Integer(int) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                format!(
                    "must be an integer such as 4096, not {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        let digits = int.as_str().replace('_', "");
        let parsed = i64::from_str_radix(digits.trim_start_matches('+'), int.radix()).ok();
        match parsed {
            Some(n) if (i64::from(MIN_BITS)..=i64::from(MAX_BITS)).contains(&n) => Some(n as u32),
            Some(n) if n > 0 && n < i64::from(MIN_BITS) => {
                self.problem(
                    Some(value.span()),
                    &path,
                    format!("{n}-bit RSA keys are unsafe and refused by modern clients; use at least {MIN_BITS} (the tutorial uses 4096)"),
                );
                None
            }
            _ => {
                self.problem(
                    Some(value.span()),
                    &path,
                    format!("must be between {MIN_BITS} and {MAX_BITS} (the tutorial uses 4096)"),
                );
                None
            }
        }
    }

    fn subject(&mut self, table: &Table<'_>, prefix: &str) -> Option<Vec<SubjectValue>> {
        let path = join(prefix, "subject");
        let Some(value) = table.get("subject") else {
            self.problem(
                None,
                &path,
                format!(
                    "missing; add a [{path}] table with at least CN, e.g. CN = \"My {prefix}\""
                ),
            );
            return None;
        };
        let DeValue::Table(sub) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                format!("must be a table, [{path}], not {}", kind(value.get_ref())),
            );
            return None;
        };
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.short()).collect();
        self.unknown_keys(sub, &path, &names);
        let mut out = Vec::new();
        let mut ok = true;
        for field in Field::ALL {
            let Some(v) = sub.get(field.short()) else {
                continue;
            };
            let fpath = join(&path, field.short());
            let DeValue::String(s) = v.get_ref() else {
                self.problem(
                    Some(v.span()),
                    &fpath,
                    format!("must be a string, not {}", kind(v.get_ref())),
                );
                ok = false;
                continue;
            };
            match check_subject_value(field, s) {
                Ok(()) => out.push(SubjectValue {
                    field,
                    value: s.to_string(),
                    at: self.at(v.span()),
                }),
                Err(message) => {
                    self.problem(Some(v.span()), &fpath, message);
                    ok = false;
                }
            }
        }
        if ok && out.is_empty() {
            self.problem(
                Some(value.span()),
                &path,
                "is empty; give at least CN, e.g. CN = \"localhost\"",
            );
            return None;
        }
        ok.then_some(out)
    }

    fn sans(&mut self, table: &Table<'_>, prefix: &str) -> Option<Vec<San>> {
        let path = join(prefix, "san");
        let Some(value) = table.get("san") else {
            self.problem(
                None,
                &path,
                format!("missing; add san = [\"DNS:localhost\"] to [{prefix}] (modern clients match the host name against it)"),
            );
            return None;
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                format!(
                    "must be a list of strings such as [\"DNS:localhost\"], not {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.problem(
                Some(value.span()),
                &path,
                "is empty; give at least one entry such as \"DNS:localhost\"",
            );
            return None;
        }
        let mut out: Vec<San> = Vec::new();
        let mut listed = std::collections::HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            let DeValue::String(s) = item.get_ref() else {
                self.problem(
                    Some(item.span()),
                    &ipath,
                    format!(
                        "must be a string such as \"DNS:localhost\", not {}",
                        kind(item.get_ref())
                    ),
                );
                continue;
            };
            match parse_san(s) {
                Ok(san) if !listed.insert(san.to_string()) => {
                    self.problem(
                        Some(item.span()),
                        &ipath,
                        format!("\"{san}\" is listed twice; remove one"),
                    );
                }
                Ok(san) => out.push(san),
                Err(message) => self.problem(Some(item.span()), &ipath, message),
            }
        }
        Some(out)
    }

    /// `[intermediate]`, if there is one.
    fn intermediate(&mut self, doc: &Table<'_>) -> Option<Option<Intermediate>> {
        let Some(value) = doc.get("intermediate") else {
            return Some(None);
        };
        let DeValue::Table(table) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                "intermediate",
                format!(
                    "must be a single [intermediate] table, not {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        let entity = self.entity(table, Role::Intermediate, "intermediate".into());
        let permitted = self.constraints(table, "permitted");
        let excluded = self.constraints(table, "excluded");
        let (entity, permitted, excluded) = (entity?, permitted?, excluded?);
        if permitted.is_empty() && excluded.is_empty() {
            self.problem(
                None,
                "intermediate.permitted",
                "is missing: an intermediate without name constraints can sign for any name; list what it may sign for, e.g. permitted = [\"DNS:workshop.test\", \"IP:127.0.0.0/8\"]",
            );
            return None;
        }
        Some(Some(Intermediate {
            entity,
            permitted,
            excluded,
        }))
    }

    /// `intermediate.permitted` or `intermediate.excluded`: a list of
    /// constraints in openssl's `TYPE:value` syntax.
    fn constraints(&mut self, table: &Table<'_>, key: &str) -> Option<Vec<Constraint>> {
        let path = format!("intermediate.{key}");
        let Some(value) = table.get(key) else {
            return Some(Vec::new());
        };
        let DeValue::Array(items) = value.get_ref() else {
            self.problem(
                Some(value.span()),
                &path,
                format!(
                    "must be a list of strings such as [\"DNS:workshop.test\"], not {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ipath = format!("{path}[{i}]");
            let parsed = match item.get_ref() {
                DeValue::String(s) => Constraint::parse(s),
                other => Err(format!(
                    "must be a string such as \"DNS:workshop.test\", not {}",
                    kind(other)
                )),
            };
            match parsed {
                Ok(c) => out.push(c),
                Err(message) => {
                    self.problem(Some(item.span()), &ipath, message);
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// Every name of `leaf` openssl checks against the intermediate's
    /// constraints (its SANs, and a CN that looks like a host name when it
    /// has no DNS SAN) must fall inside them.
    fn within_constraints(&mut self, inter: &Intermediate, leaf: &Entity, doc: &Table<'_>) {
        let cn = leaf
            .subject_value(Field::CN)
            .filter(|_| !leaf.san.iter().any(|s| s.kind == SanKind::Dns))
            .and_then(|v| crate::pki::constraints::cn_as_host(&v.value));
        for (i, name) in leaf.san.iter().enumerate() {
            if let Some(why) =
                crate::pki::constraints::violation(name, &inter.permitted, &inter.excluded)
            {
                self.problem(
                    self.span_of(doc, &leaf.path, "san"),
                    &format!("{}.san[{i}]", leaf.path),
                    format!("\"{name}\" cannot be signed by the intermediate: {why}. Change the name, or the intermediate's constraints"),
                );
            }
        }
        if let Some(name) = cn
            && let Some(why) =
                crate::pki::constraints::violation(&name, &inter.permitted, &inter.excluded)
        {
            self.problem(
                self.span_of(doc, &leaf.path, "subject"),
                &format!("{}.subject.CN", leaf.path),
                format!("\"{}\" looks like a host name, which openssl checks against the intermediate's constraints when there is no DNS SAN: {why}", name.value),
            );
        }
        if leaf.p12 != P12::No {
            self.problem(
                self.span_of(doc, &leaf.path, "p12"),
                &format!("{}.p12", leaf.path),
                "PKCS#12 bundles with an [intermediate] are not made yet (the bundle would lack the intermediate); leave p12 out",
            );
        }
    }

    fn distinct_subject(&mut self, ca: &Entity, leaf: &Entity, doc: &Table<'_>) {
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
    fn distinct_files(&mut self, profile: &Profile, doc: &Table<'_>) {
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
    fn span_of(&self, doc: &Table<'_>, path: &str, key: &str) -> Option<std::ops::Range<usize>> {
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

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn kind(value: &DeValue<'_>) -> &'static str {
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

fn first_control(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control())
}

fn describe_char(c: char) -> String {
    match c {
        '\n' => "a newline".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        c => format!("the control character U+{:04X}", c as u32),
    }
}

/// Checks a subject value against what openssl's prompt and encoder accept.
pub fn check_subject_value(field: Field, s: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err(format!(
            "is empty; openssl's prompt would take an empty answer as \"use the config's default\". Leave {} out to leave it blank",
            field.short()
        ));
    }
    if s == "." {
        return Err(format!(
            "\".\" alone means \"leave blank\" at openssl's prompt; leave {} out instead",
            field.short()
        ));
    }
    if let Some(c) = first_control(s) {
        return Err(format!(
            "contains {}; it would be read as a separate answer to the next prompt. Remove it",
            describe_char(c)
        ));
    }
    if s.trim() != s {
        return Err("has leading or trailing spaces; remove them".into());
    }
    match field {
        Field::C if !(s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())) => {
            return Err(format!(
                "\"{s}\" is not a two-letter ISO 3166 country code such as \"US\" or \"DE\"; openssl would ask again and every later answer would land in the wrong field"
            ));
        }
        Field::C if s.bytes().any(|b| b.is_ascii_lowercase()) => {
            return Err(format!(
                "\"{s}\" is in lower case; ISO 3166 country codes are upper case, and clients compare them as written: write \"{}\"",
                s.to_ascii_uppercase()
            ));
        }
        Field::EmailAddress if !s.is_ascii() => {
            return Err(
                "must be ASCII (an IA5String); non-ASCII addresses are not allowed here".into(),
            );
        }
        Field::EmailAddress if s.matches('@').count() != 1 || s.contains(' ') => {
            return Err(format!(
                "\"{s}\" is not an email address such as \"admin@example.com\""
            ));
        }
        _ => {}
    }
    if s.len() > field.max_bytes() {
        return Err(format!(
            "is {} bytes long; openssl allows at most {} for {}",
            s.len(),
            field.max_bytes(),
            field.short()
        ));
    }
    Ok(())
}

/// Parses and checks one subjectAltName entry in openssl's `TYPE:value` syntax.
pub fn parse_san(s: &str) -> std::result::Result<San, String> {
    if let Some(c) = first_control(s) {
        return Err(format!(
            "contains {}; it would inject another line into openssl's extension text. Remove it",
            describe_char(c)
        ));
    }
    let Some((kind, value)) = s.split_once(':') else {
        return Err(format!(
            "\"{s}\" has no type; write it as TYPE:value, e.g. \"DNS:{s}\" or \"IP:127.0.0.1\""
        ));
    };
    let kind = san_kind(kind, value)?;
    check_san_value(kind, value).map_err(|why| {
        format!(
            "\"{s}\" is not a valid {} entry: {why}",
            kind.openssl_name()
        )
    })?;
    Ok(San {
        kind,
        value: value.to_string(),
    })
}

/// The type of a SAN entry, by openssl's (case-sensitive) name.
fn san_kind(kind: &str, value: &str) -> std::result::Result<SanKind, String> {
    let known = [SanKind::Dns, SanKind::Ip, SanKind::Email, SanKind::Uri];
    if let Some(k) = known.into_iter().find(|k| k.openssl_name() == kind) {
        return Ok(k);
    }
    if let Some(k) = known
        .into_iter()
        .find(|k| k.openssl_name().eq_ignore_ascii_case(kind))
    {
        return Err(format!(
            "openssl's type names are case-sensitive: write \"{}:{value}\"",
            k.openssl_name()
        ));
    }
    Err(format!(
        "unknown type \"{kind}\"; use DNS:, IP:, email: or URI:"
    ))
}

/// What is wrong with a SAN value of a type, as openssl would write it.
fn check_san_value(kind: SanKind, value: &str) -> std::result::Result<(), String> {
    if value.is_empty() {
        return Err("the value is empty".into());
    }
    if value.contains([',', ' ']) {
        return Err(
            "spaces and commas are not allowed (a comma starts another entry in openssl's syntax)"
                .into(),
        );
    }
    // openssl reads the extension text as config text: `#` starts a
    // comment (the entry would be cut there) and quotes are taken away.
    if let Some(c) = value.chars().find(|c| matches!(c, '#' | '\'' | '"')) {
        let fix = match (kind, c) {
            (SanKind::Uri, '#') => "; percent-encode it as %23",
            (SanKind::Uri, _) => "; percent-encode it as %27 or %22",
            _ => "; remove it",
        };
        let why = if c == '#' {
            "openssl reads '#' as the start of a comment and would cut the entry there"
        } else {
            "openssl reads quotes in extension text as quoting and would drop them"
        };
        return Err(format!("{why}{fix}"));
    }
    match kind {
        SanKind::Dns => check_dns_name(value, true),
        SanKind::Ip => match value.parse::<IpAddr>() {
            Ok(_) => Ok(()),
            Err(_) => {
                Err("write an IPv4 address such as 127.0.0.1 or an IPv6 address such as ::1".into())
            }
        },
        SanKind::Email => check_email(value),
        SanKind::Uri => check_uri(value),
    }
}

fn check_email(value: &str) -> std::result::Result<(), String> {
    let Some((local, domain)) = value.split_once('@') else {
        return Err("write it as name@domain".into());
    };
    if local.is_empty()
        || !local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"\"\\$`!@".contains(c))
    {
        return Err(
            "the part before @ must be plain ASCII without quotes, backslashes, $, ` or !".into(),
        );
    }
    check_dns_name(domain, false).map_err(|why| format!("the domain: {why}"))
}

fn check_uri(value: &str) -> std::result::Result<(), String> {
    let scheme_ok = value.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if !scheme_ok {
        return Err(
            "write an absolute URI with a scheme, such as spiffe://example.org/workload or https://example.com/".into(),
        );
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~:/?#[]@&'()*+;=%".contains(*c)))
    {
        Some(c) => Err(format!("'{c}' is not allowed; percent-encode it")),
        None => Ok(()),
    }
}

/// Checks a DNS name: labels of letters, digits and hyphens, optionally a
/// leading `*.` wildcard label.
fn check_dns_name(name: &str, allow_wildcard: bool) -> std::result::Result<(), String> {
    let body = match name.strip_prefix("*.") {
        Some(rest) if allow_wildcard => {
            // OpenSSL (and browsers) honour a wildcard only with at least
            // two labels after it: *.example.com, never *.com.
            if !rest.contains('.') {
                return Err(format!(
                    "openssl matches a wildcard only with two or more labels after it, as in *.example.{rest}; \"*.{rest}\" would match no host name"
                ));
            }
            rest
        }
        _ => name,
    };
    if name.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    if name.ends_with('.') {
        return Err("remove the trailing dot".into());
    }
    for label in body.split('.') {
        if label.is_empty() {
            return Err("has an empty label (two dots in a row, or a leading dot)".into());
        }
        if label.len() > 63 {
            return Err(format!(
                "the label \"{label}\" is longer than 63 characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(match c {
                '*' => "a wildcard is allowed only as the whole first label, as in *.example.com"
                    .into(),
                c if !c.is_ascii() => {
                    "non-ASCII names must be written in their xn-- (punycode) form".into()
                }
                c => format!(
                    "'{c}' is not allowed in a host name (letters, digits and hyphens only)"
                ),
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "the label \"{label}\" starts or ends with a hyphen"
            ));
        }
    }
    Ok(())
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

    #[test]
    fn san_entries_are_checked_for_their_type() {
        assert!(parse_san("DNS:*.example.com").is_ok());
        assert!(parse_san("IP:::1").is_ok());
        assert!(parse_san("URI:spiffe://example.org/ns/a").is_ok());
        assert!(parse_san("email:a.b@example.com").is_ok());
        assert_eq!(
            parse_san("dns:localhost").unwrap_err(),
            "openssl's type names are case-sensitive: write \"DNS:localhost\""
        );
        assert_eq!(
            parse_san("DNS:local host").unwrap_err(),
            "\"DNS:local host\" is not a valid DNS entry: spaces and commas are not allowed (a comma starts another entry in openssl's syntax)"
        );
        assert_eq!(
            parse_san("IP:300.1.1.1").unwrap_err(),
            "\"IP:300.1.1.1\" is not a valid IP entry: write an IPv4 address such as 127.0.0.1 or an IPv6 address such as ::1"
        );
        assert_eq!(
            parse_san("DNS:a\nDNS:b").unwrap_err(),
            "contains a newline; it would inject another line into openssl's extension text. Remove it"
        );
        assert_eq!(
            parse_san("RID:1.2.3").unwrap_err(),
            "unknown type \"RID\"; use DNS:, IP:, email: or URI:"
        );
    }

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
