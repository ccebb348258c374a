"""The `site` section of config.yaml: presentation and reporting-time settings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from generator.config.parsing import _INVALID, LoaderBase, _Bad, _Reported
from generator.config.sources_section import SourceConfig
from generator.errors import did_you_mean as _did_you_mean
from generator.errors import quoted as _quoted

GRANULARITIES: tuple[str, ...] = ("day", "week", "month", "quarter")
#: Values a dimension publishes as segments unless site.max_segments says otherwise.
MAX_SEGMENTS = 200
#: Smallest sample for any change or year-ago comparison unless site.min_n says otherwise.
MIN_N = 10
#: Share of a drop's rows that may be rejected before the build fails (site.max_rejected_share).
MAX_REJECTED_SHARE = 0.5
#: The share applies to drops of at least this many rows (a drop of 3 rows, 2 rejected, is not
#: a broken export).
REJECTED_SHARE_MIN_ROWS = 20
#: Upper edges of the first-response brackets in minutes: 5m, 15m, 60m, 4h, 24h (SPEC §5.1).
DEFAULT_BRACKETS: tuple[float, ...] = (5.0, 15.0, 60.0, 240.0, 1440.0)


@dataclass(frozen=True)
class People:
    """site.privacy.people (SPEC §10): opt-in people views of one dimension."""

    dimension: str
    """The dimension whose values are people (an agent, a handler)."""
    min_n: int = MIN_N
    """A person's figure from fewer interactions (its n; for a figure without an n of its own,
    like volume, the person's interactions in the period) is withheld: 'too few'."""


@dataclass(frozen=True)
class SiteConfig:
    """The `site` section: presentation and reporting-time settings."""

    title: str = "Customer Care Scorecard"
    """Title shown on every page."""
    timezone: str = "UTC"
    """Reporting timezone (IANA name); periods are cut in it."""
    periods: tuple[str, ...] = ("week", "month")
    """Granularities to publish; the first is the headline."""
    history: int = 26
    """Number of periods shown on trend charts and sparklines."""
    data_through: datetime | None = None
    """Explicit data-through cut-off (timezone-aware); derived from the data when None."""
    templates: Path | None = None
    """Absolute path of the site's template overrides folder, or None for the default theme."""
    on_bad_rows: str = "report"
    """`report` (default) keeps building when rows are rejected; `fail` exits 2 like --strict."""
    interactions_csv: bool = False
    """Also write data/interactions.csv: every interaction with its computed durations."""
    min_n: int = MIN_N
    """Smallest n (on both sides) for a change or year-ago comparison of any metric; for count
    metrics the baseline value itself must reach it."""
    max_rejected_share: float = MAX_REJECTED_SHARE
    """A drop of at least REJECTED_SHARE_MIN_ROWS rows with more than this share rejected fails
    the build (exit 2): a wrong timestamp_format or a broken export never publishes an empty
    site."""
    since: datetime | None = None
    """Rows received before it (in every source without its own `since`) count as 'before
    since' and leave the grid, so a few stray old rows cannot stretch it; timezone-aware."""
    max_segments: Mapping[str, int] = field(default_factory=dict)
    """Most values a dimension publishes as segments, by dimension name or 'default' (else
    MAX_SEGMENTS); the rest fold into '(other)'."""

    brackets: tuple[float, ...] = DEFAULT_BRACKETS
    """Upper edges in minutes of the first-response brackets (inclusive), strictly increasing."""
    bracket_mark: float = 60.0
    """The expectation marked on the brackets chart, in minutes."""
    pseudonymise: tuple[str, ...] = ()
    """site.privacy.pseudonymise: fields and dimensions whose values are replaced at ingest by
    keyed pseudonyms (generator.config.privacy)."""
    pseudonym_key: str = field(default="", repr=False, compare=False)
    """The key of the pseudonyms (from CARECARD_KEY; never written anywhere)."""
    people: People | None = None
    """site.privacy.people: the dimension that names people, shown only in the people views
    and only from `min_n` interactions (None: no people views)."""

    @property
    def people_dimension(self) -> str:
        """The dimension of site.privacy.people ('' without people views)."""
        return self.people.dimension if self.people is not None else ""

    def segment_limit(self, dimension: str) -> int:
        """The most values `dimension` publishes (site.max_segments)."""
        return self.max_segments.get(dimension, self.max_segments.get("default", MAX_SEGMENTS))


class SiteParser(LoaderBase):
    """The parsers of the `site` section."""

    def site(self, node: yaml.Node | None, path: str) -> SiteConfig:
        """Parse the `site` section (None: absent)."""
        values = self.fields(
            node,
            path,
            {
                "title": self.text,
                "timezone": self.timezone_name,
                "periods": self.list_of(
                    self.choice(GRANULARITIES), non_empty=True, unique="each granularity once"
                ),
                "history": self.whole(1),
                "data_through": self.datetime_value,
                "templates": self.templates,
                "on_bad_rows": self.choice(("report", "fail")),
                "interactions_csv": self.boolean,
                "max_segments": self.max_segments,
                "min_n": self.whole(1),
                "max_rejected_share": self.number_in(0, 1),
                "brackets": self.brackets,
                "bracket_mark": self.minutes,
                "since": self.local_datetime,
                "privacy": self.privacy,
            },
        )
        values.update(values.pop("privacy", {}))
        self.timezone = values.get("timezone", self.timezone)
        if "since" in values:
            values["since"] = values["since"].replace(tzinfo=ZoneInfo(self.timezone))
        moment = values.get("data_through")
        if moment is not None and moment.tzinfo is None:
            values["data_through"] = moment.replace(tzinfo=ZoneInfo(self.timezone))
        if "templates" not in values:
            values["templates"] = self.default_templates()
        return SiteConfig(**values)

    def max_segments(self, node: yaml.Node, path: str) -> dict[str, int]:
        """Parse `max_segments`: a number for every dimension, or a map of dimension names (and
        'default') to numbers. Whether the names are dimensions is checked with the sources."""
        expected = "a whole number ≥ 1, or a map like {default: 200, team: 500}"
        if isinstance(node, yaml.ScalarNode):
            try:
                return {"default": self.whole(1)(node, path)}
            except _Bad:
                raise _Bad(expected) from None
        if not isinstance(node, yaml.MappingNode):
            raise _Bad(expected)
        limits = {}
        for name, _key_node, value in self.pairs(node, path):
            limit = self.parse(value, f"{path}.{name}", self.whole(1))
            if limit is not _INVALID:
                limits[name] = limit
        return limits

    def privacy(self, node: yaml.Node, path: str) -> dict[str, object]:
        """Parse `privacy`: {pseudonymise: [field or dimension, ...], people: {dimension,
        min_n}}. Whether the names are dimensions, and the key, are checked with the
        sources."""
        values = self.fields(node, path, {
            "pseudonymise": self.list_of(self.text, non_empty=True, unique="each field once"),
            "people": self.people,
        })
        if "pseudonymise" in values:
            values["pseudonymise"] = tuple(values["pseudonymise"])
        return values

    def people(self, node: yaml.Node, path: str) -> People:
        """Parse `people`: {dimension: agent, min_n: 10}."""
        if not isinstance(node, yaml.MappingNode):
            raise _Bad("a mapping like {dimension: agent, min_n: 10}")
        values = self.fields(node, path, {"dimension": self.text, "min_n": self.whole(1)},
                             required={"dimension": "the dimension that names people, like "
                                                    "agent"})
        if "dimension" not in values:
            raise _Reported()
        return People(**values)

    def minutes(self, node: yaml.Node, path: str) -> float:
        """Parse a duration like '60m' into minutes."""
        return self.duration(node, path)[0]

    def brackets(self, node: yaml.Node, path: str) -> tuple[float, ...]:
        """Parse the bracket edges: a non-empty list of durations, each longer than the last."""
        edges = self.list_of(self.minutes, non_empty=True)(node, path)
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise _Bad("durations in increasing order, like [5m, 15m, 60m, 4h, 24h]")
        return tuple(edges)

    def check_segment_limits(self, site: yaml.Node | None, sources: Iterable[SourceConfig]) -> None:
        """Report names in site.max_segments that no source publishes as a dimension (like an
        unknown key: a warning, an error when strict)."""
        node = self.child(site, "max_segments")
        if not isinstance(node, yaml.MappingNode):
            return
        dimensions = ["default", "channel"]
        for source in sources:
            dimensions += [d for d in source.dimensions if d not in dimensions]
        for key_node, _value in node.value:
            name = getattr(key_node, "value", None)
            if isinstance(name, str) and name not in dimensions:
                hint = _did_you_mean(name, dimensions) or (
                    f"the keys are 'default' and the dimensions {_quoted(dimensions[1:])}.")
                self.unknown(key_node, f"site.max_segments.{name}: unknown dimension", hint)

    def templates(self, node: yaml.Node, path: str) -> Path | None:
        """Parse the templates folder; None when it is the default theme itself."""
        expected = "an existing folder"
        folder = (self.root / self.raw(node, expected)).resolve()
        if not folder.is_dir():
            raise _Bad(expected, f"paths are relative to the folder of config.yaml, '{self.root}'.")
        return None if _is_default_theme(folder) else folder

    def default_templates(self) -> Path | None:
        """Return `templates/` next to config.yaml when it exists and is not the default theme."""
        folder = (self.root / "templates").resolve()
        return folder if folder.is_dir() and not _is_default_theme(folder) else None


def _default_theme() -> Path:
    """Return the default theme folder, from a checkout or from an installed package."""
    package = Path(__file__).resolve().parent.parent
    installed = package / "theme"
    return installed if installed.is_dir() else package.parent / "templates"


def _is_default_theme(folder: Path) -> bool:
    """Tell whether folder is the default theme itself (not a site's overrides)."""
    return folder.resolve() == _default_theme().resolve()
