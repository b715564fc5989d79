"""Capped, validated readers for untrusted files (sandbox artifacts and submission files).

Everything the candidate's code wrote is hostile input: it may be huge, truncated, not what its
name says, or built to crash a parser. Every reader here

* refuses anything that is not a regular file (no symlinks, FIFOs, devices),
* refuses files larger than ``max_bytes`` (and never reads more than ``max_bytes + 1`` bytes),
* never evaluates or unpickles anything,
* returns ``None`` instead of raising when the file is missing, too big or malformed.
"""

from __future__ import annotations

import functools
import io
import json
import os
import stat
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import nbformat

from contracts.files import read_bytes_capped

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_TEXT_BYTES = 2_000_000
DEFAULT_JSON_BYTES = 20_000_000
DEFAULT_NOTEBOOK_BYTES = 50_000_000
DEFAULT_CSV_BYTES = 200_000_000
DEFAULT_CSV_ROWS = 5_000_000
MAX_IMAGE_BYTES = 20_000_000
MAX_IMAGE_SIDE = 30_000

ImageKind = Literal["png", "jpeg"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


def read_text_capped(path: Path | str | None, max_bytes: int = DEFAULT_TEXT_BYTES) -> str | None:
    """Return the file decoded as UTF-8 (undecodable bytes replaced), or None (see module doc)."""
    data = read_bytes_capped(path, max_bytes)
    if data is None:
        return None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", errors="replace")


def read_json_capped(path: Path | str | None, max_bytes: int = DEFAULT_JSON_BYTES) -> Any | None:
    """Return the parsed JSON document, or None when missing, too big, or not valid JSON."""
    text = read_text_capped(path, max_bytes)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def read_notebook_capped(
    path: Path | str | None, max_bytes: int = DEFAULT_NOTEBOOK_BYTES
) -> nbformat.NotebookNode | None:
    """Return the notebook upgraded to nbformat 4 and validated, or None if it is not one."""
    text = read_text_capped(path, max_bytes)
    if text is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            notebook = nbformat.reads(text, as_version=4)
            nbformat.validate(notebook)
    except Exception:  # noqa: BLE001 - nbformat raises many unrelated types on hostile input
        return None
    if not isinstance(notebook.get("cells"), list):
        return None
    return notebook


def sniff_image(data: bytes) -> ImageKind | None:
    """Return "png" or "jpeg" when ``data`` looks like a real image of that kind, else None.

    Checks the magic bytes and a sane size; for PNG also the IHDR chunk's dimensions.
    """
    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_IMAGE_BYTES:
        return None
    if data.startswith(_PNG_MAGIC):
        if len(data) < 8 + 25 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
            return None
        return "png"
    if data.startswith(_JPEG_MAGIC) and len(data) >= 32:
        return "jpeg"
    return None


def sniff_image_file(path: Path | str | None, max_bytes: int = MAX_IMAGE_BYTES) -> ImageKind | None:
    """``sniff_image`` for a regular file of at most ``max_bytes``, reading only its header."""
    if path is None:
        return None
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        return None
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError:
        return None
    try:
        head = os.read(fd, 64) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    except OSError:
        return None
    finally:
        os.close(fd)
    return sniff_image(head)


def read_image_capped(
    path: Path | str | None, max_bytes: int = MAX_IMAGE_BYTES
) -> tuple[ImageKind, bytes] | None:
    """Return ``(kind, bytes)`` for a real PNG/JPEG file, or None."""
    data = read_bytes_capped(path, max_bytes)
    if data is None:
        return None
    kind = sniff_image(data)
    return None if kind is None else (kind, data)


def read_csv_capped(
    path: Path | str | None,
    max_bytes: int = DEFAULT_CSV_BYTES,
    max_rows: int = DEFAULT_CSV_ROWS,
    *,
    dtype: Any = str,
    max_columns: int = 10_000,
    usecols: list[str] | None = None,
) -> pd.DataFrame | None:
    """Return the CSV as a DataFrame, or None when missing, too big or malformed.

    Values are read as strings by default (``dtype=str``): nothing is inferred or evaluated;
    callers convert the columns they need. More than ``max_rows`` data rows, more than
    ``max_columns`` columns, or ragged rows make the file count as malformed; ``usecols``
    missing from the header too.
    """
    data = read_bytes_capped(path, max_bytes)
    if data is None:
        return None
    import pandas as pd  # slow: imported only when a CSV is read

    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            dtype=dtype,
            nrows=max_rows + 1,
            engine="c",
            on_bad_lines="error",
            encoding="utf-8",
            encoding_errors="replace",
            low_memory=False,
            usecols=usecols,
        )
    except Exception:  # noqa: BLE001 - pandas raises ParserError, ValueError, ...
        return None
    if len(frame) > max_rows or frame.shape[1] > max_columns:
        return None
    if not isinstance(frame.index, pd.RangeIndex):  # rows longer than the header
        return None
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame


def read_train_csv(
    assignment: Any,
    *,
    max_bytes: int = DEFAULT_CSV_BYTES,
    max_rows: int = DEFAULT_CSV_ROWS,
) -> pd.DataFrame | None:
    """The assignment's public ``train.csv`` (all values as strings), or None when unreadable.

    Cached per file (path, size, modification time); callers must not modify the frame.
    """
    path = getattr(assignment, "train_csv", None)
    if path is None:
        return None
    try:
        info = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return _read_csv_cached(str(path), info.st_size, info.st_mtime_ns, max_bytes, max_rows)


@functools.lru_cache(maxsize=8)
def _read_csv_cached(
    path: str, size: int, mtime_ns: int, max_bytes: int, max_rows: int
) -> pd.DataFrame | None:
    del size, mtime_ns  # part of the cache key only
    return read_csv_capped(path, max_bytes, max_rows)
