"""Files named by a URL (``s3://``, ``gs://``, ``https://``, ``file://``, ``memory://``):
read through fsspec, the Python ecosystem's file-system layer (the optional extra
``steepest[remote]``; ``s3fs``, ``gcsfs`` and the like for each store).

``as_path`` gives a ``RemotePath`` for a URL and a ``pathlib.Path`` otherwise; a
``RemotePath`` answers the few questions the readers ask a ``Path`` (its name and
suffix, whether it is a file, its size and time of change, and ``open``), so that the
same readers read both. A streamed file is read by ranges (``seek`` and ``readinto``
of fsspec's buffered files: one request a chunk), never downloaded whole.

Example:
    >>> import fsspec
    >>> with fsspec.open("memory://steepest-doc/t.csv", "w") as file:
    ...     _ = file.write("x,y\\n1,2\\n2,4\\n")
    >>> path = as_path("memory://steepest-doc/t.csv")
    >>> path.name, path.suffix, path.is_file(), path.stat().st_size
    ('t.csv', '.csv', True, 12)
    >>> path.open().readline()
    'x,y\\n'
    >>> path.open("wb")
    Traceback (most recent call last):
    ...
    ValueError: memory://steepest-doc/t.csv: steepest reads remote files, it writes none
"""

import dataclasses
import io
import os
import posixpath
import zlib
from pathlib import Path

from .dataset import DataError


def is_url(path) -> bool:
    """Whether ``path`` is a URL (``scheme://...``) rather than a local path.

    Example:
        >>> is_url("s3://bucket/runs.parquet"), is_url("runs/x.npy"), is_url(Path("a"))
        (True, False, False)
    """
    if not isinstance(path, str):
        return False
    scheme, separator, _ = path.partition("://")
    return bool(separator) and scheme.replace("+", "").replace("-", "").isalnum()


def as_path(path: "str | os.PathLike | RemotePath") -> "FilePath":
    """A ``RemotePath`` for a URL, else ``pathlib.Path(path)``."""
    if isinstance(path, RemotePath):
        return path
    if isinstance(path, str) and is_url(path):
        return RemotePath(path)
    return Path(path)


@dataclasses.dataclass(frozen=True)
class Stat:
    """What ``os.stat`` says that the readers use: a size and what changes with the file."""

    st_size: int
    st_mtime_ns: int
    st_ino: int = 0


@dataclasses.dataclass(frozen=True)
class RemotePath:
    """A file named by a URL, asked as a ``pathlib.Path`` is (``as_path``)."""

    url: str

    def __str__(self) -> str:
        return self.url

    @property
    def _location(self):
        try:
            import fsspec  # type: ignore[import-untyped]
        except ImportError:
            raise DataError(
                f"{self.url}: reading a URL needs fsspec (pip install 'steepest[remote]')"
            ) from None
        try:
            return fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as error:  # a store without its package: s3fs...
            raise DataError(f"{self.url}: {error}") from None

    @property
    def name(self) -> str:
        return posixpath.basename(self.url.rstrip("/"))

    @property
    def suffix(self) -> str:
        return posixpath.splitext(self.name)[1]

    def _info(self) -> dict | None:
        system, path = self._location
        try:
            return system.info(path)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise DataError(f"{self.url}: {error}") from None

    def is_file(self) -> bool:
        info = self._info()
        return info is not None and info.get("type") == "file"

    def is_dir(self) -> bool:
        info = self._info()
        return info is not None and info.get("type") == "directory"

    def exists(self) -> bool:
        return self._info() is not None

    def stat(self) -> Stat:
        """The size, and a number that changes with the file: its time of change where
        the store gives one, else a hash of its ETag or checksum."""
        info = self._info()
        if info is None:
            raise FileNotFoundError(self.url)
        changed = next(
            (info[key] for key in ("mtime", "LastModified", "last_modified", "updated", "ETag",
                                   "etag", "md5Hash", "created") if info.get(key) is not None),
            "",
        )  # fmt: skip
        if hasattr(changed, "timestamp"):
            stamp = int(changed.timestamp() * 1e9)
        elif isinstance(changed, int | float):
            stamp = int(changed * 1e9)
        else:
            stamp = zlib.crc32(str(changed).encode())
        if info.get("size") is None:
            raise DataError(f"{self.url}: the store does not say the file's size")
        return Stat(int(info["size"]), stamp)

    def open(self, mode: str = "r", *, newline=None, encoding=None):
        """The file opened for reading: binary (``"rb"``), or text (``"r"``) decoded with
        ``encoding`` and ``newline`` as ``open`` does."""
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError(f"{self.url}: steepest reads remote files, it writes none")
        system, path = self._location
        binary = system.open(path, "rb")
        if "b" in mode:
            return binary
        return io.TextIOWrapper(binary, encoding=encoding, newline=newline)


FilePath = Path | RemotePath
"""A file the readers read: local, or named by a URL."""
