//! Helpers: run bwv, make clips with ffmpeg, read ffmpeg's framehash (the external oracle).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The bwv binary under test.
pub fn bwv_bin() -> &'static Path {
    assert_cmd::cargo::cargo_bin!("bwv")
}

/// A `bwv` command on a given store home, with a fixed clock.
pub fn bwv(home: &Path) -> Command {
    on_home(Command::new(bwv_bin()), home)
}

/// `bwv` run by QEMU's user-mode emulator as CPU model `cpu` (installed by scripts/setup.sh),
/// e.g. `Haswell-v4`: AVX2 and FMA, no AVX-512 or VNNI, whatever this machine has.
pub fn bwv_on_cpu(home: &Path, cpu: &str) -> Command {
    let mut c = Command::new("qemu-x86_64");
    c.args(["-cpu", cpu]).arg(bwv_bin());
    on_home(c, home)
}

fn on_home(mut c: Command, home: &Path) -> Command {
    c.env("BWV_HOME", home)
        .env("BWV_ACTOR", "test-officer")
        .env("BWV_NOW", "2026-11-21T12:00:00Z")
        .env_remove("BWV_CRASH_AT");
    c
}

/// Runs a command, returning its output (never panics on a non-zero exit).
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("command starts")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs ffmpeg quietly and asserts it succeeded.
pub fn ffmpeg(args: &[&str]) {
    let o = run(Command::new("ffmpeg")
        .args(["-y", "-v", "error", "-nostdin"])
        .args(args));
    assert!(o.status.success(), "ffmpeg {args:?} failed: {}", stderr(&o));
}

/// Clip recipe.
#[derive(Debug, Clone, Copy)]
pub struct Clip {
    pub width: u32,
    pub height: u32,
    pub seconds: f32,
    pub codec: &'static str,
    pub audio: bool,
    /// ffmpeg's audio encoder, when `audio`.
    pub audio_codec: &'static str,
}

impl Clip {
    pub const fn h264(width: u32, height: u32) -> Self {
        Clip {
            width,
            height,
            seconds: 2.0,
            codec: "libx264",
            audio: true,
            audio_codec: "aac",
        }
    }
}

/// Makes a clip (container from the file name) with a moving test pattern (B-frames for H.264)
/// and optional sound, a 440 Hz tone.
pub fn make_clip(path: &Path, c: Clip) {
    let size = format!("testsrc2=size={}x{}:rate=30", c.width, c.height);
    let t = c.seconds.to_string();
    let mut args: Vec<&str> = vec!["-f", "lavfi", "-i", &size];
    if c.audio {
        args.extend(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
    }
    args.extend(["-t", &t, "-c:v", c.codec, "-pix_fmt", "yuv420p"]);
    if c.codec == "libx264" {
        args.extend(["-profile:v", "high", "-bf", "3"]);
    }
    if c.codec == "libx265" {
        args.extend(["-x265-params", "log-level=error"]);
    }
    if c.audio {
        args.extend(["-c:a", c.audio_codec]);
    }
    let out = path.to_str().expect("utf-8 path");
    args.push(out);
    ffmpeg(&args);
}

/// ffmpeg's per-frame SHA-256s of the first video stream, in its native pixel format.
pub fn ffmpeg_framehashes(path: &Path) -> Vec<String> {
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(path)
        .args(["-map", "0:v:0", "-f", "framehash", "-hash", "sha256", "-"]));
    assert!(
        o.status.success(),
        "ffmpeg framehash failed: {}",
        stderr(&o)
    );
    stdout(&o)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(',').next().expect("hash column").trim().to_owned())
        .collect()
}

/// bwv's per-frame hashes of a recording (`show --frames`), as (pts_ns, hash).
pub fn bwv_framehashes(home: &Path, id: &str) -> Vec<(u64, String)> {
    let o = run(bwv(home).args(["show", id, "--frames"]));
    assert!(o.status.success(), "show --frames: {}", stderr(&o));
    stdout(&o)
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 3, "line {l:?}");
            assert_eq!(f[0].parse::<usize>().expect("index"), i);
            (f[1].parse().expect("pts"), f[2].to_owned())
        })
        .collect()
}

/// Ingest report lines (`--json`).
pub fn ingest_json(
    home: &Path,
    docks: &[&Path],
    extra: &[&str],
) -> (Output, Vec<serde_json::Value>) {
    let o = run(bwv(home)
        .arg("ingest")
        .args(docks)
        .arg("--json")
        .args(extra));
    let items = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    (o, items)
}

/// Ingests `dock`, which holds one good recording, into `home` and returns its report line.
pub fn ingest_one(home: &Path, dock: &Path) -> serde_json::Value {
    let (o, mut items) = ingest_json(home, &[dock], &[]);
    assert!(o.status.success(), "ingest: {}", stderr(&o));
    assert_eq!(items.len(), 1, "{items:?}");
    items.remove(0)
}

/// Whether a GStreamer element is installed.
pub fn has_element(name: &str) -> bool {
    run(Command::new("gst-inspect-1.0").arg("--exists").arg(name))
        .status
        .success()
}

/// Whether ffmpeg can encode with this encoder.
pub fn ffmpeg_has_encoder(name: &str) -> bool {
    let o = run(Command::new("ffmpeg").args(["-hide_banner", "-encoders"]));
    stdout(&o)
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(name))
}

/// Every file under a folder (recursively).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p))
            } else {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}

pub fn sha256_hex(path: &Path) -> String {
    let o = run(Command::new("sha256sum").arg(path));
    stdout(&o)
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_owned()
}

/// `bwv list --json`.
pub fn list_json(home: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&stdout(&run(bwv(home).args(["list", "--json"])))).expect("list --json")
}

/// `bwv show REC --json`.
pub fn show_json(home: &Path, id: &str) -> serde_json::Value {
    serde_json::from_str(&stdout(&run(bwv(home).args(["show", id, "--json"]))))
        .expect("show --json")
}

/// The kinds of a shown recording's events, in order, leaving out the `accessed` events that
/// `show` itself logs.
pub fn event_kinds(shown: &serde_json::Value) -> Vec<String> {
    texts(&shown["events"], "kind")
        .into_iter()
        .filter(|k| *k != "accessed")
        .map(str::to_owned)
        .collect()
}

/// The text `field` of each object in the JSON array `array`.
pub fn texts<'a>(array: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|v| {
            v[field]
                .as_str()
                .unwrap_or_else(|| panic!("no text {field:?} in {v}"))
        })
        .collect()
}

/// A scratch folder holding an empty `dock` folder and the path of a `home` (not yet made).
pub fn dock_and_home() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().expect("tempdir");
    let (dock, home) = (t.path().join("dock"), t.path().join("home"));
    std::fs::create_dir(&dock).expect("mkdir");
    (t, dock, home)
}
