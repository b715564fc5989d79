"""Intake positives: every format ingests, hashes agree across formats, snapshots are
read-only, deterministic and free of junk."""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from harness.intake import IntakeCaps, Snapshot, ingest, remove_snapshot

NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "id": "intro", "metadata": {}, "source": "# Churn model"},
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "fit",
            "metadata": {},
            "outputs": [],
            "source": "import sklearn\nprint('fit')",
        },
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}

FILES = {
    "README.md": b"# Solution\n",
    "src/train.py": b"def train():\n    return 1\n",
    "src/features/__init__.py": b"",
    "analysis.ipynb": json.dumps(NOTEBOOK).encode(),
    "data/small.csv": b"a,b\n1,2\n",
}
JUNK = {
    "src/__pycache__/train.cpython-311.pyc": b"\x00junk",
    ".ipynb_checkpoints/analysis-checkpoint.ipynb": b"{}",
    ".DS_Store": b"junk",
    "src/old.pyc": b"junk",
}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def make_zip(path: Path, files: dict[str, bytes], prefix: str = "") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for rel, data in reversed(list(files.items())):  # a different order than the folder
            archive.writestr(prefix + rel, data)
    return path


def make_tar(path: Path, files: dict[str, bytes], prefix: str = "", mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as archive:
        for rel, data in sorted(files.items()):
            info = tarfile.TarInfo(prefix + rel)
            info.size = len(data)
            info.mtime = 1234567890
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    return tmp_path / "snapshots"


def test_directory_ingests_without_junk(tmp_path: Path, dest: Path) -> None:
    source = write_tree(tmp_path / "alice", {**FILES, **JUNK})
    snap = ingest(source, dest)
    assert snap.kind == "directory"
    assert snap.name == "alice"
    assert snap.files == sorted(FILES)
    assert snap.notebooks == ["analysis.ipynb"]
    assert snap.python_files == ["src/features/__init__.py", "src/train.py"]
    assert snap.git_commits is None
    assert snap.root == dest / snap.content_hash[:16]
    assert (snap.root / "src/train.py").read_bytes() == FILES["src/train.py"]
    assert "src/__pycache__/" in snap.skipped and ".DS_Store" in snap.skipped
    assert not (snap.root / "src/__pycache__").exists()
    assert snap.total_bytes == sum(len(v) for v in FILES.values())


def test_same_content_has_same_hash_as_dir_zip_tar(tmp_path: Path, dest: Path) -> None:
    folder = ingest(write_tree(tmp_path / "alice", FILES), dest)
    zipped = ingest(make_zip(tmp_path / "alice.zip", {**FILES, **JUNK}, "alice/"), dest)
    tarred = ingest(make_tar(tmp_path / "alice.tar.gz", FILES, "./alice/"), dest)
    plain_tar = ingest(make_tar(tmp_path / "alice.tar", FILES, mode="w"), dest)
    flat_zip = ingest(make_zip(tmp_path / "flat.zip", FILES), dest)
    hashes = {s.content_hash for s in (folder, zipped, tarred, plain_tar, flat_zip)}
    assert len(hashes) == 1
    assert [zipped.kind, tarred.kind, plain_tar.kind] == ["zip", "tar", "tar"]
    assert zipped.name == "alice" and tarred.name == "alice"
    assert zipped.files == folder.files == tarred.files
    assert sorted(os.listdir(dest)) == [folder.content_hash[:16]]  # one shared snapshot


def test_hash_changes_with_content_and_with_path(tmp_path: Path, dest: Path) -> None:
    base = ingest(write_tree(tmp_path / "a", FILES), dest).content_hash
    changed = ingest(write_tree(tmp_path / "b", {**FILES, "README.md": b"# other\n"}), dest)
    moved = dict(FILES)
    moved["src/training.py"] = moved.pop("src/train.py")
    renamed = ingest(write_tree(tmp_path / "c", moved), dest)
    assert len({base, changed.content_hash, renamed.content_hash}) == 3


def test_ingest_is_deterministic_and_independent_of_mtimes(tmp_path: Path, dest: Path) -> None:
    source = write_tree(tmp_path / "alice", FILES)
    first = ingest(source, dest)
    os.utime(source / "README.md", (1, 1))
    second = ingest(source, tmp_path / "other")
    assert first.content_hash == second.content_hash
    assert first.files == second.files
    assert first.model_dump(exclude={"root"}) == second.model_dump(exclude={"root"})


def test_snapshot_is_read_only(tmp_path: Path, dest: Path) -> None:
    snap = ingest(write_tree(tmp_path / "alice", FILES), dest)
    assert stat.S_IMODE(os.stat(snap.root).st_mode) == 0o555
    for folder, dirs, files in os.walk(snap.root):
        for name in dirs:
            assert stat.S_IMODE(os.stat(Path(folder, name)).st_mode) == 0o555
        for name in files:
            assert stat.S_IMODE(os.stat(Path(folder, name)).st_mode) == 0o444
    remove_snapshot(snap.root)
    assert not snap.root.exists()


def test_single_notebook_becomes_a_snapshot(tmp_path: Path, dest: Path) -> None:
    path = tmp_path / "bob_solution.ipynb"
    path.write_text(json.dumps(NOTEBOOK))
    snap = ingest(path, dest)
    assert snap.kind == "notebook"
    assert snap.name == "bob_solution"
    assert snap.files == ["bob_solution.ipynb"] == snap.notebooks
    assert snap.git_commits is None


def test_archive_with_two_top_level_entries_is_not_flattened(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "two.zip", {"a/x.py": b"1", "b/y.py": b"2"})
    assert ingest(archive, dest).files == ["a/x.py", "b/y.py"]


def test_macos_zip_is_flattened_and_macosx_skipped(tmp_path: Path, dest: Path) -> None:
    archive = make_zip(tmp_path / "mac.zip", {"proj/x.py": b"1", "__MACOSX/proj/._x.py": b"\x00"})
    snap = ingest(archive, dest)
    assert snap.files == ["x.py"]
    assert "__MACOSX/" in snap.skipped


def test_empty_folders_are_not_part_of_the_snapshot(tmp_path: Path, dest: Path) -> None:
    source = write_tree(tmp_path / "alice", FILES)
    (source / "empty" / "deeper").mkdir(parents=True)
    snap = ingest(source, dest)
    assert not (snap.root / "empty").exists()


def test_to_meta_is_json_able(tmp_path: Path, dest: Path) -> None:
    snap = ingest(write_tree(tmp_path / "alice", FILES), dest)
    meta = json.loads(json.dumps(snap.to_meta()))
    assert meta["content_hash"] == snap.content_hash
    assert meta["root"] == str(snap.root)
    assert Snapshot.model_validate(meta) == snap


def test_caps_are_configurable_and_validated() -> None:
    caps = IntakeCaps(max_files=3)
    assert caps.max_files == 3 and caps.max_file_bytes == 50 * 1024 * 1024
    with pytest.raises(ValueError):
        IntakeCaps(max_files=0)
    with pytest.raises(ValueError):
        IntakeCaps(max_filez=3)  # typo in a config file is an error, not ignored


def test_staging_folder_is_removed_after_success(tmp_path: Path, dest: Path) -> None:
    snap = ingest(write_tree(tmp_path / "alice", FILES), dest)
    assert os.listdir(dest) == [snap.root.name]


def test_output_folder_inside_the_submission_is_refused(tmp_path: Path) -> None:
    from contracts.errors import EnvironmentProblem

    source = write_tree(tmp_path / "alice", FILES)
    with pytest.raises(EnvironmentProblem, match="inside the submission"):
        ingest(source, source / "out")


def test_missing_source_is_an_environment_problem(tmp_path: Path, dest: Path) -> None:
    from contracts.errors import EnvironmentProblem

    with pytest.raises(EnvironmentProblem, match="does not exist"):
        ingest(tmp_path / "nope.zip", dest)


@pytest.mark.parametrize("suffix,mode", [(".tar.bz2", "w:bz2"), (".tar.xz", "w:xz")])
def test_other_tar_compressions_ingest(tmp_path: Path, dest: Path, suffix: str, mode: str) -> None:
    folder = ingest(write_tree(tmp_path / "alice", FILES), dest)
    tarred = ingest(make_tar(tmp_path / f"alice{suffix}", FILES, "alice/", mode), dest)
    assert tarred.kind == "tar" and tarred.content_hash == folder.content_hash


def test_concurrent_ingests_of_the_same_content_share_one_snapshot(
    tmp_path: Path, dest: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sources = [write_tree(tmp_path / f"copy{i}", FILES) for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        snapshots = list(pool.map(lambda source: ingest(source, dest), sources))
    assert len({s.root for s in snapshots}) == 1
    assert os.listdir(dest) == [snapshots[0].root.name]


def test_tampered_existing_snapshot_is_not_reused(tmp_path: Path, dest: Path) -> None:
    from contracts.errors import EnvironmentProblem

    source = write_tree(tmp_path / "alice", FILES)
    snap = ingest(source, dest)
    target = snap.root / "README.md"
    target.chmod(0o644)
    target.write_bytes(b"tampered")
    with pytest.raises(EnvironmentProblem, match="exists with different content"):
        ingest(source, dest)
