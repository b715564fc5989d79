"""takehome: a grading harness for machine-learning take-home assessments."""

__version__ = "0.1.0"
