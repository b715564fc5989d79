"""Reference (strong) solution: replace with your best honest solution to the assignment.

Calibration grades it in the sandbox: its held-out primary metric marks the top of the scale.
"""

import os
from pathlib import Path

import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

data = Path(os.environ["TAKEHOME_DATA_DIR"])
out = Path(os.environ["TAKEHOME_OUTPUT_DIR"])
train = pd.read_csv(data / "train.csv")
test = pd.read_csv(data / "test_features.csv")


def features(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.get_dummies(frame[["x1", "x2", "color"]], columns=["color"], dtype=float).reindex(
        columns=["x1", "x2", "color_blue", "color_green", "color_red"], fill_value=0.0
    )


model = HistGradientBoostingClassifier(max_iter=100, random_state=0)
model.fit(features(train), train["outcome"])
score = model.predict_proba(features(test))[:, 1]
pd.DataFrame({"row_id": test["row_id"], "score": score, "label": (score >= 0.5).astype(int)}).to_csv(
    out / "predictions.csv", index=False
)
