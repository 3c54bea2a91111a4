//! The operations layer: every workflow that changes or reads the custody record on someone's
//! behalf, written once for the `bwv` command, the service and workers.
//!
//! An [`Ops`] is a store, its home folder and the acting principal. Each operation checks what it
//! can up front for a clear refusal, leaves the final word on every retention rule to the
//! store's write transaction (so a refusal is never a race lost), and signs a checkpoint over the
//! events it appended, so they cannot later be erased unnoticed. Errors are the library's, with
//! a [`kind`](crate::Error::kind) a caller maps to an exit or HTTP status.

mod marks;
mod redact;
mod sar;

pub use marks::{Released, Which};
pub use redact::{Planned, RedactOutcome, RedactRequest, RenderedCopy};
pub use sar::SarRequest;

use crate::custody::keys::LogKeys;
use crate::custody::{Event, EventDraft, EventKind, Recording, Store, StoredCheckpoint, log};
use crate::error::Result;
use crate::home::Home;
use crate::verify::Report;

/// A store, its home and who is acting.
#[derive(Debug, Clone, Copy)]
pub struct Ops<'a> {
    home: &'a Home,
    store: &'a dyn Store,
    actor: &'a str,
}

impl<'a> Ops<'a> {
    /// Operations on `store` (kept in `home`) done by `actor`.
    pub fn new(home: &'a Home, store: &'a dyn Store, actor: &'a str) -> Self {
        Self { home, store, actor }
    }

    /// Signs a checkpoint covering every event so far (an unchanged log keeps its latest;
    /// an empty log has none), creating the log's key on first use, so the events an operation
    /// appended cannot be erased unnoticed: a checkpoint past the log's end is a finding of
    /// `verify`. Audits only the events since the latest checkpoint.
    pub fn seal(&self) -> Result<Option<StoredCheckpoint>> {
        let (signer, _) = LogKeys::new(self.home.keys()).for_store(self.store, None)?;
        if self.store.log_head()?.size() == 0 {
            return Ok(None);
        }
        let (cp, _) = log::sign_checkpoint(self.store, &signer, log::AuditScope::SinceLatest)?;
        Ok(Some(cp))
    }

    /// The recording named by `reference`, with an `accessed` event recording that the actor
    /// looked at it (`action` says how: "show", "show_frames", ...). Every look is on the record.
    pub fn access(&self, reference: &str, action: &str) -> Result<(Recording, Event)> {
        let rec = self.store.resolve(reference)?;
        let event = self.store.append(
            EventDraft::new(EventKind::Accessed, Some(&rec.id), self.actor).with("action", action),
        )?;
        Ok((rec, event))
    }

    /// Records a change to an account (`change`: added, password, disabled, enabled,
    /// token_added, token_revoked) as an `account_changed` event, and seals it.
    pub fn account_changed(
        &self,
        account: &crate::accounts::Account,
        change: &str,
    ) -> Result<Event> {
        // The account as the log names its holder's own actions (a hash, not the name).
        let mut draft = EventDraft::new(EventKind::AccountChanged, None, self.actor)
            .with(
                "account",
                crate::custody::logged_actor(&account.name).as_ref(),
            )
            .with("change", change)
            .with("role", account.role.as_str());
        if let Some(officer) = &account.officer_id {
            draft = draft.with(
                "officer_id_sha256",
                crate::digest::Digest::of(officer.as_bytes()),
            );
        }
        let event = self.store.append(draft)?;
        self.seal()?;
        Ok(event)
    }

    /// Records a verification's outcome as a `verified` event (scope, depth, what was checked,
    /// the log's size and root, how many problems).
    pub fn record_verified(&self, report: &Report, one: bool, deep: bool) -> Result<Event> {
        let subject = if one {
            report.recordings.first().map(|r| r.id.as_str())
        } else {
            None
        };
        let problems = report.log.findings.len() + report.findings.len();
        self.store.append(
            EventDraft::new(EventKind::Verified, subject, self.actor)
                .with("scope", if one { "recording" } else { "all" })
                .with("deep", u64::from(deep))
                .with("recordings", report.recordings.len() as u64)
                .with("log_size", report.log.size)
                .with("log_root", report.log.root)
                .with("problems", problems as u64),
        )
    }
}

/// Actor name of `bwv verify`, which any user may run without naming themselves.
pub const VERIFY_ACTOR: &str = "bwv-verify";

#[cfg(test)]
mod tests;
