//! The disclosure bundle: chosen files of one recording, a manifest with every hash, the
//! recording's events each with an inclusion proof against a checkpoint signed for the export,
//! the public key, `SHA256SUMS`, and a README saying how to check it all offline.
//!
//! ```text
//! OUT/files/…            the exported files (copied and hashed in one read, checked against the index)
//! OUT/record.json        recording, artefacts, exported files: its SHA-256 is in the export's
//!                        own event, so an edit of it (or of the same facts in the manifest)
//!                        is found with the event's proof
//! OUT/manifest.json      recording, artefacts, exported files, events, checkpoint
//! OUT/proofs/<seq>.json  inclusion proof of each event (bwv log verify-proof)
//! OUT/checkpoint.txt     the signed checkpoint the proofs are against
//! OUT/log.pub            the log's public key
//! OUT/SHA256SUMS         sha256sum -c SHA256SUMS
//! OUT/README.txt         how to verify
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::custody::checkpoint::LogSigner;
use crate::custody::log::{self, ProofDoc};
use crate::custody::{Artefact, ArtefactKind, EventDraft, EventKind, MediaInfo, Store};
use crate::digest::{self, Digest};
use crate::error::{Error, Result, Stage};
use crate::home::Home;

/// A file to put in the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSpec {
    /// The native master.
    Master,
    /// Every stored artefact of this kind.
    Artefact(ArtefactKind),
    /// A file from outside the store (e.g. a redacted copy).
    External(PathBuf),
}

/// The default selection: master, proxy, frame hashes with their times, contact sheet.
pub fn default_files() -> Vec<FileSpec> {
    vec![
        FileSpec::Master,
        FileSpec::Artefact(ArtefactKind::Proxy),
        FileSpec::Artefact(ArtefactKind::FrameHashes),
        FileSpec::Artefact(ArtefactKind::FrameTimes),
        FileSpec::Artefact(ArtefactKind::ContactSheet),
    ]
}

/// One exported file in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedFile {
    /// Path inside the bundle.
    pub path: String,
    /// What it is (`master`, an artefact kind, or `external`).
    pub kind: String,
    /// SHA-256 of its bytes.
    pub sha256: Digest,
    /// Size in bytes.
    pub size: u64,
}

/// One event in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestEvent {
    /// Sequence number.
    pub seq: u64,
    /// Kind.
    pub kind: String,
    /// When.
    pub at: String,
    /// Its RFC 6962 leaf hash.
    pub leaf_hash: Digest,
    /// Its proof inside the bundle.
    pub proof: String,
}

/// `record.json`: what the bundle says of the recording and its files, written before the
/// export's event, which holds its SHA-256.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Recording id.
    pub recording: String,
    /// SHA-256 of the native master.
    pub master_sha256: Digest,
    /// Master size.
    pub master_size: u64,
    /// When recorded (UTC).
    pub recorded_at: String,
    /// When ingested (UTC).
    pub ingested_at: String,
    /// Stream facts and frame-hash root.
    pub media: Option<MediaInfo>,
    /// Every derived file the index holds for it, with provenance.
    pub artefacts: Vec<Artefact>,
    /// The files in this bundle.
    pub files: Vec<ExportedFile>,
}

/// `manifest.json`: the record, with the recording's events and the checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Format name.
    pub format: &'static str,
    /// What `record.json` holds.
    #[serde(flatten)]
    pub record: Record,
    /// The recording's events, each with a proof.
    pub events: Vec<ManifestEvent>,
    /// The log's origin.
    pub log_origin: String,
    /// Size of the checkpoint the proofs are against.
    pub checkpoint_size: u64,
    /// Its root.
    pub checkpoint_root: Digest,
    /// When exported (UTC).
    pub exported_at: String,
    /// Who exported it, as the log names them (a person by the SHA-256 of their name).
    pub exported_by: String,
    /// SHA-256 of `record.json`, as the export's event holds it.
    pub record_sha256: Digest,
}

/// `record.json`: the record with its format.
#[derive(Serialize)]
struct RecordFile<'a> {
    format: &'static str,
    #[serde(flatten)]
    record: &'a Record,
}

fn io(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    Error::io(path, Stage::Output, op)
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(io(path, "write"))
}

/// Copies `src` to `dest` while hashing; checks the hash when one is expected.
fn copy_checked(src: &Path, dest: &Path, expected: Option<&Digest>) -> Result<(Digest, u64)> {
    let input = fs::File::open(src).map_err(Error::io(src, Stage::Output, "open"))?;
    let output = fs::File::create(dest).map_err(io(dest, "create"))?;
    let (sha, size) = digest::hash_copy(input, &output).map_err(|e| match e {
        digest::CopyError::Read(e) => Error::io(src, Stage::Output, "read")(e),
        digest::CopyError::Write(e) => Error::io(dest, Stage::Output, "write")(e),
    })?;
    output.sync_all().map_err(io(dest, "fsync"))?;
    if let Some(want) = expected.filter(|w| **w != sha) {
        let _ = fs::remove_file(dest);
        return Err(Error::Integrity(format!(
            "{} has changed since it was recorded (index {want}, now {sha}); run `bwv verify`",
            src.display()
        )));
    }
    Ok((sha, size))
}

/// Builds the bundle in `out` (which must not exist or be empty). Appends an `accessed` event
/// for the export and signs a checkpoint covering it, so every proof in the bundle, the export's
/// own event included, checks against one signed checkpoint.
pub fn export(
    home: &Home,
    store: &dyn Store,
    signer: &dyn LogSigner,
    reference: &str,
    files: &[FileSpec],
    out: &Path,
    actor: &str,
) -> Result<Manifest> {
    let rec = store.resolve(reference)?;
    if let Some(d) = &rec.deletion {
        return Err(Error::Conflict(format!(
            "recording {} was deleted at {} ({}); only its hashes remain (bwv show)",
            rec.id, d.at, d.reason
        )));
    }
    if out.exists()
        && fs::read_dir(out)
            .map_err(io(out, "read folder"))?
            .next()
            .is_some()
    {
        return Err(Error::Invalid(format!(
            "{} is not empty; choose a new folder",
            out.display()
        )));
    }
    for dir in ["files", "proofs"] {
        fs::create_dir_all(out.join(dir)).map_err(io(&out.join(dir), "create folder"))?;
    }
    // Every derived file is listed in the manifest with its provenance, but a superseded
    // redacted copy is never bundled again.
    let artefacts = store.artefacts(&rec.id)?;
    let superseded = store.superseded(&rec.id)?;
    // Stored objects are read where they are (a local store) or fetched here (a remote one).
    let scratch = home.scratch()?;
    let stored = |key: &str| home.blobs().local(key, scratch.path());

    // Sources: (bundle name, kind, path, expected hash).
    let mut sources: Vec<(String, String, PathBuf, Option<Digest>)> = Vec::new();
    for spec in files {
        match spec {
            FileSpec::Master => sources.push((
                rec.source_name.clone(),
                "master".into(),
                stored(&rec.master_path)?,
                Some(rec.master_sha256),
            )),
            FileSpec::Artefact(kind) => {
                let found: Vec<&Artefact> = artefacts
                    .iter()
                    .filter(|a| a.kind == *kind && !superseded.contains(&a.path))
                    .collect();
                if found.is_empty() {
                    return Err(Error::NotFound(format!(
                        "recording {} has no {} (status {})",
                        rec.id,
                        kind.as_str(),
                        rec.status.as_str()
                    )));
                }
                for a in found {
                    let name = Path::new(&a.path)
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| kind.as_str().to_owned());
                    sources.push((name, kind.as_str().into(), stored(&a.path)?, Some(a.sha256)));
                }
            }
            FileSpec::External(p) => sources.push((
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "external".into()),
                "external".into(),
                p.clone(),
                None,
            )),
        }
    }
    let mut exported = Vec::new();
    for (name, kind, src, expected) in sources {
        let mut unique = name.clone();
        let mut n = 1;
        while exported
            .iter()
            .any(|f: &ExportedFile| f.path == format!("files/{unique}"))
        {
            n += 1;
            unique = format!("{n}-{name}");
        }
        let path = format!("files/{unique}");
        let (sha256, size) = copy_checked(&src, &out.join(&path), expected.as_ref())?;
        exported.push(ExportedFile {
            path,
            kind,
            sha256,
            size,
        });
    }

    let set: String = exported
        .iter()
        .map(|f| format!("{} {} {}\n", f.path, f.sha256, f.size))
        .collect();
    let record = Record {
        recording: rec.id.clone(),
        master_sha256: rec.master_sha256,
        master_size: rec.master_size,
        recorded_at: rec.recorded_at.clone(),
        ingested_at: rec.ingested_at.clone(),
        media: rec.media.clone(),
        artefacts,
        files: exported,
    };
    let file = RecordFile {
        format: "bwv-export-record/1",
        record: &record,
    };
    let record_json = serde_json::to_string_pretty(&file).expect("record serialises") + "\n";
    write(&out.join("record.json"), record_json.as_bytes())?;
    let record_sha256 = Digest::of(record_json.as_bytes());
    store.append(
        EventDraft::new(EventKind::Accessed, Some(&rec.id), actor)
            .with("action", "export")
            .with("files", record.files.len() as u64)
            .with("export_set", Digest::of(set.as_bytes()))
            .with("record_sha256", record_sha256),
    )?;
    let (cp, _) = log::sign_checkpoint(store, signer, log::AuditScope::SinceLatest)?;
    let verifier = signer.verifier();

    let logged = store.events(Some(&rec.id))?;
    let seqs: Vec<u64> = logged.iter().map(|e| e.seq).collect();
    let proofs = log::prove_many(store, &verifier, &seqs, Some(&cp.note))?;
    let mut events = Vec::new();
    for (e, proof) in logged.iter().zip(proofs) {
        let path = format!("proofs/{:08}-{}.json", e.seq, e.kind.as_str());
        let proof_leaf = proof.leaf_hash;
        let json = serde_json::to_string_pretty(&ProofDoc::Inclusion(proof))
            .expect("proofs serialise")
            + "\n";
        write(&out.join(&path), json.as_bytes())?;
        events.push(ManifestEvent {
            seq: e.seq,
            kind: e.kind.as_str().into(),
            at: e.at.clone(),
            leaf_hash: proof_leaf,
            proof: path,
        });
    }
    let last = events.last().map(|e| e.at.clone()).unwrap_or_default();
    let manifest = Manifest {
        format: "bwv-export/1",
        record,
        events,
        log_origin: signer.verifier().name().to_owned(),
        checkpoint_size: cp.size,
        checkpoint_root: cp.root,
        exported_at: last,
        exported_by: crate::custody::logged_actor(actor).into_owned(),
        record_sha256,
    };
    write(&out.join("checkpoint.txt"), cp.note.as_bytes())?;
    write(
        &out.join("log.pub"),
        format!("{}\n", verifier.encode()).as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(&manifest).expect("manifest serialises") + "\n";
    write(&out.join("manifest.json"), json.as_bytes())?;
    let mut sums: String = manifest
        .record
        .files
        .iter()
        .map(|f| format!("{}  {}\n", f.sha256, f.path))
        .collect();
    sums.push_str(&format!("{record_sha256}  record.json\n"));
    sums.push_str(&format!("{}  manifest.json\n", Digest::of(json.as_bytes())));
    write(&out.join("SHA256SUMS"), sums.as_bytes())?;
    write(&out.join("README.txt"), readme(&manifest).as_bytes())?;
    Ok(manifest)
}

fn readme(m: &Manifest) -> String {
    let first = m
        .events
        .first()
        .map(|e| e.proof.as_str())
        .unwrap_or("proofs/…");
    format!(
        "Disclosure bundle for body-worn-video recording {id}
=====================================================

Native master SHA-256: {master}
Custody log: {origin}, checkpoint of {size} events, root {root}

What is here
- files/           the exported files; manifest.json lists each with its SHA-256 and what it is
- record.json      the recording, every derived file with its provenance, and the files here;
                   its SHA-256 ({record}) is in the export's own event
                   ({export_proof}), so the log vouches for it
- manifest.json    the same, with the recording's custody events (sequence number, kind, time,
                   RFC 6962 leaf hash) and the checkpoint
- proofs/          one inclusion proof per event against checkpoint.txt
- checkpoint.txt   the custody log's signed checkpoint (C2SP signed note, Ed25519)
- log.pub          the custody log's public key (compare it with the one the force publishes)

Check the files (any machine with coreutils)
    sha256sum -c SHA256SUMS

Check that each event is in the signed custody log (bwv-verify-proof, a small program with no
video libraries or database, from the bwv-proof crate; `bwv log verify-proof` does the same)
    bwv-verify-proof {first} --key log.pub --checkpoint checkpoint.txt
    for p in proofs/*.json; do bwv-verify-proof \"$p\" --key log.pub --checkpoint checkpoint.txt; done

Check that record.json is the one the export logged: its SHA-256 must equal the record_sha256 in
the export event's bytes (the \"event\" of {export_proof}), and manifest.json must say the same of
the recording and its files.
    sha256sum record.json

Each proof holds the event's exact bytes (canonical JSON), its leaf hash SHA-256(0x00 || bytes), and
the audit path to the checkpoint's root (RFC 6962/9162). The master's SHA-256 above appears in the
`ingested` event's bytes, so a verified proof ties the master to the log. Per-frame hashes
(frames.sha256, 32 bytes a frame) can be re-derived with:
    ffmpeg -i files/<master> -map 0:v:0 -f framehash -hash sha256 -
",
        id = m.record.recording,
        master = m.record.master_sha256,
        origin = m.log_origin,
        size = m.checkpoint_size,
        root = m.checkpoint_root,
        record = m.record_sha256,
        export_proof = m
            .events
            .iter()
            .rev()
            .find(|e| e.kind == "accessed")
            .map_or("proofs/…", |e| e.proof.as_str()),
    )
}
