//! What a user should know before a run: how long each certificate will
//! be valid for, a leaf that would outlive its CA, and a config that makes
//! a CA strict verifiers refuse.

use std::collections::BTreeSet;

use crate::pki::profile::days::{STRICT_CA as STRICT_CA_DAYS, STRICT_LEAF as STRICT_LEAF_DAYS};
use crate::pki::profile::{Entity, Extensions, Profile, Role};
use crate::plan::prompts::PromptLayout;

/// How many days an entity's certificate will be valid for.
pub fn validity_days(e: &Entity, extensions: Extensions) -> u32 {
    let strict = match e.role {
        Role::Ca | Role::Intermediate => STRICT_CA_DAYS as u32,
        _ => STRICT_LEAF_DAYS as u32,
    };
    e.days.unwrap_or(if extensions == Extensions::Strict {
        strict
    } else {
        crate::pki::profile::days::OPENSSL_DEFAULT as u32
    })
}

/// A warning for each leaf among `issued` that would outlive its CA: clients
/// refuse it once the CA expires. `ca_not_after` is the reused CA's end
/// (for `--add`), `None` for a CA made in the same run; `now` is seconds
/// since the epoch.
pub fn outlives_ca(
    profile: &Profile,
    issued: &[&str],
    ca_not_after: Option<i64>,
    now: i64,
) -> Vec<String> {
    let issued: BTreeSet<&str> = issued.iter().copied().collect();
    let ends = |e: &Entity| now + i64::from(validity_days(e, profile.extensions)) * 86_400;
    let ca_end = ca_not_after.unwrap_or_else(|| ends(&profile.ca));
    let ca_days_left = (ca_end - now).div_euclid(86_400);
    profile
        .leaves()
        // By more than a day, as lint's outlives-ca: a leaf made a moment after
        // its CA, for as many days, ends a moment later.
        .filter(|leaf| issued.contains(leaf.name.as_str()) && ends(leaf) > ca_end + 86_400)
        .map(|leaf| {
            format!(
                "warning: {} will be valid for {} days, but its CA {} for {ca_days_left} more: every client refuses it once the CA expires. Give [ca] a longer days, or this entity a shorter one",
                leaf.files().crt(),
                validity_days(leaf, profile.extensions),
                profile.ca.files().crt()
            )
        })
        .collect()
}

/// What a user should know before a run about what this profile and the
/// active config will make.
pub fn warnings(profile: &Profile, layout: &PromptLayout) -> Vec<String> {
    let mut out = Vec::new();
    let basic = layout
        .x509_extensions
        .iter()
        .any(|(k, _)| k == "basicConstraints");
    if profile.extensions == Extensions::Tutorial && !basic {
        out.push(format!(
            "warning: the openssl config {} gives `req -x509` no basicConstraints, so the CA certificate will not say CA:TRUE; OpenSSL 4, rustls and other strict verifiers refuse such a CA. Set extensions = \"strict\" in the profile, or use a config whose x509_extensions section sets basicConstraints = critical,CA:true",
            layout.config.display()
        ));
    }
    out
}
