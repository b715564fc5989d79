"""The reproducibility grader: clean run, stored execution order, declared dependencies."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from fixtures_graders import by_id, cell_locations, make_context, make_notebook, write_files

from graders.base import Artifacts, GraderContext, GraderResult, StageRecord
from graders.registry import is_harness_fault, run_grader
from graders.reproducibility import ReproducibilityGrader, declared_dependencies, order_problems

PACKAGES = {"pandas": "2.2.3", "numpy": "2.4.6", "scikit_learn": "1.9.1", "PyYAML": "6.0.3"}


def grade(context: GraderContext) -> GraderResult:
    """Run the grader the way the pipeline does; fail on any contract breach."""
    result = run_grader(ReproducibilityGrader(), context)
    assert not is_harness_fault(result), result.reason
    return result


def snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "snap"
    root.mkdir()
    return root


def notebook_with_counts(
    root: Path, counts: list[int | None], name: str = "analysis.ipynb"
) -> None:
    """A notebook: a markdown cell, then one code cell per stored execution count."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# Analysis"))
    for index, count in enumerate(counts):
        cell = nbformat.v4.new_code_cell(f"x{index} = {index}")
        cell.execution_count = count
        notebook.cells.append(cell)
    nbformat.write(notebook, str(root / name))


def run_artifacts(
    tmp_path: Path,
    verdict: str = "ok",
    errors: dict | None = None,
    packages: dict | None = None,
    reason: str = "",
) -> Artifacts:
    """Artifacts of a run stage with ``verdict`` and, optionally, an environment.json."""
    root = tmp_path / "artifacts"
    root.mkdir()
    environment = None
    if packages is not None:
        environment = root / "environment.json"
        environment.write_text(json.dumps({"python": "3.11.7", "packages": packages}))
    stage = StageRecord(
        stage="run",
        verdict=verdict,
        reason=reason,
        exit_code=0 if verdict == "ok" else 1,
        wall_time_s=42.5,
        peak_memory_bytes=512_000_000,
    )
    return Artifacts(
        root=root,
        stages={"run": stage},
        notebook_errors=errors or {},
        environment_json=environment,
    )


def test_clean_run_in_order_with_satisfied_dependencies_passes(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    notebook_with_counts(root, [1, 2, 3])
    write_files(root, {"requirements.txt": "pandas>=2.0\nnumpy\nscikit-learn==1.9.*\n"})
    artifacts = run_artifacts(tmp_path, packages=PACKAGES)
    result = grade(make_context(root, artifacts=artifacts))
    assert [c.id for c in result.checks if c.passed] == [
        "reproducibility.runs_clean",
        "reproducibility.execution_order",
        "reproducibility.dependencies_declared",
        "reproducibility.dependencies_satisfied",
    ]
    assert result.score == 1.0
    assert result.red_flags == []
    assert result.details["run_wall_time_s"] == 42.5
    assert result.details["run_peak_memory_bytes"] == 512_000_000
    assert result.details["stages"]["run"]["verdict"] == "ok"
    assert by_id(result.checks)["reproducibility.runs_clean"].sentence == (
        "The submission ran top to bottom in a clean environment in 42 s."
    )


def test_failing_cell_is_reported_with_a_red_flag(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    make_notebook(root, [("code", "import pandas as pd"), ("code", "df['price']")])
    errors = {
        "analysis.ipynb": {
            "status": "error",
            "cell": 1,
            "ename": "KeyError",
            "evalue": "'price'",
            "traceback": "Traceback (most recent call last)\n  ...\nKeyError: 'price'",
        }
    }
    artifacts = run_artifacts(tmp_path, verdict="exit_nonzero", errors=errors)
    result = grade(make_context(root, artifacts=artifacts))
    check = by_id(result.checks)["reproducibility.runs_clean"]
    assert not check.passed
    assert check.weight == 3.0
    assert check.sentence == (
        "Run top to bottom in a clean environment, the submission failed at analysis.ipynb "
        "cell 1 with KeyError: 'price'."
    )
    assert cell_locations(check)[:2] == [("analysis.ipynb", 1, None), ("analysis.ipynb", 1, None)]
    assert check.evidence[0].excerpt == "KeyError: 'price'"
    assert check.evidence[0].reproduced is True
    [flag] = result.red_flags
    assert (flag.id, flag.severity) == ("reproducibility.failed_to_run", "high")
    assert "analysis.ipynb cell 1" in flag.sentence
    assert "analysis.ipynb cell 1 with KeyError" in (result.reason or "")


def test_timeout_without_notebook_error_names_the_verdict(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"train.py": "while True:\n    pass\n"})
    artifacts = run_artifacts(tmp_path, verdict="timeout", reason="wall time 900 s exceeded")
    result = grade(make_context(root, artifacts=artifacts))
    check = by_id(result.checks)["reproducibility.runs_clean"]
    assert check.sentence == (
        "Run top to bottom in a clean environment, the submission did not finish within the "
        "time limit (wall time 900 s exceeded)."
    )
    assert [f.id for f in result.red_flags] == ["reproducibility.failed_to_run"]


def test_no_run_leaves_the_run_check_out(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    notebook_with_counts(root, [1, 2])
    result = grade(make_context(root))
    assert [c.id for c in result.checks] == [
        "reproducibility.execution_order",
        "reproducibility.dependencies_declared",
    ]
    assert result.reason.startswith("1 of 2 statically judged reproducibility checks passed")
    assert "no run was made" in result.reason
    assert result.red_flags == []


def test_out_of_order_execution_counts_are_located(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    notebook_with_counts(root, [1, 4, 2, None, 5])
    result = grade(make_context(root))
    check = by_id(result.checks)["reproducibility.execution_order"]
    assert not check.passed
    assert [(e.path, e.cell, e.note, e.reproduced) for e in check.evidence] == [
        ("analysis.ipynb", 2, "execution count 4 after 1 (a gap)", False),
        ("analysis.ipynb", 3, "execution count 2 after 4", False),
        ("analysis.ipynb", 4, "not run before saving (no execution count)", False),
        ("analysis.ipynb", 5, "execution count 5 after 2 (a gap)", False),
    ]


def test_cleared_notebook_has_no_stored_order() -> None:
    assert order_problems([(1, None, "x"), (2, None, "y")]) == []
    assert order_problems([(1, 2, "x")]) == [(1, "execution count 2 after 0 (a gap)", "x")]


def test_unsatisfied_dependencies_are_listed_with_lines(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "requirements.txt": "# pinned\npandas==1.5.3\n-r dev.txt\nnumpy>=2  # ok\n"
            "xgboost\npywin32; sys_platform == 'win32'\ngit+https://example.com/x.git\n",
        },
    )
    artifacts = run_artifacts(tmp_path, packages=PACKAGES)
    result = grade(make_context(root, artifacts=artifacts))
    check = by_id(result.checks)["reproducibility.dependencies_satisfied"]
    assert not check.passed
    assert [(e.path, e.line, e.excerpt, e.note) for e in check.evidence] == [
        ("requirements.txt", 2, "pandas==1.5.3", "installed 2.2.3, wanted ==1.5.3"),
        ("requirements.txt", 5, "xgboost", "not installed"),
    ]
    assert check.sentence == (
        "2 of 4 declared dependencies are not satisfied by the sandbox image: pandas==1.5.3, "
        "xgboost."
    )
    assert result.details["unparsed"] == ["git+https://example.com/x.git"]


def test_missing_declaration_fails(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"train.py": "import pandas\n"})
    result = grade(make_context(root))
    [check] = result.checks
    assert (check.id, check.passed) == ("reproducibility.dependencies_declared", False)


def test_pyproject_environment_and_setup_cfg_are_parsed(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "pyproject.toml": '[project]\nname = "x"\ndependencies = ["pandas>=2", "lightgbm"]\n',
            "environment.yml": "name: fraud\ndependencies:\n  - python=3.11\n  - numpy=1.26\n"
            "  - pip\n  - pip:\n    - shap==0.45\n",
            "setup.cfg": "[options]\ninstall_requires =\n    scikit-learn>=1.3\n",
        },
    )
    files = ["environment.yml", "pyproject.toml", "setup.cfg"]
    declared, unparsed = declared_dependencies(root, files)
    assert [(d.path, d.line, d.text) for d in declared] == [
        ("environment.yml", 7, "shap==0.45"),
        ("environment.yml", 4, "numpy==1.26.*"),
        ("pyproject.toml", 3, "pandas>=2"),
        ("pyproject.toml", 3, "lightgbm"),
        ("setup.cfg", 3, "scikit-learn>=1.3"),
    ]
    assert unparsed == []


def test_out_of_memory_names_the_verdict_and_the_cell(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    make_notebook(root, [("code", "import numpy as np"), ("code", "x = np.ones(10**12)")])
    errors = {"analysis.ipynb": {"status": "kernel_died", "cell": 1, "ename": None}}
    artifacts = run_artifacts(tmp_path, verdict="oom", errors=errors)
    result = grade(make_context(root, artifacts=artifacts))
    check = by_id(result.checks)["reproducibility.runs_clean"]
    assert check.sentence == (
        "Run top to bottom in a clean environment, the submission ran out of memory; it failed "
        "at analysis.ipynb cell 1 because of the kernel dying (often out of memory)."
    )
    assert cell_locations(check)[0] == ("analysis.ipynb", 1, None)
    assert [f.id for f in result.red_flags] == ["reproducibility.failed_to_run"]


def test_sandbox_error_is_not_the_candidates_fault(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"requirements.txt": "pandas\n"})
    artifacts = run_artifacts(tmp_path, verdict="sandbox_error", packages=PACKAGES)
    result = grade(make_context(root, artifacts=artifacts))
    assert "reproducibility.runs_clean" not in by_id(result.checks)
    assert result.red_flags == []
    assert "not the candidate's fault" in (result.reason or "")
    assert result.score == 1.0


# --------------------------------------------------------------------------- round 2


def test_requirement_file_names_beyond_requirements_txt(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"high_requirements.txt": "pandas==2.2\n", "low_requirements.txt": "numpy\n",
                       "requirements_docker.txt": "scikit-learn\n",
                       "requirements-dev.txt": "pytest\n", "test_requirements.txt": "tox\n",
                       "requirements/base.txt": "pyyaml\n", "requirements/docs.txt": "sphinx\n",
                       "app/requirement.txt": "fastapi\n", "notes.txt": "numpy\n"})
    result = grade(make_context(root))
    assert result.details["dependency_files"] == [
        "app/requirement.txt", "high_requirements.txt", "low_requirements.txt",
        "requirements/base.txt", "requirements_docker.txt"]
    assert by_id(result.checks)["reproducibility.dependencies_declared"].passed
    assert result.details["declared"] == 5


def test_utf16_and_bom_requirement_files_are_decoded(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    (root / "requirement.txt").write_bytes("pandas==2.2.3\r\nnumpy>=1.26\r\n".encode("utf-16"))
    (root / "requirements.txt").write_bytes(b"\xef\xbb\xbfscikit-learn==1.5\n")
    declared, unparsed = declared_dependencies(root, ["requirement.txt", "requirements.txt"])
    assert [d.name for d in declared] == ["pandas", "numpy", "scikit-learn"] and unparsed == []
    (root / "requirement.txt").write_bytes("pyyaml\n".encode("utf-16-le"))
    declared, _ = declared_dependencies(root, ["requirement.txt"])
    assert [d.name for d in declared] == ["pyyaml"]


def test_static_level_does_not_rest_on_one_check(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"requirements.txt": "pandas\n", "train.py": "print(1)\n"})
    result = grade(make_context(root))
    assert [c.id for c in result.checks] == ["reproducibility.dependencies_declared"]
    assert all(c.passed for c in result.checks)
    assert 0.6 <= result.score < 0.8  # level 3 on the default thresholds, not 4
    assert any("no run was made" in n for n in result.details["not_judged_statically"])
    assert any("execution order" in n for n in result.details["not_judged_statically"])
    (tmp_path / "empty").mkdir()
    empty = snapshot(tmp_path / "empty")
    write_files(empty, {"train.py": "print(1)\n"})
    assert grade(make_context(empty)).score < 0.4


def test_a_run_is_scored_on_its_checks_alone(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"requirements.txt": "pandas\n", "train.py": "print(1)\n"})
    result = grade(make_context(root, artifacts=run_artifacts(tmp_path)))
    assert "not_judged_statically" not in result.details
    assert result.score == 1.0


def test_declarations_of_the_parts_of_a_submission_and_conda_file_names(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"serving/pyproject.toml": '[project]\nname = "s"\ndependencies = ["fastapi"]\n',
                       "conda_environment.yaml": "dependencies:\n  - pandas=2.2\n",
                       "deploy/docker-compose.yml": "services: {}\n",
                       "dev-environment.yml": "dependencies:\n  - pytest\n"})
    result = grade(make_context(root))
    assert result.details["dependency_files"] == ["conda_environment.yaml",
                                                  "serving/pyproject.toml"]
    assert result.details["declared"] == 2
