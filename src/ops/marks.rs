//! Evidence flags, holds and the retention sweep.

use std::path::Path;

use jiff::Timestamp;
use serde::Serialize;

use super::Ops;
use crate::custody::retention::{
    self, Deletion, Expired, Mark, MarkKind, Policy, SWEEP_ACTOR, SweepReport,
};
use crate::custody::{Event, EventDraft, EventKind, Recording, Store, artefact_set_digest};
use crate::durable::sync_dir;
use crate::error::{Error, ErrorKind, Result, Stage};
use crate::home::Home;

/// Which active marks a release lifts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// Evidence flags: for one case, or every case.
    Flags {
        /// The case, or all.
        case: Option<String>,
    },
    /// Holds of one kind and reference.
    Hold {
        /// The hold's kind (not evidence).
        kind: MarkKind,
        /// Its reference.
        reference: String,
    },
}

impl Which {
    fn selects(&self, m: &Mark) -> bool {
        match self {
            Which::Flags { case } => {
                m.kind == MarkKind::Evidence && case.as_ref().is_none_or(|c| *c == m.reference)
            }
            Which::Hold { kind, reference } => m.kind == *kind && m.reference == *reference,
        }
    }
}

/// What a release did.
#[derive(Debug, Clone, Serialize)]
pub struct Released {
    /// The recording.
    pub recording: String,
    /// The marks released (as they were before).
    pub marks: Vec<Mark>,
    /// The release event.
    pub event: Event,
}

impl Ops<'_> {
    /// Flags a recording as evidence in `case`: retention never deletes it while flagged.
    pub fn flag(&self, reference: &str, case: &str, reason: &str) -> Result<(Mark, Event)> {
        self.place(reference, MarkKind::Evidence, case, reason)
    }

    /// Holds a recording for a SAR, complaint, misconduct case or another purpose.
    pub fn hold(
        &self,
        reference: &str,
        kind: MarkKind,
        hold_ref: &str,
        reason: &str,
    ) -> Result<(Mark, Event)> {
        if kind == MarkKind::Evidence {
            return Err(Error::Invalid(
                "evidence is a flag, not a hold: flag the recording with its case".into(),
            ));
        }
        self.place(reference, kind, hold_ref, reason)
    }

    /// Places a mark. The store refuses it inside its transaction if the recording was deleted
    /// or the same mark is active (whatever this process saw before).
    pub(super) fn place(
        &self,
        reference: &str,
        kind: MarkKind,
        mark_ref: &str,
        reason: &str,
    ) -> Result<(Mark, Event)> {
        let rec = self.store.resolve(reference)?;
        let mark = Mark {
            id: 0,
            recording: rec.id.clone(),
            kind,
            reference: mark_ref.to_owned(),
            reason: reason.to_owned(),
            placed_by: self.actor.to_owned(),
            placed_at: String::new(),
            released_at: None,
            released_by: None,
            release_reason: None,
        };
        let event = retention::mark_event(kind, &rec.id, mark_ref, reason, self.actor);
        let placed = self.store.add_mark(&mark, event)?;
        self.seal()?;
        Ok(placed)
    }

    /// Releases the active marks on a recording that `which` selects; at least one must match.
    pub fn release(&self, reference: &str, which: &Which, reason: &str) -> Result<Released> {
        let rec = self.store.resolve(reference)?;
        let marks: Vec<Mark> = self
            .store
            .marks(Some(&rec.id))?
            .into_iter()
            .filter(|m| m.is_active() && which.selects(m))
            .collect();
        let Some(event) = retention::release_event(&marks, reason, self.actor) else {
            return Err(Error::Conflict(format!(
                "recording {} has no matching active flag or hold",
                rec.id
            )));
        };
        let ids: Vec<u64> = marks.iter().map(|m| m.id).collect();
        let event = self.store.release_marks(&ids, self.actor, reason, event)?;
        self.seal()?;
        Ok(Released {
            recording: rec.id,
            marks,
            event,
        })
    }

    /// The store's retention policy (see [`Policy::of_store`]): what every machine on the
    /// index applies.
    pub fn policy(&self) -> Result<Policy> {
        Policy::of_store(self.store, &self.home.policy())
    }

    /// Sets the store's retention policy: logs it as a `policy_changed` event (its days and
    /// hash), sealed, which every machine on the index then applies. A policy that cannot be
    /// applied is refused.
    pub fn set_policy(&self, policy: &Policy) -> Result<Event> {
        policy
            .check()
            .map_err(|why| Error::Invalid(format!("not a valid retention policy: {why}")))?;
        let event = self.store.append(
            EventDraft::new(EventKind::PolicyChanged, None, self.actor)
                .with("retention_days", u64::from(policy.retention_days))
                .with("policy_sha256", policy.digest()),
        )?;
        self.seal()?;
        Ok(event)
    }

    /// Deletes the recordings past the retention period with no active flag or hold (or, with
    /// `dry_run`, lists them), under the policy file named, else the store's own, else the
    /// default. Holds the store's writer lock while it runs. A flag or hold placed while it
    /// runs keeps its recording: the store decides each deletion inside its transaction.
    pub fn sweep(
        &self,
        policy: Option<&Path>,
        now: Timestamp,
        dry_run: bool,
    ) -> Result<SweepReport> {
        let _lock = self.home.lock()?;
        let policy = match policy {
            Some(path) => Policy::load(path)?,
            None => self.policy()?,
        };
        let report = sweep(self.home, self.store, &policy, now, dry_run)?;
        if !dry_run && !report.expired.is_empty() {
            self.seal()?;
        }
        Ok(report)
    }
}

/// Deletes every recording past its retention period that has no active mark (or, with
/// `dry_run`, only lists them). Call while holding the store's writer lock.
fn sweep(
    home: &Home,
    store: &dyn Store,
    policy: &Policy,
    now: Timestamp,
    dry_run: bool,
) -> Result<SweepReport> {
    let marks = store.marks(None)?;
    let mut report = SweepReport {
        dry_run,
        policy: policy.clone(),
        expired: Vec::new(),
        kept_by_marks: Vec::new(),
        finished: Vec::new(),
        locked: Vec::new(),
    };
    for rec in store.recordings()? {
        if rec.deletion.is_some() {
            if !dry_run {
                let removed = remove_files(home, store, &rec)?;
                if removed.files > 0 && removed.locked.is_none() {
                    report.finished.push(rec.id.clone());
                }
                report.note_locked(&rec.id, removed.locked);
            }
            continue;
        }
        let expires = policy.expires_at(&rec.recorded_at)?;
        if expires > now {
            continue;
        }
        if marks.iter().any(|m| m.recording == rec.id && m.is_active()) {
            report.kept_by_marks.push(rec.id.clone());
            continue;
        }
        let mut files_removed = 0;
        if !dry_run {
            let deletion = Deletion {
                at: crate::clock::canonical(now),
                reason: format!(
                    "retention: {} days after recording with no evidence flag or hold",
                    policy.retention_days
                ),
                policy_sha256: policy.digest(),
            };
            let artefacts = store.artefacts(&rec.id)?;
            // Every file is named inside the store before anything is marked deleted (an
            // edited index pointing elsewhere stops the sweep here, with nothing changed).
            for key in std::iter::once(&rec.master_path).chain(artefacts.iter().map(|a| &a.path)) {
                home.blobs().exists(key)?;
            }
            let mut event = EventDraft::new(EventKind::Deleted, Some(&rec.id), SWEEP_ACTOR)
                .with("master_sha256", rec.master_sha256)
                .with("master_size", rec.master_size)
                .with("artefact_set", artefact_set_digest(&artefacts))
                .with("reason", "retention")
                .with("retention_days", u64::from(policy.retention_days))
                .with("policy_sha256", deletion.policy_sha256);
            if let Some(m) = &rec.media {
                event = event.with("frame_hash_root", m.frame_hash_root);
            }
            if store.mark_deleted(&rec.id, &deletion, event)?.is_none() {
                // Flagged or held since the marks above were read.
                report.kept_by_marks.push(rec.id.clone());
                continue;
            }
            let removed = remove_files(home, store, &rec)?;
            files_removed = removed.files;
            report.note_locked(&rec.id, removed.locked);
        }
        report.expired.push(Expired {
            id: rec.id.clone(),
            recorded_at: rec.recorded_at.clone(),
            expired_at: crate::clock::canonical(expires),
            files_removed,
        });
    }
    Ok(report)
}

/// What [`remove_files`] removed.
struct Removed {
    /// How many of the recording's recorded files went.
    files: usize,
    /// The first file a lock on the object store still keeps, and until when.
    locked: Option<String>,
}

/// Removes a deleted recording's master, derived files and kept plans (their previews show
/// faces unblurred). A file the object store's lock still keeps is left hidden (see
/// [`Removed::locked`]) and the rest go on.
fn remove_files(home: &Home, store: &dyn Store, rec: &Recording) -> Result<Removed> {
    let blobs = home.blobs();
    let mut locked = None;
    let mut unless_locked = |gone: Result<usize>| match gone {
        Err(e) if e.kind() == ErrorKind::Conflict => {
            locked.get_or_insert_with(|| e.to_string());
            Ok(0)
        }
        other => other,
    };
    let mut files = unless_locked(blobs.delete(&rec.master_path).map(usize::from))?;
    for a in store.artefacts(&rec.id)? {
        files += unless_locked(blobs.delete(&a.path).map(usize::from))?;
    }
    unless_locked(blobs.delete_prefix(&format!("{}/", Home::derived_rel(&rec.id))))?;
    unless_locked(blobs.delete_prefix(&format!("{}/", Home::plans_rel(&rec.id))))?;
    let plans = home.plans(&rec.id);
    if plans.exists() {
        std::fs::remove_dir_all(&plans).map_err(Error::io(&plans, Stage::Output, "delete"))?;
        if let Some(dir) = plans.parent() {
            sync_dir(dir)?;
        }
    }
    Ok(Removed { files, locked })
}
