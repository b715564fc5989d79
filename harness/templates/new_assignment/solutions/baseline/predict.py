"""Baseline (weak) solution: the training prevalence for everyone.

Calibration grades it in the sandbox: its held-out primary metric marks the bottom of the scale.
"""

import os
from pathlib import Path

import pandas as pd

ID, TARGET = "row_id", "outcome"

data = Path(os.environ["TAKEHOME_DATA_DIR"])
out = Path(os.environ["TAKEHOME_OUTPUT_DIR"])
train = pd.read_csv(data / "train.csv")
test = pd.read_csv(data / "test_features.csv")
prevalence = float(train[TARGET].mean())
pd.DataFrame({ID: test[ID], "score": prevalence, "label": 0}).to_csv(
    out / "predictions.csv", index=False
)
