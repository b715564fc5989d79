"""Entry names: validation (hostile names are rejected) and classification (keep / git / skip).

Every name an archive, a directory walk or a git tree yields goes through
:func:`normalise_name` before anything is written, so a path that could escape the staging
folder never reaches the file system.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Literal

from contracts.errors import SubmissionRejected
from harness.intake.models import IntakeCaps

RAW_NAME_MAX_CHARS = 4096  # anything longer is rejected before it is even normalised
COMPONENT_MAX_BYTES = 255  # NAME_MAX on Linux

# Directories and files that are never part of a snapshot (recorded in Snapshot.skipped).
JUNK_DIRS = frozenset(
    {"__pycache__", ".ipynb_checkpoints", "__MACOSX", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
JUNK_FILE_PATTERNS = ("*.pyc", "*.pyo", ".DS_Store", "Thumbs.db")

# The only parts of a .git folder intake keeps (everything else, hooks and config included,
# is dropped; config is read for the object format only and then replaced).
GIT_KEEP = frozenset({"HEAD", "config", "packed-refs", "shallow", "refs", "objects"})

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Parts = tuple[str, ...]


def _reject(what: str, name: str, hint: str) -> SubmissionRejected:
    shown = _CONTROL.sub("?", name)[:120]
    return SubmissionRejected(f"{what}: {shown!r}", hint=hint)


def normalise_name(raw: str, caps: IntakeCaps) -> Parts:
    """Return the components of a relative entry name, or raise SubmissionRejected.

    Rejected: absolute paths, ``..`` components, Windows drive letters and backslashes,
    control characters, names that are not valid UTF-8, and names over the length/depth caps.
    ``.`` components, empty components and a trailing ``/`` are dropped. The empty tuple
    stands for the submission root.
    """
    if len(raw) > RAW_NAME_MAX_CHARS:
        raise _reject("entry name too long", raw, f"keep paths under {caps.max_path_length} chars")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise _reject("entry name is not valid UTF-8", raw, "rename the file") from None
    if _CONTROL.search(raw):
        raise _reject("entry name contains control characters", raw, "rename the file")
    if "\\" in raw:
        raise _reject(
            "entry name contains a backslash",
            raw,
            "re-create the archive with a tool that uses '/' separators",
        )
    if raw.startswith("/") or _DRIVE.match(raw):
        raise _reject("absolute path in submission", raw, "use paths relative to the project")
    parts = tuple(p for p in raw.split("/") if p not in ("", "."))
    if ".." in parts:
        raise _reject("path escapes the submission ('..')", raw, "remove '..' from entry names")
    path = "/".join(parts)
    if len(path) > caps.max_path_length:
        raise _reject(
            f"path longer than {caps.max_path_length} characters", path, "shorten the path"
        )
    if len(parts) > caps.max_depth:
        raise _reject(f"path deeper than {caps.max_depth} folders", path, "flatten the layout")
    for part in parts:
        if len(part.encode("utf-8")) > COMPONENT_MAX_BYTES:
            raise _reject("file name longer than 255 bytes", path, "shorten the file name")
    return parts


@dataclass(frozen=True)
class Placement:
    """Where an entry goes: kept content, a kept .git internal, or skipped (with a note)."""

    kind: Literal["content", "git", "skip"]
    note: str | None = None  # for skips worth recording: the top-most skipped path


def _is_junk_file(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in JUNK_FILE_PATTERNS)


def classify(parts: Parts, git_positions: frozenset[int], is_dir: bool) -> Placement:
    """Decide what happens to a valid entry.

    ``git_positions`` are the component indexes at which a ``.git`` folder is the submission's
    own repository (0 for a directory; 0 or 1 for an archive, which may be flattened later).
    A ``.git`` anywhere else is a nested repository and is skipped.
    """
    for index, part in enumerate(parts):
        is_last = index == len(parts) - 1
        if part in JUNK_DIRS and not (is_last and not is_dir):
            return Placement("skip", "/".join(parts[: index + 1]) + "/")
        if part == ".git":
            top = "/".join(parts[: index + 1])
            if index not in git_positions:
                return Placement("skip", top + "/ (nested repository)")
            if is_last and not is_dir:
                return Placement("skip", top + " (a .git file, not a repository)")
            rest = parts[index + 1 :]
            if rest and rest[0] not in GIT_KEEP:
                return Placement("skip")
            if len(rest) >= 2 and rest[0] == "objects" and rest[1] == "info":
                return Placement("skip")  # alternates, http-alternates, commit graphs
            return Placement("git")
    if parts and not is_dir and _is_junk_file(parts[-1]):
        return Placement("skip", "/".join(parts))
    return Placement("content")
