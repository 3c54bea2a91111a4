//! `bwv export REC --out DIR [--file F]...`

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use bwv::config::Config;
use bwv::custody::ArtefactKind;
use bwv::custody::keys::LogKeys;
use bwv::export::{self, FileSpec};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Recording id (or prefix, or master SHA-256).
    recording: String,
    /// Bundle folder (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// What to include: master, proxy, frame_hashes, frame_times, poster, thumbnail,
    /// contact_sheet, or a path to another file (e.g. a redacted copy). May repeat.
    /// Default: master, proxy, frame_hashes, frame_times, contact_sheet.
    #[arg(long = "file")]
    files: Vec<String>,
    /// Print the bundle's manifest as JSON.
    #[arg(long)]
    json: bool,
}

fn spec(s: &str) -> Result<FileSpec> {
    if s == "master" {
        return Ok(FileSpec::Master);
    }
    if let Some(kind) = ArtefactKind::parse(s) {
        return Ok(FileSpec::Artefact(kind));
    }
    if Path::new(s).is_file() {
        return Ok(FileSpec::External(PathBuf::from(s)));
    }
    bail!("--file {s:?} is neither a kind of file bwv keeps nor an existing file")
}

pub fn run(config: &Config, args: Args) -> Result<ExitCode> {
    let files = if args.files.is_empty() {
        export::default_files()
    } else {
        args.files.iter().map(|f| spec(f)).collect::<Result<_>>()?
    };
    let (home, store) = super::open_store(config)?;
    let store = store.as_ref();
    let (signer, _) = LogKeys::new(home.keys()).for_store(store, None)?;
    let m = export::export(
        &home,
        store,
        &signer,
        &args.recording,
        &files,
        &args.out,
        &config.actor,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "exported {} file(s) and {} event proof(s) of {} to {} (checkpoint {}); see README.txt there",
        m.record.files.len(),
        m.events.len(),
        m.record.recording,
        args.out.display(),
        m.checkpoint_size
    );
    Ok(ExitCode::SUCCESS)
}
