//! The part of bwv a court, a defence expert or an auditor needs to check its custody log
//! offline, with nothing of the pipeline: canonical event bytes, RFC 6962 Merkle hashing and
//! proofs, C2SP signed checkpoints, and the proof documents bwv exports. `bwv-verify-proof`
//! checks one document with the log's public key.

// SHA-256 digests and hex.
pub mod digest;
// RFC 6962 Merkle hashing.
pub mod merkle;
// Canonical custody events.
pub mod event;
// C2SP signed notes and checkpoints.
pub mod checkpoint;
// RFC 6962 / 9162 inclusion and consistency proofs.
pub mod proof;
// Proof documents and their offline check.
pub mod docs;
