"""Data quality: missing values and categories handled, and no leakage into the evaluation.

Checks (only those the data calls for: no missing-value check when train.csv has no missing
feature values, no encoding check when every feature is numeric): missing values handled,
categorical features encoded, preprocessing inside a Pipeline/ColumnTransformer. Red flags,
found by a flow-sensitive reading of each notebook or file (best effort, precise rather than
noisy): preprocessing fitted on all data before the split, the target or id column among the
features, the test split used to choose or fit models, and preprocessing fitted again on the
test data (:mod:`graders.refit`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from graders.artifacts import read_train_csv
from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag
from graders.data_path import off_path
from graders.refit import refit_on_test_flag
from graders.source import (
    CallSite,
    CodeUnit,
    SubmissionSource,
    assigned_names,
    assigned_value,
    comment_lines,
    dotted_name,
    evidence_for,
    find_calls,
    find_imports,
    find_names,
    flow_statements,
    is_call_to,
    markdown_evidence,
    names_in,
    plain_targets,
    root_name,
    site_at,
    site_check,
    site_key,
    sort_sites,
    source_for,
    walk_all,
    walk_header,
)

IMPUTERS = ("SimpleImputer", "IterativeImputer", "KNNImputer", "MissingIndicator")
SIMPLE_MISSING = ("fillna", "dropna", "interpolate", "ffill", "bfill")
NATIVE_NAN_MODELS = (
    "HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "LGBMClassifier",
    "LGBMRegressor", "XGBClassifier", "XGBRegressor", "CatBoostClassifier", "CatBoostRegressor",
    "lgb.train", "lightgbm.train", "xgb.train", "xgboost.train",
)  # fmt: skip
ENCODERS = (
    "OneHotEncoder", "OrdinalEncoder", "TargetEncoder", "LabelEncoder", "get_dummies",
    "DictVectorizer", "CountVectorizer", "TfidfVectorizer",
)  # fmt: skip
CATEGORY_KEYWORDS = (
    "cat_features", "categorical_feature", "categorical_features", "enable_categorical",
)  # fmt: skip
PIPELINES = ("Pipeline", "make_pipeline", "ColumnTransformer", "make_column_transformer")
TRANSFORMERS = (
    "StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "Normalizer",
    "QuantileTransformer", "PowerTransformer", "SimpleImputer", "IterativeImputer",
    "KNNImputer", "OneHotEncoder", "OrdinalEncoder", "TargetEncoder", "PCA", "TruncatedSVD",
    "SelectKBest", "SelectPercentile", "KBinsDiscretizer", "ColumnTransformer",
    "make_column_transformer", "CatBoostEncoder", "LeaveOneOutEncoder", "WOEEncoder",
    "JamesSteinEncoder", "MEstimateEncoder", "RFE", "RFECV", "SelectFromModel",
)  # fmt: skip
SPLITS = ("train_test_split", "cross_val_score", "cross_validate", "cross_val_predict")
READERS = ("read_csv", "read_parquet", "read_excel", "read_feather", "read_json")
SCORERS = (
    "score", "accuracy_score", "f1_score", "roc_auc_score", "average_precision_score",
    "recall_score", "precision_score", "balanced_accuracy_score", "mean_squared_error",
    "mean_absolute_error", "r2_score", "root_mean_squared_error", "log_loss",
)  # fmt: skip
SELECTORS = ("max", "min", "idxmax", "idxmin", "argmax", "argmin", "sort_values", "sorted")
REASONING = re.compile(
    r"\b(missing|nan|nans|null|nulls|imput\w*|na values|empty values)\b", re.IGNORECASE
)
TEST_NAME = re.compile(r"(^|_)(test|te|holdout)($|_)", re.IGNORECASE)
TARGET_ENCODERS = ("TargetEncoder", "CatBoostEncoder", "LeaveOneOutEncoder", "WOEEncoder",
                   "JamesSteinEncoder", "MEstimateEncoder")  # fmt: skip
SUPERVISED_SELECTORS = ("SelectKBest", "SelectPercentile", "RFE", "RFECV", "SelectFromModel",
                        "SequentialFeatureSelector", "LinearDiscriminantAnalysis")  # fmt: skip


class DataQualityGrader:
    """Judges missing-value handling, encoding, pipelines and leakage."""

    name = "data_quality"
    version = "4"

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge data preparation (never raises for candidate faults)."""
        source = source_for(context)
        spec = getattr(context.assignment, "spec", None)
        target = getattr(spec, "target", None)
        id_column = getattr(spec, "id_column", None)
        profile = _profile_train(context.assignment, target, id_column)
        checks: list[Check] = []
        not_judged: list[str] = []
        if profile.has_missing:
            checks.append(_missing_check(source))
        elif profile.has_missing is None:  # the data was not seen: judge only what the code does
            handled = _missing_handled_unknown_data(source)
            if handled is not None:
                checks.append(handled)
            else:
                not_judged.append(MISSING_NOT_JUDGED)
        if profile.categorical is None or profile.categorical:
            checks.append(_encoding_check(source))
        checks.append(
            site_check(
                "data_quality.pipeline",
                find_calls(source, PIPELINES),
                weight=1,
                found="Kept preprocessing inside a Pipeline/ColumnTransformer ({names}), so it "
                "is fitted on training data only.",
                missing="No Pipeline or ColumnTransformer: preprocessing is applied by hand.",
            )
        )
        red_flags = [
            flag
            for flag in (
                _preprocessing_leakage(source),
                _target_or_id_flag(source, target, id_column),
                _test_selection_flag(source),
                refit_on_test_flag(source),
            )
            if flag is not None
        ]
        details: dict[str, Any] = {
            "train_has_missing_values": profile.has_missing,
            "categorical_columns": profile.categorical,
        }
        if not_judged:
            details["not_judged"] = not_judged
        return GraderResult.from_checks(
            self.name,
            self.version,
            checks,
            red_flags,
            details,
            reason=f"{sum(c.passed for c in checks)} of {len(checks)} data-quality checks passed; "
            f"{len(red_flags)} red flag(s).",
        )


# --------------------------------------------------------------------------- data profile


@dataclass(frozen=True)
class TrainProfile:
    """What train.csv needs: missing feature values? which feature columns are categorical?"""

    has_missing: bool | None = None  # None: train.csv unreadable
    categorical: list[str] | None = None


def _profile_train(assignment: Any, target: str | None, id_column: str | None) -> TrainProfile:
    frame = read_train_csv(assignment)
    if frame is None:
        return TrainProfile()
    import pandas as pd  # slow: imported only when there is data to profile

    features = [c for c in frame.columns if c not in (target, id_column)]
    if not features:
        return TrainProfile(has_missing=False, categorical=[])
    sample = frame[features].head(5000)
    has_missing = bool(frame[features].isna().to_numpy().any())
    categorical = []
    for column in features:
        values = sample[column].dropna()
        numeric = pd.to_numeric(values, errors="coerce")
        if len(values) and numeric.isna().any():
            categorical.append(column)
    return TrainProfile(has_missing=has_missing, categorical=sorted(categorical))


# --------------------------------------------------------------------------- checks


def _reasoning(source: SubmissionSource) -> list[Evidence]:
    """Markdown or comments that talk about missing values."""
    found = [markdown_evidence(unit) for unit in source.markdown_units
             if unit.path.lower() != "requirements.txt" and REASONING.search(unit.text)]  # fmt: skip
    for unit in source.code_units:
        for line, text in comment_lines(unit):
            if REASONING.search(text):
                found.append(Evidence(path=unit.path, cell=unit.cell, line=line, excerpt=text))
    return found


MISSING_NOT_JUDGED = (
    "Missing values: not judged. The data could not be read, so nothing shows whether it has "
    "missing values, and the code handles none."
)


def _missing_handled_unknown_data(source: SubmissionSource) -> Check | None:
    """On data we could not read: a pass when the code handles missing values, else None
    (not judged: the data may have none, and we must not say it has)."""
    sites = find_calls(source, IMPUTERS + SIMPLE_MISSING)
    if not sites:
        return None
    return site_check(
        "data_quality.missing_values", sites, weight=2,
        found="Handled missing values ({names}); the data itself could not be read, so "
        "whether it has any is unknown.", missing="",
    )  # fmt: skip


def _missing_check(source: SubmissionSource) -> Check:
    imputers = find_calls(source, IMPUTERS)
    simple = find_calls(source, SIMPLE_MISSING)
    native = find_calls(source, NATIVE_NAN_MODELS)
    reasoning = _reasoning(source)
    check_id = "data_quality.missing_values"
    if imputers:
        return site_check(
            check_id, imputers + simple, weight=2,
            found="Imputed missing values ({names}).", missing="",
        )  # fmt: skip
    if simple and reasoning:
        evidence = [evidence_for(site) for site in simple[:2]] + reasoning[:1]
        return Check(id=check_id, passed=True, weight=2, evidence=evidence,
                     sentence="Handled missing values with pandas and explained the choice.")  # fmt: skip
    if native and reasoning:
        evidence = [evidence_for(site) for site in native[:1]] + reasoning[:1]
        return Check(id=check_id, passed=True, weight=2, evidence=evidence,
                     sentence="Relied on a model that handles missing values natively, and "
                     "said so.")  # fmt: skip
    if simple or native:
        sites = simple or native
        return Check(
            id=check_id, passed=False, weight=2,
            evidence=[evidence_for(site) for site in sites[:2]],
            sentence="train.csv has missing values; they are dropped/filled or left to the "
            "model without any explanation of the choice.",
        )  # fmt: skip
    return Check(id=check_id, passed=False, weight=2,
                 sentence="train.csv has missing values and nothing handles them "
                 "(imputer, fillna/dropna, or a model that handles NaN, explained).")  # fmt: skip


def _encoding_check(source: SubmissionSource) -> Check:
    sites = find_calls(source, ENCODERS) + find_names(source, CATEGORY_KEYWORDS)
    sites += [s for s in find_calls(source, ["astype"]) if "category" in s.excerpt]
    sites += [s for m, s in find_imports(source) if m.split(".")[0] == "category_encoders"]
    return site_check(
        "data_quality.categorical_encoding", sites, weight=1,
        found="Encoded categorical features ({names}).",
        missing="Categorical features are not encoded (OneHotEncoder, OrdinalEncoder, "
        "TargetEncoder, get_dummies, category dtype).",
    )  # fmt: skip


# --------------------------------------------------------------------------- leakage


@dataclass(frozen=True)
class _Leak:
    """One preprocessing fit that sees evaluation rows: where it was fitted, where the data
    was split afterwards (None for a fit on test rows after the split), and how bad it is."""

    fit: CallSite
    split: CallSite | None
    severity: str  # high: target-derived; medium: test rows or labels; low: feature statistics


LEAK_SENTENCES = {
    "high": "A feature derived from the target (target encoding) was fitted on all the data "
    "before the split: the evaluation rows' labels leak into the features.",
    "medium": "A preprocessing step was fitted on test or validation rows (or a supervised "
    "selector on all rows' labels): the evaluation data informs training.",
    "low": "Feature-only preprocessing (a scaler, imputer, encoder or PCA) was fitted on all "
    "rows before the split, outside a Pipeline: a small optimistic bias from the evaluation "
    "rows' feature statistics, no labels leak.",
}


def _preprocessing_leakage(source: SubmissionSource) -> RedFlag | None:
    """Preprocessing fitted on rows used for evaluation, graded by what leaks."""
    leaks: list[_Leak] = []
    for statements in flow_statements(source).values():
        leaks += _leaks_in_flow(source, statements)
    leaks = [leak for leak in leaks if not off_path(source, leak.fit)]
    if not leaks:
        return None
    rank = {"high": 0, "medium": 1, "low": 2}
    worst = min((leak.severity for leak in leaks), key=rank.__getitem__)
    first_per_fit: dict[tuple[str, int, int], _Leak] = {}
    for leak in leaks:
        if leak.severity == worst:
            first_per_fit.setdefault(site_key(leak.fit), leak)
    chosen = [first_per_fit[key] for key in sorted(first_per_fit)][:2]
    evidence = []
    for leak in chosen:
        evidence.append(evidence_for(leak.fit, note="fitted here"))
        if leak.split is not None:
            evidence.append(evidence_for(leak.split, note="the data is split afterwards here"))
    return RedFlag(
        id="data_quality.preprocessing_leakage",
        severity=worst,  # type: ignore[arg-type]
        sentence=LEAK_SENTENCES[worst],
        evidence=evidence,
    )


def _leak_severity(
    source: SubmissionSource,
    unit: CodeUnit,
    receiver: ast.AST,
    definitions: dict[str, ast.AST],
    call: ast.Call,
) -> str | None:
    """high for a target encoder, medium for a supervised selector fitted with labels, low for
    feature-only statistics; None for a transformer that learns nothing (fixed categories)."""
    built = definitions.get(receiver.id) if isinstance(receiver, ast.Name) else receiver
    if not isinstance(built, ast.Call):
        return "low"
    if any(k.arg == "categories" and not (isinstance(k.value, ast.Constant)
                                          and k.value.value == "auto")
           for k in built.keywords):  # fmt: skip
        return None
    with_labels = len(call.args) >= 2 or any(k.arg == "y" for k in call.keywords)
    if is_call_to(source, unit, built, TARGET_ENCODERS):
        return "high"
    if with_labels and is_call_to(source, unit, built, SUPERVISED_SELECTORS):
        return "medium"
    return "low"


def _leaks_in_flow(
    source: SubmissionSource, statements: list[tuple[CodeUnit, ast.stmt]]
) -> list[_Leak]:
    transformers: dict[str, ast.AST] = {}  # variable -> the constructor it was built from
    fitted: dict[str, tuple[CallSite, str]] = {}  # transformer var -> its .fit() on full data
    tainted: dict[str, list[tuple[CallSite, str]]] = {}  # variable -> fits whose output it holds
    split_derived: set[str] = set()
    test_rows: set[str] = set()
    leaks: list[_Leak] = []
    for unit, stmt in statements:
        value = assigned_value(stmt)
        targets = assigned_names(stmt)
        calls = [n for n in walk_header(stmt) if isinstance(n, ast.Call)]
        split = next((c for c in calls if is_call_to(source, unit, c, SPLITS)), None)
        if split is not None:
            split_site = site_at(unit, split, "split")
            for arg in split.args:
                for name in names_in(arg):
                    leaks += [_Leak(fit, split_site, sev) for fit, sev in tainted.get(name, [])]
            if is_call_to(source, unit, split, ["train_test_split"]):
                split_derived |= targets
                test_rows |= {t for t in plain_targets(stmt) if TEST_NAME.search(t)}
                if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Tuple):
                    test_rows |= {e.id for e in stmt.targets[0].elts[1::2]
                                  if isinstance(e, ast.Name)}  # fmt: skip
            continue
        if value is not None and is_call_to(source, unit, value, TRANSFORMERS):
            for name in targets:
                transformers[name] = value
        new_sites: list[tuple[CallSite, str]] = []
        for call in calls:
            method = call.func.attr if isinstance(call.func, ast.Attribute) else None
            if method not in ("fit", "fit_transform", "transform"):
                continue
            receiver = call.func.value  # type: ignore[union-attr]
            data = names_in(call.args[0]) if call.args else set()
            is_transformer = (isinstance(receiver, ast.Name) and receiver.id in transformers) or (
                is_call_to(source, unit, receiver, TRANSFORMERS)
            )
            if not is_transformer:
                continue
            severity = _leak_severity(source, unit, receiver, transformers, call)
            if severity is None:
                continue
            site = site_at(unit, call, method)
            if (
                method in ("fit", "fit_transform")
                and data & test_rows
                and not data & (split_derived - test_rows)
            ):
                leaks.append(_Leak(site, None, "medium"))  # fitted on the test rows themselves
            elif method in ("fit", "fit_transform") and not (data & split_derived):
                if method == "fit" and isinstance(receiver, ast.Name):
                    fitted[receiver.id] = (site, severity)
                else:
                    new_sites.append((site, severity))
            elif method == "transform" and isinstance(receiver, ast.Name) and receiver.id in fitted:
                new_sites.append(fitted[receiver.id])
        if value is not None:
            inherited = [s for n in names_in(value) for s in tainted.get(n, [])]
            if inherited or new_sites:
                for name in targets:
                    tainted[name] = inherited + new_sites
            else:  # a plain variable rebound to clean data is clean again
                for name in plain_targets(stmt):
                    tainted.pop(name, None)
            if names_in(value) & split_derived:
                split_derived |= targets
    return leaks


def _target_or_id_flag(
    source: SubmissionSource, target: str | None, id_column: str | None
) -> RedFlag | None:
    found_target: list[CallSite] = []
    found_id: list[CallSite] = []
    found_label: list[tuple[CallSite, str, list[str]]] = []
    for statements in flow_statements(source).values():
        # A column name the code never writes is unknown or wrong for this submission (an
        # assignment's name on someone else's data): judging "all columns but X" on it would
        # only guess.
        mentioned = _string_constants(statements)
        on_assignment_data = target in mentioned or id_column in mentioned
        t_sites, i_sites, l_sites = _features_in_flow(
            source,
            statements,
            target if target in mentioned else None,
            id_column if on_assignment_data else None,
        )
        found_target += t_sites
        found_id += i_sites
        found_label += l_sites
    if found_label and not found_target:  # a high flag outranks an id among the features
        return _label_flag(found_label)
    if not found_target and not found_id:
        return None
    which = []
    if found_target:
        which.append(f"the target {target!r}")
    if found_id:
        which.append(f"the id column {id_column!r}")
    return RedFlag(
        id="data_quality.target_or_id_in_features",
        severity="high" if found_target else "medium",
        sentence=f"The feature matrix includes {' and '.join(which)}: "
        + ("the model sees the answer." if found_target else "row ids are not features."),
        evidence=[evidence_for(s) for s in sort_sites(found_target + found_id)[:3]],
    )


def _label_flag(found: list[tuple[CallSite, str, list[str]]]) -> RedFlag | None:
    """Target leakage through a label built by thresholding a column that is a feature."""
    if not found:
        return None
    _site, label, columns = found[0]
    named = ", ".join(repr(c) for c in columns[:3])
    return RedFlag(
        id="data_quality.target_or_id_in_features",
        severity="high",
        sentence=f"The label {label!r} is built by comparing a column with a threshold, and "
        f"that column or one derived from it ({named}) is among the features: the model can "
        "read the label off it.",
        evidence=[evidence_for(f[0], note="features used here") for f in found[:2]],
    )


@dataclass
class _Labels:
    """Columns built in code: where each comes from, and which are thresholded labels."""

    sources: dict[str, set[str]] = field(default_factory=dict)  # column -> source columns
    thresholded: dict[str, set[str]] = field(default_factory=dict)  # label -> source columns
    as_target: set[str] = field(default_factory=set)  # columns used as the target (y)

    def read(self, stmt: ast.stmt) -> None:
        """Learn from ``df["c"] = expr`` (derivations, thresholds) and ``y = df["c"]``."""
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            return
        target, value = stmt.targets[0], stmt.value
        column = _column_key(target)
        if column is not None:
            used = _columns_read(value) - {column}
            origin = set(used)
            for name in used:
                origin |= self.sources.get(name, set())
            if origin:
                self.sources[column] = origin
            if origin and _is_threshold(value):
                self.thresholded[column] = origin
        elif isinstance(target, ast.Name) and Y_NAME.match(target.id):
            label = _column_key(value)
            if label is not None:
                self.as_target.add(label)

    def leaks(self, kind: str, names: set[str], target: str | None) -> tuple[str, list[str]] | None:
        """``(label, feature columns it was built from)`` when the features hold them."""
        for label, origin in sorted(self.thresholded.items()):
            if label != target and label not in self.as_target:
                continue
            related = origin | {c for c, src in self.sources.items() if src & origin}
            related.discard(label)
            bad = related - names if kind == "all" else related & names
            if bad:
                return label, sorted(bad)
        return None


Y_NAME = re.compile(r"^(y|y_\w+|\w*target\w*|label\w*)$", re.IGNORECASE)
THRESHOLD_OPS = (ast.Gt, ast.GtE, ast.Lt, ast.LtE)


def _column_key(node: ast.AST) -> str | None:
    """``"c"`` of ``df["c"]`` (a frame's column named by a string)."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):  # fmt: skip
        return node.slice.value
    return None


def _columns_read(node: ast.AST) -> set[str]:
    return {key for sub in ast.walk(node) if (key := _column_key(sub)) is not None}


def _is_threshold(value: ast.AST) -> bool:
    """``a < b``, possibly cast (``.astype(int)``, ``np.where(cmp, 1, 0)``, ``int(...)``)."""
    while isinstance(value, ast.Call):
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr == "astype":
            value = func.value
        elif (dotted_name(func) or "").rsplit(".", 1)[-1] in ("where", "int") and value.args:
            value = value.args[0]
        else:
            return False
    return isinstance(value, ast.Compare) and isinstance(value.ops[0], THRESHOLD_OPS)


def _string_constants(statements: list[tuple[CodeUnit, ast.stmt]]) -> set[str]:
    """Every string literal in a flow's statements (headers and simple statements)."""
    found: set[str] = set()
    for _unit, stmt in statements:
        for node in walk_header(stmt):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


@dataclass
class _Frames:
    """What is known, at one point of a flow, about frames read from files."""

    raw: set[str] = field(default_factory=set)
    removed: dict[str, set[str]] = field(default_factory=dict)
    constants: dict[str, list[str]] = field(default_factory=dict)
    definitions: dict[str, ast.AST] = field(default_factory=dict)

    def strings(self, node: ast.AST) -> set[str]:
        """String literals in ``node``, with names of string/list constants resolved."""
        found = {
            n.value
            for n in ast.walk(node)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
        }
        for name in names_in(node):
            found.update(self.constants.get(name, []))
        return found


def _features_in_flow(
    source: SubmissionSource,
    statements: list[tuple[CodeUnit, ast.stmt]],
    target: str | None,
    id_column: str | None,
) -> tuple[list[CallSite], list[CallSite], list[tuple[CallSite, str, list[str]]]]:
    """Feature sites holding the target, the id column, or a thresholded label's source."""
    frames = _Frames()
    split_outputs: set[str] = set()
    with_target: list[CallSite] = []
    with_id: list[CallSite] = []
    labels = _Labels()
    with_label: list[tuple[CallSite, str, list[str]]] = []
    for unit, stmt in statements:
        _track_removals(source, unit, stmt, frames)
        labels.read(stmt)
        for call in (n for n in walk_header(stmt) if isinstance(n, ast.Call)):
            features = _features_arg(source, unit, call, split_outputs)
            if features is None:
                continue
            columns = _columns_of(features, frames, depth=3)
            if columns is None:
                continue
            kind, names = columns
            site = site_at(unit, call, "features")
            leak = labels.leaks(kind, names, target)
            if leak is not None:
                with_label.append((site, *leak))
            if target and ((kind == "all" and target not in names) or
                           (kind == "only" and target in names)):  # fmt: skip
                with_target.append(site)
            id_kept = id_column not in names and "*index*" not in names
            if id_column and ((kind == "all" and id_kept) or
                              (kind == "only" and id_column in names)):  # fmt: skip
                with_id.append(site)
        value = assigned_value(stmt)
        targets = assigned_names(stmt)
        if value is None:
            continue
        if is_call_to(source, unit, value, ["train_test_split"]):
            split_outputs |= targets
        for name in targets:
            frames.definitions[name] = value
        for name in plain_targets(stmt) & frames.raw:
            if not _keeps_columns(value, name):
                frames.raw.discard(name)
                frames.removed.pop(name, None)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            name = stmt.targets[0].id if isinstance(stmt.targets[0], ast.Name) else None
            if name and isinstance(value, (ast.Constant, ast.List, ast.Tuple)):
                strings = frames.strings(value)
                if strings:
                    frames.constants[name] = sorted(strings)
            if name and is_call_to(source, unit, value, READERS):
                frames.raw.add(name)
                removed = frames.removed.setdefault(name, set())
                for keyword in value.keywords:  # type: ignore[attr-defined]
                    if keyword.arg == "index_col":
                        removed.add("*index*")
                        removed.update(frames.strings(keyword.value))
    return with_target, with_id, with_label


KEEP_COLUMNS = (
    "dropna", "fillna", "copy", "drop_duplicates", "reset_index", "query", "sample",
    "sort_values", "astype", "replace", "assign", "drop", "set_index", "interpolate", "ffill",
    "bfill", "head", "tail", "merge", "join", "infer_objects", "convert_dtypes",
)  # fmt: skip


def _keeps_columns(value: ast.AST, name: str) -> bool:
    """Whether ``name = value`` keeps every column of the frame ``name`` (row filters,
    cleaning, ``get_dummies``/``concat``/``merge`` of it); drops are tracked separately."""
    if isinstance(value, ast.Call):
        func = value.func
        if isinstance(func, ast.Attribute) and func.attr in KEEP_COLUMNS:
            return root_name(func.value) == name
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called in ("get_dummies", "concat", "merge"):
            return name in names_in(value)
        return False
    if isinstance(value, ast.Subscript) and root_name(value.value) == name:
        row_filter = not isinstance(value.slice, (ast.List, ast.Tuple, ast.Constant, ast.Name))
        return row_filter and isinstance(value.value, ast.Name)
    return False


def _track_removals(
    source: SubmissionSource, unit: CodeUnit, stmt: ast.stmt, frames: _Frames
) -> None:
    """Columns dropped in place: ``df.drop(..., inplace=True)``, ``del df[c]``, ``df.pop(c)``,
    ``df = df.drop(...)``, ``df = df.set_index(c)``."""
    if isinstance(stmt, ast.Delete):
        for target in stmt.targets:
            if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                frames.removed.setdefault(target.value.id, set()).update(
                    frames.strings(target.slice)
                )
        return
    value = assigned_value(stmt)
    for node in walk_header(stmt):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        receiver = node.func.value
        if not isinstance(receiver, ast.Name) or receiver.id not in frames.raw:
            continue
        method = node.func.attr
        inplace = any(k.arg == "inplace" for k in node.keywords)
        reassigned = value is node and receiver.id in assigned_names(stmt)
        if method == "pop" or (method in ("drop", "set_index") and (inplace or reassigned)):
            removed = frames.removed.setdefault(receiver.id, set())
            removed.update(frames.strings(node))
            if method == "set_index":
                removed.add("*index*")


def _features_arg(
    source: SubmissionSource, unit: CodeUnit, call: ast.Call, split_outputs: set[str]
) -> ast.AST | None:
    """The feature-matrix argument of a split, a CV call or a model fit; None otherwise."""
    if is_call_to(source, unit, call, ["train_test_split"]):
        return call.args[0] if call.args else None
    if is_call_to(source, unit, call, ["cross_val_score", "cross_validate", "cross_val_predict"]):
        return call.args[1] if len(call.args) >= 2 else None
    if isinstance(call.func, ast.Attribute) and call.func.attr == "fit":
        has_y = len(call.args) >= 2 or any(k.arg == "y" for k in call.keywords)
        if has_y and call.args and not (names_in(call.args[0]) & split_outputs):
            return call.args[0]
    return None


def _columns_of(node: ast.AST, frames: _Frames, depth: int) -> tuple[str, set[str]] | None:
    """``("all", removed columns)`` or ``("only", kept columns)`` of a feature expression."""
    if depth <= 0:
        return None
    if isinstance(node, ast.Attribute) and node.attr == "values":
        return _columns_of(node.value, frames, depth)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method, receiver = node.func.attr, node.func.value
        if method in ("to_numpy", "copy", "astype", "fillna"):
            return _columns_of(receiver, frames, depth)
        if method in ("fit_transform", "transform") and node.args:
            return _columns_of(node.args[0], frames, depth)
        if method == "drop" and isinstance(receiver, ast.Name) and receiver.id in frames.raw:
            removed = frames.removed.get(receiver.id, set()) | frames.strings(node)
            return ("all", removed)
        return None
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        if node.value.id in frames.raw and isinstance(node.slice, (ast.List, ast.Name)):
            if isinstance(node.slice, ast.Name) and node.slice.id not in frames.constants:
                return None
            return ("only", frames.strings(node.slice))
        return None
    if isinstance(node, ast.Name):
        if node.id in frames.raw:
            return ("all", set(frames.removed.get(node.id, set())))
        definition = frames.definitions.get(node.id)
        if definition is not None:
            return _columns_of(definition, frames, depth - 1)
    return None


# --------------------------------------------------------------------------- test selection


def _test_selection_flag(source: SubmissionSource) -> RedFlag | None:
    sites: list[CallSite] = []
    selecting = _selecting_paths(source)
    folds = _fold_names(source)
    for unit, node in walk_all(source):
        fold_names = folds.get(id(node), set())
        is_fit = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if is_fit and node.func.attr == "fit" and _y_is_test(node, fold_names):
            sites.append(site_at(unit, node, "fit"))
        is_loop = isinstance(node, (ast.For, ast.AsyncFor))
        if is_loop and unit.path in selecting and _loop_scores_on_test(node, folds):
            sites.append(site_at(unit, node, "for"))
    sites += _models_compared_on_test(source, _choosing_paths(source), folds)
    if not sites:
        return None
    return RedFlag(
        id="data_quality.test_set_model_selection",
        severity="medium",
        sentence="The test split is used to fit or choose models (several models fitted and "
        "scored on it, then the best picked): its score is no longer an unbiased estimate.",
        evidence=[evidence_for(site) for site in sort_sites(sites)[:3]],
    )


def _fold_names(source: SubmissionSource) -> dict[int, set[str]]:
    """For each node inside a loop over a CV splitter's folds (``for tr, te in kf.split(X)``),
    the names that hold fold rows there: the loop's targets and what the body derives from
    them (``X_test = X.iloc[te]``). Such a "test" is a validation fold, not the test set."""
    found: dict[int, set[str]] = {}
    for _unit, node in walk_all(source):
        if not (isinstance(node, ast.For | ast.AsyncFor) and _iterates_folds(node.iter)):
            continue
        names = names_in(node.target)
        for stmt in (n for s in node.body for n in ast.walk(s) if isinstance(n, ast.stmt)):
            value = assigned_value(stmt)
            if value is not None and names_in(value) & names:
                names |= assigned_names(stmt)
        for inner in (n for s in node.body for n in ast.walk(s)):
            found.setdefault(id(inner), set()).update(names)
        found.setdefault(id(node), set()).update(names)
    return found


def _iterates_folds(iterated: ast.AST) -> bool:
    """``kf.split(X, y)``, possibly inside ``enumerate``/``list``/``tqdm``/``zip``."""
    while (isinstance(iterated, ast.Call) and isinstance(iterated.func, ast.Name)
           and iterated.func.id in ("enumerate", "list", "tqdm", "zip") and iterated.args):  # fmt: skip
        iterated = iterated.args[0]
    return (
        isinstance(iterated, ast.Call)
        and isinstance(iterated.func, ast.Attribute)
        and iterated.func.attr == "split"
        and bool(iterated.args)
        and not isinstance(iterated.args[0], ast.Constant)
    )


def _test_names(node: ast.AST, fold_names: set[str]) -> set[str]:
    return {n for n in names_in(node) if TEST_NAME.search(n) and n not in fold_names}


def _y_is_test(call: ast.Call, fold_names: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
    y_args = call.args[1:2] + [k.value for k in call.keywords if k.arg == "y"]
    return any(_test_names(arg, fold_names) for arg in y_args)


def _loop_scores_on_test(
    loop: ast.For | ast.AsyncFor, folds: dict[int, set[str]] | None = None
) -> bool:
    folds = folds or {}
    fits = scores = False
    for node in (n for stmt in loop.body for n in ast.walk(stmt)):
        if not isinstance(node, ast.Call):
            continue
        callee = (
            node.func.attr
            if isinstance(node.func, ast.Attribute)
            else getattr(node.func, "id", None)
        )
        if callee == "fit":
            fits = True
        elif callee in SCORERS:
            args = list(node.args) + [k.value for k in node.keywords]
            if any(_test_names(a, folds.get(id(node), set())) for a in args):
                scores = True
    return fits and scores


def _models_compared_on_test(
    source: SubmissionSource, selecting: set[str], folds: dict[int, set[str]]
) -> list[CallSite]:
    """Two or more different models each scored on the test split, one statement apiece
    (separate notebook cells, say), in a file or notebook that then picks a best one."""
    found: list[CallSite] = []
    for path, statements in flow_statements(source).items():
        if path not in selecting:
            continue
        predictions: dict[str, str] = {}  # variable -> the model whose predictions it holds
        scored: dict[str, CallSite] = {}  # model -> where it is scored on the test split
        for unit, stmt in statements:
            if isinstance(stmt, ast.For | ast.AsyncFor | ast.While):
                continue  # loops are judged by _loop_scores_on_test
            value = assigned_value(stmt)
            model = _predicting_model(value) if value is not None else None
            if model is not None:
                for name in plain_targets(stmt):
                    predictions[name] = model
            for node in walk_header(stmt):
                if not isinstance(node, ast.Call) or id(node) in folds:
                    continue
                scorer = _scored_model(node, predictions)
                if scorer is not None and scorer not in scored:
                    scored[scorer] = site_at(unit, node, "score")
        if len(scored) >= 2:
            found += list(scored.values())
    return found


def _predicting_model(value: ast.AST) -> str | None:
    """``rf`` of ``rf.predict(X_test)`` / ``rf.predict_proba(X_test)[:, 1]`` on test rows."""
    for node in ast.walk(value):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("predict", "predict_proba", "decision_function")
                and isinstance(node.func.value, ast.Name)
                and any(_test_names(a, set()) for a in node.args)):  # fmt: skip
            return node.func.value.id
    return None


def _scored_model(call: ast.Call, predictions: dict[str, str]) -> str | None:
    """The model a scorer call judges on the test split, when it can be named."""
    callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    if callee not in SCORERS:
        return None
    args = list(call.args) + [k.value for k in call.keywords]
    if not any(_test_names(a, set()) for a in args):
        return None
    if callee == "score" and isinstance(call.func, ast.Attribute):
        receiver = call.func.value
        return receiver.id if isinstance(receiver, ast.Name) else None
    for arg in args:
        model = _predicting_model(arg)
        if model is not None:
            return model
        if isinstance(arg, ast.Name) and arg.id in predictions:
            return predictions[arg.id]
    return None


CHOICE_NAME = re.compile(r"(^|_)(best|chosen|selected|winner)(_|$)", re.IGNORECASE)


def _choosing_paths(source: SubmissionSource) -> set[str]:
    """Paths that name a chosen model (``best_model = ...``, ``selected = ...``) or rank
    scores (``idxmax``, ``argmax``, ``sort_values``): stricter than :func:`_selecting_paths`,
    for models compared statement by statement rather than in a loop."""
    paths: set[str] = set()
    for unit, node in walk_all(source):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            if CHOICE_NAME.search(node.id):
                paths.add(unit.path)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("idxmax", "idxmin", "argmax", "argmin", "sort_values")):
            paths.add(unit.path)
    return paths


def _selecting_paths(source: SubmissionSource) -> set[str]:
    """Paths whose code picks a best model (max/argmax/sort/a ``best*`` variable)."""
    paths: set[str] = set()
    for unit, node in walk_all(source):
        if unit.path in paths:
            continue
        if isinstance(node, ast.Call):
            name = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", None)
            )
            if name in SELECTORS:
                paths.add(unit.path)
        stored = isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
        if stored and "best" in node.id.lower():
            paths.add(unit.path)
    return paths
