"""Liveness and readiness over HTTP (stdlib server in a daemon thread).

``GET /healthz``: 200 while the controller's loop runs. ``GET /readyz``: 200 once the
controller has read its source cluster (and, when it leads, synced), else 503. Both
answer a small JSON document (never credentials). ``GET /metrics``: the controller's
Prometheus metrics in the text format (when given). Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["METRICS_CONTENT_TYPE", "HealthServer"]

#: The Prometheus text exposition format.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HealthServer:
    """``port`` 0 picks a free one (see :attr:`port` after :meth:`start`)."""

    def __init__(
        self,
        *,
        alive: Callable[[], bool],
        ready: Callable[[], bool],
        state: Callable[[], Mapping[str, Any]] = dict,
        metrics: Callable[[], bytes] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._alive = alive
        self._ready = ready
        self._state = state
        self._metrics = metrics
        self.host = host
        self.port = port
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> HealthServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics" and owner._metrics is not None:
                    text = owner._metrics()
                    self.send_response(200)
                    self.send_header("Content-Type", METRICS_CONTENT_TYPE)
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
                if path in ("/healthz", "/livez"):
                    ok = owner._alive()
                elif path == "/readyz":
                    ok = owner._ready()
                else:
                    self.send_error(404)
                    return
                body = json.dumps({"ok": ok, **owner._state()}).encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        httpd = ThreadingHTTPServer((self.host, self.port), Handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        threading.Thread(target=httpd.serve_forever, daemon=True, name="health").start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
