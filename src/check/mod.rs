//! Checking a PKI: verify, lint, inspect, the handshakes, the report and
//! the JSON of what they found.

pub mod finding;
pub mod handshake;
pub mod inspect;
pub mod json;
pub mod lint;
pub mod report;
pub mod revocation;
pub mod status;
pub mod test_client;
pub mod test_server;
pub mod verdict;
pub mod verify;
