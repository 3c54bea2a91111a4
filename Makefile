# bwv: the two quick-start targets are `make demo` and `make test` (each sets the machine up first).
.PHONY: setup build demo test lint install bench bench-ingest bench-compare bench-scaling bench-serve eval-redact eval-set

setup:
	./scripts/setup.sh

build: setup
	cargo build --release --locked --workspace

demo: build
	./scripts/demo.sh

test: setup
	cargo test --locked --workspace --all-targets

# bwv on PATH with its models: PREFIX/bin/bwv and PREFIX/share/bwv/models (where bwv looks for
# them from any folder). PREFIX=~/.local by default.
PREFIX ?= $(HOME)/.local
install: build
	install -D -m 755 target/release/bwv "$(PREFIX)/bin/bwv"
	install -D -m 755 target/release/bwv-verify-proof "$(PREFIX)/bin/bwv-verify-proof"
	install -d "$(PREFIX)/share/bwv/models"
	install -m 644 models/centerface.onnx models/centerface-int8.onnx models/libonnxruntime.so.1.31.1 \
		"$(PREFIX)/share/bwv/models/"

lint:
	cargo fmt --all --check
	cargo clippy --locked --workspace --all-targets -- -D warnings

# Micro-benchmarks (criterion): per-frame hashing; detector input, CenterFace decode + NMS, masks;
# event serialisation, Merkle append, proofs over a million events.
bench: setup
	cargo bench --locked --bench frame_hash --bench redact --bench custody

# bwv ingest against the one-command ffmpeg equivalent on the same generated 1080p30 clip.
bench-ingest: build
	./scripts/bench-ingest.sh

# bwv against ffmpeg (ingest) and deface (redaction, with recall) on one generated clip, alternating
# runs; RUNS=3 BENCH_SECONDS=10 by default, CLIP=... TRUTH=... for your own footage, ISA=avx2 to run
# every tool as on a CPU without AVX-512 and VNNI (scripts/as-cpu.sh).
bench-compare: build
	./scripts/bench-compare.sh

# How time and peak memory grow with footage length (LENGTHS="10 60 600") and with files ingested in
# parallel (PARALLEL="1 2 4").
bench-scaling: build
	./scripts/bench-scaling.sh

# bwv serve under load on loopback: CLIENTS clients list and open recordings (latency percentiles).
bench-serve: setup
	cargo bench --bench serve_load

# Redaction quality on a clip with per-frame ground truth (the make_clip.py sidecar format):
#   make eval-redact CLIP=clip.mp4 TRUTH=clip.json [EVAL_ARGS="--detect-every 1 --mode pixelate"]
eval-redact: build
	@test -n "$(CLIP)" -a -n "$(TRUTH)" || { echo "usage: make eval-redact CLIP=clip.mp4 TRUTH=clip.json"; exit 2; }
	./target/release/bwv eval-redact "$(CLIP)" "$(TRUTH)" $(EVAL_ARGS)

# Redaction on the evaluation set: make_clip.py composites of ../shared's development faces with
# seeds no tuning used, as night infra-red, low light, motion blur, a rolled camera, small faces
# and groups (scripts/eval_set.py); clips are kept in EVAL_DIR. Needs ../shared.
# `make eval-set TUNING=1` makes and measures the tuning set instead (seeds 21-27, in eval-tuning/):
# adjust bwv on that one, and judge the change on the held-out one.
EVAL_DIR ?= $(if $(TUNING),eval-tuning,eval-set)
eval-set: build
	test -x .venv-eval/bin/python || { python3 -m venv .venv-eval && \
		.venv-eval/bin/pip install --quiet --disable-pip-version-check numpy==2.4.6 opencv-python-headless==5.1.0.95; }
	.venv-eval/bin/python scripts/eval_set.py "$(EVAL_DIR)" --eval-args="$(EVAL_ARGS)" $(if $(TUNING),--tuning)
