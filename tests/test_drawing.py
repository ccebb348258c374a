"""Drawing a site's charts: SVGs cached by the content hash of their specification."""

from __future__ import annotations

from pathlib import Path

import pytest
import sitefakes  # noqa: F401  (puts the repository on sys.path)
from test_charts import spec

from generator.cache import Cache
from generator.errors import BuildError
from generator.site.charts import draw_chart
from generator.site.drawing import ChartDrawer


def test_charts_are_the_bytes_draw_chart_makes() -> None:
    specs = [spec(f"Chart {i}") for i in range(3)]
    assert ChartDrawer().draw(specs, ["a", "b", "c"]) == [draw_chart(s) for s in specs]


def test_cached_charts_are_not_drawn_again(tmp_path: Path) -> None:
    specs = [spec(f"Chart {i}") for i in range(3)]
    first = ChartDrawer(Cache(tmp_path))
    drawn = first.draw(specs, ["a", "b", "c"])
    assert (first.drawn, first.from_cache) == (3, 0)
    again = ChartDrawer(Cache(tmp_path))
    assert again.draw([*specs, spec("New")], ["a", "b", "c", "d"])[:3] == drawn
    assert (again.drawn, again.from_cache) == (1, 3)


def test_a_chart_that_cannot_be_drawn_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = spec("Broken")
    monkeypatch.setattr("generator.site.drawing.draw_chart",
                        lambda s: (_ for _ in ()).throw(ValueError("no data")))
    with pytest.raises(BuildError) as raised:
        ChartDrawer().draw([bad], ["'charts/x.svg' (for page 'x.html')"])
    assert str(raised.value) == ("chart 'charts/x.svg' (for page 'x.html'): drawing failed: "
                                 "ValueError: no data.")
