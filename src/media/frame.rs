//! Tight plane layout of decoded frames, and the per-frame SHA-256 over it.
//!
//! The evidence hash of a frame is SHA-256 over its planes in order, each plane tightly packed:
//! `row_bytes` per row (no stride padding), `rows` rows. This is what
//! `ffmpeg -f framehash -hash sha256` computes for the decoder's native format.

use gst_video::prelude::*;
use gstreamer_video as gst_video;

use super::pipeline::Frame;
use super::sha_pair;
use crate::digest::Digest;

/// The tight size of one plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneLayout {
    /// Meaningful bytes per row.
    pub row_bytes: usize,
    /// Number of rows.
    pub rows: usize,
}

/// Tight plane sizes for a negotiated video format, or why it cannot be hashed this way.
pub fn plane_layouts(info: &gst_video::VideoInfo) -> Result<Vec<PlaneLayout>, String> {
    let finfo = info.format_info();
    if finfo.is_complex() || finfo.is_tiled() {
        return Err(format!(
            "pixel format {} is packed in a way bwv cannot hash",
            finfo.name()
        ));
    }
    let (w, h) = (info.width(), info.height());
    (0..finfo.n_planes())
        .map(|plane| {
            // The first component stored in a plane determines its tight row size; for packed and
            // semi-planar planes its pixel stride already covers the interleaved components.
            let comp = finfo
                .plane()
                .iter()
                .take(finfo.n_components() as usize)
                .position(|&p| p == plane)
                .ok_or_else(|| {
                    format!(
                        "pixel format {}: plane {plane} has no component",
                        finfo.name()
                    )
                })?;
            let pstride = finfo.pixel_stride()[comp] as usize;
            Ok(PlaneLayout {
                row_bytes: finfo.scale_width(comp as u8, w) as usize * pstride,
                rows: finfo.scale_height(comp as u8, h) as usize,
            })
        })
        .collect()
}

/// A frame's tight bytes as runs: each plane's rows without their padding (a tight plane is one
/// run), planes in order. `None` if a plane is missing or too short for its layout (a malformed
/// buffer).
fn runs<'a>(
    planes: impl IntoIterator<Item = (&'a [u8], usize)>,
    layouts: &[PlaneLayout],
) -> Option<Vec<&'a [u8]>> {
    let mut runs = Vec::new();
    let mut n = 0;
    for ((data, stride), layout) in planes.into_iter().zip(layouts) {
        n += 1;
        if layout.rows == 0 || layout.row_bytes == 0 {
            continue;
        }
        let needed = stride
            .checked_mul(layout.rows - 1)?
            .checked_add(layout.row_bytes)?;
        if stride < layout.row_bytes || data.len() < needed {
            return None;
        }
        if stride == layout.row_bytes {
            runs.push(&data[..needed]);
        } else {
            runs.extend(
                data.chunks(stride)
                    .take(layout.rows)
                    .map(|row| &row[..layout.row_bytes]),
            );
        }
    }
    (n == layouts.len()).then_some(runs)
}

/// SHA-256 over planes given as (data, stride) pairs, each hashed tightly per `layouts`.
///
/// Returns `None` if a plane is too short for its layout (a malformed buffer).
pub fn hash_planes<'a>(
    planes: impl IntoIterator<Item = (&'a [u8], usize)>,
    layouts: &[PlaneLayout],
) -> Option<Digest> {
    runs(planes, layouts).map(sha_pair::one)
}

/// The runs of a mapped video frame with the given layouts.
fn frame_runs<'a>(
    frame: &'a gst_video::VideoFrameRef<&gstreamer::BufferRef>,
    layouts: &[PlaneLayout],
) -> Option<Vec<&'a [u8]>> {
    let strides = frame.plane_stride();
    let planes = (0..frame.n_planes())
        .map(|p| {
            Some((
                frame.plane_data(p).ok()?,
                usize::try_from(strides[p as usize]).ok()?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    runs(planes, layouts)
}

/// Hashes a mapped video frame with the given layouts.
pub fn hash_frame(
    frame: &gst_video::VideoFrameRef<&gstreamer::BufferRef>,
    layouts: &[PlaneLayout],
) -> Option<Digest> {
    frame_runs(frame, layouts).map(sha_pair::one)
}

/// One frame's hash, as [`PairHasher`] hands them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hashed {
    pub index: u64,
    pub pts_ns: u64,
    pub digest: Digest,
}

/// Hashes frames two at a time ([`sha_pair::two`], about 1.3x the speed of one after the
/// other on one core): the first of each pair is held, by a reference to its buffer, until the
/// second arrives. The hashes come out in frame order, each exactly [`hash_frame`]'s.
#[derive(Debug, Default)]
pub struct PairHasher {
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    frame: gst_video::VideoFrame<gst_video::video_frame::Readable>,
    layouts: Vec<PlaneLayout>,
    index: u64,
    pts_ns: u64,
}

fn malformed(index: u64) -> String {
    format!("frame {index} is smaller than its format says")
}

impl PairHasher {
    /// Takes a frame; returns the frames hashed now: none (this one is held), or the held one
    /// and this one.
    pub fn push(&mut self, f: &Frame<'_>) -> Result<Vec<Hashed>, String> {
        let Some(held) = self.held.take() else {
            let frame = gst_video::VideoFrame::from_buffer_readable(
                f.video.buffer().to_owned(),
                f.video.info(),
            )
            .map_err(|_| format!("frame {}: cannot map it again to hold it", f.index))?;
            self.held = Some(Held {
                frame,
                layouts: f.layouts.to_vec(),
                index: f.index,
                pts_ns: f.pts_ns,
            });
            return Ok(Vec::new());
        };
        let first = held.frame.as_video_frame_ref();
        let digests = match (
            frame_runs(&first, &held.layouts),
            frame_runs(f.video, f.layouts),
        ) {
            (Some(a), Some(b)) => sha_pair::two(a, b),
            (None, _) => return Err(malformed(held.index)),
            (_, None) => return Err(malformed(f.index)),
        };
        Ok(vec![
            Hashed {
                index: held.index,
                pts_ns: held.pts_ns,
                digest: digests[0],
            },
            Hashed {
                index: f.index,
                pts_ns: f.pts_ns,
                digest: digests[1],
            },
        ])
    }

    /// Hashes the frame still held (the last of an odd count), if any.
    pub fn finish(&mut self) -> Result<Option<Hashed>, String> {
        let Some(held) = self.held.take() else {
            return Ok(None);
        };
        let digest = hash_frame(&held.frame.as_video_frame_ref(), &held.layouts)
            .ok_or_else(|| malformed(held.index))?;
        Ok(Some(Hashed {
            index: held.index,
            pts_ns: held.pts_ns,
            digest,
        }))
    }
}

/// An 8-bit I420 format of `width` x `height` with `like`'s frame rate, pixel aspect ratio,
/// colorimetry and chroma siting: the frames bwv makes from decoded ones (shrunk, masked).
pub fn i420_like(
    like: &gst_video::VideoInfo,
    width: u32,
    height: u32,
) -> Result<gst_video::VideoInfo, String> {
    gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
        .fps(like.fps())
        .par(like.par())
        .colorimetry(&like.colorimetry())
        .chroma_site(like.chroma_site())
        .build()
        .map_err(|e| format!("I420 {width}x{height}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn i420(w: u32, h: u32) -> gst_video::VideoInfo {
        gstreamer::init().expect("gstreamer");
        gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w, h)
            .build()
            .expect("info")
    }

    #[test]
    fn i420_odd_sizes_round_chroma_up() {
        let l = plane_layouts(&i420(853, 479)).expect("layouts");
        assert_eq!(
            l,
            vec![
                PlaneLayout {
                    row_bytes: 853,
                    rows: 479
                },
                PlaneLayout {
                    row_bytes: 427,
                    rows: 240
                },
                PlaneLayout {
                    row_bytes: 427,
                    rows: 240
                },
            ]
        );
    }

    #[test]
    fn nv12_and_10bit_layouts() {
        gstreamer::init().expect("gstreamer");
        let nv12 = gst_video::VideoInfo::builder(gst_video::VideoFormat::Nv12, 854, 480)
            .build()
            .expect("info");
        assert_eq!(
            plane_layouts(&nv12).expect("nv12")[1],
            PlaneLayout {
                row_bytes: 854,
                rows: 240
            }
        );
        let p10 = gst_video::VideoInfo::builder(gst_video::VideoFormat::I42010le, 854, 480)
            .build()
            .expect("info");
        assert_eq!(
            plane_layouts(&p10).expect("10-bit")[0],
            PlaneLayout {
                row_bytes: 1708,
                rows: 480
            }
        );
    }

    #[test]
    fn pairs_hash_each_frame_as_alone_in_order() {
        // 34x18 I420 rows are padded to a stride of 36 (luma) and 20 (chroma).
        let info = i420(34, 18);
        let layouts = plane_layouts(&info).expect("layouts");
        let buffers: Vec<gstreamer::Buffer> = (0..5u8)
            .map(|i| {
                let bytes: Vec<u8> = (0..info.size()).map(|j| (j as u8) ^ (i * 37)).collect();
                gstreamer::Buffer::from_mut_slice(bytes)
            })
            .collect();
        for count in 1..=buffers.len() {
            let mut pairs = PairHasher::default();
            let mut got = Vec::new();
            let mut want = Vec::new();
            for (i, b) in buffers[..count].iter().enumerate() {
                let video =
                    gst_video::VideoFrameRef::from_buffer_ref_readable(b, &info).expect("map");
                want.push(hash_frame(&video, &layouts).expect("alone"));
                let f = Frame {
                    index: i as u64,
                    pts_ns: 1000 * i as u64,
                    duration_ns: None,
                    video: &video,
                    layouts: &layouts,
                };
                got.extend(pairs.push(&f).expect("push"));
            }
            got.extend(pairs.finish().expect("finish"));
            let indices: Vec<u64> = got.iter().map(|h| h.index).collect();
            assert_eq!(indices, (0..count as u64).collect::<Vec<_>>());
            assert!(got.iter().all(|h| h.pts_ns == 1000 * h.index));
            let digests: Vec<Digest> = got.iter().map(|h| h.digest).collect();
            assert_eq!(digests, want, "{count} frames");
            // The frames differ, so the comparison above is not of one repeated value.
            assert!(want.windows(2).all(|w| w[0] != w[1]));
        }
    }

    #[test]
    fn padding_is_excluded_from_the_hash() {
        let layout = [PlaneLayout {
            row_bytes: 3,
            rows: 2,
        }];
        let tight = [1u8, 2, 3, 4, 5, 6];
        let padded = [1u8, 2, 3, 99, 4, 5, 6, 77];
        let a = hash_planes([(&tight[..], 3)], &layout).expect("tight");
        let b = hash_planes([(&padded[..], 4)], &layout).expect("padded");
        assert_eq!(a, b);
        assert_eq!(a, Digest::of(&tight));
        // Padding may be absent after the last row.
        assert_eq!(hash_planes([(&padded[..7], 4)], &layout), Some(a));
        // But a short plane is refused, as is a missing plane.
        assert_eq!(hash_planes([(&padded[..6], 4)], &layout), None);
        assert_eq!(hash_planes([], &layout), None);
    }
}
