//! The JSON API's recording and log routes. Each checks the caller's role (and an officer's
//! ownership) before it reads or changes anything, and records every look at footage.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Who;
use super::{ApiError, Service, blocking};
use crate::accounts::Permission;
use crate::custody::keys::LogKeys;
use crate::custody::retention::MarkKind;
use crate::custody::{ArtefactKind, Page, PageRequest, Recording, RecordingQuery, log};
use crate::error::Error;
use crate::ops::Which;

/// `GET /api/health`: whether the index answers (no login needed; tells nothing else).
pub async fn health(
    State(service): State<Arc<Service>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let size = blocking(&service, |s| Ok(s.store.log_head()?.size())).await?;
    Ok(Json(serde_json::json!({"ok": true, "log_size": size})))
}

/// Any other path.
pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

fn invalid(message: String) -> ApiError {
    ApiError::from(Error::Invalid(message))
}

/// The filters of `GET /api/recordings`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    officer: Option<String>,
    device: Option<String>,
    from: Option<String>,
    to: Option<String>,
    case: Option<String>,
    flagged: Option<bool>,
    deleted: Option<bool>,
    limit: Option<u32>,
    after: Option<String>,
}

/// `GET /api/recordings?officer=&device=&from=&to=&case=&flagged=&deleted=&limit=&after=`:
/// one page of recordings (an officer's own only).
pub async fn list(
    State(service): State<Arc<Service>>,
    who: Who,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Recording>>, ApiError> {
    who.must(Permission::ReadRecordings, "list recordings")?;
    let Query(q) = query.map_err(|e| invalid(e.body_text()))?;
    let instant = |t: Option<String>| {
        t.map(|t| crate::clock::parse_instant(&t).map_err(invalid))
            .transpose()
    };
    let mut officer = q.officer;
    let account = who.account();
    if account.role.sees_only_own() {
        if officer.is_some() && officer != account.officer_id {
            return Err(ApiError::forbidden(format!(
                "officer {} may list only their own recordings",
                account.name
            )));
        }
        officer.clone_from(&account.officer_id);
    }
    let query = RecordingQuery {
        officer,
        device: q.device,
        recorded_from: instant(q.from)?,
        recorded_to: instant(q.to)?,
        case: q.case,
        flagged: q.flagged,
        deleted: q.deleted,
    };
    let page = PageRequest {
        after: q.after,
        limit: q.limit.unwrap_or(0),
    };
    Ok(Json(
        blocking(&service, move |s| {
            Ok(s.store.search_recordings(&query, &page)?)
        })
        .await?,
    ))
}

/// Resolves `reference` and refuses a recording the caller may not see.
pub(super) fn visible(s: &Service, who: &Who, reference: &str) -> Result<Recording, ApiError> {
    let rec = s.store.resolve(reference)?;
    who.may_see(&rec)?;
    Ok(rec)
}

/// `GET /api/recordings/{id}`: metadata, artefacts, marks and events (recorded as a look).
pub async fn show(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::ReadRecordings, "read recordings")?;
    Ok(Json(
        blocking(&service, move |s| {
            let rec = visible(s, &who, &id)?;
            s.ops(who.name()).access(&rec.id, "api_show")?;
            Ok(serde_json::json!({
                "damage": rec.media.as_ref().and_then(crate::custody::MediaInfo::damage),
                "recording": rec,
                "artefacts": s.store.artefacts(&rec.id)?,
                "marks": s.store.marks(Some(&rec.id))?,
                "events": crate::custody::named_events(
                    s.store.as_ref(),
                    s.store.events(Some(&rec.id))?,
                )?,
            }))
        })
        .await?,
    ))
}

/// Streams one of a recording's files (with range requests, so a player can seek), recording
/// the look as `action` when the request starts at the file's beginning (a player's later
/// range requests continue the same look).
pub(super) async fn stream(
    service: Arc<Service>,
    who: Who,
    id: String,
    file: File,
    request: Request,
) -> Result<Response, ApiError> {
    let starts = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|r| r.trim().starts_with("bytes=0-"));
    let wanted = file.clone();
    let (path, scratch, rec) = blocking(&service, move |s| {
        let file = wanted;
        let rec = visible(s, &who, &id)?;
        let artefact = |kind: ArtefactKind, sha: Option<&str>| -> Result<String, Error> {
            s.store
                .artefacts(&rec.id)?
                .into_iter()
                .find(|a| a.kind == kind && sha.is_none_or(|h| a.sha256.to_hex() == h))
                .map(|a| a.path)
                .ok_or_else(|| {
                    Error::NotFound(format!(
                        "recording {} has no such {}",
                        rec.id,
                        kind.as_str()
                    ))
                })
        };
        let key = match &file {
            File::Master => rec.master_path.clone(),
            File::Artefact(kind) => artefact(*kind, None)?,
            File::Redacted(sha) => artefact(ArtefactKind::Redacted, Some(sha))?,
            File::Preview(sha) => {
                super::redact::logged_plan(s, &rec.id, sha)?;
                crate::home::Home::preview_rel(&rec.id, sha)
            }
        };
        if rec.deletion.is_some() {
            return Err(Error::Conflict(format!(
                "recording {}'s files were deleted by retention",
                rec.id
            ))
            .into());
        }
        let scratch = s.home.scratch()?;
        let path = s.home.blobs().local(&key, scratch.path())?;
        if starts {
            s.ops(who.name()).access(&rec.id, file.action())?;
        }
        Ok((path, scratch, rec))
    })
    .await?;
    let attachment =
        matches!(file, File::Master).then(|| format!("{}-master{}", rec.id, extension(&rec)));
    send_file(&path, scratch, request, file.mime(), attachment).await
}

/// Answers `request` with the file at `path` (ranges included) as `mime`, offered for download
/// as `attachment` when named; `scratch` (where a copy fetched from the object store lies) goes
/// once the file is open.
async fn send_file(
    path: &std::path::Path,
    scratch: crate::home::Scratch,
    request: Request,
    mime: &'static str,
    attachment: Option<String>,
) -> Result<Response, ApiError> {
    let response = tower_http::services::ServeFile::new(path)
        .try_call(request)
        .await
        .map_err(|e| ApiError::from(Error::io(path, crate::error::Stage::Output, "read")(e)))?;
    drop(scratch);
    let mut response = response.map(Body::new);
    let h = response.headers_mut();
    if let Some(v) = attachment
        .and_then(|name| HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).ok())
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if response.status().is_success() {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    }
    Ok(response.into_response())
}

/// The dock file's extension, when it is a plain one.
fn extension(rec: &Recording) -> String {
    std::path::Path::new(&rec.source_name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| (1..=5).contains(&e.len()) && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .map_or_else(String::new, |e| format!(".{}", e.to_ascii_lowercase()))
}

/// Which file a stream serves.
#[derive(Debug, Clone)]
pub(super) enum File {
    /// The master.
    Master,
    /// The proxy or the contact sheet.
    Artefact(ArtefactKind),
    /// A redacted copy, by its SHA-256 (lowercase hex).
    Redacted(String),
    /// A logged plan's preview sheet, by the plan's SHA-256.
    Preview(crate::digest::Digest),
}

impl File {
    fn action(&self) -> &'static str {
        match self {
            File::Master => "download_master",
            File::Artefact(ArtefactKind::Proxy) => "play_proxy",
            File::Artefact(_) => "view_contact_sheet",
            File::Redacted(_) => "view_redacted",
            File::Preview(_) => "view_plan_preview",
        }
    }

    fn mime(&self) -> &'static str {
        match self {
            File::Master => "application/octet-stream",
            File::Artefact(ArtefactKind::Proxy) | File::Redacted(_) => "video/mp4",
            File::Artefact(_) | File::Preview(_) => "image/jpeg",
        }
    }
}

/// `GET /api/recordings/{id}/proxy`: the browser-playable copy.
pub async fn proxy(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    who.must(Permission::ViewFootage, "view footage")?;
    stream(
        service,
        who,
        id,
        File::Artefact(ArtefactKind::Proxy),
        request,
    )
    .await
}

/// `GET /api/recordings/{id}/contact-sheet`: every thumbnail on one JPEG.
pub async fn contact_sheet(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    who.must(Permission::ViewFootage, "view footage")?;
    stream(
        service,
        who,
        id,
        File::Artefact(ArtefactKind::ContactSheet),
        request,
    )
    .await
}

/// `GET /api/recordings/{id}/master`: the native master, byte-exact.
pub async fn master(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    who.must(Permission::DownloadMaster, "download masters")?;
    stream(service, who, id, File::Master, request).await
}

/// The body of `POST /api/recordings/{id}/flag`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagRequest {
    case: String,
    reason: String,
}

/// `POST /api/recordings/{id}/flag {"case", "reason"}`: flags it as evidence.
pub async fn flag(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Result<Json<FlagRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Flag, "flag recordings as evidence")?;
    let Json(req) = body?;
    let placed = blocking(&service, move |s| {
        let rec = visible(s, &who, &id)?;
        Ok(s.ops(who.name()).flag(&rec.id, &req.case, &req.reason)?)
    })
    .await?;
    Ok(super::created(
        serde_json::json!({"mark": placed.0, "event": placed.1}),
    ))
}

/// The body of `POST /api/recordings/{id}/hold` and `/release`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// sar, complaint, misconduct, other; for a release also evidence (then `reference` is the
    /// case, or every case when absent).
    kind: String,
    reference: Option<String>,
    reason: String,
}

fn mark_kind(kind: &str) -> Result<MarkKind, ApiError> {
    MarkKind::parse(kind).ok_or_else(|| {
        invalid(format!(
            "kind {kind:?}: one of evidence, sar, complaint, misconduct, other"
        ))
    })
}

/// `POST /api/recordings/{id}/hold {"kind", "reference", "reason"}`.
pub async fn hold(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Result<Json<HoldRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Hold, "place holds")?;
    let Json(req) = body?;
    let kind = mark_kind(&req.kind)?;
    let reference = req
        .reference
        .ok_or_else(|| invalid("a hold needs its reference".into()))?;
    let placed = blocking(&service, move |s| {
        let rec = visible(s, &who, &id)?;
        Ok(s.ops(who.name())
            .hold(&rec.id, kind, &reference, &req.reason)?)
    })
    .await?;
    Ok(super::created(
        serde_json::json!({"mark": placed.0, "event": placed.1}),
    ))
}

/// `POST /api/recordings/{id}/release {"kind", "reference", "reason"}`: lifts a hold, or
/// (kind evidence, as unflag) evidence flags.
pub async fn release(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Result<Json<HoldRequest>, JsonRejection>,
) -> Result<Json<crate::ops::Released>, ApiError> {
    let Json(req) = body?;
    let which = match mark_kind(&req.kind)? {
        MarkKind::Evidence => {
            who.must(Permission::Flag, "unflag recordings")?;
            Which::Flags {
                case: req.reference,
            }
        }
        kind => {
            who.must(Permission::Hold, "release holds")?;
            Which::Hold {
                kind,
                reference: req
                    .reference
                    .ok_or_else(|| invalid("a release of a hold needs its reference".into()))?,
            }
        }
    };
    Ok(Json(
        blocking(&service, move |s| {
            let rec = visible(s, &who, &id)?;
            Ok(s.ops(who.name()).release(&rec.id, &which, &req.reason)?)
        })
        .await?,
    ))
}

/// `GET /api/log/pubkey`: the log's verifier key, as `bwv log pubkey` prints it (no login:
/// whoever checks a proof needs it).
pub async fn pubkey(State(service): State<Arc<Service>>) -> Result<Response, ApiError> {
    let key = blocking(&service, |s| {
        Ok(LogKeys::new(s.home.keys()).verifier()?.encode())
    })
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        key + "\n",
    )
        .into_response())
}

/// `GET /api/log/checkpoint`: the latest signed checkpoint (the note's text).
pub async fn checkpoint(
    State(service): State<Arc<Service>>,
    who: Who,
) -> Result<Response, ApiError> {
    who.must(Permission::ReadLog, "read the log")?;
    let note = blocking(&service, |s| {
        let verifier = LogKeys::new(s.home.keys()).verifier()?;
        Ok(log::latest_checkpoint(s.store.as_ref(), &verifier)?.1)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response())
}

/// `GET /api/log/proof/{seq}`: an event's inclusion proof against the latest checkpoint, as
/// `bwv log prove` writes it (check it offline with `bwv-proof`).
pub async fn proof(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(seq): Path<u64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::ReadLog, "read the log")?;
    Ok(Json(
        blocking(&service, move |s| {
            let verifier = LogKeys::new(s.home.keys()).verifier()?;
            let proof = log::prove(s.store.as_ref(), &verifier, seq, None)?;
            serde_json::to_value(crate::custody::log::ProofDoc::Inclusion(proof))
                .map_err(|e| invalid(e.to_string()))
        })
        .await?,
    ))
}

/// The body of `POST /api/verify`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// One recording, or every one.
    recording: Option<String>,
    /// Re-decode the masters too (a job: 202 with it).
    #[serde(default)]
    deep: bool,
}

/// `POST /api/verify {"recording", "deep"}`: re-hashes the files and audits the log against
/// its signed checkpoints, as `bwv verify` does (the report is the same JSON), recorded as a
/// `verified` event of the caller. A deep verification re-decodes every master: it is queued
/// as a job (202), whose event is the caller's too.
pub async fn verify(
    State(service): State<Arc<Service>>,
    who: Who,
    body: Result<Json<VerifyRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Verify, "verify")?;
    let Json(req) = body?;
    if req.deep {
        let job = blocking(&service, move |s| {
            super::redact::enqueue(
                s,
                &crate::jobs::JobSpec::Verify {
                    recording: req.recording,
                    deep: true,
                    actor: Some(who.name().to_owned()),
                },
            )
        })
        .await?;
        return Ok(super::redact::accepted(job));
    }
    Ok(Json(
        blocking(&service, move |s| {
            let verifier = LogKeys::new(s.home.keys()).verifier()?;
            let opts = crate::verify::Options {
                recording: req.recording.clone(),
                deep: false,
                checkpoints: Vec::new(),
                stall_timeout: None,
                now: Some(s.clock.now()),
            };
            let report = crate::verify::verify(&s.home, s.store.as_ref(), &verifier, &opts)?;
            let ops = s.ops(who.name());
            ops.record_verified(&report, req.recording.is_some(), false)?;
            if report.ok {
                ops.seal()?;
            }
            Ok(report)
        })
        .await?,
    )
    .into_response())
}

/// `GET /api/recordings/{id}/frames`: every frame's index, stream time and SHA-256 (as
/// `bwv show --frames`), recorded as a look.
pub async fn frames(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    who.must(Permission::ReadRecordings, "read recordings")?;
    Ok(Json(
        blocking(&service, move |s| {
            let rec = visible(s, &who, &id)?;
            let artefacts = s.store.artefacts(&rec.id)?;
            let key = |kind| {
                artefacts
                    .iter()
                    .find(|a| a.kind == kind)
                    .map(|a| a.path.clone())
                    .ok_or_else(|| {
                        Error::NotFound(format!("recording {} has no frame hashes", rec.id))
                    })
            };
            let (hashes, times) = (
                key(ArtefactKind::FrameHashes)?,
                key(ArtefactKind::FrameTimes)?,
            );
            let scratch = s.home.scratch()?;
            let local = |k: &str| s.home.blobs().local(k, scratch.path());
            let frames = crate::stages::hash::read_frames(&local(&hashes)?, &local(&times)?)?;
            s.ops(who.name()).access(&rec.id, "show_frames")?;
            Ok(frames
                .into_iter()
                .map(|(i, pts, h)| serde_json::json!({"index": i, "pts_ns": pts, "sha256": h}))
                .collect())
        })
        .await?,
    ))
}

/// The body of `POST /api/log/consistency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyRequest {
    /// An older signed checkpoint, as `bwv log checkpoint` or `GET /api/log/checkpoint` gave it.
    checkpoint: String,
}

/// `POST /api/log/consistency {"checkpoint"}`: proof that an older checkpoint is a prefix of
/// the latest, as `bwv log consistency` writes it.
pub async fn consistency(
    State(service): State<Arc<Service>>,
    who: Who,
    body: Result<Json<ConsistencyRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::ReadLog, "read the log")?;
    let Json(req) = body?;
    Ok(Json(
        blocking(&service, move |s| {
            let verifier = LogKeys::new(s.home.keys()).verifier()?;
            let proof = log::consistency(s.store.as_ref(), &verifier, &req.checkpoint)?;
            serde_json::to_value(crate::custody::log::ProofDoc::Consistency(proof))
                .map_err(|e| invalid(e.to_string()))
        })
        .await?,
    ))
}

/// What `GET /api/recordings/{id}/export` bundles.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Kinds of file, comma-separated (`master,proxy,redacted`...); default as `bwv export`.
    files: Option<String>,
}

/// `GET /api/recordings/{id}/export?files=master,proxy,...`: the disclosure bundle `bwv export`
/// makes (files, manifest, a proof per event, the public key), as one tar file.
pub async fn export(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
    request: Request,
) -> Result<Response, ApiError> {
    who.must(Permission::DownloadMaster, "export bundles")?;
    let Query(q) = query.map_err(|e| invalid(e.body_text()))?;
    let files = match q.files {
        None => crate::export::default_files(),
        Some(list) => list
            .split(',')
            .map(|k| match k.trim() {
                "master" => Ok(crate::export::FileSpec::Master),
                other => ArtefactKind::parse(other)
                    .map(crate::export::FileSpec::Artefact)
                    .ok_or_else(|| invalid(format!("files: {other:?} is not a kind of file"))),
            })
            .collect::<Result<_, _>>()?,
    };
    let (tar, scratch, rec) = blocking(&service, move |s| {
        let rec = visible(s, &who, &id)?;
        let scratch = s.home.scratch()?;
        let (signer, _) = LogKeys::new(s.home.keys()).for_store(s.store.as_ref(), None)?;
        let name = format!("bwv-export-{}", rec.id);
        let folder = scratch.path().join(&name);
        crate::export::export(
            &s.home,
            s.store.as_ref(),
            &signer,
            &rec.id,
            &files,
            &folder,
            who.name(),
        )?;
        let tar = scratch.path().join(format!("{name}.tar"));
        let io = |e| Error::io(&tar, crate::error::Stage::Output, "write")(e);
        let mut builder = tar::Builder::new(std::fs::File::create(&tar).map_err(io)?);
        builder.append_dir_all(&name, &folder).map_err(io)?;
        builder
            .into_inner()
            .and_then(|f| f.sync_all())
            .map_err(io)?;
        Ok((tar, scratch, rec))
    })
    .await?;
    let name = format!("bwv-export-{}.tar", rec.id);
    send_file(&tar, scratch, request, "application/x-tar", Some(name)).await
}
