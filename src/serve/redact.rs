//! Redaction over the API, as jobs: a reviewer asks for a plan (detect and track faces), reads
//! its tracks and preview, and a disclosure officer renders a copy keeping named tracks visible,
//! each keep and extra box with its reason and legal basis. Plans and renders run on the
//! service's workers (or `bwv worker`s), so they outlive the request and the browser.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::api::{File, stream, visible};
use super::auth::Who;
use super::{ApiError, Service, blocking};
use crate::accounts::Permission;
use crate::digest::Digest;
use crate::error::Error;
use crate::jobs::{Job, JobSpec};
use crate::redact::plan::{Plan, PlanSettings};
use crate::redact::render::{Exemption, KeepFrames, ManualBox, RenderSettings};
use crate::redact::{LoggedPlan, logged_plans, stored_plan};

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::from(Error::Invalid(message.into()))
}

fn digest(text: &str) -> Result<Digest, ApiError> {
    Digest::from_hex(text)
        .ok_or_else(|| invalid(format!("{text:?} is not a SHA-256 (64 hex digits)")))
}

/// The plan `sha` of `recording` as its `redaction_planned` event logged it; a plan never
/// logged is not found.
pub(super) fn logged_plan(s: &Service, recording: &str, sha: &Digest) -> Result<LoggedPlan, Error> {
    let hex = sha.to_hex();
    logged_plans(s.store.as_ref(), recording)?
        .into_iter()
        .find(|p| p.plan_sha256 == hex)
        .ok_or_else(|| Error::NotFound(format!("recording {recording} has no logged plan {sha}")))
}

/// Queues a job unless the queue holds as many as the service allows.
pub(super) fn enqueue(s: &Service, spec: &JobSpec) -> Result<Job, ApiError> {
    let pending = crate::jobs::pending(&s.queue.counts()?);
    if pending >= s.settings.max_queued {
        return Err(ApiError::busy(format!(
            "{pending} jobs are queued or running, the service's limit: try again later"
        )));
    }
    Ok(s.queue.enqueue(spec, None)?.0)
}

pub(super) fn accepted(job: Job) -> Response {
    (StatusCode::ACCEPTED, Json(serde_json::json!({"job": job}))).into_response()
}

/// `GET /api/jobs/{id}`: a job's state, attempts, result or error.
pub async fn job(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<u64>,
) -> Result<Json<Job>, ApiError> {
    if !(who.account().role.allows(Permission::Plan)
        || who.account().role.allows(Permission::Verify))
    {
        return Err(ApiError::forbidden("this role runs no jobs"));
    }
    Ok(Json(
        blocking(&service, move |s| Ok(s.queue.job(id)?)).await?,
    ))
}

/// `GET /api/recordings/{id}/plans`: the logged plans, oldest first.
pub async fn plans(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<Vec<LoggedPlan>>, ApiError> {
    who.must(Permission::Plan, "read redaction plans")?;
    Ok(Json(
        blocking(&service, move |s| {
            let rec = visible(s, &who, &id)?;
            Ok(logged_plans(s.store.as_ref(), &rec.id)?)
        })
        .await?,
    ))
}

/// The body of `POST /api/recordings/{id}/plans`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Run the detector on every n-th frame (default 3).
    detect_every: Option<u64>,
}

/// `POST /api/recordings/{id}/plans {"detect_every"}`: queues a plan job (202 with the job).
pub async fn plan(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Result<Json<PlanRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Plan, "plan redactions")?;
    let Json(req) = body?;
    let mut settings = PlanSettings::default();
    if let Some(n) = req.detect_every {
        if !(1..=30).contains(&n) {
            return Err(invalid("detect_every: from 1 to 30"));
        }
        settings.detect_every = n;
    }
    let job = blocking(&service, move |s| {
        let rec = visible(s, &who, &id)?;
        crate::redact::plan::check_recording(&rec)?;
        enqueue(
            s,
            &JobSpec::Plan {
                recording: rec.id,
                settings,
                actor: who.name().to_owned(),
            },
        )
    })
    .await?;
    Ok(accepted(job))
}

/// `GET /api/recordings/{id}/plans/{sha}`: a logged plan (every track's box on every frame).
pub async fn plan_json(
    State(service): State<Arc<Service>>,
    who: Who,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Json<Plan>, ApiError> {
    who.must(Permission::Plan, "read redaction plans")?;
    let sha = digest(&sha)?;
    Ok(Json(
        blocking(&service, move |s| {
            let rec = visible(s, &who, &id)?;
            logged_plan(s, &rec.id, &sha)?;
            let plan = stored_plan(&s.home, &rec.id, &sha)?;
            s.ops(who.name()).access(&rec.id, "view_plan")?;
            Ok(plan)
        })
        .await?,
    ))
}

/// `GET /api/recordings/{id}/plans/{sha}/preview`: the plan's preview sheet (a crop of every
/// track's face, unblurred).
pub async fn preview(
    State(service): State<Arc<Service>>,
    who: Who,
    Path((id, sha)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    who.must(Permission::Plan, "read redaction plans")?;
    let sha = digest(&sha)?;
    stream(service, who, id, File::Preview(sha), request).await
}

/// `GET /api/recordings/{id}/redacted/{sha}`: a redacted copy, to check before disclosure.
pub async fn redacted(
    State(service): State<Arc<Service>>,
    who: Who,
    Path((id, sha)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    who.must(Permission::Plan, "view redacted copies")?;
    let sha = digest(&sha)?.to_hex();
    stream(service, who, id, File::Redacted(sha), request).await
}

/// A track left visible, and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keep {
    track: u32,
    /// With `to`: visible over these frames only (inclusive), masked elsewhere.
    #[serde(default)]
    from: Option<u64>,
    #[serde(default)]
    to: Option<u64>,
    reason: String,
    basis: String,
}

/// An extra box masked over a time range, and why.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraBox {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
    from_s: f64,
    to_s: f64,
    reason: String,
    basis: String,
}

/// The body of `POST /api/recordings/{id}/render`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderRequest {
    plan_sha256: String,
    #[serde(default)]
    keep: Vec<Keep>,
    #[serde(default)]
    boxes: Vec<ExtraBox>,
}

/// `POST /api/recordings/{id}/render {"plan_sha256", "keep": [{"track", "from"?, "to"?,
/// "reason", "basis"}],
/// "boxes": [{"x", "y", "w", "h", "from_s", "to_s", "reason", "basis"}]}`: queues a render of
/// a logged plan (202 with the job). Every keep and box needs its reason and legal basis.
pub async fn render(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Result<Json<RenderRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Disclose, "render redacted copies")?;
    let Json(req) = body?;
    let plan_sha256 = digest(&req.plan_sha256)?;
    let blank = |t: &str| t.trim().is_empty();
    let mut settings = RenderSettings::default();
    for k in &req.keep {
        if blank(&k.reason) || blank(&k.basis) {
            return Err(invalid(format!(
                "keeping track {} visible needs a reason and its legal basis",
                k.track
            )));
        }
        let what = match (k.from, k.to) {
            (None, None) => {
                settings.keep.push(k.track);
                format!("track {}", k.track)
            }
            (Some(from), Some(to)) if from <= to => {
                settings.keep_frames.push(KeepFrames {
                    track: k.track,
                    from,
                    to,
                });
                format!("track {} frames {from}-{to}", k.track)
            }
            _ => {
                return Err(invalid(format!(
                    "track {}: give both from and to (frames, from <= to), or neither",
                    k.track
                )));
            }
        };
        settings.exemptions.push(Exemption {
            what,
            reason: k.reason.clone(),
            basis: k.basis.clone(),
        });
    }
    for (i, b) in req.boxes.iter().enumerate() {
        if blank(&b.reason) || blank(&b.basis) {
            return Err(invalid(format!(
                "box {} needs a reason and its legal basis",
                i + 1
            )));
        }
        let sane = [b.x, b.y, b.w, b.h]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0)
            && b.w > 0.0
            && b.h > 0.0
            && b.from_s.is_finite()
            && b.to_s.is_finite()
            && 0.0 <= b.from_s
            && b.from_s <= b.to_s;
        if !sane {
            return Err(invalid(format!(
                "box {}: give x, y, w, h in pixels (w, h above 0) and 0 <= from_s <= to_s",
                i + 1
            )));
        }
        settings.boxes.push(ManualBox {
            x: b.x,
            y: b.y,
            w: b.w,
            h: b.h,
            from_s: b.from_s,
            to_s: b.to_s,
        });
        settings.exemptions.push(Exemption {
            what: format!("box {}", i + 1),
            reason: b.reason.clone(),
            basis: b.basis.clone(),
        });
    }
    let job = blocking(&service, move |s| {
        let rec = visible(s, &who, &id)?;
        crate::redact::plan::check_recording(&rec)?;
        let tracks = logged_plan(s, &rec.id, &plan_sha256)?.tracks;
        if let Some(k) = settings
            .keep
            .iter()
            .chain(settings.keep_frames.iter().map(|k| &k.track))
            .find(|k| u64::from(**k) > tracks || **k == 0)
        {
            return Err(invalid(format!("plan {plan_sha256} has no track {k}")));
        }
        enqueue(
            s,
            &JobSpec::Render {
                recording: rec.id,
                plan_sha256,
                settings,
                actor: who.name().to_owned(),
            },
        )
    })
    .await?;
    Ok(accepted(job))
}

/// The body of `POST /api/recordings/{id}/supersede`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupersedeRequest {
    /// The redacted copy's SHA-256 (or a unique prefix).
    copy_sha256: String,
    /// Why it is superseded.
    reason: String,
}

/// `POST /api/recordings/{id}/supersede {"copy_sha256", "reason"}` (disclosure): the copy is
/// no longer exported or disclosed, as `bwv supersede`.
pub async fn supersede(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Result<Json<SupersedeRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::Disclose, "supersede redacted copies")?;
    let Json(req) = body?;
    Ok(Json(
        blocking(&service, move |s| {
            let rec = visible(s, &who, &id)?;
            let (copy, event) =
                s.ops(who.name())
                    .supersede(&rec.id, &req.copy_sha256, &req.reason)?;
            Ok(serde_json::json!({"superseded": copy, "event": event}))
        })
        .await?,
    ))
}
