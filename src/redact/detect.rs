//! Face detection as pure functions around the model: sampling a frame region into the network's
//! RGB input, decoding CenterFace's maps into boxes, non-maximum suppression, and the detector
//! that runs one or more passes (whole frame, tiles) over a frame.
//!
//! CenterFace decoding (as in deface's `centerface.py`): for every map cell whose heat exceeds
//! the threshold, the face centre is `(cell + offset + 0.5) * 4` and its size `exp(scale) * 4`
//! (stride 4), in network-input pixels.

use serde::{Deserialize, Serialize};

use super::model::{Engine, ModelError, RawMaps};

/// A face box in frame pixels (`x0,y0` top-left, `x1,y1` bottom-right) with its score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Left.
    pub x0: f32,
    /// Top.
    pub y0: f32,
    /// Right.
    pub x1: f32,
    /// Bottom.
    pub y1: f32,
    /// Confidence 0..1.
    pub score: f32,
}

impl Detection {
    /// Width.
    pub fn w(&self) -> f32 {
        self.x1 - self.x0
    }
    /// Height.
    pub fn h(&self) -> f32 {
        self.y1 - self.y0
    }
    /// Area (0 for an empty box).
    pub fn area(&self) -> f32 {
        self.w().max(0.0) * self.h().max(0.0)
    }
}

/// Intersection over union of two boxes.
pub fn iou(a: &Detection, b: &Detection) -> f32 {
    let w = (a.x1.min(b.x1) - a.x0.max(b.x0)).max(0.0);
    let h = (a.y1.min(b.y1) - a.y0.max(b.y0)).max(0.0);
    let inter = w * h;
    let union = a.area() + b.area() - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Greedy non-maximum suppression: keeps the highest-scoring box of every group overlapping
/// by more than `threshold` IoU. Ties keep the earlier box, so the result is deterministic.
pub fn nms(mut dets: Vec<Detection>, threshold: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(dets.len());
    for d in dets {
        if kept.iter().all(|k| iou(k, &d) <= threshold) {
            kept.push(d);
        }
    }
    kept
}

/// Decodes the maps of one network input of `in_w`×`in_h` into boxes in input pixels.
pub fn decode(maps: &RawMaps, threshold: f32, in_w: f32, in_h: f32) -> Vec<Detection> {
    let cells = maps.w * maps.h;
    if maps.heat.len() < cells || maps.scale.len() < 2 * cells || maps.offset.len() < 2 * cells {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, &score) in maps.heat[..cells].iter().enumerate() {
        if score <= threshold {
            continue;
        }
        let (row, col) = ((i / maps.w) as f32, (i % maps.w) as f32);
        let fh = maps.scale[i].exp() * 4.0;
        let fw = maps.scale[cells + i].exp() * 4.0;
        let cy = (row + maps.offset[i] + 0.5) * 4.0;
        let cx = (col + maps.offset[cells + i] + 0.5) * 4.0;
        let x0 = (cx - fw / 2.0).clamp(0.0, in_w);
        let y0 = (cy - fh / 2.0).clamp(0.0, in_h);
        out.push(Detection {
            x0,
            y0,
            x1: (x0 + fw).min(in_w),
            y1: (y0 + fh).min(in_h),
            score,
        });
    }
    out
}

/// Something that can be sampled as RGB (0..255) at fractional pixel positions.
pub trait RgbSource {
    /// Width in pixels.
    fn width(&self) -> usize;
    /// Height in pixels.
    fn height(&self) -> usize;
    /// Bilinearly interpolated RGB at (x, y), clamped to the edges.
    fn rgb(&self, x: f32, y: f32) -> [f32; 3];

    /// Resamples `region` to a `w`×`h` RGB NCHW tensor in `out` (see [`to_network_input`]).
    /// Sources may override this with a faster path that gives the same values.
    fn resample(&self, region: Region, w: usize, h: usize, out: &mut [f32]) {
        let (sx, sy) = (region.w / w as f32, region.h / h as f32);
        let plane = w * h;
        for row in 0..h {
            let y = region.y + (row as f32 + 0.5) * sy - 0.5;
            for col in 0..w {
                let x = region.x + (col as f32 + 0.5) * sx - 0.5;
                let [r, g, b] = self.rgb(x, y);
                let i = row * w + col;
                out[i] = r;
                out[plane + i] = g;
                out[2 * plane + i] = b;
            }
        }
    }
}

/// Where a sample falls in a plane of `len` samples: the two neighbours and the weight of the
/// second, clamped to the edges exactly as [`bilinear`] clamps.
fn taps(pos: f32, len: usize) -> (usize, usize, f32) {
    let p = pos.clamp(0.0, (len - 1) as f32);
    let i = p as usize;
    (i, (i + 1).min(len - 1), p - i as f32)
}

/// Bilinear sample of one 8-bit plane.
fn bilinear(plane: &[u8], stride: usize, w: usize, h: usize, x: f32, y: f32) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as usize, y as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |xx: usize, yy: usize| f32::from(plane[yy * stride + xx]);
    let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
    let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// An 8-bit 4:2:0 frame (I420 planes with their strides), limited range.
#[derive(Debug, Clone, Copy)]
pub struct Yuv420<'a> {
    /// Luma plane.
    pub y: &'a [u8],
    /// Cb plane.
    pub u: &'a [u8],
    /// Cr plane.
    pub v: &'a [u8],
    /// Luma stride in bytes.
    pub y_stride: usize,
    /// Chroma stride in bytes.
    pub uv_stride: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// BT.709 coefficients (HD) rather than BT.601 (SD).
    pub bt709: bool,
}

impl<'a> Yuv420<'a> {
    /// The frame of tight planes (Y, then Cb, then Cr, no row padding) held in `data`.
    pub fn tight(data: &'a [u8], width: usize, height: usize, bt709: bool) -> Self {
        let cw = width.div_ceil(2);
        let (y, chroma) = data.split_at((width * height).min(data.len()));
        let (u, v) = chroma.split_at(chroma.len() / 2);
        Self {
            y,
            u,
            v,
            y_stride: width,
            uv_stride: cw,
            width,
            height,
            bt709,
        }
    }

    /// Appends the frame's planes, tight, to `out` (the layout [`Yuv420::tight`] reads).
    pub fn copy_tight(&self, out: &mut Vec<u8>) {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        for (plane, stride, w, h) in [
            (self.y, self.y_stride, self.width, self.height),
            (self.u, self.uv_stride, cw, ch),
            (self.v, self.uv_stride, cw, ch),
        ] {
            for r in 0..h {
                out.extend_from_slice(&plane[r * stride..r * stride + w]);
            }
        }
    }
}

impl RgbSource for Yuv420<'_> {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    fn rgb(&self, x: f32, y: f32) -> [f32; 3] {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let luma = bilinear(self.y, self.y_stride, self.width, self.height, x, y);
        // Chroma sample centres sit between luma pairs (MPEG-2 style left siting vertically
        // centred); half-pixel accuracy is ample for a detector.
        let (cx, cy) = (x / 2.0, (y - 0.5) / 2.0);
        let cb = bilinear(self.u, self.uv_stride, cw, ch, cx, cy) - 128.0;
        let cr = bilinear(self.v, self.uv_stride, cw, ch, cx, cy) - 128.0;
        self.rgb_of(luma, cb, cr)
    }

    /// The same samples as the default path, with the column taps computed once per call
    /// rather than per pixel.
    fn resample(&self, region: Region, w: usize, h: usize, out: &mut [f32]) {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let (sx, sy) = (region.w / w as f32, region.h / h as f32);
        let cols: Vec<Taps> = (0..w)
            .map(|col| {
                let x = region.x + (col as f32 + 0.5) * sx - 0.5;
                (taps(x, self.width), taps(x / 2.0, cw))
            })
            .collect();
        let plane = w * h;
        for row in 0..h {
            let y = region.y + (row as f32 + 0.5) * sy - 0.5;
            let (y0, y1, fy) = taps(y, self.height);
            let (c0, c1, fc) = taps((y - 0.5) / 2.0, ch);
            let (ya, yb) = (&self.y[y0 * self.y_stride..], &self.y[y1 * self.y_stride..]);
            let (ua, ub) = (
                &self.u[c0 * self.uv_stride..],
                &self.u[c1 * self.uv_stride..],
            );
            let (va, vb) = (
                &self.v[c0 * self.uv_stride..],
                &self.v[c1 * self.uv_stride..],
            );
            let lerp2 = |a: &[u8], b: &[u8], (i, j, f): (usize, usize, f32), t: f32| {
                let top = f32::from(a[i]) * (1.0 - f) + f32::from(a[j]) * f;
                let bottom = f32::from(b[i]) * (1.0 - f) + f32::from(b[j]) * f;
                top * (1.0 - t) + bottom * t
            };
            // Sample the row first, then convert it in a tight loop the compiler can vectorise.
            let (r_out, rest) = out[row * w..].split_at_mut(plane);
            let (g_out, b_out) = rest.split_at_mut(plane);
            for (col, &(lt, ct)) in cols.iter().enumerate() {
                r_out[col] = lerp2(ya, yb, lt, fy);
                g_out[col] = lerp2(ua, ub, ct, fc) - 128.0;
                b_out[col] = lerp2(va, vb, ct, fc) - 128.0;
            }
            let [kr, kgb, kgr, kb] = self.coefficients();
            for col in 0..w {
                let (luma, cb, cr) = (r_out[col], g_out[col], b_out[col]);
                let yy = (luma - 16.0) * (255.0 / 219.0);
                r_out[col] = (yy + kr * cr).clamp(0.0, 255.0);
                g_out[col] = (yy - kgb * cb - kgr * cr).clamp(0.0, 255.0);
                b_out[col] = (yy + kb * cb).clamp(0.0, 255.0);
            }
        }
    }
}

/// Luma and chroma taps of one output column.
type Taps = ((usize, usize, f32), (usize, usize, f32));

impl Yuv420<'_> {
    /// The matrix from limited-range Cb/Cr (centred on 0) to RGB: [R←Cr, G←Cb, G←Cr, B←Cb].
    fn coefficients(&self) -> [f32; 4] {
        let k = 255.0 / 224.0;
        if self.bt709 {
            [1.5748 * k, 0.1873 * k, 0.4681 * k, 1.8556 * k]
        } else {
            [1.402 * k, 0.3441 * k, 0.7141 * k, 1.772 * k]
        }
    }

    /// Limited-range YCbCr (Cb, Cr centred on 0) to RGB 0..255.
    fn rgb_of(&self, luma: f32, cb: f32, cr: f32) -> [f32; 3] {
        let yy = (luma - 16.0) * (255.0 / 219.0);
        let [kr, kgb, kgr, kb] = self.coefficients();
        [
            (yy + kr * cr).clamp(0.0, 255.0),
            (yy - kgb * cb - kgr * cr).clamp(0.0, 255.0),
            (yy + kb * cb).clamp(0.0, 255.0),
        ]
    }
}

/// An interleaved 8-bit RGB image (for still images and tests).
#[derive(Debug, Clone, Copy)]
pub struct Rgb8<'a> {
    /// Pixels, 3 bytes each, rows packed.
    pub data: &'a [u8],
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
}

impl RgbSource for Rgb8<'_> {
    fn width(&self) -> usize {
        self.width
    }
    fn height(&self) -> usize {
        self.height
    }
    fn rgb(&self, x: f32, y: f32) -> [f32; 3] {
        let x = x.clamp(0.0, (self.width - 1) as f32);
        let y = y.clamp(0.0, (self.height - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let mut out = [0.0; 3];
        for (c, o) in out.iter_mut().enumerate() {
            let p = |xx: usize, yy: usize| f32::from(self.data[(yy * self.width + xx) * 3 + c]);
            let top = p(x0, y0) * (1.0 - fx) + p(x1, y0) * fx;
            let bottom = p(x0, y1) * (1.0 - fx) + p(x1, y1) * fx;
            *o = top * (1.0 - fy) + bottom * fy;
        }
        out
    }
}

/// A rectangle of the frame, in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Left.
    pub x: f32,
    /// Top.
    pub y: f32,
    /// Width.
    pub w: f32,
    /// Height.
    pub h: f32,
}

/// Resamples `region` of `src` to a `w`×`h` RGB NCHW f32 tensor (pixel centres aligned, as
/// bilinear resizing does), into `out`.
pub fn to_network_input(
    src: &dyn RgbSource,
    region: Region,
    w: usize,
    h: usize,
    out: &mut Vec<f32>,
) {
    out.clear();
    out.resize(3 * w * h, 0.0);
    src.resample(region, w, h, out);
}

/// Rounds up to a multiple of 32 (the network's input granularity).
pub fn round32(n: f32) -> usize {
    ((n / 32.0).ceil() as usize).max(1) * 32
}

/// One detector pass: a region of the frame scaled to a network input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    /// The region, in frame pixels.
    pub region: Region,
    /// Network input width (multiple of 32).
    pub net_w: usize,
    /// Network input height (multiple of 32).
    pub net_h: usize,
}

/// Detector settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectSettings {
    /// Heat-map threshold (deface's default is 0.2).
    pub threshold: f32,
    /// IoU above which overlapping boxes are merged.
    pub nms_iou: f32,
    /// Network pixels per frame pixel, one whole-frame pass each.
    pub scales: Vec<f32>,
    /// Lowest score of a small whole-frame detection worth a closer look: one scoring from
    /// this up to `threshold` is searched for again in its neighbourhood, zoomed in so that it
    /// is [`RECHECK_PX`] network pixels tall, and kept if found there above `threshold`; so is a
    /// small followed face the whole-frame pass misses ([`Detector::detect_all`]). 0 for none
    /// (plans made before this setting).
    #[serde(default)]
    pub recheck_from: f32,
}

/// The lowest score of a candidate that failed its closer look and is still listed for a
/// reviewer ([`Found::doubtful`]). Candidates from `recheck_from` (0.05) get the look; under
/// 0.1 they are mostly texture, and listing them would bury the few that matter.
pub const DOUBT_FROM: f32 = 0.1;

/// The height, in network pixels, a small candidate face is zoomed to for its second look.
/// CenterFace is sure of a clear face of 16 network pixels, but a smaller, tilted or blurred one
/// scores under the threshold; at this size it scores as a face if it is one.
pub const RECHECK_PX: f32 = 40.0;

/// The most a second look zooms in (frame pixels to network pixels).
pub const RECHECK_MAX_SCALE: f32 = 2.0;

/// Default scales: CenterFace finds faces of roughly 10 to 250 network pixels, so one pass cannot
/// cover body-cam footage where a face may be 24 px or half the frame tall.
pub const DEFAULT_SCALES: [f32; 1] = [2.0 / 3.0];

impl Default for DetectSettings {
    fn default() -> Self {
        Self {
            threshold: 0.2,
            nms_iou: 0.3,
            scales: DEFAULT_SCALES.to_vec(),
            recheck_from: 0.05,
        }
    }
}

impl Pass {
    /// `region` at `scale` network pixels per frame pixel, the network input padded up to
    /// multiples of 32 and the region enlarged to the right and bottom to keep the scale
    /// exact.
    pub fn over(region: Region, scale: f32) -> Self {
        let net_w = round32(region.w * scale);
        let net_h = round32(region.h * scale);
        Self {
            region: Region {
                w: net_w as f32 / scale,
                h: net_h as f32 / scale,
                ..region
            },
            net_w,
            net_h,
        }
    }
}

impl DetectSettings {
    /// The passes for a frame of `w`×`h`: the whole frame at each scale.
    pub fn passes(&self, w: usize, h: usize) -> Vec<Pass> {
        let frame = Region {
            x: 0.0,
            y: 0.0,
            w: w as f32,
            h: h as f32,
        };
        self.scales
            .iter()
            .filter(|s| **s > 0.0)
            .map(|&scale| Pass::over(frame, scale))
            .collect()
    }
}

/// What [`Detector::detect_all`] found in a frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// Faces: detections over the threshold, after NMS.
    pub faces: Vec<Detection>,
    /// Candidates that scored from `recheck_from` (and [`DOUBT_FROM`]) up to the threshold and
    /// that no face covers:
    /// not masked unless tracking covers them, so a reviewer should look at them.
    pub doubtful: Vec<Detection>,
}

/// Whether `b`'s centre lies inside `a`.
pub fn covers(a: &Detection, b: &Detection) -> bool {
    let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    (a.x0..=a.x1).contains(&cx) && (a.y0..=a.y1).contains(&cy)
}

/// Runs the passes over frames with one engine.
pub struct Detector {
    engine: Box<dyn Engine>,
    settings: DetectSettings,
    input: Vec<f32>,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector")
            .field("engine", &self.engine.describe())
            .field("settings", &self.settings)
            .finish()
    }
}

impl Detector {
    /// A detector over `engine`.
    pub fn new(engine: Box<dyn Engine>, settings: DetectSettings) -> Self {
        Self {
            engine,
            settings,
            input: Vec::new(),
        }
    }

    /// The engine's name and version.
    pub fn engine(&self) -> String {
        self.engine.describe()
    }

    /// The settings.
    pub fn settings(&self) -> &DetectSettings {
        &self.settings
    }

    /// Faces in one frame, in frame pixels, after NMS across passes. Small faces scoring
    /// between `recheck_from` and the threshold get a second, closer look (see
    /// [`DetectSettings::recheck_from`]).
    pub fn detect(&mut self, src: &dyn RgbSource) -> Result<Vec<Detection>, ModelError> {
        Ok(self.detect_all(src, &[])?.faces)
    }

    /// [`Self::detect`], with the candidates that scored from `recheck_from` up to the
    /// threshold and were not found on a closer look either: what a reviewer should check.
    /// `followed` are where the faces already followed should be (from their motion): a small
    /// one the whole-frame pass does not find again gets a closer look there too, as a small
    /// face seen once may score under `recheck_from` at the whole-frame scale most of the time.
    pub fn detect_all(
        &mut self,
        src: &dyn RgbSource,
        followed: &[Detection],
    ) -> Result<Found, ModelError> {
        let passes = self.settings.passes(src.width(), src.height());
        let (threshold, from) = (self.settings.threshold, self.settings.recheck_from);
        if from <= 0.0 || from >= threshold {
            let faces = self.run(src, &passes, threshold, |_| true)?;
            return Ok(Found {
                faces,
                doubtful: Vec::new(),
            });
        }
        let found = self.run(src, &passes, from, |_| true)?;
        let (mut sure, maybe): (Vec<Detection>, Vec<Detection>) =
            found.into_iter().partition(|d| d.score > threshold);
        let base = self.settings.scales.iter().copied().fold(0.0, f32::max);
        let (fw, fh) = (src.width() as f32, src.height() as f32);
        let zoom = |d: &Detection| (RECHECK_PX / d.h().max(1.0)).min(RECHECK_MAX_SCALE);
        // A face already near that size at the whole-frame scale had its look there.
        let small = |d: &&Detection| zoom(d) > 1.25 * base;
        // A candidate inside a face's box is masked with that face.
        let asked: Vec<&Detection> = maybe
            .iter()
            .filter(small)
            .filter(|d| !sure.iter().any(|f| covers(f, d)))
            .collect();
        // A small followed face is looked for where its motion puts it, unless it was found
        // again or a candidate's look sees it. Not one cut by the frame's edge: it is coming or
        // going, and a look finds the part that shows, whose box pulls the track's motion off
        // (on the tuning set, looking there too lost 1.7 points of `ir-small`'s recall).
        let inside = |d: &Detection| d.x0 > 0.0 && d.y0 > 0.0 && d.x1 < fw && d.y1 < fh;
        let lost: Vec<&Detection> = followed
            .iter()
            .filter(small)
            .filter(|d| inside(d))
            .filter(|d| {
                !sure
                    .iter()
                    .chain(asked.iter().copied())
                    .any(|f| covers(d, f))
            })
            .collect();
        let looks: Vec<(Region, f32)> = asked
            .iter()
            .chain(&lost)
            .map(|d| (near(d, fw, fh), zoom(d)))
            .collect();
        sure.extend(self.run_mosaic(src, &looks, threshold)?);
        let faces = nms(sure, self.settings.nms_iou);
        let doubtful = maybe
            .into_iter()
            .filter(|m| m.score >= DOUBT_FROM && !faces.iter().any(|f| covers(f, m)))
            .collect();
        Ok(Found { faces, doubtful })
    }

    /// Faces near `boxes` only: each box's neighbourhood (the box grown to [`NEAR`] times its
    /// larger side, clipped to the frame) at the settings' scales. A face cut by the edge of a
    /// neighbourhood (not the frame's) is dropped: it is seen only in part. When the
    /// neighbourhoods would cover over half the frame, the whole frame is searched instead.
    pub fn detect_near(
        &mut self,
        src: &dyn RgbSource,
        boxes: &[Detection],
    ) -> Result<Vec<Detection>, ModelError> {
        let (fw, fh) = (src.width() as f32, src.height() as f32);
        let regions: Vec<Region> = boxes.iter().map(|b| near(b, fw, fh)).collect();
        if regions.iter().map(|r| r.w * r.h).sum::<f32>() > 0.5 * fw * fh {
            return self.detect(src);
        }
        let passes: Vec<Pass> = regions
            .iter()
            .flat_map(|r| {
                let scales = self.settings.scales.iter().filter(|s| **s > 0.0);
                scales.map(|&s| Pass::over(*r, s))
            })
            .collect();
        self.run(src, &passes, self.settings.threshold, |d| {
            regions.iter().any(|r| inside_edges(d, r, fw, fh))
        })
    }

    /// The faces followed between whole-frame searches: each box's neighbourhood (as
    /// [`Self::detect_near`]) at a scale that makes the face about [`TRACK_PX`] network pixels
    /// tall (never more than the settings' largest scale), so a large face costs what a small one
    /// does. When these looks would cost as much as a whole-frame detection, that runs instead.
    pub fn detect_tracked(
        &mut self,
        src: &dyn RgbSource,
        boxes: &[Detection],
    ) -> Result<Vec<Detection>, ModelError> {
        let (fw, fh) = (src.width() as f32, src.height() as f32);
        let base = self.settings.scales.iter().copied().fold(0.0, f32::max);
        let (regions, passes): (Vec<Region>, Vec<Pass>) = boxes
            .iter()
            .map(|b| {
                let region = near(b, fw, fh);
                let scale = (TRACK_PX / b.h().max(1.0)).min(base);
                (region, Pass::over(region, scale))
            })
            .unzip();
        let cost = |p: &[Pass]| p.iter().map(|p| p.net_w * p.net_h).sum::<usize>();
        if cost(&passes) >= cost(&self.settings.passes(src.width(), src.height())) {
            return self.detect(src);
        }
        self.run(src, &passes, self.settings.threshold, |d| {
            regions.iter().any(|r| inside_edges(d, r, fw, fh))
        })
    }

    /// Looks at each region at its zoom (network pixels per frame pixel) in one inference: the
    /// regions are laid out side by side, left to right in rows, [`MOSAIC_GAP`] network pixels
    /// apart, on one network input. A look costs the network's fixed cost per run (about as
    /// much as the pixels of a small region) only once a frame, however many candidates it has.
    /// Keeps the faces scoring over `threshold` whose centre lies in a region and that do not
    /// reach an edge of it that lies inside the frame; in frame pixels, after NMS.
    fn run_mosaic(
        &mut self,
        src: &dyn RgbSource,
        looks: &[(Region, f32)],
        threshold: f32,
    ) -> Result<Vec<Detection>, ModelError> {
        let Some(mosaic) = Mosaic::lay_out(looks) else {
            return Ok(Vec::new());
        };
        let (w, h) = (mosaic.w, mosaic.h);
        self.input.clear();
        self.input.resize(3 * w * h, MOSAIC_FILL);
        let mut tile = Vec::new();
        for t in &mosaic.tiles {
            tile.clear();
            tile.resize(3 * t.w * t.h, 0.0);
            src.resample(t.region, t.w, t.h, &mut tile);
            for c in 0..3 {
                for row in 0..t.h {
                    let from = (c * t.h + row) * t.w;
                    let to = c * w * h + (t.y + row) * w + t.x;
                    self.input[to..to + t.w].copy_from_slice(&tile[from..from + t.w]);
                }
            }
        }
        let maps = self.engine.infer(&self.input, w, h)?;
        let (fw, fh) = (src.width() as f32, src.height() as f32);
        let found = decode(&maps, threshold, w as f32, h as f32)
            .into_iter()
            .filter_map(|d| {
                let (cx, cy) = ((d.x0 + d.x1) / 2.0, (d.y0 + d.y1) / 2.0);
                let t = mosaic.tiles.iter().find(|t| t.holds(cx, cy))?;
                let (sx, sy) = (t.region.w / t.w as f32, t.region.h / t.h as f32);
                let (ox, oy) = (t.x as f32, t.y as f32);
                let d = Detection {
                    x0: (t.region.x + (d.x0 - ox) * sx).min(fw),
                    y0: (t.region.y + (d.y0 - oy) * sy).min(fh),
                    x1: (t.region.x + (d.x1 - ox) * sx).min(fw),
                    y1: (t.region.y + (d.y1 - oy) * sy).min(fh),
                    score: d.score,
                };
                inside_edges(&d, &t.region, fw, fh).then_some(d)
            })
            .collect();
        Ok(nms(found, self.settings.nms_iou))
    }

    /// Runs `passes` and keeps the detections scoring over `threshold` that `keep` accepts,
    /// after NMS across passes.
    fn run(
        &mut self,
        src: &dyn RgbSource,
        passes: &[Pass],
        threshold: f32,
        keep: impl Fn(&Detection) -> bool,
    ) -> Result<Vec<Detection>, ModelError> {
        let (fw, fh) = (src.width() as f32, src.height() as f32);
        let mut all = Vec::new();
        for pass in passes {
            to_network_input(src, pass.region, pass.net_w, pass.net_h, &mut self.input);
            let maps = self.engine.infer(&self.input, pass.net_w, pass.net_h)?;
            let (sx, sy) = (
                pass.region.w / pass.net_w as f32,
                pass.region.h / pass.net_h as f32,
            );
            for d in decode(&maps, threshold, pass.net_w as f32, pass.net_h as f32) {
                let d = Detection {
                    x0: (pass.region.x + d.x0 * sx).min(fw),
                    y0: (pass.region.y + d.y0 * sy).min(fh),
                    x1: (pass.region.x + d.x1 * sx).min(fw),
                    y1: (pass.region.y + d.y1 * sy).min(fh),
                    score: d.score,
                };
                if keep(&d) {
                    all.push(d);
                }
            }
        }
        Ok(nms(all, self.settings.nms_iou))
    }
}

/// Network pixels between the regions of a mosaic (see [`Detector::run_mosaic`]), filled with
/// [`MOSAIC_FILL`]: a face found in one region is not cut off by its neighbour.
pub const MOSAIC_GAP: usize = 32;

/// The value of the network input between the regions of a mosaic: mid grey.
const MOSAIC_FILL: f32 = 128.0;

/// The widths a mosaic's rows may be filled to, in network pixels (a wider region gets a row of
/// its own): the one giving the smallest input is taken.
const MOSAIC_ROWS: std::ops::RangeInclusive<usize> = 256..=2048;

/// Regions of a frame laid out on one network input.
#[derive(Debug, PartialEq)]
struct Mosaic {
    /// Input width and height (multiples of 32).
    w: usize,
    h: usize,
    tiles: Vec<Tile>,
}

/// One region of a [`Mosaic`], at (`x`, `y`) in the input, `w`×`h` network pixels.
#[derive(Debug, PartialEq)]
struct Tile {
    region: Region,
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

impl Tile {
    fn holds(&self, x: f32, y: f32) -> bool {
        let (x0, y0) = (self.x as f32, self.y as f32);
        (x0..x0 + self.w as f32).contains(&x) && (y0..y0 + self.h as f32).contains(&y)
    }
}

impl Mosaic {
    /// Lays `looks` (a region and its zoom each) out in rows, tallest first (each row as tall as
    /// its first), at the row width that gives the smallest input; `None` for none.
    fn lay_out(looks: &[(Region, f32)]) -> Option<Self> {
        if looks.is_empty() {
            return None;
        }
        let mut sized: Vec<(Region, usize, usize)> = looks
            .iter()
            .map(|&(region, zoom)| {
                let w = ((region.w * zoom).round() as usize).max(1);
                let h = ((region.h * zoom).round() as usize).max(1);
                (region, w, h)
            })
            .collect();
        // Stable: equal heights keep the order given.
        sized.sort_by_key(|s| std::cmp::Reverse(s.2));
        // Row widths 32 apart (the input's granularity) are enough to choose among.
        MOSAIC_ROWS
            .step_by(32)
            .map(|row| Self::in_rows(&sized, row))
            .min_by_key(|m| (m.w * m.h, m.w))
    }

    /// `sized` (region, width, height) laid out in that order in rows up to `row` wide.
    fn in_rows(sized: &[(Region, usize, usize)], row: usize) -> Self {
        let (mut x, mut y, mut row_h, mut right) = (0, 0, 0, 0);
        let mut tiles = Vec::with_capacity(sized.len());
        for &(region, w, h) in sized {
            if x > 0 && x + w > row {
                (x, y, row_h) = (0, y + row_h + MOSAIC_GAP, 0);
            }
            tiles.push(Tile { region, x, y, w, h });
            right = right.max(x + w);
            row_h = row_h.max(h);
            x += w + MOSAIC_GAP;
        }
        Self {
            w: round32(right as f32),
            h: round32((y + row_h) as f32),
            tiles,
        }
    }
}

/// The height, in network pixels, [`Detector::detect_tracked`] looks for a followed face at:
/// well above the 16 at which CenterFace is sure of a clear face, as a followed face may have
/// turned or blurred since it was last found.
pub const TRACK_PX: f32 = 64.0;

/// How far around a face [`Detector::detect_near`] looks, in multiples of its larger side: a
/// face moving up to 1.5 times its size from one frame to the next stays inside.
pub const NEAR: f32 = 4.0;

/// The neighbourhood of `b` searched by [`Detector::detect_near`] in a `fw`×`fh` frame.
fn near(b: &Detection, fw: f32, fh: f32) -> Region {
    let side = b.w().max(b.h()).max(16.0) * NEAR;
    let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    let (x0, y0) = ((cx - side / 2.0).max(0.0), (cy - side / 2.0).max(0.0));
    let (x1, y1) = ((cx + side / 2.0).min(fw), (cy + side / 2.0).min(fh));
    Region {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    }
}

/// Whether `d` does not reach an edge of `r` that lies inside the frame (`fw`×`fh`).
fn inside_edges(d: &Detection, r: &Region, fw: f32, fh: f32) -> bool {
    const MARGIN: f32 = 2.0;
    let (rx1, ry1) = (r.x + r.w, r.y + r.h);
    (r.x <= 0.0 || d.x0 >= r.x + MARGIN)
        && (r.y <= 0.0 || d.y0 >= r.y + MARGIN)
        && (rx1 >= fw || d.x1 <= rx1 - MARGIN)
        && (ry1 >= fh || d.y1 <= ry1 - MARGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x0: f32, y0: f32, x1: f32, y1: f32, score: f32) -> Detection {
        Detection {
            x0,
            y0,
            x1,
            y1,
            score,
        }
    }

    #[test]
    fn iou_and_nms() {
        let a = det(0.0, 0.0, 10.0, 10.0, 0.9);
        let b = det(5.0, 0.0, 15.0, 10.0, 0.8);
        assert!((iou(&a, &b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(iou(&a, &det(20.0, 20.0, 30.0, 30.0, 1.0)), 0.0);
        let c = det(1.0, 1.0, 11.0, 11.0, 0.95);
        let kept = nms(vec![a, b, c], 0.3);
        // c beats a (IoU 0.68) and b (IoU 0.37); at 0.4, b stays.
        assert_eq!(kept, vec![c]);
        assert_eq!(nms(vec![a, b, c], 0.4), vec![c, b]);
    }

    #[test]
    fn decode_places_one_face() {
        // A 8x6 map (input 32x24) with one hot cell at row 2, col 5.
        let (w, h) = (8, 6);
        let mut maps = RawMaps {
            heat: vec![0.0; w * h],
            scale: vec![0.0; 2 * w * h],
            offset: vec![0.0; 2 * w * h],
            w,
            h,
        };
        let i = 2 * w + 5;
        maps.heat[i] = 0.9;
        maps.scale[i] = (12.0f32 / 4.0).ln(); // height 12
        maps.scale[w * h + i] = (8.0f32 / 4.0).ln(); // width 8
        maps.offset[i] = 0.25; // y
        maps.offset[w * h + i] = -0.25; // x
        let d = decode(&maps, 0.5, 32.0, 24.0);
        assert_eq!(d.len(), 1);
        // centre x = (5 - 0.25 + 0.5) * 4 = 21, y = (2 + 0.25 + 0.5) * 4 = 11.
        let want = det(17.0, 5.0, 25.0, 17.0, 0.9);
        for (g, w) in [
            (d[0].x0, want.x0),
            (d[0].y0, want.y0),
            (d[0].x1, want.x1),
            (d[0].y1, want.y1),
        ] {
            assert!((g - w).abs() < 1e-4, "{:?}", d[0]);
        }
        assert!(decode(&maps, 0.95, 32.0, 24.0).is_empty());
        // Boxes are clipped to the input.
        maps.scale[w * h + i] = (40.0f32 / 4.0).ln();
        let d = decode(&maps, 0.5, 32.0, 24.0);
        assert_eq!((d[0].x0, d[0].x1), (1.0, 32.0));
    }

    #[test]
    fn yuv_conversion_of_known_colours() {
        // Limited-range BT.709 white, black, and pure red (Y 63, Cb 102, Cr 240).
        for (yv, uv, vv, want) in [
            (235u8, 128u8, 128u8, [255.0, 255.0, 255.0]),
            (16, 128, 128, [0.0, 0.0, 0.0]),
            (63, 102, 240, [255.0, 0.0, 0.0]),
        ] {
            let (y, u, v) = (vec![yv; 16], vec![uv; 4], vec![vv; 4]);
            let f = Yuv420 {
                y: &y,
                u: &u,
                v: &v,
                y_stride: 4,
                uv_stride: 2,
                width: 4,
                height: 4,
                bt709: true,
            };
            let got = f.rgb(1.5, 1.5);
            for c in 0..3 {
                assert!((got[c] - want[c]).abs() < 3.0, "{got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn network_input_resamples_with_aligned_centres() {
        // A 4x2 RGB ramp scaled to 2x1 averages pixel pairs.
        let data: Vec<u8> = (0..8u8).flat_map(|i| [i * 10, 0, 255 - i * 10]).collect();
        let src = Rgb8 {
            data: &data,
            width: 4,
            height: 2,
        };
        let mut out = Vec::new();
        let region = Region {
            x: 0.0,
            y: 0.0,
            w: 4.0,
            h: 2.0,
        };
        to_network_input(&src, region, 2, 1, &mut out);
        assert_eq!(out.len(), 6);
        // Output pixel 0 samples x = 0.5, y = 0.5: mean of pixels 0,1,4,5 → red (0+10+40+50)/4.
        assert!((out[0] - 25.0).abs() < 1e-4, "{out:?}");
        assert!((out[1] - 45.0).abs() < 1e-4, "{out:?}");
        assert_eq!(out[2], 0.0);
    }

    /// The generic per-pixel path, for comparison with a source's own `resample`.
    struct Slow<'a>(Yuv420<'a>);

    impl RgbSource for Slow<'_> {
        fn width(&self) -> usize {
            self.0.width
        }
        fn height(&self) -> usize {
            self.0.height
        }
        fn rgb(&self, x: f32, y: f32) -> [f32; 3] {
            self.0.rgb(x, y)
        }
    }

    #[test]
    fn fast_yuv_resampling_equals_the_per_pixel_path() {
        let (w, h) = (97, 61);
        let mut seed = 7u32;
        let mut next = |n: usize| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect()
        };
        let (y, u, v) = (next(104 * h), next(52 * 31), next(52 * 31));
        let f = Yuv420 {
            y: &y,
            u: &u,
            v: &v,
            y_stride: 104,
            uv_stride: 52,
            width: w,
            height: h,
            bt709: false,
        };
        for region in [
            Region {
                x: 0.0,
                y: 0.0,
                w: 97.0,
                h: 61.0,
            },
            Region {
                x: -5.0,
                y: 10.0,
                w: 120.0,
                h: 70.0,
            },
        ] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            to_network_input(&f, region, 64, 32, &mut fast);
            to_network_input(&Slow(f), region, 64, 32, &mut slow);
            let worst = fast
                .iter()
                .zip(&slow)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst < 1e-3, "differs by {worst}");
        }
    }

    #[test]
    fn a_neighbourhood_is_clipped_to_the_frame_and_cut_faces_are_dropped() {
        let (fw, fh) = (1920.0, 1080.0);
        // A 40x48 face: a 192 px square around its centre (120, 224).
        let r = near(&det(100.0, 200.0, 140.0, 248.0, 0.9), fw, fh);
        assert_eq!((r.x, r.y, r.w, r.h), (24.0, 128.0, 192.0, 192.0));
        assert!(inside_edges(
            &det(90.0, 190.0, 150.0, 260.0, 0.9),
            &r,
            fw,
            fh
        ));
        // Reaching the left edge of the neighbourhood, inside the frame: only part is seen.
        assert!(!inside_edges(
            &det(24.5, 190.0, 80.0, 260.0, 0.9),
            &r,
            fw,
            fh
        ));
        // Near the frame's corner the neighbourhood is clipped, and a face at the frame's
        // edge is whole as far as the frame goes.
        let corner = near(&det(0.0, 1040.0, 30.0, 1080.0, 0.9), fw, fh);
        assert_eq!((corner.x, corner.y + corner.h), (0.0, 1080.0));
        assert!(inside_edges(
            &det(0.0, 1040.0, 30.0, 1080.0, 0.9),
            &corner,
            fw,
            fh
        ));
        // A pass over a neighbourhood keeps the scale exact.
        let p = Pass::over(r, 2.0 / 3.0);
        assert_eq!((p.net_w, p.net_h), (128, 128));
        assert!((p.region.w / p.net_w as f32 - 1.5).abs() < 1e-6 && p.region.x == r.x);
    }

    /// A grey 1920x1080 frame, with a bright spot at the point given.
    struct Frame1080(Option<(f32, f32)>);

    impl RgbSource for Frame1080 {
        fn width(&self) -> usize {
            1920
        }
        fn height(&self) -> usize {
            1080
        }
        fn rgb(&self, x: f32, y: f32) -> [f32; 3] {
            let spot = self.0.map_or(0.0, |(sx, sy)| {
                (-((x - sx).powi(2) + (y - sy).powi(2)) / 72.0).exp()
            });
            [128.0 + 127.0 * spot; 3]
        }
    }

    /// An engine that finds nothing and notes the size of every input it is given.
    struct Sizes(std::sync::Arc<std::sync::Mutex<Vec<(usize, usize)>>>);

    impl Engine for Sizes {
        fn infer(&mut self, _: &[f32], w: usize, h: usize) -> Result<RawMaps, ModelError> {
            self.0.lock().expect("sizes").push((w, h));
            let (mw, mh) = (w / 4, h / 4);
            Ok(RawMaps {
                heat: vec![0.0; mw * mh],
                scale: vec![0.0; 2 * mw * mh],
                offset: vec![0.0; 2 * mw * mh],
                w: mw,
                h: mh,
            })
        }
        fn describe(&self) -> String {
            "sizes".into()
        }
    }

    #[test]
    fn followed_faces_are_looked_for_at_a_size_fitted_to_each() {
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let engine = Box::new(Sizes(std::sync::Arc::clone(&sizes)));
        let mut d = Detector::new(engine, DetectSettings::default());
        let taken = |d: &mut Detector, boxes: &[Detection]| {
            sizes.lock().expect("sizes").clear();
            d.detect_tracked(&Frame1080(None), boxes).expect("detect");
            sizes.lock().expect("sizes").clone()
        };
        // A 30 px face at the whole-frame scale (2/3: 20 network pixels, its 120 px square
        // 80, padded to 96); a 300 px face shrunk to 64 network pixels (its 1200x1050
        // neighbourhood, cut by the top edge, to 256x224; the whole-frame scale would give
        // 800x704).
        let small = det(100.0, 100.0, 124.0, 130.0, 0.9);
        let large = det(800.0, 300.0, 1040.0, 600.0, 0.9);
        assert_eq!(taken(&mut d, &[small, large]), [(96, 96), (256, 224)]);
        // Looks that would cost a whole frame's pass are that pass.
        let many = vec![large; 20];
        assert_eq!(taken(&mut d, &many), [(1280, 736)]);
        // No face followed, no look.
        assert_eq!(taken(&mut d, &[]), []);
    }

    #[test]
    fn a_mosaic_lays_regions_out_in_rows_apart_in_the_least_area() {
        let r = |w: f32, h: f32| Region {
            x: 0.0,
            y: 0.0,
            w,
            h,
        };
        let m = Mosaic::lay_out(&[
            (r(100.0, 60.0), 2.0),
            (r(400.0, 300.0), 1.5),
            (r(100.0, 100.0), 2.0),
        ])
        .expect("mosaic");
        let at: Vec<_> = m.tiles.iter().map(|t| (t.x, t.y, t.w, t.h)).collect();
        // Tallest first: 600x450 alone, then 200x200 and 200x120 in a row under it, 32 apart:
        // 608x704 in all, where all in one row would take 1088x480, and the 200x200 beside the
        // 600x450 832x608.
        assert_eq!(
            at,
            [(0, 0, 600, 450), (0, 482, 200, 200), (232, 482, 200, 120)]
        );
        assert_eq!((m.w, m.h), (608, 704));
        // A region wider than any row has a row of its own.
        let wide = Mosaic::lay_out(&[(r(1500.0, 10.0), 2.0), (r(10.0, 10.0), 1.0)]).expect("wide");
        assert_eq!((wide.w, wide.h), (3008, 64));
        assert!(Mosaic::lay_out(&[]).is_none());
    }

    /// An engine that finds one 16x16 face centred on the brightest cell of its input's red
    /// plane, scoring 0.9.
    struct Brightest;

    impl Engine for Brightest {
        fn infer(&mut self, input: &[f32], w: usize, h: usize) -> Result<RawMaps, ModelError> {
            assert!(w.is_multiple_of(32) && h.is_multiple_of(32), "{w}x{h}");
            let (mw, mh) = (w / 4, h / 4);
            let at = |cell: usize| input[(cell / mw * 4 + 2) * w + cell % mw * 4 + 2];
            let best = (0..mw * mh)
                .max_by(|&a, &b| at(a).total_cmp(&at(b)).then(b.cmp(&a)))
                .expect("cells");
            let mut maps = RawMaps {
                heat: vec![0.0; mw * mh],
                scale: vec![4f32.ln(); 2 * mw * mh],
                offset: vec![0.0; 2 * mw * mh],
                w: mw,
                h: mh,
            };
            maps.heat[best] = 0.9;
            Ok(maps)
        }
        fn describe(&self) -> String {
            "brightest".into()
        }
    }

    #[test]
    fn a_face_found_in_a_mosaic_is_placed_in_the_frame() {
        let spot = Frame1080(Some((312.0, 212.0)));
        let mut d = Detector::new(Box::new(Brightest), DetectSettings::default());
        let empty = Region {
            x: 1000.0,
            y: 500.0,
            w: 200.0,
            h: 150.0,
        };
        let around = Region {
            x: 250.0,
            y: 160.0,
            w: 120.0,
            h: 100.0,
        };
        let found = d
            .run_mosaic(&spot, &[(empty, 1.5), (around, 2.0)], 0.5)
            .expect("mosaic");
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        // 16 network pixels at 2x are 8 frame pixels, centred within a cell (2 px) of the spot.
        let (cx, cy) = ((f.x0 + f.x1) / 2.0, (f.y0 + f.y1) / 2.0);
        assert!(
            (cx - 312.0).abs() <= 2.0 && (cy - 212.0).abs() <= 2.0,
            "{f:?}"
        );
        assert!(
            (f.w() - 8.0).abs() < 0.1 && (f.h() - 8.0).abs() < 0.1,
            "{f:?}"
        );
        // Found at an inner edge of its region, it is only part of a face: dropped.
        let cut = Region {
            x: 250.0,
            y: 160.0,
            w: 64.0,
            h: 100.0,
        };
        let found = d.run_mosaic(&spot, &[(cut, 2.0)], 0.5).expect("mosaic");
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn passes_cover_the_frame_at_the_chosen_scale() {
        let p = DetectSettings {
            scales: vec![2.0 / 3.0, 1.0],
            ..DetectSettings::default()
        }
        .passes(1920, 1080);
        assert_eq!((p[1].net_w, p[1].net_h), (1920, 1088));
        assert_eq!((p[0].net_w, p[0].net_h), (1280, 736));
        assert!(p[0].region.w >= 1920.0 && p[0].region.h >= 1080.0);
        assert!((p[0].region.w / p[0].net_w as f32 - 1.5).abs() < 1e-6);
        assert!((p[0].region.h / p[0].net_h as f32 - 1.5).abs() < 1e-6);
    }
}
