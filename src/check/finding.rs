//! A finding of `pkiforge lint`: what a rule found in one file, who
//! refuses it, and the fix. Shared by lint's rules for certificates and
//! for revocation.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Most clients refuse the certificate.
    Error,
    /// Some clients refuse it, or it will stop working soon.
    Warning,
    /// Worth knowing, refused by none: a choice to make on purpose.
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// A stable name for the rule, such as `no-eku`.
    pub rule: &'static str,
    pub file: String,
    pub message: String,
    /// Who refuses or warns.
    pub clients: &'static str,
    pub fix: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} [{}]: {}\n    clients: {}\n    fix: {}",
            self.severity, self.file, self.rule, self.message, self.clients, self.fix
        )
    }
}
