//! Per-frame SHA-256 throughput on a 1080p I420 frame, tight and with padded rows.
//! Deterministic input; reports bytes per second (target: >= 1 GB/s on one core).

use bwv::media::frame::{PlaneLayout, hash_planes};
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
