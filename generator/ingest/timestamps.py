"""Timestamps in exports: ISO 8601 with or without an offset, Twitter's format, or a strptime
format; naive times are local times of the source's timezone (DST-correct)."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from generator.config.loader import PLAUSIBLE_YEARS, Config, SourceConfig, parse_duration
from generator.sqltext import sql_ident, sql_str

#: A time of day followed by a UTC offset (or Z): the timestamp carries its own offset.
HAS_OFFSET = r":\d\d(\.\d+)?\s*([zZ]|[+-]\d\d(:?\d\d)?)$"
#: The offsets that exist: -14:00 to +14:00, minutes 00-59 (after the time, or a space).
VALID_OFFSET = r":\d\d(\.\d+)?\s?([zZ]|[+-](0\d|1[0-4])(:?[0-5]\d)?)$"
#: The space between a time and its offset (`2015-02-24 11:35:52 -0800`), which the engine's
#: cast does not take: it is removed before the cast.
SPACE_BEFORE_OFFSET = r"(:\d\d(\.\d+)?)\s([zZ]|[+-]\d\d(:?\d\d)?)$"
#: Layouts that :func:`timestamp_sql` reads without a `timestamp_format`, as strptime formats.
NATIVE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S %z", "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%a %b %d %H:%M:%S %z %Y",
)
#: Other common layouts of exports, tried in order to name a timestamp's format in a hint.
COMMON_FORMATS: tuple[str, ...] = (
    "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%d/%m/%Y", "%m/%d/%Y",
    "%d/%m/%Y %H:%M:%S %z", "%m/%d/%Y %H:%M:%S %z", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M",
    "%d.%m.%Y", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y",
    "%b %d, %Y %I:%M %p", "%b %d, %Y %H:%M", "%d/%m/%y %H:%M", "%m/%d/%y %H:%M",
    "%d/%m/%y", "%m/%d/%y",
)


def _fits(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=256)
def _candidates(layout: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The native and the common formats that a text of `layout` (its digits as '1', a valid
    value of every numeric field) can fit: a whole drop rejected for one wrong format tries
    its one or two candidates per row, not every format."""
    return (tuple(f for f in NATIVE_FORMATS if _fits(layout, f)),
            tuple(f for f in COMMON_FORMATS if _fits(layout, f)))


def has_known_layout(text: str) -> bool:
    """True when `text` is laid out like a known format (its digits aside): when no format
    fits it, its date or time does not exist (30 February, 25:61)."""
    return any(_candidates(re.sub(r"\d", "1", text.strip())))


def detect_formats(text: str) -> tuple[list[str], bool]:
    """The strptime formats `text` fits (one, or two where day and month could swap), and
    whether that layout parses without a `timestamp_format`."""
    text = text.strip()
    native_formats, common_formats = _candidates(re.sub(r"\d", "1", text))
    for formats, native in ((native_formats, True), (common_formats, False)):
        fits = [fmt for fmt in formats if _fits(text, fmt)]
        if fits:
            # A day-first and a month-first reading can both fit (02/11/2026): name both.
            return fits[:2] if _day_month_swapped(*fits[:2]) else fits[:1], native
    return [], False


def _day_month_swapped(first: str, second: str = "") -> bool:
    return second != "" and first.replace("%d", "%D").replace("%m", "%d").replace("%D", "%m") \
        == second
#: Timestamps are plausible from 1970 through 2100 (UTC); others are typing or export errors
#: (and a row dated year 2 would stretch the period grid over two thousand years).
EARLIEST = f"{PLAUSIBLE_YEARS[0]}-01-01 00:00:00+00"
AFTER_LATEST = f"{PLAUSIBLE_YEARS[1] + 1}-01-01 00:00:00+00"
#: The longest max_future that matters: every timestamp kept is before 2101 anyway.
_LONGEST_FUTURE_MINUTES = 200 * 366 * 24 * 60


def local_time_sql(naive: str, tz: str, instant: str | None = None) -> str:
    """SQL reading a naive local TIMESTAMP in zone `tz` (a SQL string literal) as an instant.

    A local time that occurs twice (the hour repeated when clocks go back) is read as its first
    occurrence; one that does not exist (the hour skipped when clocks go forward) is read as the
    engine does, one hour on. `instant` is `timezone(tz, naive)` when a projection has it.
    """
    instant = instant or f"timezone({tz}, {naive})"
    earlier = f"({instant} - INTERVAL 1 HOUR)"
    return f"(CASE WHEN timezone({tz}, {earlier}) = {naive} THEN {earlier} ELSE {instant} END)"


def timestamp_sql(raw: str, source: SourceConfig) -> str:
    """SQL parsing text `raw` into TIMESTAMPTZ; naive times are read in the source's timezone.

    ISO 8601 with or without `T`, with an offset (`+01:00`, `+0100`, `Z`) or without (then in
    the source's timezone); a date alone is midnight; Twitter's `Tue Oct 31 22:10:47 +0000
    2017` also parses. An impossible offset (`+99:99`) makes the timestamp unparseable.
    """
    tz = sql_str(source.timezone)
    if source.timestamp_format:
        fmt = sql_str(source.timestamp_format)
        naive = f"try_strptime({raw}, {fmt})"
        return (
            f"(CASE WHEN {fmt} LIKE '%\\%z%' ESCAPE '\\' "
            f"THEN try_strptime({raw}, {fmt})::TIMESTAMPTZ "
            f"ELSE {local_time_sql(f'{naive}::TIMESTAMP', tz)} END)"
        )
    return _iso_sql(raw, f"regexp_matches({raw}, {sql_str(HAS_OFFSET)})",
                    f"try_cast({raw} AS TIMESTAMP)", tz)


def parse_timestamps_sql(relation: str, texts: dict[str, str], source: SourceConfig) -> str:
    """SELECT of every column of `relation` followed by each timestamp of `texts` (its name ->
    the text column it is parsed from), parsed as :func:`timestamp_sql` does.

    Without a `timestamp_format`, each step is a projection of its own, so that every value is
    tested for an offset, cast, and converted from local time once (in one expression the
    engine repeats them: the text is cast four times and converted three times).
    """
    if source.timestamp_format or not texts:
        parsed = "".join(f", {timestamp_sql(sql_ident(text), source)} AS {sql_ident(name)}"
                         for name, text in texts.items())
        return f"SELECT *{parsed} FROM {relation}"
    tz = sql_str(source.timezone)
    steps: dict[str, list[str]] = {"offset": [], "naive": [], "instant": [], "parsed": []}
    for name, text in texts.items():
        column = sql_ident(text)
        offset, naive, instant = (sql_ident(f"__{name}_{step}")
                                  for step in ("offset", "naive", "instant"))
        steps["offset"].append(f"regexp_matches({column}, {sql_str(HAS_OFFSET)}) AS {offset}")
        steps["naive"].append(f"try_cast({column} AS TIMESTAMP) AS {naive}")
        steps["instant"].append(f"timezone({tz}, {naive}) AS {instant}")
        steps["parsed"].append(f"{_iso_sql(column, offset, naive, tz, instant)} "
                               f"AS {sql_ident(name)}")
    helpers = ", ".join(sql_ident(f"__{name}_{step}") for name in texts
                        for step in ("offset", "naive", "instant"))
    return (
        f"SELECT * EXCLUDE ({helpers}), {', '.join(steps['parsed'])} FROM ("
        f"SELECT *, {', '.join(steps['instant'])} FROM ("
        f"SELECT *, {', '.join(steps['offset'] + steps['naive'])} FROM {relation}))"
    )


def _iso_sql(raw: str, has_offset: str, naive: str, tz: str, instant: str | None = None) -> str:
    """The rules for text without a `timestamp_format`, given SQL for whether `raw` ends in an
    offset and for `raw` cast to a naive TIMESTAMP (expressions, or a projection's columns)."""
    return (
        f"(CASE WHEN {has_offset} THEN "
        f"CASE WHEN regexp_matches({raw}, {sql_str(VALID_OFFSET)}) "
        f"THEN try_cast(regexp_replace({raw}, {sql_str(SPACE_BEFORE_OFFSET)}, '\\1\\3') "
        "AS TIMESTAMPTZ) END "
        f"ELSE coalesce({local_time_sql(naive, tz, instant)}, "
        f"try_strptime({raw}, '%a %b %d %H:%M:%S %z %Y')::TIMESTAMPTZ) END)"
    )


def in_range_sql(column: str) -> str:
    """SQL: the TIMESTAMPTZ `column` is within the plausible years (false when NULL)."""
    return (f"coalesce({column} >= TIMESTAMPTZ '{EARLIEST}' "
            f"AND {column} < TIMESTAMPTZ '{AFTER_LATEST}', false)")


def future_minutes(source: SourceConfig) -> int:
    """The source's max_future in whole minutes (bounded: later than 2100 is out anyway)."""
    return int(min(parse_duration(source.max_future), _LONGEST_FUTURE_MINUTES))


def latest_by_drop_sql(relation: str, time: str, sources: dict[str, SourceConfig]) -> str:
    """SELECT, per drop of `relation` (columns drop_index, source and the TIMESTAMPTZ `time`):
    the latest and second-latest plausible `time` (`latest`, `runner_up`; `tied` when two rows
    share the latest), the latest of the source's earlier drops (`earlier`) and the source's
    max_future (`future`). A row's reference is then :func:`reference_sql`."""
    future = "CASE source " + " ".join(
        f"WHEN {sql_str(name)} THEN INTERVAL ({future_minutes(s)}) MINUTE"
        for name, s in sources.items()) + " END"
    return f"""
        SELECT drop_index, source, top[1] AS latest, top[2] AS runner_up, top[1] = top[2] AS tied,
            max(top[1]) OVER (PARTITION BY source ORDER BY drop_index
                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier,
            {future} AS future
        FROM (SELECT drop_index, any_value(source) AS source,
                     max({time}, 2) FILTER (WHERE {in_range_sql(time)}) AS top
              FROM {relation} GROUP BY drop_index)"""


def reference_sql(time: str, latest: str, earlier: bool = True) -> str:
    """SQL: the latest plausible `time` among the other rows of a row's drop (alias `latest`
    for its drop's row of :func:`latest_by_drop_sql`), or when it has none, of the source's
    earlier drops (unless not `earlier`)."""
    drop = (f"CASE WHEN {time} = {latest}.latest AND NOT coalesce({latest}.tied, false) "
            f"THEN {latest}.runner_up ELSE {latest}.latest END")
    return f"coalesce({drop}, {latest}.earlier)" if earlier else drop


def since_sql(config: Config, column: str, source: str = "source") -> str:
    """SQL condition on the time `column` of a row of the source named by the SQL `source`:
    before the `since` in force for it (its own, else site.since); 'false' when none is set."""
    cases = []
    for each in config.sources:
        since = each.since or config.site.since
        if since is not None:
            cases.append(f"WHEN {sql_str(each.name)} THEN "
                         f"TIMESTAMPTZ {sql_str(since.isoformat())}")
    if not cases:
        return "false"
    return f"coalesce({column} < CASE {source} {' '.join(cases)} END, false)"
