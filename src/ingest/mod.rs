//! Ingest: dock files become preserved, hashed, viewable evidence.
//!
//! Per item: store the master (copy + SHA-256 in one read) → duplicate check → probe → create the
//! recording with its `ingested` event → optionally remove the dock copy → decode once into frame
//! hashes, thumbnails and the proxy → record artefacts with the `processed` event. Content that
//! cannot be processed is quarantined (master kept, event with the reason). An interrupted item
//! is resumed by the next run: its master is found by hash with status `processing`.

pub mod master;
pub mod scan;
pub mod sidecar;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::clock::{self, Clock};
use crate::custody::{
    Artefact, ArtefactKind, EventDraft, EventKind, MediaInfo, Outcome, Recording, Status, Store,
    TimeSource,
};
use crate::digest::{Digest, hash_file};
use crate::error::{Error, Result, Stage};
use crate::home::{Home, sync_dir};
use crate::media::tool_version;
use crate::media::{self, pipeline, probe};
use crate::progress::{Progress, ProgressEvent};
use crate::stages::{hash, thumbs, transcode};
pub use scan::DockItem;

/// Actor name written in ingest events.
pub const ACTOR: &str = "bwv-ingest";

/// Frozen ingest settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Remove dock copies once their master is stored and verified, the item is ready, and
    /// the dock copy is unchanged since it was read and has not been written for `settle`.
    pub delete_source: bool,
    /// How long a dock file must have gone unwritten before `delete_source` removes it.
    pub settle: Duration,
    /// A pipeline with no new frame for this long is stalled.
    pub stall_timeout: Duration,
    /// Probe time limit in seconds.
    pub probe_timeout_s: u64,
    /// Thumbnail settings.
    pub thumbs: thumbs::Settings,
    /// Testing aid: abort the process at this named point ("master-stored", "recording-created",
    /// "published"), or SIGKILL it there with a `kill:` prefix, to prove that an interrupted
    /// ingest resumes cleanly.
    pub crash_at: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            delete_source: false,
            settle: DEFAULT_SETTLE,
            stall_timeout: pipeline::DEFAULT_STALL_TIMEOUT,
            probe_timeout_s: probe::DEFAULT_PROBE_TIMEOUT_S,
            thumbs: thumbs::Settings::default(),
            crash_at: None,
        }
    }
}

/// Why the recording's sidecar was refused at ingest, if it was (kept in its `extra`).
fn sidecar_error(rec: &Recording) -> Option<&str> {
    rec.extra
        .get("sidecar_error")
        .and_then(serde_json::Value::as_str)
}

/// Default settle time for `delete_source`.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);

/// How an item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Stored and processed.
    Ingested,
    /// Its bytes were already stored.
    Duplicate,
    /// Stored but not processable; quarantined.
    Quarantined,
    /// Not stored or not finished (see `error`).
    Failed,
}

/// One line of the ingest report.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    /// The dock file.
    pub source: PathBuf,
    /// Recording id, once created.
    pub id: Option<String>,
    /// SHA-256 of the master.
    pub master_sha256: Option<Digest>,
    /// Outcome.
    pub status: ItemStatus,
    /// Frames decoded.
    pub frames: Option<u64>,
    /// RFC 6962 root over frame hashes.
    pub frame_hash_root: Option<Digest>,
    /// Derived files.
    pub artefacts: Vec<Artefact>,
    /// The one-line reason, for quarantined and failed items.
    pub error: Option<String>,
}

impl ItemReport {
    /// Whether this item should make the batch exit non-zero.
    pub fn is_failure(&self) -> bool {
        matches!(self.status, ItemStatus::Quarantined | ItemStatus::Failed)
    }
}

/// Everything an ingest run needs, passed in (no process-wide state).
#[derive(Debug)]
pub struct Ingest<'a> {
    /// The store's folders.
    pub home: &'a Home,
    /// The custody index.
    pub store: &'a dyn Store,
    /// Time source.
    pub clock: &'a dyn Clock,
    /// Settings.
    pub settings: &'a Settings,
    /// Progress sink.
    pub progress: Arc<dyn Progress>,
}

impl Ingest<'_> {
    /// Ingests `items` on `pool`, working in a scratch folder of its own; `done` sees each
    /// report as soon as its item's events are committed; the returned reports are in item
    /// order. Fails only if the scratch folder cannot be made.
    pub fn run(
        &self,
        items: &[DockItem],
        pool: &rayon::ThreadPool,
        done: &(dyn Fn(&ItemReport) + Sync),
    ) -> Result<Vec<ItemReport>> {
        let scratch = self.home.scratch()?;
        self.progress
            .event(ProgressEvent::Batch { items: items.len() });
        Ok(crate::batch::run(pool, items, |i, item| {
            let report = self.item(i, item, scratch.path());
            self.progress.event(ProgressEvent::Finished { item: i });
            done(&report);
            report
        }))
    }

    /// Ingests one dock file. Never panics on bad input; the report carries any error.
    fn item(&self, index: usize, item: &DockItem, scratch: &Path) -> ItemReport {
        let mut report = ItemReport {
            source: item.path.clone(),
            id: None,
            master_sha256: None,
            status: ItemStatus::Failed,
            frames: None,
            frame_hash_root: None,
            artefacts: Vec::new(),
            error: None,
        };
        if let Err(e) = self.try_item(index, item, scratch, &mut report) {
            if report.status != ItemStatus::Quarantined {
                report.status = ItemStatus::Failed;
            }
            report.error = Some(e.to_string());
        }
        report
    }

    fn try_item(
        &self,
        index: usize,
        item: &DockItem,
        scratch: &Path,
        report: &mut ItemReport,
    ) -> Result<()> {
        // Nothing is preserved of a link or an unreadable file; the index still learns of it.
        let unreadable = |e: Error| -> Result<()> {
            let source = item.path.display().to_string();
            let reason = e.reason();
            let draft = EventDraft::new(EventKind::Unreadable, None, ACTOR)
                .with("source_sha256", Digest::of(source.as_bytes()))
                .with("reason_sha256", Digest::of(reason.as_bytes()));
            self.store.add_unreadable(&source, &reason, draft)?;
            Err(e)
        };
        if let Some(target) = &item.link {
            return unreadable(scan::not_followed(&item.path, target));
        }
        // The dock file as it was before it was read, to tell whether it changed meanwhile.
        let seen = std::fs::metadata(&item.path)
            .ok()
            .map(|m| (m.len(), m.modified().ok()));
        let stored = match self
            .fault_point(&item.path, "master")
            .and_then(|()| master::store(self.home, scratch, &item.path))
        {
            Ok(m) => m,
            // Out of space or quota: nothing is wrong with the file, and nothing was stored;
            // the next run tries again.
            Err(e) if e.kind() == crate::ErrorKind::Busy => return Err(e),
            Err(e) => return unreadable(e),
        };
        report.master_sha256 = Some(stored.sha256);
        // Dock copies of the same bytes (in this run or another process's) are taken one after
        // the other: the later one finds the recording the first made and reports a
        // duplicate, instead of both creating or resuming it at once.
        let _claim = self.home.claim(&stored.sha256)?;
        self.crash_point("master-stored");
        let master_path = self.home.blobs().local(&stored.rel_path, scratch)?;
        let probed = || probe::probe(&master_path, self.settings.probe_timeout_s);
        let (rec, probe) = match self.store.recording_by_master(&stored.sha256)? {
            // Deleted under retention: its footage stays deleted. The copy this run stored goes
            // again; the attempt is on the record and the dock copy is left alone.
            Some(rec) if rec.deletion.is_some() => {
                self.home.blobs().delete(&stored.rel_path)?;
                report.id = Some(rec.id.clone());
                let draft = EventDraft::new(EventKind::Duplicate, Some(&rec.id), ACTOR)
                    .with("master_sha256", stored.sha256)
                    .with("stored", "no: the recording was deleted");
                self.store.append(draft)?;
                let when = rec.deletion.as_ref().map_or("", |d| d.at.as_str());
                return Err(Error::OfDeleted {
                    path: item.path.clone(),
                    reason: format!(
                        "the bytes of recording {}, deleted at {when} under the retention \
                         policy: not stored again",
                        rec.id
                    ),
                });
            }
            Some(rec) if rec.status != Status::Processing => {
                report.id = Some(rec.id.clone());
                report.status = ItemStatus::Duplicate;
                let draft = EventDraft::new(EventKind::Duplicate, Some(&rec.id), ACTOR)
                    .with("master_sha256", stored.sha256);
                self.store.append(draft)?;
                self.remove_source(item, &rec, seen, report);
                return Ok(());
            }
            Some(rec) => (rec, probed()),
            None => {
                let probe = probed();
                let rec = self.new_recording(item, &stored, probe.as_ref().ok());
                let draft = EventDraft::new(EventKind::Ingested, Some(&rec.id), ACTOR)
                    .with("master_sha256", stored.sha256)
                    .with("size", stored.size)
                    .with("metadata_sha256", rec.metadata_digest());
                self.store.create_recording(&rec, draft)?;
                (rec, probe)
            }
        };
        report.id = Some(rec.id.clone());
        self.crash_point("recording-created");

        let result = probe.and_then(|p| {
            self.fault_point(&item.path, "decode")?;
            self.process(index, &rec, &master_path, &p, scratch)
        });
        match result {
            Ok((media, artefacts)) => {
                let mut draft = EventDraft::new(EventKind::Processed, Some(&rec.id), ACTOR)
                    .with("frames", media.frames)
                    .with("frame_hash_root", media.frame_hash_root)
                    .with("artefacts", artefacts.len() as u64)
                    .with(
                        "artefact_set",
                        crate::custody::artefact_set_digest(&artefacts),
                    )
                    .with("tool_version", tool_version());
                // Footage that decoded incomplete is kept and processed, and marked as such:
                // on the record, in the index, and as the item's error.
                if let Some((container, undecodable)) = media.damage_counts() {
                    draft = draft
                        .with("container_frames", container)
                        .with("undecodable_frames", undecodable);
                }
                let damage = media.damage();
                report.frames = Some(media.frames);
                report.frame_hash_root = Some(media.frame_hash_root);
                self.store.finish_recording(
                    &rec.id,
                    &Outcome::Ready {
                        media: Box::new(media.clone()),
                        artefacts: artefacts.clone(),
                    },
                    draft,
                )?;
                report.artefacts = artefacts;
                report.status = ItemStatus::Ingested;
                let notes: Vec<String> = damage
                    .map(|why| {
                        format!(
                            "{}: decode: {why}; ingested and marked damaged",
                            item.path.display()
                        )
                    })
                    .into_iter()
                    .chain(
                        sidecar_error(&rec)
                            .zip(item.sidecar.as_ref())
                            .map(|(why, side)| {
                                format!(
                                    "{}: sidecar: {why}; its fields are not recorded",
                                    side.display()
                                )
                            }),
                    )
                    .collect();
                if !notes.is_empty() {
                    report.error = Some(notes.join("; "));
                }
                let rec = Recording {
                    status: Status::Ready,
                    media: Some(media),
                    ..rec
                };
                self.remove_source(item, &rec, seen, report);
                Ok(())
            }
            // The content is the problem: keep the master, quarantine it, say why.
            Err(Error::Media { stage, reason, .. }) => {
                // The reason (which may quote names from the file) is kept in the index; the
                // log holds the stage and the reason's hash.
                let why = format!("{stage}: {reason}");
                let draft = EventDraft::new(EventKind::Quarantined, Some(&rec.id), ACTOR)
                    .with("master_sha256", rec.master_sha256)
                    .with("stage", stage.to_string())
                    .with("reason_sha256", Digest::of(why.as_bytes()));
                self.store.finish_recording(
                    &rec.id,
                    &Outcome::Quarantined { reason: why },
                    draft,
                )?;
                report.status = ItemStatus::Quarantined;
                // Reported against the dock file the operator knows, not the stored master.
                Err(Error::Media {
                    path: item.path.clone(),
                    stage,
                    reason,
                })
            }
            // Anything else (disk full, index error) leaves it `processing` for the next run.
            Err(e) => Err(e),
        }
    }

    fn new_recording(
        &self,
        item: &DockItem,
        stored: &master::StoredMaster,
        probe: Option<&probe::Probe>,
    ) -> Recording {
        let side = item
            .sidecar
            .as_deref()
            .map(|p| sidecar::read(p, self.clock.now()));
        let (side, side_error) = match side {
            Some(Ok(s)) => (s, None),
            Some(Err(Error::Sidecar { reason, .. })) => (sidecar::Sidecar::default(), Some(reason)),
            Some(Err(e)) => (sidecar::Sidecar::default(), Some(e.to_string())),
            None => (sidecar::Sidecar::default(), None),
        };
        let (recorded_at, source) = if let Some(t) = side.recorded_at {
            (t, TimeSource::Sidecar)
        } else if let Some(t) = probe.and_then(|p| p.created) {
            (t, TimeSource::Container)
        } else {
            let mtime = std::fs::metadata(&item.path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| jiff::Timestamp::try_from(t).ok());
            (
                mtime.unwrap_or_else(|| self.clock.now()),
                TimeSource::FileTime,
            )
        };
        let mut extra = side.extra;
        if let Some(e) = side_error {
            extra.insert("sidecar_error".into(), serde_json::Value::String(e));
        }
        Recording {
            id: stored.sha256.to_hex()[..16].to_owned(),
            master_sha256: stored.sha256,
            master_size: stored.size,
            master_path: stored.rel_path.clone(),
            source_name: file_name(&item.path),
            status: Status::Processing,
            reason: None,
            officer_id: side.officer_id,
            device_id: side.device_id,
            recorded_at: clock::canonical(recorded_at),
            recorded_at_source: source,
            ingested_at: clock::canonical(self.clock.now()),
            extra: serde_json::Value::Object(extra),
            media: None,
            deletion: None,
        }
    }

    fn crash_point(&self, name: &str) {
        let Some(at) = self.settings.crash_at.as_deref() else {
            return;
        };
        if at == name {
            std::process::abort();
        }
        // `kill:NAME`: the process is SIGKILLed there, as an operator or the OOM killer would.
        if at.strip_prefix("kill:") == Some(name) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &std::process::id().to_string()])
                .status();
            loop {
                std::thread::park();
            }
        }
    }

    /// Testing aid: `crash_at = "enospc:master"` or `"enospc:decode"` fails that stage as a
    /// full disk does (the copy's write fails; GStreamer's file sink reports the OS error).
    fn fault_point(&self, item: &Path, stage: &str) -> Result<()> {
        let Some(point) = self.settings.crash_at.as_deref() else {
            return Ok(());
        };
        match point.strip_prefix("enospc:") {
            Some("master") if stage == "master" => Err(Error::io(item, Stage::Master, "write")(
                std::io::Error::from(std::io::ErrorKind::StorageFull),
            )),
            // What GStreamer's file sink says, through the pipeline's own classification.
            Some("decode") if stage == "decode" => Err(pipeline::failure(
                item,
                Stage::Transcode,
                "Could not write to resource: Error while writing to file: No space left on \
                 device"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// With `--delete-source`, removes the dock copy and its sidecar when that is safe, else
    /// notes on the report why the copy is kept (the item itself stays as it ended).
    fn remove_source(
        &self,
        item: &DockItem,
        rec: &Recording,
        seen: Option<(u64, Option<SystemTime>)>,
        report: &mut ItemReport,
    ) {
        if let Err(e) = self.try_remove_source(item, rec, seen) {
            report.error = Some(match report.error.take() {
                Some(before) => format!("{before}; {e}"),
                None => e.to_string(),
            });
        }
    }

    /// Removes the dock copy only when its recording is ready (quarantined content may be a
    /// file still arriving, and is never removed), the copy has the size and modification time
    /// it had before it was read and has not been written for the settle time, its bytes hash
    /// to the master's SHA-256, and the stored master still does.
    fn try_remove_source(
        &self,
        item: &DockItem,
        rec: &Recording,
        seen: Option<(u64, Option<SystemTime>)>,
    ) -> Result<()> {
        if !self.settings.delete_source || rec.status != Status::Ready {
            return Ok(());
        }
        let kept = |reason: String| Error::SourceKept {
            path: item.path.clone(),
            reason,
        };
        if let Some(why) = sidecar_error(rec) {
            return Err(kept(format!(
                "its sidecar was not usable ({why}) and its fields are not recorded: the dock \
                 copy and the sidecar stay for a person to mend"
            )));
        }
        if rec
            .media
            .as_ref()
            .and_then(MediaInfo::damage_counts)
            .is_some()
        {
            return Err(kept(
                "it decoded incomplete: the dock copy stays, in case the camera holds a whole one"
                    .into(),
            ));
        }
        let now = std::fs::metadata(&item.path).map_err(Error::io(
            &item.path,
            Stage::Master,
            "stat dock copy",
        ))?;
        let (size, modified) = (now.len(), now.modified().ok());
        if seen != Some((size, modified)) || size != rec.master_size {
            return Err(kept(format!(
                "it changed while it was ingested ({} bytes before, {size} now; the master has \
                 {}): ingest it again once it is complete",
                seen.map_or("?".into(), |(s, _)| s.to_string()),
                rec.master_size
            )));
        }
        // File-system time, not the store's clock: the age of a write is what matters here.
        let age = modified
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .unwrap_or_default();
        if age < self.settings.settle {
            return Err(kept(format!(
                "written {:.0} s ago, under the {} s settle time (it may still be being \
                 written): a later run removes it",
                age.as_secs_f64(),
                self.settings.settle.as_secs()
            )));
        }
        let (dock_sha, _) =
            hash_file(&item.path).map_err(Error::io(&item.path, Stage::Master, "re-read"))?;
        if dock_sha != rec.master_sha256 {
            return Err(kept(format!(
                "its SHA-256 is now {dock_sha}, the master's {}",
                rec.master_sha256
            )));
        }
        match self.home.blobs().hash(&rec.master_path)? {
            Some((sha, _)) if sha == rec.master_sha256 => {}
            found => {
                return Err(Error::Integrity(format!(
                    "{}: the stored master no longer holds SHA-256 {} (found {:?}): dock copy kept",
                    rec.master_path,
                    rec.master_sha256,
                    found.map(|(sha, _)| sha.to_hex())
                )));
            }
        }
        for p in std::iter::once(&item.path).chain(&item.sidecar) {
            std::fs::remove_file(p).map_err(Error::io(p, Stage::Master, "remove dock copy"))?;
        }
        if let Some(dir) = item.path.parent() {
            sync_dir(dir)?;
        }
        let draft = EventDraft::new(EventKind::SourceRemoved, Some(&rec.id), ACTOR)
            .with("master_sha256", rec.master_sha256);
        self.store.append(draft)?;
        Ok(())
    }

    /// Decodes once into every derived output; returns what to record.
    fn process(
        &self,
        index: usize,
        rec: &Recording,
        master: &Path,
        probe: &probe::Probe,
        scratch: &Path,
    ) -> Result<(MediaInfo, Vec<Artefact>)> {
        let work = scratch.join(&rec.id);
        if work.exists() {
            std::fs::remove_dir_all(&work).map_err(Error::io(&work, Stage::Output, "clear"))?;
        }
        std::fs::create_dir_all(&work).map_err(Error::io(&work, Stage::Output, "create folder"))?;

        self.progress.event(ProgressEvent::Started {
            item: index,
            name: rec.source_name.clone(),
            frames: probe.expected_frames(),
        });
        let sink = IngestSink {
            hasher: hash::FrameHasher::create(&work)?,
            thumbs: thumbs::Thumbnailer::new(self.settings.thumbs, &work, probe.duration_ns),
            progress: Arc::clone(&self.progress),
            item: index,
        };
        let proxy_path = work.join(transcode::PROXY_FILE);
        let branches = [transcode::proxy_branch(&proxy_path)];
        let (decoded, sink) = pipeline::run(
            master,
            probe.sound,
            &branches,
            sink,
            self.settings.stall_timeout,
        )?;
        let hashes = sink.hasher.finish()?;
        let thumbs = sink.thumbs.finish()?;
        // The muxer writes the wall-clock time into the proxy's headers; the recording's time
        // replaces it, so the proxy is a function of the master alone.
        let stamp_failed = |reason: String| Error::Media {
            path: proxy_path.clone(),
            stage: Stage::Transcode,
            reason,
        };
        let recorded: jiff::Timestamp = rec
            .recorded_at
            .parse()
            .map_err(|e| stamp_failed(format!("recorded_at {}: {e}", rec.recorded_at)))?;
        media::mp4time::stamp(&proxy_path, recorded.as_second())
            .map_err(|e| stamp_failed(e.to_string()))?;
        crate::stages::fsync(&proxy_path, Stage::Transcode)?;

        let rel = Home::derived_rel(&rec.id);
        let version = tool_version();
        let thumb_params = self.settings.thumbs.params();
        let mut files: Vec<(ArtefactKind, PathBuf, serde_json::Value)> = vec![
            (
                ArtefactKind::FrameHashes,
                hashes.hashes_path,
                serde_json::json!({"definition": "sha256 of tight native planes", "pixel_format": decoded.info.format().to_str().as_str()}),
            ),
            (
                ArtefactKind::FrameTimes,
                hashes.times_path,
                serde_json::json!({"unit": "ns stream time, u64 le"}),
            ),
            (ArtefactKind::Poster, thumbs.poster, thumb_params.clone()),
        ];
        files.extend(
            thumbs
                .thumbnails
                .into_iter()
                .map(|p| (ArtefactKind::Thumbnail, p, thumb_params.clone())),
        );
        files.push((ArtefactKind::ContactSheet, thumbs.sheet, thumb_params));
        files.push((
            ArtefactKind::Proxy,
            proxy_path,
            transcode::proxy_params(
                probe.sound,
                &decoded.info,
                decoded.shrunk.first().copied().unwrap_or(false),
            ),
        ));
        let artefacts = files
            .into_iter()
            .map(|(kind, work_path, params)| {
                let path = format!("{rel}/{}", file_name(&work_path));
                let (sha256, size) =
                    hash_file(&work_path).map_err(Error::io(&work_path, Stage::Output, "hash"))?;
                Ok(Artefact {
                    kind,
                    path,
                    sha256,
                    size,
                    parent_sha256: rec.master_sha256,
                    tool: "bwv".into(),
                    tool_version: version.clone(),
                    params,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Publish the finished folder whole (replacing one a crashed run published but never
        // recorded).
        self.home.blobs().publish_dir(&format!("{rel}/"), &work)?;
        self.crash_point("published");

        let fps = decoded.info.fps();
        let undecodable_frames = undecodable(probe, &decoded, hashes.frames);
        let media = MediaInfo {
            container: probe.container.clone(),
            video_codec: probe.video_codec.clone(),
            audio_codec: probe.audio_codec.clone(),
            width: decoded.info.width(),
            height: decoded.info.height(),
            fps_num: fps.numer(),
            fps_den: fps.denom(),
            frames: hashes.frames,
            duration_ns: decoded.end_ns,
            pixel_format: decoded.info.format().to_str().to_string(),
            colorimetry: decoded.info.colorimetry().to_string(),
            decoder: decoded.decoder,
            gstreamer_version: media::gstreamer_version(),
            frame_hash_root: hashes.root,
            container_frames: probe.expected_frames(),
            undecodable_frames,
        };
        Ok((media, artefacts))
    }
}

/// Coded frames the decoder returned no picture for. Counted for progressive H.264 and H.265
/// only, where every coded frame is one picture (VP8, VP9 and AV1 may carry hidden frames, and
/// interlaced video a field per buffer).
fn undecodable(probe: &probe::Probe, decoded: &pipeline::DecodeReport, frames: u64) -> u64 {
    let one_picture_each = ["H.264", "H.265"]
        .iter()
        .any(|c| probe.video_codec.contains(c))
        && decoded.info.interlace_mode() == gstreamer_video::VideoInterlaceMode::Progressive;
    match decoded.coded_frames {
        Some(coded) if one_picture_each => coded.saturating_sub(frames),
        _ => 0,
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The frame consumer for ingest: hash every frame, thumbnail some, report progress.
#[derive(Debug)]
struct IngestSink {
    hasher: hash::FrameHasher,
    thumbs: thumbs::Thumbnailer,
    progress: Arc<dyn Progress>,
    item: usize,
}

impl pipeline::FrameSink for IngestSink {
    fn frame(&mut self, f: &pipeline::Frame<'_>) -> std::result::Result<(), (Stage, String)> {
        self.hasher.push(f)?;
        self.thumbs.push(f)?;
        if f.index.is_multiple_of(15) {
            self.progress.event(ProgressEvent::Frames {
                item: self.item,
                done: f.index + 1,
            });
        }
        Ok(())
    }
}
