//! The review pages driven in Debian's headless Chromium through chromium-driver (both installed
//! by scripts/setup.sh), over the W3C WebDriver protocol spoken with the tests' HTTP client.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::serve::{Api, FaceStore, PASSWORD, Server, face_store, fixture, with_models};
use crate::util::*;

/// A Chromium session under chromium-driver, ended when dropped.
#[derive(Debug)]
struct Browser {
    driver: Child,
    http: Client,
    session: String,
}

/// How long a page may take to show what the test looks for.
const WAIT: Duration = Duration::from_secs(60);

impl Browser {
    fn start() -> Self {
        let mut driver = Command::new("chromedriver")
            .args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (chromium-driver, installed by scripts/setup.sh) starts");
        let mut out = BufReader::new(driver.stdout.take().expect("stdout"));
        let mut port = None;
        let mut line = String::new();
        while port.is_none() && out.read_line(&mut line).expect("reads") > 0 {
            port = line
                .split("started successfully on port ")
                .nth(1)
                .and_then(|p| p.trim().trim_end_matches('.').parse::<u16>().ok());
            line.clear();
        }
        let port = port.expect("chromedriver says its port");
        let http = Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000",
                         "--autoplay-policy=no-user-gesture-required"]
            }
        }}});
        let base = format!("http://127.0.0.1:{port}");
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .expect("a Chromium session");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        let b = Self {
            driver,
            http,
            session: format!("{base}/session/{session}"),
        };
        b.call(
            "POST",
            "/timeouts",
            json!({"implicit": WAIT.as_millis() as u64}),
        );
        b
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.session);
        let rb = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url).json(&body),
        };
        let r: Value = rb.send().and_then(|r| r.json()).expect("webdriver answers");
        if r["value"]["error"].is_string() {
            panic!("webdriver {method} {path}: {}", r["value"]);
        }
        r["value"].clone()
    }

    fn goto(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}));
    }

    /// The element matching `css`, waited for (the session's implicit wait).
    fn find(&self, css: &str) -> String {
        self.find_by("css selector", css)
    }

    fn find_by(&self, using: &str, value: &str) -> String {
        let v = self.call("POST", "/element", json!({"using": using, "value": value}));
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .expect("an element id")
            .to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            json!({"text": text}),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), json!({}));
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &format!("/element/{e}/text"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the page's script has drawn it (`body[data-ready]`), and says how it ended.
    fn drawn(&self) -> String {
        let e = self.find("body[data-ready]");
        self.call(
            "GET",
            &format!("/element/{e}/attribute/data-ready"),
            Value::Null,
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Runs `script` (its last argument is the callback) and returns what it passes back.
    fn run_async(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/async",
            json!({"script": script, "args": []}),
        )
    }

    /// Drags the mouse across the element matching `css`, from `(dx0, dy0)` to `(dx1, dy1)`
    /// pixels off its centre.
    fn drag(&self, css: &str, (dx0, dy0): (i64, i64), (dx1, dy1): (i64, i64)) {
        let e = self.find(css);
        let origin = json!({"element-6066-11e4-a52e-4f735466cecf": e});
        self.call(
            "POST",
            "/actions",
            json!({"actions": [{
                "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
                "actions": [
                    {"type": "pointerMove", "duration": 0, "origin": origin, "x": dx0, "y": dy0},
                    {"type": "pointerDown", "button": 0},
                    {"type": "pointerMove", "duration": 50, "origin": origin, "x": dx1, "y": dy1},
                    {"type": "pointerUp", "button": 0}
                ]
            }]}),
        );
    }

    fn url(&self) -> String {
        self.call("GET", "/url", Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a screenshot when BWV_SCREENSHOTS names a folder (how the README's were made).
    fn screenshot(&self, name: &str) {
        let Some(dir) = std::env::var_os("BWV_SCREENSHOTS") else {
            return;
        };
        let png = self.call("GET", "/screenshot", Value::Null);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64"))
            .expect("a PNG");
        std::fs::write(Path::new(&dir).join(name), bytes).expect("writes the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the page showed when the test failed, and its status line.
            let status = self
                .http
                .post(format!("{}/execute/sync", self.session))
                .json(&json!({"script": "return document.body.innerText", "args": []}))
                .send()
                .and_then(|r| r.json::<Value>());
            eprintln!(
                "the page said: {}",
                status.map(|v| v["value"].to_string()).unwrap_or_default()
            );
        }
        let _ = self.http.delete(&self.session).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[test]
fn a_disclosure_officer_logs_in_finds_a_recording_plays_it_and_flags_it() {
    let f = fixture();
    let other = f.ids[1].clone();
    let server = Server::start(&mut bwv(&f.home));
    let browser = Browser::start();

    // A page needs a login, and comes back after it.
    browser.goto(&format!("{}/recordings?officer=OFF-2", server.base));
    browser.find("#password");
    assert!(browser.url().contains("/login?next="), "{}", browser.url());
    browser.screenshot("login.png");
    browser.type_into("#name", "disclosure");
    browser.type_into("#password", PASSWORD);
    browser.click("form button[type=submit]");
    browser.find("table tbody tr");
    assert_eq!(browser.drawn(), "true");
    assert!(
        browser.url().ends_with("/recordings?officer=OFF-2"),
        "{}",
        browser.url()
    );
    let rows = browser.text("table tbody");
    assert!(rows.contains(&other) && !rows.contains(&f.ids[0]), "{rows}");
    browser.screenshot("recordings.png");

    // The recording's page: the proxy plays in the browser, the contact sheet shows.
    browser.click("table tbody tr");
    browser.find("#recording-id");
    assert_eq!(browser.text("#recording-id"), other);
    let facts = browser.text("dl");
    assert!(
        facts.contains("OFF-2") && facts.contains("cam1.mp4"),
        "{facts}"
    );
    let played = browser.run_async(
        "const done = arguments[arguments.length - 1];
         const v = document.getElementById('player');
         const sheet = document.querySelector('img.sheet');
         const ready = () => v.readyState >= 2 && sheet.complete;
         const report = () => done({w: v.videoWidth, d: v.duration, sheet: sheet.naturalWidth});
         if (ready()) report(); else { v.addEventListener('loadeddata', () => sheet.complete ? report() : sheet.addEventListener('load', report)); v.addEventListener('error', () => done({error: String(v.error && v.error.code)})); }",
    );
    assert_eq!(played["w"], 160, "the proxy decodes in Chromium: {played}");
    assert!(played["sheet"].as_u64().is_some_and(|w| w > 0), "{played}");
    browser.screenshot("recording.png");

    // Flag it from the page; the page shows the flag after the server took it.
    browser.type_into("#flag-case", "CASE-77");
    browser.type_into("#flag-reason", "assault on an officer");
    browser.click("form.bar button[type=submit]");
    // The page reloads and lists the flag the server recorded.
    browser.find_by("xpath", "//td[.='CASE-77']");
    browser.screenshot("recording-flagged.png");
    drop(browser);
    server.stop();

    let shown = show_json(&f.home, &other);
    let marks = shown["marks"].as_array().expect("marks");
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0]["reference"], "CASE-77");
    assert_eq!(marks[0]["placed_by"], "disclosure");
    let looks: Vec<&str> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "accessed" && e["actor_name"] == "disclosure")
        .filter_map(|e| e["fields"]["action"].as_str())
        .collect();
    for action in ["api_show", "play_proxy", "view_contact_sheet"] {
        assert!(looks.contains(&action), "{action} not logged: {looks:?}");
    }
    let o = run(bwv(&f.home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}", stdout(&o));
}

#[test]
fn a_disclosure_officer_plans_keeps_the_requester_renders_and_discloses_in_the_browser() {
    let FaceStore { _dir, home, id } = face_store();
    let server = Server::start(&mut with_models(&home));
    // The request and its footage, set up over the API.
    let api = Api::new(&server);
    let auth = api.session("dis");
    let sar = api.sar_holding(&auth, &id);

    let browser = Browser::start();
    browser.goto(&format!("{}/login", server.base));
    browser.type_into("#name", "dis");
    browser.type_into("#password", PASSWORD);
    browser.click("form button[type=submit]");
    browser.click("table tbody tr");
    browser.click("#review-link");
    // Plan: the job runs on the service's worker; the page reloads with the tracks.
    browser.click("#plan");
    browser.find("#tracks tbody tr[data-track='1']");
    assert_eq!(browser.drawn(), "true");
    let drawn = browser.run_async(
        "const done = arguments[arguments.length - 1];
         const v = document.getElementById('player');
         const seek = () => { v.addEventListener('seeked', () => setTimeout(() => done(document.getElementById('count').textContent), 0), {once: true}); v.currentTime = 1.0; };
         if (v.readyState >= 1) seek(); else v.addEventListener('loadedmetadata', seek, {once: true});",
    );
    assert!(
        drawn
            .as_str()
            .is_some_and(|t| t.contains("1 face(s) detected, 1 region(s) masked")),
        "{drawn}"
    );
    browser.screenshot("redact.png");
    // The track's row: its bar spans its frames, its face crop comes from the preview.
    let row = browser.call(
        "POST",
        "/execute/sync",
        json!({"script": "const t = document.getElementById('tracks'); t.scrollIntoView(); return [t.querySelector('.lane > span').getBoundingClientRect().width / t.querySelector('.lane').getBoundingClientRect().width, getComputedStyle(t.querySelector('.crop')).backgroundImage]", "args": []}),
    );
    assert!(
        row[0].as_f64().is_some_and(|w| w > 0.9),
        "one track over all 60 frames: {row}"
    );
    assert!(
        row[1].as_str().is_some_and(|b| b.contains("/preview")),
        "{row}"
    );
    browser.screenshot("tracks.png");
    // Keep the requester, with the reason and legal basis the render requires.
    browser.click("#tracks input.keep");
    browser.type_into("#tracks input.keep-reason", "the requester");
    browser.type_into("#tracks input.keep-basis", "UK GDPR Art. 15");
    // An extra box, drawn on the masked frame, with its reason and basis.
    browser.drag("#masked", (-60, -40), (20, 10));
    let width = browser.call(
        "POST",
        "/execute/sync",
        json!({"script": "return Number(document.querySelector('#box-form input[name=w]').value)", "args": []}),
    );
    assert!(
        width.as_f64().is_some_and(|w| w > 10.0),
        "the drag filled the box: {width}"
    );
    browser.type_into("#box-form input[name=reason]", "a car's number plate");
    browser.type_into("#box-form input[name=basis]", "third-party data");
    browser.click("#box-form button[type=submit]");
    assert!(browser.text("#boxes").contains("number plate"));
    browser.click("#render");
    let copy = browser.text("#copy-sha");
    browser.type_into("#sar", &sar);
    browser.type_into("#recipient", "A. Person");
    browser.click("#rendered form button[type=submit]");
    assert!(browser.text("#disclosed").contains("A. Person"));
    browser.screenshot("redact-disclosed.png");
    // The request's page: its deadline, the footage linked and the disclosure made.
    browser.goto(&format!("{}/sars/{sar}", server.base));
    browser.find_by("xpath", &format!("//td[.='{copy}']"));
    assert!(
        browser.text("dl").contains("2026-12-20"),
        "the deadline is shown"
    );
    browser.screenshot("sar.png");
    drop(browser);
    server.stop();

    let shown = show_json(&home, &id);
    let rendered = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["kind"] == "redaction_rendered")
        .expect("rendered")
        .clone();
    assert_eq!(rendered["fields"]["output_sha256"], copy.as_str());
    assert_eq!(rendered["fields"]["kept_tracks"], "1");
    assert_eq!(rendered["fields"]["exemptions"], 2);
    assert_eq!(rendered["actor_name"], "dis");
    let store = bwv::custody::open_index(
        &bwv::custody::IndexLocation::Sqlite(home.join("index.sqlite")),
        std::sync::Arc::new(bwv::clock::SystemClock),
    )
    .expect("index");
    let disclosures = store.disclosures(Some(&sar)).expect("disclosures");
    assert_eq!(disclosures.len(), 1);
    assert_eq!(disclosures[0].file_sha256.to_hex(), copy);
    assert_eq!(disclosures[0].recipient, "A. Person");
    assert_eq!(
        disclosures[0].basis.as_deref(),
        Some("UK GDPR Art. 15 (subject access)")
    );
    let o = run(bwv(&home).args(["verify", "--all", "--json"]));
    assert!(o.status.success(), "verify: {}", stdout(&o));
}
