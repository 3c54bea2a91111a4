//! `bwv sar open|link|disclose|close|list`

use std::path::PathBuf;
use std::process::ExitCode;

use super::shown;
use anyhow::Result;
use bwv::config::Config;
use bwv::custody::retention::MarkKind;
use bwv::custody::sar;
use bwv::ops::{Ops, SarRequest};
use jiff::civil::Date;

#[derive(Debug, clap::Subcommand)]
pub enum SarCommand {
    /// Open a request; prints its id and deadline.
    Open {
        /// The requester's name (kept in the index only, never in the log).
        #[arg(long)]
        requester: String,
        /// Date received (YYYY-MM-DD).
        #[arg(long, value_parser = super::date_arg)]
        received: Date,
        /// When the incident happened, as described.
        #[arg(long)]
        incident_time: Option<String>,
        /// Where, as described.
        #[arg(long)]
        location: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Link a recording to an open request (places a hold).
    Link {
        /// SAR id.
        sar: String,
        /// Recording id.
        recording: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record a disclosure: the file (by hash), to whom, and when.
    Disclose {
        /// SAR id.
        sar: String,
        /// The file disclosed.
        #[arg(long)]
        file: PathBuf,
        /// Who received it.
        #[arg(long = "to")]
        recipient: String,
        /// Disclose a file that is not a redacted copy of the request's footage (the master, a
        /// proxy, another file), and why: kept in the index, its hash in the log.
        #[arg(long, value_name = "REASON")]
        unredacted: Option<String>,
        /// The legal basis of the disclosure (kept in the index, its hash in the log).
        #[arg(long)]
        basis: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Close a request and release its holds.
    Close {
        /// SAR id.
        sar: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List requests with deadlines, overdue first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(config: &Config, command: SarCommand) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let store = store.as_ref();
    let ops = Ops::new(&home, store, &config.actor);
    let print = |value: serde_json::Value, text: String| -> Result<()> {
        if json_wanted(&command) {
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!("{text}");
        }
        Ok(())
    };
    match &command {
        SarCommand::Open {
            requester,
            received,
            incident_time,
            location,
            ..
        } => {
            let (s, event) = ops.open_sar(SarRequest {
                requester: requester.clone(),
                received: *received,
                incident_time: incident_time.clone(),
                location: location.clone(),
            })?;
            let text = format!("{} received {}, due {}", s.id, s.received, s.deadline);
            print(serde_json::json!({"sar": s, "event": event}), text)?;
        }
        SarCommand::Link { sar, recording, .. } => {
            let (s, rec, mark) = ops.link(sar, recording)?;
            let text = format!("linked {} to {} (held until it closes)", rec.id, s.id);
            print(
                serde_json::json!({"sar": s.id, "recording": rec.id, "mark": mark}),
                text,
            )?;
        }
        SarCommand::Disclose {
            sar,
            file,
            recipient,
            unredacted,
            basis,
            ..
        } => {
            let (d, event) = ops.disclose(
                sar,
                file,
                recipient,
                unredacted.as_deref(),
                basis.as_deref(),
            )?;
            let text = format!(
                "disclosed {} ({}) under {} (event {})",
                shown(&d.file_name),
                d.file_sha256,
                d.sar,
                event.seq
            );
            print(serde_json::json!({"disclosure": d, "event": event}), text)?;
        }
        SarCommand::Close { sar, .. } => {
            let (s, holds) = ops.close_sar(sar)?;
            let text = format!("closed {}; released {} hold(s)", s.id, holds.len());
            print(serde_json::json!({"sar": s.id, "released": holds}), text)?;
        }
        SarCommand::List { json } => {
            let json = *json;
            let today = config.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
            let mut sars = store.sars()?;
            // Overdue first, then open by deadline, then closed.
            sars.sort_by_key(|s| {
                (
                    !sar::is_overdue(s, today),
                    s.closed_at.is_some(),
                    s.deadline,
                )
            });
            let disclosures = store.disclosures(None)?;
            let marks = store.marks(None)?;
            if json {
                let rows: Vec<_> = sars
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "sar": s,
                            "overdue": sar::is_overdue(s, today),
                            "recordings": marks.iter().filter(|m| m.kind == MarkKind::Sar && m.reference == s.id).map(|m| &m.recording).collect::<Vec<_>>(),
                            "disclosures": disclosures.iter().filter(|d| d.sar == s.id).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<8}  {:<8}  {:<10}  {:<10}  {:>4}  {:>4}  REQUESTER",
                "SAR", "STATE", "RECEIVED", "DUE", "RECS", "DISC"
            );
            for s in &sars {
                let state = if sar::is_overdue(s, today) {
                    "OVERDUE"
                } else if s.closed_at.is_some() {
                    "closed"
                } else {
                    "open"
                };
                println!(
                    "{:<8}  {:<8}  {:<10}  {:<10}  {:>4}  {:>4}  {}",
                    s.id,
                    state,
                    s.received,
                    s.deadline,
                    marks
                        .iter()
                        .filter(|m| m.kind == MarkKind::Sar && m.reference == s.id)
                        .count(),
                    disclosures.iter().filter(|d| d.sar == s.id).count(),
                    shown(&s.requester)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the command asked for JSON.
fn json_wanted(command: &SarCommand) -> bool {
    match command {
        SarCommand::Open { json, .. }
        | SarCommand::Link { json, .. }
        | SarCommand::Disclose { json, .. }
        | SarCommand::Close { json, .. }
        | SarCommand::List { json } => *json,
    }
}
