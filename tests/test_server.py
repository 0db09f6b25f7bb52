"""Tests of the reference service (stdlib unittest; run by `cargo xtask ci`)."""

import json
import os
import signal
import subprocess
import sys
import time
import unittest
import urllib.request
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
sys.path.insert(0, str(SRC))

from slipway_demo import installed_version
from slipway_demo.server import serve


def get(port: int, path: str):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class ServerTest(unittest.TestCase):
    def setUp(self):
        self.httpd = serve("127.0.0.1", 0)
        self.port = self.httpd.server_address[1]

    def tearDown(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def test_health(self):
        self.assertEqual(get(self.port, "/health"), (200, {"status": "healthy"}))

    def test_version_is_the_installed_version(self):
        self.assertEqual(get(self.port, "/version"), (200, {"version": installed_version()}))

    def test_unknown_path(self):
        status, body = get(self.port, "/nope")
        self.assertEqual(status, 404)
        self.assertEqual(body["path"], "/nope")


class SigtermTest(unittest.TestCase):
    def test_sigterm_stops_quickly(self):
        env = dict(os.environ, PYTHONPATH=str(SRC), PORT="0", HOST="127.0.0.1")
        p = subprocess.Popen([sys.executable, "-m", "slipway_demo"], env=env, stderr=subprocess.PIPE)
        line = p.stderr.readline().decode()
        self.assertIn("listening on", line)
        started = time.monotonic()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=5), 0)
        self.assertLess(time.monotonic() - started, 2.0)
        p.stderr.close()


if __name__ == "__main__":
    unittest.main()
