"""Imbalance: did the candidate work with the class balance of the target, not against it?

The level follows the reviewers' scale (0 nothing or accuracy only; 1 aware but no real
handling; 2 one sound measure; 3 stratification + rebalancing done correctly + minority-aware
metrics; 4 that plus PR-AUC or a chosen threshold, stratified from the first split). Only code
on the real data path counts (:mod:`graders.data_path`): not tests, not a toy ``__main__``
demo. The score is the level / 4 (the rubric's thresholds give the level back); the checks
carry the evidence of each component and the red flags the flaws the rubric caps.

A near-balanced target (minority share of at least 35%, from ``train.csv`` or a share the
submission states) needs no rebalancing: stratification counts as fitting handling. A task with
no classes (regression, or no classifier at all) is judged on how the target's skew was handled.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

from graders.artifacts import read_csv_capped, read_train_csv
from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag
from graders.data_path import config_lines, is_test_file
from graders.modeling_flow import SEARCHES as HYPERPARAMETER_SEARCHES
from graders.source import (
    CallSite,
    SubmissionSource,
    assigned_names,
    assigned_value,
    comment_lines,
    dotted_name,
    evidence_for,
    find_calls,
    find_imports,
    find_keywords,
    find_names,
    flow_statements,
    is_call_to,
    iter_calls,
    iter_trees,
    markdown_evidence,
    names_in,
    plain_targets,
    site_at,
    site_check,
    site_key,
    sort_sites,
    source_for,
    walk_all,
    walk_header,
)
from graders.source_repair import repaired_source
from graders.synthetic_data import real_sites, synthetic_data_flag

NEAR_BALANCED = 0.35  # a minority share from which rebalancing is not needed
MAX_PREDICTION_ROWS = 2_000_000

STRATIFIED_SPLITTERS = (
    "StratifiedKFold", "StratifiedShuffleSplit", "RepeatedStratifiedKFold",
    "StratifiedGroupKFold",
)  # fmt: skip
WEIGHT_KEYWORDS = (
    "class_weight", "scale_pos_weight", "sample_weight", "is_unbalance", "auto_class_weights",
    "class_weights",
)  # fmt: skip
CONFIG_WEIGHTS = re.compile(
    r"^\s*[\"']?(\w+__)?(class_weight|scale_pos_weight|is_unbalance|auto_class_weights)[\"']?"
    r"\s*[:=]\s*[\"']?(balanced\w*|true|[1-9][\d.]*|\{)",
    re.IGNORECASE,
)
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
SPLIT_CALLS = ("train_test_split",)
CV_CALLS = ("cross_val_score", "cross_validate", "cross_val_predict")
SEARCHES = ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "BayesSearchCV")
MINORITY_METRICS = (
    "f1_score", "fbeta_score", "recall_score", "precision_score", "balanced_accuracy_score",
    "confusion_matrix", "ConfusionMatrixDisplay", "classification_report", "matthews_corrcoef",
    "cohen_kappa_score", "precision_recall_fscore_support", "multilabel_confusion_matrix",
)  # fmt: skip
PR_METRICS = ("average_precision_score", "precision_recall_curve", "PrecisionRecallDisplay")
ROC_METRICS = ("roc_auc_score", "roc_curve", "RocCurveDisplay")
MINORITY_SCORING = re.compile(
    r"^(f1|f1_\w+|recall\w*|precision\w*|balanced_accuracy|matthews_corrcoef|mcc)$"
)
PR_SCORING = re.compile(r"^(average_precision|aucpr|pr_auc|prauc|auc_pr|pr-auc)$", re.IGNORECASE)
ROC_SCORING = re.compile(r"^(roc_auc\w*|auc)$")
SCORING_KEYWORDS = ("scoring", "eval_metric", "metric", "metrics", "refit")
THRESHOLD_CALLS = ("TunedThresholdClassifierCV", "FixedThresholdClassifier")
SCORE_SOURCES = (
    "predict_proba", "decision_function", "predict_log_proba", "predict_partial_hazard",
    "predict_risk", "predict",
)  # fmt: skip
ORDERING = (ast.Gt, ast.GtE, ast.Lt, ast.LtE)
CLASSIFIER_HINTS = re.compile(
    r"(Classifier|^LogisticRegression\w*$|^SVC$|^LinearSVC$|^GaussianNB$|^BernoulliNB$|"
    r"^MultinomialNB$|^Logit$|^predict_proba$)"
)
OBJECTIVE_KIND = re.compile(r"^(reg|binary|multi):\w+$")
CLASSIFICATION_CALLS = MINORITY_METRICS + PR_METRICS + ROC_METRICS + ("accuracy_score",)
REGRESSION_HINTS = re.compile(
    r"(Regressor$|^LinearRegression$|^Ridge\w*$|^Lasso\w*$|^ElasticNet\w*$|^SVR$|^OLS$|"
    r"^mean_squared_error$|^mean_absolute_error$|^r2_score$|^root_mean_squared_error$)"
)
REGRESSION_METRICS = (
    "mean_squared_error", "mean_absolute_error", "r2_score", "root_mean_squared_error",
    "mean_absolute_percentage_error", "median_absolute_error",
)  # fmt: skip
TARGET_TRANSFORMS = ("log1p", "log", "log10", "log2", "sqrt", "boxcox", "yeojohnson")
INVERSE_TRANSFORMS = ("expm1", "exp", "inv_boxcox", "inverse_transform")
ROBUST_REGRESSORS = ("HuberRegressor", "QuantileRegressor", "TheilSenRegressor", "RANSACRegressor")
ROBUST_LOSS = re.compile(r"^(huber|absolute_error|quantile|l1|mae|regression_l1|reg:absoluteerror|"
                         r"reg:pseudohubererror|MAE|Huber\w*|Quantile\w*)$")  # fmt: skip
DISTRIBUTION_PLOTS = ("hist", "histplot", "displot", "distplot", "kdeplot", "boxplot", "skew")
SKEW_WORDS = re.compile(r"\b(skew\w*|long[- ]tail\w*|heavy[- ]tail\w*)\b", re.IGNORECASE)


class ImbalanceGrader:
    """Judges how a submission handles the class balance of its target."""

    name = "imbalance"
    version = "6"

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge the imbalance handling present (never raises for candidate faults)."""
        spec = getattr(context.assignment, "spec", None)
        task_type = str(getattr(spec, "task_type", "") or "")
        target = getattr(spec, "target", None)
        source = repaired_source(source_for(context))  # files that do not parse here, read
        kind = _task_kind(task_type, source)
        also_classifies = (
            kind == "regression"
            and bool(getattr(context.assignment, "screening", False))
            and _task_kind("", source) == "classification"
        )
        if kind != "classification" and not also_classifies:
            return _grade_without_classes(self, source, task_type, target, kind)
        # an inferred task type is a guess: a submission that also fits a classifier or scores
        # classes is judged on its classification, as a reviewer would
        return self._grade_classes(context, source, task_type, target)

    def _grade_classes(
        self, context: GraderContext, source: SubmissionSource, task_type: str, target: Any
    ) -> GraderResult:
        """The classification ladder, with the class shares known from data or the text."""
        shares = _class_shares(context.assignment, target) or _given_shares(context.assignment)
        stated = getattr(context.assignment, "stated_minority_share", None)
        minority: float | None = min(shares.values()) if shares else None
        share_source = "train.csv" if shares else None
        if minority is None and isinstance(stated, int | float) and 0 < stated < 1:
            minority, share_source = min(float(stated), 1 - float(stated)), "stated"
        return _grade_classification(self, context, source, shares, minority, share_source,
                                     task_type)  # fmt: skip


def on_path(source: SubmissionSource, sites: list[CallSite]) -> list[CallSite]:
    """``sites`` on the real data path: not in tests or a toy ``__main__`` demo, and not
    after the loaded data was replaced by a generated set (:mod:`graders.synthetic_data`)."""
    return real_sites(source, sites)


def _synthetic_flag(source: SubmissionSource) -> RedFlag | None:
    """A red flag when every evaluation runs on a generated set that replaced the data."""
    return synthetic_data_flag(
        source, "imbalance.synthetic_data",
        "The loaded data is replaced by a generated data set before the models are trained and "
        "scored, so the class-balance handling and its metrics concern toy data, not the task's.")


# --------------------------------------------------------------------------- task kind


def _task_kind(task_type: str, source: SubmissionSource) -> str:
    """classification, regression or none: from the task type, else from the code's models."""
    if "class" in task_type.lower():
        return "classification"
    if task_type == "regression":
        return "regression"
    names = set()
    own_classes = {node.name for _, node in walk_all(source) if isinstance(node, ast.ClassDef)}
    for unit, node in walk_all(source):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            objective = OBJECTIVE_KIND.match(node.value)
            if objective:  # "reg:squarederror", "binary:logistic", "multi:softprob"
                names.add((unit.path, "Regressor" if objective.group(1) == "reg" else "Classifier"))
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called not in own_classes:  # a class the author named says nothing of the task
                names.add((unit.path, called))
        elif isinstance(node, ast.keyword) and node.arg == "stratify":
            names.add((unit.path, "stratify"))
    real = {name for path, name in names if not is_test_file(path)}
    if any(CLASSIFIER_HINTS.search(n) for n in real) or real & set(CLASSIFICATION_CALLS):
        return "classification"
    if any(REGRESSION_HINTS.search(n) for n in real):
        return "regression"  # stratify= beside regressors is binned stratification
    return "classification" if "stratify" in real else "none"


# --------------------------------------------------------------------------- classification


def _grade_classification(
    grader: ImbalanceGrader,
    context: GraderContext,
    source: SubmissionSource,
    shares: dict[str, float] | None,
    minority: float | None,
    share_source: str | None,
    task_type: str,
) -> GraderResult:
    near_balanced = minority is not None and minority >= NEAR_BALANCED
    flows = _resampling_flows(source)
    split_sites = on_path(source, find_calls(source, SPLIT_CALLS))
    explicit = _stratified_sites(source)
    stratified = sort_sites(explicit + _default_stratified_cv(source))
    unstratified = [s for s in split_sites if not _is_stratified_split(source, s)]
    weights = on_path(source, find_keywords(source, WEIGHT_KEYWORDS) + _grid_weight_sites(source))
    weights += config_lines(source, CONFIG_WEIGHTS)
    # resampling after the split but before cross-validation still rebalances the training
    # data; the flaw is the cv_on_resampled red flag, which the rubric caps at level 2
    resampled_before_cv = [pair[0] for pair in flows.before_cv]
    resampling = on_path(source, flows.clean + resampled_before_cv + _pipeline_samplers(source)
                         + find_calls(source, BALANCED_ENSEMBLES))  # fmt: skip
    minority_sites, pr_sites, roc_sites, selection = _metric_sites(source)
    thresholds = _threshold_sites(source)
    accuracy = on_path(source, _accuracy_sites(source))
    parts = {
        "stratified": bool(stratified),
        "rebalancing": bool(weights or resampling),
        "minority_metrics": bool(minority_sites or pr_sites),
        "per_class": bool(minority_sites),
        "pr_auc": bool(pr_sites),
        "threshold": bool(thresholds),
        "aware_selection": bool(selection),
    }
    stratified_from_first = bool(explicit) and not unstratified
    level, why = _classification_level(
        parts,
        aware=bool(stratified or weights or resampling or flows.before_split or flows.before_cv
                   or minority_sites or pr_sites or roc_sites or thresholds),
        evaluated=bool(minority_sites or pr_sites or roc_sites or accuracy
                       or _other_metrics(source)),
        stratified_from_first=stratified_from_first,
        near_balanced=near_balanced,
        deliberately_stratified=bool(explicit),
    )  # fmt: skip
    checks = _classification_checks(
        stratified, unstratified, weights + resampling, minority_sites, pr_sites, roc_sites,
        thresholds, near_balanced,
    )  # fmt: skip
    red_flags = _resampling_flags(flows)
    if accuracy and not (minority_sites or pr_sites or roc_sites or _other_metrics(source)):
        share = f" with a minority class of {minority:.1%}" if minority is not None else ""
        red_flags.append(
            RedFlag(
                id="imbalance.accuracy_only",
                severity="high",
                sentence=f"Accuracy is the only metric{share}: always predicting the majority "
                "class would score well on it.",
                evidence=[evidence_for(site) for site in accuracy[:3]],
            )
        )
    if not near_balanced:
        by_accuracy = _accuracy_selection_flag(source, minority)
        if by_accuracy is not None:
            red_flags.append(by_accuracy)
    never = _never_predicts_positive(context)
    if never is not None:
        red_flags.append(never)
    synthetic = _synthetic_flag(source)
    if synthetic is not None:
        red_flags.append(synthetic)
    details: dict[str, Any] = {
        "mode": "classification",
        "level": level,
        "balance": "near_balanced" if near_balanced else ("imbalanced" if minority is not None
                                                          else "unknown"),
        "minority_share": None if minority is None else round(minority, 6),
        "share_source": share_source,
        "stratified_from_first_split": stratified_from_first,
        "resampling_before_split": len(flows.before_split),
        "resampling_before_cv": len(flows.before_cv),
    }  # fmt: skip
    if shares:
        details["class_shares"] = {k: round(v, 6) for k, v in sorted(shares.items())}
    if "class" in task_type:
        details["task_type"] = task_type
    return GraderResult(
        grader=grader.name,
        version=grader.version,
        score=level / 4,
        checks=checks,
        red_flags=red_flags,
        details=details,
        reason=f"Level {level}: {why}",
    )


LADDER_WHY = {
    "nothing": "nothing addresses the class balance (no stratification, rebalancing, "
    "minority-aware metric or threshold).",
    "aware": "aware of the class balance (stratification or class-aware metrics), but no "
    "rebalancing or chosen threshold.",
    "aware_balanced": "class-aware metrics, but not even a stratified split.",
    "aware_default": "class-aware metrics; the only stratification is scikit-learn's default "
    "for cross-validation of a classifier, which no code asked for.",
    "unevaluated": "rebalancing or a threshold, but the model is never evaluated.",
    "one": "one sound measure, without the rest of the handling (stratification, "
    "rebalancing, minority-aware metrics).",
    "solid": "stratification, rebalancing or a chosen threshold, and minority-aware metrics, "
    "but not all of stratification from the first split, rebalancing and PR-AUC or a chosen "
    "threshold.",
    "full": "stratified from the first split, rebalanced, minority-aware metrics and PR-AUC "
    "or a chosen threshold.",
}


def _classification_level(
    parts: dict[str, bool],
    *,
    aware: bool,
    evaluated: bool,
    stratified_from_first: bool,
    near_balanced: bool,
    deliberately_stratified: bool = True,
) -> tuple[int, str]:
    """The reviewers' ladder for a classification target, with the sentence that explains it.

    For a near-balanced target stratification is fitting handling only when the author asked
    for it (``stratify=``, a stratified splitter): the folds scikit-learn stratifies by default
    for an integer ``cv`` show awareness, not a measure taken. For any target those default
    folds are not a component of level 3 either."""
    handling = parts["rebalancing"] or parts["threshold"]
    if near_balanced:
        handling = handling or (parts["stratified"] and deliberately_stratified)
    # the folds scikit-learn stratifies by default are no measure the author took, so they are
    # not the stratification of level 3 ("stratification + rebalancing + minority metrics")
    components = (parts["stratified"] and deliberately_stratified) + sum(
        parts[k]
        for k in (
            "rebalancing",
            "threshold",
            "pr_auc",
            "per_class",
            "aware_selection",
        )
    )
    if not aware:
        return 0, LADDER_WHY["nothing"]
    if not handling:
        if near_balanced:
            return 1, LADDER_WHY["aware_default" if parts["stratified"] else "aware_balanced"]
        return 1, LADDER_WHY["aware"]
    if not evaluated:
        return 1, LADDER_WHY["unevaluated"]
    if not parts["minority_metrics"] or components < 3:
        return 2, LADDER_WHY["one"]
    if near_balanced:
        top = stratified_from_first and components >= 4
    else:
        top = (
            stratified_from_first
            and parts["rebalancing"]
            and (parts["pr_auc"] or parts["threshold"])
        )
    return (4, LADDER_WHY["full"]) if top else (3, LADDER_WHY["solid"])


def _classification_checks(
    stratified: list[CallSite],
    unstratified: list[CallSite],
    rebalancing: list[CallSite],
    minority_sites: list[CallSite],
    pr_sites: list[CallSite],
    roc_sites: list[CallSite],
    thresholds: list[CallSite],
    near_balanced: bool,
) -> list[Check]:
    later = ""
    if stratified and unstratified:
        first = unstratified[0]
        later = (f" (but the split at {first.path}:{first.line} is not stratified, so "
                 "stratification does not start from the first split)")  # fmt: skip
    rebalance_missing = (
        "No rebalancing, and none is needed for a near-balanced target."
        if near_balanced
        else "Neither class weights passed to a model nor resampling restricted to training "
        "data were found."
    )
    metric_missing = "No minority-aware metric (F1, recall, precision, per-class report, " \
        "confusion matrix, balanced accuracy, PR-AUC)."  # fmt: skip
    if roc_sites and not (minority_sites or pr_sites):
        metric_missing += " ROC-AUC alone does not show how the minority class fares."
    return [
        site_check(
            "imbalance.stratified_split", stratified, weight=1,
            found="Kept class proportions when splitting ({names})" + later + ".",
            missing="No stratified split or cross-validation (stratify=, StratifiedKFold).",
        ),
        site_check(
            "imbalance.rebalancing", rebalancing, weight=2,
            found="Rebalanced training with class weights passed to a model or training-only "
            "resampling ({names}).",
            missing=rebalance_missing,
        ),
        site_check(
            "imbalance.metrics", minority_sites + pr_sites, weight=2,
            found="Used minority-aware metrics ({names}).", missing=metric_missing,
        ),
        site_check(
            "imbalance.pr_auc", pr_sites, weight=1,
            found="Evaluated the precision-recall trade-off ({names}).",
            missing="No PR-AUC / average precision or precision-recall curve (ROC-AUC is not "
            "the same: it hides how few positives are found).",
        ),
        site_check(
            "imbalance.threshold", thresholds, weight=1,
            found="Set the decision threshold deliberately and applied it ({names}).",
            missing="No decision threshold was chosen and applied (a threshold array from "
            "roc_curve/precision_recall_curve that is never used does not count).",
        ),
    ]  # fmt: skip


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


def _given_shares(assignment: Any) -> dict[str, float] | None:
    """Class shares the task context already computed (screen mode), when valid."""
    shares = getattr(assignment, "class_shares", None)
    if not isinstance(shares, dict) or len(shares) < 2:
        return None
    try:
        return {str(k): float(v) for k, v in shares.items()}
    except (TypeError, ValueError):
        return None


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
    """Explicit stratification of the evaluation: ``stratify=`` and stratified splitters whose
    folds feed model fitting or scoring (:func:`_splitter_feeds_models`)."""
    stratify = find_keywords(source, ["stratify"])
    splitters = _splitters_feeding_models(source)
    return on_path(source, sort_sites(stratify + splitters))


def _splitters_feeding_models(source: SubmissionSource) -> list[CallSite]:
    """Stratified splitter constructions whose folds reach a model.

    A splitter only iterated by ``for tr, va in skf.split(X, y)`` loops that never predict or
    score (out-of-fold target encoding, say) stratifies no evaluation; one passed as ``cv=``,
    or iterated by a loop that predicts or scores, does. A splitter bound to a name nothing
    uses again counts for nothing.
    """
    loops: dict[int, bool] = {}  # id of the expression split in a for loop -> loop scores
    names_split: dict[int, bool] = {}  # id of a Name node split in a for loop -> loop scores
    uses: dict[tuple[str, str], list[int]] = {}  # (path, name) -> its Name nodes read there
    bound: dict[int, str] = {}  # id of a constructor call -> the name it is bound to
    constructors: list[tuple[Any, ast.Call]] = []
    for unit, node in walk_all(source):
        if isinstance(node, ast.For | ast.AsyncFor):
            receiver = _split_receiver(node.iter)
            if receiver is not None:
                scores = _loop_predicts(node)
                (names_split if isinstance(receiver, ast.Name) else loops)[id(receiver)] = scores
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call):
                bound[id(node.value)] = node.targets[0].id
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            uses.setdefault((unit.path, node.id), []).append(id(node))
        if isinstance(node, ast.Call) and is_call_to(source, unit, node, STRATIFIED_SPLITTERS):
            constructors.append((unit, node))
    sites = []
    for unit, call in constructors:
        name = bound.get(id(call))
        if name is None:
            feeds = loops.get(id(call), True)
        else:
            feeds = any(names_split.get(use, True) for use in uses.get((unit.path, name), []))
        if feeds:
            sites.append(site_at(unit, call, dotted_name(call.func) or "splitter"))
    return sites


def _split_receiver(iterated: ast.AST) -> ast.AST | None:
    """``skf`` of ``skf.split(X, y)`` (also inside ``enumerate``/``list``/``tqdm``)."""
    while (isinstance(iterated, ast.Call) and isinstance(iterated.func, ast.Name)
           and iterated.func.id in ("enumerate", "list", "tqdm", "zip") and iterated.args):  # fmt: skip
        iterated = iterated.args[0]
    if (isinstance(iterated, ast.Call) and isinstance(iterated.func, ast.Attribute)
            and iterated.func.attr == "split" and iterated.args
            and not isinstance(iterated.args[0], ast.Constant)):  # fmt: skip
        return iterated.func.value
    return None


def _loop_predicts(loop: ast.For | ast.AsyncFor) -> bool:
    """Whether a loop's body predicts, scores or trains a booster (model validation)."""
    wanted = set(SCORE_SOURCES) | set(CLASSIFICATION_CALLS) | set(REGRESSION_METRICS) | {
        "score", "train", "cross_val_score", "evaluate"}  # fmt: skip
    for stmt in loop.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in wanted:
                    return True
    return False


def _default_stratified_cv(source: SubmissionSource) -> list[CallSite]:
    """Cross-validation of a classifier with ``cv`` left out, ``None`` or an int: scikit-learn
    then splits with StratifiedKFold (``cross_val_score``, ``cross_validate``, searches)."""
    bindings = _bindings(source)
    sites = []
    for unit, node, _name, _canonical in iter_calls(source):
        if not is_call_to(source, unit, node, CV_CALLS + SEARCHES):
            continue
        estimator = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg in ("estimator", "model")), None)
        scoring = next((k.value for k in node.keywords if k.arg == "scoring"), None)
        regression_scoring = scoring is not None and any(
            REGRESSION_SCORING.match(v) for v in _scoring_strings(scoring, bindings))
        if estimator is None or regression_scoring or _is_regressor(estimator, bindings):
            continue
        cv = next((k.value for k in node.keywords if k.arg == "cv"), None)
        if cv is None or _is_fold_count(cv, bindings):
            sites.append(site_at(unit, node, dotted_name(node.func) or "cv"))
    return on_path(source, sort_sites(sites))


def _is_fold_count(node: ast.AST, bindings: dict[str, list[ast.AST]]) -> bool:
    if isinstance(node, ast.Name):
        values = bindings.get(node.id, [])
        return bool(values) and all(_is_fold_count(v, {}) for v in values)
    return isinstance(node, ast.Constant) and (
        node.value is None or (isinstance(node.value, int) and not isinstance(node.value, bool)))


REGRESSION_SCORING = re.compile(r"^(neg_\w*(error|deviance)\w*|r2|explained_variance|max_error)$")


def _is_regressor(node: ast.AST, bindings: dict[str, list[ast.AST]]) -> bool:
    """An estimator built from a regressor (directly, or through variables, two deep)."""
    candidates = [node]
    for _depth in range(2):
        candidates += [value for c in list(candidates) for name in names_in(c)
                       for value in bindings.get(name, []) if value not in candidates]  # fmt: skip
    for candidate in candidates:
        for sub in ast.walk(candidate):
            if isinstance(sub, ast.Call):
                name = (dotted_name(sub.func) or "").rsplit(".", 1)[-1]
                if REGRESSION_HINTS.search(name) and not CLASSIFIER_HINTS.search(name):
                    return True
    return False


def _is_stratified_split(source: SubmissionSource, site: CallSite) -> bool:
    """Whether the ``train_test_split`` call at ``site`` passes a ``stratify`` value."""
    for unit, node in walk_all(source):
        if (unit.path, unit.cell) != (site.path, site.cell) or not isinstance(node, ast.Call):
            continue
        if getattr(node, "lineno", None) != site.line or not is_call_to(
            source, unit, node, SPLIT_CALLS
        ):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg == "stratify" and not (
                isinstance(value, ast.Constant) and value.value in (None, False)
            ):
                return True
        return False
    return True


def _grid_weight_sites(source: SubmissionSource) -> list[CallSite]:
    """Search grids that try balanced class weights: ``{"class_weight": ["balanced", ...]}``."""
    sites = []
    for unit, node in walk_all(source):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=False):
            if (
                isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and key.value.rsplit("__", 1)[-1] in WEIGHT_KEYWORDS
                and _mentions_weighting(value)
            ):
                sites.append(site_at(unit, key, key.value))
    return sites


def _mentions_weighting(node: ast.AST) -> bool:
    """``"balanced"``, a dict of class weights, ``True`` or a positive number (a booster's
    ``{"is_unbalance": True}`` / ``{"scale_pos_weight": 10}`` params)."""
    value = node.value if isinstance(node, ast.Constant) else None
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if value is True or (number and value > 1):
        return True
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "balanced" in sub.value:
            return True
        if isinstance(sub, ast.Dict) and sub.keys:
            return True
    return False


def _metric_sites(
    source: SubmissionSource,
) -> tuple[list[CallSite], list[CallSite], list[CallSite], list[CallSite]]:
    """Minority-aware, PR and ROC metric uses on the real path, and aware selection scoring.

    A metric counts when called, and when passed by reference (``make_scorer(f1_score)``, a
    list or dict of metric functions). ``scoring=`` values are read through a variable bound
    to a string, list or dict (``scoring=metrics`` passed to ``cross_validate``). Micro
    averaging does not count: for single-label data micro F1/precision/recall equal accuracy.
    """
    minority, pr, roc = _metric_references(source)
    selection: list[CallSite] = []
    bindings = _bindings(source)
    for unit, node in walk_all(source):
        if not (isinstance(node, ast.keyword) and node.arg in SCORING_KEYWORDS):
            continue
        values = _scoring_strings(node.value, bindings)
        site = site_at(unit, node.value, node.arg)
        if any(MINORITY_SCORING.match(v) and not v.endswith("_micro") for v in values):
            minority.append(site)
            selection.append(site)
        if any(PR_SCORING.match(v) for v in values):
            pr.append(site)
            selection.append(site)
        if any(ROC_SCORING.match(v) for v in values):
            roc.append(site)
    return (on_path(source, sort_sites(minority)), on_path(source, sort_sites(pr)),
            on_path(source, sort_sites(roc)), on_path(source, sort_sites(selection)))  # fmt: skip


def _scoring_strings(value: ast.AST, bindings: dict[str, list[ast.AST]]) -> list[str]:
    """String constants of a ``scoring=`` value, through one level of variables."""
    nodes = [value]
    for name in names_in(value) if isinstance(value, ast.Name) else ():
        nodes += bindings.get(name, [])
    return [n.value for node in nodes for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)]  # fmt: skip


def _metric_references(
    source: SubmissionSource,
) -> tuple[list[CallSite], list[CallSite], list[CallSite]]:
    """Metric functions called or referenced (not micro-averaged), by family."""
    families = {name: i for i, group in enumerate((MINORITY_METRICS, PR_METRICS, ROC_METRICS))
                for name in group}  # fmt: skip
    found: tuple[list[CallSite], ...] = ([], [], [])
    micro_args: set[int] = set()
    for unit, node in walk_all(source):
        if isinstance(node, ast.Call) and _is_micro(node):
            micro_args |= {id(n) for arg in node.args for n in ast.walk(arg)}
            micro_args.add(id(node.func))
    for unit, node in walk_all(source):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            name = node.id
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            name = node.attr
        else:
            continue
        if name in families and id(node) not in micro_args:
            found[families[name]].append(site_at(unit, node, name))
    return found[0], found[1], found[2]


def _is_micro(call: ast.Call) -> bool:
    return any(k.arg == "average" and isinstance(k.value, ast.Constant)
               and k.value.value == "micro" for k in call.keywords)  # fmt: skip


@functools.lru_cache(maxsize=32)
def _bindings(source: SubmissionSource) -> dict[str, list[ast.AST]]:
    """Every value assigned to each plain name, across the submission (real path only)."""
    found: dict[str, list[ast.AST]] = {}
    for unit, node in walk_all(source):
        if isinstance(node, ast.Assign) and not is_test_file(unit.path):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value)
    return found


OTHER_METRICS = ("log_loss", "brier_score_loss", "jaccard_score", "hamming_loss", "hinge_loss",
                 "precision_recall_fscore_support", "top_k_accuracy_score")  # fmt: skip
ACCURACY_SCORING = ("accuracy", "acc", "error", "zero_one_loss", "top_k_accuracy")


def _other_metrics(source: SubmissionSource) -> list[CallSite]:
    """Metrics other than accuracy referenced on the real path (functions or ``scoring=``
    strings), so that ``accuracy_only`` is raised only when accuracy truly stands alone."""
    sites = on_path(source, find_names(source, OTHER_METRICS))
    bindings = _bindings(source)
    for unit, node in walk_all(source):
        if isinstance(node, ast.keyword) and node.arg in SCORING_KEYWORDS:
            values = _scoring_strings(node.value, bindings)
            if any(v not in ACCURACY_SCORING and not v.endswith("_micro") for v in values):
                sites.append(site_at(unit, node.value, node.arg))
    return on_path(source, sites)


def _accuracy_sites(source: SubmissionSource) -> list[CallSite]:
    sites = find_calls(source, ["accuracy_score"])
    for unit, _ in iter_trees(source):
        for node in unit.nodes:
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


def _search_calls(source: SubmissionSource) -> list[tuple[ast.Call, CallSite]]:
    """Hyperparameter searches constructed on the real data path, with their sites."""
    found = [(call, site_at(unit, call, "search")) for unit, call, _, _ in iter_calls(source)
             if is_call_to(source, unit, call, HYPERPARAMETER_SEARCHES)]  # fmt: skip
    kept = {site_key(site) for site in on_path(source, [site for _, site in found])}
    return [(call, site) for call, site in found if site_key(site) in kept]


def _accuracy_selection_flag(source: SubmissionSource, minority: float | None) -> RedFlag | None:
    """``imbalance.accuracy_selection`` when every hyperparameter search picks by accuracy.

    A search without ``scoring=`` ranks a classifier's candidates by accuracy, as does
    ``scoring="accuracy"``: on an imbalanced target it prefers the candidate that neglects the
    minority, whatever metrics are printed afterwards. Raised only when no search on the real
    path scores (or refits) on anything else, and none searches a regressor.
    """
    bindings = _bindings(source)
    by_accuracy: list[CallSite] = []
    for call, site in _search_calls(source):
        estimator = call.args[0] if call.args else next(
            (k.value for k in call.keywords if k.arg == "estimator"), None)
        if estimator is not None and _is_regressor(estimator, bindings):
            return None
        values = [v for k in call.keywords if k.arg in ("scoring", "refit")
                  for v in _scoring_strings(k.value, bindings)]  # fmt: skip
        if any(v not in ACCURACY_SCORING for v in values):
            return None
        scored = next((k.value for k in call.keywords if k.arg == "scoring"), None)
        if scored is not None and not values:
            return None  # a scorer object or function: not read statically
        by_accuracy.append(site)
    if not by_accuracy:
        return None
    share = f" (minority class {minority:.1%})" if minority is not None else ""
    return RedFlag(
        id="imbalance.accuracy_selection",
        severity="medium",
        sentence=f"Every hyperparameter search picks its model by accuracy{share} (scoring= "
        "'accuracy' or left at the default): on an imbalanced target that prefers the model "
        "that neglects the minority class, whatever metrics are reported afterwards.",
        evidence=[evidence_for(site, note="chooses by accuracy") for site in by_accuracy[:3]],
    )


def _pipeline_samplers(source: SubmissionSource) -> list[CallSite]:
    """Sampler constructions when an imblearn pipeline is imported (resampling per fold)."""
    imports = [module for module, _ in find_imports(source)]
    if not any(module.startswith("imblearn.pipeline") for module in imports):
        return []
    return find_calls(source, SAMPLERS)


class _ResamplingFlows:
    """Resampling calls sorted by where their output goes."""

    def __init__(self) -> None:
        self.before_split: list[tuple[CallSite, CallSite]] = []  # (resample, split)
        self.before_cv: list[tuple[CallSite, CallSite]] = []  # (resample, CV or search fit)
        self.clean: list[CallSite] = []


def _resampling_flows(source: SubmissionSource) -> _ResamplingFlows:
    """Follow each resampling output through assignments: into a split, into CV, or neither."""
    flows = _ResamplingFlows()
    resamplers = RESAMPLE_CALLS + _hand_rolled_resamplers(source)
    for statements in flow_statements(source).values():
        tainted: dict[str, CallSite] = {}
        searches: set[str] = set()
        pending: dict[CallSite, str] = {}
        for unit, stmt in statements:
            value = assigned_value(stmt)
            if value is not None and is_call_to(source, unit, value, SEARCHES):
                searches |= plain_targets(stmt)
            resample = next((n for n in walk_header(stmt)
                             if is_call_to(source, unit, n, resamplers)
                             or _samples_by_class(n)), None)  # fmt: skip
            if resample is not None:
                site = site_at(unit, resample, "fit_resample")
                pending.setdefault(site, "clean")
                for name in assigned_names(stmt):
                    tainted[name] = site
                continue
            if value is not None:
                origin = next((tainted[n] for n in sorted(names_in(value)) if n in tainted), None)
                if origin is not None:
                    for name in assigned_names(stmt):
                        tainted[name] = origin
                else:  # rebound to data that was not resampled
                    for name in plain_targets(stmt):
                        tainted.pop(name, None)
            for node in walk_header(stmt):
                if not isinstance(node, ast.Call):
                    continue
                into = _consumer(source, unit, node, searches)
                if into is None:
                    continue
                args = node.args if into == "split" else node.args[:3]
                origins = {tainted[n] for arg in args for n in names_in(arg) if n in tainted}
                for origin in sorted(origins, key=lambda s: (s.path, s.cell or -1, s.line)):
                    target = flows.before_split if into == "split" else flows.before_cv
                    if pending.get(origin) == "clean" or into == "split":
                        target.append((origin, site_at(unit, node, into)))
                    pending[origin] = into
        flows.clean += [site for site, where in pending.items() if where == "clean"]
    flows.before_split = _unique_pairs(flows.before_split)
    split_origins = {pair[0] for pair in flows.before_split}
    flows.before_cv = [p for p in _unique_pairs(flows.before_cv) if p[0] not in split_origins]
    flows.clean = sort_sites(flows.clean)
    return flows


def _hand_rolled_resamplers(source: SubmissionSource) -> tuple[str, ...]:
    """Names of the submission's functions that resample by class by hand: they filter rows
    with a comparison, ``.sample()`` them and concatenate the parts."""
    names = []
    for unit, node in walk_all(source):
        if isinstance(node, ast.FunctionDef) and not is_test_file(unit.path):
            body = [n for stmt in node.body for n in ast.walk(stmt)]
            if any(_samples_by_class(n) for n in body) or (
                any(_is_row_sample(n) for n in body)
                and any(isinstance(n, ast.Call) and _callee_name(n) == "concat" for n in body)
                and any(_is_row_filter(n) for n in body)
            ):
                names.append(node.name)
    return tuple(sorted(set(names)))


def _samples_by_class(node: ast.AST) -> bool:
    """``pd.concat([df[df.y == 1], df[df.y == 0].sample(n=...)])``: class-wise resampling."""
    if not (isinstance(node, ast.Call) and _callee_name(node) == "concat" and node.args):
        return False
    parts = list(ast.walk(node.args[0]))
    return any(_is_row_sample(n) for n in parts) and any(_is_row_filter(n) for n in parts)


def _is_row_sample(node: ast.AST) -> bool:
    """``frame.sample(n=...)`` / ``frac=`` below 1 or with replacement (not a plain shuffle)."""
    if not (isinstance(node, ast.Call) and _callee_name(node) == "sample"):
        return False
    for keyword in node.keywords:
        value = keyword.value
        if keyword.arg in ("n", "replace") or (
            keyword.arg == "frac" and not (isinstance(value, ast.Constant) and value.value == 1)
        ):
            return True
    return False


def _is_row_filter(node: ast.AST) -> bool:
    return isinstance(node, ast.Subscript) and any(
        isinstance(n, ast.Compare) for n in ast.walk(node.slice)
    )


def _callee_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _consumer(
    source: SubmissionSource, unit: Any, node: ast.Call, searches: set[str]
) -> str | None:
    if is_call_to(source, unit, node, SPLIT_CALLS):
        return "split"
    if is_call_to(source, unit, node, CV_CALLS):
        return "cv"
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "fit":
        receiver = func.value
        if (isinstance(receiver, ast.Name) and receiver.id in searches) or is_call_to(
            source, unit, receiver, SEARCHES
        ):
            return "cv"
    return None


def _unique_pairs(pairs: list[tuple[CallSite, CallSite]]) -> list[tuple[CallSite, CallSite]]:
    seen: dict[CallSite, tuple[CallSite, CallSite]] = {}
    for pair in pairs:
        seen.setdefault(pair[0], pair)
    return sorted(seen.values(), key=lambda p: (p[0].path, p[0].cell or -1, p[0].line))


def _resampling_flags(flows: _ResamplingFlows) -> list[RedFlag]:
    flags = []
    if flows.before_split:
        flags.append(
            RedFlag(
                id="imbalance.resample_before_split",
                severity="medium",
                sentence="Resampled the data before splitting it: synthetic or duplicated rows "
                "reach the evaluation data, whose class balance is no longer the real one, so "
                "the reported scores are not trustworthy.",
                evidence=_pair_evidence(flows.before_split, "the resampled data is split here"),
            )
        )
    if flows.before_cv:
        flags.append(
            RedFlag(
                id="imbalance.cv_on_resampled",
                severity="medium",
                sentence="Cross-validated on data resampled beforehand: every validation fold "
                "holds synthetic or duplicated rows, so the validation scores are optimistic "
                "(resample inside an imblearn Pipeline instead).",
                evidence=_pair_evidence(flows.before_cv, "cross-validated on it here"),
            )
        )
    return flags


def _pair_evidence(pairs: list[tuple[CallSite, CallSite]], note: str) -> list[Evidence]:
    evidence = []
    for resample, consumer in pairs[:2]:
        evidence.append(evidence_for(resample, note="resampled here"))
        evidence.append(evidence_for(consumer, note=note))
    return evidence


def _threshold_sites(source: SubmissionSource) -> list[CallSite]:
    """Threshold tuners, and scores turned into predictions with a chosen threshold.

    A comparison counts when one side is a model score (``predict_proba`` output, directly or
    through a variable), the other is not the default 0.5 (nor a parameter left at 0.5 by
    every caller), and the comparison becomes predictions: it is cast (``astype``,
    ``np.where``, ``int``), scored by a metric, or returned. A threshold array returned by
    ``roc_curve``/``precision_recall_curve`` counts only through such a use; risk bands and
    counts (``(proba > 0.7).sum()``) do not.
    """
    sites = find_calls(source, THRESHOLD_CALLS)
    defaults = _default_thresholds(source)
    for statements in flow_statements(source).values():
        score_names: set[str] = set()
        for unit, stmt in statements:
            value = assigned_value(stmt)
            scores = value is not None and (_has_score_call(value) or names_in(value) & score_names)
            if scores and not isinstance(value, ast.Compare):
                score_names |= plain_targets(stmt)
            for node, compare in _prediction_compares(stmt):
                if _applies_threshold(compare, score_names, defaults):
                    sites.append(site_at(unit, node, "threshold"))
    return on_path(source, sort_sites(sites))


def _prediction_compares(stmt: ast.stmt) -> list[tuple[ast.AST, ast.Compare]]:
    """Comparisons in ``stmt`` whose result is used as predictions (cast, scored, returned)."""
    found = []
    if isinstance(stmt, ast.Return) and isinstance(stmt.value, ast.Compare):
        found.append((stmt, stmt.value))
    for node in walk_header(stmt):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called == "astype" and isinstance(func, ast.Attribute):
            operands = [func.value]
        elif called in ("where", "int") or called in CLASSIFICATION_CALLS:
            operands = list(node.args)
        else:
            continue
        found += [(node, op) for op in operands if isinstance(op, ast.Compare)]
    return found


def _applies_threshold(compare: ast.Compare, score_names: set[str], defaults: set[str]) -> bool:
    if len(compare.comparators) != 1 or not isinstance(compare.ops[0], ORDERING):
        return False
    left, right = compare.left, compare.comparators[0]
    for score, threshold in ((left, right), (right, left)):
        scored = _has_score_call(score) or bool(names_in(score) & score_names)
        if scored and _is_chosen(threshold) and not _left_at_default(threshold, defaults):
            return True
    return False


def _left_at_default(node: ast.AST, defaults: set[str]) -> bool:
    return isinstance(node, ast.Name) and node.id in defaults


def _default_thresholds(source: SubmissionSource) -> set[str]:
    """Parameters defaulting to 0.5 that no call ever sets to something else (by keyword)."""
    defaults: set[str] = set()
    changed: set[str] = set()
    for unit, node in walk_all(source):
        if is_test_file(unit.path):  # a test setting another threshold is not the pipeline's
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = args.posonlyargs + args.args
            pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
            for arg, default in pairs:
                if isinstance(default, ast.Constant) and default.value == 0.5:
                    defaults.add(arg.arg)
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value == 0.5
                ):
                    changed.add(keyword.arg)
    return defaults - changed


def _is_chosen(node: ast.AST) -> bool:
    """A threshold other than the default 0.5 (a number, or a variable holding a choice)."""
    if isinstance(node, ast.Constant):
        value = node.value
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and value not in (0.5, 0, 1)
    return isinstance(node, ast.Name | ast.Attribute | ast.Subscript)


def _has_score_call(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in SCORE_SOURCES
        for n in ast.walk(node)
    )


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


# --------------------------------------------------------------------------- no classes


def _grade_without_classes(
    grader: ImbalanceGrader,
    source: SubmissionSource,
    task_type: str,
    target: str | None,
    kind: str,
) -> GraderResult:
    """A target with no classes: judged on how fittingly its skew was examined and handled."""
    examined = _target_distribution_sites(source, target)
    noted = _skew_notes(source)
    handled = _skew_handling_sites(source, target)
    inverse = on_path(
        source, find_calls(source, INVERSE_TRANSFORMS + ("TransformedTargetRegressor",))
    )
    evaluated = on_path(source, find_calls(source, REGRESSION_METRICS)) + [
        s for s in on_path(source, find_keywords(source, ["scoring"]))
        if "neg_" in s.excerpt or "r2" in s.excerpt
    ]  # fmt: skip
    if kind == "none":
        level, why = 0, "no classifier or regressor was found, so nothing handles the target."
    elif (handled or evaluated) and not (examined or noted):
        level, why = 1, (
            "the errors are measured" + (" and the skew handled" if handled else "")
            + ", but the target's distribution is never examined, so nothing shows the "
            "choice fits it."
        )
    elif handled and evaluated:
        level = 4 if inverse else 3
        why = (
            "the target's skew is handled (transform, robust loss or binned stratification) "
            "and the model evaluated" + (" on the original scale." if level == 4 else ".")
        )
    elif noted and not handled:
        level, why = 1, "the target's skew is noted but left unhandled."
    elif (examined or handled) and evaluated:
        level = 2
        why = (
            "the target's distribution is examined and the errors measured; nothing more "
            "is needed for a target without classes unless it is skewed."
        )
    elif examined or evaluated or handled:
        level, why = 1, "the target's distribution is examined or the errors measured, not both."
    else:
        level, why = 0, "neither the target's distribution nor the model's errors are examined."
    checks = [
        site_check("imbalance.target_distribution", examined, weight=1,
                   found="Examined the target's distribution ({names}).",
                   missing="The target's distribution is not examined."),
        site_check("imbalance.skew_handling", handled, weight=2,
                   found="Handled the target's skew ({names}).",
                   missing="No target transform, robust loss or binned stratification."),
        site_check("imbalance.error_metrics", evaluated, weight=1,
                   found="Measured the model's errors ({names}).",
                   missing="No regression error metric (MAE, RMSE, R²)."),
    ]  # fmt: skip
    if noted:
        checks[0].evidence.extend(noted[:1])
    details: dict[str, Any] = {"mode": "no_classes" if kind == "none" else "regression",
                               "level": level, "skew_noted": bool(noted)}  # fmt: skip
    if task_type == "regression":
        details["task_type"] = task_type
    label = f"task_type {task_type!r}" if task_type else "inferred from the code"
    synthetic = _synthetic_flag(source)
    return GraderResult(
        grader=grader.name,
        version=grader.version,
        score=level / 4,
        checks=checks,
        red_flags=[synthetic] if synthetic is not None else [],
        details=details,
        reason=f"Not a classification task ({label}); level {level}: {why}",
    )


def _target_like(node: ast.AST, target: str | None) -> bool:
    """An expression naming the target: ``y``-like variables, ``target``, or its column."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and re.match(r"^(y|y_\w+|\w*target\w*|label\w*)$", sub.id):
            return True
        if isinstance(sub, ast.Constant) and target and sub.value == target:
            return True
    return False


def _is_target(node: ast.AST, target: str | None) -> bool:
    """The target itself (``y_train``, ``df["price"]``), not a computation on it."""
    has_call = any(isinstance(n, ast.Call) for n in ast.walk(node))
    return not has_call and _target_like(node, target)


def _target_distribution_sites(source: SubmissionSource, target: str | None) -> list[CallSite]:
    sites = []
    for unit, node in walk_all(source):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called not in DISTRIBUTION_PLOTS + ("describe", "value_counts"):
            continue
        parts = list(node.args) + [k.value for k in node.keywords]
        if isinstance(func, ast.Attribute):
            parts.append(func.value)
        if called == "skew" or any(_target_like(p, target) for p in parts):
            sites.append(site_at(unit, node, called))
    return on_path(source, sort_sites(sites))


def _skew_notes(source: SubmissionSource) -> list[Evidence]:
    notes = [markdown_evidence(u) for u in source.markdown_units
             if u.cell is not None and SKEW_WORDS.search(u.text)]  # fmt: skip
    for unit in source.code_units:
        for line, text in comment_lines(unit):
            if SKEW_WORDS.search(text):
                notes.append(Evidence(path=unit.path, cell=unit.cell, line=line, excerpt=text))
    return notes


SCALE_AWARE_METRICS = ("mean_absolute_percentage_error", "mean_squared_log_error",
                       "root_mean_squared_log_error")  # fmt: skip
SCALE_AWARE_NAMES = re.compile(r"(^|_)(rmspe|mape|smape|wape|rmsle|msle|mspe)($|_)", re.IGNORECASE)


def _skew_handling_sites(source: SubmissionSource, target: str | None) -> list[CallSite]:
    """Target transforms, robust losses, binned stratification, and scale-aware error metrics
    (percentage or log errors: MAPE, RMSPE, RMSLE, from scikit-learn or the submission's own
    function) that judge a skewed target relative to its size."""
    sites = find_calls(source, ("TransformedTargetRegressor",) + ROBUST_REGRESSORS
                       + SCALE_AWARE_METRICS)  # fmt: skip
    defined = {node.name for unit, node in walk_all(source)
               if isinstance(node, ast.FunctionDef) and SCALE_AWARE_NAMES.search(node.name)}
    sites += find_calls(source, sorted(defined)) if defined else []
    sites += [s for s in find_keywords(source, ["scoring"])
              if re.search(r"percentage|_log_error", s.excerpt)]  # fmt: skip
    for unit, node in walk_all(source):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in TARGET_TRANSFORMS and node.args and _is_target(node.args[0], target):
                sites.append(site_at(unit, node, called))
            for keyword in node.keywords:
                value = keyword.value
                if (
                    keyword.arg in ("loss", "objective", "criterion")
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and ROBUST_LOSS.match(value.value)
                ):
                    sites.append(site_at(unit, node, f"{keyword.arg}={value.value}"))
                if keyword.arg == "stratify" and any(
                    isinstance(n, ast.Call)
                    and getattr(n.func, "attr", getattr(n.func, "id", ""))
                    in ("qcut", "cut", "digitize")
                    for n in ast.walk(value)
                ):
                    sites.append(site_at(unit, node, "stratify"))
    return on_path(source, sort_sites(sites))
