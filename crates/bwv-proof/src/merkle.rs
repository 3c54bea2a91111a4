//! RFC 6962 (§2.1) Merkle tree hashing over SHA-256.
//!
//! leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right), and the tree of n > 1
//! leaves splits at the largest power of two below n. [`Frontier`] keeps only the roots of the
//! perfect subtrees that make up the tree so far (at most log2(n)+1 hashes), so appending never
//! rehashes old leaves and a root costs O(log n).
//!
//! Written here rather than taken from `ct-merkle` because that crate keeps every item in memory,
//! while bwv streams frame hashes out of a decoder and (later) reads leaf hashes from a database.

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;

/// RFC 6962 leaf hash: SHA-256(0x00 || data).
pub fn leaf_hash(data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Digest(h.finalize().into())
}

/// RFC 6962 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &[u8], right: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    Digest(h.finalize().into())
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Digest {
    Digest::of(b"")
}

/// An append-only Merkle tree summarised by its perfect-subtree roots (a "compact range").
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    size: u64,
    /// Roots of perfect subtrees, largest (leftmost) first; their sizes are the set bits of `size`.
    peaks: Vec<Digest>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Rebuilds a frontier from its size and peaks (as returned by [`Frontier::peaks`]); `None`
    /// when the number of peaks does not fit the size.
    pub fn from_peaks(size: u64, peaks: Vec<Digest>) -> Option<Self> {
        (peaks.len() == size.count_ones() as usize).then_some(Self { size, peaks })
    }

    /// The perfect-subtree roots, largest first.
    pub fn peaks(&self) -> &[Digest] {
        &self.peaks
    }

    /// Appends a leaf given its leaf hash (already `leaf_hash`ed).
    pub fn push_leaf_hash(&mut self, leaf: Digest) {
        self.push_leaf_hash_with(leaf, &mut |_, _, _| {});
    }

    /// Appends a leaf, telling `completed` of every perfect subtree it completes above the
    /// leaves: `(level, index, root)` for the subtree of leaves
    /// `[index << level, (index + 1) << level)`, smallest first.
    pub fn push_leaf_hash_with(
        &mut self,
        leaf: Digest,
        completed: &mut dyn FnMut(u32, u64, Digest),
    ) {
        let mut node = leaf;
        // Each trailing 1 bit of the old size is a same-sized peak that merges with the new node.
        let merges = self.size.trailing_ones();
        let end = self.size + 1;
        for level in 1..=merges {
            let left = self
                .peaks
                .pop()
                .expect("a set bit of size always has a peak");
            node = node_hash(&left.0, &node.0);
            completed(level, (end >> level) - 1, node);
        }
        self.peaks.push(node);
        self.size = end;
    }

    /// Appends a leaf given its data.
    pub fn push(&mut self, data: &[u8]) {
        self.push_leaf_hash(leaf_hash(data));
    }

    /// The RFC 6962 Merkle tree hash of the leaves so far.
    pub fn root(&self) -> Digest {
        let mut peaks = self.peaks.iter().rev();
        match peaks.next() {
            None => empty_root(),
            Some(&smallest) => peaks.fold(smallest, |acc, left| node_hash(&left.0, &acc.0)),
        }
    }
}

/// RFC 6962 root over a list of leaf data items.
pub fn root_of<'a>(leaves: impl IntoIterator<Item = &'a [u8]>) -> Digest {
    let mut f = Frontier::new();
    for l in leaves {
        f.push(l);
    }
    f.root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let text = include_str!("../../../testdata/rfc6962_vectors.json");
        serde_json::from_str(text).expect("vector file is JSON")
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn hasher_vectors() {
        let v = vectors();
        let items = v["hasher"]["items"].as_array().expect("items");
        assert!(items.len() >= 4);
        for item in items {
            let expected = item["expected_hex"].as_str().expect("expected");
            let got = match item["kind"].as_str().expect("kind") {
                "empty_root" => empty_root(),
                "leaf" => leaf_hash(&unhex(item["leaf_input_hex"].as_str().expect("input"))),
                "node" => node_hash(
                    &unhex(item["left_hex"].as_str().expect("left")),
                    &unhex(item["right_hex"].as_str().expect("right")),
                ),
                other => panic!("unknown hasher vector kind {other}"),
            };
            assert_eq!(got.to_hex(), expected, "{}", item["desc"]);
        }
    }

    #[test]
    fn reference_tree_roots_at_every_size() {
        let v = vectors();
        let tree = &v["reference_tree"];
        let inputs: Vec<Vec<u8>> = tree["leaf_inputs_hex"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|x| unhex(x.as_str().expect("hex")))
            .collect();
        let roots = tree["roots"].as_array().expect("roots");
        assert_eq!(roots.len(), inputs.len() + 1, "a root for sizes 0..=8");
        for r in roots {
            let n = r["tree_size"].as_u64().expect("size") as usize;
            let got = root_of(inputs[..n].iter().map(Vec::as_slice));
            assert_eq!(
                got.to_hex(),
                r["root_hex"].as_str().expect("root"),
                "size {n}"
            );
        }
    }

    #[test]
    fn frontier_matches_recursive_definition() {
        fn mth(leaves: &[Digest]) -> Digest {
            match leaves.len() {
                0 => empty_root(),
                1 => leaves[0],
                n => {
                    let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                    node_hash(&mth(&leaves[..k]).0, &mth(&leaves[k..]).0)
                }
            }
        }
        let leaves: Vec<Digest> = (0u32..70).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut f = Frontier::new();
        for (i, l) in leaves.iter().enumerate() {
            assert_eq!(f.root(), mth(&leaves[..i]), "size {i}");
            f.push_leaf_hash(*l);
        }
        assert_eq!(f.size(), 70);
        assert_eq!(f.root(), mth(&leaves));
    }
}
