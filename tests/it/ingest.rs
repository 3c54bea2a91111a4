//! Ingest: frame hashes against ffmpeg, outputs, bad input, duplicates, interruption.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::*;

/// Makes `clip` as `dock/name` in a new folder and ingests it: (folder, recording id, its
/// report line).
fn ingest_clip(clip: Clip, name: &str) -> (tempfile::TempDir, String, Value) {
    let t = tempfile::tempdir().expect("tempdir");
    let dock = t.path().join("dock");
    std::fs::create_dir(&dock).expect("mkdir");
    make_clip(&dock.join(name), clip);
    let item = ingest_one(&t.path().join("home"), &dock);
    assert_eq!(item["status"], "ingested");
    let id = item["id"].as_str().expect("id").to_owned();
    (t, id, item)
}

fn assert_hashes_match_ffmpeg(clip: Clip, name: &str) {
    let (t, id, item) = ingest_clip(clip, name);
    let ours = bwv_framehashes(&t.path().join("home"), &id);
    let theirs = ffmpeg_framehashes(&t.path().join("dock").join(name));
    assert!(!theirs.is_empty());
    assert_eq!(ours.len(), theirs.len(), "frame count");
    for (i, ((_, a), b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a, b, "frame {i} differs from ffmpeg framehash");
    }
    // Stream time starts at 0 and rises by one frame period (30 fps).
    assert_eq!(ours[0].0, 0);
    assert!(
        ours.windows(2).all(|w| w[1].0 > w[0].0),
        "presentation order"
    );
    assert_eq!(item["frames"], ours.len() as u64);
}

#[test]
fn frame_hashes_equal_ffmpeg_h264_high_bframes_aac_720p() {
    assert_hashes_match_ffmpeg(Clip::h264(1280, 720), "cam1.mp4");
}

#[test]
fn frame_hashes_equal_ffmpeg_odd_size_with_stride_padding() {
    assert_hashes_match_ffmpeg(
        Clip {
            audio: false,
            // 57 frames: an odd count leaves the last frame without a partner to be hashed with.
            seconds: 1.9,
            ..Clip::h264(854, 480)
        },
        "odd.mp4",
    );
}

#[test]
fn frame_hashes_equal_ffmpeg_h265() {
    if !(has_element("avdec_h265") && ffmpeg_has_encoder("libx265")) {
        eprintln!("skipping: no H.265 decoder or encoder on this machine");
        return;
    }
    assert_hashes_match_ffmpeg(
        Clip {
            codec: "libx265",
            ..Clip::h264(640, 360)
        },
        "hevc.mp4",
    );
}

#[test]
fn outputs_are_recorded_and_proxy_is_valid() {
    let (t, id, item) = ingest_clip(
        Clip {
            seconds: 12.0,
            ..Clip::h264(1920, 1080)
        },
        "long.mp4",
    );
    let home = t.path().join("home");
    let arts = item["artefacts"].as_array().expect("artefacts");
    let kinds = texts(&item["artefacts"], "kind");
    assert_eq!(
        kinds,
        [
            "frame_hashes",
            "frame_times",
            "poster",
            "thumbnail",
            "thumbnail",
            "contact_sheet",
            "proxy"
        ]
    );
    for a in arts {
        let p = home.join(a["path"].as_str().expect("path"));
        assert_eq!(
            sha256_hex(&p),
            a["sha256"].as_str().expect("sha"),
            "{}",
            p.display()
        );
        assert_eq!(a["parent_sha256"], item["master_sha256"]);
    }
    let file = |kind: &str| {
        home.join(
            arts.iter().find(|a| a["kind"] == kind).expect(kind)["path"]
                .as_str()
                .expect("path"),
        )
    };

    // Thumbnails are 320 px wide JPEGs.
    let thumb = std::fs::read(file("thumbnail")).expect("thumb");
    assert_eq!(&thumb[..2], &[0xff, 0xd8], "JPEG");
    let o = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(file("poster")));
    assert_eq!(stdout(&o).trim(), "320,180");

    // Proxy: at most 720 lines, H.264 + AAC, decodes end to end without error, index first.
    let proxy = file("proxy");
    let o = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,codec_name,height,pix_fmt",
            "-of",
            "csv=p=0",
        ])
        .arg(&proxy));
    let streams = stdout(&o);
    assert!(
        streams.contains("h264,video,yuv420p,720") || streams.contains("h264,video,720,yuv420p"),
        "{streams}"
    );
    assert!(
        streams.contains("aac,audio"),
        "proxy keeps audio: {streams}"
    );
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&proxy)
        .args(["-f", "null", "-"]));
    assert!(
        o.status.success() && stderr(&o).trim().is_empty(),
        "proxy decode: {}",
        stderr(&o)
    );
    let bytes = std::fs::read(&proxy).expect("proxy");
    let at = |tag: &[u8]| {
        bytes
            .windows(4)
            .position(|w| w == tag)
            .expect("box present")
    };
    assert!(at(b"moov") < at(b"mdat"), "faststart: index before media");
    // x264 as `ffmpeg -c:v libx264 -preset veryfast -crf 23` runs it: its settings string (in
    // the stream) has quality 23, a keyframe at most every 250 frames, and no VBV cap.
    let settings = String::from_utf8_lossy(&bytes);
    let settings = settings
        .split("options: ")
        .nth(1)
        .and_then(|s| s.split('\0').next())
        .expect("x264 settings in the stream");
    for want in [
        "subme=2 ",
        "rc=crf ",
        "crf=23.0 ",
        "keyint=250 ",
        "bframes=3 ",
    ] {
        assert!(settings.contains(want), "{want}in {settings}");
    }
    assert!(!settings.contains("vbv_maxrate"), "{settings}");
    let frames = bwv_framehashes(&home, &id).len();
    assert_eq!(frames, 360);

    // The master is byte-exact and read-only.
    let master = files_under(&home.join("masters"));
    assert_eq!(master.len(), 1);
    assert_eq!(
        sha256_hex(&master[0]),
        sha256_hex(&t.path().join("dock/long.mp4"))
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&master[0])
            .expect("meta")
            .permissions()
            .mode()
            & 0o222,
        0,
        "read-only"
    );
}

#[test]
fn proxy_without_audio_when_source_has_none() {
    let (t, _, item) = ingest_clip(
        Clip {
            audio: false,
            ..Clip::h264(640, 360)
        },
        "silent.mp4",
    );
    let proxy = proxy_of(&t.path().join("home"), &item);
    let o = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type",
            "-of",
            "csv=p=0",
        ])
        .arg(proxy));
    assert_eq!(stdout(&o).trim(), "video");
}

/// The proxy of a clip: every frame, in time, 720 lines, and the source's picture: its PSNR
/// against the master shrunk to the same size by ffmpeg's area filter. A frame out of place
/// (the test pattern moves and counts), a wrong plane or a shifted row falls far below.
fn assert_proxy_shows_the_source(clip: Clip, name: &str, scaling: &str, min_psnr: f64) {
    let (t, id, item) = ingest_clip(clip, name);
    let home = t.path().join("home");
    let proxy = proxy_of(&home, &item);
    let params = &proxy_artefact(&item)["params"];
    assert_eq!(params["scaling"], scaling, "{params}");
    let o = run(Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=width,height,nb_read_frames"])
        .args(["-of", "csv=p=0"])
        .arg(&proxy));
    let frames = bwv_framehashes(&home, &id).len();
    let (w, h) = (clip.width * 720 / clip.height, 720);
    assert_eq!(stdout(&o).trim(), format!("{w},{h},{frames}"), "{name}");
    let o = run(Command::new("ffmpeg")
        .args(["-v", "info", "-nostdin", "-i"])
        .arg(&proxy)
        .arg("-i")
        .arg(t.path().join("dock").join(name))
        .args([
            "-lavfi",
            &format!("[1:v]scale={w}:{h}:flags=area[r];[0:v][r]psnr"),
        ])
        .args(["-f", "null", "-"]));
    let log = stderr(&o);
    let psnr: f64 = log
        .split("average:")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no PSNR in: {log}"));
    assert!(psnr >= min_psnr, "{name}: proxy PSNR {psnr:.1} dB");
}

#[test]
fn proxy_shrunk_by_bwv_shows_the_source() {
    // 1080 to 720 lines is an exact 2/3: bwv shrinks the frames itself.
    assert_proxy_shows_the_source(
        Clip {
            seconds: 3.0,
            ..Clip::h264(1920, 1080)
        },
        "hd.mp4",
        "area mean by bwv (exact ratio)",
        35.0,
    );
}

#[test]
fn proxy_scaled_by_videoscale_shows_the_source() {
    // 900 to 720 lines is not a ratio bwv shrinks by: GStreamer's videoscale does it.
    assert_proxy_shows_the_source(
        Clip {
            seconds: 3.0,
            ..Clip::h264(1600, 900)
        },
        "hdplus.mp4",
        "GStreamer videoscale (bilinear)",
        30.0,
    );
}

/// The audio packets of a file's first audio stream, as stored (MD5 each), from time 0 on
/// (leaving out the encoder's priming packet before it).
fn audio_packets(file: &Path) -> Vec<String> {
    let o = run(Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(file)
        .args(["-map", "0:a:0", "-c", "copy", "-f", "framemd5", "-"]));
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            (f.len() >= 6 && !f[2].starts_with('-')).then(|| f[5].to_owned())
        })
        .collect()
}

/// An ingest item's proxy artefact.
fn proxy_artefact(item: &Value) -> &Value {
    item["artefacts"]
        .as_array()
        .expect("artefacts")
        .iter()
        .find(|a| a["kind"] == "proxy")
        .expect("proxy")
}

fn proxy_of(home: &Path, item: &Value) -> std::path::PathBuf {
    home.join(proxy_artefact(item)["path"].as_str().expect("path"))
}

#[test]
fn proxy_carries_aac_sound_as_stored() {
    let (t, _, item) = ingest_clip(Clip::h264(640, 360), "aac.mp4");
    let proxy = proxy_of(&t.path().join("home"), &item);
    let master = audio_packets(&t.path().join("dock/aac.mp4"));
    let copied = audio_packets(&proxy);
    assert!(master.len() > 80, "two seconds of 48 kHz AAC");
    // Every packet from time 0 on, byte for byte, but the last one, which runs past the end of
    // the recording (the muxer leaves it out, as it does the priming packet before 0).
    assert!(
        copied.len() + 1 >= master.len(),
        "{} of {}",
        copied.len(),
        master.len()
    );
    assert_eq!(copied, master[..copied.len()], "packet for packet");
    let graph = proxy_artefact(&item)["params"]["graph"]
        .as_str()
        .unwrap_or_default();
    assert!(
        graph.contains("aacparse") && !graph.contains("avenc_aac"),
        "{graph}"
    );
}

#[test]
fn proxy_encodes_other_sound_as_aac() {
    // PCM in a QuickTime file, as some cameras record: raw sound needs no decoder.
    let (t, _, item) = ingest_clip(
        Clip {
            audio_codec: "pcm_s16le",
            ..Clip::h264(640, 360)
        },
        "pcm.mov",
    );
    let proxy = proxy_of(&t.path().join("home"), &item);
    let o = run(Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0"])
        .args([
            "-show_entries",
            "stream=codec_name,duration",
            "-of",
            "csv=p=0",
        ])
        .arg(&proxy));
    let line = stdout(&o);
    let (codec, duration) = line.trim().split_once(',').expect("codec,duration");
    assert_eq!(codec, "aac");
    let duration: f64 = duration.parse().expect("seconds");
    assert!((duration - 2.0).abs() < 0.1, "{duration} s of sound");
}

#[test]
fn proxy_of_aac_and_pcm_sound_has_one_aac_track() {
    // QuickTime files with an AAC and a PCM track, in both orders: the proxy carries one of them
    // as AAC (the first the probe meets: copied, or encoded) and leaves the other out.
    let t = tempfile::tempdir().expect("tempdir");
    let dock = t.path().join("dock");
    std::fs::create_dir(&dock).expect("mkdir");
    for (name, first, second) in [
        ("aac-pcm.mov", "aac", "pcm_s16le"),
        ("pcm-aac.mov", "pcm_s16le", "aac"),
    ] {
        let out = dock.join(name);
        let recipe = format!(
            "-f lavfi -i testsrc2=size=320x240:rate=30 -f lavfi -i sine=frequency=440 -t 1 \
             -map 0:v -map 1:a -map 1:a -c:v libx264 -pix_fmt yuv420p \
             -c:a:0 {first} -c:a:1 {second}"
        );
        let mut args: Vec<&str> = recipe.split_whitespace().collect();
        args.push(out.to_str().expect("utf-8"));
        ffmpeg(&args);
    }
    let home = t.path().join("home");
    let (o, items) = ingest_json(&home, &[&dock], &[]);
    assert!(o.status.success(), "ingest failed: {}", stderr(&o));
    assert_eq!(items.len(), 2);
    for item in &items {
        let proxy = proxy_of(&home, item);
        let o = run(Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type,codec_name",
            ])
            .args(["-of", "csv=p=0"])
            .arg(&proxy));
        assert_eq!(
            stdout(&o).trim(),
            "h264,video\naac,audio",
            "{}",
            item["source"]
        );
    }
}

/// Writes every kind of bad input the issue names into `dock`, returning (file name, expected reason fragment).
fn bad_inputs(dock: &Path, scratch: &Path) -> Vec<(&'static str, &'static str)> {
    std::fs::write(dock.join("empty.mp4"), b"").expect("write");
    let noise: Vec<u8> = (0u32..200_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(dock.join("noise.mp4"), noise).expect("write");
    std::fs::write(
        dock.join("notes.txt"),
        "shift notes, not a video\n".repeat(50),
    )
    .expect("write");

    // Camera lost power: an MP4 whose index (moov, written last) never made it to disk.
    let full = scratch.join("full.mp4");
    make_clip(
        &full,
        Clip {
            audio: false,
            ..Clip::h264(320, 240)
        },
    );
    let bytes = std::fs::read(&full).expect("read");
    let moov = bytes.windows(4).position(|w| w == b"moov").expect("moov");
    assert!(
        moov > bytes.len() / 2,
        "ffmpeg writes moov at the end by default"
    );
    std::fs::write(dock.join("truncated.mp4"), &bytes[..bytes.len() * 2 / 3]).expect("write");

    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=300",
        "-t",
        "1",
        "-c:a",
        "aac",
        dock.join("audio.m4a").to_str().expect("path"),
    ]);

    // Unsupported codec: rename the sample entry so no decoder matches.
    let mut odd = bytes.clone();
    let stsd = odd.windows(4).position(|w| w == b"stsd").expect("stsd box");
    let at = stsd
        + odd[stsd..]
            .windows(4)
            .position(|w| w == b"avc1")
            .expect("avc1 sample entry");
    odd[at..at + 4].copy_from_slice(b"zzz1");
    std::fs::write(dock.join("unsupported.mp4"), odd).expect("write");

    // Wider than 8K (cheap to make: 64 lines tall): refused before anything is decoded.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=size=8256x64:rate=30",
        "-frames:v",
        "3",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        dock.join("wide.mp4").to_str().expect("path"),
    ]);

    std::os::unix::fs::symlink(scratch.join("gone.mp4"), dock.join("dangling.mp4"))
        .expect("symlink");
    let fifo = dock.join("pipe.mp4");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    vec![
        ("empty.mp4", "probe"),
        ("noise.mp4", "probe"),
        ("notes.txt", "not a media file"),
        ("truncated.mp4", "probe"),
        ("audio.m4a", "no video stream"),
        ("unsupported.mp4", "unsupported codec"),
        ("wide.mp4", "picture 8256x64 is outside what bwv processes"),
        ("dangling.mp4", "symbolic link"),
        ("pipe.mp4", "not a regular file"),
    ]
}

#[test]
fn bad_input_is_kept_quarantined_reported_and_the_batch_goes_on() {
    let (t, dock, home) = dock_and_home();
    let bad = bad_inputs(&dock, t.path());
    make_clip(
        &dock.join("good.mp4"),
        Clip {
            audio: false,
            ..Clip::h264(320, 240)
        },
    );

    let (o, items) = ingest_json(&home, &[&dock], &[]);
    assert_eq!(o.status.code(), Some(2), "exit code says some items failed");
    let err = stderr(&o);
    for (name, reason) in &bad {
        let line = err.lines().filter(|l| l.contains(name)).collect::<Vec<_>>();
        assert_eq!(line.len(), 1, "one stderr line for {name}:\n{err}");
        assert!(
            line[0].contains(reason),
            "{name}: expected {reason:?} in {:?}",
            line[0]
        );
        let item = items
            .iter()
            .find(|i| i["source"].as_str().is_some_and(|s| s.ends_with(name)))
            .expect("reported");
        assert!(item["error"].as_str().is_some_and(|e| e.contains(reason)));
    }
    let good = items
        .iter()
        .find(|i| {
            i["source"]
                .as_str()
                .is_some_and(|s| s.ends_with("good.mp4"))
        })
        .expect("good");
    assert_eq!(good["status"], "ingested");

    // Everything readable was preserved byte-exact and quarantined with its reason.
    let recs = list_json(&home);
    let preserved = [
        "empty.mp4",
        "noise.mp4",
        "notes.txt",
        "truncated.mp4",
        "audio.m4a",
        "unsupported.mp4",
        "wide.mp4",
    ];
    for name in preserved {
        let r = recs
            .iter()
            .find(|r| r["source_name"] == name)
            .unwrap_or_else(|| panic!("{name} has a recording"));
        assert_eq!(r["status"], "quarantined", "{name}");
        assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()));
        assert_eq!(
            sha256_hex(&home.join(r["master_path"].as_str().expect("path"))),
            sha256_hex(&dock.join(name))
        );
        let shown = show_json(&home, r["id"].as_str().expect("id"));
        let kinds = event_kinds(&shown);
        assert_eq!(kinds, ["ingested", "quarantined"], "{name}");
    }
    assert_eq!(recs.len(), preserved.len() + 1);
    assert_eq!(
        scratch_left(&home),
        Vec::<String>::new(),
        "no work files left behind"
    );

    // What could not be read at all has its event; the log holds the path's hash, the path
    // (which may name people) sits beside it.
    let o = run(bwv(&home).args(["list", "--unreadable", "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Value> = serde_json::from_str(&stdout(&o)).expect("json");
    let mut names: Vec<&str> = rows
        .iter()
        .map(|r| r["source"].as_str().expect("source"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{rows:?}");
    assert!(names[0].ends_with("dangling.mp4") && names[1].ends_with("pipe.mp4"));
    for r in &rows {
        let (e, source) = (&r["event"], r["source"].as_str().expect("source"));
        assert_eq!(e["kind"], "unreadable");
        assert_eq!(
            e["fields"]["source_sha256"].as_str(),
            Some(bwv::digest::Digest::of(source.as_bytes()).to_hex().as_str())
        );
        // The reason is kept beside the log; the log holds its hash.
        let reason = r["reason"].as_str().expect("reason");
        assert!(!reason.is_empty());
        assert_eq!(
            e["fields"]["reason_sha256"].as_str(),
            Some(bwv::digest::Digest::of(reason.as_bytes()).to_hex().as_str())
        );
        assert!(!e.to_string().contains("dangling") && !e.to_string().contains("pipe.mp4"));
    }
}

#[test]
fn duplicates_are_reported_not_stored_twice() {
    let (_t, dock, home) = dock_and_home();
    make_clip(
        &dock.join("a.mp4"),
        Clip {
            audio: false,
            ..Clip::h264(320, 240)
        },
    );
    std::fs::copy(dock.join("a.mp4"), dock.join("a-again.mp4")).expect("copy");

    let (o, items) = ingest_json(&home, &[&dock], &["--jobs", "1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Files are taken in path order: "a-again.mp4" < "a.mp4".
    let statuses: Vec<&str> = items
        .iter()
        .map(|i| i["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["ingested", "duplicate"]);
    assert_eq!(
        items[0]["id"], items[1]["id"],
        "the duplicate names the stored recording"
    );

    // A second run over the same dock stores nothing new either.
    let (o, again) = ingest_json(&home, &[&dock], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(again.iter().all(|i| i["status"] == "duplicate"));
    assert_eq!(files_under(&home.join("masters")).len(), 1);
    let recs = list_json(&home);
    assert_eq!(recs.len(), 1);
    let shown = show_json(&home, recs[0]["id"].as_str().expect("id"));
    let kinds = event_kinds(&shown);
    assert_eq!(
        kinds,
        [
            "ingested",
            "processed",
            "duplicate",
            "duplicate",
            "duplicate"
        ]
    );
}

#[test]
fn container_metadata_reaches_the_recording() {
    let (_t, dock, home) = dock_and_home();
    let clip = dock.join("tagged.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-metadata",
        "creation_time=2025-03-04T05:06:07Z",
        clip.to_str().expect("path"),
    ]);
    let (o, items) = ingest_json(&home, &[&dock], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let shown = show_json(&home, items[0]["id"].as_str().expect("id"));
    let rec = &shown["recording"];
    assert_eq!(rec["recorded_at"], "2025-03-04T05:06:07.000Z");
    assert_ne!(rec["recorded_at_source"], "sidecar");
    let media = &rec["media"];
    assert_eq!(media["container"], "Quicktime");
    assert!(
        media["video_codec"]
            .as_str()
            .is_some_and(|c| c.starts_with("H.264"))
    );
    assert!(
        media["audio_codec"]
            .as_str()
            .is_some_and(|c| c.contains("AAC"))
    );
    assert_eq!(
        (&media["fps_num"], &media["fps_den"]),
        (&25.into(), &1.into())
    );
    assert_eq!(media["frames"], 25);
}

#[test]
fn copies_of_the_same_file_in_one_parallel_batch_are_stored_once() {
    let (_t, dock, home) = dock_and_home();
    make_clip(
        &dock.join("a.mp4"),
        Clip {
            seconds: 1.0,
            ..Clip::h264(320, 240)
        },
    );
    for copy in ["b.mp4", "c.mp4", "d.mp4"] {
        std::fs::copy(dock.join("a.mp4"), dock.join(copy)).expect("copy");
    }
    // As many workers as copies, so they reach the store together.
    let (o, items) = ingest_json(&home, &[&dock], &["--jobs", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut statuses: Vec<&str> = items.iter().filter_map(|i| i["status"].as_str()).collect();
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        ["duplicate", "duplicate", "duplicate", "ingested"]
    );
    assert!(items.iter().all(|i| i["id"] == items[0]["id"]));
    assert_eq!(files_under(&home.join("masters")).len(), 1);
    let recs = list_json(&home);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["status"], "ready");
    let shown = show_json(&home, recs[0]["id"].as_str().expect("id"));
    assert_eq!(
        event_kinds(&shown),
        [
            "ingested",
            "processed",
            "duplicate",
            "duplicate",
            "duplicate"
        ]
    );
}

#[test]
fn an_ingest_killed_at_any_stage_is_completed_by_the_next_run() {
    for point in ["master-stored", "recording-created", "published"] {
        let (_t, dock, home) = dock_and_home();
        for name in ["a.mp4", "b.mp4"] {
            make_clip(
                &dock.join(name),
                Clip {
                    audio: name == "a.mp4",
                    seconds: 1.0,
                    ..Clip::h264(320, 240)
                },
            );
        }
        let o = run(bwv(&home)
            .args(["ingest", "--jobs", "1"])
            .arg(&dock)
            .env("BWV_CRASH_AT", point));
        assert!(
            o.status.code().is_none(),
            "{point}: process was killed, not exited: {:?}",
            o.status
        );

        let (o, items) = ingest_json(&home, &[&dock], &[]);
        assert!(o.status.success(), "{point}: re-run failed: {}", stderr(&o));
        assert!(
            items.iter().all(|i| i["status"] == "ingested"),
            "{point}: {items:?}"
        );
        let recs = list_json(&home);
        assert_eq!(recs.len(), 2, "{point}: no duplicate recording");
        assert!(recs.iter().all(|r| r["status"] == "ready"), "{point}");
        assert_eq!(
            files_under(&home.join("masters")).len(),
            2,
            "{point}: no lost or extra master"
        );
        assert_eq!(
            scratch_left(&home),
            Vec::<String>::new(),
            "{point}: no orphan work files"
        );
        let derived: Vec<_> = std::fs::read_dir(home.join("derived"))
            .expect("derived")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            derived.len(),
            2,
            "{point}: one derived folder per recording"
        );
        for r in &recs {
            let shown = show_json(&home, r["id"].as_str().expect("id"));
            for a in shown["artefacts"].as_array().expect("artefacts") {
                let p = home.join(a["path"].as_str().expect("path"));
                assert_eq!(
                    sha256_hex(&p),
                    a["sha256"].as_str().expect("sha"),
                    "{point}: {}",
                    p.display()
                );
            }
            let kinds = event_kinds(&shown);
            assert_eq!(
                kinds.iter().filter(|k| **k == "ingested").count(),
                1,
                "{point}: {kinds:?}"
            );
            assert_eq!(
                kinds.last().map(String::as_str),
                Some("processed"),
                "{point}: {kinds:?}"
            );
        }
    }
}

/// A dock with one silent 1 s 320x240 clip, `a.mp4`: (temp folder, dock, home, clip).
fn dock_with_a_clip() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let (t, dock, home) = dock_and_home();
    let clip = dock.join("a.mp4");
    make_clip(
        &clip,
        Clip {
            audio: false,
            seconds: 1.0,
            ..Clip::h264(320, 240)
        },
    );
    (t, dock, home, clip)
}

/// Dates the files' last write an hour back, past --delete-source's settle time.
fn written_an_hour_ago(files: &[&Path]) {
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for f in files {
        let file = std::fs::File::options().write(true).open(f).expect("open");
        file.set_modified(hour_ago).expect("set mtime");
    }
}

#[test]
fn delete_source_removes_the_dock_copy_only_after_the_master_is_safe() {
    let (_t, dock, home, clip) = dock_with_a_clip();
    std::fs::write(dock.join("a.mp4.json"), r#"{"officer_id": "4711", "device_id": "CAM-9", "recorded_at": "2026-11-20T22:15:00+01:00", "shift": "night"}"#).expect("sidecar");
    std::fs::write(dock.join("broken.mp4"), b"not video").expect("write");
    let original = sha256_hex(&clip);
    // Just written: under the settle time, the dock copy is kept and named; the item is
    // ingested all the same.
    let (o, items) = ingest_json(&home, &[&dock], &["--delete-source"]);
    assert_eq!(o.status.code(), Some(2), "kept copies and the broken file");
    assert!(clip.exists() && dock.join("a.mp4.json").exists());
    let good = items
        .iter()
        .find(|i| i["status"] == "ingested")
        .expect("ingested");
    let why = good["error"].as_str().expect("why the copy is kept");
    assert!(
        why.contains("dock copy kept") && why.contains("settle time"),
        "{why}"
    );
    // Unwritten for an hour: the duplicate's dock copy and its sidecar go; the broken file's
    // stays (quarantined content may be a file still arriving).
    written_an_hour_ago(&[&clip, &dock.join("broken.mp4")]);
    let (o, _) = ingest_json(&home, &[&dock], &["--delete-source"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files_under(&dock),
        [dock.join("broken.mp4")],
        "the clip and its sidecar removed, the quarantined file kept"
    );
    let shown = show_json(&home, good["id"].as_str().expect("id"));
    let rec = &shown["recording"];
    assert_eq!(
        sha256_hex(&home.join(rec["master_path"].as_str().expect("path"))),
        original
    );
    assert_eq!(rec["recorded_at"], "2026-11-20T21:15:00.000Z");
    assert_eq!(rec["recorded_at_source"], "sidecar");
    assert_eq!(rec["officer_id"], "4711");
    assert_eq!(rec["extra"]["shift"], "night");
    let kinds = event_kinds(&shown);
    assert_eq!(
        kinds,
        ["ingested", "processed", "duplicate", "source_removed"]
    );
}

/// Kills `bwv ingest` with SIGKILL at varied moments, many times over one store. After every
/// kill the index opens and every item the killed run reported is there with its events; after a
/// final complete run every stored master is recorded and `verify` passes.
#[test]
fn sigkill_at_varied_points_never_loses_an_acknowledged_event() {
    use std::io::BufRead as _;
    use std::time::Duration;

    let t = tempfile::tempdir().expect("tempdir");
    let dock = t.path().join("dock");
    std::fs::create_dir(&dock).expect("mkdir");
    for (i, w) in [320u32, 352, 384].iter().enumerate() {
        make_clip(
            &dock.join(format!("cam{i}.mp4")),
            Clip {
                seconds: 1.0,
                ..Clip::h264(*w, 240)
            },
        );
    }
    std::fs::write(dock.join("garbage.mp4"), vec![0x5au8; 4096]).expect("write");
    // Fault injection, not synchronisation: each run is killed after a different delay, so the
    // kills land at different stages (some runs finish first, which is fine); the assertions hold
    // wherever the kill lands. Each delay gets a fresh store, killed twice before a full run.
    // The delays are fractions of how long a whole run takes on this machine.
    let started = std::time::Instant::now();
    let (o, _) = ingest_json(&t.path().join("timing"), &[&dock], &[]);
    assert!(matches!(o.status.code(), Some(2)), "{}", stderr(&o));
    let whole = started.elapsed();
    let mut interrupted = 0;
    for run_no in 0..8u32 {
        let delay_ms = (whole * (run_no + 1) / 10).as_millis() as u64;
        let home = t.path().join(format!("home{run_no}"));
        for attempt in 0..2 {
            let mut child = bwv(&home)
                .args(["ingest", "--json", "--jobs", "2"])
                .arg(&dock)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn");
            let stdout = child.stdout.take().expect("stdout");
            let delay = Duration::from_millis(delay_ms + attempt * delay_ms / 2);
            let killer = std::thread::spawn(move || {
                std::thread::sleep(delay);
                let _ = child.kill(); // SIGKILL; fails harmlessly if the run already ended
                child.wait().expect("wait")
            });
            let reported: Vec<Value> = std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| serde_json::from_str(&l).ok())
                .collect();
            let status = killer.join().expect("killer thread");
            if status.code().is_none() {
                interrupted += 1;
            }
            eprintln!(
                "store {run_no}, attempt {attempt}: {delay:?}: {status}, {} reported",
                reported.len()
            );
            // The index opens, and every reported item is there with its events.
            let listed = list_json(&home);
            for item in &reported {
                let Some(id) = item["id"].as_str() else {
                    continue;
                };
                assert!(
                    listed.iter().any(|r| r["id"] == id),
                    "run {run_no}: reported {id} is not in the index"
                );
                let kinds = event_kinds(&show_json(&home, id));
                assert!(
                    kinds.contains(&"ingested".to_owned()),
                    "run {run_no}: {kinds:?}"
                );
                match item["status"].as_str() {
                    Some("ingested") => assert!(kinds.contains(&"processed".to_owned())),
                    Some("quarantined") => assert!(kinds.contains(&"quarantined".to_owned())),
                    _ => {}
                }
            }
        }

        let (o, items) = ingest_json(&home, &[&dock], &[]);
        // 2 when this run is the one that quarantines the garbage, 0 when an earlier run did.
        assert!(matches!(o.status.code(), Some(0 | 2)), "{}", stderr(&o));
        assert_eq!(items.len(), 4);
        let listed = list_json(&home);
        assert_eq!(
            listed.len(),
            4,
            "run {run_no}: one recording per master, none twice"
        );
        let count = |s: &str| listed.iter().filter(|r| r["status"] == s).count();
        assert_eq!(
            (count("ready"), count("quarantined")),
            (3, 1),
            "run {run_no}"
        );
        let o = run(bwv(&home).args(["verify"]));
        assert!(
            o.status.success(),
            "run {run_no}: verify after re-run: {}",
            stdout(&o)
        );
        // The killed runs' scratch folders went with the complete run.
        assert_eq!(scratch_left(&home), Vec::<String>::new(), "run {run_no}");
    }
    assert!(
        interrupted >= 4,
        "most runs must actually have been killed ({interrupted})"
    );
}

/// Links are not followed out of the dock (a link to the log's private key is not stored as a
/// master), link loops end, and a store inside the dock does not ingest itself; each link is
/// named on stderr and the exit code says items failed.
#[test]
fn links_and_the_store_inside_the_dock_are_not_ingested() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dock = dir.path().join("dock");
    let home = dock.join("store");
    std::fs::create_dir_all(&dock).expect("mkdir");
    make_clip(
        &dock.join("cam.mp4"),
        Clip {
            seconds: 1.0,
            ..Clip::h264(320, 240)
        },
    );
    let o = run(bwv(&home).arg("ingest").arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    let key = home.join("keys/log.key");
    assert!(key.is_file());
    std::os::unix::fs::symlink(&key, dock.join("e.mp4")).expect("symlink");
    std::os::unix::fs::symlink(".", dock.join("l1")).expect("symlink");
    std::os::unix::fs::symlink("l1", dock.join("l2")).expect("symlink");

    let o = run(bwv(&home).arg("ingest").arg(&dock));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    for name in ["e.mp4", "l1", "l2"] {
        let line = format!("{}: scan: a symbolic link", dock.join(name).display());
        assert!(stderr(&o).contains(&line), "{}", stderr(&o));
    }
    // The one clip, once: nothing from the store, nothing through a link; the links are on
    // the record as not ingested.
    assert!(
        stderr(&o).contains("4 files: 0 ingested, 1 duplicate, 0 quarantined, 3 failed"),
        "{}",
        stderr(&o)
    );
    let o = run(bwv(&home).args(["list", "--unreadable"]));
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));
    assert!(stdout(&o).contains("not followed"), "{}", stdout(&o));
    let o = run(bwv(&home).args(["list", "--json"]));
    let recs: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(texts(&recs, "source_name"), ["cam.mp4"]);
    let o = run(bwv(&home).arg("verify"));
    assert!(o.status.success(), "{}", stdout(&o));
}

/// A sidecar that cannot be used is named on stderr with its reason (exit 2), the recording is
/// ingested without its fields, and --delete-source keeps the dock copy and the sidecar for a
/// person to mend.
#[test]
fn a_bad_sidecar_is_named_and_kept_with_its_clip() {
    let (_t, dock, home, clip) = dock_with_a_clip();
    let side = dock.join("a.mp4.json");
    std::fs::write(
        &side,
        r#"{"officer_id": "4711", "recorded_at": "1970-01-01T00:00:00Z"}"#,
    )
    .expect("sidecar");
    written_an_hour_ago(&[&clip, &side]);
    let (o, items) = ingest_json(&home, &[&dock], &["--delete-source"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(items[0]["status"], "ingested");
    let why = items[0]["error"].as_str().expect("why");
    assert!(
        why.contains("recorded_at") && why.contains("before 2000") && why.contains("kept"),
        "{why}"
    );
    assert!(stderr(&o).contains("before 2000"), "{}", stderr(&o));
    assert!(clip.exists() && side.exists(), "both kept");
    let rec = &show_json(&home, items[0]["id"].as_str().expect("id"))["recording"];
    assert_eq!(
        rec["officer_id"],
        Value::Null,
        "no field of a refused sidecar"
    );
    assert_ne!(rec["recorded_at_source"], "sidecar");
}

/// What is left in the store's `tmp/` besides its lock file.
fn scratch_left(home: &Path) -> Vec<String> {
    std::fs::read_dir(home.join("tmp"))
        .expect("tmp")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".guard")
        .collect()
}

/// Two `bwv ingest` runs started together on a store that does not exist yet: both succeed,
/// each clip is stored and processed once (the one both docks hold is a duplicate for one of
/// them), and the store verifies with one log key.
#[test]
fn ingests_started_together_share_a_new_store_and_store_each_clip_once() {
    let t = tempfile::tempdir().expect("tempdir");
    let home = t.path().join("home");
    let docks: Vec<PathBuf> = ["a", "b"].iter().map(|d| t.path().join(d)).collect();
    for (i, dock) in docks.iter().enumerate() {
        std::fs::create_dir(dock).expect("mkdir");
        make_clip(
            &dock.join(format!("own{i}.mp4")),
            Clip {
                seconds: 1.0,
                audio: false,
                ..Clip::h264(320 + 32 * i as u32, 240)
            },
        );
    }
    make_clip(
        &docks[0].join("shared.mp4"),
        Clip {
            seconds: 1.0,
            audio: false,
            ..Clip::h264(416, 240)
        },
    );
    std::fs::copy(docks[0].join("shared.mp4"), docks[1].join("shared.mp4")).expect("copy");

    let children: Vec<_> = docks
        .iter()
        .map(|dock| {
            bwv(&home)
                .args(["ingest", "--json", "--jobs", "2"])
                .arg(dock)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let mut items = Vec::new();
    for child in children {
        let o = child.wait_with_output().expect("wait");
        assert!(o.status.success(), "{}", stderr(&o));
        items.extend(
            stdout(&o)
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("JSON line")),
        );
    }
    let count = |s: &str| items.iter().filter(|i| i["status"] == s).count();
    assert_eq!((count("ingested"), count("duplicate")), (3, 1), "{items:?}");
    let listed = list_json(&home);
    assert_eq!(listed.len(), 3);
    for rec in &listed {
        let kinds = event_kinds(&show_json(&home, rec["id"].as_str().expect("id")));
        assert_eq!(
            kinds.iter().filter(|k| *k == "processed").count(),
            1,
            "{kinds:?}"
        );
    }
    let o = run(bwv(&home).arg("verify"));
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(scratch_left(&home), Vec::<String>::new());
}

/// A full disk is the machine's problem, not the file's: running out of space while the master
/// is copied records nothing (no `unreadable` event), and while it is decoded leaves the
/// recording `processing`, not quarantined; either way the item fails (exit 2) and the next run
/// ingests it. (`BWV_CRASH_AT=enospc:...` makes the stage fail as a full disk does.)
#[test]
fn a_full_disk_leaves_the_item_to_retry() {
    for (point, recorded) in [("master", false), ("decode", true)] {
        let (_t, dock, home) = dock_and_home();
        make_clip(
            &dock.join("cam.mp4"),
            Clip {
                seconds: 1.0,
                audio: false,
                ..Clip::h264(320, 240)
            },
        );
        let o = run(bwv(&home)
            .args(["ingest", "--json"])
            .arg(&dock)
            .env("BWV_CRASH_AT", format!("enospc:{point}")));
        assert_eq!(o.status.code(), Some(2), "{point}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("cam.mp4") && stderr(&o).contains("space"),
            "{point}: {}",
            stderr(&o)
        );
        let listed = list_json(&home);
        assert_eq!(listed.len(), usize::from(recorded), "{point}");
        if let Some(rec) = listed.first() {
            assert_eq!(rec["status"], "processing", "{point}");
        }
        let unreadable: Value = serde_json::from_str(&stdout(&run(bwv(&home).args([
            "list",
            "--unreadable",
            "--json",
        ]))))
        .expect("json");
        assert_eq!(unreadable, serde_json::json!([]), "{point}");

        let item = ingest_one(&home, &dock);
        assert_eq!(item["status"], "ingested", "{point}: {item}");
        let kinds = event_kinds(&show_json(&home, item["id"].as_str().expect("id")));
        assert_eq!(kinds, ["ingested", "processed"], "{point}");
    }
}

/// The embedded store queues too: a dock enqueued and drained by a worker on this machine ends
/// as a plain ingest would, and the queue (beside the index) shows every job done.
#[test]
fn a_queued_dock_is_ingested_by_a_worker_on_the_embedded_store() {
    let (_t, dock, home) = dock_and_home();
    for (i, seconds) in [0.4f32, 0.6].iter().enumerate() {
        make_clip(
            &dock.join(format!("{i}.mp4")),
            Clip {
                seconds: *seconds,
                ..Clip::h264(160, 120)
            },
        );
    }
    let o = run(bwv(&home).args(["ingest", "--enqueue"]).arg(&dock));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 queued"), "{}", stderr(&o));
    assert_eq!(list_json(&home).len(), 0, "queued, not yet ingested");
    let o = run(bwv(&home).args(["worker", "--drain", "--json"]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2);
    let listed = list_json(&home);
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|r| r["status"] == "ready"), "{listed:?}");
    let jobs: serde_json::Value =
        serde_json::from_str(&stdout(&run(bwv(&home).args(["jobs", "--json"])))).expect("JSON");
    assert_eq!(jobs["counts"]["done"], 2, "{jobs}");
    assert!(home.join("index.jobs.sqlite").is_file());
    let verify = run(bwv(&home).args(["verify"]));
    assert!(verify.status.success(), "{}", stdout(&verify));
}

/// A file that ends early (its index, at the front, declares more frames than it holds) or has
/// corrupt frames is ingested, processed as far as it decodes and marked damaged: the frames
/// missing against the container's count and those the decoder could not decode are in the
/// index and on the record, the batch exits 2 naming each, `list` and `show` say so,
/// `--delete-source` keeps its dock copy, and `verify` finds the damage hidden in the index
/// (issue 22.9).
#[test]
fn truncated_and_corrupt_files_are_ingested_marked_damaged() {
    let (t, dock, home) = dock_and_home();
    let whole = t.path().join("whole.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30",
        "-t",
        "3",
        "-c:v",
        "libx264",
        "-g",
        "30",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        whole.to_str().expect("utf-8 path"),
    ]);
    let bytes = std::fs::read(&whole).expect("read");
    std::fs::write(dock.join("ends-early.mp4"), &bytes[..bytes.len() / 2]).expect("write");
    // A run of 0xFF over several frames: their NAL lengths become impossible.
    let mut corrupt = bytes.clone();
    let at = bytes.len() / 3;
    corrupt[at..at + 12_000].fill(0xFF);
    std::fs::write(dock.join("corrupt.mp4"), &corrupt).expect("write");
    std::fs::copy(&whole, dock.join("whole.mp4")).expect("copy");
    written_an_hour_ago(&[
        &dock.join("ends-early.mp4"),
        &dock.join("corrupt.mp4"),
        &dock.join("whole.mp4"),
    ]);

    let (o, items) = ingest_json(&home, &[&dock], &["--delete-source"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let item = |name: &str| {
        items
            .iter()
            .find(|i| i["source"].as_str().is_some_and(|s| s.ends_with(name)))
            .unwrap_or_else(|| panic!("{name}: {items:?}"))
            .clone()
    };
    let errors = stderr(&o);
    for name in ["ends-early.mp4", "corrupt.mp4"] {
        let i = item(name);
        assert_eq!(i["status"], "ingested", "{i}");
        let why = i["error"].as_str().expect("damage named");
        assert!(
            why.contains("marked damaged") && why.contains(name),
            "{why}"
        );
        assert!(errors.contains(&format!("{name}: decode: ")), "{errors}");
        assert!(dock.join(name).exists(), "{name}'s dock copy kept");
    }
    assert!(item("whole.mp4")["error"].is_null());
    assert!(!dock.join("whole.mp4").exists(), "a whole file's copy goes");

    let media = |name: &str| {
        let shown = show_json(&home, item(name)["id"].as_str().expect("id"));
        let processed = shown["events"]
            .as_array()
            .expect("events")
            .iter()
            .find(|e| e["kind"] == "processed")
            .expect("processed event")
            .clone();
        (
            shown["recording"]["media"].clone(),
            processed["fields"].clone(),
        )
    };
    let (m, logged) = media("ends-early.mp4");
    assert_eq!(m["container_frames"], 90, "{m}");
    let frames = m["frames"].as_u64().expect("frames");
    assert!((30..60).contains(&frames), "{m}");
    assert_eq!(logged["container_frames"], 90);
    let (m, logged) = media("corrupt.mp4");
    let lost = m["undecodable_frames"]
        .as_u64()
        .expect("undecodable frames");
    assert!(lost >= 1, "{m}");
    assert_eq!(logged["undecodable_frames"], lost);
    let (m, logged) = media("whole.mp4");
    assert_eq!(m["frames"], 90);
    assert!(m["undecodable_frames"].is_null() && logged["container_frames"].is_null());

    let listed = stdout(&run(bwv(&home).arg("list")));
    assert_eq!(listed.matches(" damaged ").count(), 2, "{listed}");
    let shown =
        stdout(&run(bwv(&home).args([
            "show",
            item("corrupt.mp4")["id"].as_str().expect("id"),
        ])));
    assert!(
        shown.contains("could not be decoded (corrupt data)"),
        "{shown}"
    );
    let o = run(bwv(&home).args(["verify", "--all"]));
    assert!(o.status.success(), "{}", stdout(&o));

    // The damage cannot be erased from the index unnoticed.
    let index = rusqlite::Connection::open(home.join("index.sqlite")).expect("index");
    index
        .execute(
            "UPDATE recordings SET media = json_remove(media, '$.container_frames') WHERE id = ?1",
            [item("ends-early.mp4")["id"].as_str().expect("id")],
        )
        .expect("edit");
    let o = run(bwv(&home).args(["verify", "--all"]));
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(stdout(&o).contains("damage"), "{}", stdout(&o));
}

/// Every file ingest derives (frame hashes, thumbnails, contact sheet, proxy) is the same, byte
/// for byte, on a CPU with AVX2 and FMA but neither AVX-512 nor VNNI: QEMU emulates a Haswell
/// running the same binary. The proxy once differed here: its headers held the muxer's clock.
/// (On longer 1080p clips x264's macroblock tree differed too, computed in floating point with
/// other approximations on AVX-512: shown with ffmpeg, as such a clip takes too long to emulate.)
#[test]
fn ingest_derives_the_same_files_on_a_cpu_without_avx512() {
    let (t, _, native) = ingest_clip(Clip::h264(640, 360), "clip.mp4");
    let home = t.path().join("haswell");
    let o = run(bwv_on_cpu(&home, "Haswell-v4")
        .arg("ingest")
        .arg(t.path().join("dock"))
        .arg("--json"));
    assert!(o.status.success(), "{}", stderr(&o));
    let emulated: Value = serde_json::from_str(stdout(&o).trim()).expect("json");
    let hashes = |item: &Value| -> Vec<(String, String)> {
        let text = |v: &Value| v.as_str().expect("text").to_owned();
        item["artefacts"]
            .as_array()
            .expect("artefacts")
            .iter()
            .map(|a| (text(&a["kind"]), text(&a["sha256"])))
            .collect()
    };
    let made = hashes(&native);
    for kind in ["frame_hashes", "thumbnail", "contact_sheet", "proxy"] {
        assert!(made.iter().any(|(k, _)| k == kind), "{made:?}");
    }
    assert_eq!(hashes(&emulated), made);
}
