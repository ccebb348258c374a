"""Render the site model to bytes: HTML pages (Jinja2) with their charts, and theme assets.

The default theme is the repository's ``templates/`` folder, shipped in the wheel as the package
``generator.theme``. A site's own templates folder (``site.templates``) overrides it file by
file; an override can extend the original as ``theme/<name>`` (e.g.
``{% extends "theme/base.html" %}``).
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.resources
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import jinja2
from markupsafe import Markup

from generator.config.loader import Config
from generator.csvtext import csv_bytes
from generator.errors import BuildError, Problem
from generator.model import BuildInfo, Figures, QualityReport
from generator.progress import progress
from generator.site.content import load_content
from generator.site.contexts import SiteModel
from generator.site.drawing import ChartDrawer
from generator.site.pages import build_site, context_fields
from generator.site.siteindex import PRINT_STYLESHEET

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
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "htm", "xml", "svg"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # One environment per build: no template changes under it, so no file checks per page.
        auto_reload=False,
    )
    return env


def css_string(text: str) -> str:
    """`text` as a quoted CSS string: every character but letters, digits, spaces and a few
    safe marks is a hex escape, so nothing from config can end the string or the rule."""
    safe = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:-")
    return '"' + "".join(c if c in safe else f"\\{ord(c):06x}" for c in text) + '"'


def print_header_css(text: str) -> bytes:
    """The stylesheet that puts `text` at the top of every printed sheet."""
    return f"@page {{ @top-left {{ content: {css_string(text)}; }} }}\n".encode()


#: Receives each output file: its path and its bytes.
Sink = Callable[[str, bytes], None]


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

    def put(path: str, data: bytes) -> None:
        if path in files:
            raise BuildError(f"output path '{path}': written twice; two pages claim one file.")
        files[path] = data

    render_into(put, config, figures, quality, info, drawer)
    return files


def render_into(
    put: Sink,
    config: Config,
    figures: Figures,
    quality: QualityReport,
    info: BuildInfo,
    drawer: ChartDrawer | None = None,
) -> None:
    """Hand every HTML page, chart, page CSV and theme asset to `put`, one at a time.

    Charts are drawn by `drawer` (default: without a cache).
    """
    overrides = config.site.templates
    if overrides is not None and not overrides.is_dir():
        raise BuildError(Problem(
            f"{config.path.name}", "site.templates", "an existing folder", str(overrides)))
    content = load_content(config.root)
    with _collector_paused():
        model = build_site(config, figures, quality, content, info)
        _render_model(put, model, overrides, drawer or ChartDrawer())


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (reference counting still frees), then restore it.

    The site model is a few hundred thousand small immutable objects (a view per drill-through
    row, per table cell) that make no reference cycles, and neither does rendering; the
    collector walked them again and again as they piled up (a third of the CPU time of the
    pages at 1M interactions).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _render_model(put: Sink, model: SiteModel, overrides: Path | None,
                  drawer: ChartDrawer) -> None:
    env = make_environment(overrides)
    # Charts are drawn first: a page holds its chart's panels (inline SVG).
    drawn = drawer.draw([job.spec for job in model.charts],
                        [f"of page '{job.page}'" for job in model.charts])
    charts = {job.page: Markup(panels.decode("utf-8"))
              for job, panels in zip(model.charts, drawn)}
    for page in progress(model.pages, len(model.pages), "rendering pages"):
        context = page.context
        if page.path in charts:
            context = with_chart(context, charts[page.path])
        put(page.path, _render_page(env, page.template, page.path, context))
    for download in model.downloads:
        put(download.path, download.data or csv_bytes(download.columns, download.rows))
    for name, data in sorted(collect_assets(overrides).items()):
        put(f"{ASSETS}/{name}", data)
    put(PRINT_STYLESHEET, print_header_css(model.print_header))


def with_chart(context: object, panels: Markup) -> object:
    """`context` (a context with a `chart: ChartView`) with the chart's drawn panels."""
    chart = getattr(context, "chart", None)
    if chart is None:
        return context
    return dataclasses.replace(context, chart=dataclasses.replace(chart, panels=panels))  # type: ignore[type-var]


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
