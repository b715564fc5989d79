"""Feature engineering shared by training, evaluation and prediction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud_model.data import ID_COLUMN, TARGET

CATEGORICAL = ["merchant_category", "country", "channel", "device_type"]
AMOUNT_CAP = 10_000.0  # amounts above this are treated as data-entry outliers and capped


class FeatureBuilder:
    """Turns raw transactions into model inputs; categories are learnt on the training set.

    Unseen categories at prediction time become missing values, which the model handles.
    """

    def __init__(self) -> None:
        self.categories_: dict[str, list[str]] | None = None

    def fit(self, frame: pd.DataFrame) -> FeatureBuilder:
        self.categories_ = {
            column: sorted(frame[column].dropna().astype(str).unique()) for column in CATEGORICAL
        }
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.categories_ is None:
            raise RuntimeError("FeatureBuilder.transform called before fit")
        out = frame.drop(columns=[ID_COLUMN, TARGET], errors="ignore").copy()
        amount = out["amount"].clip(lower=0, upper=AMOUNT_CAP)
        out["amount"] = amount
        out["log_amount"] = np.log1p(amount)
        out["amount_ratio"] = amount / out["avg_amount_30d"].where(out["avg_amount_30d"] > 0)
        out["is_night"] = (out["hour"] <= 5).astype(int)
        out["new_account"] = (out["account_age_days"] < 60).astype("Int64").astype(float)
        for column in CATEGORICAL:
            known = self.categories_[column]
            values = out[column].where(out[column].isin(known))
            out[column] = pd.Categorical(values, categories=known)
        return out

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self.fit(frame).transform(frame)
