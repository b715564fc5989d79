"""Baseline solution for fraud-detection: logistic regression on three raw numeric columns.

Deliberately naive (no categorical features, no scaling, default 0.5 threshold); it marks the
bottom of the metric scale that the reference solution marks the top of.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression

ID, TARGET = "transaction_id", "is_fraud"
COLUMNS = ["amount", "hour", "n_tx_last_24h"]


def main() -> None:
    data_dir = Path(os.environ["TAKEHOME_DATA_DIR"])
    out_dir = Path(os.environ["TAKEHOME_OUTPUT_DIR"])
    train = pd.read_csv(data_dir / "train.csv")
    test = pd.read_csv(data_dir / "test_features.csv")

    model = LogisticRegression(max_iter=1000)
    model.fit(train[COLUMNS].fillna(0), train[TARGET])
    scores = model.predict_proba(test[COLUMNS].fillna(0))[:, 1]
    predictions = pd.DataFrame(
        {ID: test[ID], "score": scores.round(6), "label": (scores >= 0.5).astype(int)}
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(out_dir / "predictions.csv", index=False)


if __name__ == "__main__":
    main()
