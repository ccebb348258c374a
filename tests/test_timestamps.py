"""How export timestamps are read (SPEC §3.1: naive times in the source's timezone)."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pytest

from generator.config.loader import SourceConfig
from generator.ingest.timestamps import parse_timestamps_sql, timestamp_sql

LONDON = SourceConfig(name="s", path="x", timezone="Europe/London")


def read(text: str, source: SourceConfig = LONDON) -> datetime | None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    row = con.execute(f"SELECT {timestamp_sql('raw', source)} FROM (SELECT ? AS raw)", [text])
    return row.fetchone()[0]  # type: ignore[index]


def read_in_steps(text: str, source: SourceConfig = LONDON) -> datetime | None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql = parse_timestamps_sql("(SELECT ? AS raw)", {"parsed": "raw"}, source)
    row = con.execute(f"SELECT parsed FROM ({sql})", [text])
    return row.fetchone()[0]  # type: ignore[index]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-06-12 10:00:00", utc(2026, 6, 12, 9)),  # BST
        ("2026-11-12T10:00:00", utc(2026, 11, 12, 10)),  # GMT
        ("2026-11-12 10:00", utc(2026, 11, 12, 10)),
        ("2026-11-12", utc(2026, 11, 12)),  # a date alone is local midnight
        ("2026-11-12T10:00:00+01:00", utc(2026, 11, 12, 9)),
        ("2026-11-12T10:00:00+0530", utc(2026, 11, 12, 4, 30)),
        ("2026-11-12T10:00:00Z", utc(2026, 11, 12, 10)),
        ("Tue Oct 31 22:10:47 +0000 2017", utc(2017, 10, 31, 22, 10, 47)),
        # One space before the offset, as the airline sentiment export writes it (issue 15.9).
        ("2015-02-24 11:35:52 -0800", utc(2015, 2, 24, 19, 35, 52)),
        ("2026-11-12 10:00:00 +0100", utc(2026, 11, 12, 9)),
        # 01:30 on 25 Oct 2026 happens twice in London: the first (BST) occurrence is taken.
        ("2026-10-25 01:30:00", utc(2026, 10, 25, 0, 30)),
        ("2026-10-25 00:30:00", utc(2026, 10, 24, 23, 30)),
        ("2026-10-25 02:30:00", utc(2026, 10, 25, 2, 30)),
        # 01:30 on 29 Mar 2026 does not exist in London: read one hour on (02:30 BST).
        ("2026-03-29 01:30:00", utc(2026, 3, 29, 1, 30)),
    ],
)
def test_timestamps_are_read_as_documented(text: str, expected: datetime) -> None:
    assert read(text) == expected
    assert read_in_steps(text) == expected


@pytest.mark.parametrize(
    "text", ["2026-11-12T10:00:00+99:99", "2026-11-12T10:00:00+25:00", "yesterday",
             "2026-11-12 10:00:00  +0100", "2026-11-12 10:00:00 +25:00", "12/11/2026"],
)
def test_impossible_or_unknown_timestamps_are_unparseable(text: str) -> None:
    assert read(text) is None
    assert read_in_steps(text) is None


def test_a_timestamp_format_reads_other_layouts() -> None:
    source = SourceConfig(name="s", path="x", timezone="Europe/London",
                          timestamp_format="%d/%m/%Y %H:%M")
    assert read("12/06/2026 10:00", source) == utc(2026, 6, 12, 9)
    assert read_in_steps("12/06/2026 10:00", source) == utc(2026, 6, 12, 9)


def test_parsing_in_steps_keeps_every_column_and_adds_the_times_in_order() -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql = parse_timestamps_sql(
        "(SELECT 1 AS n, '2026-11-12 10:00' AS a, NULL AS b)", {"b_at": "b", "a_at": "a"}, LONDON
    )
    cursor = con.execute(sql)
    assert [d[0] for d in cursor.description] == ["n", "a", "b", "b_at", "a_at"]
    assert cursor.fetchone() == (1, "2026-11-12 10:00", None, None, utc(2026, 11, 12, 10))
