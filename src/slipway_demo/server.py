"""A small HTTP service: GET /health and GET /version, stdlib only."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slipway_demo import installed_version


class Handler(BaseHTTPRequestHandler):
    server_version = "slipway-demo"

    def do_GET(self) -> None:  # http.server's naming
        if self.path == "/health":
            self._json(200, {"status": "healthy"})
        elif self.path == "/version":
            self._json(200, {"version": installed_version()})
        else:
            self._json(404, {"error": "not found", "path": self.path})

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt: str, *args) -> None:
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")


def serve(host: str, port: int) -> ThreadingHTTPServer:
    """Start serving in a background thread; returns the server (call shutdown() to stop)."""
    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def main() -> int:
    stop = threading.Event()
    # `docker stop` sends SIGTERM: stop at once instead of waiting for the 10 s SIGKILL. The
    # handlers go in first, so a signal that arrives while the server starts is not lost.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # In its container the service must answer on every interface; HOST narrows it.
    host = os.environ.get("HOST", "0.0.0.0")  # nosec B104
    port = int(os.environ.get("PORT", "8080"))
    httpd = serve(host, port)
    sys.stderr.write(f"slipway-demo {installed_version()} listening on {host}:{port}\n")
    sys.stderr.flush()
    stop.wait()
    httpd.shutdown()
    httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
