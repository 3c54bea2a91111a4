//! `bwv-verify-proof` on a proof document made here the way bwv makes one: it accepts the
//! document with the right key and refuses an edited event, a wrong key and a bad usage.

use std::path::Path;
use std::process::Command;

use bwv_proof::checkpoint::{Checkpoint, NoteSigner};
use bwv_proof::docs::{InclusionProof, ProofDoc};
use bwv_proof::event::{Event, EventDraft, EventKind};
use bwv_proof::proof;

fn run(args: &[&Path]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_bwv-verify-proof"))
        .args(args)
        .output()
        .expect("runs");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn checks_a_proof_with_the_key_alone() {
    let dir = std::env::temp_dir().join(format!("bwv-verify-proof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let signer = NoteSigner::from_seed("example.police.uk/bwv", [9; 32]).expect("key");
    let events: Vec<Event> = (0..5u64)
        .map(|seq| {
            let draft = EventDraft::new(EventKind::Accessed, Some("abcd"), "officer-1")
                .with("action", "show");
            Event::from_draft(draft, seq, "2026-12-01T10:00:00.000Z".into())
        })
        .collect();
    let leaves: Vec<_> = events.iter().map(Event::leaf_hash).collect();
    let cp = Checkpoint {
        origin: signer.name().into(),
        size: 5,
        root: proof::subtree_root(&leaves),
    };
    let note = cp.sign(&signer).expect("sign");
    let doc = |event: String| {
        ProofDoc::Inclusion(InclusionProof {
            leaf_index: 3,
            tree_size: 5,
            leaf_hash: bwv_proof::merkle::leaf_hash(event.as_bytes()),
            path: proof::inclusion_proof(&leaves, 3).expect("path"),
            event,
            checkpoint: note.clone(),
        })
    };
    let bytes = String::from_utf8(events[3].canonical_bytes()).expect("utf-8");
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let good = write(
        "good.json",
        &serde_json::to_string(&doc(bytes.clone())).expect("json"),
    );
    let edited = write(
        "edited.json",
        &serde_json::to_string(&doc(bytes.replace("officer-1", "officer-2"))).expect("json"),
    );
    let key = write("log.pub", &signer.verifier().encode());
    let other = NoteSigner::from_seed("example.police.uk/bwv", [8; 32]).expect("key");
    let wrong_key = write("other.pub", &other.verifier().encode());
    let flag = Path::new("--key");

    let (code, out) = run(&[&good, flag, &key]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("OK event 3 (accessed)"), "{out}");
    let (code, out) = run(&[&edited, flag, &key]);
    assert_eq!(code, Some(1), "{out}");
    let (code, out) = run(&[&good, flag, &wrong_key]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(run(&[&good]).0, Some(2));
    std::fs::remove_dir_all(&dir).expect("clean up");
}
