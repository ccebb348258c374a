"""The one writer of the site: confined to the output folder, atomic, never half-written.

:class:`SiteFiles` opens a staging folder beside the output folder and writes each file into it
as soon as it is added (nothing is held in memory, so a site of any size fits).
:func:`write_site` then swaps the staging folder with the output folder in one step (Linux
`renameat2` with RENAME_EXCHANGE), so a reader or a killed build sees either the previous site
or the new one, never a mixture and never nothing. Elsewhere it falls back to two renames, and
the next build restores the previous site if a kill fell between them. A killed build leaves
only a staging folder, which the next build removes (:func:`recover`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from generator.errors import BuildError, quote

log = logging.getLogger(__name__)

STAGING = ".staging-"
RETIRED = ".retired-"
#: Written into every site; an existing output folder without it is not carecard's to replace.
MARKER = ".carecard-site"
MARKER_TEXT = b"This folder is built by carecard and replaced whole on every build.\n"


class SiteFiles:
    """The site being built, written file by file into a staging folder beside `output`.

    Refuses unsafe paths and writing one path twice; holds the paths written, never the bytes.
    """

    def __init__(self, output: Path) -> None:
        self.output = output.resolve()
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix=f".{self.output.name}{STAGING}",
                                            dir=self.output.parent))
        self.published = False
        """True once :func:`write_site` has swapped the site in."""
        self._paths: set[str] = set()
        try:
            self._write(MARKER, MARKER_TEXT)
        except BaseException:  # Ctrl-C before the `with` holds this: remove the folder here
            self.discard()
            raise

    def add(self, path: str, data: bytes) -> None:
        """Write one file; raise BuildError for an absolute, escaping or duplicate path."""
        self._claim(path)
        self._write(path, data)

    def update(self, files: dict[str, bytes]) -> None:
        """Add many files (sorted, so errors are deterministic)."""
        for path in sorted(files):
            self.add(path, files[path])

    def paths(self) -> list[str]:
        """Every path written (the marker file aside), sorted."""
        return sorted(self._paths)

    def discard(self) -> None:
        """Remove the staging folder (a failed build); the output folder is untouched."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SiteFiles:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 *_: object) -> None:
        if kind is None:
            return
        if self.published and error is not None:
            # Stopped after the swap (while the previous site was removed, say): the new site
            # is out, and the error says so, for the message (see cli._stopped).
            error.published_to = self.output  # type: ignore[attr-defined]
        self.discard()  # a failed or interrupted build publishes nothing

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def _claim(self, path: str) -> None:
        pure = PurePosixPath(path)
        if (pure.is_absolute() or ".." in pure.parts or not pure.parts
                or path != pure.as_posix() or pure.parts[0] == MARKER):
            raise BuildError(f"output path '{path}': expected a relative path inside the site.")
        if path in self._paths:
            raise BuildError(f"output path '{path}': written twice; two pages claim one file.")
        self._paths.add(path)

    def _target(self, path: str) -> Path:
        target = self.folder / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise BuildError(f"output path '{path}': could not create its folder: "
                             f"{error}.") from None
        return target

    def _write(self, path: str, data: bytes) -> None:
        target = self._target(path)
        try:
            target.write_bytes(data)
        except OSError as error:
            raise BuildError(f"output path '{path}': could not write it: {error}.") from None


def check_output_dir(output: Path, root: Path, replace: bool = False) -> None:
    """Refuse an output folder that is the site root or holds (or is inside) the sources, or
    one that holds files but not carecard's marker (unless `replace`: --replace-output)."""
    out = output.resolve()
    site = root.resolve()
    if out == site or site.is_relative_to(out):
        raise BuildError(
            f"output folder '{output}': expected a folder inside or beside the site, found the "
            "site root or one of its parents. Hint: use --output output."
        )
    for protected in ("content", "templates", "generator", "tests", ".git"):
        if out == site / protected or out.is_relative_to(site / protected):
            raise BuildError(
                f"output folder '{output}': expected a folder of its own, found the site's "
                f"'{protected}' folder. Hint: use --output output."
            )
    if out.exists() and not out.is_dir():
        raise BuildError(f"output folder '{output}': expected a folder, found a file. "
                         "Hint: choose another --output.")
    if replace or not out.is_dir() or not any(out.iterdir()) or built_by_carecard(out):
        return
    names = sorted(p.name for p in out.iterdir())
    found = ", ".join(quote(name) for name in names[:3])
    if len(names) > 3:
        found += f" and {len(names) - 3} more"
    if (out / "data" / "summary.json").exists():
        raise BuildError(
            f"output folder '{output}': expected a site carecard built (with its marker file "
            f"'{MARKER}'), found a 'data/summary.json' without the marker (the folder holds "
            f"{found}). Hint: a site built by an earlier carecard has no marker; if nothing "
            "else in the folder is needed, pass --replace-output once (carecard replaces the "
            "whole folder on every build)."
        )
    raise BuildError(
        f"output folder '{output}': expected an empty folder or a site carecard built, "
        f"found other files ({found}). Hint: carecard replaces the whole folder on every "
        "build; choose another --output, or empty the folder first."
    )


def check_cache_dir(
    cache: Path, output: Path, root: Path, read: Sequence[tuple[str, Path]]
) -> None:
    """Refuse a cache folder that is the site root, lies inside a folder the build reads
    (`read`: what it holds, and the folder: content, templates, drops; a cache there would
    change the inputs on every build, or be read as a drop), or overlaps the output folder
    (each build replaces the output whole: it would publish the cache, or wipe it)."""
    folder, out, site = cache.resolve(), output.resolve(), root.resolve()
    hint = "Hint: leave --cache-dir out (the cache then goes to .carecard-cache/ beside "
    if folder == site:
        raise BuildError(f"cache folder '{cache}': expected a folder of its own, found the "
                         f"site root. {hint}config.yaml).")
    for what, place in read:
        if folder.is_relative_to(place.resolve()):
            raise BuildError(f"cache folder '{cache}': expected a folder of its own, found "
                             f"one inside the folder of the site's {what} ('{place}'). "
                             f"{hint}config.yaml).")
    if folder == out or folder.is_relative_to(out) or out.is_relative_to(folder):
        raise BuildError(
            f"cache folder '{cache}': expected a folder apart from the output folder "
            f"'{output}', found {'the same folder' if folder == out else 'one inside the other'}"
            f". {hint}config.yaml), or choose another --output."
        )

def built_by_carecard(folder: Path) -> bool:
    """True for a folder carecard wrote: it holds the marker file carecard writes into every
    site (a `data/summary.json` proves nothing: anyone can write one)."""
    return (folder / MARKER).is_file()


@contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """Hold the build lock of `output`: another build of the same site waits until this one has
    published (or failed), so that neither removes the other's staging folder.

    The lock is the parent folder's (an advisory `flock`, released by the kernel when the
    process ends however it ends); where there is no `flock`, nothing is locked.
    """
    try:
        import fcntl
    except ImportError:  # not a POSIX system
        yield
        return
    parent = output.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(parent, os.O_RDONLY)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another build of '%s' to finish", output)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # releases the lock


def recover(output: Path) -> None:
    """Undo what a killed build left: restore a retired site, remove stale staging folders."""
    output = output.resolve()
    parent = output.parent
    if not parent.is_dir():
        return
    retired = sorted(parent.glob(f".{output.name}{RETIRED}*"))
    if not output.exists() and retired:
        os.replace(retired[-1] / output.name, output)
    for stale in list(parent.glob(f".{output.name}{STAGING}*")) + retired:
        shutil.rmtree(stale, ignore_errors=True)


def write_site(files: SiteFiles) -> None:
    """Swap the staging folder of `files` in place of its output folder; discard it on failure."""
    output = files.output
    try:
        os.chmod(files.folder, 0o755)
        if output.exists():
            _swap(files.folder, output)
        else:
            os.replace(files.folder, output)
        files.published = True  # a stop from here on says the new site is out
        shutil.rmtree(files.folder, ignore_errors=True)  # the previous site, if there was one
    except OSError as error:
        files.discard()
        raise BuildError(f"output folder '{output}': could not write the site: {error}.") from None


def _swap(staging: Path, output: Path) -> None:
    """Exchange two folders atomically where the OS can; else retire, then replace."""
    if _exchange(staging, output):
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{output.name}{RETIRED}", dir=output.parent))
    os.replace(output, retired / output.name)
    os.replace(staging, output)
    os.replace(retired / output.name, staging)
    retired.rmdir()


def _exchange(first: Path, second: Path) -> bool:
    """Atomically exchange two paths with renameat2(RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second),
                       rename_exchange)
    return result == 0
