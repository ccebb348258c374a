"""`carecard serve`: serves the built site on 127.0.0.1 and rebuilds when inputs change.

Every request goes to 127.0.0.1 on an ephemeral port; every wait is bounded in time.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from generator.cli import main
from generator.errors import ConfigError
from generator.serve import Preview, serve

HANDMADE = Path(__file__).resolve().parent / "projects" / "handmade"
DEADLINE = 15.0


class _Headings(HTMLParser):
    """Collect the text of every <h1>."""

    def __init__(self) -> None:
        super().__init__()
        self.h1: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h1":
            self._inside = True
            self.h1.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.h1[-1] += data


def get(url: str) -> tuple[int, dict[str, str], str]:
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, dict(response.headers), response.read().decode("utf-8")


def h1(url: str) -> list[str]:
    parser = _Headings()
    parser.feed(get(url)[2])
    return [text.strip() for text in parser.h1]


def site_title(url: str) -> str:
    """The site title in the page's header (the overview's h1 is 'Overview')."""
    page = get(url)[2]
    found = re.search(r'<p class="site-title"><a href="[^"]*">([^<]*)</a></p>', page)
    return found.group(1) if found else ""


def wait_until(condition: Callable[[], bool], seconds: float = DEADLINE) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A copy of the handmade project; return its config path."""
    shutil.copytree(HANDMADE, tmp_path / "site")
    return tmp_path / "site" / "config.yaml"


@pytest.fixture
def preview(site: Path) -> Iterator[tuple[Preview, list[str]]]:
    errors: list[str] = []
    running = Preview(site, port=0, interval=0.1, echo=lambda _: None, echo_error=errors.append)
    running.start()
    try:
        yield running, errors
    finally:
        running.stop()


def test_serve_shows_the_overview_and_rebuilds_when_the_config_title_changes(site: Path) -> None:
    stop = threading.Event()
    ready: list[Preview] = []
    lines: list[str] = []
    worker = threading.Thread(
        target=serve, args=(site,),
        kwargs={"host": "127.0.0.1", "port": 0, "interval": 0.2, "stop": stop,
                "on_ready": ready.append, "echo": lines.append, "echo_error": lines.append},
        daemon=True,
    )
    worker.start()
    try:
        assert wait_until(lambda: bool(ready), 60), "the first build did not finish in time"
        url = ready[0].url
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        assert any(line.startswith(f"serving {site.parent / 'output'} at {url}")
                   for line in lines)
        status, headers, _ = get(url)
        assert status == 200 and headers["Cache-Control"] == "no-store"
        assert site_title(url) == "Handmade fixture"

        text = site.read_text(encoding="utf-8")
        site.write_text(text.replace("title: Handmade fixture", "title: Handmade preview"),
                        encoding="utf-8")
        assert wait_until(lambda: site_title(url) == "Handmade preview"), "no rebuild seen"
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert "stopped." not in lines  # stopped by the event, not by Ctrl-C


def test_a_new_content_page_is_served_after_the_rebuild(
    site: Path, preview: tuple[Preview, list[str]]
) -> None:
    running, _ = preview
    page = site.parent / "content" / "notes.md"
    page.parent.mkdir()
    page.write_text("---\ntitle: Team notes\n---\n\nHello.\n", encoding="utf-8")

    def served() -> bool:
        try:
            return h1(running.url + "pages/notes.html") == ["Team notes"]
        except OSError:  # 404 until the rebuild is swapped in
            return False

    assert wait_until(served)


def test_a_failed_rebuild_reports_the_error_and_keeps_serving_the_previous_site(
    site: Path, preview: tuple[Preview, list[str]]
) -> None:
    running, errors = preview
    text = site.read_text(encoding="utf-8")
    site.write_text(text.replace("within: 60m", "within: soon").replace(
        "title: Handmade fixture", "title: Broken"), encoding="utf-8")
    assert wait_until(lambda: running.failures >= 1)
    assert any(e.startswith("error: ") and "policy.first_response[2].within" in e
               and "found 'soon'" in e for e in errors), errors
    assert errors[-1] == "rebuild failed: still serving the previous site."
    assert site_title(running.url) == "Handmade fixture"

    site.write_text(text.replace("title: Handmade fixture", "title: Fixed"), encoding="utf-8")
    assert wait_until(lambda: site_title(running.url) == "Fixed")


def test_serve_binds_only_the_given_host(preview: tuple[Preview, list[str]]) -> None:
    running, _ = preview
    assert running.url.startswith("http://127.0.0.1:")
    assert running._server is not None
    assert running._server.server_address[0] == "127.0.0.1"


def status_for(url: str, path: str, host: str | None = None) -> int:
    """The status of GET `path` on the preview at `url`, sent with the Host header `host`."""
    assert url.startswith("http://127.0.0.1:")
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": f"127.0.0.1:{port}" if host is None else host})
        return connection.getresponse().status
    finally:
        connection.close()


def test_serve_lists_no_folder_and_refuses_a_foreign_host(
    preview: tuple[Preview, list[str]]
) -> None:
    running, _ = preview
    port = int(running.url.rstrip("/").rsplit(":", 1)[1])
    assert status_for(running.url, "/") == 200
    assert status_for(running.url, "/", f"localhost:{port}") == 200
    assert status_for(running.url, "/data/summary.json", f"LOCALHOST:{port}") == 200
    # No directory listings: a folder without index.html is not found.
    assert status_for(running.url, "/data/") == 404
    assert status_for(running.url, "/assets/") == 404
    # DNS rebinding: a page on evil.example whose name now points at 127.0.0.1.
    for host in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}",
                 f"127.0.0.1:{port + 1}", ""):
        assert status_for(running.url, "/", host) == 403, host
        assert status_for(running.url, "/data/summary.json", host) == 403, host


def test_a_taken_port_is_a_clear_error(site: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        running = Preview(site, port=port, echo=lambda _: None)
        with pytest.raises(ConfigError, match=rf"^127\.0\.0\.1:{port}: cannot listen: expected a "
                           "free port on a local address, found '.*'\\. Hint: pass another "
                           "--port"):
            running.start()
        running.stop()


def test_serve_command_stops_cleanly_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, site: Path
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("generator.serve.serve", interrupted)
    assert main(["serve", "--config", str(site), "--port", "0"]) == 0


def test_ctrl_c_while_serving_stops_the_server_and_returns(site: Path) -> None:
    lines: list[str] = []
    seen: list[Preview] = []

    def interrupt(running: Preview) -> None:
        seen.append(running)
        raise KeyboardInterrupt

    serve(site, port=0, interval=0.2, on_ready=interrupt, echo=lines.append,
          echo_error=lines.append)
    assert lines[-1] == "stopped."
    with pytest.raises(OSError):
        get(seen[0].url)
