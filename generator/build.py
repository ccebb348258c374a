"""The build, top to bottom: config → drops → figures → site model → files → atomic write.

`check` runs the first stages (config, ingest, figures) and hands on a `Checked`; `build` adds
the site (pages, charts, data files) and publishes it. Every stage receives immutable values
from the one before; only this module holds the engine connection across stages.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import __version__
from generator.cache import Cache, files_digest, output_state
from generator.config.loader import Config, load_config
from generator.errors import DataError, Problem
from generator.model import BuildInfo, Figures, QualityReport

if TYPE_CHECKING:
    import duckdb


log = logging.getLogger(__name__)
#: The largest share of interactions that a suggested `since` may leave out (stray rows).
STRAY_SHARE = 0.05
MAX_LISTED_REJECTIONS = 20
CACHE_FOLDER = ".carecard-cache"


@dataclass
class Stages:
    """Wall time of each stage, in the order they ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def time(self, name: str) -> Iterator[None]:
        """Time the body as stage `name` and log its end (shown with --verbose)."""
        started = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
        log.debug("%s: %.2fs", name, self.seconds[name])


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
    """What a build did, for the CLI's summary line, --fail-on and benchmarks."""

    config: Config
    output: Path
    skipped: bool
    """True when nothing changed since the last build and the output was left as it was."""
    statuses: tuple[dict[str, object], ...]
    """summary.json's statuses of the latest complete headline period."""
    rows_read: int
    rows_rejected: int
    pages: int
    charts: int
    files: int
    seconds: float
    stages: dict[str, float]
    drops_parsed: int = 0
    drops_from_cache: int = 0
    charts_drawn: int = 0
    charts_from_cache: int = 0
    periods_recomputed: tuple[tuple[str, str], ...] = ()
    """(granularity, period label) of every period whose figures were computed from its rows;
    the figures of every other period came from the cache (see `Figures.recomputed`)."""
    checked: Checked | None = None
    """The figures and row accounting (None when the build was skipped)."""


#: Memory the build needs beside the engine (interpreter, site model, rendering), taken off a
#: --memory-limit before the rest goes to the engine (measured: about 350 MiB at 10M rows).
ALLOWANCE = 384 << 20
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(b|bytes|[kmgt]i?b)\s*", re.IGNORECASE)
_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


#: The engine's share is never cut below this (a small budget is a small site's).
ENGINE_FLOOR = 256 << 20
#: Smaller budgets are refused: the engine cannot build even a small site in them.
SMALLEST_BUDGET = 64 << 20


def engine_memory(memory_limit: str) -> int:
    """The engine's share in bytes of a build's memory budget such as '2GB' or '1.5GiB': the
    budget less :data:`ALLOWANCE`, but not less than :data:`ENGINE_FLOOR` (nor the budget)."""
    from generator.errors import ConfigError, Problem

    match = _SIZE.fullmatch(memory_limit)
    if match is None:
        raise ConfigError(Problem("--memory-limit", "", "a size like '2GB', '1.5GiB' or '512MB'",
                                  memory_limit, "a size needs a unit: B, KB, MB, GB, or KiB, "
                                  "MiB, GiB for powers of 1024."))
    total = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if total < SMALLEST_BUDGET:
        raise ConfigError(Problem("--memory-limit", "", "at least 64MB", memory_limit,
                                  "give the build more memory, or leave the option out."))
    return max(total - ALLOWANCE, min(total, ENGINE_FLOOR))


def connect(
    memory_limit: str | None = None, spill: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory engine connection with UTC as its session timezone.

    `memory_limit` (e.g. '2GB') is the whole build's budget: the engine gets
    :func:`engine_memory` of it and spills work beyond that to `spill`.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if memory_limit:
        con.execute(f"SET memory_limit = '{engine_memory(memory_limit)}B'")
        if spill is not None:
            spill.mkdir(parents=True, exist_ok=True)
            con.execute(f"SET temp_directory = '{spill.as_posix().replace(chr(39), chr(39) * 2)}'")
    return con


def check(
    config_path: Path | str | Config,
    strict: bool = False,
    cache: Cache | None = None,
    stages: Stages | None = None,
    memory_limit: str | None = None,
    rejected_rows_fail: bool = True,
    for_site: bool = False,
) -> Checked:
    """Load config and data, validate every row and compute the figures; render nothing.

    Rejected rows fail (DataError, see :func:`rejected_rows_failure`) unless
    `rejected_rows_fail` is False: `carecard check` lists them all first, then fails.
    With `for_site` (a build), also what only the site holds: the drill-through lists and,
    when configured, interactions.csv."""
    from generator.figures.metrics import (
        blackout_counts,
        compute_figures,
        exclusion_counts,
        published_dimensions,
        unmet_goal_warnings,
    )
    from generator.figures.people import without_people
    from generator.figures.restate import compute_restatements
    from generator.figures.segments import find_lookalikes
    from generator.figures.views import compute_brackets, compute_hourly
    from generator.ingest.sources import account_rows, release_staged, stage_drops

    stages = stages or Stages()
    config = (
        config_path if isinstance(config_path, Config) else load_config(config_path, strict)
    )
    spill = cache.folder / "spill" if cache is not None and cache.folder is not None else None
    con = connect(memory_limit, spill or Path(tempfile.gettempdir()) / "carecard-spill")
    with stages.time("read drops"):
        staged = stage_drops(con, config, cache)
    newest = staged.newest()
    with stages.time("validate rows"):
        quality = account_rows(con, config, staged)
        release_staged(con, staged)
    log.info("read %d rows from %d drop(s), %d rejected", quality.rows_read,
             len(quality.drops), quality.rows_rejected)
    failure = rejected_rows_failure(config, quality, strict)
    if failure and rejected_rows_fail:
        raise DataError(failure)
    config = replace(config, warnings=config.warnings
                     + unmet_goal_warnings(config, set(quality.mapped_fields)))
    with stages.time("compute figures"):
        figures = compute_figures(con, config, quality, cache)
    with stages.time("views"):
        # Hour of week and first-response brackets (SPEC §5.1).
        # Like the metrics, response views need a source that maps first_response_at.
        folded = frozenset(f.dimension for f in figures.folds)
        headline = figures.periods.get(config.site.periods[0], ())
        shown = {m.id for m in figures.metrics}
        figures = replace(
            figures,
            brackets=compute_brackets(con, config) if "frt_median" in shown else (),
            hourly=compute_hourly(con, config, published_dimensions(config), headline, folded,
                                  shown),
        )
    with stages.time("compute figures"):
        quality = replace(
            quality, exclusions=exclusion_counts(con), blackouts=blackout_counts(con),
            lookalikes=find_lookalikes(con, without_people(published_dimensions(config),
                                                           config.site.people)),
        )
    log.info("computed %d figures", len(figures.rows))
    _warn_of_stray_history(config, figures)
    with stages.time("restatements"):
        # Figures of complete periods that the newest drops changed (SPEC §6.6); the data-quality
        # page names no person (site.privacy.people).
        team = without_people((*published_dimensions(config), "all"), config.site.people)
        quality = replace(
            quality,
            restatements=tuple(r for r in compute_restatements(con, config, staged, quality)
                               if r.dimension in team),
            newest_drops=tuple(staged.drops[i].rel for i in sorted(newest)),
        )
    interactions = None
    if for_site:
        from generator.figures.drill import compute_drill

        with stages.time("compute figures"):
            # No list for a person, nor a person's column in a team's list (site.privacy.people).
            figures = replace(figures, drill=compute_drill(
                con, config, without_people(published_dimensions(config), config.site.people),
                figures.periods.get(config.site.periods[0], ()), cache,
                frozenset(f.dimension for f in figures.folds)))
    if for_site and config.site.interactions_csv:
        from generator.site.downloads import interactions_csv

        with stages.time("write interactions.csv"):
            interactions = interactions_csv(con, config)
    con.close()
    return Checked(config, quality, figures, interactions)


def rejected_rows_failure(
    config: Config, quality: QualityReport, strict: bool, listed: int = MAX_LISTED_REJECTIONS
) -> list[Problem | str]:
    """Why the rejected rows fail the build, or nothing: a drop beyond
    site.max_rejected_share (always, SPEC §3.4), else any rejected row under --strict or
    site.on_bad_rows: fail (the first `listed` rows, then how many more)."""
    from generator.ingest.rejections import rejected_share_problems

    too_many = rejected_share_problems(quality, config.site.max_rejected_share)
    if too_many or not quality.rows_rejected or not (strict or config.site.on_bad_rows == "fail"):
        return too_many
    lines: list[Problem | str] = [r.message for r in quality.rejections[:listed]]
    more = quality.rows_rejected - len(lines)
    if more > 0 and listed:
        lines.append(f"… and {more} more rejected rows. Hint: carecard check --all lists them "
                     "all; nothing was published.")
    lines.append(
        f"{quality.rows_rejected} rejected row(s) fail the build "
        + ("(--strict)." if strict else "(site.on_bad_rows: fail).")
    )
    return lines


def _warn_of_stray_history(config: Config, figures: Figures) -> None:
    """Warn when a few stray old rows stretch the headline grid (figures.csv holds every period
    of it): when most of its periods are empty and a `since` leaving out at most
    STRAY_SHARE of the interactions would give a grid at most half empty; suggest that one."""
    g = config.site.periods[0]
    periods = figures.periods.get(g, ())
    volume = {f.period: f.value or 0 for f in figures.rows
              if f.granularity == g and f.dimension == "all" and f.metric == "volume"}
    counts = [volume.get(p.label, 0) for p in periods]
    if len(periods) <= config.site.history or counts.count(0) * 2 <= len(periods):
        return
    # The earliest start from which at most half of the periods are empty.
    empty_after = 0
    start = len(periods) - 1
    for i in range(len(periods) - 1, -1, -1):
        empty_after += counts[i] == 0
        if counts[i] and empty_after * 2 <= len(periods) - i:
            start = i
    before = int(sum(counts[:start]))
    if not before or before > STRAY_SHARE * sum(counts):
        return
    log.warning(
        "site.since: the %s grid runs from %s to %s (%s periods) but %s of them have no "
        "interactions: a few old rows stretch it, and figures.csv and figures.json hold every "
        "period. Hint: set site.since: %s to count the %s interaction%s received before it as "
        "'before since'.",
        g, periods[0].label, periods[-1].label, f"{len(periods):,}", f"{counts.count(0):,}",
        periods[start].start.isoformat(), f"{before:,}", "" if before == 1 else "s")


def build_info(config: Config, quality: QualityReport) -> BuildInfo:
    """Build metadata; the date comes from SOURCE_DATE_EPOCH or the data, never the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        built, source = datetime.fromtimestamp(int(epoch), tz=timezone.utc), "SOURCE_DATE_EPOCH"
    elif quality.data_through is not None:
        built, source = quality.data_through, "data"
    else:
        built, source = datetime(1970, 1, 1, tzinfo=timezone.utc), "none"
    return BuildInfo(__version__, built.isoformat(), config.path.name, source)


def policy_hash(config: Config) -> str:
    """SHA-256 of the config file (it holds the policy)."""
    return hashlib.sha256(config.path.read_bytes()).hexdigest()


def failing(statuses: tuple[dict[str, object], ...], fail_on: str) -> list[dict[str, object]]:
    """The statuses (summary.json entries) at or worse than `fail_on` (red or amber)."""
    bad = {"red"} if fail_on == "red" else {"red", "amber"}
    return [s for s in statuses if s["status"] in bad]


def input_fingerprint(config: Config, output: Path, strict: bool = False) -> str:
    """Content hash of everything a build reads: config, drops, content, templates, code, and
    the options that change the outcome (--strict)."""
    from generator.ingest.sources import find_drops, forget_hashes

    forget_hashes()  # every fingerprint hashes the files afresh (`serve` polls with it)

    parts = [__version__, os.environ.get("SOURCE_DATE_EPOCH", ""), str(output.resolve()),
             f"strict={strict}",
             hashlib.sha256(config.path.read_bytes()).hexdigest()]
    # The pseudonyms' key (site.privacy.pseudonymise) is read from the environment: a new key
    # is a new build. Only its fingerprint is kept, like the cached rows' keys.
    parts += sorted({s.pseudonym_key_id for s in config.sources})
    parts += [f"{d.rel}:{d.sha256}" for d in find_drops(config)]
    package = Path(__file__).resolve().parent
    parts.append(files_digest(sorted(package.rglob("*.py")), package))  # the code itself
    for _, folder in _site_folders(config):
        if folder.is_dir():
            files = [p for p in folder.rglob("*") if p.is_file()
                     and "exports" not in p.relative_to(folder).parts[:1]
                     and "__pycache__" not in p.parts]
            parts.append(files_digest(files, folder))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def build(
    config_path: Path | str,
    output: Path | str | None = None,
    strict: bool = False,
    cache_folder: Path | str | None = None,
    use_cache: bool = True,
    memory_limit: str | None = None,
    replace_output: bool = False,
) -> BuildResult:
    """Build the whole site and swap it into `output` (default: output/ beside config.yaml).

    An existing output folder must be empty or hold carecard's marker file; `replace_output`
    replaces one without it (a site built by an earlier version: --replace-output).

    With the cache (default `.carecard-cache/` beside config.yaml), parsed drops, drill-through
    lists and drawn charts are reused by content hash, and a build whose inputs and output are
    unchanged since the last build does nothing.
    """
    from generator.publish.output import (
        SiteFiles,
        check_cache_dir,
        check_output_dir,
        output_lock,
        recover,
        write_site,
    )
    from generator.site.downloads import data_files
    from generator.site.drawing import ChartDrawer
    from generator.site.render import render_into

    started = time.perf_counter()
    if memory_limit:
        engine_memory(memory_limit)  # a bad size is an error even when nothing changed
    stages = Stages()
    with stages.time("load config"):
        config = load_config(config_path, strict=strict)
    target = Path(output) if output is not None else config.root / "output"
    check_output_dir(target, config.root, replace_output)
    folder = Path(cache_folder) if cache_folder else config.root / CACHE_FOLDER
    if use_cache:
        check_cache_dir(folder, target, config.root, _folders_read(config))
    with output_lock(target):  # one build at a time writes (or recovers) this output folder
        recover(target)
        cache = Cache(folder if use_cache else None)
        with stages.time("fingerprint inputs"):
            fingerprint = input_fingerprint(config, target, strict)
        last = cache.last_build()
        if (last is not None and last.get("inputs") == fingerprint
                and last.get("output") == output_state(target)):
            log.info("nothing changed since the last build; output left as it was")
            return _skipped(config, target, last, started, stages)
        checked = check(config, strict=strict, cache=cache, stages=stages,
                        memory_limit=memory_limit, for_site=True)
        info = build_info(config, checked.quality)
        drawer = ChartDrawer(cache if use_cache else None)
        with SiteFiles(target) as files:
            with stages.time("render pages and charts"):
                render_into(files.add, config, checked.figures, checked.quality, info, drawer)
            with stages.time("write data files"):
                summary = data_files(files.add, config, checked.figures, checked.quality, info,
                                     policy_hash(config), checked.interactions)
            with stages.time("write site"):
                write_site(files)
            # Published: a stop or failure from here on says so (see SiteFiles).
            paths = files.paths()
            report = {"pages": sum(p.endswith(".html") for p in paths),
                      "charts": drawer.drawn + drawer.from_cache,
                      "files": len(paths), "statuses": summary["statuses"],
                      "rows_read": checked.quality.rows_read,
                      "rows_rejected": checked.quality.rows_rejected}
            cache.remember_build({"inputs": fingerprint, "output": output_state(target),
                                  **report})
            cache.prune()
    return BuildResult(
        config=checked.config, output=target, skipped=False, statuses=tuple(summary["statuses"]),
        rows_read=checked.quality.rows_read, rows_rejected=checked.quality.rows_rejected,
        pages=report["pages"], charts=report["charts"], files=len(paths),
        seconds=time.perf_counter() - started, stages=stages.seconds,
        drops_parsed=cache.misses, drops_from_cache=cache.hits,
        charts_drawn=drawer.drawn, charts_from_cache=drawer.from_cache,
        periods_recomputed=checked.figures.recomputed, checked=checked,
    )


def _skipped(config: Config, target: Path, last: dict[str, Any], started: float,
             stages: Stages) -> BuildResult:
    """The result of a build that found nothing changed: the last build's, from the cache."""
    return BuildResult(
        config=config, output=target, skipped=True,
        statuses=tuple(last.get("statuses", ())), rows_read=int(last.get("rows_read", 0)),
        rows_rejected=int(last.get("rows_rejected", 0)), pages=int(last.get("pages", 0)),
        charts=int(last.get("charts", 0)), files=int(last.get("files", 0)),
        seconds=time.perf_counter() - started, stages=stages.seconds,
    )


def _site_folders(config: Config) -> list[tuple[str, Path]]:
    """The folders of the site's content and templates (the theme, and the site's own), by
    what they hold."""
    from generator.site.render import theme_dir

    folders = [("content", config.root / "content"), ("theme", theme_dir())]
    if config.site.templates is not None:
        folders.append(("templates", config.site.templates))
    return folders


def _folders_read(config: Config) -> list[tuple[str, Path]]:
    """What a build reads, by folder: content, templates, code and each source's drops (the
    part of its glob before the first wildcard, unless that is the site root)."""
    folders = _site_folders(config) + [("code", Path(__file__).resolve().parent)]
    for source in config.sources:
        parts = Path(source.path).parts
        fixed = next((i for i, part in enumerate(parts) if set(part) & set("*?[")),
                     len(parts) - 1)  # without a wildcard the path names one file
        base = config.root / Path(*parts[:fixed]) if fixed else config.root
        if base.resolve() != config.root.resolve():
            folders.append((f"'{source.name}' drops", base))
    return folders
