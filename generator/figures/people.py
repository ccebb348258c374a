"""People, carefully (site.privacy.people, SPEC §5.1 and §10): a person's figure from too few
interactions is withheld.

Receives the `Figures` of a build, whose rows the engine has already withheld (see `withheld`
in :func:`generator.figures.metrics.figure_table`), and the `People` setting; hands on the same
figures with the views beside the rows withheld by the same rule. A figure rests on its n
interactions, or on the segment's volume when n is 0 or undefined; a person's figure resting on
1 to min_n - 1 interactions has no value (nor n). So an hour-of-week cell of a person is
withheld by the cell's n and volume, and a person's first-response brackets of a period are left
out when the period's volume or actionable count is below min_n. :func:`without_people` names
the dimensions that the interaction lists, the error budgets and the look-alike check may
show (a person has none of those).
"""

from __future__ import annotations

from dataclasses import replace

from generator.config.site_section import People
from generator.model import BracketCount, Figures, HourCell


def without_people(dimensions: tuple[str, ...], people: People | None) -> tuple[str, ...]:
    """`dimensions` less the people's: the dimensions whose values may be listed beside single
    interactions (drill-through lists, interactions.csv), have error budgets and are counted on
    the data-quality page.
    A person's late interactions, listed with their response times, would give the withheld
    figures back."""
    return tuple(d for d in dimensions if people is None or d != people.dimension)


def _rests_on(n: float | None, volume: float | None) -> float | None:
    return n if n is not None and n >= 1 else volume


def _too_few(size: float | None, people: People) -> bool:
    return size is not None and 1 <= size < people.min_n


def withhold_views(figures: Figures, people: People | None) -> Figures:
    """`figures` with the people's hour-of-week cells and brackets withheld."""
    if people is None:
        return figures
    dim = people.dimension
    volumes = {(c.segment, c.weekday, c.hour): c.value for c in figures.hourly
               if c.dimension == dim and c.metric == "volume"}

    def cell(c: HourCell) -> HourCell:
        volume = volumes.get((c.segment, c.weekday, c.hour))
        size = volume if c.metric == "volume" else _rests_on(c.n, volume)
        if c.dimension != dim or not _too_few(size, people):
            return c
        return replace(c, value=None, n=None, withheld=True)

    few_volume = {(f.granularity, f.period, f.segment) for f in figures.rows
                  if f.dimension == dim and f.metric == "volume" and f.withheld}
    totals: dict[tuple[str, str, str], int] = {}
    for b in figures.brackets:
        if b.dimension == dim:
            key = (b.granularity, b.period, b.segment)
            totals[key] = totals.get(key, 0) + b.count

    def bracket_shown(b: BracketCount) -> bool:
        key = (b.granularity, b.period, b.segment)
        return b.dimension != dim or not (key in few_volume or _too_few(totals[key], people))

    return replace(
        figures,
        hourly=tuple(cell(c) for c in figures.hourly),
        brackets=tuple(b for b in figures.brackets if bracket_shown(b)),
    )


__all__ = ["withhold_views", "without_people"]
