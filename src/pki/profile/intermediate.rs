//! `[intermediate]`: the CA between the root and the leaves, the names it
//! may sign for, and the leaves' names checked against them.

use toml::de::DeValue;

use crate::pki::constraints::Constraint;
use crate::pki::fixture::Kind;
use crate::pki::names::Role;
use crate::pki::profile::model::{Entity, Field, Intermediate, P12};
use crate::pki::profile::validator::{Table, Validator, join, kind};
use crate::pki::san::SanKind;

impl Validator<'_> {
    /// `[intermediate]`, if there is one.
    pub(crate) fn intermediate(&mut self, doc: &Table<'_>) -> Option<Option<Intermediate>> {
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
    pub(crate) fn constraints(&mut self, table: &Table<'_>, key: &str) -> Option<Vec<Constraint>> {
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
    pub(crate) fn within_constraints(
        &mut self,
        inter: &Intermediate,
        leaf: &Entity,
        doc: &Table<'_>,
    ) {
        let cn = leaf
            .subject_value(Field::CN)
            .filter(|_| !leaf.san.iter().any(|s| s.kind == SanKind::Dns))
            .and_then(|v| crate::pki::constraints::cn_as_host(&v.value));
        let outside = leaf
            .fixture
            .as_ref()
            .is_some_and(|f| f.kind == Kind::OutsideConstraints);
        let violations = leaf.san.iter().filter(|name| {
            crate::pki::constraints::violation(name, &inter.permitted, &inter.excluded).is_some()
        });
        if outside && violations.count() == 0 {
            self.problem(
                self.span_of(doc, &leaf.path, "san"),
                &join(&leaf.path, "san"),
                "an outside-constraints fixture needs a name the intermediate's constraints do not permit, beside the names its clients dial, e.g. \"DNS:outside.invalid\"",
            );
        }
        for (i, name) in leaf.san.iter().enumerate().filter(|_| !outside) {
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
        if let Some(name) = cn.filter(|_| !outside)
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
                &join(&leaf.path, "p12"),
                "PKCS#12 bundles with an [intermediate] are not made yet (the bundle would lack the intermediate); leave p12 out",
            );
        }
    }
}
