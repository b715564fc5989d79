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

from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag, clip
from graders.data_path import off_path
from graders.modeling_flow import (
    Construction,
    Evaluation,
    Flow,
    Search,
    analyse,
    called_once_outside_loops,
    in_value_sweep,
    reachable,
    scored_models,
    setting_branch,
    split_of,
)
from graders.source import (
    CallSite,
    OutputUnit,
    SubmissionSource,
    comment_lines,
    dotted_name,
    evidence_for,
    find_calls,
    find_keywords,
    find_names,
    import_aliases,
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
from graders.synthetic_data import synthetic_data_flag

# Library training functions that fit a model without an estimator class.
NATIVE_BOOSTING = (
    "xgb.train", "xgboost.train", "lgb.train", "lightgbm.train", "catboost.train", "cb.train",
)  # fmt: skip
FAMILIES: dict[str, tuple[str, ...]] = {
    "linear": (
        "LogisticRegression", "LogisticRegressionCV", "LinearRegression", "Ridge", "RidgeCV",
        "RidgeClassifier", "RidgeClassifierCV", "Lasso", "LassoCV", "ElasticNet",
        "ElasticNetCV", "SGDClassifier", "SGDRegressor", "Perceptron",
        "PassiveAggressiveClassifier", "HuberRegressor", "BayesianRidge", "Lars",
        "QuantileRegressor", "PoissonRegressor", "TweedieRegressor", "GammaRegressor",
        "LinearDiscriminantAnalysis", "OLS", "Logit", "GLM", "ols", "logit",
        "H2OGeneralizedLinearEstimator",
    ),
    "tree": ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
             "ExtraTreeRegressor"),
    # Bagging, boosting and meta-ensembles are different approaches (a random forest against
    # gradient boosting is a real comparison), so each is its own family.
    "bagging": (
        "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
        "ExtraTreesRegressor", "BaggingClassifier", "BaggingRegressor",
        "BalancedRandomForestClassifier", "BalancedBaggingClassifier", "EasyEnsembleClassifier",
        "H2ORandomForestEstimator",
    ),
    "boosting": (
        "GradientBoostingClassifier", "GradientBoostingRegressor",
        "HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "AdaBoostClassifier",
        "AdaBoostRegressor", "XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRanker",
        "LGBMClassifier", "LGBMRegressor", "LGBMRanker", "CatBoostClassifier",
        "CatBoostRegressor", "CatBoost", "RUSBoostClassifier", "H2OGradientBoostingEstimator",
        "H2OXGBoostEstimator",
    ) + NATIVE_BOOSTING,
    "meta": ("VotingClassifier", "VotingRegressor", "StackingClassifier", "StackingRegressor"),
    "neighbors": ("KNeighborsClassifier", "KNeighborsRegressor", "RadiusNeighborsClassifier",
                  "RadiusNeighborsRegressor", "NearestCentroid"),
    "svm": ("SVC", "SVR", "LinearSVC", "LinearSVR", "NuSVC", "NuSVR"),
    "naive_bayes": ("GaussianNB", "MultinomialNB", "BernoulliNB", "ComplementNB",
                    "CategoricalNB"),
    "neural": ("MLPClassifier", "MLPRegressor", "Sequential", "keras.Model", "nn.Module",
               "H2ODeepLearningEstimator"),
    # An AutoML run trains several model families and ranks them on its own validation.
    "automl": ("H2OAutoML", "TPOTClassifier", "TPOTRegressor", "AutoSklearnClassifier",
               "AutoSklearnRegressor", "TabularPredictor"),
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


CHOICE_WORDS = re.compile(
    r"\b(chose|choose|chosen|select(?:ed)?|final model|best model|went with|pick(?:ed)?|"
    r"prefer(?:red)?|opt(?:ed)? for|we use|i use|decided|verdict|conclu\w+|recommend\w*|"
    r"(?:better|best) to use|go(?:ing)? with)\b",
    re.IGNORECASE,
)
REASON_WORDS = re.compile(
    r"\b(because|since|due to|as it|given|outperform\w*|better|higher|lower|best|trade-?off|"
    r"robust|interpretab\w*|overfit\w*)\b",
    re.IGNORECASE,
)
# "<model> has the highest recall, which is our objective": a choice argued from the results.
RESULT_CLAIM = re.compile(
    r"\b(highest|best|lowest|outperform\w*|beats?|superior)\b[^.\n]{0,60}"
    r"\b(score|recall|precision|f1|auc|accuracy|rmse|mae|mse|r2|r²|error|objective|metric)",
    re.IGNORECASE,
)
ERROR_PROSE = re.compile(
    r"(false negative|false positive|misclassif|residual|important feature|feature importance|"
    r"most important|drivers?\b|shap|errors? (?:are|is|come)|under-?predict|over-?predict)",
    re.IGNORECASE,
)
SIMPLE_BASELINE_PROSE = re.compile(
    r"(baseline[^.\n]{0,60}\b(logistic|linear|dummy|majority|most frequent|naive|mean|rule)|"
    r"\b(logistic|linear|dummy|majority|most frequent|naive|rule-based)[^.\n]{0,60}baseline)",
    re.IGNORECASE,
)
# Prose about what could be done is not what was done.
HYPOTHETICAL = re.compile(
    r"\b(could|would|might|may|should|future|next steps?|worth\w*|if\b|plan(?:ned)? to|"
    r"further work|consider\w*)\b",
    re.IGNORECASE,
)
FUTURE_WORK = re.compile(
    r"\b(future|next steps?|further work|worth\w*|plan(?:ned)? to|if i had)\b", re.IGNORECASE
)
# Folders of deployment and serving code: not where models are compared.
SERVING_DIRS = frozenset(
    {"deploy", "deployment", "deployments", "serving", "serve", "server", "api", "webapp",
     "infra", "docker", "k8s", "helm"}
)  # fmt: skip
SIMPLE_CLASSES = (
    "LogisticRegression",
    "LinearRegression",
    "Ridge",
    "Lasso",
    "GaussianNB",
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "Logit",
    "OLS",
    "ols",
    "logit",
)
ESTIMATORS = frozenset(CLASS_TO_FAMILY) | frozenset(DUMMIES)
ESTIMATORS = frozenset(name.rsplit(".", 1)[-1] for name in ESTIMATORS) - {"train", "cv", "Module"}


class ModelingGrader:
    """Judges how models were chosen, compared and validated, crediting what the data path uses."""

    name = "modeling"
    version = "5"

    def grade(self, context: GraderContext) -> GraderResult:
        """Judge the modelling practice (never raises for candidate faults)."""
        source = source_for(context)
        flow = analyse(source, ESTIMATORS)
        used = [c for c in flow.constructions if c.used]
        models = [c for c in used if c.cls not in DUMMIES]
        native = _native_trainings(flow, source)
        options = _setting_options(flow, models)
        families = _families([c for c in models if c not in options], native) or _families(
            options[:1], []
        )
        has_models = bool(models or native)
        held_out = [e for e in flow.evaluations if e.splits & {"test", "val", "cv"}]
        baseline = _baseline(source, flow, used)
        searches = [s for s in flow.searches if s.used and s.grid != "single"]
        justified = _justified_check(source, has_models)
        in_sample_only = _compared_in_sample(flow, held_out)
        checks = [
            _fitted_check(used, flow, native),
            _validated_check(held_out, has_models, flow),
            _approaches_check(families, baseline, searches, options, in_sample_only),
            _baseline_check(baseline),
            _scheme_check(flow, held_out, len(families), models, justified.passed),
            _tuning_check(flow.searches),
            _comparison_check(source, flow, models, has_models),
            justified,
            _error_analysis_check(source, flow),
            _iteration_check(source, flow),
            site_check(
                "modeling.random_seeds", _seed_sites(source), weight=0.5,
                found="Set random seeds ({names}).",
                missing="No random seed is set (random_state=, np.random.seed): results may "
                "change from run to run.",
            ),
        ]  # fmt: skip
        red_flags = []
        if has_models and not held_out and len(families) <= 1:
            red_flags.append(
                RedFlag(
                    id="modeling.unvalidated_single_model",
                    severity="high",
                    sentence="One model family is trained and no model is scored on held-out "
                    "data or with cross-validation.",
                    evidence=[evidence_for(site) for site in families.values()][:1],
                )
            )
        synthetic = _synthetic_flag(source) if has_models else None
        if synthetic is not None:
            red_flags.append(synthetic)
        model_sites = _model_sites(source)
        jumps = _unexplained_jumps(source, model_sites)
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
        unused = sorted({c.cls for c in flow.constructions if not c.used} - {c.cls for c in used})
        details: dict[str, Any] = {
            "families": sorted(families),
            "estimators": sorted({c.cls for c in models}),
            "built_but_never_trained": unused,
            "task_type": _task_type(context, models),
            "not_judged_statically": [
                "whether the code runs and the printed scores are the ones it produces",
                "search spaces and model lists read from configuration files",
                "which option a setting picks at run time",
                "whether a search's parameters reach the estimator (a wrong step__ prefix), "
                + "and which scorer it optimises",
                "whether ROC AUC is computed on hard labels rather than scores",
            ],
        }
        if options:
            details["options_picked_by_a_setting"] = sorted({c.cls for c in options})
        if flow.repaired:
            details["repaired_files"] = sorted(set(flow.repaired))
        return GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details,
            reason=f"{len(families)} model famil{'y' if len(families) == 1 else 'ies'} trained; "
            f"{sum(c.passed for c in checks)} of {len(checks)} modeling checks passed.",
        )  # fmt: skip


def _synthetic_flag(source: SubmissionSource) -> RedFlag | None:
    """A red flag when every model evaluation runs on a generated data set that replaced the
    loaded data (:mod:`graders.synthetic_data`): no model of the task is validated."""
    return synthetic_data_flag(
        source, "modeling.synthetic_data",
        "The models are trained and scored on a generated data set that replaced the loaded "
        "data, so no model of the task is validated.")


def _class_name(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _family_of(name: str, canonical: str) -> str | None:
    for candidate in (canonical, name):
        last = _class_name(candidate)
        if last in CLASS_TO_FAMILY and last not in ("train", "cv"):
            return CLASS_TO_FAMILY[last]
        parts = candidate.split(".")
        dotted = ".".join(parts[-2:])
        if dotted in CLASS_TO_FAMILY:
            return CLASS_TO_FAMILY[dotted]
    return None


def _model_sites(source: SubmissionSource) -> list[CallSite]:
    """Constructions of estimators of a known family, plus ``nn.Module`` subclasses."""
    sites = []
    for unit, call, name, canonical in iter_calls(source):
        family = _family_of(name, canonical)
        if family is not None:
            sites.append(site_at(unit, call, family + ":" + name))
    for unit, _ in iter_trees(source):
        for node in unit.nodes:
            if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Attribute) and base.attr == "Module" for base in node.bases
            ):
                sites.append(site_at(unit, node, "neural:nn.Module"))
    return sort_sites(sites)


def _families(
    models: list[Construction], native: list[tuple[str, CallSite]]
) -> dict[str, CallSite]:
    """Family -> first trained construction of it, native training calls included."""
    found: dict[str, CallSite] = {}
    for construction in sorted(models, key=lambda c: (c.site.path, c.site.cell or -1, c.site.line)):
        family = CLASS_TO_FAMILY.get(construction.cls)
        if family is not None and construction.cls != "train":
            found.setdefault(family, construction.site)
    for family, site in native:
        found.setdefault(family, site)
    return found


TORCH_STEP_ATTRS = frozenset({"backward", "step"})


def _native_trainings(flow: Flow, source: SubmissionSource) -> list[tuple[str, CallSite]]:
    """Models trained without an estimator class: ``xgb.train``/``lgb.train``-style calls, and a
    loop that calls ``loss.backward()`` and ``optimizer.step()`` (a PyTorch training loop)."""
    aliases = import_aliases(source)
    found: list[tuple[str, CallSite]] = []
    for unit, tree in flow.trees:
        table = aliases.get(unit.path, {})
        for node in flow.walk(tree):
            if isinstance(node, ast.Call):
                name = dotted_name(node.func) or ""
                canonical = _canonical_name(name, table)
                if name.endswith(".train") and (
                    name in NATIVE_BOOSTING or ".".join(canonical.split(".")[:2]) in NATIVE_BOOSTING
                ) and reachable(flow, node):
                    found.append(("boosting", site_at(unit, node, name)))
            elif isinstance(node, (ast.For, ast.While)) and _optimiser_loop(node):
                found.append(("neural", site_at(unit, node, "training loop")))
    return found


def _canonical_name(name: str, table: dict[str, str]) -> str:
    head, _, rest = name.partition(".")
    full = table.get(head, head)
    return f"{full}.{rest}" if rest else full


def _optimiser_loop(loop: ast.For | ast.While) -> bool:
    """The loop body back-propagates and steps an optimiser."""
    attrs = {
        n.func.attr
        for stmt in loop.body
        for n in ast.walk(stmt)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and not n.args
    }
    return TORCH_STEP_ATTRS <= attrs


def _task_type(context: GraderContext, models: list[Construction]) -> str | None:
    spec = getattr(getattr(context, "assignment", None), "spec", None)
    declared = getattr(spec, "task_type", None)
    if declared:
        return declared
    if any(
        "Regress" in c.cls or c.cls in ("LinearRegression", "Ridge", "Lasso", "SVR") for c in models
    ):
        return "regression"
    return "classification" if models else None


def _fitted_check(
    used: list[Construction], flow: Flow, native: list[tuple[str, CallSite]]
) -> Check:
    built = [c for c in flow.constructions if c.cls not in DUMMIES]
    trained = [c for c in used if c.cls not in DUMMIES]
    if trained or native:
        labels = sorted({c.cls for c in trained} | {site.name for _, site in native})
        return Check(
            id="modeling.model_fitted", passed=True, weight=1,
            sentence=f"Trains {len(labels)} model(s) on the data path ({', '.join(labels[:6])}).",
            evidence=[evidence_for(c.site) for c in _distinct(trained)[:3]]
            + [evidence_for(site, note="native training call") for _, site in native[:2]],
        )  # fmt: skip
    note = (
        " Models are built but nothing fits them (or only in code that is never called)."
        if built
        else ""
    )
    return Check(
        id="modeling.model_fitted", passed=False, weight=1,
        sentence="No model is trained on the data path." + note,
        evidence=[evidence_for(c.site, note="built, never trained") for c in built[:2]],
    )  # fmt: skip


def _distinct(constructions: list[Construction]) -> list[Construction]:
    seen: set[str] = set()
    kept = []
    for construction in constructions:
        if construction.cls not in seen:
            seen.add(construction.cls)
            kept.append(construction)
    return kept


def _validated_check(held_out: list[Evaluation], has_models: bool, flow: Flow) -> Check:
    if held_out and has_models:
        return Check(
            id="modeling.validated", passed=True, weight=1,
            sentence="Scores models on held-out data or with cross-validation.",
            evidence=[evidence_for(e.site, note=_splits_note(e.splits)) for e in held_out[:2]],
        )  # fmt: skip
    in_sample = [e for e in flow.evaluations if "in_sample" in e.splits]
    return Check(
        id="modeling.validated", passed=False, weight=1,
        sentence="No score on held-out data or cross-validation was found for a trained model."
        + (" A model is scored on the data it was fitted on (in-sample): that is not validation."
           if in_sample else ""),
        evidence=[evidence_for(e.site, note="in-sample score") for e in in_sample[:2]],
    )  # fmt: skip


def _splits_note(splits: frozenset[str]) -> str:
    return "scored on: " + ", ".join(sorted(splits - {"score"})) if splits - {"score"} else ""


def _approaches_check(
    families: dict[str, CallSite],
    baseline: list[Evidence],
    searches: list[Search],
    options: list[Construction],
    in_sample_only: list[Evaluation],
) -> Check:
    """Two approaches: two trained families (an AutoML run counts), or one tuned family against
    a real baseline; never families scored only on their own training data, and never options
    of which a setting picks one per run."""
    names = sorted(families)
    if in_sample_only:
        return Check(
            id="modeling.model_families", passed=False, weight=2,
            sentence="The models are compared only on the data they were fitted on (training-"
            "set scores): that measures fit, not which approach generalises.",
            evidence=[evidence_for(e.site, note="in-sample score") for e in in_sample_only[:3]],
        )  # fmt: skip
    if "automl" in families:
        return Check(
            id="modeling.model_families", passed=True, weight=2,
            sentence="An AutoML run trains and ranks several model families.",
            evidence=[evidence_for(families["automl"], note="AutoML run")],
        )  # fmt: skip
    if len(names) >= 2:
        return Check(
            id="modeling.model_families", passed=True, weight=2,
            sentence=f"Trains and compares {len(names)} model families ({', '.join(names)}).",
            evidence=[evidence_for(site) for site in sort_sites(families.values())[:4]],
        )  # fmt: skip
    if len(names) == 1 and baseline and searches:
        return Check(
            id="modeling.model_families", passed=True, weight=2,
            sentence=f"One model family ({names[0]}), tuned and compared against a baseline.",
            evidence=[evidence_for(next(iter(families.values()))), baseline[0]],
        )  # fmt: skip
    note = (
        f" {len({c.cls for c in options})} estimators are options of which a setting picks one "
        "per run (an if/elif on a configured name): they are never trained side by side."
        if len({CLASS_TO_FAMILY.get(c.cls) for c in options}) >= 2
        else ""
    )
    return Check(
        id="modeling.model_families", passed=False, weight=2,
        sentence=f"Trains {len(names)} model family ({', '.join(names) or 'none found'}); two "
        "approaches compared (two families, or a tuned model against a baseline) are expected."
        + note,
        evidence=[evidence_for(site) for site in families.values()][:1]
        + [evidence_for(c.site, note="option picked by a setting") for c in options[:2]],
    )  # fmt: skip


def _setting_options(flow: Flow, models: list[Construction]) -> list[Construction]:
    """Estimators built in branches of a choice on a configured name (``if model_type ==
    "xgb": ... elif ...``) inside code that runs once (not in a loop, a function called at most
    once): a pipeline that offers several models but trains the one a setting names."""
    options = [
        c for c in models
        if setting_branch(flow, c.node) is not None and called_once_outside_loops(flow, c.node)
    ]  # fmt: skip
    return options if len({CLASS_TO_FAMILY.get(c.cls) for c in options}) >= 2 else []


def _compared_in_sample(flow: Flow, held_out: list[Evaluation]) -> list[Evaluation]:
    """In-sample evaluations when two or more models are scored on their own training data and
    at most one model is scored on held-out data (every held-out score names its model), or []."""
    in_sample = [e for e in flow.evaluations if "in_sample" in e.splits]
    in_sample_models: set[str] = set()
    for evaluation in in_sample:
        in_sample_models |= scored_models(flow, evaluation, ESTIMATORS)
    if len(in_sample_models - set(DUMMIES)) < 2:
        return []
    held_out_models: set[str] = set()
    for evaluation in held_out:
        named = scored_models(flow, evaluation, ESTIMATORS)
        if not named:
            return []  # a held-out score whose model cannot be told: give the benefit
        held_out_models |= named
    return in_sample if len(held_out_models) <= 1 else []


def _baseline(source: SubmissionSource, flow: Flow, used: list[Construction]) -> list[Evidence]:
    """Evidence of a baseline that is evaluated, not only named, on the modelling data path
    (tests, deployment and serving code hold other "baselines")."""
    used = [c for c in used if _on_modelling_path(source, c.site)]
    evidence = [evidence_for(c.site, note="dummy model, trained") for c in used if c.cls in DUMMIES]
    for construction in used:
        if construction.cls in DUMMIES:
            continue
        if _named_baseline(flow, construction):
            evidence.append(evidence_for(construction.site, note="model used as the baseline"))
    evidence += _computed_baselines(flow, source)
    if not evidence:
        simple = {c.cls for c in used} & set(SIMPLE_CLASSES)
        for unit in source.markdown_units if simple else ():
            sentence = next((s for s in _sentences(unit.text) if SIMPLE_BASELINE_PROSE.search(s)
                             and not HYPOTHETICAL.search(s)), None)  # fmt: skip
            if sentence is not None:
                evidence.append(markdown_evidence(unit, note="simple model named as the baseline: "
                                                  + clip(" ".join(sentence.split()), 160)))
                break
    return evidence[:3]


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+|\n\s*\n", text)


def _on_modelling_path(source: SubmissionSource, site: CallSite) -> bool:
    """Not in tests, a toy ``__main__`` demo, or deployment/serving code."""
    folders = {part.lower() for part in site.path.split("/")[:-1]}
    return not off_path(source, site) and not folders & SERVING_DIRS


def _named_baseline(flow: Flow, construction: Construction) -> bool:
    """The estimator is bound to a baseline-named variable, key, or built in a baseline function."""
    node: ast.AST | None = construction.node
    while node is not None:
        parent = flow.parents.get(id(node))
        if isinstance(parent, ast.Assign):
            return any("baseline" in n.lower() for t in parent.targets for n in _names(t))
        if isinstance(parent, ast.Dict):
            for key, value in zip(parent.keys, parent.values, strict=False):
                if (
                    value is node
                    and isinstance(key, ast.Constant)
                    and "baseline" in str(key.value).lower()
                ):
                    return True
        if isinstance(parent, ast.Tuple) and any(
            isinstance(e, ast.Constant) and "baseline" in str(e.value).lower() for e in parent.elts
        ):
            return True
        if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return "baseline" in parent.name.lower()
        node = parent
    return False


def _names(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name)] + [
        n.attr for n in ast.walk(target) if isinstance(n, ast.Attribute)
    ]


def _computed_baselines(flow: Flow, source: SubmissionSource) -> list[Evidence]:
    """``baseline_* = <computed from data>`` that is read later, or a printed computed baseline."""
    found = []
    for unit, tree in flow.trees:
        for node in flow.walk(tree):
            if isinstance(node, ast.Assign) and any(
                "baseline" in n.lower() for t in node.targets for n in _names(t)
            ):
                computed = any(
                    isinstance(n, (ast.Call, ast.BinOp, ast.Compare)) for n in ast.walk(node.value)
                )
                site = site_at(unit, node, "baseline")
                if (
                    computed
                    and any(isinstance(n, ast.Name) for n in ast.walk(node.value))
                    and _on_modelling_path(source, site)
                ):
                    found.append(evidence_for(site,
                                              note="baseline computed from the data"))  # fmt: skip
            elif isinstance(node, ast.JoinedStr):
                text = " ".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
                if "baseline" in text.lower() and any(
                    isinstance(v, ast.FormattedValue)
                    and any(isinstance(n, (ast.Call, ast.BinOp)) for n in ast.walk(v.value))
                    for v in node.values
                ) and _on_modelling_path(source, site_at(unit, node, "baseline")):
                    found.append(evidence_for(site_at(unit, node, "baseline"),
                                              note="baseline score computed and shown"))  # fmt: skip
        if len(found) >= 3:
            break
    return found


def _baseline_check(baseline: list[Evidence]) -> Check:
    if baseline:
        return Check(
            id="modeling.baseline", passed=True, weight=1, evidence=baseline,
            sentence="Evaluates a baseline the models are compared against (a dummy model, a "
            "simple model used as the reference, or a baseline score computed from the data).",
        )  # fmt: skip
    return Check(
        id="modeling.baseline", passed=False, weight=1,
        sentence="No evaluated baseline (a trained DummyClassifier/DummyRegressor, a simple model "
        "used as the reference, or a baseline score computed from the data); a name or a "
        "mention alone does not count.",
    )  # fmt: skip


def _scheme_check(
    flow: Flow,
    held_out: list[Evaluation],
    family_count: int,
    models: list[Construction],
    chosen_in_prose: bool,
) -> Check:
    """Models are selected on CV or a validation split, not on the test set."""
    on_test = [s for s in flow.selections if "test" in s.splits and not s.splits & {"val", "cv"}]
    validation = [e for e in held_out if e.splits & {"val", "cv"}]
    cv = sort_sites(flow.cv_sites)
    if on_test:
        return Check(
            id="modeling.validation_scheme", passed=False, weight=1,
            sentence="The best model (or score) is picked on the test set: selection should use "
            "cross-validation or a separate validation split.",
            evidence=[evidence_for(s.site, note="selection on scores computed on test data")
                      for s in on_test[:2]],
        )  # fmt: skip
    tested_apart = _models_scored_apart_on_test(held_out, models)
    if chosen_in_prose and tested_apart and len(_validated_models(validation, models)) < 2:
        return Check(
            id="modeling.validation_scheme", passed=False, weight=1,
            sentence="Several models are each scored on the same test data in separate cells "
            "and one is then chosen in the write-up, with no cross-validated or validation "
            "comparison of them: that is selection on the test set.",
            evidence=[evidence_for(e.site, note="scored on test data") for e in tested_apart[:2]],
        )  # fmt: skip
    if validation or cv:
        evidence = [evidence_for(site) for site in cv[:1]]
        evidence += [evidence_for(e.site, note=_splits_note(e.splits)) for e in validation[:2]]
        return Check(
            id="modeling.validation_scheme", passed=True, weight=1, evidence=evidence[:3],
            sentence="Compares models with cross-validation or on a validation split, keeping "
            "the test set out of the selection.",
        )  # fmt: skip
    tested = [e for e in held_out if "test" in e.splits]
    sentence = (
        "Models are compared only on the test split (no cross-validation, no validation split): "
        "that is selection on the test set."
        if tested and family_count >= 2
        else "No validation scheme (cross-validation or a validation split) was found."
    )
    return Check(
        id="modeling.validation_scheme", passed=False, weight=1, sentence=sentence,
        evidence=[evidence_for(e.site, note="scored on test data") for e in tested[:2]],
    )  # fmt: skip


def _cell_models(models: list[Construction], path: str, cell: int | None) -> set[str]:
    """Estimator classes built in ``cell``, or else in the nearest notebook cell before it."""
    if cell is None:
        return set()
    before = [c for c in models if c.site.path == path and c.site.cell is not None
              and c.site.cell <= cell]  # fmt: skip
    if not before:
        return set()
    last_cell = max(c.site.cell or 0 for c in before)
    return {c.cls for c in before if c.site.cell == last_cell}


def _models_scored_apart_on_test(
    held_out: list[Evaluation], models: list[Construction]
) -> list[Evaluation]:
    """Test-only scores of two different models, computed in separate notebook cells on the
    same test variable (one evaluation per model), or [] when there are none."""
    by_variable: dict[tuple[str, str], dict[str, Evaluation]] = {}
    for evaluation in held_out:
        classes = _cell_models(models, evaluation.site.path, evaluation.site.cell)
        if len(classes) != 1 or not _scored_on_test_by_name(evaluation):
            continue
        variables = {n.id for n in ast.walk(evaluation.node)
                     if isinstance(n, ast.Name) and split_of(n.id) == "test"}  # fmt: skip
        for variable in variables:
            group = by_variable.setdefault((evaluation.site.path, variable), {})
            group.setdefault(next(iter(classes)), evaluation)
    for group in by_variable.values():
        cells = {e.site.cell for e in group.values()}
        if len(group) >= 2 and len(cells) >= 2:
            return sorted(group.values(), key=lambda e: e.site.cell or 0)
    return []


def _scored_on_test_by_name(evaluation: Evaluation) -> bool:
    """The call itself names test data (``y_test``) and no validation data, and is not a CV call
    (tags are per name, so a prediction variable reused later can carry a CV tag)."""
    if evaluation.site.name in CV_CALLS:
        return False
    direct = {split_of(n.id) for n in ast.walk(evaluation.node) if isinstance(n, ast.Name)}
    return "test" in direct and "val" not in direct


def _validated_models(validation: list[Evaluation], models: list[Construction]) -> set[str]:
    """Classes scored by cross-validation or on a validation split (all classes of a cell that
    scores several; any .py script's validation counts as covering every model)."""
    found: set[str] = set()
    for evaluation in validation:
        if _scored_on_test_by_name(evaluation):
            continue  # its CV/validation tag came from a name reused elsewhere
        if evaluation.site.cell is None:
            return {c.cls for c in models}
        found |= _cell_models(models, evaluation.site.path, evaluation.site.cell)
    return found


def _tuning_check(searches: list[Search]) -> Check:
    real = [s for s in searches if s.used and s.grid != "single"]
    if real:
        unknown = [s for s in real if s.grid == "unknown"]
        note = (
            " The search space of " + ", ".join(s.site.name for s in unknown[:2])
            + " could not be read statically (" + unknown[0].note + ")."
            if unknown and len(unknown) == len(real) else ""
        )  # fmt: skip
        return Check(
            id="modeling.hyperparameter_search", passed=True, weight=1,
            sentence="Tunes hyperparameters over more than one value and uses the tuned result."
            + note,
            evidence=[evidence_for(s.site, note=s.kind) for s in real[:3]],
        )  # fmt: skip
    single = [s for s in searches if s.grid == "single"]
    unused = [s for s in searches if not s.used and s.grid != "single"]
    if single:
        sentence = "The search's grid has a single value per parameter: nothing is tuned."
    elif unused:
        sentence = "A search is run but its result (best_estimator_/best_params_) is never used."
    else:
        sentence = "No hyperparameter search (a search over several values, or a tuning loop)."
    return Check(
        id="modeling.hyperparameter_search", passed=False, weight=1, sentence=sentence,
        evidence=[evidence_for(s.site, note="single-value grid" if s.grid == "single"
                               else "result not used") for s in (single + unused)[:3]],
    )  # fmt: skip


def _seed_sites(source: SubmissionSource) -> list[CallSite]:
    sites = find_calls(source, SEED_CALLS)
    sites += find_keywords(source, SEED_KEYWORDS)
    sites += [s for s in find_names(source, SEED_CONSTANTS) if "." not in s.name]
    return sort_sites(sites)


def _comparison_check(
    source: SubmissionSource, flow: Flow, models: list[Construction], has_models: bool
) -> Check:
    """A results table or dict across models, a printed one, per-model scores printed in
    notebook outputs, or markdown comparing models."""
    evidence: list[Evidence] = []
    if len({c.cls for c in models}) >= 2:
        evidence += [evidence_for(site) for site in _results_collections(flow)[:2]]
    for output in source.output_units:
        if _scored_rows(output.text.splitlines()):
            evidence.append(output_evidence(output, note="printed comparison"))
            break
    for unit in source.markdown_units:
        if _comparison_table(unit.text):
            evidence.append(markdown_evidence(unit, note="results table"))
            break
    if not evidence:
        evidence += _per_model_outputs(source, flow, models)
    if evidence and has_models:
        return Check(
            id="modeling.comparison", passed=True, weight=1, evidence=evidence[:3],
            sentence="Records the models' results side by side (a results table or collection "
            "of computed scores, printed scores, or a table in the write-up).",
        )  # fmt: skip
    return Check(
        id="modeling.comparison", passed=False, weight=1,
        sentence="No recorded comparison of results across models (a table or collection of "
        "computed scores, printed outputs, or a results table in the write-up).",
    )  # fmt: skip


def _scored_rows(lines: list[str]) -> bool:
    """Two or more lines that each name a model and give a score, naming at least two
    different models: the rows of a comparison (a model's own summary names one model)."""
    rows = [MODEL_WORDS.findall(line) for line in lines[:2000] if re.search(r"\d\.\d", line)]
    rows = [r for r in rows if r]
    return len(rows) >= 2 and len({w.lower() for r in rows for w in r}) >= 2


def _comparison_table(text: str) -> bool:
    """A markdown table with scores that names two models (in its rows, its header or the few
    lines above it), or that sets a baseline against a model."""
    lines = text.splitlines()[:5000]
    index = 0
    while index < len(lines):
        if lines[index].count("|") < 2:
            index += 1
            continue
        start = index
        while index < len(lines) and lines[index].count("|") >= 2:
            index += 1
        block = lines[start:index]
        scored = [line for line in block if re.search(r"\d\.\d", line)]
        if not scored:
            continue
        words = {w.lower() for w in MODEL_WORDS.findall(" ".join(lines[max(0, start - 3):index]))}
        if len(words) >= 2 or ("baseline" in words and len(scored) >= 2):
            return True
    return False


def _per_model_outputs(
    source: SubmissionSource, flow: Flow, models: list[Construction]
) -> list[Evidence]:
    """Printed held-out scores (a classification report, metric numbers) in the outputs of
    notebook cells that score two different models, one report per model."""
    scored_cells = {
        (e.site.path, e.site.cell)
        for e in flow.evaluations
        if e.site.cell is not None and e.splits & {"test", "val", "cv"}
    }
    printed = [
        o for o in source.output_units
        if (o.path, o.cell) in scored_cells and re.search(r"\d\.\d", o.text)
    ]  # fmt: skip
    by_model: dict[str, OutputUnit] = {}
    for output in printed:
        model = _model_of_cell(models, output.path, output.cell)
        if model is not None:
            by_model.setdefault(model, output)
    if len(by_model) < 2:
        return []
    return [output_evidence(o, note=f"{model} scores printed")
            for model, o in sorted(by_model.items(), key=lambda kv: kv[1].cell)][:2]  # fmt: skip


def _model_of_cell(models: list[Construction], path: str, cell: int) -> str | None:
    """The one estimator class built in ``cell`` or the nearest cell before it, else None."""
    classes = _cell_models(models, path, cell)
    return next(iter(classes)) if len(classes) == 1 else None


def _results_collections(flow: Flow) -> list[CallSite]:
    """``results[name] = score``, ``scores.append(...)`` with computed values, outside a loop
    over hyperparameter values (a sweep of one model is tuning, not a comparison of models;
    a collection of literal numbers is a hard-coded result, not a comparison)."""
    sites = []
    for unit, tree in flow.trees:
        for node in flow.walk(tree):
            name = None
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (
                        isinstance(target, ast.Subscript)
                        and isinstance(target.value, ast.Name)
                        and RESULT_NAME.search(target.value.id)
                        and _computed(node.value)
                    ):
                        name = target.value.id
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and isinstance(node.func.value, ast.Name)
                and RESULT_NAME.search(node.func.value.id)
                and any(_computed(a) for a in node.args)
            ):
                name = node.func.value.id
            if name is not None and not in_value_sweep(flow, unit, node):
                sites.append(site_at(unit, node, name))
    return sort_sites(sites)


def _computed(node: ast.AST) -> bool:
    """True when a value is computed (a name or call), not only literal numbers and strings."""
    return any(isinstance(n, (ast.Name, ast.Call, ast.Attribute)) for n in ast.walk(node))


def _justified_check(source: SubmissionSource, has_models: bool) -> Check:
    """A sentence in the write-up that names the chosen model and gives a reason."""
    for unit in source.markdown_units if has_models else ():
        for sentence in _sentences(unit.text):
            if FUTURE_WORK.search(sentence) or not MODEL_WORDS.search(sentence):
                continue
            if (CHOICE_WORDS.search(sentence) and REASON_WORDS.search(sentence)) or (
                RESULT_CLAIM.search(sentence)
            ):
                return Check(
                    id="modeling.choice_justified", passed=True, weight=1,
                    sentence="Justifies the final model choice in prose.",
                    evidence=[markdown_evidence(unit, note=clip(" ".join(sentence.split()), 200))],
                )  # fmt: skip
    return Check(
        id="modeling.choice_justified", passed=False, weight=1,
        sentence="The write-up does not say which model was chosen and why.",
    )  # fmt: skip


ERROR_CALLS = (
    "shap.Explainer", "shap.TreeExplainer", "shap.LinearExplainer", "shap.KernelExplainer",
    "shap.summary_plot", "shap.plots.beeswarm", "shap.plots.waterfall", "TreeExplainer",
    "permutation_importance", "partial_dependence", "PartialDependenceDisplay.from_estimator",
    "plot_importance",
)  # fmt: skip


def _error_analysis_check(source: SubmissionSource, flow: Flow) -> Check:
    """SHAP / permutation importance; residuals; misclassified or per-segment errors; or
    importances / a confusion matrix read in the write-up."""
    evidence = [
        evidence_for(s, note="model explanation") for s in find_calls(source, ERROR_CALLS)[:2]
    ]
    for unit, tree in flow.trees:
        for node in flow.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and any(
                    re.search(r"resid|error|misclass|wrong|false_neg|false_pos", n, re.IGNORECASE)
                    for t in node.targets
                    for n in _names(t)
                )
                and isinstance(node.value, (ast.BinOp, ast.Subscript, ast.Compare, ast.Call))
            ):
                if _mentions_predictions(node.value):
                    evidence.append(
                        evidence_for(site_at(unit, node, "errors"), note="errors examined")
                    )
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Compare):
                ops = node.slice.ops
                if ops and isinstance(ops[0], ast.NotEq) and _mentions_predictions(node.slice):
                    evidence.append(evidence_for(site_at(unit, node, "misclassified"),
                                                 note="misclassified rows examined"))  # fmt: skip
        if len(evidence) >= 3:
            break
    if not evidence:
        importances = find_names(source, ["feature_importances_", "coef_", "get_score"])
        matrices = find_calls(source, ["confusion_matrix", "ConfusionMatrixDisplay"])
        prose = [u for u in source.markdown_units if ERROR_PROSE.search(u.text)]
        if (importances or matrices) and prose:
            evidence = [evidence_for((importances or matrices)[0]),
                        markdown_evidence(prose[0], note="interpreted in prose")]  # fmt: skip
    if evidence:
        return Check(
            id="modeling.error_analysis", passed=True, weight=1, evidence=evidence[:3],
            sentence="Analyses the model's errors or what drives it (SHAP, permutation "
            "importance, residuals, misclassified cases, or importances read in the write-up).",
        )  # fmt: skip
    return Check(
        id="modeling.error_analysis", passed=False, weight=1,
        sentence="No error analysis (residuals, misclassified cases, per-segment errors, or "
        "feature importance / SHAP interpreted).",
    )  # fmt: skip


def _mentions_predictions(node: ast.AST) -> bool:
    names = [n.id.lower() for n in ast.walk(node) if isinstance(n, ast.Name)]
    return any("pred" in n or "hat" in n for n in names) and any(
        n.startswith("y") or "true" in n or "target" in n or "label" in n for n in names
    )


def _iteration_check(source: SubmissionSource, flow: Flow) -> Check:
    """Ablations, a threshold chosen by a cost, or the same model refitted on a new feature set."""
    evidence: list[Evidence] = []
    for unit, tree in flow.trees:
        scopes_with_threshold: set[int] = set()
        cost_names: list[ast.AST] = []
        for node in flow.walk(tree):
            name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
            if not isinstance(name, str):
                continue
            lower = name.lower()
            if "thresh" in lower:
                scopes_with_threshold.update(id(s) for s in _scopes(flow, node))
            if "cost" in lower:
                cost_names.append(node)
            if "ablation" in lower and not evidence:
                evidence.append(evidence_for(site_at(unit, node, name), note="ablation"))
        for node in cost_names:
            scope = next((s for s in _scopes(flow, node) if id(s) in scopes_with_threshold), None)
            if scope is not None:
                evidence.append(
                    evidence_for(site_at(unit, scope, "cost"), note="threshold chosen by a cost")
                )
                break
    evidence += _refits_on_new_features(flow)
    if not evidence:
        for unit in source.markdown_units:
            if re.search(r"\bablation", unit.text, re.IGNORECASE) and re.search(
                r"\d\.\d", unit.text
            ):
                evidence.append(markdown_evidence(unit, note="ablation reported"))
                break
    if evidence:
        return Check(
            id="modeling.iteration", passed=True, weight=1, evidence=evidence[:3],
            sentence="Iterates on findings (an ablation, a threshold tied to a cost, or the same "
            "model refitted on a revised feature set).",
        )  # fmt: skip
    return Check(
        id="modeling.iteration", passed=False, weight=1,
        sentence="No iteration driven by findings (ablations, feature-set revisions compared, a "
        "threshold tied to a cost).",
    )  # fmt: skip


def _scopes(flow: Flow, node: ast.AST) -> list[ast.AST]:
    """The loops and functions enclosing ``node``, innermost first."""
    found = []
    current = flow.parents.get(id(node))
    while current is not None:
        if isinstance(current, (ast.For, ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(current)
        current = flow.parents.get(id(current))
    return found


def _refits_on_new_features(flow: Flow) -> list[Evidence]:
    """The same estimator class fitted on two differently named feature sets (split names and
    resampling aside), each then scored: a feature iteration."""
    seen: dict[tuple[str, str], set[str]] = {}
    sites: dict[tuple[str, str], CallSite] = {}
    for construction in flow.constructions:
        if not construction.used or construction.cls in DUMMIES:
            continue
        parent = flow.parents.get(id(construction.node))
        if isinstance(parent, ast.Attribute) and parent.attr == "fit":
            call = flow.parents.get(id(parent))
            if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.Name):
                features = re.sub(
                    r"(?i)_?(x|train|test|val|valid|res|resampled|scaled|sm|smote)\b",
                    "",
                    call.args[0].id,
                )
                key = (construction.unit.path, construction.cls)
                seen.setdefault(key, set()).add(features)
                sites.setdefault(key, construction.site)
    return [evidence_for(sites[k], note="refitted on a revised feature set")
            for k, v in seen.items() if len(v) >= 2][:1]  # fmt: skip


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
