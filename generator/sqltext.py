"""Writing SQL text safely: literals, identifiers, value mappings and segment expressions.

Nothing a user wrote is ever pasted into SQL except through these quoting functions.
"""

from __future__ import annotations

from collections.abc import Collection


def sql_str(value: str) -> str:
    """Quote text as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """Quote a name as a SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def mapped_sql(raw: str, mapping: dict[str, str] | None) -> str:
    """SQL replacing export values by canonical ones (`sources[].values`); others unchanged."""
    if not mapping:
        return raw
    cases = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in mapping.items())
    return f"(CASE {raw} {cases} ELSE {raw} END)"


#: Engine columns holding a source's own columns (its dimensions and other mapped columns) are
#: named with this prefix: a user's name (letters, digits and '_') can then never be a column
#: carecard computes or keeps for itself (`source`, `file`, `line`, `deadline`, …; SPEC §3.3b).
ATTRIBUTE_PREFIX = "dimension."


def attribute_column(name: str) -> str:
    """Engine column name of a source's own column `name` (a dimension, an extra column)."""
    return ATTRIBUTE_PREFIX + name


#: The segment of the values of a dimension beyond its site.max_segments.
OTHER_SEGMENT = "(other)"


def folded_column(dimension: str) -> str:
    """Name of the column of `judged` that holds a folded dimension's segment."""
    return "segment:" + dimension


def segment_sql(dimension: str, table: str = "", folded: Collection[str] = ()) -> str:
    """SQL giving an interaction's segment of `dimension`: its value as text, 'unknown' when
    empty, or 'all' for the dimension `all`; for a dimension in `folded` (site.max_segments),
    the segment `judged` holds for it, '(other)' for the values folded away."""
    if dimension == "all":
        return "'all'"
    prefix = f"{table}." if table else ""
    if dimension in folded:
        return prefix + sql_ident(folded_column(dimension))
    column = dimension if dimension == "channel" else attribute_column(dimension)
    return f"coalesce(CAST({prefix}{sql_ident(column)} AS VARCHAR), 'unknown')"
