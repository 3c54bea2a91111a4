//! Consumers of the one decode. Each has the same shape: frozen `Settings` (with `DEFAULT_*`
//! consts), a state created at start that takes frames, and a `finish` that returns its report.

pub mod hash;
pub mod label;
pub mod thumbs;
pub mod transcode;

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result, Stage};

/// Flushes a written file to disk.
pub(crate) fn fsync(path: &Path, stage: Stage) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(Error::io(path, stage, "fsync"))
}
