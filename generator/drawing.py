"""Draw the site's charts: reuse cached SVGs by content hash, draw the rest across the cores.

A chart's cache key is the hash of its complete specification (data, goal, markers, labels) and
the matplotlib version, so an unchanged chart is never redrawn and a changed one always is.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from generator.cache import Cache, code_digest
from generator.charts import ChartSpec, draw_chart
from generator.progress import progress

log = logging.getLogger(__name__)
#: Below this many charts to draw, starting worker processes costs more than it saves.
PARALLEL_FROM = 6


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
        import matplotlib

        keys = [self._key(spec, matplotlib.__version__) for spec in specs]
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
        import generator.charts

        return self.cache.key("chart", version, code_digest(generator.charts.__file__), repr(spec))


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
        if workers >= 2 and len(specs) >= PARALLEL_FROM and sys.platform.startswith("linux"):
            # Fork after matplotlib is imported, so that workers start without importing it.
            import_matplotlib()
            context = multiprocessing.get_context("fork")
            chunk = max(1, len(specs) // (workers * 4))
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            self._drawing = self._pool.map(_draw_one, specs, chunksize=chunk)
            # Every chart is submitted: the workers exit as soon as the charts are drawn rather
            # than idle until the pages are rendered. A worker keeps the memory pages it shares
            # with this process as they were at the fork, so each page this process rewrites
            # meanwhile is held twice (at 10M interactions about 0.06 GiB less at the peak).
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


def import_matplotlib() -> None:
    """Import what drawing a chart needs (about a quarter of a second)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure


def preload() -> threading.Thread:
    """Import matplotlib in a background thread while the engine reads and computes (its
    queries release the GIL), so that the import is done by the time the charts start.
    Join the thread before `ChartDrawer.start` forks the workers."""

    def run() -> None:
        try:
            import_matplotlib()
        except Exception:  # the import in ChartDrawer.start fails again and reports it
            log.debug("preloading matplotlib failed", exc_info=True)

    thread = threading.Thread(target=run, name="carecard-preload", daemon=True)
    thread.start()
    return thread


def _draw_one(spec: ChartSpec) -> Drawn:
    try:
        return Drawn(draw_chart(spec))
    except Exception as exc:  # matplotlib raises many kinds; the caller names the chart
        return Drawn(b"", f"{type(exc).__name__}: {exc}")
