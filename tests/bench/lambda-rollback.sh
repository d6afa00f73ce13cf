#!/usr/bin/env bash
# Lambda rollback: how long `slipway rollback api` takes, from the command's
# start to the alias serving the restored version, against the AWS CLI's
# `aws lambda update-alias` making the same change directly (the baseline),
# in the same run against the same moto server. Prints the median and p90
# of both and their ratio, for a one-shot command (no engine running: the
# command is the engine) and for a rollback handed to a running engine
# (`slipway watch`, as with the desktop app).
#
# The environment is set up by two releases (versions 1 and 2 of the
# function); each rollback restores the other version, alternately. The
# alias is read every few milliseconds straight from moto (curl, unsigned:
# moto checks no signature), so the time is when the alias changed, not
# when a command exited. The baseline is measured twice per round, there
# and back, so that every slipway rollback really moves the alias.
#
#   tests/bench/lambda-rollback.sh          # builds the release CLI first
#   ROUNDS=20 tests/bench/lambda-rollback.sh
#   SLIPWAY=target/debug/slipway tests/bench/lambda-rollback.sh
# Needs what `make test` installs (.venv with moto and the AWS CLI, the
# keyring tools), curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-10}
if [ -z "${SLIPWAY:-}" ]; then
  cargo build --release -q -p slipway-cli
  SLIPWAY=$PWD/target/release/slipway
fi
SLIPWAY=$(realpath "$SLIPWAY")
export SLIPWAY ROUNDS
# The profile's keys live in a keychain: a throwaway one.
if [ "${SLIPWAY_TEST_KEYRING:-}" != 1 ]; then
  exec tests/with-keyring.sh "$0" "$@"
fi

root=$PWD
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MOTO=http://127.0.0.1:$port
"$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 200); do curl -s -o /dev/null "$MOTO" && break; sleep 0.05; done
REGION=eu-west-1
awscli() {
  env -u AWS_PROFILE AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
    "$root/.venv/bin/aws" --endpoint-url "$MOTO" --region "$REGION" --output json "$@"
}
# What the alias serves, read from moto directly (the Authorization header
# only tells moto the region).
serves() {
  curl -s -H "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/$REGION/lambda/aws4_request, SignedHeaders=host, Signature=0" \
    "$MOTO/2015-03-31/functions/orders-api/aliases/live" |
    sed -n 's/.*"FunctionVersion": *"\([^"]*\)".*/\1/p'
}
now_us() { echo "${EPOCHREALTIME/./}"; }

# The function, in moto.
awscli iam create-role --role-name lambda --assume-role-policy-document \
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}' >/dev/null
python3 -c 'import zipfile,sys; z=zipfile.ZipFile(sys.argv[1],"w"); z.writestr("handler.py","def handler(e,c): return 0\n"); z.close()' "$work/initial.zip"
awscli lambda create-function --function-name orders-api --runtime python3.12 \
  --role arn:aws:iam::123456789012:role/lambda --handler handler.handler \
  --zip-file "fileb://$work/initial.zip" >/dev/null

# Slipway: a data directory, the profile, a repository with the pipeline.
export SLIPWAY_HOME=$work/data SLIPWAY_LOG=warn AWS_ENDPOINT_URL=$MOTO
printf '%s\n' 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzBENCHKEY' |
  "$SLIPWAY" creds add prod --access-key-id AKIAEXAMPLEBENCH --region us-east-1 >/dev/null
repo=$work/bench
mkdir -p "$repo/.slipway" "$repo/app"
cat >"$repo/.slipway/rel.yml" <<EOF
version: 1
name: rel
environments:
  api:
    provider: lambda
    account: prod
    region: $REGION
    function: orders-api
    strategy: all-at-once
stages:
  - name: Build
    actions:
      - name: package
        type: build
        outputs: [out]
        buildspec:
          version: 0.2
          phases:
            build:
              commands: ["true"]
          artifacts:
            base-directory: app
            files: ["**/*"]
  - name: Deploy
    actions:
      - { name: deploy, type: deploy, environment: api, inputs: [out] }
EOF
git -C "$repo" init -q -b main
for v in 1 2; do
  printf 'def handler(e, c):\n    return %s\n' "$v" >"$repo/app/handler.py"
  git -C "$repo" add -A
  git -C "$repo" -c user.name=b -c user.email=b@b commit -qm "v$v"
  if [ "$v" = 1 ]; then "$SLIPWAY" repo add "$repo" --trust >/dev/null; fi
  "$SLIPWAY" run bench/rel --wait >/dev/null 2>"$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
done
[ "$(serves)" = 2 ] || { echo "setup: the alias does not serve version 2" >&2; exit 1; }

# Runs "$@" in the background; prints "A E": the ms from its start until
# the alias serves version $want, and until the command ended.
timed() {
  local want=$1
  shift
  local t0 t1 t2 pid
  t0=$(now_us)
  "$@" >"$work/out" 2>&1 &
  pid=$!
  until [ "$(serves)" = "$want" ]; do
    if ! kill -0 "$pid" 2>/dev/null && [ "$(serves)" != "$want" ]; then
      echo "\`$*\` ended without the alias serving version $want:" >&2
      cat "$work/out" >&2
      exit 1
    fi
  done
  t1=$(now_us)
  wait "$pid" || { echo "\`$*\` failed:" >&2; cat "$work/out" >&2; exit 1; }
  t2=$(now_us)
  echo "$(((t1 - t0) / 1000)) $(((t2 - t0) / 1000))"
}

# UpdateAlias as one unsigned HTTP request (moto checks no signature):
# the change itself, with no client around it.
raw_update() {
  curl -sf -X PUT -H 'Content-Type: application/json' \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/$REGION/lambda/aws4_request, SignedHeaders=host, Signature=0" \
    -d "{\"FunctionVersion\":\"$1\",\"RoutingConfig\":{\"AdditionalVersionWeights\":{}}}" \
    "$MOTO/2015-03-31/functions/orders-api/aliases/live" >/dev/null
}

# median and p90 of column $2 of file $1, "M P"
stats() {
  awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%d %d %d\n", m, v[int(0.9 * NR + 0.999999)], NR
  }'
}
line() { # label file column
  read -r m p n < <(stats "$2" "$3")
  printf "  %-52s n=%-3d median %5d ms   p90 %5d ms\n" "$1" "$n" "$m" "$p"
}

for mode in oneshot engine; do
  if [ "$mode" = engine ]; then
    "$SLIPWAY" watch >"$work/watch.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 600); do grep -q '^ready' "$work/watch.log" && break; sleep 0.05; done
    grep -q '^ready' "$work/watch.log" || { echo "slipway watch did not start" >&2; exit 1; }
  fi
  : >"$work/slipway-$mode"
  : >"$work/aws-$mode"
  : >"$work/raw-$mode"
  for _ in $(seq "$ROUNDS"); do
    current=$(serves)
    other=$((3 - current))
    timed "$other" "$SLIPWAY" rollback api --wait >>"$work/slipway-$mode"
    # The baselines go there and back, so the next rollback moves the
    # alias again.
    timed "$current" awscli lambda update-alias --function-name orders-api --name live \
      --function-version "$current" >>"$work/aws-$mode"
    timed "$other" awscli lambda update-alias --function-name orders-api --name live \
      --function-version "$other" >>"$work/aws-$mode"
    timed "$current" raw_update "$current" >>"$work/raw-$mode"
    timed "$other" raw_update "$other" >>"$work/raw-$mode"
  done
  case $mode in
    oneshot) echo "== no engine running (the command is the engine): $ROUNDS rollbacks" ;;
    engine) echo "== handed to a running engine (slipway watch): $ROUNDS rollbacks" ;;
  esac
  line "slipway rollback api --wait: until the alias moved" "$work/slipway-$mode" 1
  line "slipway rollback api --wait: until it exited" "$work/slipway-$mode" 2
  line "aws lambda update-alias (baseline): until moved" "$work/aws-$mode" 1
  line "one UpdateAlias HTTP request (floor): until moved" "$work/raw-$mode" 1
  read -r s _ < <(stats "$work/slipway-$mode" 1)
  read -r a _ < <(stats "$work/aws-$mode" 1)
  awk -v s="$s" -v a="$a" 'BEGIN { printf "  ratio of medians, slipway / aws cli:                 %.2fx\n", s / a }'
done
# Every rollback was recorded as a deployment of its own.
"$SLIPWAY" deployments api --limit 100 --json |
  jq -r '[.[] | select(.initiator == "user" and .status == "Succeeded")] | "recorded rollbacks: \(length)"'
