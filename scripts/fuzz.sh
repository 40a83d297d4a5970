#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECS seconds each (default 60) and
# fails on the first crash, naming the target and the input that crashed it
# (kept under fuzz/artifacts/TARGET/: turn it into a regression test).
#
# cargo-fuzz needs nightly features; on a stable toolchain
# RUSTC_BOOTSTRAP=1 unlocks them. Builds go to target/fuzz (reused between
# runs); inputs the fuzzer finds go to target/fuzz/corpus/TARGET, while the
# committed seeds in fuzz/corpus/TARGET stay untouched.
#
#   ./scripts/fuzz.sh          60 s per target
#   ./scripts/fuzz.sh 10       10 s per target (CI)
#   FUZZ_TARGETS="address server_url" ./scripts/fuzz.sh 30
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${1:-60}"
case "$SECS" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECS]" >&2; exit 2 ;; esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
TARGET_DIR="$PWD/target/fuzz"
TARGETS="${FUZZ_TARGETS:-$(cd fuzz && cargo fuzz list)}"

# One build of all targets.
(cd fuzz && cargo fuzz build --target-dir "$TARGET_DIR" -O)

failed=()
for t in $TARGETS; do
  work="$TARGET_DIR/corpus/$t"
  mkdir -p "$work" "fuzz/artifacts/$t"
  echo "fuzz.sh: $t for ${SECS}s" >&2
  if ! (cd fuzz && cargo fuzz run --target-dir "$TARGET_DIR" -O "$t" "$work" "corpus/$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        2>"$TARGET_DIR/$t.log"); then
    echo "fuzz.sh: $t CRASHED; the log's end:" >&2
    tail -40 "$TARGET_DIR/$t.log" >&2
    failed+=("$t")
  else
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$TARGET_DIR/$t.log" | tail -1 | sed "s/^/fuzz.sh: $t: /" >&2 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz.sh: every target ran ${SECS}s clean" >&2
