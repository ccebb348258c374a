"""The build, top to bottom: config → drops → figures → site model → files → atomic write."""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from generator import __version__
from generator.config import Config, load_config
from generator.errors import DataError
from generator.model import BuildInfo, Figure, Figures, QualityReport

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)
MAX_LISTED_REJECTIONS = 20


@dataclass(frozen=True)
class Checked:
    """What `check` found: the validated config, the row accounting and the figures."""

    config: Config
    quality: QualityReport
    figures: Figures
    interactions: bytes | None = None
    """data/interactions.csv when `site.interactions_csv` asks for it."""


@dataclass(frozen=True)
class BuildResult:
    """What a build produced, for the CLI's one-line summary."""

    checked: Checked
    output: Path
    pages: int
    charts: int
    files: int
    seconds: float


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory engine connection with UTC as its session timezone."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    return con


def check(config_path: Path | str, strict: bool = False) -> Checked:
    """Load config and data, validate every row and compute the figures; render nothing."""
    from generator.metrics import (
        blackout_counts,
        compute_figures,
        exclusion_counts,
        restatements,
    )
    from generator.sources import account_rows, stage_drops

    config = load_config(config_path, strict=strict)
    con = connect()
    log.info("reading %d source(s)", len(config.sources))
    staged = stage_drops(con, config)
    newest = staged.newest()
    if newest:
        # "Old" figures: everything but each source's newest drop (SPEC §6.6).
        compute_figures(con, config, account_rows(con, config, staged, without=newest))
        con.execute("ALTER TABLE figures RENAME TO figures_old")
    quality = account_rows(con, config, staged)
    log.info("read %d rows from %d drop(s), %d rejected", quality.rows_read,
             len(quality.drops), quality.rows_rejected)
    if quality.rows_rejected and (strict or config.site.on_bad_rows == "fail"):
        listed = [r.message for r in quality.rejections[:MAX_LISTED_REJECTIONS]]
        more = quality.rows_rejected - len(listed)
        if more > 0:
            listed.append(f"… and {more} more rejected rows (see the data-quality page).")
        listed.append(
            f"{quality.rows_rejected} rejected row(s) fail the build "
            + ("(--strict)." if strict else "(site.on_bad_rows: fail).")
        )
        raise DataError(listed)
    figures = compute_figures(con, config, quality)
    quality = replace(
        quality,
        exclusions=exclusion_counts(con),
        blackouts=blackout_counts(con),
        restatements=restatements(con) if newest else (),
        newest_drops=tuple(staged.drops[i].rel for i in sorted(newest)),
    )
    log.info("computed %d figures", len(figures.rows))
    interactions = None
    if config.site.interactions_csv:
        from generator.downloads import interactions_csv

        interactions = interactions_csv(con, config)
    return Checked(config, quality, figures, interactions)


def build_info(config: Config, quality: QualityReport) -> BuildInfo:
    """Build metadata; the date comes from SOURCE_DATE_EPOCH or the data, never the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        built = datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    elif quality.data_through is not None:
        built = quality.data_through
    else:
        built = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return BuildInfo(__version__, built.isoformat(), config.path.name)


def policy_hash(config: Config) -> str:
    """SHA-256 of the config file (it holds the policy)."""
    return hashlib.sha256(config.path.read_bytes()).hexdigest()


def headline_statuses(figures: Figures, headline: str) -> list[Figure]:
    """Figures of every segment of the latest complete period of the headline granularity."""
    from generator.metrics import latest_complete

    period = latest_complete(figures.periods.get(headline, ()))
    if period is None:
        return []
    return [r for r in figures.rows if r.granularity == headline and r.period == period.label]


def failing(figures: Figures, headline: str, fail_on: str) -> list[Figure]:
    """The figures whose status is at or worse than `fail_on` (red or amber)."""
    bad = {"red"} if fail_on == "red" else {"red", "amber"}
    return [r for r in headline_statuses(figures, headline) if r.status in bad]


def _badge(config: Config, figures: Figures) -> bytes:
    from generator.badge import status_badge

    rows = [r for r in headline_statuses(figures, config.site.periods[0]) if r.dimension == "all"]
    label = rows[0].period if rows else "scorecard"
    return status_badge(label, rows)


def build(
    config_path: Path | str, output: Path | str | None = None, strict: bool = False
) -> BuildResult:
    """Build the whole site and swap it into `output` (default: output/ beside config.yaml)."""
    from generator.downloads import figures_csv, figures_json, rejected_csv, summary_json
    from generator.output import SiteFiles, check_output_dir, write_site
    from generator.render import render_site

    started = time.perf_counter()
    checked = check(config_path, strict=strict)
    config, quality, figures = checked.config, checked.quality, checked.figures
    target = Path(output) if output is not None else config.root / "output"
    check_output_dir(target, config.root)
    info = build_info(config, quality)
    files = SiteFiles()
    log.info("rendering pages and charts")
    files.update(render_site(config, figures, quality, info))
    files.add("data/figures.csv", figures_csv(figures.rows))
    files.add("data/figures.json", figures_json(figures.rows))
    files.add(
        "data/summary.json",
        summary_json(figures, quality, info, config.site.periods[0], policy_hash(config)),
    )
    files.add("data/rejected.csv", rejected_csv(quality))
    files.add("data/badge.svg", _badge(config, figures))
    if checked.interactions is not None:
        files.add("data/interactions.csv", checked.interactions)
    write_site(files, target)
    paths = [p for p, _ in files.items()]
    return BuildResult(
        checked=checked,
        output=target,
        pages=sum(p.endswith(".html") for p in paths),
        charts=sum(p.startswith("charts/") for p in paths),
        files=len(paths),
        seconds=time.perf_counter() - started,
    )
