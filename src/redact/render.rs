//! Rendering a plan: decode the master once, mask every face not kept (and every manual box) on
//! the decoder's own frames, and encode the result with `pipelines/redact-encode.gst`: two
//! pipelines joined by a blocking appsrc, so the encoder paces the decoder.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video::{self as gst_video, prelude::VideoFrameExt as _};
use serde::{Deserialize, Serialize};

use super::detect::Yuv420;
use super::doubt::Unmasked;
use super::mask::{self, Ellipse, Mode, Plane};
use super::plan::Plan;
use super::track::{Track, TrackBox};
use crate::digest::Digest;
use crate::error::{Error, Result, Stage};
use crate::media::pipeline::{self, Frame, FrameSink};

/// The encode graph.
pub const ENCODE_GRAPH: &str = include_str!("../../pipelines/redact-encode.gst");

/// What happens to the sound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Audio {
    /// Copy the master's AAC track untouched.
    #[default]
    Keep,
    /// No audio track.
    Drop,
    /// Re-encode the sound (AAC) with silence over these (from, to) second ranges.
    Mute(Vec<(f64, f64)>),
}

impl std::str::FromStr for Audio {
    type Err = String;

    /// `keep`, `drop`, or `mute:T0-T1[,T2-T3...]` (seconds).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "keep" => return Ok(Audio::Keep),
            "drop" => return Ok(Audio::Drop),
            _ => {}
        }
        let bad = || format!("{s:?} is not keep, drop or mute:T0-T1[,T2-T3...] (seconds)");
        let ranges = s.strip_prefix("mute:").ok_or_else(bad)?;
        let parsed = ranges
            .split(',')
            .map(|r| {
                let (a, b) = r.split_once('-').ok_or_else(bad)?;
                let (a, b): (f64, f64) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a < 0.0 || b < a {
                    return Err(bad());
                }
                Ok((a, b))
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(Audio::Mute(parsed))
    }
}

/// Zeroes the samples of interleaved S16 buffers that fall in the ranges.
fn install_mute(
    element: &gst::Element,
    ranges: Vec<(f64, f64)>,
) -> std::result::Result<(), String> {
    let pad = element
        .static_pad("src")
        .ok_or("mute element has no src pad")?;
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let caps = pad.current_caps();
        let rate_channels = caps
            .as_ref()
            .and_then(|c| c.structure(0))
            .and_then(|st| Some((st.get::<i32>("rate").ok()?, st.get::<i32>("channels").ok()?)));
        let Some((rate, channels)) = rate_channels else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(buffer) = info.buffer_mut() else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(pts) = buffer.pts() else {
            return gst::PadProbeReturn::Ok;
        };
        let buffer = buffer.make_mut();
        let Ok(mut map) = buffer.map_writable() else {
            return gst::PadProbeReturn::Ok;
        };
        let data = map.as_mut_slice();
        let frame_bytes = 2 * channels.max(1) as usize;
        let start_s = pts.nseconds() as f64 / 1e9;
        for (i, frame) in data.chunks_exact_mut(frame_bytes).enumerate() {
            let t = start_s + i as f64 / f64::from(rate.max(1));
            if ranges.iter().any(|(a, b)| t >= *a && t <= *b) {
                frame.fill(0);
            }
        }
        gst::PadProbeReturn::Ok
    });
    Ok(())
}

/// A rectangle to mask over a time range, whatever the detector found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ManualBox {
    /// Left, in pixels.
    pub x: f32,
    /// Top.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
    /// From (seconds).
    pub from_s: f64,
    /// To (seconds, inclusive).
    pub to_s: f64,
}

impl std::str::FromStr for ManualBox {
    type Err = String;

    /// `X,Y,W,H@T0-T1` (pixels; seconds).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{s:?} is not X,Y,W,H@T0-T1 (pixels, seconds)");
        let (rect, times) = s.split_once('@').ok_or_else(bad)?;
        let v: Vec<f32> = rect
            .split(',')
            .map(|n| n.trim().parse::<f32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad())?;
        let (t0, t1) = times.split_once('-').ok_or_else(bad)?;
        let (from_s, to_s): (f64, f64) = (
            t0.trim().parse().map_err(|_| bad())?,
            t1.trim().parse().map_err(|_| bad())?,
        );
        if v.len() != 4 || v[2] <= 0.0 || v[3] <= 0.0 || from_s > to_s || from_s < 0.0 {
            return Err(bad());
        }
        Ok(Self {
            x: v[0],
            y: v[1],
            w: v[2],
            h: v[3],
            from_s,
            to_s,
        })
    }
}

/// How to render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenderSettings {
    /// Fill.
    pub mode: Mode,
    /// Track ids left visible (the requester).
    pub keep: Vec<u32>,
    /// Tracks left visible over some frames only (a track that is the requester for a while,
    /// and someone else before or after); masked on every other frame.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_frames: Vec<KeepFrames>,
    /// Sound.
    pub audio: Audio,
    /// Extra rectangles.
    pub boxes: Vec<ManualBox>,
    /// Ellipse size relative to the box of a face up to 96 px tall; larger faces get a
    /// narrower margin (see [`mask::face_grow`]).
    pub grow: f32,
    /// Why each kept track and extra box is so, and under what legal basis (the exemption log
    /// a disclosure unit keeps). Its SHA-256 is in the render's event; the text in the report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exemptions: Vec<Exemption>,
}

/// A track left visible from frame `from` to frame `to` (inclusive) only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepFrames {
    /// Track id.
    pub track: u32,
    /// First frame left visible.
    pub from: u64,
    /// Last frame left visible.
    pub to: u64,
}

impl KeepFrames {
    /// Whether the track is left visible on `frame`.
    pub fn shows(&self, track: u32, frame: u64) -> bool {
        self.track == track && (self.from..=self.to).contains(&frame)
    }
}

impl std::str::FromStr for KeepFrames {
    type Err = String;

    /// `ID@FROM-TO` (frames).
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{text:?} is not TRACK@FROM-TO (a track id and a range of frames)");
        let (track, range) = text.split_once('@').ok_or_else(bad)?;
        let (from, to) = range.split_once('-').ok_or_else(bad)?;
        let parse = |n: &str| n.trim().parse::<u64>().map_err(|_| bad());
        Ok(Self {
            track: track.trim().parse().map_err(|_| bad())?,
            from: parse(from)?,
            to: parse(to)?,
        })
    }
}

/// One decision of a render a reviewer must justify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exemption {
    /// What it concerns: `track N` (left visible) or `box N` (masked over, 1-based).
    pub what: String,
    /// Why.
    pub reason: String,
    /// The legal basis (e.g. "requester's own data, UK GDPR Art. 15").
    pub basis: String,
}

impl RenderSettings {
    /// SHA-256 of the exemptions as compact JSON, when there are any.
    pub fn exemptions_digest(&self) -> Option<Digest> {
        (!self.exemptions.is_empty())
            .then(|| Digest::of(&serde_json::to_vec(&self.exemptions).expect("strings serialise")))
    }
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            mode: Mode::default(),
            keep: Vec::new(),
            keep_frames: Vec::new(),
            audio: Audio::default(),
            boxes: Vec::new(),
            grow: mask::DEFAULT_GROW,
            exemptions: Vec::new(),
        }
    }
}

/// One track in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackLine {
    /// Track id.
    pub id: u32,
    /// First frame covered.
    pub first_frame: u64,
    /// Last frame covered.
    pub last_frame: u64,
    /// Frames covered.
    pub frames: u64,
}

/// What a render did (the redaction report).
#[derive(Debug, Clone, Serialize)]
pub struct RenderReport {
    /// SHA-256 of the plan used.
    pub plan_sha256: Digest,
    /// Settings used.
    pub settings: RenderSettings,
    /// Tracks masked.
    pub redacted: Vec<TrackLine>,
    /// Tracks left visible.
    pub kept: Vec<TrackLine>,
    /// Frames each manual box covered, in order.
    pub manual_box_frames: Vec<u64>,
    /// Frames encoded.
    pub frames: u64,
    /// Frames with at least one mask.
    pub frames_masked: u64,
    /// The plan's regions where the detector scored something just under the threshold and
    /// no track masks it: for a reviewer to check (a manual box hides one that is a face).
    pub unmasked: Vec<Unmasked>,
    /// Encoder graph used.
    pub encoder: String,
}

impl RenderReport {
    /// A short readable summary.
    pub fn summary(&self) -> String {
        let list = |t: &[TrackLine]| {
            if t.is_empty() {
                "none".to_owned()
            } else {
                t.iter()
                    .map(|l| {
                        format!(
                            "#{} ({} frames, {}-{})",
                            l.id, l.frames, l.first_frame, l.last_frame
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let unmasked: String = self
            .unmasked
            .iter()
            .map(|u| {
                let [x, y, w, h] = u.region;
                format!(
                    "  frames {}-{} ({} detection frames) at {x},{y} {w}x{h}, best score {:.2} at frame {}\n",
                    u.first_frame, u.last_frame, u.seen, u.best_score, u.best_frame
                )
            })
            .collect();
        format!(
            "redacted tracks: {}\nkept tracks: {}\nmanual boxes: {}\nframes: {} encoded, {} with a mask\nmode: {:?}, audio: {:?}\nplan: {}\nnot masked, scored just under the threshold (check these): {}\n{unmasked}",
            list(&self.redacted),
            list(&self.kept),
            if self.manual_box_frames.is_empty() {
                "none".to_owned()
            } else {
                format!("{:?} frames", self.manual_box_frames)
            },
            self.frames,
            self.frames_masked,
            self.settings.mode,
            self.settings.audio,
            self.plan_sha256,
            if self.unmasked.is_empty() {
                "none".to_owned()
            } else {
                format!("{} region(s)", self.unmasked.len())
            }
        ) + &self
            .settings
            .exemptions
            .iter()
            .map(|e| format!("exemption: {}: {} (basis: {})\n", e.what, e.reason, e.basis))
            .collect::<String>()
    }
}

/// Checks the settings against the plan: every kept track must exist, and a range kept must
/// run forwards.
pub fn check(plan: &Plan, settings: &RenderSettings) -> Result<()> {
    if let Some(k) = settings.keep_frames.iter().find(|k| k.from > k.to) {
        return Err(Error::Redact(format!(
            "track {} frames {}-{}: the range runs backwards",
            k.track, k.from, k.to
        )));
    }
    if let Some(id) = settings
        .keep
        .iter()
        .chain(settings.keep_frames.iter().map(|k| &k.track))
        .find(|id| !plan.tracks.iter().any(|t| t.id == **id))
    {
        return Err(Error::Redact(format!(
            "track {id} is not in the plan (tracks: {})",
            plan.tracks
                .iter()
                .map(|t| t.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// The report's track lines: (redacted, kept). A track kept over some frames is in both: kept
/// over the frames of its span in the range, redacted over the rest.
fn track_lines(plan: &Plan, s: &RenderSettings) -> (Vec<TrackLine>, Vec<TrackLine>) {
    let (mut redacted, mut kept) = (Vec::new(), Vec::new());
    for t in &plan.tracks {
        let line = |first_frame: u64, last_frame: u64| TrackLine {
            id: t.id,
            first_frame,
            last_frame,
            frames: (last_frame + 1).saturating_sub(first_frame),
        };
        if s.keep.contains(&t.id) {
            kept.push(line(t.first_frame, t.last_frame));
            continue;
        }
        redacted.push(line(t.first_frame, t.last_frame));
        for k in s.keep_frames.iter().filter(|k| k.track == t.id) {
            let (from, to) = (k.from.max(t.first_frame), k.to.min(t.last_frame));
            if from <= to {
                kept.push(line(from, to));
            }
        }
    }
    (redacted, kept)
}

/// The frames a manual box covers (`to` may lie past the end) and its ellipse: one through
/// the rectangle's corners covers all of it.
fn manual_mask(m: &ManualBox, fps: (i32, i32)) -> (u64, u64, Ellipse) {
    let e = Ellipse::around(m.x, m.y, m.x + m.w, m.y + m.h, std::f32::consts::SQRT_2);
    (frame_at(fps, m.from_s), frame_at(fps, m.to_s), e)
}

/// The frame shown at `seconds` (nearest) at `fps` (numerator, denominator).
fn frame_at(fps: (i32, i32), seconds: f64) -> u64 {
    let rate = f64::from(fps.0) / f64::from(fps.1.max(1));
    (seconds * rate).round().max(0.0) as u64
}

/// Frames each manual box covers, in order, in a recording of `frames` frames.
fn manual_box_frames(s: &RenderSettings, fps: (i32, i32), frames: u64) -> Vec<u64> {
    s.boxes
        .iter()
        .map(|m| {
            let (from, to, _) = manual_mask(m, fps);
            (to.min(frames.saturating_sub(1)) + 1).saturating_sub(from)
        })
        .collect()
}

/// Where each frame's ellipses come from: a finished plan, or a planner working alongside the
/// render (see `plan::LivePlan`). Masks are drawn in track-id order, then the manual boxes.
pub(crate) trait Masks: Send + 'static {
    /// Sees each decoded frame as it arrives (and its 8-bit view), before its masks are asked
    /// for.
    fn observe(
        &mut self,
        f: &Frame<'_>,
        view: &Yuv420<'_>,
    ) -> std::result::Result<(), (Stage, String)>;

    /// The ellipses of `frame`, or `None` while they can still change; `latest` is the last
    /// frame observed, and `ended` says there are no more.
    fn masks(&mut self, frame: u64, latest: u64, ended: bool) -> Option<Vec<Ellipse>>;
}

/// How a frame's masks are drawn: its faces' boxes grown as [`mask::face_grow`] says (in
/// track-id order), then the manual boxes covering it.
#[derive(Debug, Clone)]
pub(crate) struct MaskStyle {
    grow: f32,
    manual: Vec<ManualBox>,
    /// Frame rate (numerator, denominator), to place the manual boxes.
    fps: (i32, i32),
    /// Frame width and height, for faces cut by the edge.
    size: (f32, f32),
}

impl MaskStyle {
    /// The style of `s` for frames of `size` at `fps`.
    pub(crate) fn new(s: &RenderSettings, fps: (i32, i32), size: (f32, f32)) -> Self {
        Self {
            grow: s.grow,
            manual: s.boxes.clone(),
            fps,
            size,
        }
    }

    /// The ellipses of `frame`, whose face boxes are `faces`.
    pub(crate) fn ellipses<'a>(
        &self,
        frame: u64,
        faces: impl IntoIterator<Item = &'a TrackBox>,
    ) -> Vec<Ellipse> {
        let faces = faces
            .into_iter()
            .map(|b| Ellipse::around_face(b.x0, b.y0, b.x1, b.y1, self.grow, self.size));
        let manual = self
            .manual
            .iter()
            .map(|m| manual_mask(m, self.fps))
            .filter(|(from, to, _)| (*from..=*to).contains(&frame))
            .map(|(_, _, e)| e);
        faces.chain(manual).collect()
    }
}

/// A finished plan's masks: the tracks not kept, drawn in `style`, except over the frames
/// `shown` leaves them visible.
pub(crate) struct Planned {
    tracks: Vec<Track>,
    shown: Vec<KeepFrames>,
    style: MaskStyle,
}

impl Planned {
    /// The masks of `plan` rendered with `s`.
    pub(crate) fn new(plan: &Plan, s: &RenderSettings) -> Self {
        Self {
            tracks: plan
                .tracks
                .iter()
                .filter(|t| !s.keep.contains(&t.id))
                .cloned()
                .collect(),
            shown: s.keep_frames.clone(),
            style: MaskStyle::new(
                s,
                (plan.fps_num, plan.fps_den),
                (plan.width as f32, plan.height as f32),
            ),
        }
    }
}

impl Masks for Planned {
    fn observe(
        &mut self,
        _: &Frame<'_>,
        _: &Yuv420<'_>,
    ) -> std::result::Result<(), (Stage, String)> {
        Ok(())
    }

    fn masks(&mut self, frame: u64, _: u64, _: bool) -> Option<Vec<Ellipse>> {
        let faces = self
            .tracks
            .iter()
            .filter(|t| !self.shown.iter().any(|k| k.shows(t.id, frame)))
            .filter_map(|t| t.box_at(frame));
        Some(self.style.ellipses(frame, faces))
    }
}

/// Copies each decoded frame into a fresh buffer, holds it until its masks are known, masks
/// it, and pushes it to the encoder.
struct MaskSink<M> {
    masks: M,
    mode: Mode,
    src: gst_app::AppSrc,
    out_info: Option<gst_video::VideoInfo>,
    pending: VecDeque<(u64, gst::Buffer)>,
    latest: u64,
    /// 8-bit copies of deeper frames.
    scratch: Vec<u8>,
    masked: u64,
}

impl<M: Masks> MaskSink<M> {
    fn out_info(
        &mut self,
        input: &gst_video::VideoInfo,
    ) -> std::result::Result<gst_video::VideoInfo, (Stage, String)> {
        if let Some(i) = &self.out_info {
            return Ok(i.clone());
        }
        let info = crate::media::frame::i420_like(input, input.width(), input.height())
            .map_err(|e| (Stage::Redact, format!("output format: {e}")))?;
        let caps = info
            .to_caps()
            .map_err(|e| (Stage::Redact, format!("output caps: {e}")))?;
        self.src.set_caps(Some(&caps));
        self.out_info = Some(info.clone());
        Ok(info)
    }

    /// The frame (`view`), copied into a buffer of the output layout `info`.
    fn copy(
        f: &Frame<'_>,
        view: &Yuv420<'_>,
        info: &gst_video::VideoInfo,
    ) -> std::result::Result<gst::Buffer, (Stage, String)> {
        let mut buffer = gst::Buffer::with_size(info.size())
            .map_err(|e| (Stage::Redact, format!("allocate frame: {e}")))?;
        {
            let b = buffer
                .get_mut()
                .ok_or((Stage::Redact, "new buffer is shared".to_owned()))?;
            b.set_pts(gst::ClockTime::from_nseconds(f.pts_ns));
            b.set_duration(f.duration_ns.map(gst::ClockTime::from_nseconds));
            let mut map = b
                .map_writable()
                .map_err(|e| (Stage::Redact, format!("map frame: {e}")))?;
            let [y, u, v] = planes(map.as_mut_slice(), info);
            let copy = |dst: Plane<'_>, src: &[u8], ss: usize| {
                for r in 0..dst.height {
                    dst.data[r * dst.stride..r * dst.stride + dst.width]
                        .copy_from_slice(&src[r * ss..r * ss + dst.width]);
                }
            };
            copy(y, view.y, view.y_stride);
            copy(u, view.u, view.uv_stride);
            copy(v, view.v, view.uv_stride);
        }
        Ok(buffer)
    }

    /// Masks and sends every held frame whose masks are known, in order.
    fn drain(&mut self, ended: bool) -> std::result::Result<(), (Stage, String)> {
        while let Some(&(index, _)) = self.pending.front() {
            let Some(list) = self.masks.masks(index, self.latest, ended) else {
                if ended {
                    return Err((Stage::Redact, format!("no masks for frame {index}")));
                }
                return Ok(());
            };
            let Some((_, mut buffer)) = self.pending.pop_front() else {
                break;
            };
            if !list.is_empty() {
                let info = self
                    .out_info
                    .clone()
                    .ok_or((Stage::Redact, "no output format".to_owned()))?;
                let mut map = buffer
                    .make_mut()
                    .map_writable()
                    .map_err(|e| (Stage::Redact, format!("map frame: {e}")))?;
                let mut planes = planes(map.as_mut_slice(), &info);
                for e in &list {
                    mask::apply(&mut planes, e, self.mode);
                }
                self.masked += 1;
            }
            self.src.push_buffer(buffer).map_err(|e| {
                (
                    Stage::Redact,
                    format!("encoder refused frame {index}: {e:?}"),
                )
            })?;
        }
        Ok(())
    }
}

/// The three planes of an I420 buffer laid out as `info` says.
fn planes<'a>(data: &'a mut [u8], info: &gst_video::VideoInfo) -> [Plane<'a>; 3] {
    let (off, stride) = (info.offset(), info.stride());
    let (w, h) = (info.width() as usize, info.height() as usize);
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let (y, rest) = data.split_at_mut(off[1]);
    let (u, v) = rest.split_at_mut(off[2] - off[1]);
    let plane = |data, i: usize, width, height| Plane {
        data,
        stride: stride[i] as usize,
        width,
        height,
    };
    [plane(y, 0, w, h), plane(u, 1, cw, ch), plane(v, 2, cw, ch)]
}

impl<M: Masks> FrameSink for MaskSink<M> {
    fn frame(&mut self, f: &Frame<'_>) -> std::result::Result<(), (Stage, String)> {
        let info = self.out_info(f.video.info())?;
        // One 8-bit view (a copy only for deeper footage) for the copy and the planner.
        let view = super::plan::yuv_view(f, &mut self.scratch)?;
        let buffer = Self::copy(f, &view, &info)?;
        self.masks.observe(f, &view)?;
        self.pending.push_back((f.index, buffer));
        self.latest = f.index;
        self.drain(false)
    }
}

/// Which audio line of the encode graph to use.
#[derive(Debug, Clone, PartialEq)]
enum AudioLine {
    None,
    Copy,
    Mute(Vec<(f64, f64)>),
}

fn build_encoder(
    master: &Path,
    out: &Path,
    audio: &AudioLine,
) -> std::result::Result<(gst::Pipeline, gst_app::AppSrc), String> {
    let keep = |l: &str| {
        let l = l.trim_start();
        match audio {
            AudioLine::None => !l.starts_with("filesrc "),
            AudioLine::Copy => !l.starts_with("filesrc name=audiomute"),
            AudioLine::Mute(_) => !l.starts_with("filesrc name=audiosrc"),
        }
    };
    let text: String = pipeline::graph_text(ENCODE_GRAPH)
        .lines()
        .filter(|l| keep(l))
        .collect::<Vec<_>>()
        .join("\n");
    let (p, src) = pipeline::appsrc_graph(&text, out)?;
    let get = |n: &str| pipeline::element(&p, n);
    match audio {
        AudioLine::None => {}
        AudioLine::Copy => get("audiosrc")?.set_property("location", master),
        AudioLine::Mute(ranges) => {
            get("audiomute")?.set_property("location", master);
            install_mute(&get("mute")?, ranges.clone())?;
        }
    }
    Ok((p, src))
}

/// The master a render reads.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// Its file.
    pub master: PathBuf,
    /// Its sound, if any: a description, and whether it is AAC in MP4 that can be copied as it
    /// is.
    pub sound: Option<(String, bool)>,
    /// The time stamped in the output (the recording's), so equal inputs give equal bytes.
    pub created: jiff::Timestamp,
}

/// What one encode produced.
pub(crate) struct Encoded<M> {
    /// The decode's report (frames, format).
    pub decode: pipeline::DecodeReport,
    /// Frames with at least one mask.
    pub masked: u64,
    /// The mask source, done.
    pub masks: M,
}

/// The audio line for `settings` and the master's sound; keeping sound that cannot be copied
/// as it is is refused.
fn audio_line(settings: &RenderSettings, source: &Source) -> Result<AudioLine> {
    Ok(match (&settings.audio, &source.sound) {
        (_, None) | (Audio::Drop, _) => AudioLine::None,
        (Audio::Keep, Some((_, true))) => AudioLine::Copy,
        (Audio::Keep, Some((what, false))) => {
            return Err(Error::Redact(format!(
                "cannot copy {what} as it is; use --audio drop or mute:..."
            )));
        }
        (Audio::Mute(r), _) => AudioLine::Mute(r.clone()),
    })
}

/// Decodes the master once, masks each frame as `masks` says, and encodes it to `out` (an MP4).
pub(crate) fn encode<M: Masks>(
    source: &Source,
    masks: M,
    settings: &RenderSettings,
    out: &Path,
    stall: Duration,
    progress: &std::sync::Arc<dyn crate::progress::Progress>,
) -> Result<Encoded<M>> {
    crate::media::init()?;
    let fail = |reason: String| pipeline::failure(out, Stage::Redact, reason);
    let master = source.master.as_path();
    let audio = audio_line(settings, source)?;
    let (encoder, src) = build_encoder(master, out, &audio).map_err(fail)?;
    encoder
        .set_state(gst::State::Playing)
        .map_err(|_| fail("encoder failed to start".into()))?;
    let sink = MaskSink {
        masks,
        mode: settings.mode,
        src: src.clone(),
        out_info: None,
        pending: VecDeque::new(),
        latest: 0,
        scratch: Vec::new(),
        masked: 0,
    };
    let counted = pipeline::Counted {
        inner: sink,
        progress: std::sync::Arc::clone(progress),
    };
    let result = pipeline::run(master, pipeline::Sound::None, &[], counted, stall).and_then(
        |(decode, counted)| {
            let mut sink = counted.inner;
            sink.drain(true).map_err(|(_, reason)| fail(reason))?;
            let _ = src.end_of_stream();
            pipeline::wait_eos(&encoder, stall).map_err(fail)?;
            Ok(Encoded {
                decode,
                masked: sink.masked,
                masks: sink.masks,
            })
        },
    );
    let _ = encoder.set_state(gst::State::Null);
    let done = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_file(out);
            return Err(e);
        }
    };
    // The muxer writes the wall-clock time into the headers; the recording's time replaces it.
    crate::media::mp4time::stamp(out, source.created.as_second())
        .map_err(|e| fail(e.to_string()))?;
    crate::stages::fsync(out, Stage::Redact)?;
    Ok(done)
}

/// The report of a render of `plan` that encoded `frames` frames, `masked` of them masked.
pub(crate) fn report(plan: &Plan, s: &RenderSettings, frames: u64, masked: u64) -> RenderReport {
    let (redacted, kept) = track_lines(plan, s);
    RenderReport {
        plan_sha256: plan.digest(),
        settings: s.clone(),
        redacted,
        kept,
        manual_box_frames: manual_box_frames(s, (plan.fps_num, plan.fps_den), plan.frames),
        frames,
        frames_masked: masked,
        unmasked: plan.unmasked.clone(),
        encoder: pipeline::graph_text(ENCODE_GRAPH),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sound_that_cannot_be_copied_is_refused_unless_dropped_or_re_encoded() {
        let source = |sound: Option<(&str, bool)>| Source {
            master: PathBuf::from("m.mkv"),
            sound: sound.map(|(w, c)| (w.to_owned(), c)),
            created: jiff::Timestamp::UNIX_EPOCH,
        };
        let line = |audio: Audio, sound| {
            let s = RenderSettings {
                audio,
                ..RenderSettings::default()
            };
            audio_line(&s, &source(sound))
        };
        let opus = Some(("Opus audio out of Matroska", false));
        let aac = Some(("MPEG-4 AAC audio out of Quicktime", true));
        let refused = line(Audio::Keep, opus).expect_err("opus cannot be copied into MP4");
        assert!(
            refused
                .to_string()
                .contains("cannot copy Opus audio out of Matroska")
        );
        assert_eq!(line(Audio::Keep, aac).ok(), Some(AudioLine::Copy));
        assert_eq!(line(Audio::Drop, opus).ok(), Some(AudioLine::None));
        assert_eq!(line(Audio::Keep, None).ok(), Some(AudioLine::None));
        let mute = Audio::Mute(vec![(1.0, 2.0)]);
        assert_eq!(
            line(mute, opus).ok(),
            Some(AudioLine::Mute(vec![(1.0, 2.0)]))
        );
    }

    #[test]
    fn manual_boxes_parse() {
        assert_eq!("drop".parse::<Audio>(), Ok(Audio::Drop));
        assert_eq!(
            "mute:1-2.5,4-4.5".parse::<Audio>(),
            Ok(Audio::Mute(vec![(1.0, 2.5), (4.0, 4.5)]))
        );
        for bad in ["mute", "mute:2-1", "mute:a-b", "loud"] {
            assert!(bad.parse::<Audio>().is_err(), "{bad}");
        }
        let b: ManualBox = "10,20,30,40@1.5-3".parse().expect("parses");
        assert_eq!(
            (b.x, b.y, b.w, b.h, b.from_s, b.to_s),
            (10.0, 20.0, 30.0, 40.0, 1.5, 3.0)
        );
        for bad in [
            "10,20,30@1-2",
            "10,20,30,40",
            "10,20,0,40@1-2",
            "1,2,3,4@3-1",
            "a,b,c,d@1-2",
        ] {
            assert!(bad.parse::<ManualBox>().is_err(), "{bad}");
        }
    }
}
