"""Small fake Figures / QualityReport / Config objects and an HTML tree helper for site tests.

The fake site: three weeks (2026-W45 and 2026-W46 complete, 2026-W47 partial) and one month
(2026-11, partial); segments all, channel email/twitter and team '<script>'; metrics volume (no
goal), response_rate, frt_median and sla_attainment (min_n 20, so always 'too few').
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # running `pytest` without an installed package
    sys.path.insert(0, str(ROOT))

from generator.config import (
    Config,
    ExcludeRule,
    Goal,
    Policy,
    PolicyVersion,
    SiteConfig,
    SourceConfig,
    TargetRule,
    Where,
)
from generator.model import (
    METRICS_BY_ID,
    BuildInfo,
    DropStats,
    Figure,
    Figures,
    Period,
    QualityReport,
    Rejection,
)

DATA_THROUGH = datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc)
METRIC_IDS = ("volume", "response_rate", "frt_median", "sla_attainment")
SEGMENTS = (("all", "all"), ("channel", "email"), ("channel", "twitter"), ("team", "<script>"))

#: all/all values per metric for W45, W46, W47 and month 2026-11.
BASE = {
    "volume": (100.0, 120.0, 40.0, 260.0),
    "response_rate": (0.93, 0.96, 0.90, 0.94),
    "frt_median": (35.0, 45.0, 20.0, 36.0),
    "sla_attainment": (0.80, 0.82, 0.85, 0.81),
}
#: Multipliers per segment, so segments get different values and statuses.
FACTOR = {("all", "all"): 1.0, ("channel", "email"): 0.97, ("channel", "twitter"): 1.02,
          ("team", "<script>"): 0.9}
GOALS = {
    "response_rate": Goal("response_rate", "min", 0.95),
    "frt_median": Goal("frt_median", "max", 30.0),
    "sla_attainment": Goal("sla_attainment", "min", 0.90, tolerance=0.05, min_n=20),
}


def make_periods() -> dict[str, tuple[Period, ...]]:
    """Return the fake period grid."""
    weeks = []
    for week in (45, 46, 47):
        start = date.fromisocalendar(2026, week, 1)
        weeks.append(Period("week", f"2026-W{week}", start, start + timedelta(days=7),
                            partial=week == 47))
    month = Period("month", "2026-11", date(2026, 11, 1), date(2026, 12, 1), partial=True)
    return {"week": tuple(weeks), "month": (month,)}


def _status(metric: str, value: float | None, n: int | None) -> str:
    goal = GOALS.get(metric)
    if goal is None:
        return "none"
    if value is None or (n or 0) < goal.min_n:
        return "insufficient"
    info = METRICS_BY_ID[metric]
    tol = goal.tolerance if goal.tolerance is not None else (
        0.05 if info.is_ratio else goal.value * 0.1)
    miss = goal.value - value if goal.direction == "min" else value - goal.value
    if miss <= 1e-9:
        return "green"
    return "amber" if miss <= tol + 1e-9 else "red"


def _change(
    metric: str, value: float | None, prev: float | None
) -> tuple[float | None, str | None]:
    if value is None or prev is None:
        return None, None
    if METRICS_BY_ID[metric].is_ratio:
        return (value - prev) * 100, "pp"
    if prev == 0:
        return None, None
    return (value - prev) / prev * 100, "%"


def make_figures(metric_ids: tuple[str, ...] = METRIC_IDS) -> Figures:
    """Return the fake Figures (sorted as figures.csv)."""
    periods = make_periods()
    rows: list[Figure] = []
    for g, plist in periods.items():
        for i, p in enumerate(plist):
            col = i if g == "week" else 3
            for dim, seg in SEGMENTS:
                factor = FACTOR[(dim, seg)]
                for metric in sorted(metric_ids):
                    info = METRICS_BY_ID[metric]
                    raw = BASE[metric][col] * factor
                    value = min(raw, 1.0) if info.is_ratio else raw
                    if metric == "volume":
                        value = float(round(value))
                    n = None if metric == "volume" else (10 if metric == "sla_attainment"
                                                         else int(50 * factor) + i)
                    prev = None
                    if g == "week" and i > 0:
                        prev_raw = BASE[metric][col - 1] * factor
                        prev = min(prev_raw, 1.0) if info.is_ratio else prev_raw
                        if metric == "volume":
                            prev = float(round(prev))
                    change, unit = _change(metric, value, prev)
                    if metric == "sla_attainment":
                        change, unit = None, None  # n below min_n on both sides
                    year_value = year_change = None
                    if (metric, dim, p.label) == ("response_rate", "all", "2026-W46"):
                        year_value, year_change = 0.90, (value - 0.90) * 100
                    goal = GOALS.get(metric)
                    rows.append(Figure(
                        granularity=g, period=p.label, period_start=p.start, period_end=p.end,
                        partial=p.partial, dimension=dim, segment=seg, metric=metric,
                        value=value, n=n, goal=goal.value if goal else None,
                        status=_status(metric, value, n), previous_value=prev, change=change,
                        change_unit=unit, year_ago_value=year_value, year_ago_change=year_change,
                    ))
    metrics = tuple(m for m in METRICS_BY_ID.values() if m.id in metric_ids)
    return Figures(tuple(rows), metrics, periods, SEGMENTS, DATA_THROUGH)


def make_quality(rejections: int = 3) -> QualityReport:
    """Return a fake QualityReport with two drops and `rejections` rejected rows."""
    rejected = tuple(
        Rejection("social", "content/exports/social-w47.csv", f"line {i + 2}", "received_at",
                  "Created", "unparseable_timestamp",
                  f"content/exports/social-w47.csv, line {i + 2}, column 'Created': expected a "
                  f"timestamp, found '<b>yesterday</b>'.")
        for i in range(rejections)
    )
    drops = (
        DropStats("social", "content/exports/social-w46.csv", "a" * 64, 150, 140, 10, 0),
        DropStats("social", "content/exports/social-w47.csv", "b" * 64, 120 + rejections, 120, 0,
                  rejections, {"unparseable_timestamp": rejections} if rejections else {}),
    )
    return QualityReport(
        drops=drops,
        rejections=rejected,
        exclusions={"no_reply_needed": 7, "spam": 3},
        data_through=DATA_THROUGH,
        data_through_by_source={"social": DATA_THROUGH},
        data_through_explicit=False,
    )


def make_config(root: Path, templates: Path | None = None) -> Config:
    """Return a Config whose config.yaml would live in `root`."""
    policy = Policy(
        exclude=(ExcludeRule("spam", Where({"category": ("spam",)})),),
        first_response=(
            TargetRule(15.0, Where({"priority": ("urgent",)}), text="15m"),
            TargetRule(1440.0, Where({"channel": ("email",)}), clock="business",
                       calendar="uk-office", text="24h"),
            TargetRule(60.0, text="60m"),
        ),
        goals=dict(GOALS),
        versions=(PolicyVersion(date(2026, 11, 9), goals={
            "response_rate": Goal("response_rate", "min", 0.95)}),),
    )
    site = SiteConfig(title="Acme <Care> & Co", timezone="Europe/London",
                      periods=("week", "month"), history=13, templates=templates)
    source = SourceConfig("social", "content/exports/social-*.csv", dimensions=("team",))
    return Config(path=root / "config.yaml", site=site, sources=(source,), policy=policy)


def make_info() -> BuildInfo:
    """Return fake build facts."""
    return BuildInfo("0.1.0", "2026-11-18T12:00:00+00:00", "config.yaml")


def write_content(root: Path) -> None:
    """Write a content page and a commentary file under `root/content`."""
    (root / "content" / "commentary").mkdir(parents=True, exist_ok=True)
    (root / "content" / "about.md").write_text(textwrap.dedent("""\
        ---
        title: About <these> figures
        order: 2
        ---
        Email response rate: {{ figure('response_rate', channel='email') }}.

        <script>alert('x')</script>

        See the [definitions](definitions.html) and [bad](javascript:alert(1)).
        """), encoding="utf-8")
    (root / "content" / "commentary" / "2026-W46.md").write_text(
        "A **busy** week: {{ figure('volume') }} interactions.\n", encoding="utf-8")


def with_templates(config: Config, templates: Path) -> Config:
    """Return `config` with a template overrides folder."""
    return replace(config, site=replace(config.site, templates=templates))


# --- A tiny HTML tree ----------------------------------------------------------------------------

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


class Node:
    """An element of a parsed page."""

    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Node | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[Node | str] = []

    def iter(self, tag: str | None = None) -> list[Node]:
        """Every descendant element (self included) with `tag` (any when None)."""
        found = [self] if tag in (None, self.tag) else []
        for child in self.children:
            if isinstance(child, Node):
                found += child.iter(tag)
        return found

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        """Descendants with `tag` and, when given, the CSS class `cls`."""
        return [n for n in self.iter(tag)
                if cls is None or cls in (n.attrs.get("class") or "").split()]

    def find(self, tag: str | None = None, cls: str | None = None) -> Node:
        """The first descendant with `tag`/`cls`; AssertionError when there is none."""
        found = self.find_all(tag, cls)
        assert found, f"no <{tag} class={cls!r}> found"
        return found[0]

    @property
    def text(self) -> str:
        """All text inside, whitespace collapsed."""
        parts: list[str] = []

        def walk(node: Node) -> None:
            for child in node.children:
                if isinstance(child, str):
                    parts.append(child)
                else:
                    walk(child)

        walk(self)
        return " ".join(" ".join(parts).split())

    def ancestors(self) -> list[Node]:
        """Parents, nearest first."""
        out, node = [], self.parent
        while node is not None:
            out.append(node)
            node = node.parent
        return out


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None and node.parent is not None, f"unmatched </{tag}>"
        assert node is self.current, f"</{tag}> closes <{self.current.tag}> implicitly"
        self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)


def parse_html(data: bytes | str) -> Node:
    """Parse a page into a Node tree; AssertionError on mis-nested tags."""
    builder = _TreeBuilder()
    builder.feed(data.decode("utf-8") if isinstance(data, bytes) else data)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> is never closed"
    return builder.root
