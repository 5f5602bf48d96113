"""A loopback HTTP/1.1 server for driver tests: counts the POSTs that reach it and keeps their queries."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

BODY = b'{"results":[],"computation_time_ms":1.0}'


class RecordingServer(http.server.ThreadingHTTPServer):
    """Answers every POST with 200 and a valid body; `posts` counts them, `queries` keeps each query text."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts = 0
        self.queries: list[str | None] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        with self.server.lock:
            self.server.posts += 1
            self.server.queries.append(payload.get("query", payload.get("text1")))
        self._answer(200, BODY)

    def do_GET(self):  # noqa: N802 - /metrics and the like: not the service
        self._answer(404, b"{}")

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = RecordingServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
