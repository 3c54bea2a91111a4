//! bwv: an evidence pipeline for police body-worn video.
//!
//! Docked footage is ingested (native master kept byte-exact and content-addressed, decoded once
//! into per-frame SHA-256s, thumbnails and a browser-playable proxy) and every action is recorded
//! in an append-only custody index. The library holds no process-wide state: callers pass the
//! store, the clock, the thread pool and a progress sink.

// SHA-256 digests and hex.
pub mod digest;
// UTC time behind a Clock that tests can fix.
pub mod clock;
// Typed errors naming item, stage and reason.
pub mod error;
// The custody index: store trait, SQLite backend, event log, Merkle hashing.
pub mod custody;

pub use error::{Error, Result, Stage};
