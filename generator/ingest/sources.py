"""Read export drops into the engine, validate every row, keep the latest valid row per id.

Every row read ends up kept, superseded (a later drop carries the same id) or rejected with a
reason; ``rows read = kept + superseded + rejected`` holds per drop. The result is the engine
view ``interactions`` (one row per kept interaction, canonical columns, UTC timestamps) and a
:class:`~generator.model.QualityReport`.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Container
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from generator.cache import code_digest
from generator.config.loader import (
    DERIVED_SHAPES,
    REQUIRED_FIELDS,
    ROW_FIELDS,
    TIMESTAMP_FIELDS,
    Config,
    CsatPolicy,
    SourceConfig,
    site_data_through,
)
from generator.config.periods import START_SQL, period_label
from generator.errors import DataError, Problem, did_you_mean, quote
from generator.ingest.messages import (
    EXPONENT_ID,
    MessageSourceResult,
    account_message_source,
    derived_fields,
    message_attributes,
    stage_message_source,
    thread_stats,
)
from generator.ingest.readers import (
    GZIP_MAGIC,
    HIDDEN_COLUMNS,
    INEXACT_COLUMN,
    MALFORMED_COLUMN,
    POSITION_COLUMN,
    POSITION_WORD,
    drop_format,
    read_drop,
    record_hash_sql,
)
from generator.ingest.rejections import (
    MALFORMED_REASONS,
    Context,
    malformed_problem,
    malformed_sql,
    reference_text,
    rejection_problem,
)
from generator.ingest.timestamps import (
    in_range_sql,
    latest_by_drop_sql,
    parse_timestamps_sql,
    reference_sql,
    since_sql,
)
from generator.model import BeyondPeriod, DroppedField, DropStats, QualityReport, Rejection
from generator.progress import progress
from generator.sqltext import attribute_column, sql_ident, sql_str
from generator.values import pseudonymised_sql, register_functions, register_pseudonyms, value_sql

if TYPE_CHECKING:
    import duckdb

    from generator.cache import Cache

log = logging.getLogger(__name__)

BOOLEAN_FIELDS = ("public", "moved_private", "needs_reply", "deleted")
NUMBER_FIELDS = ("csat", "reach")
SENTIMENT_FIELDS = ("sentiment_start", "sentiment_end")
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
SENTIMENT_LABELS = {"positive": 1.0, "neutral": 0.0, "negative": -1.0}
#: Largest reach read: ten billion people a million times over, far from where sums of it
#: would overflow the engine's exact decimals.
MAX_REACH = 10**16
#: The type of a row's fate in `accounted` (one byte a row rather than a string).
FATE = "ENUM('kept', 'superseded', 'rejected', 'before_since', 'retracted')"
#: The parsed fields of an interaction, as `accounted` and `interactions` hold them.
FIELD_COLUMNS = ("source", "id", "received_at", "first_response_at", "resolved_at", "channel",
                 "csat", "sentiment_start", "sentiment_end", "public", "moved_private", "reach",
                 "needs_reply")

#: Reason code -> label shown on the data-quality page.
REASONS: dict[str, str] = {
    "missing_required": "missing required field",
    "unparseable_timestamp": "unparseable timestamp",
    "reserved_value": "reserved value 'all'",
    "unmapped_value": "unmapped value",
    "not_a_number": "not a number",
    "csat_outside_scale": "csat outside the scale",
    "invalid_sentiment": "invalid sentiment",
    "csat_not_on_scale": "csat not on the scale",
    "negative_number": "negative number",
    "number_too_large": "number too large",
    "reply_before_receipt": "reply before receipt",
    "resolution_before_receipt": "resolution before receipt",
    "after_data_through": "timestamp after data_through",
    "timestamp_out_of_range": "timestamp before 1970 or after 2100",
    "implausible_timestamp": "implausible timestamp (after max_future)",
    "duplicate_id": "duplicate id in a drop",
    "id_in_exponent": "id in exponent notation (digits lost)",
    "inexact_id": "id beyond 2^53 as a number (digits may be lost)",
    **MALFORMED_REASONS,
}


@dataclass(frozen=True)
class Drop:
    """One export file matched by a source's glob."""

    source_index: int
    source: SourceConfig
    path: Path
    rel: str
    """Path relative to config.yaml, POSIX style (used in messages and pages)."""
    sha256: str


def natural_key(text: str) -> list[object]:
    """Sort key that compares digit runs as numbers (`w9` before `w10`)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def find_drops(config: Config) -> tuple[Drop, ...]:
    """Return every source's drops, in natural file-name order, then by path."""
    drops: list[Drop] = []
    outside: list[Problem] = []
    for index, source in enumerate(config.sources):
        pattern = str(config.root / source.path)
        paths = sorted(
            (Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file()),
            key=lambda p: (natural_key(p.name), natural_key(p.as_posix())),
        )
        if not paths:
            raise DataError(
                Problem(
                    f"{config.path.name}:{source.line}",
                    f"sources[{index}].path",
                    "a glob matching at least one file",
                    source.path,
                    "paths are relative to the folder of the config file.",
                )
            )
        places = _drop_places(config, source)
        for path in paths:
            rel = path.relative_to(config.root).as_posix() if path.is_relative_to(
                config.root
            ) else path.as_posix()
            if not any(path.resolve().is_relative_to(place) for place in places):
                outside.append(_linked_elsewhere(config, rel, path, places))
                continue
            drops.append(Drop(index, source, path, rel, _sha256(path)))
    if outside:
        raise DataError(outside)
    return tuple(drops)


def _drop_places(config: Config, source: SourceConfig) -> list[Path]:
    """Where a source's drops may be: the site folder, and the fixed part of its glob (the
    folders before the first wildcard), both resolved."""
    parts = Path(source.path).parts
    fixed = next((i for i, part in enumerate(parts) if set(part) & set("*?[")), len(parts) - 1)
    site = config.root.resolve()
    return [site, (config.root / Path(*parts[:fixed])).resolve() if fixed else site]


def _linked_elsewhere(config: Config, rel: str, path: Path, places: list[Path]) -> Problem:
    """A drop that is a link (or lies in a linked folder) resolving outside `places`: refused
    before anything of it is read, so no line of a file elsewhere reaches a message."""
    site, own = places
    where = "the site folder"
    if own != site:
        shown = own.relative_to(site).as_posix() if own.is_relative_to(site) else own.as_posix()
        where += f" or inside {quote(shown)}"
    return Problem(
        rel, "symbolic link", f"a file inside {where}", path.resolve().as_posix(),
        "copy the export into the folder instead of linking to a file elsewhere.",
    )


def _sha256(path: Path) -> str:
    stat = path.stat()
    return _content_sha256(path, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino)


def forget_hashes() -> None:
    """Hash every drop afresh from now on. Each input fingerprint starts with this; a build then
    finds the drops twice, for its fingerprint and to read them, and hashes each file once."""
    _content_sha256.cache_clear()


@functools.lru_cache(maxsize=4096)
def _content_sha256(path: Path, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    """A file's SHA-256, remembered until :func:`forget_hashes` while its size, times and inode
    stay the same (any write, or a reset modification time, changes the change time)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def source_attributes(source: SourceConfig) -> tuple[str, ...]:
    """Non-canonical fields a source reads: mapped extra columns and declared dimensions."""
    if source.shape in DERIVED_SHAPES:
        brand = ("brand",) if source.shape != "events" else ()
        return message_attributes(source) + brand
    names = [k for k in source.columns if k not in ROW_FIELDS]
    names += [d for d in source.dimensions if d not in names and d != "channel"]
    return tuple(names)


@dataclass(frozen=True)
class Staged:
    """Every drop loaded into the engine view `staged` (canonical raw text, parsed times)."""

    drops: tuple[Drop, ...]
    mapped_fields: frozenset[str]
    parts: tuple[str, ...] = ()
    """The engine tables the view `staged` unites."""

    def newest(self) -> frozenset[int]:
        """Indexes of each source's newest drop, for sources with more than one drop."""
        last: dict[int, int] = {}
        counts: dict[int, int] = {}
        for index, drop in enumerate(self.drops):
            last[drop.source_index] = index
            counts[drop.source_index] = counts.get(drop.source_index, 0) + 1
        return frozenset(i for s, i in last.items() if counts[s] > 1)


def read_sources(con: duckdb.DuckDBPyConnection, config: Config) -> QualityReport:
    """Load every drop, validate, de-duplicate; create table `interactions`; report every row."""
    return account_rows(con, config, stage_drops(con, config))


def account_rows(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    staged: Staged,
    without: frozenset[int] = frozenset(),
) -> QualityReport:
    """Validate the staged rows (leaving out the drops in `without`), keep the latest valid row
    per id in the view `interactions`, and account for every row."""
    keep = [i for i in range(len(staged.drops)) if i not in without]
    con.execute(
        "CREATE OR REPLACE VIEW staged_used AS SELECT * FROM staged "
        f"WHERE drop_index IN ({', '.join(str(i) for i in keep) or '-1'})"
    )
    attributes = _validate(con, config)
    results = []
    for index, first, count in _message_sources(staged.drops):
        result = account_message_source(
            con, config, index, staged.drops[first:first + count], first, without
        )
        results.append(result)
    _create_interactions(con, attributes, results)
    report = _report(con, config, staged.drops, results)
    stats = tuple(s for i, s in enumerate(report.drops) if i not in without)
    return replace(report, drops=stats, mapped_fields=staged.mapped_fields,
                   threads=tuple(thread_stats(r) for r in results))


def _message_sources(drops: tuple[Drop, ...]) -> list[tuple[int, int, int]]:
    """(source index, first drop index, drop count) of each message-level source."""
    spans: dict[int, list[int]] = {}
    for index, drop in enumerate(drops):
        if drop.source.shape in DERIVED_SHAPES:
            spans.setdefault(drop.source_index, []).append(index)
    return [(s, ids[0], len(ids)) for s, ids in spans.items()]


#: Drops read (as text) before they are mapped into a part of `staged` and their text is
#: dropped: a bound on the engine's memory, not on the work.
BATCH_BYTES = 192 << 20


def stage_drops(
    con: duckdb.DuckDBPyConnection, config: Config, cache: Cache | None = None
) -> Staged:
    """Read every drop once into the engine view `staged` (parsed drops come from `cache`).

    `staged` is the union, in drop order, of the drops' staged rows. Drops are read in batches;
    each drop of a batch is mapped straight into its cache file, which `staged` then reads (the
    staged rows stay on disk, compressed, rather than in the engine's memory). Without a cache
    folder, a batch is mapped into one engine table, a part. Either way a batch's export text
    is dropped as soon as it is mapped, so the text of all drops is never in memory at once.
    """
    register_functions(con)  # sources[].normalize
    if config.site.pseudonymise:
        register_pseudonyms(con, config.site.pseudonym_key)
    drops = find_drops(config)
    attributes = sorted({a for s in config.sources for a in source_attributes(s)})
    problems: list[Problem] = []
    mapped: set[str] = set()
    column_rows: list[tuple[int, str, str]] = []
    missing_seen: dict[tuple[int, str], list[int]] = {}
    cached: dict[int, tuple[Path, list[str]]] = {}
    keys = [_staged_key(cache, drop, attributes) for drop in drops]
    for drop_index, key in enumerate(keys):
        entry = cache.parquet_entry(con, "staged", key) if cache is not None else None
        columns_json = cache.load_bytes("staged", key, ".json") if entry and cache else None
        if entry is not None and columns_json is not None:
            cached[drop_index] = (entry, json.loads(columns_json))
    parts: list[str] = []
    unite: list[str | tuple[int, Path]] = []  # parts and cache files `staged` unites, in order
    for batch in _batches(drops, cached):
        selects: list[tuple[int, str, tuple[str, ...]]] = []
        if batch[0] in cached:
            for drop_index in batch:
                entry, columns = cached[drop_index]
                # Parsed and mapped before: read the staged rows as they were written.
                unite.append((drop_index, entry))
                _note_columns(drops[drop_index], drop_index, columns, attributes, mapped,
                              column_rows)
            if cache is not None:
                cache.hits += len(batch)
        else:
            read = _read_in_parallel(con, [(i, drops[i]) for i in batch])
            if cache is not None:
                cache.misses += len(batch)
            for drop_index in batch:
                drop, failed = drops[drop_index], read[drop_index]
                if failed is not None:
                    problems.extend(p for p in failed.problems if isinstance(p, Problem))
                    continue
                table = f"drop_{drop_index}"
                names = _column_names(con, table)
                columns = [c for c in names if c not in HIDDEN_COLUMNS]
                missing = _missing_columns(drop, columns)
                for problem in missing:
                    # The same column missing from many drops is one problem, not one per drop.
                    seen = (drop.source_index, problem.expected)
                    if seen in missing_seen:
                        missing_seen[seen][1] += 1
                    else:
                        missing_seen[seen] = [len(problems), 0]
                        problems.append(problem)
                if missing:
                    continue
                selects.append((drop_index, _stage_sql(drop, drop_index, table, names,
                                                       attributes), tuple(columns)))
                _note_columns(drop, drop_index, columns, attributes, mapped, column_rows)
        if selects and not problems:
            stored = _store_staged(con, cache, [(i, sql, keys[i], c) for i, sql, c in selects])
            rest = [sql for i, sql, _ in selects if i not in stored]
            if rest:
                # One statement per part: the engine works on all of its drops in parallel.
                part = f"staged_part_{len(parts)}"
                con.execute(f"CREATE OR REPLACE TABLE {part} AS "
                            + " UNION ALL BY NAME ".join(rest))
                parts.append(part)
            for drop_index, _, _ in selects:
                entry = stored.get(drop_index)
                if entry is not None:
                    unite.append((drop_index, entry))
                elif f"SELECT * FROM {parts[-1]}" not in unite:
                    unite.append(f"SELECT * FROM {parts[-1]}")
        for drop_index in batch:
            con.execute(f"DROP TABLE IF EXISTS drop_{drop_index}")
    for index, first, count in _message_sources(drops):
        try:
            hits = stage_message_source(con, config, index, drops[first:first + count], first,
                                        cache)
            if cache is not None:
                cache.hits += hits
                cache.misses += count - hits
        except DataError as error:
            problems.extend(p for p in error.problems if isinstance(p, Problem))
        mapped.update(derived_fields(config.sources[index]))
    for position, more in missing_seen.values():
        if more:
            problem = problems[position]
            problems[position] = replace(
                problem, where=f"{problem.where} (and {more} more drop{'s' if more > 1 else ''})"
            )
    if problems:
        for part in parts:
            con.execute(f"DROP TABLE IF EXISTS {part}")
        raise DataError(problems)
    con.execute("CREATE OR REPLACE VIEW staged AS " + " UNION ALL BY NAME ".join(
        [_empty_stage_sql(attributes)] + _united_sql(unite)))
    # Which export column each field came from, per drop (for messages; not repeated per row).
    con.execute(
        "CREATE OR REPLACE TABLE drop_columns (drop_index INTEGER, field VARCHAR, "
        "column_name VARCHAR)"
    )
    if column_rows:
        con.executemany("INSERT INTO drop_columns VALUES (?, ?, ?)", column_rows)
    # Each drop's file and the unit of its record positions, once per drop rather than per row.
    con.execute(
        "CREATE OR REPLACE TABLE drop_files (drop_index INTEGER, file VARCHAR, "
        "position_word VARCHAR)"
    )
    files = [(i, d.rel, POSITION_WORD[drop_format(d)]) for i, d in enumerate(drops)
             if d.source.shape not in DERIVED_SHAPES]
    if files:
        con.executemany("INSERT INTO drop_files VALUES (?, ?, ?)", files)
    return Staged(drops, frozenset(mapped), tuple(parts))


def _united_sql(unite: list[str | tuple[int, Path]]) -> list[str]:
    """SELECTs of the parts (given as SELECTs) and the drops' cache files (drop index, path):
    each run of cache files is read by one `read_parquet`, which reads its files in parallel
    (one per drop would read them one after the other)."""
    selects: list[str] = []
    run: list[tuple[int, Path]] = []
    for item in [*unite, ""]:
        if isinstance(item, tuple):
            run.append(item)
            continue
        if run:
            # Drops with the same bytes share a cache file: it is read once, for each of them.
            paths = ", ".join(sql_str(path) for path in dict.fromkeys(p.as_posix() for _, p in run))
            indexes = ", ".join(f"({sql_str(path.as_posix())}, {i})" for i, path in run)
            selects.append(
                f"SELECT d.drop_index, s.* EXCLUDE (filename) FROM read_parquet([{paths}], "
                "filename = true, union_by_name = true) s "
                f"JOIN (VALUES {indexes}) d(filename, drop_index) USING (filename)"
            )
            run = []
        if item:
            selects.append(item)
    return selects


def _store_staged(
    con: duckdb.DuckDBPyConnection,
    cache: Cache | None,
    items: list[tuple[int, str, str, tuple[str, ...]]],
) -> dict[int, Path]:
    """Write each (drop index, staging SELECT, cache key, export columns) to the cache, several
    at once; return the cache file of each drop that was written."""
    if cache is None or cache.folder is None:
        return {}
    store = cache

    def write(cursor: duckdb.DuckDBPyConnection, item: tuple[int, str, str, tuple[str, ...]]
              ) -> Path | None:
        _, sql, key, columns = item
        store.store_table(cursor, f"(SELECT * EXCLUDE (drop_index) FROM ({sql}))", key,
                          kind="staged")
        store.store_bytes("staged", key, ".json", json.dumps(list(columns)).encode("utf-8"))
        path = store.path("staged", key, ".parquet")
        return path if path is not None and path.is_file() else None

    written = _on_cursors(con, items, write, "mapping drops")
    return {item[0]: path for item, path in zip(items, written) if path is not None}


def release_staged(con: duckdb.DuckDBPyConnection, staged: Staged) -> bool:
    """Drop the staged export text once every row is accounted for, unless a message-level
    source needs it again (its restatements validate the drops a second time). The engine then
    has that memory for the figures. Return whether it was dropped."""
    if any(drop.source.shape in DERIVED_SHAPES for drop in staged.drops):
        return False
    con.execute("DROP VIEW IF EXISTS staged_used")
    con.execute("DROP VIEW IF EXISTS staged")
    for part in staged.parts:
        con.execute(f"DROP TABLE IF EXISTS {part}")
    return True


#: Text in memory per byte on disk, for formats that store it compressed (estimates).
EXPANSION = {"parquet": 5, "xlsx": 10}


def _text_size(drop: Drop) -> int:
    """About how many bytes of text the drop is once read: a gzip file's own record of its
    uncompressed size, an estimate for the compressed formats, else its size on disk."""
    size = drop.path.stat().st_size
    with drop.path.open("rb") as handle:
        if handle.read(2) == GZIP_MAGIC and size >= 18:
            handle.seek(-4, os.SEEK_END)  # ISIZE: the uncompressed size modulo 2**32
            return max(size, int.from_bytes(handle.read(4), "little"))
    return size * EXPANSION.get(drop_format(drop), 1)


def _batches(drops: tuple[Drop, ...], cached: Container[int]) -> list[list[int]]:
    """Interaction-level drops in order, cut into runs of cached drops and batches of drops to
    read (at most BATCH_BYTES of text each, at least one drop)."""
    batches: list[list[int]] = []
    size = 0
    for index, drop in enumerate(drops):
        if drop.source.shape in DERIVED_SHAPES:
            continue
        bytes_ = 0 if index in cached else _text_size(drop)
        previous = batches[-1] if batches else None
        if (previous is not None and (previous[0] in cached) == (index in cached)
                and (index in cached or size + bytes_ <= BATCH_BYTES)):
            previous.append(index)
            size += bytes_
        else:
            batches.append([index])
            size = bytes_
    return batches


def _read_in_parallel(
    con: duckdb.DuckDBPyConnection, items: list[tuple[int, Drop]]
) -> dict[int, DataError | None]:
    """Read drops into tables `drop_<index>`, several at once (a small drop keeps one core
    busy); return for each drop the DataError that stopped it, or None."""

    def read_one(cursor: duckdb.DuckDBPyConnection, item: tuple[int, Drop]) -> DataError | None:
        index, drop = item
        try:
            read_drop(cursor, drop, f"drop_{index}")
        except DataError as error:
            return error
        return None

    results = _on_cursors(con, items, read_one, "reading drops")
    return {index: result for (index, _), result in zip(items, results)}


Item = TypeVar("Item")
Result = TypeVar("Result")


def _on_cursors(
    con: duckdb.DuckDBPyConnection,
    items: list[Item],
    work: Callable[[duckdb.DuckDBPyConnection, Item], Result],
    what: str,
) -> list[Result]:
    """`work` on every item, several at once, each on a cursor (a connection of its own to the
    same in-memory database): one small drop keeps only one core busy. Results in order."""
    from concurrent.futures import ThreadPoolExecutor

    def run(item: Item) -> Result:
        cursor = con.cursor()
        try:
            cursor.execute("SET TimeZone = 'UTC'")
            return work(cursor, item)
        finally:
            cursor.close()

    workers = min(os.cpu_count() or 1, 4, len(items))
    if workers < 2:
        return list(progress(map(run, items), len(items), what))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(progress(pool.map(run, items), len(items), what))


def _staged_key(cache: Cache | None, drop: Drop, attributes: list[str]) -> str:
    """Cache key of a drop's staged rows: its content, its source's mapping, and the code."""
    if cache is None:
        return ""
    import generator.ingest.readers
    import generator.ingest.timestamps
    import generator.sqltext
    import generator.values

    return cache.key(
        "staged", drop.sha256, drop_format(drop), repr(drop.source), ",".join(attributes),
        code_digest(generator.ingest.readers.__file__), code_digest(__file__),
        code_digest(generator.ingest.timestamps.__file__), code_digest(generator.sqltext.__file__),
        code_digest(generator.values.__file__),
    )


def _note_columns(
    drop: Drop,
    drop_index: int,
    columns: list[str],
    attributes: list[str],
    mapped: set[str],
    column_rows: list[tuple[int, str, str]],
) -> None:
    """Record which canonical fields the drop maps, and the export column of each field."""
    mapped.update(f for f in ROW_FIELDS if _column_for(drop.source, f) in columns)
    column_rows += [
        (drop_index, name, _column_for(drop.source, name)
         if _column_for(drop.source, name) in columns else "")
        for name in list(ROW_FIELDS) + attributes
    ]


def _empty_stage_sql(attributes: list[str]) -> str:
    """A stage with every column _validate reads and no rows."""
    select = ["CAST(NULL AS VARCHAR) AS source", "CAST(NULL AS INTEGER) AS drop_index",
              "CAST(NULL AS BIGINT) AS line", "CAST(NULL AS BOOLEAN) AS id_inexact",
              "CAST(NULL AS VARCHAR) AS malformed", "CAST(NULL AS UHUGEINT) AS record_hash"]
    for name in list(ROW_FIELDS) + attributes:
        select += [f"CAST(NULL AS VARCHAR) AS {sql_ident('raw_' + name)}"]
    select += [f"CAST(NULL AS TIMESTAMPTZ) AS {name}" for name in TIMESTAMP_FIELDS]
    return f"SELECT {', '.join(select)} WHERE false"


def _column_names(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]


def _column_for(source: SourceConfig, name: str) -> str:
    return source.columns.get(name, name)


def _missing_columns(drop: Drop, columns: list[str]) -> list[Problem]:
    """A required column (or a mapped one) absent from the file is an error naming it."""
    source = drop.source
    wanted = [f for f in REQUIRED_FIELDS if not (f == "channel" and source.channel)]
    wanted += [name for name in source.columns if name not in wanted]
    wanted += [d for d in source_attributes(source) if d not in wanted]
    problems = []
    messages = _message_level_columns(columns) if source.shape == "interactions" else []
    for name in wanted:
        column = _column_for(source, name)
        if column in columns:
            continue
        if messages:
            i = drop.source_index
            problems.append(Problem(
                f"{drop.rel}, line 1", "", f"a column '{column}' for the field '{name}'", None,
                "the file looks like a message-level export (one row per message: "
                f"{', '.join(repr(c) for c in messages)}); declare it with sources[{i}].shape: "
                f"messages and map message_id, author, inbound, created_at and in_reply_to in "
                f"sources[{i}].columns (see 'Message-level exports' in the README)."))
            messages = []  # said once: the other missing columns follow from it
            continue
        close = did_you_mean(column, columns)
        hint = (
            f"{close} Set sources[{drop.source_index}].columns.{name}."
            if close
            else f"map it with sources[{drop.source_index}].columns.{name}; the file has "
            + ", ".join(f"'{c}'" for c in columns[:12])
            + ("…" if len(columns) > 12 else "")
            + "."
        )
        problems.append(
            Problem(f"{drop.rel}, line 1", "", f"a column '{column}' for the field '{name}'",
                    None, hint)
        )
    return problems


#: Columns that only a message-level export has: who sent a message, and what it replies to.
_MESSAGE_COLUMN = re.compile(r"inbound|in_(reply|response)_to(_.*)?|.*_in_reply_to(_.*)?",
                             re.IGNORECASE)


def _message_level_columns(columns: list[str]) -> list[str]:
    """The columns that mark a file as a message-level export (SPEC §3.3), if any."""
    return [c for c in columns if _MESSAGE_COLUMN.fullmatch(c.strip())]


def _stage_sql(
    drop: Drop,
    drop_index: int,
    table: str,
    columns: list[str],
    attributes: list[str],
) -> str:
    """SELECT that turns one raw drop table (`columns`: all of its columns) into canonical raw
    text plus parsed columns (the drop's file name is in the table `drop_files`, not in every
    row)."""
    source = drop.source
    inexact = (f"coalesce(list_contains({INEXACT_COLUMN}, {sql_str(_column_for(source, 'id'))}), "
               "false)" if INEXACT_COLUMN in columns else "false")
    malformed = (malformed_sql(MALFORMED_COLUMN, bool(source.pseudonymised))
                 if MALFORMED_COLUMN in columns else "CAST(NULL AS VARCHAR)")
    select = [
        f"{sql_str(source.name)} AS source",
        f"{drop_index} AS drop_index",
        f"{POSITION_COLUMN} AS line",
        f"{inexact} AS id_inexact",
        f"{malformed} AS malformed",
        f"{record_hash_sql(source, columns)} AS record_hash",
    ]
    for name in list(ROW_FIELDS) + attributes:
        column = _column_for(source, name)
        present = column in columns and (
            name in ROW_FIELDS or name in source_attributes(source)
        )
        if present:
            raw = f"nullif(trim({sql_ident(column)}), '')"
        elif name == "channel" and source.channel:
            raw = sql_str(source.channel)
        else:
            raw = "CAST(NULL AS VARCHAR)"
        # A pseudonymised field is hashed right here: no original value goes further.
        value = pseudonymised_sql(value_sql(raw, name, source), name, source)
        select.append(f"{value} AS {sql_ident('raw_' + name)}")
    # Ids written by a spreadsheet as '3.0' mean '3'.
    text = (
        "SELECT * REPLACE (regexp_replace(raw_id, '^(\\d+)\\.0+$', '\\1') AS raw_id) "
        f"FROM (SELECT {', '.join(select)} FROM {table})"
    )
    return parse_timestamps_sql(f"({text})", {n: "raw_" + n for n in TIMESTAMP_FIELDS}, source)


def _duplicate_sql(config: Config) -> str:
    """SQL condition on `copies` and `variants` (distinct records among them): a row that
    shares its id with others of its drop and is rejected for it (sources[].on_duplicate)."""
    def named(mode: str) -> str:
        names = [sql_str(s.name) for s in config.sources if s.on_duplicate == mode]
        return f"source IN ({', '.join(names)})" if names else "false"

    return (f"copies > 1 AND ({named('reject')} OR ({named('identical')} AND variants > 1))")


def optional_field_checks(csat: CsatPolicy) -> dict[tuple[str, str], str]:
    """(field, reason) -> SQL condition on the raw text, for each way an optional field can be
    invalid (SPEC §3.4), in the order they are tried per field: the field is then dropped."""
    checks: dict[tuple[str, str], str] = {}
    low, high = csat.scale
    score = "try_cast(raw_csat AS DOUBLE)"
    checks[("csat", "not_a_number")] = f"raw_csat IS NOT NULL AND {score} IS NULL"
    checks[("csat", "csat_outside_scale")] = f"{score} NOT BETWEEN {float(low)} AND {float(high)}"
    if csat.whole_scores:
        checks[("csat", "csat_not_on_scale")] = f"{score} <> trunc({score})"
    reach = "try_cast(raw_reach AS DOUBLE)"
    checks[("reach", "not_a_number")] = (
        f"raw_reach IS NOT NULL AND ({reach} IS NULL OR NOT isfinite({reach}))")
    checks[("reach", "negative_number")] = f"{reach} < 0"
    # Sums of reach are exact decimals (38 digits, 6 after the point): no audience comes near.
    checks[("reach", "number_too_large")] = f"{reach} > {MAX_REACH}"
    labels = ", ".join(sql_str(k) for k in SENTIMENT_LABELS)
    for name in SENTIMENT_FIELDS:
        checks[(name, "invalid_sentiment")] = (
            f"raw_{name} IS NOT NULL AND lower(raw_{name}) NOT IN ({labels}) AND "
            f"coalesce(try_cast(raw_{name} AS DOUBLE) NOT BETWEEN -1 AND 1, true)")
    words = ", ".join(sql_str(w) for w in TRUE_WORDS + FALSE_WORDS)
    for name in BOOLEAN_FIELDS:
        checks[(name, "unmapped_value")] = (
            f"raw_{name} IS NOT NULL AND lower(raw_{name}) NOT IN ({words})")
    return checks


def _validate(con: duckdb.DuckDBPyConnection, config: Config) -> list[str]:
    """Create `accounted`: every staged row's parsed fields, first failing reason (if any) and
    fate; return the names of the dimensions and other attributes it holds."""
    csat = config.policy.csat
    attributes = [
        c[len("raw_"):]
        for c in _column_names(con, "staged_used")
        if c.startswith("raw_") and c[len("raw_"):] not in ROW_FIELDS
    ]
    checks: list[tuple[str, str, str]] = []  # (condition, reason, field)
    for name in REQUIRED_FIELDS:
        checks.append((f"raw_{name} IS NULL", "missing_required", name))
    # Ids are text: a number that has lost digits is never read as another id (SPEC §3.4).
    checks.append(("id_inexact", "inexact_id", "id"))
    checks.append((f"regexp_matches(raw_id, {sql_str(EXPONENT_ID)})", "id_in_exponent", "id"))
    for name in TIMESTAMP_FIELDS:
        checks.append((f"raw_{name} IS NOT NULL AND {name} IS NULL", "unparseable_timestamp", name))
    for name in TIMESTAMP_FIELDS:
        checks.append((f"{name} IS NOT NULL AND NOT {in_range_sql(name)}",
                       "timestamp_out_of_range", name))
    for name in TIMESTAMP_FIELDS:
        checks.append((f"{name} > plausible_until", "implausible_timestamp", name))
    for name in ["channel"] + attributes:
        checks.append((f"lower({sql_ident('raw_' + name)}) = 'all'", "reserved_value", name))
    checks.append(("first_response_at < received_at", "reply_before_receipt", "first_response_at"))
    checks.append(("resolved_at < received_at", "resolution_before_receipt", "resolved_at"))
    if config.site.data_through is not None:
        cutoff = f"TIMESTAMPTZ {sql_str(config.site.data_through.isoformat())}"
        for name in TIMESTAMP_FIELDS:
            checks.append((f"{name} > {cutoff}", "after_data_through", name))
    checks.append((_duplicate_sql(config), "duplicate_id", "id"))

    # One pass over the checks gives both the reason and the field it concerns. A malformed
    # record (the reader says why) has no fields at all.
    verdict = (
        "CASE WHEN malformed IS NOT NULL THEN "
        "{'reason': json_extract_string(malformed, '$.reason'), 'field': NULL} "
        + " ".join(f"WHEN {c} THEN {{'reason': {sql_str(r)}, 'field': {sql_str(f)}}}"
                   for c, r, f in checks) + " END")
    true_words = ", ".join(sql_str(w) for w in TRUE_WORDS)
    false_words = ", ".join(sql_str(w) for w in FALSE_WORDS)
    # An invalid optional field is dropped, not the row: its value becomes empty (a boolean
    # takes its default) and `dropped` records which fields went, one bit per (field, reason).
    drops = optional_field_checks(csat)
    bits = {pair: 1 << i for i, pair in enumerate(drops)}

    def dropped(name: str) -> str:
        """SQL: the bit of the field's first failing check, or 0."""
        cases = [f"WHEN {c} THEN {bits[(f, r)]}" for (f, r), c in drops.items() if f == name]
        return f"(CASE {' '.join(cases)} ELSE 0 END)"

    def boolean(name: str, default: str) -> str:
        return (
            f"CASE WHEN lower(raw_{name}) IN ({true_words}) THEN true "
            f"WHEN lower(raw_{name}) IN ({false_words}) THEN false ELSE {default} END AS {name}"
        )

    def number(name: str) -> str:
        return f"CASE WHEN __drop_{name} = 0 THEN try_cast(raw_{name} AS DOUBLE) END AS {name}"

    def sentiment(name: str) -> str:
        cases = " ".join(f"WHEN {sql_str(k)} THEN {v}" for k, v in SENTIMENT_LABELS.items())
        return (
            f"CASE WHEN __drop_{name} = 0 THEN coalesce(CASE lower(raw_{name}) {cases} END, "
            f"try_cast(raw_{name} AS DOUBLE)) END AS {name}"
        )

    optional = sorted({f for f, _ in drops})
    drop_columns = ", ".join(f"{dropped(f)} AS __drop_{f}" for f in optional)
    dropped_bits = " | ".join(f"__drop_{f}" for f in optional)

    # Narrow helper tables instead of window functions over the wide rows. The ids that occur
    # more than once (re-exported by a later drop, or repeated in one drop) are a few per cent
    # of all; copies in one drop and the rows a later drop supersedes are found among them.
    con.execute(
        "CREATE OR REPLACE TABLE repeated AS SELECT source, raw_id FROM staged_used "
        "WHERE raw_id IS NOT NULL GROUP BY ALL HAVING count(*) > 1"
    )
    con.execute(
        "CREATE OR REPLACE TABLE duplicated AS SELECT drop_index, raw_id, count(*) AS copies, "
        "count(DISTINCT record_hash) AS variants "
        "FROM (SELECT drop_index, source, raw_id, record_hash FROM staged_used) "
        "SEMI JOIN repeated USING (source, raw_id) GROUP BY ALL HAVING count(*) > 1"
    )
    # Each drop's latest receipts: a timestamp far beyond those of its drop is a typo.
    sources = {source.name: source for source in config.sources}
    con.execute("CREATE OR REPLACE TABLE drop_latest AS "
                + latest_by_drop_sql("staged_used", "received_at", sources))
    con.execute(
        f"""
        CREATE OR REPLACE VIEW checked AS
        SELECT * EXCLUDE (verdict, plausible_until), verdict.reason AS reason,
            verdict.field AS reason_field
        FROM (SELECT *, {verdict} AS verdict FROM (
            SELECT s.*,
                {reference_sql("s.received_at", "dl")} + dl.future AS plausible_until,
                coalesce(d.copies, 1) AS copies, coalesce(d.variants, 1) AS variants,
                s.raw_id AS id, s.raw_channel AS channel,
                {number('csat')},
                {number('reach')},
                {boolean('public', 'NULL')},
                {boolean('moved_private', 'false')},
                {boolean('needs_reply', 'true')},
                {boolean('deleted', 'false')},
                {sentiment('sentiment_start')},
                {sentiment('sentiment_end')},
                CAST(nullif({dropped_bits}, 0) AS USMALLINT) AS dropped
            FROM (SELECT *, {drop_columns} FROM staged_used) s
            LEFT JOIN duplicated d ON d.drop_index = s.drop_index AND d.raw_id = s.raw_id
            LEFT JOIN drop_latest dl ON dl.drop_index = s.drop_index
        ))
        """
    )
    named = "".join(f", {sql_ident('raw_' + a)} AS {sql_ident(attribute_column(a))}"
                    for a in attributes)
    # The source as an ENUM of the source names, in text order (sorting by it is unchanged).
    source_type = f"ENUM({', '.join(sql_str(n) for n in sorted({s.name for s in config.sources}))})"
    names = [f"CAST(source AS {source_type}) AS source", *FIELD_COLUMNS[1:], "deleted", "line"]
    # Every row's fate, with the parsed fields but not the export text: a rejected row's text is
    # looked up in `staged_used` (by drop and line) when its message is written. The checks run
    # once; then the few valid rows that a later drop (or a later copy in the drop, when
    # on_duplicate lets copies through) re-exports are marked superseded. A valid row received
    # before `since`, or a retraction (`deleted` true), is not kept, but still wins over the
    # earlier versions of its id: the retraction takes them back.
    con.execute(
        f"""
        CREATE OR REPLACE TABLE accounted AS
        SELECT drop_index, reason, reason_field, {', '.join(names)}{named},
            CASE WHEN reason IS NULL THEN dropped END AS dropped,
            CAST(CASE WHEN reason IS NOT NULL THEN 'rejected'
                      WHEN deleted THEN 'retracted'
                      WHEN {since_sql(config, 'received_at')} THEN 'before_since'
                      ELSE 'kept' END AS {FATE}) AS fate
        FROM checked
        """
    )
    con.execute(
        """
        UPDATE accounted SET fate = 'superseded'
        FROM (SELECT source, id, max([drop_index, line]) AS winner
              FROM (SELECT source, id, drop_index, line FROM accounted WHERE reason IS NULL) v
              SEMI JOIN repeated r ON r.source = v.source AND r.raw_id = v.id
              GROUP BY ALL HAVING count(*) > 1) w
        WHERE accounted.reason IS NULL AND accounted.source = w.source
          AND accounted.id = w.id AND [accounted.drop_index, accounted.line] < w.winner
        """
    )
    con.execute("DROP VIEW checked")
    con.execute("DROP TABLE duplicated")
    con.execute("DROP TABLE repeated")
    # Every valid row as an interaction (restatements need the versions that lost, too), and
    # whether it is counted when it wins (not a retraction, not received before since).
    con.execute(
        "CREATE OR REPLACE VIEW valid_versions AS "
        f"SELECT a.drop_index, {since_sql(config, 'a.received_at')} OR a.deleted AS uncounted, "
        f"{_interaction_sql(con, attributes)} WHERE a.reason IS NULL"
    )
    return attributes


def _interaction_sql(con: duckdb.DuckDBPyConnection, attributes: list[str]) -> str:
    """Columns and FROM clause of the interactions in `accounted` (alias a): the row's key, its
    fields, its file and its dimensions. The file is looked up in a list of the drops' files
    (from `drop_files`) rather than joined: a query that needs no file then needs no join."""
    files = dict(con.execute("SELECT drop_index, file FROM drop_files").fetchall())
    listed = ", ".join(sql_str(files[i]) if i in files else "NULL"
                       for i in range(max(files, default=-1) + 1))
    # An ENUM of the files: every copy of the interactions holds a small number, not the name.
    names = ", ".join(sql_str(f) for f in sorted(set(files.values())))
    kind = f"ENUM({names})" if names else "VARCHAR"
    columns = ["a.rowid AS row_key"] + [f"a.{n}" for n in FIELD_COLUMNS]
    columns += [f"CAST([{listed}] AS {kind}[])[a.drop_index + 1] AS file", "a.line"]
    # Only a conversation's brand reply can lack a time (SPEC §3.3b): answered, time unknown.
    columns += ["false AS response_time_unknown"]
    columns += [f"a.{sql_ident(attribute_column(a))}" for a in attributes]
    return f"{', '.join(columns)} FROM accounted a"


def _create_interactions(
    con: duckdb.DuckDBPyConnection, attributes: list[str], results: list[MessageSourceResult]
) -> None:
    """Create the view `interactions`: the kept rows of `accounted` (not a copy of them), then
    each message-level source's conversations. `row_key` numbers the interactions uniquely."""
    selects = [f"SELECT {_interaction_sql(con, attributes)} WHERE a.fate = 'kept'"]
    offset = _row_count(con, "accounted")
    for result in results:
        selects.append(f"SELECT {offset} + rowid AS row_key, * FROM {result.table}")
        offset += _row_count(con, result.table)
    con.execute("CREATE OR REPLACE VIEW interactions AS "
                + " UNION ALL BY NAME ".join(selects))


def _row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _report(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    drops: tuple[Drop, ...],
    results: list[MessageSourceResult] | None = None,
) -> QualityReport:
    """Count every row's fate per drop, format rejections, work out data-through."""
    counts: dict[int, dict[str, int]] = {}
    reasons: dict[int, dict[str, int]] = {}
    for drop_index, fate, reason, number in con.execute(
        "SELECT drop_index, fate, coalesce(reason, ''), count(*) FROM accounted "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        counts.setdefault(drop_index, {}).setdefault(fate, 0)
        counts[drop_index][fate] += number
        if reason:
            reasons.setdefault(drop_index, {})[reason] = number
    message_stats = {s.file: s for r in results or [] for s in r.drops}
    stats = []
    for index, drop in enumerate(drops):
        if drop.source.shape in DERIVED_SHAPES:
            stats.append(message_stats.get(drop.rel, DropStats(
                drop.source.name, drop.rel, drop.sha256, 0, 0, 0, 0)))
            continue
        c = counts.get(index, {})
        stats.append(
            DropStats(
                source=drop.source.name,
                file=drop.rel,
                sha256=drop.sha256,
                read=sum(c.values()),
                kept=c.get("kept", 0),
                superseded=c.get("superseded", 0),
                rejected=c.get("rejected", 0),
                rejected_by_reason=dict(sorted(reasons.get(index, {}).items())),
                before_since=c.get("before_since", 0),
                retracted=c.get("retracted", 0),
            )
        )
    rejections = tuple(_rejections(con, config)) + tuple(
        r for result in results or [] for r in result.rejections
    )
    fields_dropped = _fields_dropped(con, config)
    by_source: dict[str, datetime | None] = {}
    latest_message = {r.source: r.latest for r in results or []}
    for source in config.sources:
        if source.shape in DERIVED_SHAPES:  # the latest kept message or event (SPEC §4.1)
            latest = latest_message.get(source.name)
            by_source[source.name] = _utc(latest) if latest is not None else None
            continue
        row = con.execute(
            "SELECT max(greatest(received_at, coalesce(first_response_at, received_at), "
            "coalesce(resolved_at, received_at))) FROM interactions WHERE source = ?",
            [source.name],
        ).fetchone()
        by_source[source.name] = _utc(row[0]) if row and row[0] is not None else None
    explicit = config.site.data_through is not None
    if explicit:
        through = config.site.data_through.astimezone(timezone.utc)  # type: ignore[union-attr]
    else:
        through = site_data_through(by_source, config.sources)
    return QualityReport(
        beyond=_beyond(con, config, through),
        closed_sources=tuple(s.name for s in config.sources if s.closed),
        drops=tuple(stats),
        rejections=rejections,
        exclusions={},
        data_through=through,
        data_through_by_source=by_source,
        data_through_explicit=explicit,
        reason_labels=dict(REASONS),
        fields_dropped=fields_dropped,
    )


def _beyond(
    con: duckdb.DuckDBPyConnection, config: Config, through: datetime | None
) -> tuple[BeyondPeriod, ...]:
    """Kept interactions received after `through`, by source and headline period."""
    if through is None:
        return ()
    headline = config.site.periods[0]
    local = f"timezone({sql_str(config.site.timezone)}, received_at)"
    rows = con.execute(
        f"SELECT CAST(source AS VARCHAR), {START_SQL[headline].format(ts=local)} AS start, "
        "count(*) FROM interactions WHERE received_at > ? GROUP BY ALL ORDER BY ALL",
        [through],
    ).fetchall()
    return tuple(BeyondPeriod(source, period_label(start, headline), n)
                 for source, start, n in rows)


def _fields_dropped(con: duckdb.DuckDBPyConnection, config: Config) -> tuple[DroppedField, ...]:
    """Count the optional fields dropped from valid rows, per drop, field and reason, with the
    message of the first of each (its export text is looked up in `staged_used`)."""
    pairs = list(optional_field_checks(config.policy.csat))
    counts = ", ".join(
        f"count(*) FILTER (WHERE dropped & {1 << i} <> 0), "
        f"min(line) FILTER (WHERE dropped & {1 << i} <> 0)" for i in range(len(pairs)))
    found: list[tuple[int, int, int, int]] = []  # (drop index, pair, count, first line)
    for drop_index, *numbers in con.execute(
        f"SELECT drop_index, {counts} FROM accounted WHERE dropped IS NOT NULL "
        "GROUP BY drop_index ORDER BY drop_index"
    ).fetchall():
        found += [(drop_index, i, numbers[2 * i], numbers[2 * i + 1])
                  for i in range(len(pairs)) if numbers[2 * i]]
    if not found:
        return ()
    source_index = {s.name: i for i, s in enumerate(config.sources)}
    out = []
    for drop_index, pair, count, line in found:
        field, reason = pairs[pair]
        raw = sql_ident("raw_" + field)
        row = con.execute(
            f"""SELECT s.source, f.file, f.position_word, dc.column_name, s.{raw}
            FROM staged_used s JOIN drop_files f ON f.drop_index = s.drop_index
            LEFT JOIN drop_columns dc ON dc.drop_index = s.drop_index AND dc.field = ?
            WHERE s.drop_index = ? AND s.line = ?""", [field, drop_index, line]
        ).fetchone()
        assert row is not None
        source, file, word, column, value = row
        context = Context(source_index.get(source, 0), config.policy.csat.scale)
        where = f"{file}, {word} {line}" + (f", column '{column}'" if column else "")
        message = str(rejection_problem(where, reason, field, value, context))
        out.append(DroppedField(source, file, field, column or "", reason, count, message))
    return tuple(out)


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _rejections(con: duckdb.DuckDBPyConnection, config: Config) -> list[Rejection]:
    """Every rejected row as a Rejection with its one-line message."""
    source_index = {s.name: i for i, s in enumerate(config.sources)}
    names = [c for c in _column_names(con, "staged_used") if c.startswith("raw_")]
    found = "CASE a.reason_field " + " ".join(
        f"WHEN {sql_str(c[4:])} THEN s.{sql_ident(c)}" for c in names
    ) + " END"
    # A record's position is unique within its drop: it finds the row's export text.
    implausible = "a.reason = 'implausible_timestamp'"
    rows = con.execute(
        f"""SELECT a.source, f.file, f.position_word || ' ' || a.line, a.reason, a.reason_field,
                   dc.column_name, coalesce(s.malformed, {found}), s.raw_received_at,
                   CASE WHEN {implausible} THEN {reference_sql("a.received_at", "dl")} END,
                   CASE WHEN {implausible} THEN {reference_sql("a.received_at", "dl", False)}
                       IS NULL END
            FROM accounted a
            JOIN drop_files f ON f.drop_index = a.drop_index
            JOIN staged_used s ON s.drop_index = a.drop_index AND s.line = a.line
            LEFT JOIN drop_columns dc
                ON dc.drop_index = a.drop_index AND dc.field = a.reason_field
            LEFT JOIN drop_latest dl ON dl.drop_index = a.drop_index
            WHERE a.fate = 'rejected' ORDER BY a.drop_index, a.line"""
    ).fetchall()
    through = config.site.data_through.isoformat() if config.site.data_through else ""
    out = []
    for source, file, position, reason, field, column, value, received, latest, earlier in rows:
        index = source_index.get(source, 0)
        if reason in MALFORMED_REASONS:
            problem, column = malformed_problem(f"{file}, {position}", value, index)
            out.append(Rejection(source, file, position, "", column, reason, str(problem)))
            continue
        context = Context(index, config.policy.csat.scale, through,
                          config.sources[index].max_future, config.sources[index].on_duplicate,
                          config.sources[index].timestamp_format)
        problem = rejection_problem(
            f"{file}, {position}" + (f", column '{column}'" if column else ""),
            reason, field, value, context, received, reference_text(latest, earlier),
        )
        out.append(Rejection(source, file, position, field, column or "", reason, str(problem)))
    return out
