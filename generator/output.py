"""The one writer of the site: confined to the output folder, atomic, never half-written.

Files are gathered in memory first (:class:`SiteFiles`); :func:`write_site` writes them to a
staging folder beside the output folder and swaps the two in one step (Linux `renameat2` with
RENAME_EXCHANGE), so a reader or a killed build sees either the previous site or the new one,
never a mixture and never nothing. Elsewhere it falls back to two renames, and the next build
restores the previous site if a kill fell between them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path, PurePosixPath

from generator.errors import BuildError

STAGING = ".staging-"
RETIRED = ".retired-"
#: Written into every site; an existing output folder without it is not carecard's to replace.
MARKER = ".carecard-site"
MARKER_TEXT = b"This folder is built by carecard and replaced whole on every build.\n"


class SiteFiles:
    """Output-relative POSIX path -> bytes; refuses unsafe paths and writing one path twice."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}

    def add(self, path: str, data: bytes) -> None:
        """Add one file; raise BuildError for an absolute, escaping or duplicate path."""
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts or path != pure.as_posix():
            raise BuildError(f"output path '{path}': expected a relative path inside the site.")
        if path in self._files:
            raise BuildError(f"output path '{path}': written twice; two pages claim one file.")
        self._files[path] = data

    def update(self, files: dict[str, bytes]) -> None:
        """Add many files (sorted, so errors are deterministic)."""
        for path in sorted(files):
            self.add(path, files[path])

    def items(self) -> list[tuple[str, bytes]]:
        """All files, sorted by path."""
        return sorted(self._files.items())

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, path: object) -> bool:
        return path in self._files


def check_output_dir(output: Path, root: Path) -> None:
    """Refuse an output folder that is the site root or holds (or is inside) the sources."""
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
    if out.is_dir() and any(out.iterdir()) and not built_by_carecard(out):
        found = ", ".join(sorted(p.name for p in out.iterdir())[:3])
        raise BuildError(
            f"output folder '{output}': expected an empty folder or a site carecard built, "
            f"found other files ('{found}'…). Hint: carecard replaces the whole folder on every "
            "build; choose another --output, or empty the folder first."
        )


def built_by_carecard(folder: Path) -> bool:
    """True for a folder carecard wrote (its marker, or a carecard summary.json)."""
    if (folder / MARKER).is_file():
        return True
    summary = folder / "data" / "summary.json"
    try:
        return json.loads(summary.read_text(encoding="utf-8")).get("tool") == "carecard"
    except (OSError, ValueError, AttributeError):
        return False


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


def write_site(files: SiteFiles, output: Path) -> None:
    """Write every file to a staging folder, then swap it in place of `output`."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    recover(output)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}{STAGING}", dir=output.parent))
    try:
        (staging / MARKER).write_bytes(MARKER_TEXT)
        for path, data in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        os.chmod(staging, 0o755)
        if output.exists():
            _swap(staging, output)
            shutil.rmtree(staging, ignore_errors=True)  # now holds the previous site
        else:
            os.replace(staging, output)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
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
