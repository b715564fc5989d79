"""Safe copy-out: extract the sandbox's ``/output`` tar stream onto the host.

The stream is untrusted (the candidate controlled ``/output``), so it is parsed member by member
and only regular files and directories are created, each through directory file descriptors
opened with ``O_NOFOLLOW`` (a link can never redirect a write, and none is ever created).
Rejected: symlinks, hardlinks, devices, FIFOs, unknown types, absolute names and ``..``.
Capped while streaming: total bytes and the number of files (and, separately, directories);
once over a cap, reading stops. Files are created 0644, directories 0755.

Any violation is reported in :class:`CopyReport` (never raised): the runner turns it into the
``output_limit`` verdict, with :meth:`CopyReport.violation_reason` as the reason.

With :class:`KeepRules`, only the files the graders and reports use are written to the host,
each class of file within its own per-file, per-class and file-count caps and all of them
within one total: everything else is read past and listed in :attr:`CopyReport.dropped` with
the reason (never a violation: what a candidate leaves in ``/output`` is theirs). Directories
are then created only as parents of kept files. This bounds what one submission leaves on the
host, however much it writes.

A full host disk (ENOSPC, EDQUOT) while writing is a harness fault (``error``), never the
candidate's.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import tarfile
from pathlib import Path
from typing import BinaryIO

from pydantic import BaseModel, ConfigDict, Field

CHUNK = 1024 * 1024
MAX_LISTED = 8  # rejected entries named in a reason
BLOCK = 4096  # kept sizes are counted in file-system blocks
MAX_DROPPED_LISTED = 200  # dropped entries recorded in a report (all are counted)
_HEADER_ALLOWANCE = 3 * tarfile.BLOCKSIZE  # per entry: header, pax header, padding

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_O_NEWFILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class RejectedEntry(BaseModel):
    """An archive member that was not created on the host, and why."""

    name: str
    kind: str  # symlink, hardlink, device, fifo, unsafe_path, conflict, unreadable, other
    reason: str


class KeepClass(BaseModel):
    """One kind of output file kept on the host (predictions, notebooks, figures...)."""

    model_config = ConfigDict(frozen=True)

    name: str
    patterns: tuple[str, ...]  # fnmatch patterns on the posix path relative to /output
    max_file_bytes: int = Field(gt=0)
    max_bytes: int = Field(gt=0)  # all kept files of this class together
    max_files: int = Field(default=1, gt=0)

    def matches(self, rel: str) -> bool:
        """True when ``rel`` is one of this class's paths."""
        return any(fnmatch.fnmatchcase(rel, pattern) for pattern in self.patterns)


class KeepRules(BaseModel):
    """What a copy-out keeps: the first matching class decides; no class means dropped."""

    model_config = ConfigDict(frozen=True)

    classes: tuple[KeepClass, ...]
    max_bytes: int = Field(gt=0)  # every kept file together (sizes rounded up to 4 KiB blocks)
    max_depth: int = Field(default=8, gt=0)  # folders above a kept file (each costs a block)

    def classify(self, rel: str) -> KeepClass | None:
        """The class ``rel`` belongs to, or None (not used by the graders or reports)."""
        return next((c for c in self.classes if c.matches(rel)), None)


class DroppedEntry(BaseModel):
    """A file of ``/output`` that was read past and not kept on the host, and why."""

    name: str
    bytes: int
    reason: str


class CopyReport(BaseModel):
    """What a copy-out produced. ``ok`` is False on any violation (-> verdict ``output_limit``).

    ``error`` is set for harness-side faults (e.g. the stream could not be read): those are
    ``sandbox_error``, never the candidate's fault.
    """

    dest: Path
    files: list[str] = Field(default_factory=list)  # relative posix paths of the files created
    directories: int = 0
    bytes_copied: int = 0
    rejected: list[RejectedEntry] = Field(default_factory=list)
    limit_hit: str | None = None  # which cap stopped the copy
    error: str | None = None
    dropped: list[DroppedEntry] = Field(default_factory=list)  # first MAX_DROPPED_LISTED
    dropped_files: int = 0  # all of them
    dropped_bytes: int = 0

    def dropped_note(self) -> str:
        """One line saying what was not kept on the host (empty when everything was)."""
        if not self.dropped_files:
            return ""
        shown = "; ".join(f"{d.name!r} ({d.reason})" for d in self.dropped[:MAX_LISTED])
        more = self.dropped_files - min(len(self.dropped), MAX_LISTED)
        suffix = f"; and {more} more" if more > 0 else ""
        return (f"output: kept {len(self.files)} file(s), {_mb(self.bytes_copied)}; not kept on "
                f"the host: {self.dropped_files} file(s), {_mb(self.dropped_bytes)}: "
                f"{shown}{suffix}")

    @property
    def ok(self) -> bool:
        """True when nothing was rejected, no cap was hit and no error happened."""
        return not self.rejected and self.limit_hit is None and self.error is None

    def violation_reason(self) -> str:
        """One line naming the cap that was hit and the rejected entries (first few)."""
        parts: list[str] = []
        if self.limit_hit:
            parts.append(f"{self.limit_hit} (copy stopped after {len(self.files)} files)")
        if self.rejected:
            shown = "; ".join(f"{r.name!r}: {r.reason}" for r in self.rejected[:MAX_LISTED])
            more = len(self.rejected) - MAX_LISTED
            suffix = f"; and {more} more" if more > 0 else ""
            parts.append(f"rejected {len(self.rejected)} output entries: {shown}{suffix}")
        return "output: " + "; ".join(parts) if parts else ""


class _OverCap(Exception):
    """The raw stream delivered more bytes than any valid archive within the caps could."""


class _CappedReader:
    """A read-only file object that refuses to deliver more than ``limit`` bytes."""

    def __init__(self, stream: BinaryIO, limit: int):
        self._stream = stream
        self._left = limit

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise _OverCap
        want = self._left + 1 if size is None or size < 0 else min(size, self._left + 1)
        data = self._stream.read(want)
        self._left -= len(data)
        if self._left < 0:
            raise _OverCap
        return data


def _clip(name: str, limit: int = 160) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


_BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)})


def _shown_raw(code: int) -> bool:
    """False for control characters, bidi controls and undecodable bytes (surrogate escapes)."""
    return not (code < 0x20 or 0x7F <= code < 0xA0 or code in _BIDI_CONTROLS
                or 0xDC80 <= code <= 0xDCFF)


def _printable(name: str) -> str:
    """A name safe to show in a reason: control and bidi characters become escapes."""
    escaped = (ch if _shown_raw(ord(ch)) else
               (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") for ch in name)
    return _clip("".join(escaped))


def _safe_parts(name: str) -> list[str] | str:
    """The path components of ``name``, or a string saying why the name is unsafe."""
    if "\x00" in name:
        return "name contains a NUL byte"
    if name.startswith("/"):
        return "absolute path"
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        return "path escapes the output folder (..)"
    if any(len(os.fsencode(part)) > 255 for part in parts):
        return "path component longer than 255 bytes"
    return parts


def _kind_of(member: tarfile.TarInfo) -> tuple[str, str] | None:
    """(kind, reason) for a member type that is refused; None for files and directories."""
    if member.isreg() or member.isdir():
        return None
    if member.issym():
        return "symlink", f"symbolic link to {_clip(member.linkname)!r} (links are not copied)"
    if member.islnk():
        return "hardlink", f"hard link to {_clip(member.linkname)!r} (links are not copied)"
    if member.ischr() or member.isblk():
        return "device", "device file (not copied)"
    if member.isfifo():
        return "fifo", "named pipe (not copied)"
    return "other", f"unsupported entry type {member.type!r}"


class _Extractor:
    """Creates directories and files below ``root_fd`` without ever following a link."""

    def __init__(self, root_fd: int, report: CopyReport, max_bytes: int, max_files: int,
                 keep: KeepRules | None = None):
        self.root_fd = root_fd
        self.report = report
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.keep = keep
        self.known_dirs: set[tuple[str, ...]] = set()
        self.class_bytes: dict[str, int] = {}
        self.class_files: dict[str, int] = {}
        self.kept_blocks = 0

    def drop_reason(self, rel: str, size: int) -> str | None:
        """Why the file ``rel`` of ``size`` bytes is not kept (None: keep it)."""
        if self.keep is None:
            return None
        if not all(_shown_raw(ord(char)) for char in rel):
            return "its name has control or bidirectional-override characters"
        kind = self.keep.classify(rel)
        if kind is None:
            return "not used by the graders or reports"
        if rel.count("/") > self.keep.max_depth:
            return f"nested deeper than {self.keep.max_depth} folders"
        size = -(-size // BLOCK) * BLOCK  # what it costs the disk
        if size > kind.max_file_bytes:
            return f"{_mb(size)}, over the {_mb(kind.max_file_bytes)} cap for one {kind.name} file"
        if self.class_files.get(kind.name, 0) >= kind.max_files:
            return f"more than {kind.max_files} {kind.name} file(s)"
        if self.class_bytes.get(kind.name, 0) + size > kind.max_bytes:
            return f"the {_mb(kind.max_bytes)} budget for {kind.name} files is used up"
        if self.kept_blocks + size > self.keep.max_bytes:
            return f"the {_mb(self.keep.max_bytes)} budget for kept output is used up"
        self.class_files[kind.name] = self.class_files.get(kind.name, 0) + 1
        self.class_bytes[kind.name] = self.class_bytes.get(kind.name, 0) + size
        self.kept_blocks += size
        return None

    def drop(self, rel: str, size: int, reason: str) -> None:
        """Record a file that is read past, not written."""
        self.report.dropped_files += 1
        self.report.dropped_bytes += size
        if len(self.report.dropped) < MAX_DROPPED_LISTED:
            self.report.dropped.append(DroppedEntry(name=_printable(rel), bytes=size,
                                                    reason=reason))

    def _enter_dir(self, parent_fd: int, name: str, parts: tuple[str, ...]) -> int:
        """Open (creating it 0755 when missing) the directory ``name`` under ``parent_fd``."""
        if parts not in self.known_dirs:
            if len(self.known_dirs) >= self.max_files:
                raise _LimitHit(f"more than {self.max_files} directories in the output")
            try:
                os.mkdir(name, 0o755, dir_fd=parent_fd)
                created = True
            except FileExistsError:
                created = False
            fd = os.open(name, _O_DIR, dir_fd=parent_fd)  # ELOOP/ENOTDIR if not a real dir
            if created:
                os.fchmod(fd, 0o755)
            self.known_dirs.add(parts)
            if created:
                self.report.directories += 1
            return fd
        return os.open(name, _O_DIR, dir_fd=parent_fd)

    def _open_parent(self, parts: list[str]) -> int:
        fd = os.dup(self.root_fd)
        try:
            for depth, name in enumerate(parts[:-1], start=1):
                next_fd = self._enter_dir(fd, name, tuple(parts[:depth]))
                os.close(fd)
                fd = next_fd
        except BaseException:
            os.close(fd)
            raise
        return fd

    def directory(self, parts: list[str]) -> None:
        """Create the directory ``parts`` (and its parents)."""
        parent = self._open_parent(parts)
        try:
            os.close(self._enter_dir(parent, parts[-1], tuple(parts)))
        finally:
            os.close(parent)

    def file(self, parts: list[str], data: BinaryIO, size: int) -> None:
        """Create the regular file ``parts`` with the member's bytes, within the byte cap."""
        if len(self.report.files) >= self.max_files:
            raise _LimitHit(f"more than {self.max_files} files in the output")
        if self.report.bytes_copied + size > self.max_bytes:
            raise _LimitHit(f"output larger than the cap of {self.max_bytes // (1024 * 1024)} MB")
        parent = self._open_parent(parts)
        try:
            fd = os.open(parts[-1], _O_NEWFILE, 0o644, dir_fd=parent)
            try:
                os.fchmod(fd, 0o644)
                written = self._copy_data(fd, data, size)
            except BaseException:
                os.close(fd)
                os.unlink(parts[-1], dir_fd=parent)  # never leave a partial file behind
                raise
            os.close(fd)
        finally:
            os.close(parent)
        self.report.bytes_copied += written
        self.report.files.append("/".join(parts))

    def _copy_data(self, fd: int, data: BinaryIO, size: int) -> int:
        """Copy one member's bytes into ``fd``; stop at the byte cap. Returns the bytes written."""
        written = 0
        while True:
            try:
                chunk = data.read(CHUNK)
            except OSError as exc:  # the stream broke: a transport fault, not content
                raise tarfile.ReadError(f"stream interrupted: {exc}") from exc
            if not chunk:
                return written
            written += len(chunk)
            if written > size or self.report.bytes_copied + written > self.max_bytes:
                cap = self.max_bytes // (1024 * 1024)
                raise _LimitHit(f"output larger than the cap of {cap} MB")
            _write_all(fd, chunk)


class _LimitHit(Exception):
    """A cap was reached; the message says which."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        done = os.write(fd, view)
        view = view[done:]


def _not_empty(dest: Path) -> ValueError:
    return ValueError(f"copy-out destination {dest} is not empty; pass a new or empty folder")


def check_dest(dest: Path) -> None:
    """Raise ValueError unless ``dest`` can receive a copy-out (absent, or an empty folder)."""
    if dest.is_symlink():
        raise ValueError(f"copy-out destination {dest} is a symbolic link; pass a real folder")
    if dest.is_dir() and any(dest.iterdir()):
        raise _not_empty(dest)


def _prepare_dest(dest: Path) -> int:
    """Create ``dest`` (0755) if missing; refuse a link or a non-empty folder. Returns a dir fd."""
    check_dest(dest)
    dest.mkdir(parents=True, exist_ok=True, mode=0o755)
    fd = os.open(dest, _O_DIR)
    if os.listdir(fd):  # again through the descriptor: the folder may have changed meanwhile
        os.close(fd)
        raise _not_empty(dest)
    return fd


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class _HostDiskFull(Exception):
    """Writing on the host failed for lack of space: a harness fault."""


def extract_tar_stream(
    stream: BinaryIO, dest: Path, *, max_bytes: int, max_files: int,
    keep: KeepRules | None = None,
) -> CopyReport:
    """Extract an untrusted tar stream into ``dest`` (absent or empty), member by member.

    ``max_bytes``/``max_files`` cap the whole stream (a violation when exceeded); ``keep``
    chooses which files are written (the others are listed in ``dropped``). Never raises for
    bad content: every problem is recorded in the returned report. Raises ValueError only when
    ``dest`` itself is unusable (a symlink, or a non-empty folder).
    """
    dest = Path(dest)
    report = CopyReport(dest=dest)
    root_fd = _prepare_dest(dest)
    raw_limit = max_bytes + (2 * max_files + 16) * _HEADER_ALLOWANCE + 2 * tarfile.RECORDSIZE
    extractor = _Extractor(root_fd, report, max_bytes, max_files, keep)
    try:
        _extract_all(_CappedReader(stream, raw_limit), extractor, report)
    except _LimitHit as hit:
        report.limit_hit = str(hit)
    except _OverCap:
        report.limit_hit = f"output stream larger than the cap of {max_bytes // (1024 * 1024)} MB"
    except _HostDiskFull as full:
        report.error = f"the host disk is full: {full}"
    except (tarfile.TarError, EOFError, OSError, UnicodeError) as exc:
        report.error = f"cannot read the output archive: {type(exc).__name__}: {exc}"
    finally:
        os.close(root_fd)
    report.files.sort()
    return report


def _extract_all(reader: _CappedReader, extractor: _Extractor, report: CopyReport) -> None:
    max_entries = 2 * extractor.max_files + 16
    try:
        with tarfile.open(fileobj=reader, mode="r|", errors="surrogateescape") as tar:
            for count, member in enumerate(tar, start=1):
                if count > max_entries:
                    raise _LimitHit(f"more than {max_entries} entries in the output")
                if member.isreg() and extractor.keep is not None:
                    seen = len(report.files) + report.dropped_files
                    if seen >= extractor.max_files:
                        raise _LimitHit(f"more than {extractor.max_files} files in the output")
                _extract_member(tar, member, extractor, report)
                tar.members = []  # stream mode: memory stays flat however many members come
    except tarfile.ReadError as exc:
        if "empty" in str(exc) and not report.files and not report.rejected:
            return  # an empty stream: nothing in /output
        raise


def _extract_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, extractor: _Extractor, report: CopyReport
) -> None:
    name = member.name
    parts = _safe_parts(name)
    if isinstance(parts, str):
        report.rejected.append(RejectedEntry(name=_printable(name), kind="unsafe_path", reason=parts))
        return
    refused = _kind_of(member)
    if refused is not None:
        kind, reason = refused
        report.rejected.append(RejectedEntry(name=_printable(name), kind=kind, reason=reason))
        return
    if not parts:
        return  # the output folder itself
    if extractor.keep is not None:
        if member.isdir():
            return  # only parents of kept files are created
        why = extractor.drop_reason("/".join(parts), member.size)
        if why is not None:
            extractor.drop("/".join(parts), member.size, why)
            return  # tarfile reads past the member's data
    try:
        if member.isdir():
            extractor.directory(parts)
            return
        data = tar.extractfile(member)
        if data is None:  # pragma: no cover - isreg() members always have data
            return
        extractor.file(parts, data, member.size)
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        report.rejected.append(
            RejectedEntry(
                name=_printable(name),
                kind="conflict",
                reason=f"conflicts with another entry of the same name ({exc.strerror})",
            )
        )
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise _HostDiskFull(f"writing {_printable(name)!r}: {exc.strerror}") from exc
        if exc.errno == errno.ELOOP:  # a parent is a symlink (impossible: we create none)
            reason = "a parent folder is a link"
        else:
            reason = f"cannot create it on the host ({exc.strerror})"
        report.rejected.append(RejectedEntry(name=_printable(name), kind="unreadable", reason=reason))
