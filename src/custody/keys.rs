//! The log's signing key on disk: `keys/log.key` (the signed-note signer key, mode 0600, created
//! once and never overwritten) and `keys/log.pub` (the verifier key, safe to publish).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::StoredCheckpoint;
use super::checkpoint::{NoteSigner, NoteVerifier};
use crate::digest;
use crate::error::{Error, Result, Stage};

/// The key files of one store.
#[derive(Debug, Clone)]
pub struct LogKeys {
    dir: PathBuf,
}

fn key_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Key {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl LogKeys {
    /// The keys kept in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The private key file.
    pub fn signer_path(&self) -> PathBuf {
        self.dir.join("log.key")
    }

    /// The public key file.
    pub fn verifier_path(&self) -> PathBuf {
        self.dir.join("log.pub")
    }

    /// Whether the signing key exists.
    pub fn exists(&self) -> bool {
        self.signer_path().exists()
    }

    /// Loads the signing key, creating it (named `origin`, or a random `bwv/<hex>` name) if the
    /// store has none. Returns the key and whether it was created now.
    pub fn load_or_create(&self, origin: Option<&str>) -> Result<(NoteSigner, bool)> {
        fs::create_dir_all(&self.dir).map_err(Error::io(
            &self.dir,
            Stage::Index,
            "create folder",
        ))?;
        // Processes starting together on a new store make one key between them: the first
        // creates it under this lock, the others then load it.
        let lock_path = self.dir.join(".lock");
        let lock = fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io(&lock_path, Stage::Index, "open lock"))?;
        lock.lock()
            .map_err(Error::io(&lock_path, Stage::Index, "lock"))?;
        if self.exists() {
            let signer = self.signer()?;
            if let Some(o) = origin.filter(|o| *o != signer.name()) {
                return Err(key_error(
                    &self.signer_path(),
                    format!(
                        "the store's log is already named {:?}, not {o:?}",
                        signer.name()
                    ),
                ));
            }
            return Ok((signer, false));
        }
        let name = match origin {
            Some(o) => o.to_owned(),
            None => {
                let mut tag = [0u8; 6];
                getrandom::fill(&mut tag)
                    .map_err(|e| key_error(&self.signer_path(), e.to_string()))?;
                format!("bwv/{}", digest::to_hex(&tag))
            }
        };
        let signer = NoteSigner::generate(&name)
            .map_err(|e| key_error(&self.signer_path(), e.to_string()))?;
        // The private key is written last and with create_new, so an existing key is never
        // overwritten; a public key left by an interrupted first run is simply replaced.
        write_new(
            &self.verifier_path(),
            &signer.verifier().encode(),
            0o644,
            true,
        )?;
        write_new(&self.signer_path(), &signer.encode(), 0o600, false)?;
        crate::durable::sync_dir(&self.dir)?;
        Ok((signer, true))
    }

    /// The key that signs `store`'s log: this folder's, created (named `origin`, or at
    /// random) only for a log no key has signed yet. A log on an index shared by several
    /// machines has one key: a machine without it, or with another, is refused with what to do,
    /// rather than making a second key whose checkpoints the others would find forged.
    pub fn for_store(
        &self,
        store: &dyn super::Store,
        origin: Option<&str>,
    ) -> Result<(NoteSigner, bool)> {
        self.for_log(store.latest_checkpoint()?.as_ref(), origin)
    }

    /// [`Self::for_store`] for a log whose latest checkpoint is `latest`.
    fn for_log(
        &self,
        latest: Option<&StoredCheckpoint>,
        origin: Option<&str>,
    ) -> Result<(NoteSigner, bool)> {
        if !self.exists()
            && let Some(cp) = latest
        {
            return Err(Error::NotFound(format!(
                "{}: this machine has no log key, and the log is already signed by {}: copy \
                 keys/log.key (mode 0600) and keys/log.pub from a machine that has it",
                self.signer_path().display(),
                note_origin(&cp.note)
            )));
        }
        let (signer, created) = self.load_or_create(origin)?;
        if let Some(cp) = latest
            && signer.verifier().open(&cp.note).is_err()
        {
            return Err(Error::Integrity(format!(
                "{}: this machine's log key ({}) did not sign the log's checkpoints (signed by \
                 {}): copy keys/log.key and keys/log.pub from a machine that has the log's key",
                self.signer_path().display(),
                signer.name(),
                note_origin(&cp.note)
            )));
        }
        Ok((signer, created))
    }

    /// Whether this folder holds the key that signs `store`'s log, as [`Self::for_store`]
    /// asks, without making one: a log no key has signed yet passes.
    pub fn check_for_store(&self, store: &dyn super::Store) -> Result<()> {
        match store.latest_checkpoint()? {
            None => Ok(()),
            latest => self.for_log(latest.as_ref(), None).map(drop),
        }
    }

    /// Loads the signing key; refuses a key file that group or others can read.
    pub fn signer(&self) -> Result<NoteSigner> {
        let path = self.signer_path();
        let meta = fs::metadata(&path).map_err(|e| {
            key_error(
                &path,
                format!("{e} (run `bwv init` to create the log's key)"),
            )
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(key_error(
                &path,
                "readable by group or others; run chmod 600 on it",
            ));
        }
        let text = fs::read_to_string(&path).map_err(Error::io(&path, Stage::Index, "read"))?;
        NoteSigner::parse(&text).map_err(|e| key_error(&path, e.to_string()))
    }

    /// Loads the public verifier key.
    pub fn verifier(&self) -> Result<NoteVerifier> {
        read_verifier(&self.verifier_path())
    }
}

/// Reads a verifier key file (one `name+id+key` line).
pub fn read_verifier(path: &Path) -> Result<NoteVerifier> {
    let text = fs::read_to_string(path).map_err(Error::io(path, Stage::Index, "read key"))?;
    NoteVerifier::parse(text.trim()).map_err(|e| key_error(path, e.to_string()))
}

fn write_new(path: &Path, text: &str, mode: u32, replace: bool) -> Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).mode(mode);
    if replace {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    let mut f = opts
        .open(path)
        .map_err(Error::io(path, Stage::Index, "create key"))?;
    f.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(Error::io(path, Stage::Index, "write key"))
}

/// The origin line a signed note names (its first line).
fn note_origin(note: &str) -> &str {
    note.lines().next().unwrap_or("another key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_reloadable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = LogKeys::new(dir.path().join("keys"));
        let (signer, created) = keys
            .load_or_create(Some("test.example/log"))
            .expect("create");
        assert!(created);
        let mode = fs::metadata(keys.signer_path())
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, created) = keys.load_or_create(None).expect("load");
        assert!(!created);
        assert_eq!(again.encode(), signer.encode());
        assert_eq!(keys.verifier().expect("pub"), signer.verifier());
        assert!(keys.load_or_create(Some("other.example/log")).is_err());

        fs::set_permissions(keys.signer_path(), fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = keys.signer().expect_err("world-readable key refused");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
}
