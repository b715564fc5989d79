"""Train on train.csv, predict test_features.csv, write predictions.csv."""

from __future__ import annotations

import pandas as pd

from progression_model.data import ID_COLUMN, load, output_dir
from progression_model.features import build_features
from progression_model.train import fit_final


def predict_frame(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """patient_id and prediction for every row of ``test``, in the same order."""
    model = fit_final(train)
    return pd.DataFrame(
        {ID_COLUMN: test[ID_COLUMN].to_numpy(), "prediction": model.predict(build_features(test))}
    )


def main() -> None:
    predictions = predict_frame(load("train.csv"), load("test_features.csv"))
    path = output_dir() / "predictions.csv"
    predictions.round(3).to_csv(path, index=False)
    print(f"wrote {len(predictions)} predictions to {path}")


if __name__ == "__main__":
    main()
