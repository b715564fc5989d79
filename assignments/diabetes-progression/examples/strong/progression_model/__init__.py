"""Diabetes progression: features, a cross-validated ridge model and a batch predictor."""
