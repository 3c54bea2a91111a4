#!/usr/bin/env bash
# Times `bwv ingest` against the one-command ffmpeg equivalent (SHA-256 of the file, per-frame
# SHA-256, 720p H.264/AAC faststart proxy, a thumbnail every 10 s) on the same generated 1080p30
# H.264+AAC clip, alternating runs (A B A B ...), and prints medians, the ratio and its range over
# the rounds. FLOOR=1 adds a third command to each round: ffmpeg decoding, scaling and x264 alone
# (no hashing, sound or thumbnails), the floor both tools share.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
SECONDS_OF_VIDEO=${SECONDS_OF_VIDEO:-10}
BWV=$PWD/target/release/bwv
# Every action is recorded with who took it: the operator, else a name for this script.
export BWV_ACTOR=${BWV_ACTOR:-${USER:-bench-ingest}}
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
CLIP=$W/dock/clip.mp4; mkdir -p "$W/dock"
ffmpeg -y -v error -nostdin -f lavfi -i "testsrc2=size=1920x1080:rate=30,noise=alls=12:allf=t" \
  -f lavfi -i sine=frequency=440:sample_rate=48000 -t "$SECONDS_OF_VIDEO" \
  -c:v libx264 -profile:v high -pix_fmt yuv420p -b:v 10M -c:a aac "$CLIP"
echo "clip: 1920x1080 30 fps, ${SECONDS_OF_VIDEO} s, $(du -h "$CLIP" | cut -f1), $(nproc) CPUs"

# The proxy's encode, shared by the ffmpeg command and the floor so that they cannot drift apart.
PROXY_ENCODE=(-vf scale=-2:720 -c:v libx264 -preset veryfast -crf 23 -x264-params mbtree=0 -threads 2)
bwv_run() { rm -rf "$W/home"; "$BWV" --home "$W/home" ingest "$W/dock" >/dev/null 2>&1; }
ffmpeg_run() {
  rm -rf "$W/ff"; mkdir -p "$W/ff"; (cd "$W/ff" && sha256sum "$CLIP" >/dev/null &&
  ffmpeg -v error -nostdin -y -i "$CLIP" -map 0:v:0 -f framehash -hash sha256 frames.txt \
    -map 0:v:0 -map 0:a? "${PROXY_ENCODE[@]}" -c:a aac -movflags +faststart proxy.mp4 \
    -map 0:v:0 -vf fps=1/10,scale=320:-2 thumb_%04d.jpg)
}
floor_run() {
  ffmpeg -v error -nostdin -y -i "$CLIP" -an "${PROXY_ENCODE[@]}" -f mp4 /dev/null
}
# A run that fails stops the bench: its time would mean nothing.
timed() {
  local s e; s=$(date +%s.%N)
  "$@" || { echo "bench-ingest: $1 failed" >&2; return 1; }
  e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }'
}
a=(); b=(); c=(); r=()
for i in $(seq "$RUNS"); do
  a+=("$(timed bwv_run)"); b+=("$(timed ffmpeg_run)")
  r+=("$(awk -v a="${a[-1]}" -v b="${b[-1]}" 'BEGIN { printf "%.2f", b / a }')")
  line="run $i: bwv ${a[-1]} s, ffmpeg ${b[-1]} s (${r[-1]}x)"
  if [ "${FLOOR:-0}" = 1 ]; then c+=("$(timed floor_run)"); line+=", floor ${c[-1]} s"; fi
  echo "$line"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
echo "median: bwv ingest $ma s, ffmpeg equivalent $mb s"
echo "rounds: ratio from $(printf '%s\n' "${r[@]}" | sort -g | head -1)x to $(printf '%s\n' "${r[@]}" | sort -g | tail -1)x"
if [ ${#c[@]} -gt 0 ]; then
  mc=$(median "${c[@]}")
  awk -v a="$ma" -v c="$mc" 'BEGIN { printf "floor (ffmpeg decode, scale, x264 alone): %s s; bwv ingest takes %.0f %% more\n", c, (a / c - 1) * 100 }'
fi
awk -v a="$ma" -v b="$mb" 'BEGIN { printf "throughput ratio (ffmpeg time / bwv time): %.2fx  (target >= 1.5x)\n", b / a }'
