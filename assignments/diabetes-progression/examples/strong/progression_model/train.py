"""Model selection by repeated K-fold cross-validation; the chosen model is a tuned ridge."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from progression_model.data import TARGET
from progression_model.features import build_features

SEED = 7


def candidate_models() -> dict[str, Pipeline]:
    """The model families compared in the analysis notebook."""
    return {
        "mean (dummy)": make_pipeline(DummyRegressor()),
        "ridge": make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 25))),
        "random forest": make_pipeline(
            RandomForestRegressor(n_estimators=150, min_samples_leaf=5, random_state=SEED)
        ),
    }


def cv_rmse(model: Pipeline, train: pd.DataFrame, folds: int = 5) -> float:
    """Mean cross-validated RMSE (shuffled K-fold, fixed seed)."""
    splitter = KFold(n_splits=folds, shuffle=True, random_state=SEED)
    scores = cross_val_score(
        model,
        build_features(train),
        train[TARGET],
        cv=splitter,
        scoring="neg_root_mean_squared_error",
    )
    return float(-scores.mean())


def fit_final(train: pd.DataFrame) -> Pipeline:
    """The chosen model (ridge), fitted on all of ``train``."""
    model = candidate_models()["ridge"]
    return model.fit(build_features(train), train[TARGET])
