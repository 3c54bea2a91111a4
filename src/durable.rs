//! Durability of folder changes.

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result, Stage};

/// fsyncs a directory so renames and creations inside it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir, Stage::Output, "fsync folder"))
}
