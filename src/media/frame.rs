//! Tight plane layout of decoded frames, and the per-frame SHA-256 over it.
//!
//! The evidence hash of a frame is SHA-256 over its planes in order, each plane tightly packed:
//! `row_bytes` per row (no stride padding), `rows` rows. This is what
//! `ffmpeg -f framehash -hash sha256` computes for the decoder's native format.

use gst_video::prelude::*;
use gstreamer_video as gst_video;
use sha2::{Digest as _, Sha256};

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

/// SHA-256 over planes given as (data, stride) pairs, each hashed tightly per `layouts`.
///
/// Returns `None` if a plane is too short for its layout (a malformed buffer).
pub fn hash_planes<'a>(
    planes: impl IntoIterator<Item = (&'a [u8], usize)>,
    layouts: &[PlaneLayout],
) -> Option<Digest> {
    let mut hasher = Sha256::new();
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
            hasher.update(&data[..needed]);
        } else {
            for row in data.chunks(stride).take(layout.rows) {
                hasher.update(&row[..layout.row_bytes]);
            }
        }
    }
    (n == layouts.len()).then(|| Digest(hasher.finalize().into()))
}

/// Hashes a mapped video frame with the given layouts.
pub fn hash_frame(
    frame: &gst_video::VideoFrameRef<&gstreamer::BufferRef>,
    layouts: &[PlaneLayout],
) -> Option<Digest> {
    let strides = frame.plane_stride();
    let planes = (0..frame.n_planes())
        .map(|p| {
            Some((
                frame.plane_data(p).ok()?,
                usize::try_from(strides[p as usize]).ok()?,
            ))
        })
        .collect::<Option<Vec<_>>>()?;
    hash_planes(planes, layouts)
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
