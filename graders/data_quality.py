"""Data quality: missing values and categories handled, and no leakage into the evaluation.

Checks (only those the data calls for: no missing-value check when train.csv has no missing
feature values, no encoding check when every feature is numeric): missing values handled,
categorical features encoded, preprocessing inside a Pipeline/ColumnTransformer. Red flags,
found by a flow-sensitive reading of each notebook or file (best effort, precise rather than
noisy): preprocessing fitted on all data before the split, the target or id column among the
features, and the test split used to choose or fit models.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from graders.artifacts import read_train_csv
from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag
from graders.data_path import off_path
from graders.source import (
    CallSite,
    CodeUnit,
    SubmissionSource,
    assigned_names,
    assigned_value,
    comment_lines,
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
    version = "2"

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge data preparation (never raises for candidate faults)."""
        source = source_for(context)
        spec = getattr(context.assignment, "spec", None)
        target = getattr(spec, "target", None)
        id_column = getattr(spec, "id_column", None)
        profile = _profile_train(context.assignment, target, id_column)
        checks: list[Check] = []
        if profile.has_missing is not False:
            checks.append(_missing_check(source))
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
            )
            if flag is not None
        ]
        details: dict[str, Any] = {
            "train_has_missing_values": profile.has_missing,
            "categorical_columns": profile.categorical,
        }
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
    for statements in flow_statements(source).values():
        # A column name the code never writes is unknown or wrong for this submission (an
        # assignment's name on someone else's data): judging "all columns but X" on it would
        # only guess.
        mentioned = _string_constants(statements)
        on_assignment_data = target in mentioned or id_column in mentioned
        t_sites, i_sites = _features_in_flow(
            source,
            statements,
            target if target in mentioned else None,
            id_column if on_assignment_data else None,
        )
        found_target += t_sites
        found_id += i_sites
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
) -> tuple[list[CallSite], list[CallSite]]:
    frames = _Frames()
    split_outputs: set[str] = set()
    with_target: list[CallSite] = []
    with_id: list[CallSite] = []
    for unit, stmt in statements:
        _track_removals(source, unit, stmt, frames)
        for call in (n for n in walk_header(stmt) if isinstance(n, ast.Call)):
            features = _features_arg(source, unit, call, split_outputs)
            if features is None:
                continue
            columns = _columns_of(features, frames, depth=3)
            if columns is None:
                continue
            kind, names = columns
            site = site_at(unit, call, "features")
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
    return with_target, with_id


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
    for unit, node in walk_all(source):
        is_fit = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if is_fit and node.func.attr == "fit" and _y_is_test(node):
            sites.append(site_at(unit, node, "fit"))
        is_loop = isinstance(node, (ast.For, ast.AsyncFor))
        if is_loop and unit.path in selecting and _loop_scores_on_test(node):
            sites.append(site_at(unit, node, "for"))
    if not sites:
        return None
    return RedFlag(
        id="data_quality.test_set_model_selection",
        severity="medium",
        sentence="The test split is used to fit or choose models (several models fitted and "
        "scored on it, then the best picked): its score is no longer an unbiased estimate.",
        evidence=[evidence_for(site) for site in sort_sites(sites)[:3]],
    )


def _y_is_test(call: ast.Call) -> bool:
    y_args = call.args[1:2] + [k.value for k in call.keywords if k.arg == "y"]
    return any(TEST_NAME.search(name) for arg in y_args for name in names_in(arg))


def _loop_scores_on_test(loop: ast.For | ast.AsyncFor) -> bool:
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
            if any(TEST_NAME.search(n) for a in args for n in names_in(a)):
                scores = True
    return fits and scores


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
