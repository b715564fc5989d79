"""Static checks of the bundled solutions and example submissions.

Nothing here runs candidate-style code on the host: notebooks are read and validated, Python
files parsed, never executed. End-to-end runs happen in the sandbox tests.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

from harness.assignment import load_assignment, repo_root, run_command_for

BUNDLED = ["fraud-detection", "diabetes-progression"]
SUBMISSIONS = [
    "solutions/reference",
    "solutions/baseline",
    "examples/strong",
    "examples/weak",
    "examples/broken",
]
PACKAGES = {"fraud-detection": "fraud_model", "diabetes-progression": "progression_model"}
README_SECTIONS = ["Problem", "Approach", "Results", "How to run", "Limitations & next steps"]


def submission(slug: str, rel: str) -> Path:
    return repo_root() / "assignments" / slug / rel


def all_cases() -> list[tuple[str, str]]:
    return [(slug, rel) for slug in BUNDLED for rel in SUBMISSIONS]


def notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def code_of(folder: Path) -> str:
    parts = [p.read_text() for p in folder.rglob("*.py")]
    for path in notebooks(folder):
        nb = nbformat.read(path, as_version=4)
        parts += [c.source for c in nb.cells if c.cell_type == "code"]
    return "\n".join(parts)


@pytest.mark.parametrize(("slug", "rel"), all_cases())
def test_submission_is_runnable_by_the_contract(slug: str, rel: str) -> None:
    folder = submission(slug, rel)
    spec = load_assignment(slug).spec
    assert run_command_for(folder, spec) is not None or notebooks(folder), (
        f"{slug}/{rel}: neither a run command nor a notebook"
    )


@pytest.mark.parametrize(("slug", "rel"), all_cases())
def test_submission_reads_data_only_from_the_environment(slug: str, rel: str) -> None:
    code = code_of(submission(slug, rel))
    assert "TAKEHOME_DATA_DIR" in code and "TAKEHOME_OUTPUT_DIR" in code
    assert "test_labels" not in code and "hidden/" not in code
    assert not re.search(r"""["'](/[^"'/]+/|\.\./)[^"']*\.csv""", code), "hard-coded data path"


@pytest.mark.parametrize(("slug", "rel"), all_cases())
def test_python_and_notebooks_are_well_formed(slug: str, rel: str) -> None:
    folder = submission(slug, rel)
    for path in folder.rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))
    for path in notebooks(folder):
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.nbformat == 4
        assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("slug", BUNDLED)
def test_strong_example_is_a_complete_repository(slug: str) -> None:
    folder = submission(slug, "examples/strong")
    package = folder / PACKAGES[slug]
    assert (package / "__init__.py").is_file()
    for module in ("features", "train", "predict"):
        tree = ast.parse((package / f"{module}.py").read_text())
        assert ast.get_docstring(tree), f"{module}.py has no module docstring"
    tests = sorted((folder / "tests").glob("test_*.py"))
    assert tests, "no tests"
    for path in tests:
        tree = ast.parse(path.read_text())
        imports = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        test_functions = [
            n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
        ]
        asserts = [n for n in ast.walk(tree) if isinstance(n, ast.Assert)]
        assert any(m and m.startswith(PACKAGES[slug]) for m in imports), path.name
        assert test_functions and asserts, path.name
    readme = (folder / "README.md").read_text()
    for section in README_SECTIONS:
        assert re.search(rf"^## {re.escape(section)}\s*$", readme, re.MULTILINE), section
    assert (folder / "requirements.txt").read_text().strip()
    assert (folder / "predict.py").is_file()


@pytest.mark.parametrize("slug", BUNDLED)
def test_strong_notebook_is_clean_and_narrated(slug: str) -> None:
    [path] = notebooks(submission(slug, "examples/strong"))
    nb = nbformat.read(path, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code_cells)
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 6
    source = "\n".join(c.source for c in code_cells)
    for needle in ("describe(", ".isna()", "duplicated(", "plt.", "random_state", "SEED"):
        assert needle in source, needle


def test_fraud_strong_notebook_compares_models_on_imbalance_aware_metrics() -> None:
    [path] = notebooks(submission("fraud-detection", "examples/strong"))
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
    for needle in (
        "StratifiedKFold",
        "DummyClassifier",
        "LogisticRegression",
        "RandomForestClassifier",
        "class_weight",
        "average_precision_score",
        "f1_score",
        "recall_score",
        "best_f1_threshold",
    ):
        assert needle in source, needle


def test_fraud_strong_repo_declares_its_run_command() -> None:
    folder = submission("fraud-detection", "examples/strong")
    spec = load_assignment("fraud-detection").spec
    assert (folder / "takehome.toml").is_file()
    assert run_command_for(folder, spec) == ["python", "predict.py"]


@pytest.mark.parametrize("slug", BUNDLED)
def test_weak_example_is_one_notebook_with_stale_outputs(slug: str) -> None:
    folder = submission(slug, "examples/weak")
    [path] = notebooks(folder)
    assert [p.name for p in folder.iterdir()] == [path.name]
    nb = nbformat.read(path, as_version=4)
    assert not any(c.cell_type == "markdown" for c in nb.cells)
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts != sorted(counts), "execution counts should be out of order"
    assert any(c.outputs for c in nb.cells if c.cell_type == "code")


@pytest.mark.parametrize(
    ("slug", "typo"), [("fraud-detection", "'amout'"), ("diabetes-progression", "'BMI'")]
)
def test_broken_example_fails_on_a_misspelt_column_before_predicting(slug: str, typo: str) -> None:
    [path] = notebooks(submission(slug, "examples/broken"))
    cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    failing = next(i for i, source in enumerate(cells) if typo in source)
    writing = next(i for i, source in enumerate(cells) if "predictions.csv" in source)
    assert 0 < failing < writing
