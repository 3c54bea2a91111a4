//! Integration tests: the real `bwv` binary on clips generated at test time with ffmpeg, decoded
//! by the real GStreamer. One binary, a module per area.

mod custody;
mod ingest;
#[path = "../support/postgres.rs"]
mod pg;
mod postgres;
mod redact;
mod retention;
#[path = "../support/s3.rs"]
mod s3;
mod util;
