//! `pipeline::warm_up` loads the plugins of the ingest graphs ahead of the first file.
//!
//! A test binary of its own: GStreamer loads a plugin once per process, so in a process where
//! other tests had already built pipelines the plugins would be loaded whatever warm_up did.

use bwv::media::pipeline;
use bwv::stages::transcode::PROXY_720P;
use gstreamer as gst;

fn loaded(plugin: &str) -> bool {
    gst::Registry::get()
        .find_plugin(plugin)
        .is_some_and(|p| p.is_loaded())
}

#[test]
fn warm_up_loads_the_decoder_and_encoder_plugins() {
    bwv::media::init().expect("GStreamer");
    // libav holds the decoders and the AAC encoder, x264 the proxy's video encoder.
    let plugins = ["libav", "x264", "videoconvertscale", "isomp4", "app"];
    for p in plugins {
        assert!(!loaded(p), "{p} loaded before the warm-up");
    }
    // Dropping the guard waits for the warm-up to finish.
    drop(pipeline::warm_up(&[PROXY_720P]));
    for p in plugins {
        assert!(loaded(p), "{p} not loaded by the warm-up");
    }
}
