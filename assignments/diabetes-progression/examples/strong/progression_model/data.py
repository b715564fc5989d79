"""Data locations: $TAKEHOME_DATA_DIR / $TAKEHOME_OUTPUT_DIR, else ./data and ./outputs."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

ID_COLUMN = "patient_id"
TARGET = "progression"
_REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Input folder (train.csv, test_features.csv)."""
    return Path(os.environ.get("TAKEHOME_DATA_DIR", _REPO / "data"))


def output_dir() -> Path:
    """Output folder, created if missing."""
    path = Path(os.environ.get("TAKEHOME_OUTPUT_DIR", _REPO / "outputs"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def load(name: str) -> pd.DataFrame:
    """Read ``name`` (e.g. "train.csv") from the data folder."""
    return pd.read_csv(data_dir() / name)
