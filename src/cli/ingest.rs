//! `bwv ingest DOCK_DIR... [--jobs N] [--json] [--delete-source]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use super::shown;
use anyhow::{Context, Result};
use bwv::config::Config;
use bwv::ingest::{self, Ingest, ItemStatus, scan};
use bwv::ops::Ops;

use super::progress::Bars;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dock folders to ingest (every file beneath them).
    #[arg(required = true)]
    docks: Vec<PathBuf>,
    /// Files processed in parallel (default: number of CPUs).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Print one JSON object per item on stdout.
    #[arg(long)]
    json: bool,
    /// Remove each dock copy once its master is stored, fsynced, re-read, verified and recorded,
    /// the item is ready (never quarantined content), and the copy is unchanged since it was
    /// read and has not been written for --settle seconds (else it is kept and named).
    #[arg(long)]
    delete_source: bool,
    /// Seconds a dock file must have gone unwritten before --delete-source removes it.
    #[arg(long, default_value_t = bwv::ingest::DEFAULT_SETTLE.as_secs())]
    settle: u64,
    /// Seconds without a decoded frame before a file counts as stalled.
    #[arg(long, default_value_t = bwv::media::pipeline::DEFAULT_STALL_TIMEOUT.as_secs())]
    stall_timeout: u64,
    /// Queue one ingest job per dock file for `bwv worker` processes (on this or other
    /// machines sharing the store and the docks) instead of ingesting here.
    #[arg(long)]
    pub enqueue: bool,
    /// Testing aid: abort at a named point of the first item that reaches it.
    #[arg(long, env = "BWV_CRASH_AT", hide = true)]
    crash_at: Option<String>,
}

pub fn run(config: &Config, args: Args) -> Result<ExitCode> {
    scan::check_dirs(&args.docks)?;
    if args.enqueue {
        return super::jobs::enqueue_ingest(config, &args.docks, args.json);
    }
    // The workers first: starting a thread waits for any library being loaded, and the warm-up
    // loads hundreds.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(config.jobs)
        .thread_name(|i| format!("bwv-ingest-{i}"))
        .build()
        .context("cannot start worker threads")?;
    // It initialises GStreamer and loads plugins ahead of the first file, while this thread
    // opens the store; it is waited for when this function returns.
    let _warm = bwv::media::pipeline::warm_up(&[bwv::stages::transcode::PROXY_720P]);
    let (home, store) = super::create_store(config)?;
    let store = store.as_ref();
    bwv::media::init()?;
    // Shared with other ingests, refused while a sweep runs.
    let _lock = home.lock_shared()?;
    home.clear_abandoned()?;

    let (items, scan_errors) = scan::scan(&args.docks, &[home.root().to_owned()]);
    for e in &scan_errors {
        eprintln!("bwv: {}", shown(&e.to_string()));
    }
    let settings = ingest::Settings {
        delete_source: args.delete_source,
        settle: std::time::Duration::from_secs(args.settle),
        stall_timeout: std::time::Duration::from_secs(args.stall_timeout.max(1)),
        crash_at: args.crash_at,
        ..Default::default()
    };
    let bars = Arc::new(Bars::new());
    let started = Instant::now();
    let ingest = Ingest {
        home: &home,
        store,
        clock: config.clock.as_ref(),
        settings: &settings,
        progress: bars.clone(),
    };
    // With --json each item's line goes out as soon as its events are committed, so a reader
    // (or a killed run) never sees a report for something not yet on the record.
    let print_json = |r: &ingest::ItemReport| {
        if args.json
            && let Ok(line) = serde_json::to_string(r)
        {
            println!("{line}");
        }
    };
    let reports = ingest.run(&items, &pool, &print_json)?;
    bars.finish();

    let mut counts = [0usize; 4];
    for r in &reports {
        counts[r.status as usize] += 1;
        if !args.json && !r.is_failure() {
            let what = if r.status == ItemStatus::Duplicate {
                "duplicate"
            } else {
                "ingested"
            };
            let frames = r.frames.map(|f| format!("{f} frames")).unwrap_or_default();
            println!(
                "{what:<10} {} {} {frames}",
                r.id.as_deref().unwrap_or("-"),
                shown(&r.source.to_string_lossy())
            );
        }
        if let Some(e) = &r.error {
            eprintln!("bwv: {}", shown(&e.to_string()));
        }
    }
    // Seal the batch: sign a checkpoint of the log (creating the key on first use).
    if let Some(cp) = Ops::new(&home, store, bwv::ingest::ACTOR).seal()?
        && !args.json
    {
        eprintln!("bwv: log checkpoint signed at size {}", cp.size);
    }
    let failed = counts[ItemStatus::Quarantined as usize] + counts[ItemStatus::Failed as usize];
    eprintln!(
        "bwv: {} files: {} ingested, {} duplicate, {} quarantined, {} failed in {:.1} s",
        reports.len(),
        counts[ItemStatus::Ingested as usize],
        counts[ItemStatus::Duplicate as usize],
        counts[ItemStatus::Quarantined as usize],
        counts[ItemStatus::Failed as usize],
        started.elapsed().as_secs_f64()
    );
    // An item can end ingested and still carry an error (a dock copy kept by --delete-source).
    let noted = reports.iter().any(|r| r.error.is_some());
    Ok(if failed > 0 || noted || !scan_errors.is_empty() {
        ExitCode::from(super::EXIT_ITEMS_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
