"""Draw the site's charts: reuse cached drawings by content hash, draw the rest.

Receives chart specs (`charts.ChartSpec`); hands on each chart's drawing (its panels as inline
SVG, bytes). A chart's cache key
is the hash of its complete specification (data, goal, markers, labels), of the chart code and
of the matplotlib version, so an unchanged chart is never redrawn and a changed one always is.
Charts are drawn one after the other in this process: after a data drop only the charts whose
values changed are drawn, and a pool of processes cost more than it saved on two cores.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from generator.cache import Cache, code_digest
from generator.progress import progress
from generator.site.charts import ChartSpec, draw_chart


class ChartDrawer:
    """Draws chart specs into SVG bytes; counts what it drew and what came from the cache."""

    def __init__(self, cache: Cache | None = None) -> None:
        self.cache = cache
        self.drawn = 0
        self.from_cache = 0

    def draw(self, specs: Sequence[ChartSpec], names: Sequence[str]) -> list[bytes]:
        """The drawing of every spec, in order; `names` (e.g. "of page 'x.html'") name a chart
        that fails."""
        keys = [self._key(spec) for spec in specs]
        svgs: list[bytes] = []
        for spec, key, name in progress(list(zip(specs, keys, names)), len(specs),
                                        "drawing charts"):
            svg = self.cache.load_bytes("charts", key, ".html") if self.cache else None
            if svg is not None:
                self.from_cache += 1
            else:
                svg = _draw_one(spec, name)
                self.drawn += 1
                if self.cache:
                    self.cache.store_bytes("charts", key, ".html", svg)
            svgs.append(svg)
        return svgs

    def _key(self, spec: ChartSpec) -> str:
        if not self.cache:
            return ""
        import generator.site.charts

        return self.cache.key("chart", matplotlib_version(),
                              code_digest(generator.site.charts.__file__), repr(spec))


@functools.cache
def matplotlib_version() -> str:
    """The installed matplotlib's version, without importing it."""
    from importlib import metadata

    try:
        return metadata.version("matplotlib")
    except metadata.PackageNotFoundError:  # not installed as a distribution: ask the module
        import matplotlib

        return matplotlib.__version__


def _draw_one(spec: ChartSpec, name: str) -> bytes:
    from generator.errors import BuildError

    try:
        return draw_chart(spec)
    except Exception as exc:  # matplotlib raises many kinds; name the chart
        raise BuildError(f"chart {name}: drawing failed: {type(exc).__name__}: {exc}.") from None
