"""The `calendars` section of config.yaml: business hours for the business clock."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import partial
from itertools import pairwise

import yaml

from generator.config.parsing import _INVALID, LoaderBase, _Bad, _line
from generator.errors import quoted as _quoted

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Calendar:
    """A business-hours calendar (`calendars.NAME`)."""

    name: str
    """The calendar's key in `calendars`."""
    timezone: str
    """IANA timezone the opening hours are written in."""
    hours: Mapping[str, tuple[tuple[time, time], ...]]
    """Open weekday (mon..sun, in week order; closed days absent) -> open intervals sorted by
    start, start inclusive, end exclusive; an end of 00:00 means the day's end ('24:00')."""
    holidays: tuple[date, ...] = ()
    """Dates closed all day."""


class CalendarsParser(LoaderBase):
    """The parsers of the `calendars` section."""

    calendar_names: set[str]
    """Names of the calendars defined so far (what a target's `calendar` may name)."""
    overlaps: set[tuple[str, str]]
    """Pairs of hours keys whose overlap is reported already (once per pair)."""

    def calendars(self, node: yaml.Node, path: str) -> dict[str, Calendar]:
        """Parse `calendars`: name -> calendar."""
        calendars = {}
        for name, _key_node, value in self.pairs(node, path):
            calendar = self.parse(value, f"{path}.{name}", partial(self.calendar, name))
            if calendar is not _INVALID:
                calendars[name] = calendar
        self.calendar_names.update(calendars)
        return calendars

    def calendar(self, name: str, node: yaml.Node, path: str) -> Calendar:
        """Parse one calendar; its timezone defaults to the reporting timezone."""
        values = self.fields(
            node,
            path,
            {
                "timezone": self.timezone_name,
                "hours": self.hours,
                "holidays": self.list_of(self.date_value, unique="each date once"),
            },
            required={"hours": "weekly opening hours like {mon-fri: ['09:00-17:00']}"},
        )
        return Calendar(
            name=name,
            timezone=values.get("timezone", self.timezone),
            hours=values.get("hours", {}),
            holidays=values.get("holidays", ()),
        )

    def hours(self, node: yaml.Node, path: str) -> dict[str, tuple[tuple[time, time], ...]]:
        """Parse weekly hours: keys 'mon', 'mon-fri' or 'sat,sun'; values lists of 'HH:MM-HH:MM'."""
        by_day: dict[str, list[tuple[int, int, str, int, str]]] = {day: [] for day in WEEKDAYS}
        reported = len(self.problems)
        for key, key_node, value in self.pairs(node, path):
            days = _weekdays(key)
            if days is None:
                self.error(
                    _line(key_node),
                    path,
                    "a weekday like 'mon' or a range like 'mon-fri'",
                    key,
                    f"the days are {_quoted(WEEKDAYS)}.",
                )
                continue
            if isinstance(value, yaml.ScalarNode):  # one interval need not be a list
                entries = [(f"{path}.{key}", value)]
            elif isinstance(value, yaml.SequenceNode):
                entries = [(f"{path}.{key}[{i}]", n) for i, n in enumerate(value.value)]
            else:
                self.error(
                    _line(value),
                    f"{path}.{key}",
                    "a list of intervals like '09:00-17:00'",
                    self.found(value),
                )
                continue
            for where, entry in entries:
                interval = self.parse(entry, where, self.interval)
                if interval is not _INVALID:
                    for day in days:
                        by_day[day].append((*interval, _line(entry), where))
        if not any(by_day.values()) and len(self.problems) == reported:
            raise _Bad("at least one open interval")
        return {day: self.day_intervals(day, spans) for day, spans in by_day.items() if spans}

    def day_intervals(
        self, day: str, intervals: list[tuple[int, int, str, int, str]]
    ) -> tuple[tuple[time, time], ...]:
        """Sort a day's intervals (minutes) into times; report overlaps."""
        intervals.sort()
        for previous, current in pairwise(intervals):
            clash = (previous[4], current[4])
            if current[0] < previous[1] and clash not in self.overlaps:  # once per range key
                self.overlaps.add(clash)
                self.error(
                    current[3],
                    current[4],
                    "intervals that do not overlap",
                    current[2],
                    f"it overlaps '{previous[2]}' on {day}.",
                )
        return tuple((_clock(start), _clock(end)) for start, end, *_ in intervals)

    def interval(self, node: yaml.Node, path: str) -> tuple[int, int, str]:
        """Parse 'HH:MM-HH:MM' into (start minute, end minute, text); an end of 24:00 is 1440."""
        expected = "an interval like '09:00-17:00'"
        text = self.raw(node, expected)
        match = _INTERVAL.fullmatch(text.strip())
        if not match:
            raise _Bad(expected)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise _Bad(expected)
        start, end = h1 * 60 + m1, h2 * 60 + m2
        end = end or _DAY_MINUTES  # '22:00-00:00' runs to midnight
        if end <= start:
            raise _Bad(
                "an interval that ends after it starts",
                "split an overnight interval at midnight: '22:00-24:00' and '00:00-06:00'.",
            )
        return start, end, text


def _weekdays(key: str) -> tuple[str, ...] | None:
    """Expand 'mon', 'mon-fri' (ranges may wrap: 'fri-mon') or 'sat,sun'; None if invalid."""
    days: list[str] = []
    for part in key.lower().split(","):
        ends = [end.strip() for end in part.split("-")]
        if len(ends) > 2 or not all(end in WEEKDAYS for end in ends):
            return None
        first, last = WEEKDAYS.index(ends[0]), WEEKDAYS.index(ends[-1])
        days.extend(WEEKDAYS[(first + k) % 7] for k in range((last - first) % 7 + 1))
    return tuple(dict.fromkeys(days))


def _clock(minutes: int) -> time:
    """Return minutes since midnight as a time; 1440 (24:00) becomes 00:00, the day's end."""
    return time(minutes // 60 % 24, minutes % 60)
