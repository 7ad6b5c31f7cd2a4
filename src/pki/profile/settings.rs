//! An entity's settings besides its subject and SANs: its file name,
//! its key (`key`, or the tutorial's `bits`), `days` and `p12`.

use toml::de::DeValue;

use crate::pki::names::{Files, Role};
use crate::pki::pointers::{HttpUrl, KEYS, OCSP_SIGNER_KEY, Pointers};
use crate::pki::profile::model::{Curve, DEFAULT_BITS, KeySpec, MAX_BITS, MIN_BITS, MlDsa, P12};
use crate::pki::profile::validator::{Table, Validator, join, kind};

impl Validator<'_> {
    pub(crate) fn name(&mut self, table: &Table<'_>, prefix: &str, role: Role) -> Option<String> {
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
            let ca = Files::new(Role::Ca.table(), Role::Ca);
            self.problem(
                Some(value.span()),
                &path,
                format!(
                    "\"ca\" is the CA's name ({}, {}); choose another",
                    ca.key(),
                    ca.crt()
                ),
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

    pub(crate) fn key(&mut self, table: &Table<'_>, prefix: &str) -> Option<KeySpec> {
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
                    "must be a string such as \"rsa:4096\", \"ec:P-256\", \"ed25519\" or \"ml-dsa-65\", not {}",
                    kind(value.get_ref())
                ),
            );
            return None;
        };
        let spec = match s.as_ref() {
            "ec:P-256" => Some(KeySpec::Ec(Curve::P256)),
            "ec:P-384" => Some(KeySpec::Ec(Curve::P384)),
            "ed25519" => Some(KeySpec::Ed25519),
            other if MlDsa::ALL.iter().any(|m| m.profile_name() == other) => MlDsa::ALL
                .into_iter()
                .find(|m| m.profile_name() == other)
                .map(KeySpec::MlDsa),
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
                    format!("\"{s}\" is not a key type pkiforge makes; use \"rsa:BITS\" (e.g. \"rsa:4096\"), \"ec:P-256\", \"ec:P-384\", \"ed25519\" or \"ml-dsa-44\", \"ml-dsa-65\", \"ml-dsa-87\" (OpenSSL 3.5 or later)"),
                );
                None
            }
        }
    }

    /// A CA's `crl_url`, `ocsp_url` and `ca_issuers_url`.
    pub(crate) fn pointers(&mut self, table: &Table<'_>, prefix: &str) -> Option<Pointers> {
        let mut parsed: Vec<Option<HttpUrl>> = Vec::new();
        let mut ok = true;
        for key in KEYS {
            let Some(value) = table.get(key) else {
                parsed.push(None);
                continue;
            };
            let url = match value.get_ref() {
                DeValue::String(s) => HttpUrl::parse(s),
                other => Err(format!(
                    "must be a string, an http:// URL, not {}",
                    kind(other)
                )),
            };
            match url {
                Ok(u) => parsed.push(Some(u)),
                Err(why) => {
                    self.problem(Some(value.span()), &join(prefix, key), why);
                    ok = false;
                }
            }
        }
        let signer = self.ocsp_signer(table, prefix, table.get(KEYS[1]).is_some());
        let mut parsed = parsed.into_iter();
        let mut next = || parsed.next().flatten();
        (ok && signer.is_some()).then(|| Pointers {
            crl: next(),
            ocsp: next(),
            ca_issuers: next(),
            ocsp_signer: signer.unwrap_or_default(),
        })
    }

    /// A CA's `ocsp_signer`: a boolean, true only with an `ocsp_url`.
    fn ocsp_signer(&mut self, table: &Table<'_>, prefix: &str, has_ocsp: bool) -> Option<bool> {
        let Some(value) = table.get(OCSP_SIGNER_KEY) else {
            return Some(false);
        };
        let path = join(prefix, OCSP_SIGNER_KEY);
        match value.get_ref() {
            DeValue::Boolean(true) if !has_ocsp => {
                self.problem(
                    Some(value.span()),
                    &path,
                    format!("asks for a certificate that signs OCSP answers, and {prefix} has no ocsp_url for clients to ask; add ocsp_url = \"http://127.0.0.1:8080/ocsp\", or remove ocsp_signer"),
                );
                None
            }
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.problem(
                    Some(value.span()),
                    &path,
                    format!(
                        "must be true or false, not {}: true makes a certificate that signs this CA's OCSP answers",
                        kind(other)
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn days(&mut self, table: &Table<'_>, prefix: &str) -> Option<Option<u32>> {
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

    pub(crate) fn p12(&mut self, table: &Table<'_>, prefix: &str) -> Option<P12> {
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

    pub(crate) fn bits(&mut self, table: &Table<'_>, prefix: &str) -> Option<u32> {
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
}
