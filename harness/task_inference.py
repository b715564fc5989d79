"""Infer a submission's task context (target, task type, class balance) from the submission.

``takehome screen`` grades submissions that belong to no bundled assignment (a candidate's
public repository, say). The graders still need to know the label column, whether the task is
classification or regression and how imbalanced the classes are; this module reads them from
the submission itself, statically (nothing is executed, every read is capped):

* the **target** from the code (``y = df["c"]``, ``X, y = df.drop("c", axis=1), df["c"]``,
  ``train_test_split(X, df["c"])``, ``stratify=df["c"]``, ``target = "c"`` then ``df[target]``,
  ``X = df.drop(columns=["c"])``), from a config file (``target: c``) or from a sentence of the
  README or a markdown cell (``the target variable is `c` ``);
* the **task type** from the estimators, metrics and objectives the code uses, and binary vs
  multiclass from the data (number of distinct labels) or from the code (``[:, 1]`` on
  ``predict_proba``, ``average="macro"``, ``multi_class=``);
* the **class shares** from a small data file the submission ships that has the target column
  (``train_csv`` then points at it), else a share the text states (``1.6% fraud``) as
  ``stated_minority_share``;
* the **id column** when the data has an obviously named, unique column.

Whatever cannot be inferred stays None. :class:`InferredTask` has the shape graders read from a
bundled :class:`harness.assignment.Assignment` (``spec.target``, ``spec.task_type``, ``train_csv``
...), plus the evidence of every inference for the report.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import stat
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from graders.artifacts import read_csv_capped, read_text_capped
from graders.base import clip
from graders.source import (
    CodeUnit,
    SubmissionSource,
    dotted_name,
    excerpt_of,
    import_aliases,
    load_source,
    salvage_tree,
    walk_all,
)
from harness.assignment import Limits, SubmissionContract

INFERENCE_VERSION = "2"
SCREEN_SLUG = "screen"
SCREEN_TITLE = "Screening (no assignment)"
NO_HELDOUT_REASON = "no held-out set: screening"

MAX_DATA_BYTES = 5_000_000  # data files larger than this are not read for class shares
MAX_DATA_ROWS = 200_000
MAX_DATA_FILES = 40  # data files considered per submission
MAX_CONFIG_BYTES = 200_000
MAX_CLASSES = 20  # more distinct labels than this: not a classification target
DATA_SUFFIXES = (".csv",)
CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml", ".cfg", ".ini")
SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv", "__MACOSX",
                          "build", "dist", "mlruns"})

# Names a label vector is usually bound to.
_Y_NAME = re.compile(r"^(y|Y)(_?(train|trn|all|full|data|raw|true|tr|dev))?$|"
                     r"^((all|train|true)_)?(targets?|labels?)(_(train|all))?$")
# Names a feature matrix is usually bound to.
_X_NAME = re.compile(r"^(X|x)(_?(train|trn|all|full|data|raw|tr|dev))?$|^features?$")
# Names a target column name is usually bound to (``TARGET = "churn"``).
_TARGET_CONST = re.compile(r"^(?:(target|label|y)(_?(col|column|name|var|variable|feature))?|"
                           r"(response|outcome|dependent)_?(col|column|name|var|variable)|"
                           r"output_(col|column|variable))$", re.IGNORECASE)
# A test module: its fixtures use made-up column names, not the submission's target.
_TEST_PATH = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.py$|conftest\.py$)")
# DataFrame attributes and methods: ``df.values`` is not a column called "values".
_FRAME_ATTRIBUTES = frozenset({
    "values", "shape", "columns", "index", "dtypes", "dtype", "T", "iloc", "loc", "at", "iat",
    "size", "ndim", "empty", "str", "dt", "cat", "name", "array", "plot", "copy", "to_numpy",
    "astype", "ravel", "reshape", "flatten", "tolist", "map", "apply", "nan", "data",
})
_NOT_FRAMES = frozenset({"self", "cls", "np", "pd", "numpy", "pandas", "args", "config", "cfg",
                         "os", "sys", "math", "torch", "tf", "sklearn", "settings", "params"})
# Objects that are fitted estimators or transformers, not frames: ``indexer_model.labels``.
_ESTIMATOR_NAME = re.compile(r"model|clf|classifier|regressor|estimator|encoder|indexer|scaler|"
                             r"pipe|search|kmeans|^km$|^le$|^lb$|tokenizer|vectori[sz]er",
                             re.IGNORECASE)
_ID_NAME = re.compile(r"(^id$|^.*_id$|^.*Id$|^.*ID$|^id_)")

_CONFIG_TARGET = re.compile(
    r"""^\s*["']?(?:target|target_col(?:umn)?|target_name|target_variable|label_col(?:umn)?|
    label|y_col(?:umn)?|response|outcome|response_col(?:umn)?)["']?\s*[:=]\s*["']?([A-Za-z_][\w.\- ]{0,60}?)["']?\s*,?\s*(?:\#.*)?$""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
_TEXT_TARGET = re.compile(
    r"""(?:target|label|dependent)\s+(?:variable|column|feature|label)?\s*(?:\([^)]{0,40}\)\s*)?
    (?:is|:|=|will\s+be|named|called)\s*[`'"*]+([A-Za-z_][\w\-]{0,60})[`'"*]+""",
    re.IGNORECASE | re.VERBOSE,
)
_SHARE = re.compile(r"(?<![\d.\-])(\d{1,2}(?:\.\d+)?)\s?%(?!\s*(?:-|to)\s*\d)")
# A sentence about the class balance: imbalance vocabulary or a base rate of an event.
_BALANCE_WORDS = re.compile(
    r"imbalanc|unbalanc|skew|minority|majority|rare class|class distribution|class balance|"
    r"positive class|base rate|under-?represent|"
    r"\bonly\s+(?:about\s+|around\s+|~)?\d[\d.]*\s?%\s+of\b|"
    r"(?<!false )(?<!true )\b(?:fraud|churn|default|positive|event|response|conversion|"
    r"attrition|delinquency)\s+rate",
    re.IGNORECASE,
)
# Sentences quoting a percentage that is not a class share (a score, missing values, a split).
_NOT_A_SHARE = re.compile(
    r"accura|precision|recall|\bf1\b|auc|score|missing|null|\bnan\b|chance|(?<![\w-])sampl|split|"
    r"test set|validation|increase|decrease|improv|drift|top[- ]\w+|variance|confiden|"
    r"correlat|threshold|\bloss\b|error",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<!\d)[.!?](?!\d)|\n\s*\n|\n\s*(?:[-*#|>]|\d{1,2}[.)]\s)")
# One row of a pandas value_counts() output: a label, two or more spaces, a number.
_COUNT_ROW = re.compile(r"^\s*(\S(?:.*?\S)?)\s{2,}(\d+(?:\.\d+)?)(?:\s+\d+(?:\.\d+)?)*\s*$")

CLASSIFIER_WORDS = ("Classifier", "LogisticRegression", "SVC", "NaiveBayes", "GaussianNB",
                    "BernoulliNB", "MultinomialNB", "LinearDiscriminantAnalysis",
                    "RidgeClassifier", "Perceptron", "IsolationForest")
REGRESSOR_WORDS = ("Regressor", "LinearRegression", "Ridge", "Lasso", "ElasticNet", "SVR",
                   "BayesianRidge", "HuberRegressor", "PoissonRegressor", "TweedieRegressor")
CLASSIFICATION_METRICS = frozenset({
    "roc_auc_score", "f1_score", "accuracy_score", "precision_score", "recall_score",
    "confusion_matrix", "classification_report", "average_precision_score", "roc_curve",
    "precision_recall_curve", "balanced_accuracy_score", "matthews_corrcoef", "log_loss",
    "fbeta_score", "ConfusionMatrixDisplay", "RocCurveDisplay", "PrecisionRecallDisplay",
    "cohen_kappa_score", "brier_score_loss",
})
REGRESSION_METRICS = frozenset({
    "mean_squared_error", "mean_absolute_error", "r2_score", "root_mean_squared_error",
    "mean_absolute_percentage_error", "median_absolute_error", "explained_variance_score",
    "mean_squared_log_error",
})
_CLASSIFICATION_STRINGS = re.compile(r"^(binary:\w+|multi:\w+|binary|multiclass|"
                                     r"roc_auc|f1(_\w+)?|accuracy|average_precision|"
                                     r"precision|recall|balanced_accuracy|Logloss|AUC)$")
_MULTICLASS_STRINGS = re.compile(r"^(multi:\w+|multiclass|multi_logloss|MultiClass|"
                                 r"f1_macro|f1_weighted|f1_micro|ovr|ovo)$")
_REGRESSION_STRINGS = re.compile(r"^(reg:\w+|regression|rmse|mae|r2|neg_mean_squared_error|"
                                 r"neg_root_mean_squared_error|neg_mean_absolute_error|RMSE|"
                                 r"rmspe|RMSPE|mape|MAPE|rmsle|RMSLE)$")
# A metric function the submission defines itself (``def rmspe(y, p)``) and calls.
_REGRESSION_METRIC_NAME = re.compile(r"^(r?mse|rmspe|rmsle|s?mape|mae|wape|r2)(_\w+)?$",
                                     re.IGNORECASE)
# ``average=`` keywords are common in binary work: only a weak tie-breaker for multiclass.
AVERAGE_TIE_BREAK = 0.1


@dataclass(frozen=True)
class Inference:
    """One inferred fact and where it came from (``source``: code, data, config or text)."""

    field: str
    value: Any
    source: str
    path: str = ""
    cell: int | None = None
    line: int | None = None
    excerpt: str = ""


@dataclass(frozen=True)
class InferredSpec:
    """The part of an assignment spec graders read; unknown facts are None, never placeholders."""

    target: str | None = None
    task_type: str | None = None
    positive_class: Any = None
    classes: list[Any] | None = None
    id_column: str | None = None
    slug: str = SCREEN_SLUG
    title: str = SCREEN_TITLE
    metrics: tuple[str, ...] = ()
    primary_metric: str | None = None
    limits: Limits = field(default_factory=Limits)
    rubric: str = "ml-take-home"
    submission: SubmissionContract = field(default_factory=SubmissionContract)
    starter_code: tuple[str, ...] = ()
    time_budget_hours: float | None = None

    @property
    def is_classification(self) -> bool | None:
        """True/False when the task type is known, None otherwise."""
        return None if self.task_type is None else self.task_type != "regression"


@dataclass(frozen=True)
class InferredTask:
    """A task context inferred from one submission, shaped like an ``Assignment`` for graders.

    There is no held-out set and no assignment folder: ``hidden_labels_csv`` is None and
    ``root`` is the submission's snapshot.
    """

    spec: InferredSpec
    root: Path
    train_csv: Path | None = None
    class_shares: dict[str, float] | None = None
    stated_minority_share: float | None = None
    evidence: tuple[Inference, ...] = ()
    not_judged: tuple[str, ...] = ()
    other_tasks: tuple[dict[str, Any], ...] = ()  # further targets the code models too
    screening: bool = True
    no_heldout_reason: str = NO_HELDOUT_REASON
    hidden_labels_csv: None = None
    hidden_features_csv: None = None
    sample_test_features_csv: None = None

    def inferred_context(self) -> dict[str, Any]:
        """The inferred context as plain JSON data (for the result and the cache key)."""
        train = None
        if self.train_csv is not None:
            try:
                train = self.train_csv.relative_to(self.root).as_posix()
            except ValueError:
                train = self.train_csv.name
        return {
            "inferred": True,
            "target": self.spec.target,
            "task_type": self.spec.task_type,
            "positive_class": _jsonable(self.spec.positive_class),
            "classes": [_jsonable(c) for c in self.spec.classes] if self.spec.classes else None,
            "id_column": self.spec.id_column,
            "class_shares": self.class_shares,
            "stated_minority_share": self.stated_minority_share,
            "data_file": train,
            "evidence": [asdict(e) | {"value": _jsonable(e.value)} for e in self.evidence],
            "not_judged": list(self.not_judged),
        }

    def content_hash(self) -> str:
        """A hash of the inferred context: part of the results-store key."""
        payload = json.dumps({"version": INFERENCE_VERSION, **self.inferred_context()}, sort_keys=True,
                             default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def screening_task(root: Path) -> InferredTask:
    """The context when nothing is known (a rejected submission)."""
    return InferredTask(spec=InferredSpec(), root=root,
                        not_judged=("target", "task type", "class balance"))


# --------------------------------------------------------------------------- code walking


def _all_nodes(source: SubmissionSource) -> list[tuple[CodeUnit, ast.AST]]:
    """Every ``(unit, node)`` of the code (the graders' cached walk), plus what
    :func:`graders.source.salvage_tree` recovers of units that do not parse as a whole."""
    nodes = list(walk_all(source))
    for unit in source.code_units:
        if unit.tree is None and unit.parse_error and "SyntaxError" in unit.parse_error:
            tree = salvage_tree(unit.code)
            if tree is not None:
                nodes.extend((unit, node) for node in ast.walk(tree))
    return nodes


@dataclass
class _Votes:
    """Weighted votes for candidate values, each with its first evidence."""

    weights: Counter = field(default_factory=Counter)
    first: dict[Any, Inference] = field(default_factory=dict)  # value -> its strongest evidence
    _strongest: dict[Any, float] = field(default_factory=dict)

    scale: float = 1.0  # multiplies the weight of the next votes
    selected: set = field(default_factory=set)  # values selected as a label (``y = df[c]``)

    def add(self, value: Any, weight: float, evidence: Inference) -> None:
        weight *= self.scale
        self.weights[value] += weight
        if weight > self._strongest.get(value, 0.0):
            self._strongest[value] = weight
            self.first[value] = evidence

    def best(self) -> tuple[Any, Inference] | None:
        if not self.weights:
            return None
        order = list(self.first)  # first-seen order breaks ties deterministically
        value = max(order, key=lambda v: (self.weights[v], -order.index(v)))
        return value, self.first[value]


@functools.lru_cache(maxsize=64)
def _lines(code: str) -> tuple[str, ...]:
    return tuple(code.split("\n"))


def _code_evidence(field_name: str, value: Any, unit: CodeUnit, node: ast.AST) -> Inference:
    """Evidence at ``node`` of ``unit``: its path, cell, line and the stripped line."""
    line = getattr(node, "lineno", 1) or 1
    lines = _lines(unit.code)
    excerpt = clip(lines[line - 1].strip(), 300) if 0 < line <= len(lines) else ""
    return Inference(field_name, value, "code", unit.path, unit.cell, line, excerpt)


def _string_constants(nodes: list[tuple[CodeUnit, ast.AST]]
                      ) -> dict[str, dict[str, tuple[str, CodeUnit, ast.AST]]]:
    """Per file or notebook: ``NAME = "text"`` bindings (first one wins), with where they are."""
    found: dict[str, dict[str, tuple[str, CodeUnit, ast.AST]]] = {}
    for unit, node in nodes:
        if not isinstance(node, ast.Assign):
            continue
        value = _single_string(node.value)
        if value is None:
            continue
        table = found.setdefault(unit.path, {})
        for target in node.targets:
            if isinstance(target, ast.Name) and value != target.id:  # ``t = "t"``: a placeholder
                table.setdefault(target.id, (value, unit, node))
    return found


def _single_string(node: ast.AST | None) -> str | None:
    """The text of ``"c"`` or of a one-element literal list ``["c"]`` (a column list), else None."""
    if isinstance(node, ast.List | ast.Tuple) and len(node.elts) == 1:
        node = node.elts[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_test_module(path: str) -> bool:
    """A test file (``tests/...``, ``test_x.py``, ``x_test.py``, ``conftest.py``)."""
    return bool(_TEST_PATH.search(path))


def _key_of(node: ast.AST, constants: dict[str, str]) -> list[str]:
    """Column names selected by a subscript key: ``"c"``, ``["c"]``, ``TARGET``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants and _TARGET_CONST.match(node.id):
        return [constants[node.id]]
    if isinstance(node, ast.List | ast.Tuple):
        keys = [k for element in node.elts for k in _key_of(element, constants)]
        return keys if len(keys) == len(node.elts) else []
    return []


def _selected_columns(expr: ast.AST, constants: dict[str, str],
                      attributes: bool = True) -> list[str]:
    """Columns an expression selects: ``df["c"]``, ``df.c``, ``df.pop("c")``, ``df.loc[:, "c"]``.

    Selections inside a ``.drop(...)`` call are ignored (those are features being removed);
    ``df.c`` counts (``attributes``) when ``c`` is no DataFrame attribute, no name holder
    (``cfg.target_col``) and ``df`` no module, ``self`` or settings object.
    """
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "drop":
            visit(node.func.value)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "pop" and node.args:
                found.extend(_key_of(node.args[0], constants)[:1])
            # ``df.c.map(f)``: look into ``df.c``; the method name is no column
            for child in [node.func.value, *node.args, *(k.value for k in node.keywords)]:
                visit(child)
            return
        column = _attribute_column(node) if attributes else None
        if column is not None:
            found.append(column)
        if isinstance(node, ast.Subscript):
            key = node.slice
            if isinstance(key, ast.Tuple) and len(key.elts) == 2:  # .loc[:, "c"]
                key = key.elts[1]
            keys = _key_of(key, constants)
            if len(keys) == 1:
                found.append(keys[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(expr)
    return found


_PLOT_ROOTS = frozenset({"plt", "sns", "px", "go", "ax", "axes", "fig", "alt", "matplotlib",
                         "seaborn", "plotly", "bokeh", "hv"})


def _is_plot_call(name: str) -> bool:
    """``sns.barplot(y=...)``, ``go.Bar(y=...)``, ``df.plot(y=...)``: a plot's y, no label."""
    parts = name.split(".")
    return parts[0].lower() in _PLOT_ROOTS or "plot" in parts[-1].lower() \
        or parts[-1] in ("bar", "barh", "scatter", "line", "hist", "box", "violin", "area")


FIT_CALLS = frozenset({"train_test_split", "fit", "cross_val_score", "cross_validate"})


def _attribute_column(node: ast.AST) -> str | None:
    """``df.churn``: the column an attribute access on a frame's name selects, else None."""
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
        return None
    attr = node.attr
    if node.value.id.lower() in _NOT_FRAMES or _ESTIMATOR_NAME.search(node.value.id) \
            or attr in _FRAME_ATTRIBUTES \
            or attr.startswith("_") or _TARGET_CONST.match(attr) \
            or attr.endswith("_"):  # ``model.labels_``: a fitted attribute
        return None
    return attr


def _dropped_columns(expr: ast.AST, constants: dict[str, str]) -> list[str] | None:
    """Columns removed by ``df.drop("c", axis=1)`` / ``df.drop(columns=[...])``, else None."""
    for node in ast.walk(expr):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "drop"):
            continue
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if "columns" in keywords:
            return _key_of(keywords["columns"], constants) or None
        axis = keywords.get("axis")
        by_columns = (isinstance(axis, ast.Constant) and axis.value in (1, "columns")) or (
            len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in (1, "columns"))
        if by_columns and node.args:
            return _key_of(node.args[0], constants) or None
    return None


def _assign_pairs(stmt: ast.Assign) -> list[tuple[str, ast.AST]]:
    """``(name, value)`` pairs of an assignment, including ``X, y = a, b``."""
    pairs: list[tuple[str, ast.AST]] = []
    for target in stmt.targets:
        if isinstance(target, ast.Name):
            pairs.append((target.id, stmt.value))
        elif isinstance(target, ast.Tuple) and isinstance(stmt.value, ast.Tuple) \
                and len(target.elts) == len(stmt.value.elts):
            pairs.extend((t.id, v) for t, v in zip(target.elts, stmt.value.elts)
                         if isinstance(t, ast.Name))
    return pairs


def _is_variable_name(column: str) -> bool:
    """``data["y_train"]``: a dict of splits, not a column of the data."""
    return bool(re.match(r"^[xXyY]_?(train|test|val|valid|dev|tr|te|trn)\w*$", column))


def _target_votes(nodes: list[tuple[CodeUnit, ast.AST]]) -> _Votes:
    """Votes for the target column from the code's data path (test modules excluded)."""
    votes = _Votes()
    nodes = [(unit, node) for unit, node in nodes if not _is_test_module(unit.path)]
    target_params = _target_parameters(nodes)
    bindings = _string_constants(nodes)
    constants = {path: {name: value for name, (value, _u, _n) in table.items()}
                 for path, table in bindings.items()}
    for table in bindings.values():
        for name, (value, unit, node) in table.items():
            if _TARGET_CONST.match(name) and re.match(r"^[A-Za-z_][\w\- .]{0,60}$", value):
                votes.add(value, 2.0, _code_evidence("target", value, unit, node))
    for unit, node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            _default_votes(node, unit, votes)
        if not isinstance(node, ast.Assign | ast.Call):
            continue
        known = constants.get(unit.path, {})
        if isinstance(node, ast.Assign):
            _assign_votes(node, unit, known, votes)
        elif isinstance(node, ast.Call):
            _call_votes(node, unit, known, votes)
            _argument_votes(node, unit, target_params, votes)
    for column in [c for c in votes.first if _is_variable_name(c)]:
        del votes.weights[column], votes.first[column]
    return votes


def _default_votes(function: ast.FunctionDef | ast.AsyncFunctionDef, unit: CodeUnit,
                   votes: _Votes) -> None:
    """``def train(df, target_col="churn")`` / ``output_column=["rings"]``: a default target."""
    args = function.args
    positional = args.posonlyargs + args.args
    pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
    for arg, default in pairs:
        value = _single_string(default)
        if value and _TARGET_CONST.match(arg.arg) and arg.arg.lower() not in ("y", "label") \
                and value != arg.arg and re.match(r"^[A-Za-z_][\w\- .]{0,60}$", value):
            votes.add(value, 2.0, _code_evidence("target", value, unit, function))


def _assign_votes(node: ast.Assign, unit: CodeUnit, constants: dict[str, str],
                  votes: _Votes) -> None:
    """``y = df["c"]`` (strong) and ``X = df.drop(columns=["c"])`` (shared by what is dropped)."""
    for name, value in _assign_pairs(node):
        if _Y_NAME.match(name):
            columns = set(_selected_columns(value, constants))
            if len(columns) == 1:
                column = columns.pop()
                votes.add(column, 3.0, _code_evidence("target", column, unit, node))
                votes.selected.add(column)
        elif _X_NAME.match(name):
            dropped = _dropped_columns(value, constants)
            for column in dropped or []:
                votes.add(column, 1.5 / len(dropped),
                          _code_evidence("target", column, unit, node))


def _target_parameters(nodes: list[tuple[CodeUnit, ast.AST]]) -> dict[str, tuple[int, str]]:
    """Functions of the submission taking the target's name: name -> (position, parameter).

    ``def split_data(df, target)`` then ``split_data(df, "churn")`` names the target.
    """
    found: dict[str, tuple[int, str]] = {}
    for _unit, node in nodes:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params = [a.arg for a in node.args.posonlyargs + node.args.args]
            offset = 1 if params[:1] in (["self"], ["cls"]) else 0
            for index, name in enumerate(params):
                if _TARGET_CONST.match(name) and name.lower() not in ("y", "label"):
                    found.setdefault(node.name, (index - offset, name))
                    break
    return found


def _argument_votes(call: ast.Call, unit: CodeUnit, target_params: dict[str, tuple[int, str]],
                    votes: _Votes) -> None:
    """A target name passed as an argument: ``split_data(df, "churn")``, ``target_col="churn"``."""
    name = (dotted_name(call.func) or "").rsplit(".", 1)[-1]
    for keyword in call.keywords:
        if keyword.arg and _TARGET_CONST.match(keyword.arg) \
                and keyword.arg.lower() not in ("y", "label") \
                and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
            value = keyword.value.value
            votes.add(value, 2.0, _code_evidence("target", value, unit, call))
    if name in target_params:
        index, param = target_params[name]
        arg = call.args[index] if 0 <= index < len(call.args) else None
        if arg is None:
            arg = next((k.value for k in call.keywords if k.arg == param), None)
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            votes.add(arg.value, 2.0, _code_evidence("target", arg.value, unit, call))


def _call_votes(call: ast.Call, unit: CodeUnit, constants: dict[str, str], votes: _Votes) -> None:
    """``stratify=df["c"]``, ``train_test_split(X, df["c"])`` and ``.fit(X, df["c"])``."""
    name = dotted_name(call.func) or ""
    last = name.rsplit(".", 1)[-1]
    plotting = _is_plot_call(name)
    for keyword in call.keywords:
        if keyword.arg == "stratify" or keyword.arg == "y" and not plotting:
            # ``go.Bar(y=df.count)``: a plot's y; attribute selections only count in a fit
            fitting = keyword.arg == "stratify" or last in FIT_CALLS
            for column in set(_selected_columns(keyword.value, constants, attributes=fitting)):
                votes.add(column, 2.0, _code_evidence("target", column, unit, call))
                if fitting:
                    votes.selected.add(column)
    if last in FIT_CALLS and len(call.args) >= 2:
        for column in set(_selected_columns(call.args[1], constants)):
            votes.add(column, 2.0, _code_evidence("target", column, unit, call))
            votes.selected.add(column)


# --------------------------------------------------------------------------- task type


def _task_signals(source: SubmissionSource, nodes: list[tuple[CodeUnit, ast.AST]],
                  focus: Inference | None = None) -> tuple[_Votes, _Votes]:
    """Votes for classification vs regression, and for binary vs multiclass, from the code.

    Signals next to ``focus`` (where the target is selected) count more: four times in the same
    file or cell, 1.5 times elsewhere in the same notebook. A repository with two tasks usually
    fits the target's model right where it picks the target.
    """
    kind = _Votes()
    arity = _Votes()
    aliases = import_aliases(source)
    current: CodeUnit | None = None
    table: dict[str, str] = {}
    span = _focus_span(nodes, focus)
    for unit, node in nodes:
        if not isinstance(node, ast.Call | ast.Constant | ast.Subscript):
            continue
        if unit is not current:
            current, table = unit, aliases.get(unit.path, {})
            unit_scale = _closeness(unit, focus)
        kind.scale = arity.scale = unit_scale
        if span is not None and unit.path == focus.path and unit.cell == focus.cell:
            kind.scale = arity.scale = _line_closeness(getattr(node, "lineno", 0), span)
        if isinstance(node, ast.Call):
            name = dotted_name(node.func) or ""
            last = name.rsplit(".", 1)[-1]
            last = table.get(last, last).rsplit(".", 1)[-1]
            if last in CLASSIFICATION_METRICS or any(w in last for w in CLASSIFIER_WORDS):
                kind.add("classification", 1.0, _code_evidence("task_type", last, unit, node))
            elif last in REGRESSION_METRICS or _REGRESSION_METRIC_NAME.match(last) or (
                    any(w in last for w in REGRESSOR_WORDS) and "Classifier" not in last):
                kind.add("regression", 1.0, _code_evidence("task_type", last, unit, node))
            for keyword in node.keywords:
                _arity_keyword(keyword, unit, node, arity)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if _MULTICLASS_STRINGS.match(text):
                arity.add("multiclass", 1.0, _code_evidence("task_type", text, unit, node))
            if _CLASSIFICATION_STRINGS.match(text):
                kind.add("classification", 0.5, _code_evidence("task_type", text, unit, node))
            elif _REGRESSION_STRINGS.match(text):
                kind.add("regression", 0.5, _code_evidence("task_type", text, unit, node))
        elif isinstance(node, ast.Subscript) and _is_positive_column(node):
            arity.add("binary", 1.0, _code_evidence("task_type", "[:, 1]", unit, node))
    return kind, arity


def _focus_span(nodes: list[tuple[CodeUnit, ast.AST]], focus: Inference | None
                ) -> list[tuple[int, int]] | None:
    """Line ranges of a ``.py`` file that hold the model of the target picked at ``focus``.

    When the selection is inside a function (a ``main`` running two tasks one after the other),
    those are the lines right after it (where its model is fitted and scored) and the bodies of
    the file's functions called there (``train_categories(X, y)``). None at module level.
    """
    if focus is None or focus.source != "code" or focus.cell is not None or not focus.line:
        return None
    functions: dict[str, tuple[int, int]] = {}
    enclosing: tuple[int, int] | None = None
    calls: list[tuple[int, str]] = []
    for unit, node in nodes:
        if unit.path != focus.path or unit.cell is not None:
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            span = (node.lineno, getattr(node, "end_lineno", None) or node.lineno)
            functions.setdefault(node.name, span)
            if span[0] <= focus.line <= span[1] and (
                    enclosing is None or span[1] - span[0] < enclosing[1] - enclosing[0]):
                enclosing = span
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            calls.append((node.lineno, node.func.id))
    if enclosing is None:
        return None
    window = (max(enclosing[0], focus.line - FOCUS_LINES_BEFORE),
              min(enclosing[1], focus.line + FOCUS_LINES_AFTER))
    spans = [window]
    spans += sorted({functions[name] for line, name in calls
                     if window[0] <= line <= window[1] and name in functions
                     and functions[name] != enclosing})
    return spans


def _line_closeness(line: int, spans: list[tuple[int, int]]) -> float:
    """4 for a signal in the target's model lines; elsewhere in the file (another task's
    function, helpers) it counts as the rest of the repository does."""
    return 4.0 if any(start <= line <= end for start, end in spans) else 1.0


FOCUS_LINES_BEFORE, FOCUS_LINES_AFTER = 5, 25


def _closeness(unit: CodeUnit, focus: Inference | None) -> float:
    """How much a code unit's task signals count, by its distance to the target's selection."""
    if focus is None or focus.source != "code" or unit.path != focus.path:
        return 1.0
    return 4.0 if unit.cell == focus.cell else 1.5


def _arity_keyword(keyword: ast.keyword, unit: CodeUnit, call: ast.Call, arity: _Votes) -> None:
    value = keyword.value
    if not isinstance(value, ast.Constant):
        return
    if keyword.arg == "average" and value.value in ("macro", "weighted", "micro"):
        arity.add("average", AVERAGE_TIE_BREAK / arity.scale,
                  _code_evidence("task_type", f"average={value.value}", unit, call))
    elif keyword.arg == "average" and value.value == "binary" or keyword.arg == "pos_label":
        arity.add("binary", 1.0, _code_evidence("task_type", keyword.arg, unit, call))
    elif keyword.arg == "multi_class" and value.value in ("ovr", "ovo"):
        arity.add("multiclass", 1.0, _code_evidence("task_type", "multi_class", unit, call))
    elif keyword.arg == "num_class":
        arity.add("multiclass", 1.0, _code_evidence("task_type", "num_class", unit, call))


def _is_positive_column(node: ast.Subscript) -> bool:
    """``proba[:, 1]``: the positive class's probability column."""
    key = node.slice
    return (isinstance(key, ast.Tuple) and len(key.elts) == 2
            and isinstance(key.elts[0], ast.Slice)
            and isinstance(key.elts[1], ast.Constant) and key.elts[1].value == 1)


# --------------------------------------------------------------------------- files


def _walk_files(root: Path, suffixes: tuple[str, ...], max_bytes: int, limit: int) -> list[Path]:
    """Regular files under ``root`` with one of ``suffixes`` and at most ``max_bytes``, sorted."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                             and d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(suffixes):
                continue
            path = Path(dirpath) / name
            try:
                info = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and 0 < info.st_size <= max_bytes:
                found.append(path)
                if len(found) >= limit:
                    return sorted(found)
    return sorted(found)


def _csv_header(path: Path) -> list[str]:
    """The first line of a csv split on commas (cheap; no full read)."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(64_000)
    except OSError:
        return []
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff").strip()
    return [part.strip().strip('"').strip() for part in text.split(",")]


def _config_votes(root: Path, votes: _Votes) -> None:
    """``target: churn`` in a small config file."""
    for path in _walk_files(root, CONFIG_SUFFIXES, MAX_CONFIG_BYTES, 60):
        text = read_text_capped(path, MAX_CONFIG_BYTES) or ""
        for match in _CONFIG_TARGET.finditer(text):
            value = match.group(1).strip()
            line = text.count("\n", 0, match.start(1)) + 1
            rel = path.relative_to(root).as_posix()
            votes.add(value, 2.5, Inference("target", value, "config", rel, None, line,
                                            match.group(0).strip()[:200]))


def _text_votes(source: SubmissionSource, votes: _Votes) -> None:
    """``The target variable is `churn` `` in the README or a markdown cell."""
    for unit in source.markdown_units:
        for match in _TEXT_TARGET.finditer(unit.text[:200_000]):
            value = match.group(1)
            line = unit.text.count("\n", 0, match.start()) + 1
            votes.add(value, 1.0, Inference("target", value, "text", unit.path, unit.cell, line,
                                            match.group(0).strip()[:200]))


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` holding ``text[start:end]`` (decimal points do not end one)."""
    begin = 0
    for match in _SENTENCE_END.finditer(text, max(0, start - 400), start):
        begin = match.end()
    after = _SENTENCE_END.search(text, end, end + 400)
    return text[begin: after.start() if after else min(len(text), end + 400)]


def _target_words(target: str | None) -> re.Pattern | None:
    """The target's name as prose: ``isFraud`` -> fraud, ``defaulted`` -> default(s/ed)."""
    if not target:
        return None
    parts = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])", target.replace("-", "_"))
    stems = sorted({p.lower()[:6] for p in parts if len(p) >= 4})
    if not stems:
        return None
    return re.compile(r"%\s*(?:of\s+(?:the\s+)?\w+\s+)?(?:are\s+|were\s+|is\s+)?(?:"
                      + "|".join(re.escape(s) for s in stems) + r")", re.IGNORECASE)


def _stated_share(source: SubmissionSource, target: str | None = None) -> Inference | None:
    """A minority share a sentence about the class balance states ("0.17% fraud rate").

    READMEs and other documents first, then notebook markdown; the first share under 50% in a
    sentence with imbalance vocabulary, or followed by the target's name ("~14% defaults"),
    and no score, missing-value or sampling vocabulary.
    """
    named = _target_words(target)
    units = sorted(source.markdown_units, key=lambda u: (u.cell is not None, u.path, u.cell or 0))
    for unit in units:
        text = unit.text[:200_000]
        for match in _SHARE.finditer(text):
            share = float(match.group(1)) / 100
            if not 0 < share < 0.5:
                continue
            sentence = _sentence_around(text, match.start(), match.end())
            after = text[match.end() - 1: match.end() + 40]
            about_balance = _BALANCE_WORDS.search(sentence) or (named and named.match(after))
            if not about_balance or _NOT_A_SHARE.search(sentence):
                continue
            line = text.count("\n", 0, match.start()) + 1
            return Inference("stated_minority_share", round(share, 6), "text", unit.path,
                             unit.cell, line, " ".join(sentence.split())[:200])
    return None


def _parse_counts(text: str) -> dict[str, float] | None:
    """Shares from a printed ``value_counts()`` (counts or proportions), else None."""
    rows: dict[str, float] = {}
    for line in text.splitlines()[:MAX_CLASSES + 4]:
        if line.startswith(("Name:", "dtype:")) or not line.strip():
            continue
        match = _COUNT_ROW.match(line)
        if match is None:
            if rows:
                return None  # something else after the rows: not a plain value_counts
            continue  # a header line ("Class", "       Count  Percentage")
        label, value = match.group(1), float(match.group(2))
        if label in rows:
            return None
        rows[label] = value
    total = sum(rows.values())
    if not 2 <= len(rows) <= MAX_CLASSES or total <= 0:
        return None
    return {label: round(value / total, 6) for label, value in rows.items()}


def _output_shares(source: SubmissionSource, target: str) -> tuple[Inference, dict] | None:
    """Class shares a notebook printed with ``df[target].value_counts()`` (as submitted)."""
    cells = {(o.path, o.cell): o for o in reversed(source.output_units)
             if o.output_type in ("execute_result", "stream", "display_data") and o.text}
    quoted = re.compile(r"""(\[\s*["']|\.)""" + re.escape(target) + r"""(["']\s*\]|\b)""")
    for unit in source.code_units:
        if unit.cell is None or "value_counts" not in unit.code or not quoted.search(unit.code):
            continue
        output = cells.get((unit.path, unit.cell))
        shares = _parse_counts(output.text) if output is not None else None
        if shares is None:
            continue
        line = next((i + 1 for i, text in enumerate(unit.code.split("\n"))
                     if "value_counts" in text), 1)
        evidence = Inference("stated_minority_share", min(shares.values()), "output", unit.path,
                             unit.cell, line, excerpt_of(unit, line))
        return evidence, shares
    return None


def _label_shares(root: Path, target: str) -> tuple[Path, dict[str, float]] | None:
    """The first small data file with a ``target`` column, and the share of each label."""
    files = [p for p in _walk_files(root, DATA_SUFFIXES, MAX_DATA_BYTES, MAX_DATA_FILES)
             if target in _csv_header(p)]
    files.sort(key=lambda p: ("train" not in p.name.lower(), "test" in p.name.lower(),
                              p.relative_to(root).as_posix()))
    for path in files:
        frame = read_csv_capped(path, MAX_DATA_BYTES, MAX_DATA_ROWS, usecols=[target])
        if frame is None or target not in frame.columns:
            continue
        values = frame[target].dropna().map(lambda v: str(v).strip())
        values = values[values != ""]
        counts = values.value_counts()
        if len(counts) < 2:  # a file with one label (a test split, a filtered slice)
            continue
        return path, {str(k): round(float(v) / len(values), 6) for k, v in counts.items()}
    return None


def _numeric(values: list[str]) -> list[float] | None:
    try:
        return [float(v) for v in values]
    except ValueError:
        return None


def _data_kind(shares: dict[str, float]) -> str:
    """classification or regression, from the labels a data file holds."""
    numbers = _numeric(list(shares))
    if len(shares) > MAX_CLASSES:
        return "regression" if numbers is not None else "unknown"
    if numbers is not None and any(not n.is_integer() for n in numbers) and len(shares) > 5:
        return "regression"
    return "classification"


def _label_value(text: str) -> Any:
    """A label as the data holds it: an int when it is one, else the string."""
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else text


def _id_column(train: Path | None, target: str | None) -> str | None:
    """An obviously named id column of the data file (``id``, ``customer_id``...) if unique."""
    if train is None:
        return None
    for column in _csv_header(train):
        if column and column != target and _ID_NAME.match(column):
            frame = read_csv_capped(train, MAX_DATA_BYTES, MAX_DATA_ROWS, usecols=[column])
            if frame is not None and len(frame) and frame[column].is_unique:
                return column
    return None


# --------------------------------------------------------------------------- entry point


def infer_task(root: Path) -> InferredTask:
    """Infer the task context of the snapshot at ``root`` (deterministic, static, capped)."""
    root = Path(root)
    source = load_source(root)
    evidence: list[Inference] = []
    not_judged: list[str] = []

    nodes = _all_nodes(source)
    votes = _target_votes(nodes)
    _config_votes(root, votes)
    _text_votes(source, votes)
    target, train, shares = _choose_target(root, votes, evidence)
    if target is None:
        not_judged.append("target: no label column found in the code, a config file or the text")
    printed = _output_shares(source, target) if target and shares is None else None

    focus = votes.first.get(target) if target else None
    kind_votes, arity_votes = _task_signals(source, nodes, focus)
    task_type = _task_type(kind_votes, arity_votes, shares or (printed and printed[1]),
                           evidence, from_data=shares is not None)
    if task_type is None:
        not_judged.append("task type: neither estimators, metrics nor the data tell "
                          "classification from regression")
    classification = task_type in ("binary_classification", "multiclass_classification")

    positive_class = classes = class_shares = stated = None
    if shares is not None and classification:
        class_shares = dict(sorted(shares.items()))
        classes = sorted((_label_value(k) for k in shares), key=str)
        if task_type == "binary_classification":
            positive_class = _label_value(min(shares, key=lambda k: (shares[k], k)))
        evidence.append(Inference("class_shares", class_shares, "data",
                                  train.relative_to(root).as_posix() if train else ""))
    elif task_type != "regression":
        found = printed[0] if printed else _stated_share(source, target)
        if found is not None:
            stated = float(found.value)
            evidence.append(found)
        else:
            not_judged.append("class balance: no data file with the target, no printed "
                              "value_counts and no stated share")
    other_tasks = _other_tasks(source, nodes, votes, target)
    for other in other_tasks:
        kind = (other["task_type"] or "unknown task type").replace("_", " ")
        evidence.append(Inference("other_task", f"{other['target']} ({kind})", "code",
                                  other["path"], other["cell"], other["line"], other["excerpt"]))
        not_judged.append(f"second task: the code also models `{other['target']}` ({kind}); "
                          f"graded as the task of `{target}` (the most modelling evidence)")
    id_column = _id_column(train, target)
    if id_column:
        evidence.append(Inference("id_column", id_column, "data",
                                  train.relative_to(root).as_posix() if train else ""))
    spec = InferredSpec(target=target, task_type=task_type, positive_class=positive_class,
                        classes=classes, id_column=id_column)
    return InferredTask(spec=spec, root=root, train_csv=train, class_shares=class_shares,
                        stated_minority_share=stated, evidence=tuple(evidence),
                        not_judged=tuple(not_judged), other_tasks=other_tasks)


# A second target needs modelling evidence of its own: a label selection at least (3.0).
MIN_OTHER_TASK_WEIGHT = 3.0
MAX_OTHER_TASKS = 2


def _other_tasks(source: SubmissionSource, nodes: list[tuple[CodeUnit, ast.AST]],
                 votes: _Votes, target: str | None) -> tuple[dict[str, Any], ...]:
    """Other targets the code models about as much as the chosen one (a two-task submission).

    The chosen target is the one with the most modelling evidence; each other one with at least
    half its weight and a label selection in the code is reported with its own task type, so
    the report says the submission has a second task that was not the one graded.
    """
    if target is None:
        return ()
    floor = max(MIN_OTHER_TASK_WEIGHT, votes.weights[target] / 2)
    order = list(votes.first)
    others = [v for v in sorted(order, key=lambda v: (-votes.weights[v], order.index(v)))
              if v != target and votes.weights[v] >= floor and v in votes.selected]
    found: list[dict[str, Any]] = []
    others = [v for v in others  # ``churn`` next to ``churned``: one task, two spellings
              if not (v.lower().startswith(target.lower()) or target.lower().startswith(v.lower()))]
    for other in others[:MAX_OTHER_TASKS]:
        where = votes.first[other]
        kind, arity = _task_signals(source, nodes, where)
        task_type = _task_type(kind, arity, None, [])
        found.append({"target": other, "task_type": task_type, "path": where.path,
                      "cell": where.cell, "line": where.line, "excerpt": where.excerpt})
    return tuple(found)


def _choose_target(root: Path, votes: _Votes, evidence: list[Inference]
                   ) -> tuple[str | None, Path | None, dict[str, float] | None]:
    """The best-voted target; a candidate the shipped data confirms wins over one it does not."""
    if not votes.weights:
        return None, None, None
    order = list(votes.first)
    ranked = sorted(order, key=lambda v: (-votes.weights[v], order.index(v)))
    best = ranked[0]
    for candidate in ranked[:5]:
        found = _label_shares(root, candidate)
        if found is not None and votes.weights[candidate] >= votes.weights[best] / 2:
            evidence.append(votes.first[candidate])
            return candidate, found[0], found[1]
    evidence.append(votes.first[best])
    return best, None, None


def _task_type(kind: _Votes, arity: _Votes, shares: dict[str, float] | None,
               evidence: list[Inference], from_data: bool = True) -> str | None:
    """binary/multiclass classification or regression from code signals and the labels.

    ``shares``: the labels' shares from a data file (``from_data``) or a printed value_counts.
    """
    data_kind = _data_kind(shares) if shares else None
    best = kind.best()
    code_kind = None
    if best is not None:
        other = "regression" if best[0] == "classification" else "classification"
        if kind.weights[best[0]] > kind.weights.get(other, 0):
            code_kind = best[0]
    chosen = data_kind if data_kind in ("classification", "regression") else code_kind
    if chosen is None:
        return None
    if chosen == code_kind and best is not None:
        evidence.append(best[1])
    if data_kind == chosen:
        evidence.append(Inference("task_type", chosen, "data" if from_data else "output", "",
                                  excerpt=f"{len(shares or {})} distinct target values"))
    if chosen == "regression":
        return "regression"
    if shares is not None:
        return "binary_classification" if len(shares) == 2 else (
            "multiclass_classification" if len(shares) > 2 else None)
    multi, binary = arity.weights.get("multiclass", 0), arity.weights.get("binary", 0)
    # ``average="macro"`` is common in binary work: it only breaks a tie of real signals
    tie_broken = multi == binary > 0 and arity.weights.get("average", 0) > 0
    if multi > binary or tie_broken:
        evidence.append(arity.first["multiclass"])
        return "multiclass_classification"
    if binary:
        evidence.append(arity.first["binary"])
    return "binary_classification"
