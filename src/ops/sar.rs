//! Subject access requests: open, link footage, disclose, close.

use std::path::Path;

use jiff::civil::Date;

use super::Ops;
use crate::custody::retention::{self, Mark, MarkKind};
use crate::custody::sar::{self, Disclosure, Sar};
use crate::custody::{ArtefactKind, Event, EventDraft, EventKind, Recording};
use crate::digest::hash_file;
use crate::error::{Error, Result, Stage};

/// What a new request says.
#[derive(Debug, Clone)]
pub struct SarRequest {
    /// The requester's name (kept in the index only, never in the log).
    pub requester: String,
    /// Date received.
    pub received: Date,
    /// When the incident happened, as described.
    pub incident_time: Option<String>,
    /// Where, as described.
    pub location: Option<String>,
}

impl Ops<'_> {
    /// The SAR with this id (any case).
    pub fn sar(&self, id: &str) -> Result<Sar> {
        self.store
            .sars()?
            .into_iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| Error::NotFound(format!("no SAR {id:?}")))
    }

    /// The SAR with this id, refusing a closed one.
    fn open_one(&self, id: &str) -> Result<Sar> {
        let s = self.sar(id)?;
        match &s.closed_at {
            Some(t) => Err(Error::Conflict(format!("{} was closed at {t}", s.id))),
            None => Ok(s),
        }
    }

    /// Opens a request; its deadline is one calendar month after receipt.
    pub fn open_sar(&self, request: SarRequest) -> Result<(Sar, Event)> {
        let draft = Sar {
            id: String::new(),
            deadline: sar::deadline(request.received)?,
            requester: request.requester,
            received: request.received,
            incident_time: request.incident_time,
            location: request.location,
            opened_by: self.actor.to_owned(),
            opened_at: String::new(),
            closed_at: None,
        };
        let opened = self
            .store
            .open_sar(&draft, sar::opened_event(&draft, self.actor))?;
        self.seal()?;
        Ok(opened)
    }

    /// Links a recording to an open request, holding it until the request closes. Footage
    /// already deleted is refused with the reason (a request received after the retention
    /// period, or a deletion for another reason).
    pub fn link(&self, sar_id: &str, reference: &str) -> Result<(Sar, Recording, Mark)> {
        let s = self.open_one(sar_id)?;
        let rec = self.store.resolve(reference)?;
        sar::check_linkable(&s, &rec, &self.policy()?)?;
        if self
            .store
            .marks(Some(&rec.id))?
            .iter()
            .any(|m| m.is_active() && m.kind == MarkKind::Sar && m.reference == s.id)
        {
            return Err(Error::Conflict(format!(
                "recording {} is already linked to {}",
                rec.id, s.id
            )));
        }
        let reason = format!("subject access request {}", s.id);
        let (mark, _) = self.place(&rec.id, MarkKind::Sar, &s.id, &reason)?;
        Ok((s, rec, mark))
    }

    /// Records that `file` went to `recipient` under an open request, under the legal `basis`
    /// given (kept in the index, its hash in the log). The file must be a redacted copy bwv made
    /// of footage linked to the request, unless `unredacted` gives the reason it goes out as it
    /// is (kept the same way).
    pub fn disclose(
        &self,
        sar_id: &str,
        file: &Path,
        recipient: &str,
        unredacted: Option<&str>,
        basis: Option<&str>,
    ) -> Result<(Disclosure, Event)> {
        let s = self.open_one(sar_id)?;
        let (sha, size) = hash_file(file).map_err(Error::io(file, Stage::Output, "read"))?;
        let mut linked: Vec<String> = self
            .store
            .marks(None)?
            .into_iter()
            .filter(|m| m.kind == MarkKind::Sar && m.reference == s.id)
            .map(|m| m.recording)
            .collect();
        linked.sort();
        linked.dedup();
        let (mut redacted, mut superseded) = (false, false);
        for rec in &linked {
            let replaced = self.store.superseded(rec)?;
            for a in self.store.artefacts(rec)? {
                if a.kind == ArtefactKind::Redacted && a.sha256 == sha {
                    let old = replaced.contains(&a.path);
                    superseded |= old;
                    redacted |= !old;
                }
            }
        }
        let unredacted = unredacted.filter(|r| !r.trim().is_empty());
        if superseded && !redacted && unredacted.is_none() {
            return Err(Error::Invalid(format!(
                "{} (SHA-256 {sha}) is a redacted copy that was superseded: disclose the render \
                 that replaced it, or give --unredacted REASON",
                file.display()
            )));
        }
        if !redacted && unredacted.is_none() {
            return Err(Error::Invalid(format!(
                "{} (SHA-256 {sha}) is not a redacted copy of footage linked to {}: disclose \
                 a copy bwv redact made, or give --unredacted REASON to disclose it as it is",
                file.display(),
                s.id
            )));
        }
        let d = Disclosure {
            sar: s.id.clone(),
            file_sha256: sha,
            file_size: size,
            file_name: file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            recipient: recipient.to_owned(),
            disclosed_by: self.actor.to_owned(),
            disclosed_at: String::new(),
            unredacted_reason: if redacted {
                None
            } else {
                unredacted.map(str::to_owned)
            },
            basis: basis
                .map(str::trim)
                .filter(|b| !b.is_empty())
                .map(str::to_owned),
        };
        let event = self
            .store
            .add_disclosure(&d, sar::disclosed_event(&d, self.actor))?;
        self.seal()?;
        Ok((d, event))
    }

    /// Closes a request and releases every hold it placed (those linked a moment ago too).
    pub fn close_sar(&self, sar_id: &str) -> Result<(Sar, Vec<Mark>)> {
        let s = self.open_one(sar_id)?;
        let why = format!("{} closed", s.id);
        let events = |holds: &[Mark]| -> Vec<EventDraft> {
            holds
                .iter()
                .filter_map(|m| retention::release_event(std::slice::from_ref(m), &why, self.actor))
                .chain([EventDraft::new(EventKind::SarClosed, None, self.actor)
                    .with("sar", s.id.as_str())])
                .collect()
        };
        let (holds, _) = self.store.close_sar(&s.id, self.actor, &events)?;
        self.seal()?;
        Ok((s, holds))
    }
}
