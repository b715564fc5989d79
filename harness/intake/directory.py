"""Reading a directory (or a single notebook file) into a :class:`Stager`.

The walk never follows links: every entry is examined with ``lstat``; symlinks, FIFOs,
sockets and devices are rejected. Files are opened with ``O_NOFOLLOW | O_NONBLOCK`` and
re-checked with ``fstat`` so a file swapped for a link or a FIFO mid-walk is caught too.
Junk folders are not entered; of a top-level ``.git`` only the parts history needs are read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from contracts.errors import EnvironmentProblem, SubmissionRejected
from harness.intake.archives import CHUNK, reject_special
from harness.intake.paths import Parts, normalise_name
from harness.intake.staging import Stager

_TYPE_NAMES = {
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
}
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)


def _file_chunks(path: Path, expected: os.stat_result, rel: str) -> Iterator[bytes]:
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as error:
        raise EnvironmentProblem(
            f"cannot read {rel!r} in the submission: {error.strerror}",
            hint="check the file's permissions",
        ) from None
    with os.fdopen(fd, "rb") as handle:
        now = os.fstat(handle.fileno())
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (
            expected.st_dev,
            expected.st_ino,
        ):
            raise SubmissionRejected(
                f"{rel!r} changed while it was being read", hint="submit a folder at rest"
            )
        while chunk := handle.read(CHUNK):
            yield chunk


def _check_type(path: Path, info: os.stat_result, rel: str) -> None:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        raise reject_special("symlink", rel, target)
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise reject_special(_TYPE_NAMES.get(stat.S_IFMT(mode), "special file"), rel)


def read_directory(source: Path, stager: Stager) -> None:
    """Stage the files of ``source`` (walked in sorted order, links never followed)."""
    _walk(source, (), stager)


def _walk(folder: Path, prefix: Parts, stager: Stager) -> None:
    try:
        names = sorted(os.listdir(folder))
    except OSError as error:
        raise EnvironmentProblem(
            f"cannot list {'/'.join(prefix) or '.'!r} in the submission: {error.strerror}",
            hint="check the folder's permissions",
        ) from None
    for name in names:
        path = folder / name
        rel_raw = "/".join((*prefix, name))
        parts = normalise_name(rel_raw, stager.caps)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            raise SubmissionRejected(
                f"{'/'.join(parts)!r} vanished while the submission was read",
                hint="submit a folder at rest",
            ) from None
        rel = "/".join(parts)
        _check_type(path, info, rel)
        is_dir = stat.S_ISDIR(info.st_mode)
        placement = stager.place(parts, is_dir)
        if placement.kind == "skip":
            continue
        if is_dir:
            stager.make_dir(parts)
            _walk(path, parts, stager)
            continue
        stager.precheck_size(parts, info.st_size, placement)
        stager.write_file(parts, _file_chunks(path, info, rel), placement)


def read_single_file(source: Path, stager: Stager) -> None:
    """Stage one file (a single-notebook submission) under its own name."""
    info = os.lstat(source)
    parts = normalise_name(source.name, stager.caps)
    _check_type(source, info, source.name)
    placement = stager.place(parts, is_dir=False)
    if placement.kind != "content":
        raise SubmissionRejected(f"{source.name!r} is not a notebook", hint="submit a .ipynb")
    stager.precheck_size(parts, info.st_size, placement)
    stager.write_file(parts, _file_chunks(source, info, source.name), placement)
