//! `pkiforge inspect DIR`: every certificate, parsed in Rust.

use std::path::Path;

use crate::error::{Error, Result};
use crate::{inspect, x509};

pub fn inspect(dir: &Path) -> Result<String> {
    let found = x509::certificates(dir).map_err(Error::BadInput)?;
    let text = inspect::render(&found.certs, super::now());
    super::unless_unreadable(text, found.unreadable)
}
