#!/bin/sh
# Start-up benchmark of `mailsetup lookup --offline` for a built-in domain,
# process start included, against /bin/true run the same way.
#
# Builds the release binary, runs each command 200 times with hyperfine
# (no shell in between) and prints both median wall times and their ratio,
# and the number of dynamic relocations the loader applies at each start
# (readelf -r): pointer-rich static tables cost one each, so the provider
# table is compiled to integers only (see build.rs).
# Targets: under 5 ms, and at most 2 times /bin/true. A benchmark prints;
# it does not fail on a slow machine.
#
#   ./bench/lookup.sh [EMAIL]      (default someone@msn.com)
set -eu
cd "$(dirname "$0")/.."

email=${1:-someone@msn.com}
runs=200

if ! command -v hyperfine >/dev/null 2>&1; then
    echo "bench/lookup.sh needs hyperfine: sudo apt-get install hyperfine" >&2
    exit 2
fi

cargo build --release --quiet
bin=target/release/mailsetup
# A lookup that fails would measure an error path: check it first.
"$bin" lookup --offline "$email" >/dev/null

json=$(mktemp)
trap 'rm -f "$json"' EXIT
hyperfine --shell=none --runs "$runs" --warmup 20 --export-json "$json" \
    "$bin lookup --offline $email" "/bin/true" >/dev/null

# hyperfine writes one "median" (in seconds) per command, in order.
sed -n 's/.*"median": *\([0-9.eE+-]*\).*/\1/p' "$json" | awk -v runs="$runs" -v email="$email" '
    NR == 1 { lookup = $1 }
    NR == 2 { truebin = $1 }
    END {
        if (NR != 2 || truebin <= 0) { print "bench/lookup.sh: could not read hyperfine'"'"'s results" > "/dev/stderr"; exit 1 }
        printf "median of %d runs\n", runs
        printf "  mailsetup lookup --offline %-20s %7.2f ms\n", email, lookup * 1000
        printf "  /bin/true %37s %7.2f ms\n", "", truebin * 1000
        printf "  ratio %41s %7.2f   (target: under 5 ms, ratio at most 2)\n", "", lookup / truebin
    }'
if command -v readelf >/dev/null 2>&1; then
    printf "  relocations applied at load %19s %7d\n" "" "$(readelf -r "$bin" | grep -c "R_X86_64\|R_AARCH64")"
fi
