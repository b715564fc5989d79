"""Generated data that replaces the loaded data, for the imbalance and modeling graders.

RUBRIC.md: an API called on toy data earns nothing. A submission that loads its task's data
and then rebinds the names holding it (``X_train, y_train``) to a generated set
(``make_classification``, ``make_blobs``, random arrays) trains, resamples and scores on that
set instead: the work from there on says nothing about the task. A generated set bound to
fresh names (a demo of a helper beside the real work), one in a test file or a toy
``__main__`` block, or one followed by a model fitted on the loaded data again, is not a
replacement.

Per flow (:func:`graders.source.flow_statements`, reading order) names are followed through
assignments: *loaded* from a data reader (``read_csv``, ...) or a value computed from loaded
names, *generated* from a generator call whose value reads no loaded name. A replacement is
an assignment of a generated value to a name that held loaded data, whose generated names
then reach a fit, a resampler, a split or a cross-validation, with no fit on loaded data
after it in that flow. From the replacement to the end of its flow is a *synthetic span*.
Computed once per source (cached).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass

from graders.base import RedFlag
from graders.data_path import READERS, off_path
from graders.source import (
    CallSite,
    CodeUnit,
    SubmissionSource,
    assigned_names,
    assigned_value,
    dotted_name,
    evidence_for,
    flow_statements,
    names_in,
    position,
    site_at,
    walk_header,
)

GENERATORS = (
    "make_classification", "make_blobs", "make_moons", "make_circles", "make_regression",
    "make_gaussian_quantiles", "make_hastie_10_2", "make_friedman1", "make_friedman2",
    "make_friedman3", "make_multilabel_classification", "make_sparse_uncorrelated",
    "make_low_rank_matrix", "make_s_curve", "make_swiss_roll",
)  # fmt: skip
RANDOM_ARRAYS = (
    "rand", "randn", "random", "random_sample", "normal", "uniform", "randint", "integers",
    "standard_normal", "binomial", "poisson", "exponential",
)  # fmt: skip
CONSUMERS = (
    "fit", "fit_resample", "fit_sample", "fit_predict", "train_test_split", "cross_val_score",
    "cross_validate", "cross_val_predict", "train",
)  # fmt: skip
MODEL_FITS = ("fit", "fit_predict", "train")
EVALUATIONS = (
    "predict", "predict_proba", "decision_function", "score", "confusion_matrix",
    "classification_report", "roc_curve", "precision_recall_curve", "from_predictions",
    "from_estimator", "cross_val_score", "cross_validate", "cross_val_predict",
)  # fmt: skip


@dataclass(frozen=True)
class Replacement:
    """Loaded data rebound to a generated set that then reaches models."""

    generated: CallSite  # the generator call
    consumer: CallSite  # the first fit / resampler / split that takes the generated set
    start: tuple[int, int]  # reading-order position of the replacement in its path


def _last_name(call: ast.Call) -> tuple[str, str]:
    name = dotted_name(call.func) or ""
    return name, name.rsplit(".", 1)[-1]


def _is_generator(value: ast.AST) -> ast.Call | None:
    """The generator call a value is built from (``make_blobs(...)``, ``np.random.rand(...)``,
    also wrapped: ``pd.DataFrame(np.random.randn(...))``), else None."""
    for node in ast.walk(value):
        if not isinstance(node, ast.Call):
            continue
        name, last = _last_name(node)
        if last in GENERATORS:
            return node
        if last in RANDOM_ARRAYS and (".random." in f".{name}" or name.startswith("rng.")):
            return node
    return None


def _is_evaluation(name: str) -> bool:
    return name in EVALUATIONS or name.endswith(("_score", "_error"))


def _reads_data(value: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and _last_name(n)[1] in READERS for n in ast.walk(value))


def _call_data_names(call: ast.Call) -> set[str]:
    names: set[str] = set()
    for arg in list(call.args) + [k.value for k in call.keywords]:
        names |= names_in(arg)
    return names


@functools.lru_cache(maxsize=32)
def replacements(source: SubmissionSource) -> tuple[Replacement, ...]:
    """Every replacement of loaded data by a generated set on the real path (see module)."""
    found: list[Replacement] = []
    for statements in flow_statements(source).values():
        found += _flow_replacements(source, statements)
    return tuple(found)


def _flow_replacements(
    source: SubmissionSource, statements: list[tuple[CodeUnit, ast.stmt]]
) -> list[Replacement]:
    loaded: set[str] = set()
    generated: dict[str, int] = {}  # name -> index of its replacement in ``opened``
    opened: list[tuple[CallSite, tuple[int, int]]] = []
    reached: dict[int, CallSite] = {}
    real_fit_after: set[int] = set()
    for unit, stmt in statements:
        for node in walk_header(stmt):
            if not isinstance(node, ast.Call):
                continue
            last = _last_name(node)[1]
            if last not in CONSUMERS:
                continue
            used = _call_data_names(node)
            for name in used & generated.keys():
                reached.setdefault(generated[name], site_at(unit, node, last))
            if last in MODEL_FITS and used & loaded:
                real_fit_after |= set(range(len(opened)))
        value = assigned_value(stmt)
        if value is None:
            continue
        targets = assigned_names(stmt)
        reads = names_in(value)
        call = _is_generator(value)
        if call is not None and not reads & loaded:
            replaced = targets & loaded
            site = site_at(unit, call, _last_name(call)[0])
            if replaced and not off_path(source, site):
                opened.append((site, position(unit, stmt)))
                for name in targets:
                    generated[name] = len(opened) - 1
            loaded -= targets
        elif _reads_data(value) or reads & loaded:
            loaded |= targets
            for name in targets:
                generated.pop(name, None)
        elif reads & generated.keys():
            origin = min(generated[n] for n in reads & generated.keys())
            for name in targets:
                generated[name] = origin
        elif isinstance(stmt, ast.Assign):
            for name in targets:
                generated.pop(name, None)
    return [
        Replacement(site, reached[i], start)
        for i, (site, start) in enumerate(opened)
        if i in reached and i not in real_fit_after
    ]


def in_synthetic_span(source: SubmissionSource, site: CallSite) -> bool:
    """True when ``site`` comes at or after a replacement in the same path."""
    key = (-1 if site.cell is None else site.cell, site.line)
    return any(site.path == r.generated.path and key >= r.start for r in replacements(source))


def real_sites(source: SubmissionSource, sites: list[CallSite]) -> list[CallSite]:
    """``sites`` on the real path (:func:`graders.data_path.off_path`) and outside every
    synthetic span."""
    return [s for s in sites if not off_path(source, s) and not in_synthetic_span(source, s)]


@functools.lru_cache(maxsize=32)
def evaluated_only_on_generated(source: SubmissionSource) -> tuple[Replacement, ...]:
    """The replacements, when every model evaluation on the real path (predictions, scores,
    metrics, cross-validation) lies in a synthetic span and at least one does: then all the
    submission's results are on generated data. Empty otherwise."""
    found = replacements(source)
    if not found:
        return ()
    inside = outside = False
    for statements in flow_statements(source).values():
        for unit, stmt in statements:
            for node in walk_header(stmt):
                if not isinstance(node, ast.Call) or not _is_evaluation(_last_name(node)[1]):
                    continue
                site = site_at(unit, node, _last_name(node)[1])
                if off_path(source, site):
                    continue
                if in_synthetic_span(source, site):
                    inside = True
                else:
                    outside = True
    return found if inside and not outside else ()


def synthetic_data_flag(source: SubmissionSource, flag_id: str, sentence: str) -> RedFlag | None:
    """The grader's red flag ``flag_id`` when every evaluation runs on a generated set that
    replaced the loaded data; the evidence is where the data is replaced and where the
    generated set is used (the first two replacements)."""
    found = evaluated_only_on_generated(source)
    if not found:
        return None
    evidence = []
    for replacement in found[:2]:
        evidence.append(evidence_for(replacement.generated,
                                     note="the loaded data is replaced by a generated set here"))
        evidence.append(evidence_for(replacement.consumer, note="the generated set is used here"))
    return RedFlag(id=flag_id, severity="high", sentence=sentence, evidence=evidence)
