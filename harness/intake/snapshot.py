"""``ingest``: from a submission path to a read-only, content-addressed snapshot folder.

Flow: detect the format → stage every entry into a private temporary folder under
``dest_root`` (validated, capped) → flatten a single top-level folder (archives) → take the
top-level ``.git`` out and read its history safely → validate notebooks → hash → make
read-only → rename to ``dest_root/<content_hash[:16]>``. On any failure the temporary
folder is removed, so nothing is left in ``dest_root``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from contracts.errors import EnvironmentProblem, SubmissionRejected
from harness.intake.archives import ARCHIVE_GIT_POSITIONS, read_tar, read_zip
from harness.intake.directory import read_directory, read_single_file
from harness.intake.git import (
    GitRunner,
    clone_bundle,
    is_repository_folder,
    prepare_gitdir,
    read_history,
    read_tree,
)
from harness.intake.models import GitCommit, IntakeCaps, Snapshot, SnapshotKind
from harness.intake.notebooks import check_notebook
from harness.intake.staging import FileRecord, Stager

HASH_PREFIX = b"takehome-snapshot-v1\n"
FIXED_MTIME = 946684800  # 2000-01-01T00:00:00Z: every snapshot file gets this mtime
NAME_MAX_CHARS = 100

_TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
DEFAULT_CAPS = IntakeCaps()  # frozen, so sharing one default instance is safe
SUPPORTED = "a folder, .zip, .tar/.tar.gz/.tgz, .ipynb, a git repository or a .bundle"


def content_hash(records: dict[str, FileRecord]) -> str:
    """sha256 over the sorted (path, sha256(bytes)) pairs: independent of mtimes, modes,
    entry order and the format the files came in."""
    digest = hashlib.sha256(HASH_PREFIX)
    for path in sorted(records):
        digest.update(path.encode("utf-8") + b"\x00" + bytes.fromhex(records[path].sha256))
    return digest.hexdigest()


def detect_kind(source: Path) -> SnapshotKind:
    """The submission format, from the path (folders) or the file name's suffix."""
    if source.is_dir():
        return "git" if is_repository_folder(source) else "directory"
    name = source.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    if name.endswith(".ipynb"):
        return "notebook"
    if name.endswith(".bundle"):
        return "bundle"
    raise SubmissionRejected(
        f"unsupported submission format {source.name!r}", hint=f"submit {SUPPORTED}"
    )


def display_name(source: Path) -> str:
    """The source's name without archive suffixes, printable and short."""
    name = source.name
    for suffix in (*_TAR_SUFFIXES, ".zip", ".ipynb", ".bundle"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    name = re.sub(r"[\x00-\x1f\x7f]", "?", name)
    return name[:NAME_MAX_CHARS] or "submission"


def _single_top_folder(stager: Stager) -> str | None:
    tops = stager.top_names()
    if len(tops) != 1 or stager.has_top_level_file():
        return None
    (top,) = tops
    return None if top == ".git" else top


def _flatten(work: Path, tree: Path, stager: Stager) -> Path:
    """Move a single top-level folder's content up (``proj/x`` → ``x``); return the tree."""
    top = _single_top_folder(stager)
    if top is None:
        return tree
    inner = work / "flat"
    os.rename(tree / top, inner)
    tree.rmdir()
    stager.rebase(top)
    return inner


def _drop_nested_git(tree: Path, stager: Stager) -> None:
    """After flattening, a ``.git`` not at the root is a nested repository: remove it."""
    nested = {parts[: parts.index(".git") + 1] for parts in stager.git_files if parts[0] != ".git"}
    for parts in sorted(nested):
        shutil.rmtree(tree.joinpath(*parts))
        stager.skip("/".join(parts) + "/ (nested repository)")


def make_read_only(root: Path) -> None:
    """Give every file and folder below ``root`` the snapshot's modes (0444 / 0555) and mtime."""
    for folder, dirs, files in os.walk(root, topdown=False):
        for name in files:
            path = os.path.join(folder, name)
            os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
            os.chmod(path, 0o444)
        for name in dirs:
            path = os.path.join(folder, name)
            os.utime(path, (FIXED_MTIME, FIXED_MTIME), follow_symlinks=False)
            os.chmod(path, 0o555)


def _listed_files(root: Path) -> list[str]:
    found = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            found.append(Path(folder, name).relative_to(root).as_posix())
    return sorted(found)


def remove_snapshot(path: Path) -> None:
    """Delete a snapshot (or staging) folder, read-only modes included."""

    def _unlock(function: Callable, target: str, _info: object) -> None:
        parent = os.path.dirname(target)
        os.chmod(parent, stat.S_IRWXU)
        if os.path.isdir(target) and not os.path.islink(target):
            os.chmod(target, stat.S_IRWXU)
        function(target)

    if path.exists():
        for folder, _dirs, _files in os.walk(path):
            os.chmod(folder, stat.S_IRWXU)
        shutil.rmtree(path, onerror=_unlock)


def _existing_hash(root: Path) -> str:
    records = {}
    for rel in _listed_files(root):
        digest = hashlib.sha256()
        with open(root / rel, "rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        records[rel] = FileRecord(size=0, sha256=digest.hexdigest())
    return content_hash(records)


def _publish(tree: Path, dest_root: Path, digest: str) -> Path:
    """Rename the staged tree to ``dest_root/<digest[:16]>`` (or reuse an identical one)."""
    final = dest_root / digest[:16]
    make_read_only(tree)
    try:
        os.rename(tree, final)
    except OSError:
        if not final.is_dir():
            raise
        if _existing_hash(final) != digest:
            raise EnvironmentProblem(
                f"snapshot folder {final} exists with different content",
                hint="remove it (it was modified after intake)",
            ) from None
        return final
    os.utime(final, (FIXED_MTIME, FIXED_MTIME))
    os.chmod(final, 0o555)
    return final


def _stage(kind: SnapshotKind, source: Path, work: Path, stager: Stager) -> None:
    if kind in ("directory", "git"):
        read_directory(source, stager)
    elif kind == "zip":
        read_zip(source, stager)
    elif kind == "tar":
        read_tar(source, stager)
    elif kind == "notebook":
        read_single_file(source, stager)
    else:  # bundle
        runner = _runner(work, stager.caps)
        repo = clone_bundle(source, work / "bundle.git", runner, stager.caps)
        read_tree(repo, runner, stager, "bundle")


def _runner(work: Path, caps: IntakeCaps) -> GitRunner:
    """The git runner of one intake: its HOME is a folder inside the staging area."""
    return GitRunner(work / "home", caps.git_timeout_s)


def _prune_empty_dirs(tree: Path) -> None:
    """Drop empty folders: a snapshot holds files only (archives and folders then agree)."""
    for folder, _dirs, _files in os.walk(tree, topdown=False):
        if folder != str(tree) and not os.listdir(folder):
            os.rmdir(folder)


def ingest(source: Path, dest_root: Path, caps: IntakeCaps = DEFAULT_CAPS) -> Snapshot:
    """Read ``source`` safely into ``dest_root/<content_hash[:16]>`` and describe it.

    Raises SubmissionRejected (one line, with a hint) for hostile or invalid input, before
    anything is written outside a private temporary folder, which is always removed.
    """
    source = Path(source)
    if not os.path.lexists(source):
        raise EnvironmentProblem(f"submission {source} does not exist", hint="check the path")
    source = source.resolve()
    kind = detect_kind(source)
    dest_root = Path(dest_root)
    dest_root.mkdir(parents=True, exist_ok=True)
    dest_root = dest_root.resolve()  # git runs in another working directory: paths must be absolute
    if kind in ("directory", "git") and dest_root.resolve().is_relative_to(source):
        raise EnvironmentProblem(
            f"snapshot folder {dest_root} is inside the submission {source}",
            hint="choose an output folder outside the submission",
        )
    work = Path(tempfile.mkdtemp(prefix=".intake-", dir=dest_root))
    try:
        tree = work / "tree"
        tree.mkdir()
        archive = kind in ("zip", "tar")
        stager = Stager(tree, caps, ARCHIVE_GIT_POSITIONS if archive else frozenset({0}))
        _stage(kind, source, work, stager)
        if archive:
            tree = _flatten(work, tree, stager)
        _drop_nested_git(tree, stager)
        commits, count = _history(kind, tree, work, stager, caps)
        _prune_empty_dirs(tree)
        records = {"/".join(parts): rec for parts, rec in stager.content.items()}
        if not records:
            raise SubmissionRejected(
                "submission contains no files (after leaving out junk)",
                hint=f"submit {SUPPORTED} with your work in it",
            )
        # A notebook nobody can read is named, not fatal; one nbformat can repair is repaired.
        checks = [check_notebook(tree / rel, rel) for rel in sorted(records)
                  if rel.lower().endswith(".ipynb")]
        listed = _listed_files(tree)
        if listed != sorted(records):  # pragma: no cover - internal consistency check
            raise RuntimeError("intake staging does not match its records")
        digest = content_hash(records)
        root = _publish(tree, dest_root, digest)
    finally:
        remove_snapshot(work)
    files = sorted(records)
    return Snapshot(
        root=root,
        content_hash=digest,
        kind=kind,
        name=display_name(source),
        files=files,
        git_commits=commits,
        git_commit_count=count,
        notebooks=[c.rel for c in checks if c.status != "unreadable"],
        unreadable_notebooks=[c.sentence() for c in checks if c.status == "unreadable"],
        repaired_notebooks=[c.sentence() for c in checks if c.status == "repaired"],
        python_files=[f for f in files if f.endswith(".py")],
        total_bytes=sum(rec.size for rec in records.values()),
        skipped=list(stager.skipped),
    )


def _history(
    kind: SnapshotKind, tree: Path, work: Path, stager: Stager, caps: IntakeCaps
) -> tuple[list[GitCommit] | None, int | None]:
    """Take ``.git`` out of the tree and read its history (None when there is none)."""
    if kind == "bundle":
        return read_history(work / "bundle.git", _runner(work, caps), caps, "bundle")
    staged_git = tree / ".git"
    if not staged_git.is_dir():
        return None, None
    gitdir = work / "gitdir"
    os.rename(staged_git, gitdir)
    stager.git_files.clear()
    runner = _runner(work, caps)
    if not prepare_gitdir(gitdir, runner):
        stager.skip(".git/ (not a repository: no HEAD)")
        return None, None
    return read_history(gitdir, runner, caps, ".git")
