"""Imbalance: when the minority class is rare, did the candidate work with that, not against it?

Applicable to classification assignments whose public ``train.csv`` has a minority class share
under 20% (``context.options["imbalance_threshold"]`` overrides). Looks for a stratified split,
class weights or training-only resampling, imbalance-aware metrics and a deliberate decision
threshold; flags resampling before the split, accuracy as the only metric, and held-out
predictions that never name the positive class.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from graders.artifacts import read_csv_capped, read_train_csv
from graders.base import Evidence, GraderContext, GraderResult, RedFlag
from graders.source import (
    CallSite,
    SubmissionSource,
    assigned_names,
    assigned_value,
    find_calls,
    find_imports,
    find_keywords,
    find_names,
    flow_statements,
    is_call_to,
    iter_trees,
    names_in,
    plain_targets,
    site_at,
    site_check,
    sort_sites,
    source_for,
    walk_header,
)

IMBALANCE_THRESHOLD = 0.20
MAX_PREDICTION_ROWS = 2_000_000

STRATIFIED_SPLITTERS = (
    "StratifiedKFold", "StratifiedShuffleSplit", "RepeatedStratifiedKFold",
    "StratifiedGroupKFold",
)  # fmt: skip
WEIGHT_KEYWORDS = (
    "class_weight", "scale_pos_weight", "sample_weight", "is_unbalance", "auto_class_weights",
    "class_weights",
)  # fmt: skip
WEIGHT_CALLS = ("compute_class_weight", "compute_sample_weight")
SAMPLERS = (
    "SMOTE", "ADASYN", "BorderlineSMOTE", "SVMSMOTE", "SMOTENC", "SMOTEN", "KMeansSMOTE",
    "SMOTETomek", "SMOTEENN", "RandomOverSampler", "RandomUnderSampler", "NearMiss",
    "TomekLinks", "EditedNearestNeighbours", "ClusterCentroids", "InstanceHardnessThreshold",
)  # fmt: skip
BALANCED_ENSEMBLES = (
    "BalancedRandomForestClassifier", "BalancedBaggingClassifier", "EasyEnsembleClassifier",
    "RUSBoostClassifier",
)  # fmt: skip
RESAMPLE_CALLS = ("fit_resample", "fit_sample", "sklearn.utils.resample")
SPLIT_CALLS = ("train_test_split", "cross_val_score", "cross_validate", "cross_val_predict")
AWARE_METRICS = (
    "average_precision_score", "precision_recall_curve", "f1_score", "fbeta_score",
    "recall_score", "precision_score", "balanced_accuracy_score", "confusion_matrix",
    "ConfusionMatrixDisplay", "classification_report", "roc_auc_score", "roc_curve",
    "matthews_corrcoef", "PrecisionRecallDisplay", "RocCurveDisplay", "cohen_kappa_score",
    "precision_recall_fscore_support", "auc",
)  # fmt: skip
AWARE_SCORING = re.compile(
    r"^(f1|f1_\w+|roc_auc\w*|average_precision|recall\w*|precision\w*|balanced_accuracy|"
    r"neg_log_loss|aucpr|auc|pr_auc|matthews_corrcoef)$"
)
THRESHOLD_CALLS = ("TunedThresholdClassifierCV", "FixedThresholdClassifier")
SCORE_SOURCES = ("predict_proba", "decision_function")


class ImbalanceGrader:
    """Judges how a classification submission handles a rare minority class."""

    name = "imbalance"
    version = "1"

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge imbalance handling, or say why it does not apply."""
        spec = getattr(context.assignment, "spec", None)
        task_type = str(getattr(spec, "task_type", "") or "")
        target = getattr(spec, "target", None)
        if "class" not in task_type.lower():
            return GraderResult.not_applicable_result(
                self.name, self.version, f"Not a classification task (task_type {task_type!r})."
            )
        shares = _class_shares(context.assignment, target)
        if shares is None:
            return GraderResult.not_applicable_result(
                self.name,
                self.version,
                f"Cannot compute the class balance: train.csv or its target {target!r} is "
                "missing or unreadable.",
            )
        threshold = float(context.options.get("imbalance_threshold", IMBALANCE_THRESHOLD))
        minority = min(shares.values())
        if minority >= threshold:
            return GraderResult.not_applicable_result(
                self.name,
                self.version,
                f"Classes are balanced enough: the minority class is {minority:.1%} of train "
                f"(threshold {threshold:.0%}).",
            )
        source = source_for(context)
        return self._grade_imbalanced(context, source, shares, minority)

    def _grade_imbalanced(
        self,
        context: GraderContext,
        source: SubmissionSource,
        shares: dict[str, float],
        minority: float,
    ) -> GraderResult:
        before_split, after_split = _resampling_sites(source)
        weights = find_keywords(source, WEIGHT_KEYWORDS) + find_calls(source, WEIGHT_CALLS)
        pipeline_samplers = _pipeline_samplers(source)
        proper_resampling = after_split + pipeline_samplers + find_calls(source, BALANCED_ENSEMBLES)
        aware = _aware_metric_sites(source)
        accuracy = _accuracy_sites(source)
        checks = [
            site_check(
                "imbalance.stratified_split",
                _stratified_sites(source),
                weight=1,
                found="Kept class proportions when splitting ({names}).",
                missing="No stratified split or cross-validation (stratify=, StratifiedKFold).",
            ),
            site_check(
                "imbalance.rebalancing",
                weights + proper_resampling,
                weight=2,
                found="Rebalanced training with class weights or training-only resampling "
                "({names}).",
                missing="Neither class weights nor resampling restricted to training data were "
                "found.",
            ),
            site_check(
                "imbalance.metrics",
                aware,
                weight=2,
                found="Used imbalance-aware metrics ({names}).",
                missing="No imbalance-aware metric (PR AUC, F1, recall, balanced accuracy, "
                "confusion matrix, ROC AUC).",
            ),
            site_check(
                "imbalance.threshold",
                _threshold_sites(source),
                weight=1,
                found="Chose the decision threshold deliberately ({names}).",
                missing="The decision threshold was left at the default 0.5.",
            ),
        ]
        red_flags = []
        if before_split:
            red_flags.append(
                RedFlag(
                    id="imbalance.resample_before_split",
                    severity="high",
                    sentence="Resampled the data before splitting it: synthetic or duplicated "
                    "rows leak into the evaluation data, so the reported scores are inflated.",
                    evidence=[_evidence(site) for site in before_split[:3]],
                )
            )
        if accuracy and not aware:
            red_flags.append(
                RedFlag(
                    id="imbalance.accuracy_only",
                    severity="high",
                    sentence=f"Accuracy is the only metric, with a minority class of "
                    f"{minority:.1%}: predicting the majority class always would score "
                    f"{1 - minority:.1%}.",
                    evidence=[_evidence(site) for site in accuracy[:3]],
                )
            )
        never = _never_predicts_positive(context)
        if never is not None:
            red_flags.append(never)
        details: dict[str, Any] = {
            "class_shares": {k: round(v, 6) for k, v in sorted(shares.items())},
            "minority_share": round(minority, 6),
            "resampling_before_split": len(before_split),
        }
        return GraderResult.from_checks(
            self.name,
            self.version,
            checks,
            red_flags,
            details,
            reason=f"Minority class is {minority:.1%} of train; "
            f"{sum(c.passed for c in checks)} of {len(checks)} imbalance checks passed.",
        )


def _evidence(site: CallSite) -> Evidence:
    return Evidence(path=site.path, cell=site.cell, line=site.line, excerpt=site.excerpt)


def _class_shares(assignment: Any, target: str | None) -> dict[str, float] | None:
    """Share of each class of ``target`` in the assignment's train.csv."""
    frame = read_train_csv(assignment)
    if frame is None or not target or target not in frame.columns:
        return None
    counts = frame[target].dropna().map(_normalise_label).value_counts()
    total = int(counts.sum())
    if total == 0 or len(counts) < 2:
        return None
    return {str(label): int(count) / total for label, count in counts.items()}


def _normalise_label(value: Any) -> str:
    """``"1"``, ``"1.0"``, ``1`` and ``True`` all become ``"1"``; other strings are stripped."""
    text = str(value).strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return "1" if lowered == "true" else "0"
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _stratified_sites(source: SubmissionSource) -> list[CallSite]:
    stratify = find_keywords(source, ["stratify"])
    return sort_sites(stratify + find_calls(source, STRATIFIED_SPLITTERS))


def _aware_metric_sites(source: SubmissionSource) -> list[CallSite]:
    sites = find_calls(source, AWARE_METRICS)
    for unit, tree in iter_trees(source):
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg in ("scoring", "eval_metric", "metric"):
                values = [
                    n.value
                    for n in ast.walk(node.value)
                    if isinstance(n, ast.Constant) and isinstance(n.value, str)
                ]
                if any(AWARE_SCORING.match(value) for value in values):
                    sites.append(site_at(unit, node.value, node.arg))
    return sort_sites(sites)


def _accuracy_sites(source: SubmissionSource) -> list[CallSite]:
    sites = find_calls(source, ["accuracy_score"])
    for unit, tree in iter_trees(source):
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.keyword)
                and node.arg in ("scoring", "metrics", "eval_metric")
                and any(
                    isinstance(n, ast.Constant) and n.value in ("accuracy", "acc", "error")
                    for n in ast.walk(node.value)
                )
            ):
                sites.append(site_at(unit, node.value, node.arg))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "score"
                and len(node.args) == 2
            ):
                sites.append(site_at(unit, node, "score"))
    return sort_sites(sites)


def _pipeline_samplers(source: SubmissionSource) -> list[CallSite]:
    """Sampler constructions when an imblearn pipeline is imported (resampling per fold)."""
    imports = [module for module, _ in find_imports(source)]
    if not any(module.startswith("imblearn.pipeline") for module in imports):
        return []
    return find_calls(source, SAMPLERS)


def _resampling_sites(source: SubmissionSource) -> tuple[list[CallSite], list[CallSite]]:
    """Resampling calls whose output is then split or cross-validated, and the other ones."""
    before: list[CallSite] = []
    after: list[CallSite] = []
    for statements in flow_statements(source).values():
        tainted: set[str] = set()
        pending: list[CallSite] = []
        for unit, stmt in statements:
            resample = None
            for node in walk_header(stmt):
                if is_call_to(source, unit, node, RESAMPLE_CALLS):
                    resample = node
                    break
            value = assigned_value(stmt)
            if resample is not None:
                site = site_at(unit, resample, "fit_resample")
                pending.append(site)
                tainted |= assigned_names(stmt)
                continue
            if value is not None and names_in(value) & tainted:
                tainted |= assigned_names(stmt)
            elif value is not None:  # rebound to data that was not resampled
                tainted -= plain_targets(stmt)
            for node in walk_header(stmt):
                if is_call_to(source, unit, node, SPLIT_CALLS) and any(
                    names_in(arg) & tainted for arg in node.args
                ):
                    before.extend(pending)
                    pending = []
        after.extend(pending)
    before_keys = {(s.path, s.cell, s.line) for s in before}
    return sort_sites(before), sort_sites(
        s for s in after if (s.path, s.cell, s.line) not in before_keys
    )


def _threshold_sites(source: SubmissionSource) -> list[CallSite]:
    """Comparisons of predicted scores with a chosen threshold, and threshold tuners."""
    sites = find_calls(source, THRESHOLD_CALLS)
    sites += [s for s in find_names(source, ["threshold", "thresholds", "best_threshold"])
              if "precision_recall_curve" in s.excerpt or "roc_curve" in s.excerpt]  # fmt: skip
    for statements in flow_statements(source).values():
        score_names: set[str] = set()
        for unit, stmt in statements:
            value = assigned_value(stmt)
            if value is not None and _has_score_call(value):
                score_names |= assigned_names(stmt)
            for node in walk_header(stmt):
                if isinstance(node, ast.Compare) and len(node.comparators) == 1:
                    left = node.left
                    if not (_has_score_call(left) or names_in(left) & score_names):
                        continue
                    if _is_default_threshold(node.comparators[0]):
                        continue
                    sites.append(site_at(unit, node, "threshold"))
    return sort_sites(sites)


def _has_score_call(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in SCORE_SOURCES
        for n in ast.walk(node)
    )


def _is_default_threshold(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value in (0.5, 0)


def _never_predicts_positive(context: GraderContext) -> RedFlag | None:
    """A red flag when our run's predictions never contain the positive class."""
    spec = getattr(context.assignment, "spec", None)
    positive = getattr(spec, "positive_class", None)
    artifacts = context.artifacts
    if positive is None or artifacts is None or artifacts.predictions is None:
        return None
    frame = read_csv_capped(artifacts.predictions, max_rows=MAX_PREDICTION_ROWS)
    if frame is None or "label" not in frame.columns or len(frame) == 0:
        return None
    labels = frame["label"].dropna().map(_normalise_label)
    wanted = _normalise_label(positive)
    if (labels == wanted).any():
        return None
    return RedFlag(
        id="imbalance.never_predicts_positive",
        severity="high",
        sentence=f"The held-out predictions never name the positive class {positive!r} "
        f"({len(frame)} rows): the model predicts the majority class only.",
        evidence=[
            Evidence(
                path=_artifact_path(artifacts.root, artifacts.predictions),
                metric={"rows": len(frame), "positive_predictions": 0},
                note="predictions written during our run",
            )
        ],
    )


def _artifact_path(root: Path, path: Path) -> str | None:
    try:
        return "artifact:" + Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except (OSError, ValueError):
        return None
