//! The custody log as a whole: auditing it (re-deriving the Merkle tree from the stored event
//! bytes and checking it against the incremental head and every signed checkpoint), signing new
//! checkpoints, and proof documents that anyone can verify offline with the public key alone.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use bwv_proof::docs::{ConsistencyProof, InclusionProof, ProofCheckError, ProofDoc};

use super::checkpoint::{Checkpoint, LogSigner, NoteVerifier};
use super::proof;
use super::{Event, LogRow, LogView, STORED_NODE_LEVEL, Store, StoredCheckpoint};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::merkle::{Frontier, leaf_hash, node_hash};

/// A problem found in the log. Each names what a court would need to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum LogFinding {
    /// Sequence numbers are missing: events were removed.
    EventsMissing {
        /// First missing sequence number.
        from: u64,
        /// Last missing sequence number.
        to: u64,
    },
    /// A stored event's bytes, leaf hash or columns do not agree: it was rewritten.
    EventRewritten {
        /// Its sequence number.
        seq: u64,
        /// What disagrees.
        detail: String,
    },
    /// A checkpoint's signature does not verify with the log's public key.
    BadSignature {
        /// Where the checkpoint came from (`index` or a file name).
        source: String,
        /// Tree size it claims, when readable.
        size: Option<u64>,
        /// Why it failed.
        reason: String,
    },
    /// The events no longer hash to a root the log signed: the log was rewritten or forked.
    LogForked {
        /// Where the checkpoint came from.
        source: String,
        /// The checkpoint's tree size.
        size: u64,
        /// The signed root.
        signed_root: Digest,
        /// The root re-derived from the stored events.
        derived_root: Digest,
    },
    /// A signed checkpoint covers more events than the log holds: events were removed from the end.
    CheckpointBeyondLog {
        /// Where the checkpoint came from.
        source: String,
        /// The checkpoint's tree size.
        size: u64,
        /// Events in the log.
        log_size: u64,
    },
    /// The incrementally kept tree head disagrees with the events.
    HeadMismatch {
        /// Size in the stored head.
        head_size: u64,
        /// Events in the log.
        log_size: u64,
    },
}

impl fmt::Display for LogFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogFinding::EventsMissing { from, to } => {
                write!(f, "events {from}..={to} are missing from the log (removed)")
            }
            LogFinding::EventRewritten { seq, detail } => {
                write!(f, "event {seq} was rewritten: {detail}")
            }
            LogFinding::BadSignature {
                source,
                size,
                reason,
            } => match size {
                Some(n) => write!(f, "checkpoint {n} ({source}): bad signature: {reason}"),
                None => write!(f, "checkpoint ({source}): bad signature: {reason}"),
            },
            LogFinding::LogForked {
                source,
                size,
                signed_root,
                derived_root,
            } => write!(
                f,
                "log forked: checkpoint {size} ({source}) signed root {signed_root}, events now hash to {derived_root}"
            ),
            LogFinding::CheckpointBeyondLog {
                source,
                size,
                log_size,
            } => write!(
                f,
                "checkpoint {size} ({source}) covers more events than the log's {log_size}: events were removed"
            ),
            LogFinding::HeadMismatch {
                head_size,
                log_size,
            } => write!(
                f,
                "stored tree head (size {head_size}) disagrees with the {log_size} stored events"
            ),
        }
    }
}

/// The result of auditing the log.
#[derive(Debug, Clone, Serialize)]
pub struct LogAudit {
    /// Events in the log.
    pub size: u64,
    /// Root re-derived from the stored event bytes.
    pub root: Digest,
    /// Checkpoints whose signature and root were checked.
    pub checkpoints_checked: usize,
    /// The largest stored checkpoint with a good signature.
    pub latest_checkpoint: Option<u64>,
    /// Everything that does not hold.
    pub findings: Vec<LogFinding>,
}

/// A signed root to check the events against.
struct Target {
    source: String,
    checkpoint: Checkpoint,
}

/// Checks stored and external (`extra`: signed notes with a label) checkpoints' signatures and
/// turns the good ones into targets.
fn targets(
    stored: &[StoredCheckpoint],
    extra: &[(String, String)],
    verifier: &NoteVerifier,
    findings: &mut Vec<LogFinding>,
) -> Vec<Target> {
    let mut out = Vec::new();
    let notes = stored
        .iter()
        .map(|c| (format!("index checkpoint {}", c.size), &c.note, Some(c)))
        .chain(
            extra
                .iter()
                .map(|(label, note)| (label.clone(), note, None)),
        );
    for (source, note, row) in notes {
        match Checkpoint::open(note, verifier) {
            Ok(cp) => {
                if let Some(row) = row.filter(|r| r.size != cp.size || r.root != cp.root) {
                    findings.push(LogFinding::BadSignature {
                        source,
                        size: Some(row.size),
                        reason: "the indexed size or root differs from the signed note".into(),
                    });
                } else {
                    out.push(Target {
                        source,
                        checkpoint: cp,
                    });
                }
            }
            Err(e) => findings.push(LogFinding::BadSignature {
                source,
                size: row.map(|r| r.size),
                reason: e.to_string(),
            }),
        }
    }
    out
}

/// Checks one stored row against its own bytes; returns the recomputed leaf hash.
fn check_row(row: &LogRow, findings: &mut Vec<LogFinding>) -> Digest {
    let leaf = leaf_hash(&row.canonical);
    let rewritten = |detail: &str| LogFinding::EventRewritten {
        seq: row.seq,
        detail: detail.to_owned(),
    };
    if row.leaf_hash != leaf.0 {
        findings.push(rewritten("its stored leaf hash differs from its bytes"));
    }
    match serde_json::from_slice::<Event>(&row.canonical) {
        Err(_) => findings.push(rewritten("its bytes are not a valid event")),
        Ok(e) if e.canonical_bytes() != row.canonical => {
            findings.push(rewritten("its bytes are not in canonical form"))
        }
        Ok(e) => {
            if e.seq != row.seq
                || e.at != row.at
                || e.kind.as_str() != row.kind
                || e.recording != row.recording
            {
                findings.push(rewritten(
                    "its indexed columns differ from its signed bytes",
                ));
            }
        }
    }
    leaf
}

/// Re-derives the tree from every stored event and checks it against the incremental head, every
/// stored checkpoint and any `extra` signed checkpoints (label, note) a verifier holds.
pub fn audit(
    store: &dyn Store,
    verifier: &NoteVerifier,
    extra: &[(String, String)],
) -> Result<LogAudit> {
    read_log(store, &mut |view| {
        audit_view(view, verifier, extra).map(|(a, _)| a)
    })
}

/// Runs `read` on one consistent view of the log and returns its result.
fn read_log<T>(store: &dyn Store, read: &mut dyn FnMut(&dyn LogView) -> Result<T>) -> Result<T> {
    let mut out = None;
    store.read_log(&mut |view| {
        out = Some(read(view)?);
        Ok(())
    })?;
    out.ok_or_else(|| Error::Integrity("the store did not read its log".into()))
}

/// [`audit`] over one consistent view of the log; also returns the tree it derived.
fn audit_view(
    view: &dyn LogView,
    verifier: &NoteVerifier,
    extra: &[(String, String)],
) -> Result<(LogAudit, Frontier)> {
    let mut findings = Vec::new();
    let stored = view.checkpoints()?;
    let targets = targets(&stored, extra, verifier, &mut findings);
    let mut roots_at: BTreeMap<u64, Digest> = targets
        .iter()
        .map(|t| (t.checkpoint.size, Digest([0; 32])))
        .collect();
    let mut tree = Frontier::new();
    extend(view, &mut tree, &mut findings, &mut |tree| {
        if let Some(root) = roots_at.get_mut(&tree.size()) {
            *root = tree.root();
        }
    })?;
    let (size, root) = (tree.size(), tree.root());
    for t in &targets {
        let cp = &t.checkpoint;
        if cp.size > size {
            findings.push(LogFinding::CheckpointBeyondLog {
                source: t.source.clone(),
                size: cp.size,
                log_size: size,
            });
        } else if roots_at[&cp.size] != cp.root {
            findings.push(LogFinding::LogForked {
                source: t.source.clone(),
                size: cp.size,
                signed_root: cp.root,
                derived_root: roots_at[&cp.size],
            });
        }
    }
    check_head(view, &tree, &mut findings)?;
    let latest_checkpoint = targets
        .iter()
        .filter(|t| t.source.starts_with("index"))
        .map(|t| t.checkpoint.size)
        .max();
    let audit = LogAudit {
        size,
        root,
        checkpoints_checked: targets.len(),
        latest_checkpoint,
        findings,
    };
    Ok((audit, tree))
}

/// Pushes every stored event from `tree.size()` on onto `tree`, checking each row and that
/// none is missing; `after_each` sees the tree after each event.
fn extend(
    view: &dyn LogView,
    tree: &mut Frontier,
    findings: &mut Vec<LogFinding>,
    after_each: &mut dyn FnMut(&Frontier),
) -> Result<()> {
    let mut expected = tree.size();
    view.rows(expected..u64::MAX, &mut |row| {
        if row.seq != expected {
            findings.push(LogFinding::EventsMissing {
                from: expected,
                to: row.seq.saturating_sub(1),
            });
        }
        expected = row.seq + 1;
        tree.push_leaf_hash(check_row(&row, findings));
        after_each(tree);
        Ok(())
    })
}

/// Checks the incrementally kept tree head against the tree derived from the events.
fn check_head(view: &dyn LogView, tree: &Frontier, findings: &mut Vec<LogFinding>) -> Result<()> {
    let head = view.head()?;
    if head.size() != tree.size() || head.root() != tree.root() {
        findings.push(LogFinding::HeadMismatch {
            head_size: head.size(),
            log_size: tree.size(),
        });
    }
    Ok(())
}

/// How much of the log a signer re-checks before it signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditScope {
    /// Every event from the first, against every stored checkpoint (`bwv log checkpoint`).
    Full,
    /// The events after the latest checkpoint, continuing from the tree frontier stored with it
    /// (once its signature and root are checked): what each command that appends events signs
    /// with, in time proportional to what it appended. The earlier events were checked when
    /// that checkpoint was signed, and `bwv verify` re-checks them all. Falls back to `Full`
    /// when the latest checkpoint has no usable frontier.
    SinceLatest,
}

/// The audit of the events after the latest checkpoint, or `None` when that checkpoint has no
/// frontier (stored before frontiers were kept) or it does not match its signed root.
fn audit_since_latest(
    view: &dyn LogView,
    verifier: &NoteVerifier,
) -> Result<Option<(LogAudit, Frontier)>> {
    let Some(latest) = view.latest_checkpoint()? else {
        return Ok(None);
    };
    let Ok(signed) = Checkpoint::open(&latest.note, verifier) else {
        return Ok(None);
    };
    let Some(mut tree) = latest
        .peaks
        .and_then(|p| Frontier::from_peaks(latest.size, p))
        .filter(|t| t.size() == signed.size && t.root() == signed.root)
    else {
        return Ok(None);
    };
    let mut findings = Vec::new();
    extend(view, &mut tree, &mut findings, &mut |_| {})?;
    check_head(view, &tree, &mut findings)?;
    let audit = LogAudit {
        size: tree.size(),
        root: tree.root(),
        checkpoints_checked: 1,
        latest_checkpoint: Some(signed.size),
        findings,
    };
    Ok(Some((audit, tree)))
}

/// Signs a checkpoint of the whole log, but only after the log passes its audit over `scope`
/// (which re-derives the root from the stored events and checks it against the earlier
/// checkpoints). Returns the checkpoint and whether it is new (an unchanged log keeps its
/// latest checkpoint).
pub fn sign_checkpoint(
    store: &dyn Store,
    signer: &dyn LogSigner,
    scope: AuditScope,
) -> Result<(StoredCheckpoint, bool)> {
    let verifier = signer.verifier();
    let (report, tree) = read_log(store, &mut |view| {
        let since = match scope {
            AuditScope::SinceLatest => audit_since_latest(view, &verifier)?,
            AuditScope::Full => None,
        };
        match since {
            Some(done) => Ok(done),
            None => audit_view(view, &verifier, &[]),
        }
    })?;
    if let Some(first) = report.findings.first() {
        let more = report.findings.len() - 1;
        return Err(Error::Integrity(format!(
            "refusing to sign a checkpoint: {first}{}",
            if more > 0 {
                format!(" (and {more} more; run `bwv verify`)")
            } else {
                String::new()
            }
        )));
    }
    if report.size == 0 {
        return Err(Error::Conflict(
            "the log is empty; there is nothing to sign".into(),
        ));
    }
    let latest = store.latest_checkpoint()?;
    if let Some(cp) = latest.filter(|c| c.size == report.size) {
        return Ok((cp, false));
    }
    let cp = Checkpoint {
        origin: verifier.name().to_owned(),
        size: report.size,
        root: report.root,
    };
    let note = cp
        .sign(signer)
        .map_err(|e| Error::Integrity(e.to_string()))?;
    Ok((store.add_checkpoint(&tree, &note)?, true))
}

/// The latest stored checkpoint, verified.
pub fn latest_checkpoint(
    store: &dyn Store,
    verifier: &NoteVerifier,
) -> Result<(Checkpoint, String)> {
    let stored = store
        .latest_checkpoint()?
        .ok_or_else(|| Error::NotFound("no checkpoint yet; run `bwv log checkpoint`".into()))?;
    let cp = Checkpoint::open(&stored.note, verifier)
        .map_err(|e| Error::Integrity(format!("latest checkpoint {}: {e}", stored.size)))?;
    Ok((cp, stored.note))
}

/// The roots of the log's subtrees, read from the stored perfect-subtree roots and, below
/// [`STORED_NODE_LEVEL`], from the leaf hashes (a node not kept is rebuilt from its halves).
struct Tree<'v> {
    view: &'v dyn LogView,
}

impl Tree<'_> {
    fn perfect(&self, level: u32, index: u64) -> Result<Digest> {
        if level >= STORED_NODE_LEVEL {
            if let Some(root) = self.view.node(level, index)? {
                return Ok(root);
            }
            let left = self.perfect(level - 1, index * 2)?;
            let right = self.perfect(level - 1, index * 2 + 1)?;
            return Ok(node_hash(&left.0, &right.0));
        }
        let start = index << level;
        let leaves = self.view.leaves(start..start + (1 << level))?;
        if leaves.len() as u64 != 1 << level {
            return Err(Error::Integrity(format!(
                "events {start}..{} are missing from the log (run `bwv verify`)",
                start + (1 << level)
            )));
        }
        Ok(proof::subtree_root(&leaves))
    }

    fn root(&self, range: proof::Range) -> Result<Digest> {
        proof::range_root(range, &mut |level, index| self.perfect(level, index))
    }

    /// Checks that the stored log hashes to the checkpoint's root.
    fn check(&self, cp: &Checkpoint) -> Result<()> {
        if self.root((0, cp.size))? != cp.root {
            return Err(Error::Integrity(format!(
                "the stored log does not match checkpoint {} (run `bwv verify`)",
                cp.size
            )));
        }
        Ok(())
    }
}

/// Builds the inclusion proof of event `seq` against `checkpoint` (a signed note) or the latest
/// stored checkpoint.
pub fn prove(
    store: &dyn Store,
    verifier: &NoteVerifier,
    seq: u64,
    checkpoint: Option<&str>,
) -> Result<InclusionProof> {
    prove_many(store, verifier, &[seq], checkpoint)?
        .pop()
        .ok_or_else(|| Error::NotFound(format!("event {seq} is missing")))
}

/// Inclusion proofs of several events against one checkpoint, reading and checking the log's
/// leaves once for all of them.
pub fn prove_many(
    store: &dyn Store,
    verifier: &NoteVerifier,
    seqs: &[u64],
    checkpoint: Option<&str>,
) -> Result<Vec<InclusionProof>> {
    let (cp, note) = match checkpoint {
        Some(note) => (
            Checkpoint::open(note, verifier).map_err(|e| Error::Invalid(e.to_string()))?,
            note.to_owned(),
        ),
        None => latest_checkpoint(store, verifier)?,
    };
    if let Some(seq) = seqs.iter().find(|s| **s >= cp.size) {
        return Err(Error::Invalid(format!(
            "event {seq} is not covered by checkpoint {} (run `bwv log checkpoint`)",
            cp.size
        )));
    }
    read_log(store, &mut |view| {
        let tree = Tree { view };
        tree.check(&cp)?;
        seqs.iter()
            .map(|&seq| {
                let mut row = None;
                view.rows(seq..seq + 1, &mut |r| {
                    row = Some(r);
                    Ok(())
                })?;
                let row = row.ok_or_else(|| Error::NotFound(format!("event {seq} is missing")))?;
                let leaf = leaf_hash(&row.canonical);
                if row.leaf_hash != leaf.0 {
                    return Err(Error::Integrity(format!(
                        "event {seq} was rewritten (run `bwv verify`)"
                    )));
                }
                let path = proof::inclusion_ranges(cp.size, seq)
                    .map_err(|e| Error::Integrity(e.to_string()))?
                    .into_iter()
                    .map(|range| tree.root(range))
                    .collect::<Result<Vec<_>>>()?;
                // Stored nodes are never trusted alone: the proof must lead to the signed root.
                proof::verify_inclusion(seq, cp.size, &leaf, &path, &cp.root).map_err(|e| {
                    Error::Integrity(format!(
                        "the proof of event {seq} does not check ({e}): run `bwv verify`"
                    ))
                })?;
                Ok(InclusionProof {
                    leaf_index: seq,
                    tree_size: cp.size,
                    leaf_hash: leaf,
                    path,
                    event: String::from_utf8(row.canonical)
                        .map_err(|e| Error::Integrity(e.to_string()))?,
                    checkpoint: note.clone(),
                })
            })
            .collect()
    })
}

/// Builds the consistency proof from `old` (a signed note) to the latest stored checkpoint.
pub fn consistency(
    store: &dyn Store,
    verifier: &NoteVerifier,
    old: &str,
) -> Result<ConsistencyProof> {
    let old_cp = Checkpoint::open(old, verifier).map_err(|e| Error::Invalid(e.to_string()))?;
    let (new_cp, new_note) = latest_checkpoint(store, verifier)?;
    if old_cp.size > new_cp.size {
        return Err(Error::Invalid(format!(
            "checkpoint {} is newer than the log's latest checkpoint {}",
            old_cp.size, new_cp.size
        )));
    }
    let path = read_log(store, &mut |view| {
        let tree = Tree { view };
        tree.check(&new_cp)?;
        let path = proof::consistency_ranges(old_cp.size, new_cp.size)
            .map_err(|e| Error::Integrity(e.to_string()))?
            .into_iter()
            .map(|range| tree.root(range))
            .collect::<Result<Vec<_>>>()?;
        if proof::verify_consistency(old_cp.size, new_cp.size, &old_cp.root, &new_cp.root, &path)
            .is_err()
        {
            return Err(Error::Integrity(format!(
                "the log is not an extension of checkpoint {}: it has forked",
                old_cp.size
            )));
        }
        Ok(path)
    })?;
    Ok(ConsistencyProof {
        old_size: old_cp.size,
        new_size: new_cp.size,
        path,
        old_checkpoint: old.to_owned(),
        new_checkpoint: new_note,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::custody::checkpoint::NoteSigner;
    use crate::custody::sqlite::SqliteStore;
    use crate::custody::{EventDraft, EventKind};

    fn open(dir: &Path) -> SqliteStore {
        let t = "2026-11-21T10:00:00Z".parse().expect("time");
        SqliteStore::open(&dir.join("index.sqlite"), Arc::new(FixedClock(t))).expect("opens")
    }

    fn append(store: &SqliteStore, n: usize) {
        for i in 0..n {
            store
                .append(
                    // bwv's own kind of actor, logged by name, which the tampering below rewrites.
                    EventDraft::new(EventKind::Duplicate, Some("abcd"), "bwv-test")
                        .with("i", i as u64),
                )
                .expect("append");
        }
    }

    /// A raw connection with the append-only triggers dropped, as an attacker with file access.
    fn tamper(dir: &Path, sql: &str) {
        let conn = rusqlite::Connection::open(dir.join("index.sqlite")).expect("raw open");
        conn.execute_batch(
            "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete; \
             DROP TRIGGER IF EXISTS checkpoints_no_update; \
             DROP TRIGGER IF EXISTS checkpoints_no_delete;",
        )
        .expect("drop triggers");
        conn.execute_batch(sql).expect("tamper");
    }

    fn signer() -> NoteSigner {
        NoteSigner::from_seed("test.example/bwv", [3; 32]).expect("key")
    }

    /// A store with 6 events, a checkpoint at 4 and one at 6.
    fn signed_store(dir: &Path) -> SqliteStore {
        let store = open(dir);
        append(&store, 4);
        assert!(
            sign_checkpoint(&store, &signer(), AuditScope::Full)
                .expect("sign")
                .1
        );
        append(&store, 2);
        assert!(
            sign_checkpoint(&store, &signer(), AuditScope::Full)
                .expect("sign")
                .1
        );
        store
    }

    fn findings(dir: &Path) -> Vec<LogFinding> {
        audit(&open(dir), &signer().verifier(), &[])
            .expect("audit")
            .findings
    }

    #[test]
    fn checkpoints_proofs_and_offline_verification() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = signed_store(dir.path());
        let v = signer().verifier();
        let (again, new) = sign_checkpoint(&store, &signer(), AuditScope::Full).expect("sign");
        assert!(!new, "an unchanged log keeps its checkpoint");
        assert_eq!(again.size, 6);
        assert_eq!(store.log_head().expect("head").root(), again.root);
        let report = audit(&store, &v, &[]).expect("audit");
        assert_eq!(report.findings, vec![]);
        assert_eq!((report.size, report.checkpoints_checked), (6, 2));

        let p = prove(&store, &v, 3, None).expect("prove");
        let json = serde_json::to_string(&ProofDoc::Inclusion(p.clone())).expect("json");
        assert!(json.contains(r#""format":"bwv-inclusion-proof/1""#));
        let back: ProofDoc = serde_json::from_str(&json).expect("parses");
        let ProofDoc::Inclusion(back) = back else {
            panic!("inclusion proof expected")
        };
        assert_eq!(back.verify(&v, None).expect("verifies").seq, 3);

        // A changed event, a wrong key, or a trusted checkpoint of another size all fail.
        let mut forged = p.clone();
        forged.event = forged.event.replace("\"bwv-test\"", "\"mallory\"");
        assert!(forged.verify(&v, None).is_err());
        forged.leaf_hash = leaf_hash(forged.event.as_bytes());
        assert!(matches!(
            forged.verify(&v, None),
            Err(ProofCheckError::Proof(_))
        ));
        let other = NoteSigner::from_seed("test.example/bwv", [4; 32]).expect("key");
        assert!(p.verify(&other.verifier(), None).is_err());
        let first = store.checkpoints().expect("cps")[0].note.clone();
        assert!(matches!(
            p.verify(&v, Some(&first)),
            Err(ProofCheckError::Mismatch(_))
        ));
        let p_old = prove(&store, &v, 3, Some(&first)).expect("prove at 4");
        assert_eq!(p_old.tree_size, 4);
        assert!(p_old.verify(&v, Some(&first)).is_ok());
        assert!(prove(&store, &v, 4, Some(&first)).is_err(), "not covered");

        let c = consistency(&store, &v, &first).expect("consistency");
        let (old, new) = c.verify(&v).expect("verifies");
        assert_eq!((old.size, new.size), (4, 6));
        let mut bad = c.clone();
        bad.path[0].0[0] ^= 1;
        assert!(bad.verify(&v).is_err());
    }

    #[test]
    fn signing_after_a_checkpoint_audits_only_the_events_since() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = signed_store(dir.path());
        // The checkpoint keeps the tree's frontier, from which the next audit continues.
        let latest = store
            .latest_checkpoint()
            .expect("read")
            .expect("a checkpoint");
        assert_eq!(latest.peaks.as_ref().map(Vec::len), Some(2), "6 = 4 + 2");
        append(&store, 3);
        let (cp, new) = sign_checkpoint(&store, &signer(), AuditScope::SinceLatest).expect("sign");
        assert!(new);
        // The same size and root a full audit derives.
        let full = audit(&store, &signer().verifier(), &[]).expect("audit");
        assert_eq!((cp.size, cp.root), (full.size, full.root));
        assert_eq!(full.findings, vec![]);

        // An event after the latest checkpoint is checked: a rewritten one refuses the signing.
        append(&store, 1);
        tamper(
            dir.path(),
            "UPDATE events SET canonical = CAST(replace(CAST(canonical AS TEXT), '\"bwv-test\"', '\"mallory\"') AS BLOB) WHERE seq = 9",
        );
        let err = sign_checkpoint(&open(dir.path()), &signer(), AuditScope::SinceLatest)
            .expect_err("refuses");
        assert!(err.to_string().contains("event 9 was rewritten"), "{err}");
    }

    #[test]
    fn a_checkpoint_frontier_that_does_not_match_its_root_is_not_trusted() {
        let dir = tempfile::tempdir().expect("tempdir");
        signed_store(dir.path());
        // An edited frontier (and an edited earlier event, which it would hide): the signer
        // falls back to the full audit and finds the edit.
        tamper(
            dir.path(),
            "UPDATE checkpoints SET peaks = zeroblob(64) WHERE size = 6; \
             UPDATE events SET canonical = CAST(replace(CAST(canonical AS TEXT), '\"bwv-test\"', '\"mallory\"') AS BLOB) WHERE seq = 2",
        );
        let store = open(dir.path());
        append(&store, 1);
        let err = sign_checkpoint(&store, &signer(), AuditScope::SinceLatest).expect_err("refuses");
        assert!(err.to_string().contains("event 2 was rewritten"), "{err}");
    }

    #[test]
    fn proofs_over_a_larger_log_read_stored_subtrees_and_never_trust_them_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = open(dir.path());
        append(&store, 700);
        sign_checkpoint(&store, &signer(), AuditScope::Full).expect("sign");
        let v = signer().verifier();
        let count = |dir: &Path| -> i64 {
            rusqlite::Connection::open(dir.join("index.sqlite"))
                .expect("open")
                .query_row("SELECT COUNT(*) FROM tree_nodes", [], |r| r.get(0))
                .expect("count")
        };
        // 700 leaves: two perfect subtrees of 256 and one of 512.
        assert_eq!(count(dir.path()), 3);
        for seq in [0, 255, 256, 511, 699] {
            let p = prove(&store, &v, seq, None).expect("prove");
            assert_eq!(p.verify(&v, None).expect("verifies").seq, seq);
        }
        let first = store.checkpoints().expect("cps")[0].note.clone();
        append(&store, 300);
        sign_checkpoint(&store, &signer(), AuditScope::SinceLatest).expect("sign");
        let c = consistency(&store, &v, &first).expect("consistency");
        assert_eq!(c.verify(&v).expect("verifies").1.size, 1000);

        // A stored subtree edited: the proof that would use it is refused, not handed out.
        tamper(
            dir.path(),
            "UPDATE tree_nodes SET hash = zeroblob(32) WHERE level = 8 AND idx = 1",
        );
        let err = prove(&open(dir.path()), &v, 10, None).expect_err("refused");
        assert_eq!(err.kind(), crate::ErrorKind::Integrity, "{err}");
        // Subtrees lost (a log from before they were kept): opening the store rebuilds them.
        tamper(dir.path(), "DELETE FROM tree_nodes");
        let store = open(dir.path());
        // 1000 leaves: three subtrees of 256, one of 512.
        assert_eq!(count(dir.path()), 4);
        let p = prove(&store, &v, 10, None).expect("prove");
        assert!(p.verify(&v, None).is_ok());
    }

    #[test]
    fn rewritten_event_without_fixing_its_hash() {
        let dir = tempfile::tempdir().expect("tempdir");
        signed_store(dir.path());
        tamper(
            dir.path(),
            "UPDATE events SET canonical = CAST(replace(CAST(canonical AS TEXT), '\"bwv-test\"', '\"mallory\"') AS BLOB) WHERE seq = 2",
        );
        let f = findings(dir.path());
        assert!(
            f.iter()
                .any(|x| matches!(x, LogFinding::EventRewritten { seq: 2, .. })),
            "{f:?}"
        );
        let err =
            sign_checkpoint(&open(dir.path()), &signer(), AuditScope::Full).expect_err("refuses");
        assert!(err.to_string().contains("refusing to sign"), "{err}");
    }

    #[test]
    fn rewritten_event_with_consistent_hash_is_a_fork() {
        let dir = tempfile::tempdir().expect("tempdir");
        signed_store(dir.path());
        // Rewrite event 1 and its leaf hash consistently, and the head too: only the signed
        // checkpoints can tell.
        let store = open(dir.path());
        let mut rows = Vec::new();
        store
            .log_rows(0..u64::MAX, &mut |r| {
                rows.push(r);
                Ok(())
            })
            .expect("rows");
        let mut ev: Event = serde_json::from_slice(&rows[1].canonical).expect("event");
        ev.actor = "mallory".into();
        let bytes = ev.canonical_bytes();
        let mut head = Frontier::new();
        for (i, r) in rows.iter().enumerate() {
            head.push_leaf_hash(if i == 1 {
                leaf_hash(&bytes)
            } else {
                leaf_hash(&r.canonical)
            });
        }
        drop(store);
        let peaks: String = head.peaks().iter().map(|d| d.to_hex()).collect();
        tamper(
            dir.path(),
            &format!(
                "UPDATE events SET canonical = X'{}', leaf_hash = X'{}' WHERE seq = 1; \
                 UPDATE log_head SET peaks = X'{peaks}';",
                crate::digest::to_hex(&bytes),
                leaf_hash(&bytes).to_hex()
            ),
        );
        let f = findings(dir.path());
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|x| matches!(x, LogFinding::LogForked { .. })));
    }

    #[test]
    fn removed_events_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        signed_store(dir.path());
        tamper(dir.path(), "DELETE FROM events WHERE seq = 2");
        let f = findings(dir.path());
        assert!(
            f.contains(&LogFinding::EventsMissing { from: 2, to: 2 }),
            "{f:?}"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        signed_store(dir.path());
        tamper(dir.path(), "DELETE FROM events WHERE seq = 5");
        let f = findings(dir.path());
        assert!(
            f.iter().any(|x| matches!(
                x,
                LogFinding::CheckpointBeyondLog {
                    size: 6,
                    log_size: 5,
                    ..
                }
            )),
            "{f:?}"
        );
        assert!(
            f.iter()
                .any(|x| matches!(x, LogFinding::HeadMismatch { .. }))
        );
    }

    #[test]
    fn altered_checkpoint_is_a_bad_signature() {
        let dir = tempfile::tempdir().expect("tempdir");
        signed_store(dir.path());
        tamper(
            dir.path(),
            "UPDATE checkpoints SET note = replace(note, char(10) || '4' || char(10), char(10) || '3' || char(10)) WHERE size = 4",
        );
        let f = findings(dir.path());
        assert!(
            matches!(
                f.as_slice(),
                [LogFinding::BadSignature { size: Some(4), .. }]
            ),
            "{f:?}"
        );
    }
}
