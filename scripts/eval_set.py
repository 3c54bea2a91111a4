#!/usr/bin/env python3
"""Builds bwv's redaction evaluation set and measures bwv on it (`make eval-set`).

    eval_set.py OUT_DIR [--set FACES_DEV] [--make-clip MAKE_CLIP_PY] [--bwv BIN] [--only NAME...]
                [--eval-args="..."] [--tuning]

Each clip is a `make_clip.py` composite of the development face set (1920x1080, 30 fps, 6 s),
made with a seed that no tuning of bwv has used (11 to 17), then, for some, turned by ffmpeg into
what body-worn cameras record at night and at distance: monochrome infra-red with noise and low
contrast, low light, motion blur from a shaking camera, a rolled camera, small faces (16-48 px),
groups, and encoded once by x264 (veryfast, quality 20) in a way that gives the same bytes on
every CPU kind (session 20; before, AVX-512 machines made other clips than AVX2 ones). The
ground truth is make_clip.py's sidecar; for the rolled clip its boxes are rotated with
the picture (the upright box around the turned ellipse inside each box), and for the blurred
one each frame, the mean of itself and the two before, takes the boxes of the one before (where
its picture is centred). Clips already in
OUT_DIR are kept, unless an earlier recipe made them. The table printed is the one in the README.

`--tuning` makes the tuning set instead: the same recipes with seeds 21 to 27 (each clip's seed
plus 10), for adjusting bwv on while the held-out seeds 11 to 17 stay unseen until a change is
judged. Keep the two sets in separate folders.

Needs numpy and opencv-python-headless (for make_clip.py) and ffmpeg.
"""
import argparse
import hashlib
import json
import math
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
W, H, SECONDS = 1920, 1080, 6

# Night infra-red: low contrast, sensor noise (in the luma, changing every frame), monochrome.
IR = "eq=contrast=0.55:brightness=-0.05,noise=c0s=14:c0f=t,hue=s=0"

# name: (seed, make_clip.py options, ffmpeg filter or None, roll in degrees, what it shows)
CLIPS = {
    "ir-night": (11, [], IR, 0,
                 "night infra-red: monochrome, low contrast, sensor noise"),
    "low-light": (12, [], "eq=brightness=-0.16:gamma=0.6:saturation=0.6,noise=alls=12:allf=t", 0,
                  "low light: dark, desaturated, noisy"),
    "motion-blur": (13, ["--shake", "0.02"], "tmix=frames=3", 0,
                    "a shaking camera, each frame the mean of the last 3"),
    "roll-15": (14, [], "rotate=15*PI/180:c=black", 15, "the camera rolled 15 degrees"),
    "small": (15, ["--min-face", "0.015", "--max-face", "0.045", "--faces", "6"], None, 0,
              "small faces: 16-48 px when they appear"),
    "group": (16, ["--faces", "10", "--min-face", "0.03", "--max-face", "0.12"], None, 0,
              "groups: ten faces of 32-130 px on screen"),
    "ir-small": (17, ["--min-face", "0.015", "--max-face", "0.045", "--faces", "6"],
                 IR, 0,
                 "small faces in night infra-red"),
}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def rotate_box(box, deg, w, h):
    """A box as it shows after the picture is turned by `deg` about the frame centre (as
    ffmpeg's rotate filter turns it: clockwise for a positive angle): the upright box around the
    turned ellipse inscribed in the box (a face is round; the box around the turned box would
    hold background corners), clipped to the frame, and the share of it inside the frame."""
    x, y, bw, bh = box
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    px, py = x + bw / 2 - w / 2, y + bh / 2 - h / 2
    cx, cy = w / 2 + px * c - py * s, h / 2 + px * s + py * c
    hw, hh = math.hypot(bw / 2 * c, bh / 2 * s), math.hypot(bw / 2 * s, bh / 2 * c)
    x0, y0 = max(0.0, cx - hw), max(0.0, cy - hh)
    x1, y1 = min(float(w), cx + hw), min(float(h), cy + hh)
    inside = max(0.0, x1 - x0) * max(0.0, y1 - y0) / (4 * hw * hh)
    return [round(x0), round(y0), max(1, round(x1 - x0)), max(1, round(y1 - y0))], inside


def rotate_frame(f, deg, w, h):
    """A sidecar frame's boxes turned with the picture: a face under 30 % inside the frame goes
    to `ignore`, as make_clip.py does with faces that little visible."""
    keep = {k: [] for k in ("boxes", "ids", "visible", "truncated") if k in f}
    ignore = [rotate_box(b, deg, w, h)[0] for b in f.get("ignore", [])]
    for i, b in enumerate(f["boxes"]):
        box, inside = rotate_box(b, deg, w, h)
        if inside < 0.3:
            ignore.append(box)
            continue
        keep["boxes"].append(box)
        for k in keep:
            if k != "boxes":
                keep[k].append(f[k][i])
    f.update(keep)
    f["ignore"] = ignore


# How each clip is encoded, once, from make_clip.py's lossless output: the same bytes on every
# machine (x264's macroblock tree differs on AVX-512; its output depends on its thread count).
ENCODE = "-c:v libx264 -preset veryfast -crf 20 -x264-params mbtree=0 -threads 2"

# The tuning set's seeds are the held-out ones plus this.
TUNING_OFFSET = 10


def seed_of(name, args):
    return CLIPS[name][0] + (TUNING_OFFSET if args.tuning else 0)


def make(name, out_dir, args):
    _, opts, vf, roll, _ = CLIPS[name]
    seed = seed_of(name, args)
    clip, truth = out_dir / f"{name}.mp4", out_dir / f"{name}.json"
    if clip.exists() and truth.exists():
        # A clip made by an earlier recipe (another encode) is made again.
        if json.loads(truth.read_text()).get("variant", {}).get("encode") == ENCODE:
            return clip, truth
    base = out_dir / f"{name}.base.mp4"
    # Lossless first, then one encode of this script's own (ENCODE), so that every machine
    # makes the same clip.
    run([sys.executable, str(args.make_clip), "--set", str(args.set), "--out", str(base),
         "--width", str(W), "--height", str(H), "--fps", "30", "--duration", str(SECONDS),
         "--seed", str(seed), "--crf", "0", *opts], stdout=subprocess.DEVNULL)
    side = json.loads(base.with_suffix(".json").read_text())
    run(["ffmpeg", "-v", "error", "-y", "-i", str(base), "-vf", f"{vf or 'null'},format=yuv420p",
         *ENCODE.split(), str(clip)])
    base.unlink()
    base.with_suffix(".json").unlink()
    if vf and vf.startswith("tmix=frames=3"):
        # Each frame is the mean of itself and the two before: its picture is centred on the
        # one before, so that frame's boxes are the truth.
        frames = side["frames"]
        for i in range(len(frames) - 1, 0, -1):
            for k in ("boxes", "ids", "ignore", "visible", "truncated"):
                if k in frames[i - 1]:
                    frames[i][k] = frames[i - 1][k]
    if roll:
        for f in side["frames"]:
            rotate_frame(f, roll, W, H)
    side["variant"] = {"name": name, "seed": seed, "filter": vf, "roll": roll, "encode": ENCODE}
    truth.write_text(json.dumps(side))
    return clip, truth


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir", type=pathlib.Path)
    ap.add_argument("--set", type=pathlib.Path, default=SHARED / "testdata/faces-dev")
    ap.add_argument("--make-clip", type=pathlib.Path, default=SHARED / "tools/make_clip.py")
    ap.add_argument("--bwv", default=str(HERE.parent / "target/release/bwv"))
    ap.add_argument("--only", nargs="*", default=list(CLIPS))
    ap.add_argument("--eval-args", default="")
    ap.add_argument("--tuning", action="store_true",
                    help="the tuning set (seeds 21-27), not the held-out one")
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.only:
        clip, truth = make(name, args.out_dir, args)
        out = run([args.bwv, "eval-redact", str(clip), str(truth), "--json",
                   *args.eval_args.split()], capture_output=True).stdout
        m = json.loads(out)["metrics"]
        small = next((b for b in m["by_height"] if b["heights"] == "24-47"), None)
        rows.append((name, seed_of(name, args), CLIPS[name][4], m, small))
        # The clip's hash tells whether two machines measured the same footage: the clips are
        # made afresh, and another ffmpeg, x264 or OpenCV build may make other bytes.
        sha = hashlib.sha256(clip.read_bytes()).hexdigest()[:16]
        print(f"{name}: recall {100 * m['recall']:.2f} % ({m['covered']}/{m['faces']}), longest "
              f"exposed run {m['longest_exposed_run']}, non-face {m['non_face_changed_percent']:.2f} %"
              f", clip sha256 {sha}", file=sys.stderr)
    kind = "tuned on" if args.tuning else "not tuned on"
    print(f"| clip (seed, {kind}) | recall | longest exposed run | non-face pixels changed |"
          " 24-47 px faces covered |")
    print("|---|---|---|---|---|")
    for name, seed, what, m, small in rows:
        sm = f"{small['covered']}/{small['faces']}" if small else "-"
        print(f"| {name} ({seed}): {what} | {100 * m['recall']:.1f} % | "
              f"{m['longest_exposed_run']} frames | {m['non_face_changed_percent']:.2f} % | {sm} |")


if __name__ == "__main__":
    main()
