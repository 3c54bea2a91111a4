//! `bwv verify [REC|--all] [--deep] [--json] [--checkpoint FILE]... [--key FILE]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use bwv::config::Config;
use bwv::custody::keys::{self, LogKeys};
use bwv::ops::{Ops, VERIFY_ACTOR};
use bwv::verify::{self, Options};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One recording (id, prefix or master SHA-256).
    recording: Option<String>,
    /// Every recording (the default when no recording is named).
    #[arg(long, conflicts_with = "recording")]
    all: bool,
    /// Also re-decode each master and re-check every per-frame hash and the root.
    #[arg(long)]
    deep: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// A signed checkpoint held outside the store (e.g. by the defence); may repeat.
    #[arg(long)]
    checkpoint: Vec<PathBuf>,
    /// Trusted public key file to check signatures with (default: the store's own).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Queue the verification for `bwv worker` (which records its `verified` event) instead
    /// of running it here.
    #[arg(long, conflicts_with_all = ["checkpoint", "key"])]
    enqueue: bool,
}

pub fn run(config: &Config, args: Args) -> Result<ExitCode> {
    if args.enqueue {
        let spec = bwv::jobs::JobSpec::Verify {
            recording: args.recording,
            deep: args.deep,
            actor: None,
        };
        return super::jobs::enqueue_one(config, spec, args.json);
    }
    let (home, store) = super::open_store(config)?;
    let store = store.as_ref();
    let verifier = match &args.key {
        Some(k) => keys::read_verifier(k)?,
        None => {
            let keys = LogKeys::new(home.keys());
            if !keys.exists() {
                bail!("the store has no log key yet (run `bwv init` or ingest something)");
            }
            keys.verifier()?
        }
    };
    let checkpoints = args
        .checkpoint
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|note| (p.display().to_string(), note))
                .with_context(|| format!("read {}", p.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    if args.deep {
        bwv::media::init()?;
    }
    let opts = Options {
        recording: args.recording.clone(),
        deep: args.deep,
        checkpoints,
        stall_timeout: None,
        now: Some(config.clock.now()),
    };
    let report = verify::verify(&home, store, &verifier, &opts)?;
    let problems = report.log.findings.len() + report.findings.len();
    let ops = Ops::new(&home, store, VERIFY_ACTOR);
    ops.record_verified(&report, args.recording.is_some(), args.deep)?;
    // A clean verification is sealed like any action, so its event cannot be erased unseen.
    // One that found problems is not: a checkpoint must never vouch for a log found damaged.
    if report.ok {
        ops.seal()?;
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let log = &report.log;
        println!(
            "log: {} events, root {}, {} signed checkpoint(s) checked",
            log.size, log.root, log.checkpoints_checked
        );
        let files: usize = report.recordings.iter().map(|r| r.files).sum();
        let frames: u64 = report
            .recordings
            .iter()
            .filter_map(|r| r.frames_redecoded)
            .sum();
        println!(
            "recordings: {} checked, {files} files re-hashed{}",
            report.recordings.len(),
            if args.deep {
                format!(", {frames} frames re-decoded")
            } else {
                String::new()
            }
        );
        for f in &log.findings {
            println!("FAIL {f}");
        }
        for f in &report.findings {
            println!("FAIL {f}");
        }
        println!(
            "{}",
            if report.ok {
                "verify: everything holds".to_owned()
            } else {
                format!("verify: {problems} problem(s) found")
            }
        );
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::EXIT_ITEMS_FAILED)
    })
}
