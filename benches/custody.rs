//! The custody log's hot paths, on deterministic inputs: canonical event serialisation and leaf
//! hashing, appending to the Merkle frontier (what every event commit does), and inclusion and
//! consistency proofs over a log of a million events (what `log prove` and `export` do).

use std::hint::black_box;

use bwv::custody::event::{Event, EventDraft, EventKind};
use bwv::custody::proof::{consistency_proof, inclusion_proof, verify_inclusion};
use bwv::digest::Digest;
use bwv::merkle::{Frontier, leaf_hash};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// A `processed` event as ingest writes it.
fn event(seq: u64) -> Event {
    let draft = EventDraft::new(EventKind::Processed, Some("c2daa890d7f0e875"), "bwv ingest")
        .with("master_sha256", Digest::of(&seq.to_le_bytes()))
        .with("frame_hash_root", Digest::of(b"frames"))
        .with("artefacts_sha256", Digest::of(b"artefacts"))
        .with("frames", 18_000u64)
        .with("decoder", "avdec_h264");
    Event::from_draft(draft, seq, "2026-11-21T12:00:00.000000Z".into())
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(1));
    let e = event(7);
    g.bench_function("canonical_bytes", |b| {
        b.iter(|| black_box(&e).canonical_bytes())
    });
    g.bench_function("leaf_hash", |b| b.iter(|| black_box(&e).leaf_hash()));
    g.finish();

    let leaves: Vec<Digest> = (0..1_000_000u64)
        .map(|i| leaf_hash(&i.to_le_bytes()))
        .collect();
    let mut g = c.benchmark_group("merkle");
    g.throughput(Throughput::Elements(1));
    g.bench_function("frontier_append_at_1M", |b| {
        let mut f = Frontier::new();
        for l in &leaves {
            f.push_leaf_hash(*l);
        }
        b.iter(|| {
            let mut f = f.clone();
            f.push_leaf_hash(black_box(leaves[12_345]));
            f.root()
        })
    });
    g.sample_size(10);
    g.bench_function("inclusion_proof_1M", |b| {
        b.iter(|| inclusion_proof(black_box(&leaves), 765_432))
    });
    g.bench_function("consistency_proof_1M", |b| {
        b.iter(|| consistency_proof(black_box(&leaves), 654_321))
    });
    let root = bwv::custody::proof::subtree_root(&leaves);
    let path = inclusion_proof(&leaves, 765_432).expect("proof");
    g.sample_size(100);
    g.bench_function("verify_inclusion_1M", |b| {
        b.iter(|| verify_inclusion(765_432, 1_000_000, &leaves[765_432], &path, &root))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
