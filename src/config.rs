//! Validated configuration, built once from what the user typed.

use std::path::PathBuf;
use std::sync::Arc;

use crate::clock::Clock;
use crate::custody::IndexLocation;

/// Default store home when neither `--home` nor `BWV_HOME` is given.
pub const DEFAULT_HOME: &str = "./bwv-data";

/// Resolved settings shared by every command.
#[derive(Debug, Clone)]
pub struct Config {
    /// Store home folder (absolute).
    pub home: PathBuf,
    /// The custody index (default: `HOME/index.sqlite`).
    pub index: IndexLocation,
    /// Where masters and derived files live: `s3://BUCKET/PREFIX`, or the home folder (`None`).
    pub objects: Option<String>,
    /// Items processed in parallel.
    pub jobs: usize,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Who is acting (an account id), recorded with every action they take.
    pub actor: String,
}

/// A sensible default parallelism: the number of CPUs.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}
