"""Capped reads of untrusted files: never more than the cap, never through a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def read_bytes_capped(path: Path | str | None, max_bytes: int) -> bytes | None:
    """Return the bytes of the regular file ``path``, or None if missing, special or too big."""
    if path is None:
        return None
    path = Path(path)
    try:
        info = os.lstat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        return None
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:  # the file grew after lstat
        return None
    return data
