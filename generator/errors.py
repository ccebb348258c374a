"""The exception hierarchy and the one message template used everywhere.

Every expected problem is reported as ``WHERE: WHAT: expected X, found 'Y'. Hint: …`` where WHERE
is ``file:line`` (config), ``file, line N`` (CSV), ``row N`` (xlsx) or ``item N`` (JSON arrays),
followed by the column or key. Only the CLI turns these exceptions into exit codes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located precisely."""

    where: str
    what: str
    expected: str = ""
    found: str | None = None
    hint: str = ""

    def __str__(self) -> str:
        parts = [self.where] + ([self.what] if self.what else [])
        text = ": ".join(parts)
        if self.expected:
            text += f": expected {self.expected}"
            if self.found is not None:
                text += f", found {quote(self.found)}"
        elif self.found is not None:
            text += f": found {quote(self.found)}"
        text += "."
        if self.hint:
            text += f" Hint: {self.hint}"
        return text


def quote(value: object) -> str:
    """Quote a user-supplied value for a message, shortening very long ones; a value with
    single quotes of its own (and no double quotes) is shown in double quotes: "'4'", not
    ''4''."""
    text = str(value)
    if len(text) > 80:
        text = text[:77] + "..."
    mark = '"' if "'" in text and '"' not in text else "'"
    return mark + text + mark


def quoted(options: Iterable[str]) -> str:
    """Return options as 'a', 'b', 'c'."""
    return ", ".join(quote(option) for option in options)


def did_you_mean(word: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """Return "did you mean 'x'?" for the closest option, or ''."""
    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f"did you mean '{matches[0]}'?" if matches else ""


class CarecardError(Exception):
    """Base of every error carecard expects and reports without a traceback."""

    exit_code = 2

    def __init__(self, problems: Sequence[Problem | str] | Problem | str) -> None:
        listed = [problems] if isinstance(problems, (Problem, str)) else list(problems)
        self.problems: list[Problem | str] = listed
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(CarecardError):
    """The configuration (config.yaml, policy, templates folder) is invalid."""


class DataError(CarecardError):
    """An export cannot be read, or has rows that fail the build (strict mode)."""


class BuildError(CarecardError):
    """Rendering or writing the site failed; names the page or chart."""
