"""Regenerate the diabetes-progression data byte for byte from scikit-learn's bundled data.

The data is the real diabetes study shipped with scikit-learn (442 patients, ten baseline
measurements, disease progression one year later), unscaled. Columns are renamed to readable
names, a ``patient_id`` column is added and the rows are split with a fixed seed::

    public/train.csv                 342 patients with progression
    public/sample_test_features.csv  40 training patients without progression (format example)
    hidden/test_features.csv         100 held-out patients without progression
    hidden/test_labels.csv           patient_id, progression for the held-out patients

Usage: python generate_data.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes

SEED = 442
N_TEST = 100
N_SAMPLE = 40
ID_COLUMN = "patient_id"
TARGET = "progression"
RENAME = {
    "s1": "tc",  # total serum cholesterol
    "s2": "ldl",  # low-density lipoproteins
    "s3": "hdl",  # high-density lipoproteins
    "s4": "tch",  # total cholesterol / HDL
    "s5": "ltg",  # log of serum triglycerides
    "s6": "glu",  # blood sugar level
    "target": TARGET,
}
INTEGER_COLUMNS = ["age", "sex", "bp", "tc", "hdl", "glu", TARGET]


def load_frame() -> pd.DataFrame:
    """The 442 patients with readable column names and a stable id (P0001...)."""
    frame = load_diabetes(scaled=False, as_frame=True).frame.rename(columns=RENAME)
    for column in INTEGER_COLUMNS:
        if (frame[column] == frame[column].round()).all():
            frame[column] = frame[column].astype(int)
    frame.insert(0, ID_COLUMN, [f"P{i:04d}" for i in range(1, len(frame) + 1)])
    return frame


def generate(out_root: Path) -> dict[str, Path]:
    """Write the four CSV files under ``out_root`` and return their paths."""
    frame = load_frame()
    order = np.random.default_rng(SEED).permutation(len(frame))
    test = frame.iloc[np.sort(order[:N_TEST])]
    train = frame.iloc[np.sort(order[N_TEST:])]
    sample = train.head(N_SAMPLE)
    paths = {
        "train": out_root / "public" / "train.csv",
        "sample_test_features": out_root / "public" / "sample_test_features.csv",
        "test_features": out_root / "hidden" / "test_features.csv",
        "test_labels": out_root / "hidden" / "test_labels.csv",
    }
    frames = {
        "train": train,
        "sample_test_features": sample.drop(columns=[TARGET]),
        "test_features": test.drop(columns=[TARGET]),
        "test_labels": test[[ID_COLUMN, TARGET]],
    }
    for key, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        frames[key].to_csv(path, index=False, lineterminator="\n")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    for path in generate(args.out).values():
        print(path)


if __name__ == "__main__":
    main()
