//! `bwv flag|unflag|hold|release` and `bwv retention sweep [--dry-run]`

use std::path::PathBuf;
use std::process::ExitCode;

use super::shown;
use anyhow::{Context as _, Result};
use bwv::config::Config;
use bwv::custody::retention::MarkKind;
use bwv::ops::{Ops, Which};

#[derive(Debug, clap::Args)]
pub struct FlagArgs {
    /// Recording id (or prefix, or master SHA-256).
    recording: String,
    /// Case reference.
    #[arg(long = "case")]
    case: String,
    /// Why it is evidence.
    #[arg(long)]
    reason: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub struct UnflagArgs {
    /// Recording id.
    recording: String,
    /// Only the flag for this case (default: every evidence flag on the recording).
    #[arg(long = "case")]
    case: Option<String>,
    /// Why it is no longer evidence.
    #[arg(long)]
    reason: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Hold kinds a user may place (evidence is `flag`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum HoldKind {
    Sar,
    Complaint,
    Misconduct,
    Other,
}

impl From<HoldKind> for MarkKind {
    fn from(k: HoldKind) -> Self {
        match k {
            HoldKind::Sar => MarkKind::Sar,
            HoldKind::Complaint => MarkKind::Complaint,
            HoldKind::Misconduct => MarkKind::Misconduct,
            HoldKind::Other => MarkKind::Other,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct HoldArgs {
    /// Recording id.
    recording: String,
    /// What the hold is for.
    #[arg(long, value_enum)]
    kind: HoldKind,
    /// Reference (SAR, complaint or investigation number).
    #[arg(long = "ref")]
    reference: String,
    /// Why (free text, kept in the index; only its hash is logged).
    #[arg(long, default_value = "")]
    reason: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum RetentionCommand {
    /// Delete recordings past the retention period with no flag or hold.
    Sweep {
        /// List what would be deleted; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Policy file, which must exist (default: HOME/policy.json, else the built-in 31 days).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Queue the sweep for `bwv worker` instead of running it here.
        #[arg(long, conflicts_with = "dry_run")]
        enqueue: bool,
    },
    /// Show the store's retention policy, or set it (logged as `policy_changed`).
    Policy {
        /// Set the retention period, in days (1 to 36525).
        #[arg(long)]
        set: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn placed(
    config: &Config,
    reference: &str,
    kind: MarkKind,
    mark_ref: &str,
    reason: &str,
    json: bool,
) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let store = store.as_ref();
    let ops = Ops::new(&home, store, &config.actor);
    let (mark, event) = if kind == MarkKind::Evidence {
        ops.flag(reference, mark_ref, reason)?
    } else {
        ops.hold(reference, kind, mark_ref, reason)?
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"mark": mark, "event": event}))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} {}: {} {} (mark {}, event {})",
        if kind == MarkKind::Evidence {
            "flagged"
        } else {
            "held"
        },
        mark.recording,
        kind.as_str(),
        shown(&mark.reference),
        mark.id,
        event.seq
    );
    Ok(ExitCode::SUCCESS)
}

fn lift(
    config: &Config,
    reference: &str,
    which: &Which,
    reason: &str,
    json: bool,
) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let store = store.as_ref();
    let released = Ops::new(&home, store, &config.actor).release(reference, which, reason)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&released)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "released {} mark(s) on {} (event {})",
        released.marks.len(),
        released.recording,
        released.event.seq
    );
    Ok(ExitCode::SUCCESS)
}

pub fn flag(config: &Config, a: FlagArgs) -> Result<ExitCode> {
    placed(
        config,
        &a.recording,
        MarkKind::Evidence,
        &a.case,
        &a.reason,
        a.json,
    )
}

pub fn unflag(config: &Config, a: UnflagArgs) -> Result<ExitCode> {
    lift(
        config,
        &a.recording,
        &Which::Flags { case: a.case },
        &a.reason,
        a.json,
    )
}

pub fn hold(config: &Config, a: HoldArgs) -> Result<ExitCode> {
    placed(
        config,
        &a.recording,
        a.kind.into(),
        &a.reference,
        &a.reason,
        a.json,
    )
}

pub fn release(config: &Config, a: HoldArgs) -> Result<ExitCode> {
    let which = Which::Hold {
        kind: a.kind.into(),
        reference: a.reference,
    };
    lift(config, &a.recording, &which, &a.reason, a.json)
}

pub fn run(config: &Config, command: RetentionCommand) -> Result<ExitCode> {
    let (dry_run, json, policy, enqueue) = match command {
        RetentionCommand::Sweep {
            dry_run,
            json,
            policy,
            enqueue,
        } => (dry_run, json, policy, enqueue),
        RetentionCommand::Policy { set, json } => return policy_command(config, set, json),
    };
    if enqueue {
        let policy = policy
            .map(|p| std::path::absolute(&p).with_context(|| format!("policy {}", p.display())))
            .transpose()?;
        return super::jobs::enqueue_one(config, bwv::jobs::JobSpec::Sweep { policy }, json);
    }
    let (home, store) = super::open_store(config)?;
    let store = store.as_ref();
    let report = Ops::new(&home, store, &config.actor).sweep(
        policy.as_deref(),
        config.clock.now(),
        dry_run,
    )?;
    let policy = &report.policy;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if dry_run { "would delete" } else { "deleted" };
    for e in &report.expired {
        println!(
            "{verb} {} (recorded {}, expired {}){}",
            e.id,
            e.recorded_at,
            e.expired_at,
            if dry_run {
                String::new()
            } else {
                format!(", {} files removed", e.files_removed)
            }
        );
    }
    for id in &report.kept_by_marks {
        println!("kept {id}: past retention but flagged or held");
    }
    for id in &report.finished {
        println!("finished deleting {id} (files left by an interrupted sweep)");
    }
    for kept in &report.locked {
        println!(
            "deleted {} from view; its bytes stay until the bucket's lock ends: {}",
            kept.id, kept.reason
        );
    }
    eprintln!(
        "bwv: retention {} days: {} {verb}, {} kept by flags or holds",
        policy.retention_days,
        report.expired.len(),
        report.kept_by_marks.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn policy_command(config: &Config, set: Option<u32>, json: bool) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let event = match set {
        Some(days) => Some(Ops::new(&home, store.as_ref(), &config.actor).set_policy(
            &bwv::custody::retention::Policy {
                retention_days: days,
            },
        )?),
        None => None,
    };
    let policy = Ops::new(&home, store.as_ref(), &config.actor).policy()?;
    if json {
        let doc = serde_json::json!({
            "policy": policy, "policy_sha256": policy.digest(), "event": event,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!(
            "retention: {} days (policy SHA-256 {}){}",
            policy.retention_days,
            policy.digest(),
            event.map_or(String::new(), |e| format!("; set (event {})", e.seq))
        );
    }
    Ok(ExitCode::SUCCESS)
}
