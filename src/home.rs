//! The store's folder layout, its lock, per-job scratch folders and per-master claims.
//!
//! ```text
//! HOME/index.sqlite            custody index
//! HOME/masters/ab/<sha256>     native masters, content-addressed, read-only
//! HOME/derived/<rec-id>/       frame hashes, thumbnails, contact sheet, proxy
//! HOME/keys/log.key, log.pub   the log's signing key (0600) and public key
//! HOME/tmp/job-*/              one scratch folder per running job, locked while it runs
//! HOME/claims/<abc>.lock       claims on masters being ingested (by the first 3 hex digits)
//! ```
//!
//! Several ingests may run on one store at once (they share the store's lock; the retention
//! sweep takes it alone). Each works in its own scratch folder, and a master is worked on by
//! one of them at a time. All locks are `flock`s, which the kernel releases when a process ends
//! however it ends, so a killed job never leaves the store locked; its scratch folder is
//! removed by the next ingest.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use std::sync::Arc;

use crate::blobs::{Blobs, LocalBlobs};
use crate::digest::Digest;
pub use crate::durable::sync_dir;
use crate::error::{Error, Result, Stage};

/// A store home folder, and the object store its masters and derived files are kept in (the
/// folder itself by default).
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    blobs: Arc<dyn Blobs>,
}

/// Holds the store's lock (shared or exclusive) until dropped.
#[derive(Debug)]
pub struct HomeLock {
    _file: File,
}

/// A job's scratch folder, locked while the job runs and removed when it is dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
    _lock: File,
}

impl Scratch {
    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Holds the claim on a master until dropped.
#[derive(Debug)]
pub struct Claim {
    _file: File,
}

/// The custody index's file name inside a home.
pub const INDEX_FILE: &str = "index.sqlite";

impl Home {
    /// Whether `root` holds a store (its custody index).
    pub fn exists(root: &Path) -> bool {
        root.join(INDEX_FILE).is_file()
    }

    /// A home at `root` (created with its sub-folders if missing), its objects in it.
    pub fn open(root: &Path) -> Result<Self> {
        Self::open_with(root, Arc::new(LocalBlobs::new(root)))
    }

    /// A home at `root` whose masters and derived files live in `blobs` (e.g. an S3 bucket);
    /// the folder keeps keys, plans, locks and scratch space.
    pub fn open_with(root: &Path, blobs: Arc<dyn Blobs>) -> Result<Self> {
        let home = Self {
            root: root.to_owned(),
            blobs,
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

    /// Where masters and derived files are kept.
    pub fn blobs(&self) -> &dyn Blobs {
        self.blobs.as_ref()
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

    /// Where a recording's logged redaction plans are kept as objects (`plans/<id>`), each named
    /// by its SHA-256, so a render on any machine finds the plan it is asked for.
    pub fn plans_rel(id: &str) -> String {
        format!("plans/{id}")
    }

    /// The object of one plan: `plans/<id>/<sha256>.json`, its canonical bytes.
    pub fn plan_rel(id: &str, sha: &Digest) -> String {
        format!("{}/{sha}.json", Self::plans_rel(id))
    }

    /// The object of a plan's preview sheet: `plans/<id>/<sha256>.preview.jpg` (faces
    /// unblurred: it never leaves the store).
    pub fn preview_rel(id: &str, sha: &Digest) -> String {
        format!("{}/{sha}.preview.jpg", Self::plans_rel(id))
    }

    /// Absolute path of a store-relative path.
    pub fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Takes the store's lock alone (the retention sweep), failing at once if any other
    /// process holds it.
    pub fn lock(&self) -> Result<HomeLock> {
        self.try_lock(false)
    }

    /// Takes the store's lock shared with other ingests, failing at once if a process holds
    /// it alone.
    pub fn lock_shared(&self) -> Result<HomeLock> {
        self.try_lock(true)
    }

    fn try_lock(&self, shared: bool) -> Result<HomeLock> {
        let path = self.root.join("lock");
        let file = open_lock_file(&path)?;
        let locked = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match locked {
            Ok(()) => Ok(HomeLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Locked(self.root.clone())),
            Err(fs::TryLockError::Error(e)) => Err(Error::io(&path, Stage::Index, "lock")(e)),
        }
    }

    /// A new scratch folder for one job, under `tmp/`.
    pub fn scratch(&self) -> Result<Scratch> {
        let tmp = self.tmp();
        // Shared with other jobs starting, exclusive to a clean-up: a clean-up never sees a
        // folder made but not yet locked.
        let guard = self.tmp_guard()?;
        guard
            .lock_shared()
            .map_err(Error::io(&tmp, Stage::Output, "lock"))?;
        let dir = tempfile::Builder::new()
            .prefix("job-")
            .tempdir_in(&tmp)
            .map_err(Error::io(&tmp, Stage::Output, "create folder"))?;
        let lock = File::open(dir.path()).map_err(Error::io(dir.path(), Stage::Output, "open"))?;
        lock.lock()
            .map_err(Error::io(dir.path(), Stage::Output, "lock"))?;
        Ok(Scratch { dir, _lock: lock })
    }

    /// Removes what jobs that ended without cleaning up (killed, crashed) left in `tmp/`:
    /// every entry but the folders of jobs still running. Returns how many entries went.
    pub fn clear_abandoned(&self) -> Result<usize> {
        let tmp = self.tmp();
        let guard = self.tmp_guard()?;
        guard
            .lock()
            .map_err(Error::io(&tmp, Stage::Output, "lock"))?;
        let mut removed = 0;
        for entry in fs::read_dir(&tmp).map_err(Error::io(&tmp, Stage::Output, "list"))? {
            let path = entry
                .map_err(Error::io(&tmp, Stage::Output, "list"))?
                .path();
            if path.file_name() == Some(TMP_GUARD.as_ref()) {
                continue;
            }
            if path.is_dir() {
                let dir = File::open(&path).map_err(Error::io(&path, Stage::Output, "open"))?;
                match dir.try_lock() {
                    Ok(()) => {}
                    Err(fs::TryLockError::WouldBlock) => continue,
                    Err(fs::TryLockError::Error(e)) => {
                        return Err(Error::io(&path, Stage::Output, "lock")(e));
                    }
                }
                fs::remove_dir_all(&path).map_err(Error::io(&path, Stage::Output, "clear"))?;
            } else {
                fs::remove_file(&path).map_err(Error::io(&path, Stage::Output, "clear"))?;
            }
            removed += 1;
        }
        Ok(removed)
    }

    fn tmp_guard(&self) -> Result<File> {
        open_lock_file(&self.tmp().join(TMP_GUARD))
    }

    /// Claims the master with this SHA-256 for one item, waiting while another job (in this
    /// process or another) holds it, so that dock copies of the same bytes are taken one after
    /// the other. Claims are kept in 4096 lock files by the hash's first three hex digits.
    pub fn claim(&self, sha: &Digest) -> Result<Claim> {
        let dir = self.root.join("claims");
        fs::create_dir_all(&dir).map_err(Error::io(&dir, Stage::Master, "create folder"))?;
        let path = dir.join(format!("{}.lock", &sha.to_hex()[..3]));
        let file = open_lock_file(&path)?;
        file.lock()
            .map_err(Error::io(&path, Stage::Master, "lock"))?;
        Ok(Claim { _file: file })
    }
}

/// The lock file inside `tmp/` that orders jobs starting against a clean-up.
const TMP_GUARD: &str = ".guard";

fn open_lock_file(path: &Path) -> Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(Error::io(path, Stage::Index, "open lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_up_removes_only_what_no_running_job_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::open(dir.path()).expect("home");
        let running = home.scratch().expect("scratch");
        std::fs::write(running.path().join("part.mp4"), b"work").expect("write");
        // What a killed job or an older bwv left: an unlocked job folder and a loose file.
        let dead = home.tmp().join("job-dead");
        std::fs::create_dir(&dead).expect("mkdir");
        std::fs::write(dead.join("part.mp4"), b"old").expect("write");
        std::fs::write(home.tmp().join(".tmpXYZ"), b"old").expect("write");

        assert_eq!(home.clear_abandoned().expect("clean"), 2);
        assert!(running.path().join("part.mp4").exists());
        assert!(!dead.exists());
        let kept = running.path().to_owned();
        drop(running);
        assert!(!kept.exists(), "a job's folder goes when it ends");
    }

    #[test]
    fn ingests_share_the_store_and_a_sweep_takes_it_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::open(dir.path()).expect("home");
        let a = home.lock_shared().expect("first ingest");
        let b = home.lock_shared().expect("second ingest");
        assert!(matches!(home.lock(), Err(Error::Locked(_))));
        drop((a, b));
        let sweep = home.lock().expect("sweep");
        assert!(matches!(home.lock_shared(), Err(Error::Locked(_))));
        drop(sweep);
    }
}
