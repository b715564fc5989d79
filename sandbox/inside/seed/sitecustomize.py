"""Seed the global random generators of candidate code, so a regrade gives the same scores.

Imported at start by every Python process of the candidate (the sandbox puts this folder on
``PYTHONPATH``; takehome's own processes run in isolated mode and never see it). Code that never
seeds, such as ``RandomForestClassifier()`` without ``random_state``, would otherwise draw other
numbers, and so get other predictions and held-out scores, each time it is graded. Otter-Grader's
``seed`` option solves the same problem the same way. Code that seeds itself is unaffected.

Python's ``random`` is seeded at once; NumPy's global generator when NumPy is first imported,
so a process that never uses NumPy does not pay for importing it.
"""

import importlib.abc
import importlib.util
import random
import sys

SEED = 0

random.seed(SEED)


class _SeedNumpyOnImport(importlib.abc.MetaPathFinder):
    """Runs ``numpy.random.seed(SEED)`` right after ``numpy`` is first imported."""

    def find_spec(self, name, path=None, target=None):
        """The spec of ``numpy``, its loader wrapped to seed after executing; None otherwise."""
        if name != "numpy":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_seed(module):
            exec_module(module)
            seed = getattr(getattr(module, "random", None), "seed", None)
            if callable(seed):  # a broken or fake NumPy is the candidate's to find
                seed(SEED)

        spec.loader.exec_module = exec_then_seed
        return spec


sys.meta_path.insert(0, _SeedNumpyOnImport())
