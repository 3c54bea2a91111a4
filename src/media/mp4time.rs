//! Stamping an MP4's header times. Muxers write the wall-clock time of muxing into the movie,
//! track and media headers (`mvhd`, `tkhd`, `mdhd`), so two runs over the same input differ in
//! those bytes. Rewriting them with a time that belongs to the input (the recording's) makes the
//! output a pure function of its inputs. Only those fields change; box sizes never do.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Seconds from 1904-01-01 (the MP4 epoch) to 1970-01-01.
const EPOCH_1904: i64 = 2_082_844_800;

/// Why stamping failed.
#[derive(Debug, thiserror::Error)]
pub enum StampError {
    /// Reading or writing the file.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not a well-formed MP4 with a `moov` box.
    #[error("not a well-formed MP4: {0}")]
    Format(&'static str),
}

/// Box header: (size including header, type, header length).
fn header(buf: &[u8], at: usize, end: usize) -> Result<(usize, [u8; 4], usize), StampError> {
    if at + 8 > end {
        return Err(StampError::Format("truncated box header"));
    }
    let size32 = u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let kind = [buf[at + 4], buf[at + 5], buf[at + 6], buf[at + 7]];
    let (size, hlen) = match size32 {
        0 => (end - at, 8),
        1 => {
            if at + 16 > end {
                return Err(StampError::Format("truncated large box header"));
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[at + 8..at + 16]);
            (u64::from_be_bytes(b) as usize, 16)
        }
        n => (n as usize, 8),
    };
    if size < hlen || at + size > end {
        return Err(StampError::Format("box overruns its parent"));
    }
    Ok((size, kind, hlen))
}

/// Sets creation and modification times in every `mvhd`/`tkhd`/`mdhd` inside `buf[start..end]`.
fn patch(buf: &mut [u8], start: usize, end: usize, t: u64) -> Result<usize, StampError> {
    let mut at = start;
    let mut patched = 0;
    while at < end {
        let (size, kind, hlen) = header(buf, at, end)?;
        let body = at + hlen;
        match &kind {
            b"trak" | b"mdia" => patched += patch(buf, body, at + size, t)?,
            b"mvhd" | b"tkhd" | b"mdhd" => {
                let version = *buf
                    .get(body)
                    .ok_or(StampError::Format("empty header box"))?;
                let fields = body + 4;
                if version == 1 {
                    if fields + 16 > at + size {
                        return Err(StampError::Format("short v1 header box"));
                    }
                    buf[fields..fields + 8].copy_from_slice(&t.to_be_bytes());
                    buf[fields + 8..fields + 16].copy_from_slice(&t.to_be_bytes());
                } else {
                    if fields + 8 > at + size {
                        return Err(StampError::Format("short header box"));
                    }
                    let t32 = u32::try_from(t).unwrap_or(u32::MAX).to_be_bytes();
                    buf[fields..fields + 4].copy_from_slice(&t32);
                    buf[fields + 4..fields + 8].copy_from_slice(&t32);
                }
                patched += 1;
            }
            _ => {}
        }
        at += size;
    }
    Ok(patched)
}

/// Rewrites the header times of the MP4 at `path` to `unix_seconds` (UTC); returns how many
/// header boxes were stamped.
pub fn stamp(path: &Path, unix_seconds: i64) -> Result<usize, StampError> {
    let t = u64::try_from(unix_seconds + EPOCH_1904)
        .map_err(|_| StampError::Format("time before 1904"))?;
    let mut f = File::options().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    let mut at = 0u64;
    while at + 8 <= len {
        // Top-level box header, read from the file (mdat may be gigabytes; only moov is loaded).
        let mut h = [0u8; 16];
        let n = (len - at).min(16) as usize;
        f.seek(SeekFrom::Start(at))?;
        f.read_exact(&mut h[..n])?;
        let size = match u32::from_be_bytes([h[0], h[1], h[2], h[3]]) {
            0 => len - at,
            1 if n == 16 => {
                u64::from_be_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]])
            }
            1 => return Err(StampError::Format("truncated large box header")),
            s => u64::from(s),
        };
        if size < 8 || at + size > len {
            return Err(StampError::Format("box overruns the file"));
        }
        let (size, kind) = (size as usize, [h[4], h[5], h[6], h[7]]);
        if &kind == b"moov" {
            let mut moov = vec![0u8; size];
            f.seek(SeekFrom::Start(at))?;
            f.read_exact(&mut moov)?;
            let (_, _, hlen) = header(&moov, 0, size)?;
            let patched = patch(&mut moov, hlen, size, t)?;
            f.seek(SeekFrom::Start(at))?;
            f.write_all(&moov)?;
            f.sync_all()?;
            return Ok(patched);
        }
        at += size as u64;
    }
    Err(StampError::Format("no moov box"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn full_v0(kind: &[u8; 4], time: u32) -> Vec<u8> {
        let mut body = vec![0u8; 4];
        body.extend_from_slice(&time.to_be_bytes());
        body.extend_from_slice(&time.to_be_bytes());
        body.extend_from_slice(&[7u8; 12]);
        boxed(kind, &body)
    }

    #[test]
    fn stamps_movie_track_and_media_headers_only() {
        let mdia = boxed(b"mdia", &full_v0(b"mdhd", 111));
        let trak = boxed(b"trak", &[full_v0(b"tkhd", 222), mdia].concat());
        let moov = boxed(b"moov", &[full_v0(b"mvhd", 333), trak].concat());
        let file = [
            boxed(b"ftyp", b"isomisom"),
            moov,
            boxed(b"mdat", &[9u8; 40]),
        ]
        .concat();
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a.mp4");
        std::fs::write(&p, &file).expect("write");
        assert_eq!(stamp(&p, 1_700_000_000).expect("stamps"), 3);
        let out = std::fs::read(&p).expect("read");
        assert_eq!(out.len(), file.len());
        let want = ((1_700_000_000i64 + EPOCH_1904) as u32).to_be_bytes();
        let hits = out.windows(4).filter(|w| *w == want).count();
        assert_eq!(hits, 6, "creation and modification in three boxes");
        let changed = out.iter().zip(&file).filter(|(a, b)| a != b).count();
        assert!(
            changed <= 24,
            "only the time fields change ({changed} bytes)"
        );
        assert!(stamp(&dir.path().join("missing.mp4"), 0).is_err());
        std::fs::write(&p, boxed(b"mdat", &[0; 8])).expect("write");
        assert!(matches!(stamp(&p, 0), Err(StampError::Format(_))));
    }
}
