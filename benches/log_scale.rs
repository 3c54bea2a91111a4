//! The custody log at scale, on a real SQLite store: signing a checkpoint after one more event
//! (the audit that precedes every signature, over the events since the latest checkpoint or over
//! all of them) and an inclusion proof, at 10^4 and 10^6 events (set `BWV_BENCH_LOG_SIZES`, e.g.
//! `10000,1000000,10000000`, for others). The stores are bulk-loaded in one transaction.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use bwv::clock::FixedClock;
use bwv::custody::Store;
use bwv::custody::checkpoint::NoteSigner;
use bwv::custody::event::{Event, EventDraft, EventKind};
use bwv::custody::log::{self, AuditScope};
use bwv::custody::sqlite::SqliteStore;
use bwv::digest::Digest;
use bwv::merkle::Frontier;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const AT: &str = "2026-11-21T12:00:00.000Z";

/// A `duplicate` event as ingest writes it.
fn draft(i: u64) -> EventDraft {
    EventDraft::new(EventKind::Duplicate, Some("c2daa890d7f0e875"), "bwv-ingest")
        .with("master_sha256", Digest::of(&i.to_le_bytes()))
}

/// A store of `n` events with a checkpoint at `n`.
fn store(dir: &Path, n: u64, signer: &NoteSigner) -> SqliteStore {
    let path = dir.join("index.sqlite");
    let clock = Arc::new(FixedClock(AT.parse().expect("time")));
    drop(SqliteStore::open(&path, clock.clone()).expect("create"));
    let mut conn = rusqlite::Connection::open(&path).expect("open");
    let tx = conn.transaction().expect("tx");
    let mut head = Frontier::new();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO events (seq, at, kind, recording_id, canonical, leaf_hash) \
                 VALUES (?1, ?2, 'duplicate', 'c2daa890d7f0e875', ?3, ?4)",
            )
            .expect("prepare");
        for seq in 0..n {
            let e = Event::from_draft(draft(seq), seq, AT.into());
            let leaf = e.leaf_hash();
            insert
                .execute(rusqlite::params![
                    seq as i64,
                    AT,
                    e.canonical_bytes(),
                    &leaf.0[..]
                ])
                .expect("insert");
            head.push_leaf_hash(leaf);
        }
    }
    let peaks: Vec<u8> = head.peaks().iter().flat_map(|d| d.0).collect();
    tx.execute(
        "UPDATE log_head SET size = ?1, peaks = ?2 WHERE id = 0",
        rusqlite::params![n as i64, peaks],
    )
    .expect("head");
    tx.commit().expect("commit");
    let store = SqliteStore::open(&path, clock).expect("reopen");
    log::sign_checkpoint(&store, signer, AuditScope::Full).expect("first checkpoint");
    store
}

fn sizes() -> Vec<u64> {
    // `cargo test` runs each benchmark once as a test (no `--bench`): a small store will do.
    if !std::env::args().any(|a| a == "--bench") {
        return vec![1_000];
    }
    std::env::var("BWV_BENCH_LOG_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 1_000_000])
}

fn bench(c: &mut Criterion) {
    let signer = NoteSigner::from_seed("bench.example/bwv", [7; 32]).expect("key");
    let verifier = signer.verifier();
    let mut g = c.benchmark_group("log");
    g.sample_size(10);
    for n in sizes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store(dir.path(), n, &signer);
        let mut next = n;
        // The full audit first: each signature adds a checkpoint, and the full audit checks
        // every checkpoint's signature, so it would otherwise measure the thousands the faster
        // benchmark leaves behind.
        for (name, scope) in [
            ("sign_after_one_event_full_audit", AuditScope::Full),
            ("sign_after_one_event_since_latest", AuditScope::SinceLatest),
        ] {
            g.bench_function(format!("{name}/{n}"), |b| {
                b.iter_batched(
                    || {
                        store.append(draft(next)).expect("append");
                        next += 1;
                    },
                    |()| log::sign_checkpoint(&store, &signer, scope).expect("sign"),
                    BatchSize::PerIteration,
                )
            });
        }
        g.bench_function(format!("inclusion_proof/{n}"), |b| {
            b.iter(|| log::prove(&store, &verifier, black_box(n / 2), None).expect("proof"))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
