//! The proxy transcode: a browser-playable H.264/AAC MP4 made from the same decode.
//! The encoder graph is the profile file `pipelines/proxy-720p.gst`.

use std::path::Path;

use gstreamer as gst;
use gstreamer_video as gst_video;

use crate::media::pipeline::{self, Branch, Sound};

/// File name of the proxy inside a recording's derived folder.
pub const PROXY_FILE: &str = "proxy.mp4";
/// The profile's graph.
pub const PROXY_720P: &str = include_str!("../../pipelines/proxy-720p.gst");
/// Profile name recorded with the artefact.
pub const PROXY_PROFILE: &str = "proxy-720p";
/// Most lines a proxy has.
pub const DEFAULT_MAX_LINES: u32 = 720;

/// Output size for a source: at most [`DEFAULT_MAX_LINES`] lines, square pixels, the source's
/// display aspect, both sides even (4:2:0 H.264 needs that).
pub fn proxy_size(width: u32, height: u32, par_n: i32, par_d: i32) -> (u32, u32) {
    let display_w = width as u64 * par_n.max(1) as u64 / par_d.max(1) as u64;
    let h = height.min(DEFAULT_MAX_LINES) as u64;
    let w = (display_w * h + height as u64 / 2) / height.max(1) as u64;
    let even = |x: u64| ((x / 2) * 2).max(2) as u32;
    (even(w), even(h))
}

fn target_size(info: &gst_video::VideoInfo) -> (u32, u32) {
    let par = info.par();
    proxy_size(info.width(), info.height(), par.numer(), par.denom())
}

fn size_caps(info: &gst_video::VideoInfo) -> gst::Caps {
    let (w, h) = target_size(info);
    gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", w as i32)
        .field("height", h as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build()
}

/// The proxy branch writing to `out` (the muxer's faststart scratch file goes beside it).
pub fn proxy_branch(out: &Path) -> Branch {
    Branch {
        graph: PROXY_720P.to_owned(),
        size_caps,
        paths: vec![
            ("sink".into(), "location".into(), out.to_owned()),
            (
                "mux".into(),
                "faststart-file".into(),
                out.with_extension("moov.tmp"),
            ),
        ],
    }
}

/// What the proxy of a source decoded as `decoded` with sound `sound` was made with, recorded
/// as the artefact's parameters: the profile, the graph as run, and who scaled the picture
/// (`shrunk`: bwv did, see [`pipeline::DecodeReport::shrunk`]).
pub fn proxy_params(
    sound: Sound,
    decoded: &gst_video::VideoInfo,
    shrunk: bool,
) -> serde_json::Value {
    let (w, h) = target_size(decoded);
    let scaling = if shrunk {
        "area mean by bwv (exact ratio)"
    } else if (w, h) == (decoded.width(), decoded.height()) {
        "none"
    } else {
        "GStreamer videoscale (bilinear)"
    };
    serde_json::json!({
        "profile": PROXY_PROFILE,
        "max_lines": DEFAULT_MAX_LINES,
        "size": [w, h],
        "scaling": scaling,
        "graph": pipeline::branch_text(PROXY_720P, sound),
    })
}

#[cfg(test)]
mod tests {
    use super::{PROXY_720P, proxy_size};
    use crate::media::pipeline::{Sound, branch_text};

    #[test]
    fn the_sound_chooses_the_audio_line() {
        crate::media::init().expect("gstreamer");
        let caps = |c: &str| c.parse::<gstreamer::Caps>().expect("caps");
        let aac = caps("audio/mpeg, mpegversion=(int)4, stream-format=(string)raw");
        let mp3 = caps("audio/mpeg, mpegversion=(int)1, layer=(int)3");
        let pcm = caps("audio/x-raw, format=(string)S16LE");
        assert_eq!(Sound::of(Some(&aac)), Sound::Aac);
        assert_eq!(Sound::of(Some(&mp3)), Sound::Decoded);
        assert_eq!(Sound::of(Some(&pcm)), Sound::Decoded);
        assert_eq!(Sound::of(None), Sound::None);
        for (sound, copies, encodes) in [
            (Sound::Aac, true, false),
            (Sound::Decoded, false, true),
            (Sound::None, false, false),
        ] {
            let graph = branch_text(PROXY_720P, sound);
            assert_eq!(graph.contains("aacparse"), copies, "{sound:?}");
            assert_eq!(graph.contains("avenc_aac"), encodes, "{sound:?}");
            assert!(graph.contains("x264enc"), "{sound:?}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(proxy_size(1920, 1080, 1, 1), (1280, 720));
        assert_eq!(proxy_size(1280, 720, 1, 1), (1280, 720));
        assert_eq!(proxy_size(854, 480, 1, 1), (854, 480));
        assert_eq!(proxy_size(853, 479, 1, 1), (852, 478));
        // Anamorphic 1440x1080 with 4:3 pixels displays as 1920x1080.
        assert_eq!(proxy_size(1440, 1080, 4, 3), (1280, 720));
        assert_eq!(proxy_size(3840, 2160, 1, 1), (1280, 720));
    }
}
