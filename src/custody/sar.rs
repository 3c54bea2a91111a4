//! Subject access requests: who asked (kept in the index only, never in the log), when, the
//! deadline (one calendar month after receipt), the recordings held for it, and what was
//! disclosed to whom and when (the disclosure log).

use jiff::ToSpan as _;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::retention::Policy;
use super::{EventDraft, EventKind, Recording};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// A subject access request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sar {
    /// Store-assigned id, `SAR-<n>`.
    pub id: String,
    /// The requester's name (personal data: index only).
    pub requester: String,
    /// Date the request was received.
    pub received: Date,
    /// Date the answer is due.
    pub deadline: Date,
    /// When the incident happened, as the requester describes it.
    pub incident_time: Option<String>,
    /// Where, as the requester describes it.
    pub location: Option<String>,
    /// Who opened it.
    pub opened_by: String,
    /// When it was opened (canonical UTC).
    pub opened_at: String,
    /// When it was closed, if it was.
    pub closed_at: Option<String>,
}

/// One disclosure made under a SAR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disclosure {
    /// The SAR.
    pub sar: String,
    /// SHA-256 of the file disclosed.
    pub file_sha256: Digest,
    /// Its size in bytes.
    pub file_size: u64,
    /// Its name when disclosed.
    pub file_name: String,
    /// Who received it (index only).
    pub recipient: String,
    /// Who disclosed it.
    pub disclosed_by: String,
    /// When (canonical UTC; set by the store).
    pub disclosed_at: String,
    /// Why a file that is not a redacted copy of the request's footage was disclosed as it is
    /// (index only; the event holds its SHA-256). None for a redacted copy.
    #[serde(default)]
    pub unredacted_reason: Option<String>,
    /// The legal basis it was disclosed under (index only; the event holds its SHA-256).
    #[serde(default)]
    pub basis: Option<String>,
}

/// The answer is due one calendar month after receipt: the same day number in the next month,
/// or that month's last day when it has no such day (31 January → 28/29 February), as the ICO
/// counts it.
pub fn deadline(received: Date) -> Result<Date> {
    received
        .checked_add(1.month())
        .map_err(|e| Error::Invalid(format!("deadline for {received}: {e}")))
}

/// Whether a SAR is past its deadline on `today` and still open.
pub fn is_overdue(sar: &Sar, today: Date) -> bool {
    sar.closed_at.is_none() && today > sar.deadline
}

/// Checks that `rec` can be linked to `sar`: its footage must still exist. When it does not, the
/// refusal says why, including a request made after the retention period for footage that was
/// not evidence.
pub fn check_linkable(sar: &Sar, rec: &Recording, policy: &Policy) -> Result<()> {
    let Some(deletion) = &rec.deletion else {
        return Ok(());
    };
    let expired = policy.expires_at(&rec.recorded_at)?;
    let received_late = sar.received > expired.to_zoned(jiff::tz::TimeZone::UTC).date();
    let why = if received_late {
        format!(
            "the request was received {}, more than {} days after the footage was recorded ({}); it was not evidence or held, so it was deleted at {}",
            sar.received, policy.retention_days, rec.recorded_at, deletion.at
        )
    } else {
        format!(
            "the footage was deleted at {} ({})",
            deletion.at, deletion.reason
        )
    };
    Err(Error::Conflict(format!(
        "cannot link recording {} to {}: {why}",
        rec.id, sar.id
    )))
}

/// The event for opening a SAR (no personal data: dates only; the store adds the `sar` id).
pub fn opened_event(sar: &Sar, actor: &str) -> EventDraft {
    EventDraft::new(EventKind::SarOpened, None, actor)
        .with("received", sar.received.to_string())
        .with("deadline", sar.deadline.to_string())
}

/// The event for a disclosure (the recipient only as a hash).
pub fn disclosed_event(d: &Disclosure, actor: &str) -> EventDraft {
    let draft = EventDraft::new(EventKind::Disclosed, None, actor)
        .with("sar", d.sar.as_str())
        .with("file_sha256", d.file_sha256)
        .with("file_size", d.file_size)
        .with("recipient_sha256", Digest::of(d.recipient.as_bytes()));
    let draft = match &d.basis {
        Some(basis) => draft.with("basis_sha256", Digest::of(basis.as_bytes())),
        None => draft,
    };
    match &d.unredacted_reason {
        Some(why) => draft.with("unredacted_reason_sha256", Digest::of(why.as_bytes())),
        None => draft,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn deadline_is_one_calendar_month() {
        assert_eq!(deadline(date(2026, 9, 3)).ok(), Some(date(2026, 10, 3)));
        assert_eq!(deadline(date(2026, 1, 31)).ok(), Some(date(2026, 2, 28)));
        assert_eq!(deadline(date(2028, 1, 31)).ok(), Some(date(2028, 2, 29)));
        assert_eq!(deadline(date(2026, 12, 15)).ok(), Some(date(2027, 1, 15)));
        assert_eq!(deadline(date(2026, 8, 31)).ok(), Some(date(2026, 9, 30)));
    }
}
