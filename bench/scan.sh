#!/usr/bin/env bash
# Scan benchmark: in the test lab (a private network namespace, as root),
# against a DNS server that answers every question after 50 ms, scans
# 10,000 domains (the release binary) and prints the rate, then the peak
# memory for 10,000 and for 1,000,000 input lines (the latter with
# --shard 0/100, so the work is the same and only the input grows).
# Fails below 500 domains a second, or when memory grows with the input.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cargo build --release --quiet
cargo test --no-run --quiet --test scan
if [ "$(id -u)" != 0 ]; then
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
export MAILSETUP_BIN="$PWD/target/release/mailsetup" MAILSETUP_BENCH_SCAN=1
exec unshare --net --pid --fork --mount-proc -- bash -c '
  ip link set lo up
  ulimit -n 65536 2>/dev/null || true
  export MAILSETUP_LAB=1 RUST_BACKTRACE=0
  cargo test --offline --quiet --test scan scan_throughput -- --include-ignored --nocapture
'
