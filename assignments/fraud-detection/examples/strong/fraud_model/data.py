"""Where the data lives and how it is read.

The grading sandbox sets ``TAKEHOME_DATA_DIR`` (read-only: train.csv, test_features.csv) and
``TAKEHOME_OUTPUT_DIR`` (writable). Locally both fall back to folders in the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

ID_COLUMN = "transaction_id"
TARGET = "is_fraud"
LOCAL_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
LOCAL_OUTPUT_DIR = Path(__file__).resolve().parent.parent / "outputs"


def data_dir() -> Path:
    """Input folder: $TAKEHOME_DATA_DIR, else ./data next to the package."""
    return Path(os.environ.get("TAKEHOME_DATA_DIR", LOCAL_DATA_DIR))


def output_dir() -> Path:
    """Output folder (created if missing): $TAKEHOME_OUTPUT_DIR, else ./outputs."""
    path = Path(os.environ.get("TAKEHOME_OUTPUT_DIR", LOCAL_OUTPUT_DIR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_train() -> pd.DataFrame:
    """Training transactions with exact duplicate rows removed (they carry no information)."""
    return pd.read_csv(data_dir() / "train.csv").drop_duplicates().reset_index(drop=True)


def load_test_features() -> pd.DataFrame:
    """Transactions to score (no label column)."""
    return pd.read_csv(data_dir() / "test_features.csv")
