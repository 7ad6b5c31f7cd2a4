//! A leaf's `fixture` (and `host`, for a wrong-host fixture): what makes it
//! a negative-test certificate.

use std::net::IpAddr;

use toml::de::DeValue;

use crate::pki::fixture::{Fixture, Kind, WEAK_RSA_BITS};
use crate::pki::names::Role;
use crate::pki::profile::alt_names::parse_san;
use crate::pki::profile::validator::{Table, Validator, join};
use crate::pki::profile::{Entity, Field, KeySpec, Profile};
use crate::pki::san::{San, SanKind};

impl Validator<'_> {
    /// `fixture` (and `host`, for a wrong-host fixture).
    pub(crate) fn fixture(
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
            let why = match kind {
                Kind::CnOnly => {
                    "a client's names are not matched against a host, so a CN without subjectAltName is no fault in it; use it under [[server]]"
                }
                _ => "a client's names are not matched against a host",
            };
            self.problem(
                Some(value.span()),
                &path,
                format!("\"{kind}\" is for servers only: {why}"),
            );
            return None;
        }
        if kind == Kind::CnOnly {
            return self.cn_only_host(value, prefix, host, sans);
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

    /// The host a cn-only fixture's clients dial: the first DNS name of its
    /// san, which the certificate carries in its CN alone (checked with the
    /// subject, [`Validator::fixture_fits`]).
    fn cn_only_host(
        &mut self,
        value: &toml::Spanned<DeValue<'_>>,
        prefix: &str,
        host: Option<&toml::Spanned<DeValue<'_>>>,
        sans: &[San],
    ) -> Option<Option<Fixture>> {
        if let Some(h) = host {
            self.problem(
                Some(h.span()),
                &join(prefix, "host"),
                "is only for a wrong-host fixture, not cn-only (its host is its first DNS name in san); remove it",
            );
            return None;
        }
        let Some(dns) = sans.iter().find(|s| s.kind == SanKind::Dns) else {
            self.problem(
                Some(value.span()),
                &join(prefix, "san"),
                "a cn-only fixture needs a DNS name in san, the host its clients dial, which it names in its CN only, e.g. san = [\"DNS:localhost\"] and subject CN = \"localhost\"",
            );
            return None;
        };
        Some(Some(Fixture {
            kind: Kind::CnOnly,
            host: Some(dns.value.clone()),
        }))
    }

    /// A fixture's kind against the rest of its entity: a cn-only one's CN
    /// is its host, a weak-key one has an RSA key (its size is what differs).
    pub(crate) fn fixture_fits(&mut self, e: &Entity) {
        let Some(fixture) = &e.fixture else {
            return;
        };
        let cn = e.subject_value(Field::CN).map(|v| v.value.as_str());
        match (fixture.kind, &fixture.host) {
            (Kind::CnOnly, Some(host)) if cn != Some(host.as_str()) => self.problem(
                None,
                &e.field_path(Field::CN),
                format!("must be \"{host}\", the first DNS name of its san: a cn-only fixture names its host in the CN alone"),
            ),
            (Kind::WeakKey, _) if !matches!(e.key, KeySpec::Rsa(_)) => self.problem(
                None,
                &join(&e.path, "key"),
                format!("a weak-key fixture is an RSA {WEAK_RSA_BITS} key in place of the profile's RSA key, so that only its size differs; give it key = \"rsa:2048\""),
            ),
            _ => {}
        }
    }

    /// A sha1-signature fixture is signed with `-sha1` by the CA that signs
    /// the leaves: one whose key takes a digest (RSA, EC). Ed25519 and
    /// ML-DSA sign without one, and openssl refuses `-sha1` with them.
    pub(crate) fn sha1_fixtures_have_a_hashing_issuer(
        &mut self,
        profile: &Profile,
        doc: &Table<'_>,
    ) {
        let issuer = profile.issuer();
        if matches!(issuer.key, KeySpec::Rsa(_) | KeySpec::Ec(_)) {
            return;
        }
        for (leaf, _) in profile
            .fixtures()
            .filter(|(_, f)| f.kind == Kind::Sha1Signature)
        {
            self.problem(
                self.span_of(doc, &leaf.path, "fixture"),
                &join(&leaf.path, "fixture"),
                format!(
                    "a sha1-signature fixture is signed with SHA-1 by [{}], whose key (\"{}\") signs without a digest; give [{}] an RSA or EC key, or leave this fixture out",
                    issuer.path, issuer.key, issuer.path
                ),
            );
        }
    }

    /// The CA of its own that signs an expired-intermediate, issuer-not-ca
    /// or pathlen-exceeded fixture has a subject of its own: not a CA's of
    /// the profile, nor another fixture's CA's (whose names share their
    /// first 57 characters), or the chain would not be bad in one way only.
    pub(crate) fn distinct_own_issuers(&mut self, profile: &Profile, doc: &Table<'_>) {
        let mut taken: Vec<(Vec<(String, String)>, String)> = std::iter::once(&profile.ca)
            .chain(profile.intermediate.as_ref().map(|i| &i.entity))
            .map(|ca| (ca.subject_fields(), format!("[{}]", ca.path)))
            .collect();
        let owning = profile
            .fixtures()
            .filter(|(_, f)| f.kind.has_own_issuer() && f.kind != Kind::ForeignCa);
        for (leaf, _) in owning {
            let own = leaf.own_issuer().subject_fields();
            if let Some((_, whose)) = taken.iter().find(|(s, _)| *s == own) {
                let shown: Vec<String> = own.iter().map(|(k, v)| format!("{k}={v}")).collect();
                self.problem(
                    self.span_of(doc, &leaf.path, "name"),
                    &join(&leaf.path, "name"),
                    format!(
                        "the CA this fixture is signed by, made with it, would have the subject {} of {whose}: give the fixture another name (its CA's CN is \"NAME issuer\")",
                        shown.join(", ")
                    ),
                );
            }
            taken.push((own, format!("the CA of {}", leaf.path)));
        }
    }

    /// The host a wrong-host fixture's clients dial: a DNS name or IP
    /// address that none of its names covers. It needs a DNS name of its
    /// own, or openssl would match the host against its CN.
    pub(crate) fn fixture_host(
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
}
