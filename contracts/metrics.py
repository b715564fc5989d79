"""The held-out metrics an assignment may name, and which direction is better."""

from __future__ import annotations

#: Whether a larger value of the metric is better (False: lower is better).
GREATER_IS_BETTER: dict[str, bool] = {
    "average_precision": True,
    "roc_auc": True,
    "f1": True,
    "precision": True,
    "recall": True,
    "balanced_accuracy": True,
    "accuracy": True,
    "matthews_corrcoef": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}
