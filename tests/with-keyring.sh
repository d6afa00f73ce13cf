#!/usr/bin/env bash
# Runs its arguments with a Secret Service keychain: a private D-Bus session
# bus and an unlocked gnome-keyring-daemon, inside fresh HOME / XDG dirs, so
# tests use real keychain items without touching the user's keyring.
#
#   tests/with-keyring.sh cargo test -p slipway-core
#
# Idempotent: when already inside a keyring this script started
# (SLIPWAY_TEST_KEYRING=1), it just runs the command. It never reuses the
# caller's session bus or keyring, even when one is running.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: tests/with-keyring.sh COMMAND [ARGS…]" >&2
  exit 2
fi

if [ "${SLIPWAY_TEST_KEYRING:-}" = 1 ] && [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  exec "$@"
fi

for tool in dbus-run-session gnome-keyring-daemon; do
  if ! command -v "$tool" >/dev/null; then
    echo "tests/with-keyring.sh: $tool is missing: install dbus and gnome-keyring (make test does, via apt)" >&2
    exit 1
  fi
done

if [ "${1:-}" != "--inside" ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/slipway-keyring.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  mkdir -p "$scratch/home" "$scratch/data" "$scratch/config" "$scratch/cache" "$scratch/run"
  chmod 700 "$scratch/run"
  # Not exec: the trap removes the scratch directory afterwards.
  set +e
  env -u DBUS_SESSION_BUS_ADDRESS -u GNOME_KEYRING_CONTROL \
    HOME="$scratch/home" \
    XDG_DATA_HOME="$scratch/data" \
    XDG_CONFIG_HOME="$scratch/config" \
    XDG_CACHE_HOME="$scratch/cache" \
    XDG_RUNTIME_DIR="$scratch/run" \
    CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" \
    RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
    dbus-run-session -- "$0" --inside "$@"
  code=$?
  exit "$code"
fi

shift
# The daemon prints GNOME_KEYRING_CONTROL=… lines; the password only
# unlocks this throwaway login keyring.
eval "$(printf '%s' slipway-test | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL SLIPWAY_TEST_KEYRING=1
exec "$@"
