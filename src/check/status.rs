//! The state of a certificate at a moment: what `status` and `report` say.

use crate::pki::x509::CertInfo;

/// `--within`'s default: a certificate that ends within 30 days is expiring.
pub const DEFAULT_WITHIN: i64 = 30;

/// What state a certificate is in at `now`: revoked (its serial is in
/// `revoked`), expired, not-yet-valid, expiring (within `within` days), or
/// valid. `status` and `report` say the same.
pub fn state_of(c: &CertInfo, revoked: &[String], within: i64, now: i64) -> &'static str {
    if revoked.contains(&c.serial.replace(':', "")) {
        "revoked"
    } else if c.not_after <= now {
        "expired"
    } else if c.not_before > now {
        "not-yet-valid"
    } else if c.days_left(now) <= within {
        "expiring"
    } else {
        "valid"
    }
}
