"""The build cache: every unit of work of the last build, keyed by the content of its inputs.

Everything is keyed by content hashes (never modification times, which CI checkouts reset), so
the cache is safe to delete: a missing entry is recomputed, and a corrupt one is recomputed with
a warning. Layout under the cache folder (default `.carecard-cache/` beside config.yaml):

    staged/<key>.parquet    one parsed drop, mapped onto canonical fields (key: its content,
                            its source's settings and the code that read it)
    staged/<key>.json       the export columns that drop had
    messages/<key>.parquet  one message-level drop, mapped onto the message fields (raw text)
    charts/<key>.svg        one drawn chart
    aggregates/<key>.parquet the aggregates of one period (key: its judged rows, the config
                            and the code)
    drill/<key>.csv         one drill-through list's CSV (key: a digest of its rows)
    last-build-N.json       fingerprint of the inputs and the output of the last build,
                            and what its summary line said
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from generator import __version__

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)
#: The folders of the cache's entries, each file keyed by content (see the module header).
ENTRY_KINDS = ("staged", "messages", "aggregates", "drill", "charts")
#: Bump when the layout of cached tables changes.
CACHE_FORMAT = "2"


@dataclass
class Cache:
    """A cache folder (or none: `folder` None disables caching)."""

    folder: Path | None
    hits: int = 0
    misses: int = 0
    corrupt: list[str] = field(default_factory=list)
    used: set[Path] = field(default_factory=set, repr=False)
    """Every entry this build looked up or stored (see :meth:`prune`)."""

    def key(self, *parts: str) -> str:
        """A content key over `parts`, the carecard version and the cache format."""
        text = "\x1f".join((__version__, CACHE_FORMAT, *parts))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def path(self, kind: str, key: str, suffix: str) -> Path | None:
        """Where an entry lives, or None when caching is off."""
        if self.folder is None:
            return None
        path = self.folder / kind / f"{key}{suffix}"
        self.used.add(path)
        return path

    def prune(self) -> int:
        """Remove the entries this build did not use (a parsed drop that is gone, the figures
        of a period before its last drop, a chart that changed): the cache keeps what the
        next build can reuse, not every build's. Return how many were removed."""
        if self.folder is None:
            return 0
        removed = 0
        for kind in ENTRY_KINDS:
            folder = self.folder / kind
            for entry in folder.iterdir() if folder.is_dir() else ():
                if entry.is_file() and entry not in self.used:
                    entry.unlink(missing_ok=True)
                    removed += 1
        return removed

    def parquet_entry(self, con: duckdb.DuckDBPyConnection, kind: str, key: str) -> Path | None:
        """The path of a readable cached Parquet entry, or None (absent, or corrupt: removed)."""
        import duckdb

        path = self.path(kind, key, ".parquet")
        if path is None or not path.is_file():
            return None
        try:
            con.execute(f"SELECT count(*) FROM read_parquet('{_sql_path(path)}')").fetchone()
        except duckdb.Error:
            log.warning("cache entry '%s' is corrupt; computing it again", path.name)
            self.corrupt.append(path.name)
            path.unlink(missing_ok=True)
            return None
        return path

    def store_table(
        self, con: duckdb.DuckDBPyConnection, table: str, key: str, kind: str = "staged"
    ) -> None:
        """Write `table` (a table name or a parenthesised query) to the cache, atomically."""
        path = self.path(kind, key, ".parquet")
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(suffix=".parquet", dir=path.parent)
            os.close(handle)
            con.execute(
                f"COPY {table} TO '{_sql_path(Path(temporary))}' (FORMAT parquet)"
            )
            os.replace(temporary, path)
        except OSError as error:
            log.warning("could not write the cache folder '%s': %s", self.folder, error)

    def load_bytes(self, kind: str, key: str, suffix: str) -> bytes | None:
        """A cached file's bytes (checked against the digest stored with them), or None."""
        path = self.path(kind, key, suffix)
        if path is None or not path.is_file():
            return None
        stored = path.read_bytes()
        digest, _, data = stored.partition(b"\n")
        if hashlib.sha256(data).hexdigest().encode() != digest:
            log.warning("cache entry '%s' is corrupt; computing it again", path.name)
            self.corrupt.append(path.name)
            path.unlink(missing_ok=True)
            return None
        return data

    def store_bytes(self, kind: str, key: str, suffix: str, data: bytes) -> None:
        """Store bytes under a key, preceded by their digest (atomically)."""
        path = self.path(kind, key, suffix)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(suffix=suffix, dir=path.parent)
            with os.fdopen(handle, "wb") as stream:
                stream.write(hashlib.sha256(data).hexdigest().encode() + b"\n" + data)
            os.replace(temporary, path)
        except OSError as error:
            log.warning("could not write the cache folder '%s': %s", self.folder, error)

    def last_build(self) -> dict[str, object] | None:
        """The fingerprint of the last build, or None (absent or corrupt)."""
        data = self.load_bytes(".", f"last-build-{CACHE_FORMAT}", ".json")
        if data is None:
            return None
        try:
            value = json.loads(data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def remember_build(self, fingerprint: dict[str, object]) -> None:
        """Record the fingerprint of a successful build."""
        data = json.dumps(fingerprint, sort_keys=True).encode("utf-8")
        self.store_bytes(".", f"last-build-{CACHE_FORMAT}", ".json", data)


@cache
def code_version() -> str:
    """SHA-256 of all of carecard's code (the `generator` package's modules): a key of what
    the code makes, when any module may take part."""
    package = Path(__file__).resolve().parent
    return files_digest(sorted(package.rglob("*.py")), package)


@cache
def code_digest(module_file: str) -> str:
    """SHA-256 of a module's source: cache keys change when the code that made them does."""
    return hashlib.sha256(Path(module_file).read_bytes()).hexdigest()


def output_state(folder: Path) -> str:
    """A cheap fingerprint of an output folder: every file's path, size and mtime."""
    digest = hashlib.sha256()
    if not folder.is_dir():
        return ""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder).as_posix()}\0{stat.st_size}\0"
                          f"{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def files_digest(paths: list[Path], root: Path) -> str:
    """A content digest of files (path relative to root + bytes), in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")
