#!/usr/bin/env bash
# make bench-scaling: how cost grows with footage length and with files ingested in parallel.
#  - length: `bwv bench --clip` on generated 1080p30 clips of each of LENGTHS seconds (default
#    "10 60 600"): ingest and redaction fps and each stage's peak memory, which should stay flat
#    (frames stream; nothing buffers the whole clip);
#  - parallel: `bwv ingest --jobs N` over N distinct generated clips (60, 61, ... s) for each N of
#    PARALLEL (default "1 2 4"): total throughput and the process's peak memory;
#  - workers: a dock of CLIPS generated clips (default 8, of 20, 21, ... s) queued once and drained
#    by W `bwv worker` processes for each W of WORKERS (default "1 2 4"), against a throwaway
#    PostgreSQL index and SeaweedFS bucket (scripts/pg-throwaway.sh, scripts/s3-throwaway.sh),
#    beside `bwv ingest` of the same dock into the embedded SQLite store and folder; with what
#    the shared services cost meanwhile (PostgreSQL's and SeaweedFS's CPU seconds, loopback
#    bytes), the figures the README sizes several machines from.
# PARTS picks which run (default "length parallel workers").
set -euo pipefail
cd "$(dirname "$0")/.."
BWV=$PWD/target/release/bwv
# Every action is recorded with who took it: the operator, else a name for this script.
export BWV_ACTOR=${BWV_ACTOR:-${USER:-bench-scaling}}
LENGTHS=${LENGTHS:-10 60 600}
PARALLEL=${PARALLEL:-1 2 4}
PARTS=${PARTS:-length parallel workers}
WORKERS=${WORKERS:-1 2 4}
CLIPS=${CLIPS:-8}
WORK=$(mktemp -d /tmp/bwv-scaling.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
part() { [[ " $PARTS " == *" $1 "* ]]; }

row() { # JSON of `bwv bench` -> one table row
  python3 -c '
import json, sys
v = json.load(sys.stdin)
s = {x["stage"]: x for x in v["stages"]}
i, r = s["ingest"], s["redact"]
print("| %4.0f s | %6d | %6.1f | %5.0f | %6.1f | %5.0f |" % (v["footage_seconds"], v["frames"],
      i["fps"], i["peak_mib"] or 0, r["fps"], r["peak_mib"] or 0))'
}
if part length; then
echo "| footage | frames | ingest fps | ingest peak MiB | redact fps | redact peak MiB |"
echo "|---|---|---|---|---|---|"
for s in $LENGTHS; do
  "$BWV" bench --make-clip "$WORK/len-$s.mp4" --seconds "$s" >/dev/null
  "$BWV" bench --clip "$WORK/len-$s.mp4" --json | row
  rm -f "$WORK/len-$s.mp4"*
done
fi

if part parallel; then
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
fi

if part workers; then
  mkdir -p "$WORK/wdock"
  for ((k = 0; k < CLIPS; k++)); do
    "$BWV" bench --make-clip "$WORK/wdock/cam-$k.mp4" --seconds $((20 + k)) >/dev/null
    rm "$WORK/wdock/cam-$k.mp4.json"
  done
  frames=$(( (20 * CLIPS + CLIPS * (CLIPS - 1) / 2) * 30 ))
  # The servers run while this script does: each one's standard input is a FIFO this script
  # holds open until it exits (then they stop and remove their folders).
  start() { # NAME SCRIPT: sets LINE to what the script prints when its server is ready
    mkfifo "$WORK/$1.in" "$WORK/$1.out"
    "scripts/$2" <"$WORK/$1.in" >"$WORK/$1.out" &
    exec {fd}>"$WORK/$1.in"
    read -r LINE <"$WORK/$1.out"
  }
  start pg pg-throwaway.sh; PGURL=$LINE
  start s3 s3-throwaway.sh; S3ENV=$LINE
  export $S3ENV
  seconds() { python3 -c 'import sys; print("%.1f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$@"; }
  # What the shared services cost, for sizing the machines one of each can serve: CPU seconds
  # of every PostgreSQL process (live ones, and the exited connections' that the postmaster
  # reaped) and of SeaweedFS, and the bytes over loopback (every request and reply, database
  # and object store, that would cross a network between machines).
  shared() {
    python3 - <<'PY'
import os
tick = os.sysconf("SC_CLK_TCK")
pg = weed = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    f = stat[stat.rindex(")") + 2:].split()
    # Its own time and its reaped children's (a live child's is not in its parent's yet).
    used = sum(map(int, f[11:15]))
    if name.startswith("postgres"):
        pg += used
    elif name == "weed":
        weed += used
lo = next(l.split() for l in open("/proc/net/dev") if l.strip().startswith("lo:"))
print(pg / tick, weed / tick, int(lo[1]))
PY
  }
  echo
  echo "| $CLIPS files ($frames frames) | index, objects | seconds | fps | PostgreSQL CPU-s | SeaweedFS CPU-s | loopback MB |"
  echo "|---|---|---|---|---|---|---|"
  t0=$EPOCHREALTIME
  "$BWV" --home "$WORK/local" ingest "$WORK/wdock" --jobs 1 >/dev/null 2>&1
  s=$(seconds "$t0" "$EPOCHREALTIME")
  echo "| bwv ingest --jobs 1 | SQLite, folder | $s | $(python3 -c "print('%.1f' % ($frames / $s))") |"
  for w in $WORKERS; do
    db="bench_$w"; url="${PGURL%/*}/$db"
    psql -q "$PGURL" -c "CREATE DATABASE $db" >/dev/null
    export BWV_INDEX=$url BWV_OBJECTS=s3://bench/w$w
    "$BWV" --home "$WORK/h$w" ingest --enqueue "$WORK/wdock" >/dev/null 2>&1
    read -r pg0 weed0 lo0 < <(shared)
    t0=$EPOCHREALTIME
    pids=()
    for ((k = 0; k < w; k++)); do
      "$BWV" --home "$WORK/h$w" worker --drain --idle 0.2 --name "w$k" >/dev/null 2>&1 &
      pids+=($!)
    done
    wait "${pids[@]}"
    s=$(seconds "$t0" "$EPOCHREALTIME")
    read -r pg1 weed1 lo1 < <(shared)
    done_jobs=$("$BWV" --home "$WORK/h$w" jobs --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["counts"]["done"])')
    python3 -c 'import sys
w, jobs, frames, s, pg0, pg1, weed0, weed1, lo0, lo1 = sys.argv[1:]
print("| %s worker(s) (%s jobs done) | PostgreSQL, S3 (SeaweedFS) | %s | %.1f | %.2f | %.2f | %.0f |" % (
    w, jobs, s, int(frames) / float(s), float(pg1) - float(pg0), float(weed1) - float(weed0),
    (int(lo1) - int(lo0)) / 1e6))' "$w" "$done_jobs" "$frames" "$s" "$pg0" "$pg1" "$weed0" "$weed1" "$lo0" "$lo1"
    unset BWV_INDEX BWV_OBJECTS
  done
fi
