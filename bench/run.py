"""carecard build benchmark: the one command. See bench/README.md.

For each size: generate 52 weekly drops (bench/generate.py), then

1. cold build      - no cache, empty output folder, input files freshly written
2. baseline query  - one hand-written DuckDB query over the same drops (bench/baseline.py)
3. no-change build - the same again, output and any cache left in place
4. one-new-drop    - write drop 53 (week 2026-W01 plus re-exports of week 52) and build

Every build is a subprocess running the real CLI code path through bench/stages.py (which wraps
stage functions with timers); wall time is measured here, peak RSS from the child's rusage
(os.wait4). Segment scaling: cold builds at --segment-size with 1 + 4 channels + (S - 5) teams
= S segments. Results: a table on stdout and JSON in bench/results/.

    python bench/run.py                       # 0.1M,1M + 25/100 segments at 1M
    python bench/run.py --quick               # 0.1M only (about half a minute)
    python bench/run.py --sizes 0.1M,1M,10M --segments 25,100
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

#: A measurement as JSON-like data (written to bench/results/*.json).
Result = dict[str, Any]
CHANNELS = 4
#: Before each measurement, wait (at most QUIET_WAIT s) until other work uses < QUIET_LIMIT cores.
QUIET_LIMIT = 0.3
QUIET_WAIT = 30.0
#: Optional engine memory cap for the builds (a guard for shared machines), e.g. "8GB".
MEMORY_LIMIT: str | None = None
GiB = 1024**3

#: Targets from the issue: (description, check(results) -> (measured, limit, unit) or None).
#: Times are compared with the baseline query measured in the same run (machines differ).
TARGETS_TEXT = {
    "cold_1M": "1M cold build <= 5 x baseline query",
    "nochange_1M": "1M no-change rebuild <= 1 s",
    "onedrop_1M": "1M one new drop, CI-like (only the cache restored) <= 1.5 x baseline query",
    "cold_10M": "10M cold build <= 6 x baseline query",
    "rss_10M": "10M cold build peak RSS <= 2 GiB",
    "onedrop_10M": "10M one new weekly drop <= 5 s",
    "segments_100_25": "100/25 segments cold time ratio <= 4 (linear)",
}


def machine() -> Result:
    """Where the numbers were measured."""
    import duckdb

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        from generator import __version__ as carecard_version
    except ImportError:
        carecard_version = "?"
    try:
        head = subprocess.run(["git", "-C", str(HERE.parent), "log", "-1", "--format=%h %s"],
                              capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(HERE.parent), "status", "--porcelain",
                                     "generator", "templates"],
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        head, dirty = "", False
    return {
        "git_head": head,
        "git_dirty": dirty,
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem / GiB, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "carecard": carecard_version,
        "platform": platform.platform(),
    }


def cpu_busy_seconds() -> float:
    """Machine-wide busy CPU seconds so far (all cores), from /proc/stat."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_quiet(limit: float, max_wait: float) -> float:
    """Wait until other processes use less than `limit` cores (1 s samples), at most
    `max_wait` seconds; return the seconds waited. The machine is shared with other work."""
    waited = 0.0
    while waited < max_wait:
        before = cpu_busy_seconds()
        time.sleep(1.0)
        waited += 1.0
        if cpu_busy_seconds() - before < limit:
            break
    return waited


def clear_cache(site: Path, out: Path) -> None:
    """Cold: remove the output folder and anything that looks like a build cache."""
    shutil.rmtree(out, ignore_errors=True)
    for folder in (site, out.parent):
        for path in folder.glob(".carecard*"):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def run_build(site: Path, out: Path, log: Path) -> Result:
    """One `carecard build` in a subprocess: wall time, peak RSS and the stage times."""
    stages_json = log.with_suffix(".json")
    cmd = [sys.executable, str(HERE / "stages.py"), str(stages_json), "--", "build",
           "--config", str(site / "config.yaml"), "--output", str(out), "--quiet"]
    if MEMORY_LIMIT:
        cmd += ["--memory-limit", MEMORY_LIMIT]  # the build's own budget; spills to its cache
    env = dict(os.environ)
    # Write out what earlier steps left in the page cache (the generated drops, the last
    # build's site), so that a build is not timed while the kernel flushes them.
    os.sync()
    waited = wait_quiet(QUIET_LIMIT, QUIET_WAIT)
    with log.open("wb") as sink:
        busy_before = cpu_busy_seconds()
        start = time.perf_counter()
        # cwd = the site: anything the engine spills next to the working folder stays there.
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, cwd=site, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        busy = cpu_busy_seconds() - busy_before
    proc.returncode = os.waitstatus_to_exitcode(status)
    result: Result = {
        "wall": wall,
        "peak_rss_bytes": usage.ru_maxrss * 1024,
        "cpu_user": usage.ru_utime,
        "cpu_sys": usage.ru_stime,
        "exit_code": proc.returncode,
        # CPU used by other processes during the build, in cores (0 = machine to ourselves).
        "other_load": max(0.0, busy - usage.ru_utime - usage.ru_stime) / wall,
        "waited_for_quiet": waited,
        "summary": log.read_text(errors="replace").strip().splitlines()[-1:],
    }
    if stages_json.exists():
        result.update(json.loads(stages_json.read_text()))
    if proc.returncode != 0:
        print(f"  build failed (exit {proc.returncode}); see {log}", file=sys.stderr)
    return result


def run_baseline(site: Path, repeats: int) -> Result:
    """The baseline query in a subprocess (so its memory is its own)."""
    wait_quiet(QUIET_LIMIT, QUIET_WAIT)
    proc = subprocess.run(
        [sys.executable, str(HERE / "baseline.py"), str(site), "--repeats", str(repeats)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout)


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_size(label: str, rows: int, teams: int, workdir: Path, args: argparse.Namespace,
               full: bool) -> Result:
    """Generate and measure one data set (cold build, baseline); `full` adds the no-change and
    one-new-drop rebuilds."""
    site = workdir / f"site-{label}-{teams}t"
    out = site / "output"
    shutil.rmtree(site, ignore_errors=True)
    print(f"[{label}, {teams + CHANNELS + 1} segments] generating {rows} interactions …",
          flush=True)
    gen = generate.generate(site, rows, teams)
    res: Result = {
        "label": label, "interactions": rows, "teams": teams,
        "segments_expected": 1 + CHANNELS + teams,
        "generate": {**gen, "input_bytes": dir_bytes(site / "exports")},
    }
    print(f"  generated {gen['rows_written']} rows in {gen['seconds']:.1f}s "
          f"({res['generate']['input_bytes'] / 1e6:.0f} MB); cold build …", flush=True)
    clear_cache(site, out)
    res["cold"] = run_build(site, out, workdir / f"{label}-{teams}t-cold.log")
    print(f"  cold {res['cold']['wall']:.1f}s, peak {res['cold']['peak_rss_bytes'] / GiB:.2f} GiB",
          flush=True)
    res["baseline"] = run_baseline(site, args.baseline_repeats)
    print(f"  baseline query {res['baseline']['best']:.2f}s", flush=True)
    if full:
        res["nochange"] = run_build(site, out, workdir / f"{label}-{teams}t-nochange.log")
        print(f"  no-change {res['nochange']['wall']:.1f}s", flush=True)
        if not res["nochange"].get("extra", {}).get("build_skipped", True):
            # The fingerprint covers the theme (the repository's templates/): in a shared
            # working tree an edit between two builds is a real change. Note it and try again.
            cold_fp = res["cold"].get("extra", {}).get("input_fingerprint")
            res["nochange"]["inputs_changed_since_cold"] = (
                cold_fp != res["nochange"].get("extra", {}).get("input_fingerprint"))
            res["nochange_first"] = res["nochange"]
            res["nochange"] = run_build(site, out, workdir / f"{label}-{teams}t-nochange2.log")
            print(f"  no-change (again) {res['nochange']['wall']:.1f}s", flush=True)
        # The site as a CI job finds it: the drops and the cache folder restored into a new
        # checkout (every file a new inode), no output/, the first checkout gone.
        restored = workdir / f"site-{label}-{teams}t-restored"
        shutil.rmtree(restored, ignore_errors=True)
        shutil.copytree(site, restored, ignore=shutil.ignore_patterns(".bench-spill", "output"))
        extra = generate.generate(site, rows, teams, drops=[generate.WEEKS + 1])
        res["generate_drop53"] = extra
        res["onedrop"] = run_build(site, out, workdir / f"{label}-{teams}t-onedrop.log")
        print(f"  one new drop {res['onedrop']['wall']:.1f}s", flush=True)
        new_drop = f"social-{generate.WEEKS + 1:02d}.csv"
        shutil.copyfile(site / "exports" / new_drop, restored / "exports" / new_drop)
        away = site.with_name(site.name + ".away")
        site.rename(away)
        try:
            res["onedrop_restored"] = run_build(
                restored, restored / "output", workdir / f"{label}-{teams}t-onedrop-restored.log")
        finally:
            away.rename(site)
            shutil.rmtree(restored, ignore_errors=True)
        print(f"  one new drop, only the cache restored (as in CI) "
              f"{res['onedrop_restored']['wall']:.1f}s", flush=True)
    res["output_bytes"] = dir_bytes(out) if out.exists() else 0
    shutil.rmtree(site / ".bench-spill", ignore_errors=True)
    if not args.keep and rows >= args.delete_from:
        shutil.rmtree(site, ignore_errors=True)
        res["deleted"] = True
    return res


def check_of(build: Result) -> float | None:
    stages = build.get("stages") or {}
    return stages.get("check") if isinstance(stages, dict) else None


def evaluate(results: list[Result]) -> list[Result]:
    """Measured vs target for every target the runs cover."""
    by = {(r["label"], r["segments_expected"]): r for r in results}
    default = {r["label"]: r for r in results if r["teams"] == 20}
    default.update({f"{r['interactions'] / 1e6:g}M": r for r in results if r["teams"] == 20})
    rows: list[Result] = []

    def add(key: str, measured: float, limit: float, unit: str) -> None:
        rows.append({
            "target": TARGETS_TEXT.get(key, key), "measured": measured, "limit": limit,
            "unit": unit, "pass": measured <= limit,
            "margin": f"{(measured / limit - 1) * 100:+.0f}%",
        })

    one = default.get("1M")
    if one:
        base = one["baseline"]["best"]
        add("cold_1M", one["cold"]["wall"] / base, 5, "x")
        if "nochange" in one:
            add("nochange_1M", one["nochange"]["wall"], 1, "s")
            add("onedrop_1M", one["onedrop_restored"]["wall"] / base, 1.5, "x")
    ten = default.get("10M")
    if ten:
        add("cold_10M", ten["cold"]["wall"] / ten["baseline"]["best"], 6, "x")
        add("rss_10M", ten["cold"]["peak_rss_bytes"] / GiB, 2, "GiB")
        if "onedrop" in ten:
            add("onedrop_10M", ten["onedrop"]["wall"], 5, "s")
    for r in results:
        chk = check_of(r["cold"])
        if "baseline" in r and chk:
            rows.append({
                "target": f"{r['label']}: reading + figures <= 2 x baseline query",
                "measured": chk / r["baseline"]["best"], "limit": 2, "unit": "x",
                "pass": chk / r["baseline"]["best"] <= 2,
                "margin": f"{(chk / r['baseline']['best'] / 2 - 1) * 100:+.0f}%",
            })
    labels = {r["label"] for r in results}
    for label in labels:
        s25, s100 = by.get((label, 25)), by.get((label, 100))
        if s25 and s100:
            add("segments_100_25", s100["cold"]["wall"] / s25["cold"]["wall"], 4, "x")
    return rows


def fmt_s(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) else "-"


def print_tables(results: list[Result], verdicts: list[Result]) -> None:
    print()
    head = (f"{'size':>5} {'segs':>4} {'rows':>9} {'gen s':>6} {'cold s':>7} {'peak GiB':>8} "
            f"{'check s':>7} {'render s':>8} {'base s':>6} {'chk/base':>8} {'nochg s':>7} "
            f"{'+drop s':>7} {'cpu s':>6} {'others':>6}")
    print(head)
    print("-" * len(head))
    for r in results:
        cold = r["cold"]
        stages = cold.get("stages", {})
        chk = stages.get("check")
        base = r.get("baseline", {}).get("best")
        print(
            f"{r['label']:>5} {cold.get('extra', {}).get('segments', r['segments_expected']):>4} "
            f"{r['generate']['rows_written']:>9} {r['generate']['seconds']:>6.1f} "
            f"{cold['wall']:>7.2f} {cold['peak_rss_bytes'] / GiB:>8.2f} {fmt_s(chk):>7} "
            f"{fmt_s(stages.get('render')):>8} {fmt_s(base):>6} "
            f"{(fmt_s(chk / base) if chk and base else '-'):>8} "
            f"{fmt_s(r.get('nochange', {}).get('wall')):>7} "
            f"{fmt_s(r.get('onedrop', {}).get('wall')):>7} "
            f"{cold['cpu_user'] + cold['cpu_sys']:>6.1f} {cold.get('other_load', 0):>6.2f}"
        )
    print()
    print("stage times of the cold builds (s, inclusive; nested stages indented):")
    names: list[str] = []
    for r in results:
        for name in r["cold"].get("stages", {}):
            if name not in names:
                names.append(name)
    names.sort(key=lambda n: (0 if n == "build" else 1, n.split(".")))
    cols = [f"{r['label']}/{r['segments_expected']}" for r in results]
    print(f"{'stage':<44}" + "".join(f"{c:>11}" for c in cols))
    for name in names:
        depth = name.count(".")
        n = max(r["cold"].get("calls", {}).get(name, 0) for r in results)
        shown = "  " * depth + name.split(".")[-1] + (f" (x{n})" if n > 1 else "")
        print(f"{shown:<44}" + "".join(
            f"{fmt_s(r['cold'].get('stages', {}).get(name)):>11}" for r in results))
    print(f"{'process (wall, incl. interpreter start)':<44}"
          + "".join(f"{r['cold']['wall']:>11.2f}" for r in results))
    print()
    print("the build's own stage timings (BuildResult.stages), cold / no-change / one new drop"
          " / one new drop into a site restored elsewhere (as in CI):")
    for r in results:
        for kind in ("cold", "nochange", "onedrop", "onedrop_restored"):
            build = r.get(kind)
            if not build:
                continue
            extra = build.get("extra", {})
            own = extra.get("build_stages") or {}
            flags = []
            if extra.get("build_skipped"):
                flags.append("skipped")
            if "build_drops_parsed" in extra:
                flags.append(f"drops parsed {extra['build_drops_parsed']}/cached "
                             f"{extra.get('build_drops_from_cache')}")
            if "build_charts_drawn" in extra:
                flags.append(f"charts drawn {extra['build_charts_drawn']}/cached "
                             f"{extra.get('build_charts_from_cache')}")
            text = ", ".join(f"{k} {v:.2f}" for k, v in own.items())
            print(f"  {r['label']}/{r['segments_expected']} {kind}: {text or '-'}"
                  + (f"  [{'; '.join(flags)}]" if flags else ""))
    print()
    for v in verdicts:
        mark = "PASS" if v["pass"] else "MISS"
        print(f"{mark}  {v['target']}: {v['measured']:.2f} {v['unit']} "
              f"(limit {v['limit']}, {v['margin']})")


def main() -> int:
    global QUIET_WAIT, MEMORY_LIMIT
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="0.1M,1M",
                        help="interaction counts, comma-separated (default: %(default)s)")
    parser.add_argument("--segments", default="25,100",
                        help="segment counts for the scaling runs; empty for none "
                             "(default: %(default)s)")
    parser.add_argument("--segment-size", default="1M",
                        help="size of the segment-scaling runs (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="0.1M only, no segment runs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/carecard-bench"),
                        help="where the generated sites go (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep every generated site")
    parser.add_argument("--delete-from", default="5M",
                        help="delete generated sites of at least this size when done "
                             "(default: %(default)s)")
    parser.add_argument("--baseline-repeats", type=int, default=2)
    parser.add_argument("--quiet-wait", type=float, default=QUIET_WAIT,
                        help="seconds to wait at most for an idle machine before each "
                             "measurement; 0 = never wait (default: %(default)s)")
    parser.add_argument("--memory-limit", default=None,
                        help="pass --memory-limit (e.g. 2GB) to every build: the whole build's "
                             "memory budget (default: none)")
    parser.add_argument("--full-up-to", default="10M",
                        help="sizes above this get only the cold build and the baseline "
                             "(default: %(default)s)")
    parser.add_argument("--results", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.segments = "0.1M", ""
    args.delete_from = generate.parse_size(args.delete_from)
    QUIET_WAIT = args.quiet_wait
    MEMORY_LIMIT = args.memory_limit
    full_up_to = generate.parse_size(args.full_up_to)
    args.workdir.mkdir(parents=True, exist_ok=True)

    info = machine()
    print(f"machine: {info['nproc']} cores, {info['mem_gib']} GiB, {info['cpu']}; "
          f"Python {info['python']}, DuckDB {info['duckdb']}, carecard {info['carecard']}; "
          f"git {info['git_head'][:60]}{' (+ uncommitted changes)' if info['git_dirty'] else ''}")
    results: list[Result] = []
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    segment_rows = generate.parse_size(args.segment_size)
    segment_runs = [int(s) for s in args.segments.split(",") if s.strip()]

    def segment_scaling() -> None:
        for seg in segment_runs:
            if any(r["interactions"] == segment_rows and r["segments_expected"] == seg
                   for r in results):
                continue
            results.append(bench_size(args.segment_size, segment_rows, seg - 1 - CHANNELS,
                                      args.workdir, args, full=False))

    # Smallest first; the segment runs right after the sizes they share (before a long 10M).
    for label in sorted(sizes, key=generate.parse_size):
        rows = generate.parse_size(label)
        if rows > segment_rows and segment_runs:
            segment_scaling()
            segment_runs = []
        results.append(bench_size(label, rows, 20, args.workdir, args, full=rows <= full_up_to))
    segment_scaling()
    verdicts = evaluate(results)
    print_tables(results, verdicts)
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    payload = {"machine": info, "command": sys.argv, "memory_limit": MEMORY_LIMIT,
                "results": results, "targets": verdicts}
    path = args.results / f"bench-{stamp}.json"
    path.write_text(json.dumps(payload, indent=1, default=str))
    (args.results / "latest.json").write_text(json.dumps(payload, indent=1, default=str))
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
