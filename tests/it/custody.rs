//! The custody log end to end: checkpoints signed at ingest, proofs verified offline with only
//! the public key, and `verify` naming each kind of tampering.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    id: String,
}

/// A store with one small recording ingested (and so one signed checkpoint).
fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_owned();
    let dock = root.join("dock");
    fs::create_dir(&dock).expect("mkdir");
    make_clip(
        &dock.join("cam.mp4"),
        Clip {
            seconds: 1.0,
            ..Clip::h264(320, 240)
        },
    );
    let home = root.join("home");
    let id = ingest_one(&home, &dock)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    Fixture {
        _dir: dir,
        root,
        home,
        id,
    }
}

fn verify_json(home: &Path, extra: &[&str]) -> (i32, Value) {
    let o = run(bwv(home).args(["verify", "--json"]).args(extra));
    let code = o.status.code().expect("exit code");
    let report = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("verify JSON ({e}): {} {}", stdout(&o), stderr(&o)));
    (code, report)
}

/// The `finding` names in a verify report, log findings first.
fn finding_names(report: &Value) -> Vec<String> {
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("findings array")
            .iter()
            .map(|f| f["finding"].as_str().expect("finding").to_owned())
            .collect()
    };
    let mut out = names(&report["log"]["findings"]);
    out.extend(names(&report["findings"]));
    out
}

/// Runs SQL on the index as someone with file access would: triggers dropped first.
fn tamper_index(home: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(home.join("index.sqlite")).expect("open index");
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete; \
         DROP TRIGGER IF EXISTS checkpoints_no_update; DROP TRIGGER IF EXISTS checkpoints_no_delete;",
    )
    .expect("drop triggers");
    conn.execute_batch(sql).expect("tamper");
}

fn flip_byte(path: &Path, at: u64) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut bytes = fs::read(path).expect("read");
    let i = (at as usize).min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    fs::write(path, bytes).expect("write");
}

fn expect_problem(f: &Fixture, extra: &[&str], name: &str) -> Value {
    let checkpoints = || {
        bwv::custody::open_index(
            &bwv::custody::IndexLocation::Sqlite(f.home.join("index.sqlite")),
            std::sync::Arc::new(bwv::clock::SystemClock),
        )
        .and_then(|s| s.checkpoints())
        .map(|c| c.len())
        .ok()
    };
    let before = checkpoints();
    let (code, report) = verify_json(&f.home, extra);
    assert_eq!(
        checkpoints(),
        before,
        "a verification that found problems signs nothing"
    );
    assert_eq!(code, 2, "verify must fail: {report}");
    assert_eq!(report["ok"], false);
    let names = finding_names(&report);
    assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    report
}

#[test]
fn clean_store_verifies_deeply_and_proofs_check_offline() {
    let f = fixture();
    let (code, report) = verify_json(&f.home, &["--deep"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    let rec = &report["recordings"][0];
    assert_eq!(rec["id"], f.id.as_str());
    assert_eq!(rec["frames_redecoded"], 30);
    assert!(rec["files"].as_u64().expect("files") >= 6);
    assert_eq!(report["log"]["checkpoints_checked"], 1);
    // The clean verification's own event is sealed: the latest checkpoint covers it.
    let o = run(bwv(&f.home).args(["log", "checkpoint", "--json"]));
    let cp: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("checkpoint JSON");
    assert_eq!(cp["new"], false, "{cp}");

    // The public key and a proof, then check them with nothing else.
    let key = f.root.join("log.pub");
    let o = run(bwv(&f.home).args(["log", "pubkey"]));
    fs::write(&key, stdout(&o)).expect("write key");
    let proof = f.root.join("proof.json");
    let o = run(bwv(&f.home).args(["log", "prove", "0", "-o"]).arg(&proof));
    assert!(o.status.success(), "{}", stderr(&o));
    let empty = f.root.join("no-store");
    let check = |proof: &Path, extra: &[&Path]| {
        let mut c = bwv(&empty);
        c.args(["log", "verify-proof"])
            .arg(proof)
            .arg("--key")
            .arg(&key);
        for p in extra {
            c.arg("--checkpoint").arg(p);
        }
        run(&mut c)
    };
    let o = check(&proof, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ok: event 0 (ingested"),
        "{}",
        stdout(&o)
    );
    assert!(
        !empty.exists(),
        "verify-proof must not need or create a store"
    );
    // The same as JSON, and the key and a checkpoint as JSON too.
    let o = run(bwv(&empty)
        .args(["log", "verify-proof", "--json"])
        .arg(&proof)
        .arg("--key")
        .arg(&key));
    let shown: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(
        (
            &shown["ok"],
            &shown["proof"],
            &shown["event"]["seq"],
            &shown["event"]["kind"]
        ),
        (
            &Value::from(true),
            &Value::from("inclusion"),
            &Value::from(0),
            &Value::from("ingested")
        ),
        "{shown}"
    );
    let o = run(bwv(&f.home).args(["log", "pubkey", "--json"]));
    let pubkey: Value = serde_json::from_str(&stdout(&o)).expect("JSON");
    assert_eq!(
        pubkey["key"].as_str().map(str::trim),
        Some(fs::read_to_string(&key).expect("key").trim())
    );
    let checkpoint = || -> Value {
        let o = run(bwv(&f.home).args(["log", "checkpoint", "--json"]));
        serde_json::from_str(&stdout(&o)).expect("JSON")
    };
    // A look appends an event no checkpoint covers yet: the next checkpoint is new.
    assert!(run(bwv(&f.home).args(["show", &f.id])).status.success());
    let (cp, again) = (checkpoint(), checkpoint());
    assert_eq!(
        (&cp["new"], &again["new"]),
        (&Value::from(true), &Value::from(false))
    );
    assert_eq!(
        cp["size"], again["size"],
        "an unchanged log keeps its checkpoint"
    );
    assert!(
        cp["note"]
            .as_str()
            .expect("note")
            .contains(pubkey["name"].as_str().expect("name")),
        "{cp}"
    );

    // A proof whose event was edited is rejected.
    let forged = f.root.join("forged.json");
    let text = fs::read_to_string(&proof).expect("proof");
    fs::write(&forged, text.replace("ingested", "quarantined")).expect("write");
    let o = check(&forged, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("proof rejected"), "{}", stderr(&o));

    // Consistency from the ingest checkpoint to a later one (verify appended an event).
    let cp1 = f.root.join("cp1");
    let o = run(bwv(&f.home).args(["log", "checkpoint", "-o"]).arg(&cp1));
    assert!(o.status.success(), "{}", stderr(&o));
    run(bwv(&f.home).args(["verify"]));
    let cp2 = f.root.join("cp2");
    run(bwv(&f.home).args(["log", "checkpoint", "-o"]).arg(&cp2));
    assert_ne!(fs::read(&cp1).expect("cp1"), fs::read(&cp2).expect("cp2"));
    let cons = f.root.join("cons.json");
    let o = run(bwv(&f.home)
        .args(["log", "consistency"])
        .arg(&cp1)
        .arg("-o")
        .arg(&cons));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = check(&cons, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // An inclusion proof for the newer tree does not check against the older checkpoint.
    let o = run(bwv(&f.home).args(["log", "prove", "0", "-o"]).arg(&proof));
    assert!(o.status.success());
    assert_eq!(check(&proof, &[&cp1]).status.code(), Some(1));
    assert!(check(&proof, &[&cp2]).status.success());
}

#[test]
fn missing_derived_file() {
    let f = fixture();
    fs::remove_file(f.home.join("derived").join(&f.id).join("proxy.mp4")).expect("rm");
    let r = expect_problem(&f, &[], "missing_file");
    assert_eq!(r["findings"][0]["what"], "proxy");
}

#[test]
fn changed_master_byte() {
    let f = fixture();
    let sha = &list_json(&f.home)[0]["master_sha256"];
    let master = f
        .home
        .join("masters")
        .join(&sha.as_str().expect("sha")[..2])
        .join(sha.as_str().expect("sha"));
    flip_byte(&master, 1000);
    let r = expect_problem(&f, &[], "changed_file");
    assert_eq!(r["findings"][0]["what"], "master");
}

#[test]
fn rewritten_event() {
    let f = fixture();
    tamper_index(
        &f.home,
        "UPDATE events SET canonical = CAST(replace(CAST(canonical AS TEXT), 'bwv-ingest', 'bwv-ingesx') AS BLOB) WHERE seq = 0",
    );
    expect_problem(&f, &[], "event_rewritten");
}

#[test]
fn removed_event() {
    let f = fixture();
    tamper_index(
        &f.home,
        "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)",
    );
    expect_problem(&f, &[], "checkpoint_beyond_log");
}

/// A flag, a hold or a SAR step signs a checkpoint, as ingest does: erasing its event (with
/// the index's triggers dropped) leaves a checkpoint past the log's end.
#[test]
fn erasing_a_flag_or_sar_event_is_found() {
    for step in [
        &["flag", "ID", "--case", "C-1", "--reason", "assault"][..],
        &["hold", "ID", "--kind", "complaint", "--ref", "CMP-7"],
        &[
            "sar",
            "open",
            "--requester",
            "R",
            "--received",
            "2026-11-21",
        ],
    ] {
        let f = fixture();
        let args: Vec<&str> = step
            .iter()
            .map(|a| if *a == "ID" { f.id.as_str() } else { a })
            .collect();
        let o = run(bwv(&f.home).args(&args));
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        tamper_index(
            &f.home,
            "DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)",
        );
        expect_problem(&f, &[], "checkpoint_beyond_log");
    }
}

#[test]
fn altered_checkpoint_signature() {
    let f = fixture();
    tamper_index(
        &f.home,
        "UPDATE checkpoints SET note = replace(note, substr(note, -20, 4), 'AAAA')",
    );
    expect_problem(&f, &[], "bad_signature");
}

#[test]
fn index_row_disagrees_with_the_log() {
    let f = fixture();
    tamper_index(
        &f.home,
        "UPDATE recordings SET master_size = master_size + 1",
    );
    expect_problem(&f, &[], "record_changed");
}

/// What ingest learnt besides the bytes (time, officer, file name, sidecar fields) is bound by
/// the ingested event: an edit in the index is found.
#[test]
fn an_edited_time_officer_or_name_disagrees_with_the_log() {
    for sql in [
        "UPDATE recordings SET recorded_at = '2026-01-01T00:00:00.000Z'",
        "UPDATE recordings SET officer_id = 'PC 99'",
        "UPDATE recordings SET source_name = 'other.mp4'",
        "UPDATE recordings SET extra = '{\"shift\": \"day\"}'",
    ] {
        let f = fixture();
        let (code, _) = verify_json(&f.home, &[]);
        assert_eq!(code, 0);
        tamper_index(&f.home, sql);
        let report = expect_problem(&f, &[], "record_changed");
        assert!(
            report
                .to_string()
                .contains("recording time, officer, device"),
            "{sql}: {report}"
        );
    }
}

#[test]
fn deep_verify_finds_rewritten_frame_hashes() {
    let f = fixture();
    // Rewrite one stored frame hash and "fix" the artefact row so the file check passes.
    let path = f.home.join("derived").join(&f.id).join("frames.sha256");
    flip_byte(&path, 32 * 5);
    let sha = sha256_hex(&path);
    tamper_index(
        &f.home,
        &format!("UPDATE artefacts SET sha256 = '{sha}' WHERE kind = 'frame_hashes'"),
    );
    let (_, shallow) = verify_json(&f.home, &[]);
    assert!(!finding_names(&shallow).contains(&"frame_hashes".to_owned()));
    let deep = expect_problem(&f, &["--deep"], "frame_hashes");
    let detail = deep["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|x| x["finding"] == "frame_hashes")
        .expect("frame finding")["detail"]
        .as_str()
        .expect("detail")
        .to_owned();
    assert!(detail.contains("frame 5"), "{detail}");
}

#[test]
fn export_bundle_checks_offline_with_sha256sum_and_proofs() {
    let f = fixture();
    let extra = f.root.join("redacted-copy.mp4");
    fs::write(&extra, b"stand-in for a redacted copy").expect("write");
    let out = f.root.join("bundle");
    let o = run(bwv(&f.home)
        .args(["export", &f.id, "--out"])
        .arg(&out)
        .args([
            "--file",
            "master",
            "--file",
            "proxy",
            "--file",
            "frame_hashes",
            "--file",
        ])
        .arg(&extra));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&out));
    assert!(o.status.success(), "sha256sum: {}", stdout(&o));
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(out.join("manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(
        texts(&manifest["files"], "kind"),
        ["master", "proxy", "frame_hashes", "external"]
    );
    assert_eq!(manifest["files"][0]["sha256"], manifest["master_sha256"]);
    let events = manifest["events"].as_array().expect("events");
    assert_eq!(events.first().expect("event")["kind"], "ingested");
    assert_eq!(events.last().expect("event")["kind"], "accessed");
    assert_eq!(
        manifest["checkpoint_size"].as_u64(),
        events.last().and_then(|e| e["seq"].as_u64()).map(|s| s + 1),
        "the export's own event is covered by the bundle's checkpoint"
    );
    for e in events {
        let o = run(bwv(&f.root.join("nowhere"))
            .args(["log", "verify-proof"])
            .arg(out.join(e["proof"].as_str().expect("proof")))
            .arg("--key")
            .arg(out.join("log.pub"))
            .arg("--checkpoint")
            .arg(out.join("checkpoint.txt")));
        assert!(o.status.success(), "{e}: {}", stderr(&o));
    }
    assert!(
        fs::read_to_string(out.join("README.txt"))
            .expect("readme")
            .contains("sha256sum -c SHA256SUMS")
    );
    // record.json is the one the export logged (issue 21.5): its SHA-256 is in the export's
    // own event, whose proof is in the bundle; the manifest says the same of the recording.
    let record_text = fs::read_to_string(out.join("record.json")).expect("record");
    let record: Value = serde_json::from_str(&record_text).expect("json");
    let export_proof: Value = serde_json::from_str(
        &fs::read_to_string(
            out.join(
                events.last().expect("event")["proof"]
                    .as_str()
                    .expect("proof"),
            ),
        )
        .expect("proof"),
    )
    .expect("json");
    let logged: Value =
        serde_json::from_str(export_proof["event"].as_str().expect("event bytes")).expect("event");
    let sha = bwv::digest::Digest::of(record_text.as_bytes()).to_hex();
    assert_eq!(logged["fields"]["record_sha256"], sha.as_str());
    assert_eq!(manifest["record_sha256"], sha.as_str());
    for key in [
        "recording",
        "master_sha256",
        "recorded_at",
        "media",
        "artefacts",
        "files",
    ] {
        assert_eq!(record[key], manifest[key], "{key}");
    }
    let edited = record_text.replace(
        manifest["recorded_at"].as_str().expect("time"),
        "2020-01-01T00:00:00.000Z",
    );
    assert_ne!(bwv::digest::Digest::of(edited.as_bytes()).to_hex(), sha);
    // A bundle is never written over another.
    let o = run(bwv(&f.home).args(["export", &f.id, "--out"]).arg(&out));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not empty"), "{}", stderr(&o));
    // A changed bundle file no longer checks.
    flip_byte(&out.join("files").join("proxy.mp4"), 100);
    let o = run(std::process::Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&out));
    assert!(!o.status.success());
}

/// A reader that stops early (`bwv list | head`) ends bwv as it ends any Unix filter, by
/// SIGPIPE, instead of a panic on the broken pipe; the store is untouched and verifies.
#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    use std::os::unix::process::ExitStatusExt as _;
    let f = fixture();
    for args in [&["list"][..], &["show", f.id.as_str()], &["list", "--json"]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let o = run(bwv(&f.home).args(args).stdout(writer));
        assert_eq!(o.status.signal(), Some(13), "{args:?}: {:?}", o.status);
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    }
    let o = run(bwv(&f.home).arg("verify"));
    assert!(o.status.success(), "{}", stdout(&o));
}

/// A file name or a sidecar field with newlines and escape codes cannot forge lines of bwv's
/// output or drive the terminal: printed escaped, kept exact in the index and in JSON.
#[test]
fn names_and_sidecars_are_printed_escaped() {
    let (_dir, dock, home) = dock_and_home();
    let name = "cam\nbwv: verify ok \u{1b}[2J.mp4";
    make_clip(
        &dock.join(name),
        Clip {
            seconds: 1.0,
            ..Clip::h264(320, 240)
        },
    );
    let sidecar = serde_json::json!({"officer_id": "PC 1\u{1b}]0;pwned\u{7}", "device_id": "D\r9"});
    fs::write(dock.join(format!("{name}.json")), sidecar.to_string()).expect("sidecar");
    let o = run(bwv(&home).arg("ingest").arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{:?}", stdout(&o));
    assert!(!stdout(&o).contains('\u{1b}'), "{:?}", stdout(&o));
    let id = {
        let o = run(bwv(&home).args(["list", "--json"]));
        let v: Value = serde_json::from_slice(&o.stdout).expect("json");
        assert_eq!(v[0]["source_name"], name, "kept exact");
        v[0]["id"].as_str().expect("id").to_owned()
    };
    for (args, lines) in [(vec!["list"], 2), (vec!["show", id.as_str()], 0)] {
        let o = run(bwv(&home).args(&args));
        let out = stdout(&o);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(
            !out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\u{7}'),
            "{out:?}"
        );
        assert!(out.contains("cam\\nbwv: verify ok \\u{1b}[2J.mp4"), "{out}");
        if lines > 0 {
            assert_eq!(out.lines().count(), lines, "{out}");
        } else {
            assert!(
                out.contains("PC 1\\u{1b}]0;pwned\\u{7}") && out.contains("D\\r9"),
                "{out}"
            );
        }
    }
}

/// A mistyped --home is an error for every command that reads or changes a store, and no
/// store appears there; only `ingest` and `init` make one.
#[test]
fn a_mistyped_home_is_an_error_not_a_new_store() {
    let f = fixture();
    let typo = f.root.join("hmoe");
    for args in [
        &["list"][..],
        &["show", f.id.as_str()],
        &["verify"],
        &["log", "pubkey"],
        &["sar", "list"],
        &["retention", "sweep", "--dry-run"],
        &["flag", f.id.as_str(), "--case", "C1", "--reason", "r"],
    ] {
        let o = run(bwv(&typo).args(args));
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains(&format!("no bwv store at {}", typo.display())),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!typo.exists(), "{args:?} made {}", typo.display());
    }
    let o = run(bwv(&typo).arg("init"));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(bwv(&typo).arg("list"));
    assert!(o.status.success(), "{}", stderr(&o));

    // --index names the index; a server that cannot be reached is a busy error (try again)
    // naming it without its password.
    let index = format!("sqlite:{}", f.home.join("index.sqlite").display());
    let o = run(bwv(&f.home).args(["--index", &index, "list", "--json"]));
    assert!(stdout(&o).contains(&f.id), "{}", stderr(&o));
    let o = run(bwv(&f.home).args(["--index", "postgres://bwv:s3cret@db.invalid/bwv", "list"]));
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("postgres://db.invalid/bwv"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("s3cret"), "{}", stderr(&o));
}

/// A usage error is fatal (exit 1), not "some items failed" (2); --help answers (0); and an
/// action that records its actor, with none named ($USER unset too), is refused rather than
/// recorded as done by nobody in particular.
#[test]
fn usage_errors_exit_1_and_an_action_needs_an_actor() {
    let f = fixture();
    for args in [
        &["--no-such-flag"][..],
        &["list", "extra"],
        &["frobnicate"],
        &["list", "--from", "yesterday"],
    ] {
        let o = run(bwv(&f.home).args(args));
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    }
    // A mistyped date says how to write one, not how the parser failed.
    let o = run(bwv(&f.home).args([
        "sar",
        "open",
        "--requester",
        "R",
        "--received",
        "21/11/2026",
    ]));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("write it as YYYY-MM-DD") && !stderr(&o).contains("integer"),
        "{}",
        stderr(&o)
    );
    let o = run(bwv(&f.home).arg("--help"));
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("Usage"), "{}", stdout(&o));
    let o = run(bwv(&f.home)
        .args(["show", f.id.as_str()])
        .env_remove("BWV_ACTOR")
        .env_remove("USER"));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("who is acting?"), "{}", stderr(&o));
    // Commands that record no actor need none.
    for args in [&["list"][..], &["verify"], &["log", "pubkey"]] {
        let o = run(bwv(&f.home)
            .args(args)
            .env_remove("BWV_ACTOR")
            .env_remove("USER"));
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = run(bwv(&f.home)
        .args(["show", f.id.as_str(), "--actor", "dc-99"])
        .env_remove("USER"));
    assert!(o.status.success(), "{}", stderr(&o));
}

/// An index edited to point a master outside the store (issue: the sweep deleted whatever the
/// path named): the sweep refuses with an integrity error (exit 5) and the file outside stays;
/// verify names the recording.
#[test]
fn a_master_path_edited_to_leave_the_store_is_refused() {
    let f = fixture();
    let outside = f.root.join("outside.txt");
    fs::write(&outside, b"not the store's").expect("write");
    tamper_index(
        &f.home,
        &format!(
            "UPDATE recordings SET master_path = '../outside.txt', \
             recorded_at = '2026-01-01T00:00:00.000Z' WHERE id = '{}'",
            f.id
        ),
    );
    let o = run(bwv(&f.home).args(["retention", "sweep"]));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not a path inside the store"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(&outside).expect("still there"), b"not the store's");
    let (code, report) = verify_json(&f.home, &[]);
    assert_eq!(code, 2);
    assert!(report.to_string().contains(&f.id), "{report}");
}

/// The log and the bundles made from it hold ids, codes and hashes, no one's words (issue
/// 22.10): not the actor's name, the case reference, a quarantine or unreadable reason, nor a
/// dock path. The index keeps the text beside the log, where people read it, and `verify`
/// checks each against its hash.
#[test]
fn the_log_and_bundles_hold_no_names_references_or_reasons() {
    let f = fixture();
    let dock = f.root.join("dock2");
    fs::create_dir(&dock).expect("mkdir");
    fs::write(dock.join("not-video.mp4"), b"a letter from ALICE WONDER").expect("write");
    std::os::unix::fs::symlink("/etc/hostname", dock.join("link.mp4")).expect("link");
    let o = run(bwv(&f.home).arg("ingest").arg(&dock));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let actor = "pc4711.smith";
    let o = run(bwv(&f.home).args([
        "--actor",
        actor,
        "flag",
        &f.id,
        "--case",
        "OP-NIGHTJAR-42",
        "--reason",
        "assault on JOHN DOE",
    ]));
    assert!(o.status.success(), "{}", stderr(&o));
    let bundle = f.root.join("bundle");
    let o = run(bwv(&f.home)
        .args(["--actor", actor, "export", &f.id, "--out"])
        .arg(&bundle));
    assert!(o.status.success(), "{}", stderr(&o));

    // The actor, the case reference, the flag's reason, and the texts of the unreadable
    // link's and the quarantined file's reasons (which the index keeps, checked below).
    let words = [
        actor,
        "OP-NIGHTJAR",
        "JOHN DOE",
        "/etc/hostname",
        "symbolic link",
        "not a media file",
    ];
    let index = rusqlite::Connection::open(f.home.join("index.sqlite")).expect("index");
    let logged: Vec<String> = index
        .prepare("SELECT canonical FROM events ORDER BY seq")
        .expect("query")
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .expect("events")
        .map(|b| String::from_utf8(b.expect("row")).expect("utf-8"))
        .collect();
    let pseudonym = format!(
        "sha256:{}",
        bwv::digest::Digest::of(actor.as_bytes()).to_hex()
    );
    assert!(logged.iter().any(|e| e.contains(&pseudonym)), "{logged:#?}");
    let mut texts: Vec<(String, String)> = logged
        .into_iter()
        .map(|e| ("event".to_owned(), e))
        .collect();
    for file in files_under(&bundle) {
        if !file.starts_with(bundle.join("files")) {
            let text = fs::read_to_string(&file).expect("bundle text");
            texts.push((file.display().to_string(), text));
        }
    }
    for (what, text) in &texts {
        for word in words {
            assert!(!text.contains(word), "{what} holds {word:?}: {text}");
        }
    }

    // People read the names and reasons where the index keeps them.
    let shown = show_json(&f.home, &f.id);
    let flagged = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "flagged")
        .expect("flagged");
    assert_eq!(flagged["actor"], pseudonym.as_str());
    assert_eq!(flagged["actor_name"], actor);
    assert_eq!(shown["marks"][0]["reference"], "OP-NIGHTJAR-42");
    let unreadable = stdout(&run(bwv(&f.home).args(["list", "--unreadable"])));
    assert!(unreadable.contains("/etc/hostname"), "{unreadable}");
    let quarantined = list_json(&f.home)
        .into_iter()
        .find(|r| r["status"] == "quarantined")
        .expect("quarantined");
    assert!(
        quarantined["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not a media file")),
        "{quarantined}"
    );
    let (code, report) = verify_json(&f.home, &["--all"]);
    assert_eq!(code, 0, "{report}");

    // An actor's name edited in the index no longer matches its hash.
    index
        .execute("UPDATE actors SET name = 'pc9999.jones'", [])
        .expect("edit");
    let (code, report) = verify_json(&f.home, &["--all"]);
    assert_eq!(code, 2, "{report}");
    assert!(
        finding_names(&report).contains(&"side_table".to_owned()),
        "{report}"
    );
    // So is a quarantine reason.
    index
        .execute("UPDATE actors SET name = ?1", [actor])
        .expect("mend");
    index
        .execute(
            "UPDATE recordings SET reason = 'probe: fine' WHERE status = 'quarantined'",
            [],
        )
        .expect("edit");
    let (code, report) = verify_json(&f.home, &["--all"]);
    assert_eq!(code, 2, "{report}");
    assert!(
        report.to_string().contains("quarantine reason differs"),
        "{report}"
    );
}

/// What an attacker with the index file can remove or damage without touching an event
/// (issue 22.12): every checkpoint (the events then stand signed by none, which `verify`
/// reports once they are over an hour old), a flag's row before a sweep deletes the footage it
/// protected, and the database's own structures (SQLite's integrity check).
#[test]
fn removed_checkpoints_a_removed_flag_and_a_damaged_index_are_found() {
    let later =
        |hours: i64| (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(hours)).to_string();
    // Signed as every command signs: nothing to find, now or in two hours.
    let f = fixture();
    let (code, report) = verify_json(&f.home, &["--all", "--now", &later(2)]);
    assert_eq!(code, 0, "{report}");
    tamper_index(&f.home, "DELETE FROM checkpoints");
    let (code, report) = verify_json(&f.home, &["--all", "--now", &later(2)]);
    assert_eq!(code, 2, "{report}");
    assert!(
        finding_names(&report).contains(&"unsigned_events".to_owned()),
        "{report}"
    );
    // Within the hour a command may still be about to sign.
    let (code, report) = verify_json(&f.home, &["--all"]);
    assert_eq!(code, 0, "{report}");

    let f = fixture();
    let o = run(bwv(&f.home).args(["flag", &f.id, "--case", "C-9", "--reason", "evidence"]));
    assert!(o.status.success(), "{}", stderr(&o));
    tamper_index(&f.home, "DELETE FROM marks");
    let o = run(bwv(&f.home).args(["--now", &later(24 * 40), "retention", "sweep"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        show_json(&f.home, &f.id)["recording"]["deletion"].is_object(),
        "swept"
    );
    let report = expect_problem(&f, &["--all"], "mark_changed");
    let text = report.to_string();
    assert!(
        text.contains("is not in the index") && text.contains("while mark"),
        "{report}"
    );

    let f = fixture();
    tamper_index(
        &f.home,
        "PRAGMA writable_schema = ON; \
         UPDATE sqlite_master SET sql = replace(sql, 'recording_id', 'kind') \
             WHERE name = 'artefacts_by_recording';",
    );
    let report = expect_problem(&f, &["--all"], "index_damaged");
    assert!(
        report.to_string().contains("missing from index"),
        "{report}"
    );
}
