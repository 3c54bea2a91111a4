#!/usr/bin/env bash
# make bench-compare: bwv against the tools people use today, on one generated 1080p30 clip with
# faces and ground truth (`bwv bench --make-clip`), runs alternating (A B A B ...), printing
# medians and ratios:
#   - bwv ingest against the one-command ffmpeg equivalent (hash, framehash, 720p proxy, thumbs);
#   - bwv redact REC --out (one decode: detect, track, blur, encode) against deface (PyPI,
#     default options) and deface --scale 640x360, each with its recall on the ground truth
#     (`bwv eval-redact --redacted`), so speed is never bought with misses.
# deface is installed from PyPI into a virtual environment (scripts/bench-requirements.txt).
# Settings: RUNS (default 3), BENCH_SECONDS (clip length, default 10), DEFACE_VENV, and
# CLIP + TRUTH to compare on your own footage and its sidecar, ISA=avx2 (or avx512) to run every
# tool as on a CPU without AVX-512 and VNNI (or without VNNI) through scripts/as-cpu.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${ISA:-}" ] && [ -z "${AS_CPU:-}" ]; then
  exec scripts/as-cpu.sh "$ISA" "$0" "$@"
fi
BWV=$PWD/target/release/bwv
# Every action is recorded with who took it: the operator, else a name for this script.
export BWV_ACTOR=${BWV_ACTOR:-${USER:-bench-compare}}
RUNS=${RUNS:-3}
LEN=${BENCH_SECONDS:-10}
VENV=${DEFACE_VENV:-$PWD/.venv-bench}
WORK=$(mktemp -d /tmp/bwv-compare.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

if [ ! -x "$VENV/bin/deface" ]; then
  echo "bench-compare: installing deface into $VENV"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/bench-requirements.txt
fi

mkdir -p "$WORK/dock"
if [ -n "${CLIP:-}" ]; then
  cp "$CLIP" "$WORK/dock/clip.mp4"
  truth=${TRUTH:-}
else
  "$BWV" bench --make-clip "$WORK/dock/clip.mp4" --seconds "$LEN"
  mv "$WORK/dock/clip.mp4.json" "$WORK/truth.json"
  truth=$WORK/truth.json
fi
clip=$WORK/dock/clip.mp4
frames=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$clip")

# Seconds one command takes (its output discarded).
timed() {
  local t0=$EPOCHREALTIME
  "$@" >/dev/null 2>&1 || { echo "bench-compare: failed: $*" >&2; exit 1; }
  python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$EPOCHREALTIME" "$t0"
}
bwv_ingest() { rm -rf "$WORK/home-i"; "$BWV" --home "$WORK/home-i" ingest "$WORK/dock"; }
ffmpeg_ingest() {
  rm -rf "$WORK/ff" && mkdir "$WORK/ff" && cd "$WORK/ff"
  sha256sum "$clip" && ffmpeg -nostdin -v error -i "$clip" \
    -map 0:v:0 -f framehash -hash sha256 frames.txt \
    -map 0:v:0 -map '0:a?' -vf scale=-2:720 -c:v libx264 -preset veryfast -crf 23 -x264-params mbtree=0 -threads 2 -c:a aac -movflags +faststart proxy.mp4 \
    -map 0:v:0 -vf fps=1/10,scale=320:-2 thumb_%04d.jpg
  cd - >/dev/null
}
"$BWV" --home "$WORK/home-r" ingest "$WORK/dock" >/dev/null
rec=$("$BWV" --home "$WORK/home-r" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
# A new output name each run: the store keeps each redaction's plan under its output's name and
# never overwrites one. The latest is linked as bwv.mp4 for the recall.
bwv_redact() {
  local out=$WORK/runs/bwv-${EPOCHREALTIME/./}.mp4
  mkdir -p "$WORK/runs" && rm -f "$WORK/bwv.mp4"
  "$BWV" --home "$WORK/home-r" redact "$rec" --out "$out" && ln "$out" "$WORK/bwv.mp4"
}
deface_default() { rm -f "$WORK/deface.mp4"; "$VENV/bin/deface" "$clip" -o "$WORK/deface.mp4"; }
deface_small() { rm -f "$WORK/deface-small.mp4"; "$VENV/bin/deface" "$clip" --scale 640x360 -o "$WORK/deface-small.mp4"; }

declare -A times
for ((i = 1; i <= RUNS; i++)); do
  echo "bench-compare: round $i of $RUNS"
  for t in bwv_ingest ffmpeg_ingest bwv_redact deface_default deface_small; do
    times[$t]+="$(timed $t) "
  done
done

recall() {
  [ -n "$truth" ] || { echo "-"; return; }
  "$BWV" eval-redact "$clip" "$truth" --redacted "$1" --json |
    python3 -c 'import json,sys; m=json.load(sys.stdin)["metrics"]; print("%.2f%% (longest exposed %d frames)" % (100*m["recall"], m["longest_exposed_run"]))'
}
# The figures depend on the CPU (the detector's kernels differ with it): name it.
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs) with $(grep -ow 'avx2\|avx512f\|avx512_vnni\|avx_vnni' /proc/cpuinfo | sort -u | xargs)"
if [ -n "${AS_CPU:-}" ]; then
  case $AS_CPU in avx2) hidden="AVX-512 and VNNI" ;; *) hidden="VNNI" ;; esac
  cpu="$cpu, every tool run as on a CPU without $hidden (scripts/as-cpu.sh $AS_CPU)"
fi
python3 - "$frames" "$RUNS" \
  "${times[bwv_ingest]}" "${times[ffmpeg_ingest]}" "${times[bwv_redact]}" \
  "${times[deface_default]}" "${times[deface_small]}" \
  "$(recall "$WORK/bwv.mp4")" "$(recall "$WORK/deface.mp4")" "$(recall "$WORK/deface-small.mp4")" \
  "$cpu" <<'PY'
import statistics, sys
frames, runs, cpu = int(sys.argv[1]), sys.argv[2], sys.argv[11]
med = [statistics.median(float(x) for x in a.split()) for a in sys.argv[3:8]]
rec = sys.argv[8:11]
names = ["bwv ingest", "ffmpeg one-command ingest", "bwv redact --out", "deface (default)", "deface --scale 640x360"]
print(f"\n{frames} frames, median of {runs} alternating runs, on {cpu}")
print(f"{'':28} {'seconds':>8} {'fps':>7}  recall")
for i, (n, s) in enumerate(zip(names, med)):
    r = rec[i - 2] if i >= 2 else ""
    print(f"{n:28} {s:8.2f} {frames / s:7.1f}  {r}")
print(f"\nbwv ingest is {med[1] / med[0]:.2f}x the ffmpeg equivalent's throughput")
print(f"bwv redact is {med[3] / med[2]:.2f}x deface (default) and {med[4] / med[2]:.2f}x deface --scale 640x360")
PY
