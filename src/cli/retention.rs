//! `bwv flag|unflag|hold|release` and `bwv retention sweep [--dry-run]`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use bwv::config::Config;
use bwv::custody::retention::{self, Mark, MarkKind, Policy};
use bwv::custody::sqlite::SqliteStore;
use bwv::custody::{Recording, Store};

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
    },
}

/// The recording, refusing one whose files were deleted.
fn live(store: &SqliteStore, reference: &str) -> Result<Recording> {
    let rec = store.resolve(reference)?;
    if let Some(d) = &rec.deletion {
        bail!(
            "recording {} was deleted at {} ({})",
            rec.id,
            d.at,
            d.reason
        );
    }
    Ok(rec)
}

fn place(
    config: &Config,
    reference: &str,
    kind: MarkKind,
    mref: &str,
    reason: &str,
) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let rec = live(&store, reference)?;
    if store
        .marks(Some(&rec.id))?
        .iter()
        .any(|m| m.is_active() && m.kind == kind && m.reference == mref)
    {
        bail!(
            "recording {} already has an active {} mark for {mref:?}",
            rec.id,
            kind.as_str()
        );
    }
    let mark = Mark {
        id: 0,
        recording: rec.id.clone(),
        kind,
        reference: mref.to_owned(),
        reason: reason.to_owned(),
        placed_by: config.actor.clone(),
        placed_at: String::new(),
        released_at: None,
        released_by: None,
        release_reason: None,
    };
    let event = retention::mark_event(kind, &rec.id, mref, reason, &config.actor);
    let (mark, event) = store.add_mark(&mark, event)?;
    println!(
        "{} {}: {} {} (mark {}, event {})",
        if kind == MarkKind::Evidence {
            "flagged"
        } else {
            "held"
        },
        rec.id,
        kind.as_str(),
        mark.reference,
        mark.id,
        event.seq
    );
    super::seal(&home, &store)?;
    Ok(ExitCode::SUCCESS)
}

fn lift(
    config: &Config,
    reference: &str,
    select: impl Fn(&Mark) -> bool,
    reason: &str,
) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let rec = store.resolve(reference)?;
    let marks: Vec<Mark> = store
        .marks(Some(&rec.id))?
        .into_iter()
        .filter(|m| m.is_active() && select(m))
        .collect();
    let Some(event) = retention::release_event(&marks, reason, &config.actor) else {
        bail!("recording {} has no matching active flag or hold", rec.id);
    };
    let ids: Vec<u64> = marks.iter().map(|m| m.id).collect();
    let event = store.release_marks(&ids, &config.actor, reason, event)?;
    println!(
        "released {} mark(s) on {} (event {})",
        ids.len(),
        rec.id,
        event.seq
    );
    super::seal(&home, &store)?;
    Ok(ExitCode::SUCCESS)
}

pub fn flag(config: &Config, a: FlagArgs) -> Result<ExitCode> {
    place(config, &a.recording, MarkKind::Evidence, &a.case, &a.reason)
}

pub fn unflag(config: &Config, a: UnflagArgs) -> Result<ExitCode> {
    let case = a.case.clone();
    lift(
        config,
        &a.recording,
        move |m| m.kind == MarkKind::Evidence && case.as_ref().is_none_or(|c| *c == m.reference),
        &a.reason,
    )
}

pub fn hold(config: &Config, a: HoldArgs) -> Result<ExitCode> {
    place(config, &a.recording, a.kind.into(), &a.reference, &a.reason)
}

pub fn release(config: &Config, a: HoldArgs) -> Result<ExitCode> {
    let (kind, reference) = (MarkKind::from(a.kind), a.reference.clone());
    lift(
        config,
        &a.recording,
        move |m| m.kind == kind && m.reference == reference,
        &a.reason,
    )
}

pub fn run(config: &Config, command: RetentionCommand) -> Result<ExitCode> {
    let RetentionCommand::Sweep {
        dry_run,
        json,
        policy,
    } = command;
    let (home, store) = super::open_store(config)?;
    let _lock = home.lock()?;
    let policy = match policy {
        Some(path) => Policy::load(&path)?,
        None => Policy::load_or_default(&home.policy())?,
    };
    let report = retention::sweep(&home, &store, &policy, config.clock.now(), dry_run)?;
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
    eprintln!(
        "bwv: retention {} days: {} {verb}, {} kept by flags or holds",
        policy.retention_days,
        report.expired.len(),
        report.kept_by_marks.len()
    );
    Ok(ExitCode::SUCCESS)
}
