//! `bwv init`, `bwv log pubkey|checkpoint|prove|consistency|verify-proof`

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use bwv::config::Config;
use bwv::custody::checkpoint::NoteVerifier;
use bwv::custody::keys::{self, LogKeys};
use bwv::custody::log::{self, ProofDoc};

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The log's origin (its name in every checkpoint), e.g. "evidence.example-police.uk/bwv".
    /// Default: "bwv/" and a random tag.
    #[arg(long)]
    origin: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum LogCommand {
    /// Print the log's public (verifier) key.
    Pubkey {
        /// Print JSON: the log's name and key.
        #[arg(long)]
        json: bool,
    },
    /// Audit the log and sign a checkpoint of it; prints the signed note.
    Checkpoint {
        #[command(flatten)]
        out: OutArgs,
        /// Print JSON: size, root, when signed, whether it is new, and the note.
        #[arg(long)]
        json: bool,
    },
    /// Inclusion proof of one event against a signed checkpoint (JSON).
    Prove {
        /// The event's sequence number.
        seq: u64,
        /// Prove against this signed checkpoint rather than the latest one.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Proof that an older signed checkpoint is a prefix of the latest one (JSON).
    Consistency {
        /// The older signed checkpoint note.
        old_checkpoint: PathBuf,
        #[command(flatten)]
        out: OutArgs,
    },
    /// Verify a proof file offline, with no store: only the proof and the public key.
    VerifyProof {
        /// The proof (JSON from `prove` or `consistency`).
        proof: PathBuf,
        /// The log's public key file (from `bwv log pubkey`).
        #[arg(long)]
        key: PathBuf,
        /// Check an inclusion proof against this signed checkpoint instead of the one inside it.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Print JSON: what the proof showed (a rejected proof is an error on stderr, exit 1).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct OutArgs {
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o')]
    out: Option<PathBuf>,
}

fn emit(out: &OutArgs, text: &str) -> Result<()> {
    match &out.out {
        Some(p) => fs::write(p, text).with_context(|| format!("write {}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
}

pub fn init(config: &Config, args: InitArgs) -> Result<ExitCode> {
    let (home, store) = super::create_store(config)?;
    let keys = LogKeys::new(home.keys());
    let (signer, created) = keys.for_store(store.as_ref(), args.origin.as_deref())?;
    let verb = if created { "created" } else { "already has" };
    println!(
        "{} {verb} log {:?}; public key in {}",
        home.root().display(),
        signer.name(),
        keys.verifier_path().display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run(config: &Config, command: LogCommand) -> Result<ExitCode> {
    // Every command but verify-proof works on a store; verify-proof needs only files.
    let open = || -> Result<_> {
        let (home, store) = super::open_store(config)?;
        Ok((store, LogKeys::new(home.keys())))
    };
    match command {
        LogCommand::Pubkey { json } => {
            let verifier = open()?.1.verifier()?;
            if json {
                let doc = serde_json::json!({"name": verifier.name(), "key": verifier.encode()});
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                println!("{}", verifier.encode());
            }
        }
        LogCommand::Checkpoint { out, json } => {
            let (store, keys) = open()?;
            let (signer, _) = keys.for_store(store.as_ref(), None)?;
            let (cp, new) = log::sign_checkpoint(store.as_ref(), &signer, log::AuditScope::Full)?;
            if !new && !json {
                eprintln!("bwv: log unchanged since checkpoint {}", cp.size);
            }
            if json {
                let doc = serde_json::json!({
                    "size": cp.size,
                    "root": cp.root,
                    "signed_at": cp.signed_at,
                    "new": new,
                    "note": cp.note,
                });
                emit(&out, &(serde_json::to_string_pretty(&doc)? + "\n"))?;
            } else {
                emit(&out, &cp.note)?;
            }
        }
        LogCommand::Prove {
            seq,
            checkpoint,
            out,
        } => {
            let (store, keys) = open()?;
            let note = checkpoint.as_deref().map(read).transpose()?;
            let proof = log::prove(store.as_ref(), &keys.verifier()?, seq, note.as_deref())?;
            emit(&out, &pretty(&ProofDoc::Inclusion(proof))?)?;
        }
        LogCommand::Consistency {
            old_checkpoint,
            out,
        } => {
            let (store, keys) = open()?;
            let proof =
                log::consistency(store.as_ref(), &keys.verifier()?, &read(&old_checkpoint)?)?;
            emit(&out, &pretty(&ProofDoc::Consistency(proof))?)?;
        }
        LogCommand::VerifyProof {
            proof,
            key,
            checkpoint,
            json,
        } => return verify_proof(&proof, &key, checkpoint.as_deref(), json),
    }
    Ok(ExitCode::SUCCESS)
}

fn pretty(doc: &ProofDoc) -> Result<String> {
    Ok(serde_json::to_string_pretty(doc)? + "\n")
}

fn verify_proof(
    proof: &Path,
    key: &Path,
    checkpoint: Option<&Path>,
    json: bool,
) -> Result<ExitCode> {
    let verifier: NoteVerifier = keys::read_verifier(key)?;
    let doc: ProofDoc = serde_json::from_str(&read(proof)?)
        .with_context(|| format!("{} is not a bwv proof", proof.display()))?;
    let trusted = checkpoint.map(read).transpose()?;
    match doc {
        ProofDoc::Inclusion(p) => {
            let event = p
                .verify(&verifier, trusted.as_deref())
                .with_context(|| format!("{}: proof rejected", proof.display()))?;
            if json {
                let doc = serde_json::json!({
                    "ok": true, "proof": "inclusion", "log": verifier.name(),
                    "tree_size": p.tree_size, "event": event,
                });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "ok: event {} ({}, recording {}, at {}) is in log {} of size {}",
                event.seq,
                event.kind.as_str(),
                event.recording.as_deref().unwrap_or("-"),
                event.at,
                verifier.name(),
                p.tree_size
            );
        }
        ProofDoc::Consistency(p) => {
            if trusted.is_some() {
                bail!("--checkpoint applies to inclusion proofs only");
            }
            let (old, new) = p
                .verify(&verifier)
                .with_context(|| format!("{}: proof rejected", proof.display()))?;
            if json {
                let doc = serde_json::json!({
                    "ok": true, "proof": "consistency", "log": verifier.name(),
                    "old_size": old.size, "new_size": new.size,
                });
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "ok: log {} at size {} is a prefix of size {}",
                verifier.name(),
                old.size,
                new.size
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
