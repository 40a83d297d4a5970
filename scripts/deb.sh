#!/usr/bin/env bash
# Builds the Debian package: the release binary, its man pages (written by
# the binary itself into target/man), then `cargo deb` (cargo install cargo-deb).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
./target/release/mailsetup generate man target/man
cargo deb --no-build "$@"
