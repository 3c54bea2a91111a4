//! Per-frame SHA-256 (see ARCHITECTURE.md, "Per-frame hash"): one 32-byte hash a frame in
//! presentation order, a parallel file of stream times (u64 little-endian nanoseconds), and an
//! RFC 6962 root over the hashes (leaf = SHA-256(0x00 || frame hash)).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::digest::Digest;
use crate::error::{Error, Result, Stage};
use crate::media::frame;
use crate::media::pipeline::Frame;
use crate::merkle::Frontier;

/// File name of the frame-hash list inside a recording's derived folder.
pub const HASHES_FILE: &str = "frames.sha256";
/// File name of the frame-time list.
pub const TIMES_FILE: &str = "frames.pts";

/// Running state of the frame hasher.
#[derive(Debug)]
pub struct FrameHasher {
    hashes: BufWriter<File>,
    times: BufWriter<File>,
    hashes_path: PathBuf,
    times_path: PathBuf,
    tree: Frontier,
    pairs: frame::PairHasher,
}

/// What the hasher produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashReport {
    /// Frames hashed.
    pub frames: u64,
    /// RFC 6962 root over the frame hashes.
    pub root: Digest,
    /// The frame-hash file.
    pub hashes_path: PathBuf,
    /// The frame-time file.
    pub times_path: PathBuf,
}

impl FrameHasher {
    /// Starts writing into `dir`.
    pub fn create(dir: &Path) -> Result<Self> {
        let open = |name: &str| {
            let p = dir.join(name);
            File::create(&p)
                .map(BufWriter::new)
                .map_err(Error::io(&p, Stage::FrameHash, "create"))
        };
        Ok(Self {
            hashes: open(HASHES_FILE)?,
            times: open(TIMES_FILE)?,
            hashes_path: dir.join(HASHES_FILE),
            times_path: dir.join(TIMES_FILE),
            tree: Frontier::new(),
            pairs: frame::PairHasher::default(),
        })
    }

    /// Takes one frame; it is hashed and recorded now or, as the first of a pair, with the next
    /// one ([`frame::PairHasher`]).
    pub fn push(&mut self, f: &Frame<'_>) -> std::result::Result<(), (Stage, String)> {
        let hashed = self.pairs.push(f).map_err(|r| (Stage::FrameHash, r))?;
        hashed.iter().try_for_each(|h| self.record(h))
    }

    fn record(&mut self, h: &frame::Hashed) -> std::result::Result<(), (Stage, String)> {
        let write = |w: &mut BufWriter<File>, bytes: &[u8]| {
            w.write_all(bytes)
                .map_err(|e| (Stage::FrameHash, format!("write: {e}")))
        };
        write(&mut self.hashes, &h.digest.0)?;
        write(&mut self.times, &h.pts_ns.to_le_bytes())?;
        self.tree.push(&h.digest.0);
        Ok(())
    }

    /// Hashes the frame still held, then flushes and fsyncs both files.
    pub fn finish(mut self) -> Result<HashReport> {
        let path = self.hashes_path.clone();
        let fail = |reason: String| Error::Media {
            path: path.clone(),
            stage: Stage::FrameHash,
            reason,
        };
        if let Some(last) = self.pairs.finish().map_err(fail)? {
            self.record(&last).map_err(|(_, r)| fail(r))?;
        }
        for (w, p) in [
            (self.hashes, &self.hashes_path),
            (self.times, &self.times_path),
        ] {
            let file = w
                .into_inner()
                .map_err(|e| Error::io(p, Stage::FrameHash, "flush")(e.into_error()))?;
            file.sync_all()
                .map_err(Error::io(p, Stage::FrameHash, "fsync"))?;
        }
        Ok(HashReport {
            frames: self.tree.size(),
            root: self.tree.root(),
            hashes_path: self.hashes_path,
            times_path: self.times_path,
        })
    }
}

/// Reads a frame-hash file and its time file back as (index, stream time ns, hash).
pub fn read_frames(hashes: &Path, times: &Path) -> Result<Vec<(u64, u64, Digest)>> {
    let h = std::fs::read(hashes).map_err(Error::io(hashes, Stage::FrameHash, "read"))?;
    let t = std::fs::read(times).map_err(Error::io(times, Stage::FrameHash, "read"))?;
    if h.len() % 32 != 0 || t.len() % 8 != 0 || h.len() / 32 != t.len() / 8 {
        return Err(Error::Media {
            path: hashes.to_owned(),
            stage: Stage::FrameHash,
            reason: format!(
                "frame-hash file ({} bytes) and time file ({} bytes) disagree",
                h.len(),
                t.len()
            ),
        });
    }
    Ok(h.chunks_exact(32)
        .zip(t.chunks_exact(8))
        .enumerate()
        .map(|(i, (hash, time))| {
            let mut d = [0u8; 32];
            d.copy_from_slice(hash);
            let mut ts = [0u8; 8];
            ts.copy_from_slice(time);
            (i as u64, u64::from_le_bytes(ts), Digest(d))
        })
        .collect())
}
