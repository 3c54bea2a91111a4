//! Proof documents as `bwv log prove`, `log consistency` and `export` write them, and their
//! offline check: all a defence expert needs is the document and the log's public key.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, NoteError, NoteVerifier};
use crate::digest::Digest;
use crate::event::Event;
use crate::merkle::leaf_hash;
use crate::proof::{self, ProofError};

/// A self-contained inclusion proof: the event's canonical bytes, its audit path, and the signed
/// checkpoint whose size and root it is checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The event's sequence number (leaf index).
    pub leaf_index: u64,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// SHA-256(0x00 || event bytes).
    pub leaf_hash: Digest,
    /// Audit path, bottom-up.
    pub path: Vec<Digest>,
    /// The event's canonical bytes (UTF-8 JSON).
    pub event: String,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// A self-contained consistency proof between two signed checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub old_size: u64,
    /// The newer tree size.
    pub new_size: u64,
    /// Proof hashes, bottom-up.
    pub path: Vec<Digest>,
    /// The older signed checkpoint note.
    pub old_checkpoint: String,
    /// The newer signed checkpoint note.
    pub new_checkpoint: String,
}

/// Either proof, tagged by its `format` field in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format")]
pub enum ProofDoc {
    /// An event is in the log.
    #[serde(rename = "bwv-inclusion-proof/1")]
    Inclusion(InclusionProof),
    /// An older checkpoint is a prefix of a newer one.
    #[serde(rename = "bwv-consistency-proof/1")]
    Consistency(ConsistencyProof),
}

/// Why an offline proof check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofCheckError {
    /// The checkpoint's signature or form.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] NoteError),
    /// The proof's hashes.
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    /// The proof does not describe what it claims.
    #[error("{0}")]
    Mismatch(String),
}

impl InclusionProof {
    /// Verifies offline: the checkpoint (this one, or `trusted` when the verifier supplies its
    /// own) is signed by `verifier`, the size is the checkpoint's, the leaf hash is the event's,
    /// and the path leads to the signed root. Returns the event.
    pub fn verify(
        &self,
        verifier: &NoteVerifier,
        trusted: Option<&str>,
    ) -> Result<Event, ProofCheckError> {
        let cp = Checkpoint::open(trusted.unwrap_or(&self.checkpoint), verifier)?;
        if self.tree_size != cp.size {
            return Err(ProofCheckError::Mismatch(format!(
                "proof is for tree size {}, the checkpoint is size {}",
                self.tree_size, cp.size
            )));
        }
        if leaf_hash(self.event.as_bytes()) != self.leaf_hash {
            return Err(ProofCheckError::Mismatch(
                "leaf hash is not the hash of the event".into(),
            ));
        }
        let event: Event = serde_json::from_str(&self.event)
            .map_err(|e| ProofCheckError::Mismatch(format!("event is not valid: {e}")))?;
        if event.seq != self.leaf_index {
            return Err(ProofCheckError::Mismatch(format!(
                "event says seq {}, proof says leaf {}",
                event.seq, self.leaf_index
            )));
        }
        proof::verify_inclusion(
            self.leaf_index,
            cp.size,
            &self.leaf_hash,
            &self.path,
            &cp.root,
        )?;
        Ok(event)
    }
}

impl ConsistencyProof {
    /// Verifies offline: both checkpoints are signed by `verifier` and the older is a prefix of
    /// the newer. Returns both.
    pub fn verify(
        &self,
        verifier: &NoteVerifier,
    ) -> Result<(Checkpoint, Checkpoint), ProofCheckError> {
        let old = Checkpoint::open(&self.old_checkpoint, verifier)?;
        let new = Checkpoint::open(&self.new_checkpoint, verifier)?;
        if (old.size, new.size) != (self.old_size, self.new_size) {
            return Err(ProofCheckError::Mismatch(
                "sizes differ from the signed checkpoints".into(),
            ));
        }
        proof::verify_consistency(old.size, new.size, &old.root, &new.root, &self.path)?;
        Ok((old, new))
    }
}
