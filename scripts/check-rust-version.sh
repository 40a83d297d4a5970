#!/usr/bin/env bash
# Checks the `rust-version` in Cargo.toml as far as one toolchain can:
#   1. the toolchain building here is at least that version;
#   2. no dependency in Cargo.lock asks for a newer Rust than that
#      (their own `rust-version`, from `cargo metadata`).
# The third part is clippy's `incompatible_msrv` lint (on by default, an
# error under `-D warnings` in .ci/run): it reports uses of the standard
# library stabilised after `rust-version`. Building with that exact old
# toolchain is not possible here (no rustup downloads in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo metadata --format-version 1 --locked --offline 2>/dev/null >/dev/null \
  || cargo fetch --locked --quiet
rustc_version="$(rustc --version | awk '{print $2}')"
cargo metadata --format-version 1 --locked --offline | RUSTC_VERSION="$rustc_version" python3 -c '
import json, os, sys

def parse(v):
    v = v.split("-")[0]
    return tuple(int(x) for x in (v.split(".") + ["0", "0"])[:3])

m = json.load(sys.stdin)
root = next(p for p in m["packages"] if p["id"] == m["resolve"]["root"])
ours = root.get("rust_version")
if not ours:
    sys.exit("check-rust-version: Cargo.toml has no rust-version")
rustc = os.environ["RUSTC_VERSION"]
if parse(rustc) < parse(ours):
    sys.exit(f"check-rust-version: rustc {rustc} is older than rust-version {ours}")
used = {n["id"] for n in m["resolve"]["nodes"]}
newer = sorted(
    "%s %s needs Rust %s" % (p["name"], p["version"], p["rust_version"])
    for p in m["packages"]
    if p["id"] in used and p.get("rust_version") and parse(p["rust_version"]) > parse(ours)
)
if newer:
    sys.exit("check-rust-version: rust-version is " + ours + ", but:\n  " + "\n  ".join(newer)
             + "\nraise rust-version in Cargo.toml or keep these crates at older versions")
print(f"check-rust-version: rust-version {ours}: rustc {rustc} and every dependency agree")
'
