"""What travels through the broker: the job and reply messages and the compressed payloads.

Payloads (a snapshot, an assignment bundle, a job's artifacts) are gzip-compressed tar archives
stored under ``takehome:blob:<sha256 of the bytes>``: content-addressed (uploaded once, checked
on download), size-capped before they are read and while they are unpacked. Unpacking goes
through the sandbox copy-out extractor (:func:`sandbox.copyout.extract_tar_stream`): regular
files and folders only, no links, devices or ``..``, byte and file caps while streaming (a
decompression bomb stops at the cap). Messages are JSON validated by the pydantic models below;
nothing is ever unpickled.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import TakehomeError
from graders.base import StageRecord
from harness.workers.config import PAYLOAD_TTL_S, key
from sandbox.copyout import CopyReport, extract_tar_stream

MiB = 1024 * 1024
SHA256 = r"^[0-9a-f]{64}$"
MAX_SNAPSHOT_PAYLOAD = 200 * MiB  # compressed; the snapshot itself is capped by IntakeCaps
MAX_BUNDLE_PAYLOAD = 300 * MiB  # compressed: spec, README, public data, test features
MAX_BUNDLE_BYTES = 1024 * MiB  # unpacked
MAX_BUNDLE_FILES = 2000
MAX_REASON = 4000
ARTIFACTS_SLACK = 4 * MiB  # stages.json and archive headers on top of the output caps
MAX_TAIL = 64 * 1024
VERDICTS = ("ok", "exit_nonzero", "timeout", "oom", "pids_exhausted", "output_limit",
            "sandbox_error")


class PayloadError(TakehomeError):
    """A payload is missing, too large, corrupt, or not what its digest says."""


# --- messages ------------------------------------------------------------------------------------


class JobRequest(BaseModel):
    """The coordinator's message: run these stages of this snapshot for this assignment."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern=r"^[0-9a-f]{32,64}$")
    attempt: int = Field(ge=1, le=100)
    snapshot_hash: str = Field(pattern=SHA256)
    snapshot_blob: str = Field(pattern=SHA256)
    snapshot_meta: dict[str, Any]
    bundle_digest: str = Field(pattern=SHA256)
    image_inputs: str = Field(max_length=200)  # the coordinator's sandbox build (inputs digest)
    harness_version: str = Field(max_length=100)
    wall_time_s: float = Field(gt=0, le=7 * 24 * 3600)
    stages: list[Literal["run", "checks"]] = Field(min_length=1, max_length=2)
    hidden: bool = True
    coordinator: str = Field(max_length=300)


class ReturnedStage(BaseModel):
    """One stage record as a worker returns it (capped, verdict from the known set)."""

    model_config = ConfigDict(extra="forbid")

    stage: Literal["run", "tests", "lint"]
    verdict: Literal[VERDICTS]  # type: ignore[valid-type]
    reason: str = Field(default="", max_length=MAX_REASON)
    exit_code: int | None = Field(default=None, ge=-(2**31), le=2**31)
    wall_time_s: float = Field(default=0.0, ge=0, le=10**7)
    peak_memory_bytes: int | None = Field(default=None, ge=0, le=2**50)
    stdout_tail: str = Field(default="", max_length=MAX_TAIL)
    stderr_tail: str = Field(default="", max_length=MAX_TAIL)

    def to_record(self) -> StageRecord:
        """The pipeline's :class:`graders.base.StageRecord`."""
        return StageRecord(**self.model_dump())


class JobReply(BaseModel):
    """A worker's answer, stored at ``takehome:result:<job_id>`` (the first one written wins)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern=r"^[0-9a-f]{32,64}$")
    worker: str = Field(max_length=300)
    status: Literal["ok", "refused", "error"]
    reason: str = Field(default="", max_length=MAX_REASON)
    image: str = Field(default="", max_length=300)
    image_digest: str = Field(default="", max_length=200)
    image_inputs: str = Field(default="", max_length=200)
    artifacts_blob: str | None = Field(default=None, pattern=SHA256)
    artifacts_bytes: int = Field(default=0, ge=0)
    stages: dict[Literal["run", "tests", "lint"], ReturnedStage] = Field(default_factory=dict)
    container_starts: int = Field(default=0, ge=0, le=10)
    timings: dict[str, float] = Field(default_factory=dict, max_length=64)
    seconds: float = Field(default=0.0, ge=0, le=10**7)


# --- archives ------------------------------------------------------------------------------------


def pack_tree(root: Path, members: list[str] | None = None) -> bytes:
    """A deterministic ``tar.gz`` of ``root`` (or of the relative paths ``members``).

    Sorted names, fixed owner and mtime, modes 0644/0755 and gzip mtime 0: the same tree always
    gives the same bytes, so its sha256 names it.
    """
    names = sorted(members) if members is not None else sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*")
        if p.is_file() and not p.is_symlink())
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in names:
            path = root / name
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mode, info.mtime, info.uid, info.gid = 0o644, 0, 0, 0
            with open(path, "rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()


class _Inflating:
    """A gzip reader whose corrupt-data errors are OSErrors (what the extractor records)."""

    def __init__(self, data: bytes):
        self._zipped = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")

    def read(self, size: int = -1) -> bytes:
        try:
            return self._zipped.read(size)
        except (zlib.error, EOFError) as exc:
            raise OSError(f"corrupt gzip stream: {exc}") from exc


def unpack_tree(data: bytes, dest: Path, *, max_bytes: int, max_files: int) -> CopyReport:
    """Unpack an untrusted ``tar.gz`` into ``dest`` (absent or empty) with the copy-out checks."""
    stream: BinaryIO = _Inflating(data)  # type: ignore[assignment]
    return extract_tar_stream(stream, dest, max_bytes=max_bytes, max_files=max_files)


def artifacts_cap(assignment) -> int:
    """Largest artifacts payload a job may return: the run and checks copy-out caps, plus
    stages.json and archive overhead (the same caps the sandbox copy-out applies)."""
    from harness.stages import effective_limits

    return 2 * effective_limits(assignment).output_mb * MiB + ARTIFACTS_SLACK


def artifacts_file_cap(assignment) -> int:
    """Largest number of files in an artifacts payload (both copy-outs, plus stages.json)."""
    from harness.stages import effective_limits

    return 2 * effective_limits(assignment).output_files + 16


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


# --- the blob store ------------------------------------------------------------------------------


def put_blob(client, data: bytes, *, cap: int, what: str) -> str:
    """Store ``data`` under its sha256 (once; later calls only refresh the TTL). Returns it."""
    if len(data) > cap:
        raise PayloadError(f"{what} payload is {len(data) / MiB:.1f} MB, over the broker cap of "
                           f"{cap // MiB} MB")
    digest = sha256(data)
    name = key("blob", digest)
    if not client.set(name, data, ex=PAYLOAD_TTL_S, nx=True):
        client.expire(name, PAYLOAD_TTL_S)
    return digest


def has_blob(client, digest: str) -> bool:
    """True when the blob ``digest`` is in the broker."""
    return bool(client.exists(key("blob", digest)))


def get_blob(client, digest: str, *, cap: int, what: str) -> bytes:
    """The bytes of blob ``digest``; PayloadError when missing, over ``cap`` or not matching."""
    name = key("blob", digest)
    size = client.strlen(name)
    if not size:
        raise PayloadError(f"{what} payload {digest[:12]} is not in the broker (expired or lost)")
    if size > cap:
        raise PayloadError(f"{what} payload is {size / MiB:.1f} MB, over the cap of {cap // MiB} MB")
    data = client.get(name) or b""
    if len(data) > cap or sha256(data) != digest:
        raise PayloadError(f"{what} payload {digest[:12]} does not match its digest")
    return data


def directory_files(root: Path) -> list[str]:
    """Sorted relative posix paths of the regular files under ``root`` (links never followed)."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            path = os.path.join(folder, name)
            if os.path.isfile(path) and not os.path.islink(path):
                found.append(Path(path).relative_to(root).as_posix())
    return sorted(found)
