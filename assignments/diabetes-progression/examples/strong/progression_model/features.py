"""Feature engineering: the raw measurements plus two clinically motivated terms."""

from __future__ import annotations

import pandas as pd

from progression_model.data import ID_COLUMN, TARGET

BASE_COLUMNS = ["age", "sex", "bmi", "bp", "tc", "ldl", "hdl", "tch", "ltg", "glu"]


def build_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Base columns, sex as a 0/1 flag, and the BMI x blood-pressure interaction.

    Raises KeyError naming the missing columns when the frame lacks a base column.
    """
    missing = [c for c in BASE_COLUMNS if c not in frame.columns]
    if missing:
        raise KeyError(f"missing columns: {missing}")
    out = frame.drop(columns=[ID_COLUMN, TARGET], errors="ignore")[BASE_COLUMNS].copy()
    out["sex"] = (out["sex"] == 2).astype(int)
    out["bmi_x_bp"] = out["bmi"] * out["bp"]
    return out
