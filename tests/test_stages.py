"""Sandbox stages end to end: real containers on tiny crafted submissions and assignments.

Host-only tests (notebook selection, record folding, run.json validation) run without Docker;
the rest are marked ``docker`` and use the ``sandbox_image`` fixture.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import nbformat
import numpy as np
import pandas as pd
import pytest

from graders.base import StageRecord
from harness.assignment import load_assignment
from harness.stages import (
    StageArtifacts,
    _apply_copy_report,
    _run_reason,
    effective_limits,
    has_harness_fault,
    is_test_file,
    read_run_report,
    run_stages,
    select_notebooks,
)

LABEL_COLUMN = "is_fraud"


def make_assignment(root: Path, **spec_overrides: object) -> Path:
    """A tiny binary-classification assignment folder (features: amount; 60 held-out rows)."""
    (root / "public").mkdir(parents=True)
    (root / "hidden").mkdir()
    spec = {
        "slug": "tiny-binary",
        "title": "Tiny binary task",
        "task_type": "binary_classification",
        "target": LABEL_COLUMN,
        "id_column": "tx_id",
        "positive_class": 1,
        "classes": [0, 1],
        "metrics": ["average_precision", "roc_auc", "f1"],
        "primary_metric": "average_precision",
        "limits": {"wall_time_s": 120, "memory_mb": 1024, "cpus": 1},
    }
    spec.update(spec_overrides)
    import yaml

    (root / "assignment.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (root / "README.md").write_text("# Tiny\n")
    rng = np.random.default_rng(0)

    def frame(n: int, start: int) -> pd.DataFrame:
        x = rng.normal(size=n)
        y = (x + rng.normal(size=n) * 0.5 > 1).astype(int)
        return pd.DataFrame(
            {"tx_id": np.arange(start, start + n), "amount": x.round(4), LABEL_COLUMN: y}
        )

    train, test = frame(200, 0), frame(60, 1000)
    train.to_csv(root / "public" / "train.csv", index=False)
    features = test.drop(columns=LABEL_COLUMN)
    features.head(10).to_csv(root / "public" / "sample_test_features.csv", index=False)
    features.to_csv(root / "hidden" / "test_features.csv", index=False)
    test[["tx_id", LABEL_COLUMN]].to_csv(root / "hidden" / "test_labels.csv", index=False)
    return root


def write_notebook(path: Path, cells: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    nbformat.write(notebook, str(path))
    return path


PREDICT_CELLS = [
    """\
    import os
    import pandas as pd
    data = os.environ["TAKEHOME_DATA_DIR"]
    out = os.environ["TAKEHOME_OUTPUT_DIR"]
    """,
    """\
    test = pd.read_csv(f"{data}/test_features.csv")
    span = test.amount.max() - test.amount.min()
    test["score"] = (test.amount - test.amount.min()) / span
    test["label"] = (test.score > 0.7).astype(int)
    test[["tx_id", "score", "label"]].to_csv(f"{out}/predictions.csv", index=False)
    """,
    """\
    import matplotlib.pyplot as plt
    plt.plot([1, 2, 3])
    plt.savefig(f"{out}/curve.png")
    """,
]


@pytest.fixture()
def assignment(tmp_path: Path):
    return load_assignment(make_assignment(tmp_path / "assignment"))


def ingest_dir(source: Path, tmp_path: Path):
    from harness.intake import ingest

    return ingest(source, tmp_path / "snapshots")


# --- host-only -----------------------------------------------------------------------------------


def test_test_file_patterns():
    assert is_test_file("tests/test_model.py")
    assert is_test_file("model_test.py")
    assert not is_test_file("testing.py")
    assert not is_test_file("tests/helpers.py")


def test_named_notebook_wins_then_single_then_all(assignment):
    snap = SimpleNamespace(notebooks=["b.ipynb", "a.ipynb"])
    assert select_notebooks(snap, assignment) == ["a.ipynb", "b.ipynb"]
    assert select_notebooks(SimpleNamespace(notebooks=["x.ipynb"]), assignment) == ["x.ipynb"]
    spec = assignment.spec.model_copy(
        update={"submission": assignment.spec.submission.model_copy(update={"notebook": "b.ipynb"})}
    )
    named = SimpleNamespace(spec=spec)
    assert select_notebooks(snap, named) == ["b.ipynb"]
    assert select_notebooks(SimpleNamespace(notebooks=["a.ipynb", "c.ipynb"]), named) == ["b.ipynb"]
    off = SimpleNamespace(
        spec=assignment.spec.model_copy(
            update={
                "submission": assignment.spec.submission.model_copy(
                    update={"execute_notebooks": False}
                )
            }
        )
    )
    assert select_notebooks(snap, off) == []


def test_assignment_limits_override_defaults(assignment):
    limits = effective_limits(assignment)
    assert (limits.wall_time_s, limits.memory_mb, limits.cpus) == (120, 1024, 1.0)


def test_run_json_is_schema_checked(tmp_path: Path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"notebooks": [{"path": "a.ipynb", "status": "pwned"}]}))
    assert read_run_report(path) is None
    path.write_text(
        json.dumps(
            {
                "notebooks": [
                    {
                        "path": "a.ipynb",
                        "status": "error",
                        "failing_cell": 2,
                        "evalue": "x" * 10_000,
                    }
                ],
                "command": None,
            }
        )
    )
    report = read_run_report(path)
    assert report is not None and len(report.notebooks[0].evalue) <= 2000
    path.write_text("[" * 100_000)
    assert read_run_report(path) is None


def test_copy_fault_is_a_harness_fault_not_a_candidate_failure():
    ok = StageRecord(stage="run", verdict="ok")
    fault = _apply_copy_report(ok, SimpleNamespace(error="stream broke", ok=False))
    assert fault.verdict == "sandbox_error"
    violation = _apply_copy_report(
        ok, SimpleNamespace(error=None, ok=False, violation_reason=lambda: "a symlink")
    )
    assert violation.verdict == "output_limit"
    artifacts = StageArtifacts(root=Path("."), stages={"run": fault})
    assert has_harness_fault(artifacts)
    assert not has_harness_fault(StageArtifacts(root=Path("."), stages={"run": violation}))


def test_unusable_takehome_toml_fails_the_run_with_its_reason():
    record = _run_reason(StageRecord(stage="run", verdict="ok"), None, "takehome.toml: bad")
    assert record.verdict == "exit_nonzero" and "takehome.toml" in record.reason


def test_nothing_to_run_starts_no_container(assignment, tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "README.md").write_text("I ran out of time.\n")
    art = run_stages(
        ingest_dir(sub, tmp_path),
        assignment,
        image="takehome-sandbox:never-used",
        work_dir=tmp_path / "work",
    )
    assert art.container_starts == 0
    assert art.stages["run"].verdict == "exit_nonzero"
    assert "nothing to run" in art.stages["run"].reason
    assert art.predictions is None and not art.executed_notebooks


# --- with containers -----------------------------------------------------------------------------


@pytest.mark.docker
def test_notebook_predictions_and_figures_are_collected(sandbox_image, assignment, tmp_path):
    sub = tmp_path / "sub"
    write_notebook(sub / "solution.ipynb", PREDICT_CELLS)
    art = run_stages(
        ingest_dir(sub, tmp_path), assignment, image=sandbox_image, work_dir=tmp_path / "work"
    )
    assert art.stages["run"].verdict == "ok", art.stages["run"]
    # A notebook-only submission: no tests to run, but its code is still linted.
    assert set(art.stages) == {"run", "lint"}
    assert art.predictions is not None and art.predictions.name == "predictions.csv"
    assert set(art.executed_notebooks) == {"solution.ipynb"}
    executed = nbformat.read(str(art.executed_notebooks["solution.ipynb"]), as_version=4)
    assert executed.cells[0].get("execution_count") == 1
    assert [f.name for f in art.figures] == ["curve.png"]
    assert art.notebook_errors == {}
    assert isinstance(art, StageArtifacts) and art.container_starts == 2
    assert {"run_start", "run_exec", "run_copy_out"} <= set(art.timings)
    assert json.loads((art.root / "stages.json").read_text())["container_starts"] == 2


@pytest.mark.docker
def test_failing_cell_is_captured(sandbox_image, assignment, tmp_path):
    sub = tmp_path / "sub"
    write_notebook(
        sub / "analysis.ipynb",
        [
            "x = 1",
            "y = 2",
            "raise ValueError('the model exploded')",
            "print('never runs')",
        ],
    )
    art = run_stages(
        ingest_dir(sub, tmp_path), assignment, image=sandbox_image, work_dir=tmp_path / "work"
    )
    run = art.stages["run"]
    assert run.verdict == "exit_nonzero"
    assert "analysis.ipynb" in run.reason and "cell 2" in run.reason
    error = art.notebook_errors["analysis.ipynb"]
    assert error["status"] == "error" and error["cell"] == 2
    assert error["ename"] == "ValueError" and "the model exploded" in error["evalue"]
    assert "\x1b[" not in error["traceback"] and "ValueError" in error["traceback"]
    assert error["cells_executed"] == 3
    saved = nbformat.read(str(art.executed_notebooks["analysis.ipynb"]), as_version=4)
    assert saved.cells[3].get("execution_count") is None  # partially executed, still saved
    assert art.predictions is None


@pytest.mark.docker
def test_hidden_labels_never_enter_the_container(sandbox_image, assignment, tmp_path):
    sub = tmp_path / "sub"
    (sub / "probe").mkdir(parents=True)
    (sub / "takehome.toml").write_text('[run]\ncommand = "python probe/look.py"\n')
    (sub / "probe" / "look.py").write_text(
        textwrap.dedent("""\
        import json, os
        found = []
        for top in ("/data", "/submission", "/workspace", "/opt", "/tmp", "/home"):
            for dirpath, _, files in os.walk(top):
                found += [os.path.join(dirpath, f) for f in files]
        header = open("/data/test_features.csv").readline().strip()
        with open(os.path.join(os.environ["TAKEHOME_OUTPUT_DIR"], "probe.json"), "w") as fh:
            json.dump({"data": sorted(os.listdir("/data")), "files": found, "header": header}, fh)
        """)
    )
    art = run_stages(
        ingest_dir(sub, tmp_path), assignment, image=sandbox_image, work_dir=tmp_path / "work"
    )
    assert art.stages["run"].verdict == "ok", art.stages["run"]
    probe = json.loads((art.root / "run" / "probe.json").read_text())
    assert probe["data"] == ["test_features.csv", "train.csv"]
    assert not any("test_labels" in f for f in probe["files"])
    assert LABEL_COLUMN not in probe["header"].split(",")
    # the checks container (probe/look.py is a .py file) only ever sees the public sample
    assert "tests" not in art.stages and art.stages["lint"].verdict == "ok"
    assert art.container_starts == 2


@pytest.mark.docker
def test_repository_checks_use_the_harness_settings(sandbox_image, assignment, tmp_path):
    sub = tmp_path / "repo"
    (sub / "fraud").mkdir(parents=True)
    (sub / "tests").mkdir()
    (sub / "fraud" / "__init__.py").write_text("")
    (sub / "fraud" / "features.py").write_text(
        textwrap.dedent("""\
        import os, sys


        def scale(values):
            if values == None:
                return []
            top = max(values)
            return [v / top for v in values]


        def unused_branch(flag):
            if flag:
                return 1
            return 2
        """)
    )
    (sub / "tests" / "test_features.py").write_text(
        textwrap.dedent("""\
        import os
        from fraud.features import scale


        def test_scale():
            assert scale([1, 2]) == [0.5, 1.0]


        def test_fails():
            assert scale([2]) == [2]


        def test_public_data_only():
            data = os.environ["TAKEHOME_DATA_DIR"]
            assert sorted(os.listdir(data)) == ["test_features.csv", "train.csv"]
            assert sum(1 for _ in open(os.path.join(data, "test_features.csv"))) == 11


        def test_tampering_with_the_inventory():
            os.remove("conftest.py")  # the workspace copy; env reads /submission
            out = os.path.join(os.environ["TAKEHOME_OUTPUT_DIR"], "takehome")
            os.makedirs(out, exist_ok=True)
            with open(os.path.join(out, "environment.json"), "w") as fh:
                fh.write("{}")
        """)
    )
    (sub / "conftest.py").write_text(
        textwrap.dedent("""\
        import pytest


        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            yield
        """)
    )
    (sub / ".pylintrc").write_text("[MESSAGES CONTROL]\ndisable=all\n")
    (sub / "pytest.ini").write_text("[pytest]\naddopts = --this-option-does-not-exist\n")
    (sub / "sitecustomize.py").write_text("")
    snapshot = ingest_dir(sub, tmp_path)
    art = run_stages(snapshot, assignment, image=sandbox_image, work_dir=tmp_path / "work")
    assert art.container_starts == 1  # no notebook, no run command: only the checks container
    assert "nothing to run" in art.stages["run"].reason
    assert art.stages["tests"].verdict == "exit_nonzero"  # one test fails: pytest exits 1
    assert art.stages["tests"].exit_code == 1
    assert art.stages["lint"].verdict == "ok"

    junit = art.junit_xml.read_text()
    assert 'tests="4"' in junit and 'failures="1"' in junit  # addopts ignored; public data only

    coverage = json.loads(art.coverage_json.read_text())
    assert "fraud/features.py" in coverage["files"]
    assert not any(name.startswith("tests/") for name in coverage["files"])

    pylint = json.loads(art.pylint_json.read_text())
    symbols = {(m["path"], m["symbol"]) for m in pylint["messages"]}
    assert ("fraud/features.py", "singleton-comparison") in symbols  # .pylintrc disable=all ignored
    assert ("fraud/features.py", "unused-import") in symbols

    env = json.loads(art.environment_json.read_text())
    integrity = env["integrity"]
    assert integrity["conftest"] == ["conftest.py"]
    assert integrity["pytest_hooks"][0]["hooks"] == ["pytest_runtest_makereport"]
    assert integrity["pylintrc"] == [".pylintrc"]
    assert integrity["pytest_config"] == ["pytest.ini"]
    assert integrity["sitecustomize"] == ["sitecustomize.py"]
    assert env["packages"]["scikit-learn"] and env["packages"]["pytest"]


@pytest.mark.docker
def test_candidate_pylintrc_does_not_change_the_lint_result(sandbox_image, assignment, tmp_path):
    results = []
    for with_rc in (False, True):
        sub = tmp_path / f"repo{with_rc}"
        sub.mkdir()
        (sub / "model.py").write_text(
            "import os\n\ndef f(a):\n    if a == None:\n        return 1\n"
        )
        if with_rc:
            (sub / "pylintrc").write_text("[MESSAGES CONTROL]\ndisable=all\n")
            (sub / "pyproject.toml").write_text(
                "[tool.pylint.'MESSAGES CONTROL']\ndisable = 'all'\n"
            )
        art = run_stages(
            ingest_dir(sub, tmp_path / f"s{with_rc}"),
            assignment,
            image=sandbox_image,
            work_dir=tmp_path / f"work{with_rc}",
            stages=("checks",),
        )
        assert set(art.stages) == {"lint"} and art.container_starts == 1
        messages = json.loads(art.pylint_json.read_text())["messages"]
        results.append(
            sorted((m["path"], m["symbol"], m["line"]) for m in messages if m["path"] == "model.py")
        )
    assert results[0], "pylint reported nothing: the harness rcfile is not in effect"
    assert results[0] == results[1]


@pytest.mark.docker
def test_bundled_fraud_examples_run_and_grade(sandbox_image, repo_root, tmp_path):
    from graders.base import GraderContext
    from graders.heldout_metrics import HeldoutMetricsGrader

    folder = repo_root / "assignments" / "fraud-detection"
    if not (folder / "hidden" / "test_labels.csv").is_file():
        pytest.skip("the bundled fraud-detection assignment is not there yet")
    fraud = load_assignment(folder)
    outcomes = {}
    for example in ("weak", "broken"):
        snapshot = ingest_dir(fraud.examples_dir / example, tmp_path / example)
        art = run_stages(snapshot, fraud, image=sandbox_image, work_dir=tmp_path / f"w-{example}")
        context = GraderContext(snapshot.root, snapshot.to_meta(), fraud, art)
        outcomes[example] = (art, HeldoutMetricsGrader().grade(context))
    weak_art, weak = outcomes["weak"]
    assert weak_art.stages["run"].verdict == "ok" and weak_art.predictions is not None
    assert weak.details["validation"]["ok"] and 0 < weak.score <= 1
    broken_art, broken = outcomes["broken"]
    assert broken_art.stages["run"].verdict == "exit_nonzero" and broken_art.notebook_errors
    assert broken.score == 0.0 and not broken.checks[0].passed


@pytest.mark.docker
def test_budget_stops_a_slow_notebook_before_the_host_timer(sandbox_image, assignment, tmp_path):
    from sandbox.limits import Limits

    sub = tmp_path / "sub"
    write_notebook(sub / "slow.ipynb", ["import time\ntime.sleep(600)", "print('late')"])
    art = run_stages(
        ingest_dir(sub, tmp_path),
        assignment,
        image=sandbox_image,
        work_dir=tmp_path / "work",
        limits=Limits(wall_time_s=25, memory_mb=1024),
    )
    run = art.stages["run"]
    assert run.verdict == "exit_nonzero" and run.wall_time_s < 25  # our budget, not the kill
    error = art.notebook_errors["slow.ipynb"]
    assert error["status"] == "timeout" and error["cell"] == 0
    assert "slow.ipynb" in art.executed_notebooks  # saved although it did not finish


@pytest.mark.docker
def test_memory_exhaustion_is_reported_as_oom(sandbox_image, assignment, tmp_path):
    from sandbox.limits import Limits

    sub = tmp_path / "sub"
    write_notebook(sub / "hungry.ipynb", ["blocks = [bytearray(50_000_000) for _ in range(40)]"])
    art = run_stages(
        ingest_dir(sub, tmp_path),
        assignment,
        image=sandbox_image,
        work_dir=tmp_path / "work",
        limits=Limits(wall_time_s=90, memory_mb=400),
    )
    run = art.stages["run"]
    assert run.verdict == "oom", run
    assert art.notebook_errors["hungry.ipynb"]["status"] == "kernel_died"


FORGING_TESTS = """\
import atexit
import os

from fraud.score import double

FORGED = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" '
    'failures="0" skipped="0" tests="12">'
    + "".join(f'<testcase classname="tests.test_forge" name="test_{i}"/>' for i in range(12))
    + "</testsuite></testsuites>"
)


def _forge():
    path = os.path.join(os.environ["TAKEHOME_OUTPUT_DIR"], "takehome", "junit.xml")
    with open(path, "w") as handle:
        handle.write(FORGED)
    print("12 passed in 0.01s")


atexit.register(_forge)


def test_double():
    assert double(2) == 5


def test_double_zero():
    assert double(0) == 1
"""


@pytest.mark.docker
def test_forged_junit_from_an_atexit_handler_is_caught(sandbox_image, assignment, tmp_path):
    """A test file's atexit handler rewrites junit.xml to claim 12 passes: no pass, a red flag."""
    from graders.base import GraderContext
    from graders.registry import is_harness_fault, run_grader
    from graders.testing import TestsGrader

    sub = tmp_path / "forger"
    (sub / "fraud").mkdir(parents=True)
    (sub / "tests").mkdir()
    (sub / "fraud" / "__init__.py").write_text("")
    (sub / "fraud" / "score.py").write_text("def double(x):\n    return 2 * x\n")
    (sub / "tests" / "test_forge.py").write_text(FORGING_TESTS)
    snapshot = ingest_dir(sub, tmp_path)
    art = run_stages(
        snapshot, assignment, image=sandbox_image, work_dir=tmp_path / "work", stages=("checks",)
    )
    assert art.stages["tests"].exit_code == 1, art.stages["tests"]
    assert 'tests="2"' in art.junit_xml.read_text()  # pytest's own report, not the forgery

    context = GraderContext(snapshot.root, snapshot.to_meta(), assignment, art)
    result = run_grader(TestsGrader(), context)
    assert not is_harness_fault(result), result.reason
    checks = {c.id: c for c in result.checks}
    assert not checks["tests.pass"].passed
    assert checks["tests.pass"].evidence[0].metric["failed"] == 2
    [flag] = [f for f in result.red_flags if f.id == "tests.tampering"]
    assert flag.severity == "high"
    assert "takehome/junit.xml" in flag.sentence  # written by candidate code during the run
    assert "12 passed" in flag.sentence  # the forged summary line contradicts the exit code


@pytest.mark.parametrize(
    ("cpus", "jobs", "expected"),
    [(2, 1, 2), (2, 2, 3), (2, 4, 4), (8, 1, 2), (8, 2, 4), (8, 8, 9), (1, 1, 2), (16, 3, 6)],
)
def test_sandbox_slots_pair_a_lone_submissions_containers_without_oversubscribing(
    monkeypatch, cpus, jobs, expected
):
    import harness.batch

    monkeypatch.setattr(harness.batch.os, "cpu_count", lambda: cpus)
    assignment = SimpleNamespace(spec=SimpleNamespace(limits=SimpleNamespace(cpus=1.0)))
    assert harness.batch.sandbox_slots(jobs, assignment) == expected


def test_sandbox_slots_bound_how_many_holders_run_at_once():
    import threading
    import time

    from harness.stages import SandboxSlots

    slots, lock, state = SandboxSlots(2), threading.Lock(), {"now": 0, "peak": 0}

    def hold():
        with slots:
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(0.05)
            with lock:
                state["now"] -= 1

    threads = [threading.Thread(target=hold) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state == {"now": 0, "peak": 2}
    with pytest.raises(ValueError):
        SandboxSlots(0)
