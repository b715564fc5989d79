"""An output folder's index lists every submission graded into it, batch after batch."""

from __future__ import annotations

import csv
import io
import re
import shutil

import pytest

from harness.assignment import load_assignment
from harness.batch import grade_batch
from harness.pipeline import GradeSettings


@pytest.fixture(scope="module")
def diabetes():
    return load_assignment("diabetes-progression")


def candidates(tmp_path, diabetes, *names):
    examples = diabetes.root / "examples"
    folders = []
    for name, example in zip(names, ["strong", "weak", "strong", "weak"]):
        folder = tmp_path / "incoming" / name
        shutil.copytree(examples / example, folder)
        folders.append(folder)
    return folders


def rows(out):
    html = (out / "index.html").read_text(encoding="utf-8")
    names = sorted(r["candidate"] for r in csv.DictReader(
        io.StringIO((out / "summary.csv").read_text(encoding="utf-8"))))
    return html, names


def grade(diabetes, sources, out, **kwargs):
    return grade_batch(diabetes, sources, out, settings=GradeSettings(image=None, run=False),
                       jobs=1, **kwargs)


def test_a_second_batch_keeps_the_first_batchs_candidates_in_the_index(tmp_path, diabetes,
                                                                        capsys):
    out = tmp_path / "round"
    ada, bo, cy = candidates(tmp_path, diabetes, "ada", "bo", "cy")
    grade(diabetes, [ada, bo], out)
    grade(diabetes, [cy], out)
    html, names = rows(out)
    assert names == ["ada", "bo", "cy"]
    for name in ("ada", "bo", "cy"):
        assert f'href="./{name}/report.html"' in html
    assert len(re.findall(r'<td class="cand"', html)) == 3

    # regrading a candidate replaces its row, never duplicates it
    grade(diabetes, [ada], out, force=True)
    assert rows(out)[1] == ["ada", "bo", "cy"]

    # a damaged earlier result is left out with a warning; the batch still writes its index
    (out / "bo" / "result.json").write_text("{not json", encoding="utf-8")
    capsys.readouterr()
    grade(diabetes, [cy], out, force=True)
    assert rows(out)[1] == ["ada", "cy"]
    err = capsys.readouterr().err
    assert "bo/result.json left out of the index" in err
    assert err.count("left out of the index") == 1  # the folder's results are read once


def test_a_blind_index_leaves_out_the_candidates_graded_with_their_names(tmp_path, diabetes,
                                                                         capsys):
    out = tmp_path / "round"
    ada, bo, cy = candidates(tmp_path, diabetes, "ada-lovelace", "bo-jackson", "cy-young")
    grade(diabetes, [ada], out)
    grade(diabetes, [bo], out, blind=True)
    assert "left out of this blind index" in capsys.readouterr().err
    grade(diabetes, [cy], out, blind=True)
    html, names = rows(out)
    assert len(names) == 2  # both blind candidates, under pseudonyms
    for name in ("ada-lovelace", "lovelace", "bo-jackson", "jackson", "cy-young"):
        assert name not in html and not any(name in n for n in names)


def test_an_identical_copy_under_another_name_is_listed_under_that_name(tmp_path, diabetes):
    out = tmp_path / "round"
    ada, = candidates(tmp_path, diabetes, "ada")
    copy = tmp_path / "incoming" / "bo"
    shutil.copytree(ada, copy)
    grade(diabetes, [ada], out)
    grade(diabetes, [copy], out)  # same content: the stored grading is reused
    assert rows(out)[1] == ["ada", "bo"]
    report = (out / "bo" / "report.html").read_text(encoding="utf-8")
    assert "<title>bo — " in report
