//! Redaction end to end: a clip with a real (public-domain) face moving across it, planned with
//! the real detector, rendered twice to identical bytes, the face's detail gone and the rest
//! intact, the requester kept on request, bad requests refused with nothing written.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

const W: usize = 640;
const H: usize = 360;
const FRAMES: usize = 60;

pub fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn redact(home: &Path) -> Command {
    let mut c = bwv(home);
    c.env("BWV_MODELS", models()).arg("redact");
    c
}

/// The middle of the face (x, y, w, h) in frame `i`: testdata/faces/astronaut.jpg's face box
/// [175, 53, 100, 128] at half size, overlaid at x = 100 + 2i, y = 100, less a fifth each way.
fn face_at(i: usize) -> (usize, usize, usize, usize) {
    (100 + 2 * i + 88 + 5, 100 + 27 + 6, 40, 52)
}

/// Mean and standard deviation of a box.
fn mean_sd(frame: &[u8], (x, y, w, h): (usize, usize, usize, usize)) -> (f64, f64) {
    let px: Vec<f64> = (y..y + h)
        .flat_map(|r| (x..x + w).map(move |c| f64::from(frame[r * W + c])))
        .collect();
    let mean = px.iter().sum::<f64>() / px.len() as f64;
    let var = px.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / px.len() as f64;
    (mean, var.sqrt())
}

/// A 2 s 640x360 30 fps H.264 + AAC clip with the portrait sliding right over a test pattern.
pub fn face_clip(path: &Path, tone: u32) {
    face_clip_as(path, tone, "yuv420p");
}

/// [`face_clip`] in another pixel format (e.g. `yuv420p10le`: H.264 High 10).
fn face_clip_as(path: &Path, tone: u32, pix_fmt: &str) {
    portrait_clip(path, "x='100+2*n':y=100", 256, FRAMES, Some(tone), pix_fmt);
}

/// `frames` frames of 640x360 30 fps H.264 (+ AAC at `tone` Hz) with the portrait, `side`
/// pixels square, overlaid on a test pattern as ffmpeg's `overlay` options `placement` say.
fn portrait_clip(
    path: &Path,
    placement: &str,
    side: u32,
    frames: usize,
    tone: Option<u32>,
    pix_fmt: &str,
) {
    let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/faces/astronaut.jpg");
    let bg = format!("testsrc2=size={W}x{H}:rate=30");
    let graph = format!(
        "[1:v]scale={side}:{side}[p];[0:v][p]overlay={placement}:shortest=1,format={pix_fmt}[v]"
    );
    let (seconds, frames) = ((frames as f32 / 30.0).to_string(), frames.to_string());
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        &bg,
        "-loop",
        "1",
        "-framerate",
        "30",
        "-i",
        img.to_str().expect("utf-8"),
    ];
    let sine = tone.map(|t| format!("sine=frequency={t}:sample_rate=48000"));
    if let Some(sine) = &sine {
        args.extend(["-f", "lavfi", "-i", sine]);
    }
    args.extend([
        "-filter_complex",
        &graph,
        "-map",
        "[v]",
        "-frames:v",
        &frames,
    ]);
    if sine.is_some() {
        args.extend(["-map", "2:a", "-c:a", "aac", "-t", &seconds]);
    }
    let out = path.to_str().expect("utf-8");
    args.extend(["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", out]);
    ffmpeg(&args);
}

/// Decoded luma planes of every frame.
fn luma(path: &Path) -> Vec<Vec<u8>> {
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"]));
    assert!(o.status.success(), "{}", stderr(&o));
    o.stdout.chunks_exact(W * H).map(<[u8]>::to_vec).collect()
}

/// Sum of absolute horizontal differences inside a box: how much detail it holds.
fn detail(frame: &[u8], (x, y, w, h): (usize, usize, usize, usize)) -> u64 {
    (y..y + h)
        .flat_map(|r| (x..x + w - 1).map(move |c| (r, c)))
        .map(|(r, c)| u64::from(frame[r * W + c].abs_diff(frame[r * W + c + 1])))
        .sum()
}

/// Every frame is there; in every 7th the face lost most of its detail, and away from it (the
/// left of the frame) only compression noise changed.
fn face_hidden_rest_kept(orig: &[Vec<u8>], red: &[Vec<u8>]) {
    assert_eq!(red.len(), FRAMES);
    for i in (0..FRAMES).step_by(7) {
        let face = face_at(i);
        let (d0, d1) = (detail(&orig[i], face), detail(&red[i], face));
        assert!(d1 * 2 < d0, "frame {i}: face detail {d1} vs original {d0}");
        let (x, y, w, h) = (10, 200, 60, 100);
        let diff: u64 = (y..y + h)
            .flat_map(|r| (x..x + w).map(move |c| r * W + c))
            .map(|p| u64::from(orig[i][p].abs_diff(red[i][p])))
            .sum();
        assert!(
            diff < (w * h) as u64 * 4,
            "frame {i}: background changed by {diff}"
        );
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    root: PathBuf,
    home: PathBuf,
    id: String,
    dock_clip: PathBuf,
}

fn setup() -> Setup {
    let (dir, dock, home) = dock_and_home();
    let root = dir.path().to_owned();
    let dock_clip = dock.join("face.mp4");
    face_clip(&dock_clip, 440);
    let id = ingest_one(&home, &dock)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    Setup {
        _dir: dir,
        root,
        home,
        id,
        dock_clip,
    }
}

fn plan(s: &Setup) -> (PathBuf, Value) {
    let path = s.root.join("plan.json");
    let plan = plan_to(&s.home, &s.id, &path, &[]);
    (path, plan)
}

/// Redacts recording `id` into `dir/PREFIXone.mp4` in one pass and into `dir/PREFIXtwo.mp4`
/// from the plan `planned`; returns the two copies.
fn render_both_ways(
    home: &Path,
    id: &str,
    planned: &Path,
    dir: &Path,
    prefix: &str,
) -> (PathBuf, PathBuf) {
    let (one, two) = (
        dir.join(format!("{prefix}one.mp4")),
        dir.join(format!("{prefix}two.mp4")),
    );
    let o = run(redact(home).arg(id).arg("--out").arg(&one));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(redact(home)
        .arg(id)
        .arg("--render")
        .arg(planned)
        .arg("--out")
        .arg(&two));
    assert!(o.status.success(), "{}", stderr(&o));
    (one, two)
}

/// Plans recording `id` into `path` with extra `args`; returns the plan.
fn plan_to(home: &Path, id: &str, path: &Path, args: &[&str]) -> Value {
    let o = run(redact(home).arg(id).arg("--plan").arg(path).args(args));
    assert!(o.status.success(), "plan: {}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(path).expect("plan")).expect("json")
}

#[test]
fn plan_render_is_repeatable_hides_the_face_and_keeps_the_rest() {
    let s = setup();
    let (plan_path, plan) = plan(&s);
    let tracks = plan["tracks"].as_array().expect("tracks");
    assert_eq!(
        tracks.len(),
        1,
        "one face, one track: {:?}",
        tracks.iter().map(|t| &t["id"]).collect::<Vec<_>>()
    );
    assert_eq!(tracks[0]["first_frame"], 0);
    assert_eq!(tracks[0]["last_frame"], FRAMES as u64 - 1);
    let preview = s.root.join("plan.preview.jpg");
    assert!(image::open(&preview).is_ok(), "preview sheet is a JPEG");

    // `redact ID ARGS --out NAME`, which must succeed.
    let redact_to = |name: &str, args: &[&str]| {
        let out = s.root.join(name);
        let o = run(redact(&s.home).arg(&s.id).args(args).arg("--out").arg(&out));
        assert!(o.status.success(), "{args:?} {name}: {}", stderr(&o));
        out
    };
    let plan_arg = plan_path.to_str().expect("utf-8 path");
    let render =
        |name: &str, extra: &[&str]| redact_to(name, &[&["--render", plan_arg], extra].concat());
    let a = render("a.mp4", &[]);
    let b = render("b.mp4", &[]);
    assert_eq!(
        sha256_hex(&a),
        sha256_hex(&b),
        "same plan and settings, same bytes"
    );

    // One decode that plans and renders together gives the same plan, preview and bytes as
    // a plan then a render, manual boxes included.
    let one = redact_to("one.mp4", &[]);
    assert_eq!(sha256_hex(&one), sha256_hex(&a), "one pass = plan + render");
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    // Its plan and preview (faces unblurred) are kept in the store, not beside the copy.
    let kept_plans = s.home.join("plans").join(&s.id);
    assert!(!s.root.join("one.plan.preview.jpg").exists());
    assert_eq!(
        read(kept_plans.join("one.plan.json")),
        read(plan_path.clone())
    );
    assert_eq!(
        read(kept_plans.join("one.plan.preview.jpg")),
        read(preview.clone())
    );
    // Searching the whole frame on every other detection frame only, and following the face
    // near where it was on the ones between: the same one track, found on as many frames.
    redact_to("sparse.mp4", &["--search-every", "2"]);
    let sparse: serde_json::Value =
        serde_json::from_slice(&read(kept_plans.join("sparse.plan.json"))).expect("plan");
    assert_eq!(sparse["settings"]["search_every"], 2);
    let followed = sparse["tracks"].as_array().expect("tracks");
    assert_eq!(followed.len(), 1, "{followed:?}");
    for key in ["first_frame", "last_frame", "detections"] {
        assert_eq!(followed[0][key], tracks[0][key], "{key}");
    }
    let boxed = ["--box", "20,30,100,60@0.5-1.2"];
    assert_eq!(
        sha256_hex(&redact_to("one-boxed.mp4", &boxed)),
        sha256_hex(&render("boxed.mp4", &boxed))
    );

    // H.264 and the AAC track, all frames.
    let o = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,nb_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(&a));
    let streams = stdout(&o);
    assert!(
        streams.contains("h264,60") && streams.contains("aac"),
        "{streams}"
    );

    let orig = luma(&s.dock_clip);
    face_hidden_rest_kept(&orig, &luma(&a));

    // Muted sound: silence inside the range, sound outside it, and still repeatable.
    let muted = render("muted.mp4", &["--audio", "mute:0.5-1.0"]);
    assert_eq!(
        sha256_hex(&muted),
        sha256_hex(&render("muted2.mp4", &["--audio", "mute:0.5-1.0"]))
    );
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&muted)
        .args([
            "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "48000", "-",
        ]));
    let samples: Vec<i16> = o
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let rms = |a: f64, b: f64| {
        let seg = &samples[(a * 48000.0) as usize..(b * 48000.0) as usize];
        (seg.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / seg.len() as f64).sqrt()
    };
    assert!(rms(0.55, 0.95) < 1.0, "muted range is silent");
    assert!(
        rms(0.1, 0.4) > 500.0 && rms(1.05, 1.3) > 500.0,
        "sound outside the range"
    );

    // Solid fill shows the mask covers the face in every single frame.
    let solid = luma(&render("solid.mp4", &["--mode", "solid"]));
    for (i, frame) in solid.iter().enumerate() {
        let (mean, sd) = mean_sd(frame, face_at(i));
        assert!(
            (mean - 128.0).abs() < 6.0 && sd < 8.0,
            "frame {i}: face not covered ({mean:.1}, {sd:.1})"
        );
    }

    // The requester's own track kept: the face keeps its detail.
    let id = tracks[0]["id"].as_u64().expect("id").to_string();
    let kept = render("kept.mp4", &["--keep", &id]);
    let kept = luma(&kept);
    for i in (0..FRAMES).step_by(11) {
        let face = face_at(i);
        assert!(
            detail(&kept[i], face) * 10 > detail(&orig[i], face) * 7,
            "frame {i} kept"
        );
    }
    // Kept over some frames only (a track that is someone else before or after, issue 21.1):
    // visible over frames 20-39, masked before and after.
    let part = luma(&render("part.mp4", &["--keep", &format!("{id}@20-39")]));
    for i in [5, 14, 25, 34, 45, 55] {
        let face = face_at(i);
        let shows = detail(&part[i], face) * 10 > detail(&orig[i], face) * 7;
        assert_eq!(shows, (20..=39).contains(&i), "frame {i}");
    }
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(s.root.join("part.report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(
        (
            &report["kept"][0]["first_frame"],
            &report["kept"][0]["last_frame"]
        ),
        (&Value::from(20), &Value::from(39))
    );
    assert_eq!(report["redacted"][0]["id"], report["kept"][0]["id"]);

    // The custody record: events, the stored copy, a report, verify passes.
    let shown = show_json(&s.home, &s.id);
    let kinds = event_kinds(&shown);
    assert!(
        kinds.contains(&"redaction_planned".to_owned())
            && kinds.contains(&"redaction_rendered".to_owned())
    );
    let stored: Vec<&Value> = shown["artefacts"]
        .as_array()
        .expect("artefacts")
        .iter()
        .filter(|a| a["kind"] == "redacted")
        .collect();
    assert_eq!(
        stored.len(),
        7,
        "seven distinct outputs stored (a = b = one, sparse, boxed = one-boxed, muted = muted2, \
         kept, part)"
    );
    assert!(
        stored
            .iter()
            .any(|x| x["sha256"] == sha256_hex(&a).as_str())
    );
    assert_eq!(
        stored[0]["parent_sha256"],
        shown["recording"]["master_sha256"]
    );
    assert!(
        stored[0]["params"]["plan_sha256"].is_string()
            && stored[0]["params"]["model_sha256"].is_string()
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(s.root.join("a.report.json")).expect("report"),
    )
    .expect("json");
    assert_eq!(report["redacted"][0]["frames"], FRAMES as u64);
    let summary = std::fs::read_to_string(s.root.join("a.report.txt")).expect("summary");
    assert!(summary.contains("redacted tracks: #1"), "{summary}");
    // What the detector was unsure of and nothing masks is listed for a reviewer: here the
    // shuttle model's tank beside the face (two highlights like eyes), scoring 0.10-0.11.
    let unmasked = plan["unmasked"].as_array().expect("unmasked");
    assert!(!unmasked.is_empty(), "{plan}");
    assert_eq!(report["unmasked"], plan["unmasked"]);
    for u in unmasked {
        let frame = u["best_frame"].as_u64().expect("frame");
        let x = |i: usize| u["region"][i].as_u64().expect("region") as usize;
        let (fx, fy, fw, fh) = face_at(frame as usize);
        let (cx, cy) = (x(0) + x(2) / 2, x(1) + x(3) / 2);
        assert!(
            !(fx..fx + fw).contains(&cx) || !(fy..fy + fh).contains(&cy),
            "{u} is on the masked face"
        );
        let score = u["best_score"].as_f64().expect("score");
        assert!((0.1..=0.2).contains(&score), "{u}");
    }
    assert!(
        summary.contains(&format!("{} region(s)", unmasked.len())),
        "{summary}"
    );
    // The redacted copy is what a subject access request discloses, with no reason needed.
    let day = &shown["recording"]["recorded_at"].as_str().expect("time")[..10];
    let a_path = a.to_str().expect("utf-8");
    for args in [
        &["sar", "open", "--requester", "R", "--received", day][..],
        &["sar", "link", "SAR-1", s.id.as_str()],
        &["sar", "disclose", "SAR-1", "--file", a_path, "--to", "R"],
    ] {
        let o = run(bwv(&s.home).args(args));
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = run(bwv(&s.home).arg("verify"));
    assert!(o.status.success(), "verify: {}", stdout(&o));

    // A render found wanting is superseded: it is no longer disclosed or bundled, the others
    // still are, and the supersession is on the record.
    let a_sha = sha256_hex(&a);
    let o = run(bwv(&s.home).args(["supersede", &s.id, &a_sha[..12], "--reason", "wrong box"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let again = run(bwv(&s.home).args(["supersede", &s.id, &a_sha[..12], "--reason", "again"]));
    assert_eq!(again.status.code(), Some(4), "{}", stderr(&again));
    let o = run(bwv(&s.home).args(["sar", "disclose", "SAR-1", "--file", a_path, "--to", "R"]));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("superseded"), "{}", stderr(&o));
    let bundle = s.root.join("bundle");
    let o = run(bwv(&s.home)
        .args(["export", &s.id, "--file", "redacted", "--json", "--out"])
        .arg(&bundle));
    assert!(o.status.success(), "{}", stderr(&o));
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(bundle.join("manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&o)).expect("--json"),
        manifest
    );
    let bundled: Vec<&str> = texts(&manifest["files"], "sha256");
    assert_eq!(
        bundled.len(),
        6,
        "seven renders, one superseded: {bundled:?}"
    );
    assert!(!bundled.contains(&a_sha.as_str()));
    // The manifest still lists every derived file, the superseded copy too, with provenance.
    assert!(texts(&manifest["artefacts"], "sha256").contains(&a_sha.as_str()));
    assert!(event_kinds(&show_json(&s.home, &s.id)).contains(&"redaction_superseded".to_owned()));
    // The render that replaces it, reported as JSON.
    let c = s.root.join("c.mp4");
    let o = run(redact(&s.home)
        .arg(&s.id)
        .args([
            "--render", plan_arg, "--mode", "pixelate", "--json", "--out",
        ])
        .arg(&c));
    assert!(o.status.success(), "{}", stderr(&o));
    let done: Value = serde_json::from_str(&stdout(&o)).expect("--json");
    assert_eq!(done["rendered"]["sha256"], sha256_hex(&c).as_str());
    assert_eq!(done["planned"], Value::Null);
    let o = run(bwv(&s.home).arg("verify"));
    assert!(o.status.success(), "verify: {}", stdout(&o));
}

#[test]
fn bad_requests_are_refused_and_nothing_is_written() {
    let s = setup();
    let (plan_path, plan) = plan(&s);
    let out = s.root.join("x.mp4");
    // Refused with exit 1 (invalid request), but 3 for a recording that does not exist.
    let refuse = |args: &[&str], id: &str, why: &str| {
        let o = run(redact(&s.home).arg(id).args(args));
        let code = if id == "ffffffff" { 3 } else { 1 };
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?} must fail: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
        assert!(!out.exists(), "{args:?} wrote output");
    };
    let plan_arg = plan_path.to_str().expect("utf-8");
    let out_arg = out.to_str().expect("utf-8");
    refuse(
        &["--render", plan_arg, "--out", out_arg, "--keep", "99"],
        &s.id,
        "track 99 is not in the plan",
    );
    refuse(
        &["--render", plan_arg, "--out", out_arg],
        "ffffffff",
        "no recording matches",
    );
    refuse(
        &["--render", plan_arg, "--out", out_arg, "--keep", "1@9-3"],
        &s.id,
        "the range runs backwards",
    );
    refuse(
        &["--out", out_arg, "--keep", "1"],
        &s.id,
        "tracks to keep are chosen from a plan",
    );
    // The files a run writes are new files only, checked before any work: a link where the
    // plan would go is not followed (its target keeps its bytes), and one name for two files
    // is refused.
    let precious = s.root.join("precious.txt");
    std::fs::write(&precious, b"keep me").expect("write");
    let link = s.root.join("linked.json");
    std::os::unix::fs::symlink(&precious, &link).expect("symlink");
    refuse(
        &["--plan", link.to_str().expect("utf-8")],
        &s.id,
        "already exists",
    );
    assert_eq!(std::fs::read(&precious).expect("read"), b"keep me");
    refuse(
        &["--plan", out_arg, "--out", out_arg],
        &s.id,
        "is named twice",
    );
    // An edited plan (its one track removed: the face would be bare throughout) is not on the
    // record, so it is not rendered.
    let mut edited = plan.clone();
    edited["tracks"] = serde_json::json!([]);
    let edited_path = s.root.join("edited.json");
    std::fs::write(&edited_path, edited.to_string()).expect("write");
    refuse(
        &[
            "--render",
            edited_path.to_str().expect("utf-8"),
            "--out",
            out_arg,
        ],
        &s.id,
        "was never logged as planned",
    );

    // A plan for one recording cannot render another.
    let dock2 = s.root.join("dock2");
    std::fs::create_dir(&dock2).expect("mkdir");
    face_clip(&dock2.join("other.mp4"), 880);
    std::fs::write(dock2.join("broken.mp4"), b"not a video").expect("write");
    let (_, items) = ingest_json(&s.home, &[&dock2], &[]);
    let other = items
        .iter()
        .find(|i| i["status"] == "ingested")
        .and_then(|i| i["id"].as_str())
        .expect("other");
    refuse(
        &["--render", plan_arg, "--out", out_arg],
        other,
        "the plan is for recording",
    );
    let broken = items
        .iter()
        .find(|i| i["status"] == "quarantined")
        .and_then(|i| i["id"].as_str())
        .expect("broken");
    refuse(&["--out", out_arg], broken, "is quarantined");
    // An existing output is never overwritten.
    std::fs::write(&out, b"keep me").expect("write");
    let o = run(redact(&s.home)
        .arg(&s.id)
        .args(["--render", plan_arg, "--out", out_arg]));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&out).expect("read"), b"keep me");
    let o = run(redact(&s.home).arg(&s.id).args(["--out", out_arg]));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).expect("read"), b"keep me");
}

#[test]
fn bench_measures_each_stage_on_generated_footage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = run(Command::new(bwv_bin())
        .current_dir(dir.path())
        .env("BWV_MODELS", models())
        .args(["bench", "--seconds", "1", "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let cpu = v["cpu"].as_str().expect("the CPU the figures came from");
    assert!(cpu.starts_with(std::env::consts::ARCH), "{cpu}");
    assert_eq!(
        texts(&v["stages"], "stage"),
        ["generate", "ingest", "redact"]
    );
    for s in v["stages"].as_array().expect("stages") {
        assert_eq!(s["frames"], 30, "{s}");
        assert!(s["cpu_seconds"].as_f64().expect("cpu") > 0.0, "{s}");
        assert!(s["peak_mib"].as_f64().expect("peak") > 10.0, "{s}");
    }
    let total = &v["end_to_end"];
    assert_eq!(total["frames"], 30, "{total}");
    assert!(total["cpu_seconds"].as_f64().expect("cpu") > 0.0, "{total}");
    let q = &v["redaction_quality"];
    assert!(q["faces"].as_u64().expect("faces") > 0, "{q}");
    assert!(q["recall"].as_f64().expect("recall") > 0.8, "{q}");
}

#[test]
fn ten_bit_footage_is_redacted_into_an_eight_bit_copy() {
    let (dir, dock, home) = dock_and_home();
    let clip = dock.join("high10.mp4");
    face_clip_as(&clip, 440, "yuv420p10le");
    let item = ingest_one(&home, &dock);
    let id = item["id"].as_str().expect("id");
    assert_eq!(
        show_json(&home, id)["recording"]["media"]["pixel_format"],
        "I420_10LE"
    );
    let out = dir.path().join("out.mp4");
    let o = run(redact(&home).arg(id).arg("--out").arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_name,pix_fmt"])
        .args(["-select_streams", "v:0", "-of", "csv=p=0"])
        .arg(&out));
    assert_eq!(stdout(&o).trim(), "h264,yuv420p");
    // Away from the face the picture survives, the conversion to 8 bits included.
    face_hidden_rest_kept(&luma(&clip), &luma(&out));
}

#[test]
fn a_face_that_shows_only_after_the_last_detection_frame_is_found() {
    // 59 frames: the detector's regular frames are 0, 3, ..., 57; the face is overlaid from
    // frame 58, the last, only.
    let (dir, dock, home) = dock_and_home();
    let clip = dock.join("late.mp4");
    portrait_clip(
        &clip,
        "x=100:y=100:enable='gte(n,58)'",
        256,
        59,
        None,
        "yuv420p",
    );
    let item = ingest_one(&home, &dock);
    assert_eq!(item["frames"], 59);
    let id = item["id"].as_str().expect("id");
    let plan = plan_to(&home, id, &dir.path().join("plan.json"), &[]);
    let tracks = plan["tracks"].as_array().expect("tracks");
    assert_eq!(tracks.len(), 1, "{plan}");
    let last = tracks[0]["boxes"]
        .as_array()
        .and_then(|b| b.last())
        .expect("a box");
    assert_eq!(last["frame"], 58);
    assert!(last["score"].as_f64().is_some_and(|s| s > 0.5), "{last}");
}

#[test]
fn a_face_that_comes_into_view_between_detection_frames_is_masked_from_its_first_frame() {
    // A face about 100x128 px (large: a short lead-in) shows from frame 4; the detector's
    // regular frames are 0, 3, 6, ...
    let (dir, dock, home) = dock_and_home();
    portrait_clip(
        &dock.join("sudden.mp4"),
        "x=50:y=-20:enable='gte(n,4)'",
        512,
        20,
        None,
        "yuv420p",
    );
    let item = ingest_one(&home, &dock);
    let id = item["id"].as_str().expect("id");
    let first = |plan: &Value| {
        let tracks = plan["tracks"].as_array().expect("tracks");
        assert_eq!(tracks.len(), 1, "{plan}");
        (
            tracks[0]["first_frame"].clone(),
            tracks[0]["boxes"][0].clone(),
        )
    };
    // Looked for on frames 5 and 4, found there, and not on 3: masked from 4, found on 4.
    let planned = dir.path().join("a.json");
    let (from, b) = first(&plan_to(&home, id, &planned, &[]));
    assert_eq!(from, 4);
    assert!(b["score"].as_f64().is_some_and(|s| s > 0.5), "{b}");
    // Planning while rendering (frames masked as the decode goes on) looks back the same.
    let (one, two) = render_both_ways(&home, id, &planned, dir.path(), "");
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let kept = home.join("plans").join(id).join("one.plan.json");
    assert_eq!(read(&kept), read(&planned));
    assert_eq!(sha256_hex(&one), sha256_hex(&two));
    // Without looking back, it is found on 6 and its mask leads in over frames without it.
    // (Nor a second look at small faces, which changes nothing for this one.)
    let args = ["--no-look-back", "--no-recheck", "--scale", "0.5"];
    let fixed = plan_to(&home, id, &dir.path().join("b.json"), &args);
    let (from, b) = first(&fixed);
    assert!(from.as_u64().is_some_and(|f| f < 4), "{from}");
    assert_eq!(b["score"], 0.0);
    // Each plan records the settings that made it.
    let recorded = |plan: &Value, key: &str| plan["settings"]["detect"][key].clone();
    let planned: Value = serde_json::from_slice(&read(&planned)).expect("plan json");
    assert!(
        recorded(&planned, "recheck_from")
            .as_f64()
            .is_some_and(|r| r > 0.0)
    );
    assert_eq!(fixed["settings"]["look_back"], false);
    assert_eq!(recorded(&fixed, "recheck_from"), 0.0);
    assert_eq!(recorded(&fixed, "scales"), serde_json::json!([0.5]));
    let lower = plan_to(
        &home,
        id,
        &dir.path().join("c.json"),
        &["--recheck-from", "0.05"],
    );
    assert_eq!(recorded(&lower, "recheck_from"), serde_json::json!(0.05));
}

/// The plan and the redacted copy are the same, bit for bit, on a CPU with AVX2 and FMA but
/// neither AVX-512 nor VNNI, where ONNX Runtime's 8-bit kernels sum in 16 bits: QEMU emulates a
/// Haswell running the same binary (the issue this answers: such a CPU found two tracks here).
/// Only the CPU the plan records differs.
#[test]
fn the_same_plan_and_copy_on_a_cpu_without_avx512_or_vnni() {
    let s = setup();
    let redact_out = |mut cmd: Command, name: &str| {
        let out = s.root.join(name);
        let o = run(cmd
            .env("BWV_MODELS", models())
            .args(["redact", &s.id, "--out"])
            .arg(&out));
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let plan = (s.home.join("plans").join(&s.id)).join(name.replace(".mp4", ".plan.json"));
        let mut plan: Value =
            serde_json::from_str(&std::fs::read_to_string(plan).expect("plan")).expect("json");
        let cpu = plan["cpu"].take();
        (plan, cpu, sha256_hex(&out))
    };
    let (native, native_cpu, native_copy) = redact_out(bwv(&s.home), "native.mp4");
    let (emulated, emulated_cpu, emulated_copy) =
        redact_out(bwv_on_cpu(&s.home, "Haswell-v4"), "haswell.mp4");
    let emulated_cpu = emulated_cpu.as_str().expect("cpu").to_owned();
    assert!(
        emulated_cpu.contains("avx2 fma")
            && !emulated_cpu.contains("avx512")
            && !emulated_cpu.contains("vnni"),
        "the emulated CPU: {emulated_cpu}"
    );
    assert!(native_cpu.as_str().expect("cpu").contains("avx2"));
    assert!(native["engine"].as_str().expect("engine").contains("int8"));
    assert_eq!(native["tracks"].as_array().map(Vec::len), Some(1));
    assert_eq!(emulated, native, "plans on {emulated_cpu} and {native_cpu}");
    assert_eq!(emulated_copy, native_copy);
}

/// Without --models or BWV_MODELS, an installed bwv (PREFIX/bin/bwv) finds its models under
/// PREFIX/share/bwv/models from any folder; a named folder without them is an error naming it.
#[test]
fn an_installed_bwv_finds_its_models_from_any_folder() {
    let s = setup();
    let prefix = s.root.join("prefix");
    let (bin, share) = (prefix.join("bin"), prefix.join("share/bwv/models"));
    let elsewhere = s.root.join("elsewhere");
    for d in [&bin, &share, &elsewhere] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::copy(bwv_bin(), bin.join("bwv")).expect("install bwv");
    // Only the float model: without ONNX Runtime beside it the plan is tract's, which tells
    // this folder from the checkout's (which has all three files).
    std::fs::copy(
        models().join("centerface.onnx"),
        share.join("centerface.onnx"),
    )
    .expect("copy");
    let installed = || {
        let mut c = Command::new(bin.join("bwv"));
        c.current_dir(&elsewhere)
            .env("BWV_HOME", &s.home)
            .env("BWV_ACTOR", "test-officer")
            .env_remove("BWV_MODELS")
            .args(["redact", &s.id, "--plan"]);
        c
    };
    let o = run(installed().arg("plan.json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(elsewhere.join("plan.json")).expect("plan"))
            .expect("json");
    assert!(
        plan["engine"].as_str().expect("engine").contains("tract"),
        "{plan}"
    );

    let missing = s.root.join("no-models-here");
    let o = run(installed().arg("p2.json").arg("--models").arg(&missing));
    // Not found (3): the named folder holds no model.
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("looked in: {}", missing.display())) && err.contains("setup.sh"),
        "{err}"
    );
    assert!(!elsewhere.join("p2.json").exists());
}

/// A render queued for a worker: the plan travels through the object store by its SHA-256, the
/// worker renders the same bytes a render here makes, and the log names who asked for it.
#[test]
fn a_render_queued_for_a_worker_makes_the_same_copy_and_names_the_requester() {
    let s = setup();
    let (plan_path, _) = plan(&s);
    let o = run(redact(&s.home)
        .arg(&s.id)
        .arg("--render")
        .arg(&plan_path)
        .args(["--enqueue", "--actor", "reviewer-7", "--mode", "pixelate"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(bwv(&s.home).args(["worker", "--drain", "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let jobs: Value =
        serde_json::from_str(&stdout(&run(bwv(&s.home).args(["jobs", "--json"])))).expect("JSON");
    let job = &jobs["jobs"][0];
    assert_eq!(job["state"], "done", "{jobs}");
    let queued_copy = job["result"]["sha256"].as_str().expect("sha").to_owned();

    let here = s.root.join("here.mp4");
    let o = run(redact(&s.home)
        .arg(&s.id)
        .arg("--render")
        .arg(&plan_path)
        .args(["--mode", "pixelate", "--out"])
        .arg(&here));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        sha256_hex(&here),
        queued_copy,
        "the worker's copy is the same bytes"
    );

    let shown = show_json(&s.home, &s.id);
    let rendered: Vec<&Value> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "redaction_rendered")
        .collect();
    assert_eq!(rendered.len(), 2);
    assert_eq!(rendered[0]["actor_name"], "reviewer-7", "{:?}", rendered[0]);

    // An edited plan is refused by the worker too: only logged plans render.
    let mut edited: Value =
        serde_json::from_str(&std::fs::read_to_string(&plan_path).expect("plan")).expect("json");
    edited["tracks"] = serde_json::json!([]);
    let edited_path = s.root.join("edited.json");
    std::fs::write(&edited_path, edited.to_string()).expect("write");
    let o = run(redact(&s.home)
        .arg(&s.id)
        .arg("--render")
        .arg(&edited_path)
        .arg("--enqueue"));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(bwv(&s.home).args(["worker", "--drain", "--json"]));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stdout(&o).contains("\"failed\""), "{}", stdout(&o));
}

/// A render killed while it encodes leaves nothing beside its output (issue 22.7): the
/// half-made copy is in the store's scratch folder, which the next redaction clears, and a
/// derived file no recording claims is a `verify` finding.
#[test]
fn a_killed_render_leaves_nothing_behind_and_verify_names_stray_files() {
    let s = setup();
    let out_dir = s.root.join("out");
    std::fs::create_dir(&out_dir).expect("out folder");
    let tmp = s.home.join("tmp");
    // The encoder's index file, in the job's scratch folder, is written while frames encode.
    let encoding = || -> Option<PathBuf> {
        std::fs::read_dir(&tmp)
            .ok()?
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("job-"))
            .flat_map(|job| {
                std::fs::read_dir(job.path())
                    .into_iter()
                    .flatten()
                    .flatten()
            })
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".moov.tmp"))
    };
    let mut child = redact(&s.home)
        .arg(&s.id)
        .arg("--out")
        .arg(out_dir.join("a.mp4"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn bwv redact");
    let job = loop {
        if let Some(p) = encoding() {
            break p;
        }
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the render ended before it was seen encoding"
        );
        // Polling for the file, not waiting on the clock.
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("out folder")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "beside the output: {left:?}");
    assert!(
        job.exists(),
        "the killed job's scratch stays until a later run"
    );

    // A stray derived file (an interrupted job's) fails verify until it is removed.
    let stray = s.home.join("derived").join(&s.id).join("redacted-0000.mp4");
    std::fs::write(&stray, b"half a render").expect("write");
    let o = run(bwv(&s.home).args(["verify", "--all"]));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("redacted-0000.mp4 is stored but no recording's files include it"),
        "{}",
        stdout(&o)
    );
    std::fs::remove_file(&stray).expect("remove");

    // The next redaction clears the killed one's scratch and renders as usual.
    let o = run(redact(&s.home)
        .arg(&s.id)
        .arg("--out")
        .arg(out_dir.join("b.mp4")));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!job.exists(), "{} cleared", job.display());
    let o = run(bwv(&s.home).args(["verify", "--all"]));
    assert!(o.status.success(), "verify: {}", stdout(&o));
}

/// Faces coming in across the top and the bottom edge: found weakly, looked for in the frames
/// held since the last detection, and led in from there. One pass that plans and renders
/// masks each frame only once no later detection can change it, so it gives the same copy as
/// a plan then a render (issue 22.11: it masked frames before such a lead-in was known).
#[test]
fn faces_entering_across_an_edge_render_the_same_in_one_pass() {
    let (dir, dock, home) = dock_and_home();
    for (name, placement) in [
        ("top.mp4", "x=200:y='-150+4*n'"),
        ("bottom.mp4", "x=300:y='360-4*n'"),
    ] {
        portrait_clip(&dock.join(name), placement, 256, 60, None, "yuv420p");
    }
    let o = run(bwv(&home).arg("ingest").arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    for r in list_json(&home) {
        let id = r["id"].as_str().expect("id");
        let planned = dir.path().join(format!("{id}.json"));
        let plan = plan_to(&home, id, &planned, &[]);
        assert!(
            plan["tracks"].as_array().is_some_and(|t| !t.is_empty()),
            "{}: the face is found",
            r["source_name"]
        );
        let (one, two) = render_both_ways(&home, id, &planned, dir.path(), &format!("{id}-"));
        assert_eq!(
            sha256_hex(&one),
            sha256_hex(&two),
            "{}: one pass = plan + render",
            r["source_name"]
        );
    }
}

/// A face that takes another's place (a cut, or someone stepping in front) continues the
/// first face's track by position alone; the plan splits the track where the face changes, so
/// keeping the first face's track keeps only that face (issue 21.1). The preview shows each
/// track's face over time.
#[test]
fn a_track_is_split_where_another_face_takes_its_place() {
    let (dir, dock, home) = dock_and_home();
    let faces = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/faces");
    let clip = dock.join("swap.mp4");
    // The astronaut (face 50x64 at 88,27 of the 256 px picture) on frames 0-29, then Grace
    // Hopper (face 50x56 at 46,34 of a 138x161 picture) with her face where the astronaut's
    // was, both moving a pixel a frame to the right.
    let graph = "[1:v]scale=256:256[a];[2:v]scale=138:161[g];\
        [0:v][a]overlay=x='100+n':y=60:enable='lt(n,30)':shortest=1[v1];\
        [v1][g]overlay=x='141+n':y=56:enable='gte(n,30)':shortest=1,format=yuv420p[v]";
    let background = format!("testsrc2=size={W}x{H}:rate=30");
    let (astronaut, hopper) = (faces.join("astronaut.jpg"), faces.join("grace_hopper.jpg"));
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &background,
        "-loop",
        "1",
        "-framerate",
        "30",
        "-i",
        astronaut.to_str().expect("utf-8"),
        "-loop",
        "1",
        "-framerate",
        "30",
        "-i",
        hopper.to_str().expect("utf-8"),
        "-filter_complex",
        graph,
        "-map",
        "[v]",
        "-frames:v",
        "60",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-crf",
        "18",
        clip.to_str().expect("utf-8"),
    ]);
    let id = ingest_one(&home, &dock)["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let planned = dir.path().join("plan.json");
    let plan = plan_to(&home, &id, &planned, &[]);
    let tracks = plan["tracks"].as_array().expect("tracks");
    let ends_at = |frame: u64| tracks.iter().find(|t| t["last_frame"] == frame);
    let starts_at = |frame: u64| tracks.iter().find(|t| t["first_frame"] == frame);
    let (first, second) = (
        ends_at(29).unwrap_or_else(|| panic!("a track ends at the cut: {tracks:?}")),
        starts_at(30).unwrap_or_else(|| panic!("a track starts at the cut: {tracks:?}")),
    );
    assert_eq!(first["first_frame"], 0);
    assert_eq!(second["last_frame"], 59);
    assert_ne!(first["id"], second["id"]);
    // A row per track in the preview: its best crop and five of its face over time.
    let sheet = image::open(dir.path().join("plan.preview.jpg")).expect("preview");
    assert_eq!(sheet.width(), 6 * 164 + 4);
    assert_eq!(sheet.height(), tracks.len() as u32 * 164 + 4);

    // Keeping the first face keeps only it: the second is masked from the cut on.
    let out = dir.path().join("kept.mp4");
    let keep = first["id"].as_u64().expect("id").to_string();
    let o = run(redact(&home)
        .arg(&id)
        .arg("--render")
        .arg(&planned)
        .args(["--keep", &keep, "--out"])
        .arg(&out));
    assert!(o.status.success(), "{}", stderr(&o));
    let (orig, kept) = (luma(&clip), luma(&out));
    for i in [5usize, 20, 35, 50] {
        let face = if i < 30 {
            (100 + i + 88 + 10, 60 + 27 + 12, 30, 40)
        } else {
            (141 + i + 46 + 10, 56 + 34 + 11, 30, 34)
        };
        let shows = detail(&kept[i], face) * 10 > detail(&orig[i], face) * 7;
        assert_eq!(shows, i < 30, "frame {i}");
    }
}

/// `bwv eval-redact --redacted` measures a copy against the clip's truth: the clip itself as
/// its own "copy" hides nothing (no face covered); a copy missing frames is
/// refused with both counts, rather than measured over the frames both have (or hanging on
/// the decoder of the longer one, as it once did); a clip or copy ffmpeg cannot decode is
/// refused by name, rather than measured over no frames.
#[test]
fn eval_redact_measures_a_given_copy_and_refuses_one_missing_frames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = dir.path().join("clip.mp4");
    let o = run(bwv(&dir.path().join("home"))
        .args(["bench", "--seconds", "2", "--make-clip"])
        .arg(&clip));
    assert!(o.status.success(), "{}", stderr(&o));
    let truth = dir.path().join("clip.mp4.json");
    let eval_pair = |clip: &Path, copy: &Path| {
        run(bwv(&dir.path().join("home"))
            .arg("eval-redact")
            .arg(clip)
            .arg(&truth)
            .arg("--redacted")
            .arg(copy)
            .arg("--json"))
    };
    let eval = |copy: &Path| eval_pair(&clip, copy);
    let o = eval(&clip);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
    let m = &v["metrics"];
    assert!(m["faces"].as_u64().is_some_and(|f| f > 0), "{m}");
    assert_eq!(m["covered"], 0, "{m}");
    assert_eq!(m["frames"], 60, "{m}");
    let short = dir.path().join("short.mp4");
    let (c, s) = (
        clip.to_str().expect("utf-8"),
        short.to_str().expect("utf-8"),
    );
    ffmpeg(&["-i", c, "-frames:v", "45", "-c:v", "libx264", "-an", s]);
    let o = eval(&short);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("60 frames") && err.contains("to 45"), "{err}");
    let junk = dir.path().join("junk.mp4");
    std::fs::write(&junk, b"not a video").expect("write");
    for (which, o) in [("copy", eval(&junk)), ("clip", eval_pair(&junk, &clip))] {
        assert!(!o.status.success());
        let err = stderr(&o);
        assert!(
            err.contains("junk.mp4: ffmpeg could not decode it"),
            "{which}: {err}"
        );
    }
}
