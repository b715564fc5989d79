"""The fast held-out metrics give the results of the implementation they replace.

Version 1.0 of ``graders.heldout_metrics`` computed the point metrics and curves with
scikit-learn and bootstrapped through (resamples x rows) weight matrices. The numpy versions
must agree: point metrics within ``POINT_TOL`` of scikit-learn, curves equal after the
report's rounding, and the bootstrap confidence interval within ``CI_TOL`` of the v1.0
algorithm (reproduced below as the reference) with the same seed, hence the same draws.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn import metrics as skm

from graders import heldout_metrics as hm

POINT_TOL = 1e-12
CI_TOL = 1e-12

BINARY = SimpleNamespace(
    task_type="binary_classification", classes=[0, 1], positive_class=1,
    metrics=["average_precision", "roc_auc", "f1", "precision", "recall", "balanced_accuracy",
             "accuracy", "matthews_corrcoef", "log_loss"],
)
MULTI = SimpleNamespace(
    task_type="multiclass_classification", classes=["a", "b", "c"], positive_class=None,
    metrics=["f1", "precision", "recall", "balanced_accuracy", "accuracy", "matthews_corrcoef"],
)
REGRESSION = SimpleNamespace(task_type="regression", classes=[], positive_class=None,
                             metrics=["rmse", "mae", "r2"])


def binary_case(n: int, seed: int, ties: bool = False, prevalence: float = 0.1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < prevalence).astype(np.int64)
    score = np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1)
    if ties:
        score = score.round(2)
    return y, {"score": score, "label": (score >= 0.5).astype(np.int64)}


def multi_case(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    label = np.where(rng.random(n) < 0.6, y, rng.integers(0, 3, n))
    return y, {"label": label}


def regression_case(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 10
    return y, {"prediction": y + rng.normal(size=n) * 3}


def sklearn_metric(name: str, spec, y, values) -> float:
    """What v1.0 computed (scikit-learn, with v1.0's arguments)."""
    if spec.task_type == "regression":
        pred = values["prediction"]
        return {"rmse": skm.root_mean_squared_error, "mae": skm.mean_absolute_error,
                "r2": skm.r2_score}[name](y, pred)
    if spec.task_type == "binary_classification":
        score, label = values["score"], values["label"]
        if name == "average_precision":
            return skm.average_precision_score(y, score)
        if name == "roc_auc":
            return skm.roc_auc_score(y, score)
        if name == "log_loss":
            p = np.clip(score, hm.LOG_LOSS_EPS, 1 - hm.LOG_LOSS_EPS)
            return skm.log_loss(y, np.column_stack([1 - p, p]), labels=[0, 1])
        kwargs = {"pos_label": 1, "zero_division": 0}
    else:
        label = values["label"]
        kwargs = {"average": "macro", "labels": [0, 1, 2], "zero_division": 0}
    simple = {"balanced_accuracy": skm.balanced_accuracy_score, "accuracy": skm.accuracy_score,
              "matthews_corrcoef": skm.matthews_corrcoef}
    if name in simple:
        return simple[name](y, label)
    return {"f1": skm.f1_score, "precision": skm.precision_score,
            "recall": skm.recall_score}[name](y, label, **kwargs)


CASES = [
    ("binary", BINARY, binary_case(5000, 1)),
    ("binary-ties", BINARY, binary_case(700, 2, ties=True, prevalence=0.3)),
    ("multiclass", MULTI, multi_case(900, 3)),
    ("regression", REGRESSION, regression_case(800, 4)),
]


@pytest.mark.parametrize(("label", "spec", "case"), CASES, ids=[c[0] for c in CASES])
def test_point_metrics_equal_scikit_learn(label, spec, case):
    y, values = case
    fast = hm.compute_metrics(spec, y, values)
    for name in spec.metrics:
        assert fast[name] == pytest.approx(sklearn_metric(name, spec, y, values),
                                           abs=POINT_TOL), name


def test_curves_equal_scikit_learn_after_rounding():
    for y, values in (binary_case(5000, 1)[0:2], binary_case(700, 2, ties=True)[0:2]):
        fast = hm.curves(BINARY, y, values)
        precision, recall, _ = skm.precision_recall_curve(y, values["score"])
        fpr, tpr, _ = skm.roc_curve(y, values["score"])
        assert fast["pr_curve"] == dict(zip(("recall", "precision"),
                                            hm._downsample(recall, precision)))
        assert fast["roc_curve"] == dict(zip(("fpr", "tpr"), hm._downsample(fpr, tpr)))
        matrix = skm.confusion_matrix(y, values["label"], labels=[0, 1]).tolist()
        assert fast["confusion_matrix"]["matrix"] == matrix


def test_undefined_metrics_stay_undefined():
    y = np.zeros(50, dtype=np.int64)
    values = {"score": np.linspace(0, 1, 50), "label": np.zeros(50, dtype=np.int64)}
    out = hm.compute_metrics(BINARY, y, values)
    assert out["roc_auc"] is None  # one class: scikit-learn raised ValueError
    assert out["average_precision"] == 0.0  # scikit-learn: recall set to 1, AP 0


# --- the v1.0 bootstrap, as the reference ---------------------------------------------------------


def v1_weights(n: int, resamples: int, seed: int, chunk: int):
    rng = np.random.default_rng(seed)
    done = 0
    while done < resamples:
        b = min(chunk, resamples - done)
        draws = rng.integers(0, n, size=(b, n))
        flat = (draws + (np.arange(b) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)
        done += b


def v1_ranking_counts(score, y_bin, W):
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], y_bin[order].astype(float)
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    Ws = W[:, order]
    return np.cumsum(Ws * t, axis=1)[:, ends], np.cumsum(Ws * (1 - t), axis=1)[:, ends]


def v1_metric(spec, name, y, values):
    """v1.0's W -> metric per resample (rows of W are multiplicities summing to n)."""
    n = len(y)
    if spec.task_type == "regression":
        err = values["prediction"] - y
        if name == "rmse":
            return lambda W: np.sqrt(W @ (err**2) / n)
        if name == "mae":
            return lambda W: W @ np.abs(err) / n
        return lambda W: hm._safe_div(W @ (y**2) - n * (W @ y / n) ** 2 - W @ (err**2),
                                      W @ (y**2) - n * (W @ y / n) ** 2)
    k = len(spec.classes)

    def confusion(W, truth, pred, size):
        pair = truth * size + pred
        cm = np.zeros((W.shape[0], size * size))
        for code in np.unique(pair):
            cm[:, code] = W[:, pair == code].sum(axis=1)
        return cm.reshape(W.shape[0], size, size)

    if spec.task_type == "binary_classification":
        score, label = values["score"], values["label"]
        if name == "average_precision":
            def ap(W):
                tps, fps = v1_ranking_counts(score, y, W)
                positives = tps[:, -1:]
                recall = hm._safe_div(tps, np.broadcast_to(positives, tps.shape))
                precision = np.nan_to_num(hm._safe_div(tps, tps + fps), nan=1.0)
                steps = np.diff(np.concatenate([np.zeros((len(W), 1)), recall], axis=1), axis=1)
                return np.where(positives[:, 0] > 0, np.sum(steps * precision, axis=1), np.nan)
            return ap
        if name == "roc_auc":
            def auc(W):
                tps, fps = v1_ranking_counts(score, y, W)
                zeros = np.zeros((len(W), 1))
                tps, fps = np.concatenate([zeros, tps], 1), np.concatenate([zeros, fps], 1)
                p, q = tps[:, -1], fps[:, -1]
                area = np.sum(np.diff(fps, axis=1) * (tps[:, 1:] + tps[:, :-1]) / 2, axis=1)
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.where((p > 0) & (q > 0), area / (p * q), np.nan)
            return auc
        if name == "log_loss":
            p = np.clip(score, hm.LOG_LOSS_EPS, 1 - hm.LOG_LOSS_EPS)
            losses = -(y * np.log(p) + (1 - y) * np.log(1 - p))
            return lambda W: W @ losses / n
        return lambda W: hm._from_confusion(name, confusion(W, y, label, 2), 1)
    return lambda W: hm._from_confusion(name, confusion(W, y, values["label"], k), None)


def v1_ci(metric, n: int, resamples: int = hm.BOOTSTRAP_RESAMPLES, seed: int = hm.BOOTSTRAP_SEED):
    resamples = min(resamples, max(hm.MIN_RESAMPLES, hm.WORK_CELLS // n))
    chunk = max(1, min(resamples, hm.CHUNK_CELLS // n))
    samples = np.concatenate([metric(W) for W in v1_weights(n, resamples, seed, chunk)])
    valid = samples[np.isfinite(samples)]
    low, high = np.quantile(valid, [0.025, 0.975])
    return float(low), float(high), len(valid)


@pytest.mark.parametrize(("label", "spec", "case"), CASES, ids=[c[0] for c in CASES])
def test_bootstrap_interval_equals_version_1_0(label, spec, case):
    y, values = case
    for name in spec.metrics:
        fast = hm.bootstrap_ci(hm.weighted_metric(spec, name, y, values), len(y))
        low, high, valid = v1_ci(v1_metric(spec, name, y, values), len(y))
        assert fast["low"] == pytest.approx(low, abs=CI_TOL), name
        assert fast["high"] == pytest.approx(high, abs=CI_TOL), name
        assert fast["valid_resamples"] == valid, name


def test_resample_counts_are_the_weights_grouped_by_code():
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 7, 300)
    counts = np.concatenate(list(hm.resample_counts(codes, 7, 50, seed=9, chunk=16)))
    weights = np.concatenate(list(v1_weights(300, 50, seed=9, chunk=16)))
    expected = np.stack([weights[:, codes == c].sum(axis=1) for c in range(7)], axis=1)
    assert np.array_equal(counts, expected)
    assert np.array_equal(np.concatenate(list(hm.bootstrap_weights(300, 50, 9, 16))), weights)


def test_large_held_out_sets_keep_the_bootstrap_bounded():
    y, values = binary_case(60_000, 6)
    ci = hm.bootstrap_ci(hm.weighted_metric(BINARY, "average_precision", y, values), len(y))
    assert ci["resamples"] == max(hm.MIN_RESAMPLES, hm.WORK_CELLS // len(y))
    assert ci["low"] < hm.compute_metrics(BINARY, y, values)["average_precision"] < ci["high"]
