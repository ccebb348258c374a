"""The build cache: parsed drops and the fingerprint of the last build, keyed by content.

Everything is keyed by content hashes (never modification times, which CI checkouts reset), so
the cache is safe to delete: a missing entry is recomputed, and a corrupt one is recomputed with
a warning. Layout under the cache folder (default `.carecard-cache/` beside config.yaml):

    staged/<key>.parquet    one parsed drop, mapped onto canonical fields (key: its content,
                            its source's settings and the code that read it)
    staged/<key>.json       the export columns that drop had
    messages/<key>.parquet  one message-level drop, mapped onto the message fields (raw text)
    charts/<key>.svg        one drawn chart
    files-drill-rows-N.json where the last build's drill-through pages hold their table rows
                            (page, identity, offset, length, SHA-256), by a key of the list's
                            rows and the code and template that rendered them: a later build
                            reads the rows of an unchanged list from there instead of
                            rendering them
    files-drill-N.json      where the last build published each drill-through list (key: its
                            rows), with inode, size, modification and change times and SHA-256;
                            a later build links those files, if they are still the ones
                            published (or hold the same bytes: an output folder restored by
                            CI), instead of writing the same lists again
    last-build-N.json       fingerprint of the inputs and the output of the last build
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, TypeGuard

from generator import __version__

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)
#: Bump when the layout of cached tables changes.
CACHE_FORMAT = "2"


@dataclass
class Cache:
    """A cache folder (or none: `folder` None disables caching)."""

    folder: Path | None
    hits: int = 0
    misses: int = 0
    corrupt: list[str] = field(default_factory=list)
    _recalled: dict[str, dict[str, object]] = field(default_factory=dict, repr=False)

    def key(self, *parts: str) -> str:
        """A content key over `parts`, the carecard version and the cache format."""
        text = "\x1f".join((__version__, CACHE_FORMAT, *parts))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def path(self, kind: str, key: str, suffix: str) -> Path | None:
        """Where an entry lives, or None when caching is off."""
        if self.folder is None:
            return None
        return self.folder / kind / f"{key}{suffix}"

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

    def remember_files(
        self, kind: str, pieces: dict[str, Piece], output: Path | None = None
    ) -> None:
        """Record where the build published the pieces of `kind`, by content key: the file,
        its path in `output` (the site's folder), what identifies it as the file written, and
        the piece's place and SHA-256 (a piece whose file is gone meanwhile is left out)."""
        entries = {}
        root = output.resolve() if output is not None else None
        for key, piece in pieces.items():
            try:
                path = piece.path.resolve()
                stat = path.stat()
                length = stat.st_size - piece.offset if piece.length is None else piece.length
                digest = piece.sha256 or _piece_sha256(path, piece.offset, length)
            except OSError:
                continue
            site = path.relative_to(root).as_posix() if root and path.is_relative_to(root) \
                else None
            entries[key] = {"path": str(path), "site": site, "id": _identity(stat),
                            "piece": [piece.offset, length], "whole": piece.length is None,
                            "sha256": digest}
        data = json.dumps(entries, sort_keys=True).encode("utf-8")
        self.store_bytes(".", f"files-{kind}-{CACHE_FORMAT}", ".json", data)

    def open_recalled(
        self, kind: str, key: str, output: Path | None = None
    ) -> Recalled | None:
        """The published file of `kind` with content key `key`, opened for reading at its
        start, with the piece's place and SHA-256; None if it is gone or changed.

        The file is the one published if it is still that very file: same inode, size, and
        modification and change times, checked on the open file (so that a file swapped in
        by name meanwhile is never read). Writing to a file, or setting its times back,
        changes its change time (which nothing but the system clock sets), so an edited file
        is never taken for the one published. A file that is not (an output folder restored
        from a CI cache, or moved along with its site: new inodes) is still taken if its
        piece has the recorded SHA-256, at the recorded path or at its place in `output`.
        The caller closes the file.
        """
        entry = self._recalled_entries(kind).get(key)
        if not _is_entry(entry):
            return None
        offset, length = entry["piece"]
        places = [Path(entry["path"])]
        site = PurePosixPath(entry["site"]) if entry["site"] is not None else None
        if output is not None and site and not site.is_absolute() and ".." not in site.parts:
            moved = output.resolve() / site
            if moved != places[0]:
                places.append(moved)
        for place in places:
            try:
                stream = open(place, "rb")
            except (OSError, ValueError):  # ValueError: a NUL in a corrupt record's path
                continue
            try:
                stat = os.fstat(stream.fileno())
                if place == places[0] and _identity(stat) == entry["id"]:
                    return Recalled(stream, offset, length, entry["sha256"])
                if ((stat.st_size == offset + length if entry["whole"]
                     else stat.st_size >= offset + length)
                        and _stream_sha256(stream, offset, length) == entry["sha256"]):
                    stream.seek(0)
                    return Recalled(stream, offset, length, entry["sha256"])
            except OSError:
                pass
            stream.close()
        return None

    def _recalled_entries(self, kind: str) -> dict[str, object]:
        if kind not in self._recalled:
            data = self.load_bytes(".", f"files-{kind}-{CACHE_FORMAT}", ".json")
            try:
                loaded = json.loads(data) if data is not None else {}
            except ValueError:
                loaded = {}
            self._recalled[kind] = loaded if isinstance(loaded, dict) else {}
        return self._recalled[kind]

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


class Recalled(NamedTuple):
    """A published piece found again (see :meth:`Cache.open_recalled`)."""

    stream: BinaryIO
    """The file, open at its start; the caller closes it."""
    offset: int
    length: int
    sha256: str


@dataclass(frozen=True)
class Piece:
    """A piece of a published file, for :meth:`Cache.remember_files`."""

    path: Path
    offset: int = 0
    length: int | None = None
    """None: the whole file."""
    sha256: str | None = None
    """Of the piece's bytes, if the caller has them; else the piece is read and hashed."""


def _is_entry(entry: object) -> TypeGuard[dict[str, Any]]:
    """A well-formed record of one published piece."""
    if not (isinstance(entry, dict) and isinstance(entry.get("id"), list)
            and isinstance(entry.get("piece"), list)):
        return False
    numbers = [*entry["id"], *entry["piece"]]
    return (isinstance(entry.get("path"), str) and isinstance(entry.get("sha256"), str)
            and isinstance(entry.get("site"), str | None) and isinstance(entry.get("whole"), bool)
            and len(entry["piece"]) == 2 and len(numbers) == 7
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers))


def file_sha256(path: Path) -> str:
    """The SHA-256 of a whole file (hex)."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _piece_sha256(path: Path, offset: int, length: int) -> str:
    with open(path, "rb") as stream:
        return _stream_sha256(stream, offset, length)


def _stream_sha256(stream: BinaryIO, offset: int, length: int) -> str:
    stream.seek(offset)
    digest = hashlib.sha256()
    while length > 0:
        chunk = stream.read(min(length, 1 << 20))
        if not chunk:
            break
        digest.update(chunk)
        length -= len(chunk)
    return digest.hexdigest() if length == 0 else ""


def _identity(stat: os.stat_result) -> list[int]:
    """Inode, device, size, modification and change time (ns): what changes when a file is
    replaced, written or has its times set."""
    return [stat.st_ino, stat.st_dev, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")
