"""Modeling: several model families, a baseline, cross-validation, tuning, a comparison, seeds.

Model families are counted from the estimator classes the code builds (scikit-learn, XGBoost,
LightGBM, CatBoost, statsmodels, Keras/PyTorch). The red flag ``modeling.unexplained_jump``
points at a notebook cell that brings in a new model family after another cell built a
different one, with no explanation in between (a markdown cell or a code comment).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag
from graders.source import (
    CallSite,
    SubmissionSource,
    comment_lines,
    evidence_for,
    find_calls,
    find_imports,
    find_keywords,
    find_names,
    iter_calls,
    iter_trees,
    markdown_evidence,
    output_evidence,
    site_at,
    site_check,
    sort_sites,
    source_for,
    word_count,
)

FAMILIES: dict[str, tuple[str, ...]] = {
    "linear": (
        "LogisticRegression", "LogisticRegressionCV", "LinearRegression", "Ridge", "RidgeCV",
        "RidgeClassifier", "RidgeClassifierCV", "Lasso", "LassoCV", "ElasticNet",
        "ElasticNetCV", "SGDClassifier", "SGDRegressor", "Perceptron",
        "PassiveAggressiveClassifier", "HuberRegressor", "BayesianRidge", "Lars",
        "QuantileRegressor", "PoissonRegressor", "TweedieRegressor", "GammaRegressor",
        "LinearDiscriminantAnalysis", "OLS", "Logit", "GLM", "ols", "logit",
    ),
    "tree": ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
             "ExtraTreeRegressor"),
    "ensemble": (
        "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
        "ExtraTreesRegressor", "BaggingClassifier", "BaggingRegressor", "GradientBoostingClassifier",
        "GradientBoostingRegressor", "HistGradientBoostingClassifier",
        "HistGradientBoostingRegressor", "AdaBoostClassifier", "AdaBoostRegressor",
        "XGBClassifier", "XGBRegressor", "XGBRFClassifier", "LGBMClassifier", "LGBMRegressor",
        "CatBoostClassifier", "CatBoostRegressor", "BalancedRandomForestClassifier",
        "BalancedBaggingClassifier", "EasyEnsembleClassifier", "RUSBoostClassifier",
        "VotingClassifier", "VotingRegressor", "StackingClassifier", "StackingRegressor",
        "xgb.train", "xgboost.train", "lgb.train", "lightgbm.train",
    ),
    "neighbors": ("KNeighborsClassifier", "KNeighborsRegressor", "RadiusNeighborsClassifier",
                  "RadiusNeighborsRegressor", "NearestCentroid"),
    "svm": ("SVC", "SVR", "LinearSVC", "LinearSVR", "NuSVC", "NuSVR"),
    "naive_bayes": ("GaussianNB", "MultinomialNB", "BernoulliNB", "ComplementNB",
                    "CategoricalNB"),
    "neural": ("MLPClassifier", "MLPRegressor", "Sequential", "keras.Model", "nn.Module"),
    "other": ("QuadraticDiscriminantAnalysis", "GaussianProcessClassifier",
              "GaussianProcessRegressor", "KernelRidge"),
}  # fmt: skip
CLASS_TO_FAMILY = {name: family for family, names in FAMILIES.items() for name in names}
DUMMIES = ("DummyClassifier", "DummyRegressor")
CV_CALLS = (
    "cross_val_score", "cross_validate", "cross_val_predict", "KFold", "StratifiedKFold",
    "GroupKFold", "StratifiedGroupKFold", "TimeSeriesSplit", "RepeatedKFold",
    "RepeatedStratifiedKFold", "ShuffleSplit", "StratifiedShuffleSplit", "GridSearchCV",
    "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV", "LogisticRegressionCV",
    "RidgeCV", "LassoCV", "ElasticNetCV", "lgb.cv", "lightgbm.cv", "xgb.cv", "xgboost.cv",
    "TunedThresholdClassifierCV", "learning_curve", "validation_curve",
)  # fmt: skip
SEARCH_CALLS = (
    "GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV",
    "BayesSearchCV", "optuna.create_study", "create_study", "hyperopt.fmin", "fmin",
    "ParameterGrid", "ParameterSampler",
)  # fmt: skip
SEARCH_MODULES = ("optuna", "hyperopt", "skopt", "ray.tune", "flaml")
SEED_CALLS = (
    "np.random.seed", "numpy.random.seed", "random.seed", "torch.manual_seed", "set_seed",
    "tf.random.set_seed", "seed_everything", "np.random.default_rng", "numpy.random.default_rng",
    "np.random.RandomState", "numpy.random.RandomState", "check_random_state",
)  # fmt: skip
SEED_KEYWORDS = ("random_state", "seed", "random_seed")
SEED_CONSTANTS = ("SEED", "RANDOM_STATE", "RANDOM_SEED")
RESULT_NAME = re.compile(
    r"(result|score|metric|comparison|leaderboard|performance|summary)", re.IGNORECASE
)
MODEL_WORDS = re.compile(
    r"\b(logistic|linear|ridge|lasso|random forest|forest|gradient boosting|boost\w*|xgb\w*|"
    r"lgbm|lightgbm|catboost|decision tree|tree|svm|svc|knn|neighbou?rs?|naive bayes|"
    r"mlp|neural|baseline|dummy)\b",
    re.IGNORECASE,
)
JUMP_MIN_WORDS = 5


class ModelingGrader:
    """Judges how models were chosen, compared and made reproducible."""

    name = "modeling"
    version = "1"

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge the modelling practice (never raises for candidate faults)."""
        source = source_for(context)
        models = _model_sites(source)
        families = _first_per_family(models)
        checks = [
            _families_check(families),
            _baseline_check(source, bool(models)),
            site_check(
                "modeling.cross_validation", find_calls(source, CV_CALLS), weight=1,
                found="Used cross-validation ({names}).",
                missing="No cross-validation: scores come from a single split.",
            ),
            site_check(
                "modeling.hyperparameter_search", _search_sites(source), weight=1,
                found="Tuned hyperparameters with a search ({names}).",
                missing="No hyperparameter search (GridSearchCV, RandomizedSearchCV, Optuna).",
            ),
            _comparison_check(source, models),
            site_check(
                "modeling.random_seeds", _seed_sites(source), weight=1,
                found="Set random seeds ({names}).",
                missing="No random seed is set (random_state=, np.random.seed): results may "
                "change from run to run.",
            ),
        ]  # fmt: skip
        red_flags = []
        jumps = _unexplained_jumps(source, models)
        if jumps:
            red_flags.append(
                RedFlag(
                    id="modeling.unexplained_jump",
                    severity="medium",
                    sentence="The notebook switches to a different model family without "
                    "explaining why (no markdown cell or comment in between).",
                    evidence=[evidence_for(site) for site in jumps[:3]],
                )
            )
        details: dict[str, Any] = {
            "families": sorted(families),
            "estimators": sorted({_class_name(site.name.split(":", 1)[1]) for site in models}),
        }
        return GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details,
            reason=f"{len(families)} model famil{'y' if len(families) == 1 else 'ies'}; "
            f"{sum(c.passed for c in checks)} of {len(checks)} modeling checks passed.",
        )  # fmt: skip


def _class_name(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _family_of(name: str, canonical: str) -> str | None:
    for candidate in (canonical, name):
        last = _class_name(candidate)
        if last in CLASS_TO_FAMILY and last not in ("train", "cv"):
            return CLASS_TO_FAMILY[last]
        parts = candidate.split(".")
        for width in (2,):
            dotted = ".".join(parts[-width:])
            if dotted in CLASS_TO_FAMILY:
                return CLASS_TO_FAMILY[dotted]
    return None


def _model_sites(source: SubmissionSource) -> list[CallSite]:
    """Constructions of estimators of a known family, plus ``nn.Module`` subclasses."""
    sites = []
    for unit, call, name, canonical in iter_calls(source):
        if _family_of(name, canonical) is not None:
            sites.append(site_at(unit, call, _family_of(name, canonical) + ":" + name))
    for unit, tree in iter_trees(source):
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Attribute) and base.attr == "Module" for base in node.bases
            ):
                sites.append(site_at(unit, node, "neural:nn.Module"))
    return sort_sites(sites)


def _first_per_family(models: list[CallSite]) -> dict[str, CallSite]:
    first: dict[str, CallSite] = {}
    for site in models:
        first.setdefault(site.name.split(":", 1)[0], site)
    return first


def _families_check(families: dict[str, CallSite]) -> Check:
    names = sorted(families)
    passed = len(names) >= 2
    return Check(
        id="modeling.model_families",
        passed=passed,
        weight=2,
        sentence=(
            f"Tried {len(names)} model families ({', '.join(names)})."
            if passed
            else f"Tried {len(names)} model family ({', '.join(names) or 'none found'}); "
            "at least two different families are expected."
        ),
        evidence=[evidence_for(site) for site in sort_sites(families.values())[:4]],
    )


def _baseline_check(source: SubmissionSource, has_models: bool) -> Check:
    sites = find_calls(source, DUMMIES)
    sites += [s for s in find_names(source, ["baseline"]) if has_models]
    sites += [s for s in _baseline_named(source) if has_models and s not in sites]
    if sites:
        return site_check(
            "modeling.baseline", sites, weight=1,
            found="Compared against a baseline ({names}).", missing="",
        )  # fmt: skip
    prose = [u for u in source.markdown_units
             if u.cell is not None and re.search(r"\bbaseline\b", u.text, re.IGNORECASE)]  # fmt: skip
    if prose and has_models:
        return Check(id="modeling.baseline", passed=True, weight=1,
                     sentence="Describes a baseline model in the notebook's markdown.",
                     evidence=[markdown_evidence(prose[0])])  # fmt: skip
    return Check(
        id="modeling.baseline", passed=False, weight=1,
        sentence="No baseline (DummyClassifier/DummyRegressor or a simple model named as "
        "the baseline) to compare the models against.",
    )  # fmt: skip


def _baseline_named(source: SubmissionSource) -> list[CallSite]:
    """Variables or labels whose name contains 'baseline' (``baseline_model = ...``)."""
    sites = []
    for unit, tree in iter_trees(source):
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and "baseline" in node.id.lower():
                sites.append(site_at(unit, node, node.id))
            elif (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and "baseline" in node.value.lower()
                and len(node.value) <= 60
            ):
                sites.append(site_at(unit, node, "baseline"))
    return sort_sites(sites)


def _search_sites(source: SubmissionSource) -> list[CallSite]:
    sites = find_calls(source, SEARCH_CALLS)
    sites += [
        site for module, site in find_imports(source) if module.split(".")[0] in SEARCH_MODULES
    ]
    return sort_sites(sites)


def _seed_sites(source: SubmissionSource) -> list[CallSite]:
    sites = find_calls(source, SEED_CALLS)
    sites += find_keywords(source, SEED_KEYWORDS)
    sites += [s for s in find_names(source, SEED_CONSTANTS) if "." not in s.name]
    return sort_sites(sites)


def _comparison_check(source: SubmissionSource, models: list[CallSite]) -> Check:
    """A results table or dict across models, a printed one, or markdown comparing models."""
    evidence: list[Evidence] = []
    if len({_class_name(s.name) for s in models}) >= 2:
        evidence += [evidence_for(site) for site in _results_collections(source)[:2]]
    for output in source.output_units:
        if len({m.lower() for m in MODEL_WORDS.findall(output.text)}) >= 2 and re.search(
            r"\d\.\d", output.text
        ):
            evidence.append(output_evidence(output, note="printed comparison"))
            break
    for unit in source.markdown_units:
        words = {m.lower() for m in MODEL_WORDS.findall(unit.text)}
        table = unit.text.count("|") >= 4
        comparative = re.search(r"\b(better|worse|best|beats?|outperform\w*|compar\w*|higher|lower|vs\.?|versus)\b",
                                unit.text, re.IGNORECASE)  # fmt: skip
        if len(words) >= 2 and (table or comparative):
            evidence.append(markdown_evidence(unit, note="comparison in prose"))
            break
    if evidence:
        return Check(
            id="modeling.comparison", passed=True, weight=2, evidence=evidence[:3],
            sentence="Compared the models' results side by side (a results table, printed "
            "scores or a written comparison).",
        )  # fmt: skip
    return Check(
        id="modeling.comparison", passed=False, weight=2,
        sentence="No comparison of results across models (results table, dict of scores or "
        "a written comparison).",
    )  # fmt: skip


def _results_collections(source: SubmissionSource) -> list[CallSite]:
    """``results[name] = ...``, ``scores.append(...)``, ``pd.DataFrame(results)``."""
    sites = []
    for unit, tree in iter_trees(source):
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and RESULT_NAME.search(target.value.id)
                    ):
                        sites.append(site_at(unit, node, target.value.id))
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("append", "DataFrame", "from_dict", "concat")
            ):
                receiver = node.func.value
                args = list(node.args)
                named = [a for a in args if isinstance(a, ast.Name) and RESULT_NAME.search(a.id)]
                if node.func.attr == "append":
                    if isinstance(receiver, ast.Name) and RESULT_NAME.search(receiver.id):
                        sites.append(site_at(unit, node, receiver.id))
                elif named:
                    sites.append(site_at(unit, node, named[0].id))
    return sort_sites(sites)


def _unexplained_jumps(source: SubmissionSource, models: list[CallSite]) -> list[CallSite]:
    """Notebook cells introducing a new family after a different one, with no explanation."""
    jumps: list[CallSite] = []
    for path, cells in sorted(source.notebook_cells.items()):
        by_cell: dict[int, list[CallSite]] = {}
        for site in models:
            if site.path == path and site.cell is not None:
                by_cell.setdefault(site.cell, []).append(site)
        seen: set[str] = set()
        previous_cell: int | None = None
        for cell in sorted(by_cell):
            families = {site.name.split(":", 1)[0] for site in by_cell[cell]}
            new = families - seen
            switched = previous_cell is not None and new and not families & seen
            if switched and not _explained(cells, previous_cell, cell, source, path):
                first_new = next(s for s in by_cell[cell] if s.name.split(":", 1)[0] in new)
                jumps.append(first_new)
            seen |= families
            previous_cell = cell
    return sort_sites(jumps)


def _explained(
    cells: list[tuple[str, str]], start: int, end: int, source: SubmissionSource, path: str
) -> bool:
    """A markdown cell between two cells, or a comment in the later one, with a few words."""
    for index in range(start + 1, end):
        kind, text = cells[index]
        if kind == "markdown" and word_count(text) >= JUMP_MIN_WORDS:
            return True
    for unit in source.code_units:
        if unit.path == path and unit.cell == end:
            comments = " ".join(text for _, text in comment_lines(unit))
            return word_count(comments) >= JUMP_MIN_WORDS
    return False
