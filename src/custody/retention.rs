//! Retention: evidence flags and holds ("marks") that keep a recording, the policy that deletes
//! everything else a fixed number of days after it was recorded, and what a sweep reports (the
//! sweep itself, which removes files, is [`crate::ops::Ops::sweep`]).
//!
//! Deleting is two steps, intent first: one transaction marks the recording deleted and appends
//! its `deleted` tombstone event (master hash, artefact-set hash, frame-hash root, policy hash),
//! then the files are removed. A sweep interrupted between the two finishes the removal next time;
//! the index rows and every event stay, so `verify` reports the recording as deleted under policy.

use std::path::Path;

use jiff::{Timestamp, ToSpan as _};
use serde::{Deserialize, Serialize};

use super::{EventDraft, EventKind};
use crate::digest::Digest;
use crate::error::{Error, Result, Stage};

/// Default days after `recorded_at` before unmarked footage is deleted.
pub const DEFAULT_RETENTION_DAYS: u32 = 31;
/// Actor name of the sweep.
pub const SWEEP_ACTOR: &str = "bwv-retention";

/// The retention policy (`HOME/policy.json`; every field optional):
/// `{"retention_days": 31}`: footage with no active evidence flag and no active hold is deleted
/// `retention_days` days (of 24 hours) after its `recorded_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Days after recording before unmarked footage is deleted.
    pub retention_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            retention_days: DEFAULT_RETENTION_DAYS,
        }
    }
}

/// The longest retention a policy may set: 100 years. Longer is a typing error, not a policy
/// (and past this the expiry dates leave the calendar's range).
pub const MAX_RETENTION_DAYS: u32 = 36_525;

impl Policy {
    /// Loads the policy file at `path`, which must exist (a mistyped policy file must never
    /// fall back to the default and delete footage the intended policy keeps).
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(Error::io(path, Stage::Index, "read policy"))?;
        let policy: Self = serde_json::from_slice(&bytes).map_err(|e| {
            Error::Invalid(format!(
                "{}: not a valid retention policy: {e}",
                path.display()
            ))
        })?;
        policy.check().map_err(|why| {
            Error::Invalid(format!(
                "{}: not a valid retention policy: {why}",
                path.display()
            ))
        })?;
        Ok(policy)
    }

    /// The store's policy, shared by every machine on its index: the latest `policy_changed`
    /// event (whose hash must match the policy it names); for a store that never logged one,
    /// the policy file older stores kept at `legacy` (`HOME/policy.json`), else the default.
    pub fn of_store(store: &dyn super::Store, legacy: &Path) -> Result<Self> {
        let Some(e) = store.latest_event(EventKind::PolicyChanged)? else {
            return Self::load_or_default(legacy);
        };
        let days = match e.fields.get("retention_days") {
            Some(super::Field::Int(d)) => u32::try_from(*d).ok(),
            _ => None,
        };
        let policy = days.map(|retention_days| Self { retention_days });
        match (policy, e.fields.get("policy_sha256")) {
            (Some(p), Some(super::Field::Text(sha)))
                if *sha == p.digest().to_hex() && p.check().is_ok() =>
            {
                Ok(p)
            }
            _ => Err(Error::Integrity(format!(
                "the policy logged by event {} is not a usable policy matching its hash",
                e.seq
            ))),
        }
    }

    /// Loads the store's own policy file, or the defaults when the store has none.
    pub fn load_or_default(path: &Path) -> Result<Self> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Self::default())
        }
    }

    /// Why the policy cannot be applied, if it cannot.
    pub fn check(&self) -> std::result::Result<(), String> {
        match self.retention_days {
            0 => Err("retention_days is 0: every recording would be deleted at once".into()),
            d if d > MAX_RETENTION_DAYS => Err(format!(
                "retention_days {d} is more than {MAX_RETENTION_DAYS} (100 years)"
            )),
            _ => Ok(()),
        }
    }

    /// SHA-256 of the policy's canonical JSON, logged with every deletion.
    pub fn digest(&self) -> Digest {
        Digest::of(&serde_json::to_vec(self).expect("policy serialises"))
    }

    /// When a recording made at `recorded_at` expires.
    pub fn expires_at(&self, recorded_at: &str) -> Result<Timestamp> {
        let t: Timestamp = recorded_at
            .parse()
            .map_err(|e| Error::Integrity(format!("recorded_at {recorded_at:?}: {e}")))?;
        t.checked_add((i64::from(self.retention_days) * 24).hours())
            .map_err(|e| Error::Invalid(format!("expiry of {recorded_at}: {e}")))
    }
}

/// Why a recording is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// Flagged as evidence in a case.
    Evidence,
    /// Held for a subject access request.
    Sar,
    /// Held for a complaint.
    Complaint,
    /// Held for a misconduct investigation.
    Misconduct,
    /// Held for another policing purpose.
    Other,
}

impl MarkKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkKind::Evidence => "evidence",
            MarkKind::Sar => "sar",
            MarkKind::Complaint => "complaint",
            MarkKind::Misconduct => "misconduct",
            MarkKind::Other => "other",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            MarkKind::Evidence,
            MarkKind::Sar,
            MarkKind::Complaint,
            MarkKind::Misconduct,
            MarkKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// An evidence flag or hold on a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Store-assigned id.
    pub id: u64,
    /// The recording kept.
    pub recording: String,
    /// Flag or hold kind.
    pub kind: MarkKind,
    /// Case, SAR or complaint reference.
    pub reference: String,
    /// Why (free text; kept in the index, only its hash goes in the log).
    pub reason: String,
    /// Who placed it.
    pub placed_by: String,
    /// When (canonical UTC).
    pub placed_at: String,
    /// When it was released, if it was.
    pub released_at: Option<String>,
    /// Who released it.
    pub released_by: Option<String>,
    /// Why it was released.
    pub release_reason: Option<String>,
}

impl Mark {
    /// Whether it still keeps the recording.
    pub fn is_active(&self) -> bool {
        self.released_at.is_none()
    }

    /// The mark as a store placed it: with its id and time, active.
    pub fn placed(&self, id: u64, placed_at: &str) -> Self {
        Self {
            id,
            placed_at: placed_at.to_owned(),
            released_at: None,
            released_by: None,
            release_reason: None,
            ..self.clone()
        }
    }
}

/// How a recording was deleted (kept on the recording row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// When (canonical UTC).
    pub at: String,
    /// Why (e.g. "retention: 31 days after recording, no flag or hold").
    pub reason: String,
    /// SHA-256 of the policy applied.
    pub policy_sha256: Digest,
}

/// One recording the sweep deleted (or would delete).
#[derive(Debug, Clone, Serialize)]
pub struct Expired {
    /// Recording id.
    pub id: String,
    /// When it was recorded.
    pub recorded_at: String,
    /// When it expired.
    pub expired_at: String,
    /// Files removed (0 in a dry run).
    pub files_removed: usize,
}

/// What a sweep did.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// The policy applied.
    pub policy: Policy,
    /// Deleted (or, in a dry run, due).
    pub expired: Vec<Expired>,
    /// Recordings past expiry but kept by an active flag or hold.
    pub kept_by_marks: Vec<String>,
    /// Deleted earlier whose leftover files this sweep removed.
    pub finished: Vec<String>,
    /// Deleted, but with files the object store's S3 Object Lock still keeps (a bucket
    /// retention longer than this policy's): hidden, and removed by a sweep once it ends.
    pub locked: Vec<LockedFiles>,
}

impl SweepReport {
    /// Notes that a lock keeps some of the deleted recording `id`'s files, if one does.
    pub(crate) fn note_locked(&mut self, id: &str, locked: Option<String>) {
        if let Some(reason) = locked {
            self.locked.push(LockedFiles {
                id: id.to_owned(),
                reason,
            });
        }
    }
}

/// A deleted recording's files an object store's lock still keeps.
#[derive(Debug, Clone, Serialize)]
pub struct LockedFiles {
    /// Recording id.
    pub id: String,
    /// Which file, and until when.
    pub reason: String,
}

/// The event for a new mark; the store adds `mark_id`.
pub fn mark_event(
    kind: MarkKind,
    recording: &str,
    reference: &str,
    reason: &str,
    actor: &str,
) -> EventDraft {
    let event = if kind == MarkKind::Evidence {
        EventKind::Flagged
    } else {
        EventKind::HoldPlaced
    };
    EventDraft::new(event, Some(recording), actor)
        .with("kind", kind.as_str())
        .with("reference_sha256", Digest::of(reference.as_bytes()))
        .with("reason_sha256", Digest::of(reason.as_bytes()))
}

/// The event releasing `marks` (all on one recording, all of one flag-or-hold family).
pub fn release_event(marks: &[Mark], reason: &str, actor: &str) -> Option<EventDraft> {
    let first = marks.first()?;
    let event = if first.kind == MarkKind::Evidence {
        EventKind::Unflagged
    } else {
        EventKind::HoldReleased
    };
    let ids = marks
        .iter()
        .map(|m| m.id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    Some(
        EventDraft::new(event, Some(&first.recording), actor)
            .with("mark_ids", ids)
            .with("reason_sha256", Digest::of(reason.as_bytes())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_file_must_exist_when_named_and_hold_a_usable_retention() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("policy.json");
        // The store's own file may be absent: the default applies. A named one may not.
        assert_eq!(
            Policy::load_or_default(&path).expect("default"),
            Policy::default()
        );
        let err = Policy::load(&path).expect_err("missing").to_string();
        assert!(err.contains("policy.json"), "{err}");
        let with = |text: &str| {
            std::fs::write(&path, text).expect("write");
            (Policy::load(&path), Policy::load_or_default(&path))
        };
        for (text, days) in [
            (r#"{"retention_days": 1}"#, 1),
            ("{}", 31),
            (r#"{"retention_days": 36525}"#, 36_525),
        ] {
            let (named, home) = with(text);
            assert_eq!(named.expect(text).retention_days, days);
            assert_eq!(home.expect(text).retention_days, days);
        }
        for text in [
            r#"{"retention_days": 0}"#,
            r#"{"retention_days": 36526}"#,
            r#"{"retention_days": 3000000}"#,
            r#"{"retention_days": 4294967295}"#,
            r#"{"retention_days": -1}"#,
            r#"{"retention_dayz": 40}"#,
        ] {
            let (named, home) = with(text);
            let err = named.expect_err(text).to_string();
            assert!(err.contains("not a valid retention policy"), "{err}");
            assert!(home.is_err(), "{text}");
        }
    }
}
