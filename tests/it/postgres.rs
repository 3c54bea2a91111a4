//! The PostgreSQL index end to end: the real `bwv` binary with `BWV_INDEX=postgres://...` on a
//! throwaway server (tests/support/postgres.rs), the masters in a local store folder.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::servers;
use crate::util::*;

fn on_index(mut c: Command, url: &str) -> Command {
    c.env("BWV_INDEX", url);
    c
}

/// `c` on the index at `url` with its objects at `objects` in the S3 server `settings` reach.
fn on_bucket(c: Command, url: &str, objects: &str, settings: &[(String, String)]) -> Command {
    let mut c = on_index(c, url);
    c.env("BWV_OBJECTS", objects).envs(settings.iter().cloned());
    c
}

fn json(o: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(o))
        .unwrap_or_else(|e| panic!("JSON ({e}): {} {}", stdout(o), stderr(o)))
}

/// A dock of `clips` short clips, each of its own length (from `first` tenths of a second up), so
/// no two are the same bytes.
fn dock_of(dir: &Path, name: &str, clips: usize, first: usize) -> std::path::PathBuf {
    let dock = dir.join(name);
    std::fs::create_dir(&dock).expect("mkdir");
    for i in 0..clips {
        make_clip(
            &dock.join(format!("{name}-{i}.mp4")),
            Clip {
                seconds: (first + i) as f32 / 10.0,
                ..Clip::h264(160, 120)
            },
        );
    }
    dock
}

#[test]
fn a_store_on_postgres_ingests_flags_sweeps_and_verifies() {
    let url = servers::postgres_fresh("flow");
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dock_of(dir.path(), "dock", 2, 5);
    std::fs::write(dock.join("notes.mp4"), b"not a video").expect("write");
    let home = dir.path().join("home");

    let (o, items) = {
        let o = run(on_index(bwv(&home), &url)
            .args(["ingest", "--json"])
            .arg(&dock));
        let items: Vec<Value> = stdout(&o)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        (o, items)
    };
    assert_eq!(o.status.code(), Some(2), "one item failed: {}", stderr(&o));
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(
        !home.join("index.sqlite").exists(),
        "the index is on the server, not in the folder"
    );
    let listed = json(&run(on_index(bwv(&home), &url).args(["list", "--json"])));
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 3);
    let ready: Vec<&str> = listed
        .iter()
        .filter(|r| r["status"] == "ready")
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ready.len(), 2);

    let flag = run(on_index(bwv(&home), &url)
        .args(["flag", ready[0], "--case", "CASE-1", "--reason", "assault"]));
    assert!(flag.status.success(), "{}", stderr(&flag));
    // Forty days later the sweep deletes what is not flagged, keeping the flagged one.
    let sweep = run(on_index(bwv(&home), &url)
        .env("BWV_NOW", "2027-01-15T12:00:00Z")
        .args(["retention", "sweep", "--json"]));
    assert!(sweep.status.success(), "{}", stderr(&sweep));
    let shown = json(&run(
        on_index(bwv(&home), &url).args(["show", ready[0], "--json"])
    ));
    assert!(shown["recording"]["deletion"].is_null(), "{shown}");
    let shown = json(&run(
        on_index(bwv(&home), &url).args(["show", ready[1], "--json"])
    ));
    assert!(!shown["recording"]["deletion"].is_null(), "{shown}");

    let verify = run(on_index(bwv(&home), &url).args(["verify", "--all", "--json"]));
    let report = json(&verify);
    assert_eq!(verify.status.code(), Some(0), "{report}");
    assert_eq!(report["log"]["findings"], serde_json::json!([]), "{report}");
    assert!(
        report["log"]["size"].as_u64().expect("size") >= 8,
        "{report}"
    );

    // The retention policy is the index's, not a machine's: set here, another machine's
    // folder on the same database reads it.
    let set = run(on_index(bwv(&home), &url).args(["retention", "policy", "--set", "400"]));
    assert!(set.status.success(), "{}", stderr(&set));
    let elsewhere = dir.path().join("other-machine");
    std::fs::create_dir(&elsewhere).expect("mkdir");
    let shown = json(&run(on_index(bwv(&elsewhere), &url).args([
        "retention",
        "policy",
        "--json",
    ])));
    assert_eq!(shown["policy"]["retention_days"], 400, "{shown}");
}

/// Two docks ingested at once into a new database: both processes migrate it without failing,
/// and the log they write together verifies.
#[test]
fn two_ingests_started_at_once_on_a_new_database_share_one_log() {
    let url = servers::postgres_fresh("together");
    let dir = tempfile::tempdir().expect("tempdir");
    let docks = [
        dock_of(dir.path(), "a", 2, 5),
        dock_of(dir.path(), "b", 2, 7),
    ];
    let home = dir.path().join("home");
    let children: Vec<_> = docks
        .iter()
        .map(|dock| {
            on_index(bwv(&home), &url)
                .arg("ingest")
                .arg(dock)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start")
        })
        .collect();
    for child in children {
        let o = child.wait_with_output().expect("wait");
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let listed = json(&run(on_index(bwv(&home), &url).args(["list", "--json"])));
    assert_eq!(listed.as_array().expect("array").len(), 4);
    let verify = run(on_index(bwv(&home), &url).args(["verify", "--json"]));
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

/// A dock of six short clips of different lengths (so different bytes) under `dir`.
fn six_clips(dir: &Path) -> std::path::PathBuf {
    let dock = dir.join("dock");
    std::fs::create_dir(&dock).expect("mkdir");
    for i in 0..6 {
        make_clip(
            &dock.join(format!("cam-{i}.mp4")),
            Clip {
                seconds: 2.0 + i as f32 / 10.0,
                ..Clip::h264(320, 240)
            },
        );
    }
    dock
}

/// Queues `dock` (six clips) with commands `base` makes, has two workers drain it while
/// `restart` restarts a server, and checks that every clip ended ingested exactly once.
fn drain_through_restarts(
    home: &Path,
    url: &str,
    dock: &Path,
    base: impl Fn() -> Command,
    restart: impl FnOnce(),
) {
    let o = run(base().args(["ingest", "--enqueue"]).arg(dock));
    assert!(o.status.success(), "{}", stderr(&o));
    let workers = spawn_workers(&base, &["w1", "w2"], "3");
    restart();
    for w in workers {
        let o = w.wait_with_output().expect("wait");
        let (out, err) = (stdout(&o), stderr(&o));
        assert!(o.status.success(), "{:?}: {out} {err}", o.status);
    }
    let jobs = jobs_json(home, url);
    assert_eq!(jobs["counts"]["done"], 6, "{jobs}");
    let listed = json(&run(base().args(["list", "--json"])));
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 6, "every clip once");
    assert!(listed.iter().all(|r| r["status"] == "ready"), "{listed:?}");
    for r in listed {
        let id = r["id"].as_str().expect("id");
        let kinds = event_kinds(&json(&run(base().args(["show", id, "--json"]))));
        let count = |k: &str| kinds.iter().filter(|e| *e == k).count();
        assert_eq!(
            (count("ingested"), count("processed")),
            (1, 1),
            "{id}: {kinds:?}"
        );
    }
}

/// Workers named `names`, draining the queue with a lease of `lease` seconds, their output kept.
fn start_workers(home: &Path, url: &str, names: &[&str], lease: &str) -> Vec<std::process::Child> {
    spawn_workers(&|| on_index(bwv(home), url), names, lease)
}

/// [`start_workers`] on commands `base` makes.
fn spawn_workers(
    base: &dyn Fn() -> Command,
    names: &[&str],
    lease: &str,
) -> Vec<std::process::Child> {
    names
        .iter()
        .map(|name| {
            base()
                .args([
                    "worker", "--drain", "--lease", lease, "--idle", "0.2", "--json",
                ])
                .args(["--name", name])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("start")
        })
        .collect()
}

fn jobs_json(home: &Path, url: &str) -> Value {
    json(&run(on_index(bwv(home), url).args(["jobs", "--json"])))
}

/// A dock queued once for workers: three workers drain it while one of them is SIGKILLed in the
/// middle of a job; its job passes to another once the lease ends, and every clip is ingested
/// exactly once into one log that verifies.
#[test]
fn workers_share_a_dock_and_a_killed_workers_job_is_finished_by_another() {
    let url = servers::postgres_fresh("workers");
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dock_of(dir.path(), "dock", 6, 5);
    std::fs::write(dock.join("junk.mp4"), b"not a video").expect("write");
    let home = dir.path().join("home");

    let enqueue = |home: &Path| {
        let o = run(on_index(bwv(home), &url)
            .args(["ingest", "--enqueue", "--json"])
            .arg(&dock));
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
            .filter(|v| v["new"] == true)
            .count()
    };
    assert_eq!(enqueue(&home), 7);
    assert_eq!(enqueue(&home), 0, "a dock queued twice is ingested once");

    // The first worker is killed (SIGKILL) once it has created its first recording.
    let killed = run(on_index(bwv(&home), &url)
        .env("BWV_CRASH_AT", "kill:recording-created")
        .args(["worker", "--drain", "--lease", "2", "--name", "doomed"]));
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed.status),
        Some(9),
        "{}",
        stderr(&killed)
    );
    let jobs = jobs_json(&home, &url);
    assert_eq!(jobs["counts"]["running"], 1, "{jobs}");

    let workers = start_workers(&home, &url, &["w1", "w2"], "2");
    let mut ran = 0;
    for w in workers {
        let o = w.wait_with_output().expect("wait");
        assert!(o.status.success(), "{} {}", stdout(&o), stderr(&o));
        ran += stdout(&o).lines().count();
    }
    assert_eq!(
        ran, 7,
        "the two workers ran every job, the killed one's too"
    );

    let jobs = jobs_json(&home, &url);
    assert_eq!(jobs["counts"]["done"], 7, "{jobs}");
    let retried: Vec<&Value> = jobs["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["attempts"] != 1)
        .collect();
    assert_eq!(retried.len(), 1, "{jobs}");
    assert_eq!(retried[0]["attempts"], 2);
    assert_ne!(retried[0]["worker"], "doomed");

    let listed = json(&run(on_index(bwv(&home), &url).args(["list", "--json"])));
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 7, "every clip once");
    for r in listed {
        let id = r["id"].as_str().expect("id");
        let shown = json(&run(on_index(bwv(&home), &url).args(["show", id, "--json"])));
        let kinds = event_kinds(&shown);
        let count = |k: &str| kinds.iter().filter(|e| *e == k).count();
        assert_eq!(count("ingested"), 1, "{id}: {kinds:?}");
        assert_eq!(
            count("processed") + count("quarantined"),
            1,
            "{id}: {kinds:?}"
        );
    }
    let verify = run(on_index(bwv(&home), &url).args(["verify", "--all", "--json"]));
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

/// The deployment of several machines: the index on PostgreSQL and the masters and derived files
/// in an S3 bucket (SeaweedFS). Nothing lands in the store folder but keys and scratch space;
/// deep verify re-reads and re-decodes from the bucket, export bundles from it, and the sweep
/// deletes from it.
#[test]
fn masters_in_an_s3_bucket_are_ingested_verified_exported_and_swept() {
    let url = servers::postgres_fresh("objects");
    let objects = servers::s3_location("objects");
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dock_of(dir.path(), "dock", 2, 5);
    let home = dir.path().join("home");
    let cmd = || on_bucket(bwv(&home), &url, &objects, servers::s3());
    let o = run(cmd().arg("ingest").arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        files_under(&home.join("masters")).is_empty()
            && files_under(&home.join("derived")).is_empty(),
        "masters and derived files are in the bucket"
    );
    let listed = json(&run(cmd().args(["list", "--json"])));
    let ids: Vec<String> = texts(&listed, "id")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 2);
    let shown = stdout(&run(cmd().args(["show", &ids[0]])));
    assert!(shown.contains(&format!("{objects}/masters/")), "{shown}");

    let verify = run(cmd().args(["verify", "--all", "--deep", "--json"]));
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
    let bundle = dir.path().join("bundle");
    let export = run(cmd().args(["export", &ids[0], "--out"]).arg(&bundle));
    assert!(export.status.success(), "{}", stderr(&export));
    let sums = std::fs::read_to_string(bundle.join("SHA256SUMS")).expect("sums");
    let master = listed[0]["master_sha256"].as_str().expect("sha").to_owned();
    assert!(sums.contains(&master), "{sums}");

    let flag = run(cmd().args(["flag", &ids[0], "--case", "C-1", "--reason", "r"]));
    assert!(flag.status.success(), "{}", stderr(&flag));
    let sweep = run(cmd()
        .env("BWV_NOW", "2027-01-15T12:00:00Z")
        .args(["retention", "sweep"]));
    assert!(sweep.status.success(), "{}", stderr(&sweep));
    let verify = run(cmd().args(["verify", "--all", "--json"]));
    let report = json(&verify);
    assert_eq!(verify.status.code(), Some(0), "{report}");
    // The swept recording's master and derived files are gone from the bucket, the kept
    // one's are there and still verify deeply.
    use bwv::blobs::Blobs as _;
    let bucket = bwv::blobs::s3::S3Blobs::open_with(&objects, servers::s3()).expect("bucket");
    let master_of = |r: &Value| r["master_path"].as_str().expect("path").to_owned();
    assert!(!bucket.exists(&master_of(&listed[1])).expect("look up"));
    assert!(
        bucket
            .list(&format!("derived/{}/", ids[1]))
            .expect("list")
            .is_empty()
    );
    assert!(bucket.exists(&master_of(&listed[0])).expect("look up"));
    let kept = run(cmd().args(["verify", &ids[0], "--deep"]));
    assert!(kept.status.success(), "{}", stdout(&kept));
}

/// S3 Object Lock on the bucket (`bwv objects lock --set-days`, compliance mode): `health` says
/// so; a sweep forty days on deletes the unflagged recording in the index and hides its objects,
/// but the lock keeps their bytes (one real day) and the sweep says until when, every time it
/// runs until then; the index verifies. The embedded index, the objects on SeaweedFS.
#[test]
fn an_object_lock_keeps_swept_bytes_until_it_ends_and_the_sweep_says_so() {
    let objects = servers::s3_location("locked").replacen("bwv-test", "bwv-locked", 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dock_of(dir.path(), "dock", 2, 5);
    let home = dir.path().join("home");
    let cmd = || {
        let mut c = bwv(&home);
        c.env("BWV_OBJECTS", &objects)
            .envs(servers::s3().iter().cloned());
        c
    };
    let shown = stdout(&run(cmd().args(["objects", "lock"])));
    assert!(shown.ends_with(": no Object Lock\n"), "{shown}");
    let set = run(cmd().args(["objects", "lock", "--set-days", "1"]));
    assert!(
        stdout(&set).ends_with(": Object Lock on: every version kept 1 day (compliance)\n"),
        "{} {}",
        stdout(&set),
        stderr(&set)
    );
    let o = run(cmd().arg("ingest").arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    let health = json(&run(cmd().args(["health", "--json"])));
    let detail = health["objects"]["detail"].as_str().expect("detail");
    assert!(detail.contains("Object Lock on"), "{health}");
    let listed = json(&run(cmd().args(["list", "--json"])));
    let ids = texts(&listed, "id");
    let flag = run(cmd().args(["flag", ids[0], "--case", "C-1", "--reason", "r"]));
    assert!(flag.status.success(), "{}", stderr(&flag));

    use bwv::blobs::Blobs as _;
    let bucket = bwv::blobs::s3::S3Blobs::open_with(&objects, servers::s3()).expect("bucket");
    let master_of = |r: &Value| r["master_path"].as_str().expect("path").to_owned();
    for round in 0..2 {
        let sweep = run(cmd().env("BWV_NOW", "2027-01-20T12:00:00Z").args([
            "retention",
            "sweep",
            "--json",
        ]));
        let report = json(&sweep);
        assert_eq!(sweep.status.code(), Some(0), "{report}");
        let expired = report["expired"].as_array().map(Vec::len);
        assert_eq!(expired, Some(if round == 0 { 1 } else { 0 }), "{report}");
        assert_eq!(texts(&report["locked"], "id"), [ids[1]], "{report}");
        let why = report["locked"][0]["reason"].as_str().expect("reason");
        assert!(why.contains("kept by S3 Object Lock until 20"), "{why}");
        assert!(!bucket.exists(&master_of(&listed[1])).expect("look up"));
    }
    assert!(bucket.exists(&master_of(&listed[0])).expect("look up"));
    let verify = run(cmd().args(["verify", "--all"]));
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

/// Verify and sweep jobs queued from the CLI are run by a worker, which records their events.
#[test]
fn verify_and_sweep_jobs_are_queued_and_run_by_a_worker() {
    let url = servers::postgres_fresh("otherjobs");
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dock_of(dir.path(), "dock", 1, 5);
    let home = dir.path().join("home");
    let o = run(on_index(bwv(&home), &url).arg("ingest").arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    for args in [
        &["verify", "--deep", "--enqueue"][..],
        &["retention", "sweep", "--enqueue"],
    ] {
        let o = run(on_index(bwv(&home), &url).args(args));
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = run(on_index(bwv(&home), &url)
        .env("BWV_NOW", "2027-01-15T12:00:00Z")
        .args(["worker", "--drain", "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let ran: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let kinds: Vec<&str> = ran
        .iter()
        .map(|r| r["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["verify", "sweep"]);
    let jobs = jobs_json(&home, &url);
    let results: Vec<&Value> = jobs["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| &j["result"])
        .collect();
    assert_eq!(results[0]["findings"], 0, "{jobs}");
    assert_eq!(
        results[1]["expired"].as_array().map(Vec::len),
        Some(1),
        "{jobs}"
    );
    let listed = json(&run(on_index(bwv(&home), &url).args(["list", "--json"])));
    let id = listed[0]["id"].as_str().expect("id");
    let shown = json(&run(on_index(bwv(&home), &url).args(["show", id, "--json"])));
    let kinds = event_kinds(&shown);
    assert!(kinds.contains(&"deleted".to_owned()), "{kinds:?}");
}

/// `bwv health` says what it can reach: everything on a working deployment; an unreachable
/// index or object store by name, with the busy exit code, never a password.
#[test]
fn health_names_what_cannot_be_reached() {
    let url = servers::postgres_fresh("health");
    let objects = servers::s3_location("health");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let ok = run(on_bucket(bwv(&home), &url, &objects, servers::s3()).args(["health", "--json"]));
    let report = json(&ok);
    assert_eq!(ok.status.code(), Some(0), "{report}");
    for part in ["index", "queue", "objects"] {
        assert_eq!(report[part]["ok"], true, "{part}: {report}");
    }
    let down = run(
        on_index(bwv(&home), "postgres://bwv:s3cret@127.0.0.1:1/bwv")
            .env("BWV_OBJECTS", &objects)
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "x")
            .env("AWS_SECRET_ACCESS_KEY", "y")
            .env("AWS_REGION", "us-east-1")
            .args(["health"]),
    );
    assert_eq!(down.status.code(), Some(6), "{}", stdout(&down));
    let text = stdout(&down);
    assert!(text.contains("index    FAILED"), "{text}");
    assert!(text.contains("objects  FAILED"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

/// The database restarts twice while two workers drain a dock: the workers wait it out, jobs
/// interrupted by it are retried, and still every clip is ingested exactly once into a log
/// that verifies.
#[test]
fn a_database_restart_while_workers_run_loses_nothing() {
    let mut server = servers::OwnPostgres::start();
    let url = server.url.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = six_clips(dir.path());
    let home = dir.path().join("home");
    drain_through_restarts(
        &home,
        &url,
        &dock,
        || on_index(bwv(&home), &url),
        || {
            server.restart();
            server.restart();
        },
    );
    let verify = run(on_index(bwv(&home), &url).args(["verify", "--all", "--json"]));
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

/// The service on the scale-out deployment: accounts in PostgreSQL beside the index, files
/// streamed from the S3 bucket, the log in PostgreSQL verifying afterwards.
#[test]
fn the_service_runs_on_postgres_and_s3() {
    use crate::serve::{Api, Auth, Server, add_user};
    let url = servers::postgres_fresh("serve");
    let objects = servers::s3_location("serve");
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dock_of(dir.path(), "dock", 1, 5);
    let home = dir.path().join("home");
    let cmd = || on_bucket(bwv(&home), &url, &objects, servers::s3());
    assert!(run(cmd().arg("ingest").arg(&dock)).status.success());
    add_user(&mut cmd(), "aud", "auditor", None);
    let server = Server::start(&mut cmd());
    let api = Api::new(&server);
    let auth = api.session("aud");
    let listed: Value = api.get("/api/recordings", &auth).json().expect("JSON");
    let rec = &listed["items"][0];
    let id = rec["id"].as_str().expect("id");
    let master = api
        .get(&format!("/api/recordings/{id}/master"), &auth)
        .bytes()
        .expect("body");
    assert_eq!(
        bwv::digest::Digest::of(&master).to_hex(),
        rec["master_sha256"].as_str().expect("sha")
    );
    assert_eq!(
        api.get("/api/recordings", &Auth::None).status().as_u16(),
        401
    );
    server.stop();
    let verify = run(cmd().args(["verify", "--all", "--json"]));
    assert!(verify.status.success(), "{}", stdout(&verify));
    let shown = json(&run(cmd().args(["show", id, "--json"])));
    let downloads: Vec<&Value> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["fields"]["action"] == "download_master")
        .collect();
    assert_eq!(downloads.len(), 1, "{shown}");
    assert_eq!(downloads[0]["actor_name"], "aud");
}

/// The object store is killed and restarted while two workers drain a dock into it:
/// uploads cut off are retried, and every clip is still ingested exactly once, its master and
/// derived files in the bucket, and the store verifies (issue 18: nothing lost when S3
/// restarts).
#[test]
fn an_object_store_restart_while_workers_run_loses_nothing() {
    let mut s3 = servers::OwnS3::start();
    let url = servers::postgres_fresh("s3restart");
    let objects = "s3://bwv-test/restart";
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = six_clips(dir.path());
    let home = dir.path().join("home");
    let settings = s3.settings.clone();
    let cmd = |c: Command| on_bucket(c, &url, objects, &settings);
    drain_through_restarts(&home, &url, &dock, || cmd(bwv(&home)), || s3.restart());
    assert!(
        files_under(&home.join("masters")).is_empty(),
        "masters are in the bucket"
    );
    let verify = run(cmd(bwv(&home)).args(["verify", "--all", "--deep", "--json"]));
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

/// Machines sharing one index and bucket share the log's key: a machine without it, or with
/// another, is refused with what to do instead of signing checkpoints the others would find
/// forged; with the key copied over, it flags and sweeps what the first machine ingested, and
/// both machines find the store whole.
#[test]
fn machines_on_one_index_sign_with_the_log_s_one_key_and_sweep_each_other_s_footage() {
    let url = servers::postgres_fresh("keys");
    let objects = servers::s3_location("machines");
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dock_of(dir.path(), "dock", 2, 1);
    let (a, b) = (dir.path().join("machine-a"), dir.path().join("machine-b"));
    let on = |home: &Path| on_bucket(bwv(home), &url, &objects, servers::s3());
    let o = run(on(&a).arg("ingest").arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    let listed = json(&run(on(&a).args(["list", "--json"])));
    let ids: Vec<String> = texts(&listed, "id")
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 2);
    let flag = |home: &Path, case: &str| {
        run(on(home).args(["flag", &ids[0], "--case", case, "--reason", "r"]))
    };
    let log_size = |home: &Path| {
        let o = run(on(home).args(["verify", "--json"]));
        json(&o)["log"]["size"].as_u64().expect("log size")
    };
    let before = log_size(&a);
    // No key on machine B: refused, naming the log's key and the fix; no key is made.
    std::fs::create_dir(&b).expect("mkdir");
    let o = flag(&b, "C-1");
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("copy keys/log.key"), "{}", stderr(&o));
    assert!(!b.join("keys").join("log.key").exists());
    // Another key (a store of its own's) on machine B: refused too.
    let other = dir.path().join("other");
    let o = run(bwv(&other).arg("init"));
    assert!(o.status.success(), "{}", stderr(&o));
    let copy_keys = |from: &Path| {
        std::fs::create_dir_all(b.join("keys")).expect("mkdir");
        for name in ["log.key", "log.pub"] {
            let to = b.join("keys").join(name);
            let _ = std::fs::remove_file(&to);
            std::fs::copy(from.join("keys").join(name), &to).expect("copy key");
        }
    };
    copy_keys(&other);
    let o = flag(&b, "C-2");
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("did not sign the log"),
        "{}",
        stderr(&o)
    );
    // Both refused before appending: nothing was logged that no one could sign (the one event
    // more is the first `verify`'s own), and the worker is refused the same way.
    assert_eq!(log_size(&a), before + 1);
    let o = run(on(&b).args(["worker", "--drain"]));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    // The log's key copied over: machine B flags one recording and, forty days on, sweeps the
    // other out of the bucket; both machines find the store whole.
    copy_keys(&a);
    let o = flag(&b, "C-3");
    assert!(o.status.success(), "{}", stderr(&o));
    let sweep =
        run(on(&b)
            .env("BWV_NOW", "2027-01-20T12:00:00Z")
            .args(["retention", "sweep", "--json"]));
    assert!(sweep.status.success(), "{}", stderr(&sweep));
    let swept = json(&sweep);
    assert_eq!(texts(&swept["expired"], "id"), [ids[1].as_str()], "{swept}");
    assert_eq!(
        swept["kept_by_marks"],
        serde_json::json!([ids[0]]),
        "{swept}"
    );
    for home in [&a, &b] {
        let o = run(on(home).args(["verify", "--all", "--json"]));
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    }
}

/// The index over TLS (`?sslmode=require&sslrootcert=CA`): against a server that refuses plain
/// connections the store ingests and verifies; a plain connection, or one that cannot check
/// the server's certificate (no CA named, and the system's roots do not hold it), is refused
/// with the server's or the TLS check's reason.
#[test]
fn the_index_over_tls_checks_the_server_s_certificate() {
    let server = servers::OwnPostgres::start_tls();
    let url = server.url.clone();
    assert!(url.contains("sslmode=require&sslrootcert="), "{url}");
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dock_of(dir.path(), "dock", 1, 1);
    let home = dir.path().join("home");
    let o = run(on_index(bwv(&home), &url).arg("ingest").arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(on_index(bwv(&home), &url).args(["verify", "--all"]));
    assert!(o.status.success(), "{}", stdout(&o));
    let base = url.split('?').next().expect("url");
    for (query, why) in [
        ("?sslmode=disable", "no encryption"),
        ("?sslmode=require", "certificate"),
    ] {
        let o = run(on_index(bwv(&home), &format!("{base}{query}")).args(["list"]));
        assert!(!o.status.success(), "{query}: {}", stdout(&o));
        assert!(stderr(&o).contains(why), "{query}: {}", stderr(&o));
    }
}
