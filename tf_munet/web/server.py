"""A local static server for an exported site, cross-origin isolated so LiteRT.js can use threads.

Multi-threaded WebAssembly needs `SharedArrayBuffer`, which browsers give only to cross-origin
isolated pages: every response carries COOP `same-origin` and COEP `require-corp` (the site
loads nothing from other origins, so nothing breaks). `.wasm`, `.mjs`/`.js` and `.tflite` get
the MIME types browsers need to compile WebAssembly streaming and to load ES modules.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}
TYPES = {".wasm": "application/wasm", ".js": "text/javascript", ".mjs": "text/javascript",
         ".tflite": "application/octet-stream", ".json": "application/json", ".css": "text/css"}


class IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler with the isolation headers, no caching and no request log."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass

    def copyfile(self, source, outputfile) -> None:
        """Send a file, counting its bytes in the server's `bytes_served` (page-load size)."""
        while chunk := source.read(1 << 16):
            outputfile.write(chunk)
            self.server.bytes_served += len(chunk)


class SiteServer:
    """Serves `folder` on 127.0.0.1 (port 0: a free one) from a background thread.

    Use as a context manager; `url` is the page's address, `bytes_served` counts the bytes of
    the files sent so far.
    """

    def __init__(self, folder: str | os.PathLike, port: int = 0, host: str = "127.0.0.1"):
        handler = functools.partial(IsolatedHandler, directory=str(Path(folder)))
        self.httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.httpd.bytes_served = 0
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def bytes_served(self) -> int:
        return self.httpd.bytes_served

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self) -> "SiteServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
