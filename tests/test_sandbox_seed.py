"""Candidate code that never seeds draws the same numbers on every grading (sandbox/inside/seed).

Real containers: each run is a fresh sandbox, as two gradings of one submission are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.limits import Limits
from sandbox.runner import Verdict, run_in_sandbox

pytestmark = pytest.mark.docker

LIMITS = Limits(wall_time_s=60, memory_mb=1024, pids=128, tmp_mb=64, home_mb=16,
                workspace_mb=16, output_mb=8)

UNSEEDED = "import random, numpy\nprint(random.random(), numpy.random.rand())\n"
SELF_SEEDED = "import numpy\nnumpy.random.seed(7)\nprint(numpy.random.rand())\n"
IN_A_KERNEL = """\
import nbclient, nbformat
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "import numpy\\nprint(numpy.random.rand())")])
nbclient.NotebookClient(nb, kernel_name="python3", timeout=40).execute()
print(nb.cells[0].outputs[0]["text"].strip())
"""


def _run(tmp_path: Path, image: str, code: str, name: str, *python_flags: str) -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "main.py").write_text(code)
    result = run_in_sandbox(["python3", *python_flags, "main.py"], image=image,
                            submission=folder, limits=LIMITS)
    assert result.verdict == Verdict.OK, result
    return result.stdout_tail.strip()


def test_unseeded_code_draws_the_same_numbers_in_two_sandboxes(sandbox_image, tmp_path):
    first = _run(tmp_path, sandbox_image, UNSEEDED, "a")
    second = _run(tmp_path, sandbox_image, UNSEEDED, "b")
    assert first == second
    # and they are not what an unseeded interpreter on the host would print by chance
    assert len(set(first.split())) == 2


def test_code_that_seeds_itself_gets_its_own_seed(sandbox_image, tmp_path):
    import numpy

    numpy.random.seed(7)
    expected = numpy.random.rand()
    assert float(_run(tmp_path, sandbox_image, SELF_SEEDED, "own")) == pytest.approx(expected)


def test_a_notebook_kernel_is_seeded_too(sandbox_image, tmp_path):
    first = _run(tmp_path, sandbox_image, IN_A_KERNEL, "k1")
    second = _run(tmp_path, sandbox_image, IN_A_KERNEL, "k2")
    assert first == second and 0.0 <= float(first) < 1.0


def test_isolated_mode_processes_are_not_seeded(sandbox_image, tmp_path):
    """takehome's own processes run with -I: PYTHONPATH, and so the seeding, is ignored."""
    probe = "import sys\nprint('sitecustomize' in sys.modules and "\
            "'takehome' in getattr(sys.modules['sitecustomize'], '__file__', ''))\n"
    assert _run(tmp_path, sandbox_image, probe, "iso", "-I") == "False"
    assert _run(tmp_path, sandbox_image, probe, "plain") == "True"
