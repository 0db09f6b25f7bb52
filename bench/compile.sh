#!/usr/bin/env bash
# Benchmark: cold `cargo build -p xtask` of the tool versus a throwaway crate with only the
# chosen dependencies (anyhow, clap, duct, semver, serde_json, toml_edit, ureq, xshell) and an
# empty `main`, in one run on this machine, both with the workspace's dev profile. Also: warm
# `cargo xtask --help` against cargo's own floor (`cargo run` of the empty skeleton), and whether
# the first `cargo build -p xtask` after a `cargo xtask ci`-style inner cargo call compiles
# anything. Not a test: it reports figures.
#
#   bash bench/compile.sh
#
# Goals (issue 10): tool ≤ 1.3× the skeleton; warm --help ≤ cargo's floor + 10 ms; no recompile.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# The skeleton: the tool's own dependency lines (same versions and features), an empty main.
mkdir -p "$WORK/skeleton/src"
{
  printf '[package]\nname = "skeleton"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\n'
  sed -n '/^\[dependencies\]/,/^\[/p' xtask/Cargo.toml | grep -E '^(anyhow|clap|duct|semver|serde_json|toml_edit|ureq|xshell) '
  printf '\n[profile.dev]\ndebug = 0\n[profile.dev.package."*"]\nopt-level = 2\n'
} > "$WORK/skeleton/Cargo.toml"
echo 'fn main() {}' > "$WORK/skeleton/src/main.rs"
cp Cargo.lock "$WORK/skeleton/Cargo.lock" 2>/dev/null || true

secs() { python3 -c 'import sys,time; print(f"{time.time():.3f}")'; }

echo "== cold builds (CARGO_TARGET_DIR fresh for each, 2 cores)"
t0=$(secs)
CARGO_TARGET_DIR="$WORK/t-skel" cargo build --quiet --manifest-path "$WORK/skeleton/Cargo.toml"
t1=$(secs)
CARGO_TARGET_DIR="$WORK/t-tool" cargo build --quiet --locked -p xtask
t2=$(secs)
skel=$(python3 -c "print(f'{$t1-$t0:.1f}')")
tool=$(python3 -c "print(f'{$t2-$t1:.1f}')")
ratio=$(python3 -c "print(f'{($t2-$t1)/($t1-$t0):.2f}')")
echo "skeleton (chosen deps, empty main): ${skel} s"
echo "cargo build -p xtask:               ${tool} s  (${ratio}× the skeleton; goal ≤ 1.3×)"

echo "== warm cargo xtask --help vs cargo's floor"
export CARGO_TARGET_DIR="$WORK/t-tool"
cargo build --quiet -p xtask
CARGO_TARGET_DIR="$WORK/t-skel" cargo build --quiet --manifest-path "$WORK/skeleton/Cargo.toml"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 --runs 20 -N \
    "cargo run --quiet --manifest-path $WORK/skeleton/Cargo.toml" \
    "cargo xtask --help" 2>&1 | grep -E 'Time|±|cargo'
else
  python3 - "$WORK" <<'PY'
import subprocess, sys, time, os, statistics
work = sys.argv[1]
def med(cmd, env):
    ts = []
    for _ in range(20):
        t = time.perf_counter(); subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1000
e = dict(os.environ)
floor = med(["cargo", "run", "--quiet", "--manifest-path", f"{work}/skeleton/Cargo.toml"], {**e, "CARGO_TARGET_DIR": f"{work}/t-skel"})
help_ = med(["cargo", "xtask", "--help"], e)
print(f"cargo's floor (cargo run of an empty main): {floor:.1f} ms")
print(f"cargo xtask --help:                          {help_:.1f} ms  (+{help_-floor:.1f} ms; goal ≤ +10 ms)")
PY
fi

echo "== the first cargo xtask after cargo xtask ci"
# `cargo xtask ci` runs cargo fmt/clippy/test from inside `cargo run`; the tool clears cargo's
# build variables for them, so the next warm build must print only `Finished`. The full ci takes
# minutes: RUN_CI=1 runs it here; otherwise run this right after a `cargo xtask ci`.
unset CARGO_TARGET_DIR
if [ "${RUN_CI:-0}" = 1 ]; then cargo xtask ci >/dev/null 2>&1 || echo "(ci failed; the check below still counts)"; fi
out=$(cargo build -p xtask 2>&1)
if grep -q Compiling <<<"$out"; then
  echo "recompiled: $(grep -c Compiling <<<"$out") crate(s): $(grep Compiling <<<"$out" | awk '{print $2}' | tr '\n' ' ')"
else
  echo "no recompile (only: $(tail -1 <<<"$out" | sed 's/^ *//'))"
fi
