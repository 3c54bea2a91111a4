//! A worker: claims jobs from the queue and runs each through the same library flows as the CLI
//! (ingest, verify, sweep), renewing its lease while it works and signing a checkpoint after
//! each job.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Claim, Finish, JobProgress, JobSpec, Queue, backoff};
use crate::clock::Clock;
use crate::custody::Store;
use crate::custody::keys::LogKeys;
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::home::Home;
use crate::ingest::{self, DockItem, Ingest, ItemStatus};
use crate::ops::Ops;
use crate::ops::VERIFY_ACTOR;
use crate::redact::detect::Detector;
use crate::verify;

/// Actor name of a worker's own events (its jobs' events name the flows' actors).
pub const ACTOR: &str = "bwv-worker";

/// When a worker stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// When no job is queued or running anywhere (a job another worker holds is waited for:
    /// its worker may die and leave it to this one).
    Drained,
    /// Never: it waits for new jobs.
    Stopped,
}

/// What a worker did with one job.
#[derive(Debug, Clone, Serialize)]
pub struct Ran {
    /// The job.
    pub job: u64,
    /// Its kind.
    pub kind: &'static str,
    /// The attempt.
    pub attempt: u32,
    /// How it ended: done, retry (queued again), failed or dead (stopped for good).
    pub outcome: &'static str,
    /// The failure, if it failed.
    pub error: Option<String>,
    /// Whether the queue took the result (false: the lease was lost and the job is another
    /// worker's now).
    pub recorded: bool,
}

/// What a worker tells its caller as it goes.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Report {
    /// A job ended.
    Ran(Ran),
    /// The queue could not be reached (the server restarting, the network down): the worker
    /// waits `retry_in_ms` and tries again, as long as its patience lasts.
    Waiting {
        /// What failed.
        error: String,
        /// How long until the next try.
        retry_in_ms: u64,
    },
}

/// A worker and everything its jobs need, passed in.
pub struct Worker<'a> {
    /// How it names itself in the queue (e.g. host:pid).
    pub name: String,
    /// Where jobs come from.
    pub queue: &'a dyn Queue,
    /// The store's folders.
    pub home: &'a Home,
    /// The custody index.
    pub store: &'a dyn Store,
    /// Time source of the flows.
    pub clock: &'a dyn Clock,
    /// How long a claim lasts without renewal; renewed every third of it.
    pub lease: Duration,
    /// How long to wait before looking again when no job is due.
    pub idle: Duration,
    /// How long to keep trying while the queue cannot be reached before giving up.
    pub patience: Duration,
    /// Ingest settings.
    pub settings: &'a ingest::Settings,
    /// Loads the face detector for redaction plans; without it, plan jobs fail (this worker
    /// has no models folder).
    pub detector: Option<&'a LoadDetector>,
    /// Set to make the worker stop after the job it is running (a service shutting down).
    pub stop: Option<&'a AtomicBool>,
}

/// A worker's name by default: this machine's host name and the process id.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// How far a running job's decode has got, for its heartbeats.
#[derive(Debug, Default)]
pub struct Meter {
    done: AtomicU64,
    total: AtomicU64,
    started: AtomicBool,
}

impl Meter {
    /// The progress so far, once a decode has started.
    fn read(&self) -> Option<JobProgress> {
        self.started.load(Ordering::SeqCst).then(|| JobProgress {
            done: self.done.load(Ordering::SeqCst),
            total: self.total.load(Ordering::SeqCst),
        })
    }
}

impl crate::progress::Progress for Meter {
    fn event(&self, event: crate::progress::ProgressEvent) {
        use crate::progress::ProgressEvent as E;
        match event {
            E::Started { frames, .. } => {
                self.total.store(frames.unwrap_or(0), Ordering::SeqCst);
                self.done.store(0, Ordering::SeqCst);
                self.started.store(true, Ordering::SeqCst);
            }
            E::Frames { done, .. } => self.done.store(done, Ordering::SeqCst),
            E::Batch { .. } | E::Finished { .. } => {}
        }
    }
}

/// Loads a face detector and says its model's SHA-256.
pub type LoadDetector = dyn Fn() -> Result<(Detector, Digest)> + Send + Sync;

impl std::fmt::Debug for Worker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("home", &self.home)
            .field("lease", &self.lease)
            .field("detector", &self.detector.is_some())
            .finish_non_exhaustive()
    }
}

impl Worker<'_> {
    fn patiently<T>(
        &self,
        call: &dyn Fn() -> Result<T>,
        each: &mut dyn FnMut(&Report),
    ) -> Result<T> {
        patiently(self.patience, self.idle, call, each)
    }

    /// Claims and runs jobs until `until`; `each` sees every job as it ends, and every wait
    /// for the queue.
    pub fn run(&self, until: Until, each: &mut dyn FnMut(&Report)) -> Result<usize> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "bwv-worker-job".into())
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start a worker thread: {e}")))?;
        let mut ran = 0;
        loop {
            if self.stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                return Ok(ran);
            }
            let claimed = self.patiently(&|| self.queue.claim(&self.name, self.lease), each)?;
            let Some(claim) = claimed else {
                let counts = self.patiently(&|| self.queue.counts(), each)?;
                if until == Until::Drained && super::pending(&counts) == 0 {
                    return Ok(ran);
                }
                std::thread::sleep(self.idle);
                continue;
            };
            let meter = Arc::new(Meter::default());
            let finish = match self.with_heartbeat(&claim, &meter, || {
                self.run_job(&claim.job.spec, &pool, &meter)
            }) {
                // The pause grows with the attempts: 2 s, 4 s, 8 s ...
                Finish::Retry { error, .. } => Finish::Retry {
                    error,
                    after: backoff(claim.attempt),
                },
                other => other,
            };
            // A finish that cannot be recorded is left to the lease: the job runs again.
            let recorded = self.patiently(&|| self.queue.finish(&claim, &finish), each)?;
            ran += 1;
            let (outcome, error) = match &finish {
                Finish::Done(_) => ("done", None),
                Finish::Retry { error, .. } if claim.attempt >= super::MAX_ATTEMPTS => {
                    ("dead", Some(error.clone()))
                }
                Finish::Retry { error, .. } => ("retry", Some(error.clone())),
                Finish::Failed(error) => ("failed", Some(error.clone())),
            };
            each(&Report::Ran(Ran {
                job: claim.job.id,
                kind: claim.job.spec.kind(),
                attempt: claim.attempt,
                outcome,
                error,
                recorded,
            }));
        }
    }

    /// Runs `work` while a second thread renews the claim's lease every third of it, and
    /// records how far the job has got (`meter`) each second it has moved, and at its end.
    fn with_heartbeat(
        &self,
        claim: &Claim,
        meter: &Meter,
        work: impl FnOnce() -> Finish,
    ) -> Finish {
        let (done, stop) = channel::<()>();
        let tick = (self.lease / 3).min(Duration::from_secs(1));
        let finish = std::thread::scope(|s| {
            s.spawn(move || {
                let (mut renewed, mut sent) = (Instant::now(), None);
                while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(tick) {
                    let now = meter.read();
                    if renewed.elapsed() < self.lease / 3 && now == sent {
                        continue;
                    }
                    // A failed renewal is left to the lease: the finish is fenced anyway.
                    if !matches!(self.queue.heartbeat(claim, self.lease, now), Ok(true)) {
                        return;
                    }
                    (renewed, sent) = (Instant::now(), now);
                }
            });
            let finish = work();
            drop(done);
            finish
        });
        if let Some(last) = meter.read() {
            let _ = self.queue.heartbeat(claim, self.lease, Some(last));
        }
        finish
    }

    /// Runs one job and says how it ended: errors that may pass are retried (the caller sets
    /// the back-off).
    fn run_job(&self, spec: &JobSpec, pool: &rayon::ThreadPool, meter: &Arc<Meter>) -> Finish {
        let outcome = match spec {
            JobSpec::Ingest {
                path,
                sidecar,
                link,
            } => self.ingest(
                DockItem {
                    path: path.clone(),
                    sidecar: sidecar.clone(),
                    link: link.clone(),
                },
                pool,
                meter,
            ),
            JobSpec::Verify {
                recording,
                deep,
                actor,
            } => finish_of(self.verify(recording.clone(), *deep, actor.as_deref())),
            JobSpec::Render {
                recording,
                plan_sha256,
                settings,
                actor,
            } => finish_of(self.render(recording, plan_sha256, settings, actor, meter)),
            JobSpec::Plan {
                recording,
                settings,
                actor,
            } => finish_of(self.plan(recording, settings, actor, meter)),
            JobSpec::Sweep { policy } => finish_of(
                Ops::new(
                    self.home,
                    self.store,
                    crate::custody::retention::SWEEP_ACTOR,
                )
                .sweep(policy.as_deref(), self.clock.now(), false)
                .and_then(|r| to_json(&r)),
            ),
        };
        match Ops::new(self.home, self.store, ACTOR).seal() {
            Ok(_) => outcome,
            Err(e) => retry(format!("sign a checkpoint: {e}")),
        }
    }

    fn ingest(&self, item: DockItem, pool: &rayon::ThreadPool, meter: &Arc<Meter>) -> Finish {
        let run = || -> Result<ingest::ItemReport> {
            let _lock = self.home.lock_shared()?;
            let ingest = Ingest {
                home: self.home,
                store: self.store,
                clock: self.clock,
                settings: self.settings,
                progress: Arc::clone(meter) as Arc<dyn crate::progress::Progress>,
            };
            let mut reports = ingest.run(std::slice::from_ref(&item), pool, &|_| {})?;
            reports
                .pop()
                .ok_or_else(|| Error::Invalid("ingest gave no report".into()))
        };
        match run() {
            // A failed item was left to try again (a full disk, a busy store); quarantined
            // content is an outcome (its master is kept and the event logged).
            Ok(report) if report.status == ItemStatus::Failed => {
                retry(report.error.unwrap_or_else(|| "ingest failed".into()))
            }
            other => finish_of(other.and_then(|r| to_json(&r))),
        }
    }

    /// Renders from the plan kept in the object store, into scratch space: the copy is kept in
    /// the store and recorded (`bwv export --file redacted` takes it out).
    fn render(
        &self,
        recording: &str,
        plan_sha256: &crate::digest::Digest,
        settings: &crate::redact::render::RenderSettings,
        actor: &str,
        meter: &Arc<Meter>,
    ) -> Result<serde_json::Value> {
        let rec = self.store.resolve(recording)?;
        let scratch = self.home.scratch()?;
        let plan = crate::redact::stored_plan(self.home, &rec.id, plan_sha256)?;
        let rendered = self.redactor(actor, meter).render(
            &rec,
            &plan,
            settings,
            &scratch.path().join("copy.mp4"),
        )?;
        Ok(serde_json::json!({
            "recording": rec.id,
            "sha256": rendered.artefact.sha256,
            "size": rendered.artefact.size,
            "stored": rendered.artefact.path,
            "report": rendered.report,
        }))
    }

    /// The redaction flows, as done by `actor`, their progress going to `meter`.
    fn redactor<'b>(&'b self, actor: &'b str, meter: &Arc<Meter>) -> crate::redact::Redactor<'b> {
        crate::redact::Redactor {
            home: self.home,
            store: self.store,
            actor,
            stall: self.settings.stall_timeout,
            progress: Arc::clone(meter) as Arc<dyn crate::progress::Progress>,
        }
    }

    /// Detects and tracks faces into a plan, logged and kept in the object store with its
    /// preview sheet (`plans/<id>/<sha256>.preview.jpg`: it shows the faces unblurred, so it
    /// stays in the store).
    fn plan(
        &self,
        recording: &str,
        settings: &crate::redact::plan::PlanSettings,
        actor: &str,
        meter: &Arc<Meter>,
    ) -> Result<serde_json::Value> {
        let load = self.detector.ok_or_else(|| {
            Error::Invalid(format!(
                "worker {} has no face detector (no models folder): run plan jobs on a worker \
                 that has one",
                self.name
            ))
        })?;
        let rec = self.store.resolve(recording)?;
        crate::redact::plan::check_recording(&rec)?;
        crate::media::init()?;
        let (detector, model_sha) = load()?;
        let (plan, tiles, _) = self
            .redactor(actor, meter)
            .plan(&rec, detector, model_sha, settings)?;
        let sha = plan.digest();
        let scratch = self.home.scratch()?;
        let preview = scratch.path().join("preview.jpg");
        crate::redact::plan::write_preview(&plan, &tiles, &preview)?;
        let (preview_sha, _) = crate::digest::hash_file(&preview).map_err(Error::io(
            &preview,
            crate::error::Stage::Redact,
            "read",
        ))?;
        self.home
            .blobs()
            .put_once(&Home::preview_rel(&rec.id, &sha), &preview, &preview_sha)?;
        Ok(serde_json::json!({
            "recording": rec.id,
            "plan_sha256": sha,
            "tracks": plan.tracks.len(),
            "frames": plan.frames,
        }))
    }

    fn verify(
        &self,
        recording: Option<String>,
        deep: bool,
        actor: Option<&str>,
    ) -> Result<serde_json::Value> {
        let verifier = LogKeys::new(self.home.keys()).verifier()?;
        let one = recording.is_some();
        let opts = verify::Options {
            recording,
            deep,
            now: Some(self.clock.now()),
            ..Default::default()
        };
        let report = verify::verify(self.home, self.store, &verifier, &opts)?;
        Ops::new(self.home, self.store, actor.unwrap_or(VERIFY_ACTOR))
            .record_verified(&report, one, deep)?;
        Ok(serde_json::json!({
            "log_findings": report.log.findings.len(),
            "findings": report.findings.len(),
            "recordings": report.recordings.len(),
            "log_size": report.log.size,
        }))
    }
}

/// Calls `call`, riding out a server that cannot be reached for a while (a busy error: a
/// restart, the network down): each failure is reported and the call tried again after a pause
/// that starts at `pause` and doubles up to a minute, until `patience` has passed since the
/// first; other errors end it at once.
pub fn patiently<T>(
    patience: Duration,
    pause: Duration,
    call: &dyn Fn() -> Result<T>,
    each: &mut dyn FnMut(&Report),
) -> Result<T> {
    let started = std::time::Instant::now();
    let mut pause = pause.max(Duration::from_millis(100));
    loop {
        match call() {
            Err(e) if retryable(&e) && started.elapsed() < patience => {
                each(&Report::Waiting {
                    error: e.to_string(),
                    retry_in_ms: u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                });
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(60));
            }
            other => return other,
        }
    }
}

/// How a job that gave `result` ended: done, retried (a failure that may pass) or failed.
fn finish_of(result: Result<serde_json::Value>) -> Finish {
    match result {
        Ok(v) => Finish::Done(v),
        Err(e) if retryable(&e) => retry(e.to_string()),
        Err(e) => Finish::Failed(e.to_string()),
    }
}

/// A failure that may pass; the run loop sets its back-off from the attempt.
fn retry(error: String) -> Finish {
    Finish::Retry {
        error,
        after: Duration::ZERO,
    }
}

/// Whether trying again may succeed (the store busy or unreachable, a lock held, out of space).
fn retryable(e: &Error) -> bool {
    e.kind() == ErrorKind::Busy
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Invalid(format!("job result: {e}")))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::jobs::{Counts, Job, JobState, Queue};

    /// A queue whose server is unreachable for its first `down` calls.
    #[derive(Debug)]
    struct Flaky {
        inner: crate::jobs::sqlite::SqliteQueue,
        down: AtomicU32,
    }

    impl Flaky {
        fn up(&self) -> Result<()> {
            match self
                .down
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            {
                Ok(_) => Err(Error::Locked("the queue's server".into())),
                Err(_) => Ok(()),
            }
        }
    }

    impl Queue for Flaky {
        fn enqueue(&self, spec: &JobSpec, key: Option<&str>) -> Result<(Job, bool)> {
            self.inner.enqueue(spec, key)
        }
        fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claim>> {
            self.up()?;
            self.inner.claim(worker, lease)
        }
        fn heartbeat(
            &self,
            claim: &Claim,
            lease: Duration,
            progress: Option<JobProgress>,
        ) -> Result<bool> {
            self.inner.heartbeat(claim, lease, progress)
        }
        fn finish(&self, claim: &Claim, finish: &Finish) -> Result<bool> {
            self.up()?;
            self.inner.finish(claim, finish)
        }
        fn job(&self, id: u64) -> Result<Job> {
            self.inner.job(id)
        }
        fn jobs(
            &self,
            state: Option<JobState>,
            page: &crate::custody::PageRequest,
        ) -> Result<crate::custody::Page<Job>> {
            self.inner.jobs(state, page)
        }
        fn counts(&self) -> Result<Counts> {
            self.up()?;
            self.inner.counts()
        }
    }

    #[test]
    fn a_worker_waits_out_an_unreachable_queue_and_gives_up_only_after_its_patience() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::open(&dir.path().join("home")).expect("home");
        let clock = crate::clock::SystemClock;
        let store = crate::custody::sqlite::SqliteStore::open(&home.index(), Arc::new(clock))
            .expect("store");
        let queue = Flaky {
            inner: crate::jobs::sqlite::SqliteQueue::open(&dir.path().join("q.sqlite"))
                .expect("queue"),
            down: AtomicU32::new(3),
        };
        queue
            .enqueue(&JobSpec::Sweep { policy: None }, None)
            .expect("enqueue");
        let settings = ingest::Settings::default();
        let worker = |patience| Worker {
            name: "w".into(),
            queue: &queue,
            home: &home,
            store: &store,
            clock: &clock,
            lease: Duration::from_secs(60),
            idle: Duration::from_millis(1),
            patience,
            settings: &settings,
            detector: None,
            stop: None,
        };
        let mut reports = Vec::new();
        let ran = worker(Duration::from_secs(600))
            .run(Until::Drained, &mut |r| reports.push(r.clone()))
            .expect("the queue came back");
        assert_eq!(ran, 1);
        let waits = reports
            .iter()
            .filter(|r| matches!(r, Report::Waiting { .. }))
            .count();
        assert_eq!(waits, 3, "{reports:?}");
        assert!(matches!(reports.last(), Some(Report::Ran(r)) if r.outcome == "done"));

        // With no patience left, an unreachable queue ends the worker with its error.
        queue.down.store(1, Ordering::SeqCst);
        let e = worker(Duration::ZERO)
            .run(Until::Drained, &mut |_| {})
            .expect_err("gave up");
        assert_eq!(e.kind(), ErrorKind::Busy);
    }
}
