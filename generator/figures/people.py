"""People, carefully (site.privacy.people, SPEC §5.1 and §10): a person's figure from too few
interactions is withheld.

Receives the `People` setting; hands on the SQL condition that withholds a figure
(:func:`withheld_sql`, used by the figures query and the hour-of-week and bracket views) and
the dimensions that may be shown beside single interactions (:func:`without_people`).

A figure rests on its n interactions, or on the segment's volume when it has no n or an n of 0
(a person's n of 0 out of 2 interactions says as much as a value). A person's figure resting
on 1 to min_n - 1 interactions is withheld, with its n: the n of two metrics can give a
third's value.
"""

from __future__ import annotations

from generator.config.site_section import People
from generator.sqltext import sql_str


def withheld_sql(n: str | None, people: People | None, volume: str = "volume",
                 dimension: str = "dimension") -> str:
    """SQL that is true for a person's figure of n `n` (an expression, or None for a count)
    and segment volume `volume` that rests on too few interactions; 'false' without
    site.privacy.people."""
    if people is None:
        return "false"
    size = volume if n is None else f"CASE WHEN coalesce({n}, 0) >= 1 THEN {n} ELSE {volume} END"
    return (f"({dimension} = {sql_str(people.dimension)} "
            f"AND coalesce({size}, 0) BETWEEN 1 AND {people.min_n - 1})")


def without_people(dimensions: tuple[str, ...], people: People | None) -> tuple[str, ...]:
    """`dimensions` less the people's: the dimensions whose values may be listed beside single
    interactions (drill-through lists, interactions.csv), have error budgets and are counted on
    the data-quality page. A person's late interactions, listed with their response times,
    would give the withheld figures back."""
    return tuple(d for d in dimensions if people is None or d != people.dimension)


__all__ = ["withheld_sql", "without_people"]
