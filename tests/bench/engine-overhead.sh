#!/usr/bin/env bash
# Engine overhead: a pipeline of 100 actions that each run `true`, run by
# `slipway run`, against the same 100 commands run one by one by bash, in
# the same run on the same machine. Prints both times, the ratio and the
# overhead per action.
#
#   tests/bench/engine-overhead.sh            # builds the release CLI first
#   ACTIONS=50 tests/bench/engine-overhead.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ACTIONS=${ACTIONS:-100}
cargo build --release -q -p slipway-cli
SLIPWAY=$PWD/target/release/slipway
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SLIPWAY_HOME=$work/data
repo=$work/bench
mkdir -p "$repo/.slipway"
{
  echo "version: 1"
  echo "stages:"
  echo "  - name: Run"
  echo "    actions:"
  for i in $(seq "$ACTIONS"); do
    echo "      - { name: a$i, type: command, run-order: $i, commands: ['true'] }"
  done
} > "$repo/.slipway/ci.yml"
git -C "$repo" init -q -b main
git -C "$repo" add -A
git -C "$repo" -c user.name=b -c user.email=b@b commit -qm bench
"$SLIPWAY" repo add "$repo" --trust > /dev/null
# One warm-up run: the database and the page cache, as a user's second run.
"$SLIPWAY" run bench/ci --wait > /dev/null

now() { date +%s%N; }
t0=$(now)
"$SLIPWAY" run bench/ci --wait > /dev/null
t1=$(now)
for _ in $(seq "$ACTIONS"); do bash -c true; done
t2=$(now)

engine_ms=$(( (t1 - t0) / 1000000 ))
bash_ms=$(( (t2 - t1) / 1000000 ))
awk -v e="$engine_ms" -v b="$bash_ms" -v n="$ACTIONS" 'BEGIN {
  printf "slipway run, %d actions: %d ms\n", n, e
  printf "bash -c true x %d:        %d ms\n", n, b
  printf "ratio:                    %.2fx\n", e / b
  printf "overhead per action:      %.2f ms\n", (e - b) / n
}'
