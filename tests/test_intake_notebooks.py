"""Intake normalises notebooks Jupyter opens and names (never rejects for) unreadable ones."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path

import nbformat

from harness.intake import ingest

VALID = {
    "cells": [
        {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "# Title"},
        {
            "cell_type": "code",
            "execution_count": 1,
            "id": "b",
            "metadata": {},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": "1\n"}],
            "source": "print(1)",
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "c",
            "metadata": {},
            "outputs": [],
            "source": "x = 2",
        },
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def notebook_with(mutate) -> dict:
    notebook = copy.deepcopy(VALID)
    mutate(notebook)
    return notebook


def ingested(tmp_path: Path, content: bytes, name: str = "analysis.ipynb"):
    """Ingest a submission made of one notebook (``content``) and a script."""
    source = tmp_path / "sub"
    source.mkdir()
    (source / name).write_bytes(content)
    (source / "train.py").write_text("pass\n")
    return ingest(source, tmp_path / "snapshots")


def unreadable(tmp_path: Path, content: bytes, name: str = "analysis.ipynb") -> str:
    """The one unreadable-notebook note of a submission that was still ingested."""
    snapshot = ingested(tmp_path, content, name)
    assert "train.py" in snapshot.files  # the rest of the submission is kept
    assert name not in snapshot.notebooks  # never executed
    assert len(snapshot.unreadable_notebooks) == 1
    return snapshot.unreadable_notebooks[0]


def test_valid_notebook_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.ipynb"
    path.write_text(json.dumps(VALID))
    assert ingest(path, tmp_path / "out").notebooks == ["ok.ipynb"]


def test_old_notebook_version_is_converted_and_accepted(tmp_path: Path) -> None:
    v3 = {
        "metadata": {"name": ""},
        "nbformat": 3,
        "nbformat_minor": 0,
        "worksheets": [
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "collapsed": False,
                        "input": "1",
                        "language": "python",
                        "metadata": {},
                        "outputs": [],
                    }
                ],
                "metadata": {},
            }
        ],
    }
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    assert ingest(path, tmp_path / "out").notebooks == ["old.ipynb"]


def test_cell_without_source_is_repaired(tmp_path: Path) -> None:
    broken = notebook_with(lambda nb: nb["cells"][2].pop("source"))
    snapshot = ingested(tmp_path, json.dumps(broken).encode())
    assert snapshot.notebooks == ["analysis.ipynb"]
    assert snapshot.unreadable_notebooks == []
    assert "analysis.ipynb: repaired" in snapshot.repaired_notebooks[0]
    repaired = nbformat.read(snapshot.root / "analysis.ipynb", as_version=4)
    nbformat.validate(repaired)
    assert repaired.cells[2].source == ""


def test_output_with_unknown_type_is_dropped(tmp_path: Path) -> None:
    broken = notebook_with(lambda nb: nb["cells"][1]["outputs"][0].update(output_type="bogus"))
    snapshot = ingested(tmp_path, json.dumps(broken).encode())
    repaired = nbformat.read(snapshot.root / "analysis.ipynb", as_version=4)
    assert repaired.cells[1].outputs == []


def test_v4_2_notebook_with_cell_ids_is_normalised(tmp_path: Path) -> None:
    # Jupyter opens it; the 4.2 schema has no cell ids, so the strict validator refuses it.
    old = notebook_with(lambda nb: nb.update(nbformat_minor=2))
    snapshot = ingested(tmp_path, json.dumps(old).encode())
    assert snapshot.notebooks == ["analysis.ipynb"]
    nbformat.validate(nbformat.read(snapshot.root / "analysis.ipynb", as_version=4))


def test_v4_0_notebook_is_accepted_untouched(tmp_path: Path) -> None:
    def to_v40(nb: dict) -> None:
        nb["nbformat_minor"] = 0
        for cell in nb["cells"]:
            cell.pop("id")
    content = json.dumps(notebook_with(to_v40)).encode()
    snapshot = ingested(tmp_path, content)
    assert snapshot.notebooks == ["analysis.ipynb"] and snapshot.repaired_notebooks == []
    assert (snapshot.root / "analysis.ipynb").read_bytes() == content


def test_extra_keys_in_outputs_and_missing_metadata_are_repaired(tmp_path: Path) -> None:
    def mutate(nb: dict) -> None:
        nb["cells"][1]["outputs"][0]["transient"] = {"display_id": "x"}
        nb["cells"][0].pop("metadata")
        nb.pop("metadata")
    snapshot = ingested(tmp_path, json.dumps(notebook_with(mutate)).encode())
    assert snapshot.notebooks == ["analysis.ipynb"] and snapshot.unreadable_notebooks == []
    nbformat.validate(nbformat.read(snapshot.root / "analysis.ipynb", as_version=4))


def test_valid_notebook_is_never_rewritten(tmp_path: Path) -> None:
    content = json.dumps(VALID, indent=3).encode()
    snapshot = ingested(tmp_path, content)
    assert (snapshot.root / "analysis.ipynb").read_bytes() == content


def test_unrepairable_notebook_is_named_not_fatal(tmp_path: Path) -> None:
    broken = notebook_with(lambda nb: nb["cells"][0].update(cell_type="nonsense"))
    note = unreadable(tmp_path, json.dumps(broken).encode())
    assert note.startswith("analysis.ipynb: is invalid: cell 0")


def test_invalid_json_is_named_not_fatal(tmp_path: Path) -> None:
    assert "not a readable notebook" in unreadable(tmp_path, b'{"cells": [')


def test_non_utf8_notebook_is_named(tmp_path: Path) -> None:
    assert "not UTF-8" in unreadable(tmp_path, b"\xff\xfe{}")


def test_json_that_is_not_a_notebook_is_named(tmp_path: Path) -> None:
    assert "no nbformat version" in unreadable(tmp_path, b"[1, 2]")


def test_deeply_nested_json_is_named_not_crashing(tmp_path: Path) -> None:
    assert "analysis.ipynb" in unreadable(tmp_path, b"[" * 100_000 + b"]" * 100_000)


def test_notebook_inside_an_archive_is_checked(tmp_path: Path) -> None:
    broken = notebook_with(lambda nb: nb["cells"][0].update(cell_type="nonsense"))
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("proj/notebooks/eda.ipynb", json.dumps(broken))
        handle.writestr("proj/train.py", "pass\n")
    snapshot = ingest(archive, tmp_path / "out")
    assert snapshot.unreadable_notebooks[0].startswith("notebooks/eda.ipynb: is invalid")
    assert "train.py" in snapshot.files


def test_unreadable_notebook_becomes_a_red_flag_and_the_rest_is_graded(tmp_path: Path) -> None:
    from harness.pipeline import GradeSettings, grade_submission
    from harness.task_inference import screening_task

    source = tmp_path / "sub"
    source.mkdir()
    (source / "broken.ipynb").write_bytes(b'{"cells": [')
    (source / "good.ipynb").write_text(json.dumps(VALID))
    (source / "README.md").write_text("# Project\n")
    graded = grade_submission(source, screening_task(tmp_path), GradeSettings(None, run=False),
                              tmp_path / "work")
    assert graded.result.status == "graded"
    flags = [f for f in graded.result.red_flags if f.id == "intake.unreadable_notebook"]
    assert len(flags) == 1 and "broken.ipynb" in flags[0].sentence
    assert flags[0].evidence[0].path == "broken.ipynb"
