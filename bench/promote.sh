#!/usr/bin/env bash
# Promotion against publishing, on the reference app (base image cached, `cargo xtask provision`
# done), all registries local (Debian's docker-registry, no auth), in one run:
#   0. (untimed) docker-validate builds and validates the release's image once; the image is
#      pushed to a staging registry as dev-0.1.0 (the docker CLI, as a CI's build job would).
#   1. publish-prod --only docker   to two fresh registries (build and validation reused:
#                                   push 5 tags to each, verify)
#   2. promote 0.1.0                staging → two other fresh registries, by digest (blobs
#                                   streamed registry to registry, manifest, 5 tags each)
#   3. promote 0.1.0 again          everything there: read, skip
# Prints each wall time and the ratio publish-prod / promote (goal ≥ 3×).
# Usage: bash bench/promote.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/slipway/docker.sock}"
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER="$(command -v docker)"
"$DOCKER" image inspect slipway-base:bookworm-python >/dev/null 2>&1 || {
  echo "the base image is missing: run cargo xtask provision" >&2; exit 1; }

cargo build -q --manifest-path "$ROOT/Cargo.toml" -p xtask
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/xtask"
export SLIPWAY_TOOLS_DIR="${SLIPWAY_TOOLS_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/slipway-test-tools}"
unset CARGO_TARGET_DIR DOCKER_USERNAME DOCKER_PASSWORD
export NO_COLOR=1

WORK="$(mktemp -d /tmp/slipway-bench-promote.XXXXXX)"
export DOCKER_CONFIG="$WORK/docker-config"
REG_PIDS=()
REG_ADDRS=()
cleanup() {
  for p in "${REG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for a in "${REG_ADDRS[@]}"; do
    "$DOCKER" image ls --digests --format '{{.Repository}} {{.Tag}} {{.Digest}}' |
      awk -v a="$a/" 'index($1, a) == 1 {print ($2 == "<none>") ? $1 "@" $3 : $1 ":" $2}' |
      xargs -r "$DOCKER" rmi >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_registry() { # name → prints its address
  local dir="$WORK/reg-$1" port
  port=$(free_port)
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
  secret: bench
EOF
  setsid /usr/bin/docker-registry serve "$dir/config.yml" > "$dir/log" 2>&1 &
  REG_PIDS+=($!)
  REG_ADDRS+=("127.0.0.1:$port")
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && { ADDR="127.0.0.1:$port"; return; }
    sleep 0.05
  done
  echo "registry $1 did not start" >&2; exit 1
}

start_registry staging; STAGING=$ADDR
start_registry publish-a; PA=$ADDR
start_registry publish-b; PB=$ADDR
start_registry promote-a; QA=$ADDR
start_registry promote-b; QB=$ADDR

FX="$WORK/fx"
mkdir -p "$FX"
cp -r "$ROOT"/{Dockerfile,.dockerignore,pyproject.toml,src} "$FX"/
rm -rf "$FX"/src/*.egg-info "$FX"/build
cat > "$FX/Cargo.toml" <<EOF
[workspace]
members = []

[workspace.metadata.release]

[workspace.metadata.release.docker]
image = "acme/slipway-demo"
registries = ["$PA", "$PB"]
staging-registry = "$STAGING"
build-args = { BASE_IMAGE = "slipway-base:bookworm-python" }
EOF
printf '# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-11-21\n\n- First.\n' > "$FX/CHANGELOG.md"
printf '/target\n/build\n*.egg-info/\n' > "$FX/.gitignore"
(cd "$FX" && git init -q -b main && git add -A &&
  git -c user.name=bench -c user.email=b@b commit -qm "release" &&
  git -c user.name=bench -c user.email=b@b tag -a v0.1.0 -m v0.1.0)

run() { # label, command… → wall ms; output in $WORK/<label>.txt
  local label="$1" t0 t1; shift
  t0=$(date +%s%N)
  (cd "$FX" && "$@") > "$WORK/$label.txt" 2>&1 || { cat "$WORK/$label.txt" >&2; exit 1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}

echo "building and validating the image once (untimed)…" >&2
run validate "$BIN" docker-validate >/dev/null
IMAGE=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(iter(d.values()))["image"])' \
  "$FX/target/slipway/docker/builds.json")
"$DOCKER" tag "$IMAGE" "$STAGING/acme/slipway-demo:dev-0.1.0"
"$DOCKER" push -q "$STAGING/acme/slipway-demo:dev-0.1.0" >/dev/null
"$DOCKER" rmi "$STAGING/acme/slipway-demo:dev-0.1.0" >/dev/null

P=$(run publish "$BIN" publish-prod --only docker --skip-ci-check)
grep -q "pushed v0.1.0, v0.1, v0, latest, sha-" "$WORK/publish.txt" || { cat "$WORK/publish.txt"; exit 1; }
Q=$(run promote "$BIN" promote 0.1.0 --to "$QA,$QB")
grep -q "done: promoted v0.1.0" "$WORK/promote.txt" || { cat "$WORK/promote.txt"; exit 1; }
R=$(run again "$BIN" promote 0.1.0 --to "$QA,$QB")
grep -q "already promoted" "$WORK/again.txt" || { cat "$WORK/again.txt"; exit 1; }

BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["source"]["bytes"])' \
  "$FX/target/slipway/promote-0.1.0.json")
python3 - "$P" "$Q" "$R" "$BYTES" <<'PY'
import sys
p, q, r, b = (int(x) for x in sys.argv[1:])
print(f"image: {b / 1e6:.1f} MB (compressed blobs), 5 tags, 2 destination registries each")
print(f"publish-prod --only docker (build reused)  {p / 1000:7.2f} s")
print(f"promote (staging → 2 registries)           {q / 1000:7.2f} s")
print(f"promote again (already promoted)           {r / 1000:7.2f} s")
print(f"ratio publish-prod / promote               {p / q:7.1f}x   (goal >= 3x)")
PY
echo "publish-prod's steps:"
grep -E '^[✓↷✗] \[' "$WORK/publish.txt" | sed 's/^/  /'
echo "promote's step:"
grep -E '^[✓↷✗] \[' "$WORK/promote.txt" | sed 's/^/  /'
