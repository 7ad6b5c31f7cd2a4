//! The prompts `openssl req` will ask, read from the config the binary
//! uses, and what the binary knows of object names: the asking half of
//! plan/prompts.rs, which turns the layout into answers without a process.

use crate::error::{Error, Result};
use crate::pki::config::Config;
use crate::plan::prompts::{PromptLayout, added_objects, parse_object_list};
use crate::run::openssl::Openssl;

/// Reads the prompt layout from the config that `openssl` will use,
/// asking the binary about object names outside pkiforge's own list.
///
/// Relative `.include` paths resolve from the caller's directory, as
/// openssl run here would resolve them; openssl runs in a staging
/// directory, so it is told where through `OPENSSL_CONF_INCLUDE`.
pub fn read_layout(openssl: &mut Openssl) -> Result<PromptLayout> {
    let path = openssl.config_path();
    // OPENSSL_CONF was read already, before the first probe.
    let config = match openssl.config.take() {
        Some(config) => config,
        None => Config::load(&path).map_err(|message| Error::Config {
            path: path.clone(),
            message: format!(
                "{message}\n  openssl req needs its config to ask for the subject; set OPENSSL_CONF to a readable {}.",
                crate::pki::names::OPENSSL_CNF
            ),
        })?,
    };
    if config.relative_includes {
        // OpenSSL 3 resolves relative includes from OPENSSL_CONF_INCLUDE
        // (before relative paths only); 1.1.1 knows no such variable,
        // and would look in the staging directory.
        if openssl.major_minor().is_some_and(|v| v < (3, 0)) {
            return Err(Error::Config {
                path,
                message: "has a relative .include path, which this OpenSSL resolves from the directory it runs in, and pkiforge runs it in a staging directory; make the path absolute".into(),
            });
        }
        openssl.resolve_includes_from_here()?;
    }
    // Asked at most once, and only for a name outside the built-in list.
    let known: std::cell::RefCell<Option<KnownObjects>> = Default::default();
    let openssl = &*openssl;
    PromptLayout::from_config(&path, &config, |name| {
        known
            .borrow_mut()
            .get_or_insert_with(|| KnownObjects::ask(openssl, &config))
            .knows(openssl, name)
    })
}

/// The object names an openssl knows (those OBJ_txt2nid finds): short
/// and long names and dotted OIDs of its table, with the objects the
/// config adds.
#[derive(Debug, Default)]
pub struct KnownObjects {
    /// From one `openssl list -objects` (OpenSSL 3.0 and later), which also
    /// lists what the config's `openssl_conf` modules add.
    table: Option<std::collections::HashSet<String>>,
    /// Added by the config's `oid_section`, as `req` adds them.
    added: std::collections::HashSet<String>,
    /// Answers of `asn1parse`, one per name, where there is no table.
    asked: std::collections::HashMap<String, bool>,
}

impl KnownObjects {
    /// One `openssl list -objects`, where the openssl has it; else an empty
    /// table, and each name is asked on its own (`knows`).
    pub fn ask(openssl: &Openssl, config: &Config) -> KnownObjects {
        let listing = openssl
            .major_minor()
            .is_some_and(|v| v >= (3, 0))
            .then(|| openssl.ask(&["list", "-objects"]).ok())
            .flatten()
            .filter(|done| done.status.success())
            .map(|done| String::from_utf8_lossy(&done.stdout).into_owned());
        KnownObjects {
            table: listing.as_deref().map(parse_object_list),
            added: added_objects(config),
            asked: Default::default(),
        }
    }

    pub fn knows(&mut self, openssl: &Openssl, name: &str) -> bool {
        if self.added.contains(name) {
            return true;
        }
        if let Some(table) = &self.table {
            return table.contains(name);
        }
        *self
            .asked
            .entry(name.to_string())
            .or_insert_with(|| knows_object(openssl, name))
    }
}

/// Asks openssl whether it knows an object name (as OBJ_txt2obj resolves
/// it), for an openssl without `list -objects`.
fn knows_object(openssl: &Openssl, name: &str) -> bool {
    // A numeric OID resolves even when openssl has no name for it; only
    // names are worth asking about.
    if name.is_empty() || name.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return false;
    }
    openssl
        .ask(&["asn1parse", "-genstr", &format!("OID:{name}")])
        .is_ok_and(|done| done.status.success())
}
