#!/usr/bin/env bash
# Runs Slipway's test suites (all, or those named: rust ui browser desktop),
# shows their output, and ends with one line `N passed, N failed` counting
# every test of every suite. Exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/tests/.out
mkdir -p "$OUT"
export NO_COLOR=1 FORCE_COLOR=0 CARGO_TERM_COLOR=never

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(rust ui browser desktop)

passed=0
failed=0
broken=()

# add SUITE PASSED FAILED EXIT: counts a suite; a suite that failed without
# a failing test (a build error, a crash) counts as one failure.
add() {
  local name=$1 p=$2 f=$3 code=$4
  if [ "$code" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" -gt 0 ] && broken+=("$name")
  printf '\n== %s: %d passed, %d failed\n\n' "$name" "$p" "$f"
}

# The browser and desktop suites drive the debug binaries. Always build the
# whole workspace: building one package alone resolves features differently
# and would rebuild Tauri's dependencies from scratch.
built=
build_once() {
  [ -n "$built" ] && return
  built=1
  cargo build --workspace 2>&1 | tail -n 3
}

run_rust() {
  local log=$OUT/rust.log
  build_once
  # The credentials tests use a real Secret Service keychain: a private
  # D-Bus session with an unlocked gnome-keyring, made by with-keyring.sh.
  bash tests/with-keyring.sh cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
  local code=${PIPESTATUS[0]}
  local p f
  p=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) passed.*/\1/' | awk '{s+=$1} END {print s+0}')
  f=$(grep -E '^test result:' "$log" | sed -E 's/.* ([0-9]+) failed.*/\1/' | awk '{s+=$1} END {print s+0}')
  add "cargo test" "${p:-0}" "${f:-0}" "$code"
}

run_ui() {
  local log=$OUT/ui.log code p f
  (cd ui && npm run --silent check) 2>&1 | tee "$log.check"
  code=${PIPESTATUS[0]}
  add "ui type check" $((code == 0 ? 1 : 0)) $((code == 0 ? 0 : 1)) "$code"
  (cd ui && npx vitest run) 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  p=$(grep -E '^ *Tests ' "$log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' | head -1)
  f=$(grep -E '^ *Tests ' "$log" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' | head -1)
  add "ui unit (vitest)" "${p:-0}" "${f:-0}" "$code"
}

# node's test runner prints `# pass N` and `# fail N` at the end.
run_node() {
  local name=$1 file=$2; shift 2
  local log=$OUT/$name.log code p f
  (cd tests/e2e && "$@" node --test --test-reporter=spec --test-reporter-destination=stdout \
     --test-reporter=tap --test-reporter-destination="$log.tap" "$file") 2>&1 | tee "$log"
  code=${PIPESTATUS[0]}
  p=$(grep -E '^# pass ' "$log.tap" 2>/dev/null | awk '{print $3}')
  f=$(grep -E '^# fail ' "$log.tap" 2>/dev/null | awk '{print $3}')
  add "$name" "${p:-0}" "${f:-0}" "$code"
}

run_browser() {
  build_once
  run_node "browser e2e" browser.test.mjs
  # AWS environments need a profile whose keys are in a real keychain.
  run_node "browser aws e2e" aws.test.mjs bash ../with-keyring.sh
}
run_desktop() {
  build_once
  run_node "desktop e2e" desktop.test.mjs dbus-run-session --
}

for s in "${suites[@]}"; do
  case $s in
    rust | ui | browser | desktop) "run_$s" ;;
    *) echo "unknown suite '$s' (rust, ui, browser, desktop)" >&2; exit 2 ;;
  esac
done

[ ${#broken[@]} -gt 0 ] && echo "failing suites: ${broken[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
