"""The baseline: one hand-written DuckDB query over the same drops a benchmark build reads.

It reads every CSV drop, parses the naive Europe/London timestamps, keeps the latest row per id
(drops sort by file name: ``social-01.csv`` … ``social-52.csv``), and computes the core
aggregates per ISO week × channel × team: volume, response rate (over actionable rows: not spam,
needs a reply), and the median and 90th percentile of the elapsed first-response time in minutes.

This is the floor for "reading plus figures": what the engine needs for the heart of the job,
without validation, row accounting, business clock, the other metrics, segments or the grid.

Usage: python bench/baseline.py SITE_DIR [--repeats N]  (prints one JSON object)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

QUERY = """
WITH raw AS (
    SELECT * FROM read_csv({glob}, header = true, all_varchar = true, filename = true)
), parsed AS (
    SELECT "Case ID" AS id, filename AS drop_file,
        timezone('Europe/London', try_strptime("Created", '%Y-%m-%d %H:%M:%S')) AS received_at,
        timezone('Europe/London', try_strptime("First Reply", '%Y-%m-%d %H:%M:%S'))
            AS first_response_at,
        CASE "Network" WHEN 'Twitter' THEN 'twitter' WHEN 'Facebook' THEN 'facebook'
            WHEN 'Instagram' THEN 'instagram' WHEN 'Email' THEN 'email' ELSE "Network" END
            AS channel,
        "Queue" AS team,
        coalesce("Category", '') <> 'spam' AND coalesce("Needs Reply", 'Yes') <> 'No'
            AS actionable
    FROM raw
), latest AS (
    SELECT * FROM parsed
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY drop_file DESC) = 1
), timed AS (
    SELECT *,
        CAST(date_trunc('week', timezone('Europe/London', received_at)) AS DATE) AS week,
        (epoch_us(first_response_at) - epoch_us(received_at)) / 60e6 AS frt_minutes
    FROM latest
)
SELECT week, channel, team,
    count(*) AS volume,
    count(*) FILTER (WHERE actionable AND first_response_at IS NOT NULL)
        / nullif(count(*) FILTER (WHERE actionable), 0) AS response_rate,
    quantile_cont(frt_minutes, 0.5) FILTER (WHERE actionable) AS frt_median,
    quantile_cont(frt_minutes, 0.9) FILTER (WHERE actionable) AS frt_p90
FROM timed
GROUP BY ALL
ORDER BY ALL
"""


def run(site: Path, repeats: int = 1, threads: int | None = None) -> dict[str, object]:
    """Run the query `repeats` times, each on a fresh connection; return the times."""
    import duckdb

    glob = "'" + str(site / "exports" / "social-*.csv").replace("'", "''") + "'"
    sql = QUERY.format(glob=glob)
    seconds = []
    groups = 0
    for _ in range(repeats):
        con = duckdb.connect(":memory:")
        con.execute("SET TimeZone = 'UTC'")
        if threads:
            con.execute(f"SET threads = {threads}")
        start = time.perf_counter()
        rows = con.execute(sql).fetchall()
        seconds.append(time.perf_counter() - start)
        groups = len(rows)
        con.close()
    return {"seconds": seconds, "best": min(seconds), "first": seconds[0], "groups": groups,
            "duckdb": duckdb.__version__}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site", type=Path)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(run(args.site, args.repeats)))


if __name__ == "__main__":
    main()
