"""The browser harness itself: Debian's Chromium renders a loopback page and runs its script."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

PAGE = b"""<!doctype html><title>probe</title>
<button id=b onclick="document.getElementById('out').textContent='clicked'">go</button>
<p id=out>idle</p>"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def probe_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def test_chromium_clicks_a_button_on_a_loopback_page(page, probe_url: str) -> None:
    page.goto(probe_url)
    assert page.text_content("#out") == "idle"
    page.click("#b")
    assert page.text_content("#out") == "clicked"
