//! Where masters and derived files live, behind one trait: a local folder (the embedded
//! default, [`LocalBlobs`]) or an S3-compatible bucket shared by many machines
//! ([`s3::S3Blobs`]).
//!
//! Objects are named by store-relative keys (`masters/ab/<sha256>`,
//! `derived/<recording>/proxy.mp4`), the same text the custody index records as paths. Masters
//! and redacted copies are written once: an object that exists is checked, never overwritten.
//! Work is staged in a job's scratch folder (see [`crate::home::Scratch`]) and handed over
//! whole, so a reader never sees a half-written object.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, hash_file};
use crate::durable::sync_dir;
use crate::error::{Error, Result, Stage};

pub mod object_lock;
pub mod s3;

/// Where objects live: the store folder (`None`), or `s3://BUCKET/PREFIX`.
pub fn open_blobs(location: Option<&str>, home: &Path) -> Result<std::sync::Arc<dyn Blobs>> {
    match location {
        None => Ok(std::sync::Arc::new(LocalBlobs::new(home))),
        Some(url) if url.starts_with("s3://") => Ok(std::sync::Arc::new(s3::S3Blobs::open(url)?)),
        Some(other) => Err(Error::Invalid(format!(
            "{other:?} is not an object store: give s3://BUCKET/PREFIX (or nothing, for the store folder)"
        ))),
    }
}

/// Whether `key` is a store-relative path that stays inside the store: not empty, not absolute,
/// no `.` or `..` (an edited index must not point outside).
pub(crate) fn is_store_key(key: &str) -> bool {
    !key.is_empty()
        && Path::new(key)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// A store of objects by key.
pub trait Blobs: Send + Sync + std::fmt::Debug {
    /// Stores the staged file (in the store's scratch space; it is consumed) as `key`, once:
    /// the object is read-only; when one is already there it is re-read and must hold `sha`'s
    /// bytes (it is kept, and the staged copy dropped).
    fn put_once(&self, key: &str, staged: &Path, sha: &Digest) -> Result<()>;
    /// Publishes a staged folder (consumed) as the objects under `prefix`, replacing what was
    /// there (files a crashed run published but never recorded).
    fn publish_dir(&self, prefix: &str, staged: &Path) -> Result<()>;
    /// A local file with the object's bytes, to read or decode: the object itself when the
    /// store is a local folder, else a copy fetched into `scratch`.
    fn local(&self, key: &str, scratch: &Path) -> Result<PathBuf>;
    /// Whether the object exists.
    fn exists(&self, key: &str) -> Result<bool>;
    /// The object's SHA-256 and size, re-read from the store; `None` if it is not there.
    fn hash(&self, key: &str) -> Result<Option<(Digest, u64)>>;
    /// Keys of the objects under `prefix` (a folder-like prefix ending in `/`).
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Deletes the object; returns whether it was there.
    fn delete(&self, key: &str) -> Result<bool>;
    /// Deletes every object under `prefix`; returns how many there were.
    fn delete_prefix(&self, prefix: &str) -> Result<usize>;
    /// Where the object is, for a person to read (a file path, an `s3://` URL).
    fn describe(&self, key: &str) -> String;
    /// The bucket's S3 Object Lock; `None` for a store that has none (a local folder keeps
    /// masters as read-only files).
    fn object_lock(&self) -> Result<Option<object_lock::ObjectLock>> {
        Ok(None)
    }
    /// Turns on S3 Object Lock with `retention` as every new version's default.
    fn set_object_lock(&self, _retention: &object_lock::DefaultRetention) -> Result<()> {
        Err(Error::Invalid(
            "S3 Object Lock is a bucket's: this store is a local folder (give --objects s3://...)"
                .into(),
        ))
    }
}

/// Objects as files under a folder (the store's home), made durable with fsync and published
/// by rename.
#[derive(Debug, Clone)]
pub struct LocalBlobs {
    root: PathBuf,
}

impl LocalBlobs {
    /// Objects under `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    /// The file holding `key`. Keys are store-relative paths that never leave the folder: an
    /// absolute key or one with `..` is refused (an edited index must not point outside).
    pub fn path(&self, key: &str) -> Result<PathBuf> {
        if !is_store_key(key) {
            return Err(Error::Integrity(format!(
                "{key:?} is not a path inside the store"
            )));
        }
        Ok(self.root.join(key))
    }
}

fn io(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    Error::io(path, Stage::Output, op)
}

/// Checks that the file at `path` holds `sha`'s bytes.
fn check_same(path: &Path, sha: &Digest) -> Result<()> {
    let (actual, _) = hash_file(path).map_err(io(path, "re-read"))?;
    if actual != *sha {
        return Err(Error::Integrity(format!(
            "{}: stored object changed: SHA-256 is {actual}, expected {sha}",
            path.display()
        )));
    }
    Ok(())
}

impl Blobs for LocalBlobs {
    fn put_once(&self, key: &str, staged: &Path, sha: &Digest) -> Result<()> {
        let dest = self.path(key)?;
        let dir = dest.parent().unwrap_or(&self.root).to_owned();
        fs::create_dir_all(&dir).map_err(io(&dir, "create folder"))?;
        File::open(staged)
            .and_then(|f| f.sync_all())
            .map_err(io(staged, "fsync"))?;
        fs::set_permissions(staged, fs::Permissions::from_mode(0o444))
            .map_err(io(staged, "make read-only"))?;
        // A hard link never replaces an existing file: the first copy of these bytes wins.
        match fs::hard_link(staged, &dest) {
            Ok(()) => {
                sync_dir(&dir)?;
                fs::remove_file(staged).map_err(io(staged, "remove"))?;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                fs::remove_file(staged).map_err(io(staged, "remove"))?;
                check_same(&dest, sha)
            }
            Err(e) => Err(io(&dest, "publish")(e)),
        }
    }

    fn publish_dir(&self, prefix: &str, staged: &Path) -> Result<()> {
        let dest = self.path(prefix.trim_end_matches('/'))?;
        if dest.exists() {
            fs::remove_dir_all(&dest).map_err(io(&dest, "replace"))?;
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io(parent, "create folder"))?;
        }
        fs::rename(staged, &dest).map_err(io(&dest, "publish"))?;
        sync_dir(dest.parent().unwrap_or(&self.root))
    }

    fn local(&self, key: &str, _scratch: &Path) -> Result<PathBuf> {
        self.path(key)
    }

    fn describe(&self, key: &str) -> String {
        self.root.join(key).display().to_string()
    }

    fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.path(key)?.exists())
    }

    fn hash(&self, key: &str) -> Result<Option<(Digest, u64)>> {
        let path = self.path(key)?;
        match hash_file(&path) {
            Ok(found) => Ok(Some(found)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, "read")(e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let top = self.path(prefix.trim_end_matches('/'))?;
        let mut keys = Vec::new();
        let mut folders = vec![top];
        while let Some(dir) = folders.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&dir, "list")(e)),
            };
            for entry in entries {
                let entry = entry.map_err(io(&dir, "list"))?;
                let path = entry.path();
                let kind = entry.file_type().map_err(io(&path, "list"))?;
                if kind.is_dir() {
                    folders.push(path);
                } else if let Ok(rel) = path.strip_prefix(&self.root) {
                    keys.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn delete(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => {
                sync_dir(path.parent().unwrap_or(&self.root))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io(&path, "delete")(e)),
        }
    }

    fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        let n = self.list(prefix)?.len();
        let dir = self.path(prefix.trim_end_matches('/'))?;
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io(&dir, "delete"))?;
            sync_dir(dir.parent().unwrap_or(&self.root))?;
        }
        Ok(n)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What every [`Blobs`] must do, run here against the local folder and (in `s3.rs`) a
    /// SeaweedFS server.
    pub(crate) fn conformance(blobs: &dyn Blobs, scratch: &Path) {
        let stage = |name: &str, bytes: &[u8]| {
            let p = scratch.join(name);
            std::fs::write(&p, bytes).expect("stage");
            (p, Digest::of(bytes))
        };
        let (a, sha) = stage("a", b"master bytes");
        blobs.put_once("masters/ab/one", &a, &sha).expect("put");
        assert!(!a.exists(), "the staged file is consumed");
        assert_eq!(blobs.hash("masters/ab/one").expect("hash"), Some((sha, 12)));
        // Written once: the same bytes again are accepted and the object kept; other bytes
        // under the same key are refused and the object is unchanged.
        let (again, _) = stage("again", b"master bytes");
        blobs
            .put_once("masters/ab/one", &again, &sha)
            .expect("same bytes");
        let (other, other_sha) = stage("other", b"other bytes!");
        let err = blobs
            .put_once("masters/ab/one", &other, &other_sha)
            .expect_err("refused");
        assert_eq!(err.kind(), crate::ErrorKind::Integrity, "{err}");
        assert_eq!(blobs.hash("masters/ab/one").expect("hash"), Some((sha, 12)));

        // A published folder replaces the earlier one whole.
        for (round, names) in [(0, vec!["x", "y"]), (1, vec!["z"])] {
            let dir = scratch.join(format!("derived{round}"));
            std::fs::create_dir(&dir).expect("mkdir");
            for n in &names {
                std::fs::write(dir.join(n), n.as_bytes()).expect("write");
            }
            blobs.publish_dir("derived/rec1/", &dir).expect("publish");
        }
        assert_eq!(blobs.list("derived/").expect("list"), ["derived/rec1/z"]);
        let local = blobs.local("derived/rec1/z", scratch).expect("local");
        assert_eq!(std::fs::read(local).expect("read"), b"z");
        assert!(blobs.exists("derived/rec1/z").expect("exists"));
        assert_eq!(blobs.hash("derived/rec1/gone").expect("hash"), None);

        assert_eq!(blobs.delete_prefix("derived/rec1/").expect("delete"), 1);
        assert!(blobs.delete("masters/ab/one").expect("delete"));
        assert!(!blobs.delete("masters/ab/one").expect("delete again"));
        assert_eq!(blobs.list("masters/").expect("list"), Vec::<String>::new());
        assert_eq!(blobs.list("derived/").expect("list"), Vec::<String>::new());
    }

    #[test]
    fn a_local_folder_keeps_the_blob_contract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("store");
        let scratch = dir.path().join("store/tmp/job");
        std::fs::create_dir_all(&scratch).expect("mkdir");
        let blobs = LocalBlobs::new(&root);
        conformance(&blobs, &scratch);
    }

    #[test]
    fn keys_never_leave_the_store() {
        let blobs = LocalBlobs::new(Path::new("/srv/bwv"));
        for key in ["/etc/passwd", "../keys/log.key", "masters/../../x", ""] {
            assert!(blobs.path(key).is_err(), "{key}");
        }
        assert_eq!(
            blobs.path("masters/ab/cd").expect("inside"),
            Path::new("/srv/bwv/masters/ab/cd")
        );
    }
}
