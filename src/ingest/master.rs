//! Storing the native master: one read that both copies (into the job's scratch folder) and
//! hashes, then the object store takes it, write-once and content-addressed
//! ([`crate::blobs::Blobs::put_once`]: fsync, read-only, published without replacing).

use std::fs::{self, File};
use std::path::Path;

use crate::digest::{CopyError, Digest, hash_copy};
use crate::error::{Error, Result, Stage};
use crate::home::Home;

/// A master in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMaster {
    /// SHA-256 of its bytes.
    pub sha256: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Path relative to the home.
    pub rel_path: String,
}

/// Copies `src` into the store, by way of a temporary file in `scratch` (a folder in the store,
/// on its file system). If the same bytes are already stored, the stored copy is re-verified
/// and kept, and the new copy discarded.
pub fn store(home: &Home, scratch: &Path, src: &Path) -> Result<StoredMaster> {
    // Check the type before opening: opening a FIFO or device could block or never end.
    let meta = fs::metadata(src).map_err(Error::io(src, Stage::Master, "open"))?;
    if !meta.is_file() {
        return Err(Error::io(src, Stage::Master, "open")(
            std::io::Error::other("not a regular file"),
        ));
    }
    let mut input = File::open(src).map_err(Error::io(src, Stage::Master, "open"))?;
    let mut tmp = tempfile::NamedTempFile::new_in(scratch).map_err(Error::io(
        scratch,
        Stage::Master,
        "create",
    ))?;
    let (sha256, size) = hash_copy(&mut input, &mut tmp).map_err(|e| match e {
        CopyError::Read(e) => Error::io(src, Stage::Master, "read")(e),
        CopyError::Write(e) => Error::io(tmp.path(), Stage::Master, "write")(e),
    })?;
    // Same name means same bytes: a copy stored before (by another item of the batch or
    // another run) is re-read and kept, unless it was damaged.
    let rel_path = Home::master_rel(&sha256);
    let (_, staged) = tmp
        .keep()
        .map_err(|e| Error::io(scratch, Stage::Master, "keep")(e.error))?;
    home.blobs().put_once(&rel_path, &staged, &sha256)?;
    Ok(StoredMaster {
        sha256,
        size,
        rel_path,
    })
}
