//! `bwv sar open|link|disclose|close|list`

use std::path::PathBuf;
use std::process::ExitCode;

use super::shown;
use anyhow::{Context, Result, bail};
use bwv::config::Config;
use bwv::custody::retention::{self, Mark, MarkKind, Policy};
use bwv::custody::sar::{self, Disclosure, Sar};
use bwv::custody::sqlite::SqliteStore;
use bwv::custody::{ArtefactKind, EventDraft, EventKind, Store};
use bwv::digest::hash_file;
use jiff::civil::Date;

#[derive(Debug, clap::Subcommand)]
pub enum SarCommand {
    /// Open a request; prints its id and deadline.
    Open {
        /// The requester's name (kept in the index only, never in the log).
        #[arg(long)]
        requester: String,
        /// Date received (YYYY-MM-DD).
        #[arg(long)]
        received: Date,
        /// When the incident happened, as described.
        #[arg(long)]
        incident_time: Option<String>,
        /// Where, as described.
        #[arg(long)]
        location: Option<String>,
    },
    /// Link a recording to an open request (places a hold).
    Link {
        /// SAR id.
        sar: String,
        /// Recording id.
        recording: String,
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
    },
    /// Close a request and release its holds.
    Close {
        /// SAR id.
        sar: String,
    },
    /// List requests with deadlines, overdue first.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn find(store: &SqliteStore, id: &str) -> Result<Sar> {
    store
        .sars()?
        .into_iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
        .with_context(|| format!("no SAR {id:?}"))
}

fn open_sar(store: &SqliteStore, id: &str) -> Result<Sar> {
    let s = find(store, id)?;
    if let Some(t) = &s.closed_at {
        bail!("{} was closed at {t}", s.id);
    }
    Ok(s)
}

/// Active SAR holds placed for `sar`.
fn holds_for(store: &SqliteStore, sar: &str) -> Result<Vec<Mark>> {
    Ok(store
        .marks(None)?
        .into_iter()
        .filter(|m| m.is_active() && m.kind == MarkKind::Sar && m.reference == sar)
        .collect())
}

pub fn run(config: &Config, command: SarCommand) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let actor = config.actor.as_str();
    let lists = matches!(command, SarCommand::List { .. });
    match command {
        SarCommand::Open {
            requester,
            received,
            incident_time,
            location,
        } => {
            let draft = Sar {
                id: String::new(),
                requester,
                received,
                deadline: sar::deadline(received)?,
                incident_time,
                location,
                opened_by: actor.to_owned(),
                opened_at: String::new(),
                closed_at: None,
            };
            let (s, _) = store.open_sar(&draft, sar::opened_event(&draft, actor))?;
            println!("{} received {}, due {}", s.id, s.received, s.deadline);
        }
        SarCommand::Link { sar: id, recording } => {
            let s = open_sar(&store, &id)?;
            let rec = store.resolve(&recording)?;
            sar::check_linkable(&s, &rec, &Policy::load_or_default(&home.policy())?)?;
            if holds_for(&store, &s.id)?
                .iter()
                .any(|m| m.recording == rec.id)
            {
                bail!("recording {} is already linked to {}", rec.id, s.id);
            }
            let mark = Mark {
                id: 0,
                recording: rec.id.clone(),
                kind: MarkKind::Sar,
                reference: s.id.clone(),
                reason: format!("subject access request {}", s.id),
                placed_by: actor.to_owned(),
                placed_at: String::new(),
                released_at: None,
                released_by: None,
                release_reason: None,
            };
            let event = retention::mark_event(MarkKind::Sar, &rec.id, &s.id, &mark.reason, actor);
            store.add_mark(&mark, event)?;
            println!("linked {} to {} (held until it closes)", rec.id, s.id);
        }
        SarCommand::Disclose {
            sar: id,
            file,
            recipient,
            unredacted,
        } => {
            let s = open_sar(&store, &id)?;
            let (sha, size) =
                hash_file(&file).with_context(|| format!("read {}", file.display()))?;
            // A disclosure is a redacted copy bwv made of footage linked to this request,
            // unless the officer says, with a reason, that this file goes out as it is.
            let mut linked: Vec<String> = store
                .marks(None)?
                .into_iter()
                .filter(|m| m.kind == MarkKind::Sar && m.reference == s.id)
                .map(|m| m.recording)
                .collect();
            linked.dedup();
            let mut redacted = false;
            for rec in &linked {
                redacted |= store
                    .artefacts(rec)?
                    .iter()
                    .any(|a| a.kind == ArtefactKind::Redacted && a.sha256 == sha);
            }
            let unredacted = unredacted.filter(|r| !r.trim().is_empty());
            if !redacted && unredacted.is_none() {
                bail!(
                    "{} (SHA-256 {sha}) is not a redacted copy of footage linked to {}: disclose \
                     a copy bwv redact made, or give --unredacted REASON to disclose it as it is",
                    shown(&file.display().to_string()),
                    s.id
                );
            }
            let d = Disclosure {
                sar: s.id.clone(),
                file_sha256: sha,
                file_size: size,
                file_name: file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                recipient,
                disclosed_by: actor.to_owned(),
                disclosed_at: String::new(),
                unredacted_reason: if redacted { None } else { unredacted },
            };
            let event = store.add_disclosure(&d, sar::disclosed_event(&d, actor))?;
            println!(
                "disclosed {} ({sha}) under {} (event {})",
                shown(&d.file_name),
                s.id,
                event.seq
            );
        }
        SarCommand::Close { sar: id } => {
            let s = open_sar(&store, &id)?;
            let holds = holds_for(&store, &s.id)?;
            let mut events: Vec<EventDraft> = holds
                .iter()
                .filter_map(|m| {
                    retention::release_event(
                        std::slice::from_ref(m),
                        &format!("{} closed", s.id),
                        actor,
                    )
                })
                .collect();
            events.push(
                EventDraft::new(EventKind::SarClosed, None, actor).with("sar", s.id.as_str()),
            );
            let ids: Vec<u64> = holds.iter().map(|m| m.id).collect();
            store.close_sar(&s.id, actor, &ids, events)?;
            println!("closed {}; released {} hold(s)", s.id, ids.len());
        }
        SarCommand::List { json } => {
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
    if !lists {
        super::seal(&home, &store)?;
    }
    Ok(ExitCode::SUCCESS)
}
