"""The one writer of the site: confined to the output folder, atomic, never half-written.

Files are gathered in memory first (:class:`SiteFiles`); :func:`write_site` writes them to a
staging folder next to the output folder and swaps it in only when everything was written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from generator.errors import BuildError


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
    for protected in ("content", "templates", "generator", "tests"):
        if out == site / protected or out.is_relative_to(site / protected):
            raise BuildError(
                f"output folder '{output}': expected a folder of its own, found the site's "
                f"'{protected}' folder. Hint: use --output output."
            )


def write_site(files: SiteFiles, output: Path) -> None:
    """Write every file to a staging folder, then swap it in place of `output`."""
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.staging-", dir=output.parent))
    try:
        for path, data in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        os.chmod(staging, 0o755)
        retired = None
        if output.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))
            os.replace(output, retired / output.name)
        os.replace(staging, output)
        if retired is not None:
            shutil.rmtree(retired, ignore_errors=True)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise BuildError(f"output folder '{output}': could not write the site: {error}.") from None
