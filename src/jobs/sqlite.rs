//! The job queue of an SQLite index, in a file of its own beside it: claims and finishes are
//! write transactions that take SQLite's one writer lock, so two workers never take one job.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, Row, TransactionBehavior, params};

use super::{
    Claim, Counts, Finish, Job, JobProgress, JobRow, JobSpec, JobState, Queue, finish_columns,
    millis, out_of_attempts, sql,
};
use crate::custody::{Page, PageRequest};
use crate::error::{Error, Result};

/// SQLite's clock in milliseconds since the Unix epoch.
const NOW: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";

/// A [`Queue`] in an SQLite file.
#[derive(Debug)]
pub struct SqliteQueue {
    conn: Mutex<Connection>,
    path: std::path::PathBuf,
}

/// The shared SQL with SQLite's `?n` parameters.
fn lite(sql: &str) -> String {
    sql.replace('$', "?")
}

fn job_row(row: &Row<'_>) -> rusqlite::Result<JobRow> {
    Ok(JobRow {
        id: row.get(0)?,
        spec: row.get(1)?,
        state: row.get(2)?,
        attempts: row.get(3)?,
        worker: row.get(4)?,
        result: row.get(5)?,
        error: row.get(6)?,
        created_ms: row.get(7)?,
        updated_ms: row.get(8)?,
        progress: row.get(9)?,
    })
}

impl SqliteQueue {
    /// Opens (making if needed) the queue file at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let ctx = || format!("open the job queue {}", path.display());
        let conn = Connection::open(path).map_err(Error::index(ctx()))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(Error::index(ctx()))?;
        // The schema's statements are each idempotent, and a new file's journal mode is set
        // under the busy timeout like any write.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; {}",
            sql::schema("INTEGER PRIMARY KEY")
        ))
        .map_err(Error::index(ctx()))?;
        // A queue made before jobs recorded their progress gains the column.
        let has_progress: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_table_info('jobs') WHERE name = 'progress')",
                [],
                |r| r.get(0),
            )
            .map_err(Error::index(ctx()))?;
        if !has_progress {
            match conn.execute_batch("ALTER TABLE jobs ADD COLUMN progress TEXT") {
                // Another process added it first.
                Err(e) if e.to_string().contains("duplicate column") => {}
                other => other.map_err(Error::index(ctx()))?,
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// Runs `f` in a write transaction.
    fn write<T>(
        &self,
        context: &str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let run = || -> rusqlite::Result<T> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(Error::index(format!("{context} ({})", self.path.display())))
    }

    fn rows(&self, context: &str, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Job>> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let run = || -> rusqlite::Result<Vec<JobRow>> {
            conn.prepare(&lite(sql))?
                .query_map(params, job_row)?
                .collect()
        };
        run()
            .map_err(Error::index(context.to_owned()))?
            .into_iter()
            .map(JobRow::into_job)
            .collect()
    }
}

fn first(
    tx: &rusqlite::Transaction<'_>,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Option<JobRow>> {
    let mut stmt = tx.prepare(&lite(sql))?;
    let mut rows = stmt.query_map(params, job_row)?;
    rows.next().transpose()
}

impl Queue for SqliteQueue {
    fn enqueue(&self, spec: &JobSpec, key: Option<&str>) -> Result<(Job, bool)> {
        let text = serde_json::to_string(spec).map_err(|e| Error::Invalid(format!("job: {e}")))?;
        let (row, new) = self.write("enqueue a job", |tx| {
            if let Some(row) = first(tx, &sql::enqueue(NOW), params![spec.kind(), text, key])? {
                return Ok((Some(row), true));
            }
            Ok((first(tx, &sql::by_key(), params![key])?, false))
        })?;
        let row = row.ok_or_else(|| Error::Conflict(format!("job {key:?} could not be queued")))?;
        Ok((row.into_job()?, new))
    }

    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claim>> {
        loop {
            let row = self.write("claim a job", |tx| {
                first(tx, &sql::claim(NOW, ""), params![worker, millis(lease)])
            })?;
            let Some(job) = row.map(JobRow::into_job).transpose()? else {
                return Ok(None);
            };
            if job.attempts <= super::MAX_ATTEMPTS {
                return Ok(Some(Claim {
                    attempt: job.attempts,
                    job,
                }));
            }
            let error = out_of_attempts(job.error.as_deref());
            self.write("stop a job", |tx| {
                tx.execute(
                    &lite(&sql::bury(NOW)),
                    params![job.id as i64, i64::from(job.attempts), error],
                )
            })?;
        }
    }

    fn heartbeat(
        &self,
        claim: &Claim,
        lease: Duration,
        progress: Option<JobProgress>,
    ) -> Result<bool> {
        let n = self.write("renew a lease", |tx| {
            tx.execute(
                &lite(&sql::heartbeat(NOW)),
                params![
                    claim.job.id as i64,
                    i64::from(claim.attempt),
                    millis(lease),
                    progress.map(JobProgress::text)
                ],
            )
        })?;
        Ok(n == 1)
    }

    fn finish(&self, claim: &Claim, finish: &Finish) -> Result<bool> {
        let (state, error, result, delay) = finish_columns(finish, claim.attempt);
        let n = self.write("finish a job", |tx| {
            tx.execute(
                &lite(&sql::finish(NOW)),
                params![
                    claim.job.id as i64,
                    i64::from(claim.attempt),
                    state.as_str(),
                    error,
                    result,
                    delay
                ],
            )
        })?;
        Ok(n == 1)
    }

    fn job(&self, id: u64) -> Result<Job> {
        self.rows("read a job", &sql::by_id(), params![id as i64])?
            .pop()
            .ok_or_else(|| Error::NotFound(format!("no job {id}")))
    }

    fn jobs(&self, state: Option<JobState>, page: &PageRequest) -> Result<Page<Job>> {
        let (after, limit) = (
            crate::custody::backend::int_cursor(page)?,
            page.effective_limit(),
        );
        let found = self.rows(
            "list jobs",
            &sql::page("$1 IS NULL"),
            params![state.map(JobState::as_str), after, i64::from(limit) + 1],
        )?;
        Ok(crate::custody::backend::paged(found, limit, |j| {
            j.id.to_string()
        }))
    }

    fn counts(&self) -> Result<Counts> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let run = || -> rusqlite::Result<Vec<(String, i64)>> {
            conn.prepare(sql::counts())?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        };
        let rows = run().map_err(Error::index("count jobs"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, n)| Some((JobState::parse(&s)?, u64::try_from(n).unwrap_or(0))))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sqlite_queue_keeps_the_queue_contract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let n = std::sync::atomic::AtomicU32::new(0);
        super::super::conformance::suite(&|| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::new(
                super::SqliteQueue::open(&dir.path().join(format!("q{i}.sqlite"))).expect("opens"),
            )
        });
    }

    #[test]
    fn a_queue_made_before_progress_was_kept_gains_it() {
        use super::super::{JobProgress, JobSpec, Queue};
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.jobs.sqlite");
        let old = super::sql::schema("INTEGER PRIMARY KEY")
            .replace(",\n                progress    TEXT", "");
        assert!(!old.contains("progress"), "the schema as it was");
        rusqlite::Connection::open(&path)
            .and_then(|c| c.execute_batch(&old))
            .expect("old queue");
        let q = super::SqliteQueue::open(&path).expect("opens and upgrades");
        super::SqliteQueue::open(&path).expect("opens again");
        q.enqueue(&JobSpec::Sweep { policy: None }, None)
            .expect("enqueue");
        let claim = q
            .claim("w", std::time::Duration::from_secs(60))
            .expect("claim")
            .expect("job");
        let p = JobProgress { done: 1, total: 2 };
        assert!(
            q.heartbeat(&claim, std::time::Duration::from_secs(60), Some(p))
                .expect("renew")
        );
        assert_eq!(q.job(claim.job.id).expect("read").progress, Some(p));
    }
}
