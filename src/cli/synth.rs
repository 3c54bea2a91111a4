//! Synthetic body-worn footage with known faces, for benchmarks and redaction evaluation: a
//! textured scene under a slowly panning, shaking camera, with faces (a public-domain portrait,
//! `testdata/faces/astronaut.jpg`, at eight sizes from 28 to 240 px tall at 1080 lines) walking
//! through it and leaving again, each on its own cycle, nearer ones passing in front of farther
//! ones (a face less than 60 % in view is left out of the truth). Encoded with
//! `pipelines/synth-clip.gst` (H.264 High + AAC, MP4), with the per-frame ground truth in the
//! sidecar format that [`bwv::redact::eval::Truth`] reads. The same size, rate and length give
//! the same bytes.

use std::path::Path;
use std::time::Duration;

use gst::prelude::*;
use gstreamer as gst;
use gstreamer_video as gst_video;
use image::RgbImage;
use serde::Serialize;

use bwv::error::{Error, Result, Stage};
use bwv::media::pipeline;

/// The encode graph.
pub const SYNTH_GRAPH: &str = include_str!("../../pipelines/synth-clip.gst");

/// The portrait, and its face box `[x, y, w, h]`.
const PORTRAIT: &[u8] = include_bytes!("../../testdata/faces/astronaut.jpg");
const PORTRAIT_FACE: [u32; 4] = [175, 53, 100, 128];

/// Face heights in pixels at 1080 lines (scaled with the frame height).
const FACE_HEIGHTS: [f64; 8] = [28.0, 34.0, 40.0, 56.0, 72.0, 110.0, 160.0, 240.0];

/// What to make.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipSpec {
    /// Width (even).
    pub width: u32,
    /// Height (even).
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Length in frames.
    pub frames: u64,
}

impl ClipSpec {
    /// A 1080p30 clip of `seconds`.
    pub fn hd(seconds: f64) -> Self {
        Self {
            width: 1920,
            height: 1080,
            fps: 30,
            frames: (seconds * 30.0).round().max(1.0) as u64,
        }
    }
}

/// One frame of ground truth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthFrame {
    /// Frame index.
    pub frame: u64,
    /// Face boxes `[x, y, w, h]` at least 60 % in view (inside the picture, not behind another).
    pub boxes: Vec<[i64; 4]>,
    /// Face ids, one per box.
    pub ids: Vec<i64>,
    /// Faces mostly out of view: counted neither way.
    pub ignore: Vec<[i64; 4]>,
}

/// The ground truth of a clip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Frames.
    pub n_frames: u64,
    /// How it was made.
    pub generator: String,
    /// Per frame.
    pub frames: Vec<TruthFrame>,
}

/// A planar 8-bit 4:2:0 picture.
struct Yuv {
    w: usize,
    h: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

impl Yuv {
    /// BT.709 limited range, chroma from 2x2 means.
    fn from_rgb(img: &RgbImage) -> Self {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut out = Self {
            w,
            h,
            y: vec![0; w * h],
            u: vec![0; cw * ch],
            v: vec![0; cw * ch],
        };
        let mut acc = vec![(0f32, 0f32, 0u32); cw * ch];
        for (x, y, p) in img.enumerate_pixels() {
            let [r, g, b] = p.0.map(f32::from);
            let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
            out.y[y as usize * w + x as usize] = (16.0 + luma * 219.0 / 255.0).round() as u8;
            let a = &mut acc[(y as usize / 2) * cw + x as usize / 2];
            a.0 += (b - luma) / 1.8556;
            a.1 += (r - luma) / 1.5748;
            a.2 += 1;
        }
        for (i, (cb, cr, n)) in acc.into_iter().enumerate() {
            let n = n.max(1) as f32;
            out.u[i] = (128.0 + cb / n * 224.0 / 255.0).round().clamp(16.0, 240.0) as u8;
            out.v[i] = (128.0 + cr / n * 224.0 / 255.0).round().clamp(16.0, 240.0) as u8;
        }
        out
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The scene: wider and taller than the picture so the camera can pan and shake. Blocks of
/// colour ("walls, windows, cars") at several scales over fine grain, as a street at night
/// might look to a camera.
fn scene(w: usize, h: usize) -> RgbImage {
    let mut rng = Rng(0x5eed_b0d1_ca11_0001);
    let mut img = RgbImage::from_fn(w as u32, h as u32, |_, y| {
        let t = y as f64 / h as f64;
        let v = (40.0 + 50.0 * t) as u8;
        image::Rgb([v / 2, v / 2 + 5, v])
    });
    for scale in [240.0, 120.0, 60.0, 24.0] {
        let n = ((w * h) as f64 / (scale * scale) * 0.6) as usize;
        for _ in 0..n {
            let (bw, bh) = (
                (scale * (0.4 + rng.unit())) as u32,
                (scale * (0.3 + rng.unit())) as u32,
            );
            let (x0, y0) = (
                (rng.unit() * w as f64) as u32,
                (rng.unit() * h as f64) as u32,
            );
            let c = [
                (rng.unit() * 200.0) as u8 + 20,
                (rng.unit() * 200.0) as u8 + 20,
                (rng.unit() * 200.0) as u8 + 20,
            ];
            for y in y0..(y0 + bh).min(h as u32) {
                for x in x0..(x0 + bw).min(w as u32) {
                    img.put_pixel(x, y, image::Rgb(c));
                }
            }
        }
    }
    for p in img.pixels_mut() {
        let grain = (rng.next() % 13) as i16 - 6;
        p.0 = p.0.map(|c| (i16::from(c) + grain).clamp(0, 255) as u8);
    }
    img
}

/// A face walking across the picture on its own cycle.
struct Walker {
    id: i64,
    sprite: Yuv,
    /// Face box inside the sprite.
    face: [i64; 4],
    period: u64,
    phase: u64,
    from: (f64, f64),
    to: (f64, f64),
}

impl Walker {
    /// Top-left of the sprite in `frame`, or `None` while off stage.
    fn at(&self, frame: u64) -> Option<(i64, i64)> {
        let t = (frame + self.phase) % self.period;
        let on = self.period * 3 / 4;
        (t < on).then(|| {
            let k = t as f64 / on as f64;
            (
                (self.from.0 + (self.to.0 - self.from.0) * k).round() as i64 & !1,
                (self.from.1 + (self.to.1 - self.from.1) * k).round() as i64 & !1,
            )
        })
    }
}

fn walkers(spec: &ClipSpec) -> Result<Vec<Walker>> {
    let portrait = image::load_from_memory(PORTRAIT)
        .map_err(|e| Error::Redact(format!("portrait: {e}")))?
        .to_rgb8();
    let [fx, fy, fw, fh] = PORTRAIT_FACE;
    // A square around the face, 1.6 times its height.
    let side = fh * 8 / 5;
    let (cx, cy) = (fx + fw / 2, fy + fh / 2);
    let (sx, sy) = (cx - side / 2, cy.saturating_sub(side / 2));
    let square = image::imageops::crop_imm(&portrait, sx, sy, side, side).to_image();
    let (w, h) = (f64::from(spec.width), f64::from(spec.height));
    let mut rng = Rng(0x0fac_e5ba_5e00_0002);
    let mut out = Vec::new();
    for (i, face_h) in FACE_HEIGHTS.iter().enumerate() {
        let k = face_h * h / 1080.0 / f64::from(fh);
        let px = ((f64::from(side) * k).round() as u32).max(2) & !1;
        let sprite =
            image::imageops::resize(&square, px, px, image::imageops::FilterType::Triangle);
        let scale = f64::from(px) / f64::from(side);
        let face = [
            (f64::from(fx - sx) * scale).round() as i64,
            (f64::from(fy - sy) * scale).round() as i64,
            (f64::from(fw) * scale).round() as i64,
            (f64::from(fh) * scale).round() as i64,
        ];
        let period = u64::from(spec.fps) * (4 + i as u64 % 5);
        // On stage for three quarters of the cycle, walking at about 5 face heights a second
        // (a far face drifts, a near one crosses the picture), rising or falling a little.
        let on_seconds = (period * 3 / 4) as f64 / f64::from(spec.fps);
        let span = (5.0 * face_h * h / 1080.0 * on_seconds).min(0.9 * w);
        let x0 = -0.3 * f64::from(px) + rng.unit() * (w - span).max(0.0);
        let x1 = x0 + span;
        let row = |r: f64| r * (h - f64::from(px));
        let y0 = row(rng.unit());
        let y1 = (y0 + (rng.unit() - 0.5) * 0.3 * h).clamp(0.0, row(1.0));
        let left_to_right = i % 2 == 0;
        out.push(Walker {
            id: i as i64,
            sprite: Yuv::from_rgb(&sprite),
            face,
            period,
            phase: (rng.unit() * period as f64) as u64,
            from: if left_to_right { (x0, y0) } else { (x1, y0) },
            to: if left_to_right { (x1, y1) } else { (x0, y1) },
        });
    }
    Ok(out)
}

/// Copies `src` (a whole picture) onto `dst` with its top-left at `(x, y)` (even), clipped.
fn paste(dst: &mut Yuv, src: &Yuv, x: i64, y: i64) {
    let planes = [
        (&mut dst.y, dst.w, dst.h, &src.y, src.w, src.h, 1),
        (
            &mut dst.u,
            dst.w / 2,
            dst.h / 2,
            &src.u,
            src.w / 2,
            src.h / 2,
            2,
        ),
        (
            &mut dst.v,
            dst.w / 2,
            dst.h / 2,
            &src.v,
            src.w / 2,
            src.h / 2,
            2,
        ),
    ];
    for (d, dw, dh, s, sw, sh, sub) in planes {
        let (ox, oy) = (x / sub, y / sub);
        for r in 0..sh as i64 {
            let dy = oy + r;
            if !(0..dh as i64).contains(&dy) {
                continue;
            }
            let c0 = (-ox).clamp(0, sw as i64);
            let c1 = (dw as i64 - ox).clamp(0, sw as i64);
            if c0 >= c1 {
                continue;
            }
            let (s0, d0) = (r as usize * sw, dy as usize * dw);
            d[d0 + (ox + c0) as usize..d0 + (ox + c1) as usize]
                .copy_from_slice(&s[s0 + c0 as usize..s0 + c1 as usize]);
        }
    }
}

/// The box clipped to a `w`×`h` picture.
fn clip_box(b: [i64; 4], w: i64, h: i64) -> [i64; 4] {
    let (x0, y0) = (b[0].max(0), b[1].max(0));
    let (x1, y1) = ((b[0] + b[2]).min(w), (b[1] + b[3]).min(h));
    [x0, y0, (x1 - x0).max(0), (y1 - y0).max(0)]
}

/// The share of `face` that is inside a `w`×`h` picture and not under any of `over`.
fn visible(face: [i64; 4], over: &[[i64; 4]], w: i64, h: i64) -> f64 {
    let [fx, fy, fw, fh] = face;
    let covered = |x: i64, y: i64| {
        !(0..w).contains(&x)
            || !(0..h).contains(&y)
            || over
                .iter()
                .any(|r| (r[0]..r[0] + r[2]).contains(&x) && (r[1]..r[1] + r[3]).contains(&y))
    };
    let shown = (fy..fy + fh)
        .flat_map(|y| (fx..fx + fw).map(move |x| (x, y)))
        .filter(|&(x, y)| !covered(x, y))
        .count();
    shown as f64 / (fw * fh).max(1) as f64
}

/// Writes the clip to `out` (an MP4, which must not exist) and returns its ground truth.
/// `progress` is told each frame pushed.
pub fn make_clip(
    spec: &ClipSpec,
    out: &Path,
    progress: &dyn Fn(u64),
    stall: Duration,
) -> Result<Truth> {
    bwv::media::init()?;
    let fail = |reason: String| Error::Media {
        path: out.to_owned(),
        stage: Stage::Output,
        reason,
    };
    if spec.width % 2 == 1 || spec.height % 2 == 1 || spec.fps == 0 {
        return Err(fail(format!(
            "unsupported size {}x{} at {} fps",
            spec.width, spec.height, spec.fps
        )));
    }
    if out.exists() {
        return Err(fail("already exists".into()));
    }
    let (w, h) = (spec.width as usize, spec.height as usize);
    // Room for the camera to pan 10 % of the width and shake a little.
    let (margin_x, margin_y) = (w / 10 + 16, 32usize);
    let world = Yuv::from_rgb(&scene(w + margin_x, h + margin_y));
    let people = walkers(spec)?;

    let (p, src) = pipeline::appsrc_graph(&pipeline::graph_text(SYNTH_GRAPH), out).map_err(fail)?;
    let samples = spec.frames * 48_000 / u64::from(spec.fps);
    pipeline::element(&p, "tone")
        .map_err(fail)?
        .set_property("num-buffers", samples.div_ceil(1024) as i32);
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, spec.width, spec.height)
        .fps(gst::Fraction::new(spec.fps as i32, 1))
        .build()
        .map_err(|e| fail(format!("format: {e}")))?;
    src.set_caps(Some(
        &info.to_caps().map_err(|e| fail(format!("caps: {e}")))?,
    ));
    p.set_state(gst::State::Playing)
        .map_err(|_| fail("encoder failed to start".into()))?;

    let mut frames = Vec::with_capacity(spec.frames as usize);
    let mut pushed = Ok(());
    let at = |n: u64| n * 1_000_000_000 / u64::from(spec.fps);
    for n in 0..spec.frames {
        let t = n as f64 / f64::from(spec.fps);
        // Pan across and back over 20 s, with a walking bob.
        let pan = ((t / 20.0 * std::f64::consts::TAU).sin() * 0.5 + 0.5) * (margin_x - 16) as f64;
        let bob = ((t * 2.0 * std::f64::consts::TAU).sin() * 0.5 + 0.5) * (margin_y - 2) as f64;
        let (ox, oy) = ((pan as usize + 8) & !1, bob as usize & !1);
        let mut pic = Yuv {
            w,
            h,
            y: vec![0; w * h],
            u: vec![0; w * h / 4],
            v: vec![0; w * h / 4],
        };
        paste(&mut pic, &world, -(ox as i64), -(oy as i64));
        let mut truth = TruthFrame {
            frame: n,
            boxes: Vec::new(),
            ids: Vec::new(),
            ignore: Vec::new(),
        };
        let on_stage: Vec<(&Walker, i64, i64)> = people
            .iter()
            .filter_map(|p| p.at(n).map(|(x, y)| (p, x, y)))
            .collect();
        for (i, &(person, x, y)) in on_stage.iter().enumerate() {
            paste(&mut pic, &person.sprite, x, y);
            // Later faces are pasted over earlier ones.
            let over: Vec<[i64; 4]> = on_stage[i + 1..]
                .iter()
                .map(|&(p, x, y)| [x, y, p.sprite.w as i64, p.sprite.h as i64])
                .collect();
            let f = person.face;
            let face = [x + f[0], y + f[1], f[2], f[3]];
            let shown = visible(face, &over, w as i64, h as i64);
            let b = clip_box(face, w as i64, h as i64);
            if shown >= 0.6 {
                truth.boxes.push(b);
                truth.ids.push(person.id);
            } else if b[2] > 0 && b[3] > 0 {
                truth.ignore.push(b);
            }
        }
        frames.push(truth);
        let mut data = pic.y;
        data.extend_from_slice(&pic.u);
        data.extend_from_slice(&pic.v);
        let mut buffer = gst::Buffer::from_mut_slice(data);
        if let Some(b) = buffer.get_mut() {
            b.set_pts(gst::ClockTime::from_nseconds(at(n)));
            b.set_duration(gst::ClockTime::from_nseconds(at(n + 1) - at(n)));
        }
        if let Err(e) = src.push_buffer(buffer) {
            pushed = Err(fail(format!("encoder refused frame {n}: {e:?}")));
            break;
        }
        progress(n + 1);
    }
    let finished = pushed.and_then(|()| {
        let _ = src.end_of_stream();
        pipeline::wait_eos(&p, stall).map_err(fail)
    });
    let _ = p.set_state(gst::State::Null);
    if let Err(e) = finished {
        let _ = std::fs::remove_file(out);
        return Err(e);
    }
    // A fixed creation time in the headers, so equal specs give equal bytes.
    bwv::media::mp4time::stamp(out, 1_795_000_000).map_err(|e| fail(e.to_string()))?;
    Ok(Truth {
        width: spec.width,
        height: spec.height,
        fps: spec.fps,
        n_frames: spec.frames,
        generator: format!("bwv {} synth", env!("CARGO_PKG_VERSION")),
        frames,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_spec_same_bytes_and_truth_inside_the_picture() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = ClipSpec {
            width: 640,
            height: 360,
            fps: 30,
            frames: 45,
        };
        let stall = Duration::from_secs(60);
        let make = |name: &str| {
            let out = dir.path().join(name);
            let truth = make_clip(&spec, &out, &|_| {}, stall).expect("clip");
            (std::fs::read(&out).expect("read"), truth)
        };
        let (a, truth) = make("a.mp4");
        let (b, again) = make("b.mp4");
        assert!(a == b && truth == again, "deterministic");
        assert_eq!(truth.frames.len(), 45);
        let boxes: Vec<&[i64; 4]> = truth.frames.iter().flat_map(|f| &f.boxes).collect();
        assert!(boxes.len() > 45, "faces on stage: {}", boxes.len());
        for b in boxes {
            assert!(b[0] >= 0 && b[1] >= 0 && b[0] + b[2] <= 640 && b[1] + b[3] <= 360);
        }
        // An existing file is not overwritten.
        assert!(make_clip(&spec, &dir.path().join("a.mp4"), &|_| {}, stall).is_err());
    }
}
