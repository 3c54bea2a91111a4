//! `bwv list [--json]` and `bwv show REC [--json] [--frames]`

use std::process::ExitCode;

use super::shown;
use anyhow::Result;
use bwv::config::Config;
use bwv::custody::retention::MarkKind;
use bwv::custody::{ArtefactKind, MediaInfo, PageRequest, RecordingQuery};
use bwv::ops::Ops;
use bwv::stages::hash;

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print a JSON array instead of a table.
    #[arg(long)]
    json: bool,
    /// List the dock files that could not be read at all (no master), with their log events.
    #[arg(long)]
    unreadable: bool,
    /// Only this officer's recordings.
    #[arg(long)]
    officer: Option<String>,
    /// Only this camera's recordings.
    #[arg(long)]
    device: Option<String>,
    /// Recorded at or after (RFC 3339 instant, or a UTC date YYYY-MM-DD).
    #[arg(long, value_parser = bwv::clock::parse_instant)]
    from: Option<jiff::Timestamp>,
    /// Recorded before (RFC 3339 instant, or a UTC date YYYY-MM-DD).
    #[arg(long, value_parser = bwv::clock::parse_instant)]
    to: Option<jiff::Timestamp>,
    /// Only recordings flagged as evidence in this case.
    #[arg(long = "case")]
    case: Option<String>,
    /// Only recordings with an active evidence flag.
    #[arg(long)]
    flagged: bool,
    /// At most this many (then a cursor for the next page is printed on stderr).
    #[arg(long)]
    limit: Option<u32>,
    /// Continue after this cursor (from the previous page).
    #[arg(long, requires = "limit")]
    after: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Recording id (or a unique prefix of it, or the master's SHA-256).
    recording: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Print every frame: INDEX PTS_NS SHA256HEX.
    #[arg(long)]
    frames: bool,
}

pub fn list(config: &Config, args: ListArgs) -> Result<ExitCode> {
    let (_, store) = super::open_store(config)?;
    let store = store.as_ref();
    if args.unreadable {
        let rows = store.unreadable_sources()?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else {
            for u in &rows {
                println!(
                    "{}  event {}  {}  {}",
                    u.event.at,
                    u.event.seq,
                    shown(&u.source),
                    shown(&u.reason)
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let query = RecordingQuery {
        officer: args.officer,
        device: args.device,
        recorded_from: args.from,
        recorded_to: args.to,
        case: args.case,
        flagged: args.flagged.then_some(true),
        deleted: None,
    };
    let mut page = PageRequest {
        after: args.after,
        limit: args.limit.unwrap_or(PageRequest::MAX_LIMIT),
    };
    let mut recs = Vec::new();
    loop {
        let found = store.search_recordings(&query, &page)?;
        recs.extend(found.items);
        match found.next {
            Some(next) if args.limit.is_some() => {
                eprintln!("bwv: more recordings follow: add --after {next}");
                break;
            }
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&recs)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16}  {:<11}  {:<24}  {:>9}  {:>7}  SOURCE",
        "ID", "STATUS", "RECORDED (UTC)", "DURATION", "FRAMES"
    );
    for r in &recs {
        let (dur, frames) = r
            .media
            .as_ref()
            .map(|m| {
                (
                    format!("{:.1} s", m.duration_ns as f64 / 1e9),
                    m.frames.to_string(),
                )
            })
            .unwrap_or(("-".into(), "-".into()));
        println!(
            "{:<16}  {:<11}  {:<24}  {:>9}  {:>7}  {}",
            r.id,
            if r.deletion.is_some() {
                "deleted"
            } else if r
                .media
                .as_ref()
                .and_then(MediaInfo::damage_counts)
                .is_some()
            {
                "damaged"
            } else {
                r.status.as_str()
            },
            r.recorded_at,
            dur,
            frames,
            shown(&r.source_name)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(config: &Config, args: ShowArgs) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let store = store.as_ref();
    // Every look at a recording is itself on the record.
    let (rec, _) = Ops::new(&home, store, &config.actor).access(
        &args.recording,
        if args.frames { "show_frames" } else { "show" },
    )?;
    let artefacts = store.artefacts(&rec.id)?;
    if args.frames {
        let key = |kind| artefacts.iter().find(|a| a.kind == kind).map(|a| &a.path);
        let (Some(hashes), Some(times)) = (
            key(ArtefactKind::FrameHashes),
            key(ArtefactKind::FrameTimes),
        ) else {
            anyhow::bail!(
                "recording {} has no frame hashes (status {})",
                rec.id,
                rec.status.as_str()
            );
        };
        let scratch = home.scratch()?;
        let local = |key: &str| home.blobs().local(key, scratch.path());
        let frames = hash::read_frames(&local(hashes)?, &local(times)?)?;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for (i, pts, h) in frames {
            use std::io::Write;
            writeln!(out, "{i} {pts} {h}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let events = bwv::custody::named_events(store, store.events(Some(&rec.id))?)?;
    let marks = store.marks(Some(&rec.id))?;
    if args.json {
        let v = serde_json::json!({"recording": rec, "artefacts": artefacts, "marks": marks, "events": events});
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("recording      {}", rec.id);
    println!(
        "status         {}{}",
        rec.status.as_str(),
        rec.reason
            .as_deref()
            .map(|r| format!(" ({})", shown(r)))
            .unwrap_or_default()
    );
    if let Some(d) = &rec.deletion {
        println!("deleted        {} ({})", d.at, shown(&d.reason));
    }
    if let Some(why) = rec.media.as_ref().and_then(MediaInfo::damage) {
        println!("damaged        {why}");
    }
    for m in &marks {
        println!(
            "{:<14} {} {:?} by {} at {}{}",
            if m.kind == MarkKind::Evidence {
                "flag"
            } else {
                "hold"
            },
            m.kind.as_str(),
            m.reference,
            shown(&m.placed_by),
            m.placed_at,
            m.released_at
                .as_ref()
                .map(|t| format!(", released {t}"))
                .unwrap_or_default()
        );
    }
    println!("source         {}", shown(&rec.source_name));
    println!(
        "master         {} ({} bytes) {}",
        rec.master_sha256,
        rec.master_size,
        shown(&home.blobs().describe(&rec.master_path))
    );
    println!(
        "recorded at    {} (from {:?})",
        rec.recorded_at, rec.recorded_at_source
    );
    println!("ingested at    {}", rec.ingested_at);
    if let Some(o) = &rec.officer_id {
        println!("officer        {}", shown(o));
    }
    if let Some(d) = &rec.device_id {
        println!("device         {}", shown(d));
    }
    if let Some(m) = &rec.media {
        println!(
            "video          {} {}x{} {}/{} fps, {} frames, {:.3} s",
            m.video_codec,
            m.width,
            m.height,
            m.fps_num,
            m.fps_den,
            m.frames,
            m.duration_ns as f64 / 1e9
        );
        println!(
            "audio          {}",
            m.audio_codec.as_deref().unwrap_or("none")
        );
        println!("container      {}", m.container);
        println!(
            "frame hashes   root {} over {} {} frames ({}, GStreamer {})",
            m.frame_hash_root, m.frames, m.pixel_format, m.decoder, m.gstreamer_version
        );
    }
    println!("artefacts");
    for a in &artefacts {
        println!(
            "  {:<14} {} {:>10} {}",
            a.kind.as_str(),
            a.sha256,
            a.size,
            shown(&home.blobs().describe(&a.path))
        );
    }
    println!("events");
    for e in &events {
        let who = e.actor_name.as_deref().unwrap_or(&e.event.actor);
        println!(
            "  #{:<6} {} {:<20} {}",
            e.event.seq,
            e.event.at,
            e.event.kind.as_str(),
            shown(who)
        );
    }
    Ok(ExitCode::SUCCESS)
}
