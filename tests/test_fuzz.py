"""Fuzzing: whatever a stranger puts in an export or in config.yaml ends in a result or in a
located DataError / ConfigError, never in another exception (issue 14).

Every reader (CSV, JSON Lines, JSON arrays, xlsx) is fuzzed through `check`, the whole
validation and figures pipeline, with exports that mix well-formed rows with hostile cells
(quotes, delimiters, line breaks, control characters, ids beyond 2^53, years 1 and 9999, …);
the config loader with YAML documents built from its own keys and with arbitrary text. The
inputs are small (a few kB), so memory stays bounded; `max_examples` bounds the time (the whole
file takes about 40 s on two cores). Crashers found are kept under tests/data/fuzz/ with a
regression test below.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.build import check
from generator.config.loader import load_config
from generator.errors import ConfigError, DataError

pytestmark = pytest.mark.fuzz

FUZZ = Path(__file__).parent / "data" / "fuzz"
#: CARECARD_FUZZ_SCALE=10 runs ten times the examples (a deeper search, minutes not seconds).
SCALE = max(1, int(os.environ.get("CARECARD_FUZZ_SCALE", "1") or 1))


def bounded(examples: int) -> settings:
    """Settings of a fuzz test: `examples` inputs (times SCALE), no deadline (on a loaded
    machine one would only make the test flaky: the bound is the number of examples), and no
    example database written into the working copy."""
    return settings(max_examples=examples * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


QUICK = bounded(40)
CONFIG = """
site: {{title: Fuzz, timezone: UTC, periods: [week, month]}}
sources:
  - {{name: desk, path: "exports/{name}", timezone: Europe/London, dimensions: [team]}}
"""
COLUMNS = ["id", "received_at", "channel", "first_response_at", "resolved_at", "csat", "reach",
           "sentiment_start", "sentiment_end", "public", "moved_private", "needs_reply", "team"]

# --- values that have broken, or could break, a reader or a check -------------------------------

TRICKY = [
    "", " ", "twitter", "all", "ALL", "n/a", "NaN", "nan", "inf", "-inf", "-3", "4.5", "7", "1e400",
    "true", "false", "maybe", "positive", "1.2e+18", "1.2E18", "3.0", "007",
    "12345678901234567890123", "9007199254740993", "-9223372036854775809",
    "2026-11-02 09:00:00", "2026-11-02T09:00:00+01:00", "2026-11-02 09:00:00 +01:00",
    "2026-11-02T09:00:00+99:99", "0001-01-01 00:00:00", "0002-03-04", "1969-12-31 23:59:59",
    "2101-01-01", "9998-06-01 00:00:00", "9999-12-31 23:59:59", "2062-11-04 09:30:00",
    "Tue Oct 31 22:10:47 +0000 2017", "2026-02-30 10:00:00", "2026-03-29 01:30:00",
    '"', '""', '"quoted"', "a,b", "a;b", "a\tb", "a|b", "line\nbreak", "cr\rreturn", "crlf\r\n",
    "\ufeff", "\u200b", "\u202e", "=HYPERLINK(\"x\")", "<script>", "{{ x }}", "\\", "\x01", "é",
    "🙂",
]


def timestamps() -> st.SearchStrategy[str]:
    """Timestamps from year 1 to 9999 in the layouts a reader meets."""
    moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31))
    layouts = st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%d",
                               "%a %b %d %H:%M:%S +0000 %Y", "%d/%m/%Y %H:%M"])
    return st.builds(lambda moment, layout: f"{moment.year:04d}" + moment.strftime(layout)[4:]
                     if layout.startswith("%Y") else moment.strftime(layout), moments, layouts)


def cells() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(TRICKY), timestamps(),
                     st.text(max_size=12), st.integers().map(str),
                     st.floats(allow_nan=True, allow_infinity=True).map(repr))


def recent() -> st.SearchStrategy[str]:
    """A plausible receipt time, so that most rows are kept and the figures are computed."""
    return st.datetimes(min_value=datetime(2026, 10, 1), max_value=datetime(2026, 11, 30)).map(
        lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S"))


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, str]]:
    """Rows over COLUMNS: mostly plausible, each cell hostile now and then."""
    rows = []
    for index in range(draw(st.integers(min_value=1, max_value=8))):
        row = {"id": str(index), "received_at": draw(recent()), "channel": "twitter",
               "team": draw(st.sampled_from(["a", "b"]))}
        for column in draw(st.lists(st.sampled_from(COLUMNS), max_size=4)):
            row[column] = draw(cells())
        rows.append(row)
    return rows


@contextmanager
def site(name: str, data: bytes) -> Iterator[Path]:
    """A scratch site whose one drop is `data`; yields its config.yaml."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "exports").mkdir()
        (root / "exports" / name).write_bytes(data)
        (root / "config.yaml").write_text(CONFIG.format(name=name), encoding="utf-8")
        yield root / "config.yaml"


def checks_or_says_where(config: Path, rel: str) -> None:
    """`check` succeeds with balanced rows, or fails with DataErrors located in the drop."""
    try:
        quality = check(config).quality
    except DataError as error:
        for problem in error.problems:
            assert str(problem).startswith(rel), problem
        return
    for drop in quality.drops:
        assert drop.read == drop.kept + drop.superseded + drop.rejected
    for rejection in quality.rejections:
        assert rejection.message.startswith(f"{rel}, "), rejection.message


# --- readers ------------------------------------------------------------------------------------


@QUICK
@given(rows=records(), delimiter=st.sampled_from([",", ";", "\t", "|"]),
       quoting=st.sampled_from(["csv", "raw"]), crlf=st.booleans(),
       extra=st.lists(st.lists(cells(), max_size=15), max_size=3))
def test_fuzz_csv_drops(rows: list[dict[str, str]], delimiter: str, quoting: str, crlf: bool,
                        extra: list[list[str]]) -> None:
    """Rows written properly quoted or joined raw (then a cell may split, run on or open a
    quote), plus rows of any width."""
    header = [c for c in COLUMNS if any(c in row for row in rows)]
    out = io.StringIO()
    newline = "\r\n" if crlf else "\n"
    lines = [header] + [[row.get(c, "") for c in header] for row in rows] + extra
    if quoting == "csv":
        csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(lines)
    else:
        out.write("".join(delimiter.join(line) + newline for line in lines))
    with site("w1.csv", out.getvalue().encode("utf-8")) as config:
        checks_or_says_where(config, "exports/w1.csv")


@QUICK
@given(data=st.binary(max_size=300), header=st.booleans())
def test_fuzz_csv_bytes(data: bytes, header: bool) -> None:
    """Arbitrary bytes, after a proper header or alone: binary, bad UTF-8, gzip magic, …"""
    prefix = b"id,received_at,channel\n" if header else b""
    with site("w1.csv", prefix + data) as config:
        checks_or_says_where(config, "exports/w1.csv")


def json_values() -> st.SearchStrategy[object]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        cells(), st.integers(min_value=2**53 - 2, max_value=2**70))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


@st.composite
def json_records(draw: st.DrawFn) -> list[object]:
    """Objects of the canonical fields with any JSON values, and now and then not an object."""
    items: list[object] = []
    for row in draw(records()):
        item: dict[str, object] = dict(row)
        for key in draw(st.lists(st.sampled_from([*COLUMNS, "", "a.b", "\u0000k"]),
                                 max_size=3)):
            item[key] = draw(json_values())
        items.append(item)
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), draw(json_values()))
    return items


@QUICK
@given(items=json_records(), garbage=st.lists(st.text(max_size=20), max_size=2),
       blank=st.booleans())
def test_fuzz_json_lines_drops(items: list[object], garbage: list[str], blank: bool) -> None:
    lines = [json.dumps(item) for item in items] + garbage
    text = ("\n\n" if blank else "\n").join(lines) + "\n"
    with site("w1.jsonl", text.encode("utf-8")) as config:
        checks_or_says_where(config, "exports/w1.jsonl")


@QUICK
@given(items=json_records(), cut=st.integers(min_value=0, max_value=5))
def test_fuzz_json_array_drops(items: list[object], cut: int) -> None:
    """Arrays of records, now and then cut short at the end."""
    text = json.dumps(items)
    with site("w1.json", text[:len(text) - cut].encode("utf-8")) as config:
        checks_or_says_where(config, "exports/w1.json")


@QUICK
@given(rows=records(), numbers=st.lists(
    st.one_of(st.integers(min_value=-2**70, max_value=2**70), st.floats(allow_nan=False)),
    max_size=3))
def test_fuzz_xlsx_drops(rows: list[dict[str, str]], numbers: list[float]) -> None:
    """Workbooks of text cells and numeric cells (ids and csat as numbers, huge or not)."""
    from sheets import write_xlsx

    header = [c for c in COLUMNS if any(c in row for row in rows)]
    sheet: list[list[object]] = [list(header)]
    sheet += [[row.get(c, "") for c in header] for row in rows]
    for index, number in enumerate(numbers):
        sheet[1 + index % (len(sheet) - 1)][index % len(header)] = number
    with tempfile.TemporaryDirectory() as folder:
        path = write_xlsx(Path(folder) / "w1.xlsx", sheet)
        data = path.read_bytes()
    with site("w1.xlsx", data) as config:
        checks_or_says_where(config, "exports/w1.xlsx")


# --- the config loader --------------------------------------------------------------------------

KEYS = ["site", "sources", "calendars", "policy", "title", "timezone", "periods", "history",
        "data_through", "templates", "on_bad_rows", "interactions_csv", "name", "path", "shape",
        "format", "columns", "values", "dimensions", "channel", "delimiter", "timestamp_format",
        "max_future", "hours", "holidays", "exclude", "blackouts", "first_response", "csat",
        "sentiment", "goals", "error_budget", "versions", "custom_metrics", "where", "within",
        "clock", "calendar", "scale", "satisfied", "min", "max", "tolerance", "min_n",
        "valid_from", "start", "end", "reason", "metric", "window", "days", "id", "label",
        "ratio", "numerator", "denominator", "aggregate", "unit", "team", "sla_attainment",
        "mon-fri", "sat"]
SCALARS = ["exports/*.csv", "exports/w1.csv", "UTC", "Europe/London", "Mars/Base", "week",
           "month", "day", "quarter", "60m", "15m", "4h", "2d", "0m", "soon", "1e400m",
           "999999999999999999999d", "2026-11-01", "0001-01-01", "9999-12-31",
           "2026-11-30T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00",
           "09:00-17:00", "25:00-26:00", "elapsed", "business", "rolling", "28d", "csat > 3",
           "count(", "category == 'x'", "95%", "all", "interactions", "messages", "csv", "jsonl",
           "desk", "report", "fail", "twitter", ""]


def config_values() -> st.SearchStrategy[object]:
    scalars = st.one_of(st.sampled_from(SCALARS), st.integers(min_value=-10, max_value=10**20),
                        st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=8))
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), inner, max_size=4),
        max_leaves=12,
    )


@st.composite
def config_documents(draw: st.DrawFn) -> str:
    """A config.yaml mostly shaped like one: the sections with their own keys, any values."""
    source = {"name": "desk", "path": "exports/w1.csv"}
    source.update(draw(st.dictionaries(st.sampled_from(KEYS), config_values(), max_size=3)))
    document: dict[str, object] = {"sources": [source]}
    for section in draw(st.lists(st.sampled_from(["site", "policy", "calendars"]), max_size=3)):
        document[section] = draw(st.dictionaries(st.sampled_from(KEYS), config_values(),
                                                 max_size=4))
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def loads_or_says_where(text: str, then_check: bool = False) -> None:
    """load_config returns a Config or raises ConfigError whose every problem is located."""
    with site("w1.csv", b"id,received_at,channel\n1,2026-11-02 09:00:00,twitter\n") as config:
        config.write_text(text, encoding="utf-8")
        try:
            loaded = load_config(config)
        except ConfigError as error:
            for problem in error.problems:
                assert re.match(rf"{re.escape(str(config))}(:\d+)?: ", str(problem)), problem
            return
        if then_check:
            try:
                check(loaded)
            except (DataError, ConfigError) as error:
                for problem in error.problems:
                    assert str(problem).startswith(("exports/w1.csv", f"{config.name}:")), problem


@bounded(150)
@given(text=config_documents())
def test_fuzz_config_loader_with_its_own_keys(text: str) -> None:
    loads_or_says_where(text)


# The edges of the years a config may name (1970-2100), in the zones furthest from UTC; now
# and then a date beyond them (a located config error).
EDGE_TIMES = ["1970-01-01T00:00:00+14:00", "2100-12-31T23:59:59-12:00", "1970-01-01T00:00:00",
              "2026-11-03T00:00:00+00:00", "2100-12-31T00:00:00"]
EDGE_DAYS = ["1970-01-01", "2026-11-02", "2100-12-31"]
BEYOND = ["0001-01-01", "9999-12-31T23:59:59-12:00"]


def edge_times() -> st.SearchStrategy[str]:
    return st.sampled_from(EDGE_TIMES * 5 + BEYOND)


def edge_days() -> st.SearchStrategy[str]:
    return st.sampled_from(EDGE_DAYS * 8 + BEYOND[:1])


@st.composite
def valid_configs(draw: st.DrawFn) -> str:
    """Configs the loader should accept, with values at the edges of what it accepts."""
    site: dict[str, object] = {
        "title": draw(st.sampled_from(["F", "{{ x }}", "<b>"])),
        "timezone": draw(st.sampled_from(["UTC", "Pacific/Kiritimati", "Etc/GMT+12"])),
        "periods": draw(st.lists(st.sampled_from(["day", "week", "month", "quarter"]),
                                 min_size=1, max_size=4, unique=True)),
        "history": draw(st.sampled_from([1, 26, 10_000, 10**9])),
    }
    if draw(st.booleans()):
        site["data_through"] = draw(edge_times())
    source: dict[str, object] = {
        "name": "desk", "path": "exports/w1.csv",
        "max_future": draw(st.sampled_from(["1s", "2d", "99999999d"])),
        "timezone": draw(st.sampled_from(["UTC", "Asia/Kathmandu"])),
    }
    day, other = draw(edge_days()), draw(edge_days())
    start, end = sorted([day, other])
    policy: dict[str, object] = {
        "first_response": [{"within": draw(st.sampled_from(["1s", "60m", "99999999d"]))}],
        "blackouts": [{"start": start, "end": end + "T23:00", "reason": "r"}] if start != end
        else [],
        "goals": {"sla_attainment": {"min": draw(st.sampled_from([0, 0.5, 1])),
                                     "min_n": draw(st.sampled_from([1, 10**12]))},
                  "frt_median": {"max": draw(st.sampled_from([0, 1e300]))}},
        "error_budget": {"metric": "sla_attainment",
                         "window": draw(st.sampled_from(["month", "quarter", "1d", "100000d"]))},
    }
    if draw(st.booleans()):
        policy["versions"] = [{"valid_from": draw(edge_days()),
                               "goals": {"sla_attainment": {"min": 0.9}}}]
    calendars = {"office": {"hours": {"mon-fri": ["09:00-17:00"]},
                            "holidays": [draw(edge_days())]}}
    if draw(st.booleans()):
        policy["first_response"] = [{"within": "4h", "clock": "business", "calendar": "office"}]
    return yaml.safe_dump({"site": site, "sources": [source], "calendars": calendars,
                           "policy": policy}, sort_keys=False)


@bounded(25)
@given(text=valid_configs())
def test_fuzz_a_config_at_the_edges_checks_or_says_where(text: str) -> None:
    """A config the loader accepts must not crash the build (a cut-off in year 9999, a
    history of a billion periods, a blackout in year 1, …)."""
    loads_or_says_where(text, then_check=True)


@bounded(150)
@given(tokens=st.lists(st.sampled_from([*"ab:-[]{}\n #'\"&*!|>%@`,?\t\\", "site", "sources",
                                        "  ", "- ", ": ", "name: d", "path: exports/w1.csv",
                                        "!!python/object:os.system", "&a", "*a", "<<: *a",
                                        "---", "...", "\ufeff", "\x00", "é"]),
                       max_size=40))
def test_fuzz_config_loader_with_any_text(tokens: list[str]) -> None:
    loads_or_says_where("".join(tokens))


# --- crashers found, kept as fixtures -----------------------------------------------------------


def fixture_cases() -> list[Path]:
    return sorted(p for p in FUZZ.iterdir() if p.is_file() and p.name != "README.md")


@pytest.mark.parametrize("path", fixture_cases(), ids=lambda p: p.name)
def test_fuzz_crasher_stays_fixed(path: Path) -> None:
    """Each file under tests/data/fuzz/ once crashed carecard; see its README for what."""
    if path.name.startswith("config-"):
        loads_or_says_where(path.read_text(encoding="utf-8"), then_check=True)
        return
    name = "w1" + path.name[path.name.index("."):]
    with site(name, path.read_bytes()) as config:
        checks_or_says_where(config, f"exports/{name}")


def test_fixture_readme_names_every_crasher() -> None:
    readme = (FUZZ / "README.md").read_text(encoding="utf-8")
    assert all(f"`{p.name}`" in readme for p in fixture_cases())
    assert textwrap.dedent(readme).strip()
