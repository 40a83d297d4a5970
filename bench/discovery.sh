#!/usr/bin/env bash
# Discovery benchmark: runs tests/discovery_bench.rs in the test lab (a
# private network namespace, as root) and prints total lookup time divided by
# the servers' latency L.
#
#   ./bench/discovery.sh            L = 1000 ms
#   ./bench/discovery.sh 300        L = 300 ms
set -euo pipefail
cd "$(dirname "$0")/.."
export MAILSETUP_BENCH_LATENCY_MS="${1:-1000}"
./scripts/install-deps.sh
cargo test --no-run --quiet --test discovery_bench
if [ "$(id -u)" != 0 ]; then
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi
exec unshare --net --pid --fork --mount-proc -- bash -c '
  ip link set lo up
  export MAILSETUP_LAB=1 RUST_BACKTRACE=0
  cargo test --offline --quiet --test discovery_bench -- --include-ignored --nocapture
'
