"""The assignment bundle a worker runs a job with: never the hidden labels.

A bundle holds ``assignment.yaml``, ``README.md``, every file of ``public/`` and
``hidden/test_features.csv`` (the held-out *features*, mounted in the run container as on the
coordinator). ``hidden/test_labels.csv``, the solutions and the examples stay on the
coordinator: held-out scoring happens there, from the predictions a worker returns.

The bundle is a deterministic ``tar.gz`` named by its sha256; a worker caches it unpacked under
``<cache>/bundles/<digest>/`` and reuses it for every job of that assignment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

from harness.assignment import Assignment, load_spec
from harness.workers.payloads import (
    MAX_BUNDLE_BYTES,
    MAX_BUNDLE_FILES,
    MAX_BUNDLE_PAYLOAD,
    PayloadError,
    directory_files,
    get_blob,
    pack_tree,
    put_blob,
    unpack_tree,
)

HIDDEN_FEATURES = "hidden/test_features.csv"
LABELS = "hidden/test_labels.csv"
_lock = threading.Lock()


def bundle_members(assignment: Assignment) -> list[str]:
    """The files a worker receives, relative to the assignment folder (no labels, ever)."""
    root = assignment.root
    members = [name for name in ("assignment.yaml", "README.md") if (root / name).is_file()]
    members += [f"public/{rel}" for rel in directory_files(assignment.public_dir)]
    if (root / HIDDEN_FEATURES).is_file():
        members.append(HIDDEN_FEATURES)
    assert LABELS not in members and not any(m.startswith("solutions/") for m in members)
    return members


def pack_bundle(assignment: Assignment) -> bytes:
    """The bundle's bytes (deterministic: the same assignment always gives the same digest)."""
    return pack_tree(assignment.root, bundle_members(assignment))


def upload_bundle(client, assignment: Assignment) -> str:
    """Put the assignment's bundle in the broker; returns its digest."""
    return put_blob(client, pack_bundle(assignment), cap=MAX_BUNDLE_PAYLOAD, what="assignment")


def cached_assignment(client, digest: str, cache_root: Path) -> Assignment:
    """The bundle ``digest`` as an :class:`Assignment`, fetched and unpacked once per worker."""
    folder = cache_root / "bundles" / digest
    with _lock:
        if not (folder / "assignment.yaml").is_file():
            _fetch(client, digest, folder)
    return Assignment(root=folder, spec=load_spec(folder / "assignment.yaml"))


def _fetch(client, digest: str, folder: Path) -> None:
    data = get_blob(client, digest, cap=MAX_BUNDLE_PAYLOAD, what="assignment")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=folder.parent))
    try:
        report = unpack_tree(data, staging / "tree", max_bytes=MAX_BUNDLE_BYTES,
                             max_files=MAX_BUNDLE_FILES)
        if not report.ok:
            raise PayloadError("assignment bundle rejected: "
                               f"{report.error or report.violation_reason()}")
        if not (staging / "tree" / "assignment.yaml").is_file():
            raise PayloadError("assignment bundle has no assignment.yaml")
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(staging / "tree", folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
