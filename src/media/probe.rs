//! Probing a file before decoding: is it media, does it have a video stream bwv can decode,
//! what codecs and container, and when does the container say it was made.
//!
//! The probe demultiplexes without decoding: `filesrc ! parsebin`, each elementary
//! stream's pad linked to a fakesink through a probe that keeps its tags and drops its data.
//! It ends as soon as every stream has carried its first buffer (by then its caps and tags have
//! passed), so it reads little more than the container's index. Whether a decoder exists is
//! asked of the plugin registry. (GstDiscoverer, used before, prerolled real decoders and took
//! about 0.4 s and 0.7 s of CPU on a 10 s 1080p clip; this takes a few milliseconds.)

use std::path::Path;
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_pbutils as gst_pbutils;
use jiff::Timestamp;

use super::pipeline::Sound;
use crate::error::{Error, Result, Stage};

/// How long a probe may take before the file is declared unreadable.
pub const DEFAULT_PROBE_TIMEOUT_S: u64 = 15;

/// Name of the bus message the pad probes post when every stream has shown its first buffer.
const DONE: &str = "bwv-probe-done";

/// The widest or tallest picture bwv decodes (8K is 7680 or 8192 wide).
pub const MAX_SIDE: i32 = 8192;
/// The most pixels a picture may have (8192x4320): a frame is decoded, copied and hashed
/// whole, so a file claiming 16000x16000 would take gigabytes per job.
pub const MAX_PIXELS: i64 = 8192 * 4320;

/// Refuses a picture too large to process within a job's memory.
fn check_size(w: i32, h: i32) -> std::result::Result<(), String> {
    if w <= 0 || h <= 0 || w > MAX_SIDE || h > MAX_SIDE || i64::from(w) * i64::from(h) > MAX_PIXELS
    {
        return Err(format!(
            "picture {w}x{h} is outside what bwv processes (at most {MAX_SIDE} on a side and \
             {MAX_PIXELS} pixels, 8192x4320)"
        ));
    }
    Ok(())
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Container description ("Quicktime", ...), or "none" for elementary streams.
    pub container: String,
    /// First video stream's codec description.
    pub video_codec: String,
    /// First audio stream's codec description, if any.
    pub audio_codec: Option<String>,
    /// What a decode of this file hands on of that stream.
    pub sound: Sound,
    /// Container-reported duration in nanoseconds, if known.
    pub duration_ns: Option<u64>,
    /// Container creation time, if tagged.
    pub created: Option<Timestamp>,
    /// Nominal frame rate (numerator, denominator), if declared.
    pub fps: Option<(i32, i32)>,
}

impl Probe {
    /// Frames the container's duration and frame rate suggest (for progress only).
    pub fn expected_frames(&self) -> Option<u64> {
        let (n, d) = self.fps.filter(|&(n, d)| n > 0 && d > 0)?;
        Some((self.duration_ns? as u128 * n as u128 / (d as u128 * 1_000_000_000)) as u64)
    }
}

/// What the pad probes have seen so far.
#[derive(Default)]
struct Seen {
    /// Every elementary stream parsebin exposed (by pad name) and, once its first buffer (or
    /// its end) has passed, its caps. Names, not pads: the pads' probes hold this.
    streams: Vec<(String, Option<Option<gst::Caps>>)>,
    /// Tag lists in arrival order, global (container) scope first when read back.
    tags: Vec<gst::TagList>,
    /// Whether parsebin plugged a demuxer (the file is a container).
    demuxed: bool,
    no_more_pads: bool,
    done: bool,
}

impl Seen {
    /// Posts [`DONE`] once every stream has carried data and parsebin has exposed them all.
    fn check_done(&mut self, bin: &gst::Element) {
        if !self.done
            && self.no_more_pads
            && !self.streams.is_empty()
            && self.streams.iter().all(|(_, caps)| caps.is_some())
        {
            self.done = true;
            let _ = bin.post_message(gst::message::Application::new(gst::Structure::new_empty(
                DONE,
            )));
        }
    }
}

fn lock(seen: &Mutex<Seen>) -> std::sync::MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|p| p.into_inner())
}

/// Probes `path`, failing with a one-line reason for anything bwv cannot process.
pub fn probe(path: &Path, timeout_s: u64) -> Result<Probe> {
    crate::media::init()?;
    let fail = |reason: String| Error::Media {
        path: path.to_owned(),
        stage: Stage::Probe,
        reason,
    };
    let (pipeline, seen) = build(path).map_err(|e| Error::Gstreamer(format!("probe: {e}")))?;
    let outcome = wait(&pipeline, timeout_s).map(|()| read(&pipeline, &lock(&seen)));
    let _ = pipeline.set_state(gst::State::Null);
    let found = outcome.map_err(fail)?;
    found.into_probe().map_err(fail)
}

/// `filesrc ! parsebin`, each exposed stream into a fakesink through a tag-keeping,
/// data-dropping pad probe.
fn build(path: &Path) -> std::result::Result<(gst::Pipeline, Arc<Mutex<Seen>>), String> {
    let make = |factory: &str| {
        gst::ElementFactory::make(factory)
            .build()
            .map_err(|e| format!("{factory}: {e}"))
    };
    let pipeline = gst::Pipeline::new();
    let src = make("filesrc")?;
    src.set_property("location", path);
    let parse = make("parsebin")?;
    pipeline
        .add_many([&src, &parse])
        .and_then(|()| src.link(&parse))
        .map_err(|e| e.to_string())?;
    let seen = Arc::new(Mutex::new(Seen::default()));

    let on_element = Arc::clone(&seen);
    parse
        .downcast_ref::<gst::Bin>()
        .ok_or("parsebin is not a bin")?
        .connect_deep_element_added(move |_, _, element| {
            let demuxer = element
                .factory()
                .is_some_and(|f| f.metadata("klass").is_some_and(|k| k.contains("Demux")));
            lock(&on_element).demuxed |= demuxer;
        });

    let on_pad = Arc::clone(&seen);
    let weak = pipeline.downgrade();
    parse.connect_pad_added(move |parse, pad| {
        let Some(pipeline) = weak.upgrade() else {
            return;
        };
        if let Err(e) = super::pipeline::drain(&pipeline, pad) {
            gst::element_error!(parse, gst::CoreError::Pad, ("probe: {}", e));
            return;
        }
        lock(&on_pad).streams.push((pad.name().to_string(), None));
        let seen = Arc::clone(&on_pad);
        let bin = parse.downgrade();
        pad.add_probe(
            gst::PadProbeType::BUFFER
                | gst::PadProbeType::BUFFER_LIST
                | gst::PadProbeType::EVENT_DOWNSTREAM,
            move |pad, info| {
                let mut seen = lock(&seen);
                let ended = match info.data {
                    Some(gst::PadProbeData::Event(ref e)) => match e.view() {
                        gst::EventView::Tag(t) => {
                            seen.tags.push(t.tag_owned());
                            false
                        }
                        gst::EventView::Eos(_) => true,
                        _ => return gst::PadProbeReturn::Ok,
                    },
                    _ => true,
                };
                if ended && let Some(s) = seen.streams.iter_mut().find(|(p, _)| *p == pad.name()) {
                    s.1.get_or_insert_with(|| pad.current_caps());
                }
                if let Some(bin) = bin.upgrade() {
                    seen.check_done(&bin);
                }
                match info.data {
                    Some(gst::PadProbeData::Event(_)) => gst::PadProbeReturn::Ok,
                    _ => gst::PadProbeReturn::Drop,
                }
            },
        );
    });
    let on_done = Arc::clone(&seen);
    parse.connect_no_more_pads(move |parse| {
        let mut seen = lock(&on_done);
        seen.no_more_pads = true;
        seen.check_done(parse);
    });
    Ok((pipeline, seen))
}

/// Plays the probe until every stream has shown data, an error, or the time limit.
fn wait(pipeline: &gst::Pipeline, timeout_s: u64) -> std::result::Result<(), String> {
    let bus = pipeline.bus().ok_or("probe pipeline has no bus")?;
    let error = |m: &gst::Message| match m.view() {
        gst::MessageView::Error(e) => Some(explain(&e.error().to_string(), e.debug().as_deref())),
        _ => None,
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        let m = bus.timed_pop_filtered(gst::ClockTime::ZERO, &[gst::MessageType::Error]);
        return Err(m
            .as_ref()
            .and_then(error)
            .unwrap_or_else(|| "cannot read as media: the probe did not start".into()));
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_s);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let Some(msg) = bus.timed_pop_filtered(
            gst::ClockTime::from_nseconds(left.as_nanos() as u64),
            &[
                gst::MessageType::Error,
                gst::MessageType::Eos,
                gst::MessageType::Application,
            ],
        ) else {
            return Err(format!("probe timed out after {timeout_s} s"));
        };
        if let Some(reason) = error(&msg) {
            return Err(reason);
        }
        let done = match msg.view() {
            gst::MessageView::Application(a) => a.structure().is_some_and(|s| s.name() == DONE),
            _ => true, // EOS: every stream has ended
        };
        if done {
            return Ok(());
        }
    }
}

/// The streams' caps and tags, read while the pipeline still holds them.
struct Found {
    container: Option<gst::Caps>,
    streams: Vec<gst::Caps>,
    tags: Vec<gst::TagList>,
    duration_ns: Option<u64>,
}

fn read(pipeline: &gst::Pipeline, seen: &Seen) -> Found {
    Found {
        // The type parsebin's own typefind found for the whole file.
        container: pipeline
            .iterate_all_by_element_factory_name("typefind")
            .into_iter()
            .flatten()
            .next()
            .filter(|_| seen.demuxed)
            .and_then(|t| t.property::<Option<gst::Caps>>("caps")),
        streams: seen
            .streams
            .iter()
            .filter_map(|(_, caps)| caps.clone().flatten())
            .collect(),
        tags: seen.tags.clone(),
        duration_ns: pipeline
            .query_duration::<gst::ClockTime>()
            .map(|d| d.nseconds()),
    }
}

impl Found {
    fn into_probe(self) -> std::result::Result<Probe, String> {
        let name = |c: &gst::Caps| {
            c.structure(0)
                .map(|s| s.name().to_string())
                .unwrap_or_default()
        };
        let first = |prefix: &str| self.streams.iter().find(|c| name(c).starts_with(prefix));
        // A picture file is typed as image/* with no container; inside a container image/jpeg
        // is motion JPEG, a video.
        let video = first("video/")
            .or_else(|| self.container.as_ref().and(first("image/")))
            .ok_or_else(|| {
                if first("image/").is_some() {
                    "a still image, not a video".to_string()
                } else {
                    "no video stream".to_string()
                }
            })?;
        let audio = first("audio/");
        for (caps, kind) in std::iter::once((video, gst::ElementFactoryType::MEDIA_VIDEO))
            .chain(audio.map(|a| (a, gst::ElementFactoryType::MEDIA_AUDIO)))
        {
            if !decodable(caps, kind) {
                return Err(format!(
                    "unsupported codec: no decoder installed for this {} stream",
                    describe(caps)
                ));
            }
        }
        let size = |field: &str| video.structure(0).and_then(|s| s.get::<i32>(field).ok());
        if let (Some(w), Some(h)) = (size("width"), size("height")) {
            check_size(w, h)?;
        }
        let fps = video
            .structure(0)
            .and_then(|s| s.get::<gst::Fraction>("framerate").ok())
            .map(|f| (f.numer(), f.denom()));
        // Creation time from the container's (global) tags, else any stream's.
        let created = self
            .tags
            .iter()
            .filter(|t| t.scope() == gst::TagScope::Global)
            .chain(self.tags.iter())
            .find_map(|t| t.get::<gst::tags::DateTime>().map(|d| d.get().to_owned()))
            .and_then(|d| d.to_iso8601_string().ok())
            .and_then(|s| s.parse::<Timestamp>().ok());
        Ok(Probe {
            container: self
                .container
                .as_ref()
                .map(describe)
                .unwrap_or_else(|| "none".into()),
            video_codec: describe(video),
            audio_codec: audio.map(describe),
            sound: Sound::of(audio),
            duration_ns: self.duration_ns,
            created,
            fps,
        })
    }
}

fn describe(caps: &gst::Caps) -> String {
    gst_pbutils::pb_utils_get_codec_description(caps).to_string()
}

/// Whether the stream is raw already (PCM sound, uncompressed video), or an installed decoder of
/// this kind takes `caps` as they are, or takes their codec and an installed parser can put the
/// stream into a form it takes (as decodebin would plug them).
fn decodable(caps: &gst::Caps, kind: gst::ElementFactoryType) -> bool {
    if caps
        .structure(0)
        .is_some_and(|s| s.name().ends_with("/x-raw"))
    {
        return true;
    }
    let takes = |role: gst::ElementFactoryType, exactly: bool| {
        gst::ElementFactory::factories_with_type(role | kind, gst::Rank::MARGINAL)
            .iter()
            .any(|f| {
                if exactly {
                    f.can_sink_all_caps(caps)
                } else {
                    f.can_sink_any_caps(caps)
                }
            })
    };
    use gst::ElementFactoryType as T;
    takes(T::DECODER, true) || (takes(T::DECODER, false) && takes(T::PARSER, false))
}

/// Turns GStreamer's message for a failed probe into a reason an operator understands.
fn explain(message: &str, debug: Option<&str>) -> String {
    let m = message.to_ascii_lowercase();
    let d = debug.unwrap_or_default().to_ascii_lowercase();
    if m.contains("missing a plug-in") {
        "unsupported format: no plug-in installed to read it".into()
    } else if m.contains("contains no data") {
        "empty: the file holds no data".into()
    } else if m.contains("text file") {
        "not a media file (text)".into()
    } else if m.contains("could not determine type") {
        "not a media file (unrecognised content)".into()
    } else if m.contains("no playable streams")
        || m.contains("incomplete")
        || m.contains("moov")
        || d.contains("moov")
    {
        format!("truncated or incomplete recording (no index): {message}")
    } else {
        format!("cannot read as media: {message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_past_8k_are_refused() {
        for (w, h) in [
            (1920, 1080),
            (3840, 2160),
            (7680, 4320),
            (8192, 4320),
            (4320, 8192),
        ] {
            assert_eq!(check_size(w, h), Ok(()), "{w}x{h}");
        }
        for (w, h) in [
            (8193, 64),
            (64, 8193),
            (8192, 4321),
            (16000, 15992),
            (0, 1080),
        ] {
            let err = check_size(w, h).expect_err("too large");
            assert!(err.contains(&format!("{w}x{h}")), "{err}");
        }
    }
}
