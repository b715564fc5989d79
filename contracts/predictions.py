"""Kaggle-style validation of a submission's ``predictions.csv`` against the held-out ids.

The file is hostile input (written by candidate code in the sandbox): it is read with a size
cap, every value as a string, and nothing is evaluated. Validation is label-safe: messages carry
counts and column names only, plus at most :data:`MAX_EXAMPLE_IDS` example ids (ids are not
labels). They never mention a label value, a class name or which rows are right or wrong, so they
can go into reports and logs as they are.

Expected columns (``Assignment.prediction_columns()``):

* binary classification: ``<id>, score, label`` (``score`` = probability of ``positive_class``
  in [0, 1]; ``label`` one of ``classes``),
* multiclass classification: ``<id>, label``,
* regression: ``<id>, prediction`` (finite number).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contracts.files import read_bytes_capped

MAX_PREDICTIONS_BYTES = 100_000_000
MAX_EXAMPLE_IDS = 3
MAX_ID_CHARS = 40  # example ids are clipped to this many characters in messages


@dataclass(frozen=True)
class PredictionsCheck:
    """The outcome of validating one predictions file.

    ``values`` holds the parsed prediction columns aligned with ``ids`` (the held-out ids in the
    order they were given): ``score`` (float64), ``label`` (class index into ``classes``, int64)
    and ``prediction`` (float64), each present only when the task has that column. They are set
    only when ``ok`` is True.
    """

    ok: bool
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    n_rows: int = 0
    n_expected: int = 0
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> str:
        """One label-safe sentence describing the outcome."""
        if self.ok:
            return f"predictions.csv is valid: {self.n_rows} rows, one per held-out id."
        return "predictions.csv is invalid: " + "; ".join(self.errors) + "."


def _examples(ids: Sequence[str]) -> str:
    shown = []
    for item in list(ids)[:MAX_EXAMPLE_IDS]:
        text = item if len(item) <= MAX_ID_CHARS else item[: MAX_ID_CHARS - 1] + "…"
        shown.append(repr(text))
    return ", ".join(shown)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def canonical_id(value: Any) -> str:
    """The comparison form of an id: its string, stripped; integral floats lose ``.0``."""
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        return text[:-2]
    return text


def class_index(values: pd.Series, classes: Sequence[int | str]) -> np.ndarray:
    """Map label strings to indices into ``classes``; -1 where a value is not a class.

    A value matches a class when its stripped text equals the class's text or, for numeric
    classes, when it parses to the same number (``"1.0"`` matches class ``1``).
    """
    by_text = {str(c).strip(): i for i, c in enumerate(classes)}
    by_number: dict[float, int] = {}
    for i, c in enumerate(classes):
        try:
            by_number[float(c)] = i
        except (TypeError, ValueError):
            continue
    out = np.full(len(values), -1, dtype=np.int64)
    for row, raw in enumerate(values.astype(str).str.strip().tolist()):
        index = by_text.get(raw)
        if index is None and by_number:
            try:
                number = float(raw)
            except ValueError:
                number = math.nan
            index = by_number.get(number) if math.isfinite(number) else None
        if index is not None:
            out[row] = index
    return out


def _read_frame(
    path: Path | None, max_bytes: int, max_rows: int
) -> tuple[pd.DataFrame | None, str]:
    """Return (frame, "") or (None, label-safe reason)."""
    if path is None or not Path(path).exists():
        return None, "no predictions file was written"
    data = read_bytes_capped(path, max_bytes)
    if data is None:
        return None, f"the file is not a regular file or is larger than {max_bytes} bytes"
    if not data.strip():
        return None, "the file is empty"
    try:
        with warnings.catch_warnings():
            # A row longer than the header makes pandas warn (and drop data): treat as malformed.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = _parse(data, max_rows)
    except Exception:  # noqa: BLE001 - pandas raises ParserError, ValueError, ParserWarning, ...
        return None, "the file is not a parseable CSV (ragged rows or bad quoting)"
    if len(frame) > max_rows:
        return None, f"the file has more than {max_rows} rows"
    frame.columns = [str(column).strip().lstrip("\ufeff") for column in frame.columns]
    return frame, ""


def _parse(data: bytes, max_rows: int) -> pd.DataFrame:
    """Every value as text, nothing inferred; no implicit index column."""
    return pd.read_csv(
        io.BytesIO(data),
        dtype=str,
        keep_default_na=False,
        index_col=False,
        nrows=max_rows + 1,
        engine="c",
        on_bad_lines="error",
        encoding="utf-8",
        encoding_errors="replace",
        low_memory=False,
    )


def _check_columns(frame: pd.DataFrame, expected: list[str]) -> tuple[list[str], list[str]]:
    errors, warnings = [], []
    columns = list(frame.columns)
    missing = [c for c in expected if c not in columns]
    if missing:
        errors.append(f"missing column(s) {missing} (expected {expected}, found {columns[:20]})")
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        errors.append(f"duplicate column name(s) {dupes}")
    extra = [c for c in columns if c not in expected]
    if extra and not missing:
        warnings.append(f"extra column(s) ignored: {extra[:20]}")
    return errors, warnings


def _check_ids(frame: pd.DataFrame, id_column: str, expected_ids: list[str]) -> list[str]:
    errors: list[str] = []
    got = [canonical_id(v) for v in frame[id_column].tolist()]
    empty = sum(1 for v in got if v == "")
    if empty:
        errors.append(f"{_plural(empty, 'row')} with an empty {id_column!r}")
    counts = pd.Series(got, dtype=object).value_counts(sort=False)
    duplicated = counts[counts > 1]
    if len(duplicated):
        examples = sorted(str(i) for i in duplicated.index)
        errors.append(
            f"{_plural(len(duplicated), 'id')} appear more than once in {id_column!r} "
            f"(e.g. {_examples(examples)})"
        )
    expected_set = set(expected_ids)
    got_set = set(got) - {""}
    missing = sorted(expected_set - got_set)
    extra = sorted(got_set - expected_set)
    if missing:
        errors.append(
            f"{_plural(len(missing), 'held-out id')} missing of {len(expected_set)} "
            f"(e.g. {_examples(missing)})"
        )
    if extra:
        errors.append(
            f"{_plural(len(extra), 'id')} not in the held-out set (e.g. {_examples(extra)})"
        )
    return errors


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column].str.strip(), errors="coerce").to_numpy(dtype=np.float64)


def validate_predictions(
    path: Path | None,
    *,
    task_type: str,
    id_column: str,
    expected_ids: Sequence[Any],
    classes: Sequence[int | str] | None = None,
    max_bytes: int = MAX_PREDICTIONS_BYTES,
) -> PredictionsCheck:
    """Validate ``path`` against the held-out ``expected_ids``; never raises for bad files.

    Checks, in order: the file exists, is under ``max_bytes`` and parses as CSV; the expected
    columns are present; every held-out id appears exactly once and no other id appears; the
    value columns parse (finite ``score`` in [0, 1], ``label`` one of ``classes``, finite
    ``prediction``). All problems found are reported, not just the first.
    """
    ids = [canonical_id(v) for v in expected_ids]
    n_expected = len(ids)
    if task_type == "binary_classification":
        value_columns = ["score", "label"]
    elif task_type == "multiclass_classification":
        value_columns = ["label"]
    elif task_type == "regression":
        value_columns = ["prediction"]
    else:
        raise ValueError(f"unknown task_type {task_type!r}")
    if "label" in value_columns and not classes:
        raise ValueError("classification needs classes")
    expected_columns = [id_column, *value_columns]
    frame, reason = _read_frame(path, max_bytes, max_rows=max(10 * n_expected, 1000))
    if frame is None:
        return PredictionsCheck(ok=False, errors=[reason], n_expected=n_expected)
    n_rows = len(frame)
    errors, warnings = _check_columns(frame, expected_columns)
    if errors:
        return PredictionsCheck(
            ok=False, errors=errors, warnings=warnings, n_rows=n_rows, n_expected=n_expected
        )
    errors.extend(_check_ids(frame, id_column, ids))
    values: dict[str, np.ndarray] = {}
    if "score" in value_columns:
        score = _numeric(frame, "score")
        bad = int(np.sum(~np.isfinite(score)))
        if bad:
            errors.append(f"{_plural(bad, 'row')} with a non-numeric or non-finite 'score'")
        outside = int(np.sum(np.isfinite(score) & ((score < 0) | (score > 1))))
        if outside:
            errors.append(f"{_plural(outside, 'row')} with 'score' outside [0, 1]")
        values["score"] = score
    if "label" in value_columns:
        label = class_index(frame["label"], classes or [])
        bad = int(np.sum(label < 0))
        if bad:
            errors.append(
                f"{_plural(bad, 'row')} with a 'label' that is not one of the assignment's classes"
            )
        values["label"] = label
    if "prediction" in value_columns:
        prediction = _numeric(frame, "prediction")
        bad = int(np.sum(~np.isfinite(prediction)))
        if bad:
            errors.append(f"{_plural(bad, 'row')} with a non-numeric or non-finite 'prediction'")
        values["prediction"] = prediction
    if errors:
        return PredictionsCheck(
            ok=False, errors=errors, warnings=warnings, n_rows=n_rows, n_expected=n_expected
        )
    # Align to the expected id order (ids are unique and complete here).
    position = {v: i for i, v in enumerate(canonical_id(v) for v in frame[id_column].tolist())}
    order = np.fromiter((position[i] for i in ids), dtype=np.int64, count=n_expected)
    aligned = {name: array[order] for name, array in values.items()}
    return PredictionsCheck(
        ok=True, warnings=warnings, n_rows=n_rows, n_expected=n_expected, values=aligned
    )


def ids_from_csv(path: Path, id_column: str, max_bytes: int = MAX_PREDICTIONS_BYTES) -> list[str]:
    """The canonical ids of a features file (e.g. the public sample for ``takehome check``).

    Raises ValueError (naming the file and column) when the file cannot be read or has no such
    column: these are the assignment's own files, so that is an authoring error.
    """
    frame, reason = _read_frame(path, max_bytes, max_rows=10_000_000)
    if frame is None:
        raise ValueError(f"{path}: {reason}")
    if id_column not in frame.columns:
        raise ValueError(f"{path}: no column {id_column!r}")
    return [canonical_id(v) for v in frame[id_column].tolist()]
