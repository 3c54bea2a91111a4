//! RFC 6962 / RFC 9162 inclusion and consistency proofs: generation from a list of leaf hashes
//! and verification from the proof alone.
//!
//! Paths are bottom-up (the leaf's sibling first). Verification follows RFC 9162 §2.1.3.2 and
//! §2.1.4.2, with these decisions on edge cases:
//! - every hash is exactly 32 bytes; anything else is rejected before any hashing ([`Digest`]
//!   cannot hold another length, so parsing fails);
//! - an inclusion proof needs `index < size` (so nothing is included in the empty tree);
//! - a consistency proof needs `0 < old_size <= new_size`; equal sizes need an empty proof and
//!   equal roots; a tree of size 0 commits to nothing, so no proof from it is accepted (bwv never
//!   signs a checkpoint of size 0);
//! - a proof checks a leaf against a (size, root) pair. The same path can be valid for two sizes
//!   (for example leaf 0 with path [l1, x] fits both size 3 and size 4), so the size and root must
//!   come from a signed checkpoint, never from the proof itself.

use crate::digest::Digest;
use crate::merkle::{Frontier, node_hash};

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The sizes cannot be related by a consistency proof.
    #[error("no consistency proof from size {old} to size {new}")]
    BadSizes {
        /// The older tree size.
        old: u64,
        /// The newer tree size.
        new: u64,
    },
    /// The path has the wrong number of hashes for this index and size.
    #[error("proof has the wrong number of hashes for this index and size")]
    WrongLength,
    /// The hashes do not lead to the expected root.
    #[error("proof does not lead to the expected root")]
    RootMismatch,
}

/// The RFC 6962 root of a slice of leaf hashes (computed without recursion, O(n)).
pub fn subtree_root(leaves: &[Digest]) -> Digest {
    let mut f = Frontier::new();
    for l in leaves {
        f.push_leaf_hash(*l);
    }
    f.root()
}

/// Largest power of two strictly less than `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1u64 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// A range of leaves `[start, end)` whose RFC 6962 root is one hash of a proof.
pub type Range = (u64, u64);

/// The leaf ranges whose roots make up the inclusion proof (audit path) of leaf `index` in a
/// tree of `size` leaves, bottom-up. Every range is a subtree of the RFC 6962 tree: its start is
/// a multiple of the power of two at or above its length.
pub fn inclusion_ranges(size: u64, index: u64) -> Result<Vec<Range>, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut path = Vec::new();
    let (mut lo, mut hi) = (0u64, size);
    // Walk down from the root, remembering the sibling subtree at each level; reverse at the end
    // so the path is bottom-up.
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index - lo < k {
            path.push((lo + k, hi));
            hi = lo + k;
        } else {
            path.push((lo, lo + k));
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The leaf ranges whose roots make up the consistency proof from `old_size` to `new_size`
/// leaves (RFC 6962 §2.1.2), bottom-up.
pub fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<Range>, ProofError> {
    if old_size == 0 || old_size > new_size {
        return Err(ProofError::BadSizes {
            old: old_size,
            new: new_size,
        });
    }
    let mut out = Vec::new();
    subproof(old_size, (0, new_size), true, &mut out);
    Ok(out)
}

/// SUBPROOF(m, D[lo:hi], b) from RFC 6962 §2.1.2, appending bottom-up.
fn subproof(m: u64, (lo, hi): Range, whole: bool, out: &mut Vec<Range>) {
    let n = hi - lo;
    if m == n {
        if !whole {
            out.push((lo, hi));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, (lo, lo + k), whole, out);
        out.push((lo + k, hi));
    } else {
        subproof(m - k, (lo + k, hi), false, out);
        out.push((lo, lo + k));
    }
}

/// The root of each range over a list of leaf hashes.
fn roots(leaves: &[Digest], ranges: Vec<Range>) -> Vec<Digest> {
    ranges
        .into_iter()
        .map(|(a, b)| subtree_root(&leaves[a as usize..b as usize]))
        .collect()
}

/// The inclusion proof (audit path) of leaf `index` in the tree of all `leaves`.
pub fn inclusion_proof(leaves: &[Digest], index: u64) -> Result<Vec<Digest>, ProofError> {
    Ok(roots(leaves, inclusion_ranges(leaves.len() as u64, index)?))
}

/// The consistency proof from the first `old_size` leaves to all `leaves` (RFC 6962 §2.1.2).
pub fn consistency_proof(leaves: &[Digest], old_size: u64) -> Result<Vec<Digest>, ProofError> {
    Ok(roots(
        leaves,
        consistency_ranges(old_size, leaves.len() as u64)?,
    ))
}

/// The RFC 6962 root of the leaves `[start, end)` of a subtree-shaped range (its start a
/// multiple of the power of two at or above its length, as every proof range is), from the
/// roots of perfect subtrees: `perfect(level, index)` is the root of leaves
/// `[index << level, (index + 1) << level)`.
pub fn range_root<E>(
    (start, end): Range,
    perfect: &mut dyn FnMut(u32, u64) -> Result<Digest, E>,
) -> Result<Digest, E> {
    let n = end - start;
    if n.is_power_of_two() && start % n == 0 {
        return perfect(n.trailing_zeros(), start >> n.trailing_zeros());
    }
    let k = split(n);
    let left = range_root((start, start + k), perfect)?;
    let right = range_root((start + k, end), perfect)?;
    Ok(node_hash(&left.0, &right.0))
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with `root` (RFC 9162
/// §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Digest,
    path: &[Digest],
    root: &Digest,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(&p.0, &r.0);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r.0, &p.0);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree (`old_size`, `old_root`) is a prefix of (`new_size`, `new_root`)
/// (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Digest,
    new_root: &Digest,
    path: &[Digest],
) -> Result<(), ProofError> {
    if old_size == 0 || old_size > new_size {
        return Err(ProofError::BadSizes {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !path.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // When the old tree is a perfect subtree its root is the first node of the walk.
    let mut nodes: Vec<Digest> = Vec::with_capacity(path.len() + 1);
    if old_size.is_power_of_two() {
        nodes.push(*old_root);
    }
    nodes.extend_from_slice(path);
    let Some((&first, rest)) = nodes.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(&c.0, &fr.0);
            sr = node_hash(&c.0, &sr.0);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr.0, &c.0);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;
    use proptest::prelude::*;
    use serde_json::Value;

    fn vectors() -> Value {
        serde_json::from_str(include_str!("../../../testdata/rfc6962_vectors.json"))
            .expect("vector file is JSON")
    }

    /// A hash from the vector file; `None` when it is not 32 bytes of hex (rejected by design).
    fn hash(v: &Value) -> Option<Digest> {
        v.as_str().and_then(Digest::from_hex)
    }

    fn path(v: &Value) -> Option<Vec<Digest>> {
        v.as_array().expect("path array").iter().map(hash).collect()
    }

    fn reference_leaves() -> Vec<Digest> {
        vectors()["reference_tree"]["leaf_hashes_hex"]
            .as_array()
            .expect("leaf hashes")
            .iter()
            .map(|h| hash(h).expect("32-byte leaf"))
            .collect()
    }

    fn check_inclusion(item: &Value) -> bool {
        let (Some(index), Some(size)) = (item["leaf_index"].as_u64(), item["tree_size"].as_u64())
        else {
            return false;
        };
        match (
            hash(&item["leaf_hash_hex"]),
            path(&item["path_hex"]),
            hash(&item["root_hex"]),
        ) {
            (Some(leaf), Some(p), Some(root)) => {
                verify_inclusion(index, size, &leaf, &p, &root).is_ok()
            }
            _ => false,
        }
    }

    fn check_consistency(item: &Value) -> bool {
        let size1 = item["size1"].as_u64().expect("size1");
        let size2 = item["size2"].as_u64().expect("size2");
        match (
            hash(&item["root1_hex"]),
            hash(&item["root2_hex"]),
            path(&item["path_hex"]),
        ) {
            (Some(r1), Some(r2), Some(p)) => verify_consistency(size1, size2, &r1, &r2, &p).is_ok(),
            _ => false,
        }
    }

    #[test]
    fn known_inclusion_proofs_verify_and_are_generated() {
        let v = vectors();
        let leaves = reference_leaves();
        let items = v["inclusion_proofs"]["items"].as_array().expect("items");
        for item in items {
            let valid = item["expect_valid"].as_bool().expect("expect_valid");
            assert_eq!(check_inclusion(item), valid, "{item}");
            if valid {
                let index = item["leaf_index"].as_u64().expect("index");
                let size = item["tree_size"].as_u64().expect("size") as usize;
                let ours = inclusion_proof(&leaves[..size], index).expect("proof");
                assert_eq!(Some(ours), path(&item["path_hex"]), "{item}");
            }
        }
    }

    #[test]
    fn known_consistency_proofs_verify_and_are_generated() {
        let v = vectors();
        let leaves = reference_leaves();
        for item in v["consistency_proofs"]["items"].as_array().expect("items") {
            assert!(check_consistency(item), "{item}");
            let size1 = item["size1"].as_u64().expect("size1");
            let size2 = item["size2"].as_u64().expect("size2") as usize;
            let ours = consistency_proof(&leaves[..size2], size1).expect("proof");
            assert_eq!(Some(ours), path(&item["path_hex"]), "{item}");
        }
    }

    #[test]
    fn inclusion_probes_match_the_reference_verifier() {
        let v = vectors();
        let items = v["inclusion_probes"]["items"].as_array().expect("items");
        assert!(items.len() > 50);
        for item in items {
            let want = item["expect_valid"].as_bool().expect("expect_valid");
            assert_eq!(check_inclusion(item), want, "{}", item["desc"]);
        }
    }

    #[test]
    fn consistency_probes_match_the_reference_verifier_except_hash_length() {
        let v = vectors();
        let items = v["consistency_probes"]["items"].as_array().expect("items");
        let mut deviations = 0;
        for item in items {
            let want = item["expect_valid"].as_bool().expect("expect_valid");
            let lengths_ok = ["root1_hex", "root2_hex"]
                .iter()
                .all(|k| hash(&item[*k]).is_some())
                && path(&item["path_hex"]).is_some();
            if want && !lengths_ok {
                // The reference verifier accepts equal sizes with equal roots of any length; bwv
                // rejects every hash that is not 32 bytes.
                deviations += 1;
                assert!(!check_consistency(item), "{}", item["desc"]);
            } else {
                assert_eq!(check_consistency(item), want, "{}", item["desc"]);
            }
        }
        assert_eq!(deviations, 1, "exactly the documented deviation");
    }

    #[test]
    fn real_rekor_entry_is_included() {
        use base64::Engine as _;
        let v = vectors();
        for item in v["real_world"]["items"].as_array().expect("items") {
            let input = base64::engine::general_purpose::STANDARD
                .decode(item["leaf_input_b64"].as_str().expect("leaf"))
                .expect("base64");
            let leaf = leaf_hash(&input);
            let index = item["leaf_index"].as_u64().expect("index");
            let size = item["tree_size"].as_u64().expect("size");
            let p = path(&item["path_hex"]).expect("path");
            let root = hash(&item["root_hex"]).expect("root");
            assert_eq!(verify_inclusion(index, size, &leaf, &p, &root), Ok(()));
            assert!(verify_inclusion(index, size + 1, &leaf, &p, &root).is_err());
        }
    }

    #[test]
    fn edge_cases() {
        let leaves: Vec<Digest> = (0u8..4).map(|i| leaf_hash(&[i])).collect();
        let root4 = subtree_root(&leaves);
        // Nothing is included in the empty tree, and no index at or past the size.
        assert_eq!(
            verify_inclusion(0, 0, &leaves[0], &[], &Digest::of(b"")),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert!(inclusion_proof(&leaves, 4).is_err());
        // No consistency proof from size 0, not even to size 0.
        assert!(consistency_proof(&leaves, 0).is_err());
        let empty = Digest::of(b"");
        assert!(verify_consistency(0, 0, &empty, &empty, &[]).is_err());
        assert!(verify_consistency(0, 4, &empty, &root4, &[]).is_err());
        // One path, two sizes: leaf 0's path in the 4-leaf tree also verifies as a 3-leaf tree
        // with the same root. This is why size and root come from a signed checkpoint.
        let p = inclusion_proof(&leaves, 0).expect("proof");
        assert_eq!(verify_inclusion(0, 4, &leaves[0], &p, &root4), Ok(()));
        assert_eq!(verify_inclusion(0, 3, &leaves[0], &p, &root4), Ok(()));
        assert!(verify_inclusion(0, 5, &leaves[0], &p, &root4).is_err());
    }

    fn tree(n: usize) -> Vec<Digest> {
        (0..n as u32).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn generated_inclusion_proofs_verify_and_mutations_fail(
            size in 1usize..80, index_seed in any::<usize>(), which in any::<usize>(), bit in 0u8..8
        ) {
            let leaves = tree(size);
            let root = subtree_root(&leaves);
            let index = (index_seed % size) as u64;
            let p = inclusion_proof(&leaves, index).expect("proof");
            let leaf = leaves[index as usize];
            prop_assert_eq!(verify_inclusion(index, size as u64, &leaf, &p, &root), Ok(()));
            // Flip one bit of one path hash, or of the leaf if the path is empty.
            let mut bad = p.clone();
            let mut bad_leaf = leaf;
            if bad.is_empty() {
                bad_leaf.0[which % 32] ^= 1 << bit;
            } else {
                let i = which % bad.len();
                bad[i].0[(which / 7) % 32] ^= 1 << bit;
            }
            prop_assert!(verify_inclusion(index, size as u64, &bad_leaf, &bad, &root).is_err());
            // Drop, add or reorder hashes.
            if !p.is_empty() {
                prop_assert!(verify_inclusion(index, size as u64, &leaf, &p[1..], &root).is_err());
            }
            let mut longer = p.clone();
            longer.push(root);
            prop_assert!(verify_inclusion(index, size as u64, &leaf, &longer, &root).is_err());
            if p.len() >= 2 && p[0] != p[1] {
                let mut swapped = p.clone();
                swapped.swap(0, 1);
                prop_assert!(verify_inclusion(index, size as u64, &leaf, &swapped, &root).is_err());
            }
            // Any other index of the same tree fails.
            let other = (index + 1) % size as u64;
            if other != index {
                prop_assert!(verify_inclusion(other, size as u64, &leaf, &p, &root).is_err());
            }
        }

        #[test]
        fn generated_consistency_proofs_verify_and_mutations_fail(
            new in 1usize..80, old_seed in any::<usize>(), which in any::<usize>(), bit in 0u8..8
        ) {
            let leaves = tree(new);
            let old = old_seed % new + 1;
            let (r1, r2) = (subtree_root(&leaves[..old]), subtree_root(&leaves));
            let p = consistency_proof(&leaves, old as u64).expect("proof");
            prop_assert_eq!(verify_consistency(old as u64, new as u64, &r1, &r2, &p), Ok(()));
            let mut bad_r1 = r1;
            bad_r1.0[which % 32] ^= 1 << bit;
            prop_assert!(verify_consistency(old as u64, new as u64, &bad_r1, &r2, &p).is_err());
            if !p.is_empty() {
                let mut bad = p.clone();
                let i = which % bad.len();
                bad[i].0[(which / 7) % 32] ^= 1 << bit;
                prop_assert!(verify_consistency(old as u64, new as u64, &r1, &r2, &bad).is_err());
                prop_assert!(verify_consistency(old as u64, new as u64, &r1, &r2, &p[..p.len() - 1]).is_err());
            }
            // A tree with one leaf changed is not an extension of the old one.
            if old < new {
                let mut forked = leaves.clone();
                forked[which % old].0[0] ^= 1;
                let forked_root = subtree_root(&forked);
                prop_assert!(verify_consistency(old as u64, new as u64, &r1, &forked_root, &p).is_err());
            }
        }
    }

    /// Every proof range's root, put together from perfect subtrees as the store does, is the
    /// root of its leaves; and the completed subtrees an append reports are those roots.
    #[test]
    fn proof_ranges_are_built_from_perfect_subtrees() {
        let leaves: Vec<Digest> = (0..300u32).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut perfect = |level: u32, index: u64| -> Result<Digest, ()> {
            let start = (index << level) as usize;
            Ok(subtree_root(&leaves[start..start + (1 << level)]))
        };
        for size in 1..=leaves.len() as u64 {
            for index in [0, size / 3, size - 1] {
                let ranges = inclusion_ranges(size, index).expect("in range");
                let built: Vec<Digest> = ranges
                    .iter()
                    .map(|r| range_root(*r, &mut perfect).expect("root"))
                    .collect();
                assert_eq!(
                    built,
                    inclusion_proof(&leaves[..size as usize], index).expect("proof")
                );
            }
            let old = size.div_ceil(2);
            let built: Vec<Digest> = consistency_ranges(old, size)
                .expect("sizes")
                .iter()
                .map(|r| range_root(*r, &mut perfect).expect("root"))
                .collect();
            assert_eq!(
                built,
                consistency_proof(&leaves[..size as usize], old).expect("proof")
            );
        }
        let mut tree = Frontier::new();
        let mut reported = 0;
        for leaf in &leaves {
            tree.push_leaf_hash_with(*leaf, &mut |level, index, root| {
                reported += 1;
                assert_eq!(Ok(root), perfect(level, index), "{level}/{index}");
            });
        }
        // 300 leaves complete 150 + 75 + 37 + 18 + 9 + 4 + 2 + 1 perfect subtrees.
        assert_eq!(reported, 296);
    }
}
