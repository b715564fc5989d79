"""Test modules found by their content run in the sandbox too, whatever their file names.

pytest's default patterns collect ``test_*.py`` / ``*_test.py`` only; the tests grader reads
real tests in other modules (``graders.testing_static``), so the checks stage passes those
modules to pytest explicitly. Names from the host are still checked inside the container.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from graders.source import clear_caches
from harness.stages import named_test_files, run_stages

INSIDE = Path(__file__).resolve().parent.parent / "sandbox" / "inside"
VALIDATION_TESTS = textwrap.dedent("""\
    from lib import one


    def test_one():
        assert one() == 1


    def test_one_is_an_int():
        assert isinstance(one(), int) and one() > 0
    """)


def write_repo(root: Path) -> Path:
    (root / "checks").mkdir(parents=True)
    (root / "lib.py").write_text("def one():\n    return 1\n")
    (root / "checks" / "validate_lib.py").write_text(
        "import os\nimport sys\n\nimport pytest  # noqa: F401\n\nsys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\n"
        + VALIDATION_TESTS
    )
    (root / "checks" / "helpers.py").write_text("def helper():\n    return 2\n")
    return root


def test_stage_selection_names_content_found_test_modules_only(tmp_path):
    clear_caches()
    root = write_repo(tmp_path / "repo")
    (root / "test_lib.py").write_text(VALIDATION_TESTS)  # pytest collects this one itself
    assert named_test_files(SimpleNamespace(root=root)) == ["checks/validate_lib.py"]


@pytest.mark.skipif(importlib.util.find_spec("coverage") is None, reason="needs coverage")
def test_tests_mode_runs_named_modules_and_refuses_names_outside_the_workspace(tmp_path):
    workspace = write_repo(tmp_path / "ws")
    (tmp_path / "outside.py").write_text("def test_outside():\n    assert True\n")
    os.symlink(tmp_path / "outside.py", workspace / "link.py")
    out = tmp_path / "out"
    out.mkdir()
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
           "HOME": str(tmp_path), "TAKEHOME_OUTPUT_DIR": str(out), "TMPDIR": str(tmp_path)}
    names = ["checks/validate_lib.py", "../outside.py", "link.py", "checks/missing.py", "lib.txt"]
    argv = [arg for name in names for arg in ("--test-file", name)]
    proc = subprocess.run([sys.executable, "-I", str(INSIDE / "checks_stage.py"), "tests", *argv],
                          cwd=workspace, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((out / "takehome" / "tests.json").read_text())
    assert record["test_files"] == ["checks/validate_lib.py"]
    assert 'tests="2"' in (out / "takehome" / "junit.xml").read_text()


@pytest.mark.docker
def test_sandbox_runs_tests_in_a_module_not_named_test_star(sandbox_image, tmp_path):
    from test_stages import make_assignment

    from harness.assignment import load_assignment
    from harness.intake import ingest

    clear_caches()
    assignment = load_assignment(make_assignment(tmp_path / "assignment"))
    snapshot = ingest(write_repo(tmp_path / "repo"), tmp_path / "snapshots")
    artifacts = run_stages(snapshot, assignment, image=sandbox_image, work_dir=tmp_path / "work",
                           stages=["checks"])
    assert artifacts.stages["tests"].verdict == "ok", artifacts.stages["tests"].reason
    junit = artifacts.junit_xml.read_text()
    assert 'tests="2"' in junit and 'failures="0"' in junit
