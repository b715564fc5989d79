"""Builders for small crafted submissions used by the grader tests (everything in tmp_path)."""

from __future__ import annotations

import base64
import struct
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
    task_type: str = "classification",
    positive_class: Any = 1,
    positives: int = 5,
    rows: int = 100,
    extra_columns: Mapping[str, Sequence[Any]] | None = None,
    missing_values: bool = True,
) -> SimpleNamespace:
    """A fake assignment (``spec`` + ``train_csv`` + ``root``) with a small train.csv.

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
    train_csv = root / "train.csv"
    train_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = SimpleNamespace(
        target=target,
        id_column=id_column,
        task_type=task_type,
        positive_class=positive_class,
        classes=[0, 1] if task_type == "classification" else None,
        metrics=["average_precision"],
        primary_metric="average_precision",
    )
    return SimpleNamespace(spec=spec, train_csv=train_csv, root=root)


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


def make_context(
    snapshot_root: Path,
    assignment: Any = None,
    artifacts: Artifacts | None = None,
    **options: Any,
) -> GraderContext:
    """A grader context for ``snapshot_root`` (a default fake assignment when None)."""
    if assignment is None:
        assignment = make_assignment(snapshot_root.parent / f"{snapshot_root.name}-assignment")
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
