"""Message-level sources: validation, de-duplication, threading and per-brand figures."""

from __future__ import annotations

import random
import shutil
import statistics
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.build import check
from generator.config.loader import load_config
from generator.ingest.messages import MessageSourceResult, read_message_source
from generator.ingest.sources import find_drops

DATA = Path(__file__).parent / "data"
TWCS_CONFIG = """
site: {title: Scratch, timezone: UTC, periods: [week]}
sources:
  - name: twitter
    path: exports/*.csv
    shape: messages
    columns:
      message_id: tweet_id
      author: author_id
      in_reply_to: in_response_to_tweet_id
      response_ids: response_tweet_id
    dimensions: [brand]
"""
HEADER = "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"


def run(config: Path) -> tuple[duckdb.DuckDBPyConnection, MessageSourceResult]:
    con = duckdb.connect()
    loaded = load_config(config)
    return con, read_message_source(con, loaded, 0, find_drops(loaded), 0)


def per_brand(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, tuple[int, int, float]]:
    """brand -> (conversations, answered, median first response in minutes)."""
    rows = con.execute(
        f"SELECT \"dimension.brand\", epoch(first_response_at - received_at) / 60 FROM {table}"
    ).fetchall()
    out: dict[str, tuple[int, int, float]] = {}
    for brand in sorted({b for b, _ in rows}):
        minutes = [m for b, m in rows if b == brand and m is not None]
        conversations = sum(1 for b, _ in rows if b == brand)
        out[brand] = (conversations, len(minutes),
                      round(statistics.median(minutes), 3) if minutes else float("nan"))
    return out


@pytest.fixture
def excerpt(project: Callable[..., Path]) -> Path:
    config = project({}, TWCS_CONFIG)
    (config.parent / "exports").mkdir()
    shutil.copy(DATA / "twcs_excerpt.csv", config.parent / "exports" / "twcs_excerpt.csv")
    return config


def test_twcs_excerpt_figures_per_brand_match_the_hand_derivation(excerpt: Path) -> None:
    # Derived by hand from tests/data/twcs_excerpt.csv (all times Wed Oct 11 2017 UTC unless
    # noted). root <- first brand reply (brand): reply - root = minutes
    #   119237 06:55:44, no reply; its text starts '@AppleSupport', a known brand account (it
    #          authors replies elsewhere) -> AppleSupport, unanswered
    #   119239 13:00:09 <- 119238 13:25:49 (ChaseSupport): 25m40s   = 25.667
    #   119250 05:33:17 <- 119249 (inbound follow-up) <- 119248 13:38:29 (AppleSupport):
    #          8h05m12s = 485.2
    #   119253 07:21:34 <- 119252 13:40:27 (AppleSupport): 6h18m53s = 378.883
    #   119256 12:53:29 <- 119254 13:41:25 (SpotifyCares): 47m56s   = 47.933
    #          (later replies 119257/119259/119261 do not change the first response)
    #   119263 06:29:07 <- 119262 13:30:39 (AppleSupport): 7h01m32s = 421.533
    #   119265 10:42:43 <- 119264 13:36:31 (British_Airways): 2h53m48s = 173.8
    #   119268 06:27:16 <- 119267 13:30:38 (AppleSupport): 7h03m22s = 423.367
    #   119272 02:19:23 <- 119271 03:26:00 (AppleSupport): 1h06m37s = 66.617
    #          (119270 follows up, 119269 answers again at 13:30:12: not the first)
    #   119274 12:50:07 <- 119273 13:13:14 (O2): 23m07s = 23.117
    #   119276 13:38:04 <- 119275 13:42:46 (comcastcares): 4m42s = 4.7
    # AppleSupport: 6 conversations, 5 answered; sorted 66.617, 378.883, 421.533, 423.367,
    # 485.2 -> median 421.533.
    con, result = run(excerpt)
    assert result.conversations == 11
    assert per_brand(con, result.table) == {
        "AppleSupport": (6, 5, 421.533),
        "British_Airways": (1, 1, 173.8),
        "ChaseSupport": (1, 1, 25.667),
        "O2": (1, 1, 23.117),
        "SpotifyCares": (1, 1, 47.933),
        "comcastcares": (1, 1, 4.7),
    }


def test_twcs_excerpt_orphan_thread_is_counted_and_listed(excerpt: Path) -> None:
    # 119246 (VirginTrains, Tue Oct 10 10:13:19) replies to 119247, which is not in the file;
    # under it: 119242 -> 119240 -> 119241 -> 119243 -> 119244 -> 119245: 7 orphaned tweets.
    _, result = run(excerpt)
    assert result.orphans == ("119246",)
    assert result.orphan_messages == 7
    assert result.brand_threads == ()
    assert result.messages == 37
    (drop,) = result.drops
    assert (drop.read, drop.kept, drop.superseded, drop.rejected) == (37, 37, 0, 0)
    # response_tweet_id agrees with in_reply_to wherever both tweets are present.
    assert result.response_ids_disagreeing == 0


def test_twcs_excerpt_interaction_columns(excerpt: Path) -> None:
    con, result = run(excerpt)
    row = con.execute(
        f"SELECT id, strftime(received_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'), "
        f"strftime(first_response_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'), channel, \"dimension.brand\", "
        f"needs_reply, moved_private, file, line FROM {result.table} WHERE id = '119272'"
    ).fetchone()
    assert row == ("119272", "2017-10-11 02:19:23", "2017-10-11 03:26:00", "twitter",
                   "AppleSupport", True, False, "exports/twcs_excerpt.csv", 34)
    columns = [r[0] for r in con.execute(f"DESCRIBE {result.table}").fetchall()]
    assert columns == [
        "source", "id", "received_at", "first_response_at", "resolved_at", "channel", "csat",
        "sentiment_start", "sentiment_end", "public", "moved_private", "reach", "needs_reply",
        "file", "line", "response_time_unknown", "dimension.brand",
    ]


def messages(project: Callable[..., Path], files: dict[str, str]) -> tuple[
    duckdb.DuckDBPyConnection, MessageSourceResult
]:
    return run(project(files, TWCS_CONFIG))


def tweet(i: object, author: str, inbound: str, at: str, parent: object = "",
          text: str = "", responses: str = "") -> str:
    return f"{i},{author},{inbound},{at},{text},{responses},{parent}\n"


T0 = "Tue Oct 31 22:10:47 +0000 2017"
T1 = "Tue Oct 31 22:20:47 +0000 2017"
T2 = "Tue Oct 31 22:30:47 +0000 2017"


def test_float_ids_mean_whole_numbers(project: Callable[..., Path]) -> None:
    text = HEADER + tweet("1.0", "cust", "True", T0) + tweet("2", "Brand", "False", T1, "1.0",
                                                                   responses='"3.0, 4"')
    con, result = messages(project, {"exports/w1.csv": text})
    assert con.execute(f"SELECT id, \"dimension.brand\" FROM {result.table}").fetchall() == [("1", "Brand")]
    assert result.response_ids_listed == 2


@pytest.mark.parametrize(
    "row, message",
    [
        (tweet("1.2e+18", "cust", "True", T0),
         ("exports/w1.csv, line 3, column 'tweet_id': expected an id written out in full, found "
         "'1.2e+18'. Hint: a spreadsheet wrote this id in exponent notation and lost its last "
         "digits; export the column as text.")),
        (tweet("9", "cust", "True", T0, "1.2E18"),
         ("exports/w1.csv, line 3, column 'in_response_to_tweet_id': expected an id written out "
         "in full, found '1.2E18'. Hint: a spreadsheet wrote this id in exponent notation and "
         "lost its last digits; export the column as text.")),
        (tweet("9", "", "True", T0),
         ("exports/w1.csv, line 3, column 'author_id': expected a value for the required field "
         "'author', found ''. Hint: map another column with sources[0].columns.author, or fix "
         "the export.")),
        (tweet("9", "cust", "maybe", T0),
         ("exports/w1.csv, line 3, column 'inbound': expected true or false for 'inbound', found "
         "'maybe'. Hint: map it with sources[0].values.inbound, e.g. {maybe: true}.")),
        (tweet("9", "cust", "True", "31/10/2017"),
         ("exports/w1.csv, line 3, column 'created_at': expected a timestamp like "
         "'2026-11-23 14:05:00' or '2026-11-23T14:05:00+00:00', found '31/10/2017'. "
         "Hint: set sources[0].timestamp_format.")),
    ],
)
def test_each_message_rejection_has_its_exact_message(
    project: Callable[..., Path], row: str, message: str
) -> None:
    text = HEADER + tweet("1", "cust", "True", T0) + row
    _, result = messages(project, {"exports/w1.csv": text})
    assert [r.message for r in result.rejections] == [message]
    (drop,) = result.drops
    assert (drop.read, drop.kept, drop.rejected) == (2, 1, 1)


@pytest.mark.parametrize("word, inbound", [("True", True), ("false", False), ("1", True),
                                           ("0", False), ("TRUE", True)])
def test_inbound_words(project: Callable[..., Path], word: str, inbound: bool) -> None:
    _, result = messages(project, {"exports/w1.csv": HEADER + tweet("1", "a", word, T0)})
    assert (result.conversations, len(result.brand_threads)) == ((1, 0) if inbound else (0, 1))


def test_latest_drop_wins_and_duplicates_in_a_drop_are_all_rejected(
    project: Callable[..., Path],
) -> None:
    w1 = HEADER + tweet("1", "cust", "True", T0, text="@brand help") + tweet("5", "c", "True", T0)
    # w2 carries the reply, repeats tweet 1 (superseding w1's copy), and has tweet 7 twice.
    w2 = HEADER + tweet("1", "cust", "True", T0, text="@brand help") + tweet(
        "2", "Brand", "False", T1, "1") + tweet("7", "x", "True", T0) + tweet("7", "x", "True", T0)
    con, result = messages(project, {"exports/w1.csv": w1, "exports/w2.csv": w2})
    counts = [(d.file, d.read, d.kept, d.superseded, d.rejected, d.rejected_by_reason)
              for d in result.drops]
    assert counts == [
        ("exports/w1.csv", 2, 1, 1, 0, {}),
        ("exports/w2.csv", 4, 2, 0, 2, {"duplicate_id": 2}),
    ]
    assert [r.position for r in result.rejections] == ["line 4", "line 5"]
    assert result.rejections[0].message == (
        "exports/w2.csv, line 4, column 'tweet_id': expected an id that appears once in the "
        "drop, found '7'. Hint: every copy is rejected; export the drop again without "
        "duplicates, or set sources[0].on_duplicate (identical, keep_last)."
    )
    rows = con.execute(f"SELECT id, file, first_response_at IS NOT NULL FROM {result.table} "
                       "ORDER BY id").fetchall()
    assert rows == [("1", "exports/w2.csv", True), ("5", "exports/w1.csv", False)]


def test_threads_orphans_and_brand_initiated(project: Callable[..., Path]) -> None:
    text = HEADER + "".join([
        tweet("10", "cust", "True", T0, text="@BigBrand hi"),  # root, answered twice
        tweet("11", "BigBrand", "False", T2, "10"),
        tweet("13", "cust", "True", T2, "11"),                  # follow-up: not measured
        tweet("12", "BigBrand", "False", T1, "13"),             # earlier in time, deeper
        tweet("20", "BigBrand", "False", T0),                   # brand-initiated thread
        tweet("21", "cust2", "True", T1, "20"),
        tweet("30", "cust3", "True", T0, "99"),                 # orphan: 99 is missing
        tweet("31", "BigBrand", "False", T1, "30"),
        tweet("32", "cust3", "True", T2, "31"),
        tweet("40", "a", "True", T0, "41"),                     # a loop: 40 <-> 41
        tweet("41", "b", "True", T0, "40"),
    ])
    con, result = messages(project, {"exports/w1.csv": text})
    assert result.conversations == 1
    assert result.brand_threads == ("20",)
    assert result.brand_thread_messages == 2
    assert result.orphans == ("30", "40", "41")  # the top of the orphaned thread; the loop
    assert result.orphan_messages == 5  # 30, 31, 32 and the looping 40, 41
    row = con.execute(f"SELECT id, \"dimension.brand\", epoch(first_response_at - received_at) / 60 "
                      f"FROM {result.table}").fetchone()
    # The earliest brand message of the conversation, wherever it sits in the thread.
    assert row == ("10", "BigBrand", 10.0)
    assert result.drops[0].kept == 11


def test_first_response_ties_go_to_the_lowest_id_numerically(
    project: Callable[..., Path],
) -> None:
    text = HEADER + tweet("1", "c", "True", T0) + tweet("10", "Later", "False", T1, "1") + tweet(
        "9", "First", "False", T1, "1")
    con, result = messages(project, {"exports/w1.csv": text})
    assert con.execute(f"SELECT \"dimension.brand\" FROM {result.table}").fetchall() == [("First",)]


def test_unanswered_brand_comes_from_the_first_known_mention(
    project: Callable[..., Path],
) -> None:
    text = HEADER + "".join([
        tweet("1", "c1", "True", T0, text="@friend @acmehelp @OtherCare why"),
        tweet("2", "c2", "True", T0, text="@nobody hello"),
        tweet("3", "c3", "True", T0, text="no mention"),
        tweet("4", "AcmeHelp", "False", T0),
        tweet("5", "OtherCare", "False", T0),
    ])
    con, result = messages(project, {"exports/w1.csv": text})
    rows = con.execute(f"SELECT id, \"dimension.brand\" FROM {result.table} ORDER BY id").fetchall()
    assert rows == [("1", "AcmeHelp"), ("2", "unknown"), ("3", "unknown")]


def test_channel_defaults_to_the_source_setting(project: Callable[..., Path]) -> None:
    config = project({"exports/w1.csv": HEADER + tweet("1", "c", "True", T0)},
                     TWCS_CONFIG + "    channel: x\n")
    con, result = run(config)
    assert con.execute(f"SELECT channel FROM {result.table}").fetchall() == [("x",)]


def test_missing_column_fails_with_its_name(project: Callable[..., Path]) -> None:
    from generator.errors import DataError

    text = "tweet_id,author_id,inbound,created_at\n1,c,True,2017-10-31 22:10:47\n"
    with pytest.raises(DataError) as error:
        messages(project, {"exports/w1.csv": text})
    assert str(error.value) == (
        "exports/w1.csv, line 1: expected a column 'in_response_to_tweet_id' for the field "
        "'in_reply_to'. Hint: map it with sources[0].columns.in_reply_to; the file has "
        "'tweet_id', 'author_id', 'inbound', 'created_at'.\n"
        "exports/w1.csv, line 1: expected a column 'response_tweet_id' for the field "
        "'response_ids'. Hint: did you mean 'tweet_id'? Set sources[0].columns.response_ids."
    )


def thread_rows(seed: int) -> list[str]:
    """Twelve conversations of up to four messages, ids unique."""
    rng = random.Random(seed)
    rows, next_id = [], 1
    for c in range(12):
        parent = ""
        for k in range(rng.randint(1, 4)):
            inbound = "True" if k % 2 == 0 else "False"
            author = f"cust{c}" if inbound == "True" else f"Brand{c % 3}"
            minute = 10 + 7 * k + rng.randint(0, 5)
            rows.append(tweet(next_id, author, inbound,
                              f"2017-10-{10 + c:02d} 12:{minute:02d}:00", parent))
            parent, next_id = str(next_id), next_id + 1
    return rows


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_conversations(
    tmp_path_factory: pytest.TempPathFactory, seed: int, shuffler: random.Random
) -> None:
    rows = thread_rows(seed)
    shuffled = rows[:]
    shuffler.shuffle(shuffled)
    results = []
    for lines in (rows, shuffled):
        folder = tmp_path_factory.mktemp("p")
        (folder / "exports").mkdir()
        (folder / "exports" / "w1.csv").write_text(HEADER + "".join(lines), encoding="utf-8")
        (folder / "config.yaml").write_text(TWCS_CONFIG, encoding="utf-8")
        con, result = run(folder / "config.yaml")
        results.append(con.execute(
            f"SELECT id, received_at, first_response_at, \"dimension.brand\" FROM {result.table} ORDER BY id"
        ).fetchall())
    assert results[0] == results[1]
    assert len(results[0]) == 12


def test_accounting_again_without_the_newest_drop_restates_from_the_stage(
    project: Callable[..., Path],
) -> None:
    from generator.ingest.messages import account_message_source

    w1 = HEADER + tweet("1", "cust", "True", T0)
    w2 = HEADER + tweet("1", "cust", "True", T0) + tweet("2", "Brand", "False", T1, "1")
    config = load_config(project({"exports/w1.csv": w1, "exports/w2.csv": w2}, TWCS_CONFIG))
    drops = find_drops(config)
    con = duckdb.connect()
    full = read_message_source(con, config, 0, drops, 0)
    answered = f"SELECT count(first_response_at) FROM {full.table}"
    assert con.execute(answered).fetchone() == (1,)
    older = account_message_source(con, config, 0, drops, 0, without=frozenset({1}))
    assert con.execute(answered).fetchone() == (0,)
    assert [(d.file, d.read, d.kept) for d in older.drops] == [("exports/w1.csv", 1, 1)]


def test_a_ragged_message_row_is_rejected_and_the_thread_kept(
    project: Callable[..., Path],
) -> None:
    """Issue 14, item 8, for message-level exports: the short row is rejected on its line."""
    from generator.build import check

    text = (HEADER + tweet(1, "cust", "True", T0) + "2,Brand,False\n"
            + tweet(3, "Brand", "False", T1, 1))
    checked = check(project({"exports/w1.csv": text}, TWCS_CONFIG))
    (drop,) = checked.quality.drops
    assert (drop.read, drop.kept, drop.rejected) == (3, 2, 1)
    assert [r.message for r in checked.quality.rejections] == [
        "exports/w1.csv, line 3: expected 7 values like the header line, found "
        "'2,Brand,False'. Hint: the line has 3; quote values that contain the delimiter, or set "
        "sources[0].delimiter."]
    assert checked.quality.threads[0].conversations == 1


def test_data_through_of_a_message_source_is_its_latest_kept_message(
    project: Callable[..., Path],
) -> None:
    # Issue 15 item 1 (SPEC §4.1): a message source holds data up to its latest kept message,
    # follow-ups and later replies included, not up to the first reply of its conversations.
    # By hand: conversation 1 was received Mon 2026-01-05 09:00 and answered 10:00 (message 2);
    # the customer followed up Wed 01-07 08:00 (3) and the brand replied again 09:30 (4).
    # Data-through = 2026-01-07 09:30 (before the fix: 01-05 10:00, the first reply, which left
    # the only day of the grid, 2026-01-05, partial and no complete period).
    config = project({"exports/t.csv": """
        message_id,author,inbound,created_at,in_reply_to
        1,alice,true,2026-01-05T09:00:00Z,
        2,Brand,false,2026-01-05T10:00:00Z,1
        3,alice,true,2026-01-07T08:00:00Z,2
        4,Brand,false,2026-01-07T09:30:00Z,3
    """}, """
        site: {title: Scratch, timezone: UTC, periods: [day]}
        sources:
          - {name: twitter, path: exports/*.csv, shape: messages}
    """)
    checked = check(config)
    through = datetime(2026, 1, 7, 9, 30, tzinfo=timezone.utc)
    assert checked.quality.data_through == through
    assert checked.quality.data_through_by_source == {"twitter": through}
    (day,) = checked.figures.periods["day"]
    assert (day.label, day.partial) == ("2026-01-05", False)
    # The one conversation: answered after 60 minutes; the follow-up is not measured.
    frt = {f.metric: f.value for f in checked.figures.rows
           if f.period == "2026-01-05" and f.dimension == "all"}
    assert (frt["volume"], frt["frt_median"]) == (1, 60.0)
