"""The `sources` section of config.yaml: where the export drops are and how to read them."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from generator.config.parsing import _IDENTIFIER, _INVALID, LoaderBase, _Bad, _is_null, _line
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
SHAPES: tuple[str, ...] = ("interactions", "messages")
FORMATS: tuple[str, ...] = ("auto", "csv", "jsonl", "json", "parquet", "xlsx")
#: The steps of sources[].normalize (generator.values applies them).
NORMALIZE_OPTIONS: tuple[str, ...] = ("trim", "casefold", "nfkc")
#: What sources[].on_duplicate does with rows of one id in one drop (SPEC §3.3b).
ON_DUPLICATE: tuple[str, ...] = ("reject", "identical", "keep_last")


@dataclass(frozen=True)
class SourceConfig:
    """One entry of `sources`: a glob of export drops of one shape."""

    name: str
    """Unique source name; ids are keyed per source."""
    path: str
    """Glob relative to config.yaml."""
    shape: str = "interactions"
    """`interactions` or `messages`."""
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
    on_duplicate: str = "reject"
    """Rows of one id in one drop: `reject` every copy, count `identical` copies once (the
    others superseded; differing copies rejected), or `keep_last` (the last valid copy wins)."""
    since: datetime | None = None
    """Rows received before it count as 'before since' and leave the grid (overrides
    site.since for this source); timezone-aware."""
    line: int = 0
    """Line of this entry in config.yaml (for messages)."""


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
            if source.shape == "messages":
                self.attributes.add("brand")
        # A retraction removes the row before any rule could match it.
        self.attributes.discard("deleted")
        return sources

    def source(self, node: yaml.Node, path: str) -> SourceConfig:
        """Parse one entry of `sources`."""
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
                "dimensions": self.list_of(self.dimension, unique="each dimension once"),
                "channel": self.text,
                "delimiter": self.delimiter,
                "timestamp_format": self.text,
                "normalize": self.list_of(self.choice(NORMALIZE_OPTIONS),
                                          unique="each step once"),
                "max_future": self.duration_text,
                "on_duplicate": self.choice(ON_DUPLICATE),
                "since": self.since,
            },
            required={
                "name": "a unique source name",
                "path": "a glob of export files, relative to config.yaml",
            },
        )
        values["dimensions"] = tuple(d for d in values.get("dimensions", ()) if d != "channel")
        if values.get("shape") == "messages" and "deleted" in values.get("columns", {}):
            # A retraction takes back an interaction; a message export has none to take back.
            columns = self.child(node, "columns")
            self.error(_line(self.child(columns, "deleted") or node), f"{path}.columns.deleted",
                       "a field of the message-level shape",
                       hint="'deleted' retracts rows of interaction-level sources only.")
        return SourceConfig(**{"name": "", "path": "", **values}, line=_line(node))

    def since(self, node: yaml.Node, path: str) -> datetime:
        """Parse `since`: a date (midnight) or date and time in the reporting timezone, or a
        date and time with an offset."""
        return self.local_datetime(node, path).replace(tzinfo=ZoneInfo(self.timezone))

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
        canonical = (*ROW_FIELDS, *MESSAGE_FIELDS)
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

    def dimension(self, node: yaml.Node, path: str) -> str:
        """Parse a dimension name: not 'all', not a canonical field other than channel."""
        name = self.identifier(node, path)
        if name == "all":
            raise _Bad("a dimension name other than 'all'", "'all' stands for every segment.")
        if name in ROW_FIELDS and name != "channel":
            raise _Bad(
                "a dimension name, not a canonical field",
                f"'{name}' is a canonical field; dimensions are other columns (team, category…).",
            )
        return name

    def delimiter(self, node: yaml.Node, path: str) -> str:
        """Parse a CSV delimiter: one character ('tab' or '\\t' for a tab)."""
        text = self.raw(node, "a single character")
        text = "\t" if text in ("tab", "\\t") else text
        if len(text) != 1:
            raise _Bad("a single character", "quote it, e.g. ';' or '|'.")
        return text
