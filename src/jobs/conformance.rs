//! What every [`Queue`] backend must do, written against the trait alone: each backend's tests
//! run [`suite`] with a way to make a new, empty queue.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{Finish, JobProgress, JobSpec, JobState, MAX_ATTEMPTS, Queue};
use crate::custody::PageRequest;

/// Makes a new, empty queue.
pub type Make<'a> = &'a (dyn Fn() -> Box<dyn Queue> + Sync);

const LONG: Duration = Duration::from_secs(600);

fn ingest(n: u32) -> JobSpec {
    JobSpec::Ingest {
        path: format!("/dock/{n}.mp4").into(),
        sidecar: None,
        link: None,
    }
}

pub fn suite(make: Make<'_>) {
    jobs_are_queued_once_per_key_and_claimed_oldest_first(make);
    a_lost_lease_passes_the_job_on_and_fences_the_old_claim(make);
    failures_retry_then_stop(make);
    concurrent_workers_never_take_one_job_twice(make);
}

fn jobs_are_queued_once_per_key_and_claimed_oldest_first(make: Make<'_>) {
    let q = make();
    let (a, new) = q.enqueue(&ingest(1), Some("k1")).expect("enqueue");
    assert!(new);
    let (again, new) = q.enqueue(&ingest(1), Some("k1")).expect("enqueue again");
    assert!(!new, "the same key is one job");
    assert_eq!(again.id, a.id);
    let (b, _) = q.enqueue(&ingest(2), None).expect("no key");
    let (c, _) = q
        .enqueue(&JobSpec::Sweep { policy: None }, None)
        .expect("sweep");
    assert_eq!(q.job(b.id).expect("read").spec, ingest(2));

    let first = q.claim("w1", LONG).expect("claim").expect("a job");
    assert_eq!((first.job.id, first.attempt), (a.id, 1));
    assert_eq!(first.job.state, JobState::Running);
    assert!(q.heartbeat(&first, LONG, None).expect("renew"));
    // Progress is recorded with a renewal, and kept by one that says none.
    let half = JobProgress { done: 5, total: 10 };
    assert!(q.heartbeat(&first, LONG, Some(half)).expect("renew"));
    assert!(q.heartbeat(&first, LONG, None).expect("renew"));
    assert_eq!(q.job(a.id).expect("read").progress, Some(half));
    let second = q.claim("w2", LONG).expect("claim").expect("a job");
    assert_eq!(second.job.id, b.id);
    assert!(
        q.finish(&first, &Finish::Done(serde_json::json!({"ok": 1})))
            .expect("finish")
    );
    assert!(
        !q.finish(&first, &Finish::Done(serde_json::json!({})))
            .expect("twice")
    );
    let done = q.job(a.id).expect("read");
    assert_eq!(done.state, JobState::Done);
    assert_eq!(done.result, Some(serde_json::json!({"ok": 1})));

    let counts = q.counts().expect("counts");
    assert_eq!(counts.get(&JobState::Done), Some(&1));
    assert_eq!(counts.get(&JobState::Running), Some(&1));
    assert_eq!(counts.get(&JobState::Queued), Some(&1));
    let page = q.jobs(None, &PageRequest::first(2)).expect("page");
    assert_eq!(page.items.len(), 2);
    let rest = q
        .jobs(
            None,
            &PageRequest {
                after: page.next,
                limit: 2,
            },
        )
        .expect("page");
    assert_eq!(rest.items.iter().map(|j| j.id).collect::<Vec<_>>(), [c.id]);
    let queued = q
        .jobs(Some(JobState::Queued), &PageRequest::default())
        .expect("queued");
    assert_eq!(queued.items.len(), 1);
}

fn a_lost_lease_passes_the_job_on_and_fences_the_old_claim(make: Make<'_>) {
    let q = make();
    let (job, _) = q.enqueue(&ingest(1), None).expect("enqueue");
    // A lease of nothing has ended by the time anyone looks: as a worker killed mid-job.
    let dead = q
        .claim("killed", Duration::ZERO)
        .expect("claim")
        .expect("job");
    let taken = q
        .claim("w2", LONG)
        .expect("claim")
        .expect("the same job again");
    assert_eq!((taken.job.id, taken.attempt), (job.id, 2));
    assert_eq!(taken.job.worker.as_deref(), Some("w2"));
    assert!(
        !q.heartbeat(&dead, LONG, Some(JobProgress { done: 9, total: 9 }))
            .expect("renew"),
        "the old claim is gone"
    );
    assert_eq!(
        q.job(job.id).expect("read").progress,
        None,
        "nor says how far"
    );
    assert!(
        !q.finish(&dead, &Finish::Done(serde_json::json!({"from": "old"})))
            .expect("fenced"),
        "the old claim cannot finish it"
    );
    assert!(
        q.finish(&taken, &Finish::Done(serde_json::json!({"from": "new"})))
            .expect("finish")
    );
    assert_eq!(
        q.job(job.id).expect("read").result,
        Some(serde_json::json!({"from": "new"}))
    );
}

fn failures_retry_then_stop(make: Make<'_>) {
    let q = make();
    let (retried, _) = q.enqueue(&ingest(1), None).expect("enqueue");
    for attempt in 1..=MAX_ATTEMPTS {
        let c = q.claim("w", LONG).expect("claim").expect("due again");
        assert_eq!((c.job.id, c.attempt), (retried.id, attempt));
        let retry = Finish::Retry {
            error: "disk full".into(),
            after: Duration::ZERO,
        };
        assert!(q.finish(&c, &retry).expect("finish"));
    }
    let job = q.job(retried.id).expect("read");
    assert_eq!(job.state, JobState::Dead);
    assert!(
        job.error
            .as_deref()
            .is_some_and(|e| e.contains("disk full")),
        "{job:?}"
    );

    // A retry waits its back-off; a job whose workers keep dying stops too.
    let (later, _) = q.enqueue(&ingest(2), None).expect("enqueue");
    let c = q.claim("w", LONG).expect("claim").expect("job");
    let wait = Finish::Retry {
        error: "busy".into(),
        after: LONG,
    };
    assert!(q.finish(&c, &wait).expect("finish"));
    assert_eq!(q.job(later.id).expect("read").state, JobState::Queued);
    let (poison, _) = q.enqueue(&ingest(3), None).expect("enqueue");
    for _ in 0..MAX_ATTEMPTS {
        let c = q.claim("w", Duration::ZERO).expect("claim").expect("job");
        assert_eq!(c.job.id, poison.id, "the retry is not due yet");
    }
    assert!(q.claim("w", LONG).expect("claim").is_none());
    let job = q.job(poison.id).expect("read");
    assert_eq!(job.state, JobState::Dead);
    assert!(
        job.error.as_deref().is_some_and(|e| e.contains("stopped")),
        "{job:?}"
    );

    let (failed, _) = q.enqueue(&ingest(4), None).expect("enqueue");
    let c = q.claim("w", LONG).expect("claim").expect("job");
    assert!(
        q.finish(&c, &Finish::Failed("not a dock file".into()))
            .expect("finish")
    );
    assert_eq!(q.job(failed.id).expect("read").state, JobState::Failed);
    assert!(q.claim("w", LONG).expect("claim").is_none());
}

fn concurrent_workers_never_take_one_job_twice(make: Make<'_>) {
    let q = make();
    for n in 0..60 {
        q.enqueue(&ingest(n), None).expect("enqueue");
    }
    let q = &*q;
    let claimed: Vec<Vec<u64>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    while let Some(c) = q.claim(&format!("w{w}"), LONG).expect("claim") {
                        mine.push(c.job.id);
                        assert!(
                            q.finish(&c, &Finish::Done(serde_json::json!(w)))
                                .expect("finish")
                        );
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let all: Vec<u64> = claimed.iter().flatten().copied().collect();
    let distinct: BTreeSet<u64> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "every job once");
    assert_eq!(distinct.len(), 60, "no job twice");
}
