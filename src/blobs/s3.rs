//! Objects in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, Ceph RGW ...), through the
//! `object_store` crate: `s3://BUCKET/PREFIX`, with credentials, region and endpoint from the
//! usual environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for a server other than AWS, `AWS_ALLOW_HTTP=true` for one without TLS).
//!
//! - **Written once.** Masters and redacted copies are content-named: before an upload the key is
//!   looked up, and an object already there is re-read and must hold the same SHA-256 (it is
//!   kept). Two machines uploading the same master at once write the same bytes.
//! - **Kept by the bucket** when it has S3 Object Lock ([`super::object_lock`]): its default
//!   retention keeps every version; a delete removes every version the lock no longer keeps.
//! - **Verified on upload and after.** Each upload carries its SHA-256 for the server to check
//!   (`x-amz-checksum-sha256`), and every object written is read back and its SHA-256 compared;
//!   a mismatch removes the bad upload and is an integrity error.
//! - **Large files in parts** (multipart upload, 16 MiB parts) above 64 MiB.
//!
//! Calls block the calling thread on a small runtime of this store's own, so the library's
//! synchronous flows use it unchanged.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload, WriteMultipart};
use sha2::Digest as _;

use super::Blobs;
use super::object_lock::{Control, DefaultRetention, ObjectLock};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result, Stage};

/// Files larger than this are uploaded in parts.
const MULTIPART_ABOVE: u64 = 64 << 20;
/// The size of each part.
const PART: usize = 16 << 20;

/// A bucket (and key prefix) as [`Blobs`].
pub struct S3Blobs {
    store: AmazonS3,
    /// Object Lock and versions.
    control: Control,
    /// Whether the bucket keeps older versions, once asked.
    versioned: std::sync::OnceLock<bool>,
    /// Key prefix inside the bucket ("" or "a/b").
    prefix: String,
    /// `s3://bucket/prefix`, for messages.
    location: String,
    rt: tokio::runtime::Runtime,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// How an object store error counts: a missing object is not found, a refused precondition a
/// conflict, and anything that reaching the server again may mend (a connection, a timeout, a
/// 5xx) busy.
fn kind_of(e: &object_store::Error) -> ErrorKind {
    match e {
        object_store::Error::NotFound { .. } => ErrorKind::NotFound,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            ErrorKind::Conflict
        }
        object_store::Error::Generic { .. } => ErrorKind::Busy,
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => ErrorKind::Invalid,
        _ => ErrorKind::Internal,
    }
}

impl S3Blobs {
    /// Opens `s3://BUCKET[/PREFIX]` with credentials and endpoint from the environment.
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(url, &[])
    }

    /// Opens `s3://BUCKET[/PREFIX]` with the environment's settings overridden by `settings`
    /// (names as the environment variables have them, e.g. `AWS_ENDPOINT_URL`).
    pub fn open_with(url: &str, settings: &[(String, String)]) -> Result<Self> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            Error::Invalid(format!("{url:?} is not an s3://BUCKET/PREFIX location"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/').to_owned();
        if bucket.is_empty() || !super::is_store_key(format!("{prefix}/x").trim_start_matches('/'))
        {
            return Err(Error::Invalid(format!(
                "{url:?} is not an s3://BUCKET/PREFIX location"
            )));
        }
        let location = format!("s3://{bucket}/{prefix}");
        let invalid =
            |e: object_store::Error| Error::Invalid(format!("object store {location}: {e}"));
        // A server that does not answer is reported within seconds (the job is retried
        // later), not after the client's default three minutes of retries.
        let mut builder = AmazonS3Builder::from_env().with_retry(object_store::RetryConfig {
            backoff: object_store::BackoffConfig::default(),
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(20),
        });
        // Each upload carries its SHA-256 for the server to check as it stores it (and AWS
        // asks for a checksum on uploads into an Object Lock bucket).
        if std::env::var_os("AWS_CHECKSUM_ALGORITHM").is_none() {
            builder = builder.with_checksum_algorithm(object_store::aws::Checksum::SHA256);
        }
        if std::env::var_os("AWS_CONNECT_TIMEOUT").is_none() {
            builder = builder.with_config(
                object_store::aws::AmazonS3ConfigKey::Client(
                    object_store::ClientConfigKey::ConnectTimeout,
                ),
                "5s",
            );
        }
        for (name, value) in settings {
            let key = name.to_ascii_lowercase().parse().map_err(invalid)?;
            builder = builder.with_config(key, value);
        }
        let builder = builder.with_bucket_name(bucket);
        let store = builder.clone().build().map_err(invalid)?;
        let control = Control::new(&builder, store.clone(), bucket, &location)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bwv-s3")
            .enable_all()
            .build()
            .map_err(|e| Error::Invalid(format!("object store {location}: runtime: {e}")))?;
        Ok(Self {
            store,
            control,
            versioned: std::sync::OnceLock::new(),
            prefix,
            location,
            rt,
        })
    }

    fn path(&self, key: &str) -> Result<ObjectPath> {
        if !super::is_store_key(key.trim_end_matches('/')) {
            return Err(Error::Integrity(format!(
                "{key:?} is not a path inside the store"
            )));
        }
        let full = if self.prefix.is_empty() {
            key.trim_end_matches('/').to_owned()
        } else {
            format!("{}/{}", self.prefix, key.trim_end_matches('/'))
        };
        ObjectPath::parse(&full)
            .map_err(|e| Error::Integrity(format!("{key:?} is not an object key: {e}")))
    }

    fn fail(&self, key: &str, op: &'static str) -> impl FnOnce(object_store::Error) -> Error {
        let (location, key) = (self.location.clone(), key.to_owned());
        move |e| Error::Objects {
            kind: kind_of(&e),
            location,
            key,
            op,
            source: Box::new(e),
        }
    }

    /// The object's metadata, or `None` if it is not there.
    fn head(&self, key: &str) -> Result<Option<object_store::ObjectMeta>> {
        let path = self.path(key)?;
        match self.rt.block_on(self.store.head(&path)) {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(key, "look up")(e)),
        }
    }

    /// Streams the object through `each` chunk by chunk; `None` if it is not there.
    fn read(&self, key: &str, each: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<Option<u64>> {
        let path = self.path(key)?;
        self.rt.block_on(async {
            let got = match self.store.get(&path).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(self.fail(key, "read")(e)),
            };
            let mut stream = got.into_stream();
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(self.fail(key, "read"))?;
                size += chunk.len() as u64;
                each(&chunk)?;
            }
            Ok(Some(size))
        })
    }

    /// Deletes an object known to be there (just listed): one request, no look-up first.
    fn remove(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        self.rt
            .block_on(self.store.delete(&path))
            .map_err(self.fail(key, "delete"))
    }

    /// On a versioned bucket (Object Lock makes one) a delete leaves the bytes as an older
    /// version: removes every version of `key` (with `exact`) or of every key under it;
    /// returns how many went. One its lock still keeps is a conflict naming when it ends.
    fn purge(&self, key: &str, exact: bool) -> Result<usize> {
        let versioned = match self.versioned.get() {
            Some(v) => *v,
            None => {
                let v = self.rt.block_on(self.control.versioned())?;
                *self.versioned.get_or_init(|| v)
            }
        };
        if !versioned {
            return Ok(0);
        }
        let path = self.path(key)?;
        let mut full = path.to_string();
        if !exact {
            full.push('/');
        }
        self.rt.block_on(self.control.purge(&full, exact))
    }

    /// Uploads the file at `from` as `key` (in parts when large), replacing any object there.
    fn upload(&self, key: &str, from: &Path) -> Result<()> {
        let path = self.path(key)?;
        let io = |op| Error::io(from, Stage::Output, op);
        let size = std::fs::metadata(from).map_err(io("stat"))?.len();
        let mut file = std::fs::File::open(from).map_err(io("open"))?;
        if size <= MULTIPART_ABOVE {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            file.read_to_end(&mut bytes).map_err(io("read"))?;
            self.rt
                .block_on(self.store.put(&path, PutPayload::from(bytes)))
                .map_err(self.fail(key, "upload"))?;
            return Ok(());
        }
        self.rt.block_on(async {
            let upload = self
                .store
                .put_multipart(&path)
                .await
                .map_err(self.fail(key, "start a multipart upload"))?;
            let mut parts = WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buf = vec![0u8; PART];
            loop {
                let n = file.read(&mut buf).map_err(io("read"))?;
                if n == 0 {
                    break;
                }
                parts
                    .wait_for_capacity(4)
                    .await
                    .map_err(self.fail(key, "upload a part"))?;
                parts.write(&buf[..n]);
            }
            parts
                .finish()
                .await
                .map_err(self.fail(key, "finish a multipart upload"))?;
            Ok(())
        })
    }

    /// Uploads `from` as `key` and reads it back: it must hold `sha`'s bytes.
    fn upload_checked(&self, key: &str, from: &Path, sha: &Digest) -> Result<()> {
        self.upload(key, from)?;
        match self.hash(key)? {
            Some((found, _)) if found == *sha => Ok(()),
            found => {
                let _ = self.delete(key);
                Err(Error::Integrity(format!(
                    "object store {}: {key}: read back after upload as {:?}, expected {sha}",
                    self.location,
                    found.map(|(d, _)| d.to_hex())
                )))
            }
        }
    }
}

/// The files under `dir`, as paths relative to it, in order.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(Error::io(&d, Stage::Output, "list"))? {
            let entry = entry.map_err(Error::io(&d, Stage::Output, "list"))?;
            let path = entry.path();
            if entry
                .file_type()
                .map_err(Error::io(&path, Stage::Output, "stat"))?
                .is_dir()
            {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_owned());
            }
        }
    }
    out.sort();
    Ok(out)
}

impl Blobs for S3Blobs {
    fn put_once(&self, key: &str, staged: &Path, sha: &Digest) -> Result<()> {
        match self.hash(key)? {
            Some((found, _)) if found == *sha => {}
            Some((found, _)) => {
                return Err(Error::Integrity(format!(
                    "object store {}: {key}: stored object changed: SHA-256 is {found}, expected {sha}",
                    self.location
                )));
            }
            None => self.upload_checked(key, staged, sha)?,
        }
        std::fs::remove_file(staged).map_err(Error::io(staged, Stage::Output, "remove"))
    }

    fn publish_dir(&self, prefix: &str, staged: &Path) -> Result<()> {
        let prefix = format!("{}/", prefix.trim_end_matches('/'));
        let files = files_under(staged)?;
        let keys: Vec<String> = files
            .iter()
            .map(|rel| format!("{prefix}{}", rel.display()))
            .collect();
        // What a crashed run published but never recorded goes first.
        for old in self.list(&prefix)? {
            if !keys.contains(&old) {
                self.remove(&old)?;
            }
        }
        for (rel, key) in files.iter().zip(&keys) {
            let file = staged.join(rel);
            let (sha, _) =
                crate::digest::hash_file(&file).map_err(Error::io(&file, Stage::Output, "read"))?;
            self.upload_checked(key, &file, &sha)?;
        }
        std::fs::remove_dir_all(staged).map_err(Error::io(staged, Stage::Output, "remove"))
    }

    fn local(&self, key: &str, scratch: &Path) -> Result<PathBuf> {
        let dest = scratch.join(format!("object-{}", key.replace('/', "_")));
        if dest.is_file() {
            return Ok(dest);
        }
        let partial = dest.with_extension("partial");
        let mut file = std::fs::File::create(&partial).map_err(Error::io(
            &partial,
            Stage::Output,
            "create",
        ))?;
        let found = self.read(key, &mut |chunk| {
            file.write_all(chunk)
                .map_err(Error::io(&partial, Stage::Output, "write"))
        })?;
        if found.is_none() {
            let _ = std::fs::remove_file(&partial);
            return Err(Error::NotFound(format!(
                "object store {}: no object {key}",
                self.location
            )));
        }
        std::fs::rename(&partial, &dest).map_err(Error::io(&dest, Stage::Output, "rename"))?;
        Ok(dest)
    }

    fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.head(key)?.is_some())
    }

    fn describe(&self, key: &str) -> String {
        format!("{}/{key}", self.location.trim_end_matches('/'))
    }

    fn hash(&self, key: &str) -> Result<Option<(Digest, u64)>> {
        let mut hasher = sha2::Sha256::new();
        let size = self.read(key, &mut |chunk| {
            hasher.update(chunk);
            Ok(())
        })?;
        Ok(size.map(|n| (Digest(hasher.finalize().into()), n)))
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let path = self.path(prefix)?;
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let mut keys = self.rt.block_on(async {
            let mut listing = self.store.list(Some(&path));
            let mut keys = Vec::new();
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(self.fail(prefix, "list"))?;
                let full = meta.location.to_string();
                keys.push(full.strip_prefix(&strip).unwrap_or(&full).to_owned());
            }
            Ok::<_, Error>(keys)
        })?;
        keys.sort();
        Ok(keys)
    }

    fn delete(&self, key: &str) -> Result<bool> {
        let there = self.head(key)?.is_some();
        if there {
            self.remove(key)?;
        }
        // With no current object, what is purged is what an earlier delete left locked.
        Ok(self.purge(key, true)? > 0 || there)
    }

    fn object_lock(&self) -> Result<Option<ObjectLock>> {
        self.rt.block_on(self.control.lock()).map(Some)
    }

    fn set_object_lock(&self, retention: &DefaultRetention) -> Result<()> {
        self.rt.block_on(self.control.set_lock(retention))?;
        let _ = self.versioned.set(true);
        Ok(())
    }

    fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        let keys = self.list(prefix)?;
        for key in &keys {
            self.remove(key)?;
        }
        self.purge(prefix, false)?;
        Ok(keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_s3_bucket_keeps_the_blob_contract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = crate::testutil::s3_blobs("contract");
        crate::blobs::tests::conformance(&blobs, dir.path());
        // Large objects go up in parts and come back the same.
        let big = dir.path().join("big");
        let bytes = crate::testutil::noise((MULTIPART_ABOVE + 3) as usize, 7);
        std::fs::write(&big, &bytes).expect("write");
        let sha = Digest::of(&bytes);
        blobs
            .put_once("masters/bi/big", &big, &sha)
            .expect("multipart");
        assert_eq!(
            blobs.hash("masters/bi/big").expect("hash"),
            Some((sha, bytes.len() as u64))
        );
    }

    /// The versions (and delete markers) left under the full key `key`.
    fn versions_left(blobs: &S3Blobs, key: &str) -> (usize, usize) {
        let full = blobs.path(key).expect("key").to_string();
        let (versions, markers) = blobs
            .rt
            .block_on(blobs.control.versions(&full, true))
            .expect("versions");
        (versions.len(), markers.len())
    }

    #[test]
    fn a_delete_on_a_versioned_bucket_leaves_no_version_unless_a_lock_keeps_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let stage = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).expect("stage");
            (p, Digest::of(bytes))
        };
        // Versioned without a lock: an overwrite and a delete keep older bytes, which the
        // delete removes too.
        use crate::testutil::servers;
        let open = |bucket: &str| {
            let at = servers::s3_location("versions").replacen("bwv-test", bucket, 1);
            S3Blobs::open_with(&at, servers::s3()).expect("open")
        };
        let versioned = open("bwv-versioned");
        let (a, sha) = stage("a", b"first bytes");
        versioned.put_once("masters/aa/x", &a, &sha).expect("put");
        versioned
            .rt
            .block_on(versioned.control.keep_versions())
            .expect("versioning on");
        let (b, _) = stage("b", b"other bytes");
        versioned.upload("masters/aa/x", &b).expect("overwrite");
        assert_eq!(versions_left(&versioned, "masters/aa/x").0, 2);
        assert!(versioned.delete("masters/aa/x").expect("delete"));
        assert_eq!(versions_left(&versioned, "masters/aa/x"), (0, 0));

        // Locked: the delete hides the object and reports the lock's end; the version stays
        // (and its delete marker, or the version would show again), and so on every later try.
        let locked = open("bwv-locked");
        assert_eq!(locked.object_lock().expect("lock"), Some(ObjectLock::Off));
        let rule = DefaultRetention {
            mode: crate::blobs::object_lock::LockMode::Compliance,
            days: Some(1),
            years: None,
        };
        locked.set_object_lock(&rule).expect("lock");
        assert_eq!(
            locked.object_lock().expect("lock"),
            Some(ObjectLock::On(Some(rule)))
        );
        let (c, sha) = stage("c", b"locked bytes");
        locked.put_once("masters/cc/y", &c, &sha).expect("put");
        for round in 0..2 {
            let err = locked.delete("masters/cc/y").expect_err("locked");
            assert_eq!(err.kind(), crate::ErrorKind::Conflict, "{err}");
            assert!(
                err.to_string().contains("kept by S3 Object Lock until"),
                "{err}"
            );
            assert!(!locked.exists("masters/cc/y").expect("exists"), "{round}");
            assert_eq!(versions_left(&locked, "masters/cc/y"), (1, 1), "{round}");
        }
    }

    #[test]
    fn locations_are_checked_and_keys_never_leave_the_prefix() {
        for bad in ["s3://", "s3:///x", "http://b/x", "s3://b/../x"] {
            assert!(S3Blobs::open(bad).is_err(), "{bad}");
        }
        let blobs = crate::testutil::s3_blobs("keys");
        for key in ["/etc/passwd", "../keys/log.key", ""] {
            assert!(blobs.path(key).is_err(), "{key}");
        }
    }
}
