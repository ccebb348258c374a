"""`carecard serve`: build, serve the output folder on localhost, rebuild when inputs change.

A background thread polls `input_fingerprint` (content hashes of config, drops, content and
templates) and calls `build` again when it changes. The build swaps the output folder in one
step, and the handler resolves every request against the output *path*, so a request after a
rebuild sees the new site and never a mixture. A failed rebuild is reported and the previous
site stays served.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import CarecardError, ConfigError, Problem

if TYPE_CHECKING:
    from generator.build import BuildResult

log = logging.getLogger(__name__)

Echo = Callable[[str], None]


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _stdout(text: str) -> None:
    print(text, flush=True)


class _Handler(SimpleHTTPRequestHandler):
    """Serve files of the output folder, never cached, logging requests at debug level only.

    No folder is listed (a folder without index.html is 404), and a request whose Host is not
    the bound address or `localhost` with the port is refused with 403: a page elsewhere that
    points its own host name at 127.0.0.1 (DNS rebinding) cannot read the preview.
    """

    server: _Server

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        if self._host_allowed():
            return True
        self.send_error(HTTPStatus.FORBIDDEN,
                        "Host must be the address carecard serve listens on, or localhost")
        return False

    def _host_allowed(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        port = self.server.server_address[1]
        names = {name.lower() for name in self.server.host_names}
        names.add(str(self.server.server_address[0]).lower())
        names.add("localhost")
        allowed = {f"[{n}]" if ":" in n else n for n in names}
        return host in {f"{name}:{port}" for name in allowed} or (port == 80 and host in allowed)

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")
        return None

    def end_headers(self) -> None:
        # A preview must show the latest build on reload, not the browser's copy.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    host_names: tuple[str, ...] = ()
    """The --host given (besides the bound address and localhost, the Host values served)."""


def _server_for(host: str, port: int, folder: Path) -> _Server:
    """Bind an HTTP server to exactly `host`:`port`, serving `folder` by path."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server_class = type("_BoundServer", (_Server,), {"address_family": family})
    # directory= is a path string: each request joins it afresh, so the swapped-in folder
    # is what gets served after a rebuild.
    handler = partial(_Handler, directory=str(folder))
    try:
        server = server_class((host, port), handler)
    except OSError as error:
        raise ConfigError(Problem(
            f"{host}:{port}", "cannot listen", "a free port on a local address",
            error.strerror or str(error),
            hint="pass another --port (0 picks any free port) or --host.",
        )) from None
    server.host_names = (host,)
    return server


class Preview:
    """A running preview: the HTTP server and the rebuild watcher, started and stopped as one."""

    def __init__(
        self,
        config_path: Path | str,
        host: str = "127.0.0.1",
        port: int = 8000,
        interval: float = 1.0,
        echo: Echo = _stdout,
        echo_error: Echo = _stderr,
    ) -> None:
        self.config_path = Path(config_path)
        self.host = host
        self.port = port
        self.interval = interval
        self.echo = echo
        self.echo_error = echo_error
        self.output = self.config_path.parent / "output"
        self.builds = 0
        """Successful builds so far (the first one included)."""
        self.failures = 0
        """Failed rebuilds so far."""
        self._halt = threading.Event()
        self._server: _Server | None = None
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        """The address the site is served at (with the bound port when port 0 was asked)."""
        if self._server is None:
            raise RuntimeError("the preview is not running")
        port = self._server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}/"

    def start(self) -> str:
        """Build once (errors propagate), then serve and watch in background threads."""
        from generator.build import build

        result = build(self.config_path)
        self.output = result.output
        self._report(result)
        fingerprint = self._fingerprint()
        self._server = _server_for(self.host, self.port, self.output)
        self._threads = [
            threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                             name="carecard-serve", daemon=True),
            threading.Thread(target=self._watch, args=(fingerprint,), name="carecard-watch",
                             daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self.url

    def stop(self) -> None:
        """Stop watching and serving; wait for both threads."""
        self._halt.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=max(5.0, self.interval * 2))

    def _fingerprint(self) -> str:
        """The inputs' content hash; for a config that does not load, a hash of its problem."""
        from generator.build import input_fingerprint
        from generator.config.loader import load_config

        try:
            return input_fingerprint(load_config(self.config_path), self.output)
        except (CarecardError, OSError) as error:
            # Still changes when the broken file changes, so a fix triggers a rebuild.
            try:
                raw = self.config_path.read_bytes()
            except OSError:
                raw = b""
            digest = hashlib.sha256(raw + str(error).encode("utf-8")).hexdigest()
            return f"unloadable:{digest}"

    def _watch(self, fingerprint: str) -> None:
        while not self._halt.wait(self.interval):
            current = self._fingerprint()
            if current == fingerprint:
                continue
            # Editors save in several steps: wait for the inputs to settle (bounded).
            for _ in range(10):
                if self._halt.wait(min(0.2, self.interval)):
                    return
                settled = self._fingerprint()
                if settled == current:
                    break
                current = settled
            fingerprint = current
            self.rebuild()

    def rebuild(self) -> bool:
        """Build again; on failure report the error and keep serving the previous site."""
        from generator.build import build

        self.echo("change detected: rebuilding …")
        try:
            result = build(self.config_path, output=self.output)
        except CarecardError as error:
            self.failures += 1
            for problem in error.problems:
                self.echo_error(f"error: {problem}")
            self.echo_error("rebuild failed: still serving the previous site.")
            return False
        except Exception as error:  # a preview must outlive any one bad build
            self.failures += 1
            log.debug("rebuild failed", exc_info=True)
            self.echo_error(f"error: unexpected {type(error).__name__}: {error}")
            self.echo_error("rebuild failed: still serving the previous site.")
            return False
        self._report(result)
        return True

    def _report(self, result: BuildResult) -> None:
        self.builds += 1
        for warning in result.config.warnings:
            self.echo_error(f"warning: {warning}")
        what = "nothing changed" if result.skipped else "built"
        self.echo(f"{what}: {result.pages} pages, {result.charts} charts from "
                  f"{result.rows_read} rows ({result.rows_rejected} rejected) in "
                  f"{result.seconds:.1f}s")


def serve(
    config_path: Path | str,
    host: str = "127.0.0.1",
    port: int = 8000,
    interval: float = 1.0,
    stop: threading.Event | None = None,
    on_ready: Callable[[Preview], None] | None = None,
    echo: Echo = _stdout,
    echo_error: Echo = _stderr,
) -> None:
    """Build, serve and rebuild on change until `stop` is set or Ctrl-C."""
    if interval <= 0:
        raise ConfigError(Problem("--interval", "polling interval", "a positive number of "
                                  "seconds", str(interval)))
    preview = Preview(config_path, host, port, interval, echo=echo, echo_error=echo_error)
    url = preview.start()
    try:
        echo(f"serving {preview.output} at {url} (rebuilds when config, data, content or "
             "templates change; Ctrl-C stops)")
        if on_ready is not None:
            on_ready(preview)
        halt = stop or threading.Event()
        while not halt.wait(0.25):
            pass
    except KeyboardInterrupt:
        echo("stopped.")
    finally:
        preview.stop()
