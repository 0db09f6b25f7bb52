#!/usr/bin/env bash
# Benchmark: `changelog --all` and the since-last-tag case on synthetic histories built with
# `git fast-import` (1k, 10k, 100k conventional commits, a release tag every 100 commits),
# against `git log` alone with the same format in the same run. Reports wall time and peak RSS.
#
#   bash bench/changelog.sh              # all sizes
#   SIZES="1000 10000" bash bench/changelog.sh
#
# Goals (issue 3): --all at 100k <= 1.5x the `git log` time and <= 64 MB; since-last-tag <= 10 ms.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000 10000 100000"}
cargo build --quiet --package xtask
BIN=${BIN:-$PWD/target/debug/xtask}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 NO_COLOR=1

make_repo() { # $1 = commits
  local n=$1 dir=$WORK/h$1
  git init -q -b main "$dir"
  printf '[workspace]\nmembers = []\n' > "$WORK/Cargo.toml"
  python3 - "$n" <<'PY' | git -C "$dir" fast-import --quiet
import sys
n = int(sys.argv[1])
types = ["feat", "fix", "perf", "docs", "chore", "refactor", "feat(api)", "fix(db)"]
out = sys.stdout.buffer
cargo = b'[workspace]\nmembers = []\n'
t = 1_700_000_000
for i in range(1, n + 1):
    ty = types[i % len(types)]
    bang = "!" if i % 997 == 0 else ""
    msg = f"{ty}{bang}: change number {i} (#{i % 500 + 1})\n\nBody of change {i}.\n".encode()
    out.write(b"commit refs/heads/main\n")
    out.write(f"mark :{i}\n".encode())
    out.write(f"author Dev {i % 37} <dev{i % 37}@example.com> {t + i} +0000\n".encode())
    out.write(f"committer Dev <dev@example.com> {t + i} +0000\n".encode())
    out.write(f"data {len(msg)}\n".encode() + msg)
    if i == 1:
        out.write(f"M 644 inline Cargo.toml\ndata {len(cargo)}\n".encode() + cargo)
    out.write(b"\n")
    if i % 100 == 0:
        v = f"v{i // 10000}.{(i // 100) % 100}.0"
        out.write(f"reset refs/tags/{v}\nfrom :{i}\n\n".encode())
PY
  git -C "$dir" reset -q --hard main
  git -C "$dir" pack-refs --all   # as in any cloned repository
  echo "$dir"
}

measure() { # prints "seconds peakKB" for a command, output discarded
  /usr/bin/time -f "%e %M" "$@" > /dev/null 2> "$WORK/time.txt" || { cat "$WORK/time.txt"; exit 1; }
  tail -n 1 "$WORK/time.txt"
}

# slipway's own peak RSS (VmHWM of its process alone; GNU time's %M is the largest process of the
# tree, which for `--all` is the `git log --topo-order` child).
own_peak() {
  python3 - "$@" <<'PY'
import re, subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
peak = 0
while p.poll() is None:
    try:
        peak = max(peak, int(re.search(r"VmHWM:\s+(\d+)", open(f"/proc/{p.pid}/status").read()).group(1)))
    except Exception:
        pass
    time.sleep(0.002)
print(peak)
PY
}

printf '%-8s %-28s %-28s %-8s %-14s %s\n' commits "git log (s, peak KB)" "changelog --all (s, KB)" ratio "own peak KB" "since-last-tag median"
for n in $SIZES; do
  dir=$(make_repo "$n")
  # Two commits after the last tag, as in a normal working day.
  git -C "$dir" -c user.name=d -c user.email=d@x commit -q --allow-empty -m "fix: after the tag"
  git -C "$dir" -c user.name=d -c user.email=d@x commit -q --allow-empty -m "feat: after the tag"
  read -r glt glm < <(measure git -C "$dir" log -z --no-color --topo-order '--format=%H%x1f%P%x1f%an%x1f%ae%x1f%as%x1f%B' HEAD)
  read -r clt clm < <(measure "$BIN" -C "$dir" changelog --all --format md)
  ratio=$(python3 -c "print(f'{$clt / max($glt, 0.001):.2f}x')")
  own=$(own_peak "$BIN" -C "$dir" changelog --all --format md)
  since=$(cd "$dir" && hyperfine -N --style none --warmup 5 --runs 50 --export-json "$WORK/s.json" "$BIN changelog" > /dev/null 2>&1 \
    && python3 -c "import json;print(f\"{json.load(open('$WORK/s.json'))['results'][0]['median']*1000:.2f} ms\")" \
    || echo "n/a (hyperfine missing)")
  printf '%-8s %-28s %-28s %-8s %-14s %s\n' "$n" "$glt s, $glm KB" "$clt s, $clm KB" "$ratio" "$own" "$since"
done
