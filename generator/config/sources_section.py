"""The `sources` section of config.yaml: where the export drops are and how to read them."""

from __future__ import annotations

import glob
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from generator.config.expressions import DERIVED_NAMES
from generator.config.parsing import (
    _IDENTIFIER,
    _INVALID,
    LoaderBase,
    Parser,
    _Bad,
    _is_null,
    _line,
    _Reported,
)
from generator.errors import did_you_mean as _did_you_mean

#: Canonical fields of the interaction-level shape (SPEC §3.2).
INTERACTION_FIELDS: tuple[str, ...] = (
    "id",
    "received_at",
    "channel",
    "first_response_at",
    "resolved_at",
    "csat",
    "sentiment_start",
    "sentiment_end",
    "public",
    "moved_private",
    "reach",
    "needs_reply",
)
#: The fields a row of the interaction-level shape may carry: the canonical fields and
#: `deleted`, which retracts the row's interaction (SPEC §3.3b) and so never reaches a figure.
ROW_FIELDS: tuple[str, ...] = (*INTERACTION_FIELDS, "deleted")
REQUIRED_FIELDS: tuple[str, ...] = ("id", "received_at", "channel")
TIMESTAMP_FIELDS: tuple[str, ...] = ("received_at", "first_response_at", "resolved_at")
#: Canonical fields of the message-level shape (SPEC §3.3).
MESSAGE_FIELDS: tuple[str, ...] = (
    "message_id",
    "author",
    "inbound",
    "created_at",
    "in_reply_to",
    "text",
    "channel",
    "response_ids",
)
#: Canonical fields of the event-level shape (SPEC §3.3b): one row per event of a case.
EVENT_FIELDS: tuple[str, ...] = ("case_id", "time", "activity", "actor", "channel")
#: Canonical fields of the conversation shape (SPEC §3.3b): `id` and `channel` are read from the
#: record, the others from each of its messages.
CONVERSATION_FIELDS: tuple[str, ...] = ("id", "channel", "message_id", "author", "inbound",
                                        "created_at", "text")
#: The canonical fields of each shape that carecard turns into interactions.
SHAPE_FIELDS: dict[str, tuple[str, ...]] = {
    "messages": MESSAGE_FIELDS, "events": EVENT_FIELDS, "conversations": CONVERSATION_FIELDS}
SHAPES: tuple[str, ...] = ("interactions", "messages", "events", "conversations")
#: Shapes whose rows are messages or events that carecard turns into interactions.
DERIVED_SHAPES: tuple[str, ...] = ("messages", "events", "conversations")
#: What a message's role maps to in a conversation (`roles`, `messages[].role`).
ROLES: tuple[str, ...] = ("inbound", "outbound")
#: Ways to derive a message's time from its id (`time_from_id`).
TIME_FROM_ID: tuple[str, ...] = ("twitter_snowflake",)
FORMATS: tuple[str, ...] = ("auto", "csv", "jsonl", "json", "parquet", "xlsx")
#: The steps of sources[].normalize (generator.values applies them).
NORMALIZE_OPTIONS: tuple[str, ...] = ("trim", "casefold", "nfkc")
#: What sources[].on_duplicate does with rows of one id in one drop (SPEC §3.3b).
ON_DUPLICATE: tuple[str, ...] = ("reject", "identical", "keep_last")


@dataclass(frozen=True)
class EventRule:
    """Which events of a case mark a moment (receipt, first response, resolution)."""

    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Event field (activity, actor) -> the values that match; all must hold; empty: any event."""
    pick: str = "first"
    """`first` or `last`: which of the matching events of the case counts."""


@dataclass(frozen=True)
class EventRules:
    """`sources[].events`: how an event-level source's cases are measured (SPEC §3.3b)."""

    received: EventRule = field(default_factory=EventRule)
    """The receipt; default: the case's first event."""
    first_response: EventRule | None = None
    """The first response (the first matching event at or after receipt); None: never."""
    resolved: EventRule | None = None
    """The resolution (default pick: last, at or after receipt); None: never."""
    dimensions_from: str = "first"
    """`first` or `last`: the event whose dimensions (and channel) the case takes."""


@dataclass(frozen=True)
class MessagePath:
    """One entry of `sources[].messages`: where a conversation record keeps messages."""

    path: str
    """Dotted path into the record: a list of message objects, or one message object."""
    role: str | None = None
    """`inbound` or `outbound` for every message found there; None: from `roles` or the
    mapped `inbound` field."""


@dataclass(frozen=True)
class SourceConfig:
    """One entry of `sources`: a glob of export drops of one shape."""

    name: str
    """Unique source name; ids are keyed per source."""
    path: str
    """Glob relative to config.yaml."""
    shape: str = "interactions"
    """`interactions`, `messages`, `events` or `conversations`."""
    format: str = "auto"
    """auto (by extension) | csv | jsonl | json | parquet | xlsx."""
    timezone: str = "UTC"
    """Timezone of timestamps that carry no offset."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """Canonical field or dimension name -> column name in the export (identity when omitted)."""
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per canonical field or dimension: export value -> canonical value."""
    dimensions: tuple[str, ...] = ()
    """Dimensions published as segments (channel always is one and is not listed here)."""
    channel: str | None = None
    """Channel value for every row when the export has no channel column."""
    delimiter: str | None = None
    """CSV delimiter; sniffed when None."""
    timestamp_format: str | None = None
    """strptime-style format for timestamps; ISO 8601 (with or without offset) when None."""
    normalize: tuple[str, ...] = ()
    """Steps folding the channel and dimension values: `trim`, `casefold`, `nfkc`."""
    max_future: str = "2d"
    """A timestamp more than this duration after the latest received_at of the other rows of
    its drop is implausible and its row rejected (as written, e.g. '2d')."""
    closed: bool = False
    """The desk has stopped: its data-through time does not hold the site's back."""
    events: EventRules = field(default_factory=EventRules)
    """shape: events: which events are the receipt, the first response and the resolution."""
    messages: tuple[MessagePath, ...] = ()
    """shape: conversations: where each record keeps its messages."""
    roles: Mapping[str, str] = field(default_factory=dict)
    """shape: conversations: a key a message carries -> `inbound` or `outbound`; the key's
    value is the message's author (e.g. {client: inbound, agent: outbound})."""
    time_from_id: str | None = None
    """shape: conversations: `twitter_snowflake` derives a message's time from its id when the
    message has none."""
    on_duplicate: str = "reject"
    """Rows of one id in one drop: `reject` every copy, count `identical` copies once (the
    others superseded; differing copies rejected), or `keep_last` (the last valid copy wins)."""
    since: datetime | None = None
    """Rows received before it count as 'before since' and leave the grid (overrides
    site.since for this source); timezone-aware."""
    line: int = 0
    """Line of this entry in config.yaml (for messages)."""
    pseudonymised: tuple[str, ...] = ()
    """Fields and dimensions whose values are pseudonymised at ingest (a copy of
    site.privacy.pseudonymise, so that the source's cached rows depend on it)."""
    pseudonym_key_id: str = ""
    """A fingerprint of the pseudonyms' key (so that cached rows follow a change of key)."""


def site_data_through(
    latest: Mapping[str, datetime | None], sources: tuple[SourceConfig, ...]
) -> datetime | None:
    """The site's data-through time from each source's latest time (SPEC §4.1): the earliest
    of the open sources' (a lagging source holds the site back; a source marked `closed` does
    not), or the latest of all when every source with data is closed."""
    closed = {s.name for s in sources if s.closed}
    open_times = [t for name, t in latest.items() if t is not None and name not in closed]
    if open_times:
        return min(open_times)
    return max((t for t in latest.values() if t is not None), default=None)


def reserved_names(shape: str) -> tuple[str, ...]:
    """Names a dimension (or another mapped column) of a source of `shape` may not carry
    (SPEC §3.3b): the canonical fields of its shape (a message source's conversations carry the
    interaction fields too), the names the expression language computes, and `all`. The
    channel is a canonical field that is also a dimension."""
    fields = ROW_FIELDS + SHAPE_FIELDS.get(shape, ())
    canonical = tuple(dict.fromkeys(f for f in fields if f != "channel"))
    return canonical + DERIVED_NAMES + ("all",)


class SourcesParser(LoaderBase):
    """The parsers of the `sources` section."""

    attributes: set[str]
    """Canonical fields and the dimensions the sources declare (what a `where` may name)."""

    def sources(self, node: yaml.Node, path: str) -> tuple[SourceConfig, ...]:
        """Parse `sources` and learn the attributes they declare (for `where`)."""
        sources: tuple[SourceConfig, ...] = self.list_of(
            self.source,
            non_empty=True,
            unique="a unique source name",
            key=lambda source: source.name or None,
            suffix=".name",
        )(node, path)
        for source in sources:
            self.attributes.update(source.columns, source.dimensions)
            if source.shape in ("messages", "conversations"):
                self.attributes.add("brand")
        # A retraction removes the row before any rule could match it.
        self.attributes.discard("deleted")
        return sources

    def source(self, node: yaml.Node, path: str) -> SourceConfig:
        """Parse one entry of `sources`."""
        shape = self.child(node, "shape")
        reserved = reserved_names(shape.value if isinstance(shape, yaml.ScalarNode) else "")
        values = self.fields(
            node,
            path,
            {
                "name": self.text,
                "path": self.glob,
                "shape": self.choice(SHAPES),
                "format": self.choice(FORMATS),
                "timezone": self.timezone_name,
                "columns": self.columns,
                "values": self.value_maps,
                "dimensions": self.list_of(self.dimension(reserved),
                                           unique="each dimension once"),
                "channel": self.text,
                "delimiter": self.delimiter,
                "timestamp_format": self.text,
                "normalize": self.list_of(self.choice(NORMALIZE_OPTIONS),
                                          unique="each step once"),
                "max_future": self.duration_text,
                "closed": self.boolean,
                "events": self.event_rules,
                "messages": self.message_paths,
                "roles": self.roles,
                "time_from_id": self.choice(TIME_FROM_ID),
                "on_duplicate": self.choice(ON_DUPLICATE),
                "since": self.since,
            },
            required={
                "name": "a unique source name",
                "path": "a glob of export files, relative to config.yaml",
            },
        )
        values["dimensions"] = tuple(d for d in values.get("dimensions", ()) if d != "channel")
        self._check_shape_keys(node, path, values)
        shape = values.get("shape", "interactions")
        if shape != "interactions" and "deleted" in values.get("columns", {}):
            # A retraction takes back an interaction; other shapes' rows are parts of one.
            columns = self.child(node, "columns")
            self.error(_line(self.child(columns, "deleted") or node), f"{path}.columns.deleted",
                       f"a field of shape: {shape}",
                       hint="'deleted' retracts rows of interaction-level sources only.")
        return SourceConfig(**{"name": "", "path": "", **values}, line=_line(node))

    def since(self, node: yaml.Node, path: str) -> datetime:
        """Parse `since`: a date (midnight) or date and time in the reporting timezone, or a
        date and time with an offset."""
        return self.local_datetime(node, path).replace(tzinfo=ZoneInfo(self.timezone))

    def _check_shape_keys(self, node: yaml.Node, path: str, values: dict[str, object]) -> None:
        """Keys of one shape are refused on another; conversations need `messages`."""
        shape = values.get("shape", "interactions")
        own = {"events": "events", "messages": "conversations", "roles": "conversations",
               "time_from_id": "conversations"}
        for key, wanted in own.items():
            if key in values and shape != wanted:
                key_node = self.child(node, key)
                self.error(_line(key_node) if key_node is not None else _line(node),
                           f"{path}.{key}", f"a key of a source with shape: {wanted}",
                           f"shape: {shape}",
                           f"set 'shape: {wanted}' or remove '{key}'.")
        if "on_duplicate" in values and shape in ("events", "conversations"):
            key_node = self.child(node, "on_duplicate")
            self.error(_line(key_node) if key_node is not None else _line(node),
                       f"{path}.on_duplicate", "a key of a source with shape: interactions or "
                       "messages", f"shape: {shape}",
                       "the events of a case are never duplicates, and a conversation record "
                       "repeated in a drop is rejected; remove 'on_duplicate'.")
        if shape == "conversations" and self.child(node, "messages") is None:
            self.error(_line(node), f"{path}.messages: missing required key",
                       "the path of the list of messages in each record, e.g. 'messages: turns'")

    def event_rules(self, node: yaml.Node, path: str) -> EventRules:
        """Parse `events`: received, first_response, resolved (rules) and dimensions_from."""
        values = self.fields(
            node,
            path,
            {
                "received": self.event_rule("first"),
                "first_response": self.event_rule("first"),
                "resolved": self.event_rule("last"),
                "dimensions_from": self.choice(("first", "last")),
            },
        )
        return EventRules(**values)

    def event_rule(self, pick: str) -> Callable[[yaml.Node, str], EventRule]:
        """A parser of one event rule: `first`/`last` (any event) or a mapping of activity,
        actor (a value or a list of values) and pick (first | last; default `pick`)."""

        def parse(node: yaml.Node, path: str) -> EventRule:
            if isinstance(node, yaml.ScalarNode) and node.value in ("first", "last"):
                return EventRule(pick=node.value)
            if not isinstance(node, yaml.MappingNode):
                raise _Bad("first, last or a rule like {activity: [Closed, Resolved]}")
            values = self.fields(
                node,
                path,
                {
                    "activity": self.values_list,
                    "actor": self.values_list,
                    "pick": self.choice(("first", "last")),
                },
            )
            where: dict[str, tuple[str, ...]] = {
                k: values[k] for k in ("activity", "actor") if k in values}
            if self.child(node, "activity") is None and self.child(node, "actor") is None:
                raise _Bad("a rule naming activity or actor, e.g. {activity: [Closed]}")
            return EventRule(where=where, pick=values.get("pick", pick))

        return parse

    def values_list(self, node: yaml.Node, path: str) -> tuple[str, ...]:
        """One value or a non-empty list of values, as text ('8' matches the code 8)."""
        if isinstance(node, yaml.SequenceNode):
            items = self.list_of(self.value_text, non_empty=True)(node, path)
            return tuple(items)
        return (self.value_text(node, path),)

    def message_paths(self, node: yaml.Node, path: str) -> tuple[MessagePath, ...]:
        """Parse `messages`: a dotted path, or a list of paths and {path, role} entries."""
        if isinstance(node, yaml.SequenceNode):
            return tuple(self.list_of(self.message_path, non_empty=True)(node, path))
        return (self.message_path(node, path),)

    def message_path(self, node: yaml.Node, path: str) -> MessagePath:
        """One place of messages: 'turns' or {path: agentURL, role: outbound}."""
        if isinstance(node, yaml.MappingNode):
            values = self.fields(node, path, {"path": self.text, "role": self.choice(ROLES)},
                                 required={"path": "a dotted path into the record"})
            if "path" not in values:
                raise _Reported
            return MessagePath(values["path"], values.get("role"))
        return MessagePath(self.text(node, path))

    def roles(self, node: yaml.Node, path: str) -> dict[str, str]:
        """Parse `roles`: the key a message carries -> inbound | outbound."""
        roles = {}
        for key, _key_node, value in self.pairs(node, path):
            role = self.parse(value, f"{path}.{key}", self.choice(ROLES))
            if role is not _INVALID:
                roles[key] = role
        if not roles:
            raise _Bad("a mapping like {client: inbound, agent: outbound}")
        return roles

    def glob(self, node: yaml.Node, path: str) -> str:
        """Parse a glob relative to config.yaml that matches at least one file."""
        expected = "a glob matching at least one file"
        pattern = self.raw(node, expected)
        matches = glob.glob(pattern, root_dir=self.root, recursive=True)
        if not any((self.root / match).is_file() for match in matches):
            folder = Path(pattern).parent
            if not glob.has_magic(str(folder)) and not (self.root / folder).is_dir():
                hint = f"the folder '{folder}' does not exist in '{self.root}'."
            else:
                hint = f"paths are relative to the folder of config.yaml, '{self.root}'."
            raise _Bad(expected, hint)
        return pattern

    def columns(self, node: yaml.Node, path: str) -> dict[str, str]:
        """Parse `columns`: canonical field or dimension name -> column name in the export."""
        columns = {}
        canonical = (*ROW_FIELDS, *MESSAGE_FIELDS, *EVENT_FIELDS, *CONVERSATION_FIELDS)
        for name, key_node, value in self.pairs(node, path):
            if not _IDENTIFIER.fullmatch(name):
                self.error(
                    _line(key_node),
                    path,
                    "a field or dimension name of letters, digits and '_'",
                    name,
                    f"the canonical name comes first, e.g. 'id: {name}'.",
                )
                continue
            if name in DERIVED_NAMES or name == "all":
                self.error(_line(key_node), f"{path}.{name}",
                           "a field or dimension name that carecard does not reserve", name,
                           _reserved_hint(name, DERIVED_NAMES + ("all",)))
                continue
            if name not in canonical and (near := _did_you_mean(name, canonical, cutoff=0.75)):
                self.unknown(key_node, f"{path}.{name}: unknown field", near)
            column = self.parse(value, f"{path}.{name}", self.text)
            if column is not _INVALID:
                columns[name] = column
        return columns

    def value_maps(self, node: yaml.Node, path: str) -> dict[str, dict[str, str]]:
        """Parse `values`: field -> {export value (as written): canonical value}."""
        maps = {}
        for name, key_node, value in self.pairs(node, path):
            if not _IDENTIFIER.fullmatch(name):
                self.error(
                    _line(key_node),
                    path,
                    "a field or dimension name of letters, digits and '_'",
                    name,
                )
                continue
            mapping = self.parse(value, f"{path}.{name}", self.value_map)
            if mapping is not _INVALID:
                maps[name] = mapping
        return maps

    def value_map(self, node: yaml.Node, path: str) -> dict[str, str]:
        """Parse one field's value mapping; keys stay as written ('Yes' is not a boolean)."""
        mapping = {}
        for key, _key_node, value in self.pairs(node, path):
            try:
                mapping[key] = self.value_text(value, path)
            except _Bad:
                self.error(
                    _line(value),
                    f"{path}.{key}",
                    "a canonical value",
                    self.found(value),
                    "write '' to map it to an empty value." if _is_null(value) else "",
                )
        return mapping

    def dimension(self, reserved: tuple[str, ...]) -> Parser:
        """A parser of a dimension name: none of the `reserved` names (`reserved_names`)."""

        def parse(node: yaml.Node, path: str) -> str:
            name = self.identifier(node, path)
            if name in reserved:
                raise _Bad("a dimension name that carecard does not reserve",
                           _reserved_hint(name, reserved))
            return name

        return parse

    def delimiter(self, node: yaml.Node, path: str) -> str:
        """Parse a CSV delimiter: one character ('tab' or '\\t' for a tab)."""
        text = self.raw(node, "a single character")
        text = "\t" if text in ("tab", "\\t") else text
        if len(text) != 1:
            raise _Bad("a single character", "quote it, e.g. ';' or '|'.")
        return text


def _reserved_hint(name: str, reserved: tuple[str, ...]) -> str:
    """Why `name` is reserved, the reserved names, and how to use the column anyway."""
    if name == "all":
        why = "'all' stands for every segment"
    elif name in DERIVED_NAMES:
        why = f"'{name}' is computed by carecard (custom metrics read it)"
    else:
        why = f"'{name}' is a canonical field"
    names = ", ".join(reserved)
    return (f"{why}; the reserved names are {names}. Give the column another name, e.g. "
            f"columns: {{{name}_export: {name}}} and dimensions: [{name}_export].")
