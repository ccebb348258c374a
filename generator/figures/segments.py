"""Which values of a dimension become segments: at most `site.max_segments` (SPEC §9).

A dimension with more values than its limit publishes the values with the most interactions
over the shown history (the last `site.history` periods of the headline granularity; ties go
to the value first in text order) and folds the others into one segment, '(other)', whose
figures are those of all their interactions together. Pages, charts and build time then grow
with the limit, not with whatever number of values an export holds.

The fold is a column of `judged` per folded dimension (:func:`generator.sqltext.folded_column`),
read wherever a segment is (:func:`generator.sqltext.segment_sql` with `folded`); the
dimension's own column keeps the values, for custom metrics, drill-through rows and
interactions.csv.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from generator.config.loader import Config
from generator.model import LookalikeGroup, Period, SegmentFold
from generator.sqltext import OTHER_SEGMENT, folded_column, segment_sql, sql_ident, sql_str
from generator.values import lookalike_groups

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

#: Engine table of the values of each folded dimension: (dimension, segment, interactions, kept).
CHOICE = "segment_choice"


def fold_segments(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    dimensions: tuple[str, ...],
    grids: Mapping[str, tuple[Period, ...]],
) -> frozenset[str]:
    """Add to `judged` the folded segment of every dimension with more values than its limit;
    return the names of those dimensions.

    The values are chosen once per build (table `segment_choice`), from the interactions
    `judged` holds the first time; a later call (the restatements' pass over the old
    interactions) folds the same values, so that old and new figures of '(other)' compare
    like with like.
    """
    if not _exists(con, CHOICE):
        _choose(con, config, dimensions, grids)
        for fold in segment_folds(con):
            log.warning(
                "site.max_segments: dimension '%s' has %s values, more than its limit of %s: "
                "the %s with the most interactions over the last %s %ss are published and the "
                "other %s (%s) are folded into '%s'. Hint: raise site.max_segments.%s to "
                "publish more.",
                fold.dimension, f"{fold.values:,}", f"{fold.limit:,}", f"{fold.limit:,}",
                config.site.history, config.site.periods[0], f"{fold.folded:,}",
                f"{fold.interactions:,} interaction" + ("" if fold.interactions == 1 else "s"),
                OTHER_SEGMENT, fold.dimension)
    folded = frozenset(
        d for (d,) in con.execute(f"SELECT DISTINCT dimension FROM {CHOICE}").fetchall()
    )
    for dimension in sorted(folded):
        column = sql_ident(folded_column(dimension))
        value = segment_sql(dimension)
        con.execute(f"ALTER TABLE judged ADD COLUMN IF NOT EXISTS {column} VARCHAR")
        con.execute(
            f"UPDATE judged SET {column} = CASE WHEN {value} IN (SELECT segment FROM {CHOICE} "
            f"WHERE dimension = {sql_str(dimension)} AND kept) THEN {value} "
            f"ELSE {sql_str(OTHER_SEGMENT)} END"
        )
    return folded


def segment_folds(con: duckdb.DuckDBPyConnection) -> tuple[SegmentFold, ...]:
    """What :func:`fold_segments` folded, by dimension name."""
    if not _exists(con, CHOICE):
        return ()
    return tuple(
        SegmentFold(dimension, int(limit), int(values), int(folded), int(interactions))
        for dimension, limit, values, folded, interactions in con.execute(
            f"SELECT dimension, count(*) FILTER (WHERE kept), count(*), "
            f"count(*) FILTER (WHERE NOT kept), "
            f"coalesce(sum(interactions) FILTER (WHERE NOT kept), 0) "
            f"FROM {CHOICE} GROUP BY ALL ORDER BY dimension"
        ).fetchall()
    )


def find_lookalikes(
    con: duckdb.DuckDBPyConnection, dimensions: tuple[str, ...]
) -> tuple[LookalikeGroup, ...]:
    """Probable duplicates among the values of each dimension in `interactions` (values that
    differ only by case, spaces, invisible or look-alike characters), dimension by dimension."""
    groups: list[LookalikeGroup] = []
    for dimension in dimensions:
        counts = con.execute(
            f"SELECT {segment_sql(dimension)} AS value, count(*) FROM interactions GROUP BY ALL"
        ).fetchall()
        groups += lookalike_groups(dimension, counts)
    return tuple(groups)


def _choose(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    dimensions: tuple[str, ...],
    grids: Mapping[str, tuple[Period, ...]],
) -> None:
    """Create `segment_choice`: every value of each dimension beyond its limit, ranked."""
    headline = config.site.periods[0]
    window = grids.get(headline, ())[-max(1, config.site.history):]
    shown = (f"{sql_ident('p_' + headline)} >= DATE {sql_str(window[0].start.isoformat())}"
             if window else "false")
    limits = " ".join(
        f"WHEN {sql_str(d)} THEN {config.site.segment_limit(d)}" for d in dimensions
    )
    counts = " UNION ALL ".join(
        f"SELECT {sql_str(d)} AS dimension, {segment_sql(d)} AS segment, "
        f"count(*) FILTER (WHERE {shown}) AS shown, count(*) AS interactions "
        "FROM judged GROUP BY ALL"
        for d in dimensions
    ) or ("SELECT ''::VARCHAR AS dimension, ''::VARCHAR AS segment, 0::BIGINT AS shown, "
          "0::BIGINT AS interactions WHERE false")
    # A value spelt like the fold itself is never published on its own beside it.
    con.execute(
        f"""
        CREATE TABLE {CHOICE} AS
        SELECT dimension, segment, interactions, rank <= segment_limit AS kept
        FROM (
            SELECT *,
                row_number() OVER (PARTITION BY dimension
                                   ORDER BY segment = {sql_str(OTHER_SEGMENT)}, shown DESC,
                                            segment) AS rank,
                count(*) OVER (PARTITION BY dimension) AS n,
                CASE dimension {limits or "WHEN '' THEN 0"} END AS segment_limit
            FROM ({counts})
        )
        WHERE n > segment_limit
        """
    )


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]
    ).fetchall()
    return bool(rows[0][0])
