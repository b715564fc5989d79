"""Training and prediction on a small synthetic set with an obvious pattern."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fraud_model.predict import predictions_frame
from fraud_model.train import best_f1_threshold, fit


def test_best_f1_threshold_separates_perfectly_ranked_scores() -> None:
    y = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert best_f1_threshold(y, scores) == 0.8


def test_model_learns_the_obvious_pattern(transactions: pd.DataFrame) -> None:
    model = fit(transactions, max_iter=30)
    assert model.cv_average_precision > 0.9
    scores = model.score(transactions)
    fraud = transactions["is_fraud"] == 1
    assert scores[fraud].min() > scores[~fraud].max() - 0.5
    assert 0.0 < model.threshold < 1.0


def test_predictions_follow_the_submission_contract(transactions: pd.DataFrame) -> None:
    model = fit(transactions, max_iter=30)
    test = transactions.drop(columns=["is_fraud"]).head(50)
    predictions = predictions_frame(model, test)
    assert list(predictions.columns) == ["transaction_id", "score", "label"]
    assert predictions["transaction_id"].tolist() == test["transaction_id"].tolist()
    assert predictions["score"].between(0, 1).all()
    assert set(predictions["label"].unique()) <= {0, 1}


def test_fit_is_reproducible(transactions: pd.DataFrame) -> None:
    first = fit(transactions, max_iter=30).score(transactions)
    second = fit(transactions, max_iter=30).score(transactions)
    np.testing.assert_array_equal(first, second)
