"""The `carecard` command: parses flags, calls the library, turns errors into exit codes."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

from generator import __version__

if TYPE_CHECKING:
    from pathlib import Path

    from generator.build import BuildResult
    from generator.model import QualityReport

EXIT_OK = 0
EXIT_STATUS = 1
EXIT_ERROR = 2
EXIT_BUG = 3  # an unexpected internal error: never 1, which means "built, with red figures"
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
EXIT_TERMINATED = 143  # SIGTERM (128 + SIGTERM)
#: Rejected rows `check` lists without --all (the rest are counted by reason).
LISTED_BY_CHECK = 50


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `kill`, a container stopping), handled like Ctrl-C: the
    build stops its workers, removes its staging folder and leaves the previous output."""


_terminated = False  # SIGTERM arrived (the engine may have turned it into its own error)


def _terminate(signum: int, frame: object) -> None:
    global _terminated
    _terminated = True
    raise Terminated()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carecard",
        description="Customer-care scorecards from periodic exports and a YAML policy.",
    )
    parser.add_argument("--version", action="version", version=f"carecard {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--config", default="config.yaml",
                         help="path of the site's config.yaml (default: %(default)s)")
        sub.add_argument("--strict", action="store_true",
                         help="fail (exit 2) on any rejected row or unknown config key")
        sub.add_argument("--verbose", action="store_true",
                         help="show each stage and, on an unexpected error, the traceback")
        sub.add_argument("--quiet", action="store_true",
                         help="print only errors and the final summary line")
        sub.add_argument("--memory-limit", default=None, metavar="SIZE",
                         help="the build's memory budget (e.g. 2GB): the engine gets it less "
                         "384 MiB for the rest of the build and spills larger work to disk in "
                         "the cache folder (default: no budget; the engine may use 80%% of RAM)")

    build = commands.add_parser(
        "build", help="build the site into the output folder",
        description="Validate config and data, compute every figure and write the site "
        "atomically.",
        epilog="exit codes: 0 success; 1 built, but --fail-on found a status at or worse than "
        "the given one; 2 configuration or data error (nothing published); 3 an internal error, "
        "a bug (nothing published); 130 Ctrl-C, 143 SIGTERM (stopped; nothing published, "
        "unless the message says the new site was). "
        "Examples: carecard build; carecard build --config site/config.yaml --output public "
        "--fail-on red",
    )
    common(build)
    build.add_argument("--output", default=None,
                       help="output folder (default: output/ beside config.yaml)")
    build.add_argument("--cache-dir", default=None,
                       help="cache folder (default: .carecard-cache/ beside config.yaml); "
                       "safe to delete; never inside the output folder, content/ or the "
                       "folders of the drops")
    build.add_argument("--no-cache", action="store_true",
                       help="neither read nor write the cache: parse and draw everything")
    build.add_argument("--replace-output", action="store_true",
                       help="replace an output folder that holds files but not carecard's "
                       "marker file '.carecard-site' (a site built by an earlier carecard); "
                       "everything in it is removed")
    build.add_argument("--digest", action="store_true",
                       help="print the digest (data/digest.md: a short Markdown summary for "
                       "the team chat or a CI job summary) to standard output; the build's "
                       "own summary line then goes to standard error")
    build.add_argument("--fail-on", choices=("red", "amber"), default=None,
                       help="exit 1 when any segment of the latest complete headline period "
                       "has this status or worse (insufficient and none never fail)")
    check = commands.add_parser(
        "check", help="validate config and data and print the data-quality summary",
        description="Validate config and data, print the data-quality summary, render nothing.",
        epilog="exit codes: 0 valid; 2 configuration or data error (a drop with more than "
        "site.max_rejected_share of its rows rejected; with --strict, any rejected row); 3 an "
        "internal error, a bug. "
        "Example: carecard check --config site/config.yaml --strict",
    )
    common(check)
    check.add_argument("--all", action="store_true",
                       help=f"list every rejected row (default: the first {LISTED_BY_CHECK}, "
                       "then the rest counted by reason)")
    serve = commands.add_parser(
        "serve", help="build, serve the site on localhost and rebuild when inputs change",
        description="Build the site into output/ beside config.yaml, serve it over HTTP on "
        "the given local address, and rebuild when content, data, config or templates change. "
        "A failed rebuild is reported and the previous site stays served.",
        epilog="exit codes: 0 stopped with Ctrl-C; 2 the first build failed or the port is "
        "taken. Example: carecard serve --config site/config.yaml --port 8001",
    )
    serve.add_argument("--config", default="config.yaml",
                       help="path of the site's config.yaml (default: %(default)s)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to bind to, and only to it (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8000,
                       help="port to listen on; 0 picks a free one (default: %(default)s)")
    serve.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                       help="how often to look for changed inputs (default: %(default)s)")
    serve.add_argument("--verbose", action="store_true",
                       help="show each stage and every request")
    serve.add_argument("--quiet", action="store_true",
                       help="print only errors, the address and one line per build")
    init = commands.add_parser(
        "init", help="scaffold a new site: config, content and a small sample export",
        description="Create DIR with a commented config.yaml, content/about.md, two sample "
        "weekly exports in content/exports/ and a .gitignore.",
        epilog="exit codes: 0 created; 2 DIR is not empty (without --force). "
        "Example: carecard init my-scorecard && cd my-scorecard && carecard build",
    )
    init.add_argument("dir", metavar="DIR", help="folder of the new site (new or empty)")
    init.add_argument("--force", action="store_true",
                      help="write into a non-empty DIR, replacing files of the same name")
    init.set_defaults(verbose=False, quiet=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = _parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=logging.WARNING, format="carecard: %(message)s", stream=sys.stderr)
    logging.getLogger("generator").setLevel(level)
    from generator.progress import enable

    enable(not args.quiet)
    with _terminated_as_interrupt():
        return _run(args)


@contextmanager
def _terminated_as_interrupt() -> Iterator[None]:
    """Raise :class:`Terminated` on SIGTERM while the command runs (where SIGTERM still has
    its default action, in the main thread); restore the default afterwards."""
    global _terminated
    _terminated = False
    ours = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
    if ours:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        if ours:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; turn carecard's errors, interrupts and the engine running out
    of memory into messages and exit codes."""
    from generator.errors import CarecardError

    try:
        if args.command == "build":
            return _build(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "init":
            return _init(args)
        return _check(args)
    except CarecardError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        _say_nothing_published(args, error)
        return error.exit_code
    except KeyboardInterrupt as stop:
        return _stopped(isinstance(stop, Terminated), getattr(stop, "published_to", None))
    except OSError as error:  # a full disk, a folder without write permission …
        where = f" '{error.filename}'" if error.filename else ""
        print(f"error: cannot read or write{where}: {error.strerror or error}. Hint: check "
              "the free space and the permissions of that folder.", file=sys.stderr)
        _say_nothing_published(args, error)
        return EXIT_ERROR
    except Exception as error:
        import duckdb

        if _engine_interrupted(error):
            return _stopped(_terminated)
        if not isinstance(error, duckdb.OutOfMemoryException):
            return _bug(args, error)
        print("error: the engine ran out of memory. Hint: raise --memory-limit (the engine "
              "gets it less 384 MiB), or leave it out.", file=sys.stderr)
        _say_nothing_published(args, error)
        return 2


def _bug(args: argparse.Namespace, error: BaseException) -> int:
    """Report an unexpected error (a bug in carecard) in one line, the traceback only with
    --verbose, and exit 3: exit 1 means "built, with red figures", which CI may publish."""
    if args.verbose:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    published_to = getattr(error, "published_to", None)
    done = (f"the new site was published to {published_to} already" if published_to
            else "nothing was published")
    what = f"{type(error).__name__}: {error}".strip().rstrip(":").splitlines()[0][:200]
    rerun = "" if args.verbose else ", run again with --verbose for the traceback"
    print(f"error: internal error ({what}); {done}. This is a bug in carecard: please report "
          f"it with the command you ran and its output{rerun}.", file=sys.stderr)
    return EXIT_BUG


def _say_nothing_published(args: argparse.Namespace, error: BaseException) -> None:
    if args.command != "build":
        return
    published_to = getattr(error, "published_to", None)
    if published_to is not None:  # failed after the swap: the cache did not learn of it
        print(f"build failed after the new site was published to {published_to}; the cache "
              "does not record it, so the next build rebuilds it.", file=sys.stderr)
    else:
        print("build failed: nothing was published; the previous output is untouched.",
              file=sys.stderr)


def _engine_interrupted(error: Exception) -> bool:
    """True for the error the engine raises when Ctrl-C or SIGTERM arrives during a query
    (it replaces the KeyboardInterrupt that Python raised)."""
    import duckdb

    return isinstance(error, duckdb.InterruptException) or (
        isinstance(error, RuntimeError) and str(error) == "Query interrupted")


def _stopped(terminated: bool, published_to: Path | None = None) -> int:
    done = (f"the new site was published to {published_to} already" if published_to
            else "the previous output is untouched")
    print(f"{'terminated' if terminated else 'interrupted'}; {done}.", file=sys.stderr)
    return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED


def run() -> NoReturn:
    """The `carecard` program: :func:`main`, then exit with its code."""
    sys.exit(main())


def _warn(config_warnings: Sequence[str]) -> None:
    for warning in config_warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _warn_if_all_rejected(quality: QualityReport) -> None:
    """Rejected rows alone do not fail a build (SPEC §2), but a site with no row kept has no
    figures: say so, with the most common reasons, rather than report success quietly."""
    if quality.rows_read == 0 or quality.rows_rejected < quality.rows_read:
        return
    reasons: dict[str, int] = {}
    for drop in quality.drops:
        for reason, count in drop.rejected_by_reason.items():
            reasons[reason] = reasons.get(reason, 0) + count
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:3]
    listed = ", ".join(f"{reason} {count}" for reason, count in top)
    print(f"warning: all {quality.rows_read} rows read were rejected, so no figure has data "
          f"({listed}). Hint: run carecard check to see why; a wrong timestamp_format or "
          "column mapping is the usual cause.", file=sys.stderr)


def _build(args: argparse.Namespace) -> int:
    from generator.build import build

    result = build(args.config, output=args.output, strict=args.strict,
                   cache_folder=args.cache_dir, use_cache=not args.no_cache,
                   memory_limit=args.memory_limit, replace_output=args.replace_output)
    try:
        return _report_build(args, result)
    except KeyboardInterrupt as stop:  # a stop now does not undo what was published
        if not result.skipped:
            stop.published_to = result.output  # type: ignore[attr-defined]
        raise


def _report_build(args: argparse.Namespace, result: BuildResult) -> int:
    from generator.build import failing

    _warn(result.config.warnings)
    if result.checked is not None:
        _warn_if_all_rejected(result.checked.quality)
    digest = getattr(args, "digest", False)
    summary_to = sys.stderr if digest else sys.stdout
    if result.skipped:
        print(
            f"nothing changed: {result.output} is up to date ({result.pages} pages, "
            f"{result.charts} charts from {result.rows_read} rows, {result.rows_rejected} "
            f"rejected) in {result.seconds:.1f}s", file=summary_to,
        )
    else:
        print(
            f"built {result.pages} pages, {result.charts} charts from {result.rows_read} rows "
            f"({result.rows_rejected} rejected) in {result.seconds:.1f}s into {result.output}; "
            f"drops parsed {result.drops_parsed}, from cache {result.drops_from_cache}; "
            f"periods computed {len(result.periods_recomputed)}; "
            f"charts drawn {result.charts_drawn}, from cache {result.charts_from_cache}",
            file=summary_to,
        )
    if digest:
        # The digest of the site just published (or left as it was: nothing changed).
        sys.stdout.write((result.output / "data" / "digest.md").read_text(encoding="utf-8"))
        sys.stdout.flush()
    if args.fail_on:
        from generator.model import METRICS_BY_ID
        from generator.site.formatting import format_value

        units = {**{m.id: m.unit for m in result.config.policy.custom_metrics},
                 **{m: info.unit for m, info in METRICS_BY_ID.items()}}
        bad = failing(result.statuses, args.fail_on)
        for row in bad:
            where = "all" if row["dimension"] == "all" else (
                f"{row['dimension']} '{row['segment']}'")
            unit = units.get(str(row["metric"]), "")
            value = format_value(row["value"], unit)  # type: ignore[arg-type]
            goal = format_value(row["goal"], unit)  # type: ignore[arg-type]
            print(f"{row['status']}: {row['metric']} for {where} in {row['period']} is "
                  f"{value} (goal {goal})", file=sys.stderr)
        if bad:
            print(f"--fail-on {args.fail_on}: {len(bad)} figure(s) at or worse than "
                  f"{args.fail_on}.", file=sys.stderr)
            return EXIT_STATUS
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from generator.build import check, rejected_rows_failure
    from generator.errors import DataError

    checked = check(args.config, strict=args.strict, memory_limit=args.memory_limit,
                    rejected_rows_fail=False)
    quality = checked.quality
    _warn(checked.config.warnings)
    if not args.quiet:
        _report(quality, None if args.all else LISTED_BY_CHECK)
    failure = rejected_rows_failure(checked.config, quality, args.strict, listed=0)
    if failure:
        raise DataError(failure)
    _warn_if_all_rejected(quality)
    through = (f"data through {quality.data_through.isoformat()}" if quality.data_through
               else "no row kept, so no data-through time")
    beyond = sum(b.interactions for b in quality.beyond)
    if beyond:
        sources = ", ".join(dict.fromkeys(b.source for b in quality.beyond))
        through += (f" ({beyond} interaction{'s' * (beyond != 1)} of {sources} received after "
                    "it: in no figure until the lagging source catches up or is marked closed)")
    dropped = (f", {quality.values_dropped} field value{'s' * (quality.values_dropped != 1)} "
               "dropped" if quality.values_dropped else "")
    print(
        f"checked {len(quality.drops)} drops: {quality.rows_read} rows read, "
        f"{quality.rows_rejected} rejected{dropped}{_others(quality)}; {through}"
    )
    return EXIT_OK


def _others(quality: QualityReport) -> str:
    """', 3 before since, 1 retracted': the rows neither kept, superseded nor rejected."""
    counts = [(quality.rows_before_since, "before since"), (quality.rows_retracted, "retracted")]
    return "".join(f", {n} {what}" for n, what in counts if n)


def _serve(args: argparse.Namespace) -> int:
    from generator.serve import serve

    try:
        serve(args.config, host=args.host, port=args.port, interval=args.interval)
    except KeyboardInterrupt:
        pass  # Ctrl-C during the first build: nothing is being served yet
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    import shlex

    from generator.scaffold import init_site

    site = init_site(args.dir, force=args.force)
    for path in site.files:
        print(f"created {site.root / path}")
    print(f"next: cd {shlex.quote(str(site.root))} && carecard build   "
          "(then open output/index.html), or carecard serve for a live preview")
    return EXIT_OK


def _report(quality: QualityReport, listed: int | None) -> None:
    """The data-quality summary of `check`: row accounting, rejections (the first `listed`, or
    all when None; the others counted by reason), exclusions, threads."""
    width = max((len(d.file) for d in quality.drops), default=4)
    # The columns of rows counted otherwise appear when there are any (read balances).
    since = quality.rows_before_since > 0
    retracted = quality.rows_retracted > 0
    print(f"{'drop':<{width}}  {'read':>7} {'kept':>7} {'superseded':>10} {'rejected':>8}"
          + (f" {'before since':>12}" if since else "")
          + (f" {'retracted':>9}" if retracted else ""))
    for d in quality.drops:
        print(f"{d.file:<{width}}  {d.read:>7} {d.kept:>7} {d.superseded:>10} {d.rejected:>8}"
              + (f" {d.before_since:>12}" if since else "")
              + (f" {d.retracted:>9}" if retracted else ""))
    shown = quality.rejections[:listed]
    for rejection in shown:
        print(f"rejected: {rejection.message}")
    rest: dict[str, int] = {}
    for rejection in quality.rejections[len(shown):]:
        rest[rejection.reason] = rest.get(rejection.reason, 0) + 1
    if rest:
        reasons = ", ".join(f"{reason} {count}" for reason, count in
                            sorted(rest.items(), key=lambda item: (-item[1], item[0])))
        print(f"… and {sum(rest.values())} more rejected rows ({reasons}); carecard check "
              "--all lists every one, and a build writes them all to data/rejected.csv")
    for dropped in quality.fields_dropped:
        print(f"field dropped ({dropped.count} in the drop, rows kept with it empty): "
              f"{dropped.example}")
    for rule, count in quality.exclusions.items():
        print(f"excluded by '{rule}': {count}")
    for reason, count in quality.blackouts.items():
        print(f"left out of sla_attainment by blackout '{reason}': {count}")
    for threads in quality.threads:
        if threads.shape == "events":
            print(f"source '{threads.source}': {threads.messages} events in "
                  f"{threads.conversations} cases; {threads.orphans} events of cases with no "
                  "receipt event (not interactions, not rejected)")
            continue
        print(
            f"source '{threads.source}': {threads.messages} messages in "
            f"{threads.conversations} conversations; {threads.orphans} orphaned messages, "
            f"{threads.brand_initiated} brand-initiated threads (neither conversations nor "
            f"rejected); {threads.response_ids_disagreeing} listed response ids disagree with "
            "in_reply_to (a cross-check; in_reply_to is authoritative)"
        )
        if threads.response_time_unknown:
            print(f"source '{threads.source}': {threads.response_time_unknown} conversations "
                  "answered, time unknown (counted as answered; no first-response time)")


if __name__ == "__main__":  # python -m generator.cli
    run()
