"""Load the site's Markdown content: pages (`content/*.md`) and per-period commentary.

Pages carry YAML front matter (``title``, ``order``) between ``---`` lines. Commentary lives in
``content/commentary/<period label>.md`` (``2026-W47.md``, ``2026-10.md``) and is shown on that
period's page. Markdown is converted with the ``markdown`` library (tables, fenced code); raw
HTML in the source is never passed through (it is shown as text), and the rendered HTML is
cleaned by the sanitiser ``nh3`` with an allow-list of elements, attributes and URL schemes:
links are relative, http(s) or mailto and never to another host by a protocol-relative path;
images are files of the site. Content cannot inject script into the site or make a page fetch
anything from elsewhere.

Relative links in content are written relative to the site root (``definitions.html``,
``segments/channel/email.html``); :func:`render_markdown` rewrites them for the page that shows
the content.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from generator.config.loader import SafeLoader, YamlTooDeep
from generator.errors import ConfigError, Problem

_FRONT_MATTER_KEYS = ("title", "order")


@dataclass(frozen=True)
class ContentPage:
    """One Markdown page of `content/*.md`, published as `pages/<stem>.html`."""

    stem: str
    """File name without `.md`; the page's URL is `pages/<stem>.html`."""
    title: str
    """Front-matter `title` (default: the stem with dashes as spaces, capitalised)."""
    order: int
    """Front-matter `order` (default 0); pages are listed by (order, title)."""
    markdown: str
    """The Markdown body: the front matter's lines are blank, so lines keep their numbers."""
    source: str
    """Path of the file relative to the site root (for messages)."""


@dataclass(frozen=True)
class Commentary:
    """Commentary for one period, from `content/commentary/<label>.md`."""

    label: str
    """The period label (`2026-W47`, `2026-10`, `2026-Q4`, `2026-11-23`)."""
    title: str
    """Front-matter `title` ('' when none)."""
    markdown: str
    """The Markdown body: the front matter's lines, if any, are blank (lines keep numbers)."""
    source: str
    """Path of the file relative to the site root (for messages)."""


@dataclass(frozen=True)
class Content:
    """All Markdown content of a site."""

    pages: tuple[ContentPage, ...] = ()
    """Content pages sorted by (order, title)."""
    commentary: dict[str, Commentary] | None = None
    """Period label -> its commentary (None behaves as empty)."""
    warnings: tuple[str, ...] = ()
    """Non-fatal problems (unknown front-matter keys), already formatted."""

    def commentary_for(self, label: str) -> Commentary | None:
        """Return the commentary of the period `label`, if any."""
        return (self.commentary or {}).get(label)


def load_content(root: Path) -> Content:
    """Read `root/content/*.md` and `root/content/commentary/*.md`; raise ConfigError if invalid."""
    folder = root / "content"
    problems: list[Problem] = []
    warnings: list[str] = []
    pages: list[ContentPage] = []
    commentary: dict[str, Commentary] = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.md")):
            rel = _relative(path, root)
            meta, body = _split_front_matter(path, rel, problems)
            title = meta.values.get(
                "title", path.stem.replace("-", " ").replace("_", " ").capitalize())
            order = meta.values.get("order", 0)
            ok = True
            if not isinstance(title, str) or not title.strip():
                problems.append(Problem(
                    f"{rel}:{meta.line('title')}", "title", "a non-empty text", str(title),
                ))
                ok = False
            if isinstance(order, bool) or not isinstance(order, int):
                problems.append(Problem(
                    f"{rel}:{meta.line('order')}", "order", "a whole number", str(order),
                ))
                ok = False
            for key in meta.values:
                if key not in _FRONT_MATTER_KEYS:
                    warnings.append(str(Problem(
                        f"{rel}:{meta.line(key)}", f"unknown front-matter key {key!r}",
                        hint="use 'title' and 'order'.",
                    )))
            if ok and isinstance(title, str) and isinstance(order, int):
                pages.append(ContentPage(path.stem, title.strip(), order, body, rel))
        comment_folder = folder / "commentary"
        if comment_folder.is_dir():
            for path in sorted(comment_folder.glob("*.md")):
                rel = _relative(path, root)
                meta, body = _split_front_matter(path, rel, problems)
                note_title = meta.values.get("title", "")
                if not isinstance(note_title, str):
                    problems.append(Problem(f"{rel}:{meta.line('title')}", "title", "text",
                                            str(note_title)))
                    note_title = ""
                commentary[path.stem] = Commentary(path.stem, note_title.strip(), body, rel)
    if problems:
        raise ConfigError(problems)
    pages.sort(key=lambda p: (p.order, p.title, p.stem))
    return Content(tuple(pages), commentary, tuple(warnings))


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class _FrontMatter:
    values: dict[str, object] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)

    def line(self, key: str) -> int:
        """Line of `key` in the file (1 when unknown)."""
        return self.lines.get(key, 1)


def _split_front_matter(
    path: Path, rel: str, problems: list[Problem]
) -> tuple[_FrontMatter, str]:
    """Return (front matter, body); record problems."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem(rel, "cannot decode the file", "UTF-8 text", exc.reason))
        return _FrontMatter(), ""
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return _FrontMatter(), text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        problems.append(Problem(
            f"{rel}:1", "front matter", "a closing '---' line", "end of file",
            hint="close the front matter with a line of three dashes.",
        ))
        return _FrontMatter(), ""
    block = "\n".join(lines[1:end])
    # Blank lines stand in for the front matter, so that line N of the body is line N of the
    # file in messages (figure() errors); Markdown ignores leading blank lines.
    body = "\n" * (end + 1) + "\n".join(lines[end + 1:])
    try:
        node = yaml.compose(block, Loader=SafeLoader)
        data = yaml.load(block, Loader=SafeLoader)
    except YamlTooDeep as exc:
        problems.append(exc.problem(f"{rel}:{exc.line + 2}", "front matter",
                                    "front matter holds 'title' and 'order'."))
        return _FrontMatter(), body
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        problems.append(Problem(
            f"{rel}:{line}", f"front matter is not valid YAML ({problem})",
            hint="write it as 'key: value' lines between two '---' lines.",
        ))
        return _FrontMatter(), body
    if data is None:
        return _FrontMatter(), body
    if not isinstance(data, dict):
        problems.append(Problem(
            f"{rel}:2", "front matter", "a mapping like 'title: About'", block.strip(),
        ))
        return _FrontMatter(), body
    key_lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _value in node.value:
            key_lines[str(key_node.value)] = key_node.start_mark.line + 2
    return _FrontMatter({str(k): v for k, v in data.items()}, key_lines), body


# --- Markdown ----------------------------------------------------------------------------------

#: Elements content may produce (what the Markdown extensions in use write); any other is
#: reduced to its text.
ALLOWED_TAGS = frozenset({
    "a", "abbr", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "img", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr",
    "ul",
})
#: Attributes kept, per element; every other attribute (event handlers, style …) is dropped.
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"}, "abbr": {"title"}, "code": {"class"},
    "img": {"alt", "src", "title"}, "td": {"style"}, "th": {"style"},
}
#: Schemes a link may have; an image has none (it is a file of the site).
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_CODE_CLASS = re.compile(r"language-[A-Za-z0-9_+#.-]+")
_BROWSER_STRIPS = re.compile(r"[\t\n\r]")
_IMG = re.compile(r'<img((?:\s+[\w:-]+(?:="[^"]*")?)*)\s*/?>')
_ALT = re.compile(r'\salt="([^"]*)"')


def render_markdown(text: str, root: str = "") -> str:
    """Convert Markdown to safe HTML; prefix site-root-relative links with `root`.

    Raw HTML in the Markdown is shown as text; the rendered HTML is then cleaned by the
    maintained sanitiser nh3 with an allow-list of elements, attributes and URL schemes
    (:func:`sanitise_html`).
    """
    import markdown  # type: ignore[import-untyped,unused-ignore]
    from markdown.extensions import Extension  # type: ignore[import-untyped,unused-ignore]

    class _RawHtmlAsText(Extension):
        def extendMarkdown(self, md: markdown.Markdown) -> None:
            md.preprocessors.deregister("html_block")
            md.inlinePatterns.deregister("html")

    md = markdown.Markdown(extensions=["tables", "fenced_code", _RawHtmlAsText()],
                           output_format="html")
    return sanitise_html(md.convert(text), root)


def sanitise_html(fragment: str, root: str = "") -> str:
    """Clean an HTML fragment with nh3: allowed elements and attributes only; links relative,
    `https:`, `http:` or `mailto:` and never to another host by a protocol-relative or
    backslashed path; images files of the site (others are replaced by their alt text)."""
    import nh3

    def attribute(tag: str, name: str, value: str) -> str | None:
        # nh3 does not check what this returns: each branch returns only a safe value.
        if name == "href":
            return _link_url(value, root)
        if name == "src":
            return _image_url(value, root)
        if name == "class":
            return value if _CODE_CLASS.fullmatch(value) else None
        return value

    cleaned = nh3.clean(
        fragment, tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(LINK_SCHEMES), attribute_filter=attribute,
        filter_style_properties={"text-align"}, strip_comments=True,
    )
    return _IMG.sub(_image_or_alt, cleaned)


def _as_browser_reads(url: str) -> str:
    """The URL as a browser takes it: outer spaces and controls stripped, tabs and line breaks
    removed, backslashes read as slashes (so `/\\host` is `//host`, another site)."""
    return _BROWSER_STRIPS.sub("", url.strip("".join(map(chr, range(33))))).replace("\\", "/")


def _link_url(url: str, root: str) -> str | None:
    """A link's URL to publish, or None: another scheme, or another host without one."""
    seen = _as_browser_reads(url)
    scheme = _SCHEME.match(seen)
    if scheme:
        return seen if scheme.group(1).lower() in LINK_SCHEMES else None
    if seen.startswith("//"):
        return None  # protocol-relative: a request leaving the site
    if seen.startswith(("#", "/", "../", "./")):
        return seen
    return root + seen


def _image_url(url: str, root: str) -> str | None:
    """An image's URL: a file of the site (root-relative, without `..`), or None."""
    seen = _as_browser_reads(url)
    if not seen or _SCHEME.match(seen) or seen.startswith(("/", "#", "?")):
        return None
    if ".." in seen.split("?", 1)[0].split("#", 1)[0].split("/"):
        return None
    return root + seen


def _image_or_alt(match: re.Match[str]) -> str:
    """An image whose source was refused, replaced by its alt text (an <img> without src is
    invalid HTML); nh3's output escapes attribute values, so the alt text is safe as text."""
    if ' src="' in match.group(0):
        return match.group(0)
    alt = _ALT.search(match.group(1))
    return html.escape(html.unescape(alt.group(1)), quote=False) if alt else ""
