#!/usr/bin/env bash
# Benchmark (issue 7): `cargo xtask rehearse` end to end with the base image cached. The
# rehearsal prints each stage's duration, the time spent inside docker/python/git/gh (the floor:
# the sum over child processes, so work done in parallel — registries pushed concurrently —
# counts once per process) and the share spent in the tool itself; its JSON report is under
# target/slipway/reports/rehearsal-*.json.
#
#   bash bench/rehearse.sh        (provisions first, like `cargo xtask ci`)
#   bash bench/rehearse.sh --platform linux/amd64 --platform linux/arm64
#                                 (issue 15: two platforms with the split; needs
#                                 SLIPWAY_ARM64=1 cargo xtask provision; prints the overlap)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --package xtask
start=$(date +%s.%N)
target/debug/xtask rehearse "$@" | tail -n 40
end=$(date +%s.%N)
report=$(ls -t target/slipway/reports/rehearsal-*.json | head -n 1)
python3 - "$report" "$start" "$end" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
print("stages:", ", ".join(f"{s['name']} {s['duration_ms'] / 1000:.1f} s" for s in r["stages"]))
floor = r["time_in_tools_ms"] / 1000
busy = r["time_tools_busy_ms"] / 1000
own = r["tool_own_ms"] / 1000
total = r["duration_ms"] / 1000
print(f"wall {wall:.1f} s (rehearsal {total:.1f} s); floor = sum over docker/python/git/gh processes {floor:.1f} s; "
      f"busy (at least one running) {busy:.1f} s; the tool itself {own:.2f} s ({100 * own / total:.1f}%)")
split = r.get("split")
if split:
    per = ", ".join(f"{p['platform']} {p['duration_ms'] / 1000:.1f} s" for p in split["platforms"])
    print(f"split: {per}; all platforms {split['wall_ms'] / 1000:.1f} s vs their sum {split['sum_ms'] / 1000:.1f} s "
          f"(overlap {(split['sum_ms'] - split['wall_ms']) / 1000:.1f} s)")
PY
