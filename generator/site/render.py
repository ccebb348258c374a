"""Render the site model to bytes: HTML pages (Jinja2), SVG charts and theme assets.

The default theme is the repository's ``templates/`` folder, shipped in the wheel as the package
``generator.theme``. A site's own templates folder (``site.templates``) overrides it file by
file; an override can extend the original as ``theme/<name>`` (e.g.
``{% extends "theme/base.html" %}``).
"""

from __future__ import annotations

import csv
import gc
import hashlib
import importlib.resources
import io
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import jinja2

from generator.cache import Cache, Piece, code_digest, code_version
from generator.config.loader import Config
from generator.site.content import Content, load_content
from generator.site.contexts import DrillContext, SiteModel
from generator.site.drawing import ChartDrawer
from generator.errors import BuildError, Problem
from generator.model import BuildInfo, Figures, QualityReport
from generator.site.pages import build_site, context_fields
from generator.progress import progress

ASSETS = "assets"


def theme_dir() -> Path:
    """Return the default theme folder (installed package data, else the checkout's templates/)."""
    try:
        packaged = importlib.resources.files("generator") / "theme"
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, TypeError):
        pass
    import generator

    return Path(generator.__file__).resolve().parent.parent / "templates"


def make_environment(overrides: Path | None = None) -> jinja2.Environment:
    """Return the Jinja2 environment: overrides first, then the default theme."""
    theme = jinja2.FileSystemLoader(str(theme_dir()))
    loaders: list[jinja2.BaseLoader] = []
    if overrides is not None:
        loaders.append(jinja2.FileSystemLoader(str(overrides)))
    loaders += [theme, jinja2.PrefixLoader({"theme": theme})]
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml", "svg"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # One environment per build: no template changes under it, so no file checks per page.
        auto_reload=False,
    )


#: Receives each output file: its path and its bytes, or an engine-written file to move in.
Sink = Callable[[str, "bytes | Path"], None]


class RenderedRows:
    """The rendered rows of drill-through tables, found again in the pages the last build
    published: a list a new drop left unchanged is neither fetched nor rendered again.

    Each drill-through page's table rows are one piece of its HTML; the cache records, by a key
    of the list's rows and of the code and template that render them, which published page
    holds them where (`remember`). A later build reads that piece back (`load`) if the page is
    still the very file published (see `Cache.open_recalled`). Off without a cache, and for a
    site whose own templates replace `drill.html` or `_drill_rows.html` (such a template may
    show the rows otherwise: it gets them all).
    """

    KIND = "drill-rows"

    def __init__(
        self, cache: Cache | None, overrides: Path | None, output: Path | None = None
    ) -> None:
        replaced = overrides is not None and any(
            (overrides / name).exists() for name in ("drill.html", "_drill_rows.html"))
        self._cache = cache if cache is not None and cache.folder and not replaced else None
        self._output = output  # the folder the build replaces: where the last pages are
        self._placed: dict[str, tuple[str, int, int, str]] = {}  # key -> page, place, SHA-256
        self._known: dict[str, tuple[str, str]] = {}  # key -> rows loaded, their SHA-256
        self._version = ""
        if self._cache is not None:
            from importlib.metadata import version

            # All of the code (what is shown, how it is formatted, the template environment)
            # and the template; the list's digest covers the rows (and the engine).
            self._version = self._cache.key(
                self.KIND, code_version(), code_digest(str(theme_dir() / "_drill_rows.html")),
                version("jinja2"), version("markupsafe"))

    @property
    def enabled(self) -> bool:
        return self._cache is not None

    def load(self, digest: str) -> str | None:
        """The rendered rows of the list with this digest, if a published page holds them."""
        if self._cache is None or not digest:
            return None
        key = self._cache.key(self._version, digest)
        recalled = self._cache.open_recalled(self.KIND, key, self._output)
        if recalled is None:
            return None
        with recalled.stream as stream:
            try:
                stream.seek(recalled.offset)
                data = stream.read(recalled.length)
                rows = data.decode("utf-8") if len(data) == recalled.length else None
            except (OSError, ValueError, OverflowError):  # UnicodeDecodeError is a ValueError
                return None
        if rows is not None:
            self._known[key] = (rows, recalled.sha256)
        return rows

    def place(self, digest: str, path: str, page: bytes, rows_html: str) -> None:
        """Note where the page at `path` holds the rows of the list with this digest."""
        if self._cache is None or not digest:
            return
        piece = rows_html.encode("utf-8")
        offset = page.find(piece)
        if offset >= 0:  # a template that changed the rows on the way would not be found
            key = self._cache.key(self._version, digest)
            known = self._known.get(key)
            sha256 = known[1] if known is not None and known[0] == rows_html \
                else hashlib.sha256(piece).hexdigest()
            self._placed[key] = (path, offset, len(piece), sha256)

    def remember(self, output: Path) -> None:
        """Record where the published pages in `output` hold their rows."""
        if self._cache is None:
            return
        self._cache.remember_files(self.KIND, {
            key: Piece(output / path, offset, length, sha256)
            for key, (path, offset, length, sha256) in self._placed.items()
        }, output)


def render_site(
    config: Config,
    figures: Figures,
    quality: QualityReport,
    info: BuildInfo,
    drawer: ChartDrawer | None = None,
) -> dict[str, bytes]:
    """Return every HTML page, chart, page CSV and theme asset, keyed by output-relative path.

    The whole site is held in memory (tests, previews); a build streams it with `render_into`.
    """
    files: dict[str, bytes] = {}

    def put(path: str, data: bytes | Path) -> None:
        if path in files:
            raise BuildError(f"output path '{path}': written twice; two pages claim one file.")
        files[path] = data if isinstance(data, bytes) else data.read_bytes()

    render_into(put, config, figures, quality, info, drawer)
    return files


def render_into(
    put: Sink,
    config: Config,
    figures: Figures,
    quality: QualityReport,
    info: BuildInfo,
    drawer: ChartDrawer | None = None,
    rows: RenderedRows | None = None,
) -> None:
    """Hand every HTML page, chart, page CSV and theme asset to `put`, one at a time.

    Charts are drawn by `drawer` (default: no cache, across the available cores); `rows` notes
    where each drill-through page holds its table rows (see `RenderedRows`).
    """
    overrides = config.site.templates
    if overrides is not None and not overrides.is_dir():
        raise BuildError(Problem(
            f"{config.path.name}", "site.templates", "an existing folder", str(overrides)))
    content = load_content(config.root)
    try:
        model = _build_frozen(config, figures, quality, content, info)
        _render_model(put, model, overrides, drawer or ChartDrawer(), rows)
    finally:
        gc.unfreeze()


def _build_frozen(
    config: Config, figures: Figures, quality: QualityReport, content: Content, info: BuildInfo
) -> SiteModel:
    """`build_site`, keeping the cyclic garbage collector off the model until `gc.unfreeze()`.

    The model is a few hundred thousand small immutable objects (a view per drill-through row,
    per table cell) that live until the site is written and make no reference cycles; the
    collector walked them again and again as they piled up and while the pages rendered (a
    third of the CPU time of the pages at 1M interactions). So it is paused while the model is
    built, then everything alive is frozen (`gc.freeze`): out of every collection, and shared,
    not copied, by the chart workers forked next.
    """
    with _collector_paused():
        model = build_site(config, figures, quality, content, info)
        gc.freeze()  # before the collector is back on: the model is all in its youngest generation
    return model


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees), then restore it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _render_model(
    put: Sink, model: SiteModel, overrides: Path | None, drawer: ChartDrawer,
    rows: RenderedRows | None = None,
) -> None:
    env = make_environment(overrides)
    rows = rows or RenderedRows(None, overrides)  # off: every table rendered in its page
    # The charts are drawn in worker processes while this one renders the pages.
    with drawer.start([job.spec for job in model.charts]) as pending:
        # Rendering makes no reference cycles either, and what it allocates for a page is freed
        # as soon as the page is handed out; paused only here, after the workers forked (they
        # draw with the collector on).
        with _collector_paused():
            for page in progress(model.pages, len(model.pages), "rendering pages"):
                context = page.context
                if rows.enabled and page.rows_key and isinstance(context, DrillContext):
                    if context.rows_html is None:
                        context = _with_rows_html(env, context)
                    data = _render_page(env, page.template, page.path, context)
                    rows.place(page.rows_key, page.path, data, context.rows_html or "")
                else:
                    data = _render_page(env, page.template, page.path, context)
                put(page.path, data)
        charts = pending.result()
    for job, drawn in zip(model.charts, charts):
        if drawn.error:
            raise BuildError(
                f"chart '{job.path}' (for page '{job.page}'): drawing failed: {drawn.error}."
            )
        put(job.path, drawn.svg)
    for download in model.downloads:
        put(download.path, download.file or csv_bytes(download.columns, download.rows))
    for name, data in sorted(collect_assets(overrides).items()):
        put(f"{ASSETS}/{name}", data)


def _with_rows_html(env: jinja2.Environment, context: DrillContext) -> DrillContext:
    """The context with its table rows rendered apart (by `_drill_rows.html`)."""
    module = env.get_template("_drill_rows.html").module
    return replace(context, rows_html=module.interaction_rows(context.rows))  # type: ignore[attr-defined]


def csv_bytes(columns: Iterable[str], rows: Iterable[Iterable[object]]) -> bytes:
    """A UTF-8 CSV with LF line ends; numbers in shortest round-trip form, None as empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    table = [list(row) for row in rows]
    # Only the columns holding floats or booleans need converting (None is written as empty);
    # a column's type is that of its first non-empty cell.
    width = len(table[0]) if table else 0
    convert = [
        i for i in range(width)
        if isinstance(next((r[i] for r in table if r[i] is not None), None), (bool, float))
    ]
    for row in table:
        for i in convert:
            row[i] = csv_value(row[i])
    writer.writerows(table)
    return buffer.getvalue().encode("utf-8")


def csv_value(value: object) -> object:
    """A cell as csv_bytes writes it: booleans true/false, floats shortest, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return value


def collect_assets(overrides: Path | None = None) -> dict[str, bytes]:
    """Return the theme's assets (file name -> bytes), overridden file by file by the site's."""
    assets: dict[str, bytes] = {}
    for folder in (theme_dir() / ASSETS, overrides / ASSETS if overrides else None):
        if folder is not None and folder.is_dir():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    assets[path.relative_to(folder).as_posix()] = path.read_bytes()
    return assets


def _render_page(env: jinja2.Environment, template_name: str, path: str, context: object) -> bytes:
    try:
        template = env.get_template(template_name)
        return template.render(context_fields(context)).encode("utf-8")
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name or template_name}:{exc.lineno}"
        raise BuildError(Problem(
            where, f"template syntax error while rendering page '{path}'", found=exc.message or "",
        )) from exc
    except jinja2.TemplateNotFound as exc:
        raise BuildError(Problem(
            template_name, f"template not found while rendering page '{path}'",
            found=str(exc.name),
        )) from exc
    except Exception as exc:  # UndefinedError, TypeError in a filter, …
        where = _template_location(sys.exc_info()[2]) or template_name
        raise BuildError(Problem(
            where, f"rendering page '{path}' failed", found=f"{type(exc).__name__}: {exc}",
            hint="every variable a template uses must be a field of its context dataclass "
                 "(see generator/contexts.py).",
        )) from exc


def _template_location(tb: TracebackType | None) -> str:
    """Return 'file:line' of the innermost template frame of a traceback, or ''."""
    found = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".htm", ".xml", ".svg")):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found
