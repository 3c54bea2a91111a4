//! bwv: an evidence pipeline for police body-worn video.
//!
//! Docked footage is ingested (native master kept byte-exact and content-addressed, decoded once
//! into per-frame SHA-256s, thumbnails and a browser-playable proxy) and every action is recorded
//! in an append-only custody index. The library holds no process-wide state: callers pass the
//! store, the clock, the thread pool and a progress sink.

// SHA-256 digests and hex, and RFC 6962 Merkle hashing (the custody log and each recording's
// frame hashes): from bwv-proof, the offline-checkable core.
pub use bwv_proof::{digest, merkle};
// UTC time behind a Clock that tests can fix.
pub mod clock;
// Typed errors naming item, stage and reason.
pub mod error;
// fsync of folders, so renames and creations are durable.
pub mod durable;
// Validated configuration.
pub mod config;
// The custody index: store trait, SQLite backend, event log, Merkle hashing.
pub mod custody;
// GStreamer: probe, decode-once pipeline, tight frame hashing.
pub mod media;
// Consumers of the one decode: frame hashes, thumbnails, proxy transcode.
pub mod stages;
// The store's folder layout, locks and scratch folders.
pub mod home;
// Masters and derived files behind one trait (a local folder, or an S3-compatible bucket).
pub mod blobs;
// Progress reported as data.
pub mod progress;
// Parallel items on a caller-supplied pool.
pub mod batch;
// Dock scan, master store, sidecar metadata, per-item ingest flow.
pub mod ingest;
// Re-hash files, cross-check the index with the log, audit checkpoints, re-decode (deep).
pub mod verify;
// Workflows on the custody record for the CLI, the service and workers.
pub mod ops;
// The durable job queue and the workers that drain it.
pub mod jobs;
// Disclosure bundles: files, manifest, per-event proofs, key, README.
pub mod export;
// Face redaction: detector model and engines, detection, tracking, masks, plan and render.
pub mod redact;
// Accounts, roles, password and token checks for the service.
pub mod accounts;
// The HTTP service: JSON API and review pages over the same operations.
#[cfg(feature = "serve")]
pub mod serve;

pub use error::{Error, ErrorKind, Result, Stage};

#[cfg(test)]
mod testutil;
