"""The build, top to bottom: config → drops → figures → site model → files → atomic write."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from generator import __version__
from generator.cache import Cache, files_digest, output_state
from generator.config.loader import Config, load_config
from generator.errors import DataError
from generator.model import BuildInfo, Figure, Figures, QualityReport

if TYPE_CHECKING:
    import duckdb

    from generator.figures.drill import DrillFiles
    from generator.site.render import Sink

log = logging.getLogger(__name__)
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
    interactions: bytes | Path | None = None
    """data/interactions.csv when `site.interactions_csv` asks for it: its bytes, or (with a
    scratch folder) the file the engine writes there."""
    written: Written | None = None
    """With a scratch folder: done when the engine has written the files named in
    `figures.drill` and `interactions`, and figures.csv and figures.json (already done when no
    executor was given). None
    without a scratch folder: the drill rows and interactions.csv stay in Python."""


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
    scratch: Path | None = None,
    background: Executor | None = None,
    output: Path | None = None,
    rendered: Callable[[str], str | None] | None = None,
) -> Checked:
    """Load config and data, validate every row and compute the figures; render nothing.

    With `scratch` (a build's scratch folder), the engine writes the big CSVs there (every
    drill-through list, interactions.csv) instead of handing their rows to Python; with
    `background` as well, it writes them on that executor's thread while the caller renders,
    and `Checked.written` says when they are done. Drill-through lists that the last build
    published unchanged are linked from `output` (the folder the build replaces), or copied
    when they were published elsewhere; `rendered` gives the rendered table rows of lists
    that need not be fetched (see `render.RenderedRows`).
    """
    from generator.figures.metrics import blackout_counts, compute_figures, exclusion_counts
    from generator.figures.restate import compute_restatements
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
    with stages.time("compute figures"):
        figures = compute_figures(con, config, quality, rendered)
        quality = replace(
            quality, exclusions=exclusion_counts(con), blackouts=blackout_counts(con)
        )
    log.info("computed %d figures", len(figures.rows))
    with stages.time("restatements"):
        # Figures of complete periods that the newest drops changed (SPEC §6.6).
        quality = replace(
            quality,
            restatements=compute_restatements(con, config, staged, quality),
            newest_drops=tuple(staged.drops[i].rel for i in sorted(newest)),
        )
    interactions: bytes | Path | None = None
    written: Written | None = None
    if scratch is not None:
        figures, interactions, written = _start_engine_files(
            con, config, figures, scratch, stages, background, cache, output)
    elif config.site.interactions_csv:
        from generator.site.downloads import interactions_csv

        interactions = interactions_csv(con, config)
    return Checked(config, quality, figures, interactions, written)


def _start_engine_files(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    figures: Figures,
    scratch: Path,
    stages: Stages,
    background: Executor | None,
    cache: Cache | None = None,
    output: Path | None = None,
) -> tuple[Figures, Path | None, Written]:
    """Have the engine write every drill-through list, interactions.csv, figures.csv and
    figures.json into `scratch`, on `background` when given (its queries release the GIL while
    Python renders the pages; only the rare lists with '#' or CR in their text are written by
    Python's csv module there; nothing else uses `con` after this). Lists the last build
    published unchanged are linked (or copied) into `scratch` first, here (see
    `plan_drill_csvs`); `Written.remember` records where this build published them. Return the
    figures with each list's file, interactions.csv's path, and the writing."""
    from generator.site.downloads import write_figures_files, write_interactions_csv
    from generator.figures.drill import plan_drill_csvs, write_planned

    with stages.time("plan drill lists"):
        plan = plan_drill_csvs(con, figures.drill, scratch, cache, output)
    interactions = scratch / "interactions.csv" if config.site.interactions_csv else None

    def write() -> tuple[Path, Path] | None:
        with stages.time("write drill lists"):
            write_planned(con, plan)
        if interactions is not None:
            write_interactions_csv(con, config, interactions)
        with stages.time("write figures files"):
            return write_figures_files(con, scratch)

    if background is None:
        done: Future[tuple[Path, Path] | None] = Future()
        done.set_result(write())
    else:
        done = background.submit(write)
    return replace(figures, drill=plan.lists), interactions, Written(done, con, plan, cache)


class Written:
    """The engine's files being written on its thread: `result()` waits for them (and raises
    the engine's error, if any); `stop()` interrupts them when the build fails; `remember`
    records where the build published the drill-through lists, for the next build to link."""

    def __init__(self, future: Future[tuple[Path, Path] | None], con: duckdb.DuckDBPyConnection,
                 plan: DrillFiles, cache: Cache | None) -> None:
        self._future, self._con, self._plan, self._cache = future, con, plan, cache

    def result(self) -> tuple[Path, Path] | None:
        """Wait for the files; return figures.csv and figures.json, if the engine wrote them
        (see `downloads.write_figures_files`)."""
        return self._future.result()

    def stop(self) -> None:
        """Interrupt the engine until its thread has given up (a failed or interrupted build
        publishes nothing, so there is no point waiting for files; at 10M interactions they
        take seconds). Between two queries an interrupt does nothing, hence the loop."""
        while not self._future.done():
            self._con.interrupt()
            wait([self._future], timeout=0.05)

    def remember(self, published: dict[Path, Path], output: Path) -> None:
        """`published`: each file the site adopted → its path in the output folder `output`."""
        from generator.figures.drill import remember_published

        remember_published(self._plan, self._cache, published, output)


def _when_written(written: Written | None, put: Sink, adopted: dict[Path, str]) -> Sink:
    """`put` that first waits for the engine's files (and raises its error, if any) when
    handed a file rather than bytes, and notes where each such file goes in `adopted`."""

    def put_when_written(path: str, data: bytes | Path) -> None:
        if isinstance(data, Path):
            if written is not None:
                written.result()
            adopted[data] = path
        put(path, data)

    return put_when_written


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
    from generator.figures.metrics import latest_complete

    period = latest_complete(figures.periods.get(headline, ()))
    if period is None:
        return []
    return [r for r in figures.rows if r.granularity == headline and r.period == period.label]


def failing(statuses: tuple[dict[str, object], ...], fail_on: str) -> list[dict[str, object]]:
    """The statuses (summary.json entries) at or worse than `fail_on` (red or amber)."""
    bad = {"red"} if fail_on == "red" else {"red", "amber"}
    return [s for s in statuses if s["status"] in bad]


def _badge(config: Config, figures: Figures) -> bytes:
    from generator.site.badge import status_badge

    rows = [r for r in headline_statuses(figures, config.site.periods[0]) if r.dimension == "all"]
    label = rows[0].period if rows else "scorecard"
    return status_badge(label, rows)


def input_fingerprint(config: Config, output: Path, strict: bool = False) -> str:
    """Content hash of everything a build reads: config, drops, content, templates, code, and
    the options that change the outcome (--strict)."""
    from generator.ingest.sources import find_drops, forget_hashes

    forget_hashes()  # every fingerprint hashes the files afresh (`serve` polls with it)

    parts = [__version__, os.environ.get("SOURCE_DATE_EPOCH", ""), str(output.resolve()),
             f"strict={strict}",
             hashlib.sha256(config.path.read_bytes()).hexdigest()]
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
) -> BuildResult:
    """Build the whole site and swap it into `output` (default: output/ beside config.yaml).

    With the cache (default `.carecard-cache/` beside config.yaml), parsed drops and drawn
    charts are reused by content hash, and a build whose inputs and output are unchanged since
    the last build does nothing.
    """
    from generator.publish.output import check_cache_dir, check_output_dir, output_lock

    started = time.perf_counter()
    if memory_limit:
        engine_memory(memory_limit)  # a bad size is an error even when nothing changed
    stages = Stages()
    with stages.time("load config"):
        config = load_config(config_path, strict=strict)
    target = Path(output) if output is not None else config.root / "output"
    check_output_dir(target, config.root)
    folder = Path(cache_folder) if cache_folder else config.root / CACHE_FOLDER
    if use_cache:
        check_cache_dir(folder, target, config.root, _folders_read(config))
    with output_lock(target):  # one build at a time writes (or recovers) this output folder
        return _build_into(target, config, strict, stages, started, folder, use_cache,
                           memory_limit)


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


def _build_into(
    target: Path,
    config: Config,
    strict: bool,
    stages: Stages,
    started: float,
    folder: Path,
    use_cache: bool,
    memory_limit: str | None,
) -> BuildResult:
    """The rest of :func:`build`, with the output folder's lock held; `folder` is the cache's."""
    from generator.site.downloads import (
        figures_csv,
        figures_json,
        rejected_csv,
        summary_json,
    )
    from generator.site.drawing import ChartDrawer, start_server
    from generator.publish.output import SiteFiles, recover, write_site
    from generator.site.render import RenderedRows, render_into

    recover(target)
    cache = Cache(folder if use_cache else None)
    with stages.time("fingerprint inputs"):
        fingerprint = input_fingerprint(config, target, strict)
    last = cache.last_build()
    if (
        last is not None
        and last.get("inputs") == fingerprint
        and last.get("output") == output_state(target)
    ):
        summary = json.loads((target / "data" / "summary.json").read_text(encoding="utf-8"))
        log.info("nothing changed since the last build; output left as it was")
        return BuildResult(
            config=config, output=target, skipped=True,
            statuses=tuple(summary.get("statuses", ())),
            rows_read=int(summary.get("rows_read", 0)),
            rows_rejected=int(summary.get("rows_rejected", 0)),
            pages=int(last.get("pages", 0)),  # type: ignore[call-overload]
            charts=int(last.get("charts", 0)),  # type: ignore[call-overload]
            files=int(last.get("files", 0)),  # type: ignore[call-overload]
            seconds=time.perf_counter() - started, stages=stages.seconds,
        )
    start_server()  # the chart workers' parent, while this process is small
    rows = RenderedRows(cache if use_cache else None, config.site.templates, target)
    # Leaving the `with` waits for the engine's thread first, then discards or publishes.
    with SiteFiles(target) as files, ThreadPoolExecutor(1, "carecard-engine") as engine:
        checked = check(config, strict=strict, cache=cache, stages=stages,
                        memory_limit=memory_limit, scratch=files.scratch, background=engine,
                        output=target, rendered=rows.load if rows.enabled else None)
        drops_cached, drops_parsed = cache.hits, cache.misses
        quality, figures = checked.quality, checked.figures
        info = build_info(config, quality)
        drawer = ChartDrawer(cache if use_cache else None)
        adopted: dict[Path, str] = {}
        put = _when_written(checked.written, files.put, adopted)
        try:
            with stages.time("render pages and charts"):
                render_into(put, config, figures, quality, info, drawer, rows)
            with stages.time("write data files"):
                summary_bytes = summary_json(
                    figures, quality, info, config.site.periods[0], policy_hash(config)
                )
                # Waits for the engine's files; its error, if any, stops the build here,
                # before anything is published.
                engine_files = checked.written.result() if checked.written else None
                if engine_files is not None:
                    put("data/figures.csv", engine_files[0])
                    put("data/figures.json", engine_files[1])
                else:
                    files.add("data/figures.csv", figures_csv(figures.rows))
                    files.add("data/figures.json", figures_json(figures.rows))
                files.add("data/summary.json", summary_bytes)
                files.add("data/rejected.csv", rejected_csv(quality))
                files.add("data/badge.svg", _badge(config, figures))
                if checked.interactions is not None:
                    put("data/interactions.csv", checked.interactions)
        except BaseException:  # a page failed, or Ctrl-C: stop the engine, publish nothing
            if checked.written is not None:
                checked.written.stop()
            raise
        with stages.time("write site"):
            write_site(files)
        # Published: what the cache learns from it (an interrupt from here on says so).
        if checked.written is not None:
            checked.written.remember({source: target / path for source, path in adopted.items()},
                                     target)
        rows.remember(target)
        paths = files.paths()
        pages = sum(p.endswith(".html") for p in paths)
        charts = sum(p.startswith("charts/") for p in paths)
        cache.remember_build({"inputs": fingerprint, "output": output_state(target),
                              "pages": pages, "charts": charts, "files": len(paths)})
    statuses = tuple(json.loads(summary_bytes)["statuses"])
    return BuildResult(
        config=config, output=target, skipped=False, statuses=statuses,
        rows_read=quality.rows_read, rows_rejected=quality.rows_rejected,
        pages=pages, charts=charts, files=len(paths),
        seconds=time.perf_counter() - started, stages=stages.seconds,
        drops_parsed=drops_parsed, drops_from_cache=drops_cached,
        charts_drawn=drawer.drawn, charts_from_cache=drawer.from_cache,
        checked=checked,
    )
