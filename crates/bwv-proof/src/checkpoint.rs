//! Signed checkpoints of the custody log: C2SP signed notes (c2sp.org/signed-note) with Ed25519,
//! carrying a C2SP tlog checkpoint body (c2sp.org/tlog-checkpoint).
//!
//! ```text
//! <origin>\n<tree size, decimal>\n<base64 root hash>\n     the checkpoint (the note's text)
//! \n                                                       blank line
//! — <key name> <base64(key id[4] || signature[64])>\n      one line per signature
//! ```
//! The key id is SHA-256(name || 0x0A || 0x01 || public key)[:4]; the verifier key is written
//! `name+hexid+base64(0x01 || public key)` and the signer key `PRIVATE+KEY+name+hexid+base64(0x01
//! || seed)`, as in Go's `golang.org/x/mod/sumdb/note`, so other tools can check bwv's notes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::digest::{self, Digest};

/// The algorithm byte for Ed25519 in signed-note keys.
const ALG_ED25519: u8 = 1;
/// Signature lines start with an em dash and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Why a key, note or checkpoint was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key string is malformed.
    #[error("malformed key: {0}")]
    Key(&'static str),
    /// The note text or a signature line is malformed.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// No signature line by the expected key.
    #[error("note is not signed by {0}")]
    Unsigned(String),
    /// A signature line by the expected key does not verify.
    #[error("bad signature by {0}")]
    BadSignature(String),
    /// The note's text is not a valid checkpoint.
    #[error("malformed checkpoint: {0}")]
    Checkpoint(&'static str),
    /// The checkpoint is for another log.
    #[error("checkpoint is for log {found:?}, expected {expected:?}")]
    Origin {
        /// The origin the verifier expects.
        expected: String,
        /// The origin in the note.
        found: String,
    },
    /// The operating system gave no randomness for a new key.
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::Key(
            "name must be non-empty with no '+' or spaces",
        ));
    }
    Ok(())
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut data = Vec::with_capacity(name.len() + 34);
    data.extend_from_slice(name.as_bytes());
    data.push(b'\n');
    data.push(ALG_ED25519);
    data.extend_from_slice(public.as_bytes());
    let d = Digest::of(&data);
    [d.0[0], d.0[1], d.0[2], d.0[3]]
}

/// Splits `name+hexid+base64key` and checks the id against the name and key bytes.
fn parse_key(s: &str) -> Result<(String, [u8; 4], [u8; 32]), NoteError> {
    let mut parts = s.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::Key("expected name+id+key"));
    };
    check_name(name)?;
    let id = u32::from_str_radix(id, 16)
        .ok()
        .filter(|_| id.len() == 8)
        .ok_or(NoteError::Key("id is not 8 hex digits"))?
        .to_be_bytes();
    let bytes = B64
        .decode(key)
        .map_err(|_| NoteError::Key("key is not base64"))?;
    let (&alg, raw) = bytes.split_first().ok_or(NoteError::Key("empty key"))?;
    if alg != ALG_ED25519 {
        return Err(NoteError::Key("not an Ed25519 key"));
    }
    let raw: [u8; 32] = raw
        .try_into()
        .map_err(|_| NoteError::Key("Ed25519 key is not 32 bytes"))?;
    Ok((name.to_owned(), id, raw))
}

/// A private signing key with its name (for bwv, the log's origin).
pub struct NoteSigner {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("id", &digest::to_hex(&self.id))
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A signer from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        Ok(Self {
            id: key_id(name, &key.verifying_key()),
            name: name.to_owned(),
            key,
        })
    }

    /// A new random key.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| NoteError::Random(e.to_string()))?;
        Self::from_seed(name, seed)
    }

    /// Parses `PRIVATE+KEY+name+hexid+base64(0x01 || seed)`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let rest = s
            .trim_end()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(NoteError::Key("signer key must start PRIVATE+KEY+"))?;
        let (name, id, seed) = parse_key(rest)?;
        let signer = Self::from_seed(&name, seed)?;
        if signer.id != id {
            return Err(NoteError::Key("key id does not match the key"));
        }
        Ok(signer)
    }

    /// The signer key string (secret).
    pub fn encode(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}",
            self.name,
            digest::to_hex(&self.id),
            B64.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text` (which must be valid note text) and returns the whole note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        sign_note(self, text)
    }
}

/// What signs the log's checkpoints: the key file in the store today ([`NoteSigner`]), a KMS or
/// HSM that holds the Ed25519 key and never lets it out later. The note around the signature is
/// built here, the same for every signer.
pub trait LogSigner: Send + Sync + std::fmt::Debug {
    /// The verifier of what it signs (its name is the log's origin).
    fn verifier(&self) -> NoteVerifier;
    /// The Ed25519 signature of `message`.
    fn sign_bytes(&self, message: &[u8]) -> Result<[u8; 64], NoteError>;
}

impl LogSigner for NoteSigner {
    fn verifier(&self) -> NoteVerifier {
        NoteSigner::verifier(self)
    }

    fn sign_bytes(&self, message: &[u8]) -> Result<[u8; 64], NoteError> {
        Ok(self.key.sign(message).to_bytes())
    }
}

/// Signs `text` (which must be valid note text) with `signer` and returns the whole note.
pub fn sign_note(signer: &dyn LogSigner, text: &str) -> Result<String, NoteError> {
    check_text(text)?;
    let verifier = signer.verifier();
    let sig = signer.sign_bytes(text.as_bytes())?;
    let mut blob = verifier.id.to_vec();
    blob.extend_from_slice(&sig);
    Ok(format!(
        "{text}\n{SIG_PREFIX}{} {}\n",
        verifier.name,
        B64.encode(blob)
    ))
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("text must end with a newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(NoteError::Malformed("text must not contain blank lines"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Malformed("text contains control characters"));
    }
    Ok(())
}

/// A public verifier key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parses `name+hexid+base64(0x01 || public key)`.
    pub fn parse(s: &str) -> Result<Self, NoteError> {
        let (name, id, raw) = parse_key(s.trim_end())?;
        let key = VerifyingKey::from_bytes(&raw)
            .map_err(|_| NoteError::Key("not a valid Ed25519 point"))?;
        if key_id(&name, &key) != id {
            return Err(NoteError::Key("key id does not match the key"));
        }
        Ok(Self { name, id, key })
    }

    /// A verifier with an explicitly given key id (for logs, such as Sigstore's, that derive
    /// their key hints differently).
    pub fn with_id(name: &str, id: [u8; 4], public: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::Key("not a valid Ed25519 point"))?;
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The verifier key string (public).
    pub fn encode(&self) -> String {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            digest::to_hex(&self.id),
            B64.encode(raw)
        )
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks that `note` carries a valid signature by this key and returns its text. Lines by
    /// other keys are ignored; a line by this key that does not verify is an error.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
        check_text(text)?;
        if sigs.is_empty() || !sigs.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signature lines must end with a newline",
            ));
        }
        let mut verified = false;
        for line in sigs.lines() {
            let rest = line.strip_prefix(SIG_PREFIX).ok_or(NoteError::Malformed(
                "signature line must start with an em dash",
            ))?;
            let (name, b64) = rest.rsplit_once(' ').ok_or(NoteError::Malformed(
                "signature line needs a name and a signature",
            ))?;
            let blob = B64
                .decode(b64)
                .map_err(|_| NoteError::Malformed("signature is not base64"))?;
            if blob.len() < 5 {
                return Err(NoteError::Malformed("signature too short"));
            }
            if name != self.name || blob[..4] != self.id {
                continue;
            }
            let sig = <[u8; 64]>::try_from(&blob[4..])
                .map(|b| Signature::from_bytes(&b))
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            self.key
                .verify_strict(text.as_bytes(), &sig)
                .map_err(|_| NoteError::BadSignature(self.name.clone()))?;
            verified = true;
        }
        if verified {
            Ok(text)
        } else {
            Err(NoteError::Unsigned(self.name.clone()))
        }
    }
}

/// A tlog checkpoint: the log's identity, size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin (for bwv logs, the signing key's name).
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root of those leaves.
    pub root: Digest,
}

impl Checkpoint {
    /// The checkpoint's note text.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        )
    }

    /// Parses note text (extension lines after the root are allowed and ignored).
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::Checkpoint("needs origin, size and root lines"));
        };
        if origin.is_empty() {
            return Err(NoteError::Checkpoint("empty origin"));
        }
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(NoteError::Checkpoint("size is not a decimal number"));
        }
        let size = size
            .parse()
            .map_err(|_| NoteError::Checkpoint("size out of range"))?;
        let root = B64
            .decode(root)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(NoteError::Checkpoint("root is not 32 bytes of base64"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root: Digest(root),
        })
    }

    /// Signs the checkpoint as a note.
    pub fn sign(&self, signer: &dyn LogSigner) -> Result<String, NoteError> {
        sign_note(signer, &self.body())
    }

    /// Verifies a signed checkpoint note and parses it; its origin must be the key's name.
    pub fn open(note: &str, verifier: &NoteVerifier) -> Result<Self, NoteError> {
        let cp = Self::parse(verifier.open(note)?)?;
        if cp.origin != verifier.name {
            return Err(NoteError::Origin {
                expected: verifier.name.clone(),
                found: cp.origin,
            });
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn notes() -> Vec<Value> {
        let v: Value = serde_json::from_str(include_str!("../../../testdata/rfc6962_vectors.json"))
            .expect("vector file is JSON");
        v["signed_notes"]["items"]
            .as_array()
            .expect("items")
            .clone()
    }

    #[test]
    fn published_notes_verify_and_the_tampered_one_fails() {
        let mut checked = 0;
        for item in notes() {
            let (Some(vkey), Some(valid)) = (item["vkey"].as_str(), item["expect_valid"].as_bool())
            else {
                continue;
            };
            let note = item["note"].as_str().expect("note");
            let verifier = NoteVerifier::parse(vkey).expect("vkey parses");
            assert_eq!(verifier.encode(), vkey);
            assert_eq!(verifier.open(note).is_ok(), valid, "{}", item["desc"]);
            checked += 1;
        }
        assert_eq!(checked, 4);
    }

    #[test]
    fn signing_reproduces_the_published_note() {
        let item = notes()
            .into_iter()
            .find(|i| i["skey"].is_string())
            .expect("a vector with a signer key");
        let signer = NoteSigner::parse(item["skey"].as_str().expect("skey")).expect("skey");
        assert_eq!(signer.encode(), item["skey"].as_str().expect("skey"));
        assert_eq!(
            signer.verifier().encode(),
            item["vkey"].as_str().expect("vkey")
        );
        let note = item["note"].as_str().expect("note");
        let text = &note[..note.rfind("\n\n").expect("blank line") + 1];
        assert_eq!(signer.sign(text).expect("signs"), note);
    }

    #[test]
    fn published_checkpoint_parses() {
        let item = notes()
            .into_iter()
            .find(|i| i["expect_parse"]["tree_size"].is_u64())
            .expect("checkpoint vector");
        let note = item["note"].as_str().expect("note");
        let text = &note[..note.rfind("\n\n").expect("blank line") + 1];
        let cp = Checkpoint::parse(text).expect("parses");
        let want = &item["expect_parse"];
        assert_eq!(cp.origin, want["origin"].as_str().expect("origin"));
        assert_eq!(Some(cp.size), want["tree_size"].as_u64());
        assert_eq!(
            B64.encode(cp.root.0),
            want["root_hash_b64"].as_str().expect("root")
        );
        assert_eq!(cp.body(), text);
        // Without its key, nothing verifies it.
        let other = NoteSigner::from_seed(&cp.origin, [7; 32]).expect("key");
        assert!(matches!(
            Checkpoint::open(note, &other.verifier()),
            Err(NoteError::Unsigned(_))
        ));
    }

    #[test]
    fn real_rekor_checkpoint_verifies() {
        let v: Value = serde_json::from_str(include_str!("../../../testdata/rfc6962_vectors.json"))
            .expect("vector file is JSON");
        let item = v["real_world"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["signature_scheme"] == "c2sp-signed-note-ed25519")
            .expect("Ed25519 entry");
        let spki = B64
            .decode(item["log_public_key_spki_b64"].as_str().expect("spki"))
            .expect("base64");
        let public: [u8; 32] = spki[spki.len() - 32..].try_into().expect("32 bytes");
        let log_id = B64
            .decode(item["log_id_b64"].as_str().expect("log id"))
            .expect("base64");
        let origin = item["log_origin"].as_str().expect("origin");
        let verifier =
            NoteVerifier::with_id(origin, log_id[..4].try_into().expect("4"), public).expect("key");
        let cp = Checkpoint::open(item["checkpoint_note"].as_str().expect("note"), &verifier)
            .expect("verifies");
        assert_eq!(Some(cp.size), item["tree_size"].as_u64());
        assert_eq!(cp.root.to_hex(), item["root_hex"].as_str().expect("root"));
    }

    #[test]
    fn own_checkpoints_round_trip_and_tampering_fails() {
        let signer = NoteSigner::generate("bwv.example/log").expect("key");
        let verifier = NoteVerifier::parse(&signer.verifier().encode()).expect("round trip");
        let cp = Checkpoint {
            origin: "bwv.example/log".into(),
            size: 12,
            root: Digest::of(b"root"),
        };
        let note = cp.sign(&signer).expect("signs");
        assert_eq!(Checkpoint::open(&note, &verifier), Ok(cp.clone()));
        // Change the size, the root, or a signature byte.
        let bigger = note.replacen("\n12\n", "\n13\n", 1);
        assert!(matches!(
            Checkpoint::open(&bigger, &verifier),
            Err(NoteError::BadSignature(_))
        ));
        let sig_at = note.rfind(' ').expect("sig") + 10;
        let mut bytes = note.clone().into_bytes();
        bytes[sig_at] = if bytes[sig_at] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).expect("ascii");
        assert!(Checkpoint::open(&flipped, &verifier).is_err());
        // Another log's key with the same name is not this log's key.
        let impostor = NoteSigner::generate("bwv.example/log").expect("key");
        let forged = cp.sign(&impostor).expect("signs");
        assert!(matches!(
            Checkpoint::open(&forged, &verifier),
            Err(NoteError::Unsigned(_))
        ));
        // A note from another origin, even validly signed, is refused.
        let elsewhere = NoteSigner::generate("other.example/log").expect("key");
        let cp2 = Checkpoint {
            origin: "bwv.example/log".into(),
            ..cp
        };
        let note2 = cp2.sign(&elsewhere).expect("signs");
        assert!(matches!(
            Checkpoint::open(&note2, &elsewhere.verifier()),
            Err(NoteError::Origin { .. })
        ));
        assert!(Checkpoint::parse("o\n012\nAAAA\n").is_err());
        assert!(NoteSigner::generate("has space").is_err());
    }
}
