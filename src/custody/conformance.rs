//! What every [`Store`] backend must do, written against the trait alone: each backend's tests
//! run [`suite`] with a way to open a store in a folder (SQLite's in `sqlite.rs`; a future
//! PostgreSQL backend's against a throwaway server).

use std::path::Path;

use super::retention::{Deletion, Mark, MarkKind};
use super::sar::{Disclosure, Sar};
use super::{
    EventDraft, EventKind, Outcome, PageRequest, Recording, RecordingQuery, Status, Store,
    TimeSource,
};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind};

/// Opens (creating if needed) a store kept in the given folder.
pub type Open<'a> = &'a dyn Fn(&Path) -> Box<dyn Store>;

/// Runs every check on fresh stores made by `open`.
pub fn suite(open: Open<'_>) {
    events_are_contiguous(open);
    recordings_round_trip_and_resolve_by_prefix(open);
    reopening_keeps_everything(open);
    listings_come_in_pages_and_searches_filter(open);
    retention_rules_hold_in_the_transaction(open);
    a_redacted_copy_is_superseded_once(open);
    checkpoints_are_stored_once_per_size(open);
    people_and_reasons_stay_beside_the_log(open);
}

pub fn recording(id: &str, sha: Digest) -> Recording {
    Recording {
        id: id.into(),
        master_sha256: sha,
        master_size: 3,
        master_path: format!("masters/{sha}"),
        source_name: "a.mp4".into(),
        status: Status::Processing,
        reason: None,
        officer_id: Some("1234".into()),
        device_id: None,
        recorded_at: "2026-11-20T08:00:00.000Z".into(),
        recorded_at_source: TimeSource::Sidecar,
        ingested_at: "2026-11-21T10:00:00.000Z".into(),
        extra: serde_json::json!({"shift": "night"}),
        media: None,
        deletion: None,
    }
}

fn mark(recording: &str, kind: MarkKind, reference: &str) -> Mark {
    Mark {
        id: 0,
        recording: recording.into(),
        kind,
        reference: reference.into(),
        reason: "r".into(),
        placed_by: "p".into(),
        placed_at: String::new(),
        released_at: None,
        released_by: None,
        release_reason: None,
    }
}

fn events_are_contiguous(open: Open<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path());
    let sha = Digest::of(b"abc");
    let e0 = s
        .create_recording(
            &recording("abcd1234", sha),
            EventDraft::new(EventKind::Ingested, Some("abcd1234"), "t"),
        )
        .expect("create");
    let e1 = s
        .finish_recording(
            "abcd1234",
            &Outcome::Quarantined {
                reason: "no video".into(),
            },
            EventDraft::new(EventKind::Quarantined, Some("abcd1234"), "t"),
        )
        .expect("finish");
    assert_eq!((e0.seq, e1.seq), (0, 1));
    let events = s.events(Some("abcd1234")).expect("events");
    assert_eq!(events, vec![e0, e1]);
}

/// A person acting is logged by the hash of the name, kept once beside the log; bwv's own
/// actors by name; an unreadable file's reason beside the log; and the database's own check
/// holds on a sound store.
fn people_and_reasons_stay_beside_the_log(open: Open<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path());
    let draft = || EventDraft::new(EventKind::Accessed, None, "pc-4711");
    let (a, b) = (
        s.append(draft()).expect("append"),
        s.append(draft()).expect("append"),
    );
    let own = s
        .append(EventDraft::new(EventKind::Accessed, None, "bwv-ingest"))
        .expect("append");
    let logged = format!("sha256:{}", Digest::of(b"pc-4711"));
    assert_eq!(
        (a.actor.as_str(), b.actor.as_str()),
        (logged.as_str(), logged.as_str())
    );
    assert_eq!(own.actor, "bwv-ingest");
    let names = s.actor_names().expect("names");
    assert_eq!(names.len(), 1);
    assert_eq!(names[&logged], "pc-4711");
    let e = s
        .add_unreadable(
            "dock/x.mp4",
            "scan: a link",
            EventDraft::new(EventKind::Unreadable, None, "bwv-ingest"),
        )
        .expect("unreadable");
    let kept = s.unreadable_sources().expect("unreadable");
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (
            kept[0].source.as_str(),
            kept[0].reason.as_str(),
            kept[0].event.seq
        ),
        ("dock/x.mp4", "scan: a link", e.seq)
    );
    assert!(s.integrity_problems().expect("check").is_empty());
    // The latest event of a kind.
    assert_eq!(
        s.latest_event(EventKind::Accessed)
            .expect("latest")
            .map(|e| e.seq),
        Some(own.seq)
    );
    assert!(
        s.latest_event(EventKind::PolicyChanged)
            .expect("latest")
            .is_none()
    );
}

fn recordings_round_trip_and_resolve_by_prefix(open: Open<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path());
    let a = recording("abcd1234", Digest::of(b"a"));
    let b = recording("abce9999", Digest::of(b"b"));
    for r in [&a, &b] {
        s.create_recording(r, EventDraft::new(EventKind::Ingested, Some(&r.id), "t"))
            .expect("create");
    }
    assert_eq!(
        s.recording_by_master(&Digest::of(b"a")).expect("lookup"),
        Some(a.clone())
    );
    assert_eq!(s.resolve("abcd").expect("unique prefix"), a);
    assert!(matches!(
        s.resolve("abc"),
        Err(Error::AmbiguousRecording(_))
    ));
    assert!(matches!(s.resolve("ffff"), Err(Error::UnknownRecording(_))));
    assert!(matches!(s.resolve("%"), Err(Error::UnknownRecording(_))));
    assert_eq!(s.recordings().expect("list").len(), 2);
}

fn reopening_keeps_everything(open: Open<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let r = recording("abcd1234", Digest::of(b"a"));
    open(dir.path())
        .create_recording(&r, EventDraft::new(EventKind::Ingested, Some(&r.id), "t"))
        .expect("create");
    let s = open(dir.path());
    assert_eq!(s.resolve("abcd1234").expect("still there"), r);
    assert_eq!(s.events(None).expect("events").len(), 1);
}

fn listings_come_in_pages_and_searches_filter(open: Open<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path());
    let mut ids = Vec::new();
    for i in 0..7u8 {
        let mut r = recording(&format!("{i:02x}aa0000"), Digest::of(&[i]));
        r.officer_id = Some(if i % 2 == 0 { "1234" } else { "5678" }.into());
        r.recorded_at = format!("2026-11-2{i}T08:00:00.000Z");
        s.create_recording(&r, EventDraft::new(EventKind::Ingested, Some(&r.id), "t"))
            .expect("create");
        ids.push(r.id);
    }
    let all = |query: &RecordingQuery| {
        let mut page = PageRequest::first(3);
        let mut found = Vec::new();
        loop {
            let p = s.search_recordings(query, &page).expect("page");
            assert!(p.items.len() <= 3);
            found.extend(p.items.into_iter().map(|r| r.id));
            match p.next {
                Some(next) => page.after = Some(next),
                None => return found,
            }
        }
    };
    assert_eq!(all(&RecordingQuery::default()), ids);
    let officer = RecordingQuery {
        officer: Some("5678".into()),
        ..Default::default()
    };
    assert_eq!(
        all(&officer),
        [ids[1].clone(), ids[3].clone(), ids[5].clone()]
    );
    let window = RecordingQuery {
        recorded_from: Some("2026-11-22T00:00:00Z".parse().expect("time")),
        recorded_to: Some("2026-11-24T08:00:00Z".parse().expect("time")),
        ..Default::default()
    };
    assert_eq!(all(&window), [ids[2].clone(), ids[3].clone()]);

    let flag = |id: &str, case: &str| {
        s.add_mark(
            &mark(id, MarkKind::Evidence, case),
            EventDraft::new(EventKind::Flagged, Some(id), "t"),
        )
        .expect("flag")
    };
    flag(&ids[4], "CASE-9");
    flag(&ids[6], "CASE-8");
    let case = RecordingQuery {
        case: Some("CASE-9".into()),
        ..Default::default()
    };
    assert_eq!(all(&case), [ids[4].clone()]);
    let unflagged = RecordingQuery {
        flagged: Some(false),
        ..Default::default()
    };
    assert_eq!(all(&unflagged).len(), 5);

    // Events, marks and SARs page the same way; a cursor from elsewhere is refused.
    let first = s.events_page(None, &PageRequest::first(4)).expect("events");
    assert_eq!(first.items.len(), 4);
    let rest = s
        .events_page(
            None,
            &PageRequest {
                after: first.next,
                limit: 100,
            },
        )
        .expect("events");
    assert_eq!((rest.items.len(), rest.next), (5, None));
    assert_eq!(rest.items[0].seq, 4);
    let marks = s.marks_page(None, &PageRequest::first(1)).expect("marks");
    assert_eq!((marks.items.len(), marks.next.as_deref()), (1, Some("1")));
    assert_eq!(
        s.sars_page(&PageRequest::default()).expect("sars").items,
        vec![]
    );
    let bad = PageRequest {
        after: Some("x".into()),
        limit: 1,
    };
    for e in [
        s.events_page(None, &bad).map(|_| ()),
        s.search_recordings(&RecordingQuery::default(), &bad)
            .map(|_| ()),
    ] {
        assert_eq!(e.expect_err("bad cursor").kind(), crate::ErrorKind::Invalid);
    }
}

/// The retention rules, decided inside the store's write transaction whatever the caller saw.
fn retention_rules_hold_in_the_transaction(open: Open<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path());
    for (id, b) in [("aaaa0001", b"a"), ("bbbb0002", b"b")] {
        s.create_recording(
            &recording(id, Digest::of(b)),
            EventDraft::new(EventKind::Ingested, Some(id), "t"),
        )
        .expect("create");
    }
    let draft = |id: &str| EventDraft::new(EventKind::HoldPlaced, Some(id), "t");
    let kind = |e: Error| e.kind();
    let held = mark("aaaa0001", MarkKind::Complaint, "C-1");
    s.add_mark(&held, draft("aaaa0001")).expect("hold");
    let events = s.events(None).expect("events").len();
    assert_eq!(
        kind(s.add_mark(&held, draft("aaaa0001")).expect_err("twice")),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(
            s.add_mark(&mark("ffff0000", MarkKind::Other, "X"), draft("ffff0000"))
                .expect_err("unknown")
        ),
        ErrorKind::NotFound
    );
    let deletion = Deletion {
        at: "2026-12-01T00:00:00.000Z".into(),
        reason: "retention".into(),
        policy_sha256: Digest::of(b"policy"),
    };
    let tomb = |id: &str| EventDraft::new(EventKind::Deleted, Some(id), "t");
    assert_eq!(
        s.mark_deleted("aaaa0001", &deletion, tomb("aaaa0001"))
            .expect("decided"),
        None,
        "held footage is kept"
    );
    assert_eq!(
        s.events(None).expect("events").len(),
        events,
        "nothing logged"
    );
    s.mark_deleted("bbbb0002", &deletion, tomb("bbbb0002"))
        .expect("deleted")
        .expect("an event");
    assert_eq!(
        kind(
            s.mark_deleted("bbbb0002", &deletion, tomb("bbbb0002"))
                .expect_err("final")
        ),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(
            s.add_mark(
                &mark("bbbb0002", MarkKind::Evidence, "C"),
                draft("bbbb0002")
            )
            .expect_err("deleted")
        ),
        ErrorKind::Conflict
    );

    // A closed SAR takes no hold and no disclosure, and its close released its holds.
    let request = Sar {
        id: String::new(),
        requester: "J".into(),
        received: jiff::civil::date(2026, 11, 30),
        deadline: jiff::civil::date(2026, 12, 30),
        incident_time: None,
        location: None,
        opened_by: "p".into(),
        opened_at: String::new(),
        closed_at: None,
    };
    let (sar, _) = s
        .open_sar(&request, EventDraft::new(EventKind::SarOpened, None, "t"))
        .expect("open");
    let link = mark("aaaa0001", MarkKind::Sar, &sar.id);
    s.add_mark(&link, draft("aaaa0001")).expect("link");
    // A disclosure under the open request keeps what it was made under.
    let disclosure = Disclosure {
        sar: sar.id.clone(),
        file_sha256: Digest::of(b"file"),
        file_size: 4,
        file_name: "f.mp4".into(),
        recipient: "J".into(),
        disclosed_by: "p".into(),
        disclosed_at: String::new(),
        unredacted_reason: Some("the requester alone is shown".into()),
        basis: Some("UK GDPR Art. 15".into()),
    };
    s.add_disclosure(
        &disclosure,
        EventDraft::new(EventKind::Disclosed, None, "t"),
    )
    .expect("disclosed");
    let kept = s.disclosures(Some(&sar.id)).expect("disclosures");
    assert_eq!(
        (
            kept.len(),
            kept[0].basis.as_deref(),
            kept[0].unredacted_reason.as_deref()
        ),
        (
            1,
            Some("UK GDPR Art. 15"),
            Some("the requester alone is shown")
        )
    );
    let (released, _) = s
        .close_sar(&sar.id, "p", &|holds| {
            vec![EventDraft::new(EventKind::SarClosed, None, "t").with("holds", holds.len() as u64)]
        })
        .expect("close");
    assert_eq!(released.len(), 1);
    assert_eq!(
        kind(s.add_mark(&link, draft("aaaa0001")).expect_err("closed")),
        ErrorKind::Conflict
    );
    assert_eq!(
        kind(
            s.add_disclosure(
                &disclosure,
                EventDraft::new(EventKind::Disclosed, None, "t")
            )
            .expect_err("closed")
        ),
        ErrorKind::Conflict
    );
}

/// One checkpoint per tree size: a second signer of the same tree gets the first's; another
/// root for a stored size is an integrity failure. The frontier comes back with it.
fn checkpoints_are_stored_once_per_size(open: Open<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path());
    let mut tree = crate::merkle::Frontier::new();
    for i in 0..5u8 {
        tree.push(&[i]);
    }
    let first = s.add_checkpoint(&tree, "note one").expect("store");
    let again = s.add_checkpoint(&tree, "note two").expect("same tree");
    assert_eq!(again.note, first.note);
    assert_eq!(again.peaks.as_deref(), Some(tree.peaks()));
    let mut other = crate::merkle::Frontier::new();
    for i in 10..15u8 {
        other.push(&[i]);
    }
    assert_eq!(
        s.add_checkpoint(&other, "forged").expect_err("fork").kind(),
        ErrorKind::Integrity
    );
    assert_eq!(
        s.latest_checkpoint().expect("read").map(|c| c.root),
        Some(tree.root())
    );
}

/// Only a recording's redacted copy can be superseded, and only once.
fn a_redacted_copy_is_superseded_once(open: Open<'_>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = open(dir.path());
    let rec = recording("cccc0003", Digest::of(b"c"));
    s.create_recording(
        &rec,
        EventDraft::new(EventKind::Ingested, Some(&rec.id), "t"),
    )
    .expect("create");
    let copy = super::Artefact {
        kind: super::ArtefactKind::Redacted,
        path: "derived/cccc0003/redacted-1.mp4".into(),
        sha256: Digest::of(b"copy"),
        size: 4,
        parent_sha256: rec.master_sha256,
        tool: "bwv redact".into(),
        tool_version: "test".into(),
        params: serde_json::json!({}),
    };
    let draft = || EventDraft::new(EventKind::RedactionSuperseded, Some(&rec.id), "t");
    let kind = |r: crate::error::Result<super::Event>| r.expect_err("refused").kind();
    assert_eq!(
        kind(s.supersede(&rec.id, &copy.path, "p", "why", draft())),
        ErrorKind::NotFound
    );
    s.add_artefact(
        &rec.id,
        &copy,
        EventDraft::new(EventKind::RedactionRendered, Some(&rec.id), "t"),
    )
    .expect("record the copy");
    s.supersede(&rec.id, &copy.path, "p", "why", draft())
        .expect("supersede");
    assert_eq!(
        s.superseded(&rec.id).expect("read"),
        vec![copy.path.clone()]
    );
    assert_eq!(
        kind(s.supersede(&rec.id, &copy.path, "p", "again", draft())),
        ErrorKind::Conflict
    );
}
