"""Exploration: did the candidate study the training data, say what it showed, and act on it?

Reviewers value interpretation and consequences far above API calls, so the checks climb the
same ladder as the rubric: a mechanical look (overview, target distribution, plots), written
findings, feature-vs-target analysis, data-quality issues found *and acted on*, and finally a
narrated, systematic exploration that checks leakage or train/test drift.

Only exploration of the training data counts: code in test files, data-validation modules or
files that only read prediction outputs is not EDA. Written findings come from notebook markdown
next to exploration code and from Markdown/R Markdown reports (or report sections) about the
exploration; headings, plans ("we will explore ...") and descriptions of a figure do not count.
Everything is static: the figures' content and the truth of the findings cannot be judged.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from graders.artifacts import read_text_capped, sniff_image_file
from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag
from graders.exploration_text import comment_finding, data_facts, findings
from graders.source import (
    SKIPPED_DIRS,
    CallSite,
    CodeUnit,
    SubmissionSource,
    assigned_names,
    comment_lines,
    distinct_locations,
    dotted_name,
    flow_statements,
    import_aliases,
    iter_calls,
    iter_trees,
    output_evidence,
    root_name,
    site_at,
    site_check,
    sort_sites,
    source_for,
    string_constants,
    walk_header,
)

OVERVIEW_CALLS = (
    "info", "describe", "head", "tail", "sample", "nunique", "unique", "value_counts",
    "profile_report", "ProfileReport", "isnull", "isna", "duplicated",
)  # fmt: skip
OVERVIEW_ATTRIBUTES = ("shape", "dtypes", "columns")
DISTRIBUTION_CALLS = ("value_counts", "countplot", "hist", "histplot", "bincount", "Counter",
                      "pie", "barplot", "kdeplot", "displot", "distplot")  # fmt: skip
PLOT_CALLS = (
    "hist", "histplot", "kdeplot", "displot", "distplot", "boxplot", "violinplot", "pairplot",
    "heatmap", "scatter", "scatterplot", "jointplot", "scatter_matrix", "regplot", "lmplot",
    "catplot", "stripplot", "swarmplot", "barplot", "countplot", "lineplot", "pointplot",
    "FacetGrid", "plot", "bar", "barh", "pie", "imshow", "probplot", "matrix", "heatmap",
)  # fmt: skip
SEABORN_LIKE = frozenset(PLOT_CALLS) - {"plot", "bar", "barh", "pie", "imshow", "matrix"}
TARGET_KEYWORDS = ("hue", "x", "y", "col", "row", "by", "color", "c", "column")
GROUP_CALLS = ("groupby", "pivot_table", "crosstab", "corrwith", "pivot")
TEST_CALLS = (
    "chi2_contingency", "ttest_ind", "mannwhitneyu", "f_oneway", "kruskal", "pointbiserialr",
    "mutual_info_classif", "mutual_info_regression", "f_classif", "chi2",
)  # fmt: skip
DRIFT_CALLS = ("ks_2samp", "wasserstein_distance", "anderson_ksamp", "population_stability_index")
LOAD_CALLS = ("read_csv", "read_parquet", "read_excel", "read_json", "read_sql", "read_table",
              "read_feather", "load_dataset", "fetch_openml", "read_sql_query")  # fmt: skip
MODEL_CALLS = ("fit", "fit_transform", "predict", "predict_proba", "cross_val_score",
               "classification_report", "GridSearchCV", "train_test_split")  # fmt: skip

# Data-quality detection (in the exploration) and treatment (anywhere on the data path), by kind.
DETECTIONS = {
    "missing": ("isnull", "isna", "notnull", "notna", "matrix", "heatmap"),
    "duplicates": ("duplicated",),
    "outliers": ("quantile", "percentile", "zscore", "boxplot", "describe", "IsolationForest"),
    "categories": ("unique", "value_counts", "nunique"),
}
TREATMENTS = {
    "missing": ("fillna", "dropna", "interpolate", "SimpleImputer", "KNNImputer",
                "IterativeImputer", "ffill", "bfill"),
    "duplicates": ("drop_duplicates",),
    "outliers": ("clip", "winsorize", "where", "mask", "RobustScaler"),
    "categories": ("replace", "map", "lower", "upper", "strip", "title", "capitalize"),
}  # fmt: skip
STRING_TREATMENTS = ("lower", "upper", "strip", "title", "capitalize")  # only through ``.str``

SAVEFIG_CALLS = ("savefig", "write_image")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
REPORT_SUFFIXES = (".md", ".rst", ".rmd", ".qmd")
MAX_IMAGE_FILES = 200
MAX_REPORT_BYTES = 2_000_000
PROSE_WINDOW_AFTER = 3  # a markdown cell up to this many cells after exploration code
PROSE_WINDOW_BEFORE = 1  # or just before it ("the plot below shows that ...")
MIN_INTERPRETED = 2  # written findings that make plots more than a mechanical look
MIN_UNINTERPRETED_VERSUS = 2  # feature-vs-target looks that lift uninterpreted EDA above 1
SOME_FINDINGS = 5  # written findings for "basic plots with some written observations"
NARRATED_FINDINGS = 15  # for "systematic and narrated"

_Y_NAME = re.compile(r"^y(_(train|test|tr|te|val|valid|dev|all|full|true))?$")  # not y_pred
_TARGET_SUFFIX = r"_?(col|column|name|var|variable|feature|field)s?"
_TARGET_VAR = re.compile(
    rf"^(target|label|y)({_TARGET_SUFFIX})?$|^(output|outcome|response|dependent){_TARGET_SUFFIX}$",
    re.IGNORECASE,
)
# Keyword arguments naming the target (``label=`` and ``y=`` are plot labels and data).
_TARGET_KEYWORD = re.compile(
    rf"^target$|^(target|label|y|output|outcome|response|dependent){_TARGET_SUFFIX}$",
    re.IGNORECASE,
)
_FRAME_ATTRIBUTES = frozenset(
    {"values", "iloc", "loc", "at", "iat", "shape", "columns", "index", "dtypes", "T", "size",
     "empty", "str", "dt", "cat", "array", "ndim", "name", "data", "target", "labels"}
)  # fmt: skip
_LABELS_NAME = re.compile(r"^(\w+_)?(labels?|targets?)$", re.IGNORECASE)  # all_labels = df.x
_TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)(test_[^/]*|[^/]*_test\.py|conftest\.py)$")
_VALIDATION_PATH = re.compile(r"validat|schema|monitor|dashboard|streamlit", re.IGNORECASE)
# Serving code (web apps, APIs, inference services) runs the model on new data: it is not EDA.
_SERVING_DIR = re.compile(
    r"(^|/)(apps?|api|apis|serving|serve|services?|server|deploy\w*|inference|webapp|web)/",
    re.IGNORECASE,
)
_SERVING_STEM = re.compile(
    r"^(app|api|serve|server|service|predictor|infer|wsgi|asgi|routes?|endpoints?|handlers?|"
    r"api_\w+|\w+_api|\w+_service)$|^predict(ion|ions|or)?($|_)|inference|serving",
    re.IGNORECASE,
)
_SERVING_IMPORTS = frozenset(
    {"fastapi", "flask", "starlette", "uvicorn", "bentoml", "gradio", "django", "litestar",
     "sanic", "tornado", "gunicorn", "ray.serve", "mlserver", "kserve"}
)  # fmt: skip
_EDA_NAME = re.compile(r"eda|explor|analys|visuali|insight|finding|report|profil", re.IGNORECASE)
_EDA_HEADING = re.compile(
    r"\b(eda|exploratory|exploration|explore|data analysis|insights?|findings|observations?|"
    r"data quality|data understanding|key takeaways?|data overview)\b",
    re.IGNORECASE,
)
_PREDICTION_SOURCE = re.compile(r"pred|output|result|submission|score|forecast", re.IGNORECASE)
_TRAIN_NAME = re.compile(r"train", re.IGNORECASE)
_TEST_NAME = re.compile(r"test|holdout|valid|oot", re.IGNORECASE)
# Plots of a model's results (confusion matrix, ROC, importances, SHAP, training history).
_MODEL_PLOT = re.compile(
    r"display|confusion|\broc|precision_recall|curve|importance|shap|"
    r"history|\bloss|pred|plot_tree|residual",
    re.IGNORECASE,
)
_ID_NAME = re.compile(r"(^|_)(id|ids|index|key|number)$|[a-z]ID$|Id$|^Unnamed", re.IGNORECASE)
_DERIVED_NOT_TARGET = re.compile(r"pred|prob|score|proba", re.IGNORECASE)
_LEAK_WORDS = re.compile(
    r"\bleak\w*.{0,80}\b(feature|column|variable|field|target|label|future|outcome|after)\b|"
    r"\b(feature|column|variable|field)\b.{0,80}\bleak\w*|"
    r"\b(drift|shift)\w*.{0,60}\b(train|test)|\b(train|test)\w*.{0,60}\b(drift|shift)\w*|"
    r"\btrain(ing)?\b.{0,40}\btest\b.{0,40}\b(distribution|differ|similar)",
    re.IGNORECASE,
)
_NO_LEAK = re.compile(r"\b(no|avoid\w*|prevent\w*|without)\b.{0,20}\bleak", re.IGNORECASE)


@dataclass
class _Scope:
    """What the grader judged as exploration of the training data."""

    units: list[CodeUnit] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)
    excluded: dict[str, str] = field(default_factory=dict)  # path -> why it is not EDA


class ExplorationGrader:
    """Climbs the rubric's ladder: mechanical look, written findings, feature-vs-target analysis,
    data-quality issues acted on, narrated and leakage/drift-aware exploration."""

    name = "exploration"
    version = "4"

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge the exploration the submission shows (never raises for candidate faults)."""
        source = source_for(context)
        scope = _eda_scope(source)
        targets = _target_names(
            source, getattr(getattr(context.assignment, "spec", None), "target", None)
        )
        reports = _report_texts(source)
        prose = _notebook_prose(source, scope) + reports
        written = [(ev, sentence) for ev, text in prose for sentence in findings(text)]
        written += _comment_findings(source, scope)
        written += _document_facts(source, {sentence for _, sentence in written})
        in_scope = _in_scope(scope)

        overview = in_scope(_overview_sites(source)) + _report_code_sites(reports, "overview")
        target_sites = in_scope(_target_distribution_sites(source, targets))
        plots = [
            s for s in in_scope(_calls(source, PLOT_CALLS)) if not _MODEL_PLOT.search(s.excerpt)
        ]
        plots += _report_code_sites(reports, "plots") + [
            site for site in _profiling_sites(source) if site.path not in scope.excluded
        ]  # a profiling report is exploration wherever its helper lives
        versus = in_scope(_feature_vs_target_sites(source, targets))
        versus += _report_versus_sites(reports, targets)
        quality = _quality_acted_on(source, scope, targets, written)
        leakage = in_scope(_drift_sites(source, targets)) + _leak_comment_sites(source, scope)
        leak_prose = [
            (ev, s) for ev, s in written if _LEAK_WORDS.search(s) and not _NO_LEAK.search(s)
        ]
        figures_evidence, figure_count = _figures(context, source, scope)

        checks = [
            site_check(
                "exploration.overview", overview, weight=1,
                found="Took a mechanical look at the training data ({names}).",
                missing="No overview of the training data (shape, info(), describe(), head()).",
            ),
            _target_check(target_sites, targets),
            _plots_check(plots, figures_evidence, figure_count),
            _findings_check("exploration.observations", written, SOME_FINDINGS, weight=2),
            site_check(
                "exploration.feature_vs_target", versus, weight=2,
                found="Related features to the target ({names}: plots split by the target, "
                "target rates by group, correlation or tests against the target).",
                missing="No feature-vs-target analysis (hue/x of the target, groupby on the "
                "target, target rate by category, correlation with the target).",
            ),
            _quality_check(quality),
            _findings_check("exploration.narrated", written, NARRATED_FINDINGS, weight=1),
            _leakage_check(leakage, leak_prose),
        ]  # fmt: skip
        by_id = {check.id: check for check in checks}
        red_flags = _red_flags(by_id, written, len(distinct_locations(versus)))
        details = {
            "targets": sorted(targets),
            "eda_paths": sorted(scope.paths),
            "excluded_paths": dict(sorted(scope.excluded.items())),
            "written_findings": len(written),
            "figures": figure_count,
            "not_judged": "Static: the figures' content and the truth of the written findings "
            "were not checked; exploration written in R is seen only through its report text.",
        }
        return GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details,
            reason=f"{sum(c.passed for c in checks)} of {len(checks)} exploration checks passed "
            f"({len(written)} written finding(s)).",
        )  # fmt: skip


# --------------------------------------------------------------------------- scope


@functools.lru_cache(maxsize=32)
def _eda_scope(source: SubmissionSource) -> _Scope:
    """Code units that explore the training data: notebooks, and scripts that load data or are
    named for exploration; never tests, validation modules or readers of prediction outputs."""
    scope = _Scope()
    loads: dict[str, list[set[str]]] = {}
    for unit, call, name, canonical in iter_calls(source):
        if _last(name) in LOAD_CALLS or _last(canonical) in LOAD_CALLS:
            loads.setdefault(unit.path, []).append(string_constants(call))
    serving = {
        path
        for path, table in import_aliases(source).items()
        if any(_imported_module(full) in _SERVING_IMPORTS for full in table.values())
    }
    for unit in source.code_units:
        path = unit.path
        if _TEST_PATH.search(path):
            scope.excluded[path] = "test file"
        elif _VALIDATION_PATH.search(Path(path).name):
            scope.excluded[path] = "data-validation or monitoring module"
        elif path in serving or _SERVING_DIR.search(path) or (
            unit.origin == "py" and _SERVING_STEM.match(Path(path).stem)
        ):
            scope.excluded[path] = "serving or inference code (app, API, predictor)"
        elif (
            path in loads
            and all(any(_PREDICTION_SOURCE.search(s) for s in consts) for consts in loads[path])
            and all(consts for consts in loads[path])
        ):
            scope.excluded[path] = "reads prediction outputs, not the training data"
        elif unit.origin == "notebook" or path in loads or _EDA_NAME.search(Path(path).stem):
            scope.units.append(unit)
            scope.paths.add(path)
    return scope


def _imported_module(full_name: str) -> str:
    """``fastapi`` for ``fastapi.FastAPI``, ``ray.serve`` for ``ray.serve.deployment``."""
    parts = full_name.split(".")
    return ".".join(parts[:2]) if parts[0] == "ray" else parts[0]


def _in_scope(scope: _Scope):
    """A filter keeping the sites that lie in the exploration scope."""

    def keep(sites: list[CallSite]) -> list[CallSite]:
        return [site for site in sites if site.path in scope.paths]

    return keep


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _calls(source: SubmissionSource, names: tuple[str, ...]) -> list[CallSite]:
    wanted = set(names)
    return sort_sites(
        site_at(unit, call, name)
        for unit, call, name, canonical in iter_calls(source)
        if _last(name) in wanted or _last(canonical) in wanted
    )


_PROFILERS = ("sweetviz.", "ydata_profiling.", "pandas_profiling.", "dtale.", "autoviz.")


def _profiling_sites(source: SubmissionSource) -> list[CallSite]:
    """Automated profiling reports (Sweetviz, ydata-profiling, D-Tale, AutoViz): they plot
    every column, a mechanical but real look at the data."""
    return sort_sites(
        site_at(unit, call, name)
        for unit, call, name, canonical in iter_calls(source)
        if canonical.startswith(_PROFILERS) or _last(canonical) in ("ProfileReport", "profile_report")
    )


def _overview_sites(source: SubmissionSource) -> list[CallSite]:
    """Overview calls and attributes (``head()``, ``df.shape``, ``isnull()``) whose result is
    shown: a notebook cell's last expression, the argument of print/display/a logger/a plot, a
    table saved as a report, or a variable that is then shown; ``info()`` and profile reports
    show themselves. Uses inside ``assert``, ``if``/``while`` tests, membership tests,
    comprehension conditions or lambdas are the code's own checks, not a look at the data."""
    sites = []
    for unit, _ in iter_trees(source):
        roots = _shown_roots(unit)
        shown_names = {
            n.id for root in roots for n in _walk_shown(root) if isinstance(n, ast.Name)
        }
        roots += [root for node in unit.nodes if (root := _shown_value(node, shown_names))]
        seen: set[int] = set()
        for root in roots:
            for node in _walk_shown(root):
                if id(node) in seen:
                    continue
                seen.add(id(node))
                site = _overview_site(unit, node)
                if site is not None:
                    sites.append(site)
    return sort_sites(sites)


def _shown_value(node: ast.AST, shown_names: set[str]) -> ast.AST | None:
    """The value of a variable that is later shown, or a call that shows itself."""
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in shown_names
    ):
        return node.value
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return node.value if _self_showing(node.value) else None
    return None


_SHOW_CALLS = frozenset({"print", "display", "pprint", "write", "dataframe", "table", "markdown"})
_LOG_OWNERS = re.compile(r"^(log|logger|logging|_logger|LOG|LOGGER)$|log", re.IGNORECASE)
_LOG_METHODS = frozenset({"info", "debug", "warning", "warn", "error", "critical", "log"})
_REPORT_SAVES = frozenset(
    {"to_csv", "to_markdown", "to_html", "to_latex", "to_excel", "to_string", "to_file"}
)
_NOT_SHOWN = (ast.Lambda, ast.Assert, ast.If, ast.While, ast.IfExp, ast.FunctionDef)


def _shown_roots(unit: CodeUnit) -> list[ast.AST]:
    """Expressions of ``unit`` whose value is displayed, logged, plotted or saved as a report."""
    roots: list[ast.AST] = []
    body = unit.tree.body if unit.tree is not None else []
    if unit.cell is not None and body and isinstance(body[-1], ast.Expr):
        roots.append(body[-1].value)  # the cell's displayed result
    plots = set(PLOT_CALLS)
    for node in unit.nodes:
        if not isinstance(node, ast.Call):
            continue
        name = dotted_name(node.func) or ""
        last = _last(name)
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        if (
            (last in _SHOW_CALLS and (not owner or owner in ("st", "IPython.display")))
            or (last in _LOG_METHODS and owner and _LOG_OWNERS.search(owner.split(".")[-1]))
            or last in plots
        ):
            roots.extend([*node.args, *(k.value for k in node.keywords)])
        if isinstance(node.func, ast.Attribute) and (last in _REPORT_SAVES or last in plots):
            roots.append(node.func.value)  # df.describe().to_csv(...), s.value_counts().plot()
    return roots


def _self_showing(call: ast.Call) -> bool:
    """``df.info()`` prints itself; a profile report is a report."""
    last = _last(dotted_name(call.func) or "")
    return (last == "info" and not call.args) or last in ("profile_report", "ProfileReport")


def _walk_shown(root: ast.AST):
    """``ast.walk`` of a shown expression, skipping the parts whose value is not shown:
    lambdas, conditions, membership tests and comprehension filters."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, _NOT_SHOWN):
            continue
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.In, ast.NotIn)) for op in node.ops
        ):
            continue
        yield node
        if isinstance(node, ast.comprehension):
            stack.extend([node.iter])  # its ``ifs`` only filter
            continue
        stack.extend(ast.iter_child_nodes(node))


def _overview_site(unit: CodeUnit, node: ast.AST) -> CallSite | None:
    """The overview call or attribute at ``node``, if it is one."""
    if isinstance(node, ast.Call):
        name = dotted_name(node.func) or ""
        if _last(name) in OVERVIEW_CALLS:
            return site_at(unit, node, name)
    elif (
        isinstance(node, ast.Attribute)
        and node.attr in OVERVIEW_ATTRIBUTES
        and isinstance(node.value, ast.Name)
        and not node.value.id.startswith(("np", "X"))
    ):
        return site_at(unit, node, f"{node.value.id}.{node.attr}")
    return None


# --------------------------------------------------------------------------- the target


def _target_names(source: SubmissionSource, declared: str | None) -> set[str]:
    """The target's column name(s): the declared one, plus those the code uses as ``y``
    (``y = df["churn"]``, ``X = df.drop("churn", ...)``, ``df.pop("churn")``,
    ``TARGET = "churn"``)."""
    names = {declared} if declared else set()
    for unit, _ in iter_trees(source):
        if _TEST_PATH.search(unit.path):
            continue
        for node in unit.nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                names |= _target_from_assign(node.targets[0], node.value)
            elif isinstance(node, ast.keyword) and node.arg and _TARGET_KEYWORD.match(node.arg):
                names |= _single_name(node.value)  # train(..., target_col=["churn"])
    names = {n for n in names if n and len(n) <= 80 and not _ID_NAME.search(n)}
    return names | _named_after(source, names)


def _stem(word: str) -> str:
    return re.sub(r"(ed|s)$", "", word.lower())


def _named_after(source: SubmissionSource, targets: set[str]) -> set[str]:
    """Columns the code derives and names after the target (``is_default`` for ``defaulted``)."""
    stems = {
        _stem(tok)
        for t in targets
        for tok in re.split(r"[_\W]+|(?<=[a-z])(?=[A-Z])", t)
        if len(tok) >= 4
    }
    found = set()
    for unit, _ in iter_trees(source):
        for node in unit.nodes:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                    column = target.slice.value
                    if (
                        isinstance(column, str)
                        and column not in targets
                        and not _DERIVED_NOT_TARGET.search(column)
                        and any(
                            _stem(tok) in stems
                            for tok in re.split(r"[_\W]+", column)
                            if len(tok) >= 4
                        )
                    ):
                        found.add(column)
    return found


def _target_from_assign(target: ast.AST, value: ast.AST) -> set[str]:
    name = target.id if isinstance(target, ast.Name) else None
    if name is None:
        return set()
    if _TARGET_VAR.match(name) and (found := _single_name(value)):
        return found
    label_like = bool(_Y_NAME.match(name) or _LABELS_NAME.match(name))
    if label_like and isinstance(value, ast.Subscript) and (found := _single_name(value.slice)):
        return found
    if (
        label_like
        and isinstance(value, ast.Attribute)
        and isinstance(value.value, ast.Name)
        and value.attr not in _FRAME_ATTRIBUTES
    ):
        return {value.attr}  # y = df.churn
    method = (
        value.func.attr
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
        else None
    )
    if (
        _Y_NAME.match(name)
        and method == "pop"
        and value.args
        and isinstance(value.args[0], ast.Constant)
    ):
        return {str(value.args[0].value)}
    if name.startswith("X") and method == "drop":
        dropped = [*value.args[:1], *(k.value for k in value.keywords if k.arg == "columns")]
        consts = set().union(*(string_constants(d) for d in dropped)) if dropped else set()
        if len(consts) == 1:
            return consts
    return set()


def _single_name(node: ast.AST) -> set[str]:
    """``{"churn"}`` for ``"churn"`` or ``["churn"]`` (a one-column list), else empty."""
    if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == 1:
        node = node.elts[0]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    return set()


def _aliases(source: SubmissionSource, targets: set[str]) -> dict[str, set[str]]:
    """Per path, variables holding a target's name (``TARGET = "churn"``)."""
    found: dict[str, set[str]] = {}
    for unit, _ in iter_trees(source):
        known = found.setdefault(unit.path, set())
        for node in unit.nodes:
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and node.value.value in targets
            ):
                known.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return found


def _mentions(node: ast.AST, targets: set[str], aliases: set[str]) -> bool:
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and child.value in targets:
            return True
        if isinstance(child, ast.Attribute) and child.attr in targets:
            return True
        if isinstance(child, ast.Name) and (child.id in aliases or _Y_NAME.match(child.id)):
            return True
    return False


def _target_distribution_sites(source: SubmissionSource, targets: set[str]) -> list[CallSite]:
    """Distribution calls (value_counts, countplot, hist ...) on the target."""
    aliases = _aliases(source, targets)
    sites = []
    for unit, call, name, canonical in iter_calls(source):
        last = _last(canonical)
        if last in ("size", "count") and _grouped_by_target(call, targets, aliases, unit):
            sites.append(site_at(unit, call, name))  # df.groupby("churn").size(): class counts
            continue
        if last not in DISTRIBUTION_CALLS and _last(name) not in DISTRIBUTION_CALLS:
            continue
        subject = call.func.value if isinstance(call.func, ast.Attribute) else call
        keywords = [k.value for k in call.keywords if k.arg in ("x", "y", "data", None)]
        nodes = [subject, *call.args[:1], *keywords]
        if last in (
            "countplot",
            "pie",
            "bincount",
            "Counter",
            "hist",
            "histplot",
            "kdeplot",
            "displot",
            "distplot",
            "barplot",
            "value_counts",
        ):
            nodes = [n for n in nodes if not _has_other_hue(call)]
        if any(_mentions(n, targets, aliases.get(unit.path, set())) for n in nodes):
            sites.append(site_at(unit, call, name))
    return sort_sites(sites)


def _grouped_by_target(
    call: ast.Call, targets: set[str], aliases: dict[str, set[str]], unit: CodeUnit
) -> bool:
    """``call`` counts rows of a frame grouped by the target alone (``groupby(t).size()``)."""
    node = call.func.value if isinstance(call.func, ast.Attribute) else None
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        if isinstance(node, ast.Call) and _last(dotted_name(node.func) or "") == "groupby":
            keys = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "by")]
            return any(_mentions(k, targets, aliases.get(unit.path, set())) for k in keys)
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def _has_other_hue(call: ast.Call) -> bool:
    return any(k.arg == "hue" for k in call.keywords)


def _feature_vs_target_sites(source: SubmissionSource, targets: set[str]) -> list[CallSite]:
    """Plots split by the target, groupby/crosstab/pivot with the target, correlation with the
    target, statistical tests."""
    aliases = _aliases(source, targets)
    sites = []
    for unit, call, name, canonical in iter_calls(source):
        last = _last(canonical)
        known = aliases.get(unit.path, set())
        if last in SEABORN_LIKE or last in ("plot", "bar"):
            for keyword in call.keywords:
                if keyword.arg in TARGET_KEYWORDS and _mentions(keyword.value, targets, known):
                    other = [
                        k for k in call.keywords if k.arg in TARGET_KEYWORDS and k is not keyword
                    ]
                    if other or keyword.arg in ("hue", "by", "col", "row", "c", "color"):
                        sites.append(site_at(unit, call, name))
                        break
        elif last in GROUP_CALLS or last in TEST_CALLS:
            if last in TEST_CALLS or _mentions(call, targets, known):
                sites.append(site_at(unit, call, name))
        elif (
            last == "corr"
            and isinstance(call.func, ast.Attribute)
            and call.args
            and _mentions(call.args[0], targets, known)
        ):
            sites.append(site_at(unit, call, name))
    for unit, _ in iter_trees(source):
        known = aliases.get(unit.path, set())
        for node in unit.nodes:  # df.corr()["churn"], groupby(...)["churn"].mean()
            if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call):
                inner = dotted_name(node.value.func) or ""
                if _last(inner) in ("corr", "groupby") and _mentions(node.slice, targets, known):
                    sites.append(site_at(unit, node, inner + "[]"))
    return sort_sites(sites)


def _target_check(sites: list[CallSite], targets: set[str]) -> Check:
    shown = ", ".join(repr(t) for t in sorted(targets)[:3]) or "unknown"
    return site_check(
        "exploration.target_distribution", sites, weight=1,
        found=f"Looked at the distribution of the target ({shown}) ({{names}}).",
        missing=f"The target's distribution or class balance was not examined (target: {shown}; "
        "value_counts, countplot or histogram of the target or of y).",
    )  # fmt: skip


# --------------------------------------------------------------------------- quality


_QUALITY_MODEL_CALLS = frozenset(
    {"fit", "predict", "predict_proba", "cross_val_score", "cross_validate", "GridSearchCV",
     "RandomizedSearchCV"}
)  # fmt: skip


@dataclass(frozen=True)
class _QualityStep:
    """A data-quality check (detection) or fix (treatment) at one statement."""

    kind: str
    site: CallSite
    columns: frozenset[str]  # string constants it names
    frames: frozenset[str]  # variables it works on
    order: int  # statement order in its file; -1: stated in writing


def _quality_acted_on(
    source: SubmissionSource,
    scope: _Scope,
    targets: set[str],
    written: list[tuple[Evidence, str]],
) -> list[tuple[str, CallSite, CallSite]]:
    """``(kind, detection, treatment)``: a data-quality issue looked for in the exploration
    before any modelling and then treated on the same data: later in the same file on a column
    or frame the check named, or anywhere on the data path on a column the check named.
    A value mapping or type change after modelling (renaming coefficients) is not a fix."""
    detections: list[_QualityStep] = []
    treatments: list[_QualityStep] = []
    exploring = {
        u.path for u in scope.units if u.origin == "notebook" or _EDA_NAME.search(Path(u.path).stem)
    }
    for path, statements in flow_statements(source).items():
        if path in scope.excluded:
            continue
        modelled = False
        for order, (unit, stmt) in enumerate(statements):
            header = walk_header(stmt)
            calls = [n for n in header if isinstance(n, ast.Call)]
            modelled = modelled or any(
                _last(dotted_name(c.func) or "") in _QUALITY_MODEL_CALLS for c in calls
            )
            columns = frozenset(
                string_constants(stmt)
                if not isinstance(stmt, (ast.FunctionDef, ast.ClassDef))
                else ()
            )
            names = frozenset(n.id for n in header if isinstance(n, ast.Name))
            in_lambda = {
                id(inner)
                for n in header
                if isinstance(n, ast.Lambda)
                for inner in ast.walk(n.body)
            }  # a check inside a lambda/apply helper is not a look at the data
            for node in calls:
                name = dotted_name(node.func) or ""
                last = _last(name)
                for kind, wanted in DETECTIONS.items():
                    if (
                        last in wanted
                        and path in exploring
                        and not modelled
                        and id(node) not in in_lambda
                        and not (kind == "categories" and _mentions(node, targets, set()))
                    ):
                        root = root_name(node.func)
                        detections.append(_QualityStep(
                            kind, site_at(unit, node, name), frozenset(string_constants(node)),
                            frozenset({root} if root else ()), order,
                        ))  # fmt: skip
                for kind, wanted in TREATMENTS.items():
                    if (
                        last in wanted
                        and _treats_data(node, name)
                        and not (kind == "categories" and _mentions(node.func, targets, set()))
                    ):
                        treatments.append(
                            _QualityStep(kind, site_at(unit, node, name), columns, names, order)
                        )
            if _is_filter(stmt):
                site = site_at(unit, stmt, "filter rows")
                treatments.append(_QualityStep("outliers", site, columns, names, order))
    for kind, site in _report_detections(source) + _written_detections(written):
        detections.append(_QualityStep(kind, site, frozenset(), frozenset(), -1))
    found: dict[str, tuple[str, CallSite, CallSite]] = {}
    for treat in treatments:
        for detect in detections:
            if detect.kind == treat.kind and _acts_on(detect, treat):
                found.setdefault(treat.kind, (treat.kind, detect.site, treat.site))
                break
    return list(found.values())


def _acts_on(detect: _QualityStep, treat: _QualityStep) -> bool:
    """The treatment fixes what the detection looked at (see :func:`_quality_acted_on`)."""
    if detect.order == -1:
        return True  # the issue is stated in writing
    shared = (detect.columns & treat.columns) - {""}
    if detect.site.path != treat.site.path:
        return bool(shared)
    if detect.order >= treat.order:
        return False
    return bool(shared) or (not detect.columns and bool(detect.frames & treat.frames))


def _treats_data(call: ast.Call, name: str) -> bool:
    """A treatment applied to a frame or column, not to a string or a plot (``plt.title``)."""
    if not isinstance(call.func, ast.Attribute):
        return name.rsplit(".", 1)[-1][:1].isupper()  # SimpleImputer(...)
    last = call.func.attr
    if last in STRING_TREATMENTS:
        return ".str." in name
    owner = call.func.value
    if isinstance(owner, ast.Constant) or name.split(".")[0] in ("plt", "ax", "fig", "os", "re"):
        return False
    return not (last in ("replace", "strip") and isinstance(owner, ast.Name) and not call.args)


def _is_filter(stmt: ast.stmt) -> bool:
    """``df = df[df["age"] >= 0]`` or ``df.drop(df[df.x > q].index)``: rows of a frame removed
    by a test on its own values."""
    if not isinstance(stmt, ast.Assign) or not isinstance(stmt.value, (ast.Subscript, ast.Call)):
        return False
    rebound = {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    from_name = (
        getattr(stmt.value, "value", None)
        if isinstance(stmt.value, ast.Subscript)
        else getattr(stmt.value.func, "value", None)
    )
    if not (isinstance(from_name, ast.Name) and from_name.id in rebound):
        return False
    for node in ast.walk(stmt.value):
        if isinstance(node, ast.Subscript) and any(
            isinstance(n, ast.Compare) for n in ast.walk(node.slice)
        ):
            return True
    return False


def _quality_check(found: list[tuple[str, CallSite, CallSite]]) -> Check:
    if not found:
        return Check(id="exploration.quality_acted_on", passed=False, weight=2,
                     sentence="No data-quality issue was both looked for in the exploration "
                     "(missing values, duplicates, outliers or invalid values, inconsistent "
                     "categories) and then treated (fillna/dropna, drop_duplicates, clip or a "
                     "row filter, replace/map).")  # fmt: skip
    evidence = []
    for kind, detection, treatment in found[:3]:
        evidence.append(_site_evidence(detection, f"{kind}: looked for"))
        evidence.append(_site_evidence(treatment, f"{kind}: acted on"))
    kinds = ", ".join(kind for kind, _, _ in found)
    return Check(id="exploration.quality_acted_on", passed=True, weight=2,
                 sentence=f"Data-quality issues looked for in the exploration were acted on "
                 f"({kinds}).", evidence=evidence)  # fmt: skip


def _site_evidence(site: CallSite, note: str) -> Evidence:
    return Evidence(path=site.path, cell=site.cell, line=site.line, excerpt=site.excerpt, note=note)


# --------------------------------------------------------------------------- leakage / drift


def _drift_sites(source: SubmissionSource,
                 targets: set[str] | frozenset[str] = frozenset()) -> list[CallSite]:
    """Drift tests, a distribution summary that sets train and test side by side, or a plot
    of train and test concatenated and coloured by a column that is not the target."""
    sites = _calls(source, DRIFT_CALLS)
    for statements in flow_statements(source).values():
        stacked: set[str] = set()  # frames holding train and test rows together
        for unit, stmt in statements:
            nodes = list(walk_header(stmt))
            stacked |= _stacks_train_and_test(stmt, nodes)
            sites += [site_at(unit, n, "train vs test plot") for n in nodes
                      if _split_coloured_plot(n, stacked, targets)]  # fmt: skip
            names = {n.id for n in nodes if isinstance(n, ast.Name)}
            calls = {_last(dotted_name(n.func) or "") for n in nodes if isinstance(n, ast.Call)}
            if calls & set(MODEL_CALLS) or not calls & {
                "describe",
                "mean",
                "hist",
                "histplot",
                "kdeplot",
                "value_counts",
                "boxplot",
            }:
                continue
            names = {n for n in names if not _Y_NAME.match(n)}
            if any(_TRAIN_NAME.search(n) for n in names) and any(
                _TEST_NAME.search(n) and not _TRAIN_NAME.search(n) for n in names
            ):
                sites.append(site_at(unit, stmt, "train vs test"))
    return sort_sites(sites)


def _stacks_train_and_test(stmt: ast.stmt, nodes: list[ast.AST]) -> set[str]:
    """Names bound by ``pd.concat([train..., test...])`` (train and test rows in one frame)."""
    for node in nodes:
        if not (isinstance(node, ast.Call) and node.args
                and _last(dotted_name(node.func) or "") == "concat"):  # fmt: skip
            continue
        parts = {n.id for n in ast.walk(node.args[0]) if isinstance(n, ast.Name)}
        if any(_TRAIN_NAME.search(n) for n in parts) and any(
            _TEST_NAME.search(n) and not _TRAIN_NAME.search(n) for n in parts
        ):
            return assigned_names(stmt)
    return set()


def _split_coloured_plot(node: ast.AST, stacked: set[str],
                         targets: set[str] | frozenset[str]) -> bool:
    """``sns.kdeplot(both, x="age", hue="dataset")``: a stacked frame plotted by a named column
    that is not the target (train and test distributions overlaid)."""
    if not stacked or not isinstance(node, ast.Call):
        return False
    if _last(dotted_name(node.func) or "") not in PLOT_CALLS:
        return False
    colour = next((k.value for k in node.keywords if k.arg in ("hue", "by", "col", "row")), None)
    if not (isinstance(colour, ast.Constant) and isinstance(colour.value, str)):
        return False
    if colour.value in targets:
        return False
    data = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    return bool(data & stacked)


def _leak_comment_sites(source: SubmissionSource, scope: _Scope) -> list[CallSite]:
    """A column dropped next to a comment saying it leaks the target."""
    sites = []
    for unit in source.code_units:
        if unit.path in scope.excluded:
            continue
        lines = unit.code.split("\n")
        for number, text in comment_lines(unit):
            if re.search(r"\bleak", text, re.IGNORECASE):
                near = " ".join(lines[max(0, number - 1) : number + 2])
                if re.search(r"\.drop\(|\bdel\b|\.pop\(|remove", near):
                    sites.append(
                        CallSite(
                            unit.path,
                            unit.cell,
                            number,
                            "leakage drop",
                            lines[number - 1].strip()[:300],
                        )
                    )
    return sort_sites(sites)


def _leakage_check(sites: list[CallSite], prose: list[tuple[Evidence, str]]) -> Check:
    if not sites and not prose:
        return Check(id="exploration.leakage_drift", passed=False, weight=1,
                     sentence="No leakage or train/test drift check was found in the "
                     "exploration (a feature dropped because it leaks the target, train and "
                     "test distributions compared).")  # fmt: skip
    evidence = [_site_evidence(s, "leakage/drift check") for s in sites[:2]]
    evidence += [ev.model_copy(update={"excerpt": s[:300]}) for ev, s in prose[:2]]
    return Check(id="exploration.leakage_drift", passed=True, weight=1,
                 sentence="Checked for leakage or train/test drift "
                 f"({len(sites)} code site(s), {len(prose)} written finding(s)).",
                 evidence=evidence)  # fmt: skip


# --------------------------------------------------------------------------- prose


def _notebook_prose(source: SubmissionSource, scope: _Scope) -> list[tuple[Evidence, str]]:
    """Markdown cells next to exploration code in notebooks that explore the training data
    (not those that follow modelling code)."""
    explore_cells, model_cells = _explore_cells(source, scope)
    prose = []
    for unit in source.markdown_units:
        cells = explore_cells.get(unit.path)
        if unit.cell is None or not cells:
            continue
        near = any(-PROSE_WINDOW_BEFORE <= unit.cell - c <= PROSE_WINDOW_AFTER for c in cells)
        previous = max(
            (c for c in cells | model_cells.get(unit.path, set()) if c < unit.cell), default=None
        )
        after_model = (
            previous is not None
            and previous in model_cells.get(unit.path, set())
            and previous not in cells
        )
        if near and not after_model:
            prose.append(
                (
                    Evidence(path=unit.path, cell=unit.cell, line=1, note="written finding"),
                    unit.text,
                )
            )
    return prose


def _comment_findings(source: SubmissionSource, scope: _Scope) -> list[tuple[Evidence, str]]:
    """``#`` comments that state findings, in exploration cells and exploration scripts."""
    cells = _explore_cells(source, scope)
    found = []
    for unit in source.code_units:
        if unit.path not in scope.paths:
            continue
        if unit.cell is None and not _EDA_NAME.search(Path(unit.path).stem):
            continue
        if unit.cell is not None and unit.cell not in cells[0].get(unit.path, set()):
            continue
        for line, text in comment_lines(unit):
            if comment_finding(text):
                found.append(
                    (
                        Evidence(
                            path=unit.path,
                            cell=unit.cell,
                            line=line,
                            note="written finding (comment)",
                        ),
                        text,
                    )
                )
    return found


def _explore_cells(source: SubmissionSource, scope: _Scope):
    """Per notebook, the cells holding exploration calls and those holding modelling calls."""
    return _explore_cells_cached(source)


@functools.lru_cache(maxsize=32)
def _explore_cells_cached(source: SubmissionSource):
    scope = _eda_scope(source)
    explore_names = set(OVERVIEW_CALLS) | set(PLOT_CALLS) | set(GROUP_CALLS) | set(TEST_CALLS)
    explore_cells: dict[str, set[int]] = {}
    model_cells: dict[str, set[int]] = {}
    for unit, call, name, canonical in iter_calls(source):
        if unit.cell is None or unit.path not in scope.paths:
            continue
        last = _last(canonical)
        if last in MODEL_CALLS:
            model_cells.setdefault(unit.path, set()).add(unit.cell)
        elif (last in explore_names or _last(name) in explore_names) and not _MODEL_PLOT.search(
            site_at(unit, call, name).excerpt
        ):
            explore_cells.setdefault(unit.path, set()).add(unit.cell)
    for path, cells in model_cells.items():
        explore_cells[path] = explore_cells.get(path, set()) - cells
    return explore_cells, model_cells


def _report_texts(source: SubmissionSource) -> list[tuple[Evidence, str]]:
    """Reports about the exploration: Markdown/R Markdown files named for it, and sections of
    other Markdown files under an exploration heading (EDA, findings, insights ...)."""
    texts: list[tuple[str, str]] = [
        (u.path, u.text)
        for u in source.markdown_units
        if u.cell is None and u.path.lower().endswith((".md", ".rst"))
    ]
    markdown_paths = {p.lower() for p, _ in texts}
    for rel in _files_with_suffix(source, (".rmd", ".qmd")):
        if (rel.rsplit(".", 1)[0] + ".md").lower() in markdown_paths:
            continue  # the knitted .md is read instead
        text = read_text_capped(source.root / rel, MAX_REPORT_BYTES)
        if text is not None:
            texts.append((rel, text))
    found = []
    for path, text in texts:
        if _TEST_PATH.search(path):
            continue
        if _EDA_NAME.search(Path(path).stem):
            found.append((Evidence(path=path, line=1, note="exploration report"), text))
            continue
        for line, section in _eda_sections(text):
            found.append((Evidence(path=path, line=line, note="exploration section"), section))
    return found


def _document_facts(source: SubmissionSource, known: set[str]) -> list[tuple[Evidence, str]]:
    """Facts about the dataset stated with numbers in any Markdown document (a README's
    approach: "height has a max of 1.13 against a p75 of 0.17"), not already counted."""
    found = []
    for unit in source.markdown_units:
        if unit.cell is not None or _TEST_PATH.search(unit.path):
            continue
        if not unit.path.lower().endswith((".md", ".rst")):
            continue
        for sentence in data_facts(unit.text):
            if sentence not in known:
                known.add(sentence)
                evidence = Evidence(path=unit.path, line=1, note="written finding (document)")
                found.append((evidence, sentence))
    return found


def _eda_sections(text: str) -> list[tuple[int, str]]:
    """``(first line, text)`` of each section whose heading names the exploration."""
    lines = text.split("\n")
    sections = []
    index = 0
    while index < len(lines):
        match = re.match(r"^(#{1,6})\s+(.*)", lines[index])
        if match and _EDA_HEADING.search(match.group(2)):
            level = len(match.group(1))
            end = index + 1
            while end < len(lines):
                nxt = re.match(r"^(#{1,6})\s", lines[end])
                if nxt and len(nxt.group(1)) <= level:
                    break
                end += 1
            sections.append((index + 1, "\n".join(lines[index:end])))
            index = end
        else:
            index += 1
    return sections


_R_OVERVIEW = re.compile(r"\b(summary|str|glimpse|head|dim|table|skim|nrow|describe)\(")
_R_PLOTS = re.compile(
    r"\b(ggplot|geom_\w+|hist|boxplot|barplot|plot|corrplot)\(|!\[[^\]]*\]\([^)]+\.(png|jpe?g)\)",
    re.IGNORECASE,
)


def _report_code_sites(reports: list[tuple[Evidence, str]], kind: str) -> list[CallSite]:
    """Exploration written in a report's code blocks (R or Python) or embedded figures."""
    pattern = _R_OVERVIEW if kind == "overview" else _R_PLOTS
    sites = []
    for evidence, text in reports:
        if evidence.note != "exploration report":
            continue
        for number, line in enumerate(text.split("\n"), start=1):
            match = pattern.search(line)
            if match:
                sites.append(
                    CallSite(
                        evidence.path or "",
                        None,
                        number,
                        match.group(0).rstrip("("),
                        line.strip()[:300],
                    )
                )
                break
    return sites


_R_VERSUS = r"(fill|colou?r|group|facet_\w+|by)\s*=\s*(~\s*)?(factor\()?\s*{t}\b|group_by\(\s*{t}\b|\${t}\b.*\b(table|prop\.table|aggregate|tapply)\("
_R_QUALITY = {
    "missing": re.compile(r"\b(is\.na|complete\.cases|anyNA|colSums\(is\.na)\("),
    "duplicates": re.compile(r"\b(duplicated|distinct)\("),
    "outliers": re.compile(r"\b(quantile|IQR|boxplot\.stats)\("),
}


_WRITTEN_QUALITY = {
    "duplicates": re.compile(r"\bduplicat", re.IGNORECASE),
    "missing": re.compile(r"\b(missing|null|nan|blank|empty)\b", re.IGNORECASE),
    "outliers": re.compile(r"\b(outlier|negative|invalid|impossible|extreme)", re.IGNORECASE),
    "categories": re.compile(r"\b(inconsisten|typo|spelling|misspel|mislabel|case)", re.IGNORECASE),
}
_NEGATED = re.compile(r"^\s*(there (are|is|were|was) )?(no|not any|none)\b", re.IGNORECASE)


def _written_detections(written: list[tuple[Evidence, str]]) -> list[tuple[str, CallSite]]:
    """Quality issues stated in written findings ("there are 12 duplicate rows")."""
    found = []
    for evidence, sentence in written:
        if _NEGATED.search(sentence):
            continue
        for kind, pattern in _WRITTEN_QUALITY.items():
            if pattern.search(sentence):
                found.append(
                    (
                        kind,
                        CallSite(
                            evidence.path or "",
                            evidence.cell,
                            evidence.line or 1,
                            kind,
                            sentence[:300],
                        ),
                    )
                )
    return found


def _report_versus_sites(reports: list[tuple[Evidence, str]], targets: set[str]) -> list[CallSite]:
    """Feature-vs-target analysis in a report's R code (``fill = y``, ``group_by(y)``)."""
    patterns = [
        re.compile(_R_VERSUS.format(t=re.escape(t)))
        for t in sorted(targets)
        if re.fullmatch(r"[A-Za-z_.][\w.]*", t)
    ]
    sites = []
    for evidence, text in reports:
        if evidence.note != "exploration report":
            continue
        for number, line in enumerate(text.split("\n"), start=1):
            if any(p.search(line) for p in patterns):
                sites.append(
                    CallSite(
                        evidence.path or "", None, number, "plot by target", line.strip()[:300]
                    )
                )
    return sites[:20]


def _report_detections(source: SubmissionSource) -> list[tuple[str, CallSite]]:
    """Data-quality checks written in the code of exploration reports (R or Python)."""
    found = []
    for evidence, text in _report_texts(source):
        if evidence.note != "exploration report":
            continue
        for number, line in enumerate(text.split("\n"), start=1):
            for kind, pattern in _R_QUALITY.items():
                if pattern.search(line):
                    found.append(
                        (
                            kind,
                            CallSite(evidence.path or "", None, number, kind, line.strip()[:300]),
                        )
                    )
    return found


def _findings_check(
    check_id: str, written: list[tuple[Evidence, str]], needed: int, weight: float
) -> Check:
    count = len(written)
    if check_id == "exploration.observations":
        passed_text = f"Wrote down {count} finding(s) about the data next to the exploration."
        missing = (
            f"Fewer than {needed} written findings about the data ({count}): the "
            "exploration is not interpreted (headings, plans and figure captions do not "
            "count)."
        )
    else:
        passed_text = f"The exploration is narrated: {count} written findings."
        missing = (
            f"The exploration is not narrated systematically ({count} written "
            f"finding(s), {needed} expected)."
        )
    if count < needed:
        return Check(id=check_id, passed=False, weight=weight, sentence=missing)
    evidence = [ev.model_copy(update={"excerpt": sentence[:300]}) for ev, sentence in written[:3]]
    return Check(id=check_id, passed=True, weight=weight, sentence=passed_text, evidence=evidence)


# --------------------------------------------------------------------------- figures


def _plots_check(sites: list[CallSite], figures: list[Evidence], count: int) -> Check:
    if not sites and not count:
        return Check(id="exploration.plots", passed=False, weight=1,
                     sentence="No plot of the data (histograms, box plots, count plots, "
                     "heatmaps) and no figure was found.")  # fmt: skip
    check = site_check(
        "exploration.plots",
        sites,
        weight=1,
        limit=2,
        found="Plotted the data ({names}).",
        missing="",
    )
    if not sites:
        check = Check(id="exploration.plots", passed=True, weight=1, sentence="")
    sentence = (check.sentence + f" {count} figure(s) found.").strip()
    return check.model_copy(update={"sentence": sentence, "evidence": check.evidence + figures})


def _figures(
    context: GraderContext, source: SubmissionSource, scope: _Scope
) -> tuple[list[Evidence], int]:
    """Real figures of the data: image outputs of exploration cells, image files in the snapshot
    or saved by our run (not named as model results: ROC, confusion matrix, importances)."""
    cells = _explore_cells(source, scope)[0]
    images = [
        out
        for out in source.output_units
        if out.image_bytes_len > 0 and out.cell in cells.get(out.path, set())
    ]
    evidence = [output_evidence(out, note="figure output") for out in images[:2]]
    saved_names = _saved_figure_names(source, scope)
    files = [
        rel
        for rel in _files_with_suffix(source, IMAGE_SUFFIXES)
        if not _MODEL_PLOT.search(Path(rel).name)
        and _analysis_figure(rel, saved_names)
        and sniff_image_file(source.root / rel)
    ]
    evidence += [Evidence(path=rel, note="image file in the submission") for rel in files[:1]]
    saved = [rel for rel in _artifact_figures(context) if not _MODEL_PLOT.search(Path(rel).name)]
    evidence += [
        Evidence(image=rel, note="figure saved by the candidate's code") for rel in saved[:1]
    ]
    return evidence, len(images) + len(files) + len(saved)


_FIGURE_NAME = re.compile(
    r"hist|distrib|dist[_-]|box|violin|corr|heat|scatter|pair|count|bar|plot|fig|chart|graph|"
    r"eda|explor|feature|target|missing|null|trend|by[_-]|[_-]vs[_-]|versus|density|kde|pie|"
    r"outlier|categor|numeric|univariate|bivariate|relation|distribution",
    re.IGNORECASE,
)
_NOT_FIGURE_NAME = re.compile(
    r"logo|icon|banner|badge|screen[_-]?shot|diagram|architect|avatar|header|cover|demo|"
    r"workflow|mockup|wireframe",
    re.IGNORECASE,
)


def _saved_figure_names(source: SubmissionSource, scope: _Scope) -> set[str]:
    """String fragments (file names, folders, f-string parts) given to ``savefig`` in the
    exploration code."""
    names: set[str] = set()
    for unit, call, name, _ in iter_calls(source):
        if unit.path in scope.paths and _last(name) in SAVEFIG_CALLS:
            for text in string_constants(call):
                stem = re.sub(r"\.(png|jpe?g|svg|pdf)$", "", text.strip("/"), flags=re.IGNORECASE)
                if len(stem) >= 3:
                    names.add(stem.lower())
    return names


def _analysis_figure(rel: str, saved_names: set[str]) -> bool:
    """An image file counts as a figure of the data when its name says so (``age_hist.png``,
    ``eda/corr.png``) or exploration code saves it; never a logo, icon or diagram."""
    lowered = rel.lower()
    if _NOT_FIGURE_NAME.search(Path(lowered).name):
        return False
    stem = Path(lowered).stem
    parts = set(Path(lowered).parent.parts)
    saved = any(n in stem or n in parts or stem in n for n in saved_names)
    return saved or bool(_FIGURE_NAME.search(lowered))


def _files_with_suffix(source: SubmissionSource, suffixes: tuple[str, ...]) -> list[str]:
    """Relative paths of regular files ending in ``suffixes`` (sorted, capped, no hidden)."""
    return [rel for rel, suffix in _snapshot_files(source) if suffix in suffixes]


@functools.lru_cache(maxsize=32)
def _snapshot_files(source: SubmissionSource) -> tuple[tuple[str, str], ...]:
    """``(relative path, lower-case suffix)`` of image and report files, walked once per
    loaded source (so a re-loaded snapshot is walked again)."""
    root = source.root
    wanted = IMAGE_SUFFIXES + (".rmd", ".qmd")
    found: list[tuple[str, str]] = []
    base = Path(root)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(filenames):
            suffix = Path(name).suffix.lower()
            if suffix not in wanted or len(found) >= MAX_IMAGE_FILES:
                continue
            full = Path(dirpath) / name
            try:
                if not stat.S_ISREG(os.lstat(full).st_mode):
                    continue
            except OSError:
                continue
            found.append((full.relative_to(base).as_posix(), suffix))
    return tuple(sorted(found))


def _artifact_figures(context: GraderContext) -> list[str]:
    """Artifact-relative paths of valid images the candidate's code saved during our run."""
    artifacts = context.artifacts
    if artifacts is None:
        return []
    found = []
    root = Path(artifacts.root).resolve()
    for figure in artifacts.figures:
        try:
            rel = Path(figure).resolve().relative_to(root).as_posix()
        except (OSError, ValueError):
            continue
        if sniff_image_file(figure):
            found.append(rel)
    return sorted(found)


# --------------------------------------------------------------------------- red flags


def _red_flags(checks: dict[str, Check], written: list, versus_sites: int) -> list[RedFlag]:
    """``exploration.none`` (nothing, or one quick look such as a single ``df.shape``) or
    ``exploration.mechanical_only`` (a single uninterpreted plot coloured by the target is
    still a mechanical look)."""
    looked = len(checks["exploration.overview"].evidence) > 1 or any(
        checks[c].passed
        for c in (
            "exploration.target_distribution",
            "exploration.plots",
            "exploration.feature_vs_target",
        )
    )
    if not looked and not written:
        return [
            RedFlag(
                id="exploration.none",
                severity="high",
                sentence="Essentially no exploratory data analysis of the training data: at "
                "most one quick look (no plot, target distribution or written finding).",
            )
        ]
    interpreted = len(written) >= MIN_INTERPRETED and checks["exploration.plots"].passed
    if not interpreted and versus_sites < MIN_UNINTERPRETED_VERSUS:
        return [
            RedFlag(
                id="exploration.mechanical_only",
                severity="medium",
                sentence="The exploration is mechanical only: calls such as head/info/"
                "describe/value_counts or plots, with at most one feature-vs-target look and "
                "no plots interpreted in writing.",
            )
        ]
    return []
