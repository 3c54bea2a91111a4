//! Storing the native master: one read that both copies and hashes, fsync, rename into the
//! content-addressed store, fsync the folder, make it read-only.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::digest::{CopyError, Digest, hash_copy, hash_file};
use crate::error::{Error, Result, Stage};
use crate::home::{Home, sync_dir};

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
    tmp.as_file()
        .sync_all()
        .map_err(Error::io(tmp.path(), Stage::Master, "fsync"))?;
    let rel_path = Home::master_rel(&sha256);
    let dest = home.abs(&rel_path);
    let dir = dest.parent().unwrap_or(home.root()).to_owned();
    fs::create_dir_all(&dir).map_err(Error::io(&dir, Stage::Master, "create folder"))?;

    // Same name means same bytes, unless the stored copy was damaged: check before trusting it.
    // (Another item of the batch holding the same bytes may store it first: then the rename
    // finds it there.)
    if dest.exists() {
        verify(&dest, &sha256)?;
    } else {
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(0o444))
            .map_err(Error::io(tmp.path(), Stage::Master, "make read-only"))?;
        match tmp.persist_noclobber(&dest) {
            Ok(_) => sync_dir(&dir)?,
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                verify(&dest, &sha256)?
            }
            Err(e) => {
                return Err(Error::io(&dest, Stage::Master, "rename into store")(
                    e.error,
                ));
            }
        }
    }
    Ok(StoredMaster {
        sha256,
        size,
        rel_path,
    })
}

/// Re-reads a stored file and checks its SHA-256.
pub fn verify(path: &Path, expected: &Digest) -> Result<()> {
    let (actual, _) = hash_file(path).map_err(Error::io(path, Stage::Master, "re-read"))?;
    if &actual != expected {
        return Err(Error::Media {
            path: path.to_owned(),
            stage: Stage::Master,
            reason: format!("stored master changed: SHA-256 is {actual}, index says {expected}"),
        });
    }
    Ok(())
}
