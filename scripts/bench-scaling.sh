#!/usr/bin/env bash
# make bench-scaling: how cost grows with footage length and with files ingested in parallel.
#  - length: `bwv bench --clip` on generated 1080p30 clips of each of LENGTHS seconds (default
#    "10 60 600"): ingest and redaction fps and each stage's peak memory, which should stay flat
#    (frames stream; nothing buffers the whole clip);
#  - parallel: `bwv ingest --jobs N` over N distinct generated clips (60, 61, ... s) for each N of
#    PARALLEL (default "1 2 4"): total throughput and the process's peak memory.
set -euo pipefail
cd "$(dirname "$0")/.."
BWV=$PWD/target/release/bwv
# Every action is recorded with who took it: the operator, else a name for this script.
export BWV_ACTOR=${BWV_ACTOR:-${USER:-bench-scaling}}
LENGTHS=${LENGTHS:-10 60 600}
PARALLEL=${PARALLEL:-1 2 4}
WORK=$(mktemp -d /tmp/bwv-scaling.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

row() { # JSON of `bwv bench` -> one table row
  python3 -c '
import json, sys
v = json.load(sys.stdin)
s = {x["stage"]: x for x in v["stages"]}
i, r = s["ingest"], s["redact"]
print("| %4.0f s | %6d | %6.1f | %5.0f | %6.1f | %5.0f |" % (v["footage_seconds"], v["frames"],
      i["fps"], i["peak_mib"] or 0, r["fps"], r["peak_mib"] or 0))'
}
echo "| footage | frames | ingest fps | ingest peak MiB | redact fps | redact peak MiB |"
echo "|---|---|---|---|---|---|"
for s in $LENGTHS; do
  "$BWV" bench --make-clip "$WORK/len-$s.mp4" --seconds "$s" >/dev/null
  "$BWV" bench --clip "$WORK/len-$s.mp4" --json | row
  rm -f "$WORK/len-$s.mp4"*
done

echo
echo "| files in parallel | frames | seconds | fps | peak MiB |"
echo "|---|---|---|---|---|"
for n in $PARALLEL; do
  rm -rf "$WORK/dock" "$WORK/home" && mkdir "$WORK/dock"
  for ((k = 0; k < n; k++)); do
    "$BWV" bench --make-clip "$WORK/dock/cam-$k.mp4" --seconds $((60 + k)) >/dev/null
    rm "$WORK/dock/cam-$k.mp4.json"
  done
  frames=$(( (60 * n + n * (n - 1) / 2) * 30 ))
  t0=$EPOCHREALTIME
  peak=$(python3 - "$BWV" "$WORK/home" "$WORK/dock" "$n" <<'PY'
import resource, subprocess, sys
bwv, home, dock, n = sys.argv[1:]
subprocess.run([bwv, "--home", home, "ingest", dock, "--jobs", n], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
PY
)
  python3 -c 'import sys; f, t0, t1, n, peak = sys.argv[1:]; s = float(t1) - float(t0)
print("| %s | %s | %.1f | %.1f | %s |" % (n, f, s, int(f) / s, peak))' "$frames" "$t0" "$EPOCHREALTIME" "$n" "$peak"
done
