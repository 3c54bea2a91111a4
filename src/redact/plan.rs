//! The redaction plan: one decode of the master runs the detector (every `detect_every`-th
//! frame), the tracker links the detections, and the plan lists every track with its boxes.
//! A preview sheet shows a labelled face crop per track so an operator can tell which track is
//! the requester.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::detect::{DetectSettings, Detection, Detector, Region, RgbSource, Yuv420};
use super::doubt::{self, Unmasked};
use super::identity::{self, Look};
use super::mask::Ellipse;
use super::render::{MaskStyle, Masks, RenderSettings};
use super::track::{Track, TrackBox, TrackSettings, Tracker};
use crate::custody::{Recording, Status};
use crate::digest::Digest;
use crate::error::{Error, Result, Stage};
use crate::media::pipeline::{self, DecodeReport, Frame, FrameSink};
use crate::stages::{label, thumbs};

/// Format name written in every plan.
pub const PLAN_FORMAT: &str = "bwv-redaction-plan/1";

/// How the plan is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSettings {
    /// Detector settings (a plan records those of the detector that made it).
    pub detect: DetectSettings,
    /// Run the detector on every n-th frame (tracking covers the frames between).
    pub detect_every: u64,
    /// Search the whole frame on every n-th of those detection frames; the ones between look
    /// for the faces already followed, near where their motion puts them, at a size fitted to
    /// each (see [`crate::redact::detect::Detector::detect_tracked`]). A new face is then found
    /// at the next whole-frame search and looked for back from there (`look_back`). 1 searches
    /// every detection frame (and plans made before this setting did).
    #[serde(default = "one")]
    pub search_every: u64,
    /// Also look for each new track's face on the next frame (around it only), so its motion
    /// is known before the next detection frame (absent from older plans: off).
    #[serde(default)]
    pub confirm_new: bool,
    /// Also run the detector on the recording's last frame, so a face that comes into view
    /// after the last detection frame is still found (absent from older plans: off).
    #[serde(default)]
    pub detect_last: bool,
    /// Also look for each new track's face on the frames since the previous detection frame,
    /// back from where it was found, so its mask starts where the face does rather than a
    /// fixed lead-in before (absent from older plans: off).
    #[serde(default)]
    pub look_back: bool,
    /// Tracker settings.
    pub tracking: TrackSettings,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            detect: DetectSettings::default(),
            detect_every: 3,
            search_every: 1,
            confirm_new: true,
            detect_last: true,
            look_back: true,
            tracking: TrackSettings::default(),
        }
    }
}

fn one() -> u64 {
    1
}

/// A redaction plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT`].
    pub format: String,
    /// The recording planned.
    pub recording: String,
    /// Its master's SHA-256 (a plan only applies to these bytes).
    pub master_sha256: Digest,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames decoded.
    pub frames: u64,
    /// Frame rate numerator.
    pub fps_num: i32,
    /// Frame rate denominator.
    pub fps_den: i32,
    /// SHA-256 of the face model.
    pub model_sha256: Digest,
    /// Engine and version.
    pub engine: String,
    /// The CPU's extensions that chose the engine's kernels ([`super::model::cpu_features`];
    /// absent from older plans). The 8-bit model's detections are the same on every CPU.
    #[serde(default)]
    pub cpu: String,
    /// How it was made.
    pub settings: PlanSettings,
    /// Faces found, with a box for every frame each covers.
    pub tracks: Vec<Track>,
    /// Regions where the detector scored something just under the threshold (from
    /// `recheck_from`), not found on a closer look, and no track masks: for a reviewer to
    /// check (absent from older plans).
    #[serde(default)]
    pub unmasked: Vec<Unmasked>,
}

/// What the detector and tracker found in a recording.
pub(crate) struct Findings {
    /// The tracks.
    pub(crate) tracks: Vec<Track>,
    /// The doubtful candidates no track masks.
    pub(crate) unmasked: Vec<Unmasked>,
}

impl Plan {
    /// SHA-256 of the plan's canonical JSON (how renders name the plan they used).
    pub fn digest(&self) -> Digest {
        Digest::of(&serde_json::to_vec(self).expect("plans serialise"))
    }

    /// The plan of `rec` from a decode described by `decode`, made by `detector`: the plan
    /// records its engine and its own settings (not `settings.detect`, which may differ), as
    /// they are what found the tracks.
    pub(crate) fn new(
        rec: &Recording,
        decode: &DecodeReport,
        model_sha256: Digest,
        detector: &Detector,
        settings: &PlanSettings,
        found: Findings,
    ) -> Self {
        let fps = decode.info.fps();
        Self {
            format: PLAN_FORMAT.into(),
            recording: rec.id.clone(),
            master_sha256: rec.master_sha256,
            width: decode.info.width(),
            height: decode.info.height(),
            frames: decode.frames,
            fps_num: fps.numer(),
            fps_den: fps.denom(),
            model_sha256,
            engine: detector.engine(),
            cpu: super::model::cpu_features(),
            settings: PlanSettings {
                detect: detector.settings().clone(),
                ..settings.clone()
            },
            tracks: found.tracks,
            unmasked: found.unmasked,
        }
    }
}

/// Checks that a recording can be redacted.
pub fn check_recording(rec: &Recording) -> Result<()> {
    if let Some(d) = &rec.deletion {
        return Err(Error::Redact(format!(
            "recording {} was deleted at {}; nothing to redact",
            rec.id, d.at
        )));
    }
    if rec.status != Status::Ready {
        return Err(Error::Redact(format!(
            "recording {} is {}{}; only processed recordings can be redacted",
            rec.id,
            rec.status.as_str(),
            rec.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )));
    }
    Ok(())
}

/// A decoded frame as 8-bit 4:2:0 for the detector and the renderer: a view of the frame
/// itself when it is I420, or, for 10- and 12-bit 4:2:0 (e.g. H.265 Main10), a copy in
/// `scratch` with each sample rounded to 8 bits. Other formats are refused.
pub(crate) fn yuv_view<'a>(
    f: &'a Frame<'a>,
    scratch: &'a mut Vec<u8>,
) -> std::result::Result<Yuv420<'a>, (Stage, String)> {
    use gstreamer_video::{self as gst_video, VideoFormat, prelude::VideoFrameExt as _};
    let info = f.video.info();
    let shift = match info.format() {
        VideoFormat::I420 => 0,
        VideoFormat::I42010le => 2,
        VideoFormat::I42012le => 4,
        other => {
            return Err((
                Stage::Detect,
                format!(
                    "redaction needs 4:2:0 video (8, 10 or 12 bits); this recording decodes to {}",
                    other.to_str()
                ),
            ));
        }
    };
    let plane = |i: u32| {
        f.video
            .plane_data(i)
            .map_err(|e| (Stage::Detect, format!("plane {i}: {e}")))
    };
    let strides = info.stride();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let bt709 = info.colorimetry().matrix() != gst_video::VideoColorMatrix::Bt601;
    if shift == 0 {
        return Ok(Yuv420 {
            y: plane(0)?,
            u: plane(1)?,
            v: plane(2)?,
            y_stride: strides[0] as usize,
            uv_stride: strides[1] as usize,
            width: w,
            height: h,
            bt709,
        });
    }
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    scratch.clear();
    let max = (1u32 << (8 + shift)) - 1;
    for (i, (pw, ph)) in [(w, h), (cw, ch), (cw, ch)].into_iter().enumerate() {
        let (data, stride) = (plane(i as u32)?, strides[i] as usize);
        for r in 0..ph {
            let row = &data[r * stride..r * stride + 2 * pw];
            scratch.extend(row.chunks_exact(2).map(|s| {
                let v = u32::from(u16::from_le_bytes([s[0], s[1]])).min(max);
                ((v + (1 << (shift - 1))) >> shift).min(255) as u8
            }));
        }
    }
    Ok(Yuv420::tight(scratch, w, h, bt709))
}

/// Detection and tracking as frames arrive: the detector runs on every `every`-th frame (and,
/// with `confirm_new`, around each new track on the frame after it started; with `look_back`,
/// around each new track on the frames before, back to where it is no longer found), the
/// tracker links its detections at once, and a crop of each track's best detection (the
/// highest score, the earliest among equals) is kept for the preview. One decode gives the
/// plan and its preview, alone or alongside a render.
struct Planner {
    detector: Detector,
    every: u64,
    /// Frames between whole-frame searches (a multiple of `every`).
    search: u64,
    confirm_new: bool,
    /// Faces that started a track in the previous frame, to look for again.
    confirm: Vec<Detection>,
    /// The recording's last frame, when it is to be a detection frame too.
    last: Option<u64>,
    tracker: Tracker,
    /// Each track's best detection so far: score, frame, crop.
    best: BTreeMap<u32, (f32, u64, RgbImage)>,
    /// Each track's detections' looks, in frame order (to split it where its face changes).
    looks: BTreeMap<u32, Vec<(u64, Look)>>,
    /// Each track's face over time: small crops at detections some frames apart (the spacing
    /// doubling as they fill up) and where its look changed.
    over_time: BTreeMap<u32, OverTime>,
    /// 8-bit copies of deeper frames.
    scratch: Vec<u8>,
    /// How many frames back to look for a new face: none without `look_back`, else up to
    /// the tracker's lead-in, as a render masks a frame once that many later frames were
    /// seen (see [`Tracker::settled`]) and must not see it change.
    look_back: usize,
    /// Tight copies of up to `look_back` frames since the last whole-frame detection, oldest
    /// first.
    held: VecDeque<(u64, Vec<u8>)>,
    /// Buffers of copies no longer held, for reuse.
    spare: Vec<Vec<u8>>,
    /// Candidates the detector was unsure of on whole-frame detections, in frame order.
    doubtful: Vec<(u64, Detection)>,
    /// Frame size (from ingest's record), for the masks the doubtful are checked against.
    size: (f32, f32),
}

impl Planner {
    /// A planner for `rec` (whose frame count ingest recorded).
    fn new(detector: Detector, settings: &PlanSettings, rec: &Recording) -> Self {
        let frames = rec.media.as_ref().map_or(0, |m| m.frames);
        let mut tracker = Tracker::new(settings.tracking);
        let size = rec
            .media
            .as_ref()
            .map(|m| (m.width as f32, m.height as f32));
        if let Some((w, h)) = size {
            tracker = tracker.in_frame(w, h);
        }
        Self {
            size: size.unwrap_or_default(),
            detector,
            every: settings.detect_every.max(1),
            search: settings.detect_every.max(1) * settings.search_every.max(1),
            confirm_new: settings.confirm_new,
            confirm: Vec::new(),
            last: (settings.detect_last && frames > 0).then(|| frames - 1),
            tracker,
            best: BTreeMap::new(),
            looks: BTreeMap::new(),
            over_time: BTreeMap::new(),
            scratch: Vec::new(),
            look_back: if settings.look_back {
                settings.tracking.pad_before as usize
            } else {
                0
            },
            held: VecDeque::new(),
            spare: Vec::new(),
            doubtful: Vec::new(),
        }
    }

    /// What was found in a recording of `frames` frames, the preview crops, and the detector.
    fn finish(self, frames: u64) -> (Findings, Tiles, Detector) {
        let (tracks, splits) = identity::split(self.tracker.finish(frames), &self.looks);
        // Each part of a split track draws on the crops of the track it came from.
        let origin = |id: u32| {
            splits
                .iter()
                .find(|(_, new, _)| *new == id)
                .map_or(id, |(from, _, _)| *from)
        };
        let tiles = tracks
            .iter()
            .map(|t| {
                let from = origin(t.id);
                let span = t.first_frame..=t.last_frame;
                let over_time: Vec<(u64, f32, RgbImage)> = self
                    .over_time
                    .get(&from)
                    .map(|o| {
                        o.kept
                            .iter()
                            .filter(|(f, _, _)| span.contains(f))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default();
                let best = match self.best.get(&from) {
                    Some((_, f, tile)) if span.contains(f) => tile.clone(),
                    _ => over_time
                        .iter()
                        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                        .map(|(_, _, small)| enlarge(small))
                        .unwrap_or_else(|| RgbImage::new(TILE, TILE)),
                };
                let over_time = over_time.into_iter().map(|(f, _, img)| (f, img)).collect();
                (t.id, TrackTiles { best, over_time })
            })
            .collect();
        let unmasked = doubt::unmasked(&self.doubtful, &tracks, self.size);
        (Findings { tracks, unmasked }, tiles, self.detector)
    }

    /// Whether the detector runs on frame `index` (on the whole of it, or near the faces
    /// followed).
    fn detects(&self, index: u64) -> bool {
        index.is_multiple_of(self.every) || self.searches(index)
    }

    /// Whether the detector searches the whole of frame `index`.
    fn searches(&self, index: u64) -> bool {
        index.is_multiple_of(self.search) || self.last == Some(index)
    }

    /// The whole-frame search before frame `index`, if any (the last frame, when it is one,
    /// comes after every other).
    fn previous_full(&self, index: u64) -> Option<u64> {
        index.checked_sub(1).map(|i| i - i % self.search)
    }

    /// Whether frame `index` is looked at: a detection frame, the one after a new face, or
    /// any frame when frames are held to look back through.
    fn wants(&self, index: u64) -> bool {
        self.look_back > 0 || self.detects(index) || !self.confirm.is_empty()
    }

    /// Detects and tracks in frame `index` (`view`), if it [`Self::wants`] it.
    fn see(&mut self, index: u64, view: &Yuv420<'_>) -> std::result::Result<(), (Stage, String)> {
        let (full, detect) = (self.searches(index), self.detects(index));
        let mut started = Vec::new();
        if detect || !self.confirm.is_empty() {
            let confirm = std::mem::take(&mut self.confirm);
            let dets = if full {
                let followed = self.tracker.expected_at(index);
                self.detector.detect_all(view, &followed).map(|found| {
                    let doubtful = found.doubtful.into_iter().map(|d| (index, d));
                    self.doubtful.extend(doubtful);
                    found.faces
                })
            } else if detect {
                let followed = self.tracker.expected_at(index);
                self.detector.detect_tracked(view, &followed)
            } else {
                self.detector.detect_near(view, &confirm)
            }
            .map_err(|e| (Stage::Detect, e.to_string()))?;
            let ids = self.tracker.push(index, &dets);
            started = self.tracker.started_at(index);
            if self.confirm_new {
                self.confirm = started.iter().map(|(_, d)| *d).collect();
            }
            self.keep_best(index, view, ids.into_iter().zip(&dets));
        }
        if full {
            self.look_back(index, view, started)?;
        } else if self.look_back > 0 {
            if self.held.len() == self.look_back
                && let Some((_, oldest)) = self.held.pop_front()
            {
                self.spare.push(oldest);
            }
            let mut copy = self.spare.pop().unwrap_or_default();
            copy.clear();
            view.copy_tight(&mut copy);
            self.held.push_back((index, copy));
        }
        Ok(())
    }

    /// Looks for the faces that `started` a track in frame `index` (a whole-frame detection)
    /// in the held frames before it, latest first, for as long as they are found; then lets
    /// the held frames go. A face found in every frame back to the previous whole-frame
    /// detection was not there (or it would not be new).
    fn look_back(
        &mut self,
        index: u64,
        view: &Yuv420<'_>,
        started: Vec<(u32, Detection)>,
    ) -> std::result::Result<(), (Stage, String)> {
        if self.look_back == 0 {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        let mut pending = started;
        for (frame, data) in held.iter().rev() {
            if pending.is_empty() {
                break;
            }
            let earlier = Yuv420::tight(data, view.width, view.height, view.bt709);
            let (ids, boxes): (Vec<u32>, Vec<Detection>) = pending.into_iter().unzip();
            let dets = self
                .detector
                .detect_near(&earlier, &boxes)
                .map_err(|e| (Stage::Detect, e.to_string()))?;
            pending = self.tracker.extend_back(*frame, &ids, &dets);
            self.keep_best(*frame, &earlier, pending.iter().map(|(id, d)| (*id, d)));
        }
        let searched = self
            .previous_full(index)
            .filter(|&f| index - f - 1 == held.len() as u64);
        if let (Some(frame), false) = (searched, pending.is_empty()) {
            let ids: Vec<u32> = pending.iter().map(|(id, _)| *id).collect();
            self.tracker.extend_back(frame, &ids, &[]);
        }
        self.spare.extend(held.into_iter().map(|(_, data)| data));
        Ok(())
    }

    /// Keeps a crop of each detection in frame `index` that is its track's best so far (the
    /// highest score, the earliest among equals: looking back finds earlier frames later).
    fn keep_best<'d>(
        &mut self,
        index: u64,
        view: &Yuv420<'_>,
        found: impl Iterator<Item = (u32, &'d Detection)>,
    ) {
        for (id, d) in found {
            let better = |(score, frame, _): &(f32, u64, RgbImage)| {
                d.score.total_cmp(score).then(frame.cmp(&index)).is_gt()
            };
            let b = TrackBox::from_det(index, d);
            if self.best.get(&id).is_none_or(better) {
                self.best.insert(id, (d.score, index, crop(view, &b, TILE)));
            }
            let Some(look) = Look::of(view, d) else {
                continue;
            };
            let looks = self.looks.entry(id).or_default();
            let at = looks.partition_point(|(f, _)| *f < index);
            // A look unlike the track's last few: perhaps another face; keep a crop of it.
            let changed = at >= identity::WINDOW
                && looks[at - identity::WINDOW..at]
                    .iter()
                    .map(|(_, l)| l.similarity(&look))
                    .sum::<f32>()
                    < identity::SPLIT_BELOW * identity::WINDOW as f32;
            looks.insert(at, (index, look));
            self.over_time
                .entry(id)
                .or_default()
                .offer(index, d.score, changed, || crop(view, &b, TILE / 2));
        }
    }
}

/// Planning alone: frames the planner wants are viewed as 8 bits here.
impl FrameSink for Planner {
    fn frame(&mut self, f: &Frame<'_>) -> std::result::Result<(), (Stage, String)> {
        if !self.wants(f.index) {
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        let seen = yuv_view(f, &mut scratch).and_then(|view| self.see(f.index, &view));
        self.scratch = scratch;
        seen
    }
}

/// Decodes the master once, detects and tracks faces. Returns the plan, the preview crops and
/// the detector.
pub fn make_plan(
    master: &Path,
    rec: &Recording,
    detector: Detector,
    model_sha256: Digest,
    settings: &PlanSettings,
    stall: Duration,
    progress: &std::sync::Arc<dyn crate::progress::Progress>,
) -> Result<(Plan, Tiles, Detector)> {
    check_recording(rec)?;
    let counted = pipeline::Counted {
        inner: Planner::new(detector, settings, rec),
        progress: std::sync::Arc::clone(progress),
    };
    let (report, counted) = pipeline::run(master, pipeline::Sound::None, &[], counted, stall)?;
    let planner = counted.inner;
    let (found, tiles, detector) = planner.finish(report.frames);
    let plan = Plan::new(rec, &report, model_sha256, &detector, settings, found);
    Ok((plan, tiles, detector))
}

/// Plans while a render runs (one decode for both), giving the renderer each frame's masks as
/// soon as no later detection can change them. Gives exactly the plan, masks and preview of a
/// separate plan and render.
pub(crate) struct LivePlan {
    planner: Planner,
    render: RenderSettings,
    /// How masks are drawn, once the first frame gives the rate and size.
    style: Option<MaskStyle>,
}

impl LivePlan {
    /// Plans `rec` with `plan`, masking as `render` says (it keeps no track: none is known
    /// yet).
    pub(crate) fn new(
        detector: Detector,
        plan: &PlanSettings,
        render: &RenderSettings,
        rec: &Recording,
    ) -> Self {
        Self {
            planner: Planner::new(detector, plan, rec),
            render: render.clone(),
            style: None,
        }
    }

    /// What was found in a recording of `frames` frames, the preview crops, and the detector.
    pub(crate) fn finish(self, frames: u64) -> (Findings, Tiles, Detector) {
        self.planner.finish(frames)
    }
}

impl Masks for LivePlan {
    fn observe(
        &mut self,
        f: &Frame<'_>,
        view: &Yuv420<'_>,
    ) -> std::result::Result<(), (Stage, String)> {
        if self.style.is_none() {
            use gstreamer_video::prelude::VideoFrameExt as _;
            let info = f.video.info();
            let fps = (info.fps().numer(), info.fps().denom());
            let size = (info.width() as f32, info.height() as f32);
            self.style = Some(MaskStyle::new(&self.render, fps, size));
        }
        self.planner.see(f.index, view)
    }

    fn masks(&mut self, frame: u64, latest: u64, ended: bool) -> Option<Vec<Ellipse>> {
        let style = self.style.as_ref()?;
        // Frames held to look back through are not settled: a face the next whole-frame
        // detection finds may be found in them too, and lead in from there.
        let latest = match self.planner.held.front() {
            Some(&(first, _)) if !ended => first.checked_sub(1)?.min(latest),
            _ => latest,
        };
        let boxes = self.planner.tracker.settled(frame, latest, ended)?;
        Some(style.ellipses(frame, boxes.iter().map(|(_, b)| b)))
    }
}

/// The preview crops of each track, by id.
pub type Tiles = BTreeMap<u32, TrackTiles>;

/// A track's preview crops.
#[derive(Debug, Clone, Default)]
pub struct TrackTiles {
    /// Its best detection, [`TILE`] pixels square.
    pub best: RgbImage,
    /// Its face over time (frame, crop half as large), in frame order.
    pub over_time: Vec<(u64, RgbImage)>,
}

/// A track's small crops over time, as detections come.
#[derive(Debug)]
struct OverTime {
    /// Frames between crops kept at regular intervals.
    spacing: u64,
    /// (frame, score, crop), in the order kept.
    kept: Vec<(u64, f32, RgbImage)>,
    /// Frames of the crops kept because the look changed (never thinned out).
    changes: Vec<u64>,
}

impl Default for OverTime {
    fn default() -> Self {
        Self {
            spacing: 15,
            kept: Vec::new(),
            changes: Vec::new(),
        }
    }
}

impl OverTime {
    /// The most crops kept at regular intervals (small ones: 19 KB each).
    const MOST: usize = 8;

    /// Keeps a crop (made by `make`) of the detection at `frame` if it lies the spacing past
    /// the last kept one, or its look `changed`; when full, every other regular crop goes and
    /// the spacing doubles.
    fn offer(&mut self, frame: u64, score: f32, changed: bool, make: impl FnOnce() -> RgbImage) {
        let due = self
            .kept
            .last()
            .is_none_or(|(last, _, _)| frame >= last + self.spacing);
        if !(due || changed) {
            return;
        }
        self.kept.push((frame, score, make()));
        if changed {
            self.changes.push(frame);
        }
        if self.kept.len() > Self::MOST + self.changes.len() {
            let mut i = 0;
            let changes = &self.changes;
            self.kept.retain(|(f, _, _)| {
                i += 1;
                changes.contains(f) || i % 2 == 1
            });
            self.spacing *= 2;
        }
    }
}

/// A small crop drawn at tile size.
fn enlarge(small: &RgbImage) -> RgbImage {
    image::imageops::resize(small, TILE, TILE, image::imageops::FilterType::Triangle)
}

/// Side of a preview tile.
const TILE: u32 = 160;

/// A crop `tile` pixels square of the face in `b`.
fn crop(src: &dyn RgbSource, b: &TrackBox, tile: u32) -> RgbImage {
    // A square 1.6 times the face's larger side, centred on it.
    let side = (b.x1 - b.x0).max(b.y1 - b.y0) * 1.6;
    let region = Region {
        x: (b.x0 + b.x1 - side) / 2.0,
        y: (b.y0 + b.y1 - side) / 2.0,
        w: side,
        h: side,
    };
    let mut data = Vec::new();
    super::detect::to_network_input(src, region, tile as usize, tile as usize, &mut data);
    let plane = (tile * tile) as usize;
    RgbImage::from_fn(tile, tile, |x, y| {
        let i = (y * tile + x) as usize;
        image::Rgb([
            data[i] as u8,
            data[plane + i] as u8,
            data[2 * plane + i] as u8,
        ])
    })
}

/// Columns of the preview sheet: a track's best crop, then its face over time.
pub const PREVIEW_COLUMNS: usize = 6;

/// Writes the preview sheet: a row per track of `plan`, its best crop (labelled with its id
/// and frames) and then up to five crops of its face over time, evenly spread (labelled with
/// their frame), so a reviewer sees whether a track follows one face.
pub fn write_preview(plan: &Plan, crops: &Tiles, out: &Path) -> Result<()> {
    let mut tiles: Vec<RgbImage> = Vec::new();
    for t in &plan.tracks {
        let none = TrackTiles::default();
        let kept = crops.get(&t.id).unwrap_or(&none);
        let mut tile = if kept.best.width() == TILE {
            kept.best.clone()
        } else {
            RgbImage::new(TILE, TILE)
        };
        label::draw(&mut tile, 2, 2, &format!("#{}", t.id), 2);
        let range = format!("{}-{}", t.first_frame, t.last_frame);
        let (_, h) = label::text_size(&range, 1);
        label::draw(&mut tile, 2, TILE - h - 4, &range, 1);
        tiles.push(tile);
        let n = kept.over_time.len();
        let shown = (PREVIEW_COLUMNS - 1).min(n);
        for k in 0..PREVIEW_COLUMNS - 1 {
            let mut tile = RgbImage::new(TILE, TILE);
            if k < shown {
                // Evenly spread over what was kept, first and last included.
                let i = if shown > 1 {
                    k * (n - 1) / (shown - 1)
                } else {
                    0
                };
                let (frame, small) = &kept.over_time[i];
                tile = enlarge(small);
                let text = frame.to_string();
                let (_, h) = label::text_size(&text, 1);
                label::draw(&mut tile, 2, TILE - h - 4, &text, 1);
            }
            tiles.push(tile);
        }
    }
    if tiles.is_empty() {
        let mut tile = RgbImage::new(TILE, TILE);
        label::draw(&mut tile, 2, 2, "-", 2);
        tiles.push(tile);
    }
    thumbs::write_jpeg(
        &thumbs::contact_sheet(&tiles, PREVIEW_COLUMNS as u32),
        out,
        90,
    )
}
