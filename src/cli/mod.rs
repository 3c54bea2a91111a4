//! Command-line front end: the only place with clap, indicatif and anyhow.

mod bench;
mod eval;
mod export;
mod ingest;
mod jobs;
mod log;
mod objects;
mod progress;
mod redact;
mod retention;
mod sar;
mod serve;
mod show;
mod synth;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use bwv::clock::{Clock, FixedClock, SystemClock};
use bwv::config::{self, Config};
use bwv::custody::{IndexLocation, Store, open_index};
use bwv::home::Home;
use clap::{Parser, Subcommand};

/// Exit code when some items failed.
pub const EXIT_ITEMS_FAILED: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "bwv",
    version,
    about = "Evidence pipeline for police body-worn video"
)]
struct Cli {
    /// Store folder (masters, derived files, custody index).
    #[arg(long, global = true, env = "BWV_HOME", default_value = config::DEFAULT_HOME)]
    home: PathBuf,
    /// Who is acting (recorded with flags, holds and other actions). Default: $USER.
    #[arg(long, global = true, env = "BWV_ACTOR")]
    actor: Option<String>,
    /// The custody index: sqlite:PATH or a path (default HOME/index.sqlite), or a PostgreSQL
    /// database, postgres://USER:PASSWORD@HOST:PORT/DB, shared by bwv on many machines.
    #[arg(long, global = true, env = "BWV_INDEX")]
    index: Option<String>,
    /// Where masters and derived files live: s3://BUCKET/PREFIX (credentials, region and
    /// endpoint from AWS_* variables) shared by many machines; default: the store folder.
    #[arg(long, global = true, env = "BWV_OBJECTS")]
    objects: Option<String>,
    /// Fix the clock at this UTC instant (RFC 3339); for tests and reproducible runs.
    #[arg(long, global = true, env = "BWV_NOW", hide = true)]
    now: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest every file under the dock folders.
    Ingest(ingest::Args),
    /// List recordings.
    List(show::ListArgs),
    /// Show one recording: metadata, artefacts, events, and optionally every frame hash.
    Show(show::ShowArgs),
    /// Create the store and its log signing key.
    Init(log::InitArgs),
    /// The custody log: public key, checkpoints, proofs.
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Re-hash files, check the index against the signed log, and (--deep) re-decode masters.
    Verify(verify::Args),
    /// Flag a recording as evidence in a case (it is then never deleted by retention).
    Flag(retention::FlagArgs),
    /// Remove evidence flags.
    Unflag(retention::UnflagArgs),
    /// Hold a recording (SAR, complaint, misconduct, other) so retention keeps it.
    Hold(retention::HoldArgs),
    /// Release a hold.
    Release(retention::HoldArgs),
    /// Retention policy.
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Redact faces for disclosure: plan (detect, track, preview), then render keeping the requester.
    Redact(Box<redact::Args>),
    /// Supersede a redacted copy (a mistake found, a better render made): it is no longer
    /// exported or disclosed.
    Supersede(redact::SupersedeArgs),
    /// Measure redaction on a clip with ground-truth face boxes (recall, exposure, collateral).
    EvalRedact(Box<eval::Args>),
    /// Measure ingest and redaction on generated (or given) footage: fps, real-time factor,
    /// CPU seconds, peak memory, and the redaction's recall.
    Bench(Box<bench::Args>),
    /// Disclosure bundle: files, manifest, event proofs, public key, README.
    Export(export::Args),
    /// Subject access requests: open, link footage, record disclosures, close, list.
    #[command(subcommand)]
    Sar(sar::SarCommand),
    /// Take jobs (ingest, verify, sweep) from the queue and run them; start one on each
    /// machine that shares the store (see `bwv ingest --enqueue`).
    Worker(jobs::WorkerArgs),
    /// The job queue: counts by state and the jobs, with their attempts and errors.
    Jobs(jobs::JobsArgs),
    /// Whether the index, the job queue and the object store can be reached from here.
    Health(jobs::HealthArgs),
    /// The object store's settings: S3 Object Lock (show it, or turn it on).
    #[command(subcommand)]
    Objects(objects::ObjectsCommand),
    /// The evidence service: a JSON API for accounts with roles (see `bwv user`).
    Serve(serve::ServeArgs),
    /// The service's accounts: add, list, passwords, disable, API tokens.
    #[command(subcommand)]
    User(serve::UserCommand),
}

/// Parses the command line and runs the command.
pub fn run() -> Result<ExitCode> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version answer (0); a usage error is fatal (1): 2 means that some
            // items failed.
            let code = u8::from(e.use_stderr());
            e.print().context("print usage")?;
            return Ok(ExitCode::from(code));
        }
    };
    let clock: Arc<dyn Clock> = match &cli.now {
        Some(t) => {
            Arc::new(FixedClock(t.parse().with_context(|| {
                format!("--now {t:?} is not an RFC 3339 instant")
            })?))
        }
        None => Arc::new(SystemClock),
    };
    let home = std::path::absolute(&cli.home)
        .with_context(|| format!("store folder {}", cli.home.display()))?;
    let jobs = match &cli.command {
        Command::Ingest(a) => a.jobs.unwrap_or_else(config::default_jobs).max(1),
        _ => 1,
    };
    // Every action recorded in the log names who took it: never a made-up name. Commands that
    // record no actor (listing, verifying, ingest under its own name) need none.
    let actor = cli
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|a| !a.trim().is_empty())
        .or_else(|| (!records_actor(&cli.command)).then(|| NO_ACTOR.to_owned()))
        .context(
            "who is acting? give --actor NAME or set BWV_ACTOR ($USER is not set either): \
             every action is recorded with its actor",
        )?;
    // bwv's own names, placeholders and hashes are never a person's (see logged_actor).
    if actor != NO_ACTOR && !bwv::custody::names_a_person(&actor) {
        anyhow::bail!(
            "--actor {actor:?}: names starting with \"bwv-\" or \"sha256:\", or in \
             parentheses, are bwv's own; give your own name"
        );
    }
    let index = match &cli.index {
        Some(text) => IndexLocation::parse(text)?,
        None => IndexLocation::Sqlite(home.join(bwv::home::INDEX_FILE)),
    };
    let config = Config {
        home,
        index,
        objects: cli.objects.clone(),
        jobs,
        clock,
        actor,
    };
    if signs_log(&cli.command) && config.index.exists() {
        refuse_without_the_log_key(&config)?;
    }
    match cli.command {
        Command::Ingest(args) => ingest::run(&config, args),
        Command::List(args) => show::list(&config, args),
        Command::Show(args) => show::show(&config, args),
        Command::Init(args) => log::init(&config, args),
        Command::Log(command) => log::run(&config, command),
        Command::Verify(args) => verify::run(&config, args),
        Command::Flag(args) => retention::flag(&config, args),
        Command::Unflag(args) => retention::unflag(&config, args),
        Command::Hold(args) => retention::hold(&config, args),
        Command::Release(args) => retention::release(&config, args),
        Command::Retention(command) => retention::run(&config, command),
        Command::Sar(command) => sar::run(&config, command),
        Command::Export(args) => export::run(&config, args),
        Command::Redact(args) => redact::run(&config, *args),
        Command::Supersede(args) => redact::supersede(&config, args),
        Command::EvalRedact(args) => eval::run(&config, *args),
        Command::Bench(args) => bench::run(&config, *args),
        Command::Worker(args) => jobs::worker(&config, args),
        Command::Jobs(args) => jobs::jobs(&config, args),
        Command::Health(args) => jobs::health(&config, args),
        Command::Objects(command) => objects::run(&config, command),
        Command::Serve(args) => serve::serve(&config, args),
        Command::User(command) => serve::user(&config, command),
    }
}

/// The actor of a command that records none (never written to the log).
const NO_ACTOR: &str = "(not recorded)";

/// Whether the command records who acted, in an event or a row.
fn records_actor(command: &Command) -> bool {
    match command {
        Command::Show(_)
        | Command::Export(_)
        | Command::Flag(_)
        | Command::Unflag(_)
        | Command::Hold(_)
        | Command::Release(_)
        | Command::Redact(_)
        | Command::Supersede(_) => true,
        Command::Sar(s) => !matches!(s, sar::SarCommand::List { .. }),
        Command::Retention(retention::RetentionCommand::Policy { set, .. }) => set.is_some(),
        Command::User(u) => !matches!(
            u,
            serve::UserCommand::List { .. } | serve::UserCommand::Tokens { .. }
        ),
        _ => false,
    }
}

/// Whether the command appends events to the log and signs them: a machine that could not sign
/// is refused before it appends anything (see [`refuse_without_the_log_key`]). A worker checks
/// once it reaches the index, which it may wait for.
fn signs_log(command: &Command) -> bool {
    records_actor(command)
        || matches!(
            command,
            Command::Serve(_) | Command::Retention(retention::RetentionCommand::Sweep { .. })
        )
        || matches!(command, Command::Ingest(a) if !a.enqueue)
}

/// Refuses a machine without the key that signs the store's log, or with another key, before
/// a command appends events it could not seal: they would stay unsigned (a finding of `verify`)
/// until a machine with the key sealed them. A log no key has signed yet needs none.
fn refuse_without_the_log_key(config: &Config) -> bwv::Result<()> {
    let (home, store) = open_home_and_index(config)?;
    bwv::custody::keys::LogKeys::new(home.keys()).check_for_store(store.as_ref())
}

/// Opens an existing store: every command but `ingest` and `init`, so that a mistyped --home
/// or BWV_HOME is an error rather than a new, empty store.
fn open_store(config: &Config) -> Result<(Home, Box<dyn Store>)> {
    if !config.index.exists() {
        anyhow::bail!(
            "no bwv store at {} (no index {}): check --home, BWV_HOME, --index or BWV_INDEX; \
             `bwv ingest` or `bwv init` makes a new one",
            config.home.display(),
            config.index
        );
    }
    create_store(config)
}

/// Opens the store home and its index, making them if they do not exist (`ingest`, `init`).
fn create_store(config: &Config) -> Result<(Home, Box<dyn Store>)> {
    Ok(open_home_and_index(config)?)
}

/// [`create_store`] with the library's error, whose kind says whether trying again may help.
fn open_home_and_index(config: &Config) -> bwv::Result<(Home, Box<dyn Store>)> {
    let blobs = bwv::blobs::open_blobs(config.objects.as_deref(), &config.home)?;
    let home = Home::open_with(&config.home, blobs)?;
    let store = open_index(&config.index, Arc::clone(&config.clock))?;
    Ok((home, store))
}

/// A calendar date as typed (`--received`), with a plain refusal.
pub fn date_arg(text: &str) -> std::result::Result<jiff::civil::Date, String> {
    text.parse().map_err(|_| {
        format!("{text:?} is not a calendar date: write it as YYYY-MM-DD, e.g. 2026-11-21")
    })
}

/// Text from a file name, a sidecar or a user, made safe to print on a terminal: control
/// characters (newlines, escape sequences, C1 codes), bidirectional overrides and line
/// separators are shown escaped (`\n`, `\u{1b}`), so a name cannot forge lines of output or
/// drive the terminal. JSON output escapes them already.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn names_cannot_forge_lines_or_drive_the_terminal() {
        assert_eq!(shown("cam 1/clip é.mp4"), "cam 1/clip é.mp4");
        assert_eq!(
            shown("a.mp4\nbwv: verify ok\r\t"),
            "a.mp4\\nbwv: verify ok\\r\\t"
        );
        assert_eq!(
            shown("\u{1b}[2J\u{1b}]0;x\u{7}"),
            "\\u{1b}[2J\\u{1b}]0;x\\u{7}"
        );
        assert_eq!(shown("x\u{9b}y\u{7f}"), "x\\u{9b}y\\u{7f}");
        assert_eq!(shown("gpj.\u{202e}exe"), "gpj.\\u{202e}exe");
        assert_eq!(shown("a\u{2028}b"), "a\\u{2028}b");
    }
}
