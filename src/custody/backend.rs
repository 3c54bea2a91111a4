//! What the SQLite and PostgreSQL backends share: row layouts, cursors and paging, and the words
//! of the refusals each decides inside its write transaction, so both say the same thing.

use super::retention::{Deletion, Mark};
use super::{Page, PageRequest, TimeSource};
use crate::digest::Digest;
use crate::error::{Error, Result};

/// The recordings columns, in the order both backends read them.
pub(crate) const RECORDING_COLUMNS: &str = "id, master_sha256, master_size, master_path, source_name, status, reason, \
     officer_id, device_id, recorded_at, recorded_at_source, ingested_at, extra, media, deletion";

/// The SAR columns, in the order both backends read them (`n`, the row number, last).
pub(crate) const SAR_COLUMNS: &str = "id, requester, received, deadline, incident_time, location, opened_by, opened_at, closed_at, n";

/// The mark columns, in the order both backends read them.
pub(crate) const MARK_COLUMNS: &str = "id, recording_id, kind, reference, reason, placed_by, placed_at, \
     released_at, released_by, release_reason";

/// The page of `items` (read with one more than `limit`, to learn whether another follows),
/// with the next page's cursor taken from its last item.
pub(crate) fn paged<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = limit as usize;
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor)
    } else {
        None
    };
    Page { items, next }
}

/// An integer cursor (a sequence number or row id), or -1 for the first page.
pub(crate) fn int_cursor(page: &PageRequest) -> Result<i64> {
    page.after.as_deref().map_or(Ok(-1), |c| {
        c.parse::<i64>()
            .map_err(|_| Error::Invalid(format!("{c:?} is not a cursor of this listing")))
    })
}

/// The recording search's cursor: the last item's `ingested_at` and id.
pub(crate) fn recording_cursor(page: &PageRequest) -> Result<Option<(&str, &str)>> {
    page.after
        .as_deref()
        .map(|c| {
            c.split_once('|')
                .ok_or_else(|| Error::Invalid(format!("{c:?} is not a cursor of this listing")))
        })
        .transpose()
}

/// The cursor after a recording.
pub(crate) fn recording_cursor_of(r: &super::Recording) -> String {
    format!("{}|{}", r.ingested_at, r.id)
}

/// The stored name of a time source.
pub(crate) fn time_source_name(t: TimeSource) -> &'static str {
    match t {
        TimeSource::Sidecar => "sidecar",
        TimeSource::Container => "container",
        TimeSource::FileTime => "file_time",
    }
}

/// A time source from its stored name.
pub(crate) fn time_source(name: &str) -> Option<TimeSource> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

/// 32-byte digests packed end to end (a trailing partial digest, which the schemas' checks rule
/// out, is dropped).
pub(crate) fn digests(bytes: &[u8]) -> Vec<Digest> {
    bytes
        .chunks_exact(32)
        .map(|c| Digest(c.try_into().expect("chunks are 32 bytes")))
        .collect()
}

/// Digests packed end to end, as stored.
pub(crate) fn packed(digests: &[Digest]) -> Vec<u8> {
    digests.iter().flat_map(|d| d.0).collect()
}

/// A u64 as a database integer (values past i64::MAX, which only bounds reach, mean "no bound").
pub(crate) fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Whether a reference can name a recording (hex digits only: nothing a pattern could widen).
pub(crate) fn is_recording_reference(reference: &str) -> bool {
    !reference.is_empty() && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The one recording a reference resolved to.
pub(crate) fn resolved(
    reference: &str,
    mut found: Vec<super::Recording>,
) -> Result<super::Recording> {
    match found.len() {
        0 => Err(Error::UnknownRecording(reference.to_owned())),
        1 => Ok(found.remove(0)),
        _ => Err(Error::AmbiguousRecording(reference.to_owned())),
    }
}

/// The refusals both backends decide inside their write transactions.
pub(crate) mod refuse {
    use super::*;

    pub fn deleted(recording: &str, d: &Deletion) -> Error {
        Error::Conflict(format!(
            "recording {recording} was deleted at {} ({}): it cannot be flagged or held",
            d.at, d.reason
        ))
    }

    pub fn already_marked(mark: &Mark) -> Error {
        Error::Conflict(format!(
            "recording {} already has an active {} mark for {:?}",
            mark.recording,
            mark.kind.as_str(),
            mark.reference
        ))
    }

    pub fn sar_closed(sar: &str) -> Error {
        Error::Conflict(format!("{sar} is closed: it holds no more footage"))
    }

    pub fn not_open_sar(sar: &str) -> Error {
        Error::Conflict(format!("{sar} is not an open SAR"))
    }

    pub fn mark_not_active(id: u64) -> Error {
        Error::Conflict(format!("mark {id} is not active"))
    }

    pub fn no_redacted_copy(recording: &str, path: &str) -> Error {
        Error::NotFound(format!("recording {recording} has no redacted copy {path}"))
    }

    pub fn superseded_already(path: &str) -> Error {
        Error::Conflict(format!("{path} is superseded already"))
    }

    pub fn deleted_or_unknown(recording: &str) -> Error {
        Error::Conflict(format!(
            "recording {recording} is already deleted or unknown"
        ))
    }

    pub fn forked(size: u64) -> Error {
        Error::Integrity(format!(
            "checkpoint {size} is already stored with another root: the log has forked"
        ))
    }
}
