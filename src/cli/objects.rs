//! `bwv objects`: the object store's own settings (S3 Object Lock).

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use bwv::blobs::object_lock::{DefaultRetention, LockMode};
use clap::Subcommand;

use super::Config;

#[derive(Debug, Subcommand)]
pub enum ObjectsCommand {
    /// Shows whether the bucket has S3 Object Lock, and its default retention.
    Lock {
        /// Turns Object Lock on, every new version kept this many days (creates the bucket,
        /// locked, if it is not there); a lock cannot be turned off again.
        #[arg(long, value_name = "DAYS")]
        set_days: Option<u32>,
        /// With --set-days: governance mode (accounts with the bypass right may still delete)
        /// instead of compliance (nobody may, before the days end).
        #[arg(long, requires = "set_days")]
        governance: bool,
    },
}

pub fn run(config: &Config, command: ObjectsCommand) -> Result<ExitCode> {
    let ObjectsCommand::Lock {
        set_days,
        governance,
    } = command;
    let blobs = bwv::blobs::open_blobs(config.objects.as_deref(), &config.home)?;
    if let Some(days) = set_days {
        anyhow::ensure!(days > 0, "--set-days 0: a lock needs at least one day");
        let mode = if governance {
            LockMode::Governance
        } else {
            LockMode::Compliance
        };
        blobs
            .set_object_lock(&DefaultRetention {
                mode,
                days: Some(days),
                years: None,
            })
            .context("set S3 Object Lock")?;
    }
    let at = config.objects.as_deref().unwrap_or("the store folder");
    match blobs.object_lock()? {
        Some(lock) => println!("{at}: {lock}"),
        None => println!("{at}: a local folder (masters are read-only files; no Object Lock)"),
    }
    Ok(ExitCode::SUCCESS)
}
