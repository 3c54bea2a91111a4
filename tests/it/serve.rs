//! `bwv serve` driven over HTTP as its users would: the real binary on a free loopback port,
//! accounts made with `bwv user`, every role's allowed and refused requests, and the custody
//! log afterwards.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

use crate::util::*;

pub const PASSWORD: &str = "a long enough password";

/// A running `bwv serve`, stopped with SIGTERM (so it drains and seals) when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(cmd: &mut Command) -> Self {
        Self::start_with(cmd, &[])
    }

    /// Starts `bwv serve` with `extra` arguments.
    pub fn start_with(cmd: &mut Command, extra: &[&str]) -> Self {
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--insecure-cookies"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("bwv serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("reads");
        let base = line
            .trim()
            .strip_prefix("bwv serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, base }
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().expect("waits");
        assert!(status.success(), "bwv serve ended with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

/// How a test client authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    Session { cookie: String, csrf: String },
    Token(String),
}

#[derive(Debug)]
pub struct Api {
    http: Client,
    base: String,
}

impl Api {
    pub fn new(server: &Server) -> Self {
        Self {
            http: Client::new(),
            base: server.base.clone(),
        }
    }

    fn with(&self, rb: RequestBuilder, auth: &Auth, changing: bool) -> Response {
        let rb = match auth {
            Auth::None => rb,
            Auth::Session { cookie, csrf } => {
                let rb = rb.header("cookie", cookie);
                if changing {
                    rb.header("x-csrf-token", csrf)
                } else {
                    rb
                }
            }
            Auth::Token(t) => rb.bearer_auth(t),
        };
        rb.send().expect("request answered")
    }

    pub fn get(&self, path: &str, auth: &Auth) -> Response {
        self.with(self.http.get(format!("{}{path}", self.base)), auth, false)
    }

    pub fn post(&self, path: &str, auth: &Auth, body: &Value) -> Response {
        self.with(
            self.http.post(format!("{}{path}", self.base)).json(body),
            auth,
            true,
        )
    }

    /// Opens a SAR (received 2026-11-20) and links `recording` to it; returns its id.
    pub fn sar_holding(&self, auth: &Auth, recording: &str) -> String {
        let body = json!({"requester": "A. Person", "received": "2026-11-20", "incident_time": null, "location": null});
        let opened: Value = self.post("/api/sars", auth, &body).json().expect("JSON");
        let sar = opened["sar"]["id"].as_str().expect("SAR id").to_owned();
        let linked = self.post(
            &format!("/api/sars/{sar}/link"),
            auth,
            &json!({"recording": recording}),
        );
        assert_eq!(linked.status(), StatusCode::CREATED);
        sar
    }

    pub fn login(&self, name: &str, password: &str) -> Response {
        self.post(
            "/api/login",
            &Auth::None,
            &json!({"name": name, "password": password}),
        )
    }

    /// Logs in and returns the session.
    pub fn session(&self, name: &str) -> Auth {
        self.session_with(name, PASSWORD)
    }

    /// Logs in with `password` and returns the session.
    pub fn session_with(&self, name: &str, password: &str) -> Auth {
        let r = self.login(name, password);
        assert_eq!(r.status(), StatusCode::OK, "login of {name}");
        let set = r
            .headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .expect("text")
            .to_owned();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().expect("name=value").to_owned();
        let body: Value = r.json().expect("JSON");
        Auth::Session {
            cookie,
            csrf: body["csrf"].as_str().expect("csrf").to_owned(),
        }
    }
}

/// The JSON error code of a refused request.
pub fn code(r: Response) -> String {
    let v: Value = r.json().expect("a JSON error");
    v["error"]["code"].as_str().expect("code").to_owned()
}

/// Makes an account with `bwv user add` (the password on standard input).
pub fn add_user(cmd: &mut Command, name: &str, role: &str, officer: Option<&str>) {
    cmd.args(["user", "add", name, "--role", role]);
    if let Some(o) = officer {
        cmd.args(["--officer", o]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bwv user add starts");
    writeln!(child.stdin.take().expect("stdin"), "{PASSWORD}").expect("writes");
    let o = child.wait_with_output().expect("waits");
    assert!(o.status.success(), "user add {name}: {}", stderr(&o));
}

#[derive(Debug)]
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub home: PathBuf,
    /// Officer OFF-1's recording, then OFF-2's.
    pub ids: [String; 2],
}

/// A store with two recordings, one each of officers OFF-1 and OFF-2, and an account of
/// every role (pc1 is officer OFF-1).
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dir.path().join("dock");
    let home = dir.path().join("home");
    fs::create_dir(&dock).expect("mkdir");
    for (i, officer) in ["OFF-1", "OFF-2"].iter().enumerate() {
        let name = format!("cam{i}.mp4");
        make_clip(
            &dock.join(&name),
            Clip {
                seconds: 0.5 + i as f32 * 0.1,
                ..Clip::h264(160, 120)
            },
        );
        fs::write(
            dock.join(format!("{name}.json")),
            format!(r#"{{"officer_id": "{officer}", "recorded_at": "2026-11-2{i}T10:00:00Z"}}"#),
        )
        .expect("sidecar");
    }
    let (o, items) = ingest_json(&home, &[&dock], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let id_of = |n: &str| {
        items
            .iter()
            .find(|it| it["source"].as_str().is_some_and(|s| s.ends_with(n)))
            .and_then(|it| it["id"].as_str())
            .expect("ingested")
            .to_owned()
    };
    let ids = [id_of("cam0.mp4"), id_of("cam1.mp4")];
    add_user(&mut bwv(&home), "pc1", "officer", Some("OFF-1"));
    for role in ["reviewer", "disclosure", "auditor", "admin"] {
        add_user(&mut bwv(&home), role, role, None);
    }
    Fixture {
        _dir: dir,
        home,
        ids,
    }
}

/// A request: method, path and body.
type Route = (&'static str, String, Option<Value>);

fn statuses(api: &Api, auth: &Auth, routes: &[Route]) -> Vec<u16> {
    routes
        .iter()
        .map(|(method, path, body)| {
            let r = match *method {
                "GET" => api.get(path, auth),
                _ => api.post(path, auth, body.as_ref().unwrap_or(&json!({}))),
            };
            r.status().as_u16()
        })
        .collect()
}

/// Every event in the store's log, read through the library.
pub fn all_events(home: &Path) -> Vec<bwv::custody::Event> {
    let clock = std::sync::Arc::new(bwv::clock::SystemClock);
    bwv::custody::open_index(
        &bwv::custody::IndexLocation::Sqlite(home.join("index.sqlite")),
        clock,
    )
    .expect("index opens")
    .events(None)
    .expect("events")
}

fn marks(home: &Path, id: &str) -> usize {
    show_json(home, id)["marks"]
        .as_array()
        .expect("marks")
        .len()
}

#[test]
fn every_role_is_checked_on_the_server_and_every_look_is_logged() {
    let f = fixture();
    let [own, other] = [f.ids[0].as_str(), f.ids[1].as_str()];
    let server = Server::start(&mut bwv(&f.home));
    let api = Api::new(&server);
    let flag = || Some(json!({"case": "CASE-9", "reason": "assault"}));
    let hold = || Some(json!({"kind": "complaint", "reference": "C-1", "reason": "complaint"}));
    let new_user = |n: &str| {
        Some(json!({"name": n, "role": "reviewer", "password": PASSWORD, "officer_id": null}))
    };
    // One row per request; one column per caller: none, officer pc1, reviewer, disclosure,
    // auditor, admin.
    let table: Vec<(Route, [u16; 6])> = vec![
        (
            ("GET", "/api/recordings".into(), None),
            [401, 200, 200, 200, 200, 403],
        ),
        (
            ("GET", format!("/api/recordings/{own}"), None),
            [401, 200, 200, 200, 200, 403],
        ),
        (
            ("GET", format!("/api/recordings/{other}"), None),
            [401, 403, 200, 200, 200, 403],
        ),
        (
            ("GET", format!("/api/recordings/{own}/proxy"), None),
            [401, 200, 200, 200, 200, 403],
        ),
        (
            (
                "GET",
                format!("/api/recordings/{other}/contact-sheet"),
                None,
            ),
            [401, 403, 200, 200, 200, 403],
        ),
        (
            ("GET", format!("/api/recordings/{other}/master"), None),
            [401, 403, 403, 200, 200, 403],
        ),
        (
            ("POST", format!("/api/recordings/{other}/flag"), flag()),
            [401, 403, 403, 201, 403, 403],
        ),
        (
            ("POST", format!("/api/recordings/{own}/hold"), hold()),
            [401, 403, 403, 201, 403, 403],
        ),
        (
            ("GET", "/api/log/checkpoint".into(), None),
            [401, 200, 200, 200, 200, 200],
        ),
        (
            ("GET", "/api/accounts".into(), None),
            [401, 403, 403, 403, 403, 200],
        ),
    ];
    let callers = [
        Auth::None,
        api.session("pc1"),
        api.session("reviewer"),
        api.session("disclosure"),
        api.session("auditor"),
        api.session("admin"),
    ];
    for (column, auth) in callers.iter().enumerate() {
        let routes: Vec<_> = table.iter().map(|(r, _)| r.clone()).collect();
        let got = statuses(&api, auth, &routes);
        let want: Vec<u16> = table.iter().map(|(_, w)| w[column]).collect();
        assert_eq!(
            got,
            want,
            "caller {column}: {:?}",
            table.iter().map(|(r, _)| &r.1).collect::<Vec<_>>()
        );
    }
    // Only the admin adds accounts; an officer flags only their own.
    assert_eq!(
        api.post(
            "/api/accounts",
            &callers[2],
            &new_user("rev2").expect("body")
        )
        .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.post(
            "/api/accounts",
            &callers[5],
            &new_user("rev2").expect("body")
        )
        .status(),
        StatusCode::OK
    );
    assert_eq!(
        api.post(
            &format!("/api/recordings/{own}/flag"),
            &callers[1],
            &flag().expect("body")
        )
        .status(),
        StatusCode::CREATED
    );

    // An officer's listing holds only their own recordings, and asking for another's is refused.
    let listed: Value = api
        .get("/api/recordings", &callers[1])
        .json()
        .expect("JSON");
    assert_eq!(texts(&listed["items"], "id"), [own]);
    assert_eq!(
        api.get("/api/recordings?officer=OFF-2", &callers[1])
            .status(),
        StatusCode::FORBIDDEN
    );
    let all: Value = api
        .get("/api/recordings", &callers[3])
        .json()
        .expect("JSON");
    assert_eq!(all["items"].as_array().expect("items").len(), 2);

    // The files served are the stored ones, byte for byte.
    let shown = show_json(&f.home, other);
    let master = api
        .get(&format!("/api/recordings/{other}/master"), &callers[4])
        .bytes()
        .expect("body");
    assert_eq!(
        bwv::digest::Digest::of(&master).to_hex(),
        shown["recording"]["master_sha256"].as_str().expect("sha")
    );
    let proxy = api.get(&format!("/api/recordings/{own}/proxy"), &callers[2]);
    assert_eq!(proxy.headers()["content-type"], "video/mp4");
    let proxy_sha = bwv::digest::Digest::of(&proxy.bytes().expect("body")).to_hex();
    let artefacts = show_json(&f.home, own)["artefacts"].clone();
    let want = artefacts
        .as_array()
        .expect("artefacts")
        .iter()
        .find(|a| a["kind"] == "proxy")
        .expect("a proxy")["sha256"]
        .clone();
    assert_eq!(proxy_sha, want.as_str().expect("sha"));
    server.stop();

    // Refused requests changed nothing: one flag and one hold were allowed on each recording.
    assert_eq!(marks(&f.home, own), 2);
    assert_eq!(marks(&f.home, other), 1);
    // Every look and change is in the log under the account that made it, and it verifies.
    let events = show_json(&f.home, other)["events"].clone();
    let by = |kind: &str, action: &str| -> Vec<String> {
        events
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["kind"] == kind && (action.is_empty() || e["fields"]["action"] == action))
            .map(|e| e["actor_name"].as_str().expect("actor's name").to_owned())
            .collect()
    };
    assert_eq!(
        by("accessed", "download_master"),
        ["disclosure", "auditor", "auditor"]
    );
    assert_eq!(
        by("accessed", "view_contact_sheet"),
        ["reviewer", "disclosure", "auditor"]
    );
    assert_eq!(by("flagged", ""), ["disclosure"]);
    let logins: Vec<String> = all_events(&f.home)
        .into_iter()
        .filter(|e| e.kind == bwv::custody::EventKind::LoggedIn)
        .map(|e| e.actor)
        .collect();
    assert_eq!(
        logins,
        ["pc1", "reviewer", "disclosure", "auditor", "admin"]
            .map(|n| bwv::custody::logged_actor(n))
    );
    let o = run(bwv(&f.home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}{}", stdout(&o), stderr(&o));
}

#[test]
fn sessions_need_their_csrf_token_logins_are_limited_and_tokens_revocable() {
    let f = fixture();
    let own = f.ids[0].as_str();
    let server = Server::start(&mut bwv(&f.home));
    let api = Api::new(&server);
    let flag = json!({"case": "CASE-1", "reason": "evidence"});
    let path = format!("/api/recordings/{own}/flag");

    // A session's changing request without its CSRF token (a forged form) is refused.
    let Auth::Session { cookie, csrf } = api.session("disclosure") else {
        unreachable!()
    };
    let forged = Auth::Session {
        cookie: cookie.clone(),
        csrf: "not-the-token".into(),
    };
    let r = api.post(&path, &forged, &flag);
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(code(r), "csrf");
    let session = Auth::Session { cookie, csrf };
    assert_eq!(
        api.post(&path, &session, &flag).status(),
        StatusCode::CREATED
    );
    // Logging out ends the session.
    assert_eq!(
        api.post("/api/logout", &session, &json!({})).status(),
        StatusCode::OK
    );
    assert_eq!(
        api.get("/api/me", &session).status(),
        StatusCode::UNAUTHORIZED
    );

    // Wrong passwords lock the account, even against the right one; the log has each refusal.
    for _ in 0..5 {
        let r = api.login("auditor", "wrong, wrong, wrong");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(code(r), "login_refused");
    }
    let r = api.login("auditor", PASSWORD);
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    // An unknown name is refused like a wrong password, and only its hash is logged.
    let r = api.login("my secret password", PASSWORD);
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // An API token acts as its account without a CSRF token, until it is revoked.
    let o = run(bwv(&f.home).args(["user", "token", "reviewer", "--label", "nightly"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let token = Auth::Token(stdout(&o).trim().to_owned());
    let me: Value = api.get("/api/me", &token).json().expect("JSON");
    assert_eq!(me["account"]["role"], "reviewer");
    assert_eq!(
        api.post(&path, &token, &flag).status(),
        StatusCode::FORBIDDEN
    );
    let id = stderr(&o)
        .split_whitespace()
        .nth(1)
        .expect("token id")
        .to_owned();
    let o = run(bwv(&f.home).args(["user", "revoke", &id]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        api.get("/api/me", &token).status(),
        StatusCode::UNAUTHORIZED
    );
    server.stop();

    let refusals: Vec<(String, String)> = all_events(&f.home)
        .into_iter()
        .filter(|e| e.kind == bwv::custody::EventKind::LoginRefused)
        .map(|e| {
            let reason = match &e.fields["reason"] {
                bwv::custody::event::Field::Text(t) => t.clone(),
                other => format!("{other:?}"),
            };
            (e.actor, reason)
        })
        .collect();
    let auditor = bwv::custody::logged_actor("auditor").into_owned();
    let mut want = vec![(auditor.clone(), "wrong_password".to_owned()); 5];
    want.push((auditor, "locked".into()));
    want.push(("(unknown account)".into(), "unknown_account".into()));
    assert_eq!(refusals, want);
    for file in files_under(&f.home) {
        let bytes = fs::read(&file).expect("reads");
        assert!(
            !bytes.windows(18).any(|w| w == b"my secret password"),
            "{} keeps a typed name that is no account",
            file.display()
        );
    }
    let o = run(bwv(&f.home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}{}", stdout(&o), stderr(&o));
}

#[test]
fn bad_requests_get_a_json_error_and_change_nothing() {
    let f = fixture();
    let own = f.ids[0].as_str();
    let server = Server::start(&mut bwv(&f.home));
    let api = Api::new(&server);
    let auth = api.session("disclosure");
    let Auth::Session { cookie, csrf } = &auth else {
        unreachable!()
    };
    let http = Client::new();
    let raw = |path: &str, body: Vec<u8>| {
        http.post(format!("{}{path}", server.base))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("answered")
    };
    let flag = format!("/api/recordings/{own}/flag");
    let cases = [
        (raw(&flag, b"{\"case\": ".to_vec()), 400, "bad_request"),
        (
            raw(
                &flag,
                br#"{"case": "C", "reason": "r", "extra": 1}"#.to_vec(),
            ),
            422,
            "bad_request",
        ),
        (raw(&flag, vec![b' '; 1 << 20]), 413, "too_large"),
        (
            api.post(
                "/api/recordings/..%2F..%2Fkeys%2Flog.key/flag",
                &auth,
                &json!({"case": "C", "reason": "r"}),
            ),
            404,
            "not_found",
        ),
        (
            api.get("/api/recordings/%2Fetc%2Fpasswd/master", &auth),
            404,
            "not_found",
        ),
        (
            api.get("/api/recordings?from=yesterday", &auth),
            422,
            "invalid",
        ),
        (api.get("/api/nothing/here", &auth), 404, "not_found"),
    ];
    for (i, (r, status, want)) in cases.into_iter().enumerate() {
        assert_eq!(r.status().as_u16(), status, "case {i}");
        assert_eq!(code(r), want, "case {i}");
    }
    // A player's range request gets the part asked for (on a new connection: the server
    // closed the one whose oversized body it refused unread).
    let r = Client::new()
        .get(format!("{}/api/recordings/{own}/proxy", server.base))
        .header("cookie", cookie)
        .header("range", "bytes=10-19")
        .send()
        .expect("answered");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().expect("body").len(), 10);
    server.stop();
    assert_eq!(marks(&f.home, own), 0);
    let o = run(bwv(&f.home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}{}", stdout(&o), stderr(&o));
}

#[test]
fn a_subject_access_request_runs_over_the_api_and_verify_reports() {
    let f = fixture();
    let own = f.ids[0].as_str();
    let server = Server::start(&mut bwv(&f.home));
    let api = Api::new(&server);
    let [disclosure, auditor, reviewer] =
        ["disclosure", "auditor", "reviewer"].map(|n| api.session(n));
    let opened = json!({"requester": "A. Person", "received": "2026-11-20", "incident_time": null, "location": "High St"});
    assert_eq!(
        api.post("/api/sars", &auditor, &opened).status(),
        StatusCode::FORBIDDEN
    );
    let r = api.post("/api/sars", &disclosure, &opened);
    assert_eq!(r.status(), StatusCode::CREATED);
    let sar: Value = r.json().expect("JSON");
    let id = sar["sar"]["id"].as_str().expect("id").to_owned();
    assert_eq!(sar["sar"]["deadline"], "2026-12-20");
    let link = api.post(
        &format!("/api/sars/{id}/link"),
        &disclosure,
        &json!({"recording": own}),
    );
    assert_eq!(link.status(), StatusCode::CREATED);

    // Only stored files can be disclosed; the master only with a reason.
    let master = show_json(&f.home, own)["recording"]["master_sha256"]
        .as_str()
        .expect("sha")
        .to_owned();
    let disclose = |reason: Option<&str>, sha: &str| {
        api.post(
            &format!("/api/sars/{id}/disclose"),
            &disclosure,
            &json!({"recording": own, "file_sha256": sha, "recipient": "A. Person", "basis": "UK GDPR Art. 15 (subject access)", "unredacted_reason": reason}),
        )
    };
    let r = disclose(None, &master);
    assert_eq!(r.status().as_u16(), 422);
    assert_eq!(code(r), "invalid");
    let no_basis = api.post(
        &format!("/api/sars/{id}/disclose"),
        &disclosure,
        &json!({"recording": own, "file_sha256": master, "recipient": "A. Person", "basis": " ", "unredacted_reason": "requester only"}),
    );
    assert_eq!(no_basis.status().as_u16(), 422);
    assert_eq!(
        disclose(Some("requester is the only person shown"), &"0".repeat(64)).status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        disclose(Some("requester is the only person shown"), &master).status(),
        StatusCode::CREATED
    );

    // Auditors read requests, reviewers do not; the request shows its footage and disclosure.
    assert_eq!(
        api.get(&format!("/api/sars/{id}"), &reviewer).status(),
        StatusCode::FORBIDDEN
    );
    let shown: Value = api
        .get(&format!("/api/sars/{id}"), &auditor)
        .json()
        .expect("JSON");
    assert_eq!(texts(&shown["linked"], "recording"), [own]);
    assert_eq!(shown["disclosures"][0]["file_sha256"], master.as_str());
    assert_eq!(
        shown["disclosures"][0]["basis"],
        "UK GDPR Art. 15 (subject access)"
    );
    let closed = api.post(&format!("/api/sars/{id}/close"), &disclosure, &json!({}));
    assert_eq!(closed.status(), StatusCode::OK);

    // Verify: the auditor's report is bwv verify's, and it is logged under the auditor.
    assert_eq!(
        api.post("/api/verify", &reviewer, &json!({})).status(),
        StatusCode::FORBIDDEN
    );
    let report: Value = api
        .post("/api/verify", &auditor, &json!({}))
        .json()
        .expect("JSON");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(
        report["recordings"].as_array().expect("recordings").len(),
        2
    );
    server.stop();
    let verified: Vec<String> = all_events(&f.home)
        .into_iter()
        .filter(|e| e.kind == bwv::custody::EventKind::Verified)
        .map(|e| e.actor)
        .collect();
    assert_eq!(verified, [bwv::custody::logged_actor("auditor")]);
    let o = run(bwv(&f.home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}", stdout(&o));
}

/// A store holding one clip with a real face, and a disclosure officer's account `dis`.
#[derive(Debug)]
pub struct FaceStore {
    pub _dir: tempfile::TempDir,
    pub home: PathBuf,
    /// The recording.
    pub id: String,
}

pub fn face_store() -> FaceStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let (dock, home) = (dir.path().join("dock"), dir.path().join("home"));
    fs::create_dir(&dock).expect("mkdir");
    crate::redact::face_clip(&dock.join("face.mp4"), 440);
    let id = ingest_one(&home, &dock)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    add_user(&mut bwv(&home), "dis", "disclosure", None);
    FaceStore {
        _dir: dir,
        home,
        id,
    }
}

/// `bwv` on `home` with the face model, for a service that plans.
pub fn with_models(home: &Path) -> Command {
    let mut c = bwv(home);
    c.env("BWV_MODELS", crate::redact::models());
    c
}

/// Waits for a job to end (polling its state: the job runs on the service's worker) and
/// returns it.
pub fn finished(api: &Api, auth: &Auth, job: &Value) -> Value {
    let id = job["job"]["id"].as_u64().expect("job id");
    let started = std::time::Instant::now();
    loop {
        let j: Value = api
            .get(&format!("/api/jobs/{id}"), auth)
            .json()
            .expect("JSON");
        match j["state"].as_str() {
            Some("done" | "failed" | "dead") => return j,
            _ if started.elapsed() > std::time::Duration::from_secs(300) => {
                panic!("job {id} did not end: {j}")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
}

#[test]
fn a_redaction_is_planned_rendered_with_reasons_and_disclosed_over_the_api() {
    let FaceStore { _dir, home, id } = face_store();
    add_user(&mut bwv(&home), "rev", "reviewer", None);
    let server = Server::start(&mut with_models(&home));
    let api = Api::new(&server);
    let (rev, dis) = (api.session("rev"), api.session("dis"));

    // The reviewer plans; the plan runs as a job and is logged under the reviewer.
    let queued: Value = api
        .post(&format!("/api/recordings/{id}/plans"), &rev, &json!({}))
        .json()
        .expect("JSON");
    let job = finished(&api, &rev, &queued);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(
        job["progress"],
        json!({"done": 60, "total": 60}),
        "every frame decoded"
    );
    let plans: Value = api
        .get(&format!("/api/recordings/{id}/plans"), &rev)
        .json()
        .expect("JSON");
    assert_eq!(plans.as_array().expect("plans").len(), 1);
    let sha = plans[0]["plan_sha256"].as_str().expect("sha").to_owned();
    assert_eq!(plans[0]["planned_by"], "rev");
    assert_eq!(job["result"]["plan_sha256"], sha.as_str());
    let plan: Value = api
        .get(&format!("/api/recordings/{id}/plans/{sha}"), &rev)
        .json()
        .expect("JSON");
    assert_eq!(
        plan["tracks"].as_array().expect("tracks").len(),
        1,
        "one face, one track"
    );
    let preview = api.get(&format!("/api/recordings/{id}/plans/{sha}/preview"), &rev);
    assert_eq!(preview.headers()["content-type"], "image/jpeg");

    // Rendering is the disclosure officer's, and keeping a face needs a reason and a basis.
    let keep = |reason: &str| {
        json!({"plan_sha256": sha, "keep": [{"track": 1, "reason": reason, "basis": "UK GDPR Art. 15: the requester's own data"}],
               "boxes": [{"x": 0, "y": 0, "w": 64, "h": 32, "from_s": 0.0, "to_s": 1.0, "reason": "vehicle registration", "basis": "third-party data"}]})
    };
    let path = format!("/api/recordings/{id}/render");
    assert_eq!(
        api.post(&path, &rev, &keep("the requester")).status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(api.post(&path, &dis, &keep(" ")).status().as_u16(), 422);
    let mut part = keep("the requester, from frame 5 on");
    part["keep"][0]["from"] = json!(5);
    assert_eq!(
        api.post(&path, &dis, &part).status().as_u16(),
        422,
        "a range needs both ends"
    );
    let mut unlogged = keep("the requester");
    unlogged["plan_sha256"] = json!("0".repeat(64));
    assert_eq!(
        api.post(&path, &dis, &unlogged).status(),
        StatusCode::NOT_FOUND
    );
    let queued: Value = api
        .post(&path, &dis, &keep("the requester"))
        .json()
        .expect("JSON");
    let job = finished(&api, &dis, &queued);
    assert_eq!(job["state"], "done", "{job}");
    let copy = job["result"]["sha256"]
        .as_str()
        .expect("copy sha")
        .to_owned();
    assert_eq!(job["result"]["report"]["kept"][0]["id"], 1);
    let bytes = api
        .get(&format!("/api/recordings/{id}/redacted/{copy}"), &rev)
        .bytes()
        .expect("body");
    assert_eq!(bwv::digest::Digest::of(&bytes).to_hex(), copy);
    // Kept over some frames only (issue 21.1): the report names the range kept.
    part["keep"][0]["to"] = json!(20);
    let queued: Value = api.post(&path, &dis, &part).json().expect("JSON");
    let job = finished(&api, &dis, &queued);
    assert_eq!(job["state"], "done", "{job}");
    let kept = &job["result"]["report"]["kept"][0];
    assert_eq!(
        (&kept["first_frame"], &kept["last_frame"]),
        (&json!(5), &json!(20)),
        "{job}"
    );
    assert_eq!(job["result"]["report"]["redacted"][0]["id"], 1, "{job}");

    // Disclosed under a SAR: a redacted copy needs no override.
    let sar = api.sar_holding(&dis, &id);
    let disclosed = api.post(
        &format!("/api/sars/{sar}/disclose"),
        &dis,
        &json!({"recording": id, "file_sha256": copy, "recipient": "A. Person", "basis": "UK GDPR Art. 15 (subject access)", "unredacted_reason": null}),
    );
    assert_eq!(disclosed.status(), StatusCode::CREATED);
    // A copy superseded (a mistake found) is no longer disclosed; only its renderer's role may.
    let supersede = format!("/api/recordings/{id}/supersede");
    let why = json!({"copy_sha256": copy, "reason": "a face missed in frame 12"});
    assert_eq!(
        api.post(&supersede, &rev, &why).status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(api.post(&supersede, &dis, &why).status(), StatusCode::OK);
    let again = api.post(
        &format!("/api/sars/{sar}/disclose"),
        &dis,
        &json!({"recording": id, "file_sha256": copy, "recipient": "A. Person", "basis": "UK GDPR Art. 15 (subject access)", "unredacted_reason": null}),
    );
    assert_eq!(again.status().as_u16(), 422);
    server.stop();

    let events = all_events(&home);
    let rendered = events
        .iter()
        .find(|e| e.kind == bwv::custody::EventKind::RedactionRendered)
        .expect("a render event");
    let dis = bwv::custody::logged_actor("dis");
    assert_eq!(rendered.actor, dis);
    assert_eq!(
        rendered.fields["exemptions"],
        bwv::custody::event::Field::Int(2)
    );
    assert!(rendered.fields.contains_key("exemptions_sha256"));
    let disclosed = events
        .iter()
        .find(|e| e.kind == bwv::custody::EventKind::Disclosed)
        .expect("a disclosure event");
    assert_eq!(disclosed.actor, dis);
    let o = run(bwv(&home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}", stdout(&o));
}

#[test]
fn jobs_outlive_the_request_and_the_service_and_identical_renders_agree() {
    let FaceStore { _dir, home, id } = face_store();
    let serve = || Server::start_with(&mut with_models(&home), &["--workers", "2"]);
    // A plan is asked for and the service stops at once (the client gone with it): the job is
    // finished by the stopping service or, still queued, by the next one.
    let server = serve();
    let api = Api::new(&server);
    let dis = api.session("dis");
    let queued: Value = api
        .post(&format!("/api/recordings/{id}/plans"), &dis, &json!({}))
        .json()
        .expect("JSON");
    server.stop();
    let server = serve();
    let api = Api::new(&server);
    let dis = api.session("dis");
    let job = finished(&api, &dis, &queued);
    assert_eq!(job["state"], "done", "{job}");
    let sha = job["result"]["plan_sha256"]
        .as_str()
        .expect("plan")
        .to_owned();

    // Two identical renders asked for at once, run by two workers: both end done, naming one
    // copy, and the store holds it once.
    let body = json!({"plan_sha256": sha});
    let path = format!("/api/recordings/{id}/render");
    let (a, b): (Value, Value) = std::thread::scope(|s| {
        let one = s.spawn(|| api.post(&path, &dis, &body).json().expect("JSON"));
        let two = s.spawn(|| api.post(&path, &dis, &body).json().expect("JSON"));
        (one.join().expect("a"), two.join().expect("b"))
    });
    let (a, b) = (finished(&api, &dis, &a), finished(&api, &dis, &b));
    assert_eq!(
        (a["state"].as_str(), b["state"].as_str()),
        (Some("done"), Some("done")),
        "{a}\n{b}"
    );
    assert_eq!(a["result"]["sha256"], b["result"]["sha256"]);
    server.stop();
    let copies = show_json(&home, &id)["artefacts"]
        .as_array()
        .expect("artefacts")
        .iter()
        .filter(|a| a["kind"] == "redacted")
        .count();
    assert_eq!(copies, 1);
    let o = run(bwv(&home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}", stdout(&o));
}

#[test]
fn an_admin_manages_accounts_and_the_log_and_bundles_check_offline() {
    let f = fixture();
    let own = f.ids[0].as_str();
    // A second dock the service is given, for the admin to have ingested.
    let dock = f.home.parent().expect("parent").join("dock2");
    fs::create_dir(&dock).expect("mkdir");
    for i in 0..2 {
        make_clip(
            &dock.join(format!("late{i}.mp4")),
            Clip {
                seconds: 0.8 + i as f32 * 0.1,
                ..Clip::h264(160, 120)
            },
        );
    }
    let server = Server::start_with(
        &mut bwv(&f.home),
        &["--dock", dock.to_str().expect("utf-8")],
    );
    let api = Api::new(&server);
    let (admin, auditor, pc1) = (
        api.session("admin"),
        api.session("auditor"),
        api.session("pc1"),
    );
    let none = json!({});

    // Only the admin manages accounts; disabling ends a session, enabling and a new password
    // let the account back in.
    assert_eq!(
        api.post("/api/accounts/pc1/disable", &auditor, &none)
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.post("/api/accounts/pc1/disable", &admin, &none)
            .status(),
        StatusCode::OK
    );
    assert_eq!(api.get("/api/me", &pc1).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        api.login("pc1", PASSWORD).status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        api.post("/api/accounts/pc1/enable", &admin, &none).status(),
        StatusCode::OK
    );
    let new = json!({"password": "a different long password"});
    assert_eq!(
        api.post("/api/accounts/pc1/password", &admin, &new)
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        api.login("pc1", "a different long password").status(),
        StatusCode::OK
    );
    assert_eq!(
        api.post("/api/accounts/nobody/disable", &admin, &none)
            .status(),
        StatusCode::NOT_FOUND
    );
    // Tokens: shown once, listed without the secret, revoked.
    let made: Value = api
        .post(
            "/api/accounts/auditor/tokens",
            &admin,
            &json!({"label": "nightly verify"}),
        )
        .json()
        .expect("JSON");
    let token = Auth::Token(made["token"].as_str().expect("token").to_owned());
    assert_eq!(api.get("/api/me", &token).status(), StatusCode::OK);
    let listed = api.get("/api/tokens", &admin).text().expect("text");
    assert!(
        !listed.contains(made["token"].as_str().expect("token"))
            && listed.contains("nightly verify")
    );
    let id = made["info"]["id"].as_str().expect("id");
    assert_eq!(
        api.post(&format!("/api/tokens/{id}/revoke"), &admin, &none)
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        api.get("/api/me", &token).status(),
        StatusCode::UNAUTHORIZED
    );

    // The log: a checkpoint, then an inclusion proof and a consistency proof that check
    // offline with the public key alone.
    let old = api
        .get("/api/log/checkpoint", &auditor)
        .text()
        .expect("note");
    assert_eq!(
        api.post("/api/verify", &auditor, &none).status(),
        StatusCode::OK
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let key = f.home.join("keys/log.pub");
    let check = |name: &str, doc: Value| {
        let path = dir.path().join(name);
        fs::write(&path, doc.to_string()).expect("write");
        let o = run(Command::new(bwv_bin())
            .args(["log", "verify-proof"])
            .arg(&path)
            .arg("--key")
            .arg(&key));
        assert!(o.status.success(), "{name}: {}{}", stdout(&o), stderr(&o));
    };
    check(
        "proof.json",
        api.get("/api/log/proof/0", &auditor).json().expect("JSON"),
    );
    let consistency = api.post(
        "/api/log/consistency",
        &auditor,
        &json!({"checkpoint": old}),
    );
    assert_eq!(consistency.status(), StatusCode::OK);
    check("consistency.json", consistency.json().expect("JSON"));

    // Ingest of a dock the service was given, by name only, run by its worker.
    let docks: Value = api.get("/api/ingest", &admin).json().expect("JSON");
    assert_eq!(docks, json!(["dock2"]));
    assert_eq!(
        api.post("/api/ingest", &auditor, &json!({"dock": "dock2"}))
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.post("/api/ingest", &admin, &json!({"dock": "../dock"}))
            .status(),
        StatusCode::NOT_FOUND
    );
    let queued: Value = api
        .post("/api/ingest", &admin, &json!({"dock": "dock2"}))
        .json()
        .expect("JSON");
    let jobs = queued["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 2, "{queued}");
    for job in jobs {
        let done = finished(&api, &admin, &json!({"job": {"id": job["job"]}}));
        assert_eq!(done["state"], "done", "{done}");
        assert!(
            done["progress"]["total"].as_u64().is_some_and(|n| n > 0),
            "{done}"
        );
    }
    let all: Value = api.get("/api/recordings", &auditor).json().expect("JSON");
    assert_eq!(all["items"].as_array().expect("items").len(), 4);
    let key = api.get("/api/log/pubkey", &Auth::None).text().expect("key");
    assert_eq!(
        key,
        fs::read_to_string(f.home.join("keys/log.pub")).expect("log.pub")
    );

    // The retention policy: read by all, set by the admin only, within bounds, logged.
    let policy: Value = api.get("/api/policy", &auditor).json().expect("JSON");
    assert_eq!(policy["policy"]["retention_days"], 31);
    let sixty = json!({"retention_days": 60});
    let put = |auth: &Auth, body: &Value| {
        Client::new()
            .put(format!("{}/api/policy", server.base))
            .header(
                "cookie",
                match auth {
                    Auth::Session { cookie, .. } => cookie.as_str(),
                    _ => "",
                },
            )
            .header(
                "x-csrf-token",
                match auth {
                    Auth::Session { csrf, .. } => csrf.as_str(),
                    _ => "",
                },
            )
            .json(body)
            .send()
            .expect("answered")
    };
    assert_eq!(put(&auditor, &sixty).status(), StatusCode::FORBIDDEN);
    assert_eq!(
        put(&admin, &json!({"retention_days": 0})).status().as_u16(),
        422
    );
    assert_eq!(put(&admin, &sixty).status(), StatusCode::OK);
    let policy: Value = api.get("/api/policy", &auditor).json().expect("JSON");
    assert_eq!(policy["policy"]["retention_days"], 60);
    // A dry run answers at once; a sweep and a deep verify are jobs the queue lists.
    let dry: Value = api
        .post("/api/retention/sweep", &admin, &json!({"dry_run": true}))
        .json()
        .expect("JSON");
    assert!(dry.get("expired").is_some(), "{dry}");
    let sweep: Value = api
        .post("/api/retention/sweep", &admin, &none)
        .json()
        .expect("JSON");
    assert_eq!(finished(&api, &admin, &sweep)["state"], "done");
    let deep: Value = api
        .post(
            "/api/verify",
            &auditor,
            &json!({"recording": own, "deep": true}),
        )
        .json()
        .expect("JSON");
    let deep = finished(&api, &auditor, &deep);
    assert_eq!(deep["state"], "done", "{deep}");
    assert_eq!(deep["result"]["findings"], 0);
    let reviewer = api.session("reviewer");
    assert_eq!(
        api.get("/api/jobs", &reviewer).status(),
        StatusCode::FORBIDDEN
    );
    let listed: Value = api
        .get("/api/jobs?state=done", &auditor)
        .json()
        .expect("JSON");
    assert_eq!(
        listed["items"].as_array().expect("jobs").len(),
        4,
        "two ingests, a sweep, a verify"
    );
    let unreadable: Value = api.get("/api/unreadable", &auditor).json().expect("JSON");
    assert_eq!(unreadable, json!([]));
    // Frame hashes, as `bwv show --frames`; an officer's only of their own footage.
    let frames: Value = api
        .get(&format!("/api/recordings/{own}/frames"), &auditor)
        .json()
        .expect("JSON");
    let cli = run(bwv(&f.home).args(["show", own, "--frames"]));
    let first = stdout(&cli).lines().next().expect("a frame").to_owned();
    assert_eq!(
        format!(
            "0 {} {}",
            frames[0]["pts_ns"],
            frames[0]["sha256"].as_str().expect("sha")
        ),
        first
    );
    let pc1 = api.session_with("pc1", "a different long password");
    assert_eq!(
        api.get(&format!("/api/recordings/{}/frames", f.ids[1]), &pc1)
            .status(),
        StatusCode::FORBIDDEN
    );

    // A bundle: only roles that may take footage out, its files checking against SHA256SUMS.
    let reviewer = api.session("reviewer");
    assert_eq!(
        api.get(&format!("/api/recordings/{own}/export"), &reviewer)
            .status(),
        StatusCode::FORBIDDEN
    );
    let bundle = api.get(
        &format!("/api/recordings/{own}/export?files=master,proxy"),
        &auditor,
    );
    assert_eq!(bundle.headers()["content-type"], "application/x-tar");
    let tar = dir.path().join("bundle.tar");
    fs::write(&tar, bundle.bytes().expect("body")).expect("write");
    let o = run(Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(dir.path()));
    assert!(o.status.success(), "{}", stderr(&o));
    let folder = dir.path().join(format!("bwv-export-{own}"));
    let o = run(Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&folder));
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(folder.join("manifest.json").is_file());
    server.stop();

    let changes: Vec<String> = all_events(&f.home)
        .into_iter()
        .filter(|e| {
            e.kind == bwv::custody::EventKind::AccountChanged
                && e.actor == bwv::custody::logged_actor("admin")
        })
        .filter_map(|e| match e.fields.get("change") {
            Some(bwv::custody::event::Field::Text(t)) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            "disabled",
            "enabled",
            "password",
            "token_added",
            "token_revoked"
        ]
    );
    let o = run(bwv(&f.home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}", stdout(&o));
}
