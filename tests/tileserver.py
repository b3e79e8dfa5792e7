"""A real HTTP tile server on a loopback socket for the tile tests (report and dashboard): every
path gives a 256 x 256 PNG of one colour, except ``/bad/...`` (an HTML page, not a tile) and
``/moved/...`` (a redirect elsewhere)."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


@contextmanager
def tile_server(colour: tuple[int, int, int]) -> Iterator[tuple[str, list[str]]]:
    """(base URL, the paths asked so far) while the server runs."""
    asked: list[str] = []
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buffer, format="PNG")
    tile = buffer.getvalue()

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            if self.path.startswith("/moved/"):
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere.png")
                self.end_headers()
                return
            body, kind = ((b"<html>not a tile</html>", "text/html")
                          if self.path.startswith("/bad/") else (tile, "image/png"))
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
