//! `verify`: re-hash masters and derived files against the index, check that the index rows agree
//! with the signed event log, audit the log against every signed checkpoint, and (deep) re-decode
//! masters to re-derive every per-frame hash.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::custody::checkpoint::NoteVerifier;
use crate::custody::log::{self, LogAudit};
use crate::custody::retention::Mark;
use crate::custody::{Artefact, ArtefactKind, Event, EventKind, Field, Recording, Status, Store};
use crate::digest::Digest;
use crate::error::{Result, Stage};
use crate::home::Home;
use crate::media::frame;
use crate::media::pipeline::{self, Frame, FrameSink};
use crate::merkle::Frontier;
use crate::stages::hash;

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One recording (id, prefix or master SHA-256), or all when `None`.
    pub recording: Option<String>,
    /// Re-decode masters and re-check every per-frame hash.
    pub deep: bool,
    /// Signed checkpoints held outside the store (label, note), checked like stored ones.
    pub checkpoints: Vec<(String, String)>,
    /// Stall timeout for deep decodes.
    pub stall_timeout: Option<Duration>,
    /// The store clock's time: with it, events no checkpoint has signed for longer than
    /// [`UNSIGNED_GRACE`] are a finding.
    pub now: Option<jiff::Timestamp>,
}

/// How long events may go unsigned. Every command that appends events signs a checkpoint when
/// it is done (the service within `--seal-every`), so events older than this that no
/// checkpoint covers mean checkpoints were removed, or a command was stopped before it signed.
pub const UNSIGNED_GRACE: Duration = Duration::from_secs(3600);

/// A problem with a recording's files or records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// A file the index lists is not there.
    MissingFile {
        /// Recording id.
        recording: String,
        /// What the file is (`master` or an artefact kind).
        what: String,
        /// Store-relative path.
        path: String,
    },
    /// A file's bytes differ from the hash the index holds.
    ChangedFile {
        /// Recording id.
        recording: String,
        /// What the file is.
        what: String,
        /// Store-relative path.
        path: String,
        /// SHA-256 in the index.
        expected: Digest,
        /// SHA-256 of the bytes now.
        actual: Digest,
    },
    /// An index row disagrees with the signed event log about this recording.
    RecordChanged {
        /// Recording id.
        recording: String,
        /// What disagrees.
        detail: String,
    },
    /// A recording recorded as deleted still has files in the store.
    NotDeleted {
        /// Recording id.
        recording: String,
        /// Store-relative path of what is left.
        path: String,
    },
    /// A stored master that no recording in the index claims (an ingest stopped between storing
    /// the bytes and recording them; the next ingest of the dock adopts it).
    UnrecordedMaster {
        /// Store-relative path.
        path: String,
    },
    /// A derived file no recording's artefacts claim (a render or ingest killed between storing
    /// the file and recording it).
    UnrecordedFile {
        /// Store-relative path.
        path: String,
    },
    /// Text kept beside the log (a name, a path, a reason) differs from the hash the log holds.
    SideTable {
        /// What differs.
        detail: String,
    },
    /// Events that no checkpoint signs, older than [`UNSIGNED_GRACE`].
    UnsignedEvents {
        /// The first of them.
        from_seq: u64,
        /// How many.
        count: u64,
        /// When the first was logged.
        since: String,
    },
    /// A flag or hold in the index differs from the log's record of it.
    MarkChanged {
        /// Recording id.
        recording: String,
        /// What differs.
        detail: String,
    },
    /// The index's database reports damage (SQLite's integrity check).
    IndexDamaged {
        /// What the database says.
        detail: String,
    },
    /// Re-decoding the master gives different per-frame hashes (deep only).
    FrameHashes {
        /// Recording id.
        recording: String,
        /// What differs.
        detail: String,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::MissingFile {
                recording,
                what,
                path,
            } => write!(f, "{recording}: {what} {path} is missing"),
            Finding::ChangedFile {
                recording,
                what,
                path,
                expected,
                actual,
            } => write!(
                f,
                "{recording}: {what} {path} has changed (index {expected}, now {actual})"
            ),
            Finding::RecordChanged { recording, detail } => {
                write!(
                    f,
                    "{recording}: index record differs from the log: {detail}"
                )
            }
            Finding::NotDeleted { recording, path } => {
                write!(
                    f,
                    "{recording}: recorded as deleted, but {path} is still there"
                )
            }
            Finding::UnrecordedMaster { path } => {
                write!(
                    f,
                    "{path} is stored but no recording claims it (re-run ingest on its dock)"
                )
            }
            Finding::UnrecordedFile { path } => {
                write!(
                    f,
                    "{path} is stored but no recording's files include it (left by an \
                     interrupted job)"
                )
            }
            Finding::SideTable { detail } => write!(f, "index differs from the log: {detail}"),
            Finding::UnsignedEvents {
                from_seq,
                count,
                since,
            } => write!(
                f,
                "{count} event(s) from {from_seq} on (logged since {since}) are signed by no \
                 checkpoint: checkpoints were removed, or a command stopped before it signed \
                 (check, then `bwv log checkpoint`)"
            ),
            Finding::MarkChanged { recording, detail } => {
                write!(
                    f,
                    "{recording}: flags and holds differ from the log: {detail}"
                )
            }
            Finding::IndexDamaged { detail } => {
                write!(f, "the index database is damaged: {detail}")
            }
            Finding::FrameHashes { recording, detail } => {
                write!(f, "{recording}: frame hashes: {detail}")
            }
        }
    }
}

/// Per-recording summary.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    /// Recording id.
    pub id: String,
    /// Its status.
    pub status: Status,
    /// When its files were deleted under the retention policy, if they were.
    pub deleted_at: Option<String>,
    /// Files re-hashed.
    pub files: usize,
    /// Frames re-decoded and matched (deep only).
    pub frames_redecoded: Option<u64>,
}

/// The whole verification report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// True when nothing was found.
    pub ok: bool,
    /// The log audit.
    pub log: LogAudit,
    /// Recordings checked.
    pub recordings: Vec<Checked>,
    /// File and record problems.
    pub findings: Vec<Finding>,
}

/// Runs the verification. Appends nothing: the caller records the `verified` event.
pub fn verify(
    home: &Home,
    store: &dyn Store,
    verifier: &NoteVerifier,
    opts: &Options,
) -> Result<Report> {
    let log = log::audit(store, verifier, &opts.checkpoints)?;
    let events = store.events(None)?;
    let recordings = match &opts.recording {
        Some(r) => vec![store.resolve(r)?],
        None => store.recordings()?,
    };
    let mut findings: Vec<Finding> = store
        .integrity_problems()?
        .into_iter()
        .map(|detail| Finding::IndexDamaged { detail })
        .collect();
    if let Some(now) = opts.now {
        unsigned(
            &events,
            log.latest_checkpoint.unwrap_or(0),
            now,
            &mut findings,
        );
    }
    if opts.recording.is_none() {
        check_marks(&store.marks(None)?, &events, &mut findings);
    }
    if opts.recording.is_none() {
        let known: std::collections::HashSet<&str> =
            recordings.iter().map(|r| r.id.as_str()).collect();
        for e in events.iter().filter(|e| e.kind == EventKind::Ingested) {
            if let Some(id) = e.recording.as_deref().filter(|id| !known.contains(id)) {
                findings.push(Finding::RecordChanged {
                    recording: id.to_owned(),
                    detail: format!("logged as ingested (event {}) but not in the index", e.seq),
                });
            }
        }
    }
    if opts.recording.is_none() {
        side_tables(store, &mut findings)?;
        unrecorded_masters(home, &recordings, &mut findings)?;
    }
    let mut by_recording: HashMap<&str, Vec<&Event>> = HashMap::new();
    for e in &events {
        if let Some(id) = &e.recording {
            by_recording.entry(id).or_default().push(e);
        }
    }
    // Where a remote object store's masters are fetched to be re-decoded.
    let scratch = if opts.deep {
        Some(home.scratch()?)
    } else {
        None
    };
    let mut checked = Vec::new();
    // Derived files the index accounts for: its artefacts, and the folders of recordings
    // being processed (published before they are recorded) or deleted (checked apart).
    let mut claimed = Claimed::default();
    for rec in &recordings {
        let artefacts = store.artefacts(&rec.id)?;
        claimed
            .files
            .extend(artefacts.iter().map(|a| a.path.clone()));
        if rec.status == Status::Processing || rec.deletion.is_some() {
            claimed
                .folders
                .insert(format!("{}/", Home::derived_rel(&rec.id)));
        }
        let logged = by_recording.get(rec.id.as_str()).map_or(&[][..], |v| v);
        check_against_log(rec, &artefacts, logged, &mut findings);
        if let Some(deletion) = &rec.deletion {
            check_deleted(home, rec, logged, &mut findings);
            checked.push(Checked {
                id: rec.id.clone(),
                status: rec.status,
                deleted_at: Some(deletion.at.clone()),
                files: 0,
                frames_redecoded: None,
            });
            continue;
        }
        let mut files = 0;
        let mut check = |what: &str, path: &str, sha: &Digest| {
            files += 1;
            check_file(home, rec, what, path, sha, &mut findings)
        };
        let master_ok = check("master", &rec.master_path, &rec.master_sha256);
        for a in &artefacts {
            check(a.kind.as_str(), &a.path, &a.sha256);
        }
        let mut frames_redecoded = None;
        if let Some(scratch) = scratch.as_ref().filter(|_| master_ok)
            && rec.status == Status::Ready
        {
            frames_redecoded =
                deep_check(home, scratch.path(), rec, &artefacts, opts, &mut findings);
        }
        checked.push(Checked {
            id: rec.id.clone(),
            status: rec.status,
            deleted_at: None,
            files,
            frames_redecoded,
        });
    }
    if opts.recording.is_none() {
        unrecorded_files(home, &claimed, &mut findings)?;
    }
    Ok(Report {
        ok: findings.is_empty() && log.findings.is_empty(),
        log,
        recordings: checked,
        findings,
    })
}

/// Events from `signed` on (those no checkpoint covers) logged longer than
/// [`UNSIGNED_GRACE`] before `now`.
fn unsigned(events: &[Event], signed: u64, now: jiff::Timestamp, findings: &mut Vec<Finding>) {
    let tail: Vec<&Event> = events.iter().filter(|e| e.seq >= signed).collect();
    let Some(first) = tail.first() else {
        return;
    };
    let old = first.at.parse::<jiff::Timestamp>().is_ok_and(|at| {
        now.duration_since(at)
            .try_into()
            .is_ok_and(|age: Duration| age > UNSIGNED_GRACE)
    });
    if old {
        findings.push(Finding::UnsignedEvents {
            from_seq: first.seq,
            count: tail.len() as u64,
            since: first.at.clone(),
        });
    }
}

/// The flags and holds against the log: each placed one is in the index on its recording,
/// released in the index exactly when the log released it, and no recording was deleted while
/// the log had one in force on it (a row removed before a sweep).
fn check_marks(marks: &[Mark], events: &[Event], findings: &mut Vec<Finding>) {
    let by_id: HashMap<u64, &Mark> = marks.iter().map(|m| (m.id, m)).collect();
    let mut placed: HashMap<u64, (String, u64)> = HashMap::new();
    let mut released: std::collections::HashSet<u64> = std::collections::HashSet::new();
    let mut differs = |recording: &str, detail: String| {
        findings.push(Finding::MarkChanged {
            recording: recording.to_owned(),
            detail,
        })
    };
    for e in events {
        let recording = e.recording.as_deref().unwrap_or_default();
        match e.kind {
            EventKind::Flagged | EventKind::HoldPlaced => {
                let Some(id) = int_field(e, "mark_id").and_then(|n| u64::try_from(n).ok()) else {
                    continue;
                };
                match by_id.get(&id) {
                    Some(m) if m.recording == recording => {}
                    Some(_) => differs(
                        recording,
                        format!("mark {id} (event {}) moved to another recording", e.seq),
                    ),
                    None => differs(
                        recording,
                        format!("mark {id} placed by event {} is not in the index", e.seq),
                    ),
                }
                placed.insert(id, (recording.to_owned(), e.seq));
            }
            EventKind::Unflagged | EventKind::HoldReleased => {
                let ids = text_field(e, "mark_ids").unwrap_or_default();
                released.extend(
                    ids.split(',')
                        .filter_map(|id| id.trim().parse::<u64>().ok()),
                );
            }
            EventKind::Deleted => {
                for (id, (on, seq)) in &placed {
                    if on == recording && !released.contains(id) {
                        differs(
                            recording,
                            format!(
                                "deleted (event {}) while mark {id} (event {seq}) held it",
                                e.seq
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    for m in marks {
        if !placed.contains_key(&m.id) {
            differs(
                &m.recording,
                format!("mark {} has no event placing it", m.id),
            );
        } else if m.released_at.is_some() != released.contains(&m.id) {
            differs(
                &m.recording,
                format!(
                    "mark {} is released in the index but not in the log, or the reverse",
                    m.id
                ),
            );
        }
    }
}

/// The text the log holds only the hash of, kept beside it: actors' names, and unreadable dock
/// files' paths and reasons.
fn side_tables(store: &dyn Store, findings: &mut Vec<Finding>) -> Result<()> {
    for (logged, name) in store.actor_names()? {
        if crate::custody::logged_actor(&name) != logged {
            findings.push(Finding::SideTable {
                detail: format!(
                    "the actor logged as {logged} is named {name:?}, whose hash differs"
                ),
            });
        }
    }
    for u in store.unreadable_sources()? {
        let hashed = |key: &str, text: &str| {
            text_field(&u.event, key).is_none_or(|h| h == Digest::of(text.as_bytes()).to_hex())
        };
        if !hashed("source_sha256", &u.source) || !hashed("reason_sha256", &u.reason) {
            findings.push(Finding::SideTable {
                detail: format!(
                    "the path or reason kept for unreadable event {} differs from its hashes",
                    u.event.seq
                ),
            });
        }
    }
    Ok(())
}

/// Files under `masters/` that no recording claims.
fn unrecorded_masters(
    home: &Home,
    recordings: &[Recording],
    findings: &mut Vec<Finding>,
) -> Result<()> {
    let claimed: std::collections::HashSet<&str> =
        recordings.iter().map(|r| r.master_path.as_str()).collect();
    let mut paths: Vec<String> = home
        .blobs()
        .list("masters/")?
        .into_iter()
        .filter(|key| !claimed.contains(key.as_str()))
        .collect();
    paths.sort();
    findings.extend(
        paths
            .into_iter()
            .map(|path| Finding::UnrecordedMaster { path }),
    );
    Ok(())
}

/// The derived files the index accounts for.
#[derive(Default)]
struct Claimed {
    /// Artefacts' paths.
    files: std::collections::HashSet<String>,
    /// Whole folders (`derived/<id>/`).
    folders: std::collections::HashSet<String>,
}

/// Files under `derived/` that the index does not account for.
fn unrecorded_files(home: &Home, claimed: &Claimed, findings: &mut Vec<Finding>) -> Result<()> {
    let mut paths: Vec<String> = home
        .blobs()
        .list("derived/")?
        .into_iter()
        .filter(|key| {
            !claimed.files.contains(key) && !claimed.folders.iter().any(|f| key.starts_with(f))
        })
        .collect();
    paths.sort();
    findings.extend(
        paths
            .into_iter()
            .map(|path| Finding::UnrecordedFile { path }),
    );
    Ok(())
}

/// Re-hashes one file; true when it is present and unchanged.
fn check_file(
    home: &Home,
    rec: &Recording,
    what: &str,
    path: &str,
    expected: &Digest,
    findings: &mut Vec<Finding>,
) -> bool {
    match home.blobs().hash(path) {
        Ok(Some((actual, _))) if actual == *expected => true,
        Ok(Some((actual, _))) => {
            findings.push(Finding::ChangedFile {
                recording: rec.id.clone(),
                what: what.to_owned(),
                path: path.to_owned(),
                expected: *expected,
                actual,
            });
            false
        }
        Ok(None) | Err(_) => {
            findings.push(Finding::MissingFile {
                recording: rec.id.clone(),
                what: what.to_owned(),
                path: path.to_owned(),
            });
            false
        }
    }
}

fn text_field<'a>(e: &'a Event, key: &str) -> Option<&'a str> {
    match e.fields.get(key) {
        Some(Field::Text(s)) => Some(s),
        _ => None,
    }
}

fn int_field(e: &Event, key: &str) -> Option<i64> {
    match e.fields.get(key) {
        Some(Field::Int(n)) => Some(*n),
        _ => None,
    }
}

/// Checks the index row against what the log says about it: the master hash and size at ingest,
/// and the frame-hash root, frame count and artefact list at processing.
fn check_against_log(
    rec: &Recording,
    artefacts: &[Artefact],
    logged: &[&Event],
    findings: &mut Vec<Finding>,
) {
    let mut differs = |detail: String| {
        findings.push(Finding::RecordChanged {
            recording: rec.id.clone(),
            detail,
        })
    };
    match logged.iter().find(|e| e.kind == EventKind::Ingested) {
        None => differs("no ingested event in the log".into()),
        Some(e) => {
            if text_field(e, "master_sha256") != Some(rec.master_sha256.to_hex().as_str()) {
                differs(format!("master SHA-256 differs from event {}", e.seq));
            }
            if int_field(e, "size") != i64::try_from(rec.master_size).ok() {
                differs(format!("master size differs from event {}", e.seq));
            }
            // Logged since session 11; older events lack it.
            if let Some(logged) = text_field(e, "metadata_sha256")
                && logged != rec.metadata_digest().to_hex()
            {
                differs(format!(
                    "recording time, officer, device, file name or sidecar fields differ from \
                     event {}",
                    e.seq
                ));
            }
        }
    }
    if rec.status == Status::Quarantined {
        // Logged as a hash since session 15; older events hold the text.
        let why = rec.reason.as_deref().unwrap_or_default();
        if let Some(e) = logged
            .iter()
            .rev()
            .find(|e| e.kind == EventKind::Quarantined)
            && let Some(logged) = text_field(e, "reason_sha256")
            && logged != Digest::of(why.as_bytes()).to_hex()
        {
            differs(format!("quarantine reason differs from event {}", e.seq));
        }
    }
    if rec.status != Status::Ready {
        return;
    }
    let Some(e) = logged.iter().rev().find(|e| e.kind == EventKind::Processed) else {
        differs("ready, but no processed event in the log".into());
        return;
    };
    let Some(media) = &rec.media else {
        differs("ready, but the index has no media record".into());
        return;
    };
    if text_field(e, "frame_hash_root") != Some(media.frame_hash_root.to_hex().as_str()) {
        differs(format!("frame-hash root differs from event {}", e.seq));
    }
    if int_field(e, "frames") != i64::try_from(media.frames).ok() {
        differs(format!("frame count differs from event {}", e.seq));
    }
    // Damage found at ingest is on the record: the index may not hide it.
    let logged_damage = (
        int_field(e, "container_frames"),
        int_field(e, "undecodable_frames"),
    );
    let indexed_damage = media.damage_counts().map_or((None, None), |(c, u)| {
        (i64::try_from(c).ok(), i64::try_from(u).ok())
    });
    if indexed_damage != logged_damage {
        differs(format!(
            "damage (frames missing or undecodable) differs from event {}",
            e.seq
        ));
    }
    // The processed event binds the ingest outputs; each later derivative has its own event.
    let (later, ingested): (Vec<Artefact>, Vec<Artefact>) = artefacts
        .iter()
        .cloned()
        .partition(|a| a.kind == ArtefactKind::Redacted);
    if let Some(logged_set) = text_field(e, "artefact_set")
        && logged_set != crate::custody::artefact_set_digest(&ingested).to_hex()
    {
        differs(format!("artefact list differs from event {}", e.seq));
    }
    for a in later {
        let logged = logged.iter().any(|e| {
            e.kind == EventKind::RedactionRendered
                && text_field(e, "output_sha256") == Some(a.sha256.to_hex().as_str())
        });
        if !logged {
            differs(format!(
                "{} {} has no redaction_rendered event",
                a.kind.as_str(),
                a.path
            ));
        }
    }
}

/// A deleted recording: its tombstone is in the log with the same master hash, and its files
/// are gone.
fn check_deleted(home: &Home, rec: &Recording, logged: &[&Event], findings: &mut Vec<Finding>) {
    let tomb = logged.iter().rev().find(|e| e.kind == EventKind::Deleted);
    if tomb.and_then(|e| text_field(e, "master_sha256"))
        != Some(rec.master_sha256.to_hex().as_str())
    {
        findings.push(Finding::RecordChanged {
            recording: rec.id.clone(),
            detail: "marked deleted, but the log has no matching deleted event".into(),
        });
    }
    // Anything still stored (or that cannot be checked) is a finding.
    let blobs = home.blobs();
    let derived = Home::derived_rel(&rec.id);
    let plans = Home::plans_rel(&rec.id);
    let master_left = !matches!(blobs.exists(&rec.master_path), Ok(false));
    let left_under =
        |prefix: &str| !matches!(blobs.list(&format!("{prefix}/")), Ok(keys) if keys.is_empty());
    for (left, path) in [
        (master_left, rec.master_path.clone()),
        (left_under(&derived), derived.clone()),
        (left_under(&plans), plans.clone()),
    ] {
        if left {
            findings.push(Finding::NotDeleted {
                recording: rec.id.clone(),
                path,
            });
        }
    }
}

/// Collects frame hashes in memory (32 bytes a frame).
#[derive(Debug, Default)]
struct Rehash {
    pairs: frame::PairHasher,
    hashes: Vec<Digest>,
}

impl FrameSink for Rehash {
    fn frame(&mut self, f: &Frame<'_>) -> std::result::Result<(), (Stage, String)> {
        let hashed = self.pairs.push(f).map_err(|r| (Stage::FrameHash, r))?;
        self.hashes.extend(hashed.iter().map(|h| h.digest));
        Ok(())
    }
}

/// Re-decodes the master and compares every frame hash with the stored list and the root.
fn deep_check(
    home: &Home,
    scratch: &std::path::Path,
    rec: &Recording,
    artefacts: &[Artefact],
    opts: &Options,
    findings: &mut Vec<Finding>,
) -> Option<u64> {
    let mut fail = |detail: String| {
        findings.push(Finding::FrameHashes {
            recording: rec.id.clone(),
            detail,
        });
        None
    };
    let local = |key: &str| home.blobs().local(key, scratch);
    let master = match local(&rec.master_path) {
        Ok(path) => path,
        Err(e) => return fail(format!("master: {}", e.reason())),
    };
    let stall = opts
        .stall_timeout
        .unwrap_or(pipeline::DEFAULT_STALL_TIMEOUT);
    let hashes = match pipeline::run(
        &master,
        pipeline::Sound::None,
        &[],
        Rehash::default(),
        stall,
    ) {
        Ok((_, mut sink)) => match sink.pairs.finish() {
            Ok(last) => {
                sink.hashes.extend(last.map(|h| h.digest));
                sink.hashes
            }
            Err(reason) => return fail(format!("re-decode failed: {reason}")),
        },
        Err(e) => return fail(format!("re-decode failed: {}", e.reason())),
    };
    let mut tree = Frontier::new();
    for h in &hashes {
        tree.push(&h.0);
    }
    if let Some(media) = &rec.media
        && tree.root() != media.frame_hash_root
    {
        return fail(format!(
            "{} re-decoded frames hash to root {}, the index holds {}",
            hashes.len(),
            tree.root(),
            media.frame_hash_root
        ));
    }
    let find = |k: ArtefactKind| artefacts.iter().find(|a| a.kind == k);
    if let (Some(h), Some(t)) = (
        find(ArtefactKind::FrameHashes),
        find(ArtefactKind::FrameTimes),
    ) {
        let files = local(&h.path).and_then(|hashes| Ok((hashes, local(&t.path)?)));
        match files.and_then(|(hashes, times)| hash::read_frames(&hashes, &times)) {
            Ok(stored) => {
                if stored.len() != hashes.len() {
                    return fail(format!(
                        "{} frames re-decoded, {} stored",
                        hashes.len(),
                        stored.len()
                    ));
                }
                if let Some(i) = stored.iter().zip(&hashes).position(|(s, h)| s.2 != *h) {
                    return fail(format!("frame {i} differs from the stored hash"));
                }
            }
            Err(e) => return fail(e.reason()),
        }
    }
    Some(hashes.len() as u64)
}
