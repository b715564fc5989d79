"""Baseline solution for diabetes-progression: predict the training mean for every patient.

It marks the bottom of the metric scale (R^2 about 0) that the reference solution marks the top of.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

ID, TARGET = "patient_id", "progression"


def main() -> None:
    data_dir = Path(os.environ["TAKEHOME_DATA_DIR"])
    out_dir = Path(os.environ["TAKEHOME_OUTPUT_DIR"])
    train = pd.read_csv(data_dir / "train.csv")
    test = pd.read_csv(data_dir / "test_features.csv")
    mean = round(float(train[TARGET].mean()), 3)
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({ID: test[ID], "prediction": mean}).to_csv(
        out_dir / "predictions.csv", index=False
    )


if __name__ == "__main__":
    main()
