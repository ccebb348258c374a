"""Generate a realistic, deterministic carecard site for benchmarking: weekly CSV drops + config.

Everything is generated inside DuckDB from ``range(N)`` with hash-based pseudo-randomness
(``hash(i, salt)``), so the same arguments always give byte-identical files and 10 million rows
take seconds, not minutes. No Python loop touches a row.

Shape of the data (one year, 2025-W01 .. 2025-W52; drop 53 = 2026-W01 for the "one new drop" run):

- ``N`` unique interactions, received uniformly over the 364 days with a day/night profile
  (about 80 % between 08:00 and 20:00 local time), written as naive Europe/London wall-clock
  times (so the DST changes of 30 March and 26 October 2025 are in the data).
- 4 channels (Twitter 35 %, Facebook 25 %, Instagram 20 %, Email 20 %), ``teams`` queues
  (``Team 01`` …), priority (urgent 5 %), category (spam 5 % → excluded by policy,
  thanks 8 % → needs_reply = No), sentiment, public / moved-to-DM, followers.
- First reply for ~93 % (exponential: email mean 5 h, social 40 min, urgent 10 min), resolution
  for ~85 % of answered, a CSAT score on ~30 % of resolved (skewed to 4-5).
- Each interaction is exported in the drop of the week it was received. About 5 % of ids are
  exported there *without* reply/resolution/CSAT and re-exported in the next week's drop with
  them added (the latest drop wins). Week 52's re-exports land in drop 53.

Usage::

    python bench/generate.py --rows 1000000 --teams 20 --out /tmp/site        # drops 1..52
    python bench/generate.py --rows 1000000 --teams 20 --out /tmp/site --drop 53  # only drop 53
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

WEEKS = 52
#: Monday of ISO week 2025-W01.
START = "2024-12-30 00:00:00"
RE_EXPORT_SHARE = 0.05
HEADER = [
    "Case ID", "Created", "First Reply", "Closed", "Network", "Queue", "Priority", "Category",
    "Survey Score", "Needs Reply", "Sentiment Start", "Sentiment End", "Public", "Moved To DM",
    "Followers",
]

CONFIG = """\
# Benchmark site written by bench/generate.py ({rows} interactions, {teams} teams).
site:
  title: Benchmark Care Scorecard
  timezone: Europe/London
  periods: [week, month]
  history: 26

sources:
  - name: social
    path: exports/social-*.csv
    shape: interactions
    format: csv
    timezone: Europe/London
    columns:
      id: Case ID
      received_at: Created
      first_response_at: First Reply
      resolved_at: Closed
      channel: Network
      csat: Survey Score
      needs_reply: Needs Reply
      sentiment_start: Sentiment Start
      sentiment_end: Sentiment End
      public: Public
      moved_private: Moved To DM
      reach: Followers
      team: Queue
      category: Category
      priority: Priority
    values:
      channel: {{Twitter: twitter, Facebook: facebook, Instagram: instagram, Email: email}}
      needs_reply: {{"Yes": "true", "No": "false"}}
    dimensions: [team]

calendars:
  uk-office:
    timezone: Europe/London
    hours:
      mon-fri: ["08:00-12:30", "13:30-18:00"]
      sat: ["09:00-13:00"]
    holidays: [2025-01-01, 2025-04-18, 2025-04-21, 2025-05-05, 2025-05-26, 2025-08-25,
               2025-12-25, 2025-12-26, 2026-01-01]

policy:
  exclude:
    - {{name: spam, where: {{category: spam}}}}
  first_response:
    - {{where: {{priority: urgent}}, within: 15m}}
    - {{where: {{channel: email}}, within: 24h, clock: business, calendar: uk-office}}
    - {{within: 60m}}
  csat: {{scale: [1, 5], satisfied: [4, 5]}}
  goals:
    sla_attainment: {{min: 0.90, tolerance: 0.05, min_n: 20}}
    response_rate: {{min: 0.95}}
    frt_median: {{max: 30}}
    frt_p90: {{max: 120}}
    csat: {{min: 0.80, min_n: 20}}
    backlog: {{max: 10}}
  error_budget: {{metric: sla_attainment, window: month}}
"""


def _u(salt: int, col: str = "i") -> str:
    """A deterministic uniform number in [0, 1) per row, independent per salt."""
    return f"((hash({col}, {salt}) % 1000000007)::DOUBLE / 1000000007.0)"


def interactions_sql(rows: int, teams: int, first_week: int = 0, weeks: int = WEEKS) -> str:
    """SELECT of the canonical generated interactions (ids i in [0, rows·weeks/52) scaled)."""
    per_day = rows / (WEEKS * 7)
    # i numbers interactions over the whole (possibly extended) range; day = floor(i / per_day).
    lo = math.floor(first_week * 7 * per_day)
    hi = math.ceil((first_week + weeks) * 7 * per_day)
    u = _u
    width = max(2, len(str(teams)))
    return f"""
    WITH base AS (
        SELECT i,
            floor(i / {per_day})::BIGINT AS day,
            {u(1)} AS u_tod, {u(2)} AS u_tod2, {u(3)} AS u_chan, {u(4)} AS u_team,
            {u(5)} AS u_prio, {u(6)} AS u_cat, {u(7)} AS u_ans, {u(8)} AS u_frt,
            {u(9)} AS u_res, {u(10)} AS u_rest, {u(11)} AS u_csat, {u(12)} AS u_score,
            {u(13)} AS u_s1, {u(14)} AS u_s2, {u(15)} AS u_pub, {u(16)} AS u_dm,
            {u(17)} AS u_fol, {u(18)} AS u_re
        FROM range({lo}, {hi}) t(i)
    ), shaped AS (
        SELECT *,
            -- 80 % of traffic 08:00-20:00 local, the rest spread over the day
            (CASE WHEN u_tod < 0.8 THEN 8 * 3600 + u_tod2 * 12 * 3600
                  ELSE u_tod2 * 86400 END)::BIGINT AS second_of_day,
            CASE WHEN u_chan < 0.35 THEN 'Twitter' WHEN u_chan < 0.60 THEN 'Facebook'
                 WHEN u_chan < 0.80 THEN 'Instagram' ELSE 'Email' END AS network,
            'Team ' || lpad((floor(u_team * {teams})::INT + 1)::VARCHAR, {width}, '0')
                AS queue,
            CASE WHEN u_prio < 0.05 THEN 'urgent' WHEN u_prio < 0.20 THEN 'high'
                 WHEN u_prio < 0.90 THEN 'normal' ELSE 'low' END AS priority,
            CASE WHEN u_cat < 0.05 THEN 'spam' WHEN u_cat < 0.13 THEN 'thanks'
                 WHEN u_cat < 0.23 THEN 'praise' WHEN u_cat < 0.50 THEN 'complaint'
                 ELSE 'question' END AS category,
            u_re < {RE_EXPORT_SHARE} AS re_exported
        FROM base
    ), timed AS (
        SELECT *,
            -- naive local wall-clock receipt (as the export writes it)
            TIMESTAMP '{START}' + to_days(day::INT) + to_seconds(second_of_day) AS created,
            u_ans < 0.93 AS answered,
            -ln(greatest(1 - u_frt, 1e-12)) * CASE WHEN priority = 'urgent' THEN 10
                 WHEN network = 'Email' THEN 300 ELSE 40 END AS frt_min,
            u_res < 0.85 AS resolved,
            -ln(greatest(1 - u_rest, 1e-12)) * 360 AS res_min,
            u_csat < 0.30 AS rated
        FROM shaped
    )
    SELECT i, (day // 7)::INT AS week, re_exported,
        'BC-' || lpad(i::VARCHAR, 9, '0') AS "Case ID",
        created,
        CASE WHEN answered THEN created + to_microseconds((frt_min * 60e6)::BIGINT) END
            AS first_reply,
        CASE WHEN answered AND resolved
             THEN created + to_microseconds(((frt_min + res_min) * 60e6)::BIGINT) END AS closed,
        network, queue, priority, category,
        CASE WHEN answered AND resolved AND rated THEN
             (CASE WHEN u_score < 0.05 THEN 1 WHEN u_score < 0.12 THEN 2
                   WHEN u_score < 0.25 THEN 3 WHEN u_score < 0.55 THEN 4 ELSE 5 END)::VARCHAR
        END AS survey_score,
        CASE WHEN category IN ('thanks', 'spam') THEN 'No' ELSE 'Yes' END AS needs_reply,
        CASE WHEN u_s1 < 0.85 THEN printf('%.2f', u_s1 * 2 / 0.85 - 1) END AS sentiment_start,
        CASE WHEN u_s2 < 0.60 THEN printf('%.2f', u_s2 * 2 / 0.60 - 1) END AS sentiment_end,
        CASE WHEN network = 'Email' THEN 'false'
             WHEN u_pub < 0.7 THEN 'true' ELSE 'false' END AS public,
        CASE WHEN network <> 'Email' AND u_dm < 0.3 THEN 'true' ELSE 'false' END AS moved_dm,
        CASE WHEN network <> 'Email'
             THEN floor(exp(u_fol * 9))::BIGINT::VARCHAR END AS followers
    FROM timed
    """


def _ts(expr: str) -> str:
    return f"strftime({expr}, '%Y-%m-%d %H:%M:%S')"


EXPORT_COLUMNS = (
    f'"Case ID", {_ts("created")} AS "Created", '
    "{reply} AS \"First Reply\", {closed} AS \"Closed\", network AS \"Network\", "
    'queue AS "Queue", priority AS "Priority", category AS "Category", '
    '{score} AS "Survey Score", needs_reply AS "Needs Reply", '
    'sentiment_start AS "Sentiment Start", sentiment_end AS "Sentiment End", '
    'public AS "Public", moved_dm AS "Moved To DM", followers AS "Followers"'
)


def generate(
    out: Path, rows: int, teams: int, drops: list[int] | None = None, threads: int | None = None
) -> dict[str, object]:
    """Write drops (1-based week numbers; default 1..52) and config.yaml into `out`."""
    import duckdb

    started = time.perf_counter()
    drops = drops or list(range(1, WEEKS + 1))
    exports = out / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(CONFIG.format(rows=rows, teams=teams), encoding="utf-8")
    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads = {threads}")
    first, last = min(drops) - 1, max(drops)  # weeks are 0-based in SQL
    # A drop k (1-based) holds week k-1's interactions plus the re-exports of week k-2.
    start_week = max(first - 1, 0)
    con.execute(
        "CREATE TABLE gen AS "
        + interactions_sql(rows, teams, first_week=start_week, weeks=last - start_week)
    )
    full = EXPORT_COLUMNS.format(
        reply=_ts("first_reply"), closed=_ts("closed"), score="survey_score"
    )
    # The first export of a re-exported id lacks the reply, resolution and survey.
    bare = EXPORT_COLUMNS.format(
        reply="NULL::VARCHAR", closed="NULL::VARCHAR", score="NULL::VARCHAR"
    )
    written = 0
    for drop in drops:
        week = drop - 1
        path = exports / f"social-{drop:02d}.csv"
        # This week's rows (re-exported ids without reply/resolution/survey) plus the
        # re-exports, complete, of last week's re-exported ids.
        sql = f"""
            SELECT {bare} FROM gen WHERE week = {week} AND re_exported
            UNION ALL
            SELECT {full} FROM gen WHERE week = {week} AND NOT re_exported
            UNION ALL
            SELECT {full} FROM gen WHERE week = {week - 1} AND re_exported
        """
        con.execute(
            f"COPY ({sql}) TO '{path}' (FORMAT csv, HEADER true)"
        )
        count = con.execute(
            f"SELECT count(*) FROM gen WHERE week = {week} OR (week = {week - 1} AND re_exported)"
        ).fetchone()
        written += count[0] if count else 0
    con.close()
    return {"rows_written": written, "drops": len(drops), "seconds": time.perf_counter() - started}


def parse_size(text: str) -> int:
    """'0.1M' -> 100000, '250k' -> 250000, '1000' -> 1000."""
    text = text.strip().lower()
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in "km" else text
    return int(round(float(number) * factor))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1M",
                        help="unique interactions over 52 weeks (e.g. 0.1M, 1M, 10M)")
    parser.add_argument("--teams", type=int, default=20, help="distinct Queue values (default 20)")
    parser.add_argument("--out", required=True, type=Path, help="site folder to write")
    parser.add_argument("--drop", type=int, action="append",
                        help="write only this drop (1-based week; 53 = the extra week); repeatable")
    args = parser.parse_args()
    result = generate(args.out, parse_size(args.rows), args.teams, args.drop)
    print(f"wrote {result['rows_written']} rows in {result['drops']} drops "
          f"in {result['seconds']:.1f}s into {args.out}")


if __name__ == "__main__":
    main()
