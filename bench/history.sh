#!/usr/bin/env bash
# `history` over 1,000 ledger records: 500 releases (tags on 500 commits), each with a
# publish-prod record (5 stages, 11 steps, gates, artifacts) and a verify record in the notes
# `refs/notes/slipway`, all written with one `git fast-import`. Times, with hyperfine:
#   history                       goal ≤ 100 ms
#   history --format html -o F    goal ≤ 300 ms
# Usage: bash bench/history.sh   (hyperfine: apt-get install -y hyperfine)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install -y hyperfine" >&2; exit 1; }
cargo build -q --manifest-path "$ROOT/Cargo.toml" -p xtask
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/xtask"
export NO_COLOR=1 GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

WORK="$(mktemp -d /tmp/slipway-bench-history.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
REPO="$WORK/repo"
git init -q -b main "$REPO"

python3 - "$REPO" <<'PY' | git -C "$REPO" fast-import --quiet
import json, sys

RELEASES = 500
out = sys.stdout.buffer

def data(b):
    out.write(b"data %d\n" % len(b) + b + b"\n")

cargo = b'[workspace]\nmembers = []\n\n[workspace.metadata.release]\n\n[workspace.metadata.release.python]\npackage = "bench-app"\n'
t0 = 1_700_000_000
for i in range(1, RELEASES + 1):
    out.write(b"commit refs/heads/main\nmark :%d\n" % i)
    out.write(b"committer Bench <bench@example.com> %d +0000\n" % (t0 + i * 3600))
    data(b"release %d" % i)
    if i > 1:
        out.write(b"from :%d\n" % (i - 1))
    out.write(b"M 644 inline Cargo.toml\n")
    data(cargo)
    out.write(b"M 644 inline VERSION\n")
    data(b"1.%d.0\n" % i)
for i in range(1, RELEASES + 1):
    out.write(b"reset refs/tags/v1.%d.0\nfrom :%d\n\n" % (i, i))

def record(i, command, started, commit_mark):
    v = "1.%d.0" % i
    j = (i * 7919) % 97  # deterministic jitter
    def st(name, steps):
        return {"name": name, "status": "ok", "duration_ms": sum(s[1] for s in steps),
                "steps": [{"name": n, "status": "done", "duration_ms": ms} for n, ms in steps]}
    stages = [
        st("build", [("build sdist+wheel " + v, 4000 + j * 10), ("build image acme/app:" + v, 30000 + j * 50), ("validate acme/app:" + v, 8000 + j)]),
        st("test", [("gates pre-publish", 20000 + j * 20)]),
        st("publish", [("push acme/app:%s to ghcr.io" % v, 12000 + j * 40), ("push acme/app:%s to docker.io" % v, 11000 + j * 30),
                       ("upload to pypi", 5000 + j * 5), ("create the GitHub release v" + v, 900), ("upload release assets", 1500)]),
        st("verify", [("verify images", 3000 + j), ("verify the index", 2500)]),
        st("deploy", [("deploy to production", 15000 + j * 3)]),
    ]
    if command == "verify":
        stages = [st("verify", [("verify images", 3000 + j), ("verify the index", 2500)])]
    return json.dumps({
        "schema": "slipway.ledger/1", "version": v, "tag": "v" + v, "commit": "%040x" % commit_mark,
        "command": command, "status": "success", "started": started,
        "duration_ms": sum(s["duration_ms"] for s in stages), "stages": stages,
        "gates": [{"name": g, "status": "passed", "blocking": True} for g in ("tests", "ruff", "bandit")],
        "artifacts": [{"kind": "image", "name": "acme/app", "where": r, "digest": "sha256:%064x" % (i * 31 + k), "sha256": None}
                      for k, r in enumerate(("ghcr.io", "docker.io"))]
                     + [{"kind": "dist", "name": "bench_app-%s-py3-none-any.whl" % v, "where": "https://upload.pypi.org/legacy/",
                         "digest": None, "sha256": "%064x" % (i * 17)}],
        "moves": [], "host": "github-actions", "notes": None, "error": None, "rolled_back_to": None,
        "run": "%s-%d" % (command, i),
    }, separators=(",", ":"))

out.write(b"commit refs/notes/slipway\n")
out.write(b"committer Bench <bench@example.com> %d +0000\n" % (t0 + RELEASES * 3600 + 60))
data(b"the ledger")
for i in range(1, RELEASES + 1):
    start = t0 + i * 3600 + 120
    note = record(i, "publish-prod", start, i) + "\n\n" + record(i, "verify", start + 600, i) + "\n"
    out.write(b"N inline :%d\n" % i)
    data(note.encode())
PY
git -C "$REPO" checkout -q main

records=$("$BIN" -C "$REPO" history --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["records"], len(d["releases"]))')
echo "ledger: $records (records, releases)"
"$BIN" -C "$REPO" history --format html -o "$WORK/history.html" >/dev/null
echo "page: $(wc -c < "$WORK/history.html") bytes"

hyperfine -N --warmup 3 --min-runs 20 --export-json "$WORK/times.json" \
  -n history "$BIN -C $REPO history" \
  -n html "$BIN -C $REPO history --format html -o $WORK/history.html"

python3 - "$WORK/times.json" <<'PY'
import json, sys
goals = {"history": 100, "html": 300}
for r in json.load(open(sys.argv[1]))["results"]:
    ms = r["mean"] * 1000
    goal = goals[r["command"]]
    print("%-8s mean %6.1f ms  (min %6.1f, max %6.1f)  goal <= %d ms: %s"
          % (r["command"], ms, r["min"] * 1000, r["max"] * 1000, goal, "ok" if ms <= goal else "MISSED"))
PY
