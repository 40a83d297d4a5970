#!/usr/bin/env bash
# Runs inside the test lab's private network namespace (see test.sh): brings
# up loopback and runs the tests with the network-dependent ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
ip link set lo up
export MAILSETUP_LAB=1
export RUST_BACKTRACE=0
cargo test --offline --quiet -- --include-ignored "$@"
