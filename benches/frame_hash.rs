//! Per-frame SHA-256 throughput on a 1080p I420 frame, tight and with padded rows.
//! Deterministic input; reports bytes per second (target: >= 1 GB/s on one core), one frame
//! alone and two frames at once.
//! Also the proxy's own shrink of the same frame to 720p (the work it takes from `videoscale`).

use bwv::media::frame::{PlaneLayout, hash_planes};
use bwv::media::scale::{PlaneIn, Shrink};
use bwv::media::sha_pair;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn frame(
    width: usize,
    height: usize,
    stride_pad: usize,
) -> (Vec<Vec<u8>>, Vec<usize>, Vec<PlaneLayout>) {
    let dims = [
        (width, height),
        (width.div_ceil(2), height.div_ceil(2)),
        (width.div_ceil(2), height.div_ceil(2)),
    ];
    let mut seed = 0x9e37_79b9_u32;
    let mut planes = Vec::new();
    let mut strides = Vec::new();
    let mut layouts = Vec::new();
    for (w, h) in dims {
        let stride = w + stride_pad;
        planes.push(
            (0..stride * h)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect(),
        );
        strides.push(stride);
        layouts.push(PlaneLayout {
            row_bytes: w,
            rows: h,
        });
    }
    (planes, strides, layouts)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("frame_hash_1080p_i420");
    g.throughput(Throughput::Bytes((1920 * 1080 * 3 / 2) as u64));
    for (name, pad) in [("tight", 0), ("padded_rows", 8)] {
        let (planes, strides, layouts) = frame(1920, 1080, pad);
        g.bench_function(name, |b| {
            b.iter(|| {
                hash_planes(
                    planes
                        .iter()
                        .map(Vec::as_slice)
                        .zip(strides.iter().copied()),
                    &layouts,
                )
            })
        });
    }
    g.finish();

    // Two frames' hashes at once, a block of each in turn (what ingest does): bytes of both.
    let mut g = c.benchmark_group("frame_hash_1080p_i420_two_at_once");
    g.throughput(Throughput::Bytes((2 * 1920 * 1080 * 3 / 2) as u64));
    let (a, _, _) = frame(1920, 1080, 0);
    let b: Vec<Vec<u8>> = a.iter().map(|p| p.iter().map(|x| !x).collect()).collect();
    g.bench_function("tight", |bench| {
        bench.iter(|| sha_pair::two(a.iter().map(Vec::as_slice), b.iter().map(Vec::as_slice)))
    });
    g.finish();

    let mut g = c.benchmark_group("proxy_shrink_1080p_to_720p_i420");
    g.throughput(Throughput::Bytes((1920 * 1080 * 3 / 2) as u64));
    let (planes, strides, layouts) = frame(1920, 1080, 0);
    let mut out: Vec<Vec<u8>> = layouts
        .iter()
        .map(|l| vec![0; l.row_bytes * 2 / 3 * l.rows * 2 / 3])
        .collect();
    let mut shrink = Shrink::new(1920, 1080, 1280, 720).expect("2/3 shrink");
    g.bench_function("area_2_3", |b| {
        b.iter(|| {
            for (((data, &stride), l), dst) in
                planes.iter().zip(&strides).zip(&layouts).zip(&mut out)
            {
                let src = PlaneIn {
                    data,
                    stride,
                    width: l.row_bytes,
                    height: l.rows,
                };
                assert!(shrink.plane(src, dst, l.row_bytes * 2 / 3));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
