"""Draw the site's charts: reuse cached SVGs by content hash, draw the rest across the cores.

A chart's cache key is the hash of its complete specification (data, goal, markers, labels) and
the matplotlib version, so an unchanged chart is never redrawn and a changed one always is.

On Linux the charts are drawn in worker processes forked from a small server process (the
multiprocessing "forkserver") that :func:`start_server` starts early in a build and that has
matplotlib imported: a worker shares nothing with the build process, which is large by the time
the charts are drawn (at 10M interactions, workers forked from it held a copy of each page it
rewrote meanwhile), and holds none of its file descriptors (such as the output folder's lock).
"""

from __future__ import annotations

import ast
import functools
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import InvalidStateError, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from generator.cache import Cache, code_digest
from generator.site.charts import ChartSpec, draw_chart
from generator.progress import progress
from generator.signals import held_back

log = logging.getLogger(__name__)
#: Below this many charts to draw, starting worker processes costs more than it saves (unless
#: the build started the server already: then a worker starts in milliseconds).
PARALLEL_FROM = 6
#: What the server imports once for every worker it forks: first :mod:`generator.chartserver`
#: (it leaves Ctrl-C to the build, and quiets workers orphaned by a stopped build), then all
#: that drawing a chart needs.
WORKER_MODULES = ["generator.chartserver", "generator.site.drawing", "matplotlib.figure",
                  "matplotlib.backends.backend_svg"]

_started = False  # start_server ran in this process (its server is reused by later builds)
_unusable = False  # the server cannot be used in this process (see _run_server)


@dataclass(frozen=True)
class Drawn:
    """One chart's SVG, or the error that stopped it."""

    svg: bytes
    error: str = ""


class ChartDrawer:
    """Draws chart specs into SVG bytes; counts what it drew and what came from the cache."""

    def __init__(self, cache: Cache | None = None, workers: int | None = None) -> None:
        self.cache = cache
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.drawn = 0
        self.from_cache = 0

    def start(self, specs: Sequence[ChartSpec]) -> PendingCharts:
        """Start drawing every spec in worker processes and return at once; the caller does
        other work (rendering pages) meanwhile and then collects the SVGs with `result()`."""
        version = matplotlib_version() if self.cache else ""
        keys = [self._key(spec, version) for spec in specs]
        cached: dict[int, Drawn] = {}
        for index, key in enumerate(keys):
            data = self.cache.load_bytes("charts", key, ".svg") if self.cache and key else None
            if data is not None:
                cached[index] = Drawn(data)
        self.from_cache += len(cached)
        missing = [i for i in range(len(specs)) if i not in cached]
        self.drawn += len(missing)
        return PendingCharts(self, keys, cached, missing, [specs[i] for i in missing])

    def _key(self, spec: ChartSpec, version: str) -> str:
        if not self.cache:
            return ""
        import generator.site.charts

        return self.cache.key("chart", version, code_digest(generator.site.charts.__file__), repr(spec))


class PendingCharts:
    """Charts being drawn: `result()` waits for them (in order); leaving the `with` block
    stops the workers, also when the caller failed meanwhile."""

    def __init__(
        self,
        drawer: ChartDrawer,
        keys: list[str],
        cached: dict[int, Drawn],
        missing: list[int],
        specs: list[ChartSpec],
    ) -> None:
        self._drawer, self._keys, self._cached, self._missing = drawer, keys, cached, missing
        self._pool: ProcessPoolExecutor | None = None
        self._drawing: Iterator[Drawn] | None = None
        workers = min(drawer.workers, len(specs))
        if specs and drawer.workers >= 2 and _forks() and (_started or len(specs) >= PARALLEL_FROM):
            # From the server if it runs (or starts now); else forked from this process.
            method = "forkserver" if _run_server() else "fork"
            chunk = max(1, len(specs) // (workers * 4))
            _quiet_broken_pool_race()
            self._pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context(method),
                initializer=_start_worker,
            )
            self._drawing = self._pool.map(_draw_one, specs, chunksize=chunk)
            # Every chart is submitted: the workers exit (and free their memory) as soon as the
            # charts are drawn rather than idle until the pages are rendered.
            self._pool.shutdown(wait=False)
        self._specs = specs

    def result(self) -> list[Drawn]:
        """SVG bytes of every spec, in order (drawn ones are stored in the cache)."""
        drawing = self._drawing if self._drawing is not None else map(_draw_one, self._specs)
        results = dict(self._cached)
        cache = self._drawer.cache
        for index, drawn in zip(self._missing, progress(drawing, len(self._specs),
                                                         "drawing charts")):
            results[index] = drawn
            if not drawn.error and cache is not None:
                cache.store_bytes("charts", self._keys[index], ".svg", drawn.svg)
        return [results.get(i, Drawn(b"", "not drawn")) for i in range(len(self._keys))]

    def __enter__(self) -> PendingCharts:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def start_server() -> None:
    """Start the process that the chart workers are forked from, on Linux with two cores or
    more; it imports matplotlib (about half a second of CPU) while this process goes on.

    Call it early in a build, while this process is small: it starts with a fresh interpreter
    (`fork` then `exec`), and a server that is running already (an earlier build in this
    process) is reused. It exits when this process does. Where it cannot be used (see
    :func:`_run_server`), the workers are forked from this process when the charts are drawn.
    """
    if _forks() and (os.cpu_count() or 1) >= 2:
        _run_server()


@functools.cache
def matplotlib_version() -> str:
    """The installed matplotlib's version, without importing it (the workers do)."""
    from importlib import metadata

    try:
        return metadata.version("matplotlib")
    except metadata.PackageNotFoundError:  # not installed as a distribution: ask the module
        import matplotlib

        return matplotlib.__version__


def _forks() -> bool:
    return sys.platform.startswith("linux")


def _run_server() -> bool:
    """Make sure the server runs; False where it cannot be used.

    A worker the server forks imports this program's main module again (as `__mp_main__`), as
    multiprocessing's "forkserver" and "spawn" methods do: a script that builds at import time,
    with no `if __name__ == "__main__":`, would start a build in every worker (which would
    then wait for this build's output lock forever). Such a program gets workers forked from
    itself instead, as does one where the server cannot start (its socket path under TMPDIR
    too long, for example).
    """
    global _started, _unusable
    if _unusable:
        return False
    if not _main_is_guarded():
        log.debug("the main module has no __main__ guard: chart workers are forked from it")
        _unusable = True
        return False
    from multiprocessing import forkserver, resource_tracker

    # The preload list is multiprocessing's global; it only applies to a server started now.
    forkserver.set_forkserver_preload(WORKER_MODULES)
    try:
        # Ctrl-C (sent to the whole process group) is the build's to report. The server
        # ignores it once its first preload module (chartserver) runs; until then it starts
        # with SIGINT blocked, as this thread has it here, and this thread notes one that
        # comes meanwhile and stops after. The resource tracker first: starting it unblocks
        # SIGINT, which would open that window again.
        resource_tracker.ensure_running()
        with held_back(signal.SIGINT):
            forkserver.ensure_running()
    except OSError as error:
        log.warning("could not start the chart workers' server (%s); forking the workers from "
                    "the build instead", error)
        _unusable = True
        return False
    _started = True
    return True


def _main_is_guarded() -> bool:
    """Whether importing the main module again runs nothing but definitions: it has no file
    (an interactive session, `python -c`), is a package's `__main__` (multiprocessing does not
    import those again), or its top level holds only imports, definitions, assignments that
    call nothing, and `if __name__ == "__main__":` blocks (console scripts, most programs)."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    if name is not None and (name == "__main__" or name.endswith(".__main__")):
        return True
    path = getattr(main, "__file__", None)
    if path is None:
        return True
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return False
    return all(_inert(statement) for statement in tree.body)


def _inert(statement: ast.stmt) -> bool:
    """A top-level statement that runs no code of the program when imported."""
    if isinstance(statement, ast.Import | ast.ImportFrom | ast.FunctionDef
                  | ast.AsyncFunctionDef | ast.ClassDef | ast.Pass):
        return True
    if isinstance(statement, ast.Expr):
        return isinstance(statement.value, ast.Constant)  # a docstring
    if isinstance(statement, ast.Assign | ast.AnnAssign):
        return statement.value is None or not any(
            isinstance(node, ast.Call) for node in ast.walk(statement.value))
    if isinstance(statement, ast.If):
        test = statement.test
        return (isinstance(test, ast.Compare) and len(test.ops) == 1
                and isinstance(test.ops[0], ast.Eq)
                and {ast.dump(test.left), ast.dump(test.comparators[0])}
                == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))}
                and not statement.orelse)
    return False


def _start_worker() -> None:
    # The build reports interrupts: a worker ignores Ctrl-C (sent to the whole process group)
    # and dies quietly on SIGTERM (a worker forked from the build inherits its handlers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # What the worker shares with the server stays shared: the collector never visits it
    # (visiting an object writes to its memory page, which the worker then holds a copy of).
    gc.freeze()
    # multiprocessing's parent of a worker is the build (also when the server forked it on
    # the build's behalf): without this watch, a worker of a killed build would wait for more
    # charts forever.
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        from multiprocessing.connection import wait

        wait([sentinel])  # ready once the build has exited, however it exited
        os._exit(1)

    threading.Thread(target=watch, name="carecard-parent-watch", daemon=True).start()


def _quiet_broken_pool_race() -> None:
    """Print nothing for one known error of Python 3.11's process pool (gh-107219, fixed in
    3.12): when its workers die while the build stops (SIGTERM to the whole process group),
    the pool's manager thread tries to fail a chart it had cancelled and raises
    InvalidStateError, which the thread printed as a traceback. Any other error of any thread
    is printed as before. Installed once, by the first pool."""
    global _quieted
    if _quieted or sys.version_info >= (3, 12):
        return
    _quieted = True
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        trace = args.exc_traceback
        while trace is not None:
            code = trace.tb_frame.f_code
            if (code.co_name == "terminate_broken"
                    and code.co_filename.endswith(os.path.join("futures", "process.py"))
                    and isinstance(args.exc_value, InvalidStateError)):
                return
            trace = trace.tb_next
        previous(args)

    threading.excepthook = hook


_quieted = False


def _draw_one(spec: ChartSpec) -> Drawn:
    try:
        return Drawn(draw_chart(spec))
    except Exception as exc:  # matplotlib raises many kinds; the caller names the chart
        return Drawn(b"", f"{type(exc).__name__}: {exc}")
