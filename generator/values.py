"""Dimension values typed by strangers: folding them (`sources[].normalize`) and finding the
values that probably mean the same (SPEC §3.4, §6.6).

Two values are *probable duplicates* when they differ only by case, by surrounding, repeated
or invisible white space (zero-width spaces, a byte-order mark, direction marks and overrides),
by compatibility forms (full-width letters, ligatures) or by look-alike characters: the same
Unicode confusable skeleton (UTS #39, section 4), as with a Cyrillic 'о' in 'оrders'.

The confusables come from the `confusable-homoglyphs` package, which ships Unicode's
confusables.txt as a table of each character's look-alikes in both directions. That is enough
for a skeleton used to *compare*: the characters linked by the table form the classes of
confusables.txt (a prototype and the characters mapped to it), and every member of a class is
replaced by one representative (the prototype where the table shows which it is), so two
characters UTS #39 maps to one prototype map to one representative here too. The skeleton is
as complete as the package's copy of confusables.txt (which it reads from that file's comment
column); it is used to list probable duplicates, never to change a value.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from generator.config.privacy import field_pseudonym, hashed_fields, mentions_pseudonymised
from generator.model import LookalikeGroup
from generator.sqltext import mapped_sql

if TYPE_CHECKING:
    import duckdb

    from generator.config.loader import SourceConfig

#: The steps of `sources[].normalize`, in the order they are applied whatever the order given.
NORMALIZE_STEPS: tuple[str, ...] = ("nfkc", "casefold", "trim")
#: The engine function that applies them: carecard_normalize(value, 'nfkc,casefold,trim').
NORMALIZE_FUNCTION = "carecard_normalize"

#: Characters that show nothing (besides the format characters, category Cf: zero-width
#: spaces and joiners, direction marks, embeddings, overrides and isolates, the byte-order
#: mark, the soft hyphen): the combining grapheme joiner, Hangul fillers, variation selectors.
_INVISIBLE_EXTRA = frozenset(
    "\u034f\u115f\u1160\u3164\uffa0" + "".join(chr(c) for c in range(0xFE00, 0xFE10))
)


def is_invisible(char: str) -> bool:
    """True for a character that shows nothing: a format or control character (not white
    space), a filler or a variation selector."""
    category = unicodedata.category(char)
    return (category == "Cf" or (category == "Cc" and not char.isspace())
            or char in _INVISIBLE_EXTRA)


def strip_spaces(text: str) -> str:
    """Drop invisible characters and surrounding white space; one space between words."""
    return " ".join("".join(c for c in text if not is_invisible(c)).split())


def normalize_value(text: str, steps: Iterable[str]) -> str:
    """Apply the `sources[].normalize` steps to a value: `nfkc` (compatibility forms:
    'ｏｒｄｅｒｓ' → 'orders', 'ﬁ' → 'fi'), `casefold` ('Straße' → 'strasse') and `trim`
    (see :func:`strip_spaces`)."""
    wanted = set(steps)
    if "nfkc" in wanted:
        text = unicodedata.normalize("NFKC", text)
    if "casefold" in wanted:
        text = text.casefold()
        if "nfkc" in wanted:  # casefolding can leave a text that NFKC changes again
            text = unicodedata.normalize("NFKC", text)
    if "trim" in wanted:
        text = strip_spaces(text)
    return text


@functools.lru_cache(maxsize=1 << 16)
def _normalized(text: str, steps: str) -> str:
    return normalize_value(text, steps.split(","))


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make :data:`NORMALIZE_FUNCTION` available to the engine connection `con` (once)."""
    known = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [NORMALIZE_FUNCTION]
    ).fetchall()
    if known[0][0]:
        return
    con.create_function(
        NORMALIZE_FUNCTION, _normalized, ["VARCHAR", "VARCHAR"], "VARCHAR", side_effects=False
    )


def normalized_sql(raw: str, steps: Sequence[str]) -> str:
    """SQL applying the normalize `steps` to the text `raw` (unchanged when there are none; a
    value that normalizes to nothing is empty, NULL)."""
    if not steps:
        return raw
    listed = ",".join(s for s in NORMALIZE_STEPS if s in steps)
    return f"nullif({NORMALIZE_FUNCTION}({raw}, '{listed}'), '')"


def value_sql(raw: str, name: str, source: SourceConfig) -> str:
    """SQL of the canonical value of field `name` from the export text `raw`: normalized by
    the source's `normalize` steps when `name` is the channel or one of its dimensions, then
    mapped by its `values` (whose export values count as normalized the same way)."""
    steps = source.normalize if name == "channel" or name in source.dimensions else ()
    mapping = source.values.get(name)
    keys: dict[str, str] = {}
    for key, canonical in (mapping or {}).items():
        keys.setdefault(normalize_value(key, steps) if steps else key, canonical)
    return mapped_sql(normalized_sql(raw, steps), keys or None)


#: The engine function giving a field value's pseudonym: carecard_pseudonym('agent', value).
PSEUDONYM_FUNCTION = "carecard_pseudonym"
#: The engine function pseudonymising the @handles in a text: carecard_mentions(text).
MENTIONS_FUNCTION = "carecard_mentions"


def register_pseudonyms(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Make :data:`PSEUDONYM_FUNCTION` and :data:`MENTIONS_FUNCTION` with `key` available to
    `con` (site.privacy.pseudonymise), replacing those of another key."""
    import duckdb

    for name, function in ((PSEUDONYM_FUNCTION, lambda f, v: field_pseudonym(f, v, key)),
                           (MENTIONS_FUNCTION, lambda t: mentions_pseudonymised(t, key))):
        try:
            con.remove_function(name)
        except duckdb.InvalidInputException:  # not registered yet
            pass
        arguments: list[Any] = ["VARCHAR", "VARCHAR"] if name == PSEUDONYM_FUNCTION else ["VARCHAR"]
        con.create_function(name, function, arguments, "VARCHAR", side_effects=False)


def pseudonymised_sql(sql: str, name: str, source: SourceConfig) -> str:
    """SQL of the value `sql` of field `name`, replaced by its pseudonym when the site
    pseudonymises the field (a NULL stays NULL)."""
    if name not in hashed_fields(source.pseudonymised):
        return sql
    return f"{PSEUDONYM_FUNCTION}('{name}', {sql})"


def text_sql(sql: str, source: SourceConfig) -> str:
    """SQL of a message text, its @handles pseudonymised when the site pseudonymises authors."""
    return f"{MENTIONS_FUNCTION}({sql})" if "author" in source.pseudonymised else sql


# --- Probable duplicates ---------------------------------------------------------------------


@functools.cache
def _prototypes() -> dict[str, str]:
    """Character -> the representative of its class of confusables (itself absent)."""
    from confusable_homoglyphs.confusables import confusables_data

    def clean(text: str) -> str:  # the table wraps right-to-left characters in LRM marks
        return text.replace("\u200e", "").replace("\u200f", "")

    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    degree: dict[str, int] = {}
    for key, entries in confusables_data.items():
        source = clean(key)
        for entry in entries:
            target = clean(entry["c"])
            if source and target and source != target:
                parent[find(source)] = find(target)
                degree[source] = degree.get(source, 0) + 1
                degree[target] = degree.get(target, 0) + 1
    classes: dict[str, list[str]] = {}
    for node in parent:
        classes.setdefault(find(node), []).append(node)
    mapping: dict[str, str] = {}
    for members in classes.values():
        # The prototype is the centre of its class: a sequence of characters where there is
        # one (only prototypes are), else the member linked to most others; ties to the lowest.
        representative = min(members, key=lambda m: (len(m) == 1, -degree.get(m, 0), m))
        for member in members:
            if len(member) == 1 and member != representative:
                mapping[member] = representative
    return mapping


def skeleton(text: str) -> str:
    """The confusable skeleton of `text` (UTS #39): equal for strings that look alike."""
    table = _prototypes()
    for _ in range(4):  # a replacement may hold characters that map again
        mapped = unicodedata.normalize(
            "NFD", "".join(table.get(c, c) for c in unicodedata.normalize("NFD", text)))
        if mapped == text:
            break
        text = mapped
    return text


def lookalike_groups(
    dimension: str, counts: Iterable[tuple[str, int]]
) -> list[LookalikeGroup]:
    """The groups of probable duplicates among a dimension's values and their counts."""
    values = dict(counts)
    parent = {v: v for v in values}

    def find(value: str) -> str:
        while parent[value] != value:
            parent[value] = parent[parent[value]]
            value = parent[value]
        return value

    owners: dict[tuple[int, str], str] = {}
    for value in values:
        plain = normalize_value(value, NORMALIZE_STEPS)
        for key in enumerate((plain, skeleton(strip_spaces(value)), skeleton(plain))):
            other = owners.setdefault(key, value)
            if other != value:
                parent[find(value)] = find(other)
    members: dict[str, list[str]] = {}
    for value in values:
        members.setdefault(find(value), []).append(value)
    groups = []
    for group in members.values():
        if len(group) < 2:
            continue
        group.sort(key=lambda v: (-values[v], v))
        groups.append(LookalikeGroup(dimension, tuple((v, values[v]) for v in group),
                                     _differences(group)))
    groups.sort(key=lambda g: (-sum(n for _, n in g.values), g.values[0][0]))
    return groups


def _differences(group: list[str]) -> tuple[str, ...]:
    """What separates the values of a group, step by step."""
    steps = [
        ("spaces or invisible characters", {strip_spaces(v) for v in group}),
        ("case", {strip_spaces(v).casefold() for v in group}),
        ("compatibility forms", {normalize_value(v, NORMALIZE_STEPS) for v in group}),
    ]
    found, before = [], len(set(group))
    for word, distinct in steps:
        if len(distinct) < before:
            found.append(word)
        before = len(distinct)
    if before > 1:
        found.append("look-alike characters")
    return tuple(found)


def visible(text: str) -> str:
    """A value with its invisible characters, and white space other than single inner
    spaces, written as ⟨U+200B⟩ so that a reader sees how two values differ."""
    out = []
    for i, char in enumerate(text):
        edge = i == 0 or i == len(text) - 1
        spaced = char.isspace() and (char != " " or edge or text[i - 1] == " ")
        out.append(f"⟨U+{ord(char):04X}⟩" if is_invisible(char) or spaced else char)
    return "".join(out)


def foreign_letters(text: str) -> str:
    """The characters of a value outside ASCII, named: 'о U+043E CYRILLIC SMALL LETTER O'."""
    seen = dict.fromkeys(c for c in text if ord(c) > 127 and not is_invisible(c))
    return ", ".join(f"{c} U+{ord(c):04X} {unicodedata.name(c, '')}".rstrip() for c in seen)
