"""Plots of held-out metrics, drawn on the host with matplotlib (Agg) from numbers in a result.

The numbers come from ``heldout_metrics`` details, which the harness computed itself; they are
still validated (finite, in range, capped length) because a result file can be edited by hand.
Every function returns PNG bytes, or None when the input is unusable or matplotlib is missing.

matplotlib is imported only when a plot is drawn, or ahead of time by :func:`preload` (a
background thread that a batch starts while its sandboxes run, so that the import is off the
critical path). Each plot is drawn once per process for the same numbers (``takehome report``
and the web views re-render reports).
"""

from __future__ import annotations

import base64
import functools
import io
import math
import threading
from collections.abc import Sequence
from typing import Any

MAX_POINTS = 2000
MAX_CLASSES = 12
_STYLE = {"line": "#2457a6", "chance": "#9aa3ad", "grid": "#e6e9ee"}


def data_uri(png: bytes, mime: str = "image/png") -> str:
    """A ``data:`` URI for image bytes."""
    return f"data:{mime};base64," + base64.b64encode(png).decode("ascii")


def _unit_series(values: Any) -> list[float] | None:
    """A list of finite floats in [0, 1], downsampled to MAX_POINTS; None when unusable."""
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)) or len(values) < 2:
        return None
    out: list[float] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not math.isfinite(value):
            return None
        out.append(min(1.0, max(0.0, float(value))))
    if len(out) > MAX_POINTS:
        step = math.ceil(len(out) / MAX_POINTS)
        out = out[::step] + ([out[-1]] if (len(out) - 1) % step else [])
    return out


_PRELOAD_LOCK = threading.Lock()
_preload_thread: threading.Thread | None = None


def _import_figure():
    """matplotlib's Figure class, or None when matplotlib is missing.

    Figures are drawn with the object API (``Figure.savefig`` picks the Agg canvas for PNG),
    never through pyplot: ``matplotlib.use`` would reach into a ``matplotlib.pyplot`` that
    another thread (copydetect's import, for the similarity) may be importing at that moment.
    """
    try:
        from matplotlib.backends import backend_agg  # noqa: F401 - what savefig will use
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a report dependency
        return None
    return Figure


def _warm() -> None:
    # The first draw of each kind loads fonts, glyphs, the colour map and the PNG encoder:
    # drawing one of each (uncached) here takes that off the report's path.
    if _import_figure() is not None:
        _pr_png.__wrapped__((1.0, 0.5), (0.0, 1.0), 0.5)
        _roc_png.__wrapped__((0.0, 1.0), (0.0, 1.0))
        _matrix_png.__wrapped__(((1, 2), (3, 4)), None)


def preload() -> threading.Thread:
    """Import matplotlib and load its fonts in a background thread (once per process)."""
    global _preload_thread
    with _PRELOAD_LOCK:
        if _preload_thread is None:
            # Not a daemon: finalisation unwinding a thread inside matplotlib's C++ aborts.
            _preload_thread = threading.Thread(target=_warm, name="plots-preload")
            _preload_thread.start()
        return _preload_thread


def _figure():
    with _PRELOAD_LOCK:
        pending = _preload_thread
    if pending is not None and pending is not threading.current_thread():
        pending.join()  # matplotlib's state is not shared across threads mid-import
    figure_class = _import_figure()
    if figure_class is None:
        return None
    figure = figure_class(figsize=(3.6, 3.0), dpi=110)
    axes = figure.add_subplot(1, 1, 1)
    axes.grid(True, color=_STYLE["grid"], linewidth=0.8)
    axes.set_axisbelow(True)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=8)
    return figure, axes


# The margins tight_layout computes for the PR and ROC plots, whose axes (0-1), ticks, labels
# and title never change: set directly, they spare a layout pass (~40 ms a plot).
_UNIT_AXES_MARGINS = {"left": 0.1707, "right": 0.9331, "bottom": 0.1813, "top": 0.8889}


def _png(figure, margins: dict[str, float] | None = None) -> bytes:
    buffer = io.BytesIO()
    if margins is None:
        figure.tight_layout()
    else:
        figure.subplots_adjust(**margins)
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def pr_curve_png(precision: Any, recall: Any, positive_rate: float | None = None) -> bytes | None:
    """Precision–recall curve; the dashed line is the no-skill precision (positive rate)."""
    p, r = _unit_series(precision), _unit_series(recall)
    if p is None or r is None or len(p) != len(r):
        return None
    if not isinstance(positive_rate, (int, float)) or isinstance(positive_rate, bool):
        positive_rate = None
    return _pr_png(tuple(p), tuple(r), positive_rate)


@functools.lru_cache(maxsize=64)
def _pr_png(p: tuple[float, ...], r: tuple[float, ...], positive_rate: float | None):
    made = _figure()
    if made is None:
        return None
    figure, axes = made
    axes.plot(r, p, color=_STYLE["line"], linewidth=1.8, drawstyle="steps-post")
    if positive_rate is not None and math.isfinite(positive_rate) and 0 < positive_rate < 1:
        axes.axhline(positive_rate, color=_STYLE["chance"], linestyle="--", linewidth=1,
                     label=f"no skill ({positive_rate:.3f})")
        axes.legend(fontsize=7, frameon=False, loc="upper right")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("recall", fontsize=9)
    axes.set_ylabel("precision", fontsize=9)
    axes.set_title("Precision–recall (held-out)", fontsize=9)
    return _png(figure, _UNIT_AXES_MARGINS)


def roc_curve_png(fpr: Any, tpr: Any) -> bytes | None:
    """ROC curve with the chance diagonal."""
    x, y = _unit_series(fpr), _unit_series(tpr)
    if x is None or y is None or len(x) != len(y):
        return None
    return _roc_png(tuple(x), tuple(y))


@functools.lru_cache(maxsize=64)
def _roc_png(x: tuple[float, ...], y: tuple[float, ...]) -> bytes | None:
    made = _figure()
    if made is None:
        return None
    figure, axes = made
    axes.plot([0, 1], [0, 1], color=_STYLE["chance"], linestyle="--", linewidth=1)
    axes.plot(x, y, color=_STYLE["line"], linewidth=1.8)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("false positive rate", fontsize=9)
    axes.set_ylabel("true positive rate", fontsize=9)
    axes.set_title("ROC (held-out)", fontsize=9)
    return _png(figure, _UNIT_AXES_MARGINS)


def valid_matrix(matrix: Any) -> list[list[int]] | None:
    """A square matrix of non-negative integers (2–MAX_CLASSES classes), or None."""
    if not isinstance(matrix, Sequence) or isinstance(matrix, (str, bytes)):
        return None
    size = len(matrix)
    if not 2 <= size <= MAX_CLASSES:
        return None
    rows: list[list[int]] = []
    for row in matrix:
        if not isinstance(row, Sequence) or isinstance(row, (str, bytes)) or len(row) != size:
            return None
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
               or v < 0 or v != int(v) for v in row):
            return None
        rows.append([int(v) for v in row])
    return rows


def confusion_matrix_png(matrix: Any, labels: Sequence[str] | None = None) -> bytes | None:
    """Confusion matrix (rows: actual, columns: predicted) with counts in the cells."""
    rows = valid_matrix(matrix)
    if rows is None:
        return None
    names = tuple(str(v) for v in labels) if labels and len(labels) == len(rows) else None
    return _matrix_png(tuple(tuple(row) for row in rows), names)


@functools.lru_cache(maxsize=64)
def _matrix_png(rows: tuple[tuple[int, ...], ...], labels: tuple[str, ...] | None):
    made = _figure()
    if made is None:
        return None
    figure, axes = made
    axes.grid(False)
    size = len(rows)
    names = [str(v)[:12] for v in labels] if labels and len(labels) == size else (
        ["negative", "positive"] if size == 2 else [str(i) for i in range(size)])
    peak = max(max(r) for r in rows) or 1
    axes.imshow(rows, cmap="Blues", vmin=0, vmax=peak)
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            axes.text(j, i, f"{value:,}", ha="center", va="center", fontsize=9,
                      color="white" if value > peak * 0.55 else "#1b2430")
    axes.set_xticks(range(size), names, fontsize=8)
    axes.set_yticks(range(size), names, fontsize=8)
    axes.set_xlabel("predicted", fontsize=9)
    axes.set_ylabel("actual", fontsize=9)
    axes.set_title("Confusion matrix (held-out)", fontsize=9)
    return _png(figure)
