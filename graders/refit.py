"""Preprocessing fitted again on the test data: ``data_quality.refit_on_test``.

A scaler, imputer or encoder learned on the training data must be *applied* to the test rows
(``transform``), not learned again on them (``fit``/``fit_transform``): refitted, the test rows
are scaled or encoded differently from the rows the model learned from (a category gets another
code, a column another mean), so the predictions are made on a different feature space. The
reviewers call it a works-ish script's fault (the rubric's code-quality level 1 names leakage
among those signs).

Found statically, precise rather than complete, in three forms:

- a transformer (built from a known class, or loaded from a file) fitted on data whose names
  say it is the test set: ``imputer.fit_transform(test)``, ``scaler.fit(X_test)``;
- the same through ``apply``: ``test[cols].apply(encoder.fit_transform)``;
- a function of the submission that fits a transformer on one of its parameters (directly or
  through another such function), called with test data: ``preprocess(df_test)``.

Names with ``train`` (or ``all``, ``full``, ``combined``) beside the test name are a fit on
both sets together, which :mod:`graders.data_quality` judges as leakage, not here.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator

from graders.base import RedFlag
from graders.data_path import off_path
from graders.source import (
    CallSite,
    CodeUnit,
    SubmissionSource,
    evidence_for,
    is_call_to,
    names_in,
    site_at,
    sort_sites,
    walk_all,
)

TRANSFORMER_CLASSES = (
    "StandardScaler", "MinMaxScaler", "RobustScaler", "MaxAbsScaler", "Normalizer",
    "QuantileTransformer", "PowerTransformer", "SimpleImputer", "IterativeImputer",
    "KNNImputer", "OneHotEncoder", "OrdinalEncoder", "TargetEncoder", "LabelEncoder",
    "LabelBinarizer", "KBinsDiscretizer", "PCA", "TruncatedSVD", "ColumnTransformer",
    "CountVectorizer", "TfidfVectorizer", "DictVectorizer",
)  # fmt: skip
LOADERS = ("joblib.load", "pickle.load", "pickle.loads", "dill.load", "cloudpickle.load")
FITS = ("fit", "fit_transform")
MAPPERS = ("apply", "transform", "agg")  # frame.apply(encoder.fit_transform)
TEST_NAME = re.compile(r"(^|_)(test|tst|holdout|unseen)($|_|\d)|test$|^test", re.IGNORECASE)
BOTH_NAME = re.compile(r"train|(^|_)(full|all|combined|concat)($|_|\d)", re.IGNORECASE)
HELPER_DEPTH = 3  # functions calling fitting functions, followed this deep
MAX_EVIDENCE = 3

Nodes = tuple[tuple[CodeUnit, ast.AST], ...]


def refit_on_test_flag(source: SubmissionSource) -> RedFlag | None:
    """``data_quality.refit_on_test`` (medium) when a preprocessing step is fitted on test data."""
    sites = [s for s in _refit_sites(source) if not off_path(source, s)]
    if not sites:
        return None
    return RedFlag(
        id="data_quality.refit_on_test",
        severity="medium",
        sentence="A preprocessing step is fitted again on the test data instead of reusing the "
        "one fitted on the training data: the test rows are scaled or encoded differently from "
        "the rows the model learned from.",
        evidence=[evidence_for(site, note="fitted on test data")
                  for site in sort_sites(sites)[:MAX_EVIDENCE]],
    )


def _refit_sites(source: SubmissionSource) -> list[CallSite]:
    nodes = walk_all(source)  # the shared, cached walk of every code unit
    fitted = _transformer_names(source, nodes)
    fitting = _fitting_functions(source, nodes, fitted)
    sites: list[CallSite] = []
    for unit, node in nodes:
        for call, data in _fits(source, unit, (node,), fitted):
            if _is_test_data(data):
                sites.append(site_at(unit, call, "fit on test data"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            for index in fitting.get(node.func.id, ()):
                if index < len(node.args) and _is_test_data(node.args[index]):
                    sites.append(site_at(unit, node, node.func.id))
    return sites


def _transformer_names(source: SubmissionSource, nodes: Nodes) -> set[str]:
    """Names bound to a transformer: built from a known class or loaded from a file."""
    names: set[str] = set()
    for unit, node in nodes:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and (
            _learns(source, unit, node.value) or is_call_to(source, unit, node.value, LOADERS)
        ):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _learns(source: SubmissionSource, unit: CodeUnit, call: ast.AST) -> bool:
    """A transformer class that learns from the data it is fitted on: an encoder given its
    categories (``categories=[...]``) encodes every set alike, however often it is refitted."""
    if not is_call_to(source, unit, call, TRANSFORMER_CLASSES):
        return False
    given = [k.value for k in call.keywords if k.arg == "categories"]  # type: ignore[attr-defined]
    return not any(not (isinstance(v, ast.Constant) and v.value == "auto") for v in given)


def _is_transformer(
    source: SubmissionSource, unit: CodeUnit, node: ast.AST, fitted: set[str]
) -> bool:
    return (isinstance(node, ast.Name) and node.id in fitted) or _learns(source, unit, node)


def _fits(
    source: SubmissionSource, unit: CodeUnit, nodes: Iterable[ast.AST], fitted: set[str]
) -> Iterator[tuple[ast.Call, ast.AST]]:
    """``(call, data)`` for each transformer fitted by one of ``nodes``."""
    for call in nodes:
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.args):
            continue
        method, first = call.func.attr, call.args[0]
        if method in FITS and _is_transformer(source, unit, call.func.value, fitted):
            yield call, first
        elif (
            method in MAPPERS
            and isinstance(first, ast.Attribute)
            and first.attr in FITS
            and _is_transformer(source, unit, first.value, fitted)
        ):
            yield call, call.func.value


def _fitting_functions(
    source: SubmissionSource, nodes: Nodes, fitted: set[str]
) -> dict[str, set[int]]:
    """Function name -> positions of the parameters it fits a transformer on."""
    functions = [(unit, node) for unit, node in nodes
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]  # fmt: skip
    fitting: dict[str, set[int]] = {}
    for _ in range(HELPER_DEPTH):
        for unit, function in functions:
            params = [a.arg for a in function.args.args]
            used: set[str] = set()
            for _call, data in _fits(source, unit, ast.walk(function), fitted):
                used |= names_in(data)
            for call in ast.walk(function):
                if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
                    continue
                if call.func.id == function.name:  # recursion adds nothing
                    continue
                for index in fitting.get(call.func.id, ()):
                    if index < len(call.args):
                        used |= names_in(call.args[index])
            positions = {i for i, param in enumerate(params) if param in used}
            if positions:
                fitting.setdefault(function.name, set()).update(positions)
    return fitting


def _is_test_data(node: ast.AST) -> bool:
    names = names_in(node)
    return any(TEST_NAME.search(n) for n in names) and not any(BOTH_NAME.search(n) for n in names)
