"""Held-out metrics grader: scores the submission's predictions against labels it never saw.

The sandbox only ever sees the held-out *features*; the labels stay on the host. This grader
validates ``predictions.csv`` Kaggle-style (:mod:`contracts.predictions`), computes the
assignment's metrics (numpy, with scikit-learn's formulas: importing scikit-learn cost more
than grading), a bootstrap 95% confidence interval for the primary metric (one resample
matrix, counted per code: see the bootstrap section), and curve/confusion-matrix aggregates
for the report.

Score (0–1): where the primary metric falls between the baseline solution (0) and the reference
solution (1), ``(value - baseline) / (reference - baseline)`` clipped to [0, 1]; the same formula
holds for lower-is-better metrics (rmse, mae, log_loss) because both differences change sign.
The pipeline passes ``{"reference": x, "baseline": y}`` in ``context.reference_scores``. Without
them (or when they are equal) the fallback maps from a *trivial predictor* (0) to a *perfect
predictor* (1):

=================  ============================================  =========
metric             trivial predictor (0)                         perfect
=================  ============================================  =========
average_precision  prevalence of the positive class              1
roc_auc            0.5 (random scores)                           1
log_loss           log loss of always predicting the prevalence  0
accuracy           share of the majority class                   1
balanced_accuracy  1 / number of classes                         1
f1/precision/      random labels at the class rates: positive    1
recall             prevalence (binary) or 1/K (multiclass macro)
matthews_corrcoef  0                                             1
rmse               rmse of predicting the train mean             0
mae                mae of predicting the train median            0
r2                 0 (predicting the mean)                       1
=================  ============================================  =========

Nothing label-level leaves this module: details hold aggregate numbers only (metrics, curve
points, confusion-matrix counts), and messages come from :mod:`contracts.predictions`, which is
label-safe.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from contracts.errors import SpecError
from contracts.metrics import GREATER_IS_BETTER
from graders.artifacts import read_csv_capped, read_train_csv
from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag

if TYPE_CHECKING:  # contracts.predictions pulls in pandas: imported where predictions are read
    from contracts.predictions import PredictionsCheck

NAME = "heldout_metrics"
VERSION = "1.0.0"

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 20240601
CI_LEVEL = 0.95
LOG_LOSS_EPS = 1e-15
CURVE_MAX_POINTS = 200
CHUNK_CELLS = 4_000_000  # resamples x rows per vectorised bootstrap chunk (~32 MB of float64)
WORK_CELLS = 20_000_000  # resamples x rows in all: above 20k rows the resample count shrinks
MIN_RESAMPLES = 200
NEAR_REFERENCE = 0.9  # normalised score at or above which the submission is "near the reference"
LEAK_SUSPICION = {"roc_auc": 0.999, "average_precision": 0.999, "r2": 0.999}


# --- ground truth ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """Held-out ids and labels (class indices for classification, floats for regression)."""

    ids: list[str]
    y: np.ndarray


_TRUTH_CACHE: dict[tuple, Truth] = {}
_TRUTH_LOCK = threading.Lock()


def load_truth(assignment: Any) -> Truth:
    """Read the hidden labels file on the host; SpecError (label-safe) when it is unusable.

    Parsed once per process for each version of the file (a batch reads it once); the arrays
    are read-only.
    """
    spec = assignment.spec
    path = Path(assignment.hidden_labels_csv)
    try:
        stat = path.stat()
        key: tuple | None = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, spec.task_type,
                             spec.id_column, spec.target, tuple(spec.classes or ()))
    except OSError:
        key = None
    with _TRUTH_LOCK:
        cached = _TRUTH_CACHE.get(key) if key is not None else None
    if cached is not None:
        return cached
    truth = _read_truth(spec, path)
    truth.y.flags.writeable = False
    if key is not None:
        with _TRUTH_LOCK:
            _TRUTH_CACHE[key] = truth
    return truth


def _read_truth(spec: Any, path: Path) -> Truth:
    from contracts.predictions import canonical_id, class_index  # pandas: only when scoring

    frame = read_csv_capped(path)
    if frame is None:
        raise SpecError(f"{path}: held-out labels are missing or unreadable", hint="check hidden/")
    for column in (spec.id_column, spec.target):
        if column not in frame.columns:
            raise SpecError(f"{path}: no column {column!r}", hint="check hidden/test_labels.csv")
    ids = [canonical_id(v) for v in frame[spec.id_column].tolist()]
    if len(set(ids)) != len(ids):
        raise SpecError(f"{path}: duplicate ids in {spec.id_column!r}", hint="fix the labels file")
    if spec.task_type == "regression":
        y = np.asarray(
            [float(v) if _is_number(v) else math.nan for v in frame[spec.target]], dtype=float
        )
        if not np.all(np.isfinite(y)):
            raise SpecError(f"{path}: non-numeric targets", hint="fix the labels file")
    else:
        y = class_index(frame[spec.target], spec.classes)
        if np.any(y < 0):
            raise SpecError(
                f"{path}: {int(np.sum(y < 0))} labels are not among the spec's classes",
                hint="fix assignment.yaml classes or the labels file",
            )
    return Truth(ids=ids, y=y)


def _is_number(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# --- point metrics (numpy, the formulas of scikit-learn) ------------------------------------------
# scikit-learn's import (scipy.stats) took longer than the whole grading on the host, so the
# metrics are computed here with the same formulas; tests/test_heldout_speed.py checks them
# against scikit-learn on fixed and random inputs.


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def compute_metrics(
    spec: Any, y: np.ndarray, values: dict[str, np.ndarray]
) -> dict[str, float | None]:
    """Every metric of ``spec.metrics`` (None when undefined, e.g. AUC with one class)."""
    out: dict[str, float | None] = {}
    for name in spec.metrics:
        try:
            out[name] = _finite(_metric(spec, name, y, values))
        except ValueError:
            out[name] = None
    return out


def _binary_curve(y_bin: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(tps, fps) at each distinct score, highest first (scikit-learn's _binary_clf_curve)."""
    order = np.argsort(-score, kind="stable")
    s = score[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y_bin[order], dtype=np.float64)[ends]
    return tps, 1 + ends.astype(np.float64) - tps


def pr_curve(y_bin: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(precision, recall) as ``sklearn.metrics.precision_recall_curve`` returns them."""
    tps, fps = _binary_curve(y_bin, score)
    ps = tps + fps
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(ps != 0, tps / ps, 0.0)
    recall = np.ones_like(tps) if tps[-1] == 0 else tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0]


def roc_points(y_bin: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fpr, tpr) as ``sklearn.metrics.roc_curve`` returns them (collinear points dropped)."""
    tps, fps = _binary_curve(y_bin, score)
    if len(fps) > 2:
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])
        fps, tps = fps[keep], tps[keep]
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    with np.errstate(divide="ignore", invalid="ignore"):
        return fps / fps[-1], tps / tps[-1]


def _confusion(y: np.ndarray, pred: np.ndarray, k: int) -> np.ndarray:
    """(1, k, k) confusion counts, rows = truth, columns = prediction."""
    return np.bincount(y * k + pred, minlength=k * k).reshape(1, k, k).astype(np.float64)


def _metric(spec: Any, name: str, y: np.ndarray, values: dict[str, np.ndarray]) -> float:
    if spec.task_type == "regression":
        err = y - values["prediction"]
        if name == "rmse":
            return float(np.sqrt(np.mean(err**2)))
        if name == "mae":
            return float(np.mean(np.abs(err)))
        if name == "r2":
            ss_res = float(np.sum(err**2))
            ss_tot = float(np.sum((y - np.mean(y)) ** 2))
            if ss_tot == 0:  # scikit-learn's force_finite
                return 1.0 if ss_res == 0 else 0.0
            return 1 - ss_res / ss_tot
        raise ValueError(f"metric {name!r} does not apply to regression")
    k = len(spec.classes)
    label = values["label"]
    if spec.task_type == "binary_classification":
        pos = spec.classes.index(spec.positive_class)
        y_bin = (y == pos).astype(np.int64)
        score = values["score"]
        if name == "average_precision":
            precision, recall = pr_curve(y_bin, score)
            return max(0.0, float(-np.sum(np.diff(recall) * precision[:-1])))
        if name == "roc_auc":
            if y_bin.min() == y_bin.max():
                raise ValueError("only one class present: ROC AUC is undefined")
            fpr, tpr = roc_points(y_bin, score)
            return float(np.trapezoid(tpr, fpr))
        if name == "log_loss":
            p = np.clip(score, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
            return float(np.mean(-(y_bin * np.log(p) + (1 - y_bin) * np.log(1 - p))))
        cm, pos_index = _confusion(y_bin, (label == pos).astype(np.int64), 2), 1
    else:
        cm, pos_index = _confusion(y, label, k), None
    if name not in CONFUSION_METRICS:
        raise ValueError(f"metric {name!r} does not apply to {spec.task_type}")
    return float(_from_confusion(name, cm, pos_index)[0])


CONFUSION_METRICS = (
    "f1", "precision", "recall", "balanced_accuracy", "accuracy", "matthews_corrcoef"
)


# --- the bootstrap: one resample matrix, counts per code -------------------------------------------
# A resample draws n row indices. Every metric here depends on a resample only through how many
# draws fell on each *code* of a small per-row code book: the (truth, prediction) cell for the
# confusion metrics, the ranking bucket and class for AP and AUC, the row itself for regression.
# One (resamples x n) index matrix is mapped through the code book and counted with a single
# bincount; each metric is then a few numpy operations on a (resamples x codes) count matrix.


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _from_confusion(name: str, cm: np.ndarray, pos: int | None) -> np.ndarray:
    """A confusion metric for each (k, k) matrix of ``cm`` (shape (b, k, k))."""
    diag = np.diagonal(cm, axis1=1, axis2=2)
    true_sum, pred_sum = cm.sum(axis=2), cm.sum(axis=1)
    total = cm.sum(axis=(1, 2))
    if name == "accuracy":
        return _safe_div(diag.sum(axis=1), total)
    if name == "balanced_accuracy":
        with np.errstate(invalid="ignore"):
            recall = _safe_div(diag, true_sum)
            return np.nanmean(np.where(true_sum > 0, recall, np.nan), axis=1)
    if name == "matthews_corrcoef":
        correct = diag.sum(axis=1)
        cov_tp = correct * total - (true_sum * pred_sum).sum(axis=1)
        cov_pp = total**2 - (pred_sum**2).sum(axis=1)
        cov_tt = total**2 - (true_sum**2).sum(axis=1)
        den = np.sqrt(cov_tt * cov_pp)
        return np.where(den > 0, cov_tp / np.where(den > 0, den, 1), 0.0)
    precision = np.nan_to_num(_safe_div(diag, pred_sum))
    recall = np.nan_to_num(_safe_div(diag, true_sum))
    f1 = np.nan_to_num(_safe_div(2 * diag, true_sum + pred_sum))
    per_class = {"precision": precision, "recall": recall, "f1": f1}[name]
    return per_class[:, pos] if pos is not None else per_class.mean(axis=1)


@dataclass(frozen=True)
class ResampledMetric:
    """A metric of a bootstrap resample, through the resample's draw counts per code.

    ``codes[i]`` is row i's code (0 <= code < ``n_codes``); ``evaluate`` maps a (resamples x
    n_codes) count matrix to the metric of each resample. Calling it with a (resamples x n)
    matrix of row weights gives the weighted metric (used by the tests).
    """

    codes: np.ndarray
    n_codes: int
    evaluate: Callable[[np.ndarray], np.ndarray]

    def __call__(self, W: np.ndarray) -> np.ndarray:
        counts = np.zeros((self.n_codes, W.shape[0]))
        np.add.at(counts, self.codes, W.T)
        return self.evaluate(counts.T)


def _by_row(n: int, evaluate: Callable[[np.ndarray], np.ndarray]) -> ResampledMetric:
    return ResampledMetric(np.arange(n), n, lambda C: evaluate(C.astype(np.float64)))


def _ranking_groups(score: np.ndarray) -> np.ndarray:
    """Each row's group of equal scores, numbered from the highest score (0) down."""
    order = np.argsort(-score, kind="stable")
    group_sorted = np.r_[0, np.cumsum(np.diff(score[order]) != 0)]
    groups = np.empty(len(score), dtype=np.int64)
    groups[order] = group_sorted
    return groups


def _resampled_ap(score: np.ndarray, y_bin: np.ndarray) -> ResampledMetric:
    """Average precision: the recall steps happen only at the score groups holding positives.

    Bucket j gathers the rows ranked after the (j-1)-th positive group, up to and including
    the j-th; rows below the last positive group form a last bucket that never counts.
    """
    groups = _ranking_groups(score)
    positive_groups = np.unique(groups[y_bin == 1])
    buckets = np.searchsorted(positive_groups, groups, side="left")
    n_buckets = len(positive_groups) + 1

    def evaluate(C: np.ndarray) -> np.ndarray:
        counts = C.reshape(len(C), n_buckets, 2)[:, :-1, :].astype(np.float64)
        tps = np.cumsum(counts[:, :, 1], axis=1)
        seen = np.cumsum(counts[:, :, 0] + counts[:, :, 1], axis=1)
        if tps.shape[1] == 0:
            return np.full(len(C), np.nan)
        positives = tps[:, -1:]
        recall = _safe_div(tps, np.broadcast_to(positives, tps.shape))
        precision = np.nan_to_num(_safe_div(tps, seen), nan=1.0)
        steps = np.diff(recall, axis=1, prepend=0.0)
        ap = np.sum(steps * precision, axis=1)
        return np.where(positives[:, 0] > 0, ap, np.nan)

    return ResampledMetric(buckets * 2 + y_bin, 2 * n_buckets, evaluate)


def _resampled_auc(score: np.ndarray, y_bin: np.ndarray) -> ResampledMetric:
    """ROC AUC: trapezoids between consecutive score groups."""
    groups = _ranking_groups(score)
    n_groups = int(groups.max()) + 1

    def evaluate(C: np.ndarray) -> np.ndarray:
        counts = C.reshape(len(C), n_groups, 2).astype(np.float64)
        zeros = np.zeros((len(C), 1))
        tps = np.concatenate([zeros, np.cumsum(counts[:, :, 1], axis=1)], axis=1)
        fps = np.concatenate([zeros, np.cumsum(counts[:, :, 0], axis=1)], axis=1)
        p, n = tps[:, -1], fps[:, -1]
        area = np.sum(np.diff(fps, axis=1) * (tps[:, 1:] + tps[:, :-1]) / 2, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((p > 0) & (n > 0), area / (p * n), np.nan)

    return ResampledMetric(groups * 2 + y_bin, 2 * n_groups, evaluate)


def _resampled_confusion(
    name: str, y: np.ndarray, pred: np.ndarray, k: int, pos: int | None
) -> ResampledMetric:
    def evaluate(C: np.ndarray) -> np.ndarray:
        return _from_confusion(name, C.reshape(len(C), k, k).astype(np.float64), pos)

    return ResampledMetric(y * k + pred, k * k, evaluate)


def weighted_metric(
    spec: Any, name: str, y: np.ndarray, values: dict[str, np.ndarray]
) -> ResampledMetric:
    """The metric ``name`` of a bootstrap resample (see :class:`ResampledMetric`)."""
    n = len(y)
    if spec.task_type == "regression":
        err = values["prediction"] - y
        if name == "rmse":
            return _by_row(n, lambda W: np.sqrt(W @ (err**2) / n))
        if name == "mae":
            return _by_row(n, lambda W: W @ np.abs(err) / n)
        if name == "r2":

            def r2(W: np.ndarray) -> np.ndarray:
                mean = W @ y / n
                ss_tot = W @ (y**2) - n * mean**2
                ss_res = W @ (err**2)
                return _safe_div(ss_tot - ss_res, ss_tot)

            return _by_row(n, r2)
        raise ValueError(name)
    k = len(spec.classes)
    if spec.task_type == "binary_classification":
        pos = spec.classes.index(spec.positive_class)
        y_bin = (y == pos).astype(np.int64)
        label_bin = (values["label"] == pos).astype(np.int64)
        score = values["score"]
        if name == "average_precision":
            return _resampled_ap(score, y_bin)
        if name == "roc_auc":
            return _resampled_auc(score, y_bin)
        if name == "log_loss":
            p = np.clip(score, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
            losses = -(y_bin * np.log(p) + (1 - y_bin) * np.log(1 - p))
            return _by_row(n, lambda W: W @ losses / n)
        return _resampled_confusion(name, y_bin, label_bin, 2, 1)
    return _resampled_confusion(name, y, values["label"], k, None)


def _resample_indices(n: int, resamples: int, seed: int, chunk: int):
    """Yield (chunk, n) matrices of bootstrap row indices, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < resamples:
        b = min(chunk, resamples - done)
        yield rng.integers(0, n, size=(b, n))
        done += b


def resample_counts(codes: np.ndarray, n_codes: int, resamples: int, seed: int, chunk: int):
    """Yield (chunk, n_codes) draw counts per code of each resample (one bincount per chunk)."""
    codes = np.asarray(codes, dtype=np.int64)
    for draws in _resample_indices(len(codes), resamples, seed, chunk):
        b = len(draws)
        np.take(codes, draws, out=draws)
        draws += (np.arange(b, dtype=np.int64) * n_codes)[:, None]
        yield np.bincount(draws.ravel(), minlength=b * n_codes).reshape(b, n_codes)


def bootstrap_weights(n: int, resamples: int, seed: int, chunk: int):
    """Yield (chunk, n) float matrices of bootstrap multiplicities, deterministic in ``seed``."""
    for counts in resample_counts(np.arange(n), n, resamples, seed, chunk):
        yield counts.astype(float)


def bootstrap_ci(
    metric: ResampledMetric,
    n: int,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = CI_LEVEL,
) -> dict[str, Any] | None:
    """Percentile bootstrap interval of ``metric``; None when most resamples are undefined.

    To bound the time on large held-out sets, ``resamples`` shrinks to ``WORK_CELLS // n``
    (never below ``MIN_RESAMPLES``); the count used is in the result.
    """
    if n < 2:
        return None
    resamples = min(resamples, max(MIN_RESAMPLES, WORK_CELLS // n))
    chunk = max(1, min(resamples, CHUNK_CELLS // n))  # the chunks (hence draws) of v1.0
    samples = np.concatenate([
        metric.evaluate(counts)
        for counts in resample_counts(metric.codes, metric.n_codes, resamples, seed, chunk)
    ])
    valid = samples[np.isfinite(samples)]
    if len(valid) < resamples / 2:
        return None
    alpha = (1 - level) / 2
    low, high = np.quantile(valid, [alpha, 1 - alpha])
    return {
        "low": float(low),
        "high": float(high),
        "level": level,
        "resamples": resamples,
        "valid_resamples": len(valid),
        "seed": seed,
        "method": "percentile",
    }


# --- context: trivial-predictor fallback, curves, confusion matrix -------------------------------


def trivial_baseline(spec: Any, y: np.ndarray, train_target: np.ndarray | None) -> float | None:
    """The primary metric of the trivial predictor of the module doc (0 of the fallback scale)."""
    name = spec.primary_metric
    if spec.task_type == "regression":
        center = train_target if train_target is not None and len(train_target) else y
        if name == "rmse":
            return float(np.sqrt(np.mean((y - np.mean(center)) ** 2)))
        if name == "mae":
            return float(np.mean(np.abs(y - np.median(center))))
        return 0.0
    k = len(spec.classes)
    shares = np.bincount(y, minlength=k) / max(len(y), 1)
    if spec.task_type == "binary_classification":
        prevalence = float(shares[spec.classes.index(spec.positive_class)])
        if name == "log_loss":
            p = min(max(prevalence, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS)
            return float(-(prevalence * math.log(p) + (1 - prevalence) * math.log(1 - p)))
        table = {
            "average_precision": prevalence,
            "roc_auc": 0.5,
            "f1": prevalence,
            "precision": prevalence,
            "recall": prevalence,
        }
    else:
        table = {"f1": 1 / k, "precision": 1 / k, "recall": 1 / k}
    table.update(
        {"accuracy": float(shares.max()), "balanced_accuracy": 1 / k, "matthews_corrcoef": 0.0}
    )
    return float(table[name])


PERFECT = {"log_loss": 0.0, "rmse": 0.0, "mae": 0.0}


def normalised_score(value: float, baseline: float, reference: float) -> float | None:
    """(value - baseline) / (reference - baseline) clipped to [0, 1]; None if the scale is flat."""
    span = reference - baseline
    if not math.isfinite(span) or abs(span) < 1e-12:
        return None
    return float(min(1.0, max(0.0, (value - baseline) / span)))


def _downsample(*arrays: np.ndarray) -> list[list[float]]:
    n = len(arrays[0])
    keep = np.unique(np.linspace(0, n - 1, min(n, CURVE_MAX_POINTS)).round().astype(int))
    return [[round(float(v), 6) for v in a[keep]] for a in arrays]


def curves(spec: Any, y: np.ndarray, values: dict[str, np.ndarray]) -> dict[str, Any]:
    """PR and ROC curves (binary, <= CURVE_MAX_POINTS points) and the confusion matrix."""
    out: dict[str, Any] = {}
    if spec.task_type == "regression":
        return out
    k = len(spec.classes)
    if spec.task_type == "binary_classification":
        pos = spec.classes.index(spec.positive_class)
        y_bin = (y == pos).astype(int)
        if 0 < y_bin.sum() < len(y_bin):
            precision, recall = pr_curve(y_bin, values["score"])
            recall_pts, precision_pts = _downsample(recall, precision)
            out["pr_curve"] = {"recall": recall_pts, "precision": precision_pts}
            fpr, tpr = roc_points(y_bin, values["score"])
            fpr_pts, tpr_pts = _downsample(fpr, tpr)
            out["roc_curve"] = {"fpr": fpr_pts, "tpr": tpr_pts}
    matrix = _confusion(y, values["label"], k)[0]
    out["confusion_matrix"] = {
        "labels": [str(c) for c in spec.classes],
        "matrix": matrix.astype(int).tolist(),
        "rows": "truth",
        "columns": "prediction",
    }
    return out


def _train_target(assignment: Any) -> np.ndarray | None:
    frame = read_train_csv(assignment)  # read_csv_capped's defaults, cached per file version
    if frame is None or assignment.spec.target not in frame.columns:
        return None
    values = [float(v) for v in frame[assignment.spec.target] if _is_number(v)]
    return np.asarray(values, dtype=float) if values else None


# --- the grader ---------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


class HeldoutMetricsGrader:
    """Scores predictions on the held-out set between the baseline and reference solutions."""

    name = NAME
    version = VERSION

    def warm_up(self, assignment: Any) -> None:
        """Import the predictions contract (pandas), parse the held-out labels and read the
        public train set (the cached reader the data graders share) ahead."""
        import contracts.predictions  # noqa: F401 - the import is the work

        if getattr(assignment, "hidden_labels_csv", None) is not None:
            load_truth(assignment)
        read_train_csv(assignment)

    def grade(self, context: GraderContext) -> GraderResult:
        """Validate predictions, compute metrics + CI, map the primary metric to [0, 1]."""
        artifacts = context.artifacts
        if artifacts is None:
            # takehome screen: there is no assignment, hence no held-out set at all.
            reason = getattr(context.assignment, "no_heldout_reason", None)
            return GraderResult.not_applicable_result(
                NAME, VERSION,
                reason or "Submission code was not run (--no-run): no held-out predictions."
            )
        run = artifacts.stages.get("run")
        if run is not None and run.verdict == "sandbox_error":
            return GraderResult.not_applicable_result(
                NAME,
                VERSION,
                f"The run stage hit a harness fault ({run.reason or 'sandbox_error'}); "
                "held-out metrics are not graded.",
            )
        spec = context.assignment.spec
        truth = load_truth(context.assignment)
        if artifacts.predictions is None:
            return self._no_predictions(spec, run)
        from contracts.predictions import validate_predictions  # pandas: only when scoring

        check = validate_predictions(
            artifacts.predictions,
            task_type=spec.task_type,
            id_column=spec.id_column,
            expected_ids=truth.ids,
            classes=spec.classes,
        )
        where = _artifact_evidence(artifacts.root, artifacts.predictions)
        if not check.ok:
            return self._invalid(spec, check, where)
        return self._scored(context, truth, check, where)

    def _no_predictions(self, spec: Any, run: Any) -> GraderResult:
        why = ""
        if run is not None and run.verdict != "ok":
            why = f" The run stage ended with {run.verdict}" + (
                f": {run.reason}." if run.reason else "."
            )
        sentence = (
            f"No {spec.submission.predictions_file} was written to $TAKEHOME_OUTPUT_DIR, so the "
            f"held-out {spec.primary_metric} cannot be computed.{why}"
        )
        checks = [Check(id="predictions_written", passed=False, sentence=sentence)]
        return GraderResult(
            grader=NAME,
            version=VERSION,
            score=0.0,
            checks=checks,
            reason=sentence,
            details={
                "primary_metric": spec.primary_metric,
                "primary_value": None,
                "validation": {"ok": False, "errors": ["no predictions file was written"]},
            },
        )

    def _invalid(self, spec: Any, check: PredictionsCheck, where: list[Evidence]) -> GraderResult:
        sentence = check.summary()
        checks = [
            Check(
                id="predictions_written",
                passed=True,
                sentence=f"{spec.submission.predictions_file} was written.",
            ),
            Check(id="predictions_valid", passed=False, sentence=sentence, evidence=where),
        ]
        return GraderResult(
            grader=NAME,
            version=VERSION,
            score=0.0,
            checks=checks,
            reason=sentence,
            details={
                "primary_metric": spec.primary_metric,
                "primary_value": None,
                "validation": _validation_details(check),
            },
        )

    def _scored(
        self, context: GraderContext, truth: Truth, check: PredictionsCheck, where: list[Evidence]
    ) -> GraderResult:
        spec = context.assignment.spec
        primary = spec.primary_metric
        values = compute_metrics(spec, truth.y, check.values)
        value = values.get(primary)
        ci = None
        if value is not None:
            ci = bootstrap_ci(weighted_metric(spec, primary, truth.y, check.values), len(truth.y))
        scale = self._scale(context, truth)
        score = (
            None
            if value is None
            else normalised_score(value, scale["baseline"], scale["reference"])
        )
        score = 0.0 if score is None else round(score, 6)
        better = GREATER_IS_BETTER[primary]
        beats = value is not None and (
            value > scale["baseline"] if better else value < scale["baseline"]
        )
        ci_text = f" (95% CI {_fmt(ci['low'])}–{_fmt(ci['high'])})" if ci else ""
        metric_evidence = Evidence(
            metric={k: v for k, v in values.items()},
            note=f"computed on {len(truth.ids)} held-out rows on the host",
        )
        checks = [
            Check(
                id="predictions_written",
                passed=True,
                sentence=f"{spec.submission.predictions_file} was written.",
            ),
            Check(id="predictions_valid", passed=True, sentence=check.summary(), evidence=where),
            Check(
                id="beats_baseline",
                passed=beats,
                sentence=f"Held-out {primary} is {_fmt(value)}{ci_text}; the "
                f"{scale['source_baseline']} scores {_fmt(scale['baseline'])}.",
                evidence=[metric_evidence],
            ),
            Check(
                id="near_reference",
                passed=score >= NEAR_REFERENCE,
                sentence=f"Held-out {primary} is {_fmt(value)}; the {scale['source_reference']} "
                f"scores {_fmt(scale['reference'])} (normalised score {score:.2f}).",
            ),
        ]
        red_flags = []
        threshold = LEAK_SUSPICION.get(primary)
        if value is not None and threshold is not None and value >= threshold:
            red_flags.append(
                RedFlag(
                    id="suspiciously_perfect",
                    severity="medium",
                    sentence=f"Held-out {primary} is {_fmt(value)}, close to perfect: check for "
                    "target leakage (an id or label proxy among the features).",
                    evidence=[metric_evidence],
                )
            )
        details: dict[str, Any] = {
            "primary_metric": primary,
            "primary_value": value,
            "greater_is_better": better,
            "metrics": values,
            "ci": ci,
            "ci_low": ci["low"] if ci else None,
            "ci_high": ci["high"] if ci else None,
            "scale": {k: v for k, v in scale.items()},
            "n_rows": len(truth.ids),
            "validation": _validation_details(check),
            **curves(spec, truth.y, check.values),
        }
        return GraderResult(
            grader=NAME,
            version=VERSION,
            score=score,
            checks=checks,
            red_flags=red_flags,
            details=details,
            reason=f"held-out {primary} {_fmt(value)}{ci_text}",
        )

    def _scale(self, context: GraderContext, truth: Truth) -> dict[str, Any]:
        spec = context.assignment.spec
        ref = context.reference_scores or {}
        reference, baseline = ref.get("reference"), ref.get("baseline")
        if (
            isinstance(reference, (int, float))
            and isinstance(baseline, (int, float))
            and math.isfinite(reference)
            and math.isfinite(baseline)
            and abs(reference - baseline) > 1e-12
        ):
            return {
                "reference": float(reference),
                "baseline": float(baseline),
                "source_reference": "reference solution",
                "source_baseline": "baseline solution",
                "mode": "solutions",
            }
        train = _train_target(context.assignment) if spec.task_type == "regression" else None
        trivial = trivial_baseline(spec, truth.y, train)
        perfect = PERFECT.get(spec.primary_metric, 1.0)
        return {
            "reference": perfect,
            "baseline": trivial,
            "source_reference": "perfect predictor",
            "source_baseline": "trivial predictor",
            "mode": "fallback",
        }


def _artifact_evidence(root: Path, path: Path | None) -> list[Evidence]:
    """``artifact:<path>`` evidence for a file under the artifacts root (none otherwise)."""
    if path is None:
        return []
    try:
        rel = Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except (OSError, ValueError):
        return []
    return [Evidence(path=f"artifact:{rel}", note="predictions written in the sandbox")]


def _validation_details(check: PredictionsCheck) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "n_rows": check.n_rows,
        "n_expected": check.n_expected,
        "errors": list(check.errors),
        "warnings": list(check.warnings),
    }
