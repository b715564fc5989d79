"""The held-out metrics grader: metrics match scikit-learn, the CI is deterministic, the score
maps between baseline and reference, and nothing label-level reaches its messages."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn import metrics as skm

from graders.base import Artifacts, GraderContext, StageRecord
from graders.heldout_metrics import (
    HeldoutMetricsGrader,
    bootstrap_ci,
    bootstrap_weights,
    compute_metrics,
    normalised_score,
    weighted_metric,
)
from harness.assignment import load_assignment

POS, NEG = "fraudulent-zebra", "honest-yak"  # class names that would stand out in any message


def make_assignment(
    root: Path, task: str, n: int = 300, seed: int = 0
) -> tuple[Path, pd.DataFrame]:
    """An assignment folder with hidden labels; returns (folder, hidden truth frame)."""
    rng = np.random.default_rng(seed)
    (root / "public").mkdir(parents=True)
    (root / "hidden").mkdir()
    ids = [f"row-{k:05d}" for k in range(n)]
    x = rng.normal(size=n)
    spec: dict = {"slug": "t", "title": "t", "target": "y", "id_column": "rid", "task_type": task}
    if task == "binary_classification":
        y = np.where(x + rng.normal(size=n) > 1.0, POS, NEG)
        spec.update(
            classes=[NEG, POS],
            positive_class=POS,
            metrics=[
                "average_precision",
                "roc_auc",
                "f1",
                "precision",
                "recall",
                "balanced_accuracy",
                "accuracy",
                "matthews_corrcoef",
                "log_loss",
            ],
            primary_metric="average_precision",
        )
    elif task == "multiclass_classification":
        y = np.array(["ant", "bee", "cow"])[np.digitize(x + rng.normal(size=n) * 0.5, [-0.5, 0.5])]
        spec.update(
            classes=["ant", "bee", "cow"],
            metrics=[
                "f1",
                "precision",
                "recall",
                "balanced_accuracy",
                "accuracy",
                "matthews_corrcoef",
            ],
            primary_metric="f1",
        )
    else:
        y = (3 * x + rng.normal(size=n)).round(3)
        spec.update(metrics=["rmse", "mae", "r2"], primary_metric="rmse")
    (root / "assignment.yaml").write_text(yaml.safe_dump(spec))
    (root / "README.md").write_text("t\n")
    truth = pd.DataFrame({"rid": ids, "x": x.round(4), "y": y})
    truth.iloc[: n // 2].to_csv(root / "public" / "train.csv", index=False)
    truth[["rid", "x"]].head(5).to_csv(root / "public" / "sample_test_features.csv", index=False)
    truth[["rid", "x"]].to_csv(root / "hidden" / "test_features.csv", index=False)
    truth[["rid", "y"]].to_csv(root / "hidden" / "test_labels.csv", index=False)
    return root, truth


def context(
    tmp_path: Path, assignment, predictions: pd.DataFrame | None, **kwargs
) -> GraderContext:
    out = tmp_path / "artifacts"
    out.mkdir(exist_ok=True)
    path = None
    if predictions is not None:
        path = out / "predictions.csv"
        predictions.sample(frac=1.0, random_state=1).to_csv(path, index=False)
    stages = kwargs.pop("stages", {"run": StageRecord(stage="run", verdict="ok")})
    artifacts = Artifacts(root=out, stages=stages, predictions=path)
    return GraderContext(tmp_path, {}, assignment, artifacts, **kwargs)


def binary_predictions(truth: pd.DataFrame, noise: float = 1.0, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    score = 1 / (1 + np.exp(-(truth.x.to_numpy() * 2 - 2 + rng.normal(size=len(truth)) * noise)))
    return pd.DataFrame(
        {"rid": truth.rid, "score": score.round(6), "label": np.where(score > 0.5, POS, NEG)}
    )


@pytest.fixture()
def binary(tmp_path):
    root, truth = make_assignment(tmp_path / "a", "binary_classification")
    return load_assignment(root), truth


def result_text(result) -> str:
    parts = [result.reason or ""] + [c.sentence for c in result.checks]
    parts += [f.sentence for f in result.red_flags]
    parts += [json.dumps(result.details.get("validation", {}))]
    return " ".join(parts)


# --- metrics -------------------------------------------------------------------------------------


def test_binary_metrics_match_sklearn(tmp_path, binary):
    assignment, truth = binary
    preds = binary_predictions(truth)
    result = HeldoutMetricsGrader().grade(context(tmp_path, assignment, preds))
    m = result.details["metrics"]
    y = (truth.y == POS).astype(int).to_numpy()
    score, label = preds.score.to_numpy(), (preds.label == POS).astype(int).to_numpy()
    assert m["average_precision"] == pytest.approx(skm.average_precision_score(y, score))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert m["f1"] == pytest.approx(skm.f1_score(y, label))
    assert m["precision"] == pytest.approx(skm.precision_score(y, label))
    assert m["recall"] == pytest.approx(skm.recall_score(y, label))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, label))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, label))
    assert m["matthews_corrcoef"] == pytest.approx(skm.matthews_corrcoef(y, label))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, np.column_stack([1 - score, score])))
    assert result.details["primary_value"] == m["average_precision"]
    cm = result.details["confusion_matrix"]
    assert cm["labels"] == [NEG, POS]
    assert np.array(cm["matrix"]).sum() == len(truth)
    assert len(result.details["pr_curve"]["recall"]) <= 200
    assert len(result.details["roc_curve"]["fpr"]) <= 200
    json.dumps(result.details, allow_nan=False)  # JSON-serialisable, no NaN


def test_multiclass_metrics_match_sklearn(tmp_path):
    root, truth = make_assignment(tmp_path / "a", "multiclass_classification")
    assignment = load_assignment(root)
    rng = np.random.default_rng(5)
    label = np.where(
        rng.random(len(truth)) < 0.7, truth.y, rng.choice(["ant", "bee", "cow"], len(truth))
    )
    preds = pd.DataFrame({"rid": truth.rid, "label": label})
    result = HeldoutMetricsGrader().grade(context(tmp_path, assignment, preds))
    m = result.details["metrics"]
    assert m["f1"] == pytest.approx(skm.f1_score(truth.y, label, average="macro"))
    assert m["precision"] == pytest.approx(skm.precision_score(truth.y, label, average="macro"))
    assert m["recall"] == pytest.approx(skm.recall_score(truth.y, label, average="macro"))
    assert m["matthews_corrcoef"] == pytest.approx(skm.matthews_corrcoef(truth.y, label))
    assert result.details["ci"]["low"] <= m["f1"] <= result.details["ci"]["high"]
    assert "pr_curve" not in result.details


def test_regression_path(tmp_path):
    root, truth = make_assignment(tmp_path / "a", "regression")
    assignment = load_assignment(root)
    pred = truth.x.to_numpy() * 3 + 0.3
    preds = pd.DataFrame({"rid": truth.rid, "prediction": pred})
    result = HeldoutMetricsGrader().grade(context(tmp_path, assignment, preds))
    m = result.details["metrics"]
    assert m["rmse"] == pytest.approx(skm.root_mean_squared_error(truth.y, pred))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(truth.y, pred))
    assert m["r2"] == pytest.approx(skm.r2_score(truth.y, pred))
    # fallback scale: from predicting the train mean (0) to a perfect model (rmse 0, score 1)
    train_mean = truth.y.iloc[: len(truth) // 2].mean()
    naive = float(np.sqrt(np.mean((truth.y - train_mean) ** 2)))
    assert result.details["scale"]["baseline"] == pytest.approx(naive)
    assert result.details["scale"]["reference"] == 0.0
    assert result.score == pytest.approx(1 - m["rmse"] / naive, abs=1e-6)
    assert not result.details["greater_is_better"]
    json.dumps(result.details, allow_nan=False)


@pytest.mark.parametrize(
    "task", ["binary_classification", "multiclass_classification", "regression"]
)
def test_bootstrap_weights_reproduce_sklearn_on_resamples(tmp_path, task):
    root, truth = make_assignment(tmp_path / "a", task, n=400)
    spec = load_assignment(root).spec
    rng = np.random.default_rng(0)
    if task == "regression":
        y = truth.y.to_numpy(dtype=float)
        values = {"prediction": y + rng.normal(size=len(y))}
    else:
        y = np.array([spec.classes.index(v) for v in truth.y])
        values = {
            "label": np.where(
                rng.random(len(y)) < 0.6, y, rng.integers(0, len(spec.classes), len(y))
            )
        }
        if task == "binary_classification":
            values["score"] = np.clip(y * 0.3 + rng.random(len(y)) * 0.7, 0, 1).round(2)  # ties
    W = next(bootstrap_weights(len(y), 4, seed=7, chunk=4))
    for name in spec.metrics:
        fast = weighted_metric(spec, name, y, values)(W)
        for b in range(4):
            idx = np.repeat(np.arange(len(y)), W[b].astype(int))
            one = SimpleNamespace(**{**spec.__dict__, "metrics": [name]})
            direct = compute_metrics(one, y[idx], {k: v[idx] for k, v in values.items()})[name]
            assert fast[b] == pytest.approx(direct, abs=1e-9), (name, b)


def test_bootstrap_is_deterministic_and_seeded(binary):
    assignment, truth = binary
    spec = assignment.spec
    y = np.array([spec.classes.index(v) for v in truth.y])
    rng = np.random.default_rng(1)
    values = {"score": rng.random(len(y)), "label": rng.integers(0, 2, len(y))}
    metric = weighted_metric(spec, "average_precision", y, values)
    first = bootstrap_ci(metric, len(y))
    assert first == bootstrap_ci(metric, len(y))
    assert first != bootstrap_ci(metric, len(y), seed=1)
    assert first["low"] < first["high"] and first["resamples"] == 1000


# --- score mapping -------------------------------------------------------------------------------


def test_normalised_score_respects_direction():
    assert normalised_score(0.6, baseline=0.2, reference=0.8) == pytest.approx(2 / 3)
    assert normalised_score(0.9, baseline=0.2, reference=0.8) == 1.0
    assert normalised_score(0.1, baseline=0.2, reference=0.8) == 0.0
    # rmse: lower is better, reference below baseline
    assert normalised_score(3.0, baseline=5.0, reference=1.0) == pytest.approx(0.5)
    assert normalised_score(6.0, baseline=5.0, reference=1.0) == 0.0
    assert normalised_score(0.5, baseline=5.0, reference=1.0) == 1.0
    assert normalised_score(1.0, baseline=1.0, reference=1.0) is None


def test_reference_scores_set_the_scale(tmp_path, binary):
    assignment, truth = binary
    preds = binary_predictions(truth)
    base = HeldoutMetricsGrader().grade(context(tmp_path, assignment, preds))
    ap = base.details["primary_value"]
    scaled = HeldoutMetricsGrader().grade(
        context(
            tmp_path,
            assignment,
            preds,
            reference_scores={"reference": ap + 0.1, "baseline": ap - 0.3},
        )
    )
    assert scaled.score == pytest.approx(0.75, abs=1e-6)
    assert scaled.details["scale"]["mode"] == "solutions"
    assert "baseline solution" in scaled.checks[2].sentence
    # fallback: from prevalence (trivial) to 1 (perfect)
    prevalence = float((truth.y == POS).mean())
    assert base.details["scale"]["mode"] == "fallback"
    assert base.details["scale"]["baseline"] == pytest.approx(prevalence)
    assert base.score == pytest.approx((ap - prevalence) / (1 - prevalence), abs=1e-6)


def test_same_inputs_same_result(tmp_path, binary):
    assignment, truth = binary
    preds = binary_predictions(truth)
    one = HeldoutMetricsGrader().grade(context(tmp_path, assignment, preds))
    two = HeldoutMetricsGrader().grade(context(tmp_path, assignment, preds))
    assert one.model_dump() == two.model_dump()


def test_perfect_scores_raise_a_leakage_flag(tmp_path, binary):
    assignment, truth = binary
    score = (truth.y == POS).astype(float)
    preds = pd.DataFrame({"rid": truth.rid, "score": score, "label": truth.y})
    result = HeldoutMetricsGrader().grade(context(tmp_path, assignment, preds))
    assert result.score == 1.0
    assert [f.id for f in result.red_flags] == ["suspiciously_perfect"]


# --- failures and applicability ------------------------------------------------------------------


def test_no_predictions_scores_zero_with_the_run_reason(tmp_path, binary):
    assignment, _ = binary
    run = StageRecord(stage="run", verdict="exit_nonzero", reason="analysis.ipynb: error in cell 2")
    result = HeldoutMetricsGrader().grade(context(tmp_path, assignment, None, stages={"run": run}))
    assert result.score == 0.0 and not result.not_applicable
    assert result.checks[0].id == "predictions_written" and not result.checks[0].passed
    assert "No predictions.csv" in result.checks[0].sentence
    assert "error in cell 2" in result.checks[0].sentence


def test_not_run_is_not_applicable(binary):
    assignment, _ = binary
    result = HeldoutMetricsGrader().grade(GraderContext(Path("."), {}, assignment, None))
    assert result.not_applicable and result.score is None


def test_harness_fault_is_not_a_candidate_failure(tmp_path, binary):
    assignment, _ = binary
    fault = StageRecord(stage="run", verdict="sandbox_error", reason="engine went away")
    result = HeldoutMetricsGrader().grade(
        context(tmp_path, assignment, None, stages={"run": fault})
    )
    assert result.not_applicable and "harness fault" in result.reason


def test_invalid_predictions_score_zero_and_stay_label_safe(tmp_path, binary):
    assignment, truth = binary
    preds = binary_predictions(truth).iloc[7:].copy()
    preds.loc[preds.index[:4], "label"] = "walrus"
    result = HeldoutMetricsGrader().grade(context(tmp_path, assignment, preds))
    assert result.score == 0.0
    valid = next(c for c in result.checks if c.id == "predictions_valid")
    assert not valid.passed
    assert "7 held-out ids missing of 300" in valid.sentence
    assert "4 rows with a 'label' that is not one of the assignment's classes" in valid.sentence
    text = result_text(result)
    for secret in (POS, NEG, "zebra", "yak"):
        assert secret not in text


def test_scored_messages_carry_no_label_values(tmp_path, binary):
    assignment, truth = binary
    result = HeldoutMetricsGrader().grade(context(tmp_path, assignment, binary_predictions(truth)))
    text = result_text(result)
    for secret in (POS, NEG):
        assert secret not in text
    # details hold aggregates only: no per-row arrays as long as the held-out set
    for key, value in result.details.items():
        assert not (isinstance(value, list) and len(value) == len(truth)), key


def test_ci_bounds_are_also_flat_for_calibration(tmp_path, binary):
    assignment, truth = binary
    result = HeldoutMetricsGrader().grade(context(tmp_path, assignment, binary_predictions(truth)))
    details = result.details
    assert details["ci_low"] == details["ci"]["low"] <= details["primary_value"]
    assert details["primary_value"] <= details["ci_high"] == details["ci"]["high"]
