"""Reference (strong) solution: replace with your best honest solution to the assignment.

Calibration grades it in the sandbox: its held-out primary metric marks the top of the scale.
This generic version one-hot encodes text columns and fits gradient boosting on everything else.
"""

import os
from pathlib import Path

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

ID, TARGET = "row_id", "outcome"

data = Path(os.environ["TAKEHOME_DATA_DIR"])
out = Path(os.environ["TAKEHOME_OUTPUT_DIR"])
train = pd.read_csv(data / "train.csv")
test = pd.read_csv(data / "test_features.csv")

x_train = pd.get_dummies(train.drop(columns=[ID, TARGET]), dtype=float)
x_test = pd.get_dummies(test.drop(columns=[ID]), dtype=float)
x_test = x_test.reindex(columns=x_train.columns, fill_value=0.0)

model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
model.fit(x_train, train[TARGET])
score = model.predict_proba(x_test)[:, 1]
predictions = pd.DataFrame({ID: test[ID], "score": score, "label": (score >= 0.5).astype(int)})
predictions.to_csv(out / "predictions.csv", index=False)
