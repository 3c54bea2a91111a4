//! Redaction building blocks on a 1080p I420 frame (deterministic input): the detector's input
//! resampling (frame → 1280x736 RGB tensor), CenterFace decoding and NMS, and one mask per mode.

use bwv::redact::detect::{Detection, Region, Yuv420, decode, nms, to_network_input};
use bwv::redact::mask::{self, Ellipse, Mode, Plane};
use bwv::redact::model::RawMaps;
use criterion::{Criterion, criterion_group, criterion_main};

const W: usize = 1920;
const H: usize = 1080;

fn noise(n: usize, mut seed: u32) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (y, u, v) = (noise(W * H, 1), noise(W * H / 4, 2), noise(W * H / 4, 3));
    let frame = Yuv420 {
        y: &y,
        u: &u,
        v: &v,
        y_stride: W,
        uv_stride: W / 2,
        width: W,
        height: H,
        bt709: true,
    };
    let mut input = Vec::new();
    let region = Region {
        x: 0.0,
        y: 0.0,
        w: 1920.0,
        h: 1104.0,
    };
    c.bench_function("detector input 1080p -> 1280x736 RGB f32", |b| {
        b.iter(|| to_network_input(&frame, region, 1280, 736, &mut input))
    });

    // Maps with a few hundred cells over threshold, as a busy frame gives.
    let (mw, mh) = (320, 184);
    let heat: Vec<f32> = noise(mw * mh, 4)
        .iter()
        .map(|&b| if b > 250 { 0.9 } else { 0.01 })
        .collect();
    let maps = RawMaps {
        heat,
        scale: vec![2.0; 2 * mw * mh],
        offset: vec![0.1; 2 * mw * mh],
        w: mw,
        h: mh,
    };
    c.bench_function("CenterFace decode + NMS (1280x736 maps)", |b| {
        b.iter(|| nms(decode(&maps, 0.2, 1280.0, 736.0), 0.3))
    });

    let face = Detection {
        x0: 800.0,
        y0: 400.0,
        x1: 950.0,
        y1: 580.0,
        score: 0.9,
    };
    let e = Ellipse::around(face.x0, face.y0, face.x1, face.y1, mask::DEFAULT_GROW);
    for mode in [Mode::Blur, Mode::Pixelate, Mode::Solid] {
        let (mut yy, mut uu, mut vv) = (y.clone(), u.clone(), v.clone());
        c.bench_function(&format!("mask {mode:?} on a 150x180 face"), |b| {
            b.iter(|| {
                let mut planes = [
                    Plane {
                        data: &mut yy,
                        stride: W,
                        width: W,
                        height: H,
                    },
                    Plane {
                        data: &mut uu,
                        stride: W / 2,
                        width: W / 2,
                        height: H / 2,
                    },
                    Plane {
                        data: &mut vv,
                        stride: W / 2,
                        width: W / 2,
                        height: H / 2,
                    },
                ];
                mask::apply(&mut planes, &e, mode)
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
