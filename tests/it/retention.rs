//! Retention: flags and holds keep footage, the sweep deletes the rest and leaves tombstones, and
//! verify still passes and names the deleted recordings.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

/// Ingests clips recorded at the given instants (via sidecars); returns the ids in order.
fn ingest_recorded_at(root: &Path, home: &Path, times: &[&str]) -> Vec<String> {
    let dock = root.join("dock");
    fs::create_dir_all(&dock).expect("mkdir");
    let mut names = Vec::new();
    for (i, t) in times.iter().enumerate() {
        let name = format!("clip{i}.mp4");
        make_clip(
            &dock.join(&name),
            Clip {
                seconds: 0.5 + i as f32 * 0.1,
                audio: false,
                ..Clip::h264(160, 120)
            },
        );
        fs::write(
            dock.join(format!("{name}.json")),
            format!(r#"{{"officer_id": "1", "recorded_at": "{t}"}}"#),
        )
        .expect("sidecar");
        names.push(name);
    }
    let (o, items) = ingest_json(home, &[&dock], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    names
        .iter()
        .map(|n| {
            items
                .iter()
                .find(|it| {
                    it["source"]
                        .as_str()
                        .is_some_and(|s| s.ends_with(n.as_str()))
                })
                .and_then(|it| it["id"].as_str())
                .expect("ingested")
                .to_owned()
        })
        .collect()
}

fn at(home: &Path, now: &str, args: &[&str]) -> std::process::Output {
    run(bwv(home)
        .env("BWV_NOW", now)
        .env("BWV_ACTOR", "dc-4711")
        .args(args))
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{} {}", stdout(o), stderr(o));
    stdout(o)
}

/// Runs a command that must succeed and prints JSON.
fn json_at(home: &Path, now: &str, args: &[&str]) -> Value {
    serde_json::from_str(&ok(&at(home, now, args))).expect("json")
}

fn files_of(home: &Path, id: &str) -> (PathBuf, PathBuf) {
    let rec = show_json(home, id);
    let master = home.join(rec["recording"]["master_path"].as_str().expect("path"));
    (master, home.join("derived").join(id))
}

#[test]
fn sweep_deletes_only_unmarked_expired_footage_and_verify_still_passes() {
    let t = tempfile::tempdir().expect("tempdir");
    let home = t.path().join("home");
    let ids = ingest_recorded_at(
        t.path(),
        &home,
        &[
            "2026-10-01T08:00:00Z", // expired, unmarked → deleted
            "2026-10-02T08:00:00Z", // expired, flagged → kept
            "2026-10-03T08:00:00Z", // expired, held then released → deleted
            "2026-11-20T08:00:00Z", // within 31 days → kept
        ],
    );
    let now = "2026-11-21T12:00:00Z";
    ok(&at(
        &home,
        now,
        &[
            "flag",
            &ids[1],
            "--case",
            "OP-ALPHA/17",
            "--reason",
            "assault",
        ],
    ));
    ok(&at(
        &home,
        now,
        &["hold", &ids[2], "--kind", "complaint", "--ref", "CO-1"],
    ));
    // Searches: by case, by recording time, a page at a time.
    let listed = |args: &[&str]| -> Vec<String> {
        let v: Value = json_at(&home, now, &[&["list", "--json"][..], args].concat());
        texts(&v, "id").into_iter().map(str::to_owned).collect()
    };
    assert_eq!(listed(&["--case", "OP-ALPHA/17"]), [ids[1].clone()]);
    assert_eq!(listed(&["--flagged"]), [ids[1].clone()]);
    assert_eq!(
        listed(&["--from", "2026-10-02", "--to", "2026-10-03T08:00:00Z"]),
        [ids[1].clone()]
    );
    let first = at(&home, now, &["list", "--json", "--limit", "3"]);
    let cursor = stderr(&first)
        .split("--after ")
        .nth(1)
        .map(|c| c.trim().to_owned())
        .expect("a cursor for the next page");
    let page: Value = serde_json::from_str(&stdout(&first)).expect("json");
    let mut paged: Vec<String> = texts(&page, "id").into_iter().map(str::to_owned).collect();
    paged.extend(listed(&["--limit", "3", "--after", &cursor]));
    assert_eq!(paged, listed(&[]));
    assert_eq!(paged.len(), 4);
    ok(&at(
        &home,
        now,
        &[
            "release",
            &ids[2],
            "--kind",
            "complaint",
            "--ref",
            "CO-1",
            "--reason",
            "closed",
        ],
    ));
    // Releasing again: nothing active, a conflict (4).
    assert_eq!(
        at(
            &home,
            now,
            &[
                "release",
                &ids[2],
                "--kind",
                "complaint",
                "--ref",
                "CO-1",
                "--reason",
                "x"
            ]
        )
        .status
        .code(),
        Some(4)
    );

    let logged = |id: &str| -> usize {
        let shown = show_json(&home, id);
        let events = shown["events"].as_array().expect("events");
        events.iter().filter(|e| e["kind"] != "accessed").count()
    };
    let events_before = logged(&ids[0]);
    let dry: Value = json_at(&home, now, &["retention", "sweep", "--dry-run", "--json"]);
    assert_eq!(
        texts(&dry["expired"], "id"),
        vec![ids[0].as_str(), ids[2].as_str()]
    );
    assert_eq!(dry["kept_by_marks"], serde_json::json!([ids[1]]));
    assert!(
        files_of(&home, &ids[0]).0.exists(),
        "a dry run deletes nothing"
    );
    assert_eq!(logged(&ids[0]), events_before);

    // A longer policy keeps everything.
    fs::write(home.join("policy.json"), r#"{"retention_days": 400}"#).expect("policy");
    let long: Value = json_at(&home, now, &["retention", "sweep", "--dry-run", "--json"]);
    assert_eq!(long["expired"], serde_json::json!([]));
    fs::remove_file(home.join("policy.json")).expect("rm policy");
    // A policy set is logged, not written to a file of this machine's: every machine on the
    // index applies the latest logged one (and it outranks an older store's file).
    let set: Value = json_at(
        &home,
        now,
        &["retention", "policy", "--set", "400", "--json"],
    );
    assert_eq!(set["policy"]["retention_days"], 400);
    assert_eq!(set["event"]["kind"], "policy_changed");
    assert!(!home.join("policy.json").exists());
    let long: Value = json_at(&home, now, &["retention", "sweep", "--dry-run", "--json"]);
    assert_eq!(long["expired"], serde_json::json!([]));
    fs::write(home.join("policy.json"), r#"{"retention_days": 1}"#).expect("policy");
    let shown: Value = json_at(&home, now, &["retention", "policy", "--json"]);
    assert_eq!(
        shown["policy"]["retention_days"], 400,
        "the logged policy wins"
    );
    fs::remove_file(home.join("policy.json")).expect("rm policy");
    let back: Value = json_at(
        &home,
        now,
        &["retention", "policy", "--set", "31", "--json"],
    );
    assert_eq!(back["policy"]["retention_days"], 31);

    // A mistyped policy file, or one that would delete everything at once, is an error and not
    // the default: nothing is deleted.
    let zero = home.join("zero.json");
    fs::write(&zero, r#"{"retention_days": 0}"#).expect("policy");
    // A missing file is "not found" (3), an unusable one "invalid" (1).
    for (policy, code) in [(home.join("polcy.json"), 3), (zero, 1)] {
        let o = at(
            &home,
            now,
            &[
                "retention",
                "sweep",
                "--policy",
                policy.to_str().expect("utf-8"),
            ],
        );
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        let name = policy
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(stderr(&o).contains(&name), "{}", stderr(&o));
        assert!(files_of(&home, &ids[0]).0.exists());
        assert_eq!(logged(&ids[0]), events_before);
    }

    // Plans bwv redact kept in the store (their previews show faces) go with the footage.
    let kept_plan = |id: &str| home.join("plans").join(id).join("x.plan.preview.jpg");
    for id in [&ids[0], &ids[1]] {
        fs::create_dir_all(kept_plan(id).parent().expect("folder")).expect("mkdir");
        fs::write(kept_plan(id), b"faces").expect("write");
    }
    let swept: Value = json_at(&home, now, &["retention", "sweep", "--json"]);
    assert_eq!(swept["expired"].as_array().expect("expired").len(), 2);
    assert!(!kept_plan(&ids[0]).exists() && kept_plan(&ids[1]).exists());
    for id in [&ids[0], &ids[2]] {
        let (master, derived) = files_of(&home, id);
        assert!(!master.exists() && !derived.exists(), "{id} files deleted");
        let shown = show_json(&home, id);
        assert!(
            shown["recording"]["deletion"]["reason"]
                .as_str()
                .expect("reason")
                .contains("31 days")
        );
        let tomb = shown["events"]
            .as_array()
            .expect("events")
            .iter()
            .find(|e| e["kind"] == "deleted")
            .expect("tombstone");
        assert_eq!(
            tomb["fields"]["master_sha256"],
            shown["recording"]["master_sha256"]
        );
        assert_eq!(
            tomb["fields"]["frame_hash_root"],
            shown["recording"]["media"]["frame_hash_root"]
        );
        assert_eq!(tomb["actor"], "bwv-retention");
    }
    for id in [&ids[1], &ids[3]] {
        assert!(files_of(&home, id).0.exists(), "{id} kept");
    }
    let flagged = show_json(&home, &ids[1]);
    let flag = flagged["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "flagged")
        .expect("flag event");
    assert_eq!(flag["actor_name"], "dc-4711");
    assert!(
        flag["fields"].get("reason").is_none(),
        "free text stays out of the log"
    );

    // Verify passes and reports the deletions as deletions.
    let o = at(&home, now, &["verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&o)).expect("json");
    assert_eq!(o.status.code(), Some(0), "{report}");
    let deleted: Vec<&str> = report["recordings"]
        .as_array()
        .expect("recs")
        .iter()
        .filter(|r| r["deleted_at"].is_string())
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(deleted.len(), 2);

    // Docking the deleted footage again does not bring it back: named (exit 2), on the record,
    // not stored; the footage kept stays a plain duplicate.
    let dock = t.path().join("dock");
    let o = at(&home, now, &["ingest", dock.to_str().expect("utf-8")]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    for id in [&ids[0], &ids[2]] {
        assert!(!files_of(&home, id).0.exists(), "{id} stays deleted");
        let line = format!("the bytes of recording {id}, deleted at");
        assert!(stderr(&o).contains(&line), "{}", stderr(&o));
        assert_eq!(
            event_kinds(&show_json(&home, id))
                .last()
                .map(String::as_str),
            Some("duplicate")
        );
    }
    let o = at(&home, now, &["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // Deleted footage cannot be flagged (a conflict, 4); list shows it as deleted.
    let o = at(
        &home,
        now,
        &["flag", &ids[0], "--case", "X", "--reason", "late"],
    );
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("was deleted"), "{}", stderr(&o));
    let listed = list_json(&home);
    assert!(listed.iter().filter(|r| r["deletion"].is_object()).count() == 2);

    // A file left behind (an interrupted sweep) is named by verify and finished by the next sweep.
    let leftover = home.join("derived").join(&ids[0]);
    fs::create_dir_all(&leftover).expect("mkdir");
    fs::write(leftover.join("proxy.mp4"), b"left over").expect("write");
    assert_eq!(at(&home, now, &["verify"]).status.code(), Some(2));
    let again: Value = json_at(&home, now, &["retention", "sweep", "--json"]);
    assert_eq!(again["expired"], serde_json::json!([]));
    assert!(!leftover.exists());
    assert_eq!(at(&home, now, &["verify"]).status.code(), Some(0));

    // Unflagged evidence goes at the next sweep.
    ok(&at(
        &home,
        now,
        &["unflag", &ids[1], "--reason", "case closed"],
    ));
    let later: Value = json_at(&home, now, &["retention", "sweep", "--json"]);
    assert_eq!(later["expired"][0]["id"], ids[1].as_str());
}

#[test]
fn subject_access_request_holds_discloses_and_refuses_deleted_footage() {
    let t = tempfile::tempdir().expect("tempdir");
    let home = t.path().join("home");
    let ids = ingest_recorded_at(
        t.path(),
        &home,
        &["2026-10-01T08:00:00Z", "2026-11-15T21:30:00Z"],
    );
    ok(&at(&home, "2026-11-21T09:00:00Z", &["retention", "sweep"]));

    let opened = ok(&at(
        &home,
        "2026-11-21T09:05:00Z",
        &[
            "sar",
            "open",
            "--requester",
            "Jane Doe",
            "--received",
            "2026-11-20",
            "--incident-time",
            "2026-11-15 21:30",
            "--location",
            "High Street",
        ],
    ));
    assert!(
        opened.starts_with("SAR-1 received 2026-11-20, due 2026-12-20"),
        "{opened}"
    );

    // The old footage was deleted: the link is refused with the reason.
    let o = at(
        &home,
        "2026-11-21T09:06:00Z",
        &["sar", "link", "SAR-1", &ids[0]],
    );
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).contains("more than 31 days after"),
        "{}",
        stderr(&o)
    );
    ok(&at(
        &home,
        "2026-11-21T09:06:00Z",
        &["sar", "link", "SAR-1", &ids[1]],
    ));
    assert_eq!(
        at(
            &home,
            "2026-11-21T09:06:00Z",
            &["sar", "link", "SAR-1", &ids[1]]
        )
        .status
        .code(),
        Some(4)
    );

    // Past its 31 days, the linked footage is kept by the SAR hold.
    let kept: Value = json_at(
        &home,
        "2026-12-19T00:00:00Z",
        &["retention", "sweep", "--json"],
    );
    assert_eq!(kept["kept_by_marks"], serde_json::json!([ids[1]]));

    // The proxy shows every face: it is not disclosed without a reason for sending it as it is.
    let proxy = files_of(&home, &ids[1]).1.join("proxy.mp4");
    let disclose = |extra: &[&str]| {
        let args = [
            &["sar", "disclose", "SAR-1", "--file"][..],
            &[proxy.to_str().expect("utf-8"), "--to", "Jane Doe"],
            extra,
        ]
        .concat();
        at(&home, "2026-12-19T10:00:00Z", &args)
    };
    let refused = disclose(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("is not a redacted copy of footage linked to SAR-1"),
        "{}",
        stderr(&refused)
    );
    let disclosed = ok(&disclose(&[
        "--unredacted",
        "only the requester is in view",
    ]));
    assert!(disclosed.contains(&sha256_hex(&proxy)), "{disclosed}");

    let listed: Value = json_at(&home, "2026-12-21T09:00:00Z", &["sar", "list", "--json"]);
    assert_eq!(listed[0]["overdue"], true);
    assert_eq!(listed[0]["recordings"], serde_json::json!([ids[1]]));
    assert_eq!(
        listed[0]["disclosures"][0]["file_sha256"],
        sha256_hex(&proxy)
    );
    assert_eq!(
        listed[0]["disclosures"][0]["disclosed_at"],
        "2026-12-19T10:00:00.000Z"
    );
    assert_eq!(
        listed[0]["disclosures"][0]["unredacted_reason"],
        "only the requester is in view"
    );
    assert_eq!(listed[0]["disclosures"].as_array().map(Vec::len), Some(1));

    ok(&at(
        &home,
        "2026-12-21T09:10:00Z",
        &["sar", "close", "SAR-1"],
    ));
    let listed: Value = json_at(&home, "2026-12-21T09:11:00Z", &["sar", "list", "--json"]);
    assert_eq!(listed[0]["overdue"], false);
    let swept: Value = json_at(
        &home,
        "2026-12-21T09:12:00Z",
        &["retention", "sweep", "--json"],
    );
    assert_eq!(swept["expired"][0]["id"], ids[1].as_str());

    // Names stay out of the log; the events are there.
    let conn = rusqlite::Connection::open(home.join("index.sqlite")).expect("index");
    let mut stmt = conn
        .prepare("SELECT CAST(canonical AS TEXT) FROM events ORDER BY seq")
        .expect("query");
    let events: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect();
    assert!(
        events
            .iter()
            .all(|e| !e.contains("Jane") && !e.contains("High Street"))
    );
    for kind in [
        "sar_opened",
        "hold_placed",
        "disclosed",
        "hold_released",
        "sar_closed",
    ] {
        assert!(
            events
                .iter()
                .any(|e| e.contains(&format!("\"kind\":\"{kind}\""))),
            "{kind}"
        );
    }
    assert_eq!(
        at(&home, "2026-12-21T09:13:00Z", &["verify"]).status.code(),
        Some(0)
    );
}
