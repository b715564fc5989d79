"""`takehome validate` grades the reference and baseline solutions in the sandbox (calibration)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from harness.cli import main

pytestmark = pytest.mark.docker


@pytest.mark.parametrize("slug", ["fraud-detection", "diabetes-progression"])
def test_bundled_assignments_validate_with_calibration(slug, sandbox_image):
    result = CliRunner().invoke(main, ["validate", slug])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output


def test_swapped_solutions_fail_calibration(sandbox_image, repo_root, tmp_path):
    folder = tmp_path / "diabetes-progression"
    shutil.copytree(repo_root / "assignments" / "diabetes-progression", folder)
    reference, baseline = folder / "solutions" / "reference", folder / "solutions" / "baseline"
    reference.rename(folder / "solutions" / "tmp")
    baseline.rename(reference)
    (folder / "solutions" / "tmp").rename(baseline)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    assert "not better than baseline" in result.output
