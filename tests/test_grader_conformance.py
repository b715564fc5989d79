"""Every registered grader honours the contract on every kind of submission (cf. sklearn's
``check_estimator``): no exception escapes, same input gives the same result, the score is in
[0, 1] or the result is not applicable with a reason, and every evidence location exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures_graders import (
    held_out_ids,
    image_output,
    make_artifacts,
    make_context,
    make_notebook,
    make_real_assignment,
    png_bytes,
    text_output,
    write_files,
)

from graders.artifacts import _read_csv_cached
from graders.base import GraderContext
from graders.registry import discover_graders, result_problem
from graders.source import clear_caches

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPECTED_GRADERS = [
    "code_quality", "data_quality", "documentation", "exploration", "heldout_metrics",
    "imbalance", "modeling", "reproducibility", "tests", "version_control",
]  # fmt: skip
GRADERS, FAILURES = discover_graders()
RICH_CELLS = [
    ("markdown", "# Fraud detection\n\nWe predict whether a card transaction is fraudulent."),
    (
        "code",
        (
            "!pip install lightgbm\n%matplotlib inline\nimport numpy as np\nimport pandas as pd\n"
            "from sklearn.dummy import DummyClassifier\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.ensemble import RandomForestClassifier\n"
            "from sklearn.model_selection import train_test_split, cross_val_score\n"
            "from sklearn.metrics import average_precision_score\n"
            "np.random.seed(0)\ndf = pd.read_csv('train.csv')\ndf.describe()"
        ),
    ),
    ("code", "df['is_fraud'].value_counts()\ndf.isna().sum()\ndf.duplicated().sum()\ndf.hist()"),
    (
        "markdown",
        (
            "Fraud is rare (five percent) and the amount is skewed; a few amounts are missing, "
            "so the model needs an imputer and an imbalance-aware metric."
        ),
    ),
    (
        "code",
        (
            "X = df.drop(columns=['is_fraud', 'transaction_id'])\ny = df['is_fraud']\n"
            "X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)\n"
            "results = {}\n"
            "for name, m in {'dummy': DummyClassifier(), 'lr': LogisticRegression(),\n"
            "                'rf': RandomForestClassifier(class_weight='balanced')}.items():\n"
            "    results[name] = cross_val_score(m, X_train, y_train, scoring='average_precision')"
        ),
    ),
]


def _rich(tmp_path: Path) -> GraderContext:
    snapshot = tmp_path / "rich"
    make_notebook(snapshot, RICH_CELLS, outputs={2: [image_output(), text_output("0 95\n1 5")]})
    write_files(
        snapshot,
        {
            "README.md": "# Fraud\n\nRun `python predict.py` to write predictions.\n",
            "requirements.txt": "pandas==2.2.2\nscikit-learn==1.5.0\n",
            "predict.py": "import pandas as pd\n\n\ndef main() -> None:\n    pass\n",
            "tests/test_predict.py": "def test_one():\n    assert 1 == 1\n",
            "figures/amount.png": png_bytes(),
        },
    )
    artifacts = make_artifacts(
        tmp_path / "artifacts",
        predictions="transaction_id,score,label\n"
        + "".join(
            f"{i},{0.9 if n < 2 else 0.1},{int(n < 2)}\n" for n, i in enumerate(held_out_ids())
        ),
        executed_notebooks={
            "analysis.ipynb": make_notebook(
                tmp_path / "artifacts" / "executed", RICH_CELLS, outputs={2: [image_output()]}
            )
        },
    )
    return make_context(snapshot, make_real_assignment(tmp_path / "assignment"), artifacts)


def _empty(tmp_path: Path) -> GraderContext:
    snapshot = tmp_path / "empty"
    snapshot.mkdir()
    return make_context(snapshot, make_real_assignment(tmp_path / "assignment"))


def _hostile(tmp_path: Path) -> GraderContext:
    snapshot = tmp_path / "hostile"
    write_files(
        snapshot,
        {
            "garbage.ipynb": "{not json",
            "weird.ipynb": json.dumps({"cells": [{"cell_type": "code", "source": 7}, None]}),
            "broken.py": "def f(:\n",
            "deep.py": "x = " + "[" * 3000 + "]" * 3000,
            "binary.py": b"\x00\xff\xfe" * 100,
            "README.md": b"\xff\xfe not utf-8",
        },
    )
    make_notebook(snapshot, [("code", "%%bash\nrm -rf /"), ("raw", "raw")], name="magic.ipynb")
    artifacts = make_artifacts(tmp_path / "artifacts", predictions="no,header\n1,2,3\n\x00")
    write_files(artifacts.root, {"junit.xml": "<not xml", "coverage.json": "[[["})
    return make_context(snapshot, make_real_assignment(tmp_path / "assignment"), artifacts)


def _example_dirs() -> list[Path]:
    """Example submissions bundled with the assignments (folders holding code)."""
    return sorted(
        path
        for path in REPO_ROOT.glob("assignments/*/examples/*/")
        if any(path.rglob("*.py")) or any(path.rglob("*.ipynb"))
    )


def _example(path: Path) -> GraderContext:
    from harness.assignment import load_assignment  # another helper's module: imported lazily

    assignment = load_assignment(path.parent.parent)
    return GraderContext(
        snapshot_root=path, snapshot_meta={"kind": "directory"}, assignment=assignment
    )


SUBMISSIONS = ["rich", "empty", "hostile"] + [
    f"example:{p.relative_to(REPO_ROOT).as_posix()}" for p in _example_dirs()
]


def _context(kind: str, tmp_path: Path) -> GraderContext:
    if kind.startswith("example:"):
        try:
            return _example(REPO_ROOT / kind.removeprefix("example:"))
        except Exception as exc:  # noqa: BLE001 - the example's assignment may be unfinished
            pytest.skip(f"cannot load the example's assignment: {exc}")
    return {"rich": _rich, "empty": _empty, "hostile": _hostile}[kind](tmp_path)


def _clear_caches() -> None:
    clear_caches()
    _read_csv_cached.cache_clear()


@pytest.mark.parametrize("kind", SUBMISSIONS)
@pytest.mark.parametrize("grader", GRADERS, ids=[g.name for g in GRADERS])
def test_grader_honours_the_contract(grader, kind: str, tmp_path: Path) -> None:
    context = _context(kind, tmp_path)
    first = grader.grade(context)  # no exception may escape
    _clear_caches()
    second = grader.grade(context)
    assert first.model_dump() == second.model_dump(), "same input, different result"
    assert result_problem(first, grader, context) is None
    assert first.grader == grader.name
    if first.not_applicable:
        assert first.score is None and first.reason
    else:
        assert first.score is not None and 0.0 <= first.score <= 1.0
    ids = [check.id for check in first.checks]
    assert len(ids) == len(set(ids)), "check ids must be unique"
    json.dumps(first.model_dump(mode="json"))  # serialisable as result.json


def test_every_builtin_grader_is_registered_and_loads() -> None:
    if FAILURES:
        pytest.skip("graders not loadable yet: " + "; ".join(str(f) for f in FAILURES))
    assert [g.name for g in GRADERS] == EXPECTED_GRADERS
