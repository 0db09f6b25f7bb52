#!/usr/bin/env bash
# Times the Docker target on the reference app (base image cached, `cargo xtask provision` done):
#   1. docker-validate             wheel build, image build, run until healthy, probes, removal
#   2. publish-prod --only docker  (build reused) validate again, push 5 tags to 2 fresh registries, verify
#   3. publish-prod again          everything already there: read, skip, verify
# For each: wall time, time inside docker client processes (a wrapper given as SLIPWAY_DOCKER logs
# every call; overlapping calls, e.g. the parallel pushes, are counted once), time in the wheel
# build (python), and the rest: the tool's own overhead (planning, polling gaps, registry HTTP).
# Usage: bash bench/docker.sh [runs]   (default 3 runs; medians are reported)
set -euo pipefail

RUNS="${1:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export DOCKER_HOST="${DOCKER_HOST:-unix:///run/slipway/docker.sock}"
REAL_DOCKER=/usr/bin/docker
[ -x "$REAL_DOCKER" ] || REAL_DOCKER="$(command -v docker)"
"$REAL_DOCKER" image inspect slipway-base:bookworm-python >/dev/null 2>&1 || {
  echo "the base image is missing: run cargo xtask provision" >&2; exit 1; }

cargo build -q --manifest-path "$ROOT/Cargo.toml" -p xtask
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/xtask"
export SLIPWAY_TOOLS_DIR="${SLIPWAY_TOOLS_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/slipway-test-tools}"
unset CARGO_TARGET_DIR DOCKER_USERNAME DOCKER_PASSWORD
export NO_COLOR=1

WORK="$(mktemp -d /tmp/slipway-bench-docker.XXXXXX)"
REG_PIDS=()
REG_ADDRS=()
cleanup() {
  for p in "${REG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  # The local names that pushing left (<registry>/<image>:<tag> and @<digest>).
  for a in "${REG_ADDRS[@]}"; do
    "$REAL_DOCKER" image ls --digests --format '{{.Repository}} {{.Tag}} {{.Digest}}' |
      awk -v a="$a/" 'index($1, a) == 1 {print ($2 == "<none>") ? $1 "@" $3 : $1 ":" $2}' |
      xargs -r "$REAL_DOCKER" rmi >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/docker-shim" <<EOF
#!/bin/sh
s=\$(date +%s%N)
$REAL_DOCKER "\$@"
rc=\$?
echo "\$s \$(date +%s%N) \$1" >> "\$SLIPWAY_BENCH_LOG"
exit \$rc
EOF
chmod +x "$WORK/docker-shim"
export SLIPWAY_DOCKER="$WORK/docker-shim"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_registry() { # dir port
  mkdir -p "$1/data"
  cat > "$1/config.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $1/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$2
  secret: bench
EOF
  setsid /usr/bin/docker-registry serve "$1/config.yml" > "$1/log" 2>&1 &
  REG_PIDS+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$2/v2/" >/dev/null && return; sleep 0.05; done
  echo "registry on $2 did not start" >&2; exit 1
}

# wall_ms docker_ms python_ms for one command; its output goes to $WORK/out.txt.
measure() {
  : > "$WORK/calls.log"
  local t0 t1
  t0=$(date +%s%N)
  SLIPWAY_BENCH_LOG="$WORK/calls.log" "$@" > "$WORK/out.txt" 2>&1 || { cat "$WORK/out.txt" >&2; exit 1; }
  t1=$(date +%s%N)
  python3 - "$t0" "$t1" "$WORK/calls.log" "$WORK/out.txt" <<'PY'
import re, sys
t0, t1 = int(sys.argv[1]), int(sys.argv[2])
spans = sorted((int(a), int(b)) for a, b, *_ in (l.split() for l in open(sys.argv[3]) if l.strip()))
union, end = 0, 0
for a, b in spans:
    a = max(a, end)
    if b > a:
        union += b - a
        end = b
def ms(v, unit):
    return float(v) * {"ms": 1, "s": 1000}[unit]
py = 0.0
for line in open(sys.argv[4]):
    # the wheel build step, when it ran (not skipped): "✓ [1/3] build sdist + wheel … (5.0 s)"
    m = re.match(r"✓ \[\d+/\d+\] build sdist \+ wheel.*\(([\d.]+) (ms|s)\)$", line.strip())
    if m:
        py += ms(*m.groups())
print(f"{(t1 - t0) / 1e6:.0f} {union / 1e6:.0f} {py:.0f} {len(spans)}")
PY
}

declare -a V_ALL P_ALL R_ALL
for run in $(seq "$RUNS"); do
  FX="$WORK/fx-$run"
  mkdir -p "$FX"
  cp -r "$ROOT"/{Dockerfile,.dockerignore,pyproject.toml,src} "$FX"/
  rm -rf "$FX"/src/*.egg-info "$FX"/build
  P1=$(free_port); P2=$(free_port)
  REG_ADDRS+=("127.0.0.1:$P1" "127.0.0.1:$P2")
  start_registry "$WORK/reg-$run-a" "$P1"
  start_registry "$WORK/reg-$run-b" "$P2"
  cat > "$FX/Cargo.toml" <<EOF
[workspace]
members = []

[workspace.metadata.release]

[workspace.metadata.release.docker]
image = "acme/slipway-demo"
registries = ["127.0.0.1:$P1", "127.0.0.1:$P2"]
build-args = { BASE_IMAGE = "slipway-base:bookworm-python" }
EOF
  printf '# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-11-21\n\n- First.\n' > "$FX/CHANGELOG.md"
  printf '/target\n/build\n*.egg-info/\n' > "$FX/.gitignore"
  (cd "$FX" && git init -q -b main && git add -A &&
    git -c user.name=bench -c user.email=b@b commit -qm "release $run" &&
    git -c user.name=bench -c user.email=b@b tag -a v0.1.0 -m v0.1.0)

  V_ALL+=("$(cd "$FX" && measure "$BIN" docker-validate)")
  P_ALL+=("$(cd "$FX" && measure "$BIN" publish-prod --only docker --skip-ci-check)")
  grep -q "pushed v0.1.0, v0.1, v0, latest, sha-" "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; }
  R_ALL+=("$(cd "$FX" && measure "$BIN" publish-prod --only docker --skip-ci-check)")
  grep -q "every tag already holds this build" "$WORK/out.txt" || { cat "$WORK/out.txt"; exit 1; }
  for p in "${REG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  REG_PIDS=()
done

report() { # label, then "wall docker python calls" lines
  local label="$1"; shift
  printf '%s\n' "$@" | python3 -c '
import sys, statistics
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = lambda i: statistics.median(r[i] for r in rows)
wall, dock, py, calls = med(0), med(1), med(2), med(3)
own = wall - dock - py
print(f"{sys.argv[1]:<34} wall {wall/1000:6.2f} s | docker {dock/1000:6.2f} s ({calls:.0f} calls) | wheel {py/1000:5.2f} s | tool overhead {own:5.0f} ms ({100*own/wall:4.1f} %)")
' "$label"
}
echo "medians of $RUNS runs (base image cached; fresh fixture and registries each run):"
report "docker-validate" "${V_ALL[@]}"
report "publish-prod: push 5 tags x 2 regs" "${P_ALL[@]}"
report "publish-prod again (all skipped)" "${R_ALL[@]}"
