"""Reference solution for fraud-detection: gradient boosting with ratio features.

Trains on $TAKEHOME_DATA_DIR/train.csv, picks the decision threshold that maximises F1 on
out-of-fold predictions, and writes $TAKEHOME_OUTPUT_DIR/predictions.csv with
transaction_id, score (probability of fraud) and label.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import precision_recall_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict

SEED = 0
ID, TARGET = "transaction_id", "is_fraud"
CATEGORICAL = ["merchant_category", "country", "channel", "device_type"]


def features(frame: pd.DataFrame, categories: dict[str, pd.Index] | None = None) -> pd.DataFrame:
    """Model inputs: raw columns, amount relative to the 30-day average, categoricals typed."""
    out = frame.drop(columns=[ID, TARGET], errors="ignore").copy()
    out["amount_ratio"] = out["amount"] / out["avg_amount_30d"]
    out["log_amount"] = np.log1p(out["amount"].clip(lower=0))
    for column in CATEGORICAL:
        known = None if categories is None else categories[column]
        out[column] = pd.Categorical(out[column], categories=known)
    return out


def model() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        categorical_features="from_dtype",
        max_iter=300,
        learning_rate=0.05,
        max_leaf_nodes=15,
        random_state=SEED,
    )


def best_f1_threshold(y: pd.Series, scores: np.ndarray) -> float:
    precision, recall, thresholds = precision_recall_curve(y, scores)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def main() -> None:
    data_dir = Path(os.environ["TAKEHOME_DATA_DIR"])
    out_dir = Path(os.environ["TAKEHOME_OUTPUT_DIR"])
    train = pd.read_csv(data_dir / "train.csv").drop_duplicates()
    test = pd.read_csv(data_dir / "test_features.csv")

    x_train, y_train = features(train), train[TARGET]
    categories = {c: x_train[c].cat.categories for c in CATEGORICAL}
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=SEED)
    oof = cross_val_predict(model(), x_train, y_train, cv=folds, method="predict_proba")[:, 1]
    threshold = best_f1_threshold(y_train, oof)

    fitted = model().fit(x_train, y_train)
    scores = fitted.predict_proba(features(test, categories))[:, 1]
    predictions = pd.DataFrame(
        {ID: test[ID], "score": scores.round(6), "label": (scores >= threshold).astype(int)}
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(out_dir / "predictions.csv", index=False)
    print(f"threshold={threshold:.3f} wrote {len(predictions)} predictions")


if __name__ == "__main__":
    main()
