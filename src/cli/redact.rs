//! `bwv redact REC --plan OUT.json` · `bwv redact REC --render PLAN --out FILE [...]` ·
//! `bwv redact REC --out FILE [...]` (plan and render with defaults)

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use bwv::config::Config;
use bwv::ops::{Ops, RedactRequest};
use bwv::redact::detect::{DetectSettings, Detector};
use bwv::redact::mask::Mode;
use bwv::redact::model::{self, EngineChoice, Weights};
use bwv::redact::plan::PlanSettings;
use bwv::redact::render::{Audio, KeepFrames, ManualBox, RenderSettings};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum EngineArg {
    /// ONNX Runtime when its library is present, else tract.
    Auto,
    /// ONNX Runtime.
    Ort,
    /// tract (pure Rust).
    Tract,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum WeightsArg {
    /// 8-bit with ONNX Runtime when setup made that model, else float.
    Auto,
    /// The 8-bit model (ONNX Runtime only).
    Int8,
    /// The float model as published.
    Float,
}

/// `--keep ID` or `--keep ID@FROM-TO`.
#[derive(Debug, Clone, Copy)]
pub enum KeepArg {
    /// The whole track.
    Track(u32),
    /// Some frames of it.
    Frames(KeepFrames),
}

impl std::str::FromStr for KeepArg {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        if text.contains('@') {
            text.parse().map(KeepArg::Frames)
        } else {
            text.trim()
                .parse()
                .map(KeepArg::Track)
                .map_err(|_| format!("{text:?} is not a track id, nor ID@FROM-TO (frames)"))
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    /// A smooth field of the region's colours, from a 1/16-scale copy (no detail survives).
    Blur,
    /// Large blocks, each its mean colour.
    Pixelate,
    /// Mid grey.
    Solid,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Blur => Mode::Blur,
            ModeArg::Pixelate => Mode::Pixelate,
            ModeArg::Solid => Mode::Solid,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recording id (or prefix, or master SHA-256).
    recording: String,
    /// Detect and track faces; write the plan here (and a preview sheet beside it).
    #[arg(long, conflicts_with = "render")]
    plan: Option<PathBuf>,
    /// Render this plan (from --plan).
    #[arg(long, required_if_eq("enqueue", "true"))]
    render: Option<PathBuf>,
    /// Queue the render for `bwv worker` (on this or another machine) instead of rendering
    /// here: the copy is kept in the store and recorded as made by you (`bwv export --file
    /// redacted` takes it out).
    #[arg(long, requires = "render", conflicts_with = "out")]
    enqueue: bool,
    /// The redacted MP4 to write (must not exist). Without --render, plans first.
    #[arg(long)]
    out: Option<PathBuf>,
    /// A track to leave visible (the requester): its id, or ID@FROM-TO to leave it visible
    /// over those frames only (a track that is someone else before or after); may repeat.
    #[arg(long)]
    keep: Vec<KeepArg>,
    /// How faces are hidden.
    #[arg(long, value_enum, default_value = "blur")]
    mode: ModeArg,
    /// Sound: keep (copy the AAC track untouched), drop, or mute:T0-T1[,T2-T3...] (seconds;
    /// the sound is re-encoded with silence over those ranges).
    #[arg(long, default_value = "keep")]
    audio: Audio,
    /// Extra area to hide: X,Y,W,H@T0-T1 (pixels, seconds); may repeat.
    #[arg(long = "box")]
    boxes: Vec<ManualBox>,
    /// Print what was done as JSON (the plan's file and tracks, the copy's file, hash, size and
    /// report files).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    detector: DetectorArgs,
}

/// How faces are found (shared by `redact` and `eval-redact`).
#[derive(Debug, clap::Args)]
pub struct DetectorArgs {
    /// Detector engine.
    #[arg(long, value_enum, default_value = "auto")]
    engine: EngineArg,
    /// Detector weights.
    #[arg(long, value_enum, default_value = "auto")]
    weights: WeightsArg,
    /// Run the detector on every N-th frame.
    #[arg(long, default_value_t = PlanSettings::default().detect_every)]
    detect_every: u64,
    /// Search the whole frame on every N-th detection frame; the ones between look only near
    /// the faces already followed (a new face is found at the next search and looked for back
    /// from there).
    #[arg(long, default_value_t = PlanSettings::default().search_every)]
    search_every: u64,
    /// Do not run the detector on the frame after a new face is found (by default it does, so
    /// fast faces are linked by their motion).
    #[arg(long)]
    no_confirm: bool,
    /// Do not look for a new face on the frames before the one it was found in (by default
    /// it does, so its mask starts where the face does).
    #[arg(long)]
    no_look_back: bool,
    /// Network pixels per frame pixel of a detector pass; repeat for several passes.
    #[arg(long = "scale", default_values_t = bwv::redact::detect::DEFAULT_SCALES)]
    scales: Vec<f32>,
    /// Do not take a second, closer look at small faces that score just under the threshold,
    /// or at small faces followed that the whole-frame pass misses (by default they are
    /// searched for again, zoomed in, and kept if found there).
    #[arg(long)]
    no_recheck: bool,
    /// The lowest score of a small face that gets a second, closer look.
    #[arg(long, default_value_t = DetectSettings::default().recheck_from)]
    recheck_from: f32,
    /// Folder with the face model and ONNX Runtime (from scripts/setup.sh). Without it, bwv
    /// looks beside its executable (models/), under its install prefix (share/bwv/models), and
    /// in the source checkout it was built from.
    #[arg(long, env = "BWV_MODELS")]
    models: Option<PathBuf>,
}

impl DetectorArgs {
    /// How the plan is made.
    pub fn plan_settings(&self) -> PlanSettings {
        PlanSettings {
            detect_every: self.detect_every.max(1),
            search_every: self.search_every.max(1),
            confirm_new: !self.no_confirm,
            look_back: !self.no_look_back,
            ..PlanSettings::default()
        }
    }
}

/// Loads the model and engine and builds the detector; returns it with the model's hash.
pub fn detector(
    args: &DetectorArgs,
    threads: usize,
) -> bwv::Result<(Detector, bwv::digest::Digest)> {
    let engine = match args.engine {
        EngineArg::Auto => EngineChoice::Auto,
        EngineArg::Ort => EngineChoice::Ort,
        EngineArg::Tract => EngineChoice::Tract,
    };
    let weights = match args.weights {
        WeightsArg::Auto => None,
        WeightsArg::Int8 => Some(Weights::Int8),
        WeightsArg::Float => Some(Weights::Float),
    };
    let mut settings = DetectSettings {
        scales: args.scales.clone(),
        ..DetectSettings::default()
    };
    settings.recheck_from = if args.no_recheck {
        0.0
    } else {
        args.recheck_from
    };
    model::detector(
        &model::model_folders(args.models.as_deref()),
        engine,
        weights,
        settings,
        threads,
    )
}

#[derive(Debug, clap::Args)]
pub struct SupersedeArgs {
    /// Recording id (or prefix, or master SHA-256).
    recording: String,
    /// The redacted copy: its SHA-256 or a unique prefix (from `bwv show REC`).
    copy: String,
    /// Why (kept in the index; its hash is logged).
    #[arg(long)]
    reason: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn supersede(config: &Config, args: SupersedeArgs) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let (copy, event) = Ops::new(&home, store.as_ref(), &config.actor).supersede(
        &args.recording,
        &args.copy,
        &args.reason,
    )?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"superseded": copy, "event": event}))?
        );
    } else {
        println!(
            "superseded {} ({}): no longer exported or disclosed (event {})",
            copy.path, copy.sha256, event.seq
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(config: &Config, args: Args) -> Result<ExitCode> {
    if args.render.is_some() && args.out.is_none() && !args.enqueue {
        anyhow::bail!("--render needs --out FILE (or --enqueue, for a worker)");
    }
    let (home, store) = super::open_store(config)?;
    let (mut keep, mut keep_frames) = (Vec::new(), Vec::new());
    for k in &args.keep {
        match *k {
            KeepArg::Track(id) => keep.push(id),
            KeepArg::Frames(f) => keep_frames.push(f),
        }
    }
    let settings = RenderSettings {
        mode: args.mode.into(),
        keep,
        keep_frames,
        audio: args.audio.clone(),
        boxes: args.boxes.clone(),
        ..RenderSettings::default()
    };
    if let (true, Some(path)) = (args.enqueue, &args.render) {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
        let plan: bwv::redact::plan::Plan = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a bwv redaction plan", path.display()))?;
        let rec = store.resolve(&args.recording)?;
        let spec = bwv::jobs::JobSpec::Render {
            recording: rec.id,
            plan_sha256: plan.digest(),
            settings,
            actor: config.actor.clone(),
        };
        return super::jobs::enqueue_one(config, spec, args.json);
    }
    let request = RedactRequest {
        recording: args.recording,
        plan: args.plan,
        render: args.render,
        out: args.out,
        plan_settings: args.detector.plan_settings(),
        render_settings: settings,
        stall: bwv::media::pipeline::DEFAULT_STALL_TIMEOUT,
        progress: std::sync::Arc::new(super::progress::Bars::one()),
    };
    let threads = bwv::config::default_jobs();
    let mut load = || detector(&args.detector, threads);
    let done = Ops::new(&home, store.as_ref(), &config.actor).redact(&request, &mut load)?;
    let rec = &done.recording;
    if args.json {
        let planned = done.planned.as_ref().map(|p| {
            serde_json::json!({
                "plan": p.path,
                "preview": p.preview,
                "tracks": p.plan.tracks.len(),
                "unmasked": p.plan.unmasked.len(),
            })
        });
        let rendered = done.rendered.as_ref().map(|r| {
            serde_json::json!({
                "out": r.rendered.out,
                "sha256": r.rendered.artefact.sha256,
                "size": r.rendered.artefact.size,
                "stored": r.rendered.artefact.path,
                "report": r.report_json,
                "summary": r.report_txt,
            })
        });
        let out =
            serde_json::json!({"recording": rec.id, "planned": planned, "rendered": rendered});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(p) = &done.planned {
        let plan = &p.plan;
        println!(
            "planned {}: {} track(s) over {} frames; plan {}, preview {}",
            rec.id,
            plan.tracks.len(),
            plan.frames,
            p.path.display(),
            p.preview.display()
        );
        for t in &plan.tracks {
            println!(
                "  track #{:<3} frames {:>6}-{:<6} detected in {:>5} best score {:.2}",
                t.id, t.first_frame, t.last_frame, t.detections, t.best_score
            );
        }
        if !plan.unmasked.is_empty() {
            println!(
                "  {} region(s) scored just under the threshold and are not masked: check \
                 them (\"unmasked\" in the plan; --box hides one that is a face)",
                plan.unmasked.len()
            );
        }
    }
    if let Some(r) = &done.rendered {
        print!("{}", r.summary);
    }
    Ok(ExitCode::SUCCESS)
}
