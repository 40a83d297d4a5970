#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds, then runs every
# test inside a private network namespace (the test lab), where all of
# 127.0.0.0/8 is ours and no packet can leave the machine.
#
#   ./scripts/test.sh            everything
#   ./scripts/test.sh ARGS...    extra cargo test arguments (--test FILE, a name filter)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh

# Build outside the namespace (cargo may need to download crates).
cargo test --no-run --quiet

if [ "$(id -u)" != 0 ]; then
  echo "test.sh: the test lab needs root for its network namespace (CI runs as root); re-running with sudo" >&2
  exec sudo -E env "PATH=$PATH" "$0" "$@"
fi

# Inside the namespace: bring up loopback, then run all tests, including the
# ones marked #[ignore] because they need the lab.
unshare --net --pid --fork --mount-proc -- ./scripts/lab-run.sh "$@"
