//! `bwv-verify-proof PROOF.json --key log.pub [--checkpoint TRUSTED]`: checks a proof document
//! from a bwv disclosure bundle (or `bwv log prove` / `log consistency`) with the log's public
//! key alone. Exit 0 when it holds, 1 when it does not, 2 on a usage error.

use std::process::ExitCode;

use bwv_proof::checkpoint::NoteVerifier;
use bwv_proof::docs::ProofDoc;

const USAGE: &str = "usage: bwv-verify-proof PROOF.json --key log.pub [--checkpoint TRUSTED]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut proof, mut key, mut trusted) = (None, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--key" => key = it.next(),
            "--checkpoint" => trusted = it.next(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ if proof.is_none() && !a.starts_with('-') => proof = Some(a),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(proof), Some(key)) = (proof, key) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match check(proof, key, trusted.map(String::as_str)) {
        Ok(what) => {
            println!("OK {what}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            println!("FAIL {why}");
            ExitCode::from(1)
        }
    }
}

fn check(proof: &str, key: &str, trusted: Option<&str>) -> Result<String, String> {
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let verifier = NoteVerifier::parse(read(key)?.trim()).map_err(|e| format!("{key}: {e}"))?;
    let doc: ProofDoc =
        serde_json::from_str(&read(proof)?).map_err(|e| format!("{proof}: not a proof: {e}"))?;
    let trusted = trusted.map(read).transpose()?;
    match doc {
        ProofDoc::Inclusion(p) => {
            let event = p
                .verify(&verifier, trusted.as_deref())
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "event {} ({}) is in the log of {} events signed by {}",
                event.seq,
                event.kind.as_str(),
                p.tree_size,
                verifier.name()
            ))
        }
        ProofDoc::Consistency(p) => {
            let (old, new) = p.verify(&verifier).map_err(|e| e.to_string())?;
            Ok(format!(
                "the log of {} events extends the log of {} events, both signed by {}",
                new.size,
                old.size,
                verifier.name()
            ))
        }
    }
}
