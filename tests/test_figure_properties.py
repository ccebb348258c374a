"""Properties every figure has, whatever the interactions (Hypothesis): the order of the rows
does not matter, a new period leaves the other periods' figures alone (data-through fixed),
and ratios stay within [0, 1]."""

from __future__ import annotations

import textwrap
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.build import check
from generator.model import METRICS_BY_ID

CONFIG = """
site:
  title: Properties
  timezone: Europe/Berlin
  periods: [week, month]
  data_through: 2026-12-31T00:00:00+00:00
sources:
  - name: desk
    path: exports/*.csv
    timezone: UTC
    # The implausible-timestamp rule is drop-relative by design; these properties are about
    # figures, so it is set wide enough never to apply (replies come within 4 days).
    max_future: 30d
    columns: {id: Case, received_at: Created, first_response_at: Replied, resolved_at: Closed,
              channel: Network, csat: Score, team: Queue, category: Category}
    dimensions: [team]
policy:
  exclude:
    - {name: spam, where: {category: spam}}
  first_response:
    - {where: {channel: email}, within: 4h}
    - {within: 60m}
  goals:
    response_rate: {min: 0.9}
    sla_attainment: {min: 0.8}
    frt_median: {max: 30}
"""
HEADER = "Case,Created,Replied,Closed,Network,Queue,Category,Score\n"
START = datetime(2026, 10, 5, 0, 0)  # a Monday; the rows span three weeks from here

interaction = st.tuples(
    st.integers(0, 21 * 24 * 60 - 1),  # received: minutes after START
    st.one_of(st.none(), st.integers(0, 48 * 60)),  # first response: minutes after receipt
    st.one_of(st.none(), st.integers(0, 96 * 60)),  # resolved: minutes after receipt
    st.sampled_from(["twitter", "email"]),
    st.sampled_from(["billing", "support"]),
    st.sampled_from(["question", "complaint", "spam"]),
    st.one_of(st.none(), st.integers(1, 5)),
)


def rows_text(rows: list[tuple], prefix: str = "c", start: datetime = START,
              ids: list[int] | None = None) -> str:
    lines = []
    for number, (received, replied, resolved, channel, team, category, score) in zip(
            ids if ids is not None else range(len(rows)), rows):
        at = start + timedelta(minutes=received)

        def later(minutes: int | None, at: datetime = at) -> str:
            return "" if minutes is None else f"{at + timedelta(minutes=minutes):%Y-%m-%d %H:%M:%S}"

        lines.append(f"{prefix}{number},{at:%Y-%m-%d %H:%M:%S},{later(replied)},{later(resolved)},"
                     f"{channel},{team},{category},{'' if score is None else score}\n")
    return HEADER + "".join(lines)


def figures_of(folder: Path, drops: dict[str, str]) -> dict[tuple, tuple]:
    """(granularity, period, dimension, segment, metric) -> (value, n, status) of a site."""
    exports = folder / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    for old in exports.iterdir():
        old.unlink()
    for name, text in drops.items():
        (exports / name).write_text(text, encoding="utf-8")
    config = folder / "config.yaml"
    config.write_text(textwrap.dedent(CONFIG).lstrip(), encoding="utf-8")
    return {(f.granularity, f.period, f.dimension, f.segment, f.metric): (f.value, f.n, f.status)
            for f in check(config).figures.rows}


SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(rows=st.lists(interaction, min_size=2, max_size=25), data=st.data())
def test_the_order_of_the_rows_changes_no_figure(tmp_path: Path, rows: list[tuple],
                                                 data: st.DataObject) -> None:
    # The same interactions (same ids) in another order, split over two drops.
    order = data.draw(st.permutations(range(len(rows))))
    half = len(order) // 2  # both drops hold rows (an empty drop is an error)
    first = figures_of(tmp_path / "a", {"w1.csv": rows_text(rows)})
    second = figures_of(tmp_path / "b", {
        "w1.csv": rows_text([rows[i] for i in order[:half]], ids=order[:half]),
        "w2.csv": rows_text([rows[i] for i in order[half:]], ids=order[half:]),
    })
    assert first == second


@SETTINGS
@given(rows=st.lists(interaction, min_size=1, max_size=20),
       later=st.lists(interaction, min_size=1, max_size=10))
def test_a_new_period_leaves_the_figures_of_every_other_period_alone(
    tmp_path: Path, rows: list[tuple], later: list[tuple]
) -> None:
    before = figures_of(tmp_path / "a", {"w1.csv": rows_text(rows)})
    # Five weeks on (a new week and a new month): same teams, so no new segment appears.
    after = figures_of(tmp_path / "b", {
        "w1.csv": rows_text(rows),
        "w2.csv": rows_text(later, prefix="n", start=START + timedelta(weeks=8)),
    })
    assert {key: value for key, value in after.items() if key in before} == before


@SETTINGS
@given(rows=st.lists(interaction, min_size=1, max_size=30))
def test_ratios_stay_within_zero_and_one_and_counts_are_whole(tmp_path: Path,
                                                              rows: list[tuple]) -> None:
    for (_, _, _, _, metric), (value, n, _) in figures_of(tmp_path, {"w.csv": rows_text(rows)}).items():
        info = METRICS_BY_ID[metric]
        if value is not None and info.is_ratio:
            assert 0 <= value <= 1, (metric, value)
        if n is not None:
            assert n >= 0 and n == int(n)
