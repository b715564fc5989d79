"""Reading .zip and .tar[.gz|.bz2|.xz] submissions into a :class:`Stager`, entry by entry.

Nothing is extracted with the standard library's ``extractall``: every entry's name is
validated, its type checked (regular files and folders only), and its bytes streamed through
the stager's caps. Compression ratios are checked on the bytes actually produced.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from contracts.errors import SubmissionRejected
from harness.intake.models import IntakeCaps
from harness.intake.paths import Parts, normalise_name
from harness.intake.staging import Stager

CHUNK = 1024 * 1024
RATIO_FLOOR_BYTES = 1024 * 1024  # ratios are only judged beyond this many uncompressed bytes
ARCHIVE_GIT_POSITIONS = frozenset({0, 1})  # .git at the root, or under a single top folder

_ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    ValueError,
    NotImplementedError,
    OSError,
    RuntimeError,
)
_TAR_READ_ERRORS = (tarfile.TarError, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError)

_TYPE_NAMES = {
    stat.S_IFLNK: "symlink",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
}


def reject_special(kind: str, path: str, target: str | None = None) -> SubmissionRejected:
    """The rejection for an entry that is not a regular file or folder."""
    shown = f"{path!r}" + (f" -> {target[:120]!r}" if target is not None else "")
    return SubmissionRejected(
        f"{kind} in submission: {shown}",
        hint="submissions may contain regular files and folders only; replace links with "
        "the files they point to",
    )


def _ratio_exceeded(produced: int, compressed: int, caps: IntakeCaps) -> bool:
    return produced > RATIO_FLOOR_BYTES and produced > caps.max_compression_ratio * max(
        compressed, 1
    )


def _ratio_error(what: str, caps: IntakeCaps) -> SubmissionRejected:
    return SubmissionRejected(
        f"{what} expands more than {caps.max_compression_ratio:g}x (possible zip bomb)",
        hint="submit the files uncompressed or raise max_compression_ratio",
    )


# --- zip -------------------------------------------------------------------------------------


def _zip_entry_count(path: Path) -> int | None:
    """The entry count from the end-of-central-directory record (before parsing it all)."""
    end_record = getattr(zipfile, "_EndRecData", None)
    if end_record is None:  # pragma: no cover - private helper of CPython's zipfile
        return None
    with path.open("rb") as handle:
        data = end_record(handle)
    return None if not data else int(data[4])


def _zip_mode_type(info: zipfile.ZipInfo) -> int:
    return stat.S_IFMT(info.external_attr >> 16)


def _zip_chunks(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, caps: IntakeCaps
) -> Iterator[bytes]:
    produced = 0
    try:
        with archive.open(info) as member:
            while True:
                chunk = member.read(CHUNK)
                if not chunk:
                    return
                produced += len(chunk)
                if _ratio_exceeded(produced, info.compress_size, caps):
                    raise _ratio_error(f"zip entry {path!r}", caps)
                yield chunk
    except _ZIP_READ_ERRORS as error:
        raise SubmissionRejected(
            f"corrupt zip entry {path!r}: {error}", hint="re-create the archive"
        ) from None


def read_zip(source: Path, stager: Stager) -> None:
    """Stage every entry of a zip archive (or raise SubmissionRejected)."""
    caps = stager.caps
    try:
        count = _zip_entry_count(source)
        if count is not None and count > caps.max_entries:
            raise SubmissionRejected(
                f"zip has {count} entries, more than {caps.max_entries}",
                hint="remove generated files or raise max_entries",
            )
        archive = zipfile.ZipFile(source)
    except _ZIP_READ_ERRORS as error:
        raise SubmissionRejected(
            f"not a readable zip archive: {error}", hint="re-create the archive with `zip -r`"
        ) from None
    with archive:
        infos = archive.infolist()
        declared_total = 0
        for info in infos:  # cheap checks on the central directory before writing anything
            parts = normalise_name(info.filename, caps)
            name = "/".join(parts)
            mode_type = _zip_mode_type(info)
            if mode_type in _TYPE_NAMES:
                target = None
                if mode_type == stat.S_IFLNK and info.file_size <= 4096:
                    target = _read_small(archive, info)
                raise reject_special(_TYPE_NAMES[mode_type], name, target)
            if info.flag_bits & 0x1:
                raise SubmissionRejected(
                    f"encrypted zip entry {name!r}", hint="submit an archive without a password"
                )
            if not info.is_dir() and _ratio_exceeded(info.file_size, info.compress_size, caps):
                raise _ratio_error(f"zip entry {name!r}", caps)
            declared_total += info.file_size
        if declared_total > caps.max_total_bytes + caps.max_git_bytes:
            raise SubmissionRejected(
                f"zip declares {declared_total} bytes uncompressed, more than the caps allow",
                hint="leave data and generated files out or raise max_total_bytes",
            )
        for info in infos:
            parts = normalise_name(info.filename, caps)
            is_dir = info.is_dir() or _zip_mode_type(info) == stat.S_IFDIR
            placement = stager.place(parts, is_dir)
            if placement.kind == "skip":
                continue
            if is_dir:
                stager.make_dir(parts)
                continue
            stager.precheck_size(parts, info.file_size, placement)
            stager.write_file(parts, _zip_chunks(archive, info, "/".join(parts), caps), placement)


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    try:
        return archive.read(info).decode("utf-8", "replace")
    except _ZIP_READ_ERRORS:
        return None


# --- tar -------------------------------------------------------------------------------------


class _TarStream(io.RawIOBase):
    """The decompressed tar stream, counting every byte it produces (headers, long names and
    skipped members included) against the compression ratio and the total caps, so a
    hostile header cannot make tarfile buffer or skip unbounded data."""

    def __init__(self, source: Path, caps: IntakeCaps):
        super().__init__()
        self.compressed_size = os.stat(source).st_size
        self.caps = caps
        self.produced = 0
        self.limit = caps.max_total_bytes + caps.max_git_bytes + 16 * CHUNK
        with source.open("rb") as handle:
            magic = handle.read(6)
        opener = open
        if magic.startswith(b"\x1f\x8b"):
            opener = gzip.open
        elif magic.startswith(b"BZh"):
            opener = bz2.open
        elif magic.startswith(b"\xfd7zXZ\x00"):
            opener = lzma.open
        self.inner = opener(source, "rb")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(CHUNK if size is None or size < 0 or size > CHUNK else size)
        self.produced += len(data)
        if _ratio_exceeded(self.produced, self.compressed_size, self.caps):
            raise _ratio_error("tar archive", self.caps)
        if self.produced > self.limit:
            raise SubmissionRejected(
                f"tar archive holds more than {self.limit} bytes",
                hint="leave data and generated files out or raise max_total_bytes",
            )
        return data

    def close(self) -> None:
        self.inner.close()
        super().close()


def _tar_chunks(handle: IO[bytes], path: str) -> Iterator[bytes]:
    try:
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                return
            yield chunk
    except _TAR_READ_ERRORS as error:
        raise SubmissionRejected(
            f"corrupt tar entry {path!r}: {error}", hint="re-create the archive"
        ) from None


def _tar_member_kind(member: tarfile.TarInfo) -> str | None:
    """None for a regular file or folder, else a name for the rejected type."""
    if member.isfile() or member.isdir():
        return None
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.ischr():
        return "character device"
    if member.isblk():
        return "block device"
    if member.isfifo():
        return "FIFO"
    return f"unsupported tar entry type {member.type!r}"


def read_tar(source: Path, stager: Stager) -> None:
    """Stage every member of a (possibly compressed) tar archive, streaming it once."""
    with contextlib.ExitStack() as stack:
        try:
            stream = stack.enter_context(_TarStream(source, stager.caps))
            archive = stack.enter_context(tarfile.open(fileobj=stream, mode="r|"))
        except _TAR_READ_ERRORS as error:
            raise SubmissionRejected(
                f"not a readable tar archive: {error}", hint="re-create the archive with `tar czf`"
            ) from None
        members = iter(archive)
        while True:
            try:
                member = next(members)
            except StopIteration:
                break
            except _TAR_READ_ERRORS as error:
                raise SubmissionRejected(
                    f"corrupt tar archive: {error}", hint="re-create the archive"
                ) from None
            _stage_tar_member(archive, member, stager)
            archive.members.clear()  # stream mode: do not keep every header in memory


def _stage_tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo, stager: Stager) -> None:
    parts: Parts = normalise_name(member.name, stager.caps)
    name = "/".join(parts)
    kind = _tar_member_kind(member)
    if kind is not None:
        target = member.linkname if (member.issym() or member.islnk()) else None
        raise reject_special(kind, name, target)
    placement = stager.place(parts, member.isdir())
    if placement.kind == "skip" or member.isdir():
        if member.isdir() and placement.kind != "skip":
            stager.make_dir(parts)
        return  # a skipped member's data is still read through (and counted) by _TarStream
    stager.precheck_size(parts, member.size, placement)
    handle = archive.extractfile(member)
    if handle is None:  # pragma: no cover - isfile() members always have data
        raise reject_special("unreadable tar entry", name)
    stager.write_file(parts, _tar_chunks(handle, name), placement)
