"""What a submission leaves on the host stays under the documented bound (harness/footprint.py).

The unit cases feed the copy-out hand-made tar streams; the end-to-end cases grade real
submissions in real containers: one writes 200 MB into its output area, one submits a large
data file, and the host keeps at most ``Limits.footprint_mb`` (25 MB) of each.
"""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
from pathlib import Path

import pytest

from contracts.errors import EnvironmentProblem
from harness.footprint import (
    check_free_space,
    checks_keep_rules,
    disk_bytes,
    run_keep_rules,
    trim_retained,
)
from sandbox.copyout import extract_tar_stream
from sandbox.limits import MIB, Limits

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
BOUND = Limits().footprint_mb * MIB


def _tar(entries: list[tuple[str, bytes]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def _extract(entries, tmp_path, rules=None):
    rules = rules or run_keep_rules("predictions.csv", Limits())
    return extract_tar_stream(_tar(entries), tmp_path / "out", max_bytes=200 * MIB,
                              max_files=2000, keep=rules)


def test_only_what_graders_use_is_kept_and_every_drop_has_a_reason(tmp_path):
    report = _extract([
        ("predictions.csv", b"patient_id,prediction\nP1,1.0\n"),
        ("takehome/run.json", b"{}"),
        ("takehome/notebooks/analysis.ipynb", b"{}"),
        ("model.pkl", b"x" * (3 * MIB)),
        ("junk/deep/blob.bin", b"y" * (5 * MIB)),
        *[(f"fig{i:02d}.png", PNG) for i in range(25)],
    ], tmp_path)
    assert report.ok, report
    assert "predictions.csv" in report.files and "takehome/run.json" in report.files
    assert sum(f.startswith("fig") for f in report.files) == 20  # MAX_FIGURES_KEPT
    dropped = {d.name: d.reason for d in report.dropped}
    assert "over the 2.5 MB cap for one other file" in dropped["model.pkl"]
    assert "over the 2.5 MB cap" in dropped["junk/deep/blob.bin"]
    assert dropped["fig24.png"] == "more than 20 figure file(s)"
    assert report.dropped_files == 7
    assert not (tmp_path / "out" / "junk").exists()  # no folder for dropped files
    note = report.dropped_note()
    assert note.startswith("output: kept ") and "not kept on the host: 7 file(s)" in note


def test_class_budgets_cannot_starve_the_predictions(tmp_path):
    big_png = PNG + b"\x00" * (2 * MIB - len(PNG) - 4096)
    entries = [(f"plots/{i}.png", big_png) for i in range(30)]
    entries += [(f"takehome/notebooks/n{i}.ipynb", b"n" * (5 * MIB)) for i in range(4)]
    entries.append(("predictions.csv", b"p" * (5 * MIB)))  # last in the stream
    report = _extract(entries, tmp_path)
    assert "predictions.csv" in report.files
    assert report.bytes_copied <= run_keep_rules("predictions.csv", Limits()).max_bytes
    assert disk_bytes(tmp_path / "out") <= BOUND


def test_deep_nesting_and_control_characters_in_names_are_dropped_and_escaped(tmp_path):
    deep = "/".join(["d"] * 20) + "/x.png"
    report = _extract([(deep, PNG), ("evil\x1b[2J\u202egnp.png", PNG * 40000)], tmp_path)
    reasons = {d.name: d.reason for d in report.dropped}
    assert reasons[deep] == "nested deeper than 8 folders"
    [shown] = [n for n in reasons if n.startswith("evil")]
    assert "\x1b" not in shown and "\u202e" not in shown
    assert shown.startswith("evil\\x1b[2J\\u202egnp.png")


def test_checks_reports_have_their_own_small_budget(tmp_path):
    report = _extract([("takehome/pylint.json", b"[]" * (MIB // 2) * 5),
                       ("takehome/junit.xml", b"<testsuites/>")], tmp_path,
                      rules=checks_keep_rules(Limits()))
    assert report.files == ["takehome/junit.xml"]
    assert "over the 3.0 MB cap" in report.dropped[0].reason


def test_a_full_host_disk_during_copy_out_is_a_harness_fault(tmp_path, monkeypatch):
    import errno
    import os

    from sandbox import copyout

    def full(_fd, _data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(copyout, "_write_all", full)
    report = _extract([("predictions.csv", b"a,b\n1,2\n")], tmp_path)
    assert report.error is not None and "host disk is full" in report.error
    assert report.rejected == []  # never the candidate's violation
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_snapshot_that_does_not_fit_is_removed_after_grading(tmp_path):
    snapshot, runs = tmp_path / "snap", tmp_path / "runs"
    (runs / "artifacts").mkdir(parents=True)
    (runs / "artifacts" / "predictions.csv").write_bytes(b"x" * MIB)
    snapshot.mkdir()
    (snapshot / "data.csv").write_bytes(b"y" * (30 * MIB))
    note = trim_retained(snapshot, runs, Limits())
    assert note["snapshot_retained"] is False and not snapshot.exists()
    assert json.loads((runs / "artifacts" / "footprint.json").read_text())["reason"]
    small = tmp_path / "small"
    small.mkdir()
    (small / "predict.py").write_text("print(1)\n")
    assert trim_retained(small, runs, Limits())["snapshot_retained"] is True
    assert small.exists()


def test_free_space_check_names_the_numbers(tmp_path):
    with pytest.raises(EnvironmentProblem) as raised:
        check_free_space(tmp_path, 10**18, 3)
    assert "not enough free space for this batch" in str(raised.value)
    assert "3 submission(s)" in str(raised.value)
    check_free_space(tmp_path / "not" / "yet", 1, 1)  # a missing folder: its parent's disk


# --- real containers ------------------------------------------------------------------------------

FLOODER = textwrap.dedent("""\
    import csv, os
    out = os.environ["TAKEHOME_OUTPUT_DIR"]
    with open("/data/test_features.csv") as fh:
        ids = [row["patient_id"] for row in csv.DictReader(fh)]
    with open(os.path.join(out, "predictions.csv"), "w") as fh:
        fh.write("patient_id,prediction\\n" + "".join(f"{i},150.0\\n" for i in ids))
    png = b"\\x89PNG\\r\\n\\x1a\\n" + bytes(64 * 1024)
    os.makedirs(os.path.join(out, "plots"), exist_ok=True)
    for i in range(40):
        with open(os.path.join(out, "plots", f"{i}.png"), "wb") as fh:
            fh.write(png)
    chunk = os.urandom(1024 * 1024)
    try:
        for i in range(200):  # 200 MB more: fills the 200 MB output area
            with open(os.path.join(out, f"junk{i:03d}.bin"), "wb") as fh:
                fh.write(chunk)
    except OSError as exc:
        print("output area full:", exc)
    """)


def _folder(root: Path, name: str, files: dict[str, bytes | str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return folder


@pytest.fixture(scope="module")
def graded(sandbox_image, tmp_path_factory):
    """One batch: a 200 MB output writer and a submission with a 40 MB data file."""
    from harness.assignment import load_assignment
    from harness.batch import grade_batch
    from harness.grade import prepare_settings

    root = tmp_path_factory.mktemp("footprint")
    subs = root / "subs"
    _folder(subs, "flooder", {"README.md": "# flooder\n", "predict.py": FLOODER})
    _folder(subs, "bigdata", {
        "README.md": "# big data\n",
        "predict.py": "print('no predictions')\n",
        "data/extra.csv": ("a,b\n" + "1,2\n" * (10 * MIB)),  # 40 MB, within the intake caps
    })
    assignment = load_assignment("diabetes-progression")
    out = root / "out"
    settings = prepare_settings(assignment, True, out / ".work")
    outcome = grade_batch(assignment, [subs / "bigdata", subs / "flooder"], out,
                          settings=settings, jobs=1, formats=("json", "html"))
    return out, {item.name: item for item in outcome.items}


def _retained(out: Path, item) -> int:
    digest = item.result.submission.content_hash.split(":")[-1][:16]
    return (disk_bytes(out / ".work" / "runs" / digest)
            + disk_bytes(out / ".work" / "snapshots" / digest))


@pytest.mark.docker
def test_a_200_mb_writer_leaves_at_most_the_bound_on_the_host(graded):
    out, items = graded
    item = items["flooder"]
    assert item.result.status != "harness_error", item.result
    assert _retained(out, item) <= BOUND
    runs = item.artifacts_root
    assert (runs / "run" / "predictions.csv").is_file()  # what the graders need is kept
    assert not (runs.parent / "data").exists()  # scratch removed
    copy = json.loads((runs / "copyout-run.json").read_text())
    assert copy["dropped_files"] >= 150 and copy["dropped_bytes"] >= 150 * MIB
    assert sum(name.startswith("plots/") for name in
               [p.relative_to(runs / "run").as_posix() for p in (runs / "run").rglob("*.png")]
               ) == 20
    run = item.result.model_dump(mode="json")
    assert "not kept on the host" in json.dumps(run)  # the note is in the result


@pytest.mark.docker
def test_a_large_submitted_data_file_does_not_stay_on_the_host(graded):
    out, items = graded
    item = items["bigdata"]
    assert item.result.status != "harness_error", item.result
    assert _retained(out, item) <= BOUND
    note = json.loads((item.artifacts_root / "footprint.json").read_text())
    assert note["snapshot_retained"] is False and note["snapshot_bytes"] > 30 * MIB
    assert (out / "bigdata" / "result.json").is_file()  # the result and report stay
