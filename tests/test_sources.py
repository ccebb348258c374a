"""Reading drops: row accounting, latest-wins, and one exact message per rejection reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import check
from generator.errors import DataError

HEADER = "id,received_at,first_response_at,resolved_at,channel,csat,needs_reply,team\n"
GOOD = "ok1,2026-11-02 09:00:00,2026-11-02 09:10:00,,twitter,,,billing\n"
CONFIG = """
site: {title: Scratch, timezone: UTC, periods: [week]}
sources:
  - name: desk
    path: exports/*.csv
    timezone: UTC
    dimensions: [team]
"""


def rejected(project: Callable[..., Path], row: str) -> list[str]:
    config = project({"exports/w1.csv": HEADER + GOOD + row}, CONFIG)
    return [r.message for r in check(config).quality.rejections]


@pytest.mark.parametrize(
    "row, message",
    [
        (
            ",2026-11-02 09:00:00,,,twitter,,,billing\n",
            "exports/w1.csv, line 3, column 'id': expected a value for the required field 'id', "
            "found ''. Hint: map another column with sources[0].columns.id, or fix the export.",
        ),
        (
            "x,yesterday,,,twitter,,,billing\n",
            "exports/w1.csv, line 3, column 'received_at': expected a timestamp like "
            "'2026-11-23 14:05:00' or '2026-11-23T14:05:00+00:00', found 'yesterday'. "
            "Hint: set sources[0].timestamp_format.",
        ),
        (
            "x,2026-11-02 09:00:00,2026-11-02 08:00:00,,twitter,,,billing\n",
            "exports/w1.csv, line 3, column 'first_response_at': expected a time at or after "
            "received_at '2026-11-02 09:00:00', found '2026-11-02 08:00:00'. "
            "Hint: check the timezone of the source and the column mapping.",
        ),
        (
            "x,2026-11-02 09:00:00,,2026-11-01 09:00:00,twitter,,,billing\n",
            "exports/w1.csv, line 3, column 'resolved_at': expected a time at or after "
            "received_at '2026-11-02 09:00:00', found '2026-11-01 09:00:00'. "
            "Hint: check the timezone of the source and the column mapping.",
        ),
        (
            "x,2026-11-02 09:00:00,,,twitter,,,all\n",
            "exports/w1.csv, line 3, column 'team': expected any value but 'all' for 'team' "
            "(it names the whole), found 'all'. Hint: map it to another value with "
            "sources[0].values.team.",
        ),
    ],
)
def test_each_rejection_reason_has_its_exact_message(
    project: Callable[..., Path], row: str, message: str
) -> None:
    assert rejected(project, row) == [message]


def test_duplicate_id_in_one_drop_rejects_every_copy(project: Callable[..., Path]) -> None:
    row = "dup,2026-11-02 09:00:00,,,twitter,,,billing\n"
    messages = rejected(project, row + row)
    assert messages == [
        f"exports/w1.csv, line {line}, column 'id': expected an id that appears once in the "
        "drop, found 'dup'. Hint: every copy is rejected; export the drop again without "
        "duplicates, or set sources[0].on_duplicate (identical, keep_last)."
        for line in (3, 4)
    ]


def test_line_numbers_count_quoted_newlines(project: Callable[..., Path]) -> None:
    text = HEADER + 'q1,2026-11-02 09:00:00,,,twitter,,,"two\nlines"\n' + "x,never,,,twitter,,,b\n"
    config = project({"exports/w1.csv": text}, CONFIG)
    (only,) = check(config).quality.rejections
    assert only.position == "line 4"


def test_later_drop_supersedes_and_rejected_row_never_replaces(
    project: Callable[..., Path],
) -> None:
    w1 = HEADER + "a,2026-11-02 09:00:00,,,twitter,,,billing\nb,2026-11-02 09:00:00,,,twitter,,,x\n"
    w2 = HEADER + (
        "a,2026-11-02 09:00:00,2026-11-02 09:30:00,,twitter,,,billing\n"
        "b,2026-11-02 09:00:00,2026-11-02 08:00:00,,twitter,,,x\n"
    )
    config = project({"exports/w1.csv": w1, "exports/w2.csv": w2}, CONFIG)
    quality = check(config).quality
    counts = [(d.file, d.read, d.kept, d.superseded, d.rejected) for d in quality.drops]
    assert counts == [("exports/w1.csv", 2, 1, 1, 0), ("exports/w2.csv", 2, 1, 0, 1)]


def test_drops_are_ordered_naturally(project: Callable[..., Path]) -> None:
    row = HEADER + "a,2026-11-02 09:00:00,,,twitter,,,billing\n"
    config = project({"exports/w9.csv": row, "exports/w10.csv": row}, CONFIG)
    files = [d.file for d in check(config).quality.drops]
    assert files == ["exports/w9.csv", "exports/w10.csv"]
    assert [d.superseded for d in check(config).quality.drops] == [1, 0]


def test_missing_required_column_fails_with_its_name(project: Callable[..., Path]) -> None:
    text = "id,created,channel\na,2026-11-02 09:00:00,twitter\n"
    config = project({"exports/w1.csv": text}, CONFIG)
    with pytest.raises(DataError) as error:
        check(config)
    assert str(error.value).startswith(
        "exports/w1.csv, line 1: expected a column 'received_at' for the field 'received_at'."
    )


def test_header_only_file_fails(project: Callable[..., Path]) -> None:
    config = project({"exports/w1.csv": HEADER}, CONFIG)
    with pytest.raises(DataError) as error:
        check(config)
    assert "exports/w1.csv: expected a header line and at least one data row" in str(error.value)


def test_strict_fails_on_any_rejected_row(project: Callable[..., Path]) -> None:
    config = project({"exports/w1.csv": HEADER + "x,never,,,twitter,,,b\n"}, CONFIG)
    with pytest.raises(DataError) as error:
        check(config, strict=True)
    assert "1 rejected row(s) fail the build (--strict)." in str(error.value)


def test_timestamp_after_an_explicit_data_through_is_rejected(
    project: Callable[..., Path],
) -> None:
    config = project(
        {"exports/w1.csv": HEADER + GOOD + "late,2026-11-02 09:00:00,2026-11-04 09:00:00,,twitter,,,b\n"},
        CONFIG.replace("periods: [week]}", "periods: [week], data_through: '2026-11-04T00:00:00+00:00'}"),
    )
    assert rejected_messages(config) == [
        "exports/w1.csv, line 3, column 'first_response_at': expected a time at or before "
        "site.data_through (2026-11-04T00:00:00+00:00), found '2026-11-04 09:00:00'. "
        "Hint: raise site.data_through or remove it to derive it from the data."
    ]


def rejected_messages(config: Path) -> list[str]:
    return [r.message for r in check(config).quality.rejections]


def test_staged_text_is_released_after_accounting_unless_messages_need_it(
    project: Callable[..., Path],
) -> None:
    """Once every row is accounted for, the export text leaves the engine (memory for the
    figures); the interactions and every count stay."""
    import duckdb

    from generator.config.loader import load_config
    from generator.ingest.sources import account_rows, release_staged, stage_drops

    row = HEADER + "a,2026-11-02 09:00:00,,,twitter,,,billing\n"
    config = load_config(project({"exports/w1.csv": row, "exports/w2.csv": row}, CONFIG))
    con = duckdb.connect()
    staged = stage_drops(con, config)
    quality = account_rows(con, config, staged)
    assert release_staged(con, staged)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views()").fetchall()}
    assert not {t for t in tables if t.startswith("staged")} and "staged" not in views
    assert con.execute("SELECT count(*) FROM interactions").fetchone() == (1,)
    assert [(d.read, d.kept, d.superseded) for d in quality.drops] == [(1, 0, 1), (1, 1, 0)]


def test_a_drop_rewritten_with_its_old_size_and_time_is_hashed_again(
    project: Callable[..., Path],
) -> None:
    """Each input fingerprint hashes afresh (`serve` polls with it), even when an edit kept the
    file's size and modification time (`cp -p`, `touch -r`)."""
    import os

    from generator.build import input_fingerprint
    from generator.config.loader import load_config

    row = HEADER + "a,2026-11-02 09:00:00,,,twitter,,,billing\n"
    config = load_config(project({"exports/w1.csv": row}, CONFIG))
    drop = config.root / "exports" / "w1.csv"
    before = input_fingerprint(config, config.root / "output")
    times = os.stat(drop)
    drop.write_text(row.replace("billing", "billinG"), encoding="utf-8")  # same size
    os.utime(drop, ns=(times.st_atime_ns, times.st_mtime_ns))
    assert os.stat(drop).st_size == times.st_size
    assert input_fingerprint(config, config.root / "output") != before


def test_a_gzip_drop_counts_its_uncompressed_text_towards_a_batch(
    project: Callable[..., Path],
) -> None:
    import gzip

    from generator.config.loader import load_config
    from generator.ingest.sources import _text_size, find_drops

    text = HEADER + "a,2026-11-02 09:00:00,,,twitter,,,billing\n" * 2000
    config = load_config(project({"exports/w1.csv": text}, CONFIG))
    drop_path = config.root / "exports" / "w1.csv"
    drop_path.write_bytes(gzip.compress(text.encode("utf-8")))
    (drop,) = find_drops(config)
    assert drop.path.stat().st_size < len(text) // 10
    assert _text_size(drop) == len(text.encode("utf-8"))


def test_a_drop_linked_to_a_file_outside_the_site_is_refused_without_reading_it(
    project: Callable[..., Path], tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    config = project({"exports/w1.csv": HEADER + GOOD, "archive/w0.csv": HEADER + GOOD}, CONFIG)
    # Outside the site: a long path to a "secret" (CSV-like, so a reader would echo lines).
    secret = tmp_path_factory.mktemp("outside-" + "x" * 90) / "shadow.csv"
    secret.write_text(HEADER + "root:SECRET-HASH,2026-11-02 09:00:00,,,twitter,,,a\n",
                      encoding="utf-8")
    (tmp_path / "exports" / "w2.csv").symlink_to(secret)
    (tmp_path / "exports" / "w0.csv").symlink_to(tmp_path / "archive" / "w0.csv")  # inside: fine
    with pytest.raises(DataError) as error:
        check(config)
    target = secret.as_posix()
    assert str(error.value) == (
        f"exports/w2.csv: symbolic link: expected a file inside the site folder or inside "
        f"'exports', found '{target[:77]}...'. Hint: copy the export into the folder instead "
        "of linking to a file elsewhere.")
    assert "SECRET" not in str(error.value)
    (tmp_path / "exports" / "w2.csv").unlink()
    assert [d.file for d in check(config).quality.drops] == ["exports/w0.csv", "exports/w1.csv"]


# --- ids are text in every format (issue 14, item 7) ----------------------------------------------

ID_CONFIG = """
site: {title: Scratch, timezone: UTC, periods: [week]}
sources:
  - {name: desk, path: "exports/*", timezone: UTC, channel: twitter}
"""
INEXACT_HINT = (
    "Hint: a number this large may have lost its last digits before it was exported (most tools "
    "hold numbers as doubles); export ids as text (in JSON, as a string in quotes).")
EXPONENT_HINT = ("Hint: a spreadsheet wrote this id in exponent notation and lost its last "
                 "digits; export the column as text.")


def write_id_drop(path: Path, ids: list[object]) -> None:
    """A drop of one row per id, each received on 2 Nov 2026, in the format of its name."""
    import json

    from sheets import write_xlsx

    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": i, "received_at": f"2026-11-02 0{n}:00:00"} for n, i in enumerate(ids)]
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif path.suffix == ".csv":
        path.write_text("id,received_at\n" + "".join(f"{r['id']},{r['received_at']}\n"
                                                    for r in rows), encoding="utf-8")
    elif path.suffix == ".xlsx":
        write_xlsx(path, [["id", "received_at"], *[[r["id"], r["received_at"]] for r in rows]])
    else:
        import duckdb

        values = ", ".join(f"({i!r}::DOUBLE, {r['received_at']!r})" for i, r in zip(ids, rows))
        duckdb.connect().execute(f"COPY (SELECT * FROM (VALUES {values}) v(id, received_at)) "
                                 f"TO '{path}' (FORMAT parquet)")


@pytest.mark.parametrize(
    "ext, first, second, found, reason, position",
    [
        # Beyond the engine's integers: both were read as the double 1.2345678901234568e+22,
        # and the second drop's row silently replaced the first drop's.
        (".jsonl", 12345678901234567890123, 12345678901234567890124, "12345678901234567890123",
         "inexact_id", "line 1"),
        # Within int64 but beyond 2^53 (SPEC §3.4: a JSON tool may have rounded it already).
        (".json", 9007199254740993, 9007199254740995, "9007199254740993", "inexact_id",
         "item 1"),
        # Spreadsheet cells and Parquet doubles: 15-17 digits, the rest is lost.
        (".xlsx", 12345678901234567890, 12345678901234567891, "1.2345678901234567e+19",
         "id_in_exponent", "row 2"),
        (".parquet", 9007199254740994, 9007199254740995, "9.007199254740994e+15",
         "id_in_exponent", "row 1"),
        (".csv", "1.2e+18", "1.2E18", "1.2e+18", "id_in_exponent", "line 2"),
    ],
)
def test_a_numeric_id_that_cannot_be_held_exactly_is_rejected_never_merged(
    project: Callable[..., Path], ext: str, first: object, second: object, found: str,
    reason: str, position: str,
) -> None:
    """Two distinct interactions whose ids only a double confuses: neither replaces the other;
    both are rejected with a reason. Each drop has one good row (id 7 or 8) besides."""
    config = project({}, ID_CONFIG)
    write_id_drop(config.parent / "exports" / f"w1{ext}", [first, 7])
    write_id_drop(config.parent / "exports" / f"w2{ext}", [second, 8])
    quality = check(config).quality
    assert [(d.read, d.kept, d.superseded, d.rejected, d.rejected_by_reason)
            for d in quality.drops] == [(2, 1, 0, 1, {reason: 1})] * 2
    expected = (
        "an id as text, or as a whole number of at most 2^53 (9007199254740992)"
        if reason == "inexact_id" else "an id written out in full")
    hint = INEXACT_HINT if reason == "inexact_id" else EXPONENT_HINT
    assert quality.rejections[0].message == (
        f"exports/w1{ext}, {position}, column 'id': expected {expected}, found '{found}'. {hint}")


def test_an_id_as_text_or_an_exact_number_is_kept_as_written(
    project: Callable[..., Path],
) -> None:
    config = project({}, ID_CONFIG)
    write_id_drop(config.parent / "exports" / "w1.jsonl",
                  ["12345678901234567890123", 9007199254740992, 3.0, "007"])
    import duckdb

    from generator.config.loader import load_config
    from generator.ingest.sources import read_sources

    con = duckdb.connect()
    quality = read_sources(con, load_config(config))
    assert quality.rows_rejected == 0
    assert con.execute("SELECT id FROM interactions ORDER BY line").fetchall() == [
        ("12345678901234567890123",), ("9007199254740992",), ("3",), ("007",)]


# --- timestamps that cannot be right (issue 14, items 9 and 14) -----------------------------------

TIMES = "id,received_at,first_response_at,channel\n"
# Three good cases: data-through is the latest of their times, 5 Nov 10:00.
GOOD_TIMES = ("ok1,2026-11-02 09:00:00,2026-11-02 09:10:00,twitter\n"
              "ok2,2026-11-04 08:00:00,,twitter\n"
              "ok3,2026-11-05 10:00:00,,twitter\n")
TIMES_CONFIG = """
site: {title: Scratch, timezone: UTC, periods: [week]}
sources:
  - {name: desk, path: "exports/*.csv", timezone: UTC}
"""


@pytest.mark.parametrize(
    "row",
    [
        "bad,0001-01-01 00:00:00,,twitter\n",  # ran the period grid over 2,000 years
        "bad,0002-03-04 05:06:07,,twitter\n",
        "bad,1969-12-31 23:59:59,,twitter\n",
        "bad,2101-01-01 00:00:00,,twitter\n",
        "bad,9998-06-01 00:00:00,,twitter\n",
        "bad,9999-12-31 23:59:59,,twitter\n",  # OverflowError
        "bad,2026-11-04 09:00:00,9999-12-31 23:59:59,twitter\n",
        "bad,2026-11-04 09:00:00,2101-01-01 00:00:00+00:00,twitter\n",
    ],
)
def test_a_timestamp_before_1970_or_after_2100_is_a_rejected_row(
    project: Callable[..., Path], row: str
) -> None:
    config = project({"exports/w1.csv": TIMES + GOOD_TIMES + row}, TIMES_CONFIG)
    quality = check(config).quality
    (drop,) = quality.drops
    assert (drop.read, drop.kept, drop.rejected) == (4, 3, 1)
    assert drop.rejected_by_reason == {"timestamp_out_of_range": 1}
    field = "received_at" if row.count(",,") else "first_response_at"
    value = row.split(",")[1 if field == "received_at" else 2]
    assert quality.rejections[0].message == (
        f"exports/w1.csv, line 5, column '{field}': expected a time from 1970 to 2100, found "
        f"'{value}'. Hint: a date this far off is a typing or export error; correct the export.")
    assert str(quality.data_through) == "2026-11-05 10:00:00+00:00"


def test_a_message_dated_year_one_is_a_rejected_row(project: Callable[..., Path]) -> None:
    config = project({"exports/w1.csv": (
        "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
        "1,cust,True,2026-11-02 09:00:00,hi,,\n"
        "2,Brand,False,0001-01-01 00:00:00,hello,,1\n")},
        TIMES_CONFIG.replace("timezone: UTC}", "timezone: UTC, shape: messages, columns: "
                             "{message_id: tweet_id, author: author_id, created_at: created_at, "
                             "in_reply_to: in_response_to_tweet_id}}"))
    quality = check(config).quality
    assert quality.drops[0].rejected_by_reason == {"timestamp_out_of_range": 1}


def test_a_reply_typed_decades_ahead_is_implausible_and_keeps_data_through(
    project: Callable[..., Path],
) -> None:
    """A reply typed as 2062 moved the data-through time 36 years ahead."""
    row = "typo,2026-11-04 09:00:00,2062-11-04 09:30:00,twitter\n"
    config = project({"exports/w1.csv": TIMES + GOOD_TIMES + row}, TIMES_CONFIG)
    quality = check(config).quality
    assert quality.drops[0].rejected_by_reason == {"implausible_timestamp": 1}
    assert [r.message for r in quality.rejections] == [
        "exports/w1.csv, line 5, column 'first_response_at': expected a time at most 2d after "
        "the latest received_at of the drop's other rows (2026-11-05 10:00:00+00:00), found "
        "'2062-11-04 09:30:00'. Hint: check the year and the column mapping; if this source's "
        "exports do run ahead, raise sources[0].max_future."]
    # Kept: ok1 (reply 2 Nov 09:10), ok2 (4 Nov 08:00), ok3 (5 Nov 10:00).
    assert str(quality.data_through) == "2026-11-05 10:00:00+00:00"


def test_max_future_is_measured_from_the_other_rows_and_is_set_per_source(
    project: Callable[..., Path],
) -> None:
    # 5 Nov 10:00 + 2 days = 7 Nov 10:00: a receipt at that minute is plausible, one a
    # second later is not (it is the drop's latest, so it is measured against the others).
    at_limit = TIMES + GOOD_TIMES + "edge,2026-11-07 10:00:00,,twitter\n"
    beyond = TIMES + GOOD_TIMES + "late,2026-11-07 10:00:01,,twitter\n"
    # A drop of one row is measured against the source's earlier drops.
    alone = TIMES + "solo,2026-11-08 10:00:00,,twitter\n"
    config = project({"exports/w1.csv": at_limit, "exports/w2.csv": beyond,
                      "exports/w3.csv": alone}, TIMES_CONFIG)
    quality = check(config).quality
    assert [d.rejected_by_reason for d in quality.drops] == [
        {}, {"implausible_timestamp": 1}, {}]
    # w3's one row is measured against the latest receipt of w1 and w2, 7 Nov 10:00:01 (w2's
    # late row: every receipt from 1970 to 2100 counts), so 8 Nov 10:00 is within 2 days.
    assert quality.rejections[0].message.startswith(
        "exports/w2.csv, line 5, column 'received_at': expected a time at most 2d after the "
        "latest received_at of the drop's other rows (2026-11-05 10:00:00+00:00), found "
        "'2026-11-07 10:00:01'.")
    (config.parent / "exports" / "w3.csv").write_text(
        TIMES + "solo,2026-11-20 10:00:00,,twitter\n", encoding="utf-8")
    (rejection,) = [r for r in check(config).quality.rejections if r.file == "exports/w3.csv"]
    assert rejection.message.startswith(
        "exports/w3.csv, line 2, column 'received_at': expected a time at most 2d after the "
        "latest received_at of the source's earlier drops (2026-11-07 10:00:01+00:00), found "
        "'2026-11-20 10:00:00'.")
    config.write_text(TIMES_CONFIG.replace("timezone: UTC}", "timezone: UTC, max_future: 14d}"),
                      encoding="utf-8")
    assert check(config).quality.rows_rejected == 0


# --- invalid optional fields are dropped, not the row (issue 14, item 16) --------------------------

OPTIONAL = "id,received_at,first_response_at,channel,csat,sentiment_start,reach,needs_reply\n"
# Answered after 10 minutes, every optional field valid.
ANSWERED = "ok,2026-11-02 09:00:00,2026-11-02 09:10:00,twitter,5,positive,100,\n"


@pytest.mark.parametrize(
    "cells, field, reason, message",
    [
        ("7,,,", "csat", "csat_outside_scale",
         "expected a score from 1 to 5 (policy.csat.scale), found '7'. Hint: check the survey "
         "scale in policy.csat."),
        ("n/a,,,", "csat", "not_a_number",
         "expected a number for 'csat', found 'n/a'. Hint: leave the cell empty when there is "
         "no csat."),
        ("4.5,,,", "csat", "csat_not_on_scale",
         "expected a whole score from 1 to 5 (policy.csat), found '4.5'. Hint: scores between "
         "the points of the scale are dropped; check the survey scale in policy.csat."),
        (",NaN,,", "sentiment_start", "invalid_sentiment",
         "expected a number from -1 to 1 or positive, neutral or negative, found 'NaN'."),
        (",,-3,", "reach", "negative_number",
         "expected a number of at least 0 for 'reach', found '-3'. Hint: leave the cell empty "
         "when there is no reach."),
        (",,1E32,", "reach", "number_too_large",  # overflowed the sum of reach
         "expected a number of at most 10^16 for 'reach', found '1E32'. Hint: leave the cell "
         "empty when there is no reach."),
        (",,inf,", "reach", "not_a_number",
         "expected a number for 'reach', found 'inf'. Hint: leave the cell empty when there is "
         "no reach."),
        (",,,maybe", "needs_reply", "unmapped_value",
         "expected true or false for 'needs_reply', found 'maybe'. Hint: map it with "
         "sources[0].values.needs_reply, e.g. {maybe: true}."),
    ],
)
def test_an_invalid_optional_field_is_dropped_and_the_interaction_kept(
    project: Callable[..., Path], cells: str, field: str, reason: str, message: str
) -> None:
    """The unanswered interaction on line 3 stays in volume, response and SLA; only its
    invalid field is set empty (a boolean takes its default: needs_reply empty = true)."""
    row = f"x,2026-11-02 11:00:00,,twitter,{cells}\n"
    config = project({"exports/w1.csv": OPTIONAL + ANSWERED + row}, TIMES_CONFIG)
    checked = check(config)
    quality = checked.quality
    (drop,) = quality.drops
    assert (drop.read, drop.kept, drop.superseded, drop.rejected) == (2, 2, 0, 0)
    assert [(d.file, d.field, d.column, d.reason, d.count) for d in quality.fields_dropped] == [
        ("exports/w1.csv", field, field, reason, 1)]
    assert quality.fields_dropped[0].example == (
        f"exports/w1.csv, line 3, column '{field}': {message}")
    figures = {f.metric: f.value for f in checked.figures.rows
               if f.period == "2026-W45" and f.segment == "all"}
    # Volume 2; one of the two answered (response rate 1/2); data-through is 2 Nov 11:00, so
    # x (60-minute target, due 12:00) is not overdue yet: SLA 1 of 1 answered in time.
    assert (figures["volume"], figures["response_rate"], figures["sla_attainment"]) == (
        2, 0.5, 1.0)
    # The dropped field counts as empty: only ok is rated, classified and has reach.
    assert figures["csat"] == 1.0 and figures["net_sentiment"] == 1.0


def test_fields_dropped_are_counted_by_reason_on_the_page_and_by_check(
    project: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from html.parser import HTMLParser

    from generator.cli import main

    rows = (ANSWERED + "a,2026-11-02 11:00:00,,twitter,n/a,,,\n"
            "b,2026-11-02 12:00:00,,twitter,n/a,,-3,\n" "c,2026-11-02 13:00:00,,twitter,9,,,\n")
    config = project({"exports/w1.csv": OPTIONAL + rows}, TIMES_CONFIG)
    assert main(["check", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("field dropped")] == [
        "field dropped (2 in the drop, rows kept with it empty): exports/w1.csv, line 3, column "
        "'csat': expected a number for 'csat', found 'n/a'. Hint: leave the cell empty when "
        "there is no csat.",
        "field dropped (1 in the drop, rows kept with it empty): exports/w1.csv, line 5, column "
        "'csat': expected a score from 1 to 5 (policy.csat.scale), found '9'. Hint: check the "
        "survey scale in policy.csat.",
        "field dropped (1 in the drop, rows kept with it empty): exports/w1.csv, line 4, column "
        "'reach': expected a number of at least 0 for 'reach', found '-3'. Hint: leave the cell "
        "empty when there is no reach."]
    assert out[-1].startswith("checked 1 drops: 4 rows read, 0 rejected, 4 field values "
                              "dropped; data through ")

    class Table(HTMLParser):
        """The cells of the table of the section 'Fields dropped'."""

        def __init__(self) -> None:
            super().__init__()
            self.section = ""
            self.rows: list[list[str]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "section":
                self.section = dict(attrs).get("aria-labelledby") or ""
            elif tag == "tr" and self.section == "fields-dropped":
                self.rows.append([])
            elif tag in ("td", "th") and self.section == "fields-dropped":
                self.cell = []

        def handle_endtag(self, tag: str) -> None:
            if tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append(" ".join("".join(self.cell).split()))
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell.append(data)

    assert main(["build", "--config", str(config), "--output", str(tmp_path / "out")]) == 0
    table = Table()
    table.feed((tmp_path / "out" / "data-quality.html").read_text(encoding="utf-8"))
    assert [row[:4] for row in table.rows] == [
        ["File", "Field", "Reason", "Values"],
        ["exports/w1.csv", "csat", "not a number not_a_number", "2"],
        ["exports/w1.csv", "csat", "csat outside the scale csat_outside_scale", "1"],
        ["exports/w1.csv", "reach", "negative number negative_number", "1"],
    ]


@pytest.mark.parametrize(
    "fmt, value, hint",
    [
        (None, "31/10/2026 14:05", "Hint: it looks like '%d/%m/%Y %H:%M': set "
         "sources[0].timestamp_format: '%d/%m/%Y %H:%M' (in quotes)."),
        (None, "02/11/2026 14:05", "Hint: it looks like '%d/%m/%Y %H:%M' or '%m/%d/%Y %H:%M' "
         "(day or month first: a date after the 12th tells which); set "
         "sources[0].timestamp_format to the right one, in quotes."),
        # The airline sentiment export's layout, read with a wrong format (issue 15.9).
        ("'%m/%d/%Y %H:%M'", "2026-11-02 11:35:52 -0800", "Hint: it looks like "
         "'%Y-%m-%d %H:%M:%S %z', which parses without a format: remove "
         "sources[0].timestamp_format ('%m/%d/%Y %H:%M')."),
        ("'%m/%d/%Y %H:%M'", "soon", "Hint: check sources[0].timestamp_format "
         "('%m/%d/%Y %H:%M')."),
        # A known layout whose date and time do not exist: the format is not to blame.
        (None, "2026-02-30 25:61:00", "Hint: the layout is a known one but this date or time "
         "does not exist (like 30 February or 25:61): correct the export."),
    ],
)
def test_an_unparsed_timestamp_hint_names_the_format_it_looks_like(
    project: Callable[..., Path], fmt: str | None, value: str, hint: str
) -> None:
    config = CONFIG + (f"    timestamp_format: {fmt}\n" if fmt else "")
    good = "ok1,11/02/2026 09:00,,,twitter,,,billing\n" if fmt else GOOD
    path = project({"exports/w1.csv": HEADER + good + f"x,{value},,,twitter,,,billing\n"},
                   config)
    [message] = [r.message for r in check(path).quality.rejections]
    assert message == (
        "exports/w1.csv, line 3, column 'received_at': expected a timestamp like "
        f"'2026-11-23 14:05:00' or '2026-11-23T14:05:00+00:00', found '{value}'. {hint}")


def test_a_space_before_the_offset_parses_without_a_format(
    project: Callable[..., Path]
) -> None:
    path = project({"exports/w1.csv": HEADER
                    + "a,2015-02-24 11:35:52 -0800,2015-02-24 11:50:52 -0800,,twitter,,,x\n"},
                   CONFIG)
    quality = check(path).quality
    assert quality.rows_rejected == 0
    assert quality.data_through is not None
    assert quality.data_through.isoformat() == "2015-02-24T19:50:52+00:00"


def wrong_format_drop(rows: int, rejected: int) -> str:
    """A drop of `rows` rows of which the last `rejected` carry a layout no format reads."""
    good = [f"g{i},2026-11-02 09:{i % 60:02d}:00,,,twitter,,,billing\n"
            for i in range(rows - rejected)]
    bad = [f"b{i},02/11/2026 09:{i % 60:02d},,,twitter,,,billing\n" for i in range(rejected)]
    return HEADER + "".join(good + bad)


@pytest.mark.parametrize(
    "rows, rejected, share, fails",
    [
        (20, 11, None, True),   # 55 % of 20 rows: beyond the default 0.5
        (20, 10, None, False),  # exactly half is not beyond it
        (19, 19, None, False),  # a drop of fewer than 20 rows never fails on its share
        (20, 11, 0.6, False),   # site.max_rejected_share raises the bar
        (40, 9, 0.2, True),
    ],
)
def test_a_drop_with_most_rows_rejected_fails_the_check(
    project: Callable[..., Path], rows: int, rejected: int, share: float | None, fails: bool
) -> None:
    config = CONFIG.replace("periods: [week]", "periods: [week]"
                            + (f", max_rejected_share: {share}" if share is not None else ""))
    path = project({"exports/w1.csv": wrong_format_drop(rows, rejected)}, config)
    if not fails:
        assert check(path).quality.rows_rejected == rejected
        return
    with pytest.raises(DataError) as raised:
        check(path)
    limit = share if share is not None else 0.5
    first = rows - rejected + 2
    assert [str(p) for p in raised.value.problems] == [
        f"exports/w1.csv: rejected rows: expected at most {limit:.0%} of the drop's {rows} rows "
        f"(site.max_rejected_share), found '{rejected} ({rejected / rows:.0%}; "
        f"unparseable_timestamp {rejected})'. Hint: a wrong timestamp_format or column mapping "
        "is the usual cause; nothing is published. Raise site.max_rejected_share if this drop "
        "is expected to be mostly rejected.",
        f"  the first: exports/w1.csv, line {first}, column 'received_at': expected a timestamp "
        "like '2026-11-23 14:05:00' or '2026-11-23T14:05:00+00:00', found '02/11/2026 09:00'. "
        "Hint: it looks like '%d/%m/%Y %H:%M' or '%m/%d/%Y %H:%M' (day or month first: a date "
        "after the 12th tells which); set sources[0].timestamp_format to the right one, in "
        "quotes.",
    ]


def test_a_tweet_export_read_as_interactions_says_it_looks_message_level(
    project: Callable[..., Path]
) -> None:
    tweets = ("tweet_id,author_id,inbound,created_at,text,response_tweet_id,"
              "in_response_to_tweet_id\n"
              "1,cust,True,Tue Oct 31 22:10:47 +0000 2017,@Brand help,2,\n"
              "2,Brand,False,Tue Oct 31 22:20:47 +0000 2017,@cust sorry,,1\n")
    config = CONFIG.replace("    dimensions: [team]\n",
                            "    columns: {id: tweet_id, received_at: created_at}\n")
    with pytest.raises(DataError) as raised:
        check(project({"exports/w1.csv": tweets}, config))
    assert [str(p) for p in raised.value.problems] == [
        "exports/w1.csv, line 1: expected a column 'channel' for the field 'channel'. "
        "Hint: the file looks like a message-level export (one row per message: 'inbound', "
        "'in_response_to_tweet_id'); declare it with sources[0].shape: messages and map "
        "message_id, author, inbound, created_at and in_reply_to in sources[0].columns (see "
        "'Message-level exports' in the README).",
    ]


def test_a_goal_on_a_metric_no_source_provides_is_a_warning(
    project: Callable[..., Path]
) -> None:
    config = CONFIG + ("policy:\n  goals:\n    response_rate: {min: 0.9}\n"
                       "    csat: {min: 0.8}\n")
    checked = check(project({"exports/w1.csv": "id,received_at,first_response_at,channel,team\n"
                             "a,2026-11-02 09:00:00,,twitter,x\n"}, config))
    assert checked.config.warnings == (
        "config.yaml:10: policy.goals.csat: no source has a column for 'csat', so the metric "
        "is not shown and its goal is ignored. Hint: map the column with "
        "sources[0].columns.csat, or remove the goal.",
    )
