"""Features and model on a small synthetic cohort with a known linear signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from progression_model.features import build_features
from progression_model.predict import predict_frame
from progression_model.train import candidate_models, cv_rmse


@pytest.fixture
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 120
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:04d}" for i in range(n)],
            "age": rng.integers(20, 80, n),
            "sex": rng.integers(1, 3, n),
            "bmi": rng.normal(26, 4, n),
            "bp": rng.normal(95, 13, n),
            "tc": rng.normal(190, 35, n),
            "ldl": rng.normal(115, 30, n),
            "hdl": rng.normal(50, 13, n),
            "tch": rng.normal(4, 1.3, n),
            "ltg": rng.normal(4.6, 0.5, n),
            "glu": rng.normal(91, 11, n),
        }
    )
    frame["progression"] = 10 * frame["bmi"] + 60 * frame["ltg"] - 380 + rng.normal(0, 5, n)
    return frame


def test_features_add_interaction_and_binary_sex(cohort: pd.DataFrame) -> None:
    features = build_features(cohort)
    assert "patient_id" not in features and "progression" not in features
    assert set(features["sex"].unique()) <= {0, 1}
    np.testing.assert_allclose(features["bmi_x_bp"], cohort["bmi"] * cohort["bp"])


def test_missing_column_is_named(cohort: pd.DataFrame) -> None:
    with pytest.raises(KeyError, match="ltg"):
        build_features(cohort.drop(columns=["ltg"]))


def test_ridge_beats_the_mean_in_cross_validation(cohort: pd.DataFrame) -> None:
    models = candidate_models()
    assert cv_rmse(models["ridge"], cohort) < 0.2 * cv_rmse(models["mean (dummy)"], cohort)


def test_predictions_keep_ids_and_order(cohort: pd.DataFrame) -> None:
    train, test = cohort.iloc[:100], cohort.iloc[100:].drop(columns=["progression"])
    predictions = predict_frame(train, test)
    assert list(predictions.columns) == ["patient_id", "prediction"]
    assert predictions["patient_id"].tolist() == test["patient_id"].tolist()
    truth = cohort.iloc[100:]["progression"].to_numpy()
    assert np.sqrt(np.mean((predictions["prediction"].to_numpy() - truth) ** 2)) < 15
