"""Draw the site's charts: reuse cached SVGs by content hash, draw the rest across the cores.

A chart's cache key is the hash of its complete specification (data, goal, markers, labels) and
the matplotlib version, so an unchanged chart is never redrawn and a changed one always is.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Sequence
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

    def draw(self, specs: Sequence[ChartSpec]) -> list[Drawn]:
        """SVG bytes of every spec, in order."""
        import matplotlib

        results: list[Drawn | None] = [None] * len(specs)
        keys = [self._key(spec, matplotlib.__version__) for spec in specs]
        missing = []
        for index, key in enumerate(keys):
            cached = self.cache.load_bytes("charts", key, ".svg") if self.cache and key else None
            if cached is not None:
                results[index] = Drawn(cached)
                self.from_cache += 1
            else:
                missing.append(index)
        for index, drawn in zip(missing, self._draw_all([specs[i] for i in missing])):
            results[index] = drawn
            if not drawn.error and self.cache is not None:
                self.cache.store_bytes("charts", keys[index], ".svg", drawn.svg)
        self.drawn += len(missing)
        return [r if r is not None else Drawn(b"", "not drawn") for r in results]

    def _key(self, spec: ChartSpec, version: str) -> str:
        if not self.cache:
            return ""
        import generator.charts

        return self.cache.key("chart", version, code_digest(generator.charts.__file__), repr(spec))

    def _draw_all(self, specs: list[ChartSpec]) -> list[Drawn]:
        workers = min(self.workers, len(specs))
        if workers < 2 or len(specs) < PARALLEL_FROM or not sys.platform.startswith("linux"):
            return [_draw_one(spec) for spec in progress(specs, len(specs), "drawing charts")]
        # Fork after matplotlib is imported, so that workers start without importing it again.
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot

        context = multiprocessing.get_context("fork")
        chunk = max(1, len(specs) // (workers * 4))
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            drawn = pool.map(_draw_one, specs, chunksize=chunk)
            return list(progress(drawn, len(specs), "drawing charts"))


def _draw_one(spec: ChartSpec) -> Drawn:
    try:
        return Drawn(draw_chart(spec))
    except Exception as exc:  # matplotlib raises many kinds; the caller names the chart
        return Drawn(b"", f"{type(exc).__name__}: {exc}")
