//! The model: the profile and its parts, the names of a PKI's files, and
//! reading a PKI directory and its certificates back. It uses nothing of
//! the layers above it (plan, run, check, commands).

pub mod config;
pub mod constraints;
pub mod crl;
pub mod database;
pub mod error;
pub mod fixture;
pub mod keys;
pub mod names;
pub mod pointers;
pub mod profile;
pub mod read;
pub mod san;
pub mod verdict;
pub mod x509;
