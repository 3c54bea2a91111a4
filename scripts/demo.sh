#!/usr/bin/env bash
# Makes a dock folder of generated footage (three cameras, one with a sidecar, one damaged file,
# one with a face), ingests it with bwv, lists the store, verifies it, proves an event offline,
# redacts the face, and says where everything is.
set -euo pipefail
cd "$(dirname "$0")/.."
BWV=./target/release/bwv
# Every action is recorded with who took it: the operator, else a name for this script.
export BWV_ACTOR=${BWV_ACTOR:-${USER:-demo}}
DEMO=${DEMO_DIR:-demo}
rm -rf "$DEMO" && mkdir -p "$DEMO/dock/cam-0412" "$DEMO/dock/cam-0977" "$DEMO/dock/cam-1123"
ff() { ffmpeg -y -v error -nostdin "$@"; }
echo "demo: generating footage in $DEMO/dock"
ff -f lavfi -i testsrc2=size=1920x1080:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 12 \
   -c:v libx264 -profile:v high -pix_fmt yuv420p -preset veryfast -c:a aac "$DEMO/dock/cam-0412/20261120_221500.mp4"
cat > "$DEMO/dock/cam-0412/20261120_221500.mp4.json" <<'JSON'
{"officer_id": "4711", "device_id": "CAM-0412", "recorded_at": "2026-11-20T22:15:00Z", "shift": "night"}
JSON
ff -f lavfi -i testsrc=size=1280x720:rate=30 -f lavfi -i sine=frequency=220:sample_rate=48000 -t 6 \
   -c:v libx264 -pix_fmt yuv420p -c:a aac "$DEMO/dock/cam-0977/20261120_230102.mp4"
# A camera that lost power mid-recording: the MP4 index was never written.
src="$DEMO/dock/cam-0977/20261120_230102.mp4"
head -c $(( $(stat -c %s "$src") / 2 )) "$src" > "$DEMO/dock/cam-0977/20261120_231544.mp4"
# A public-domain portrait (testdata/faces/astronaut.jpg) sliding across a test pattern.
ff -f lavfi -i testsrc2=size=1280x720:rate=30 -loop 1 -framerate 30 -i testdata/faces/astronaut.jpg \
   -f lavfi -i sine=frequency=330:sample_rate=48000 \
   -filter_complex "[1:v]scale=300:300[p];[0:v][p]overlay=x='200+4*n':y=180:shortest=1,format=yuv420p[v]" \
   -map "[v]" -map 2:a -frames:v 120 -t 4 -c:v libx264 -preset veryfast -c:a aac \
   "$DEMO/dock/cam-1123/20261121_081500.mp4"

echo "demo: bwv ingest"
status=0
$BWV --home "$DEMO/store" ingest "$DEMO/dock" || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 2 ] || exit "$status"   # 2 = the damaged file, as intended
echo
$BWV --home "$DEMO/store" list
first=$($BWV --home "$DEMO/store" list --json | python3 -c 'import json,sys; print(next(r["id"] for r in json.load(sys.stdin) if r["status"] == "ready"))')
echo
$BWV --home "$DEMO/store" show "$first"
echo
echo "demo: bwv verify (re-hash everything, check the index against the signed log)"
$BWV --home "$DEMO/store" verify
$BWV --home "$DEMO/store" log pubkey > "$DEMO/log.pub"
$BWV --home "$DEMO/store" log prove 0 -o "$DEMO/proof-0.json"
echo "demo: offline check of event 0 with only the proof and the public key (bwv-verify-proof:"
echo "      no video libraries, no database; bwv log verify-proof does the same):"
./target/release/bwv-verify-proof "$DEMO/proof-0.json" --key "$DEMO/log.pub"
echo
face=$($BWV --home "$DEMO/store" list --json | python3 -c 'import json,sys; print(next(r["id"] for r in json.load(sys.stdin) if r["source_name"] == "20261121_081500.mp4"))')
echo "demo: bwv redact $face (detect and track faces, blur them, record it in the custody log)"
$BWV --home "$DEMO/store" redact "$face" --out "$DEMO/redacted.mp4"
echo "demo: redacted copy $DEMO/redacted.mp4, face preview (kept in the store) $DEMO/store/plans/$face/redacted.plan.preview.jpg"
echo
echo "demo: store at $DEMO/store (index.sqlite, masters/, derived/<id>/: proxy.mp4, contact_sheet.jpg, thumbnails, frame hashes)"
echo "demo: contact sheet: $DEMO/store/derived/$first/contact_sheet.jpg"
