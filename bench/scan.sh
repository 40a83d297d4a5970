#!/usr/bin/env bash
# Scan benchmark: in the test lab (a private network namespace, as root),
# against a DNS server that answers every question after 50 ms (a mix of
# hosted domains with MX, some with SRV, some at a known provider, and
# 30 % that do not exist), scans 10,000 domains (the release binary) and
# prints the rate and CPU time, then the peak memory for 10,000 and for
# 1,000,000 input lines (the latter with --shard 0/100, so the work is the
# same and only the input grows), then checks that 4 shards together are
# the unsharded scan, line for line. Fails below 500 domains a second,
# when memory grows with the input, or when the shards differ.
# MAILSETUP_BENCH_SCAN=N scans N domains instead of 10,000.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build-release.sh --quiet
cargo test --no-run --quiet --test scan
if [ "$(id -u)" != 0 ]; then
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
export MAILSETUP_BIN="$PWD/target/release/mailsetup" MAILSETUP_BENCH_SCAN="${MAILSETUP_BENCH_SCAN:-10000}"
exec unshare --net --pid --fork --mount-proc -- bash -c '
  ip link set lo up
  # The stand-in name server takes bursts of thousands of questions: a
  # receive buffer the size a real resolver has (this namespace only).
  sysctl -qw net.core.rmem_default=4194304
  ulimit -n 65536 2>/dev/null || true
  export MAILSETUP_LAB=1 RUST_BACKTRACE=0
  cargo test --offline --quiet --test scan scan_throughput -- --include-ignored --nocapture
'
