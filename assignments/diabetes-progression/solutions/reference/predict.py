"""Reference solution for diabetes-progression: ridge regression with a tuned penalty.

Standardised features, alpha chosen by 10-fold cross-validation. Writes
$TAKEHOME_OUTPUT_DIR/predictions.csv with patient_id and prediction.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

ID, TARGET = "patient_id", "progression"


def main() -> None:
    data_dir = Path(os.environ["TAKEHOME_DATA_DIR"])
    out_dir = Path(os.environ["TAKEHOME_OUTPUT_DIR"])
    train = pd.read_csv(data_dir / "train.csv")
    test = pd.read_csv(data_dir / "test_features.csv")
    features = [c for c in train.columns if c not in (ID, TARGET)]

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 25), cv=10))
    model.fit(train[features], train[TARGET])
    predictions = pd.DataFrame({ID: test[ID], "prediction": model.predict(test[features]).round(3)})
    out_dir.mkdir(parents=True, exist_ok=True)
    predictions.to_csv(out_dir / "predictions.csv", index=False)


if __name__ == "__main__":
    main()
