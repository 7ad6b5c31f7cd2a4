//! The state of a certificate at a moment: what `status` and `report` say,
//! and when `lint` and `run --add` call one expiring.

use crate::pki::x509::CertInfo;

/// How a certificate or CRL is judged expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Less than a third of its lifetime left, as step's needs-renewal
    /// judges: the default. A fresh 30-day certificate is valid, and
    /// expiring from its 21st day.
    Lifetime,
    /// At most this many days left (`status --within DAYS`).
    Days(i64),
}

impl Window {
    /// Whether something valid from `from` until `until` (Unix times) is
    /// expiring at `now`.
    pub fn expiring(self, from: i64, until: i64, now: i64) -> bool {
        match self {
            Window::Lifetime => (until - now) * 3 < until - from,
            Window::Days(days) => (until - now).div_euclid(86_400) <= days,
        }
    }

    /// The rule in words, as `status --json` gives it (`expiring_rule`).
    pub fn rule(self) -> String {
        match self {
            Window::Lifetime => "less than a third of its lifetime left".into(),
            Window::Days(days) => format!("at most {days} days left"),
        }
    }
}

/// What state a certificate is in at `now`: revoked (its serial is in
/// `revoked`), expired, not-yet-valid, expiring (by `window`), or valid.
/// `status` and `report` say the same.
pub fn state_of(c: &CertInfo, revoked: &[String], window: Window, now: i64) -> &'static str {
    if revoked.contains(&c.serial.replace(':', "")) {
        "revoked"
    } else if c.not_after <= now {
        "expired"
    } else if c.not_before > now {
        "not-yet-valid"
    } else if window.expiring(c.not_before, c.not_after, now) {
        "expiring"
    } else {
        "valid"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_certificate_is_valid_whatever_its_lifetime() {
        let day = 86_400;
        // The tutorial's 30 days: valid for 20 days, then expiring.
        assert!(!Window::Lifetime.expiring(0, 30 * day, 0));
        assert!(!Window::Lifetime.expiring(0, 30 * day, 20 * day));
        assert!(Window::Lifetime.expiring(0, 30 * day, 20 * day + 1));
        // A ten-year CA: expiring in its last 1,217 days.
        assert!(!Window::Lifetime.expiring(0, 3650 * day, 2433 * day));
        assert!(Window::Lifetime.expiring(0, 3650 * day, 2434 * day));
        // --within 30 keeps the absolute window.
        assert!(Window::Days(30).expiring(0, 30 * day, 0));
        assert!(!Window::Days(29).expiring(0, 30 * day, 0));
        assert_eq!(Window::Days(60).rule(), "at most 60 days left");
    }
}
