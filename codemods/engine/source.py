"""Reading and writing source files without losing anything.

* Decoding follows Python's own rules (PEP 263 coding cookie, UTF-8 BOM, default UTF-8),
  so a latin-1 file stays latin-1 and a BOM stays a BOM.
* Newlines are not translated: LibCST keeps ``\\r\\n`` and mixed newlines as they are.
* Writes are atomic: a temporary file in the same folder, flushed and fsynced, then
  ``os.replace``. The file mode is kept. A file whose bytes changed since they were read
  is not overwritten.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass

TEMP_PREFIX = ".flaskfix-"
TEMP_SUFFIX = ".tmp"


class SourceError(Exception):
    """A file that cannot be processed; ``str()`` is the one-line reason."""


@dataclass(frozen=True)
class Source:
    path: str
    data: bytes  # exactly the bytes on disk
    text: str  # decoded, without a BOM
    encoding: str  # codec used to encode ``text`` back (never "utf-8-sig")
    bom: bool

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def encode(self, text: str) -> bytes:
        body = text.encode(self.encoding)
        return (b"\xef\xbb\xbf" + body) if self.bom else body


def read_source(path: str, max_size: int | None = None) -> Source:
    """The file's bytes and text. A file over ``max_size`` bytes is refused before a byte
    of it is read (a 50 MB generated module once cost 66 s and 9 GB before being refused)."""
    return decode_source(path, read_bytes(path, max_size))


def read_bytes(path: str, max_size: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``max_size`` bytes, else ``SourceError``."""
    try:
        # O_NONBLOCK: a FIFO that replaced a file since discovery must not hang the run
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise SourceError("not a regular file (a FIFO, socket or device); not read")
            if max_size is not None and st.st_size > max_size:
                raise SourceError(too_large(st.st_size, max_size))
            data = fh.read()
    except IsADirectoryError:
        raise SourceError("is a directory, not a file") from None
    except PermissionError:
        raise SourceError("permission denied") from None
    except FileNotFoundError:
        raise SourceError("file not found (deleted during the run?)") from None
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror or exc}") from None
    return data


def too_large(size: int, limit: int) -> str:
    return (f"too large to read ({size / 1e6:.1f} MB; the limit is {limit / 1e6:g} MB: raise [tool.flaskfix] "
            "max-file-size, or exclude the file)")


def decode_source(path: str, data: bytes) -> Source:
    if b"\x00" in data:
        raise SourceError("contains null bytes; not a Python source file")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        # detect_encoding also fails on undecodable bytes in the first two lines
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as dec:
            raise SourceError(f"cannot decode as utf-8 (byte {dec.object[dec.start]:#04x} at offset {dec.start})") from None
        raise SourceError(f"invalid encoding declaration: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    bom = data.startswith(b"\xef\xbb\xbf")
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    body = data[3:] if bom else data
    try:
        text = body.decode(codec)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"cannot decode as {codec} (byte {exc.object[exc.start]:#04x} at offset {exc.start + (3 if bom else 0)})"
        ) from None
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r}") from None
    return Source(path, data, text, codec, bom)


class ChangedOnDisk(Exception):
    """The file's bytes differ from what was read: it was edited meanwhile."""


def write_atomic(source: Source, new_text: str) -> None:
    """Replace ``source.path`` with ``new_text`` (encoded like the original), atomically.

    Raises ``ChangedOnDisk`` when the file no longer holds the bytes that were read.
    """
    path = source.path
    payload = source.encode(new_text)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ChangedOnDisk("deleted since it was read") from None
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        with open(path, "rb") as fh:
            if fh.read() != source.data:
                raise ChangedOnDisk("changed on disk since it was read")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def clean_stale_temp_files(folder: str) -> list[str]:
    """Remove temp files left behind by a flaskfix run that was killed mid-write."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
            try:
                os.unlink(os.path.join(folder, name))
                removed.append(name)
            except OSError:
                pass
    return removed
