"""`site.privacy.pseudonymise` (SPEC §10): keyed pseudonyms for people's names and handles.

In: the names of the fields and dimensions to pseudonymise, and the key from the environment
variable ``CARECARD_KEY``. Out: :func:`pseudonym` (a value -> ``p-`` and 10 hex digits of its
HMAC-SHA256 under the key; the same value and key give the same pseudonym in every build) and
:func:`pseudonymise_config`, which hashes the values that the policy's `where` rules and the
event rules name for those fields, so that they still match the (pseudonymised) data and the
definitions page shows only pseudonyms. The data itself is pseudonymised at ingest, right after
each export value is read and mapped (``generator.ingest``), so no original value reaches a
table, a cache file or the site.

`author` is the author of a message (message-level sources; an event's actor). Handles are
case-insensitive on the platforms, so an author is pseudonymised case-folded; the `brand`
dimension (a brand reply's author or an @mentioned brand account) then holds pseudonyms too,
and each @handle in a message's text is replaced by the pseudonym of the handle, so that brand
detection compares pseudonyms with pseudonyms.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from generator.config.policy_section import Where
from generator.config.sources_section import EventRule

#: The environment variable holding the key.
KEY_VARIABLE = "CARECARD_KEY"
#: The shortest key accepted.
MIN_KEY_LENGTH = 16
#: Fields whose values are case-insensitive handles (pseudonymised case-folded).
HANDLE_FIELDS = frozenset({"author", "brand"})
_MENTION = re.compile(r"@(\w+)")

T = TypeVar("T")


@functools.lru_cache(maxsize=1 << 16)
def pseudonym(value: str, key: str) -> str:
    """The pseudonym of `value` under `key`: 'p-' and the first 10 hex digits of its
    HMAC-SHA256 (40 bits: distinct for any realistic number of people)."""
    digest = hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
    return "p-" + digest[:10]


def field_pseudonym(name: str, value: str, key: str) -> str:
    """The pseudonym of a value of field `name` (handles case-folded)."""
    return pseudonym(value.lower() if name in HANDLE_FIELDS else value, key)


def mentions_pseudonymised(text: str, key: str) -> str:
    """`text` with each @handle replaced by @ and the handle's pseudonym."""
    return _MENTION.sub(lambda m: "@" + field_pseudonym("author", m.group(1), key), text)


def key_id(key: str) -> str:
    """A fingerprint of the key for cache keys (the key itself is never written)."""
    return pseudonym("carecard key fingerprint", key)


def hashed_fields(names: tuple[str, ...]) -> frozenset[str]:
    """The fields whose values are pseudonyms when `names` are pseudonymised (`brand` follows
    `author`, since it is derived from message authors)."""
    return frozenset(names) | ({"brand"} if "author" in names else set())


def pseudonymise_config(obj: T, names: frozenset[str], key: str) -> T:
    """`obj` (the policy, a source) with every value its `where` rules and event rules give
    for a field of `names` replaced by its pseudonym."""
    def walk(item: object, hashing: Callable[[str, tuple[str, ...]], tuple[str, ...]]) -> object:
        if isinstance(item, Where):
            return Where({k: hashing(k, v) for k, v in item.conditions.items()})
        if isinstance(item, EventRule):
            return dataclasses.replace(item, where={k: hashing(k, v)
                                                    for k, v in item.where.items()})
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            changes = {f.name: walk(getattr(item, f.name), hashing)
                       for f in dataclasses.fields(item) if f.init}
            return dataclasses.replace(item, **changes)
        if isinstance(item, tuple):
            return tuple(walk(i, hashing) for i in item)
        if isinstance(item, Mapping):
            return {k: walk(v, hashing) for k, v in item.items()}
        return item

    def hashing(name: str, values: tuple[str, ...]) -> tuple[str, ...]:
        if name in names or (name == "actor" and "author" in names):
            field = "author" if name == "actor" else name
            return tuple(field_pseudonym(field, v, key) for v in values)
        return values

    return walk(obj, hashing)  # type: ignore[return-value]
