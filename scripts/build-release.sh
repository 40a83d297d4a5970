#!/bin/sh
# Builds the release binary as it is installed and shipped:
# target/release/mailsetup (the Debian package and the benchmarks use it).
#
# On Linux with glibc it is linked statically, as a static PIE: the loader
# then maps no shared libraries (libc, libm, libgcc_s) and resolves no
# symbols, and the program applies its own relocations at start; ASLR
# stays. That takes about 0.4 ms off every start (bench/lookup.sh: 1.41 ms
# to 0.94 ms fastest, 254 to 206 page faults), which a one-address lookup
# is mostly made of. The program needs nothing from glibc that a static
# link leaves out: it resolves names itself (hickory-resolver reads
# /etc/resolv.conf and /etc/hosts), loads no modules and converts no
# character sets.
#
# Why `cargo rustc` and not a `rustflags` setting: the flag must reach the
# final program only. `-C target-feature=+crt-static` for every crate would
# also reach the proc macros, which rustc cannot link statically; flags
# after `--` go to the one crate built last, and the link attributes of the
# standard library and the libc crate follow that crate's choice.
# Elsewhere (macOS, musl, which is static already) it is a plain
# `cargo build --release`.
#
#   ./scripts/build-release.sh [CARGO OPTIONS]   (default: --bin mailsetup)
#   ./scripts/build-release.sh --quiet --example serve_bare
set -eu
cd "$(dirname "$0")/.."

what="--bin mailsetup"
case " $* " in
*" --bin "* | *" --example "*) what="" ;;
esac

host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
*-linux-gnu*)
    # shellcheck disable=SC2086 # $what is two words or none
    exec cargo rustc --release $what "$@" -- -C target-feature=+crt-static
    ;;
*)
    # shellcheck disable=SC2086
    exec cargo build --release $what "$@"
    ;;
esac
