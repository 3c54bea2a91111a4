//! The store's administration over the API: the retention policy and its sweep (admin), the
//! job queue and the dock files that could not be read (auditor, admin).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Who;
use super::{ApiError, Service, blocking};
use crate::accounts::Permission;
use crate::custody::retention::Policy;
use crate::custody::{Page, PageRequest};
use crate::error::Error;
use crate::jobs::{Job, JobSpec, JobState};

/// `GET /api/policy`: the retention policy in force and its SHA-256 (as deletions log it).
pub async fn policy(
    State(service): State<Arc<Service>>,
    who: Who,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::ReadLog, "read the policy")?;
    let name = who.name().to_owned();
    Ok(Json(
        blocking(&service, move |s| {
            let p = s.ops(&name).policy()?;
            Ok(serde_json::json!({"policy": p, "policy_sha256": p.digest()}))
        })
        .await?,
    ))
}

/// `PUT /api/policy {"retention_days"}` (admin): sets it, logged as `policy_changed`.
pub async fn set_policy(
    State(service): State<Arc<Service>>,
    who: Who,
    body: Result<Json<Policy>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::ManagePolicy, "set the retention policy")?;
    let Json(policy) = body?;
    Ok(Json(
        blocking(&service, move |s| {
            let event = s.ops(who.name()).set_policy(&policy)?;
            Ok(serde_json::json!({"policy": policy, "event": event}))
        })
        .await?,
    ))
}

/// The body of `POST /api/retention/sweep`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// List what would be deleted; change nothing.
    #[serde(default)]
    dry_run: bool,
}

/// `POST /api/retention/sweep {"dry_run"}` (admin): a dry run answers at once; a sweep is
/// queued for the workers (202 with the job).
pub async fn sweep(
    State(service): State<Arc<Service>>,
    who: Who,
    body: Result<Json<SweepRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::ManagePolicy, "run the retention sweep")?;
    let Json(req) = body?;
    if req.dry_run {
        let report = blocking(&service, move |s| {
            Ok(s.ops(who.name()).sweep(None, s.clock.now(), true)?)
        })
        .await?;
        return Ok(Json(report).into_response());
    }
    let job = blocking(&service, |s| {
        super::redact::enqueue(s, &JobSpec::Sweep { policy: None })
    })
    .await?;
    Ok(super::redact::accepted(job))
}

/// The query of `GET /api/jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    state: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// `GET /api/jobs?state=&limit=&after=` (auditor, admin): a page of the queue's jobs.
pub async fn jobs(
    State(service): State<Arc<Service>>,
    who: Who,
    query: Result<Query<JobsQuery>, QueryRejection>,
) -> Result<Json<Page<Job>>, ApiError> {
    who.must(Permission::Verify, "list the job queue")?;
    let Query(q) = query.map_err(|e| ApiError::from(Error::Invalid(e.body_text())))?;
    let state = q
        .state
        .map(|s| {
            JobState::parse(&s).ok_or_else(|| {
                ApiError::from(Error::Invalid(format!(
                    "state {s:?}: one of queued, running, done, failed, dead"
                )))
            })
        })
        .transpose()?;
    let page = PageRequest {
        after: q.after,
        limit: q.limit.unwrap_or(0),
    };
    Ok(Json(
        blocking(&service, move |s| Ok(s.queue.jobs(state, &page)?)).await?,
    ))
}

/// `GET /api/unreadable` (auditor, admin): dock files that could not be read at all, with
/// their events (the paths are kept beside the log, which holds only their SHA-256).
pub async fn unreadable(
    State(service): State<Arc<Service>>,
    who: Who,
) -> Result<Json<Vec<crate::custody::UnreadableSource>>, ApiError> {
    who.must(Permission::Verify, "list unreadable dock files")?;
    Ok(Json(
        blocking(&service, |s| Ok(s.store.unreadable_sources()?)).await?,
    ))
}

/// `GET /api/ingest` (admin): the docks the service was given.
pub async fn docks(
    State(service): State<Arc<Service>>,
    who: Who,
) -> Result<Json<Vec<String>>, ApiError> {
    who.must(Permission::Ingest, "ingest")?;
    Ok(Json(
        service
            .settings
            .docks
            .iter()
            .map(|d| dock_name(d))
            .collect(),
    ))
}

fn dock_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The body of `POST /api/ingest`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestRequest {
    /// A dock's folder name, as `GET /api/ingest` lists it (never a path).
    dock: String,
}

/// `POST /api/ingest {"dock"}` (admin): queues the ingest of every file in one of the docks
/// the service was given (`bwv serve --dock DIR`), once per file version, as
/// `bwv ingest --enqueue` does; workers ingest them. 202 with the jobs.
pub async fn ingest(
    State(service): State<Arc<Service>>,
    who: Who,
    body: Result<Json<IngestRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Ingest, "ingest")?;
    let Json(req) = body?;
    let dock = service
        .settings
        .docks
        .iter()
        .find(|d| dock_name(d) == req.dock)
        .cloned()
        .ok_or_else(|| {
            ApiError::from(Error::NotFound(format!(
                "no dock {:?}: GET /api/ingest lists the docks this service was given",
                req.dock
            )))
        })?;
    let queued = blocking(&service, move |s| {
        let (items, errors) =
            crate::ingest::scan::scan(std::slice::from_ref(&dock), &[s.home.root().to_owned()]);
        let mut jobs = Vec::new();
        for item in &items {
            let (job, new) = crate::jobs::enqueue_ingest(s.queue.as_ref(), item)?;
            jobs.push(serde_json::json!({"source": item.path, "job": job.id, "new": new}));
        }
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        Ok(serde_json::json!({"dock": req.dock, "jobs": jobs, "errors": errors}))
    })
    .await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(queued)).into_response())
}
