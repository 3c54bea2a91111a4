//! Subject access requests over the API: open, link footage, disclose a stored copy, close.
//! Only the disclosure role changes them; auditors read them.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::auth::Who;
use super::{ApiError, Service, blocking};
use crate::accounts::Permission;
use crate::custody::retention::MarkKind;
use crate::custody::{ArtefactKind, Page, PageRequest};
use crate::error::Error;
use crate::ops::SarRequest;

/// `GET /api/sars`: one page of requests.
pub async fn list(
    State(service): State<Arc<Service>>,
    who: Who,
) -> Result<Json<Page<crate::custody::sar::Sar>>, ApiError> {
    who.must(Permission::ReadSars, "read subject access requests")?;
    Ok(Json(
        blocking(&service, |s| {
            Ok(s.store
                .sars_page(&PageRequest::first(PageRequest::MAX_LIMIT))?)
        })
        .await?,
    ))
}

/// The body of `POST /api/sars`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    requester: String,
    /// YYYY-MM-DD.
    received: String,
    incident_time: Option<String>,
    location: Option<String>,
}

/// `POST /api/sars {"requester", "received", "incident_time", "location"}`.
pub async fn open(
    State(service): State<Arc<Service>>,
    who: Who,
    body: Result<Json<OpenRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Disclose, "open subject access requests")?;
    let Json(req) = body?;
    let received = req.received.parse().map_err(|_| {
        ApiError::from(Error::Invalid(format!(
            "received {:?}: write the date as YYYY-MM-DD",
            req.received
        )))
    })?;
    let opened = blocking(&service, move |s| {
        Ok(s.ops(who.name()).open_sar(SarRequest {
            requester: req.requester,
            received,
            incident_time: req.incident_time,
            location: req.location,
        })?)
    })
    .await?;
    Ok(super::created(
        serde_json::json!({"sar": opened.0, "event": opened.1}),
    ))
}

/// `GET /api/sars/{id}`: the request, the footage linked to it and its disclosures.
pub async fn show(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::ReadSars, "read subject access requests")?;
    Ok(Json(
        blocking(&service, move |s| {
            let sar = s.ops(who.name()).sar(&id)?;
            let linked: Vec<_> = s
                .store
                .marks(None)?
                .into_iter()
                .filter(|m| m.kind == MarkKind::Sar && m.reference == sar.id)
                .collect();
            Ok(serde_json::json!({
                "sar": sar,
                "linked": linked,
                "disclosures": s.store.disclosures(Some(&sar.id))?,
            }))
        })
        .await?,
    ))
}

/// The body of `POST /api/sars/{id}/link`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    recording: String,
}

/// `POST /api/sars/{id}/link {"recording"}`: holds the footage for the request.
pub async fn link(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Result<Json<LinkRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Disclose, "link footage to requests")?;
    let Json(req) = body?;
    let (sar, rec, mark) = blocking(&service, move |s| {
        Ok(s.ops(who.name()).link(&id, &req.recording)?)
    })
    .await?;
    Ok(super::created(
        serde_json::json!({"sar": sar.id, "recording": rec.id, "mark": mark}),
    ))
}

/// The body of `POST /api/sars/{id}/disclose`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscloseRequest {
    /// The recording whose file goes out.
    recording: String,
    /// The stored file's SHA-256: a redacted copy, or (with `unredacted_reason`) the master.
    file_sha256: String,
    /// Who receives it.
    recipient: String,
    /// Why a file that is not a redacted copy goes out as it is.
    unredacted_reason: Option<String>,
    /// The legal basis of the disclosure (required).
    basis: String,
}

/// `POST /api/sars/{id}/disclose {"recording", "file_sha256", "recipient", "basis",
/// "unredacted_reason"}`: records that a stored file went to the recipient. Only files the
/// store holds can be named: a redacted copy of linked footage, or its master with a reason.
pub async fn disclose(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
    body: Result<Json<DiscloseRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    who.must(Permission::Disclose, "disclose")?;
    let Json(req) = body?;
    if req.basis.trim().is_empty() {
        return Err(Error::Invalid("a disclosure needs its legal basis".into()).into());
    }
    let disclosed = blocking(&service, move |s| {
        let rec = s.store.resolve(&req.recording)?;
        let wanted = req.file_sha256.to_ascii_lowercase();
        let key = if rec.master_sha256.to_hex() == wanted {
            Some(rec.master_path.clone())
        } else {
            s.store
                .artefacts(&rec.id)?
                .into_iter()
                .find(|a| a.kind == ArtefactKind::Redacted && a.sha256.to_hex() == wanted)
                .map(|a| a.path)
        };
        let key = key.ok_or_else(|| {
            Error::NotFound(format!(
                "recording {} has no stored file with SHA-256 {:?}",
                rec.id, req.file_sha256
            ))
        })?;
        let scratch = s.home.scratch()?;
        let file = s.home.blobs().local(&key, scratch.path())?;
        Ok(s.ops(who.name()).disclose(
            &id,
            &file,
            &req.recipient,
            req.unredacted_reason.as_deref(),
            Some(&req.basis),
        )?)
    })
    .await?;
    Ok(super::created(
        serde_json::json!({"disclosure": disclosed.0, "event": disclosed.1}),
    ))
}

/// `POST /api/sars/{id}/close`: closes the request and releases its holds.
pub async fn close(
    State(service): State<Arc<Service>>,
    who: Who,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.must(Permission::Disclose, "close requests")?;
    let (sar, released) =
        blocking(&service, move |s| Ok(s.ops(who.name()).close_sar(&id)?)).await?;
    Ok(Json(
        serde_json::json!({"sar": sar.id, "released": released}),
    ))
}
