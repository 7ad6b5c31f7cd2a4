//! `pkiforge export`: one entity of a PKI, made ready for the program that
//! uses it (a JVM, Kubernetes, nginx, HAProxy). The plan is data, like the
//! others: copies (`cat`), openssl and keytool commands, config text, and
//! the Kubernetes YAML that pkiforge renders itself (it holds the key, so
//! its text is never shown).
//!
//! One file per format (`java`, `k8s`, `nginx`, `haproxy`; `handoff` for a
//! CA handed to a CA service: cfssl, cert-manager, vault, step), each using only
//! what every format shares (`shared`: the entity, the options, the step
//! builders) and `error`; this file dispatches to them, and none of them
//! uses it.

mod error;
mod handoff;
mod haproxy;
mod java;
mod k8s;
mod nginx;
mod shared;

pub use error::ExportError;
pub use haproxy::haproxy_quote;
pub use k8s::{k8s_name, render};
pub use nginx::nginx_quote;
pub use shared::{Format, Options, Source};

use crate::plan::Plan;
pub use handoff::CLUSTER_NAMESPACE;
use handoff::handoff_steps;
use haproxy::haproxy_steps;
use java::{java_steps, keystore_check};
use k8s::k8s_steps;
use nginx::nginx_steps;
use shared::config_path;

/// The export's steps, and the checks of what it wrote.
pub fn plan(src: &Source, opts: &Options) -> Result<Plan, ExportError> {
    // The configs name OUTDIR, and a hand-off's commands do, for a shell
    // to run: no control characters in it.
    if opts.format != Format::K8s {
        config_path(&opts.out)?;
    }
    let steps = match opts.format {
        Format::Java => java_steps(src, opts)?,
        Format::K8s => k8s_steps(src, opts),
        Format::Nginx => nginx_steps(src, opts)?,
        Format::Haproxy => haproxy_steps(src, opts)?,
        _ => handoff_steps(src, opts),
    };
    let checks = match opts.format {
        Format::Java => vec![keystore_check(src)],
        f if f.hands_off() => vec![handoff::key_check(src)],
        _ => Vec::new(),
    };
    Ok(Plan {
        steps,
        checks,
        removes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn names_kubernetes_takes() {
        assert_eq!(k8s_name("Web_Server.1"), "web-server-1");
        assert_eq!(k8s_name("-x-"), "x");
        assert_eq!(k8s_name(&"a".repeat(70)).len(), 63);
    }

    #[test]
    fn paths_are_quoted_for_nginx_and_haproxy() {
        let dir = r#"/x/a; include /e.conf; # "q" \ $HOME {'"#;
        assert_eq!(
            nginx_quote(dir),
            r#""/x/a; include /e.conf; # \"q\" \\ $HOME {'""#
        );
        assert_eq!(
            haproxy_quote(dir),
            r#"'/x/a; include /e.conf; # "q" \ $HOME {'\'''"#
        );
    }

    #[test]
    fn an_out_path_with_a_control_character_is_refused() {
        assert_eq!(
            config_path(Path::new("/x/a\nb")).unwrap_err().to_string(),
            r#"--out "/x/a\nb": holds the control character '\n', which the nginx, HAProxy and Java configs (and the commands a hand-off prints) cannot quote; choose an --out directory without one"#
        );
    }
}
