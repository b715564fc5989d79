"""Public data types of intake: the caps, a git commit, and the snapshot itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MiB = 1024 * 1024

MESSAGE_MAX_CHARS = 2000  # a commit message longer than this is cut (marked with "…")
IDENTITY_MAX_CHARS = 200  # author name / e-mail cap

SnapshotKind = Literal["directory", "zip", "tar", "notebook", "git", "bundle"]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class IntakeCaps(BaseModel):
    """Limits a submission must respect; every limit is checked while reading, never trusted
    from headers alone. ``.git`` internals have their own caps (``max_git_*``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_total_bytes: int = Field(default=200 * MiB, gt=0)  # all kept files together
    max_file_bytes: int = Field(default=50 * MiB, gt=0)  # one kept file
    max_files: int = Field(default=5000, gt=0)  # kept files (junk and .git internals excluded)
    max_compression_ratio: float = Field(default=100.0, gt=1.0)  # uncompressed / compressed
    max_path_length: int = Field(default=255, gt=0)  # characters of a relative path
    max_depth: int = Field(default=32, gt=0)  # path components
    max_entries: int = Field(default=50_000, gt=0)  # every entry seen: dirs, junk, .git included
    max_git_bytes: int = Field(default=200 * MiB, gt=0)  # .git internals / a bundle file
    max_git_files: int = Field(default=20_000, gt=0)  # files under .git
    max_commits: int = Field(default=500, gt=0)  # newest commits of HEAD kept in git_commits
    git_timeout_s: float = Field(default=120.0, gt=0)  # per git command


class GitCommit(BaseModel):
    """One commit of the submitted history (author identity and date as the candidate wrote them)."""

    sha: str
    author_name: str
    author_email: str
    date: str  # author date, strict ISO 8601 with offset
    message: str  # full message, cut to MESSAGE_MAX_CHARS

    @field_validator("message")
    @classmethod
    def _cap_message(cls, value: str) -> str:
        return _cut(value, MESSAGE_MAX_CHARS)

    @field_validator("author_name", "author_email")
    @classmethod
    def _cap_identity(cls, value: str) -> str:
        return _cut(value, IDENTITY_MAX_CHARS)


class Snapshot(BaseModel):
    """A normalised, read-only copy of a submission (files only, no ``.git``, no junk)."""

    root: Path
    content_hash: str  # sha256 over sorted (relative path, file bytes); see hashing.py
    kind: SnapshotKind
    name: str  # display name derived from the source file/dir name
    files: list[str]  # sorted posix relative paths
    git_commits: list[GitCommit] | None = None  # None: no history submitted; oldest first
    git_commit_count: int | None = None  # commits reachable from HEAD (may exceed the list)
    notebooks: list[str] = Field(default_factory=list)  # readable notebooks (executed in a run)
    unreadable_notebooks: list[str] = Field(default_factory=list)  # "path: why", not graded
    repaired_notebooks: list[str] = Field(default_factory=list)  # "path: what was repaired"
    python_files: list[str] = Field(default_factory=list)
    total_bytes: int = 0
    skipped: list[str] = Field(default_factory=list)  # junk / nested repos left out (capped)

    def to_meta(self) -> dict[str, Any]:
        """A JSON-able dict of everything above (``root`` as a string)."""
        return self.model_dump(mode="json")
