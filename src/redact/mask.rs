//! Irreversible masks on 8-bit 4:2:0 frames: an ellipse about 1.3× the face box on all three
//! planes, filled by large-block pixelation, a solid fill, or a blur of a heavily downscaled copy
//! (light Gaussian blur can be partly undone; these cannot, because the detail is averaged away
//! before anything is drawn). Integer arithmetic only, so masks are bit-for-bit repeatable.

use serde::{Deserialize, Serialize};

/// How a masked region is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Blocks of about a quarter of the face, each its mean colour.
    #[default]
    Pixelate,
    /// The region's mean colour, smoothed: a 1/16-scale copy bilinearly enlarged.
    Blur,
    /// Mid grey.
    Solid,
}

/// An ellipse to mask, in luma pixels: |dx/rx|^p + |dy/ry|^p <= 1, with p = 2 for a true
/// ellipse and [`EDGE_POWER`] for the squarer shape given to faces cut by the frame edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ellipse {
    /// Centre x.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Half width.
    pub rx: f32,
    /// Half height.
    pub ry: f32,
    /// The exponent p.
    pub power: f32,
}

/// The exponent of the mask of a face cut by the frame edge. What shows of such a face fills
/// its box right up to the edge (a forehead and hair coming into the picture), and an
/// ellipse, narrowing towards the box's far side, would leave that side's corners bare.
pub const EDGE_POWER: f32 = 4.0;

/// Scale of the ellipse relative to the box of a face up to [`FULL_MARGIN_UP_TO`] tall.
pub const DEFAULT_GROW: f32 = 1.3;

/// Face height (pixels) up to which a mask gets its whole margin. The detector's boxes of
/// small faces jitter by a few pixels from frame to frame and need it; its boxes of large faces
/// are already generous (measured on the development clips: for faces over 200 px, a median
/// 1.1× and a tenth over 1.5× the hairline-to-chin box), so a fixed share would hide a wide
/// ring of background around every close face. Between this and four times it the margin
/// stays about 29 pixels whatever the size (jitter and motion between detections are pixels,
/// not shares of the face).
pub const FULL_MARGIN_UP_TO: f32 = 96.0;

/// The share of the margin left to the largest faces (reached at four times
/// [`FULL_MARGIN_UP_TO`]): 1.075× their box. Half the margin hid 0.5–1.5 % of the background
/// on clips with faces over 300 px; a quarter hides a third to a half of that and found the
/// same faces on every evaluation clip, where no margin at all left one face uncovered.
pub const LEAST_MARGIN: f32 = 0.25;

/// The scale of a face's mask for a box `h` pixels tall: `grow` up to [`FULL_MARGIN_UP_TO`],
/// then a margin (`grow` - 1) shrinking in inverse proportion to the height, to
/// [`LEAST_MARGIN`] of it.
pub fn face_grow(grow: f32, h: f32) -> f32 {
    let share = (FULL_MARGIN_UP_TO / h.max(1.0)).clamp(LEAST_MARGIN, 1.0);
    1.0 + (grow - 1.0) * share
}

impl Ellipse {
    /// The ellipse `grow` times the size of a box.
    pub fn around(x0: f32, y0: f32, x1: f32, y1: f32, grow: f32) -> Self {
        Self {
            cx: (x0 + x1) / 2.0,
            cy: (y0 + y1) / 2.0,
            rx: (x1 - x0).abs() * grow / 2.0,
            ry: (y1 - y0).abs() * grow / 2.0,
            power: 2.0,
        }
    }

    /// The mask of a face box in a frame of `size` (width, height), `grow` as [`face_grow`]
    /// says. A box that reaches an edge of the frame holds only the part of the face that
    /// shows: it is mirrored across that edge, so the mask is centred on the edge and its
    /// widest part covers all that shows; when less than about half shows, the mask is
    /// squarer ([`EDGE_POWER`]).
    pub fn around_face(x0: f32, y0: f32, x1: f32, y1: f32, grow: f32, size: (f32, f32)) -> Self {
        const TOUCH: f32 = 1.0;
        let grow = face_grow(grow, (y1 - y0).abs());
        // One axis: a span reaching 0 or `end` is mirrored across it.
        let mirror = |lo: f32, hi: f32, end: f32| {
            let len = hi - lo;
            if lo <= TOUCH {
                (lo - len, hi)
            } else if hi >= end - TOUCH {
                (lo, hi + len)
            } else {
                (lo, hi)
            }
        };
        let (mx0, mx1) = mirror(x0, x1, size.0);
        let (my0, my1) = mirror(y0, y1, size.1);
        // Cut deep: under about half of the face shows (a whole face's box is about 1.25 times
        // as tall as it is wide). The detector's box of a face cut by the top or bottom edge is
        // often half as wide again as the face, so a test at two thirds squared the masks of
        // faces that mostly show, hiding background beside them.
        let (w, h) = ((x1 - x0).abs(), (y1 - y0).abs());
        let deep =
            ((my0, my1) != (y0, y1) && h < 0.6 * w) || ((mx0, mx1) != (x0, x1) && w < 0.5 * h);
        Self {
            power: if deep { EDGE_POWER } else { 2.0 },
            ..Self::around(mx0, my0, mx1, my1, grow)
        }
    }

    /// Whether the point (`x`, `y`) lies inside (or on) the ellipse.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        if self.rx <= 0.0 || self.ry <= 0.0 {
            return false;
        }
        let (dx, dy) = (
            ((x - self.cx) / self.rx).abs(),
            ((y - self.cy) / self.ry).abs(),
        );
        dx.powf(self.power) + dy.powf(self.power) <= 1.0
    }

    /// The same ellipse on a plane subsampled by `sub` (2 for 4:2:0 chroma).
    fn on_plane(&self, sub: f32) -> Self {
        Self {
            cx: self.cx / sub,
            cy: self.cy / sub,
            rx: self.rx / sub,
            ry: self.ry / sub,
            power: self.power,
        }
    }

    /// Integer bounds (inclusive-exclusive) clipped to a `w`×`h` plane, with every pixel whose
    /// centre is inside the ellipse given by [`Ellipse::row_span`].
    fn bounds(&self, w: usize, h: usize) -> (usize, usize, usize, usize) {
        let clip = |v: f32, max: usize| (v.max(0.0) as usize).min(max);
        (
            clip((self.cx - self.rx).floor(), w),
            clip((self.cy - self.ry).floor(), h),
            clip((self.cx + self.rx).ceil() + 1.0, w),
            clip((self.cy + self.ry).ceil() + 1.0, h),
        )
    }

    /// The columns `[a, b)` of row `y` inside the ellipse (pixel centres at +0.5).
    fn row_span(&self, y: usize, w: usize) -> Option<(usize, usize)> {
        if self.rx <= 0.0 || self.ry <= 0.0 {
            return None;
        }
        let dy = ((y as f32 + 0.5 - self.cy) / self.ry).abs();
        let half = if self.power == 2.0 {
            let t = 1.0 - dy * dy;
            if t < 0.0 {
                return None;
            }
            self.rx * t.sqrt()
        } else {
            let t = 1.0 - dy.powf(self.power);
            if t < 0.0 {
                return None;
            }
            self.rx * t.powf(1.0 / self.power)
        };
        let a = (self.cx - half - 0.5).ceil().max(0.0) as usize;
        let b = ((self.cx + half - 0.5).floor() + 1.0).max(0.0) as usize;
        let b = b.min(w);
        (a < b).then_some((a, b))
    }
}

/// One writable plane.
#[derive(Debug)]
pub struct Plane<'a> {
    /// Bytes, `stride` per row.
    pub data: &'a mut [u8],
    /// Row stride.
    pub stride: usize,
    /// Width in samples.
    pub width: usize,
    /// Height in rows.
    pub height: usize,
}

/// Fills `e` on one plane with `mode`; `block` is the pixelation block size in this plane's
/// samples. Returns how many samples changed value.
fn fill_plane(p: &mut Plane<'_>, e: &Ellipse, mode: Mode, block: usize) -> u64 {
    let (x0, y0, x1, y1) = e.bounds(p.width, p.height);
    if x0 >= x1 || y0 >= y1 {
        return 0;
    }
    let block = match mode {
        Mode::Pixelate => block.max(2),
        // Blur: average 16x16 blocks, then interpolate between block means.
        Mode::Blur => 16usize.max(block),
        Mode::Solid => 0,
    };
    let (bw, bh) = if block == 0 {
        (1, 1)
    } else {
        ((x1 - x0).div_ceil(block), (y1 - y0).div_ceil(block))
    };
    // Means of each block over the bounding box (integer, rounded).
    let mut means = vec![128u8; bw * bh];
    if block > 0 {
        for by in 0..bh {
            for bx in 0..bw {
                let (sx, sy) = (x0 + bx * block, y0 + by * block);
                let (ex, ey) = ((sx + block).min(x1), (sy + block).min(y1));
                let mut sum = 0u64;
                for y in sy..ey {
                    sum += p.data[y * p.stride + sx..y * p.stride + ex]
                        .iter()
                        .map(|&v| u64::from(v))
                        .sum::<u64>();
                }
                let n = ((ex - sx) * (ey - sy)) as u64;
                means[by * bw + bx] = ((sum + n / 2) / n) as u8;
            }
        }
    }
    let mut changed = 0;
    for y in y0..y1 {
        let Some((a, b)) = e.row_span(y, p.width) else {
            continue;
        };
        let (a, b) = (a.max(x0), b.min(x1));
        for x in a..b {
            let v = match mode {
                Mode::Solid => 128,
                Mode::Pixelate => means[((y - y0) / block) * bw + (x - x0) / block],
                Mode::Blur => blur_sample(&means, bw, bh, block, x - x0, y - y0),
            };
            let px = &mut p.data[y * p.stride + x];
            if *px != v {
                *px = v;
                changed += 1;
            }
        }
    }
    changed
}

/// Bilinear interpolation between block means (fixed point, 8 fractional bits).
fn blur_sample(means: &[u8], bw: usize, bh: usize, block: usize, x: usize, y: usize) -> u8 {
    // Position in block units, centred on block centres.
    let fx = ((x * 256 + 128) / block).saturating_sub(128);
    let fy = ((y * 256 + 128) / block).saturating_sub(128);
    let (ix, iy) = ((fx >> 8).min(bw - 1), (fy >> 8).min(bh - 1));
    let (jx, jy) = ((ix + 1).min(bw - 1), (iy + 1).min(bh - 1));
    let (tx, ty) = ((fx & 255) as u32, (fy & 255) as u32);
    let m = |xx: usize, yy: usize| u32::from(means[yy * bw + xx]);
    let top = m(ix, iy) * (256 - tx) + m(jx, iy) * tx;
    let bottom = m(ix, jy) * (256 - tx) + m(jx, jy) * tx;
    ((top * (256 - ty) + bottom * ty + (1 << 15)) >> 16) as u8
}

/// Masks one ellipse (in luma pixels) on an I420 frame's three planes; returns changed samples.
pub fn apply(planes: &mut [Plane<'_>; 3], e: &Ellipse, mode: Mode) -> u64 {
    // About four blocks across the face's short side, never finer than 8 luma pixels: coarse
    // enough that no feature survives, and fewer block edges.
    let block = ((e.rx.min(e.ry) * 2.0 / 1.3 / 4.0) as usize).max(8);
    let [y, u, v] = planes;
    fill_plane(y, e, mode, block)
        + fill_plane(u, &e.on_plane(2.0), mode, block / 2)
        + fill_plane(v, &e.on_plane(2.0), mode, block / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Y, U and V planes of a test frame.
    type Planes = (Vec<u8>, Vec<u8>, Vec<u8>);

    fn frame(w: usize, h: usize, seed: u32) -> Planes {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        };
        let y: Vec<u8> = (0..w * h).map(|_| next()).collect();
        let c = w.div_ceil(2) * h.div_ceil(2);
        let u: Vec<u8> = (0..c).map(|_| next()).collect();
        let v: Vec<u8> = (0..c).map(|_| next()).collect();
        (y, u, v)
    }

    fn masked(mode: Mode, e: &Ellipse) -> (Planes, u64) {
        let (w, h) = (64, 48);
        let (mut y, mut u, mut v) = frame(w, h, 7);
        let changed = {
            let mut planes = [
                Plane {
                    data: &mut y,
                    stride: w,
                    width: w,
                    height: h,
                },
                Plane {
                    data: &mut u,
                    stride: w / 2,
                    width: w / 2,
                    height: h / 2,
                },
                Plane {
                    data: &mut v,
                    stride: w / 2,
                    width: w / 2,
                    height: h / 2,
                },
            ];
            apply(&mut planes, e, mode)
        };
        ((y, u, v), changed)
    }

    #[test]
    fn only_the_ellipse_changes_and_detail_is_gone() {
        let e = Ellipse::around(20.0, 10.0, 40.0, 34.0, 1.3);
        let original = frame(64, 48, 7);
        for mode in [Mode::Pixelate, Mode::Blur, Mode::Solid] {
            let ((y, u, _), changed) = masked(mode, &e);
            assert!(changed > 400, "{mode:?} changed {changed}");
            for row in 0..48 {
                for col in 0..64 {
                    let inside = e
                        .row_span(row, 64)
                        .is_some_and(|(a, b)| (a..b).contains(&col));
                    let i = row * 64 + col;
                    if !inside {
                        assert_eq!(
                            y[i], original.0[i],
                            "{mode:?} touched outside at {col},{row}"
                        );
                    }
                }
            }
            // The centre row inside the ellipse has few distinct values (noise had ~all 256).
            let (a, b) = e.row_span(22, 64).expect("centre row");
            let mut values: Vec<u8> = y[22 * 64 + a..22 * 64 + b].to_vec();
            values.sort_unstable();
            values.dedup();
            assert!(
                values.len() <= 8,
                "{mode:?}: {} distinct values",
                values.len()
            );
            // Chroma is masked too.
            assert_ne!(u, original.1, "{mode:?} chroma");
        }
    }

    #[test]
    fn repeatable_and_clipped_at_the_frame_edge() {
        let e = Ellipse::around(-10.0, -10.0, 12.0, 14.0, 1.3);
        let (a, n) = masked(Mode::Pixelate, &e);
        let (b, m) = masked(Mode::Pixelate, &e);
        assert_eq!((a, n), (b, m));
        assert!(n > 0);
        let empty = Ellipse::around(100.0, 100.0, 120.0, 120.0, 1.3);
        assert_eq!(masked(Mode::Solid, &empty).1, 0);
    }

    #[test]
    fn large_faces_get_a_narrower_margin() {
        assert_eq!(face_grow(1.3, 24.0), 1.3);
        assert_eq!(face_grow(1.3, 96.0), 1.3);
        assert!((face_grow(1.3, 128.0) - 1.225).abs() < 1e-6);
        assert!((face_grow(1.3, 192.0) - 1.15).abs() < 1e-6);
        assert!((face_grow(1.3, 384.0) - 1.075).abs() < 1e-6);
        assert!((face_grow(1.3, 600.0) - 1.075).abs() < 1e-6);
        let e = Ellipse::around_face(100.0, 100.0, 400.0, 500.0, 1.3, (1920.0, 1080.0));
        assert!((e.rx - 150.0 * 1.075).abs() < 1e-3 && (e.ry - 200.0 * 1.075).abs() < 1e-3);
    }

    #[test]
    fn a_face_cut_by_the_frame_edge_is_masked_from_the_edge() {
        // 40x22 showing at the bottom of a 320x240 frame: centred on the edge, twice as tall.
        let e = Ellipse::around_face(100.0, 218.0, 140.0, 240.0, 1.3, (320.0, 240.0));
        assert_eq!((e.cx, e.cy), (120.0, 240.0));
        assert!(
            (e.rx - 26.0).abs() < 1e-4 && (e.ry - 28.6).abs() < 1e-4,
            "{e:?}"
        );
        // Its top reaches 6.6 px above the box (the box's own ellipse: 3.3 px).
        let inner = Ellipse::around_face(100.0, 100.0, 140.0, 122.0, 1.3, (320.0, 240.0));
        assert!((e.cy - e.ry) < 218.0 - 6.5 && (inner.cy - inner.ry) > 100.0 - 3.4);
        // Less than half of that face shows, so the mask is squarer: the box's top row
        // (columns 100..140) is hidden across its whole width, where an ellipse would leave
        // its corners. Row 218: dy = 21.5 / 28.6, half width 26·(1 - dy⁴)^¼ = 23.6 (an
        // ellipse's: 26·(1 - dy²)^½ = 17.1).
        assert_eq!(e.power, EDGE_POWER);
        assert_eq!(e.row_span(218, 320), Some((96, 144)));
        let ellipse = Ellipse { power: 2.0, ..e };
        assert_eq!(ellipse.row_span(218, 320), Some((103, 137)));
        // A face two thirds in view keeps an ellipse (mirrored all the same), as does one
        // that only touches the edge.
        for top in [210.0, 190.0] {
            let e = Ellipse::around_face(100.0, top, 140.0, 240.0, 1.3, (320.0, 240.0));
            assert_eq!((e.cy, e.power), (240.0, 2.0));
        }
        // The left edge and a corner likewise.
        let e = Ellipse::around_face(0.0, 0.0, 30.0, 36.0, 1.3, (320.0, 240.0));
        assert_eq!((e.cx, e.cy), (0.0, 0.0));
    }

    #[test]
    fn row_span_matches_the_ellipse_equation() {
        let e = Ellipse {
            cx: 10.0,
            cy: 10.0,
            rx: 5.0,
            ry: 3.0,
            power: 2.0,
        };
        assert_eq!(e.row_span(9, 100), Some((5, 15)));
        assert_eq!(e.row_span(20, 100), None);
        // Row 7: dy = (7.5 - 10) / 3, half width 5·sqrt(1 - dy²) = 2.76, so centres in
        // [7.24, 12.76]: columns 7..=12.
        assert_eq!(e.row_span(7, 100), Some((7, 13)));
    }

    #[test]
    fn contains_agrees_with_the_pixels_masked() {
        for power in [2.0, EDGE_POWER] {
            let e = Ellipse {
                cx: 20.3,
                cy: 15.8,
                rx: 9.4,
                ry: 12.1,
                power,
            };
            for y in 0..40 {
                for x in 0..50 {
                    let masked = e.row_span(y, 50).is_some_and(|(a, b)| (a..b).contains(&x));
                    let inside = e.contains(x as f32 + 0.5, y as f32 + 0.5);
                    assert_eq!(masked, inside, "pixel {x},{y} at power {power}");
                }
            }
        }
    }
}
