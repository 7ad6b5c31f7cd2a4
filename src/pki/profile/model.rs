//! The profile as plain data: its entities, their keys, subjects and
//! SANs, and the sizes and validity periods pkiforge knows of.

use std::fmt;
use std::path::PathBuf;

use crate::error::Location;
use crate::pki::constraints::Constraint;
use crate::pki::fixture::Fixture;
use crate::pki::names::{Files, Role};
use crate::pki::pointers::Pointers;
use crate::pki::san::San;

/// The tutorial's RSA key size.
pub const DEFAULT_BITS: u32 = 4096;
/// Below this, keys are refused by modern clients (OpenSSL's security level 2).
pub const MIN_BITS: u32 = 2048;
/// OpenSSL's OPENSSL_RSA_MAX_MODULUS_BITS; genrsa refuses larger keys.
pub const MAX_BITS: u32 = 16384;

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
    /// `openssl genpkey -algorithm ML-DSA-65` (FIPS 204; OpenSSL 3.5 and later).
    MlDsa(MlDsa),
}

/// The ML-DSA parameter sets (FIPS 204), by NIST security category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlDsa {
    L44,
    L65,
    L87,
}

impl MlDsa {
    pub const ALL: [MlDsa; 3] = [MlDsa::L44, MlDsa::L65, MlDsa::L87];

    /// openssl's name: `ML-DSA-65`.
    pub fn name(self) -> &'static str {
        match self {
            MlDsa::L44 => "ML-DSA-44",
            MlDsa::L65 => "ML-DSA-65",
            MlDsa::L87 => "ML-DSA-87",
        }
    }

    /// The profile's name: `ml-dsa-65`.
    pub fn profile_name(self) -> &'static str {
        match self {
            MlDsa::L44 => "ml-dsa-44",
            MlDsa::L65 => "ml-dsa-65",
            MlDsa::L87 => "ml-dsa-87",
        }
    }
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
            KeySpec::MlDsa(m) => f.write_str(m.profile_name()),
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
    /// A CA's revocation pointers, which every certificate it signs carries.
    pub pointers: Pointers,
}

impl Entity {
    /// The CA of its own that signs an expired-intermediate, issuer-not-ca
    /// or pathlen-exceeded fixture: `NAME.issuer`, with the leaf's key
    /// type, and its subject but for the CN, `NAME issuer`, so that no
    /// other certificate of the PKI has its name.
    pub fn own_issuer(&self) -> Entity {
        let files = self.files().issuer();
        let name: String = self.name.chars().take(64 - " issuer".len()).collect();
        let mut subject: Vec<SubjectValue> = self
            .subject
            .iter()
            .filter(|v| v.field != Field::CN)
            .cloned()
            .collect();
        subject.push(SubjectValue {
            field: Field::CN,
            value: format!("{name} issuer"),
            at: None,
        });
        subject.sort_by_key(|v| v.field);
        Entity {
            role: Role::Ca,
            name: files.name.clone(),
            path: format!("{}.fixture", self.path),
            p12: P12::No,
            fixture: None,
            san: Vec::new(),
            subject,
            pointers: Pointers::default(),
            ..self.clone()
        }
    }

    /// Its files, by the tutorial's naming.
    pub fn files(&self) -> Files {
        Files::new(&self.name, self.role)
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

    /// Where one of its keys stands in the profile: `server[0].key`.
    pub fn key_path(&self, key: &str) -> String {
        match self.path.as_str() {
            "" => key.to_string(),
            path => format!("{path}.{key}"),
        }
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
    /// not-yet-valid, or its own expired intermediate): the plan then asks
    /// how openssl sets them.
    pub fn has_dated_fixtures(&self) -> bool {
        self.fixtures().any(|(_, f)| {
            f.kind.has_dates() || f.kind == crate::pki::fixture::Kind::ExpiredIntermediate
        })
    }

    /// Whether any entity asks for a PKCS#12 bundle.
    pub fn has_p12(&self) -> bool {
        self.leaves().any(|e| e.p12 != P12::No)
    }

    /// The root, the intermediate if any, then the leaves.
    pub fn entities(&self) -> impl Iterator<Item = &Entity> {
        std::iter::once(&self.ca)
            .chain(self.intermediate.as_ref().map(|i| &i.entity))
            .chain(self.leaves())
    }
}
