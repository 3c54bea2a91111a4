//! Probing a file before decoding: is it media, does it have a video stream bwv can decode,
//! what codecs and container, and when does the container say it was made.

use std::path::Path;

use gst_pbutils::prelude::*;
use gstreamer as gst;
use gstreamer_pbutils as gst_pbutils;
use jiff::Timestamp;

use crate::error::{Error, Result, Stage};

/// How long a probe may take before the file is declared unreadable.
pub const DEFAULT_PROBE_TIMEOUT_S: u64 = 15;

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Container description ("Quicktime", ...), or "none" for elementary streams.
    pub container: String,
    /// First video stream's codec description.
    pub video_codec: String,
    /// First audio stream's codec description, if any.
    pub audio_codec: Option<String>,
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

/// Probes `path`, failing with a one-line reason for anything bwv cannot process.
pub fn probe(path: &Path, timeout_s: u64) -> Result<Probe> {
    let fail = |reason: String| Error::Media {
        path: path.to_owned(),
        stage: Stage::Probe,
        reason,
    };
    let uri = gst::glib::filename_to_uri(path, None)
        .map_err(|e| fail(format!("cannot form a URI: {e}")))?;
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(timeout_s))
        .map_err(|e| Error::Gstreamer(format!("discoverer: {e}")))?;
    let info = match discoverer.discover_uri(&uri) {
        Ok(info) => info,
        Err(e) => return Err(fail(explain(&e.to_string()))),
    };
    match info.result() {
        gst_pbutils::DiscovererResult::Ok => {}
        gst_pbutils::DiscovererResult::Timeout => {
            return Err(fail(format!("probe timed out after {timeout_s} s")));
        }
        gst_pbutils::DiscovererResult::MissingPlugins => {
            let missing = info.missing_elements_installer_details();
            return Err(fail(format!(
                "unsupported codec: no decoder installed ({})",
                describe_missing(&missing)
            )));
        }
        other => return Err(fail(format!("probe failed: {other:?}"))),
    }
    let video = info
        .video_streams()
        .into_iter()
        .find(|v| !v.is_image())
        .ok_or_else(|| {
            fail(if info.video_streams().is_empty() {
                "no video stream".into()
            } else {
                "a still image, not a video".into()
            })
        })?;
    let describe = |caps: Option<gst::Caps>| {
        caps.map(|c| gst_pbutils::pb_utils_get_codec_description(&c).to_string())
            .unwrap_or_else(|| "unknown".into())
    };
    let container = info
        .stream_info()
        .filter(|s| s.stream_type_nick() == "container")
        .map(|c| describe(c.caps()))
        .unwrap_or_else(|| "none".into());
    // Creation time from the top-level stream's tags (the container), else any stream's.
    let created = info
        .stream_list()
        .into_iter()
        .chain(info.stream_info())
        .filter_map(|s| s.tags())
        .find_map(|t| t.get::<gst::tags::DateTime>().map(|d| d.get().to_owned()))
        .and_then(|d| d.to_iso8601_string().ok())
        .and_then(|s| s.parse::<Timestamp>().ok());
    Ok(Probe {
        container,
        video_codec: describe(video.caps()),
        audio_codec: info.audio_streams().first().map(|a| describe(a.caps())),
        duration_ns: info.duration().map(|d| d.nseconds()),
        created,
        fps: Some((video.framerate().numer(), video.framerate().denom())),
    })
}

/// Turns GStreamer's message for a failed probe into a reason an operator understands.
fn explain(message: &str) -> String {
    let m = message.to_ascii_lowercase();
    if m.contains("missing a plug-in") {
        "unsupported codec: no decoder installed for a stream".into()
    } else if m.contains("text file") {
        "not a media file (text)".into()
    } else if m.contains("could not determine type") {
        "not a media file (unrecognised content)".into()
    } else if m.contains("no playable streams") || m.contains("incomplete") || m.contains("moov") {
        format!("truncated or incomplete recording (no index): {message}")
    } else {
        format!("cannot read as media: {message}")
    }
}

fn describe_missing(details: &[gst::glib::GString]) -> String {
    // Installer details look like "gstreamer|1.0|bwv|VP9 decoder|decoder-video/x-vp9"; the fourth
    // field is the human-readable name.
    let names: Vec<&str> = details.iter().filter_map(|d| d.split('|').nth(3)).collect();
    if names.is_empty() {
        "unknown element".into()
    } else {
        names.join(", ")
    }
}
