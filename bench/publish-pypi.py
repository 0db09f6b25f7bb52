#!/usr/bin/env python3
"""Benchmark (issue 5): build + check + upload + verify of the reference package with a warm tool
venv, against a fresh pypiserver on loopback each round. Reports the split (build, upload,
verify) from the publish report and the tool's own overhead (wall time not spent waiting for
python/twine/pip child processes, from SLIPWAY_CHILD_TIME_FILE).

    python3 bench/publish-pypi.py [ROUNDS]     (after `cargo xtask provision`)
"""
import warnings
warnings.filterwarnings("ignore", category=DeprecationWarning)  # crypt: bcrypt for htpasswd, stdlib only
import crypt, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
subprocess.run(["cargo", "build", "-q", "-p", "xtask"], cwd=ROOT, check=True)
BIN = ROOT / "target/debug/xtask"
TOOLS = ROOT / "target/slipway-test-tools"
server = next(TOOLS.glob("pypiserver-*/bin/pypi-server"), None)
if not server:
    sys.exit("run `cargo xtask provision` first (it creates the pypiserver venv)")
ENV = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1", NO_COLOR="1",
           GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x",
           SLIPWAY_TOOLS_DIR=str(TOOLS), TWINE_USERNAME="bench", TWINE_PASSWORD="bench-pw-123")
for k in ("PYPI_TOKEN", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    ENV.pop(k, None)

rows = []
for r in range(ROUNDS):
    work = Path(tempfile.mkdtemp(prefix="bench-pypi-"))
    try:
        (work / "index/packages").mkdir(parents=True)
        (work / "index/htpasswd").write_text("bench:%s\n" % crypt.crypt("bench-pw-123", crypt.mksalt(crypt.METHOD_BLOWFISH)))
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        srv = subprocess.Popen([str(server), "run", "-p", str(port), "-i", "127.0.0.1", "-P", str(work / "index/htpasswd"),
                                "-a", "update", "--disable-fallback", str(work / "index/packages")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1); break
            except Exception:
                time.sleep(0.05)
        repo = work / "repo"
        for rel in ["pyproject.toml", "src/slipway_demo/__init__.py", "src/slipway_demo/__main__.py",
                    "src/slipway_demo/server.py", "src/slipway_demo/README.md", "CHANGELOG.md", ".gitignore"]:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, repo / rel)
        (repo / "Cargo.toml").write_text(
            "[workspace]\nmembers = []\n[workspace.metadata.release]\n[workspace.metadata.release.python]\n"
            f"repository-url = \"http://127.0.0.1:{port}/\"\nindex-url = \"http://127.0.0.1:{port}/simple/\"\n")
        for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "b"], ["git", "tag", "v0.1.0"]):
            subprocess.run(cmd, cwd=repo, env=ENV, check=True)
        times = work / "child.txt"
        t = time.perf_counter()
        out = subprocess.run([str(BIN), "publish-prod", "--only", "pypi", "--skip-ci-check", "--json"], cwd=repo,
                             env=dict(ENV, SLIPWAY_CHILD_TIME_FILE=str(times)), capture_output=True, text=True)
        wall = time.perf_counter() - t
        if out.returncode != 0:
            sys.exit(out.stderr)
        report = json.loads(out.stdout)
        stage = {s["name"]: s["duration_ms"] / 1000 for s in report["stages"]}
        child = sum(int(x) for x in times.read_text().split()) / 1e9
        rows.append((wall, stage.get("build", 0), stage.get("publish", 0), stage.get("verify", 0), wall - child))
        srv.terminate(); srv.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)

print(f"{ROUNDS} rounds, warm tool venv (median):")
for i, name in enumerate(["total", "build+check", "upload", "verify", "tool overhead"]):
    v = statistics.median(r[i] for r in rows)
    print(f"  {name:<14} {v:6.2f} s" + (f"  ({100 * v / statistics.median(r[0] for r in rows):.1f}% of total)" if i == 4 else ""))
