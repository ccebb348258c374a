"""Parsing config.yaml with its line numbers: the machinery every section's parser uses.

`LoaderBase` is one file being validated (its YAML node tree, its folder, the problems so far)
with the section-agnostic parsers: structure (`fields`, `items`, `list_of`, `pairs`) and scalars
(`text`, `choice`, `number_in`, `duration`, …). A parser turns the node at a dotted key path
into a value or raises `_Bad`, which `parse` reports as ``file:line: key: expected X, found
'Y'.``. The section modules (`site_section`, `sources_section`, `calendars_section`,
`policy_section`) add the parsers of their keys as mixins and `loader` combines them; the
underscored names here are the config package's own, shared by those modules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import yaml

from generator.errors import Problem
from generator.errors import did_you_mean as _did_you_mean
from generator.errors import quoted as _quoted


def parse_duration(text: str) -> float:
    """Return the minutes in a duration written like '90s', '15m', '4h', '2d' or '1.5h'."""
    match = _DURATION.fullmatch(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r}")
    return float(match.group(1)) * _SECONDS_PER_UNIT[match.group(2)] / 60


#: Years of plausible dates and times, in config.yaml and in exports (SPEC §3.4): others are
#: typing or export errors, and would stretch the period grid over centuries.
PLAUSIBLE_YEARS = (1970, 2100)
#: Deepest nesting of mappings and lists accepted in config.yaml and in front matter; a config
#: needs a few levels, and a file nested hundreds deep would exhaust the YAML composer's stack.
MAX_YAML_DEPTH = 50


class YamlTooDeep(yaml.YAMLError):
    """A YAML document nests mappings and lists deeper than :data:`MAX_YAML_DEPTH`."""

    def __init__(self, line: int) -> None:
        super().__init__(f"nested deeper than {MAX_YAML_DEPTH} levels at line {line}")
        self.line = line
        """0-based line of the mapping or list one level too deep."""

    def problem(self, where: str, what: str, hint: str) -> Problem:
        """The house-style message, `where` being the file:line of the offending level."""
        return Problem(where, what, f"at most {MAX_YAML_DEPTH} levels of nested mappings and "
                       "lists", f"{MAX_YAML_DEPTH + 1} levels", hint)


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing documents nested deeper than :data:`MAX_YAML_DEPTH`
    (its composer recurses once per level) with :class:`YamlTooDeep`."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        """Compose one node, counting how deep the collections above it go."""
        if self._depth >= MAX_YAML_DEPTH and self.check_event(
            yaml.MappingStartEvent, yaml.SequenceStartEvent
        ):
            raise YamlTooDeep(self.peek_event().start_mark.line)
        self._depth += 1
        try:
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


# --- the parsers -------------------------------------------------------------------------------

Parser = Callable[[yaml.Node, str], Any]
"""Turns a YAML node at a dotted key path into a value, or raises _Bad (or _Reported)."""

_INVALID: Any = object()
"""What LoaderBase.parse returns for a value it could not parse."""

_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DURATION = re.compile(r"(\d+(?:\.\d+)?|\.\d+)\s*([smhd])")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class _Bad(Exception):
    """A value is not what its key expects; LoaderBase.parse reports it at the node's line."""

    def __init__(
        self,
        expected: str,
        hint: str = "",
        *,
        node: yaml.Node | None = None,
        what: str | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(expected)
        self.expected = expected
        self.hint = hint
        self.node = node
        self.what = what
        self.found = found


class _Reported(Exception):
    """A parser gives up after reporting its problems itself."""


class LoaderBase:
    """One config file being validated: its YAML tree, its folder and the problems so far."""

    def __init__(self, label: str, root: Path, text: str, strict: bool) -> None:
        self.label = label
        self.root = root
        self.document = text
        self.strict = strict
        self.yaml = SafeLoader(text)
        self.problems: list[tuple[int, Problem]] = []
        self.warnings: list[tuple[int, Problem]] = []
        self.timezone = "UTC"

    # --- reporting -----------------------------------------------------------------------------

    def error(
        self, line: int, what: str, expected: str = "", found: str | None = None, hint: str = ""
    ) -> None:
        """Record a problem at a line of the file."""
        self.problems.append((line, Problem(f"{self.label}:{line}", what, expected, found, hint)))

    def unknown(self, node: yaml.Node, what: str, hint: str) -> None:
        """Record an unknown key: a warning, or an error in strict mode."""
        line = _line(node)
        problem = Problem(f"{self.label}:{line}", what, hint=hint)
        (self.problems if self.strict else self.warnings).append((line, problem))

    def found(self, node: yaml.Node) -> str:
        """Return a node as written (collections on one line) for a message."""
        if isinstance(node, yaml.ScalarNode):
            return str(node.value)
        return " ".join(self.document[node.start_mark.index : node.end_mark.index].split())

    # --- structure -----------------------------------------------------------------------------

    def parse(self, node: yaml.Node, path: str, parser: Parser) -> Any:
        """Run a parser on a node; report what it rejects and return _INVALID then."""
        try:
            return parser(node, path)
        except _Bad as bad:
            at = bad.node or node
            found = self.found(at) if bad.found is None else bad.found
            self.error(_line(at), bad.what or path, bad.expected, found, bad.hint)
        except _Reported:
            pass
        return _INVALID

    def pairs(self, node: yaml.Node, path: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """Return a mapping's (key, key node, value node) triples; report duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            raise _Bad("a mapping of keys to values")
        try:
            self.yaml.flatten_mapping(node)
        except yaml.YAMLError as exc:
            raise _Bad("a mapping of keys to values", str(exc)) from None
        seen: dict[str, int] = {}
        triples: list[tuple[str, yaml.Node, yaml.Node]] = []
        for key_node, value in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(_line(key_node), path or "top level", "a key", self.found(key_node))
                continue
            key = str(key_node.value)
            if key in seen:
                self.error(
                    _line(key_node),
                    f"{_join(path, key)}: duplicate key",
                    hint=f"'{key}' is already set on line {seen[key]}; keep one.",
                )
                continue
            seen[key] = _line(key_node)
            triples.append((key, key_node, value))
        return triples

    def child(self, node: yaml.Node | None, key: str) -> yaml.Node | None:
        """Return the value node of a key of a mapping node, if any (for cross-key checks)."""
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                    return value  # type: ignore[no-any-return]
        return None

    def fields(
        self,
        node: yaml.Node | None,
        path: str,
        spec: Mapping[str, Parser],
        required: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Parse a section's keys, one parser per key in spec order; return the valid values.

        Unknown keys are reported with a did-you-mean hint; a null value counts as absent.
        """
        present: dict[str, yaml.Node] = {}
        nulls: dict[str, int] = {}
        for key, key_node, value in self.pairs(node, path) if node is not None else []:
            if key not in spec:
                hint = _did_you_mean(key, spec) or f"the known keys are {_quoted(spec)}."
                self.unknown(key_node, f"{_join(path, key)}: unknown key", hint)
            elif _is_null(value):
                nulls[key] = _line(key_node)
            else:
                present[key] = value
        values: dict[str, Any] = {}
        for key, parser in spec.items():
            if key in present:
                value = self.parse(present[key], _join(path, key), parser)
                if value is not _INVALID:
                    values[key] = value
            elif required and key in required:
                line = nulls.get(key) or (_line(node) if node is not None else 1)
                self.error(line, f"{_join(path, key)}: missing required key", required[key])
        return values

    def items(
        self, node: yaml.Node, path: str, parser: Parser, non_empty: bool = False
    ) -> list[tuple[int, yaml.Node, Any]]:
        """Parse each entry of a list; return (index, node, value) of the valid ones."""
        if not isinstance(node, yaml.SequenceNode):
            raise _Bad("a list")
        if non_empty and not node.value:
            raise _Bad("a list with at least one entry")
        parsed = [(i, n, self.parse(n, f"{path}[{i}]", parser)) for i, n in enumerate(node.value)]
        return [entry for entry in parsed if entry[2] is not _INVALID]

    def list_of(
        self,
        parser: Parser,
        *,
        non_empty: bool = False,
        unique: str = "",
        key: Callable[[Any], Hashable | None] = lambda value: value,
        suffix: str = "",
    ) -> Parser:
        """Return a parser of a list whose entries `parser` reads (`unique`: what a repeat is)."""

        def parse(node: yaml.Node, path: str) -> tuple[Any, ...]:
            seen: dict[Hashable, int] = {}
            values = []
            for i, child, value in self.items(node, path, parser, non_empty):
                name = key(value) if unique else None
                if unique and name is not None and name in seen:
                    self.error(
                        _line(child),
                        f"{path}[{i}]{suffix}",
                        unique,
                        str(name),
                        f"line {seen[name]} already has it.",
                    )
                    continue
                if name is not None:
                    seen[name] = _line(child)
                values.append(value)
            return tuple(values)

        return parse

    # --- scalars -------------------------------------------------------------------------------

    def raw(self, node: yaml.Node, expected: str) -> str:
        """Return a scalar as written, or raise _Bad(expected) for null and collections."""
        if not isinstance(node, yaml.ScalarNode) or _is_null(node):
            raise _Bad(expected)
        return str(node.value)

    def value(self, node: yaml.Node, expected: str) -> Any:
        """Return a scalar as YAML types it (str, int, float, bool, date, datetime)."""
        self.raw(node, expected)
        try:
            return self.yaml.construct_object(node)
        except yaml.YAMLError:
            raise _Bad(expected) from None

    def text(self, node: yaml.Node, path: str) -> str:
        """Parse any non-empty scalar, as written."""
        text = self.raw(node, "a text")
        if not text.strip():
            raise _Bad("a non-empty text")
        return text

    def identifier(self, node: yaml.Node, path: str) -> str:
        """Parse a name usable in expressions: letters, digits and '_'."""
        name = self.raw(node, "a name of letters, digits and '_'")
        if not _IDENTIFIER.fullmatch(name):
            raise _Bad("a name of letters, digits and '_'")
        return name

    def choice(self, options: tuple[str, ...]) -> Parser:
        """Return a parser of one of `options`."""
        expected = f"one of {_quoted(options)}"

        def parse(node: yaml.Node, path: str) -> str:
            value = self.raw(node, expected)
            if value not in options:
                raise _Bad(expected, _did_you_mean(value, options))
            return value

        return parse

    def number_in(self, low: float | None = None, high: float | None = None) -> Parser:
        """Return a parser of a finite number within [low, high] (either bound optional)."""
        if low is not None and high is not None:
            expected = f"a number between {low:g} and {high:g}"
        elif low is not None:
            expected = f"a number ≥ {low:g}"
        else:
            expected = "a number"

        def parse(node: yaml.Node, path: str) -> int | float:
            value = self.value(node, expected)
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise _Bad(expected) from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise _Bad(expected)
            if not math.isfinite(value):
                raise _Bad(expected)
            if (low is not None and value < low) or (high is not None and value > high):
                raise _Bad(expected)
            return value

        return parse

    def whole(self, minimum: int) -> Parser:
        """Return a parser of a whole number ≥ minimum."""
        expected = f"a whole number ≥ {minimum}"

        def parse(node: yaml.Node, path: str) -> int:
            value = self.value(node, expected)
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise _Bad(expected)
            return value

        return parse

    def boolean(self, node: yaml.Node, path: str) -> bool:
        """Parse true or false."""
        value = self.value(node, "true or false")
        if not isinstance(value, bool):
            raise _Bad("true or false")
        return value

    def timezone_name(self, node: yaml.Node, path: str) -> str:
        """Parse an IANA timezone name."""
        expected = "an IANA timezone name"
        name = self.raw(node, expected)
        if not _is_timezone(name):
            raise _Bad(expected, _timezone_hint(name))
        return name

    def datetime_value(
        self,
        node: yaml.Node,
        path: str,
        expected: str = "an ISO 8601 date and time like '2026-11-30T00:00:00+00:00'",
    ) -> datetime:
        """Parse an ISO 8601 date and time, with or without an offset."""
        value = self.value(node, expected)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise _Bad(expected) from None
        if not isinstance(value, datetime):
            raise _Bad(expected)
        _check_year(value)
        return value

    def local_datetime(self, node: yaml.Node, path: str) -> datetime:
        """Parse a naive date-time in the reporting timezone (a bare date means midnight)."""
        expected = "a local date and time like '2026-10-14T09:00'"
        day = _as_date(self.value(node, expected))
        if day is not None:
            _check_year(day)
            return datetime.combine(day, time())
        moment = self.datetime_value(node, path, expected)
        if moment.tzinfo is not None:
            moment = moment.astimezone(ZoneInfo(self.timezone)).replace(tzinfo=None)
        return moment

    def date_value(self, node: yaml.Node, path: str) -> date:
        """Parse an ISO date like 2026-11-01."""
        day = _as_date(self.value(node, "a date like 2026-11-01"))
        if day is None:
            raise _Bad("a date like 2026-11-01")
        _check_year(day)
        return day

    def duration(self, node: yaml.Node, path: str) -> tuple[float, str]:
        """Parse a duration like '90s', '15m', '4h' or '2d' into (minutes, text as written)."""
        expected = "a duration like '60m' or '4h'"
        text = self.raw(node, expected)
        try:
            minutes = parse_duration(text)
        except ValueError:
            unitless = re.fullmatch(r"\d+(\.\d+)?", text.strip())
            hint = f"add a unit (s, m, h or d), e.g. '{text.strip()}m'." if unitless else ""
            raise _Bad(expected, hint) from None
        if not math.isfinite(minutes):
            raise _Bad(expected)
        if minutes <= 0:
            raise _Bad("a duration longer than zero")
        return minutes, text

    def duration_text(self, node: yaml.Node, path: str) -> str:
        """Parse a duration like '2d' and keep it as written."""
        return self.duration(node, path)[1].strip()

    def value_text(self, node: yaml.Node, path: str) -> str:
        """Parse a canonical or matched value as text: booleans 'true'/'false', numbers str()."""
        value = self.value(node, "a value")
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        return str(node.value)


# --- helpers ----------------------------------------------------------------------------------


def _check_year(value: date) -> None:
    """Refuse a date outside PLAUSIBLE_YEARS (as timestamps in exports are refused)."""
    low, high = PLAUSIBLE_YEARS
    if not low <= value.year <= high:
        raise _Bad(f"a date from {low} to {high}", "a date this far off is a typing error.")


def _line(node: yaml.Node) -> int:
    """Return the 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def _join(path: str, key: str) -> str:
    """Return the dotted path of a key below path."""
    return f"{path}.{key}" if path else key


def _is_null(node: yaml.Node) -> bool:
    """Tell whether a node is YAML null (`~`, `null` or nothing)."""
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _is_empty(node: yaml.Node) -> bool:
    """Tell whether a node is null or an empty mapping or list."""
    return _is_null(node) or (not isinstance(node, yaml.ScalarNode) and not node.value)


def _by_line(entries: list[tuple[int, Problem]]) -> list[Problem]:
    """Return the problems in file order (stable for one line)."""
    return [problem for _, problem in sorted(entries, key=lambda entry: entry[0])]

def _is_timezone(name: str) -> bool:
    """Tell whether name is an IANA timezone known to zoneinfo."""
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


@lru_cache(maxsize=1)
def _timezones() -> tuple[str, ...]:
    """Return every IANA timezone name, sorted."""
    return tuple(sorted(available_timezones()))


def _timezone_hint(name: str) -> str:
    """Suggest the timezone a wrong name probably meant ('london' -> 'Europe/London')."""
    wanted = name.strip().replace(" ", "_").lower()
    for zone in _timezones():
        if zone.lower() == wanted or zone.lower().endswith("/" + wanted):
            return f"did you mean '{zone}'?"
    return _did_you_mean(name, _timezones(), cutoff=0.8) or "use a name like 'Europe/London'."


def _as_date(value: object) -> date | None:
    """Return a YAML date or an ISO date text as a date; None for anything else."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None
