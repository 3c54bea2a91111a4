//! A durable job queue and the workers that drain it, so ingest, deep verification and
//! retention sweeps can run on any number of machines.
//!
//! A job is claimed with a **lease** (a time on the database's clock, never a worker's): the
//! worker renews it while it works ([`Queue::heartbeat`]), and a worker that dies stops renewing,
//! so once the lease ends another worker claims the job again. Each claim is an **attempt**; a
//! worker's result is accepted only while its attempt still holds the job (a fenced finish), so a
//! worker that lost its lease cannot overwrite the result of the one that took over. Jobs are
//! written to be safe to run again: an ingest of the same bytes resumes or finds a duplicate, a
//! sweep or verify of the same store decides the same. A job failing for a reason that may pass
//! (the store or server busy or unreachable, a full disk) is retried with back-off; after
//! [`MAX_ATTEMPTS`] attempts, or a failure that will not pass, it stops (`dead` or `failed`),
//! and `bwv jobs` shows why.
//!
//! Backends: [`postgres::PgQueue`] in the PostgreSQL index's database (claims with
//! `FOR UPDATE SKIP LOCKED`), [`sqlite::SqliteQueue`] in a file beside an SQLite index.

pub mod postgres;
pub mod sqlite;
pub mod worker;

#[cfg(test)]
mod conformance;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::custody::{IndexLocation, Page, PageRequest};
use crate::error::{Error, Result};

/// Attempts a job gets before it is dead. With the back-off between them ([`backoff`]: 2 s,
/// 4 s, ... at most 5 min) a job rides out about 13 minutes of trouble that may pass: an object
/// store or database restarting takes a minute or so (SeaweedFS here: 20-30 s a restart), and 5
/// attempts (30 s) let two restarts kill a batch's jobs.
pub const MAX_ATTEMPTS: u32 = 10;

/// What a job does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSpec {
    /// Ingest one dock file (and its sidecar).
    Ingest {
        /// The dock file, as every worker sees it (a shared folder).
        path: PathBuf,
        /// Its sidecar, if it has one.
        sidecar: Option<PathBuf>,
        /// What it points at, when it is a symbolic link (never followed: recorded as
        /// unreadable).
        #[serde(default)]
        link: Option<PathBuf>,
    },
    /// Verify one recording, or the whole store, deeply or not.
    Verify {
        /// One recording, or all.
        recording: Option<String>,
        /// Re-decode the masters too.
        deep: bool,
        /// Who asked for it (the `verified` event's actor; absent: `bwv-verify`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<String>,
    },
    /// Apply the retention policy.
    Sweep {
        /// The policy file, or the store's.
        policy: Option<PathBuf>,
    },
    /// Detect and track faces into a redaction plan (kept in the object store with its
    /// preview).
    Plan {
        /// The recording.
        recording: String,
        /// How the plan is made.
        settings: crate::redact::plan::PlanSettings,
        /// Who asked for it (the event's actor).
        actor: String,
    },
    /// Render a redacted copy from a logged plan (kept in the object store by its SHA-256),
    /// recorded as done by the person who asked for it.
    Render {
        /// The recording.
        recording: String,
        /// The plan's SHA-256 (as its `redaction_planned` event logged it).
        plan_sha256: crate::digest::Digest,
        /// Who is left visible, the fill, the sound, extra boxes.
        settings: crate::redact::render::RenderSettings,
        /// Who asked for it (the events' actor).
        actor: String,
    },
}

impl JobSpec {
    /// The stored kind name.
    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Ingest { .. } => "ingest",
            JobSpec::Verify { .. } => "verify",
            JobSpec::Sweep { .. } => "sweep",
            JobSpec::Plan { .. } => "plan",
            JobSpec::Render { .. } => "render",
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting (perhaps until a retry time).
    Queued,
    /// Claimed by a worker whose lease has not ended (or ended, and not yet claimed again).
    Running,
    /// Finished; `result` holds what it did.
    Done,
    /// Stopped by a failure that trying again will not mend; `error` says what.
    Failed,
    /// Stopped after [`MAX_ATTEMPTS`] attempts; `error` says the last failure.
    Dead,
}

impl JobState {
    /// Every state, in order.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Failed,
        JobState::Dead,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// How far a running job has got: `done` of `total` units (frames, for redaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JobProgress {
    /// Units done.
    pub done: u64,
    /// Units in all (0 when not known).
    pub total: u64,
}

impl JobProgress {
    /// The stored text, `DONE/TOTAL`.
    pub(crate) fn text(self) -> String {
        format!("{}/{}", self.done, self.total)
    }

    fn parse(text: &str) -> Option<Self> {
        let (done, total) = text.split_once('/')?;
        Some(Self {
            done: done.parse().ok()?,
            total: total.parse().ok()?,
        })
    }
}

/// A job as the queue holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Job {
    /// Queue-assigned id.
    pub id: u64,
    /// What it does.
    pub spec: JobSpec,
    /// Where it is.
    pub state: JobState,
    /// Claims so far.
    pub attempts: u32,
    /// The worker of the latest claim.
    pub worker: Option<String>,
    /// What it did, once done.
    pub result: Option<serde_json::Value>,
    /// The latest failure.
    pub error: Option<String>,
    /// How far its latest attempt got, as its worker last said.
    pub progress: Option<JobProgress>,
    /// When it was queued (milliseconds since the Unix epoch, the queue's clock).
    pub created_ms: i64,
    /// When it last changed state.
    pub updated_ms: i64,
}

/// A worker's hold on a job: valid while its attempt is the job's latest.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The job.
    pub job: Job,
    /// Which attempt this is (the job's `attempts` when claimed).
    pub attempt: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// Done, with what it did.
    Done(serde_json::Value),
    /// Failed for a reason that may pass: queued again after `after`, or dead after the last
    /// attempt.
    Retry {
        /// Why.
        error: String,
        /// How long to wait.
        after: Duration,
    },
    /// Failed for good.
    Failed(String),
}

/// Counts of jobs by state.
pub type Counts = std::collections::BTreeMap<JobState, u64>;

/// Jobs queued or running, from [`Queue::counts`].
pub fn pending(counts: &Counts) -> u64 {
    [JobState::Queued, JobState::Running]
        .iter()
        .filter_map(|s| counts.get(s))
        .sum()
}

/// A durable queue of jobs shared by workers.
pub trait Queue: Send + Sync + std::fmt::Debug {
    /// Adds a job unless one with the same `key` was ever added (then returns that one and
    /// `false`): a dock file enqueued twice is ingested once.
    fn enqueue(&self, spec: &JobSpec, key: Option<&str>) -> Result<(Job, bool)>;
    /// Claims the oldest job that is queued and due, or running with its lease ended, for
    /// `worker`, leased for `lease`. A job out of attempts is made dead instead of claimed.
    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claim>>;
    /// Extends the claim's lease, recording how far the job has got when `progress` says;
    /// `false` if the job is no longer this claim's.
    fn heartbeat(
        &self,
        claim: &Claim,
        lease: Duration,
        progress: Option<JobProgress>,
    ) -> Result<bool>;
    /// Records how the attempt ended; `false` (nothing changed) if the job is no longer this
    /// claim's.
    fn finish(&self, claim: &Claim, finish: &Finish) -> Result<bool>;
    /// One job.
    fn job(&self, id: u64) -> Result<Job>;
    /// A page of jobs, in one state or all, oldest first.
    fn jobs(&self, state: Option<JobState>, page: &PageRequest) -> Result<Page<Job>>;
    /// How many jobs are in each state.
    fn counts(&self) -> Result<Counts>;
}

/// The queue that goes with an index: in a PostgreSQL index's database, or in a file beside an
/// SQLite index (`index.jobs.sqlite` for `index.sqlite`).
pub fn open_queue(location: &IndexLocation) -> Result<Box<dyn Queue>> {
    match location {
        IndexLocation::Sqlite(path) => Ok(Box::new(sqlite::SqliteQueue::open(
            &path.with_extension("jobs.sqlite"),
        )?)),
        IndexLocation::Postgres(url) => Ok(Box::new(postgres::PgQueue::open(
            url,
            &location.to_string(),
        )?)),
    }
}

/// Queues the ingest of one dock file (absolute paths, so a worker anywhere finds it), once per
/// file version: `true` with the job when it is new, `false` with the one queued before.
pub fn enqueue_ingest(queue: &dyn Queue, item: &crate::ingest::DockItem) -> Result<(Job, bool)> {
    let absolute = |p: &std::path::Path| {
        std::path::absolute(p).map_err(Error::io(&item.path, crate::error::Stage::Scan, "resolve"))
    };
    let path = absolute(&item.path)?;
    let key = ingest_key(&path)?;
    let spec = JobSpec::Ingest {
        sidecar: item.sidecar.as_deref().map(absolute).transpose()?,
        link: item.link.clone(),
        path,
    };
    queue.enqueue(&spec, Some(&key))
}

/// The key that makes an ingest job once per dock file version: its path, size and
/// modification time (a file rewritten under the same name is a new job).
pub fn ingest_key(path: &std::path::Path) -> Result<String> {
    let meta = std::fs::symlink_metadata(path).map_err(Error::io(
        path,
        crate::error::Stage::Scan,
        "stat",
    ))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(format!("ingest:{}:{}:{mtime}", path.display(), meta.len()))
}

/// The back-off before attempt `attempt + 1`: 2 s, 4 s, 8 s ... at most 5 minutes.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(2u64.saturating_pow(attempt.clamp(1, 16)).min(300))
}

/// The stored row of a job, as both backends read it.
pub(crate) struct JobRow {
    pub id: i64,
    pub spec: String,
    pub state: String,
    pub attempts: i64,
    pub worker: Option<String>,
    pub result: Option<String>,
    pub error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub progress: Option<String>,
}

/// The job columns, in [`JobRow`]'s order.
pub(crate) const JOB_COLUMNS: &str =
    "id, spec, state, attempts, worker, result, error, created_ms, updated_ms, progress";

impl JobRow {
    pub(crate) fn into_job(self) -> Result<Job> {
        let bad = |what: &str| Error::Integrity(format!("job {}: {what}", self.id));
        Ok(Job {
            id: u64::try_from(self.id).map_err(|_| bad("negative id"))?,
            spec: serde_json::from_str(&self.spec).map_err(|e| bad(&e.to_string()))?,
            state: JobState::parse(&self.state).ok_or_else(|| bad("unknown state"))?,
            attempts: u32::try_from(self.attempts).map_err(|_| bad("bad attempt count"))?,
            worker: self.worker.clone(),
            result: self
                .result
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| bad(&e.to_string()))?,
            error: self.error.clone(),
            progress: self.progress.as_deref().and_then(JobProgress::parse),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
        })
    }
}

/// The state, error and result columns an attempt's end writes, and whether the job stays
/// due (the `run_after` delay in milliseconds) — shared by both backends.
pub(crate) fn finish_columns(
    finish: &Finish,
    attempt: u32,
) -> (JobState, Option<String>, Option<String>, i64) {
    match finish {
        Finish::Done(result) => (JobState::Done, None, Some(result.to_string()), 0),
        Finish::Failed(error) => (JobState::Failed, Some(error.clone()), None, 0),
        Finish::Retry { error, after } if attempt < MAX_ATTEMPTS => (
            JobState::Queued,
            Some(error.clone()),
            None,
            i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        ),
        Finish::Retry { error, .. } => (
            JobState::Dead,
            Some(format!("{error} (after {attempt} attempts)")),
            None,
            0,
        ),
    }
}

/// The error a job out of attempts is left with.
pub(crate) fn out_of_attempts(last: Option<&str>) -> String {
    format!(
        "its worker stopped (killed or lost) {MAX_ATTEMPTS} times{}",
        last.map(|e| format!("; last error: {e}"))
            .unwrap_or_default()
    )
}

/// Milliseconds as a database integer.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The queue's SQL, written once for both backends: `$n` parameters (SQLite's copy turns them
/// into `?n`), `now` the backend's expression for the database clock in milliseconds, and
/// `skip_locked` PostgreSQL's row-lock clause for claims (SQLite's writer lock serialises them).
pub(crate) mod sql {
    use super::JOB_COLUMNS;

    pub fn schema(id_column: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS jobs (
                id          {id_column},
                kind        TEXT NOT NULL,
                spec        TEXT NOT NULL,
                key         TEXT UNIQUE,
                state       TEXT NOT NULL
                            CHECK (state IN ('queued', 'running', 'done', 'failed', 'dead')),
                attempts    BIGINT NOT NULL DEFAULT 0,
                run_after   BIGINT NOT NULL,
                lease_until BIGINT,
                worker      TEXT,
                result      TEXT,
                error       TEXT,
                created_ms  BIGINT NOT NULL,
                updated_ms  BIGINT NOT NULL,
                progress    TEXT
            );
            CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, run_after);"
        )
    }

    /// Adds the progress column to a queue made before it existed (PostgreSQL; SQLite checks
    /// its table first).
    pub const ADD_PROGRESS: &str = "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS progress TEXT";

    pub fn enqueue(now: &str) -> String {
        format!(
            "INSERT INTO jobs (kind, spec, key, state, run_after, created_ms, updated_ms) \
             VALUES ($1, $2, $3, 'queued', {now}, {now}, {now}) \
             ON CONFLICT (key) DO NOTHING RETURNING {JOB_COLUMNS}"
        )
    }

    pub fn by_key() -> String {
        format!("SELECT {JOB_COLUMNS} FROM jobs WHERE key = $1")
    }

    pub fn by_id() -> String {
        format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1")
    }

    /// $1 worker, $2 lease in milliseconds.
    pub fn claim(now: &str, skip_locked: &str) -> String {
        format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = $1, \
             lease_until = {now} + $2, updated_ms = {now}, progress = NULL \
             WHERE id = (SELECT id FROM jobs WHERE (state = 'queued' AND run_after <= {now}) \
                 OR (state = 'running' AND lease_until <= {now}) ORDER BY id LIMIT 1 {skip_locked}) \
             RETURNING {JOB_COLUMNS}"
        )
    }

    /// $1 id, $2 attempt, $3 error.
    pub fn bury(now: &str) -> String {
        format!(
            "UPDATE jobs SET state = 'dead', error = $3, lease_until = NULL, updated_ms = {now} \
             WHERE id = $1 AND attempts = $2"
        )
    }

    /// $1 id, $2 attempt, $3 lease in milliseconds, $4 progress text or NULL (kept).
    pub fn heartbeat(now: &str) -> String {
        format!(
            "UPDATE jobs SET lease_until = {now} + $3, progress = COALESCE($4, progress) \
             WHERE id = $1 AND attempts = $2 AND state = 'running'"
        )
    }

    /// $1 id, $2 attempt, $3 state, $4 error, $5 result, $6 delay in milliseconds.
    pub fn finish(now: &str) -> String {
        format!(
            "UPDATE jobs SET state = $3, error = $4, result = $5, run_after = {now} + $6, \
             lease_until = NULL, updated_ms = {now} \
             WHERE id = $1 AND attempts = $2 AND state = 'running'"
        )
    }

    /// $1 state or NULL, $2 after id, $3 limit.
    pub fn page(state_is_null: &str) -> String {
        format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ({state_is_null} OR state = $1) AND id > $2 \
             ORDER BY id LIMIT $3"
        )
    }

    pub fn counts() -> &'static str {
        "SELECT state, COUNT(*) FROM jobs GROUP BY state"
    }
}
