"""The streaming upload receiver: a multipart body to one file on disk, capped while receiving.

The body is parsed chunk by chunk with python-multipart's push parser and the file part is
written straight to a private temporary file; the byte count is checked on every chunk, so an
over-cap upload stops at the cap (a declared ``Content-Length`` over the cap is refused before a
byte is read) and its partial file is removed. The name the browser sent is kept for display
only, cleaned of control characters; the stored file's name is chosen by the portal.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from python_multipart.multipart import MultipartParser, parse_options_header

from contracts.errors import SubmissionRejected

FILE_FIELD = "submission"
ACCEPTED_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".ipynb", ".bundle")
MULTIPART_OVERHEAD = 64 * 1024  # headers and boundaries around the file part
FIELD_MAX_BYTES = 4096  # any other form field
NAME_MAX_CHARS = 200


class UploadTooLarge(SubmissionRejected):
    """The upload is over the cap (HTTP 413); nothing of it is kept."""


class UploadInvalid(SubmissionRejected):
    """The request is not an acceptable upload (HTTP 400)."""


@dataclass(frozen=True)
class ReceivedUpload:
    """The file part of an upload, complete on disk."""

    path: Path  # a temporary file in the destination folder; the caller moves or removes it
    original_name: str  # display only
    suffix: str  # one of ACCEPTED_SUFFIXES
    size: int
    sha256: str


def display_file_name(raw: str) -> str:
    """The browser's file name, cleaned for display: no control characters, capped."""
    cleaned = "".join(ch for ch in raw if ch.isprintable())
    return cleaned[:NAME_MAX_CHARS] or "(no name)"


def accepted_suffix(name: str) -> str | None:
    """The submission format a file name declares, or None when it is not one we take."""
    base = PurePosixPath(name.replace("\\", "/")).name.lower()
    return next((s for s in ACCEPTED_SUFFIXES if base.endswith(s) and len(base) > len(s)), None)


class UploadReceiver:
    """Feed it the body's chunks; it keeps the one file part, never more than ``cap`` bytes."""

    def __init__(self, content_type: str, dest_dir: Path, cap: int):
        kind, options = parse_options_header(content_type or "")
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise UploadInvalid("the upload is not a multipart/form-data form",
                                hint="send the page's form")
        self.cap = cap
        self.dest_dir = dest_dir
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._in_file = False
        self._fd: int | None = None
        self._temp: Path | None = None
        self._size = 0
        self._digest = hashlib.sha256()
        self._name: str | None = None
        self._files = 0
        self._field_bytes = 0
        self._done = False
        self._error: SubmissionRejected | None = None
        self._parser = MultipartParser(boundary, callbacks={
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        })

    # --- parser callbacks ----------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._headers = {}
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != FILE_FIELD.encode() or b"filename" not in options:
            return  # another field: counted and dropped
        self._files += 1
        if self._files > 1:
            raise UploadInvalid("send one file per upload", hint="pick a single file")
        self._name = options[b"filename"].decode("utf-8", "replace")
        self.dest_dir.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".incoming-", dir=self.dest_dir)
        self._fd, self._temp, self._in_file = fd, Path(temp), True

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            self._field_bytes += end - start
            if self._field_bytes > FIELD_MAX_BYTES:
                raise UploadInvalid("the form has more data than a file", hint="send the page's form")
            return
        self._size += end - start
        if self._size > self.cap:
            raise UploadTooLarge(f"the upload is larger than the {_mib(self.cap)} limit",
                                 hint="leave out data files and outputs; send the code, "
                                 "notebooks and documents")
        chunk = data[start:end]
        self._digest.update(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _part_end(self) -> None:
        if self._in_file and self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            self._in_file = False

    def _end(self) -> None:
        self._done = True

    # --- driving -------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Parse one chunk of the body; raises (and removes the partial file) on a refusal."""
        try:
            self._parser.write(chunk)
        except SubmissionRejected:
            self.discard()
            raise
        except Exception as error:  # python-multipart's parse errors
            self.discard()
            raise UploadInvalid(f"the upload could not be read: {error}",
                                hint="send the page's form again") from error

    def finish(self) -> ReceivedUpload:
        """The complete file; raises when the body ended early or held no file."""
        if not self._done or self._temp is None or self._fd is not None:
            self.discard()
            if self._name is None:
                raise UploadInvalid("no file was sent", hint="choose a file, then upload")
            raise UploadInvalid("the upload ended before the file was complete",
                                hint="send it again")
        name = display_file_name(self._name or "")
        suffix = accepted_suffix(self._name or "")
        if suffix is None:
            self.discard()
            raise UploadInvalid(f"{name} is not a notebook, .zip, .tar, .tar.gz or git bundle",
                                hint="send a .ipynb, .zip, .tar, .tar.gz or .bundle file")
        if self._size == 0:
            self.discard()
            raise UploadInvalid(f"{name} is empty", hint="choose the file with your work")
        return ReceivedUpload(self._temp, name, suffix, self._size, self._digest.hexdigest())

    def discard(self) -> None:
        """Remove whatever was written (safe to call twice)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def check_declared_length(content_length: str | None, cap: int) -> None:
    """Refuse a body whose declared length is already over the cap (before reading it)."""
    if content_length is None:
        return
    try:
        declared = int(content_length)
    except ValueError as error:
        raise UploadInvalid("the request's Content-Length is not a number",
                            hint="send the page's form") from error
    if declared > cap + MULTIPART_OVERHEAD:
        raise UploadTooLarge(f"the upload is larger than the {_mib(cap)} limit",
                             hint="leave out data files and outputs; send the code, notebooks "
                             "and documents")


async def receive_upload(chunks: AsyncIterator[bytes], content_type: str,
                         content_length: str | None, dest_dir: Path, cap: int) -> ReceivedUpload:
    """Stream a request body into ``dest_dir``; the file part, or a refusal with nothing kept."""
    check_declared_length(content_length, cap)
    receiver = UploadReceiver(content_type, dest_dir, cap)
    try:
        async for chunk in chunks:
            receiver.feed(chunk)
    except BaseException:
        receiver.discard()
        raise
    return receiver.finish()
