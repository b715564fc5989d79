"""The staging folder: the only place intake writes to while reading a submission.

:class:`Stager` creates files and folders from validated names, enforces every cap on the
bytes actually written (never on declared sizes alone), detects duplicates and file/folder
conflicts, and keeps a sha256 of every kept file so hashing needs no second read.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from contracts.errors import SubmissionRejected
from harness.intake.models import IntakeCaps
from harness.intake.paths import Parts, Placement, classify

SKIPPED_MAX = 100  # entries recorded in Snapshot.skipped
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


@dataclass
class FileRecord:
    """A kept file: its size and sha256 (hex)."""

    size: int
    sha256: str


@dataclass
class _Budget:
    files: int = 0
    bytes: int = 0


@dataclass
class Stager:
    """Writes a submission's entries under ``tree``, enforcing ``caps``."""

    tree: Path
    caps: IntakeCaps
    git_positions: frozenset[int] = frozenset({0})
    content: dict[Parts, FileRecord] = field(default_factory=dict)
    git_files: set[Parts] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)
    entries: int = 0
    _dirs: set[Parts] = field(default_factory=set)
    _content_budget: _Budget = field(default_factory=_Budget)
    _git_budget: _Budget = field(default_factory=_Budget)

    # --- bookkeeping -----------------------------------------------------------------------

    def place(self, parts: Parts, is_dir: bool) -> Placement:
        """Count one entry against ``max_entries`` and say where it goes (recording skips)."""
        self.entries += 1
        if self.entries > self.caps.max_entries:
            raise SubmissionRejected(
                f"submission has more than {self.caps.max_entries} entries",
                hint="remove generated files or raise max_entries",
            )
        if not parts and not is_dir:
            raise SubmissionRejected(
                "entry with an empty name (a file named '.' or '/')", hint="re-create the archive"
            )
        placement = classify(parts, self.git_positions, is_dir)
        if placement.kind == "skip" and placement.note:
            self.skip(placement.note)
        return placement

    def skip(self, note: str) -> None:
        """Record a left-out path (the list is capped; duplicates collapse)."""
        if note not in self.skipped and len(self.skipped) < SKIPPED_MAX:
            self.skipped.append(note)

    def _claim(self, parts: Parts, is_dir: bool) -> None:
        path = "/".join(parts)
        if parts in self.content or parts in self.git_files:
            raise SubmissionRejected(
                f"duplicate entry {path!r}", hint="re-create the archive without duplicates"
            )
        if is_dir:
            self._dirs.add(parts)
            return
        if parts in self._dirs:
            raise SubmissionRejected(
                f"{path!r} is both a file and a folder", hint="re-create the archive"
            )
        for end in range(1, len(parts)):
            prefix = parts[:end]
            if prefix in self.content or prefix in self.git_files:
                raise SubmissionRejected(
                    f"{'/'.join(prefix)!r} is both a file and a folder",
                    hint="re-create the archive",
                )
            self._dirs.add(prefix)

    def top_names(self) -> set[str]:
        """First components of every kept file and folder (to decide on flattening)."""
        return {parts[0] for parts in (*self.content, *self.git_files, *self._dirs) if parts}

    def has_top_level_file(self) -> bool:
        """True when a kept file sits directly at the root."""
        return any(len(parts) == 1 for parts in (*self.content, *self.git_files))

    def rebase(self, top: str) -> None:
        """Record that everything under ``top/`` moved to the root (after flattening)."""
        self.content = {parts[1:]: rec for parts, rec in self.content.items()}
        self.git_files = {parts[1:] for parts in self.git_files}
        self._dirs = {parts[1:] for parts in self._dirs if len(parts) > 1}
        prefix = top + "/"
        self.skipped = [note.removeprefix(prefix) for note in self.skipped]

    # --- writing ---------------------------------------------------------------------------

    def make_dir(self, parts: Parts) -> None:
        """Create a folder (and its parents) for a kept entry."""
        self._claim(parts, is_dir=True)
        (self.tree.joinpath(*parts) if parts else self.tree).mkdir(parents=True, exist_ok=True)

    def precheck_size(self, parts: Parts, declared: int, placement: Placement) -> None:
        """Reject early when a declared size already breaks a cap (actual bytes are checked
        again while writing)."""
        self._check(parts, declared, 0, placement, declared=True)

    def _check(
        self, parts: Parts, size: int, extra: int, placement: Placement, declared: bool = False
    ) -> None:
        caps = self.caps
        path = "/".join(parts)
        if placement.kind == "git":
            if self._git_budget.bytes + extra > caps.max_git_bytes or size > caps.max_git_bytes:
                raise SubmissionRejected(
                    f".git is larger than {caps.max_git_bytes} bytes",
                    hint="submit a smaller repository (git gc) or raise max_git_bytes",
                )
            return
        if size > caps.max_file_bytes:
            raise SubmissionRejected(
                f"file {path!r} is larger than {caps.max_file_bytes} bytes"
                + (" (declared size)" if declared else ""),
                hint="leave large data files out of the submission or raise max_file_bytes",
            )
        if self._content_budget.bytes + extra > caps.max_total_bytes:
            raise SubmissionRejected(
                f"submission is larger than {caps.max_total_bytes} bytes uncompressed",
                hint="leave data and generated files out or raise max_total_bytes",
            )

    def write_file(self, parts: Parts, chunks: Iterable[bytes], placement: Placement) -> int:
        """Stream ``chunks`` into a new file; return the number of bytes written."""
        if placement.kind not in ("content", "git"):
            raise ValueError(f"cannot write a {placement.kind} entry")
        budget = self._git_budget if placement.kind == "git" else self._content_budget
        max_files = self.caps.max_git_files if placement.kind == "git" else self.caps.max_files
        if budget.files + 1 > max_files:
            where = ".git has" if placement.kind == "git" else "submission has"
            cap = "max_git_files" if placement.kind == "git" else "max_files"
            raise SubmissionRejected(
                f"{where} more than {max_files} files",
                hint=f"remove generated files or raise {cap}",
            )
        self._claim(parts, is_dir=False)
        budget.files += 1
        target = self.tree.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd = os.open(target, _OPEN_FLAGS, 0o600)
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                budget.bytes += len(chunk)
                self._check(parts, size, 0, placement)
                if placement.kind == "content":
                    digest.update(chunk)
                out.write(chunk)
        if placement.kind == "git":
            self.git_files.add(parts)
        else:
            self.content[parts] = FileRecord(size=size, sha256=digest.hexdigest())
        return size
