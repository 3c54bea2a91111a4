//! Load on `bwv serve` over loopback: CLIENTS clients at once, each logged in with a session of
//! its own, list recordings and open one (every open is an `accessed` event, so each is a write
//! to the custody log too). Prints latency percentiles per route, throughput and refusals.
//!
//! `cargo bench --bench serve_load` (CLIENTS, ROUNDS and RECORDINGS from the environment;
//! defaults 50, 40 and 20). Generates its footage with ffmpeg; needs setup.sh's packages. Under
//! `cargo test` it runs a small load once. Under
//! `cargo test` it runs a small load once.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

fn var(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bwv(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_bwv"));
    c.env("BWV_HOME", home).env("BWV_ACTOR", "bench");
    c
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo test` runs benches once without `--bench`: then a small load, as a check that it runs.
    let full = std::env::args().any(|a| a == "--bench");
    let (clients, rounds, recordings) = if full {
        (var("CLIENTS", 50), var("ROUNDS", 40), var("RECORDINGS", 20))
    } else {
        (4, 2, 3)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (dock, home) = (dir.path().join("dock"), dir.path().join("home"));
    std::fs::create_dir(&dock).expect("mkdir");
    for i in 0..recordings {
        let out = dock.join(format!("cam{i}.mp4"));
        let src = format!(
            "testsrc2=size=160x120:rate=30:duration={}",
            0.3 + i as f32 * 0.05
        );
        let ok = Command::new("ffmpeg")
            .args([
                "-y", "-v", "error", "-f", "lavfi", "-i", &src, "-c:v", "libx264", "-pix_fmt",
                "yuv420p",
            ])
            .arg(&out)
            .status()
            .expect("ffmpeg");
        assert!(ok.success());
        std::fs::write(
            dock.join(format!("cam{i}.mp4.json")),
            format!(
                r#"{{"officer_id": "OFF-{}", "recorded_at": "2026-11-2{}T10:00:00Z"}}"#,
                i % 5,
                i % 9
            ),
        )
        .expect("sidecar");
    }
    assert!(
        bwv(&home)
            .arg("ingest")
            .arg(&dock)
            .status()
            .expect("ingest")
            .success()
    );
    let mut add = bwv(&home)
        .args(["user", "add", "aud", "--role", "auditor"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("user add");
    writeln!(add.stdin.take().expect("stdin"), "{PASSWORD}").expect("password");
    assert!(add.wait().expect("user add").success());

    let mut server = bwv(&home)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--insecure-cookies",
            "--workers",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let base = line.trim().rsplit(' ').next().expect("address").to_owned();

    let http = reqwest::blocking::Client::new();
    let ids: Vec<String> = {
        let cookie = login(&http, &base);
        let page: Value = http
            .get(format!("{base}/api/recordings?limit=1000"))
            .header("cookie", &cookie)
            .send()
            .and_then(|r| r.json())
            .expect("list");
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    };
    // Every client logs in first (Argon2id is deliberately slow; not part of the timed load).
    let sessions: Vec<String> = (0..clients).map(|_| login(&http, &base)).collect();
    let started = Instant::now();
    let results: Vec<(Vec<Duration>, Vec<Duration>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = sessions
            .iter()
            .enumerate()
            .map(|(c, cookie)| {
                let (base, ids) = (&base, &ids);
                s.spawn(move || {
                    let http = reqwest::blocking::Client::new();
                    let (mut list, mut show, mut refused) = (Vec::new(), Vec::new(), 0);
                    for r in 0..rounds {
                        for (path, out) in [
                            ("/api/recordings?limit=50".to_owned(), &mut list),
                            (
                                format!("/api/recordings/{}", ids[(c * 7 + r) % ids.len()]),
                                &mut show,
                            ),
                        ] {
                            let t = Instant::now();
                            let resp = http
                                .get(format!("{base}{path}"))
                                .header("cookie", cookie)
                                .send()
                                .expect("answered");
                            let ok = resp.status().is_success();
                            let _ = resp.bytes();
                            if ok {
                                out.push(t.elapsed());
                            } else {
                                refused += 1;
                            }
                        }
                    }
                    (list, show, refused)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let wall = started.elapsed();
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    assert!(server.wait().expect("serve ends").success());
    let verified = bwv(&home)
        .args(["verify", "--all", "--json"])
        .output()
        .expect("verify");

    let (mut list, mut show, mut refused) = (Vec::new(), Vec::new(), 0);
    for (l, s, r) in results {
        list.extend(l);
        show.extend(s);
        refused += r;
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let isa = if cpu.contains("avx512f") {
        "AVX-512F"
    } else if cpu.contains(" avx2") {
        "AVX2"
    } else {
        "x86-64"
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "bwv serve under load: {clients} clients x {rounds} rounds (list + open), {recordings} recordings, SQLite index, {cores} cores, {isa}"
    );
    for (name, mut times) in [
        ("GET /api/recordings (list 50)", list),
        ("GET /api/recordings/ID (open, logs an event)", show),
    ] {
        times.sort();
        println!(
            "{name:<46} n={:<5} p50 {:>6.1} ms  p90 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            percentile(&times, 0.99),
            percentile(&times, 1.0)
        );
    }
    let total = clients * rounds * 2;
    println!(
        "{total} requests in {:.2} s: {:.0} requests/s; refused (503): {refused}; verify afterwards: {}",
        wall.as_secs_f64(),
        total as f64 / wall.as_secs_f64(),
        if verified.status.success() {
            "ok"
        } else {
            "FAILED"
        }
    );
    println!(
        "{}",
        json!({"clients": clients, "rounds": rounds, "refused": refused, "wall_s": wall.as_secs_f64()})
    );
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

fn login(http: &reqwest::blocking::Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/api/login"))
        .json(&json!({"name": "aud", "password": PASSWORD}))
        .send()
        .expect("login");
    assert!(r.status().is_success(), "login: {}", r.status());
    r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_owned()
}
