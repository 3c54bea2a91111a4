# bwv: the two quick-start targets are `make demo` and `make test` (each sets the machine up first).
.PHONY: setup build demo test lint bench bench-ingest

setup:
	./scripts/setup.sh

build: setup
	cargo build --release --locked

demo: build
	./scripts/demo.sh

test: setup
	cargo test --locked --all-targets

lint:
	cargo fmt --check
	cargo clippy --locked --all-targets -- -D warnings

# Micro-benchmark: per-frame hashing throughput (criterion).
bench: setup
	cargo bench --locked --bench frame_hash

# bwv ingest against the one-command ffmpeg equivalent on the same generated 1080p30 clip.
bench-ingest: build
	./scripts/bench-ingest.sh
