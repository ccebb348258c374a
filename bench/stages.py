"""Run `carecard build` in this process with a timer around each stage; write the times as JSON.

The build is the real CLI code path (``generator.cli.main(["build", ...])``); the only change is
that selected functions of the generator package are wrapped with a timer before it runs. The
build itself has no stage timing of its own, so this is how run.py gets per-stage figures.

Stage names are dotted: ``read.csv`` runs inside ``read``. Times are inclusive (a parent includes
its children); run.py derives the unattributed remainder. A function that no longer exists in
the generator (it was renamed or removed) is listed under ``missing`` instead of failing.

Usage: python bench/stages.py OUT.json -- build --config site/config.yaml --output site/out
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

# The generator of the checkout this script belongs to (the one run.py names in its results),
# not whichever one an editable install in the environment points to.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

#: (module, attribute, stage name). Patch the name where the caller looks it up.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("generator.build", "build", "build"),
    ("generator.build", "check", "check"),
    ("generator.build", "load_config", "config"),
    ("generator.build", "input_fingerprint", "fingerprint"),
    # sources: stage_drops reads every drop once; account_rows validates and de-duplicates
    # (it may run more than once, e.g. once without the newest drop for restatements).
    ("generator.ingest.sources", "read_sources", "check.read_sources"),
    ("generator.ingest.sources", "stage_drops", "check.stage_drops"),
    ("generator.ingest.sources", "find_drops", "check.stage_drops.find_drops+sha256"),
    ("generator.ingest.sources", "read_drop", "check.stage_drops.read_csv"),
    ("generator.ingest.sources", "account_rows", "check.account_rows"),
    ("generator.ingest.sources", "_validate", "check.account_rows.validate+dedupe"),
    ("generator.ingest.sources", "_report", "check.account_rows.report"),
    ("generator.figures.metrics", "compute_figures", "check.figures"),
    ("generator.figures.metrics", "judge_interactions", "check.figures.judge"),
    ("generator.figures.metrics", "_business_times", "check.figures.judge.business_clock"),
    ("generator.figures.metrics", "_aggregate", "check.figures.aggregate"),
    ("generator.figures.metrics", "_grid", "check.figures.grid"),
    ("generator.figures.metrics", "compute_budgets", "check.figures.budgets"),
    ("generator.figures.metrics", "exclusion_counts", "check.exclusions"),
    ("generator.figures.metrics", "blackout_counts", "check.blackouts"),
    ("generator.figures.metrics", "compute_drill", "check.figures.drill"),
    ("generator.figures.restate", "compute_restatements", "check.restatements"),
    ("generator.site.render", "render_into", "render"),
    ("generator.site.render", "load_content", "render.content"),
    ("generator.site.render", "build_site", "render.site_model"),
    ("generator.site.render", "_render_page", "render.html"),
    ("generator.site.drawing", "ChartDrawer.draw", "render.charts"),
    ("generator.site.render", "csv_bytes", "render.page_csv"),
    ("generator.figures.drill", "_list_csvs", "check.figures.drill.csvs"),
    ("generator.site.render", "collect_assets", "render.assets"),
    ("generator.site.downloads", "figures_csv", "downloads"),
    ("generator.site.downloads", "figures_json", "downloads"),
    ("generator.site.downloads", "summary_json", "downloads"),
    ("generator.site.downloads", "rejected_csv", "downloads"),
    ("generator.site.downloads", "_badge", "downloads"),
    ("generator.publish.output", "write_site", "write"),
)


times: dict[str, float] = {}
calls: dict[str, int] = {}
extra: dict[str, Any] = {}
_active: dict[str, int] = {}


def _wrap(name: str, func: Any) -> Any:
    @functools.wraps(func)
    def timed(*args: Any, **kwargs: Any) -> Any:
        # Only the outermost call of a recursive/re-entrant stage is timed.
        outer = _active.get(name, 0) == 0
        _active[name] = _active.get(name, 0) + 1
        start = time.perf_counter()
        try:
            result = func(*args, **kwargs)
        finally:
            _active[name] -= 1
            if outer:
                times[name] = times.get(name, 0.0) + time.perf_counter() - start
            calls[name] = calls.get(name, 0) + 1
        if name == "fingerprint" and isinstance(result, str):
            extra["input_fingerprint"] = result
        if name == "build":
            # The build's own stage timings and cache counters, when it has them.
            for key in ("stages", "skipped", "drops_parsed", "drops_from_cache",
                        "charts_drawn", "charts_from_cache", "pages", "charts", "rows_read",
                        "rows_rejected"):
                if hasattr(result, key):
                    value = getattr(result, key)
                    extra["build_" + key] = dict(value) if isinstance(value, dict) else value
        if name == "check.figures":
            segments = getattr(result, "segments", None)
            rows = getattr(result, "rows", None)
            if segments is not None:
                extra["segments"] = len(segments)
            if rows is not None:
                extra["figure_rows"] = len(rows)
        return result

    return timed


def install() -> list[str]:
    """Wrap every stage function that exists; return the names that do not."""
    missing = []
    for module_name, attribute, name in STAGES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            missing.append(f"{module_name} ({name})")
            continue
        owner: Any = module
        *path, leaf = attribute.split(".")  # "Class.method" patches the class
        for part in path:
            owner = getattr(owner, part, None)
        func = getattr(owner, leaf, None) if owner is not None else None
        if func is None:
            missing.append(f"{module_name}.{attribute} ({name})")
            continue
        setattr(owner, leaf, _wrap(name, func))
    return missing


def guard_memory() -> None:
    """Optional, for runs by hand: BENCH_MEMORY_LIMIT (e.g. '8GB', a budget as for the build's
    --memory-limit) and BENCH_TEMP_DIRECTORY are applied to the build's engine connection.
    `run.py --memory-limit` passes the build's own option instead; without the variables
    nothing changes."""
    import os

    limit = os.environ.get("BENCH_MEMORY_LIMIT")
    temp = os.environ.get("BENCH_TEMP_DIRECTORY")
    if not limit and not temp:
        return
    import generator.build as build_module

    original = build_module.connect

    def connect(memory_limit: str | None = None, spill: Any = None) -> Any:
        # The build's own --memory-limit would do the same; the variables keep older runs
        # comparable.
        con = original(memory_limit or limit, spill)
        if temp:
            con.execute(f"SET temp_directory = '{temp}'")
        return con

    build_module.connect = connect
    extra["memory_limit"] = limit
    extra["temp_directory"] = temp


def main() -> int:
    out = sys.argv[1]
    argv = sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:]
    before_imports = time.perf_counter()
    missing = install()
    guard_memory()
    from generator.cli import main as cli_main

    imported = time.perf_counter()
    code = 1
    try:
        code = cli_main(argv)
    finally:
        ended = time.perf_counter()
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "exit_code": code,
                    "stages": times,
                    "calls": calls,
                    "extra": extra,
                    "missing": missing,
                    "imports": imported - before_imports,
                    "in_process": ended - STARTED,
                },
                handle,
                indent=1,
            )
    return code


if __name__ == "__main__":
    STARTED = time.perf_counter()
    sys.exit(main())
