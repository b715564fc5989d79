"""FeatureBuilder: engineered columns, outlier capping, unseen categories."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fraud_model.features import AMOUNT_CAP, FeatureBuilder


def test_id_and_target_are_not_features(transactions: pd.DataFrame) -> None:
    features = FeatureBuilder().fit_transform(transactions)
    assert "transaction_id" not in features.columns
    assert "is_fraud" not in features.columns


def test_amount_ratio_is_amount_over_30_day_average(transactions: pd.DataFrame) -> None:
    features = FeatureBuilder().fit_transform(transactions)
    expected = transactions["amount"] / transactions["avg_amount_30d"]
    np.testing.assert_allclose(features["amount_ratio"], expected)


def test_missing_average_gives_missing_ratio_not_infinity(transactions: pd.DataFrame) -> None:
    frame = transactions.copy()
    frame.loc[0, "avg_amount_30d"] = np.nan
    frame.loc[1, "avg_amount_30d"] = 0.0
    features = FeatureBuilder().fit_transform(frame)
    assert features["amount_ratio"].iloc[:2].isna().all()
    assert np.isfinite(features["amount_ratio"].dropna()).all()


def test_outlier_amounts_are_capped(transactions: pd.DataFrame) -> None:
    frame = transactions.copy()
    frame.loc[0, "amount"] = 55_000.0
    features = FeatureBuilder().fit_transform(frame)
    assert features["amount"].max() == AMOUNT_CAP


def test_unseen_category_becomes_missing(transactions: pd.DataFrame) -> None:
    builder = FeatureBuilder().fit(transactions)
    new = transactions.head(2).copy()
    new["merchant_category"] = ["spaceflight", "grocery"]
    features = builder.transform(new)
    assert pd.isna(features["merchant_category"].iloc[0])
    assert features["merchant_category"].iloc[1] == "grocery"


def test_transform_before_fit_fails(transactions: pd.DataFrame) -> None:
    with pytest.raises(RuntimeError, match="before fit"):
        FeatureBuilder().transform(transactions)
