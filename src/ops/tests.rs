//! The operations under concurrency: two connections to one store, as two processes (a sweep
//! and an officer's hold, a link and a close) would have, on each backend.

use std::sync::{Arc, Barrier};

use super::*;
use crate::ErrorKind;
use crate::clock::FixedClock;
use crate::custody::retention::MarkKind;
use crate::custody::{EventKind, IndexLocation, Status, Store, TimeSource, open_index};
use crate::digest::Digest;

const NOW: &str = "2026-12-01T00:00:00Z";

fn now() -> jiff::Timestamp {
    NOW.parse().expect("valid time")
}

/// Which backend a test's index is on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A store: its folder and where its index is.
struct Fixture {
    home: Home,
    index: IndexLocation,
}

impl Fixture {
    fn open(&self) -> Box<dyn Store> {
        open_index(&self.index, Arc::new(FixedClock(now()))).expect("opens")
    }
}

/// A store with `n` recordings made at `recorded_at`, each with a master file.
fn store_with(
    dir: &std::path::Path,
    n: usize,
    recorded_at: &str,
    backend: Backend,
) -> (Fixture, Vec<String>) {
    let home = Home::open(dir).expect("home");
    let index = match backend {
        Backend::Sqlite => IndexLocation::Sqlite(home.index()),
        Backend::Postgres => {
            IndexLocation::Postgres(crate::testutil::servers::postgres_fresh("ops"))
        }
    };
    let f = Fixture { home, index };
    let store = f.open();
    let home = &f.home;
    let ids = (0..n)
        .map(|i| {
            let bytes = format!("master {i}");
            let sha = Digest::of(bytes.as_bytes());
            let rel = Home::master_rel(&sha);
            let path = home.abs(&rel);
            std::fs::create_dir_all(path.parent().expect("in a folder")).expect("mkdir");
            std::fs::write(&path, &bytes).expect("write master");
            let rec = Recording {
                id: sha.to_hex()[..16].to_owned(),
                master_sha256: sha,
                master_size: bytes.len() as u64,
                master_path: rel,
                source_name: format!("{i}.mp4"),
                status: Status::Processing,
                reason: None,
                officer_id: None,
                device_id: None,
                recorded_at: recorded_at.into(),
                recorded_at_source: TimeSource::Sidecar,
                ingested_at: recorded_at.into(),
                extra: serde_json::json!({}),
                media: None,
                deletion: None,
            };
            store
                .create_recording(
                    &rec,
                    EventDraft::new(EventKind::Ingested, Some(&rec.id), "test"),
                )
                .expect("create");
            rec.id
        })
        .collect();
    drop(store);
    (f, ids)
}

/// Forty days before NOW: past the default 31-day retention.
const EXPIRED: &str = "2026-10-22T08:00:00.000Z";

#[test]
fn a_hold_placed_while_a_sweep_runs_is_never_lost() {
    hold_racing_sweep(Backend::Sqlite);
}

#[test]
fn a_hold_placed_while_a_sweep_runs_is_never_lost_on_postgres() {
    hold_racing_sweep(Backend::Postgres);
}

fn hold_racing_sweep(backend: Backend) {
    let mut held_total = 0;
    for round in 0..25 {
        let dir = tempfile::tempdir().expect("tempdir");
        let (f, ids) = store_with(dir.path(), 8, EXPIRED, backend);
        let home = &f.home;
        let start = Barrier::new(2);
        let (held, report) = std::thread::scope(|s| {
            let sweep = s.spawn(|| {
                let store = f.open();
                start.wait();
                Ops::new(home, &*store, "sweeper").sweep(None, now(), false)
            });
            let hold = s.spawn(|| {
                let store = f.open();
                let ops = Ops::new(home, &*store, "officer");
                start.wait();
                // Against the sweep's order, so the two meet in the middle.
                let mut held = Vec::new();
                for id in ids.iter().rev() {
                    match ops.hold(id, MarkKind::Complaint, "C-7", "race") {
                        Ok(_) => held.push(id.clone()),
                        Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict, "{e}"),
                    }
                }
                held
            });
            (hold.join().expect("holder"), sweep.join().expect("sweeper"))
        });
        let report = report.expect("sweep");
        held_total += held.len();
        let store = f.open();
        for id in &ids {
            let rec = store.resolve(id).expect("still indexed");
            let is_held = held.contains(id);
            // Each recording was held or deleted: never both, never neither.
            assert_ne!(
                is_held,
                rec.deletion.is_some(),
                "round {round}: {id} held {is_held}, deletion {:?}",
                rec.deletion
            );
            assert_eq!(
                home.abs(&rec.master_path).exists(),
                is_held,
                "round {round}: {id}"
            );
            assert_eq!(
                report.expired.iter().any(|e| e.id == *id),
                !is_held,
                "round {round}: {id} in the report"
            );
        }
        Ops::new(home, &*store, "auditor")
            .seal()
            .expect("the log audits");
    }
    // Both sides won some races (otherwise the test raced nothing).
    assert!(held_total > 0 && held_total < 25 * 8, "held {held_total}");
}

#[test]
fn a_link_racing_a_close_never_leaves_a_closed_request_holding_footage() {
    link_racing_close(Backend::Sqlite);
}

#[test]
fn a_link_racing_a_close_never_leaves_a_closed_request_holding_footage_on_postgres() {
    link_racing_close(Backend::Postgres);
}

fn link_racing_close(backend: Backend) {
    for round in 0..25 {
        let dir = tempfile::tempdir().expect("tempdir");
        let (f, ids) = store_with(dir.path(), 6, "2026-11-28T08:00:00.000Z", backend);
        let home = &f.home;
        let store = f.open();
        let (sar, _) = Ops::new(home, &*store, "clerk")
            .open_sar(SarRequest {
                requester: "Jane Doe".into(),
                received: jiff::civil::date(2026, 11, 30),
                incident_time: None,
                location: None,
            })
            .expect("open");
        let start = Barrier::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                let store = f.open();
                start.wait();
                Ops::new(home, &*store, "clerk")
                    .close_sar(&sar.id)
                    .expect("close");
            });
            s.spawn(|| {
                let store = f.open();
                let ops = Ops::new(home, &*store, "clerk");
                start.wait();
                for id in &ids {
                    if let Err(e) = ops.link(&sar.id, id) {
                        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
                    }
                }
            });
        });
        let active: Vec<_> = store
            .marks(None)
            .expect("marks")
            .into_iter()
            .filter(|m| m.is_active())
            .collect();
        assert!(active.is_empty(), "round {round}: {active:?}");
    }
}

/// The kind of a refusal.
fn kind<T: std::fmt::Debug>(r: Result<T>) -> ErrorKind {
    r.expect_err("refused").kind()
}

#[test]
fn refusals_say_what_kind_they_are_and_change_nothing() {
    refusals(Backend::Sqlite);
}

#[test]
fn refusals_say_what_kind_they_are_and_change_nothing_on_postgres() {
    refusals(Backend::Postgres);
}

fn refusals(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (f, ids) = store_with(dir.path(), 2, EXPIRED, backend);
    let store = f.open();
    let ops = Ops::new(&f.home, &*store, "officer");

    ops.flag(&ids[0], "CASE-1", "assault").expect("flag");
    let events = store.events(None).expect("events").len();
    assert_eq!(
        kind(ops.flag(&ids[0], "CASE-1", "again")),
        ErrorKind::Conflict
    );
    assert_eq!(kind(ops.flag("ffff", "CASE-1", "x")), ErrorKind::NotFound);
    assert_eq!(
        kind(ops.hold(&ids[0], MarkKind::Evidence, "CASE-2", "x")),
        ErrorKind::Invalid
    );
    let none = Which::Hold {
        kind: MarkKind::Sar,
        reference: "SAR-9".into(),
    };
    assert_eq!(kind(ops.release(&ids[0], &none, "x")), ErrorKind::Conflict);
    assert_eq!(kind(ops.link("SAR-9", &ids[0])), ErrorKind::NotFound);
    assert_eq!(store.events(None).expect("events").len(), events);

    // The sweep deletes the unflagged one; it then takes no flag, hold or link.
    let report = ops.sweep(None, now(), false).expect("sweep");
    assert_eq!(report.kept_by_marks, vec![ids[0].clone()]);
    assert_eq!(
        kind(ops.flag(&ids[1], "CASE-1", "late")),
        ErrorKind::Conflict
    );
    let (sar, _) = ops
        .open_sar(SarRequest {
            requester: "J".into(),
            received: jiff::civil::date(2026, 11, 30),
            incident_time: None,
            location: None,
        })
        .expect("open");
    assert_eq!(kind(ops.link(&sar.id, &ids[1])), ErrorKind::Conflict);
    ops.link(&sar.id, &ids[0]).expect("link");
    assert_eq!(kind(ops.link(&sar.id, &ids[0])), ErrorKind::Conflict);
    let (_, released) = ops.close_sar(&sar.id).expect("close");
    assert_eq!(released.len(), 1);
    assert_eq!(kind(ops.close_sar(&sar.id)), ErrorKind::Conflict);
    assert_eq!(kind(ops.link(&sar.id, &ids[0])), ErrorKind::Conflict);
}
