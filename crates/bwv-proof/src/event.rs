//! Custody events and their canonical serialisation.
//!
//! An event's canonical bytes are compact JSON (no whitespace) with the keys in this fixed order:
//! `v` (format version, 1), `seq` (0-based, contiguous), `at` (UTC, `YYYY-MM-DDTHH:MM:SS.mmmZ`),
//! `kind`, `recording` (id or null), `actor`, `fields` (an object with keys in byte order whose
//! values are strings or integers, never floats). Strings use serde_json's escaping. The same event
//! therefore always has the same bytes, and its RFC 6962 leaf hash is
//! SHA-256(0x00 || canonical bytes). Events carry ids and hashes, never personal data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::merkle;

/// Canonical format version written in every event.
pub const EVENT_FORMAT_VERSION: u32 = 1;

/// What happened. The snake_case name is what is serialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A master's bytes were stored and a recording created.
    Ingested,
    /// Derived outputs (frame hashes, thumbnails, proxy) were produced.
    Processed,
    /// The master was kept but could not be processed.
    Quarantined,
    /// A dock file's bytes equal an already stored master.
    Duplicate,
    /// A dock file could not be read at all, so nothing could be preserved.
    Unreadable,
    /// The dock copy was removed after the master was verified (`--delete-source`).
    SourceRemoved,
    /// `bwv verify` checked recordings and the log; fields give the scope and the outcome.
    Verified,
    /// Flagged as evidence in a case.
    Flagged,
    /// An evidence flag was removed.
    Unflagged,
    /// A hold (SAR, complaint, misconduct, other) was placed.
    HoldPlaced,
    /// A hold was released.
    HoldReleased,
    /// The recording's files were deleted (tombstone: hashes, reason, policy).
    Deleted,
    /// A subject access request was opened.
    SarOpened,
    /// A file was disclosed under a subject access request.
    Disclosed,
    /// A subject access request was closed.
    SarClosed,
    /// Someone looked at or exported a recording (`action`: show, export).
    Accessed,
    /// Faces were detected and tracked into a redaction plan.
    RedactionPlanned,
    /// A redacted copy was rendered from a plan.
    RedactionRendered,
    /// A redacted copy was superseded (a mistake found, a better render made): it is no longer
    /// exported or disclosed.
    RedactionSuperseded,
    /// Someone logged in to the service (the actor is the account).
    LoggedIn,
    /// A login was refused (`reason`: unknown_account, wrong_password, disabled, locked).
    LoginRefused,
    /// An account was made or changed (`change`: added, password, disabled, enabled,
    /// token_added, token_revoked).
    AccountChanged,
    /// The retention policy was set (`retention_days`, `policy_sha256`).
    PolicyChanged,
}

impl EventKind {
    /// The serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Ingested => "ingested",
            EventKind::Processed => "processed",
            EventKind::Quarantined => "quarantined",
            EventKind::Duplicate => "duplicate",
            EventKind::Unreadable => "unreadable",
            EventKind::SourceRemoved => "source_removed",
            EventKind::Verified => "verified",
            EventKind::Flagged => "flagged",
            EventKind::Unflagged => "unflagged",
            EventKind::HoldPlaced => "hold_placed",
            EventKind::HoldReleased => "hold_released",
            EventKind::Deleted => "deleted",
            EventKind::SarOpened => "sar_opened",
            EventKind::Disclosed => "disclosed",
            EventKind::SarClosed => "sar_closed",
            EventKind::Accessed => "accessed",
            EventKind::RedactionPlanned => "redaction_planned",
            EventKind::RedactionRendered => "redaction_rendered",
            EventKind::RedactionSuperseded => "redaction_superseded",
            EventKind::LoggedIn => "logged_in",
            EventKind::LoginRefused => "login_refused",
            EventKind::AccountChanged => "account_changed",
            EventKind::PolicyChanged => "policy_changed",
        }
    }
}

/// A field value: text or an integer (floats are not allowed in canonical events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Field {
    /// An integer.
    Int(i64),
    /// Text (hashes are lowercase hex text).
    Text(String),
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::Text(s.to_owned())
    }
}
impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::Text(s)
    }
}
impl From<Digest> for Field {
    fn from(d: Digest) -> Self {
        Field::Text(d.to_hex())
    }
}
impl From<u64> for Field {
    fn from(n: u64) -> Self {
        // Sizes and counts beyond i64 cannot occur; saturate rather than wrap.
        Field::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// An event before the store gives it a sequence number and a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    /// What happened.
    pub kind: EventKind,
    /// The recording concerned, if any.
    pub recording: Option<String>,
    /// Who or what did it (a tool name or an account id).
    pub actor: String,
    /// Ids, hashes and counts that describe it.
    pub fields: BTreeMap<String, Field>,
}

impl EventDraft {
    /// A new draft with no fields.
    pub fn new(kind: EventKind, recording: Option<&str>, actor: &str) -> Self {
        Self {
            kind,
            recording: recording.map(str::to_owned),
            actor: actor.to_owned(),
            fields: BTreeMap::new(),
        }
    }

    /// Adds a field (builder style).
    pub fn with(mut self, key: &str, value: impl Into<Field>) -> Self {
        self.fields.insert(key.to_owned(), value.into());
        self
    }
}

/// A committed event: a leaf of the custody log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Format version.
    pub v: u32,
    /// 0-based position in the log (the Merkle leaf index).
    pub seq: u64,
    /// When, in canonical UTC text.
    pub at: String,
    /// What happened.
    pub kind: EventKind,
    /// The recording concerned, if any.
    pub recording: Option<String>,
    /// Who or what did it.
    pub actor: String,
    /// Ids, hashes and counts.
    pub fields: BTreeMap<String, Field>,
}

impl Event {
    /// Completes a draft with its sequence number and time.
    pub fn from_draft(draft: EventDraft, seq: u64, at: String) -> Self {
        Self {
            v: EVENT_FORMAT_VERSION,
            seq,
            at,
            kind: draft.kind,
            recording: draft.recording,
            actor: draft.actor,
            fields: draft.fields,
        }
    }

    /// The canonical bytes (see the module documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Struct fields serialise in declaration order and BTreeMap keys in byte order, with no
        // floats anywhere, so serde_json's compact output is canonical.
        serde_json::to_vec(self).expect("events contain only strings, integers and maps")
    }

    /// RFC 6962 leaf hash of the canonical bytes.
    pub fn leaf_hash(&self) -> Digest {
        merkle::leaf_hash(&self.canonical_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_bytes_are_stable() {
        let d = EventDraft::new(EventKind::Ingested, Some("r1"), "bwv-ingest")
            .with("size", 42u64)
            .with("master_sha256", Digest::of(b"x"))
            .with("a\"quote", "line\nbreak");
        let e = Event::from_draft(d, 7, "2026-11-21T10:00:00.000Z".into());
        let text = String::from_utf8(e.canonical_bytes()).expect("utf8");
        assert_eq!(
            text,
            concat!(
                r#"{"v":1,"seq":7,"at":"2026-11-21T10:00:00.000Z","kind":"ingested","recording":"r1","#,
                r#""actor":"bwv-ingest","fields":{"a\"quote":"line\nbreak","#,
                r#""master_sha256":"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881","size":42}}"#
            )
        );
        let back: Event = serde_json::from_slice(&e.canonical_bytes()).expect("parses");
        assert_eq!(back, e);
        assert_eq!(back.leaf_hash(), e.leaf_hash());
    }

    /// Golden vectors made without bwv (`tests/vectors/canonical_events.py`): non-ASCII text,
    /// control characters, U+2028/U+2029, a bidi override, integer extremes, key order. Each
    /// parses, serialises back to exactly its bytes, and has its leaf hash, so a serde_json
    /// upgrade that changed the canonical form could not make stored events look rewritten.
    #[test]
    fn canonical_bytes_match_the_golden_vectors() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/vectors/canonical_events.json"))
                .expect("vector file");
        let vectors = doc["vectors"].as_array().expect("vectors");
        assert_eq!(vectors.len(), 6);
        for v in vectors {
            let name = v["name"].as_str().expect("name");
            let hex = v["canonical_hex"].as_str().expect("hex");
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex byte"))
                .collect();
            let event: Event = serde_json::from_slice(&bytes).expect(name);
            assert_eq!(event.canonical_bytes(), bytes, "{name}");
            assert_eq!(
                event.leaf_hash().to_hex(),
                v["leaf_hash"].as_str().expect("leaf hash"),
                "{name}"
            );
        }
    }
}
