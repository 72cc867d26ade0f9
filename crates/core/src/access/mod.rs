//! Who may do what: projects, ingest keys (generated, stored as hashes, revoked) and the
//! authentication of a request into a [`auth::Principal`].

pub mod auth;
pub mod keys;
pub mod memory;
pub mod projects;
pub mod store;

#[cfg(test)]
mod tests;
