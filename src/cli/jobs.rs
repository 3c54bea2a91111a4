//! `bwv worker` (drain the job queue) and `bwv jobs` (what is queued, running, done or stopped).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use bwv::config::Config;
use bwv::custody::PageRequest;
use bwv::custody::keys::LogKeys;
use bwv::jobs::worker::{Report, Until, Worker, patiently};
use bwv::jobs::{JobState, open_queue};

use super::shown;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// How this worker names itself in the queue (default: HOSTNAME:PID).
    #[arg(long)]
    name: Option<String>,
    /// Seconds a claimed job stays this worker's without renewal (renewed every third of it);
    /// a worker that dies leaves its job to another once this has passed.
    #[arg(long, default_value_t = 60.0)]
    lease: f64,
    /// Seconds to wait before looking again when no job is due.
    #[arg(long, default_value_t = 1.0)]
    idle: f64,
    /// Stop once no job is queued or running anywhere (default: keep waiting for jobs).
    #[arg(long)]
    drain: bool,
    /// Seconds to keep trying while the queue's server cannot be reached (restarting, the
    /// network down) before giving up.
    #[arg(long, default_value_t = 600.0)]
    patience: f64,
    /// Print one JSON object per job on stdout.
    #[arg(long)]
    json: bool,
    /// Seconds without a decoded frame before a file counts as stalled.
    #[arg(long, default_value_t = bwv::media::pipeline::DEFAULT_STALL_TIMEOUT.as_secs())]
    stall_timeout: u64,
    /// Folder with the face model and ONNX Runtime, for plan jobs (see `bwv redact --models`).
    #[arg(long, env = "BWV_MODELS")]
    models: Option<std::path::PathBuf>,
    /// Testing aid: abort at a named point of an ingest job.
    #[arg(long, env = "BWV_CRASH_AT", hide = true)]
    crash_at: Option<String>,
}

/// Loads the face detector with its default settings for plan jobs, from `models` or the
/// usual folders, when a job needs it.
pub fn detector_loader(
    models: Option<std::path::PathBuf>,
) -> impl Fn() -> bwv::Result<(bwv::redact::detect::Detector, bwv::digest::Digest)> + Send + Sync {
    let folders = bwv::redact::model::model_folders(models.as_deref());
    move || {
        bwv::redact::model::detector(
            &folders,
            bwv::redact::model::EngineChoice::Auto,
            None,
            bwv::redact::detect::DetectSettings::default(),
            bwv::config::default_jobs(),
        )
    }
}

fn seconds(what: &str, s: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("--{what} {s} is not a positive number of seconds"))
}

pub fn worker(config: &Config, args: WorkerArgs) -> Result<ExitCode> {
    let lease = seconds("lease", args.lease)?;
    let idle = seconds("idle", args.idle)?;
    let patience = seconds("patience", args.patience)?;
    let waiting = |report: &Report| {
        if let Report::Waiting { error, retry_in_ms } = report {
            eprintln!(
                "bwv: the index or job queue cannot be reached ({}); trying again in {:.1} s",
                shown(error),
                *retry_in_ms as f64 / 1000.0
            );
        }
    };
    // A worker started while a server restarts waits for it, as a running one does. One
    // without the log's key is refused before it takes a job whose events it could not seal.
    let open = || {
        let (home, store) = super::open_home_and_index(config)?;
        LogKeys::new(home.keys()).check_for_store(store.as_ref())?;
        Ok((home, store))
    };
    let (home, store) = patiently(patience, idle, &open, &mut |r| waiting(r))?;
    let queue = patiently(patience, idle, &|| open_queue(&config.index), &mut |r| {
        waiting(r)
    })?;
    bwv::media::init()?;
    home.clear_abandoned()?;
    let name = args.name.unwrap_or_else(bwv::jobs::worker::default_name);
    let load = detector_loader(args.models.clone());
    let settings = bwv::ingest::Settings {
        stall_timeout: Duration::from_secs(args.stall_timeout.max(1)),
        crash_at: args.crash_at,
        ..Default::default()
    };
    let worker = Worker {
        name,
        queue: queue.as_ref(),
        home: &home,
        store: store.as_ref(),
        clock: config.clock.as_ref(),
        lease,
        idle,
        patience,
        settings: &settings,
        detector: Some(&load),
        stop: None,
    };
    let until = if args.drain {
        Until::Drained
    } else {
        Until::Stopped
    };
    let mut failed = 0usize;
    let ran = worker.run(until, &mut |report| {
        let Report::Ran(r) = report else {
            return waiting(report);
        };
        // A job queued again is not a failure (yet): the exit code counts jobs stopped for good.
        if matches!(r.outcome, "failed" | "dead") {
            failed += 1;
        }
        if args.json {
            if let Ok(line) = serde_json::to_string(r) {
                println!("{line}");
            }
        } else {
            let error = r
                .error
                .as_deref()
                .map(|e| format!(": {}", shown(e)))
                .unwrap_or_default();
            println!(
                "job {} {} attempt {}: {}{error}",
                r.job, r.kind, r.attempt, r.outcome
            );
        }
    })?;
    if !args.json {
        eprintln!("bwv: worker ran {ran} job(s)");
    }
    Ok(if failed > 0 {
        ExitCode::from(super::EXIT_ITEMS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Debug, clap::Args)]
pub struct JobsArgs {
    /// Only jobs in this state (queued, running, done, failed, dead).
    #[arg(long, value_parser = state_arg)]
    state: Option<JobState>,
    /// Largest number of jobs to list.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// List the jobs after this one (the previous page's last id).
    #[arg(long)]
    after: Option<String>,
    /// Print JSON: the counts by state and the page of jobs.
    #[arg(long)]
    json: bool,
}

fn state_arg(text: &str) -> std::result::Result<JobState, String> {
    JobState::parse(text).ok_or_else(|| {
        format!("{text:?} is not a job state: queued, running, done, failed or dead")
    })
}

pub fn jobs(config: &Config, args: JobsArgs) -> Result<ExitCode> {
    // A mistyped --home or --index is an error, not a new, empty queue.
    drop(super::open_store(config)?);
    let queue = open_queue(&config.index)?;
    let counts = queue.counts()?;
    let page = queue.jobs(
        args.state,
        &PageRequest {
            after: args.after,
            limit: args.limit,
        },
    )?;
    if args.json {
        let counts: serde_json::Map<String, serde_json::Value> = JobState::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_owned(),
                    counts.get(s).copied().unwrap_or(0).into(),
                )
            })
            .collect();
        let out = serde_json::json!({"counts": counts, "jobs": page.items, "next": page.next});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let summary: Vec<String> = JobState::ALL
        .iter()
        .map(|s| format!("{} {}", counts.get(s).copied().unwrap_or(0), s.as_str()))
        .collect();
    println!("{}", summary.join(", "));
    for job in &page.items {
        let what = match &job.spec {
            bwv::jobs::JobSpec::Ingest { path, .. } => path.display().to_string(),
            bwv::jobs::JobSpec::Verify {
                recording, deep, ..
            } => format!(
                "{}{}",
                recording.as_deref().unwrap_or("all"),
                if *deep { " (deep)" } else { "" }
            ),
            bwv::jobs::JobSpec::Sweep { policy } => policy
                .as_ref()
                .map_or("store policy".into(), |p| p.display().to_string()),
            bwv::jobs::JobSpec::Plan {
                recording, actor, ..
            } => format!("{recording} for {actor}"),
            bwv::jobs::JobSpec::Render {
                recording,
                plan_sha256,
                actor,
                ..
            } => format!("{recording} plan {plan_sha256} for {actor}"),
        };
        let progress = match job.progress {
            Some(p) if job.state == JobState::Running && p.total > 0 => {
                format!(
                    "  {}% ({}/{} frames)",
                    p.done * 100 / p.total,
                    p.done,
                    p.total
                )
            }
            _ => String::new(),
        };
        let error = job
            .error
            .as_deref()
            .map(|e| format!("  {}", shown(e)))
            .unwrap_or_default();
        println!(
            "{:>6}  {:<7}  {:<6}  {} attempt(s)  {}{progress}{error}",
            job.id,
            job.state.as_str(),
            job.spec.kind(),
            job.attempts,
            shown(&what)
        );
    }
    if let Some(next) = page.next {
        eprintln!("bwv: more jobs: --after {next}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `bwv ingest --enqueue`: one ingest job per dock file (once per file version), for the
/// workers; prints what was queued.
pub fn enqueue_ingest(
    config: &Config,
    docks: &[std::path::PathBuf],
    json: bool,
) -> Result<ExitCode> {
    let (home, store) = super::create_store(config)?;
    drop(store);
    let queue = open_queue(&config.index)?;
    let (items, scan_errors) = bwv::ingest::scan::scan(docks, &[home.root().to_owned()]);
    for e in &scan_errors {
        eprintln!("bwv: {}", shown(&e.to_string()));
    }
    let (mut queued, mut known, mut failed) = (0, 0, scan_errors.len());
    for item in items {
        match bwv::jobs::enqueue_ingest(queue.as_ref(), &item) {
            Ok((job, new)) => {
                if new {
                    queued += 1
                } else {
                    known += 1
                }
                let what = if new { "queued" } else { "already queued" };
                if json {
                    let line = serde_json::json!({"source": item.path, "job": job.id, "new": new, "state": job.state});
                    println!("{line}");
                } else {
                    println!(
                        "{what:<15} job {:>6}  {}",
                        job.id,
                        shown(&item.path.to_string_lossy())
                    );
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!(
                    "bwv: {}: cannot queue: {}",
                    shown(&item.path.to_string_lossy()),
                    shown(&e.to_string())
                );
            }
        }
    }
    if !json {
        eprintln!(
            "bwv: {queued} queued, {known} already queued, {failed} failed; run `bwv worker` to ingest them"
        );
    }
    Ok(if failed > 0 {
        ExitCode::from(super::EXIT_ITEMS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Queues one job (verify, sweep) for the workers and says so.
pub fn enqueue_one(config: &Config, spec: bwv::jobs::JobSpec, json: bool) -> Result<ExitCode> {
    drop(super::open_store(config)?);
    let queue = open_queue(&config.index)?;
    let (job, _) = queue.enqueue(&spec, None)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&job)?);
    } else {
        println!(
            "queued job {} ({}); `bwv worker` runs it, `bwv jobs` shows it",
            job.id,
            spec.kind()
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct HealthArgs {
    /// Print JSON: each part's state.
    #[arg(long)]
    json: bool,
}

/// `bwv health`: can this machine reach the index, the job queue and the object store? For
/// an operator's checks and a service's readiness probe; the exit code is the first failure's.
pub fn health(config: &Config, args: HealthArgs) -> Result<ExitCode> {
    let index = &config.index;
    let objects = config.objects.clone();
    // Never makes a store: an SQLite index that is not there is a failure to report.
    let there = || {
        if index.exists() {
            Ok(())
        } else {
            Err(bwv::Error::NotFound(format!("no index at {index}")))
        }
    };
    let checks: Vec<(String, String, bwv::Result<String>)> = vec![
        (
            "index".into(),
            index.to_string(),
            there()
                .and_then(|()| {
                    bwv::custody::open_index(index, std::sync::Arc::clone(&config.clock))
                })
                .and_then(|s| s.log_head())
                .map(|h| format!("{} events", h.size())),
        ),
        (
            "queue".into(),
            index.to_string(),
            there()
                .and_then(|()| open_queue(index))
                .and_then(|q| q.counts())
                .map(|c| format!("{} job(s) queued or running", bwv::jobs::pending(&c))),
        ),
        (
            "objects".into(),
            objects
                .clone()
                .unwrap_or_else(|| config.home.display().to_string()),
            bwv::blobs::open_blobs(objects.as_deref(), &config.home).and_then(|b| {
                b.exists("masters/health-probe")?;
                Ok(match b.object_lock()? {
                    Some(lock) => format!("reachable, {lock}"),
                    None => "reachable".to_owned(),
                })
            }),
        ),
    ];
    let mut failed: Option<u8> = None;
    let mut report = serde_json::Map::new();
    for (part, at, result) in &checks {
        let (ok, detail) = match result {
            Ok(d) => (true, d.clone()),
            Err(e) => {
                failed.get_or_insert(e.kind().exit_code());
                (false, format!("{} ({})", e, e.kind().as_str()))
            }
        };
        if args.json {
            report.insert(
                part.clone(),
                serde_json::json!({"at": at, "ok": ok, "detail": detail}),
            );
        } else {
            let state = if ok { "ok" } else { "FAILED" };
            println!("{part:<8} {state:<6} {}: {}", shown(at), shown(&detail));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(failed.map_or(ExitCode::SUCCESS, ExitCode::from))
}
