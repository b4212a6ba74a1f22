"""Serve a site written by `ssvae-edge web` on localhost, for a quick look and for the browser tests.

localhost is a secure context, so the page gets SubtleCrypto (its sha256 checks) and, on a desktop with
sensors, motion events. Responses are gzip-compressed when the browser accepts it, as most static HTTPS
hosts do (the wasm binary is already a .gz file, served as it is). Nothing is cached, so a rebuilt site is seen
at the next reload. Not a production server: a phone needs HTTPS (README § In the browser).
"""

from __future__ import annotations

import gzip
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COMPRESSED = (".html", ".js", ".mjs", ".css", ".json", ".wasm", ".onnx", ".csv")


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".mjs": "text/javascript", ".js": "text/javascript", ".onnx": "application/octet-stream",
                      ".gz": "application/gzip"}
    cache: dict[Path, bytes] = {}

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass  # quiet: the command prints its URL, the tests their own failures

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802 (the base class's name)
        path = Path(self.translate_path(self.path))
        if (not path.is_file() or path.suffix not in COMPRESSED
                or "gzip" not in self.headers.get("Accept-Encoding", "")):
            return super().do_GET()
        key = (path, path.stat().st_mtime_ns)
        body = self.cache.get(key)  # type: ignore[call-overload]
        if body is None:
            body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
            self.cache[key] = body  # type: ignore[index]
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def make_server(folder: str | Path, port: int = 8000, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server for `folder` on host:port (port 0: any free port; `server.server_port` says which)."""
    handler = partial(_Handler, directory=str(folder))
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_background(folder: str | Path, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start a server in a daemon thread; return it and the site's URL (call `server.shutdown()` to stop)."""
    server = make_server(folder, port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/"
