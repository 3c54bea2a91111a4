//! `bwv eval-redact CLIP TRUTH [--json]`: redacts a clip with ground-truth face boxes (the
//! `make_clip.py` sidecar) in a scratch store and measures recall, the longest exposed run and
//! the non-face pixels changed, decoding both files independently with ffmpeg.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bwv::clock::SystemClock;
use bwv::config::Config;
use bwv::custody::Store as _;
use bwv::custody::sqlite::SqliteStore;
use bwv::home::Home;
use bwv::ingest::{self, Ingest, scan};
use bwv::progress::NoProgress;
use bwv::redact::Redactor;
use bwv::redact::eval::{Evaluator, Truth};
use bwv::redact::plan::PlanSettings;
use bwv::redact::render::RenderSettings;

use super::redact::DetectorArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The clip.
    clip: PathBuf,
    /// Its per-frame ground truth (JSON sidecar).
    truth: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// How faces are hidden.
    #[arg(long, value_enum, default_value = "blur")]
    mode: super::redact::ModeArg,
    #[command(flatten)]
    detector: DetectorArgs,
}

/// An ffmpeg process decoding `path` to packed 8-bit luma frames.
fn luma_frames(path: &Path) -> Result<std::process::Child> {
    Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .context("start ffmpeg (the evaluation decodes with ffmpeg, independently of bwv)")
}

pub fn run(config: &Config, args: Args) -> Result<ExitCode> {
    let truth: Truth = serde_json::from_str(
        &std::fs::read_to_string(&args.truth)
            .with_context(|| format!("read {}", args.truth.display()))?,
    )
    .with_context(|| format!("{} is not a ground-truth sidecar", args.truth.display()))?;
    let scratch = tempfile::tempdir().context("scratch folder")?;
    let dock = scratch.path().join("dock");
    std::fs::create_dir(&dock)?;
    let name = args.clip.file_name().context("clip has no file name")?;
    std::fs::copy(&args.clip, dock.join(name))
        .with_context(|| format!("copy {}", args.clip.display()))?;

    bwv::media::init()?;
    let home = Home::open(&scratch.path().join("home"))?;
    let store = SqliteStore::open(&home.index(), Arc::new(SystemClock))?;
    let (items, _) = scan::scan(&[dock]);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let settings = ingest::Settings::default();
    let reports = Ingest {
        home: &home,
        store: &store,
        clock: &SystemClock,
        settings: &settings,
        progress: Arc::new(NoProgress),
    }
    .run(&items, &pool, &|_| {});
    let Some(id) = reports
        .first()
        .and_then(|r| r.id.clone())
        .filter(|_| !reports[0].is_failure())
    else {
        bail!(
            "{} could not be ingested: {:?}",
            args.clip.display(),
            reports.first().and_then(|r| r.error.clone())
        );
    };
    let rec = store.resolve(&id)?;

    let redactor = Redactor {
        home: &home,
        store: &store,
        actor: &config.actor,
        stall: bwv::media::pipeline::DEFAULT_STALL_TIMEOUT,
    };
    let (detector, model_sha) =
        super::redact::detector(&args.detector, bwv::config::default_jobs())?;
    let plan_settings = PlanSettings {
        detect_every: args.detector.detect_every.max(1),
        ..PlanSettings::default()
    };
    let engine = detector.engine();
    let out = scratch.path().join("redacted.mp4");
    let render_settings = RenderSettings {
        mode: args.mode.into(),
        ..RenderSettings::default()
    };
    // What `bwv redact REC --out FILE` does: plan and render in one decode.
    let started = Instant::now();
    let (plan, _, _) = redactor.plan_and_render(
        &rec,
        detector,
        model_sha,
        &plan_settings,
        &render_settings,
        &out,
    )?;
    let seconds = started.elapsed().as_secs_f64();

    let (w, h) = (plan.width as usize, plan.height as usize);
    if (w, h) != (truth.width, truth.height) {
        bail!(
            "the truth is for {}x{}, the clip is {w}x{h}",
            truth.width,
            truth.height
        );
    }
    let (mut a, mut b) = (luma_frames(&args.clip)?, luma_frames(&out)?);
    let (mut sa, mut sb) = (
        a.stdout.take().context("ffmpeg stdout")?,
        b.stdout.take().context("ffmpeg stdout")?,
    );
    let by_frame: std::collections::HashMap<u64, &bwv::redact::eval::TruthFrame> =
        truth.frames.iter().map(|f| (f.frame, f)).collect();
    let mut eval = Evaluator::default();
    let (mut fa, mut fb) = (vec![0u8; w * h], vec![0u8; w * h]);
    let mut i = 0u64;
    while sa.read_exact(&mut fa).is_ok() && sb.read_exact(&mut fb).is_ok() {
        eval.frame(by_frame.get(&i).copied(), &fa, &fb, w, h);
        i += 1;
    }
    let _ = (a.wait(), b.wait());
    let report = eval.report();
    if args.json {
        let v = serde_json::json!({
            "clip": args.clip, "engine": engine, "tracks": plan.tracks.len(),
            "seconds": seconds, "fps": report.frames as f64 / seconds, "metrics": report,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
    println!(
        "clip            {} ({} frames, {w}x{h})",
        args.clip.display(),
        report.frames
    );
    println!(
        "detector        {engine}, every {} frame(s), {} track(s)",
        plan.settings.detect_every,
        plan.tracks.len()
    );
    println!(
        "time            {seconds:.1} s to plan and render ({:.1} fps)",
        report.frames as f64 / seconds
    );
    println!(
        "recall          {:.2}% ({} of {} face instances)  [target >= 99%: {}]",
        100.0 * report.recall,
        report.covered,
        report.faces,
        mark(report.recall >= 0.99)
    );
    let sizes: Vec<String> = report
        .by_height
        .iter()
        .filter(|b| b.faces > 0)
        .map(|b| {
            format!(
                "{} px {:.1}% of {}",
                b.heights,
                100.0 * b.covered as f64 / b.faces as f64,
                b.faces
            )
        })
        .collect();
    println!("by face height  {}", sizes.join(", "));
    println!(
        "longest exposed {} frame(s){}  [target <= 3: {}]",
        report.longest_exposed_run,
        report
            .longest_exposed_id
            .map(|id| format!(" (face {id})"))
            .unwrap_or_default(),
        mark(report.longest_exposed_run <= 3)
    );
    println!(
        "non-face change {:.3}% of pixels  [target < 0.5%: {}]",
        report.non_face_changed_percent,
        mark(report.non_face_changed_percent < 0.5)
    );
    Ok(ExitCode::SUCCESS)
}
