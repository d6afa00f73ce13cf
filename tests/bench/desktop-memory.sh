#!/usr/bin/env bash
# Desktop app, release build: first paint and idle memory of the whole
# process tree, against a bare WebKitGTK window (the baseline) in the same
# run. Runs the desktop end-to-end test against the release binary, RUNS
# times, and prints its FIGURE lines.
#
#   tests/bench/desktop-memory.sh          # builds the release app first
#   RUNS=1 tests/bench/desktop-memory.sh
# Needs what `make test` installs (Xvfb, tauri-driver, python3-gi).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-3}
make -s ui e2e-deps tauri-driver >/dev/null
cargo build --release -q -p slipway-desktop
export SLIPWAY_DESKTOP=$PWD/target/release/slipway-desktop
for run in $(seq "$RUNS"); do
  echo "== run $run"
  (cd tests/e2e && dbus-run-session -- node --test desktop.test.mjs 2>&1) | grep -E '^(# )?FIGURE|^# (pass|fail)' || true
done
