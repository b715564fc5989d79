"""Similarity: a lightly renamed copy is found; independent solutions of one starter are not."""

from __future__ import annotations

import nbformat

from harness.similarity import find_similar

STARTER = '''
import os
import pandas as pd

DATA_DIR = os.environ.get("TAKEHOME_DATA_DIR", "data")
OUTPUT_DIR = os.environ.get("TAKEHOME_OUTPUT_DIR", "out")


def load_training_data():
    """Read the training data given with the assignment."""
    return pd.read_csv(os.path.join(DATA_DIR, "train.csv"))
'''

SOLUTION_A = (
    STARTER
    + """

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score


def build_features(frame):
    frame = frame.drop_duplicates().copy()
    frame["amount_per_tx"] = frame["amount"] / (frame["n_tx_last_24h"] + 1)
    frame["night"] = frame["hour"].between(0, 5).astype(int)
    return frame


def evaluate(frame, target):
    features = build_features(frame)
    X = features.drop(columns=[target, "transaction_id"])
    y = features[target]
    model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=7)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=7)
    scores = cross_val_score(model, X, y, cv=folds, scoring="average_precision")
    return scores.mean(), scores.std()
"""
)

SOLUTION_B = (
    STARTER
    + """

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.impute import SimpleImputer


def fit_logistic(train, label_column):
    numeric = train.select_dtypes(include=[np.number]).drop(columns=[label_column])
    pipeline = Pipeline([
        ("impute", SimpleImputer(strategy="median")),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(class_weight="balanced", max_iter=2000)),
    ])
    pipeline.fit(numeric, train[label_column])
    weights = dict(zip(numeric.columns, pipeline.named_steps["clf"].coef_[0]))
    for name, weight in sorted(weights.items(), key=lambda kv: -abs(kv[1]))[:5]:
        print(f"{name:>25s} {weight:+.3f}")
    return pipeline
"""
)


def renamed(code: str) -> str:
    for old, new in [
        ("frame", "df"),
        ("features", "feats"),
        ("model", "estimator"),
        ("build_features", "make_feats"),
        ("evaluate", "run_cv"),
        ("folds", "cv"),
    ]:
        code = code.replace(old, new)
    return code


def write_repo(root, code):
    root.mkdir(parents=True)
    (root / "solution.py").write_text(code)
    return root


def write_notebook(root, code):
    root.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# My work"),
        nbformat.v4.new_code_cell("%matplotlib inline\n" + code),
    ]
    nbformat.write(nb, str(root / "analysis.ipynb"))
    return root


def test_lightly_renamed_copy_is_flagged_with_excerpts(tmp_path):
    a = write_repo(tmp_path / "alice", SOLUTION_A)
    b = write_notebook(tmp_path / "bob", renamed(SOLUTION_A))
    c = write_repo(tmp_path / "carol", SOLUTION_B)
    starter = tmp_path / "starter.py"
    starter.write_text(STARTER)
    pairs = find_similar({"alice": a, "bob": b, "carol": c}, starter=[starter])
    assert [(p.first, p.second) for p in pairs] == [("alice", "bob")]
    assert pairs[0].score >= 0.6
    assert pairs[0].excerpts and all(x and y for x, y in pairs[0].excerpts)


def test_independent_solutions_of_the_same_starter_are_not_flagged(tmp_path):
    a = write_repo(tmp_path / "alice", SOLUTION_A)
    c = write_repo(tmp_path / "carol", SOLUTION_B)
    starter = tmp_path / "starter.py"
    starter.write_text(STARTER)
    assert find_similar({"alice": a, "carol": c}, starter=[starter]) == []


def test_copy_of_a_known_public_solution_is_flagged(tmp_path):
    public = tmp_path / "public"
    write_repo(public / "blog-post", SOLUTION_B)
    mine = write_repo(tmp_path / "dave", renamed(SOLUTION_B))
    other = write_repo(tmp_path / "erin", SOLUTION_A)
    pairs = find_similar({"dave": mine, "erin": other}, public_dir=public)
    assert [(p.first, p.second, p.second_is_public) for p in pairs] == [
        ("dave", "public:blog-post", True)
    ]


def test_folder_of_notebooks_is_many_submissions_but_a_project_is_one(tmp_path):
    from harness.batch import expand_sources

    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("a.ipynb", "b.ipynb"):
        (batch / name).write_text("{}")
    (batch / "c.zip").write_bytes(b"")
    project = tmp_path / "project"
    project.mkdir()
    (project / "README.md").write_text("# hi")
    (project / "x.ipynb").write_text("{}")
    (project / "y.ipynb").write_text("{}")
    single = tmp_path / "single"
    single.mkdir()
    (single / "only.ipynb").write_text("{}")
    assert [p.name for p in expand_sources([batch])] == ["a.ipynb", "b.ipynb", "c.zip"]
    assert expand_sources([project, single]) == [project, single]


def test_earlier_submissions_are_compared_with_the_new_ones_only(tmp_path):
    a = write_repo(tmp_path / "alice", SOLUTION_A)
    copy = write_repo(tmp_path / "frank", renamed(SOLUTION_A))
    other = write_repo(tmp_path / "carol", SOLUTION_B)
    earlier_copy = write_repo(tmp_path / "gina", SOLUTION_A)  # copies alice too
    pairs = find_similar({"frank": copy, "carol": other},
                         earlier={"alice": a, "gina": earlier_copy})
    # frank matches both earlier ones; alice and gina (both graded before) are not paired again
    assert sorted((p.first, p.second, p.second_is_public) for p in pairs) == [
        ("frank", "alice", False), ("frank", "gina", False)]
    assert find_similar({"carol": other}, earlier={"alice": a}) == []


def test_a_batch_finds_a_copy_of_a_submission_graded_in_an_earlier_batch(tmp_path):
    from harness.assignment import load_assignment
    from harness.batch import grade_batch
    from harness.pipeline import GradeSettings
    from harness.report.index import folder_results

    assignment = load_assignment("fraud-detection")
    out = tmp_path / "round"
    settings = GradeSettings(image=None, run=False)
    alice = write_repo(tmp_path / "in" / "alice", SOLUTION_A)
    carol = write_repo(tmp_path / "in" / "carol", SOLUTION_B)
    grade_batch(assignment, [alice, carol], out, settings=settings, jobs=1)
    bob = write_notebook(tmp_path / "in2" / "bob", renamed(SOLUTION_A))
    outcome = grade_batch(assignment, [bob], out, settings=settings, jobs=1)
    assert [(p.first, p.second) for p in outcome.similarity] == [("bob", "alice")]
    results = {path.parent.name: result for result, path in folder_results(out)}
    assert [p.other for p in results["bob"].similarity] == ["alice"]
    assert any(f.id == "similarity.copied" for f in results["bob"].red_flags)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="./bob/report.html"' in index and 'href="./alice/report.html"' in index
    # regrading bob alone compares it again; alice, graded before, is never paired with carol
    again = grade_batch(assignment, [bob], out, settings=settings, jobs=1, force=True)
    assert [(p.first, p.second) for p in again.similarity] == [("bob", "alice")]
