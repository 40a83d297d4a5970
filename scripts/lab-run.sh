#!/usr/bin/env bash
# Runs inside the test lab (see test.sh): a private network, PID and mount
# namespace. Brings up loopback and runs the tests, including those marked
# #[ignore] because they need the lab. When this script ends, the kernel ends
# every daemon the tests started, since this script is the namespace's init.
set -euo pipefail
cd "$(dirname "$0")/.."
ip link set lo up
export MAILSETUP_LAB=1
export RUST_BACKTRACE=0
# Arguments are cargo test arguments: a test name filter, --test FILE, …
cargo test --offline --quiet "$@" -- --include-ignored
