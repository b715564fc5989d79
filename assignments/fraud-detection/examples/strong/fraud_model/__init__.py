"""Card-fraud scoring: feature engineering, a gradient-boosting model and a batch predictor."""

__all__ = ["data", "features", "predict", "train"]
