"""Derive interactions from message-level exports (SPEC §3.3), set-based in the engine.

One row per message (a tweet, a comment) goes in; one row per customer conversation comes out,
with the columns of the ``interactions`` table plus ``brand``. The recipe:

1. Load every drop of the source (any format, :func:`readers.read_drop`) and map its
   columns onto the canonical message fields.
2. Validate each message; every row read is kept, superseded (a later drop carries the same
   message id) or rejected with a reason, exactly as for interaction-level sources.
3. Thread the union of kept messages: each message climbs its ``in_reply_to`` chain to the top by
   pointer jumping (each pass doubles the distance, so a thread of depth d needs log2(d) joins).
   A top that is an inbound message with no parent is a conversation root; a brand message with
   no parent starts a brand-initiated thread; a top whose parent is missing is an orphan (and so
   is everything under it); a chain that loops never reaches a top and counts as orphaned too.
4. Measure each conversation: received_at = the root's created_at, first_response_at = the
   earliest brand message (ties: the lowest message id), brand = that message's author, else the
   first @mention in the root's text naming a known brand account, else 'unknown'.

The two other derived shapes (SPEC §3.3b) go through the same steps:

- ``shape: conversations`` (one JSON record per conversation with a list of messages): each
  record is unnested into one message row per message (id ``<conversation id>#<n>``, every
  message after the first replying to the first), then checked, de-duplicated (the latest
  drop's record of a conversation wins, whole) and threaded like any message export. The first
  response is the first brand message in the record's order; one without a time (none given,
  none derivable from its id) makes the conversation "answered, time unknown".
- ``shape: events`` (one row per event of a case): each event is checked like a message; an
  event in several drops (or twice in one) counts once, the other copies are superseded. The
  events of a case are not threaded but measured by the source's rules: received_at, the
  first_response_at and resolved_at from the matching events, dimensions from the case's first
  (or last) event. A case with no receipt event is counted with the orphans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from generator.cache import code_digest
from generator.errors import DataError, Problem, did_you_mean
from generator.ingest.readers import (
    HIDDEN_COLUMNS,
    INEXACT_COLUMN,
    MALFORMED_COLUMN,
    POSITION_COLUMN,
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
    reference_sql,
    since_sql,
    timestamp_sql,
)
from generator.model import DropStats, Rejection, ThreadStats
from generator.sqltext import attribute_column, sql_ident, sql_str
from generator.values import pseudonymised_sql, text_sql, value_sql

if TYPE_CHECKING:
    import duckdb

    from generator.cache import Cache
    from generator.config.loader import Config, SourceConfig
    from generator.config.sources_section import EventRule
    from generator.ingest.sources import Drop

#: Canonical message fields (SPEC §3.3) and the optional response-id cross-check column.
REQUIRED_MESSAGE_FIELDS: tuple[str, ...] = ("message_id", "author", "inbound", "created_at",
                                            "in_reply_to")
OPTIONAL_MESSAGE_FIELDS: tuple[str, ...] = ("text", "channel", "response_ids")
MESSAGE_COLUMNS: tuple[str, ...] = REQUIRED_MESSAGE_FIELDS + OPTIONAL_MESSAGE_FIELDS
#: Fields a message row cannot do without (in_reply_to may be empty: a root).
NON_EMPTY_FIELDS: tuple[str, ...] = ("message_id", "author", "inbound", "created_at")
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")
DEFAULT_CHANNEL = "twitter"
#: A whole-number id a spreadsheet wrote as a float ('3.0').
_FLOAT_ID = r"^([+-]?\d+)\.0+$"
#: An id in exponent notation ('1.2e+18'): its last digits are gone.
EXPONENT_ID = r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$"
#: Canonical fields of the other derived shapes, as staged onto the message columns above:
#: an event's case id is staged as message_id, its time as created_at, its actor as author.
EVENT_STAGED: dict[str, str] = {"message_id": "case_id", "created_at": "time", "author": "actor"}
#: A conversation's id is staged as `conversation`, a message's own id as `tweet_id`.
EXTRA_STAGED: dict[str, tuple[str, ...]] = {
    "messages": (), "events": ("activity",), "conversations": ("conversation", "own_id"),
}
#: Twitter's snowflake ids: milliseconds since the epoch = (id >> 22) + this.
TWITTER_EPOCH_MS = 1288834974657
#: Interaction columns every source provides (sources._validate builds the same set).
INTERACTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "VARCHAR"), ("id", "VARCHAR"), ("received_at", "TIMESTAMPTZ"),
    ("first_response_at", "TIMESTAMPTZ"), ("resolved_at", "TIMESTAMPTZ"), ("channel", "VARCHAR"),
    ("csat", "DOUBLE"), ("sentiment_start", "DOUBLE"), ("sentiment_end", "DOUBLE"),
    ("public", "BOOLEAN"), ("moved_private", "BOOLEAN"), ("reach", "DOUBLE"),
    ("needs_reply", "BOOLEAN"), ("file", "VARCHAR"), ("line", "BIGINT"),
)


@dataclass(frozen=True)
class MessageSourceResult:
    """What reading one message-level source produced."""

    source: str
    """The source's name."""
    table: str
    """Engine table: one row per conversation, the interaction columns plus `brand` and the
    source's other dimensions (taken from the root message)."""
    messages_table: str
    """Engine table: every kept message with `root_id` and `thread` (conversation,
    brand_initiated, orphan)."""
    drops: tuple[DropStats, ...]
    """Row accounting per drop: read = kept + superseded + rejected."""
    rejections: tuple[Rejection, ...]
    """Every rejected message row, in drop order then position."""
    messages: int
    """Kept messages (the union after de-duplication)."""
    conversations: int
    """Conversations (inbound roots)."""
    brand_threads: tuple[str, ...]
    """Root message ids of brand-initiated threads (sorted)."""
    brand_thread_messages: int
    """Messages in brand-initiated threads."""
    orphans: tuple[str, ...]
    """Ids of the messages whose parent is missing (the tops of orphaned threads), plus the
    messages of reply chains that loop (sorted)."""
    orphan_messages: int
    """Messages in orphaned threads, the tops included."""
    response_ids_listed: int
    """Ids listed in the response-id column (0 when the source has none)."""
    response_ids_disagreeing: int
    """Listed response ids of kept messages whose in_reply_to names another message."""
    mapped_fields: frozenset[str]
    """Interaction fields this source provides."""
    latest: datetime | None = None
    """The latest created_at of the kept messages, follow-ups and replies included (for events:
    the latest kept event; for conversations: the latest timed message), the source's
    data-through time (SPEC §4.1); None when no message is kept."""
    response_time_unknown: int = 0
    """Conversations answered by a brand message without a time (shape: conversations)."""
    shape: str = "messages"
    """The source's shape (messages, events or conversations)."""


def thread_stats(result: MessageSourceResult, limit: int = 500) -> ThreadStats:
    """The model's summary of a message source's threads (ids capped at `limit`)."""
    return ThreadStats(
        source=result.source,
        messages=result.messages,
        conversations=result.conversations,
        orphans=result.orphan_messages,
        brand_initiated=len(result.brand_threads),
        orphan_ids=result.orphans[:limit],
        brand_initiated_ids=result.brand_threads[:limit],
        response_ids_disagreeing=result.response_ids_disagreeing,
        response_time_unknown=result.response_time_unknown,
        shape=result.shape,
    )


def derived_fields(source: SourceConfig) -> frozenset[str]:
    """The interaction fields a message, event or conversation source provides."""
    if source.shape != "events":
        return frozenset({"id", "received_at", "channel", "first_response_at"})
    mapped = {"id", "received_at", "channel"}
    mapped |= {"first_response_at"} if source.events.first_response else set()
    mapped |= {"resolved_at"} if source.events.resolved else set()
    return frozenset(mapped)


def message_attributes(source: SourceConfig) -> tuple[str, ...]:
    """Dimensions a message source reads from its root messages (besides brand and channel);
    an event source from its cases' first (or last) events, a conversation source from its
    records."""
    from generator.config.sources_section import SHAPE_FIELDS

    canonical = SHAPE_FIELDS[source.shape]
    names = [k for k in source.columns if k not in canonical]
    names += [d for d in source.dimensions if d not in names and d not in ("brand", "channel")]
    return tuple(names)


def read_message_source(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source_index: int,
    drops: list[Drop] | tuple[Drop, ...],
    first_drop_index: int = 0,
) -> MessageSourceResult:
    """Load, validate, de-duplicate and thread one message source; create its tables."""
    stage_message_source(con, config, source_index, drops, first_drop_index)
    return account_message_source(con, config, source_index, drops, first_drop_index)


def stage_message_source(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source_index: int,
    drops: list[Drop] | tuple[Drop, ...],
    first_drop_index: int = 0,
    cache: Cache | None = None,
) -> int:
    """Read every drop of the source once into `messages_{source_index}_staged` (raw text);
    return how many came from `cache` (drops read before, by content hash) instead of the file.

    Drop i of the list gets drop_index first_drop_index + i (the caller's global numbering).
    """
    source = config.sources[source_index]
    prefix = f"messages_{source_index}"
    attributes = message_attributes(source)
    problems: list[Problem] = []
    staged: list[str] = []
    to_cache: list[tuple[int, str]] = []
    for offset, drop in enumerate(drops):
        drop_index = first_drop_index + offset
        key = _staged_key(cache, drop, attributes) if cache is not None else ""
        entry = cache.parquet_entry(con, "messages", key) if cache is not None else None
        if entry is not None:
            staged.append(f"SELECT {drop_index} AS drop_index, {sql_str(drop.rel)} AS file, * "
                          f"FROM read_parquet({sql_str(entry.as_posix())})")
            continue
        table = f"{prefix}_drop_{offset}"
        try:
            word = read_drop(con, drop, table)
        except DataError as error:
            problems.extend(p for p in error.problems if isinstance(p, Problem))
            continue
        columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        missing = _missing_columns(drop, source_index, columns, attributes, word)
        if missing:
            problems.extend(missing)
            continue
        staged.append(_stage_sql(drop, drop_index, table, columns, attributes, word))
        to_cache.append((drop_index, key))
    if problems:
        raise DataError(problems)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {prefix}_staged AS "
                + " UNION ALL BY NAME ".join(staged))
    for offset in range(len(drops)):
        con.execute(f"DROP TABLE IF EXISTS {prefix}_drop_{offset}")
    if cache is not None and cache.folder is not None:
        for drop_index, key in to_cache:
            cache.store_table(con, f"(SELECT * EXCLUDE (drop_index, file) FROM {prefix}_staged "
                              f"WHERE drop_index = {drop_index})", key, kind="messages")
    return len(drops) - len(to_cache)


def _staged_key(cache: Cache, drop: Drop, attributes: tuple[str, ...]) -> str:
    """Cache key of a message drop's staged rows: its content, its source's mapping, the code."""
    import generator.ingest.readers
    import generator.sqltext
    import generator.values
    from generator.ingest.readers import drop_format

    return cache.key(
        "messages", drop.sha256, drop_format(drop), repr(drop.source), ",".join(attributes),
        code_digest(__file__), code_digest(generator.ingest.readers.__file__),
        code_digest(generator.sqltext.__file__), code_digest(generator.values.__file__),
    )


def account_message_source(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    source_index: int,
    drops: list[Drop] | tuple[Drop, ...],
    first_drop_index: int = 0,
    without: frozenset[int] = frozenset(),
) -> MessageSourceResult:
    """Validate, de-duplicate and thread the staged messages, leaving out the drops (global
    indexes) in `without`; create the conversations table. Can run again on the same stage."""
    source = config.sources[source_index]
    prefix = f"messages_{source_index}"
    attributes = message_attributes(source)
    _check(con, prefix, source, attributes, without)
    table = f"message_interactions_{source_index}"
    if source.shape == "events":
        _cases(con, prefix, table, source, attributes)
        _set_aside_cases_before_since(con, prefix, table, config, source)
    else:
        _thread(con, prefix, attributes, source.shape)
        _set_aside_before_since(con, prefix, config, source)
        _conversations(con, prefix, table, source, attributes)
    used = [(i, d) for i, d in enumerate(drops) if first_drop_index + i not in without]
    return _result(con, prefix, table, config, source_index, used, first_drop_index)


def _set_aside_before_since(
    con: duckdb.DuckDBPyConnection, prefix: str, config: Config, source: SourceConfig
) -> None:
    """Take the threads whose top was created before the source's `since` out of
    `{prefix}_messages`; their kept messages count as 'before since' (SPEC §3.3b)."""
    early = since_sql(config, "t.created_at", sql_str(source.name))
    if early == "false":
        return
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {prefix}_early AS
        SELECT m.message_id FROM {prefix}_messages m
        JOIN {prefix}_messages t ON t.message_id = m.root_id
        WHERE {early}"""
    )
    con.execute(f"UPDATE {prefix}_accounted SET fate = 'before_since' WHERE fate = 'kept' "
                f"AND message_id IN (SELECT message_id FROM {prefix}_early)")
    con.execute(f"DELETE FROM {prefix}_messages "
                f"WHERE message_id IN (SELECT message_id FROM {prefix}_early)")
    con.execute(f"DROP TABLE {prefix}_early")


def _set_aside_cases_before_since(
    con: duckdb.DuckDBPyConnection, prefix: str, table: str, config: Config,
    source: SourceConfig,
) -> None:
    """Take the cases received before the source's `since` out of `table` and of
    `{prefix}_messages`; their kept events count as 'before since' (SPEC §3.3b)."""
    early = since_sql(config, "received_at", sql_str(source.name))
    if early == "false":
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE {prefix}_early AS "
                f"SELECT id AS case_id FROM {table} WHERE {early}")
    con.execute(f"UPDATE {prefix}_accounted SET fate = 'before_since' WHERE fate = 'kept' "
                f"AND message_id IN (SELECT case_id FROM {prefix}_early)")
    con.execute(f"DELETE FROM {prefix}_messages "
                f"WHERE root_id IN (SELECT case_id FROM {prefix}_early)")
    con.execute(f"DELETE FROM {table} WHERE id IN (SELECT case_id FROM {prefix}_early)")
    con.execute(f"DROP TABLE {prefix}_early")


def _column_for(source: SourceConfig, name: str) -> str:
    return source.columns.get(name, name)


def _wanted_columns(source: SourceConfig, attributes: tuple[str, ...]) -> list[str]:
    """The fields (of the shape's own names) a drop needs a column for."""
    if source.shape == "events":
        rules = (source.events.received, source.events.first_response, source.events.resolved)
        by_actor = any(rule is not None and "actor" in rule.where for rule in rules)
        wanted = ["case_id", "time", "activity"]
        wanted += [f for f in ("actor", "channel")
                   if f in source.columns or (f == "actor" and by_actor)]
    elif source.shape == "conversations":
        wanted = ["id"] + [f for f in ("channel",) if f in source.columns]
    else:
        wanted = list(REQUIRED_MESSAGE_FIELDS)
        wanted += [f for f in OPTIONAL_MESSAGE_FIELDS if f in source.columns]
    return wanted + list(attributes)


def _missing_columns(
    drop: Drop, index: int, columns: list[str], attributes: tuple[str, ...], word: str
) -> list[Problem]:
    """Required fields, explicitly mapped fields and dimensions need a column in the file (and
    a conversation source the places of its messages)."""
    source = drop.source
    wanted = [(name, _column_for(source, name), f"columns.{name}")
              for name in _wanted_columns(source, attributes)]
    wanted += [("messages", m.path, "messages") for m in source.messages]
    where = f"{drop.rel}, {word} 1" if word in ("line", "row") else drop.rel
    problems = []
    for name, column, key in wanted:
        if column in columns:
            continue
        close = did_you_mean(column, [c for c in columns if c not in HIDDEN_COLUMNS])
        hint = (
            f"{close} Set sources[{index}].{key}."
            if close
            else f"map it with sources[{index}].{key}; the file has "
            + ", ".join(f"'{c}'" for c in [c for c in columns if c not in HIDDEN_COLUMNS][:12])
            + "."
        )
        if source.shape != "messages" and name in ("id", "messages") or "." in column:
            hint += " A dotted path (dialogHeader.company) reads a field inside a JSON record."
        problems.append(Problem(where, "", f"a column '{column}' for the field '{name}'",
                                None, hint))
    return problems


def _stage_sql(
    drop: Drop,
    drop_index: int,
    table: str,
    columns: list[str],
    attributes: tuple[str, ...],
    word: str,
) -> str:
    """SELECT mapping one raw drop table onto raw canonical text (plus the column names)."""
    source = drop.source
    if source.shape == "conversations":
        return _conversation_stage_sql(drop, drop_index, table, attributes, word)
    select = [
        f"{drop_index} AS drop_index",
        f"{sql_str(drop.rel)} AS file",
        f"{POSITION_COLUMN} AS line",
        f"{sql_str(word)} AS position_word",
    ]
    malformed = (malformed_sql(MALFORMED_COLUMN, bool(source.pseudonymised))
                 if MALFORMED_COLUMN in columns else "CAST(NULL AS VARCHAR)")
    select.append(f"{malformed} AS malformed")
    select.append(f"{record_hash_sql(source, columns)} AS record_hash")
    for name in ("message_id", "in_reply_to"):
        inexact = (f"coalesce(list_contains({INEXACT_COLUMN}, "
                   f"{sql_str(_column_for(source, name))}), false)"
                   if INEXACT_COLUMN in columns else "false")
        select.append(f"{inexact} AS inexact_{name}")
    events = source.shape == "events"
    for name in MESSAGE_COLUMNS + EXTRA_STAGED[source.shape] + attributes:
        # An event's case id, time and actor are staged as a message's id, time and author.
        own = EVENT_STAGED.get(name, name) if events else name
        column = _column_for(source, own)
        present = column in columns and column not in HIDDEN_COLUMNS
        if events and name in ("inbound", "in_reply_to", "text", "response_ids"):
            present = False
        if present and name == "text":
            raw = sql_ident(column)
        elif present:
            raw = f"nullif(trim({sql_ident(column)}), '')"
        elif name == "channel":
            raw = sql_str(source.channel or DEFAULT_CHANNEL)
        else:
            raw = "CAST(NULL AS VARCHAR)"
        # Pseudonymised fields (and the @handles of a text) are hashed right here.
        value = (text_sql(value_sql(raw, own, source), source) if name == "text"
                 else pseudonymised_sql(value_sql(raw, own, source), name, source))
        select.append(f"{value} AS {sql_ident('raw_' + name)}")
        select.append(f"{sql_str(column if present else '')} AS {sql_ident('col_' + name)}")
    return f"SELECT {', '.join(select)} FROM {table}"


def _json_path(dotted: str) -> str:
    """A JSON path naming a field, or a dotted path of fields, inside a message object."""
    return sql_str("$" + "".join('."' + part.replace('"', '\\"') + '"'
                                 for part in dotted.split(".")))


def _conversation_stage_sql(
    drop: Drop, drop_index: int, table: str, attributes: tuple[str, ...], word: str
) -> str:
    """SELECT unnesting each conversation record of a raw drop table into one row per message
    (in the order of `messages`, then of each list): raw canonical text, the record's id as
    `conversation`, the message's place as `turn`. A record with no message gives one row with
    no message (`raw_messages` empty), rejected as such."""
    source = drop.source
    lists = []
    for place in source.messages:
        value = f"CAST({sql_ident(place.path)} AS JSON)"
        role = sql_str(place.role) if place.role else "CAST(NULL AS VARCHAR)"
        lists.append(
            f"coalesce(list_transform(CASE json_type({value}) "
            f"WHEN 'ARRAY' THEN CAST(json_extract({value}, '$[*]') AS JSON[]) "
            f"WHEN 'OBJECT' THEN [{value}] ELSE CAST([] AS JSON[]) END, "
            f"lambda x: {{'m': x, 'role': {role}}}), [])"
        )
    turns = lists[0] if len(lists) == 1 else f"list_concat({', '.join(lists)})"
    listed = "CASE WHEN len(__turns) = 0 THEN [NULL] ELSE __turns END"

    def field(name: str) -> tuple[str, str]:
        path = source.columns.get(name, name)
        return f"nullif(trim(json_extract_string(__turn.m, {_json_path(path)})), '')", path

    select = [
        f"{drop_index} AS drop_index",
        f"{sql_str(drop.rel)} AS file",
        f"{POSITION_COLUMN} AS line",
        f"{sql_str(word)} AS position_word",
        "CAST(NULL AS VARCHAR) AS malformed",
        "CAST(NULL AS UHUGEINT) AS record_hash",
        "false AS inexact_message_id",
        "false AS inexact_in_reply_to",
        "CAST(__k AS BIGINT) AS turn",
    ]
    places = ", ".join(m.path for m in source.messages)
    raws: dict[str, tuple[str, str]] = {
        "messages": ("CASE WHEN __turn IS NOT NULL THEN 'present' END", places),
        "message_id": (f"nullif(trim({sql_ident(_column_for(source, 'id'))}), '')",
                       _column_for(source, "id")),
        "conversation": (f"nullif(trim({sql_ident(_column_for(source, 'id'))}), '')",
                         _column_for(source, "id")),
        "own_id": field("message_id"),
        "created_at": field("created_at"),
        "text": (f"json_extract_string(__turn.m, {_json_path(_column_for(source, 'text'))})",
                 _column_for(source, "text")),
        "in_reply_to": ("CAST(NULL AS VARCHAR)", ""),
        "response_ids": ("CAST(NULL AS VARCHAR)", ""),
    }
    # The role: from the place of the message, else the key it carries (`roles`, whose value is
    # the author), else the mapped inbound field.
    author, author_path = field("author")
    inbound, inbound_path = field("inbound")
    inbound = value_sql(inbound, "inbound", source)
    if source.roles:
        keys = list(source.roles)
        author = "coalesce(" + ", ".join(
            f"nullif(trim(json_extract_string(__turn.m, {_json_path(k)})), '')" for k in keys
        ) + f", {author})"
        inbound = "CASE " + " ".join(
            f"WHEN json_exists(__turn.m, {_json_path(k)}) "
            f"THEN {sql_str('true' if role == 'inbound' else 'false')}"
            for k, role in source.roles.items()
        ) + f" ELSE {inbound} END"
        author_path = inbound_path = " / ".join(keys)
    raws["author"] = (author, author_path)
    raws["inbound"] = (
        f"CASE __turn.role WHEN 'inbound' THEN 'true' WHEN 'outbound' THEN 'false' "
        f"ELSE {inbound} END", inbound_path)
    channel = _column_for(source, "channel")
    raws["channel"] = (
        f"nullif(trim({sql_ident(channel)}), '')" if "channel" in source.columns
        else sql_str(source.channel or DEFAULT_CHANNEL),
        channel if "channel" in source.columns else "")
    for name in attributes:
        column = _column_for(source, name)
        raws[name] = (f"nullif(trim({sql_ident(column)}), '')", column)
    for name, (raw, column) in raws.items():
        if name == "text":
            raw = text_sql(raw, source)
        elif name not in ("inbound", "messages"):
            raw = pseudonymised_sql(value_sql(raw, name, source), name, source)
        select.append(f"{raw} AS {sql_ident('raw_' + name)}")
        select.append(f"{sql_str(column)} AS {sql_ident('col_' + name)}")
    return (f"SELECT {', '.join(select)} FROM ("
            f"SELECT *, unnest({listed}) AS __turn, generate_subscripts({listed}, 1) AS __k "
            f"FROM (SELECT *, {turns} AS __turns FROM {table}))")





def id_sql(raw: str) -> str:
    """SQL normalising a textual id: '3.0' (a spreadsheet's float) means '3'."""
    return f"regexp_replace({raw}, {sql_str(_FLOAT_ID)}, '\\1')"


def _check(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    source: SourceConfig,
    attributes: tuple[str, ...],
    without: frozenset[int] = frozenset(),
) -> None:
    """Parse every staged row, find its first failing reason, and decide its fate.

    Messages: the latest drop's copy of a message id wins. Events: an event (case, time,
    activity, actor) counts once, the first copy in the latest drop holding it kept. A
    conversation: the latest drop's record of it wins with all its messages."""
    shape = source.shape
    checks: list[tuple[str, str, str]] = []  # (condition, reason, field)
    if shape == "conversations":
        checks.append(("raw_messages IS NULL", "missing_required", "messages"))
    non_empty = {"messages": NON_EMPTY_FIELDS, "events": ("message_id", "created_at", "activity"),
                 "conversations": ("message_id", "inbound")}[shape]
    for name in non_empty:
        checks.append((f"raw_{name} IS NULL", "missing_required", name))
    if shape == "conversations":
        # An inbound message needs a time; a brand reply without one is answered, time unknown.
        checks.append(("inbound AND created_at IS NULL AND raw_created_at IS NULL",
                       "missing_required", "created_at"))
    for name in ("message_id", "in_reply_to"):
        checks.append(
            (f"regexp_matches(raw_{name}, {sql_str(EXPONENT_ID)})", "id_in_exponent", name)
        )
        checks.append((f"inexact_{name}", "inexact_id", name))
    unparsed = ("raw_created_at IS NOT NULL AND created_at IS NULL"
                if shape == "conversations" else "created_at IS NULL")
    checks.append((unparsed, "unparseable_timestamp", "created_at"))
    checks.append((f"created_at IS NOT NULL AND NOT {in_range_sql('created_at')}",
                   "timestamp_out_of_range", "created_at"))
    checks.append(("created_at > plausible_until", "implausible_timestamp", "created_at"))
    if shape != "events":
        checks.append(("inbound IS NULL", "unmapped_value", "inbound"))
    for name in ("channel",) + attributes:
        checks.append((f"lower({sql_ident('raw_' + name)}) = 'all'", "reserved_value", name))
    if shape != "events":  # the events of a case are never duplicates
        # Copies of a message id in one drop (sources[].on_duplicate): all rejected, or let
        # through when they are identical records (or always, keep_last), the last one winning.
        duplicate = {"reject": "copies > 1", "identical": "copies > 1 AND variants > 1",
                     "keep_last": "false"}[source.on_duplicate]
        checks.append((duplicate, "duplicate_id", "message_id"))
    # A malformed record (the reader says why) has no fields at all.
    reason = ("CASE WHEN malformed IS NOT NULL THEN json_extract_string(malformed, '$.reason') "
              + " ".join(f"WHEN {c} THEN {sql_str(r)}" for c, r, _ in checks) + " END")
    field = ("CASE WHEN malformed IS NOT NULL THEN NULL "
             + " ".join(f"WHEN {c} THEN {sql_str(f)}" for c, _, f in checks) + " END")
    true_words = ", ".join(sql_str(w) for w in TRUE_WORDS)
    false_words = ", ".join(sql_str(w) for w in FALSE_WORDS)
    used = f"drop_index NOT IN ({', '.join(str(i) for i in sorted(without)) or '-1'})"
    # Each drop's latest messages: a time far beyond those of its drop is a typo (SPEC §3.4).
    created_at = timestamp_sql("raw_created_at", source)
    if shape == "conversations" and source.time_from_id == "twitter_snowflake":
        # A message with no time of its own: its tweet id says when it was written.
        created_at = (
            f"coalesce({created_at}, CASE WHEN raw_created_at IS NULL THEN make_timestamptz("
            f"try_cast(((try_cast(raw_own_id AS HUGEINT) >> 22) + {TWITTER_EPOCH_MS}) * 1000 "
            f"AS BIGINT)) END)"
        )
    message_id = id_sql("raw_message_id")
    parent = "nullif(" + id_sql("raw_in_reply_to") + ", '')"
    if shape == "conversations":
        parent = f"CASE WHEN turn > 1 THEN {message_id} || '#1' END"
        message_id = f"{message_id} || '#' || turn"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {prefix}_latest AS " + latest_by_drop_sql(
            f"(SELECT drop_index, {sql_str(source.name)} AS source, "
            f"{created_at} AS created_at "
            f"FROM {prefix}_staged WHERE {used})", "created_at", {source.name: source})
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {prefix}_checked AS
        SELECT * EXCLUDE (plausible_until), {reason} AS reason, {field} AS reason_field
        FROM (
            SELECT s.*, {reference_sql('created_at', 'l')} AS reference_at,
                {reference_sql('created_at', 'l', False)} IS NULL AS reference_earlier,
                {reference_sql('created_at', 'l')} + l.future AS plausible_until
            FROM (
                SELECT *,
                    {message_id} AS message_id,
                    {parent} AS parent,
                    CASE WHEN lower(raw_inbound) IN ({true_words}) THEN true
                         WHEN lower(raw_inbound) IN ({false_words}) THEN false END AS inbound,
                    {created_at} AS created_at,
                    count(*) OVER copy AS copies,
                    CASE WHEN min(record_hash) OVER copy = max(record_hash) OVER copy THEN 1
                         ELSE 2 END AS variants
                FROM {prefix}_staged WHERE {used}
                WINDOW copy AS (PARTITION BY drop_index, {message_id})) s
            LEFT JOIN {prefix}_latest l USING (drop_index)
        )"""
    )
    con.execute(f"DROP TABLE {prefix}_latest")
    # Latest drop (then the last copy in it) wins among valid rows; a rejected row never
    # replaces an earlier valid one. A conversation record is kept whole from its latest drop;
    # an event from the latest drop holding it, its first copy there.
    group, order, first_copy = "message_id", "[drop_index, line]", ""
    if shape == "conversations":
        group, order = id_sql("raw_message_id"), "drop_index"
    elif shape == "events":
        group = "message_id, created_at, raw_activity, coalesce(raw_author, '')"
        order = "drop_index"
        first_copy = (f" AND line = min(line) FILTER (WHERE reason IS NULL) "
                      f"OVER (PARTITION BY {group}, drop_index)")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {prefix}_accounted AS
        SELECT *,
            CASE WHEN reason IS NOT NULL THEN 'rejected'
                 WHEN {order} = max({order}) FILTER (WHERE reason IS NULL)
                      OVER (PARTITION BY {group}){first_copy} THEN 'kept'
                 ELSE 'superseded' END AS fate
        FROM {prefix}_checked"""
    )
    con.execute(f"DROP TABLE {prefix}_checked")


def _thread(
    con: duckdb.DuckDBPyConnection, prefix: str, attributes: tuple[str, ...], shape: str
) -> None:
    """Create `{prefix}_messages`: kept messages with their thread's top and kind."""
    dims = "".join(f", {sql_ident('raw_' + a)} AS {sql_ident(attribute_column(a))}"
                   for a in attributes)
    if shape == "conversations":
        dims += f", turn, {id_sql('raw_conversation')} AS conversation"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {prefix}_kept AS
        SELECT message_id, parent, raw_author AS author, inbound, created_at, raw_text AS text,
            raw_channel AS channel, raw_response_ids AS response_ids, drop_index, file, line{dims}
        FROM {prefix}_accounted WHERE fate = 'kept'"""
    )
    # Pointer jumping: `up` starts at the parent (or the message itself at a top) and each pass
    # replaces it by the up of the up, doubling the distance climbed; `done` once at the top.
    jump = f"{prefix}_jump"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {jump} AS
        SELECT m.message_id,
            CASE WHEN p.message_id IS NULL OR m.parent IS NULL THEN m.message_id
                 ELSE m.parent END AS up,
            (m.parent IS NULL OR p.message_id IS NULL) AS done
        FROM {prefix}_kept m LEFT JOIN {prefix}_kept p ON p.message_id = m.parent"""
    )
    pending = _count(con, f"SELECT count(*) FROM {jump} WHERE NOT done")
    while pending:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {jump}_next AS
            SELECT j.message_id,
                CASE WHEN j.done THEN j.up ELSE u.up END AS up,
                j.done OR u.done AS done
            FROM {jump} j JOIN {jump} u ON u.message_id = j.up"""
        )
        con.execute(f"DROP TABLE {jump}")
        con.execute(f"ALTER TABLE {jump}_next RENAME TO {jump}")
        left = _count(con, f"SELECT count(*) FROM {jump} WHERE NOT done")
        if left == pending:
            break  # what is left loops (a reply chain that never reaches a top)
        pending = left
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {prefix}_messages AS
        SELECT m.*, CASE WHEN j.done THEN j.up END AS root_id,
            CASE WHEN NOT j.done THEN 'orphan'
                 WHEN t.parent IS NOT NULL THEN 'orphan'
                 WHEN t.inbound THEN 'conversation'
                 ELSE 'brand_initiated' END AS thread
        FROM {prefix}_kept m JOIN {jump} j USING (message_id)
        JOIN {prefix}_kept t ON t.message_id = j.up
        ORDER BY m.drop_index, m.line"""
    )
    con.execute(f"DROP TABLE {jump}")
    con.execute(f"DROP TABLE {prefix}_kept")


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _conversations(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    table: str,
    source: SourceConfig,
    attributes: tuple[str, ...],
) -> None:
    """Create `table`: one row per conversation with the interaction columns plus brand."""
    msgs = f"{prefix}_messages"
    # Ties on created_at go to the lowest id: numerically when both are numbers. In a
    # conversation record the messages come in order: the first brand message is the reply.
    order = "created_at, try_cast(message_id AS HUGEINT) NULLS LAST, message_id"
    if source.shape == "conversations":
        order = "turn"
    dims = "".join(f", r.{sql_ident(attribute_column(a))}" for a in attributes)
    # A conversation record's interaction keeps the record's id; a thread its root's id.
    root_id = "r.conversation" if source.shape == "conversations" else "r.message_id"
    # With pseudonymised authors, each @handle of a text is already '@p-' and its hash.
    mention = sql_str("@(p-[0-9a-f]+)" if "author" in source.pseudonymised else "@(\\w+)")
    con.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
        WITH roots AS (
            SELECT * FROM {msgs} WHERE thread = 'conversation' AND message_id = root_id
        ),
        first_reply AS (
            SELECT root_id, created_at AS first_response_at, author AS brand
            FROM (SELECT *, row_number() OVER (PARTITION BY root_id ORDER BY {order}) AS rank
                  FROM {msgs} WHERE thread = 'conversation' AND NOT inbound)
            WHERE rank = 1
        ),
        accounts AS (
            SELECT lower(author) AS account, min(author) AS author
            FROM {msgs} WHERE NOT inbound GROUP BY ALL
        ),
        mentions AS (
            SELECT root_id, handle, k FROM (
                SELECT message_id AS root_id,
                    unnest(regexp_extract_all(text, {mention}, 1)) AS handle,
                    generate_subscripts(regexp_extract_all(text, {mention}, 1), 1) AS k
                FROM roots WHERE text LIKE '%@%')
        ),
        mentioned AS (
            SELECT root_id, arg_min(a.author, k) AS brand
            FROM mentions JOIN accounts a ON a.account = lower(handle) GROUP BY root_id
        )
        SELECT {sql_str(source.name)} AS source, {root_id} AS id,
            r.created_at AS received_at, f.first_response_at,
            CAST(NULL AS TIMESTAMPTZ) AS resolved_at, r.channel,
            CAST(NULL AS DOUBLE) AS csat, CAST(NULL AS DOUBLE) AS sentiment_start,
            CAST(NULL AS DOUBLE) AS sentiment_end, CAST(NULL AS BOOLEAN) AS public,
            false AS moved_private, CAST(NULL AS DOUBLE) AS reach, true AS needs_reply,
            r.file, CAST(r.line AS BIGINT) AS line,
            f.root_id IS NOT NULL AND f.first_response_at IS NULL AS response_time_unknown,
            coalesce(f.brand, m.brand, 'unknown') AS {sql_ident(attribute_column('brand'))}{dims}
        FROM roots r
        LEFT JOIN first_reply f ON f.root_id = r.message_id
        LEFT JOIN mentioned m ON m.root_id = r.message_id
        ORDER BY r.drop_index, r.line"""
    )


def _rule_sql(rule: EventRule | None) -> str:
    """SQL telling whether a kept event matches an event rule (false without a rule)."""
    if rule is None:
        return "false"
    column = {"activity": "raw_activity", "actor": "raw_author"}
    terms = [f"{column[name]} IN ({', '.join(sql_str(v) for v in values)})"
             for name, values in rule.where.items()]
    return " AND ".join(terms) or "true"


def _cases(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    table: str,
    source: SourceConfig,
    attributes: tuple[str, ...],
) -> None:
    """Create `{prefix}_messages` (the kept events with their case as `root_id`) and `table`:
    one interaction per case with a receipt event, measured by the source's event rules."""
    rules = source.events
    msgs = f"{prefix}_messages"
    columns = [attribute_column(a) for a in attributes]
    dims = "".join(f", {sql_ident('raw_' + a)} AS {sql_ident(c)}"
                   for a, c in zip(attributes, columns, strict=True))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {prefix}_events AS
        SELECT message_id AS case_id, created_at, raw_activity AS activity,
            raw_author AS actor, raw_channel AS channel, drop_index, file, line{dims},
            {_rule_sql(rules.received)} AS is_received,
            {_rule_sql(rules.first_response)} AS is_response,
            {_rule_sql(rules.resolved)} AS is_resolved
        FROM {prefix}_accounted WHERE fate = 'kept'"""
    )

    def pick(rule: EventRule | None, flag: str, after: str = "") -> str:
        agg = "max" if rule is not None and rule.pick == "last" else "min"
        since = f" AND e.created_at >= {after}" if after else ""
        return f"{agg}(e.created_at) FILTER (WHERE e.{flag}{since})"

    direction = " DESC" if rules.dimensions_from == "last" else ""
    taken = ", ".join(f"{c}{direction}" for c in ("created_at", "drop_index", "line"))
    dim_cols = "".join(f", first({sql_ident(a)} ORDER BY {taken}) AS {sql_ident(a)}"
                       for a in ("channel", "file", "line", *columns))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {prefix}_cases AS
        SELECT case_id, {pick(rules.received, 'is_received')} AS received_at{dim_cols}
        FROM {prefix}_events e GROUP BY case_id"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {msgs} AS
        SELECT e.case_id || chr(31) || e.line || chr(31) || e.drop_index AS message_id,
            e.case_id AS root_id, e.created_at, e.activity, e.actor,
            CASE WHEN c.received_at IS NULL THEN 'orphan' ELSE 'conversation' END AS thread,
            e.drop_index, e.file, e.line
        FROM {prefix}_events e JOIN {prefix}_cases c USING (case_id)
        ORDER BY e.drop_index, e.line"""
    )
    dim_select = "".join(f", c.{sql_ident(c)}" for c in columns)
    con.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
        SELECT {sql_str(source.name)} AS source, c.case_id AS id, c.received_at,
            t.first_response_at, t.resolved_at, c.channel,
            CAST(NULL AS DOUBLE) AS csat, CAST(NULL AS DOUBLE) AS sentiment_start,
            CAST(NULL AS DOUBLE) AS sentiment_end, CAST(NULL AS BOOLEAN) AS public,
            false AS moved_private, CAST(NULL AS DOUBLE) AS reach, true AS needs_reply,
            c.file, CAST(c.line AS BIGINT) AS line, false AS response_time_unknown{dim_select}
        FROM {prefix}_cases c
        JOIN (SELECT e.case_id,
                {pick(rules.first_response, 'is_response', 'c.received_at')} AS first_response_at,
                {pick(rules.resolved, 'is_resolved', 'c.received_at')} AS resolved_at
              FROM {prefix}_events e JOIN {prefix}_cases c USING (case_id)
              GROUP BY e.case_id) t USING (case_id)
        WHERE c.received_at IS NOT NULL
        ORDER BY c.received_at, c.case_id"""
    )
    con.execute(f"DROP TABLE {prefix}_events")
    con.execute(f"DROP TABLE {prefix}_cases")


def _result(
    con: duckdb.DuckDBPyConnection,
    prefix: str,
    table: str,
    config: Config,
    source_index: int,
    drops: list[tuple[int, Drop]],
    first_drop_index: int,
) -> MessageSourceResult:
    """Count fates per drop (offset, drop), format rejections, summarise threads."""
    source = config.sources[source_index]
    counts: dict[int, dict[str, int]] = {}
    reasons: dict[int, dict[str, int]] = {}
    for drop_index, fate, reason, number in con.execute(
        f"SELECT drop_index, fate, coalesce(reason, ''), count(*) FROM {prefix}_accounted "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        counts.setdefault(drop_index, {}).setdefault(fate, 0)
        counts[drop_index][fate] += number
        if reason:
            reasons.setdefault(drop_index, {})[reason] = number
    stats = []
    for offset, drop in drops:
        c = counts.get(first_drop_index + offset, {})
        stats.append(DropStats(
            source=source.name, file=drop.rel, sha256=drop.sha256, read=sum(c.values()),
            kept=c.get("kept", 0), superseded=c.get("superseded", 0),
            rejected=c.get("rejected", 0),
            rejected_by_reason=dict(sorted(reasons.get(first_drop_index + offset, {}).items())),
            before_since=c.get("before_since", 0),
        ))
    rejections = _rejections(con, prefix, source, source_index)
    msgs = f"{prefix}_messages"
    # A case is a conversation (its root, as it were, is its id); a message its thread's root.
    root = "message_id = root_id" if source.shape != "events" else "true"
    summary = con.execute(
        f"""SELECT count(*),
            count(DISTINCT root_id) FILTER (WHERE thread = 'conversation' AND {root}),
            count(*) FILTER (WHERE thread = 'brand_initiated'),
            count(*) FILTER (WHERE thread = 'orphan'),
            max(created_at)
        FROM {msgs}"""
    ).fetchone()
    assert summary is not None
    brand_threads = tuple(r[0] for r in con.execute(
        f"SELECT message_id FROM {msgs} WHERE thread = 'brand_initiated' AND message_id = root_id "
        "ORDER BY try_cast(message_id AS HUGEINT) NULLS LAST, message_id").fetchall())
    top = "root_id AS message_id" if source.shape == "events" else "message_id"
    orphans = tuple(r[0] for r in con.execute(
        f"SELECT DISTINCT {top} FROM {msgs} WHERE thread = 'orphan' "
        f"AND ({root} OR message_id = root_id OR root_id IS NULL) "
        "ORDER BY try_cast(message_id AS HUGEINT) NULLS LAST, message_id").fetchall())
    listed, disagreeing = (0, 0) if source.shape == "events" else con.execute(
        f"""SELECT count(*), count(*) FILTER (WHERE c.message_id IS NOT NULL
                AND c.parent IS DISTINCT FROM l.message_id)
        FROM (SELECT message_id,
                {id_sql("trim(unnest(string_split(response_ids, ',')))")} AS listed
              FROM {msgs} WHERE response_ids IS NOT NULL) l
        LEFT JOIN {msgs} c ON c.message_id = l.listed
        WHERE l.listed <> ''"""
    ).fetchone() or (0, 0)
    con.execute(f"DROP TABLE {prefix}_accounted")
    mapped = derived_fields(source)
    untimed = _count(con, f"SELECT count(*) FILTER (WHERE response_time_unknown) FROM {table}")
    return MessageSourceResult(
        source=source.name, table=table, messages_table=msgs, drops=tuple(stats),
        rejections=tuple(rejections), messages=int(summary[0]),
        conversations=int(summary[1]), brand_threads=brand_threads,
        brand_thread_messages=int(summary[2]), orphans=orphans,
        orphan_messages=int(summary[3]), response_ids_listed=int(listed),
        response_ids_disagreeing=int(disagreeing), mapped_fields=frozenset(mapped),
        latest=summary[4], response_time_unknown=untimed, shape=source.shape,
    )


#: The staged message fields under their own names in the other derived shapes.
OWN_NAMES: dict[str, dict[str, str]] = {
    "messages": {}, "events": EVENT_STAGED, "conversations": {"message_id": "id"},
}


def _rejections(
    con: duckdb.DuckDBPyConnection, prefix: str, config_source: SourceConfig, index: int
) -> list[Rejection]:
    """Every rejected message row with its one-line message (STYLE template)."""
    fields = MESSAGE_COLUMNS
    names = [r[0] for r in con.execute(f"DESCRIBE {prefix}_accounted").fetchall()]
    extra = [c[4:] for c in names if c.startswith("raw_") and c[4:] not in fields]
    found = "CASE reason_field " + " ".join(
        f"WHEN {sql_str(f)} THEN {sql_ident('raw_' + f)}" for f in fields + tuple(extra)
    ) + " END"
    column = "CASE reason_field " + " ".join(
        f"WHEN {sql_str(f)} THEN {sql_ident('col_' + f)}" for f in fields + tuple(extra)
    ) + " END"
    rows = con.execute(
        f"""SELECT file, position_word || ' ' || line, reason, reason_field, {column},
            coalesce(malformed, {found}), reference_at, reference_earlier
        FROM {prefix}_accounted WHERE fate = 'rejected' ORDER BY drop_index, line"""
    ).fetchall()
    out = []
    source, shape = config_source.name, config_source.shape
    context = Context(index, max_future=config_source.max_future,
                      on_duplicate=config_source.on_duplicate,
                      timestamp_format=config_source.timestamp_format)
    for file, position, reason, field, col, value, latest, earlier in rows:
        if reason in MALFORMED_REASONS:
            problem, col = malformed_problem(f"{file}, {position}", value, index)
            out.append(Rejection(source, file, position, "", col, reason, str(problem)))
            continue
        where = f"{file}, {position}" + (f", column '{col}'" if col else "")
        field = OWN_NAMES[shape].get(field, field)
        reference = (reference_text(latest, earlier, OWN_NAMES[shape].get("created_at",
                                                                         "created_at"),
                                    "messages" if shape != "events" else "events")
                     if reason == "implausible_timestamp" else "")
        problem = rejection_problem(where, reason, field, value, context, None, reference)
        if field == "messages":  # a conversation record with no message at its places
            problem = Problem(where, "", "a conversation record holding at least one message",
                              value, f"check sources[{index}].messages: the place(s) where "
                              "each record keeps its messages.")
        out.append(Rejection(source, file, position, field, col or "", reason, str(problem)))
    return out
