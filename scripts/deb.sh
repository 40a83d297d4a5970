#!/usr/bin/env bash
# Builds the Debian package: the release binary (scripts/build-release.sh,
# statically linked), its man pages (written by the binary itself into
# target/man), then `cargo deb` (cargo install cargo-deb).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build-release.sh
./target/release/mailsetup generate man target/man
cargo deb --no-build "$@"
