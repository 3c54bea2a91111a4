//! The decode-once pipeline.
//!
//! ```text
//! filesrc ─ decodebin ─┬─ video ─ queue ─ appsink(frames) ─► Rust: FrameSink
//!                      │                          └─► appsrc(video) ─ videoscale ─ … ─ x264enc ─ mp4mux ─ filesink  (proxy)
//!                      └─ audio ─ queue(10 s) ─ aacparse (AAC) | audioconvert ─ avenc_aac (other) ┘
//! ```
//! Graphs come from `pipelines/*.gst`; file paths are set as element properties. Rust hands each
//! frame to the frame sink and pushes it on into every branch, shrinking it first when the
//! branch's size is an exact ratio of the frame's ([`Shrink`]: an area mean at a quarter of the
//! cost of GStreamer's bilinear scaler, off the encoder's thread). AAC sound is handed on as
//! stored ([`Sound`]). [`run`] builds the pipeline in one place and drives it in another: the bus
//! loop ends on EOS, on the first error (naming the element), or when no frame arrives within the
//! stall timeout, and the pipeline is set to `Null` on every exit path.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use gst_video::prelude::*;
use gstreamer as gst;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::frame::{self, PlaneLayout};
use super::scale::{PlaneIn, Shrink};
use crate::error::{Error, Result, Stage};

/// The decode graph (see the file for its endpoints).
pub const DECODE_GRAPH: &str = include_str!("../../pipelines/decode.gst");

/// Default time without a new frame after which a pipeline counts as stalled.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(20);

/// One decoded frame handed to a [`FrameSink`].
#[derive(Debug)]
pub struct Frame<'a> {
    /// 0-based index in presentation order.
    pub index: u64,
    /// Stream time of the frame in nanoseconds (0 for the first frame of a normal file).
    pub pts_ns: u64,
    /// The frame's duration, when the decoder knows it.
    pub duration_ns: Option<u64>,
    /// The mapped frame in the decoder's native format.
    pub video: &'a gst_video::VideoFrameRef<&'a gst::BufferRef>,
    /// Its tight plane layout.
    pub layouts: &'a [PlaneLayout],
}

/// Receives every decoded frame, in order, on the pipeline's streaming thread.
pub trait FrameSink: Send + 'static {
    /// Handles one frame; an error stops the pipeline and is reported with `stage`.
    fn frame(&mut self, frame: &Frame<'_>) -> std::result::Result<(), (Stage, String)>;
}

/// A sink that passes every frame on to `inner` and reports every 15th as progress of item 0
/// (a redaction's plan or render; ingest reports its own).
pub struct Counted<S> {
    /// The sink that does the work.
    pub inner: S,
    /// Where progress goes.
    pub progress: Arc<dyn crate::progress::Progress>,
}

impl<S> std::fmt::Debug for Counted<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counted").finish_non_exhaustive()
    }
}

impl<S: FrameSink> FrameSink for Counted<S> {
    fn frame(&mut self, f: &Frame<'_>) -> std::result::Result<(), (Stage, String)> {
        self.inner.frame(f)?;
        if f.index.is_multiple_of(15) {
            self.progress.event(crate::progress::ProgressEvent::Frames {
                item: 0,
                done: f.index + 1,
            });
        }
        Ok(())
    }
}

/// An encode branch fed from the same decode (e.g. the proxy).
#[derive(Debug, Clone)]
pub struct Branch {
    /// gst-launch description of a bin with a `video` appsrc and optionally an `audio` queue.
    pub graph: String,
    /// Caps for the element named `size`, chosen from the decoded video's caps: the branch's
    /// frame size, which bwv shrinks to itself when it can.
    pub size_caps: fn(&gst_video::VideoInfo) -> gst::Caps,
    /// Properties to set: (element name, property, path).
    pub paths: Vec<(String, String, PathBuf)>,
}

/// What the decode learnt.
#[derive(Debug, Clone)]
pub struct DecodeReport {
    /// Frames delivered.
    pub frames: u64,
    /// Video decoder element factory.
    pub decoder: String,
    /// Decoded video format (native).
    pub info: gst_video::VideoInfo,
    /// Stream time of the end of the last frame, in nanoseconds.
    pub end_ns: u64,
    /// Coded frames (buffers) the video decoder was given, when the decoder was seen: more
    /// than `frames` means some could not be decoded (corrupt data; the decoder skips them).
    pub coded_frames: Option<u64>,
    /// For each branch, whether bwv shrank the frames it pushed there ([`Shrink`]) rather
    /// than leaving any scaling to the branch graph (as of the last frame).
    pub shrunk: Vec<bool>,
}

/// Removes the `#` comment lines of a `.gst` graph file.
pub fn graph_text(file: &str) -> String {
    file.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compressed audio the decode hands on as stored instead of decoding it: AAC (MPEG-4 audio),
/// which the proxy's MP4 carries as it is.
const KEPT_AUDIO: &str = "audio/mpeg, mpegversion=(int)4";

/// The sound a decode hands to its branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sound {
    /// No audio stream (or none a branch takes).
    None,
    /// AAC, as stored: a branch copies it (its queue is `audio-aac`).
    Aac,
    /// Any other codec, decoded (its queue is `audio`).
    Decoded,
}

impl Sound {
    /// What the decode hands on for a file whose first audio stream has (parsed) `caps`.
    pub fn of(caps: Option<&gst::Caps>) -> Self {
        match caps {
            None => Sound::None,
            Some(c) if kept_audio().is_some_and(|k| c.can_intersect(&k)) => Sound::Aac,
            Some(_) => Sound::Decoded,
        }
    }
}

fn kept_audio() -> Option<gst::Caps> {
    KEPT_AUDIO.parse().ok()
}

/// The graph of a branch file for a source's sound: each line is one chain; the chain that
/// starts at the queue named `audio` (decoded sound) or `audio-aac` (AAC as stored) is kept only
/// for that sound (a muxer keeps an empty track for any pad once requested, so a chain without
/// input must never be created).
pub fn branch_text(file: &str, sound: Sound) -> String {
    graph_text(file)
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            if l.starts_with("queue name=audio ") {
                sound == Sound::Decoded
            } else if l.starts_with("queue name=audio-aac ") {
                sound == Sound::Aac
            } else {
                true
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Elements on the way to a recording's first decoded frame (the probe's demuxer and parsers,
/// and the decoder of most body-worn cameras' video), whose plugins the warm-up loads first:
/// the encoders' plugins are not needed until the first frames reach them, and meanwhile
/// decoding can use the other core. (Loading libav first starts the decode 0.08 s sooner.)
const FIRST_FRAME: [&str; 4] = ["avdec_h264", "qtdemux", "h264parse", "aacparse"];

/// Loads, on a background thread, every plugin the decode graph and the branch graph files
/// `branches` (e.g. the proxy's) use, so the first pipeline need not wait for them; returns at
/// once. Keep the returned guard until the work is done: dropping it waits for the thread, so
/// the process never exits while a plugin is half loaded (which can abort it inside GLib).
///
/// GStreamer loads a plugin when an element of it is first made. libav, which holds the
/// decoders and the AAC encoder, registers several hundred elements as it loads: 0.1–0.35 s of
/// one core here, which otherwise sits between a batch's first probe and its first decoded frame
/// while the other core idles. Built and dropped here, the graphs load their plugins alongside
/// the store, the master copy and the probe. A pipeline built meanwhile waits only for what is
/// left (GStreamer loads each plugin once, under a lock). The plugins on the way to the first
/// decoded frame come first ([`FIRST_FRAME`]).
pub fn warm_up(branches: &[&str]) -> WarmUp {
    let graphs: Vec<String> = branches
        .iter()
        .map(|b| branch_text(b, Sound::Decoded))
        .collect();
    let thread = std::thread::Builder::new()
        .name("bwv-warm-up".into())
        .spawn(move || {
            if crate::media::init().is_err() {
                return;
            }
            for name in FIRST_FRAME {
                if let Some(f) = gst::ElementFactory::find(name) {
                    let _ = f.load();
                }
            }
            // Failures are the real pipeline's to report, with the file's name.
            let _ = gst::parse::launch(&graph_text(DECODE_GRAPH));
            for graph in &graphs {
                let _ = gst::parse::bin_from_description(graph, false);
            }
        })
        .ok();
    WarmUp(thread)
}

/// The plugin warm-up thread; dropping this waits for it to end.
#[derive(Debug)]
pub struct WarmUp(Option<std::thread::JoinHandle<()>>);

impl Drop for WarmUp {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = t.join();
        }
    }
}

#[derive(Default)]
struct Shared {
    failure: Option<(Stage, String)>,
    decoder: Option<String>,
    /// Buffers into the video decoder (see [`DecodeReport::coded_frames`]).
    coded: Option<Arc<AtomicU64>>,
    info: Option<gst_video::VideoInfo>,
    end_ns: u64,
    shrunk: Vec<bool>,
}

/// Decodes `input` once, feeding every frame to `sink` and the decoded streams to `branches`.
/// Returns the report and the sink (so its state can be finished by the caller).
pub fn run<S: FrameSink>(
    input: &Path,
    sound: Sound,
    branches: &[Branch],
    sink: S,
    stall: Duration,
) -> Result<(DecodeReport, S)> {
    crate::media::init()?;
    let fail = |stage: Stage, reason: String| failure(input, stage, reason);
    let (pipeline, feeds) = build(input, sound, branches).map_err(|r| fail(Stage::Decode, r))?;
    let counter = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Mutex::new(Shared::default()));
    let sink = Arc::new(Mutex::new(Some(sink)));
    install_frame_callback(&pipeline, &counter, &shared, &sink, feeds)
        .map_err(|r| fail(Stage::Decode, r))?;
    install_decoder_watch(&pipeline, &shared);

    let outcome = drive(&pipeline, &counter, stall);
    // Null on every exit path, before the sink is taken back.
    let _ = pipeline.set_state(gst::State::Null);

    let mut shared = lock(&shared);
    if let Some((stage, reason)) = shared.failure.take() {
        return Err(fail(stage, reason));
    }
    outcome.map_err(|r| fail(Stage::Decode, r))?;
    let frames = counter.load(Ordering::SeqCst);
    let info = shared
        .info
        .take()
        .ok_or_else(|| fail(Stage::Decode, "no video frame was decoded".into()))?;
    let report = DecodeReport {
        frames,
        decoder: shared.decoder.take().unwrap_or_else(|| "unknown".into()),
        info,
        end_ns: shared.end_ns,
        coded_frames: shared.coded.as_ref().map(|c| c.load(Ordering::SeqCst)),
        shrunk: std::mem::take(&mut shared.shrunk),
    };
    drop(shared);
    // The appsink's callbacks keep their handle until the pipeline is freed; take the sink out.
    let sink = lock(&sink)
        .take()
        .ok_or_else(|| fail(Stage::Decode, "frame sink already taken".into()))?;
    Ok((report, sink))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn by_name(bin: &impl IsA<gst::Bin>, name: &str) -> std::result::Result<gst::Element, String> {
    bin.by_name(name)
        .ok_or_else(|| format!("pipeline graph has no element named {name:?}"))
}

/// Builds the pipeline: decode graph, branches (and the feeds of their appsrcs), and the
/// dynamic linking of decodebin's pads.
fn build(
    input: &Path,
    sound: Sound,
    branches: &[Branch],
) -> std::result::Result<(gst::Pipeline, Vec<Feed>), String> {
    let pipeline = gst::parse::launch(&graph_text(DECODE_GRAPH))
        .map_err(|e| format!("decode graph: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "decode graph is not a pipeline".to_string())?;
    by_name(&pipeline, "src")?.set_property("location", input);
    let frames_in = by_name(&pipeline, "frames-queue")?
        .static_pad("sink")
        .ok_or("frames queue has no sink pad")?;

    let mut feeds = Vec::new();
    let mut video_ins = Vec::new();
    let mut audio_ins = Vec::new();
    for branch in branches {
        let bin = gst::parse::bin_from_description(&branch_text(&branch.graph, sound), false)
            .map_err(|e| format!("branch graph: {e}"))?;
        for (element, property, path) in &branch.paths {
            by_name(&bin, element)?.set_property(property, path.as_path());
        }
        pipeline.add(&bin).map_err(|e| e.to_string())?;
        let src = by_name(&bin, "video")?
            .downcast::<gst_app::AppSrc>()
            .map_err(|_| "branch `video` is not an appsrc".to_string())?;
        feeds.push(Feed {
            src,
            size_caps: branch.size_caps,
            mode: None,
        });
        video_ins.push((by_name(&bin, "size")?, branch.size_caps));
        if let Some(audio) = bin.by_name("audio").or_else(|| bin.by_name("audio-aac")) {
            let ghost = gst::GhostPad::builder_with_target(
                &audio
                    .static_pad("sink")
                    .ok_or("audio queue has no sink pad")?,
            )
            .map_err(|e| e.to_string())?
            .name("audio_sink")
            .build();
            bin.add_pad(&ghost).map_err(|e| e.to_string())?;
            audio_ins.push(ghost.upcast::<gst::Pad>());
        }
    }

    let dec = by_name(&pipeline, "dec")?;
    // decodebin stops at the final caps it is given; AAC joins them, so it is never decoded
    // (the proxy copies it; other consumers drain it).
    let mut stop: gst::Caps = dec.property("caps");
    stop.make_mut()
        .append(kept_audio().ok_or("bad kept-audio caps")?);
    dec.set_property("caps", &stop);
    let video_in = frames_in.clone();
    let pipeline_weak = pipeline.downgrade();
    let audio_ins = Mutex::new(audio_ins);
    dec.connect_pad_added(move |dec, pad| {
        let Some(pipeline) = pipeline_weak.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let media = caps
            .structure(0)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let result = if media.starts_with("video/") && !frames_in.is_linked() {
            if let Ok(info) = gst_video::VideoInfo::from_caps(&caps) {
                for (size, caps_for) in &video_ins {
                    size.set_property("caps", caps_for(&info));
                }
            }
            Some(
                pad.link(&frames_in)
                    .map(|_| ())
                    .map_err(|e| format!("{e:?}")),
            )
        } else if media.starts_with("audio/")
            && (media == "audio/x-raw") == (sound == Sound::Decoded)
        {
            // The sound the branches were built for: with several audio streams, the first of
            // that kind (AAC as stored, or decoded); the others drain.
            lock(&audio_ins)
                .pop()
                .map(|target| pad.link(&target).map(|_| ()).map_err(|e| format!("{e:?}")))
        } else {
            None
        };
        match result {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                gst::element_error!(
                    dec,
                    gst::StreamError::Failed,
                    ("cannot link {} stream: {}", media, e)
                );
            }
            // Streams nobody consumes (a second audio track, subtitles, data) drain into a fakesink.
            None => {
                if let Err(e) = drain(&pipeline, pad) {
                    gst::element_error!(
                        dec,
                        gst::StreamError::Failed,
                        ("cannot drain {} stream: {}", media, e)
                    );
                }
            }
        }
    });
    dec.connect_no_more_pads(move |dec| {
        if !video_in.is_linked() {
            gst::element_error!(dec, gst::StreamError::WrongType, ("no video stream"));
        }
    });
    Ok((pipeline, feeds))
}

/// Pushes the decoded frames into one branch's `video` appsrc, with their stream times:
/// shrunk here when the branch's size is an exact ratio of progressive, square-pixel I420
/// frames, else as decoded (the branch graph scales and converts them).
struct Feed {
    src: gst_app::AppSrc,
    size_caps: fn(&gst_video::VideoInfo) -> gst::Caps,
    /// The decoded caps the current way of feeding was chosen for, and the shrink, if any.
    mode: Option<(gst::Caps, Option<Shrinking>)>,
}

/// Frames shrunk here into buffers of format `out`, recycled through `pool` (fresh 1.4 MB
/// allocations cost a page fault every 4 KiB).
struct Shrinking {
    shrink: Shrink,
    out: gst_video::VideoInfo,
    pool: gst::BufferPool,
}

impl Feed {
    fn push(&mut self, caps: &gst::CapsRef, f: &Frame<'_>) -> std::result::Result<(), String> {
        if self.mode.as_ref().is_none_or(|(c, _)| c != caps) {
            let shrink = self.shrink_for(f.video.info());
            let out_caps = match &shrink {
                Some(s) => s.out.to_caps().map_err(|e| format!("output caps: {e}"))?,
                None => caps.to_owned(),
            };
            self.src.set_caps(Some(&out_caps));
            self.mode = Some((caps.to_owned(), shrink));
        }
        let mut buffer = match &mut self.mode {
            Some((_, Some(s))) => shrunk(f, s)?,
            _ => f.video.buffer().to_owned(),
        };
        {
            let b = buffer.make_mut();
            b.set_pts(gst::ClockTime::from_nseconds(f.pts_ns));
            b.set_dts(gst::ClockTime::NONE);
            b.set_duration(f.duration_ns.map(gst::ClockTime::from_nseconds));
        }
        self.src
            .push_buffer(buffer)
            .map(|_| ())
            .map_err(|e| format!("frame {} refused: {e:?}", f.index))
    }

    fn shrink_for(&self, info: &gst_video::VideoInfo) -> Option<Shrinking> {
        let (shrink, out) = shrink_plan(info, self.size_caps)?;
        let pool = gst::BufferPool::new();
        let mut config = pool.config();
        config.set_params(Some(&out.to_caps().ok()?), out.size() as u32, 0, 0);
        pool.set_config(config).ok()?;
        pool.set_active(true).ok()?;
        Some(Shrinking { shrink, out, pool })
    }
}

/// How bwv shrinks frames of format `info` to a branch's size (`size_caps`), and the shrunk
/// frames' format; `None` when it leaves them to the branch graph (they are not progressive,
/// square-pixel I420, or the size is not an exact ratio [`Shrink`] takes).
fn shrink_plan(
    info: &gst_video::VideoInfo,
    size_caps: fn(&gst_video::VideoInfo) -> gst::Caps,
) -> Option<(Shrink, gst_video::VideoInfo)> {
    if info.format() != gst_video::VideoFormat::I420
        || info.par() != gst::Fraction::new(1, 1)
        || info.interlace_mode() != gst_video::VideoInterlaceMode::Progressive
    {
        return None;
    }
    let target = gst_video::VideoInfo::from_caps(&size_caps(info)).ok()?;
    let shrink = Shrink::new(
        info.width() as usize,
        info.height() as usize,
        target.width() as usize,
        target.height() as usize,
    )?;
    let out = frame::i420_like(info, target.width(), target.height()).ok()?;
    Some((shrink, out))
}

/// The frame shrunk into a buffer from the pool.
fn shrunk(f: &Frame<'_>, s: &mut Shrinking) -> std::result::Result<gst::Buffer, String> {
    let mut buffer = s
        .pool
        .acquire_buffer(None)
        .map_err(|e| format!("frame {}: no buffer to shrink into: {e:?}", f.index))?;
    let b = buffer.get_mut().ok_or("pooled buffer is shared")?;
    let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(b, &s.out)
        .map_err(|_| "cannot map the shrunk frame")?;
    for plane in 0..3 {
        let src = PlaneIn {
            data: f
                .video
                .plane_data(plane)
                .map_err(|e| format!("frame {} plane {plane}: {e}", f.index))?,
            stride: f.video.plane_stride()[plane as usize] as usize,
            width: f.video.comp_width(plane) as usize,
            height: f.video.comp_height(plane) as usize,
        };
        let stride = dst.plane_stride()[plane as usize] as usize;
        let data = dst
            .plane_data_mut(plane)
            .map_err(|e| format!("shrunk frame plane {plane}: {e}"))?;
        if !s.shrink.plane(src, data, stride) {
            return Err(format!("frame {} plane {plane} does not shrink", f.index));
        }
    }
    drop(dst);
    Ok(buffer)
}

/// Links `pad` to a new fakesink in `pipeline` that never waits (a stream nobody consumes).
pub(crate) fn drain(pipeline: &gst::Pipeline, pad: &gst::Pad) -> std::result::Result<(), String> {
    let sink = gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .property("async", false)
        .build()
        .map_err(|e| e.to_string())?;
    pipeline.add(&sink).map_err(|e| e.to_string())?;
    sink.sync_state_with_parent().map_err(|e| e.to_string())?;
    let sink_pad = sink.static_pad("sink").ok_or("fakesink has no pad")?;
    pad.link(&sink_pad)
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

fn install_decoder_watch(pipeline: &gst::Pipeline, shared: &Arc<Mutex<Shared>>) {
    let Some(dec) = pipeline
        .by_name("dec")
        .and_then(|d| d.downcast::<gst::Bin>().ok())
    else {
        return;
    };
    let shared = Arc::clone(shared);
    dec.connect_deep_element_added(move |_, _, element| {
        let Some(factory) = element.factory() else {
            return;
        };
        let klass = factory.metadata("klass").unwrap_or_default();
        if !(klass.contains("Decoder") && klass.contains("Video")) {
            return;
        }
        let mut shared = lock(&shared);
        if shared.decoder.is_some() {
            return;
        }
        shared.decoder = Some(factory.name().to_string());
        // Counts what the decoder is given, to compare with the frames it returns.
        let Some(pad) = element.static_pad("sink") else {
            return;
        };
        let coded = Arc::new(AtomicU64::new(0));
        shared.coded = Some(Arc::clone(&coded));
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                let n = match &info.data {
                    Some(gst::PadProbeData::Buffer(_)) => 1,
                    Some(gst::PadProbeData::BufferList(l)) => l.len() as u64,
                    _ => 0,
                };
                coded.fetch_add(n, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            },
        );
    });
}

fn install_frame_callback<S: FrameSink>(
    pipeline: &gst::Pipeline,
    counter: &Arc<AtomicU64>,
    shared: &Arc<Mutex<Shared>>,
    sink: &Arc<Mutex<Option<S>>>,
    mut feeds: Vec<Feed>,
) -> std::result::Result<(), String> {
    let appsink = by_name(pipeline, "frames")?
        .downcast::<gst_app::AppSink>()
        .map_err(|_| "`frames` is not an appsink".to_string())?;
    let (counter, shared, sink) = (Arc::clone(counter), Arc::clone(shared), Arc::clone(sink));
    let ends: Vec<gst_app::AppSrc> = feeds.iter().map(|f| f.src.clone()).collect();
    let mut layouts: Option<(gst::Caps, gst_video::VideoInfo, Vec<PlaneLayout>)> = None;
    appsink.set_callbacks(
        gst_app::AppSinkCallbacks::builder()
            .new_sample(move |appsink| {
                let sample = appsink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                let fail = |stage: Stage, reason: String| {
                    lock(&shared).failure.get_or_insert((stage, reason));
                    gst::FlowError::Error
                };
                let caps = sample
                    .caps()
                    .ok_or_else(|| fail(Stage::Decode, "frame without caps".into()))?;
                if layouts.as_ref().is_none_or(|(c, _, _)| c != caps) {
                    let info = gst_video::VideoInfo::from_caps(caps).map_err(|e| {
                        fail(Stage::Decode, format!("unusable video caps {caps}: {e}"))
                    })?;
                    let planes =
                        frame::plane_layouts(&info).map_err(|r| fail(Stage::FrameHash, r))?;
                    lock(&shared).info = Some(info.clone());
                    layouts = Some((caps.to_owned(), info, planes));
                }
                let Some((_, info, planes)) = layouts.as_ref() else {
                    return Err(gst::FlowError::Error);
                };
                let buffer = sample
                    .buffer()
                    .ok_or_else(|| fail(Stage::Decode, "sample without buffer".into()))?;
                let pts = buffer
                    .pts()
                    .ok_or_else(|| fail(Stage::Decode, "frame without timestamp".into()))?;
                let stream_time = sample
                    .segment()
                    .and_then(|s| s.downcast_ref::<gst::ClockTime>())
                    .and_then(|s| s.to_stream_time(pts))
                    .unwrap_or(pts);
                let video = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info)
                    .map_err(|_| fail(Stage::Decode, "cannot map a decoded frame".into()))?;
                let index = counter.load(Ordering::SeqCst);
                let duration = buffer.duration().map(|d| d.nseconds());
                let frame = Frame {
                    index,
                    pts_ns: stream_time.nseconds(),
                    duration_ns: duration,
                    video: &video,
                    layouts: planes,
                };
                // The encoders first: they are the slowest consumers.
                for feed in &mut feeds {
                    feed.push(caps, &frame)
                        .map_err(|r| fail(Stage::Transcode, r))?;
                }
                let mut sink = lock(&sink);
                let sink = sink.as_mut().ok_or(gst::FlowError::Flushing)?;
                sink.frame(&frame)
                    .map_err(|(stage, reason)| fail(stage, reason))?;
                let mut shared = lock(&shared);
                shared.end_ns = stream_time.nseconds() + duration.unwrap_or(0);
                shared.shrunk.clear();
                shared
                    .shrunk
                    .extend(feeds.iter().map(|f| matches!(f.mode, Some((_, Some(_))))));
                counter.store(index + 1, Ordering::SeqCst);
                Ok(gst::FlowSuccess::Ok)
            })
            .eos(move |_| {
                for src in &ends {
                    let _ = src.end_of_stream();
                }
            })
            .build(),
    );
    Ok(())
}

/// Runs the bus loop until EOS, an error, or a stall.
fn drive(
    pipeline: &gst::Pipeline,
    frames: &AtomicU64,
    stall: Duration,
) -> std::result::Result<(), String> {
    let bus = pipeline.bus().ok_or("pipeline has no bus")?;
    pipeline.set_state(gst::State::Playing).map_err(|_| {
        // The reason is on the bus; prefer it over the bare state-change failure.
        first_error(&bus).unwrap_or_else(|| "pipeline failed to start".into())
    })?;
    let mut last = (frames.load(Ordering::SeqCst), Instant::now());
    loop {
        if let Some(end) = poll_end(&bus) {
            return end;
        }
        let now = frames.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= stall {
            return Err(format!(
                "stalled: no frame decoded for {} s after frame {now}",
                stall.as_secs()
            ));
        }
    }
}

fn first_error(bus: &gst::Bus) -> Option<String> {
    bus.iter_timed_filtered(gst::ClockTime::ZERO, &[gst::MessageType::Error])
        .next()
        .and_then(|m| match m.view() {
            gst::MessageView::Error(err) => Some(describe_error(err)),
            _ => None,
        })
}

/// Waits up to 250 ms for the end of a pipeline: `Some(Ok)` at end-of-stream, `Some(Err)` at
/// an error, `None` if neither came.
fn poll_end(bus: &gst::Bus) -> Option<std::result::Result<(), String>> {
    let msg = bus.timed_pop(gst::ClockTime::from_mseconds(250))?;
    match msg.view() {
        gst::MessageView::Eos(..) => Some(Ok(())),
        gst::MessageView::Error(err) => Some(Err(describe_error(err))),
        _ => None,
    }
}

/// A decode-once run's failure: the file's ([`Error::Media`], which quarantines it) unless the
/// machine ran out of space or quota while writing (GStreamer passes the OS error's text on),
/// which is an I/O error of the "busy" kind, to be retried once space is freed.
pub fn failure(input: &Path, stage: Stage, reason: String) -> Error {
    let out_of_space = ["No space left on device", "Disk quota exceeded"]
        .iter()
        .any(|m| reason.contains(m));
    if out_of_space {
        return Error::io(input, stage, "write")(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            reason,
        ));
    }
    Error::Media {
        path: input.to_owned(),
        stage,
        reason,
    }
}

fn describe_error(err: &gst::message::Error) -> String {
    let element = err
        .src()
        .map(|s| s.path_string().to_string())
        .unwrap_or_else(|| "pipeline".into());
    format!("{} (from {element})", err.error())
}

/// An encode graph fed by frames pushed into its appsrc `video` and written by its `mux`
/// (faststart) and `sink` to `out`: `text` parsed, the output set. Returns the pipeline and
/// the appsrc; [`element`] finds the graph's other named elements.
pub fn appsrc_graph(
    text: &str,
    out: &Path,
) -> std::result::Result<(gst::Pipeline, gst_app::AppSrc), String> {
    let p = gst::parse::launch(text)
        .map_err(|e| format!("encode graph: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "encode graph is not a pipeline".to_string())?;
    element(&p, "sink")?.set_property("location", out);
    element(&p, "mux")?.set_property("faststart-file", out.with_extension("moov.tmp"));
    let src = element(&p, "video")?
        .downcast::<gst_app::AppSrc>()
        .map_err(|_| "`video` is not an appsrc".to_string())?;
    Ok((p, src))
}

/// The element named `name` in an encode graph.
pub fn element(p: &gst::Pipeline, name: &str) -> std::result::Result<gst::Element, String> {
    p.by_name(name)
        .ok_or_else(|| format!("encode graph has no {name:?}"))
}

/// Waits for an encode pipeline fed by an appsrc to finish after end-of-stream: `Ok` at its
/// end-of-stream message, the error of an error message, or an error after `stall` in all.
pub fn wait_eos(p: &gst::Pipeline, stall: Duration) -> std::result::Result<(), String> {
    let bus = p.bus().ok_or("encode pipeline has no bus")?;
    let started = Instant::now();
    loop {
        if let Some(end) = poll_end(&bus) {
            return end;
        }
        if started.elapsed() > stall {
            return Err(format!(
                "encoder did not finish within {} s",
                stall.as_secs()
            ));
        }
    }
}
