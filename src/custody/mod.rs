//! The custody index: recordings, their artefacts and the append-only event log, behind one
//! [`Store`] trait so the embedded SQLite backend and a future PostgreSQL backend are
//! interchangeable. Changes and the events that describe them commit in one transaction.

// Canonical events, signed checkpoints and proofs: from bwv-proof, which checks them offline.
pub use bwv_proof::{checkpoint, event, proof};
pub(crate) mod backend;
#[cfg(test)]
pub(crate) mod conformance;
pub mod keys;
pub mod log;
pub mod postgres;
pub mod retention;
pub mod sar;
pub mod sqlite;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use event::{Event, EventDraft, EventKind, Field};

use crate::clock::Clock;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::merkle;

/// Where a custody index lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexLocation {
    /// An SQLite file (`sqlite:PATH`, or a plain path): the embedded default.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL database (`postgres://...`), the scale-out backend.
    Postgres(String),
}

impl IndexLocation {
    /// Parses `sqlite:PATH`, `postgres://...` / `postgresql://...`, or a plain path.
    pub fn parse(text: &str) -> Result<Self> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Self::Postgres(text.to_owned()));
        }
        let path = text.strip_prefix("sqlite:").unwrap_or(text);
        if path.is_empty() || path.contains("://") {
            return Err(Error::Invalid(format!(
                "{text:?} is not an index location: give sqlite:PATH, a path, or postgres://..."
            )));
        }
        Ok(Self::Sqlite(path.into()))
    }

    /// Whether an index is there (a server's database is taken to exist; opening says if not).
    pub fn exists(&self) -> bool {
        match self {
            Self::Sqlite(path) => path.is_file(),
            Self::Postgres(_) => true,
        }
    }
}

impl std::fmt::Display for IndexLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            // The URL may hold a password: show only its scheme and host part.
            Self::Postgres(url) => {
                let rest = url.split_once("://").map_or("", |(_, r)| r);
                let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
                write!(f, "postgres://{host}")
            }
        }
    }
}

/// Opens (creating and migrating if needed) the index at `location`, behind the [`Store`]
/// trait: callers never name a backend.
pub fn open_index(
    location: &IndexLocation,
    clock: std::sync::Arc<dyn Clock>,
) -> Result<Box<dyn Store>> {
    match location {
        IndexLocation::Sqlite(path) => Ok(Box::new(sqlite::SqliteStore::open(path, clock)?)),
        IndexLocation::Postgres(url) => Ok(Box::new(postgres::PostgresStore::open(
            url,
            &location.to_string(),
            clock,
        )?)),
    }
}

/// Where a recording is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Master stored; derived outputs not (yet) complete. An interrupted ingest leaves this, and
    /// the next ingest of the same bytes resumes it.
    Processing,
    /// Master stored and every derived output recorded.
    Ready,
    /// Master stored, but its content could not be processed; `reason` says why.
    Quarantined,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Processing => "processing",
            Status::Ready => "ready",
            Status::Quarantined => "quarantined",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "processing" => Status::Processing,
            "ready" => Status::Ready,
            "quarantined" => Status::Quarantined,
            _ => return None,
        })
    }
}

/// Where `recorded_at` came from, most trusted first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The dock's sidecar JSON.
    Sidecar,
    /// The container's creation-time tag.
    Container,
    /// The dock file's modification time.
    FileTime,
}

/// Stream facts measured while decoding, and the frame-hash summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// Container format (e.g. "Quicktime").
    pub container: String,
    /// Video codec description.
    pub video_codec: String,
    /// Audio codec description, when there is audio.
    pub audio_codec: Option<String>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frame rate numerator.
    pub fps_num: i32,
    /// Frame rate denominator.
    pub fps_den: i32,
    /// Frames decoded.
    pub frames: u64,
    /// Duration in nanoseconds (stream time of the last frame plus its duration).
    pub duration_ns: u64,
    /// The decoder's native pixel format, which the frame hashes are defined over.
    pub pixel_format: String,
    /// Colorimetry of the decoded frames.
    pub colorimetry: String,
    /// Decoder element factory name.
    pub decoder: String,
    /// GStreamer version that decoded it.
    pub gstreamer_version: String,
    /// RFC 6962 root over the per-frame SHA-256s.
    pub frame_hash_root: Digest,
    /// Frames the container declares (its duration times its frame rate), when it declares
    /// both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_frames: Option<u64>,
    /// Coded frames the decoder was given but returned no picture for (corrupt data).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub undecodable_frames: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl MediaInfo {
    /// Frames of the container's count that were not decoded: 0 unless more than half a
    /// second's worth (at least 2) are missing, since a container's duration may run a little
    /// past its last picture (sound that ends later, rounding).
    pub fn missing_frames(&self) -> u64 {
        let missing = self
            .container_frames
            .map_or(0, |c| c.saturating_sub(self.frames));
        let fps = if self.fps_den > 0 {
            f64::from(self.fps_num) / f64::from(self.fps_den)
        } else {
            0.0
        };
        let allowed = ((fps / 2.0).floor() as u64).max(1);
        if missing > allowed { missing } else { 0 }
    }

    /// What the `processed` event records of damaged footage (container frames, undecodable
    /// frames); `None` for whole footage, whose event records neither.
    pub fn damage_counts(&self) -> Option<(u64, u64)> {
        (self.missing_frames() > 0 || self.undecodable_frames > 0).then(|| {
            (
                self.container_frames.unwrap_or_default(),
                self.undecodable_frames,
            )
        })
    }

    /// Why the decoded footage is incomplete, if it is: frames the container declares that
    /// the file did not deliver (truncated), or frames the decoder could not decode (corrupt).
    pub fn damage(&self) -> Option<String> {
        let mut why = Vec::new();
        let missing = self.missing_frames();
        if missing > 0 {
            why.push(format!(
                "{} of the {} frames the container declares were decoded ({missing} missing: \
                 the file ends early or its index is wrong)",
                self.frames,
                self.container_frames.unwrap_or_default()
            ));
        }
        if self.undecodable_frames > 0 {
            why.push(format!(
                "{} coded frame(s) could not be decoded (corrupt data)",
                self.undecodable_frames
            ));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}

/// A recording: one stored master and what is known about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recording {
    /// Short stable id (derived from the master's SHA-256).
    pub id: String,
    /// SHA-256 of the master's bytes.
    pub master_sha256: Digest,
    /// Size of the master in bytes.
    pub master_size: u64,
    /// Path of the master relative to the store home.
    pub master_path: String,
    /// File name at the dock.
    pub source_name: String,
    /// Lifecycle state.
    pub status: Status,
    /// Why it is quarantined, if it is.
    pub reason: Option<String>,
    /// Officer id from the dock sidecar.
    pub officer_id: Option<String>,
    /// Camera id from the dock sidecar.
    pub device_id: Option<String>,
    /// When the footage was recorded (canonical UTC).
    pub recorded_at: String,
    /// Where `recorded_at` came from.
    pub recorded_at_source: TimeSource,
    /// When bwv stored the master (canonical UTC).
    pub ingested_at: String,
    /// Other sidecar fields, kept as given.
    pub extra: serde_json::Value,
    /// Stream facts, once processed.
    pub media: Option<MediaInfo>,
    /// Set when the recording's files were deleted (the row and its hashes stay).
    #[serde(default)]
    pub deletion: Option<retention::Deletion>,
}

impl Recording {
    /// SHA-256 of what ingest learnt about the recording besides its bytes (its time and where
    /// that came from, officer, device, dock file name, ingest time, other sidecar fields), as
    /// canonical JSON (keys sorted). The `ingested` event logs it, so `verify` finds an edited
    /// time or officer in the index.
    pub fn metadata_digest(&self) -> Digest {
        let fields = serde_json::json!({
            "recorded_at": self.recorded_at,
            "recorded_at_source": self.recorded_at_source,
            "officer_id": self.officer_id,
            "device_id": self.device_id,
            "source_name": self.source_name,
            "ingested_at": self.ingested_at,
            "extra": self.extra,
        });
        Digest::of(fields.to_string().as_bytes())
    }
}

/// Kinds of derived file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArtefactKind {
    /// Per-frame SHA-256s, 32 bytes a frame, presentation order.
    FrameHashes,
    /// Per-frame stream time, u64 little-endian nanoseconds a frame.
    FrameTimes,
    /// The poster frame (JPEG).
    Poster,
    /// A thumbnail every N seconds (JPEG).
    Thumbnail,
    /// All thumbnails on one sheet (JPEG).
    ContactSheet,
    /// Browser-playable H.264/AAC MP4.
    Proxy,
    /// A copy with faces redacted for disclosure.
    Redacted,
}

impl ArtefactKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtefactKind::FrameHashes => "frame_hashes",
            ArtefactKind::FrameTimes => "frame_times",
            ArtefactKind::Poster => "poster",
            ArtefactKind::Thumbnail => "thumbnail",
            ArtefactKind::ContactSheet => "contact_sheet",
            ArtefactKind::Proxy => "proxy",
            ArtefactKind::Redacted => "redacted",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            ArtefactKind::FrameHashes,
            ArtefactKind::FrameTimes,
            ArtefactKind::Poster,
            ArtefactKind::Thumbnail,
            ArtefactKind::ContactSheet,
            ArtefactKind::Proxy,
            ArtefactKind::Redacted,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A file derived from a master, with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artefact {
    /// What it is.
    pub kind: ArtefactKind,
    /// Path relative to the store home.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: Digest,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the file it was derived from.
    pub parent_sha256: Digest,
    /// Tool that made it.
    pub tool: String,
    /// Tool version (bwv and GStreamer versions).
    pub tool_version: String,
    /// Every parameter that shaped it.
    pub params: serde_json::Value,
}

/// SHA-256 over a recording's artefact list (`kind path sha256 size` lines in stored order),
/// logged with the `processed` event so the index's artefact rows are bound to the signed log.
pub fn artefact_set_digest(artefacts: &[Artefact]) -> Digest {
    let text: String = artefacts
        .iter()
        .map(|a| format!("{} {} {} {}\n", a.kind.as_str(), a.path, a.sha256, a.size))
        .collect();
    Digest::of(text.as_bytes())
}

/// The outcome of processing a recording, applied with its event in one transaction.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Processing succeeded.
    Ready {
        /// Stream facts and frame-hash root.
        media: Box<MediaInfo>,
        /// Every derived file.
        artefacts: Vec<Artefact>,
    },
    /// Processing failed; the master stays, quarantined.
    Quarantined {
        /// Why.
        reason: String,
    },
}

/// One row of the event log exactly as stored, for auditing: the indexed columns are kept beside
/// the canonical bytes so a check can find a row whose columns disagree with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// Sequence number (the row key).
    pub seq: u64,
    /// The `at` column.
    pub at: String,
    /// The `kind` column.
    pub kind: String,
    /// The `recording_id` column.
    pub recording: Option<String>,
    /// The canonical event bytes.
    pub canonical: Vec<u8>,
    /// The stored leaf hash (any length, as stored).
    pub leaf_hash: Vec<u8>,
}

/// A signed checkpoint as kept in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Tree size it commits to.
    pub size: u64,
    /// Root it commits to.
    pub root: Digest,
    /// The whole signed note.
    pub note: String,
    /// When it was signed (canonical UTC).
    pub signed_at: String,
    /// The tree's frontier at `size` (its perfect-subtree roots), from which the next
    /// checkpoint's audit continues; `None` for checkpoints stored before it was kept.
    pub peaks: Option<Vec<Digest>>,
}

/// One page of a listing: the items after `after` (the previous page's `next`, an opaque
/// cursor), at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PageRequest {
    /// Where the previous page ended, if this is not the first.
    pub after: Option<String>,
    /// Largest number of items (at most [`PageRequest::MAX_LIMIT`]; 0 means the default, 100).
    pub limit: u32,
}

impl PageRequest {
    /// The most items one page may hold.
    pub const MAX_LIMIT: u32 = 1000;

    /// The first page of `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { after: None, limit }
    }

    /// The limit to apply (the default for 0, capped at the maximum).
    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => 100,
            n => n.min(Self::MAX_LIMIT),
        }
    }
}

/// A page of items and the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items, in the listing's order.
    pub items: Vec<T>,
    /// The `after` of the next page, when there is one.
    pub next: Option<String>,
}

/// Which recordings a search returns (every condition given must hold).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecordingQuery {
    /// Officer id, exactly.
    pub officer: Option<String>,
    /// Camera id, exactly.
    pub device: Option<String>,
    /// Recorded at or after this instant.
    pub recorded_from: Option<jiff::Timestamp>,
    /// Recorded before this instant.
    pub recorded_to: Option<jiff::Timestamp>,
    /// Flagged as evidence in this case (an active flag).
    pub case: Option<String>,
    /// With (`true`) or without (`false`) an active evidence flag.
    pub flagged: Option<bool>,
    /// Deleted under retention (`true`) or not (`false`).
    pub deleted: Option<bool>,
}

/// The log as of one moment: checkpoints, tree head and rows read in one snapshot, so a check
/// of one against the others is not confused by events appended meanwhile.
pub trait LogView {
    /// Every stored checkpoint, smallest first.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;
    /// The largest stored checkpoint.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>>;
    /// The stored tree head.
    fn head(&self) -> Result<merkle::Frontier>;
    /// Visits the stored log rows with sequence numbers in `range`, in order (streaming).
    fn rows(
        &self,
        range: std::ops::Range<u64>,
        visit: &mut dyn FnMut(LogRow) -> Result<()>,
    ) -> Result<()>;
    /// The stored leaf hashes of the events with sequence numbers in `range`, in order.
    fn leaves(&self, range: std::ops::Range<u64>) -> Result<Vec<Digest>>;
    /// The stored root of the perfect subtree `(level, index)` (level at least
    /// [`STORED_NODE_LEVEL`]), if kept.
    fn node(&self, level: u32, index: u64) -> Result<Option<Digest>>;
}

/// The steps of one append inside a backend's write transaction; [`append_in`] puts them
/// together the same way for every backend.
pub trait LogTx {
    /// The tree head as this transaction sees it.
    fn head(&self) -> Result<merkle::Frontier>;
    /// Keeps the name of a person the log names by its hash ([`logged_actor`]) beside the
    /// log (once).
    fn name_actor(&self, logged: &str, name: &str) -> Result<()>;
    /// Inserts the event row (its sequence number is the head's size) with its leaf hash.
    fn insert_event(&self, event: &Event, leaf: &Digest) -> Result<()>;
    /// Stores the new tree head.
    fn set_head(&self, head: &merkle::Frontier) -> Result<()>;
    /// Stores the root of the perfect subtree of leaves `[index << level, (index + 1) << level)`.
    fn insert_node(&self, level: u32, index: u64, root: &Digest) -> Result<()>;
}

/// The smallest perfect subtree whose root the log keeps (2^8 = 256 leaves). Proofs are built
/// from these and at most a few hundred leaf hashes, so their cost grows with log n, not n.
pub const STORED_NODE_LEVEL: u32 = 8;

/// Appends an event in the caller's write transaction: the next sequence number is the
/// stored head's size (so sequence numbers stay contiguous), and the head advances by the
/// event's leaf hash in the same transaction, so appending never rehashes the log.
pub fn append_in(tx: &dyn LogTx, mut draft: EventDraft, at: String) -> Result<Event> {
    if let Cow::Owned(logged) = logged_actor(&draft.actor) {
        tx.name_actor(&logged, &draft.actor)?;
        draft.actor = logged;
    }
    let mut head = tx.head()?;
    let event = Event::from_draft(draft, head.size(), at);
    let leaf = event.leaf_hash();
    tx.insert_event(&event, &leaf)?;
    let mut completed = Vec::new();
    head.push_leaf_hash_with(leaf, &mut |level, index, root| {
        if level >= STORED_NODE_LEVEL {
            completed.push((level, index, root));
        }
    });
    for (level, index, root) in completed {
        tx.insert_node(level, index, &root)?;
    }
    tx.set_head(&head)?;
    Ok(event)
}

/// How the log names an actor. bwv's own actors (`bwv-ingest`, `bwv-retention`, ...) and
/// placeholders in parentheses (`(unknown account)`) are logged as they are; a person (an
/// account, or whoever `--actor` names) as `sha256:` and the SHA-256 of the name, which the
/// index keeps beside the log ([`Store::actor_names`]). So the log and the bundles made from
/// it hold no one's name, and `verify` checks each kept name against its hash. (A hash of a
/// short name can be found by trying names; it hides the name from a reader, not from a
/// search.)
pub fn logged_actor(actor: &str) -> Cow<'_, str> {
    if names_a_person(actor) {
        Cow::Owned(format!("sha256:{}", Digest::of(actor.as_bytes())))
    } else {
        Cow::Borrowed(actor)
    }
}

/// Whether `actor` is one of bwv's own or a placeholder (logged as it is).
pub fn is_own_actor(actor: &str) -> bool {
    actor.starts_with("bwv-") || (actor.starts_with('(') && actor.ends_with(')'))
}

/// Whether `actor` names a person (logged by hash): not bwv's own, a placeholder, or a name
/// already in its logged form.
pub fn names_a_person(actor: &str) -> bool {
    !is_own_actor(actor) && !actor.starts_with("sha256:")
}

/// An event's actor as a person reads it: the name the index keeps for a hashed one.
pub fn actor_name<'a>(logged: &'a str, names: &'a BTreeMap<String, String>) -> &'a str {
    names.get(logged).map_or(logged, String::as_str)
}

/// An event as a person reads it: with the name the index keeps for its actor, when the log
/// names the actor by hash.
#[derive(Debug, Clone, Serialize)]
pub struct NamedEvent {
    /// The event as logged.
    #[serde(flatten)]
    pub event: Event,
    /// The actor's name, when the log holds its hash and the index the name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_name: Option<String>,
}

/// `events` with their actors' names (see [`NamedEvent`]).
pub fn named_events(store: &dyn Store, events: Vec<Event>) -> Result<Vec<NamedEvent>> {
    let names = store.actor_names()?;
    Ok(events
        .into_iter()
        .map(|event| NamedEvent {
            actor_name: names.get(&event.actor).cloned(),
            event,
        })
        .collect())
}

/// A dock file that could not be read at all: its event, path and reason (the event holds
/// only the path's and the reason's SHA-256).
#[derive(Debug, Clone, Serialize)]
pub struct UnreadableSource {
    /// Where it was.
    pub source: String,
    /// Why it could not be read.
    pub reason: String,
    /// Its `unreadable` event.
    pub event: Event,
}

impl UnreadableSource {
    /// A row of the index: the reason from its column, or from the event for rows kept
    /// before reasons left the log.
    fn new(event: Event, source: String, reason: Option<String>) -> Self {
        let reason = reason.unwrap_or_else(|| match event.fields.get("reason") {
            Some(Field::Text(r)) => r.clone(),
            _ => String::new(),
        });
        Self {
            source,
            reason,
            event,
        }
    }
}

/// The custody index. Implementations must make each method atomic: a change and its events
/// commit together or not at all, and events are never updated or deleted.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// The recording whose master has this SHA-256, if any.
    fn recording_by_master(&self, sha: &Digest) -> Result<Option<Recording>>;
    /// Creates a recording (status `Processing`) with its `ingested` event.
    fn create_recording(&self, rec: &Recording, event: EventDraft) -> Result<Event>;
    /// Records the outcome of processing with its event.
    fn finish_recording(&self, id: &str, outcome: &Outcome, event: EventDraft) -> Result<Event>;
    /// Appends an event that changes nothing else.
    fn append(&self, event: EventDraft) -> Result<Event>;
    /// All recordings, oldest ingest first.
    fn recordings(&self) -> Result<Vec<Recording>>;
    /// A page of the recordings that `query` selects, oldest ingest first.
    fn search_recordings(
        &self,
        query: &RecordingQuery,
        page: &PageRequest,
    ) -> Result<Page<Recording>>;
    /// A page of the events about one recording, or of all events, in sequence order.
    fn events_page(&self, recording: Option<&str>, page: &PageRequest) -> Result<Page<Event>>;
    /// A page of the marks on one recording, or of all marks, oldest first.
    fn marks_page(
        &self,
        recording: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<retention::Mark>>;
    /// A page of the SARs, oldest first.
    fn sars_page(&self, page: &PageRequest) -> Result<Page<sar::Sar>>;
    /// The recording named by an id or unique id prefix.
    fn resolve(&self, reference: &str) -> Result<Recording>;
    /// A recording's derived files.
    fn artefacts(&self, id: &str) -> Result<Vec<Artefact>>;
    /// Events about one recording, or all events, in sequence order.
    fn events(&self, recording: Option<&str>) -> Result<Vec<Event>>;
    /// The log's tree head, maintained incrementally with every append.
    fn log_head(&self) -> Result<merkle::Frontier>;
    /// Visits the stored log rows with sequence numbers in `range`, in order (streaming).
    fn log_rows(
        &self,
        range: std::ops::Range<u64>,
        visit: &mut dyn FnMut(LogRow) -> Result<()>,
    ) -> Result<()>;
    /// Runs `read` on a consistent view of the log (one read transaction).
    fn read_log(&self, read: &mut dyn FnMut(&dyn LogView) -> Result<()>) -> Result<()>;
    /// Every stored checkpoint, smallest first.
    fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>>;
    /// The largest stored checkpoint.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>>;
    /// Stores a signed checkpoint of `tree` (its size, root and frontier); one already stored
    /// for the same size and root is returned as it is (concurrent signers), one with another
    /// root is an integrity error.
    fn add_checkpoint(&self, tree: &merkle::Frontier, note: &str) -> Result<StoredCheckpoint>;
    /// Places a flag or hold (its `id`, `placed_at` and release fields are assigned here) with
    /// its event, to which the store adds a `mark_id` field. Refused, changing nothing, when the
    /// recording was deleted, the same mark is already active, or a SAR hold names a closed SAR.
    fn add_mark(
        &self,
        mark: &retention::Mark,
        event: EventDraft,
    ) -> Result<(retention::Mark, Event)>;
    /// Releases active marks with their event; fails, changing nothing, if any is not active.
    fn release_marks(
        &self,
        ids: &[u64],
        by: &str,
        reason: &str,
        event: EventDraft,
    ) -> Result<Event>;
    /// Marks on one recording, or all marks, oldest first.
    fn marks(&self, recording: Option<&str>) -> Result<Vec<retention::Mark>>;
    /// Records one more derived file (e.g. a redacted copy) with its event. Files are
    /// content-named, so a path already recorded is the same bytes: only the event is added.
    fn add_artefact(&self, id: &str, artefact: &Artefact, event: EventDraft) -> Result<Event>;
    /// Marks a recording's redacted copy (by its path) superseded, with its event: it is no
    /// longer exported or disclosed. Refused unless it is a redacted copy of that recording not
    /// superseded already.
    fn supersede(
        &self,
        id: &str,
        path: &str,
        by: &str,
        reason: &str,
        event: EventDraft,
    ) -> Result<Event>;
    /// The paths of a recording's superseded copies.
    fn superseded(&self, id: &str) -> Result<Vec<String>>;
    /// Opens a SAR (its `id` and `opened_at` are assigned here) with its event, to which the
    /// store adds a `sar` field.
    fn open_sar(&self, sar: &sar::Sar, event: EventDraft) -> Result<(sar::Sar, Event)>;
    /// Every SAR, oldest first.
    fn sars(&self) -> Result<Vec<sar::Sar>>;
    /// Closes an open SAR and releases every active hold placed for it, in one transaction;
    /// `events` drafts the events to append, in order, from the holds released. Returns the
    /// holds and the events.
    fn close_sar(
        &self,
        id: &str,
        by: &str,
        events: &dyn Fn(&[retention::Mark]) -> Vec<EventDraft>,
    ) -> Result<(Vec<retention::Mark>, Vec<Event>)>;
    /// Records a disclosure (its `disclosed_at` is assigned here) with its event; refused unless
    /// the SAR is open.
    fn add_disclosure(&self, d: &sar::Disclosure, event: EventDraft) -> Result<Event>;
    /// The disclosures made under one SAR, or all, oldest first.
    fn disclosures(&self, sar: Option<&str>) -> Result<Vec<sar::Disclosure>>;
    /// Records a dock file that could not be read, with its `unreadable` event; the path and
    /// the reason are kept beside the log, not in it.
    fn add_unreadable(&self, source: &str, reason: &str, event: EventDraft) -> Result<Event>;
    /// Every unreadable dock file's event, path and reason, oldest first.
    fn unreadable_sources(&self) -> Result<Vec<UnreadableSource>>;
    /// The latest event of `kind`, if any (the store's retention policy is its latest
    /// `policy_changed` event).
    fn latest_event(&self, kind: EventKind) -> Result<Option<Event>>;
    /// What the database's own integrity check reports wrong (SQLite's `integrity_check`);
    /// empty when it holds, or when the backend has no such check.
    fn integrity_problems(&self) -> Result<Vec<String>>;
    /// The names of the people the log names by hash ([`logged_actor`]): logged form → name.
    fn actor_names(&self) -> Result<BTreeMap<String, String>>;
    /// Records a recording's deletion with its tombstone event (the files go afterwards), unless
    /// an active flag or hold keeps it (`None`, nothing changed): decided inside the writing
    /// transaction, so a mark placed at any moment before the commit is honoured.
    fn mark_deleted(
        &self,
        id: &str,
        deletion: &retention::Deletion,
        event: EventDraft,
    ) -> Result<Option<Event>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_locations_parse_and_never_show_a_password() {
        assert_eq!(
            IndexLocation::parse("sqlite:/srv/bwv/index.sqlite").expect("sqlite"),
            IndexLocation::Sqlite("/srv/bwv/index.sqlite".into())
        );
        assert_eq!(
            IndexLocation::parse("index.sqlite").expect("path"),
            IndexLocation::Sqlite("index.sqlite".into())
        );
        let pg = IndexLocation::parse("postgres://bwv:s3cret@db.example:5432/bwv").expect("pg");
        assert_eq!(pg.to_string(), "postgres://db.example:5432/bwv");
        for bad in ["", "sqlite:", "mysql://x/y"] {
            let e = IndexLocation::parse(bad).expect_err(bad);
            assert_eq!(e.kind(), crate::ErrorKind::Invalid, "{bad}");
        }
        let clock = std::sync::Arc::new(crate::clock::SystemClock);
        let e = open_index(&pg, clock).expect_err("db.example is not reachable");
        assert!(!e.to_string().contains("s3cret"), "{e}");
    }
}
