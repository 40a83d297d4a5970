#!/bin/sh
# Start-up benchmark of `mailsetup lookup --offline` for a built-in domain,
# process start included, against /bin/true run the same way.
#
# Builds the release binary as shipped (scripts/build-release.sh: a static
# PIE on Linux with glibc), runs both commands alternately with hyperfine
# (no shell in between) and prints their median and fastest wall times and
# the ratios, then what the loader and kernel do at each start: page faults
# (perf stat, when available) and the dynamic relocations (readelf -r).
# Relative relocations are packed (DT_RELR, see build.rs) and cheap to read,
# but every page holding a pointer is still copied on write at each start.
# The provider table adds none: it is compiled to integers only.
#
# Targets: under 5 ms, and at most 2 times /bin/true. A benchmark prints;
# it does not fail on a slow machine. On a busy machine the medians move
# with the load; the fastest runs and the page faults move far less.
#
#   ./bench/lookup.sh [EMAIL]      (default someone@msn.com)
#   BIN=path/to/mailsetup ./bench/lookup.sh   (measure that binary, no build)
set -eu
cd "$(dirname "$0")/.."

email=${1:-someone@msn.com}
runs=${RUNS:-300}

if ! command -v hyperfine >/dev/null 2>&1; then
    echo "bench/lookup.sh needs hyperfine: sudo apt-get install hyperfine" >&2
    exit 2
fi

if [ -z "${BIN:-}" ]; then
    ./scripts/build-release.sh --quiet
    BIN=target/release/mailsetup
fi
bin=$BIN
# A lookup that fails would measure an error path: check it first.
"$bin" lookup --offline "$email" >/dev/null

json=$(mktemp)
trap 'rm -f "$json"' EXIT
hyperfine --shell=none --runs "$runs" --warmup 20 --export-json "$json" \
    "$bin lookup --offline $email" "/bin/true" >/dev/null

# hyperfine writes "median" and "min" (in seconds) once per command, in order.
sed -n 's/.*"\(median\|min\)": *\([0-9.eE+-]*\).*/\1 \2/p' "$json" | awk -v runs="$runs" -v email="$email" '
    $1 == "median" { median[++m] = $2 }
    $1 == "min" { fastest[++f] = $2 }
    END {
        if (m != 2 || f != 2 || median[2] <= 0 || fastest[2] <= 0) {
            print "bench/lookup.sh: could not read hyperfine'"'"'s results" > "/dev/stderr"; exit 1
        }
        printf "%d runs each                                  median    fastest\n", runs
        printf "  mailsetup lookup --offline %-16s %7.2f ms %7.2f ms\n", email, median[1] * 1000, fastest[1] * 1000
        printf "  /bin/true %33s %7.2f ms %7.2f ms\n", "", median[2] * 1000, fastest[2] * 1000
        printf "  ratio %37s %7.2f    %7.2f      (target: under 5 ms, ratio at most 2)\n", "", median[1] / median[2], fastest[1] / fastest[2]
    }'

if command -v perf >/dev/null 2>&1; then
    faults() {
        perf stat -x, -r 20 -e page-faults "$@" 2>&1 >/dev/null | awk -F, '/page-faults/ { printf "%d", $1 }'
    }
    lookup_faults=$(faults "$bin" lookup --offline "$email" || true)
    true_faults=$(faults /bin/true || true)
    if [ -n "$lookup_faults" ] && [ -n "$true_faults" ]; then
        printf "  page faults per start: lookup %s, /bin/true %s\n" "$lookup_faults" "$true_faults"
    fi
fi
if command -v readelf >/dev/null 2>&1; then
    readelf -r "$bin" | awk '
        /^Relocation section .\.relr\.dyn/ { relr = 1; next }
        /^Relocation section/ { relr = 0; next }
        relr && / offsets$/ { relative = $1 }
        /R_X86_64_|R_AARCH64_/ { symbolic++ }
        END {
            printf "  relocations at each start: %d relative (packed), %d by symbol\n", relative, symbolic
        }'
fi
