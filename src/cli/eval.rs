//! `bwv eval-redact CLIP TRUTH [--redacted FILE] [--json]`: redacts a clip with ground-truth face
//! boxes (the `make_clip.py` sidecar, or `bwv bench --make-clip`) in a scratch store, or takes
//! a copy another tool redacted, and measures recall, the longest exposed run and the non-face
//! pixels changed, decoding both files independently with ffmpeg.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bwv::clock::SystemClock;
use bwv::config::Config;
use bwv::custody::Recording;
use bwv::custody::Store as _;
use bwv::custody::sqlite::SqliteStore;
use bwv::home::Home;
use bwv::ingest::{self, Ingest, scan};
use bwv::progress::{NoProgress, Progress};
use bwv::redact::Redactor;
use bwv::redact::eval::{EvalReport, Evaluator, Truth};
use bwv::redact::render::RenderSettings;

use super::redact::DetectorArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The clip.
    clip: PathBuf,
    /// Its per-frame ground truth (JSON sidecar).
    truth: PathBuf,
    /// Measure this copy of the clip, redacted by another tool, instead of redacting it with
    /// bwv (a copy of another size is scaled to the clip's for the comparison).
    #[arg(long)]
    redacted: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// How faces are hidden.
    #[arg(long, value_enum, default_value = "blur")]
    mode: super::redact::ModeArg,
    #[command(flatten)]
    detector: DetectorArgs,
}

/// A store in a scratch folder holding one ingested clip.
pub struct Scratch {
    pub dir: tempfile::TempDir,
    pub home: Home,
    pub store: SqliteStore,
    pub rec: Recording,
}

/// Ingests `clip` into a fresh store in a scratch folder.
pub fn scratch_ingest(clip: &Path, progress: Arc<dyn Progress>) -> Result<Scratch> {
    let dir = tempfile::tempdir().context("scratch folder")?;
    let dock = dir.path().join("dock");
    std::fs::create_dir(&dock)?;
    let name = clip.file_name().context("clip has no file name")?;
    std::fs::copy(clip, dock.join(name)).with_context(|| format!("copy {}", clip.display()))?;
    bwv::media::init()?;
    let home = Home::open(&dir.path().join("home"))?;
    let store = SqliteStore::open(&home.index(), Arc::new(SystemClock))?;
    let (items, _) = scan::scan(&[dock], &[]);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let settings = ingest::Settings::default();
    let reports = Ingest {
        home: &home,
        store: &store,
        clock: &SystemClock,
        settings: &settings,
        progress,
    }
    .run(&items, &pool, &|_| {})?;
    let Some(id) = reports
        .first()
        .and_then(|r| r.id.clone())
        .filter(|_| !reports[0].is_failure())
    else {
        bail!(
            "{} could not be ingested: {:?}",
            clip.display(),
            reports.first().and_then(|r| r.error.clone())
        );
    };
    let rec = store.resolve(&id)?;
    Ok(Scratch {
        dir,
        home,
        store,
        rec,
    })
}

/// An ffmpeg process decoding `path` to packed 8-bit luma frames of `w`×`h`.
fn luma_frames(path: &Path, (w, h): (usize, usize)) -> Result<std::process::Child> {
    Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-vf", &format!("scale={w}:{h}")])
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .stdout(Stdio::piped())
        .spawn()
        .context("start ffmpeg (the evaluation decodes with ffmpeg, independently of bwv)")
}

/// Reads a ground-truth sidecar.
pub fn read_truth(path: &Path) -> Result<Truth> {
    serde_json::from_str(
        &std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?,
    )
    .with_context(|| format!("{} is not a ground-truth sidecar", path.display()))
}

/// Compares `redacted` with `clip` frame by frame against `truth`.
pub fn evaluate(clip: &Path, redacted: &Path, truth: &Truth) -> Result<EvalReport> {
    let (w, h) = (truth.width, truth.height);
    let (mut a, mut b) = (luma_frames(clip, (w, h))?, luma_frames(redacted, (w, h))?);
    let (mut sa, mut sb) = (
        a.stdout.take().context("ffmpeg stdout")?,
        b.stdout.take().context("ffmpeg stdout")?,
    );
    let by_frame: std::collections::HashMap<u64, &bwv::redact::eval::TruthFrame> =
        truth.frames.iter().map(|f| (f.frame, f)).collect();
    let mut eval = Evaluator::default();
    let (mut fa, mut fb) = (vec![0u8; w * h], vec![0u8; w * h]);
    let mut i = 0u64;
    let (in_clip, in_copy) = loop {
        match (
            sa.read_exact(&mut fa).is_ok(),
            sb.read_exact(&mut fb).is_ok(),
        ) {
            (true, true) => eval.frame(by_frame.get(&i).copied(), &fa, &fb, w, h),
            // Read each to its end: an ffmpeg left writing to a full pipe never exits.
            (ra, rb) => {
                break (
                    i + ra as u64 + frames_left(&mut sa, &mut fa),
                    i + rb as u64 + frames_left(&mut sb, &mut fb),
                );
            }
        }
        i += 1;
    };
    for (decoder, path) in [(&mut a, clip), (&mut b, redacted)] {
        let status = decoder.wait().context("wait for ffmpeg")?;
        if !status.success() {
            bail!("{}: ffmpeg could not decode it ({status})", path.display());
        }
    }
    if in_clip == 0 {
        bail!("{} decodes to no frames", clip.display());
    }
    if in_clip != in_copy {
        bail!(
            "{} decodes to {in_clip} frames and {} to {in_copy}: the copy must have every frame of the clip",
            clip.display(),
            redacted.display()
        );
    }
    Ok(eval.report())
}

/// The whole frames left in `stream`, read to its end with `buf` (a frame's size).
fn frames_left(stream: &mut impl std::io::Read, buf: &mut [u8]) -> u64 {
    std::iter::from_fn(|| stream.read_exact(buf).ok()).count() as u64
}

pub fn run(config: &Config, args: Args) -> Result<ExitCode> {
    let truth = read_truth(&args.truth)?;
    let (out, what, seconds, scratch) = match &args.redacted {
        Some(file) => (
            file.clone(),
            format!("{} (given)", file.display()),
            None,
            None,
        ),
        None => {
            let s = scratch_ingest(&args.clip, Arc::new(NoProgress))?;
            let redactor = Redactor {
                home: &s.home,
                store: &s.store,
                actor: &config.actor,
                stall: bwv::media::pipeline::DEFAULT_STALL_TIMEOUT,
                progress: std::sync::Arc::new(bwv::progress::NoProgress),
            };
            let (detector, model_sha) =
                super::redact::detector(&args.detector, bwv::config::default_jobs())?;
            let plan_settings = args.detector.plan_settings();
            let render_settings = RenderSettings {
                mode: args.mode.into(),
                ..RenderSettings::default()
            };
            let out = s.dir.path().join("redacted.mp4");
            // What `bwv redact REC --out FILE` does: plan and render in one decode.
            let started = Instant::now();
            let (plan, _, _) = redactor.plan_and_render(
                &s.rec,
                detector,
                model_sha,
                &plan_settings,
                &render_settings,
                &out,
            )?;
            let seconds = started.elapsed().as_secs_f64();
            if (plan.width as usize, plan.height as usize) != (truth.width, truth.height) {
                bail!(
                    "the truth is for {}x{}, the clip is {}x{}",
                    truth.width,
                    truth.height,
                    plan.width,
                    plan.height
                );
            }
            let what = format!(
                "bwv, {}, every {} frame(s), {} track(s)",
                plan.engine,
                plan.settings.detect_every,
                plan.tracks.len()
            );
            (out, what, Some(seconds), Some(s))
        }
    };
    let report = evaluate(&args.clip, &out, &truth)?;
    drop(scratch);
    if args.json {
        let v = serde_json::json!({
            "clip": args.clip, "redacted_by": what, "seconds": seconds,
            "fps": seconds.map(|s| report.frames as f64 / s), "metrics": report,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", summary(&args.clip, &what, seconds, &report, &truth));
    Ok(ExitCode::SUCCESS)
}

/// The readable evaluation, with each target marked.
pub fn summary(
    clip: &Path,
    what: &str,
    seconds: Option<f64>,
    report: &EvalReport,
    truth: &Truth,
) -> String {
    let mark = |ok: bool| if ok { "ok" } else { "MISSED" };
    let mut s = format!(
        "clip            {} ({} frames, {}x{})\nredacted by     {what}\n",
        clip.display(),
        report.frames,
        truth.width,
        truth.height
    );
    if let Some(seconds) = seconds {
        s += &format!(
            "time            {seconds:.1} s to plan and render ({:.1} fps)\n",
            report.frames as f64 / seconds
        );
    }
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
    s += &format!(
        "recall          {:.2}% ({} of {} face instances)  [target >= 99%: {}]\n\
         by face height  {}\n\
         longest exposed {} frame(s){}  [target <= 3: {}]\n\
         non-face change {:.3}% of pixels  [target < 0.5%: {}]\n",
        100.0 * report.recall,
        report.covered,
        report.faces,
        mark(report.recall >= 0.99),
        sizes.join(", "),
        report.longest_exposed_run,
        report
            .longest_exposed_id
            .map(|id| format!(" (face {id})"))
            .unwrap_or_default(),
        mark(report.longest_exposed_run <= 3),
        report.non_face_changed_percent,
        mark(report.non_face_changed_percent < 0.5)
    );
    s
}
