//! `bwv bench [--clip FILE [--truth FILE]] [--seconds N] [--json]`: measures ingest and redaction
//! on one clip (by default generated 1080p30 footage with faces and its ground truth), stage by
//! stage: frames per second, real-time factor, CPU seconds and peak memory, plus the
//! redaction's recall. `--make-clip OUT` only writes the generated clip (and `OUT.json`, its
//! ground truth) for other benchmarks.
//!
//! Every stage runs in this process. CPU time is the process's (all threads) from
//! /proc/self/stat; peak memory is the resident high-water mark (VmHWM), reset before each stage
//! through /proc/self/clear_refs, so each stage's peak is its own.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::synth::{self, ClipSpec};
use anyhow::{Context, Result, bail};
use bwv::config::Config;
use bwv::progress::NoProgress;
use bwv::redact::Redactor;
use bwv::redact::render::RenderSettings;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::eval::{evaluate, read_truth, scratch_ingest};
use super::redact::DetectorArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Measure this clip instead of generated footage.
    #[arg(long)]
    clip: Option<PathBuf>,
    /// Ground truth for --clip (the JSON sidecar), to report the redaction's recall.
    #[arg(long, requires = "clip")]
    truth: Option<PathBuf>,
    /// Length of the generated clip, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Only generate the clip: write it here (and its ground truth beside it, as OUT.json).
    #[arg(long, conflicts_with = "clip")]
    make_clip: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    detector: DetectorArgs,
}

/// One stage's measurements.
#[derive(Debug, Clone, Serialize)]
struct Stage {
    stage: &'static str,
    frames: u64,
    seconds: f64,
    fps: f64,
    /// Footage seconds processed per wall-clock second.
    realtime: f64,
    cpu_seconds: f64,
    peak_mib: Option<f64>,
}

/// CPU seconds used by this process so far (user + system, all threads).
fn cpu_seconds() -> Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("read /proc/self/stat")?;
    // Fields after the command name (which may hold spaces) in parentheses: state is the 3rd
    // field, utime and stime the 14th and 15th, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .context("unexpected /proc/self/stat")
    };
    Ok((tick(11)? + tick(12)?) / 100.0)
}

/// Resets the resident-memory high-water mark (Linux ≥ 4.0).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The resident-memory high-water mark since the last reset, in MiB.
fn peak_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// A spinner with the stage's name and elapsed time, on a terminal only.
fn spinner(name: &str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>9} {spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_prefix(name.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

impl Stage {
    /// Its rates, for footage at `fps`.
    fn rated(self, fps: f64) -> Self {
        Self {
            fps: self.frames as f64 / self.seconds,
            realtime: self.frames as f64 / fps / self.seconds,
            ..self
        }
    }
}

/// Runs `f` as stage `name` (it returns the frames it handled); the rates are left to
/// [`Stage::rated`].
fn measure<T>(name: &'static str, f: impl FnOnce() -> Result<(T, u64)>) -> Result<(T, Stage)> {
    reset_peak();
    let (cpu0, started) = (cpu_seconds()?, Instant::now());
    let (value, frames) = f()?;
    let stage = Stage {
        stage: name,
        frames,
        seconds: started.elapsed().as_secs_f64(),
        fps: 0.0,
        realtime: 0.0,
        cpu_seconds: cpu_seconds()? - cpu0,
        peak_mib: peak_mib(),
    };
    Ok((value, stage))
}

/// Generates a clip of `seconds` at `out` (and its truth at `out`.json).
fn make_clip(seconds: f64, out: &Path) -> Result<(PathBuf, Stage)> {
    let spec = ClipSpec::hd(seconds);
    let bar = spinner("generate");
    let (truth, stage) = measure("generate", || {
        let truth = synth::make_clip(
            &spec,
            out,
            &|n| bar.set_message(format!("{n} frames")),
            bwv::media::pipeline::DEFAULT_STALL_TIMEOUT,
        )?;
        Ok((truth, spec.frames))
    })?;
    bar.finish_and_clear();
    let truth_path = PathBuf::from(format!("{}.json", out.display()));
    std::fs::write(&truth_path, serde_json::to_string(&truth)? + "\n")
        .with_context(|| format!("write {}", truth_path.display()))?;
    Ok((truth_path, stage.rated(f64::from(spec.fps))))
}

pub fn run(config: &Config, args: Args) -> Result<ExitCode> {
    if !(args.seconds > 0.0 && args.seconds <= 24.0 * 3600.0) {
        bail!("--seconds must be between 0 and 86400");
    }
    if let Some(out) = &args.make_clip {
        let (truth, stage) = make_clip(args.seconds, out)?;
        println!(
            "wrote {} ({} frames in {:.1} s) and its ground truth {}",
            out.display(),
            stage.frames,
            stage.seconds,
            truth.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let work = tempfile::tempdir().context("scratch folder")?;
    let mut stages = Vec::new();
    let (clip, truth) = match &args.clip {
        Some(clip) => (clip.clone(), args.truth.clone()),
        None => {
            let clip = work.path().join("bench-1080p30.mp4");
            let (truth, stage) = make_clip(args.seconds, &clip)?;
            stages.push(stage);
            (clip, Some(truth))
        }
    };

    let bar = spinner("ingest");
    let (scratch, ingest) = measure("ingest", || {
        let s = scratch_ingest(&clip, Arc::new(NoProgress))?;
        let frames = s.rec.media.as_ref().map_or(0, |m| m.frames);
        Ok((s, frames))
    })?;
    bar.finish_and_clear();
    // The frame rate is known once the clip is ingested.
    let media = scratch.rec.media.as_ref();
    let fps = media.map_or(30.0, |m| f64::from(m.fps_num) / f64::from(m.fps_den.max(1)));
    let footage = ingest.frames as f64 / fps;
    let ingest = ingest.rated(fps);

    let redactor = Redactor {
        home: &scratch.home,
        store: &scratch.store,
        actor: &config.actor,
        stall: bwv::media::pipeline::DEFAULT_STALL_TIMEOUT,
        progress: std::sync::Arc::new(bwv::progress::NoProgress),
    };
    let out = work.path().join("redacted.mp4");
    let bar = spinner("redact");
    let ((), redact) = measure("redact", || {
        let (detector, model_sha) =
            super::redact::detector(&args.detector, bwv::config::default_jobs())?;
        let plan = args.detector.plan_settings();
        let (_, _, done) = redactor.plan_and_render(
            &scratch.rec,
            detector,
            model_sha,
            &plan,
            &RenderSettings::default(),
            &out,
        )?;
        Ok(((), done.report.frames))
    })?;
    bar.finish_and_clear();

    let quality = match &truth {
        Some(t) => Some(evaluate(&clip, &out, &read_truth(t)?)?),
        None => None,
    };
    let redact = redact.rated(fps);
    let both = [&ingest, &redact];
    let total = Stage {
        stage: "ingest+redact",
        frames: ingest.frames,
        seconds: both.iter().map(|s| s.seconds).sum(),
        fps: 0.0,
        realtime: 0.0,
        cpu_seconds: both.iter().map(|s| s.cpu_seconds).sum(),
        peak_mib: both.iter().filter_map(|s| s.peak_mib).reduce(f64::max),
    }
    .rated(fps);
    let frames = total.frames;
    stages.extend([ingest, redact]);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // Every figure names the CPU it came from: the detector's kernels differ with it.
    let cpu = bwv::redact::model::cpu_features();
    if args.json {
        let v = serde_json::json!({
            "clip": clip, "frames": frames, "footage_seconds": footage,
            "width": media.map(|m| m.width), "height": media.map(|m| m.height),
            "cores": cores, "cpu": cpu,
            "stages": stages, "end_to_end": total, "redaction_quality": quality,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "clip {} ({}x{}, {:.1} s, {} frames) on {cores} core(s), {cpu}",
        clip.display(),
        media.map_or(0, |m| m.width),
        media.map_or(0, |m| m.height),
        footage,
        frames,
    );
    println!(
        "{:<9} {:>7} {:>8} {:>7} {:>10} {:>7} {:>8}",
        "stage", "frames", "seconds", "fps", "real time", "CPU s", "peak MiB"
    );
    for s in &stages {
        println!(
            "{:<9} {:>7} {:>8.2} {:>7.1} {:>9.2}x {:>7.2} {:>8}",
            s.stage,
            s.frames,
            s.seconds,
            s.fps,
            s.realtime,
            s.cpu_seconds,
            s.peak_mib.map_or("?".into(), |m| format!("{m:.0}"))
        );
    }
    println!(
        "ingest + redact: {:.2} s, {:.1} fps, {:.2}x real time, {:.2} CPU s, peak {} MiB",
        total.seconds,
        total.fps,
        total.realtime,
        total.cpu_seconds,
        total.peak_mib.map_or("?".into(), |m| format!("{m:.0}"))
    );
    if let Some(q) = quality {
        println!(
            "redaction: recall {:.2}% of {} face instances, longest exposed run {} frame(s), non-face pixels changed {:.3}%",
            100.0 * q.recall,
            q.faces,
            q.longest_exposed_run,
            q.non_face_changed_percent
        );
    }
    Ok(ExitCode::SUCCESS)
}
