//! Media work on GStreamer: probing, the decode-once pipeline, and frame layout/hashing.

pub mod frame;
pub mod mp4time;
pub mod pipeline;
pub mod probe;
pub mod scale;
pub mod sha_pair;

use crate::error::{Error, Result};

/// Initialises GStreamer (idempotent; GStreamer itself is process-wide).
pub fn init() -> Result<()> {
    gstreamer::init().map_err(|e| Error::Gstreamer(format!("cannot initialise: {e}")))
}

/// bwv and GStreamer versions, recorded with every file bwv derives.
pub fn tool_version() -> String {
    format!(
        "bwv {}; GStreamer {}",
        env!("CARGO_PKG_VERSION"),
        gstreamer_version()
    )
}

/// The GStreamer runtime version, e.g. "1.22.0".
pub fn gstreamer_version() -> String {
    let (major, minor, micro, _) = gstreamer::version();
    format!("{major}.{minor}.{micro}")
}
