"""Batch grading: resumable after SIGKILL, one bad submission never stops the others."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import ClassVar

import docker
import nbformat
import pytest

from harness.assignment import load_assignment
from harness.batch import expand_sources, grade_batch
from harness.grade import prepare_settings

pytestmark = pytest.mark.docker

PREDICT = """
import os
import pandas as pd
from sklearn.linear_model import Ridge
data = os.environ["TAKEHOME_DATA_DIR"]
train = pd.read_csv(os.path.join(data, "train.csv"))
test = pd.read_csv(os.path.join(data, "test_features.csv"))
features = [c for c in train.columns if c not in ("patient_id", "progression")]
model = Ridge(alpha={alpha}).fit(train[features], train["progression"])
out = pd.DataFrame({{"patient_id": test["patient_id"], "prediction": model.predict(test[features])}})
out.to_csv(os.path.join(os.environ["TAKEHOME_OUTPUT_DIR"], "predictions.csv"), index=False)
"""


def notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Diabetes progression")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(scope="module")
def diabetes():
    assignment = load_assignment("diabetes-progression")
    spec = assignment.spec
    if spec.id_column != "patient_id" or spec.target != "progression":
        pytest.skip("fixture code assumes the bundled diabetes column names")
    return assignment


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def managed_containers() -> list:
    """takehome containers left behind: made by this process, or by a process that is gone.

    Containers of other live processes (another batch running on the same engine) are theirs.
    """
    client = docker.from_env()
    found = client.containers.list(all=True, filters={"label": "takehome.managed=1"})
    host = socket.gethostname()
    leftovers = []
    for container in found:
        owner_host, _, pid = container.labels.get("takehome.owner", "").partition(":")
        if owner_host != host or not pid.isdigit():
            continue
        if int(pid) == os.getpid() or not _alive(int(pid)):
            leftovers.append(container)
    return leftovers


def test_hostile_broken_and_good_submissions_all_get_a_status(diabetes, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    notebook(subs / "good.ipynb", PREDICT.format(alpha=1.0))
    notebook(subs / "broken.ipynb", "import pandas as pd", "raise RuntimeError('halfway')")
    with zipfile.ZipFile(subs / "hostile.zip", "w") as archive:
        archive.writestr("../../escape.py", "print('owned')")
    settings = prepare_settings(diabetes, True, tmp_path / "out" / ".work")
    outcome = grade_batch(
        diabetes, expand_sources([subs]), tmp_path / "out", settings=settings, jobs=2
    )
    status = {item.name: item.result.status for item in outcome.items}
    assert status == {"good": "graded", "broken": "execution_failed", "hostile": "rejected"}
    assert not (tmp_path / "escape.py").exists()
    rejected = next(i for i in outcome.items if i.name == "hostile").result
    assert ".." in rejected.status_reason or "outside" in rejected.status_reason
    assert not managed_containers()


def test_batch_resumes_after_sigkill_without_duplicates_or_leftovers(diabetes, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for n in range(4):
        notebook(subs / f"cand{n}.ipynb", PREDICT.format(alpha=0.5 + n))
    out = tmp_path / "out"
    # Calibration is cached on disk; warm it so the timing below concerns grading only.
    prepare_settings(diabetes, True, out / ".work")
    cmd = [
        sys.executable,
        "-m",
        "harness.cli",
        "grade",
        "diabetes-progression",
        str(subs),
        "-o",
        str(out),
        "-j",
        "1",
        "--format",
        "json",
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    db = out / "results.sqlite"
    deadline = time.monotonic() + 600
    graded = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            with sqlite3.connect(db) as conn:
                try:
                    graded = conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                except sqlite3.OperationalError:
                    graded = 0
            if graded >= 1:
                break
        time.sleep(0.5)
    assert graded >= 1, "the first submission was graded before the kill"
    time.sleep(2)  # let the next submission's container start
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as conn:
        before = dict(conn.execute("SELECT submission_hash, graded_at FROM results").fetchall())
    assert 1 <= len(before) < 4

    rerun = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT submission_hash, graded_at FROM results").fetchall()
    assert len(rows) == 4
    assert len({r[0] for r in rows}) == 4
    after = dict(rows)
    for sub_hash, graded_at in before.items():
        assert after[sub_hash] == graded_at, "already graded results are reused, not regraded"
    assert not managed_containers()


class CountingSlots:
    """harness.stages.SandboxSlots that records how many containers held a slot at once."""

    instances: ClassVar[list[CountingSlots]] = []

    def __init__(self, count: int):
        from harness.stages import SandboxSlots

        self.count, self.inner = count, SandboxSlots(count)
        self.lock, self.in_use, self.peak, self.entries = threading.Lock(), 0, 0, 0
        CountingSlots.instances.append(self)

    def __enter__(self):
        self.inner.__enter__()
        with self.lock:
            self.in_use += 1
            self.entries += 1
            self.peak = max(self.peak, self.in_use)
        time.sleep(0.3)  # widen the window in which an overlap would show
        return self

    def __exit__(self, *exc_info):
        with self.lock:
            self.in_use -= 1
        self.inner.__exit__(*exc_info)


def test_a_batch_never_runs_more_containers_than_its_slots(diabetes, tmp_path, monkeypatch):
    import harness.batch

    subs = tmp_path / "subs"
    subs.mkdir()
    for i in range(3):  # notebook + a .py file: a run and a checks container each
        (subs / f"s{i}").mkdir()
        notebook(subs / f"s{i}" / "solution.ipynb", PREDICT.format(alpha=1.0 + i))
        (subs / f"s{i}" / "helpers.py").write_text(f'"""Helpers."""\nALPHA = {i}\n')
    monkeypatch.setattr(harness.batch, "SandboxSlots", CountingSlots)
    monkeypatch.setattr(harness.batch, "sandbox_slots", lambda jobs, assignment: 2)
    CountingSlots.instances.clear()
    settings = prepare_settings(diabetes, True, tmp_path / "out" / ".work")
    outcome = grade_batch(
        diabetes, expand_sources([subs]), tmp_path / "out", settings=settings, jobs=3
    )
    assert [i.result.status for i in outcome.items] == ["graded"] * 3
    [slots] = CountingSlots.instances
    assert slots.entries == 6  # every container went through the slots
    assert slots.peak == 2  # three workers, yet never more than two containers at once
    assert not managed_containers()
