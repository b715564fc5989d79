"""Slow imports are paid only by the code paths that need them (issue 15).

Each check runs in a fresh interpreter, so that what other tests imported cannot hide an
import; it fails by naming the module that was imported.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_cli_start_up_imports_no_heavy_library():
    _run("""
        import sys
        import harness.cli, harness.report.plots, harness.similarity, harness.batch
        heavy = {"matplotlib", "sklearn", "scipy", "copydetect", "pandas"} & set(sys.modules)
        assert not heavy, heavy
    """)


def test_heldout_scoring_does_not_import_scikit_learn():
    _run("""
        import sys
        import numpy as np
        from types import SimpleNamespace
        from graders import heldout_metrics as hm
        spec = SimpleNamespace(task_type="binary_classification", classes=[0, 1],
                               positive_class=1, metrics=["average_precision", "roc_auc", "f1"])
        rng = np.random.default_rng(0)
        y = (rng.random(500) < 0.2).astype(np.int64)
        values = {"score": rng.random(500), "label": rng.integers(0, 2, 500)}
        hm.compute_metrics(spec, y, values)
        hm.curves(spec, y, values)
        hm.bootstrap_ci(hm.weighted_metric(spec, "average_precision", y, values), 500)
        heavy = {"sklearn", "scipy"} & set(sys.modules)
        assert not heavy, heavy
    """)


def test_copydetect_is_imported_only_when_there_is_a_pair_to_compare(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        folder.mkdir()
        (folder / "model.py").write_text("def fit(x):\n    return sum(x) / len(x)\n" * 20)
    _run(f"""
        import sys
        from pathlib import Path
        from harness.similarity import find_similar
        assert find_similar({{"one": Path({str(one)!r})}}) == []
        assert "copydetect" not in sys.modules
        find_similar({{"one": Path({str(one)!r}), "two": Path({str(two)!r})}})
        assert "copydetect" in sys.modules
    """)


def test_plots_preload_imports_matplotlib_in_the_background():
    _run("""
        import sys
        from harness.report import plots
        assert "matplotlib" not in sys.modules
        plots.preload().join(60)
        assert "matplotlib" in sys.modules
        png = plots.roc_curve_png([0, 0.5, 1], [0, 0.8, 1])
        assert png.startswith(b"\\x89PNG") and plots.roc_curve_png([0, 0.5, 1], [0, 0.8, 1]) is png
    """)


def test_plots_preload_beside_the_similarity_import_raises_nothing():
    """copydetect imports matplotlib.pyplot; the preload must not touch a half-imported pyplot."""
    _run("""
        import threading
        failures = []
        threading.excepthook = lambda args: failures.append(repr(args.exc_value))
        from harness.report import plots
        other = threading.Thread(target=lambda: __import__("copydetect"))
        other.start()
        plots.preload().join(60)
        other.join(60)
        assert not failures, failures
        assert plots.pr_curve_png([1, 0.5], [0, 1], 0.1).startswith(b"\\x89PNG")
    """)
