//! Integration tests: the real `bwv` binary on clips generated at test time with ffmpeg, decoded
//! by the real GStreamer. One binary, a module per area.

mod browser;
mod custody;
mod ingest;
mod postgres;
mod redact;
mod retention;
pub mod serve;
#[path = "../support/servers.rs"]
mod servers;
mod util;
