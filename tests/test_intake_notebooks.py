"""Intake validates every notebook with nbformat and names the broken cell."""

from __future__ import annotations

import copy
import json
import os
import zipfile
from pathlib import Path

import pytest

from harness.errors import SubmissionRejected
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


def rejected(tmp_path: Path, content: bytes, name: str = "analysis.ipynb") -> str:
    source = tmp_path / "sub"
    source.mkdir()
    (source / name).write_bytes(content)
    (source / "train.py").write_text("pass\n")
    dest = tmp_path / "snapshots"
    with pytest.raises(SubmissionRejected) as caught:
        ingest(source, dest)
    assert os.listdir(dest) == []
    return str(caught.value)


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


def test_cell_without_source_is_rejected_naming_the_cell(tmp_path: Path) -> None:
    broken = notebook_with(lambda nb: nb["cells"][2].pop("source"))
    message = rejected(tmp_path, json.dumps(broken).encode())
    assert "notebook 'analysis.ipynb' is invalid" in message
    assert "cell 2" in message


def test_output_with_unknown_type_is_rejected_naming_the_cell(tmp_path: Path) -> None:
    broken = notebook_with(lambda nb: nb["cells"][1]["outputs"][0].update(output_type="bogus"))
    message = rejected(tmp_path, json.dumps(broken).encode())
    assert "cell 1" in message


def test_invalid_json_is_rejected(tmp_path: Path) -> None:
    message = rejected(tmp_path, b'{"cells": [')
    assert "not a readable notebook" in message


def test_non_utf8_notebook_is_rejected(tmp_path: Path) -> None:
    assert "not UTF-8" in rejected(tmp_path, b"\xff\xfe{}")


def test_missing_top_level_key_is_rejected(tmp_path: Path) -> None:
    broken = notebook_with(lambda nb: nb.pop("metadata"))
    assert "analysis.ipynb" in rejected(tmp_path, json.dumps(broken).encode())


def test_deeply_nested_json_is_rejected_not_crashing(tmp_path: Path) -> None:
    assert "analysis.ipynb" in rejected(tmp_path, b"[" * 100_000 + b"]" * 100_000)


def test_notebook_inside_an_archive_is_validated(tmp_path: Path) -> None:
    broken = notebook_with(lambda nb: nb["cells"][0].update(cell_type="nonsense"))
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("proj/notebooks/eda.ipynb", json.dumps(broken))
    with pytest.raises(SubmissionRejected, match=r"notebook 'notebooks/eda.ipynb' is invalid"):
        ingest(archive, tmp_path / "out")
