"""Batch prediction: train on train.csv, score test_features.csv, write predictions.csv."""

from __future__ import annotations

import pandas as pd

from fraud_model.data import ID_COLUMN, load_test_features, load_train, output_dir
from fraud_model.train import FittedModel, fit


def predictions_frame(model: FittedModel, test: pd.DataFrame) -> pd.DataFrame:
    """transaction_id, score (probability of fraud) and label (score >= threshold)."""
    scores = model.score(test)
    return pd.DataFrame(
        {
            ID_COLUMN: test[ID_COLUMN].to_numpy(),
            "score": scores.round(6),
            "label": (scores >= model.threshold).astype(int),
        }
    )


def main() -> None:
    model = fit(load_train())
    predictions = predictions_frame(model, load_test_features())
    path = output_dir() / "predictions.csv"
    predictions.to_csv(path, index=False)
    print(
        f"cv average precision {model.cv_average_precision:.3f}, "
        f"threshold {model.threshold:.3f}, {int(predictions['label'].sum())} flagged, "
        f"wrote {path}"
    )


if __name__ == "__main__":
    main()
