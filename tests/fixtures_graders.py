"""Builders for small crafted submissions used by the grader tests (everything in tmp_path)."""

from __future__ import annotations

import base64
import functools
import struct
import tempfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat

from graders.base import Artifacts, GraderContext

Cell = tuple[str, str]


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, valid RGB PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x80\x40\x20" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def image_output(data: bytes | None = None) -> nbformat.NotebookNode:
    """A ``display_data`` output holding a PNG figure (a real one unless ``data`` is given)."""
    payload = base64.b64encode(png_bytes() if data is None else data).decode()
    return nbformat.v4.new_output(
        "display_data", data={"image/png": payload, "text/plain": "<Figure size 640x480>"}
    )


def text_output(text: str) -> nbformat.NotebookNode:
    """An ``execute_result`` output with plain text."""
    return nbformat.v4.new_output("execute_result", data={"text/plain": text}, execution_count=1)


def make_notebook(
    root: Path,
    cells: Sequence[Cell],
    *,
    name: str = "analysis.ipynb",
    outputs: Mapping[int, list[Any]] | None = None,
) -> Path:
    """Write a notebook under ``root`` with ``cells`` = [(cell_type, source)], return its path.

    ``outputs`` maps a cell index to the outputs of that (code) cell.
    """
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    for index, (kind, text) in enumerate(cells):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text, outputs=list((outputs or {}).get(index, [])))
        cell["id"] = f"cell-{index}"
        notebook.cells.append(cell)
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


def write_files(root: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``{relative path: text or bytes}`` under ``root``."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def make_assignment(
    root: Path,
    *,
    target: str = "is_fraud",
    id_column: str = "transaction_id",
    task_type: str = "binary_classification",
    positive_class: Any = 1,
    positives: int = 5,
    rows: int = 100,
    extra_columns: Mapping[str, Sequence[Any]] | None = None,
    missing_values: bool = True,
    test_rows: int = 20,
) -> SimpleNamespace:
    """A fake assignment shaped like ``harness.assignment.Assignment``, with a small train.csv.

    ``hidden/`` holds ``test_features.csv`` and ``test_labels.csv`` with ``test_rows`` rows whose
    ids are 1001, 1002, ... (see :func:`held_out_ids`).

    The target is binary with ``positives`` positive rows out of ``rows`` (5% by default);
    ``amount`` has a missing value when ``missing_values``; ``merchant`` is categorical.
    """
    root.mkdir(parents=True, exist_ok=True)
    columns: dict[str, list[Any]] = {
        id_column: list(range(1, rows + 1)),
        "amount": [("" if missing_values and i == 3 else f"{i * 1.5:.1f}") for i in range(rows)],
        "merchant": [("shop", "cafe", "fuel")[i % 3] for i in range(rows)],
        target: [1 if i < positives else 0 for i in range(rows)],
    }
    for name, values in (extra_columns or {}).items():
        columns[name] = list(values)
    header = ",".join(columns)
    lines = [header] + [",".join(str(columns[name][i]) for name in columns) for i in range(rows)]
    (root / "public").mkdir(exist_ok=True)
    (root / "hidden").mkdir(exist_ok=True)
    train_csv = root / "public" / "train.csv"
    train_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _write_hidden(root, id_column, target, test_rows, positives=max(1, test_rows // 10))
    classification = "classification" in task_type
    spec = SimpleNamespace(
        slug="fake-assignment",
        title="Fake assignment",
        target=target,
        id_column=id_column,
        task_type=task_type,
        positive_class=positive_class if classification else None,
        classes=[0, 1] if classification else None,
        metrics=["average_precision"] if classification else ["rmse"],
        primary_metric="average_precision" if classification else "rmse",
        is_classification=classification,
    )
    columns_out = [id_column, "score", "label"] if classification else [id_column, "prediction"]
    return SimpleNamespace(
        spec=spec,
        root=root,
        train_csv=train_csv,
        public_dir=root / "public",
        hidden_dir=root / "hidden",
        spec_file=root / "assignment.yaml",
        readme=root / "README.md",
        sample_test_features_csv=root / "public" / "sample_test_features.csv",
        hidden_features_csv=root / "hidden" / "test_features.csv",
        hidden_labels_csv=root / "hidden" / "test_labels.csv",
        prediction_columns=lambda: list(columns_out),
    )


def make_real_assignment(root: Path, **kwargs: Any) -> Any:
    """Like :func:`make_assignment`, plus ``assignment.yaml``, loaded with the real loader.

    Falls back to the fake when ``harness.assignment`` cannot load it (kept in step with the
    spec's schema by the conformance test that uses it).
    """
    fake = make_assignment(root, **kwargs)
    spec = fake.spec
    lines = [
        f"slug: {spec.slug}",
        f"title: {spec.title}",
        f"task_type: {spec.task_type}",
        f"target: {spec.target}",
        f"id_column: {spec.id_column}",
        f"metrics: [{', '.join(spec.metrics)}]",
        f"primary_metric: {spec.primary_metric}",
    ]
    if spec.is_classification:
        lines += [f"positive_class: {spec.positive_class}", "classes: [0, 1]"]
    (root / "assignment.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "README.md").write_text("# Fake assignment\n", encoding="utf-8")
    try:
        from harness.assignment import load_assignment
    except ImportError:
        return fake
    return load_assignment(root)


TEST_ID_START = 1001


def held_out_ids(count: int = 20) -> list[int]:
    """Ids of the fake assignment's held-out rows."""
    return list(range(TEST_ID_START, TEST_ID_START + count))


def _write_hidden(root: Path, id_column: str, target: str, rows: int, positives: int) -> None:
    ids = held_out_ids(rows)
    features = [f"{id_column},amount,merchant"] + [f"{i},{i % 7}.5,shop" for i in ids]
    labels = [f"{id_column},{target}"] + [
        f"{i},{1 if n < positives else 0}" for n, i in enumerate(ids)
    ]
    (root / "hidden" / "test_features.csv").write_text("\n".join(features) + "\n")
    (root / "hidden" / "test_labels.csv").write_text("\n".join(labels) + "\n")


def make_artifacts(
    root: Path,
    *,
    predictions: str | None = None,
    executed_notebooks: Mapping[str, Path] | None = None,
    figures: Sequence[Path] = (),
) -> Artifacts:
    """Artifacts under ``root``; ``predictions`` is written to ``predictions.csv`` when given."""
    root.mkdir(parents=True, exist_ok=True)
    predictions_path = None
    if predictions is not None:
        predictions_path = root / "predictions.csv"
        predictions_path.write_text(predictions, encoding="utf-8")
    return Artifacts(
        root=root,
        executed_notebooks=dict(executed_notebooks or {}),
        predictions=predictions_path,
        figures=list(figures),
    )


@functools.lru_cache(maxsize=1)
def default_assignment() -> SimpleNamespace:
    """One fake assignment per test session, in its own temporary folder (read-only use)."""
    return make_assignment(Path(tempfile.mkdtemp(prefix="takehome-fake-assignment-")))


def make_context(
    snapshot_root: Path,
    assignment: Any = None,
    artifacts: Artifacts | None = None,
    **options: Any,
) -> GraderContext:
    """A grader context for ``snapshot_root`` (the shared default fake assignment when None).

    Nothing is ever written next to ``snapshot_root`` (it may be a folder of the repository).
    """
    if assignment is None:
        assignment = default_assignment()
    return GraderContext(
        snapshot_root=snapshot_root,
        snapshot_meta={"kind": "directory"},
        assignment=assignment,
        artifacts=artifacts,
        options=dict(options),
    )


def cell_locations(check: Any) -> list[tuple[str | None, int | None, int | None]]:
    """``(path, cell, line)`` of every evidence item of a check or red flag."""
    return [(e.path, e.cell, e.line) for e in check.evidence]


def by_id(items: Sequence[Any]) -> dict[str, Any]:
    """Checks or red flags keyed by id."""
    return {item.id: item for item in items}
