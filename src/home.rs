//! The store's folder layout and its single-writer lock.
//!
//! ```text
//! HOME/index.sqlite            custody index
//! HOME/masters/ab/<sha256>     native masters, content-addressed, read-only
//! HOME/derived/<rec-id>/       frame hashes, thumbnails, contact sheet, proxy
//! HOME/keys/log.key, log.pub   the log's signing key (0600) and public key
//! HOME/tmp/                    work in progress (cleared at the start of each ingest)
//! ```

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{Error, Result, Stage};

/// A store home folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

/// Holds the exclusive lock on a home until dropped.
#[derive(Debug)]
pub struct HomeLock {
    _file: File,
}

/// The custody index's file name inside a home.
pub const INDEX_FILE: &str = "index.sqlite";

impl Home {
    /// Whether `root` holds a store (its custody index).
    pub fn exists(root: &Path) -> bool {
        root.join(INDEX_FILE).is_file()
    }

    /// A home at `root` (created with its sub-folders if missing).
    pub fn open(root: &Path) -> Result<Self> {
        let home = Self {
            root: root.to_owned(),
        };
        for dir in [
            home.root.clone(),
            home.root.join("masters"),
            home.root.join("derived"),
            home.tmp(),
        ] {
            fs::create_dir_all(&dir).map_err(Error::io(&dir, Stage::Output, "create folder"))?;
        }
        Ok(home)
    }

    /// The home folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The custody index file.
    pub fn index(&self) -> PathBuf {
        self.root.join(INDEX_FILE)
    }

    /// The retention policy file (optional).
    pub fn policy(&self) -> PathBuf {
        self.root.join("policy.json")
    }

    /// The log's key files.
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// Where `bwv redact REC --out FILE` keeps the plan and preview it makes for a recording:
    /// inside the store, not beside the disclosure copy (the preview shows the faces unblurred).
    pub fn plans(&self, recording: &str) -> PathBuf {
        self.root.join("plans").join(recording)
    }

    /// Scratch space for files being written.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Relative path of the master with this hash.
    pub fn master_rel(sha: &Digest) -> String {
        let hex = sha.to_hex();
        format!("masters/{}/{hex}", &hex[..2])
    }

    /// Relative path of a recording's derived folder.
    pub fn derived_rel(id: &str) -> String {
        format!("derived/{id}")
    }

    /// Absolute path of a store-relative path.
    pub fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Takes the exclusive writer lock, failing at once if another process holds it.
    pub fn lock(&self) -> Result<HomeLock> {
        let path = self.root.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(Error::io(&path, Stage::Index, "open lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(HomeLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Locked(self.root.clone())),
            Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, Stage::Index, "lock")(e)),
        }
    }

    /// Removes what an interrupted run left in `tmp/` and half-written derived folders.
    /// Call only while holding the lock.
    pub fn clear_leftovers(&self) -> Result<()> {
        let tmp = self.tmp();
        fs::remove_dir_all(&tmp).map_err(Error::io(&tmp, Stage::Output, "clear"))?;
        fs::create_dir_all(&tmp).map_err(Error::io(&tmp, Stage::Output, "create folder"))?;
        Ok(())
    }
}

/// fsyncs a directory so renames and creations inside it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir, Stage::Output, "fsync folder"))
}
