//! `bwv serve`: the evidence service over HTTP, and `bwv user`: its accounts.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bwv::accounts::{Role, open_accounts};
use bwv::config::Config;
use bwv::ops::Ops;
use bwv::serve::{Parts, Service, Settings};

use super::shown;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address and port to listen on (port 0: any free port, printed when listening).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Blocking work (index reads and writes, file set-up) run at once; a request that waits
    /// more than 10 s for a slot is refused with 503.
    #[arg(long, default_value_t = bwv::serve::DEFAULT_MAX_JOBS)]
    max_jobs: usize,
    /// Seconds between checkpoints over the events that reads append.
    #[arg(long, default_value_t = bwv::serve::DEFAULT_SEAL_EVERY.as_secs())]
    seal_every: u64,
    /// Workers inside the service running its jobs (redaction plans and renders); 0 leaves
    /// them to `bwv worker` processes.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Jobs queued or running at once beyond which the service refuses new ones (503).
    #[arg(long, default_value_t = bwv::serve::DEFAULT_MAX_QUEUED)]
    max_queued: u64,
    /// A dock folder an admin may have ingested from the service (`POST /api/ingest`); may
    /// repeat.
    #[arg(long = "dock")]
    docks: Vec<std::path::PathBuf>,
    /// Folder with the face model and ONNX Runtime (see `bwv redact --models`).
    #[arg(long, env = "BWV_MODELS")]
    models: Option<std::path::PathBuf>,
    /// Send session cookies without `Secure` (only behind plain HTTP on a trusted network;
    /// browsers send Secure cookies to localhost anyway).
    #[arg(long)]
    insecure_cookies: bool,
}

pub fn serve(config: &Config, args: ServeArgs) -> Result<ExitCode> {
    bwv::ingest::scan::check_dirs(&args.docks)?;
    let (home, store) = super::open_store(config)?;
    let accounts = open_accounts(&config.index, Arc::clone(&config.clock))?;
    if accounts.list()?.is_empty() {
        eprintln!(
            "bwv serve: no accounts yet: add one with `bwv user add NAME --role admin` (the \
             password is read from the terminal or standard input)"
        );
    }
    let settings = Settings {
        max_jobs: args.max_jobs.max(1),
        seal_every: Duration::from_secs(args.seal_every.max(1)),
        secure_cookies: !args.insecure_cookies,
        workers: args.workers,
        max_queued: args.max_queued.max(1),
        docks: args
            .docks
            .iter()
            .map(|d| std::path::absolute(d).with_context(|| format!("dock {}", d.display())))
            .collect::<Result<_>>()?,
        ..Settings::default()
    };
    let parts = Parts {
        home,
        store,
        accounts,
        queue: bwv::jobs::open_queue(&config.index)?,
        clock: Arc::clone(&config.clock),
    };
    let detector = super::jobs::detector_loader(args.models);
    let service = Arc::new(Service::new(parts, Some(Box::new(detector)), settings));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the service's runtime")?;
    // The service stays owned here, outside the runtime: its PostgreSQL connections and S3
    // client run runtimes of their own, which must not be dropped inside an async context.
    let serving = Arc::clone(&service);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listen on {}", args.listen))?;
        let addr = listener.local_addr().context("the listening address")?;
        println!("bwv serve: listening on http://{addr}");
        std::io::stdout().flush().context("stdout")?;
        bwv::serve::run(listener, serving, stopped())
            .await
            .context("serve")?;
        eprintln!("bwv serve: stopped");
        anyhow::Ok(())
    })?;
    drop(runtime);
    drop(service);
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stopped() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Make an account (the password is read from the terminal, or the first line of
    /// standard input).
    Add {
        /// Account name: a-z, 0-9, '.', '_', '-'.
        name: String,
        /// officer, reviewer, disclosure, auditor or admin.
        #[arg(long, value_parser = role)]
        role: Role,
        /// For an officer: the officer id their recordings carry.
        #[arg(long)]
        officer: Option<String>,
    },
    /// List accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Set an account's password (read as for `add`).
    Passwd {
        /// Account name.
        name: String,
    },
    /// Disable an account: its sessions end and its tokens stop working.
    Disable {
        /// Account name.
        name: String,
    },
    /// Enable a disabled account.
    Enable {
        /// Account name.
        name: String,
    },
    /// Make an API token for scripts (printed once; only its hash is kept).
    Token {
        /// Account name.
        name: String,
        /// What it is for.
        #[arg(long)]
        label: String,
    },
    /// List API tokens (never their secrets).
    Tokens {
        /// Only this account's.
        name: Option<String>,
    },
    /// Revoke an API token by the id `bwv user tokens` lists.
    Revoke {
        /// The token's id.
        id: String,
    },
}

fn role(text: &str) -> std::result::Result<Role, String> {
    Role::parse(text)
        .ok_or_else(|| format!("{text:?}: one of officer, reviewer, disclosure, auditor, admin"))
}

/// A new password: asked twice on a terminal, else the first line of standard input.
fn read_password(name: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("password for {name}: "))?;
        let again = rpassword::prompt_password("again: ")?;
        if first != again {
            bail!("the passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn user(config: &Config, command: UserCommand) -> Result<ExitCode> {
    let (home, store) = super::open_store(config)?;
    let accounts = open_accounts(&config.index, Arc::clone(&config.clock))?;
    let ops = Ops::new(&home, store.as_ref(), &config.actor);
    match command {
        UserCommand::Add {
            name,
            role,
            officer,
        } => {
            let password = read_password(&name)?;
            let account = accounts.add(&name, role, officer.as_deref(), &password)?;
            let event = ops.account_changed(&account, "added")?;
            println!(
                "added {} ({}) (event {})",
                account.name,
                role.as_str(),
                event.seq
            );
        }
        UserCommand::List { json } => {
            let list = accounts.list()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!(
                    "{:<20}  {:<10}  {:<12}  {:<8}  CREATED",
                    "NAME", "ROLE", "OFFICER", "STATE"
                );
                for a in &list {
                    println!(
                        "{:<20}  {:<10}  {:<12}  {:<8}  {}",
                        a.name,
                        a.role.as_str(),
                        shown(a.officer_id.as_deref().unwrap_or("-")),
                        if a.disabled { "disabled" } else { "active" },
                        a.created_at
                    );
                }
            }
        }
        UserCommand::Passwd { name } => {
            let account = accounts.account(&name)?;
            accounts.set_password(&name, &read_password(&name)?)?;
            ops.account_changed(&account, "password")?;
            println!("password of {name} set");
        }
        UserCommand::Disable { name } => switch(&accounts, &ops, &name, true)?,
        UserCommand::Enable { name } => switch(&accounts, &ops, &name, false)?,
        UserCommand::Token { name, label } => {
            let (token, info) = accounts.add_token(&name, &label)?;
            ops.account_changed(&accounts.account(&name)?, "token_added")?;
            eprintln!("token {} for {name}: shown once, keep it safe", info.id);
            println!("{token}");
        }
        UserCommand::Tokens { name } => {
            for t in accounts.tokens(name.as_deref())? {
                println!(
                    "{}  {:<20}  {}  {}  {}",
                    t.id,
                    t.account,
                    t.created_at,
                    t.revoked_at
                        .as_deref()
                        .map_or("live".to_owned(), |r| format!("revoked {r}")),
                    shown(&t.label)
                );
            }
        }
        UserCommand::Revoke { id } => {
            let info = accounts.revoke_token(&id)?;
            ops.account_changed(&accounts.account(&info.account)?, "token_revoked")?;
            println!("revoked token {} of {}", info.id, info.account);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn switch(
    accounts: &bwv::accounts::Accounts,
    ops: &Ops<'_>,
    name: &str,
    disable: bool,
) -> Result<()> {
    accounts.set_disabled(name, disable)?;
    let change = if disable { "disabled" } else { "enabled" };
    ops.account_changed(&accounts.account(name)?, change)?;
    println!("{name} {change}");
    Ok(())
}
