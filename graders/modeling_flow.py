"""Static data-path analysis for the modeling grader: which models really train, on which split
their scores are computed, which searches really tune, and what is selected on what.

Everything here is an approximation that reading the code can afford (no execution): names are
tracked per file (a notebook is one namespace), statements are read in flow order, and a value
flows through plain assignments, containers (``models = {...}``), loops over them and calls.
The rules are deliberately conservative in both directions: an estimator counts as trained
when something fits it (``.fit``, a cross-validation or search call, a loop that fits, a
function that is called), and a search counts as tuning when its grid has more than one value
for some parameter and its result is used afterwards.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from graders.source import (
    CallSite,
    CodeUnit,
    SubmissionSource,
    call_matches,
    dotted_name,
    import_aliases,
    site_at,
)
from graders.source_repair import repaired_tree

FIT_ATTRS = frozenset(
    {"fit", "fit_transform", "fit_predict", "partial_fit", "train", "fit_resample"}
)
DISPLAY_CALLS = frozenset(
    {"print", "display", "str", "repr", "type", "isinstance", "len", "id", "info", "debug",
     "warning", "log", "write", "pprint", "format"}
)  # fmt: skip
METRIC_CALLS = (
    "accuracy_score", "balanced_accuracy_score", "f1_score", "fbeta_score", "precision_score",
    "recall_score", "roc_auc_score", "average_precision_score", "log_loss", "brier_score_loss",
    "matthews_corrcoef", "cohen_kappa_score", "classification_report", "confusion_matrix",
    "precision_recall_curve", "roc_curve", "r2_score", "mean_squared_error",
    "mean_absolute_error", "root_mean_squared_error", "mean_absolute_percentage_error",
    "median_absolute_error", "explained_variance_score", "concordance_index",
    "ConfusionMatrixDisplay.from_estimator", "ConfusionMatrixDisplay.from_predictions",
    "RocCurveDisplay.from_estimator", "RocCurveDisplay.from_predictions", "auc",
)  # fmt: skip
# ``model_performance(frame)``: H2O's scoring of a model on a frame.
SCORE_ATTRS = frozenset({"score", "evaluate", "model_performance"})
CV_CALLS = (
    "cross_val_score", "cross_validate", "cross_val_predict", "learning_curve",
    "validation_curve", "lgb.cv", "lightgbm.cv", "xgb.cv", "xgboost.cv",
    # cross-validated learning curves drawn by plotting libraries (scikit-plot, yellowbrick)
    "plot_learning_curve", "LearningCurve", "ValidationCurve",
)  # fmt: skip
SPLITTERS = (
    "KFold", "StratifiedKFold", "GroupKFold", "StratifiedGroupKFold", "TimeSeriesSplit",
    "RepeatedKFold", "RepeatedStratifiedKFold", "ShuffleSplit", "StratifiedShuffleSplit",
)  # fmt: skip
SEARCHES = (
    "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV",
    "BayesSearchCV",
)  # fmt: skip
SEARCH_RESULT_ATTRS = frozenset(
    {
        "best_estimator_",
        "best_params_",
        "predict",
        "predict_proba",
        "score",
        "decision_function",
        "best_index_",
    }
)
CV_ATTRS = frozenset({"best_score_", "cv_results_", "best_estimator_", "best_params_"})
SELECT_CALLS = frozenset(
    {
        "max",
        "min",
        "sorted",
        "argmax",
        "argmin",
        "idxmax",
        "idxmin",
        "nlargest",
        "nsmallest",
        "sort_values",
    }
)
MULTI_VALUE_CALLS = frozenset(
    {
        "range",
        "arange",
        "linspace",
        "logspace",
        "geomspace",
        "randint",
        "uniform",
        "loguniform",
        "expon",
        "Real",
        "Integer",
        "Categorical",
        "choice",
        "hp.choice",
        "quniform",
    }
)

MAX_USE_STEPS = 50_000  # bound on the use-following walk (hostile code cannot make it explode)
# A helper the candidate wrote to score predictions (``evaluate_model``, ``rmse``, ``my_f1``).
_USER_EVAL = re.compile(
    r"eval|score|metric|assess|report|rmse|mse|mae|mape|auc|f1|accuracy|precision|recall|r2",
    re.IGNORECASE,
)
_TEST = re.compile(r"(?<![a-wz])(test|tst|holdout|hold_out|heldout)|(^|_)te(_|$)")
_VAL = re.compile(r"(?<![a-wz])(val(?!ue)|valid|validation)|(^|_)(dev|va)(_|$)")
_TRAIN = re.compile(r"train|(^|_)tr(_|$)")
_SCORE = re.compile(
    r"(score|result|metric|auc|f1|acc|rmse|mse|mae|r2|precision|recall|perf|loss|error)",
    re.IGNORECASE,
)


def split_of(text: str) -> str | None:
    """Which split a name or label refers to: ``test``, ``val``, ``train`` or None."""
    lower = text.lower()
    if _VAL.search(lower):
        return "val"
    if _TEST.search(lower):
        return "test"
    if _TRAIN.search(lower):
        return "train"
    if "cv" in re.split(r"[^a-z]+", lower) or lower.startswith("cv"):
        return "cv"
    return None


@dataclass
class Construction:
    """One estimator built in the code."""

    unit: CodeUnit
    node: ast.Call
    cls: str
    site: CallSite
    used: bool = False


@dataclass
class Evaluation:
    """A score computed on some data: a metric call, ``.score(X, y)`` or a CV call."""

    unit: CodeUnit
    node: ast.AST
    site: CallSite
    splits: frozenset[str]


@dataclass
class Search:
    """A hyperparameter search and what became of it."""

    site: CallSite
    grid: str  # "multi", "single" or "unknown"
    used: bool
    kind: str  # "search", "optuna", "sweep"
    note: str = ""


@dataclass
class Selection:
    """A statement that picks a best model/score, and the splits its scores come from."""

    site: CallSite
    splits: frozenset[str]


@dataclass
class Flow:
    """Everything the modeling checks read."""

    constructions: list[Construction] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    searches: list[Search] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)
    cv_sites: list[CallSite] = field(default_factory=list)
    trees: list[tuple[CodeUnit, ast.Module]] = field(default_factory=list)
    parents: dict[int, ast.AST] = field(default_factory=dict)
    tags: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # path -> name -> tags
    repaired: list[str] = field(default_factory=list)
    dead: set[int] = field(default_factory=set)  # nodes a loop never reaches (early return)
    bindings: dict[tuple[str, str], ast.AST] = field(default_factory=dict)  # last value bound
    cells: dict[int, int] = field(default_factory=dict)  # bound value -> its cell
    walked: dict[int, list[ast.AST]] = field(default_factory=dict)  # tree -> its nodes
    steps: int = 0  # uses followed so far (bounded by MAX_USE_STEPS)
    names: _NameIndex | None = None  # where names are read (set by ``analyse``)

    def walk(self, tree: ast.AST) -> list[ast.AST]:
        """``ast.walk(tree)`` as a list, computed once per tree (trees are walked many times)."""
        nodes = self.walked.get(id(tree))
        if nodes is None:
            nodes = self.walked[id(tree)] = list(ast.walk(tree))
        return nodes


# --------------------------------------------------------------------------- parsing


def parsed_units(source: SubmissionSource) -> list[tuple[CodeUnit, ast.Module, bool]]:
    """``(unit, tree, repaired)``: units that parse, plus the units that do not parse here read
    through :func:`graders.source_repair.repaired_tree` (Python 3.12 f-strings requoted, then
    non-Python lines such as a pasted shell command or a stray magic skipped)."""
    found = []
    for unit in source.code_units:
        if unit.tree is not None:
            found.append((unit, unit.tree, False))
            continue
        tree = repaired_tree(unit.code)
        if tree is not None:
            found.append((unit, tree, True))
    return found


# --------------------------------------------------------------------------- the analysis


@functools.lru_cache(maxsize=32)
def analyse(source: SubmissionSource, estimator_classes: frozenset[str]) -> Flow:
    """The :class:`Flow` of a submission (cached per source)."""
    flow = Flow()
    aliases = import_aliases(source)
    for unit, tree, repaired in parsed_units(source):
        flow.trees.append((unit, tree))
        if repaired:
            flow.repaired.append(unit.path)
        for node in flow.walk(tree):
            for child in ast.iter_child_nodes(node):
                flow.parents[id(child)] = node
        for node in flow.walk(tree):  # walk order is not source order: keep the latest line
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        key = (unit.path, target.id)
                        previous = flow.bindings.get(key)
                        flow.cells[id(node.value)] = -1 if unit.cell is None else unit.cell
                        if previous is None or _later(flow, node.value, previous):
                            flow.bindings[key] = node.value
    names = flow.names = _NameIndex(flow)
    _propagate_tags(flow)
    for unit, tree in flow.trees:
        table = aliases.get(unit.path, {})
        for node in flow.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = dotted_name(node.func)
            if name is None:
                continue
            canonical = _canonical(name, table)
            last = name.rsplit(".", 1)[-1]
            if last in estimator_classes or canonical.rsplit(".", 1)[-1] in estimator_classes:
                flow.constructions.append(Construction(unit, node, last, site_at(unit, node, last)))
            if call_matches(name, canonical, METRIC_CALLS) or (
                isinstance(node.func, ast.Attribute) and node.func.attr in SCORE_ATTRS and node.args
            ):
                flow.evaluations.append(
                    Evaluation(
                        unit, node, site_at(unit, node, last), _call_splits(flow, unit, node)
                    )
                )
            if _USER_EVAL.search(last) and not call_matches(name, canonical, METRIC_CALLS):
                splits = _call_splits(flow, unit, node)
                if splits & {"test", "val"}:
                    flow.evaluations.append(
                        Evaluation(unit, node, site_at(unit, node, last), splits)
                    )
            if call_matches(name, canonical, CV_CALLS):
                flow.cv_sites.append(site_at(unit, node, last))
                flow.evaluations.append(
                    Evaluation(unit, node, site_at(unit, node, last), frozenset({"cv", "score"}))
                )
            if call_matches(name, canonical, SEARCHES):
                flow.cv_sites.append(site_at(unit, node, last))
                flow.searches.append(_search(flow, names, unit, node, last))
            if call_matches(name, canonical, SPLITTERS) and _splitter_used(flow, names, unit, node):
                flow.cv_sites.append(site_at(unit, node, last))
            if last in SELECT_CALLS:
                _selection(flow, unit, node)
        for node in flow.walk(tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.lower().startswith("best") for t in node.targets
            ):
                _selection(flow, unit, node)
            elif isinstance(node, ast.For):
                sweep = _sweep(flow, unit, node, estimator_classes)
                if sweep is not None:
                    flow.searches.append(sweep)
    flow.searches.extend(_optuna(flow, names))
    _mark_in_sample(flow)
    _registry_classes(flow, estimator_classes)
    _mark_early_returns(flow)
    for construction in flow.constructions:
        construction.used = id(construction.node) not in flow.dead and _constructed_used(
            flow, names, construction.unit, construction.node
        )
    return flow


PREDICT_ATTRS = frozenset({"predict", "predict_proba", "decision_function", "score"})


def _mark_in_sample(flow: Flow) -> None:
    """An evaluation of predictions a model makes on the very data it was fitted on
    (``m.fit(X, y)`` then ``m.predict(X)``) is in-sample: its splits become ``in_sample``."""
    fits: set[tuple[str, str, str]] = set()
    for unit, tree in flow.trees:
        for node in flow.walk(tree):
            pair = _model_and_data(node, FIT_ATTRS)
            if pair is not None:
                fits.add((unit.path, *pair))
            elif (  # ``rf = RandomForestClassifier().fit(X, y)``: the fitted model is ``rf``
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and node.value.func.attr in FIT_ATTRS
                and node.value.args
                and isinstance(node.value.args[0], ast.Name)
            ):
                fits.add((unit.path, node.targets[0].id, node.value.args[0].id))
    if not fits:
        return
    for index, evaluation in enumerate(flow.evaluations):
        path = evaluation.unit.path
        if any((path, *pair) in fits for pair in _predictions(flow, path, evaluation.node)):
            flow.evaluations[index] = Evaluation(
                evaluation.unit, evaluation.node, evaluation.site,
                frozenset({"train", "in_sample", "score"}),
            )  # fmt: skip


def _model_and_data(node: ast.AST, attrs: frozenset[str]) -> tuple[str, str] | None:
    """``(model, data)`` names of ``model.<attr>(data, ...)`` when both are plain names."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in attrs
        and node.args
        and isinstance(node.args[0], ast.Name)
    ):
        model = dotted_name(node.func.value)
        if model:
            return model, node.args[0].id
    return None


def _predictions(flow: Flow, path: str, node: ast.AST) -> list[tuple[str, str]]:
    """The ``(model, data)`` pairs whose predictions an evaluation reads, directly or through a
    variable bound to ``model.predict(data)``."""
    pairs = []
    for sub in ast.walk(node):
        pair = _model_and_data(sub, PREDICT_ATTRS)
        if pair is None and isinstance(sub, ast.Name):
            bound = flow.bindings.get((path, sub.id))
            pair = _model_and_data(bound, PREDICT_ATTRS) if bound is not None else None
        if pair is not None:
            pairs.append(pair)
    return pairs


def _registry_classes(flow: Flow, estimator_classes: frozenset[str]) -> None:
    """Estimator classes listed (not called) in a registry dict or list, built dynamically."""
    for unit, tree in flow.trees:
        for node in flow.walk(tree):
            if (
                isinstance(node, ast.Name)
                and node.id in estimator_classes
                and isinstance(node.ctx, ast.Load)
                and isinstance(flow.parents.get(id(node)), (ast.Dict, ast.List, ast.Tuple))
            ):
                flow.constructions.append(
                    Construction(unit, node, node.id, site_at(unit, node, node.id))
                )  # type: ignore[arg-type]


def _canonical(name: str, table: dict[str, str]) -> str:
    head, _, rest = name.partition(".")
    full = table.get(head)
    if full is None or full == head:
        return name
    return f"{full}.{rest}" if rest else full


class _NameIndex:
    """Where each name is read, per path; and which functions are ever referenced."""

    def __init__(self, flow: Flow) -> None:
        self.loads: dict[tuple[str, str], list[tuple[CodeUnit, ast.AST]]] = {}
        self.attr_loads: dict[str, list[tuple[CodeUnit, ast.AST]]] = {}
        self.referenced: set[str] = set()
        self.functions: dict[int, str] = {}
        for unit, tree in flow.trees:
            for node in flow.walk(tree):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    self.loads.setdefault((unit.path, node.id), []).append((unit, node))
                    self.referenced.add(node.id)
                elif isinstance(node, ast.Attribute):
                    self.referenced.add(node.attr)
                    if isinstance(node.ctx, ast.Load):
                        self.attr_loads.setdefault(node.attr, []).append((unit, node))
                elif isinstance(node, ast.Constant) and str(node.value).isidentifier():
                    self.referenced.add(str(node.value))  # getattr(obj, "name"), registries

    def function_called(self, name: str) -> bool:
        """A function or method is on the data path when it is referenced anywhere."""
        return name in self.referenced or name.startswith("__") or name in ("main", "run")


def _enclosing_functions(flow: Flow, node: ast.AST) -> Iterator[ast.AST]:
    current = flow.parents.get(id(node))
    while current is not None:
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield current
        current = flow.parents.get(id(current))


def reachable(flow: Flow, node: ast.AST) -> bool:
    """False when ``node`` sits in a function that nothing ever references."""
    names = flow.names
    return names is None or _reachable(flow, names, node)


def _reachable(flow: Flow, names: _NameIndex, node: ast.AST) -> bool:
    """False when ``node`` sits in a function that nothing ever references."""
    return all(names.function_called(f.name) for f in _enclosing_functions(flow, node))


# --------------------------------------------------------------------------- is a value used?


def _constructed_used(flow: Flow, names: _NameIndex, unit: CodeUnit, node: ast.AST) -> bool:
    """True when the value built at ``node`` reaches a fit, a CV/search call or a fitting loop."""
    return _reachable(flow, names, node) and _value_used(flow, names, unit, node, 0)


def _value_used(flow: Flow, names: _NameIndex, unit: CodeUnit, node: ast.AST, depth: int) -> bool:
    if depth > 4:
        return False
    parent = flow.parents.get(id(node))
    while isinstance(parent, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Starred, ast.keyword,
                              ast.IfExp)):  # fmt: skip
        node, parent = parent, flow.parents.get(id(parent))
    if isinstance(parent, ast.Attribute) and parent.attr in FIT_ATTRS:
        return True
    if isinstance(parent, ast.Attribute) and parent.attr in ("items", "values"):
        call = flow.parents.get(id(parent))
        if isinstance(call, ast.Call):
            node, parent = call, flow.parents.get(id(call))
    if isinstance(parent, ast.For) and node is parent.iter:
        return _loop_fits(parent)
    if isinstance(parent, ast.Call) and node is not parent.func:
        if _short(parent.func) in ("enumerate", "zip", "list", "iter"):
            return _value_used(flow, names, unit, parent, depth + 1)
        return _short(parent.func) not in DISPLAY_CALLS
    if isinstance(parent, ast.Return):
        return True
    if isinstance(parent, (ast.Lambda, ast.DictComp, ast.ListComp, ast.comprehension)):
        return True
    if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        return any(_target_used(flow, names, unit, target, depth) for target in targets)
    return False


def _target_used(
    flow: Flow, names: _NameIndex, unit: CodeUnit, target: ast.AST, depth: int
) -> bool:
    if isinstance(target, (ast.Tuple, ast.List)):
        return any(_target_used(flow, names, unit, t, depth) for t in target.elts)
    if isinstance(target, ast.Subscript):
        target = target.value
        while isinstance(target, ast.Subscript):
            target = target.value
    if isinstance(target, ast.Name):
        uses = names.loads.get((unit.path, target.id), [])
    elif isinstance(target, ast.Attribute):
        uses = names.attr_loads.get(target.attr, [])
    else:
        return False
    return any(_use_trains(flow, names, use_unit, use, depth) for use_unit, use in uses)


def _use_trains(flow: Flow, names: _NameIndex, unit: CodeUnit, use: ast.AST, depth: int) -> bool:
    """One read of a model variable: does it fit, get passed on, or feed a fitting loop?"""
    flow.steps += 1
    if id(use) in flow.dead or flow.steps > MAX_USE_STEPS:
        return False
    node, parent = use, flow.parents.get(id(use))
    while (
        isinstance(parent, (ast.Subscript, ast.Attribute))
        and getattr(parent, "value", None) is node
    ):
        if isinstance(parent, ast.Attribute) and parent.attr in FIT_ATTRS:
            return True
        if isinstance(parent, ast.Attribute) and parent.attr in ("items", "values"):
            node, parent = parent, flow.parents.get(id(parent))
            if isinstance(parent, ast.Call):
                node, parent = parent, flow.parents.get(id(parent))
            break
        node, parent = parent, flow.parents.get(id(parent))
    if isinstance(parent, ast.For) and node is parent.iter:
        return _loop_fits(parent)
    if isinstance(parent, ast.Call) and node is parent.func:
        return _value_used(flow, names, unit, parent, depth + 1)  # a class from a registry, built
    if isinstance(parent, ast.Call) and node is not parent.func:
        callee_name = _short(parent.func)
        if callee_name in ("enumerate", "zip", "list", "iter"):
            grand = flow.parents.get(id(parent))
            return isinstance(grand, ast.For) and _loop_fits(grand)
        return callee_name not in DISPLAY_CALLS
    if isinstance(parent, ast.Return):
        return True
    if isinstance(parent, (ast.comprehension,)):
        return True
    if isinstance(parent, (ast.List, ast.Tuple, ast.Dict, ast.keyword, ast.Assign, ast.IfExp)):
        return _value_used(flow, names, unit, node, depth + 1)
    return False


def _loop_fits(loop: ast.For) -> bool:
    """A loop over models fits them when its body calls ``.fit`` or passes the loop variable on."""
    targets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    for stmt in loop.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Attribute) and node.attr in FIT_ATTRS:
                return True
            if (
                isinstance(node, ast.Call)
                and _short(node.func) not in DISPLAY_CALLS
                and any(isinstance(a, ast.Name) and a.id in targets for a in node.args)
            ):
                return True
    return False


def _mark_early_returns(flow: Flow) -> None:
    """A loop over a model collection that returns unconditionally trains only the first one:
    the later elements (literal items or ``.append`` arguments) are marked dead."""
    for unit, tree in flow.trees:
        for loop in flow.walk(tree):
            if not isinstance(loop, ast.For) or not any(
                isinstance(s, ast.Return) for s in loop.body
            ):
                continue
            collection = _root(loop.iter)
            if collection is None:
                continue
            for element in _elements(flow, unit.path, collection)[1:]:
                flow.dead.update(id(n) for n in ast.walk(element))


def _elements(flow: Flow, path: str, name: str) -> list[ast.AST]:
    """The items put in collection ``name``: its last literal's elements, then its appends."""
    literal = _last_literal(flow, path, name)
    items: list[ast.AST] = []
    if literal is not None:
        items = list(literal.values if isinstance(literal, ast.Dict) else literal.elts)
    for unit, tree in flow.trees:
        if unit.path != path:
            continue
        for node in flow.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == name
            ):
                items.extend(node.args)
    return items


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Call):
            if _short(node.func) in ("enumerate", "zip", "list", "sorted") and node.args:
                node = node.args[0]
            else:
                node = node.func
        else:
            node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _last_literal(flow: Flow, path: str, name: str) -> ast.Dict | ast.List | ast.Tuple | None:
    """The dict/list/tuple literal last bound to ``name`` in ``path``."""
    value = _last_binding(flow, path, name)
    return value if isinstance(value, (ast.Dict, ast.List, ast.Tuple)) else None


def _short(node: ast.AST) -> str:
    name = dotted_name(node) or ""
    return name.rsplit(".", 1)[-1]


# --------------------------------------------------------------------------- splits and scores


def _propagate_tags(flow: Flow) -> None:
    """Per path, the splits (and whether a score) each variable is derived from."""
    for unit, tree in flow.trees:
        tags = flow.tags.setdefault(unit.path, {})
        for node in flow.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for arg in node.args.args + node.args.kwonlyargs:
                    own = split_of(arg.arg)
                    if own:
                        tags.setdefault(arg.arg, set()).add(own)
        for stmt in _statements(flow, tree):
            if (
                isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign))
                and stmt.value is not None
            ):
                value_tags = _expr_tags(flow, unit, stmt.value, tags)
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for name in _target_names(target):
                        own = split_of(name)
                        bucket = tags.setdefault(name, set())
                        bucket.update({own} if own else value_tags - {"train"})
                        if _SCORE.search(name) and value_tags:
                            bucket.add("score")
            elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                func = stmt.value.func
                if isinstance(func, ast.Attribute) and func.attr in ("append", "update", "extend",
                                                                     "add", "insert"):  # fmt: skip
                    root = _root(func.value)
                    if root:
                        extra = set()
                        for arg in stmt.value.args:
                            extra |= _expr_tags(flow, unit, arg, tags)
                        tags.setdefault(root, set()).update(extra)


def _statements(flow: Flow, tree: ast.AST) -> Iterator[ast.stmt]:
    for node in flow.walk(tree):
        if isinstance(node, ast.stmt):
            yield node


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _target_names(t)]
    root = _root(target) if isinstance(target, (ast.Subscript, ast.Attribute)) else None
    if isinstance(target, ast.Name):
        return [target.id]
    return [root] if root else []


def _expr_tags(flow: Flow, unit: CodeUnit, node: ast.AST, tags: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            own = split_of(sub.id)
            found |= {own} if own else tags.get(sub.id, set())
        elif isinstance(sub, ast.Attribute) and sub.attr in CV_ATTRS:
            found |= {"cv", "score"}
        elif isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load):
            own = split_of(sub.attr)  # ``self.test_y``: an attribute names its split too
            if own:
                found.add(own)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) < 40:
            own = split_of(sub.value)
            if own:
                found.add(own)
        elif isinstance(sub, ast.Call):
            name = _short(sub.func)
            if name in METRIC_CALLS or name in SCORE_ATTRS or name in CV_CALLS:
                found.add("score")
                if name in CV_CALLS:
                    found.add("cv")
    return found


def _call_splits(flow: Flow, unit: CodeUnit, call: ast.Call) -> frozenset[str]:
    tags = flow.tags.get(unit.path, {})
    found: set[str] = set()
    for arg in [*call.args, *(k.value for k in call.keywords)]:
        found |= _expr_tags(flow, unit, arg, tags)
    if isinstance(call.func, ast.Attribute):
        found |= {t for t in _expr_tags(flow, unit, call.func.value, tags) if t == "cv"}
    return frozenset(found | {"score"})


def _selection(flow: Flow, unit: CodeUnit, node: ast.AST) -> None:
    """Record a best-of pick over scores, with the splits those scores come from."""
    tags = flow.tags.get(unit.path, {})
    value = node.value if isinstance(node, ast.Assign) else node
    explicit = {
        split_of(s.value)
        for s in ast.walk(value)
        if isinstance(s, ast.Constant) and isinstance(s.value, str) and len(s.value) < 40
    } - {None}
    splits = _expr_tags(flow, unit, value, tags)
    if "score" not in splits and not any(
        isinstance(s, ast.Name) and _SCORE.search(s.id) for s in ast.walk(value)
    ):
        return
    chosen = explicit if explicit & {"test", "val", "cv"} else splits
    line = getattr(node, "lineno", 0)
    if any(s.site.path == unit.path and s.site.cell == unit.cell and s.site.line == line
           for s in flow.selections):  # fmt: skip
        return
    flow.selections.append(Selection(site_at(unit, node, "selection"), frozenset(chosen)))


# --------------------------------------------------------------------------- tuning


def _search(flow: Flow, names: _NameIndex, unit: CodeUnit, call: ast.Call, cls: str) -> Search:
    grid_node = call.args[1] if len(call.args) > 1 else None
    for keyword in call.keywords:
        if keyword.arg in ("param_grid", "param_distributions", "search_spaces"):
            grid_node = keyword.value
    grid, note = _grid_kind(flow, unit, grid_node)
    used = _reachable(flow, names, call) and _search_used(flow, names, unit, call)
    return Search(site_at(unit, call, cls), grid, used, "search", note)


def _grid_kind(flow: Flow, unit: CodeUnit, node: ast.AST | None, depth: int = 0) -> tuple[str, str]:
    """``multi`` when some parameter takes more than one value, ``single``, or ``unknown``."""
    if node is None or depth > 3:
        return "unknown", "the search space is not written in the code"
    if isinstance(node, ast.Name):
        bound = _last_binding(flow, unit.path, node.id)
        if bound is None:
            return "unknown", f"the search space '{node.id}' comes from outside the code"
        return _grid_kind(flow, unit, bound, depth + 1)
    if isinstance(node, (ast.List, ast.Tuple)):
        kinds = [_grid_kind(flow, unit, e, depth + 1)[0] for e in node.elts]
        if len(node.elts) > 1 and all(isinstance(e, ast.Dict) for e in node.elts):
            return "multi", ""
        return ("multi", "") if "multi" in kinds else (kinds[0] if kinds else "single", "")
    if isinstance(node, ast.Dict):
        kinds = [_values_kind(flow, unit, v, depth) for v in node.values]
        if "multi" in kinds:
            return "multi", ""
        if "unknown" in kinds:
            return "unknown", "some parameter values are not written in the code"
        return "single", ""
    return "unknown", "the search space is built in a way the static reading does not follow"


def _values_kind(flow: Flow, unit: CodeUnit, node: ast.AST, depth: int) -> str:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return "multi" if len(node.elts) > 1 else "single"
    if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
        return "multi"
    if isinstance(node, ast.Call):
        return "multi" if _short(node.func) in MULTI_VALUE_CALLS else "unknown"
    if isinstance(node, ast.Name) and depth < 3:
        bound = _last_binding(flow, unit.path, node.id)
        return _values_kind(flow, unit, bound, depth + 1) if bound is not None else "unknown"
    return "unknown"


def _last_binding(flow: Flow, path: str, name: str) -> ast.AST | None:
    """The value last bound to ``name`` in ``path`` (cells in order, then lines)."""
    return flow.bindings.get((path, name))


def _later(flow: Flow, node: ast.AST, previous: ast.AST) -> bool:
    """Whether ``node`` comes after ``previous`` in reading order (cell, then line)."""
    new = (flow.cells.get(id(node), -1), getattr(node, "lineno", 0))
    return new >= (flow.cells.get(id(previous), -1), getattr(previous, "lineno", 0))


def _search_used(flow: Flow, names: _NameIndex, unit: CodeUnit, call: ast.Call) -> bool:
    """The search is fitted and its tuned model or parameters feed later code (not a print)."""
    parent = flow.parents.get(id(call))
    if isinstance(parent, ast.Attribute) and parent.attr in FIT_ATTRS:
        return _value_used(flow, names, unit, flow.parents.get(id(parent)) or parent, 0)
    if isinstance(parent, (ast.Call, ast.Return, ast.keyword)):
        return True
    if not isinstance(parent, ast.Assign):
        return False
    targets = [n for t in parent.targets for n in _target_names(t)]
    fitted = used = False
    for target in targets:
        uses = names.loads.get((unit.path, target), [])
        if isinstance(parent.targets[0], ast.Attribute):
            uses = names.attr_loads.get(parent.targets[0].attr, [])
        for use_unit, use in uses:
            outer = flow.parents.get(id(use))
            if isinstance(outer, ast.Attribute) and outer.attr in FIT_ATTRS:
                fitted = True
                used |= _value_used(flow, names, use_unit, flow.parents.get(id(outer)) or outer, 0)
            elif isinstance(outer, ast.Attribute) and outer.attr in SEARCH_RESULT_ATTRS:
                used |= not _displayed_only(flow, outer)
            elif isinstance(outer, (ast.Return, ast.Call, ast.Dict, ast.List, ast.Tuple)) and not (
                isinstance(outer, ast.Call) and _short(outer.func) in DISPLAY_CALLS
            ):
                used = True
                fitted = fitted or isinstance(outer, (ast.Return, ast.Call))
    return fitted and used


def _displayed_only(flow: Flow, node: ast.AST) -> bool:
    """True when ``node`` is only shown: a bare expression, ``print(...)``, a log call, f-string."""
    current, parent = node, flow.parents.get(id(node))
    while parent is not None and not isinstance(parent, ast.stmt):
        if isinstance(parent, ast.Call) and _short(parent.func) in DISPLAY_CALLS:
            return True
        if isinstance(parent, (ast.FormattedValue, ast.JoinedStr)):
            return True
        current, parent = parent, flow.parents.get(id(parent))
    del current
    return isinstance(parent, ast.Expr)


def _optuna(flow: Flow, names: _NameIndex) -> list[Search]:
    """Optuna/Hyperopt studies: ``trial.suggest_*`` or ``hp.*`` spaces, result read back."""
    found = []
    suggests = [
        (u, n) for u, t in flow.trees for n in flow.walk(t)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        and (n.func.attr.startswith("suggest_") or (dotted_name(n.func) or "").startswith("hp."))
    ]  # fmt: skip
    if not suggests:
        return found
    results = [
        (u, n) for u, t in flow.trees for n in flow.walk(t)
        if isinstance(n, ast.Attribute) and n.attr in ("best_params", "best_trial", "best_value")
    ] + [
        (u, n) for u, t in flow.trees for n in flow.walk(t)
        if isinstance(n, ast.Call) and _short(n.func) in ("fmin", "space_eval")
    ]  # fmt: skip
    used = any(not _displayed_only(flow, n) for _, n in results)
    unit, node = suggests[0]
    found.append(Search(site_at(unit, node, "optuna"), "multi", used, "optuna"))
    return found


def _sweep(flow: Flow, unit: CodeUnit, loop: ast.For, estimators: frozenset[str]) -> Search | None:
    """A loop over several values of a hyperparameter that rebuilds a model with each value."""
    targets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
    iterable = loop.iter
    if isinstance(iterable, (ast.List, ast.Tuple)) and len(iterable.elts) < 2:
        return None
    if isinstance(iterable, ast.Call) and _short(iterable.func) == "ParameterGrid":
        return Search(site_at(unit, loop, "ParameterGrid"), "multi", True, "sweep")
    for stmt in loop.body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call) and _short(node.func) in estimators:
                values = [k.value for k in node.keywords] + list(node.args)
                if any(isinstance(v, ast.Name) and v.id in targets for v in values) or any(
                    isinstance(v, ast.Subscript) and _root(v) in targets for v in values
                ):
                    return Search(site_at(unit, loop, "sweep"), "multi", True, "sweep")
    return None


def in_value_sweep(flow: Flow, unit: CodeUnit, node: ast.AST) -> bool:
    """True when the nearest loop around ``node`` runs over numbers (``range``, ``linspace``, a
    list of numeric constants, or a name bound to one of these)."""
    current = flow.parents.get(id(node))
    while current is not None and not isinstance(current, ast.For):
        current = flow.parents.get(id(current))
    if current is None:
        return False
    iterable = current.iter
    if isinstance(iterable, ast.Name):
        iterable = _last_binding(flow, unit.path, iterable.id) or iterable
    if isinstance(iterable, ast.Call):
        return _short(iterable.func) in ("range", "arange", "linspace", "logspace", "geomspace")
    if isinstance(iterable, (ast.List, ast.Tuple)):
        return bool(iterable.elts) and all(
            isinstance(e, ast.Constant) and isinstance(e.value, (int, float)) for e in iterable.elts
        )
    return False


def _splitter_used(flow: Flow, names: _NameIndex, unit: CodeUnit, call: ast.Call) -> bool:
    parent = flow.parents.get(id(call))
    if isinstance(parent, (ast.keyword, ast.Call)):
        return True
    if isinstance(parent, ast.Attribute) and parent.attr == "split":
        return True
    if isinstance(parent, ast.Assign):
        for target in parent.targets:
            for name in _target_names(target):
                for _, use in names.loads.get((unit.path, name), []):
                    outer = flow.parents.get(id(use))
                    if isinstance(outer, (ast.keyword, ast.Call)) or (
                        isinstance(outer, ast.Attribute) and outer.attr == "split"
                    ):
                        return True
    return False


# --------------------------------------------------------------------------- which model is scored


def _estimator_bound(flow: Flow, path: str, name: str, classes: frozenset[str]) -> str | None:
    """The estimator class last bound to ``name`` in ``path`` (``rf = RandomForest...()``)."""
    bound = flow.bindings.get((path, name))
    if (  # ``rf = RandomForestClassifier().fit(X, y)``
        isinstance(bound, ast.Call)
        and isinstance(bound.func, ast.Attribute)
        and bound.func.attr in FIT_ATTRS
    ):
        bound = bound.func.value
    if isinstance(bound, ast.Call):
        short = _short(bound.func)
        if short in classes:
            return short
    return None


def scored_models(flow: Flow, evaluation: Evaluation, classes: frozenset[str]) -> set[str]:
    """Estimator classes whose predictions or CV scores an evaluation reads, when the code names
    the model directly (``rf.predict(X)``, ``preds = rf.predict(X)``, ``cross_val_score(rf, ...)``,
    ``preds = cross_val_predict(rf, ...)``); empty when it cannot be told statically."""
    path = evaluation.unit.path
    found = {
        cls
        for model, _ in _predictions(flow, path, evaluation.node)
        if (cls := _estimator_bound(flow, path, model, classes)) is not None
    }
    calls = [evaluation.node] + [
        bound
        for sub in ast.walk(evaluation.node)
        if isinstance(sub, ast.Name)
        and isinstance(bound := flow.bindings.get((path, sub.id)), ast.Call)
    ]
    for call in calls:
        if isinstance(call, ast.Call) and _short(call.func) in CV_CALLS and call.args:
            first = call.args[0]
            if isinstance(first, ast.Name):
                cls = _estimator_bound(flow, path, first.id, classes)
                if cls is not None:
                    found.add(cls)
    return found


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def setting_branch(flow: Flow, node: ast.AST) -> ast.If | None:
    """The ``if``/``elif`` branch that builds ``node`` only when a setting names it
    (``if model_name == "xgb":``), looking outwards up to the enclosing function or loop."""
    current = node
    while True:
        parent = flow.parents.get(id(current))
        if parent is None or isinstance(
            parent, (ast.FunctionDef, ast.AsyncFunctionDef, ast.For, ast.While, *_COMPREHENSIONS)
        ):
            return None
        if isinstance(parent, ast.If) and current is not parent.test and _names_a_setting(
            parent.test
        ):
            return parent
        current = parent


def _names_a_setting(test: ast.AST) -> bool:
    """``name == "option"`` (either side) or ``name in ("a", "b")``."""
    if not isinstance(test, ast.Compare) or len(test.ops) != 1:
        return False
    sides = [test.left, test.comparators[0]]
    if isinstance(test.ops[0], ast.Eq):
        return any(isinstance(s, ast.Constant) and isinstance(s.value, str) for s in sides) and any(
            isinstance(s, (ast.Name, ast.Attribute, ast.Subscript)) for s in sides
        )
    if isinstance(test.ops[0], ast.In) and isinstance(test.comparators[0], (ast.Tuple, ast.List)):
        return all(
            isinstance(e, ast.Constant) and isinstance(e.value, str)
            for e in test.comparators[0].elts
        )
    return False


def called_once_outside_loops(flow: Flow, node: ast.AST) -> bool:
    """The function around ``node`` is called at most once and never from a loop or a
    comprehension (module-level code counts as run once). A function called in a loop or
    several times may build each of its options in turn."""
    function = next(_enclosing_functions(flow, node), None)
    if function is None:
        return True
    names = flow.names
    if names is None:
        return False
    uses = [u for (_, name), found in names.loads.items() if name == function.name for u in found]
    uses += names.attr_loads.get(function.name, [])
    calls = 0
    for _, use in uses:
        parent = flow.parents.get(id(use))
        if not (isinstance(parent, ast.Call) and parent.func is use):
            return False  # passed around (a callback, a registry): cannot tell
        calls += 1
        current = flow.parents.get(id(parent))
        while current is not None:
            if isinstance(current, (ast.For, ast.While, *_COMPREHENSIONS)):
                return False
            current = flow.parents.get(id(current))
    return calls <= 1
