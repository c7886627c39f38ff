# The two commands: `make run` and `make test` (README). Everything else is a helper.
SHELL := /bin/bash
# One target dir outside the clone, so fresh clones (and CI) reuse compiled dependencies.
CARGO_TARGET_DIR ?= $(HOME)/.cache/meshmart/target
export CARGO_TARGET_DIR

.PHONY: run test bench fuzz setup build release stack-up stack-down clean-data

## Start PostgreSQL, Kafka and the server with demo data at http://127.0.0.1:3000.
run: setup build
	@scripts/run.sh

## Every check: fmt, clippy (server and wasm), unit, integration and browser tests.
test: setup
	@scripts/test.sh

## Benchmarks (release build): catalog load rate, product page server time.
bench: setup
	@scripts/bench.sh

## Coverage-guided fuzzing of every network parser (FUZZ_SECONDS per target, default 300;
## nightly toolchain; not part of `make test`).
fuzz:
	@scripts/fuzz.sh

## Install the toolchain pieces (idempotent, registry downloads only).
setup:
	@scripts/setup.sh

## Build the browser bundle and the server (debug).
build:
	@scripts/build.sh

## Build optimised artifacts.
release: setup
	@scripts/build.sh --release

## Start/stop only the local PostgreSQL and Kafka of `make run`.
stack-up:
	@scripts/stack.sh up run
stack-down:
	@scripts/stack.sh down run

## Delete the local stacks' data (databases, broker logs).
clean-data:
	@scripts/stack.sh down run; scripts/stack.sh down test; rm -rf .data
