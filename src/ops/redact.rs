//! Redaction for disclosure as one operation: plan (detect and track, with a preview), render
//! from a logged plan, or both in one decode; every file it writes named and checked first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Ops;
use crate::custody::{Artefact, ArtefactKind, Event, EventDraft, EventKind, Recording};
use crate::digest::Digest;
use crate::error::{Error, Result, Stage};
use crate::redact::detect::Detector;
use crate::redact::plan::{self, Plan, PlanSettings};
use crate::redact::render::RenderSettings;
use crate::redact::{Redactor, Rendered};

/// What to do.
#[derive(Debug, Clone)]
pub struct RedactRequest {
    /// The recording (id, prefix or master SHA-256).
    pub recording: String,
    /// Write the plan here (its preview beside it). Without it, a run that plans keeps the
    /// plan and preview in the store (`HOME/plans/REC/`): the preview shows faces unblurred, so
    /// it never sits beside the disclosure copy.
    pub plan: Option<PathBuf>,
    /// Render this plan (a file `plan` wrote); needs `out`.
    pub render: Option<PathBuf>,
    /// The redacted copy to write. Without `render`, the run plans and renders in one decode.
    pub out: Option<PathBuf>,
    /// How the plan is made.
    pub plan_settings: PlanSettings,
    /// How the copy is rendered.
    pub render_settings: RenderSettings,
    /// Time without a decoded frame before a decode counts as stalled.
    pub stall: Duration,
    /// Where the decode's progress goes.
    pub progress: std::sync::Arc<dyn crate::progress::Progress>,
}

/// A plan made, and where it was written.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// Its file.
    pub path: PathBuf,
    /// The preview sheet (a labelled face crop per track).
    pub preview: PathBuf,
}

/// A copy rendered, and its report files.
#[derive(Debug, Clone)]
pub struct RenderedCopy {
    /// The copy as recorded.
    pub rendered: Rendered,
    /// `OUT.report.json`.
    pub report_json: PathBuf,
    /// `OUT.report.txt`, whose text is `summary`.
    pub report_txt: PathBuf,
    /// The one-page summary.
    pub summary: String,
}

/// What a redaction run did.
#[derive(Debug, Clone)]
pub struct RedactOutcome {
    /// The recording.
    pub recording: Recording,
    /// The plan, when this run made one.
    pub planned: Option<Planned>,
    /// The copy, when this run rendered one.
    pub rendered: Option<RenderedCopy>,
}

impl Ops<'_> {
    /// Plans, renders or both, as `request` says; `detector` is called only when a plan is
    /// made (loading the model takes a while). Refuses, before any work, a request that says
    /// nothing to do, a render without an output, and any file to write that exists already
    /// (or is a link) or is named twice. Every event is logged and sealed by a checkpoint.
    pub fn redact(
        &self,
        request: &RedactRequest,
        detector: &mut dyn FnMut() -> Result<(Detector, Digest)>,
    ) -> Result<RedactOutcome> {
        let invalid = |why: &str| Err(Error::Invalid(why.to_owned()));
        if request.plan.is_none() && request.out.is_none() {
            return invalid(
                "say what to do: --plan OUT.json, or --out FILE (with --render PLAN to use a plan)",
            );
        }
        if request.render.is_some() && request.out.is_none() {
            return invalid("--render needs --out FILE");
        }
        if request.render.is_some() && request.plan.is_some() {
            return invalid("a plan is made only without --render");
        }
        let rec = self.store.resolve(&request.recording)?;
        plan::check_recording(&rec)?;
        crate::media::init()?;
        // What killed runs left in the scratch folder (a half-made render) goes first.
        self.home.clear_abandoned()?;
        let redactor = Redactor {
            home: self.home,
            store: self.store,
            actor: self.actor,
            stall: request.stall,
            progress: std::sync::Arc::clone(&request.progress),
        };
        // Every file this run writes, named and checked before any work.
        let plan_files = request.render.is_none().then(|| {
            let path = request.plan.clone().unwrap_or_else(|| {
                let out = request.out.as_deref().unwrap_or(Path::new("out"));
                let name = out.file_name().unwrap_or_default();
                with_suffix(&self.home.plans(&rec.id).join(name), ".plan.json")
            });
            let preview = with_suffix(&path, ".preview.jpg");
            (path, preview)
        });
        let report_files = request.out.as_deref().map(|o| {
            (
                with_suffix(o, ".report.json"),
                with_suffix(o, ".report.txt"),
            )
        });
        let mut new_files: Vec<&Path> = request.out.as_deref().into_iter().collect();
        for (a, b) in plan_files.iter().chain(&report_files) {
            new_files.extend([a.as_path(), b.as_path()]);
        }
        check_new(&new_files)?;

        let settings = &request.render_settings;
        let (planned, rendered) = match (&request.render, &request.out, plan_files) {
            (Some(path), Some(out), _) => {
                let text = std::fs::read_to_string(path).map_err(Error::io(
                    path,
                    Stage::Redact,
                    "read",
                ))?;
                let plan: Plan = serde_json::from_str(&text).map_err(|e| {
                    Error::Invalid(format!(
                        "{} is not a bwv redaction plan: {e}",
                        path.display()
                    ))
                })?;
                if plan.format != plan::PLAN_FORMAT {
                    return Err(Error::Invalid(format!(
                        "{}: unknown plan format {:?}",
                        path.display(),
                        plan.format
                    )));
                }
                (None, Some(redactor.render(&rec, &plan, settings, out)?))
            }
            (None, out, Some((path, preview))) => {
                let (detector, model_sha) = detector()?;
                // With an output and no plan to read, one decode plans and renders.
                let (plan, tiles, rendered) = match out {
                    Some(out) => {
                        let (plan, tiles, rendered) = redactor.plan_and_render(
                            &rec,
                            detector,
                            model_sha,
                            &request.plan_settings,
                            settings,
                            out,
                        )?;
                        (plan, tiles, Some(rendered))
                    }
                    None => {
                        let (plan, tiles, _) =
                            redactor.plan(&rec, detector, model_sha, &request.plan_settings)?;
                        (plan, tiles, None)
                    }
                };
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(Error::io(
                        dir,
                        Stage::Output,
                        "create folder",
                    ))?;
                }
                plan::write_preview(&plan, &tiles, &preview)?;
                write_new(&path, (to_json(&plan)? + "\n").as_bytes())?;
                let planned = Planned {
                    plan,
                    path,
                    preview,
                };
                (Some(planned), rendered)
            }
            _ => return invalid("--render needs --out FILE"),
        };
        let rendered = match (rendered, report_files) {
            (Some(rendered), Some((report_json, report_txt))) => {
                write_new(&report_json, (to_json(&rendered.report)? + "\n").as_bytes())?;
                let summary = format!(
                    "bwv redaction of recording {}\noutput: {} ({} bytes, SHA-256 {})\n{}",
                    rec.id,
                    rendered.out.display(),
                    rendered.artefact.size,
                    rendered.artefact.sha256,
                    rendered.report.summary()
                );
                write_new(&report_txt, summary.as_bytes())?;
                Some(RenderedCopy {
                    rendered,
                    report_json,
                    report_txt,
                    summary,
                })
            }
            _ => None,
        };
        self.seal()?;
        Ok(RedactOutcome {
            recording: rec,
            planned,
            rendered,
        })
    }
}

impl Ops<'_> {
    /// Supersedes a redacted copy of a recording, named by its SHA-256 or a unique prefix of
    /// it: it is no longer exported or disclosed (a later render replaces it). The reason is
    /// kept in the index, its hash in the log.
    pub fn supersede(
        &self,
        reference: &str,
        copy: &str,
        reason: &str,
    ) -> Result<(Artefact, Event)> {
        if reason.trim().is_empty() {
            return Err(Error::Invalid(
                "say why the copy is superseded (--reason)".into(),
            ));
        }
        let rec = self.store.resolve(reference)?;
        let wanted = copy.to_ascii_lowercase();
        let mut found: Vec<Artefact> = self
            .store
            .artefacts(&rec.id)?
            .into_iter()
            .filter(|a| a.kind == ArtefactKind::Redacted && a.sha256.to_hex().starts_with(&wanted))
            .collect();
        let artefact = match (wanted.is_empty(), found.len()) {
            (false, 1) => found.remove(0),
            (false, 0) | (true, _) => {
                return Err(Error::NotFound(format!(
                    "recording {} has no redacted copy with SHA-256 {copy:?}",
                    rec.id
                )));
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "{copy:?} matches more than one redacted copy of {}; give more of its SHA-256",
                    rec.id
                )));
            }
        };
        let event = EventDraft::new(EventKind::RedactionSuperseded, Some(&rec.id), self.actor)
            .with("file_sha256", artefact.sha256)
            .with("reason_sha256", Digest::of(reason.as_bytes()));
        let event = self
            .store
            .supersede(&rec.id, &artefact.path, self.actor, reason, event)?;
        self.seal()?;
        Ok((artefact, event))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string_pretty(value)
        .map_err(|e| Error::Redact(format!("cannot write JSON: {e}")))
}

/// Writes a new file: never over an existing one (an output, a plan), nor through a link.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(Error::io(path, Stage::Output, "write"))
}

/// Refuses files that exist (or links, even broken ones) or that name the same file twice
/// (`--plan x.mp4 --out x.mp4`).
fn check_new(paths: &[&Path]) -> Result<()> {
    for (i, p) in paths.iter().enumerate() {
        if p.symlink_metadata().is_ok() {
            return Err(Error::Invalid(format!(
                "{} already exists; choose a new name",
                p.display()
            )));
        }
        if paths[..i].contains(p) {
            return Err(Error::Invalid(format!(
                "{} is named twice; choose a different name",
                p.display()
            )));
        }
    }
    Ok(())
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    p.with_file_name(format!("{stem}{suffix}"))
}
