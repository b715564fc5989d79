"""Regenerate this assignment's data byte for byte (fixed seed).

This stub writes a tiny toy dataset so that the scaffold validates out of the box; replace
``make_rows`` with your own generator (or a deterministic split of a real dataset) and keep
``generate(out_root)`` writing the same four files.

Usage: python generate_data.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 12345
N_TRAIN, N_TEST, N_SAMPLE = 400, 100, 20
ID_COLUMN, TARGET = "row_id", "outcome"


def make_rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Toy rows: two numeric features, one categorical, a noisy linear label."""
    x1 = rng.normal(0, 1, n).round(3)
    x2 = rng.normal(0, 1, n).round(3)
    color = rng.choice(["red", "green", "blue"], n)
    logit = 1.5 * x1 - x2 + (color == "red") - 1.5
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "color": color, TARGET: label})


def generate(out_root: Path) -> dict[str, Path]:
    """Write public/train.csv, public/sample_test_features.csv and hidden/test_*.csv."""
    rng = np.random.default_rng(SEED)
    total = N_TRAIN + N_TEST + N_SAMPLE
    rows = make_rows(rng, total)
    rows.insert(0, ID_COLUMN, rng.permutation(total) + 1)
    train, test = rows.iloc[:N_TRAIN], rows.iloc[N_TRAIN : N_TRAIN + N_TEST]
    sample = rows.iloc[N_TRAIN + N_TEST :]
    outputs = {
        out_root / "public" / "train.csv": train,
        out_root / "public" / "sample_test_features.csv": sample.drop(columns=[TARGET]),
        out_root / "hidden" / "test_features.csv": test.drop(columns=[TARGET]),
        out_root / "hidden" / "test_labels.csv": test[[ID_COLUMN, TARGET]],
    }
    for path, frame in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, lineterminator="\n")
    return {path.stem: path for path in outputs}


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate the assignment data.")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    for path in generate(parser.parse_args().out).values():
        print(path)


if __name__ == "__main__":
    main()
