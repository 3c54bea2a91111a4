//! The job queue in the PostgreSQL index's database: workers on any machine claim with
//! `FOR UPDATE SKIP LOCKED`, so they never wait on each other's claims or take the same job.

use std::time::Duration;

use postgres::Row;

use super::{
    Claim, Counts, Finish, Job, JobProgress, JobRow, JobSpec, JobState, Queue, finish_columns,
    millis, out_of_attempts, sql,
};
use crate::custody::postgres::{Pool, pg};
use crate::custody::{Page, PageRequest};
use crate::error::{Error, Result};

/// The database clock in milliseconds since the Unix epoch (leases never depend on a worker's
/// clock).
const NOW: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

/// The advisory lock key under which the queue's schema is made.
const SCHEMA_LOCK: i64 = 0x0062_7776_0002;

/// A [`Queue`] in a PostgreSQL database.
#[derive(Debug)]
pub struct PgQueue {
    pool: Pool,
}

fn job_row(row: &Row) -> Result<Job> {
    let get = |e| pg("read a job")(e);
    JobRow {
        id: row.try_get(0).map_err(get)?,
        spec: row.try_get(1).map_err(get)?,
        state: row.try_get(2).map_err(get)?,
        attempts: row.try_get(3).map_err(get)?,
        worker: row.try_get(4).map_err(get)?,
        result: row.try_get(5).map_err(get)?,
        error: row.try_get(6).map_err(get)?,
        created_ms: row.try_get(7).map_err(get)?,
        updated_ms: row.try_get(8).map_err(get)?,
        progress: row.try_get(9).map_err(get)?,
    }
    .into_job()
}

fn claim_of(job: Job) -> Claim {
    Claim {
        attempt: job.attempts,
        job,
    }
}

impl PgQueue {
    /// Connects to the database at `url`, making the queue's table if needed.
    pub fn open(url: &str, name: &str) -> Result<Self> {
        let queue = Self {
            pool: Pool::new(url, name)?,
        };
        let mut conn = queue.pool.get()?;
        let mut tx = conn.transaction().map_err(pg("make the job queue"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .and_then(|_| tx.batch_execute(&sql::schema("BIGSERIAL PRIMARY KEY")))
            .and_then(|()| tx.batch_execute(sql::ADD_PROGRESS))
            .map_err(pg(format!("make the job queue in {}", queue.pool.name())))?;
        tx.commit().map_err(pg("make the job queue"))?;
        drop(conn);
        Ok(queue)
    }

    fn one(
        &self,
        context: &str,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<Job>> {
        let rows = self.pool.get()?.query(sql, params).map_err(pg(context))?;
        rows.first().map(job_row).transpose()
    }

    fn changed(
        &self,
        context: &str,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<bool> {
        Ok(self.pool.get()?.execute(sql, params).map_err(pg(context))? == 1)
    }
}

impl Queue for PgQueue {
    fn enqueue(&self, spec: &JobSpec, key: Option<&str>) -> Result<(Job, bool)> {
        let text = serde_json::to_string(spec).map_err(|e| Error::Invalid(format!("job: {e}")))?;
        if let Some(job) = self.one(
            "enqueue a job",
            &sql::enqueue(NOW),
            &[&spec.kind(), &text, &key],
        )? {
            return Ok((job, true));
        }
        let existing = self.one("look up a job", &sql::by_key(), &[&key])?;
        existing
            .map(|job| (job, false))
            .ok_or_else(|| Error::Conflict(format!("job {key:?} could not be queued")))
    }

    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claim>> {
        loop {
            let claim = self.one(
                "claim a job",
                &sql::claim(NOW, "FOR UPDATE SKIP LOCKED"),
                &[&worker, &millis(lease)],
            )?;
            let Some(job) = claim else { return Ok(None) };
            if job.attempts <= super::MAX_ATTEMPTS {
                return Ok(Some(claim_of(job)));
            }
            let error = out_of_attempts(job.error.as_deref());
            self.changed(
                "stop a job",
                &sql::bury(NOW),
                &[&(job.id as i64), &i64::from(job.attempts), &error],
            )?;
        }
    }

    fn heartbeat(
        &self,
        claim: &Claim,
        lease: Duration,
        progress: Option<JobProgress>,
    ) -> Result<bool> {
        self.changed(
            &format!("renew the lease of job {}", claim.job.id),
            &sql::heartbeat(NOW),
            &[
                &(claim.job.id as i64),
                &i64::from(claim.attempt),
                &millis(lease),
                &progress.map(JobProgress::text),
            ],
        )
    }

    fn finish(&self, claim: &Claim, finish: &Finish) -> Result<bool> {
        let (state, error, result, delay) = finish_columns(finish, claim.attempt);
        self.changed(
            &format!("finish job {}", claim.job.id),
            &sql::finish(NOW),
            &[
                &(claim.job.id as i64),
                &i64::from(claim.attempt),
                &state.as_str(),
                &error,
                &result,
                &delay,
            ],
        )
    }

    fn job(&self, id: u64) -> Result<Job> {
        self.one("read a job", &sql::by_id(), &[&(id as i64)])?
            .ok_or_else(|| Error::NotFound(format!("no job {id}")))
    }

    fn jobs(&self, state: Option<JobState>, page: &PageRequest) -> Result<Page<Job>> {
        let (after, limit) = (
            crate::custody::backend::int_cursor(page)?,
            page.effective_limit(),
        );
        let rows = self
            .pool
            .get()?
            .query(
                &sql::page("$1::TEXT IS NULL"),
                &[
                    &state.map(JobState::as_str),
                    &after,
                    &(i64::from(limit) + 1),
                ],
            )
            .map_err(pg("list jobs"))?;
        let found = rows.iter().map(job_row).collect::<Result<Vec<_>>>()?;
        Ok(crate::custody::backend::paged(found, limit, |j| {
            j.id.to_string()
        }))
    }

    fn counts(&self) -> Result<Counts> {
        let rows = self
            .pool
            .get()?
            .query(sql::counts(), &[])
            .map_err(pg("count jobs"))?;
        let mut counts = Counts::new();
        for row in rows {
            let state: String = row.try_get(0).map_err(pg("count jobs"))?;
            let n: i64 = row.try_get(1).map_err(pg("count jobs"))?;
            if let Some(state) = JobState::parse(&state) {
                counts.insert(state, u64::try_from(n).unwrap_or(0));
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_postgres_queue_keeps_the_queue_contract() {
        super::super::conformance::suite(&|| {
            let url = crate::testutil::servers::postgres_fresh("queue");
            Box::new(super::PgQueue::open(&url, "test").expect("opens"))
        });
    }
}
