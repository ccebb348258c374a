"""Drill-through: the interactions behind red and amber response figures (SPEC §6.7)."""

from __future__ import annotations

import csv
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from generator.cache import Cache, Piece, code_version, file_sha256
from generator.config.loader import Config
from generator.errors import BuildError
from generator.model import DrillList, DrillRow, Period
from generator.sqltext import number_text_sql, segment_sql, sql_ident, sql_str

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

#: The figures whose red or amber status a list of late and unanswered interactions explains.
RESPONSE_METRICS = ("response_rate", "sla_attainment", "backlog", "frt_median", "frt_p90",
                    "frt_mean")


#: Interactions of each list kept for its page (the engine writes the whole list to its CSV).
MAX_DRILL_ROWS_SHOWN = 200
#: Header of a drill-through CSV: the fields of DrillRow.
DRILL_COLUMNS = tuple(f.name for f in fields(DrillRow))
#: Text columns of `drill_rows`. A list with '#' or CR in one of them is written by Python:
#: the engine quotes such values, Python's csv module does not.
_TEXT_COLUMNS = ("source", "id", "channel", "clock", "state", "file")


def compute_drill(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    dimensions: tuple[str, ...],
    periods: tuple[Period, ...],
    rendered: Callable[[str], str | None] | None = None,
) -> tuple[DrillList, ...]:
    """Late, overdue and waiting interactions per red/amber (period, segment) of the headline.

    The whole lists stay in the engine table `drill_rows` (see :func:`plan_drill_csvs` and
    :func:`write_planned`); each DrillList keeps its counts, a digest of its rows and its
    first MAX_DRILL_ROWS_SHOWN interactions, or, where `rendered` (digest → the rendered rows
    of the list's table, or None) has them, their HTML instead (the rows are not fetched).
    """
    headline = config.site.periods[0]
    recent = periods[-config.site.history:]
    if not recent:
        return ()
    _create_drill_rows(con, config, dimensions, recent[0])
    digests = {n: digest for n, _, digest in _list_facts(con, with_digest=True)}
    html = {n: rendered(d) for n, d in digests.items()} if rendered is not None else {}
    counts: dict[int, list[tuple[str, int]]] = {}
    keys: dict[int, tuple[str, str, str]] = {}
    for list_no, period, dimension, segment, state, n in con.execute(
        "SELECT list_no, any_value(period), any_value(dimension), any_value(segment), state, "
        "count(*) FROM drill_rows GROUP BY list_no, state ORDER BY list_no, state"
    ).fetchall():
        counts.setdefault(list_no, []).append((state, n))
        keys[list_no] = (period, dimension, segment)
    known = sorted(n for n, text in html.items() if text is not None)
    skip = f"AND list_no NOT IN ({', '.join(map(str, known))})" if known else ""
    rows: dict[int, list[DrillRow]] = {}
    for list_no, *values in con.execute(
        f"SELECT list_no, {', '.join(DRILL_COLUMNS)} FROM drill_rows "
        f"WHERE seq <= {MAX_DRILL_ROWS_SHOWN} {skip} ORDER BY list_no, seq"
    ).fetchall():
        values[4] = values[4] or ""  # first_response_at: '' when unanswered
        rows.setdefault(list_no, []).append(DrillRow(*values))
    return tuple(
        DrillList(headline, *keys[k], rows=tuple(rows.get(k, ())), counts=tuple(counts[k]),
                  digest=digests[k], rows_html=html.get(k))
        for k in sorted(keys)
    )


def _create_drill_rows(
    con: duckdb.DuckDBPyConnection, config: Config, dimensions: tuple[str, ...], since: Period
) -> None:
    """Create `drill_rows`: every listed interaction, numbered by list and within its list."""
    headline = config.site.periods[0]
    metrics = ", ".join(sql_str(m) for m in RESPONSE_METRICS)
    tz = sql_str(config.site.timezone)
    column = sql_ident("p_" + headline)
    selects = []
    for dimension in ("all",) + dimensions:
        match = "true" if dimension == "all" else f"k.segment = {segment_sql(dimension, 'j')}"
        selects.append(
            f"SELECT k.*, j.* FROM keys k JOIN judged j ON k.dimension = {sql_str(dimension)} "
            f"AND j.{column} = k.period_start AND {match} "
            "WHERE j.excluded_by IS NULL AND (j.first_response_at IS NULL OR NOT j.within_target)"
        )
    list_order = "period_start, dimension <> 'all', dimension, segment <> 'all', segment"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE drill_rows AS
        WITH keys AS (
            SELECT *, row_number() OVER (ORDER BY {list_order}) AS list_no FROM (
                SELECT DISTINCT period, period_start, dimension, segment FROM figures
                WHERE granularity = {sql_str(headline)} AND status IN ('red', 'amber')
                  AND metric IN ({metrics}) AND period_start >= ?
            )
        )
        SELECT list_no,
            row_number() OVER (PARTITION BY list_no ORDER BY u.received_at, u.source, u.id)
                AS seq,
            period, dimension, segment, source, id, channel,
            strftime(timezone({tz}, received_at), '%Y-%m-%d %H:%M:%S') AS received_at,
            strftime(timezone({tz}, first_response_at), '%Y-%m-%d %H:%M:%S')
                AS first_response_at,
            frt_minutes AS minutes, target_minutes, target_clock AS clock,
            CASE WHEN first_response_at IS NOT NULL THEN 'late'
                 WHEN sla_eligible THEN 'overdue' ELSE 'waiting' END AS state,
            file, line
        FROM ({" UNION ALL ".join(selects)}) AS u
        ORDER BY list_no, seq
        """,
        [since.start],
    )


def write_drill_csvs(
    con: duckdb.DuckDBPyConnection,
    drills: tuple[DrillList, ...],
    folder: Path,
    cache: Cache | None = None,
    output: Path | None = None,
) -> tuple[DrillList, ...]:
    """Write each whole list of `drill_rows` into `folder`; return them with `csv`.

    :func:`plan_drill_csvs` and :func:`write_planned` in a row (a build runs the second on the
    engine's own thread, and records where it published the lists with
    :func:`remember_published`).
    """
    plan = plan_drill_csvs(con, drills, folder, cache, output)
    write_planned(con, plan)
    return plan.lists


@dataclass(frozen=True)
class DrillFiles:
    """Where each drill-through list's CSV goes, and which lists the engine has to write."""

    lists: tuple[DrillList, ...]
    """The lists, each with the path of its CSV (`csv`)."""
    folder: Path
    by_engine: tuple[int, ...]
    """Numbers of the lists the engine writes, in one partitioned COPY (see `_part`)."""
    by_python: tuple[int, ...]
    """Numbers of the lists Python's csv module writes (a '#' or CR in their text)."""
    paths: dict[int, Path]
    """CSV path by list number."""
    keys: dict[int, str] = field(default_factory=dict)
    """Cache key by list number (empty without a cache)."""
    sha256: dict[int, str] = field(default_factory=dict)
    """SHA-256 of the lists put in place as the last build published them, by list number."""


def plan_drill_csvs(
    con: duckdb.DuckDBPyConnection,
    drills: tuple[DrillList, ...],
    folder: Path,
    cache: Cache | None = None,
    output: Path | None = None,
) -> DrillFiles:
    """Name every list's CSV, and put the lists the last build published into `folder`.

    A list's key is a digest of its rows (see :func:`_list_facts`); the cache records where the
    last build published the list of each key, so after a new drop only the lists of the
    periods it changed are left to write, and no list is stored twice: one published in
    `output` (the folder the build replaces) is hard-linked, if it is still the very file
    published (see `Cache.open_recalled`). This runs before the engine's thread starts: there,
    Python's file work would wait for the interpreter lock at every file while the pages
    render.
    """
    if not drills:
        return DrillFiles((), folder, (), (), {})
    if cache is not None and cache.folder is None:
        cache = None  # caching is off
    # The lists that have rows (a red figure may list none), in list order, and their facts.
    known = all(d.digest for d in drills)  # compute_drill's digests of the same rows
    lists = _list_facts(con, with_digest=cache is not None and not known)
    numbers = [n for n, _, _ in lists]
    if len(numbers) != len(drills):
        raise BuildError(f"drill-through lists: expected {len(drills)} in the engine, found "
                         f"{len(numbers)}.")
    keys = {}
    if cache is not None:
        code = code_version()
        keys = {n: cache.key(DRILL_KIND, code, d.digest if known else digest)
                for (n, _, digest), d in zip(lists, drills)}
    paths = {n: folder / f"drill-{n}.csv" for n in numbers}
    found = _cached_lists(cache, keys, paths, output) if cache is not None else {}
    by_python = {n for n, special, _ in lists if special} - found.keys()
    by_engine = tuple(n for n in numbers if n not in found and n not in by_python)
    # The engine's list is used where the partitioned COPY writes it, not moved.
    paths.update((n, _part(folder, n)) for n in by_engine)
    if cache is not None:
        log.info("drill-through lists: %d to write, %d as the last build published them",
                 len(numbers) - len(found), len(found))
    return DrillFiles(
        lists=tuple(replace(d, csv=paths[n]) for n, d in zip(numbers, drills)),
        folder=folder, by_engine=by_engine, by_python=tuple(sorted(by_python)), paths=paths,
        keys=keys, sha256=found,
    )


def write_planned(con: duckdb.DuckDBPyConnection, plan: DrillFiles) -> None:
    """Write the lists the plan leaves to the engine and to Python, then drop `drill_rows`.

    The engine's lists are one COPY, checked with one query over the files it wrote; Python
    does per-list work only for the rare lists it writes itself.
    """
    if plan.by_engine:
        every = len(plan.by_engine) == len(plan.paths)
        _copy_partitioned(con, plan.folder / PARTS, None if every else set(plan.by_engine))
        _check_parts(con, plan)
    for list_no in plan.by_python:
        cursor = con.execute(f"SELECT {', '.join(DRILL_COLUMNS)} FROM drill_rows "
                             f"WHERE list_no = {list_no} ORDER BY seq")
        _write_csv_rows(plan.paths[list_no], cursor)
    con.execute("DROP TABLE IF EXISTS drill_rows")  # its memory goes back to the engine
    if plan.keys:  # for the cache's record (see remember_published), here on the engine's thread
        for list_no in (*plan.by_engine, *plan.by_python):
            plan.sha256[list_no] = file_sha256(plan.paths[list_no])


def remember_published(plan: DrillFiles, cache: Cache | None, published: dict[Path, Path],
                       output: Path | None = None) -> None:
    """Record where the build published each list (`published`: planned path → path in the
    output folder `output`), for the next build to link rather than write again."""
    if cache is None or not plan.keys:
        return
    cache.remember_files(DRILL_KIND, {
        plan.keys[n]: Piece(published[path], sha256=plan.sha256.get(n))
        for n, path in plan.paths.items() if path in published
    }, output)


#: Kind of the drill-through CSVs in the cache's record of published files.
DRILL_KIND = "drill"
#: Folder of the partitioned COPY, under the plan's folder.
PARTS = "drill-parts"


def _part(folder: Path, list_no: int) -> Path:
    """Where the partitioned COPY writes list `list_no` (checked by `_check_parts`)."""
    return folder / PARTS / f"list_no={list_no}" / "data_0.csv"


def _list_facts(
    con: duckdb.DuckDBPyConnection, with_digest: bool
) -> list[tuple[int, bool, str]]:
    """(list number, has '#' or CR in its text, digest) of each list of `drill_rows`, in order;
    one scan.

    The digest (with `with_digest`, else '') is two 64-bit aggregates (xor and sum) of the
    engine's hash of each row with its position, and the row count: cheap next to writing the
    CSV, and it changes when any value, the order or the length of the list does. The engine's
    hash may change between its versions, so the digest names the version.
    """
    special = " OR ".join(f"contains({c}, '#') OR contains({c}, chr(13))" for c in _TEXT_COLUMNS)
    row_hash = f"hash({', '.join(('seq',) + DRILL_COLUMNS)})" if with_digest else "0"
    engine = _engine_version() if with_digest else ""
    return [
        (n, bool(has_special), f"{engine}:{xor}:{total}:{count}" if with_digest else "")
        for n, has_special, xor, total, count in con.execute(
            f"SELECT list_no, bool_or(special), bit_xor(h), sum(CAST(h AS HUGEINT)), count(*) "
            f"FROM (SELECT list_no, {special} AS special, {row_hash} AS h FROM drill_rows) "
            "GROUP BY list_no ORDER BY list_no"
        ).fetchall()
    ]


def _engine_version() -> str:
    import duckdb

    return str(duckdb.__version__)


def _cached_lists(
    cache: Cache, keys: dict[int, str], paths: dict[int, Path], output: Path | None
) -> dict[int, str]:
    """Put the lists the last build published, unchanged, at their paths; return their
    numbers, with the SHA-256 of each.

    A list published in `output` (the folder this build replaces) is hard-linked, and the link
    checked to be the very file checked open; one published elsewhere (another --output) is
    copied from the open file, so that two published sites never share a file.
    """
    found = {}
    replaced = output.resolve() if output is not None else None
    for list_no, key in keys.items():
        recalled = cache.open_recalled(DRILL_KIND, key, output)
        if recalled is None:
            continue
        path = paths[list_no]
        with recalled.stream as source:
            try:
                if not (replaced is not None and _link(source, path, replaced)):
                    with path.open("wb") as target:
                        shutil.copyfileobj(source, target)
            except OSError:
                path.unlink(missing_ok=True)
                continue
        found[list_no] = recalled.sha256
    return found


def _link(source: BinaryIO, path: Path, replaced: Path) -> bool:
    """Hard-link the published file open as `source` to `path` if it lies in the folder being
    replaced and the link is to that very file; False to copy instead."""
    published = Path(source.name)
    if not published.is_relative_to(replaced):
        return False
    try:
        os.link(published, path)
    except OSError:  # another file system, or no hard links
        return False
    opened, linked = os.fstat(source.fileno()), path.stat()
    if ((linked.st_ino, linked.st_dev, linked.st_size, linked.st_mtime_ns)
            == (opened.st_ino, opened.st_dev, opened.st_size, opened.st_mtime_ns)):
        return True
    path.unlink()  # replaced since it was opened: copy what was opened
    return False


def _check_parts(con: duckdb.DuckDBPyConnection, plan: DrillFiles) -> None:
    """Make sure each engine list is the one file its plan names; if the engine split a list
    or named its file otherwise, write that list alone to the planned path."""
    parts = plan.folder / PARTS
    if any(c in parts.as_posix() for c in "*?[]{}"):  # the engine's glob would read them
        written = set(parts.glob("*/*"))
    else:  # one engine call, with no per-file work for this (engine) thread
        written = {Path(name) for (name,) in con.execute(
            f"SELECT file FROM glob({sql_str(parts.as_posix() + '/*/*')})").fetchall()}
    expected = {plan.paths[n] for n in plan.by_engine}
    if written == expected:
        return
    for list_no in plan.by_engine:
        path = plan.paths[list_no]
        if path in written and not any(f.parent == path.parent and f != path for f in written):
            continue
        if path.parent.is_dir():
            for stray in path.parent.iterdir():
                stray.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT {_csv_columns()} FROM drill_rows WHERE list_no = {list_no} "
                    f"ORDER BY seq) TO {sql_str(path.as_posix())} (HEADER, DELIMITER ',')")


def _copy_partitioned(
    con: duckdb.DuckDBPyConnection, parts: Path, lists: set[int] | None
) -> None:
    """One COPY of the `lists` (None: all) into `parts/list_no=<n>/data_0.csv`, rows in order.

    `drill_rows` was created sorted and the engine preserves insertion order, so on one
    thread the partitioned write appends each list's rows in order (many threads would
    interleave them); sorting again would cost time and memory for nothing.
    """
    where = f"WHERE list_no IN ({', '.join(map(str, sorted(lists)))})" if lists else ""
    threads = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute("SET threads = 1")
    try:
        con.execute(
            f"COPY (SELECT list_no, {_csv_columns()} FROM drill_rows {where}) "
            f"TO {sql_str(parts.as_posix())} "
            "(FORMAT csv, HEADER, DELIMITER ',', PARTITION_BY (list_no))"
        )
    finally:
        con.execute(f"SET threads = {int(threads[0]) if threads else 1}")


def _csv_columns() -> str:
    """The SELECT list of a drill CSV, each value as the text csv_bytes would write."""
    text = {c: f"nullif({c}, '')" for c in DRILL_COLUMNS}  # the engine quotes '' as ""
    text.update(minutes=number_text_sql("minutes"),
                target_minutes=number_text_sql("target_minutes"), line="CAST(line AS VARCHAR)")
    return ", ".join(f"{text[c]} AS {sql_ident(c)}" for c in DRILL_COLUMNS)


def _write_csv_rows(path: Path, cursor: duckdb.DuckDBPyConnection) -> None:
    """Write a drill CSV from an engine cursor in chunks, as csv_bytes would."""
    from generator.site.render import csv_value

    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(DRILL_COLUMNS)
        while chunk := cursor.fetchmany(10_000):
            writer.writerows([csv_value(v) for v in row] for row in chunk)


def interactions_sql(config: Config) -> str:
    """SELECT of data/interactions.csv: every kept interaction with its computed values."""
    tz = sql_str(config.site.timezone)
    periods = ", ".join(
        f"{sql_ident('p_' + g)} AS {sql_ident(g + '_start')}" for g in config.site.periods
    )
    return f"""
        SELECT source, id, channel,
            strftime(timezone({tz}, received_at), '%Y-%m-%dT%H:%M:%S') AS received_at,
            strftime(timezone({tz}, first_response_at), '%Y-%m-%dT%H:%M:%S')
                AS first_response_at,
            strftime(timezone({tz}, resolved_at), '%Y-%m-%dT%H:%M:%S') AS resolved_at,
            {periods},
            excluded_by AS exclusion_rule, blackout, target_rule, target_minutes,
            target_clock AS clock, target_calendar AS calendar, frt_minutes,
            strftime(timezone({tz}, deadline), '%Y-%m-%dT%H:%M:%S') AS deadline,
            within_target, resolution_hours, file, line
        FROM judged
        ORDER BY received_at, source, id
    """
