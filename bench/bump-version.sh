#!/usr/bin/env bash
# Benchmark: the built binary's `bump-version --no-commit` on a fixture with every trap
# (dependency pin, trailing comment, third-party image, interpolated tag, CRLF compose file,
# changelog with compare links). Not a test: it reports figures.
#
#   bash bench/bump-version.sh            # uses hyperfine when installed, else a python timer
#   RUNS=500 bash bench/bump-version.sh
#
# Goal (issue 2): median <= 5 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-200}
cargo build --quiet --package xtask
BIN=${BIN:-$PWD/target/debug/xtask}
FIX=$(mktemp -d)
trap 'rm -rf "$FIX"' EXIT
cd "$FIX"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 SOURCE_DATE_EPOCH=1795219200 NO_COLOR=1
git init -q -b main .
git config user.name bench; git config user.email bench@example.com
cat > Cargo.toml <<'TOML'
[workspace]
members = []
[workspace.metadata.release]
compose = ["docker-compose.yml"]
images = ["ghcr.io/acme/app"]
TOML
cat > pyproject.toml <<'TOML'
[project]
name = "acme-app"
version = "1.2.3"  # the release version
dependencies = ["acme-sdk==1.2.3"]
TOML
printf 'services:\r\n  app:\r\n    image: ghcr.io/acme/app:v1.2.3  # own\r\n  worker:\r\n    image: "${W:-ghcr.io/acme/app:1.2.3}"\r\n  db:\r\n    image: postgres:1.2.3\r\n' > docker-compose.yml
{
  printf '# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Something.\n\n'
  for i in $(seq 200 -1 1); do printf '## [1.1.%d] - 2025-01-01\n\n### Fixed\n\n- Fix %d.\n\n' "$i" "$i"; done
  printf '[Unreleased]: https://github.com/acme/app/compare/v1.2.3...HEAD\n'
} > CHANGELOG.md
sed -i 's/## \[1.1.200\]/## [1.2.3]/' CHANGELOG.md
git add -A && git commit -q -m fixture
reset='git checkout -q -- .'
"$BIN" bump-version minor --no-commit >/dev/null && $reset
echo "fixture: $(wc -c < CHANGELOG.md) byte changelog, CRLF compose, $RUNS runs"
if command -v hyperfine >/dev/null; then
  hyperfine --style basic -N --warmup 20 --runs "$RUNS" --prepare "$reset" \
    --export-json "$FIX/h.json" "$BIN bump-version minor --no-commit"
  python3 - "$FIX/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"median {r['median']*1000:.2f} ms  mean {r['mean']*1000:.2f} ms  min {r['min']*1000:.2f} ms  max {r['max']*1000:.2f} ms")
PY
else
  python3 - "$BIN" "$RUNS" <<'PY'
import statistics, subprocess, sys, time
binary, runs = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(runs):
    subprocess.run(["git", "checkout", "-q", "--", "."], check=True)
    t = time.perf_counter()
    subprocess.run([binary, "bump-version", "minor", "--no-commit"], check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
print(f"median {statistics.median(times):.2f} ms  mean {statistics.mean(times):.2f} ms  min {min(times):.2f} ms  max {max(times):.2f} ms (python timer)")
PY
fi

# The sed floor: the same three files edited by one `sed -i` (no parsing, no checks, no git).
echo "sed floor (sed -i on the same three files):"
if command -v hyperfine >/dev/null; then
  hyperfine --style basic -N --warmup 20 --runs "$RUNS" --prepare "$reset" \
    --export-json "$FIX/s.json" "sed -i -e s/1\.2\.3/1.3.0/ pyproject.toml docker-compose.yml CHANGELOG.md" >/dev/null
  python3 - "$FIX/s.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print(f"median {r['median']*1000:.2f} ms  mean {r['mean']*1000:.2f} ms  min {r['min']*1000:.2f} ms  max {r['max']*1000:.2f} ms")
PY
fi
