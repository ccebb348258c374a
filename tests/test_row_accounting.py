"""What happens to rows that are neither plainly kept nor rejected (SPEC §3.3b, §3.4): copies of
an id in one drop (`on_duplicate`), stray history (`since`) and retractions (`deleted`).

Every case checks the row accounting (read = kept + superseded + rejected + before since +
retracted) and the figures that follow from it, computed by hand in the test.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.build import build, check
from generator.cli import main
from generator.errors import ConfigError

# --- on_duplicate ------------------------------------------------------------------------------

# The shape of the airline-sentiment export (synthetic rows, written for this test): one row per
# tweet, tweet ids repeated in one drop. a2 is repeated byte for byte; a3's copies differ only in
# a column carecard does not read (the crowd's confidence); a4's copies differ in the sentiment.
AIRLINE = """\
tweet_id,airline_sentiment,airline_sentiment_confidence,airline,text,tweet_created
a1,negative,1.0,United,@united late again,2015-02-17 09:00:00 -0800
a2,negative,1.0,United,@united lost my bag,2015-02-17 10:00:00 -0800
a2,negative,1.0,United,@united lost my bag,2015-02-17 10:00:00 -0800
a3,negative,0.6667,Delta,@delta no seat,2015-02-17 11:00:00 -0800
a3,negative,0.6842,Delta,@delta no seat,2015-02-17 11:00:00 -0800
a4,neutral,0.5,Delta,@delta what gate?,2015-02-18 12:00:00 -0800
a4,positive,0.7,Delta,@delta what gate?,2015-02-18 12:00:00 -0800
a5,negative,1.0,United,@united rude staff,2015-02-18 13:00:00 -0800
"""


def airline_config(on_duplicate: str | None) -> str:
    """A config reading AIRLINE, with `on_duplicate` set (None: the default)."""
    line = f"\n    on_duplicate: {on_duplicate}" if on_duplicate else ""
    return f"""
site: {{title: Airline, timezone: UTC, periods: [month]}}
sources:
  - name: tweets
    path: exports/*.csv
    channel: twitter
    timestamp_format: "%Y-%m-%d %H:%M:%S %z"
    columns: {{id: tweet_id, received_at: tweet_created, sentiment_start: airline_sentiment}}
    dimensions: [airline]{line}
"""


def month_figures(config: Path) -> tuple[tuple[int, int, int, int], dict[str, float | None]]:
    """(read, kept, superseded, rejected) of the one drop, and the all/all figures of the month
    by metric (a single month of data)."""
    checked = check(config)
    (drop,) = checked.quality.drops
    rows = {f.metric: f.value for f in checked.figures.rows
            if f.dimension == "all" and f.granularity == "month"}
    return (drop.read, drop.kept, drop.superseded, drop.rejected), rows


@pytest.mark.parametrize(
    "on_duplicate, accounting, volume, net_sentiment",
    [
        # Every copy of a2, a3, a4 rejected: a1 and a5 remain, both negative.
        (None, (8, 2, 0, 6), 2, -1.0),
        ("reject", (8, 2, 0, 6), 2, -1.0),
        # a2's copies are one interaction (one superseded); a3 and a4 differ: rejected.
        # a1, a2, a5 remain, all negative.
        ("identical", (8, 3, 1, 4), 3, -1.0),
        # The last copy of each wins: a1..a5, one copy each of a2, a3, a4 superseded.
        # a4 is the last copy's 'positive': (1 positive - 4 negative) / 5.
        ("keep_last", (8, 5, 3, 0), 5, -0.6),
    ],
)
def test_on_duplicate_decides_what_copies_of_an_id_in_one_drop_count_as(
    project: Callable[..., Path],
    on_duplicate: str | None,
    accounting: tuple[int, int, int, int],
    volume: int,
    net_sentiment: float,
) -> None:
    config = project({"exports/tweets.csv": AIRLINE}, airline_config(on_duplicate))
    counts, figures = month_figures(config)
    assert counts == accounting
    assert figures["volume"] == volume
    assert figures["net_sentiment"] == pytest.approx(net_sentiment)


def test_identical_copies_are_compared_on_every_column_not_only_the_mapped_ones(
    project: Callable[..., Path],
) -> None:
    config = project({"exports/tweets.csv": AIRLINE}, airline_config("identical"))
    rejected = [(r.position, r.reason) for r in check(config).quality.rejections]
    # a3 (lines 5, 6) differs only in the confidence column; a4 (lines 7, 8) in the sentiment.
    assert rejected == [("line 5", "duplicate_id"), ("line 6", "duplicate_id"),
                        ("line 7", "duplicate_id"), ("line 8", "duplicate_id")]
    assert check(config).quality.rejections[0].message == (
        "exports/tweets.csv, line 5, column 'tweet_id': expected an id that appears once in "
        "the drop, or only in identical copies, found 'a3'. Hint: its copies differ, so every "
        "copy is rejected; set sources[0].on_duplicate: keep_last to keep the last copy.")


def test_keep_last_lets_a_valid_copy_win_over_a_later_rejected_one(
    project: Callable[..., Path],
) -> None:
    header, *_ = AIRLINE.splitlines(keepends=True)
    rows = (header + "b1,negative,1.0,United,@united first,2015-02-17 09:00:00 -0800\n"
            "b1,positive,1.0,United,@united second,yesterday\n")
    config = project({"exports/tweets.csv": rows}, airline_config("keep_last"))
    counts, figures = month_figures(config)
    assert counts == (2, 1, 0, 1)
    assert figures["net_sentiment"] == -1.0


def test_on_duplicate_applies_to_the_message_ids_of_a_message_export(
    project: Callable[..., Path],
) -> None:
    header = "tweet_id,author_id,inbound,created_at,in_reply_to_status_id,text\n"
    root = "1,alice,True,Tue Oct 31 10:00:00 +0000 2017,,@acme help\n"
    reply = "2,acme,False,Tue Oct 31 10:30:00 +0000 2017,1,@alice sure\n"
    config_text = """
site: {title: Messages, timezone: UTC, periods: [day]}
sources:
  - name: tweets
    path: exports/*.csv
    shape: messages
    on_duplicate: identical
    columns: {message_id: tweet_id, author: author_id, created_at: created_at,
              in_reply_to: in_reply_to_status_id}
"""
    config = project({"exports/t.csv": header + root + root + reply}, config_text)
    checked = check(config)
    (drop,) = checked.quality.drops
    assert (drop.read, drop.kept, drop.superseded, drop.rejected) == (3, 2, 1, 0)
    frt = {f.metric: f.value for f in checked.figures.rows
           if f.dimension == "all" and f.period == "2017-10-31"}
    assert frt["volume"] == 1
    assert frt["frt_median"] == 30.0


def test_on_duplicate_must_be_one_of_its_choices(project: Callable[..., Path]) -> None:
    config = project({"exports/tweets.csv": AIRLINE}, airline_config("first"))
    with pytest.raises(ConfigError) as error:
        check(config)
    assert str(error.value).endswith(
        "config.yaml:9: sources[0].on_duplicate: expected one of 'reject', 'identical', "
        "'keep_last', found 'first'.")
