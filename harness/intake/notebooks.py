"""Notebook normalisation at intake: what Jupyter opens is accepted, what nobody can read is named.

Every ``.ipynb`` is read as nbformat 4 (older versions are converted) and validated. A notebook
that does not validate as written is normalised the way nbformat itself does it
(:func:`nbformat.validator.normalize`: cell ids for the notebook's minor version, duplicate ids
repaired, invalid metadata stripped), then what the schema still refuses is repaired
conservatively: missing ``metadata``/``source``/``outputs`` fields are added empty, keys the
schema does not allow are removed, outputs of an unknown type are dropped. A repaired notebook
is rewritten in the snapshot (so the sandbox runs a valid file); a valid one is never touched.

A notebook that is truly unreadable (not UTF-8, not JSON, not a notebook, or still invalid
after the repairs) does not reject the submission: :func:`check_notebook` reports it, intake
records it on the snapshot (``unreadable_notebooks``), it is not executed, and the rest of the
submission is graded.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nbformat
import nbformat.validator

from contracts.errors import SubmissionRejected

_MESSAGE_MAX_CHARS = 300
_MAX_REPAIR_ROUNDS = 5
_MAX_ERRORS_PER_ROUND = 2000
_CELL_REQUIRED: dict[str, dict[str, Any]] = {
    "code": {"metadata": {}, "source": "", "outputs": [], "execution_count": None},
    "markdown": {"metadata": {}, "source": ""},
    "raw": {"metadata": {}, "source": ""},
}
_OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error"})

NotebookStatus = Literal["ok", "repaired", "unreadable"]


@dataclass(frozen=True)
class NotebookCheck:
    """What intake made of one notebook; ``detail`` says what was repaired or why unreadable."""

    rel: str
    status: NotebookStatus
    detail: str = ""

    def sentence(self) -> str:
        """One line for the snapshot's notes and the report."""
        return f"{self.rel}: {self.detail}" if self.detail else self.rel


class UnreadableNotebook(Exception):
    """A notebook that cannot be read at all (the message says why)."""


def _location(error: Exception) -> str:
    path = list(getattr(error, "absolute_path", None) or getattr(error, "path", None) or [])
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        return f"cell {path[1]}: "
    return ""


def _message(error: Exception) -> str:
    text = str(getattr(error, "message", None) or error).strip().splitlines()
    first = text[0] if text else type(error).__name__
    return first[:_MESSAGE_MAX_CHARS]


def _first_error(notebook: Any) -> Exception | None:
    """The first schema error of ``notebook`` (None when valid)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(notebook)
    except Exception as raised:  # noqa: BLE001 - ValidationError, or worse breakage
        return raised
    return None


def _read(path: Path) -> tuple[Any, int]:
    """The notebook as nbformat 4 and its version as written; UnreadableNotebook with a reason."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableNotebook("is not UTF-8 text") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise UnreadableNotebook(f"is not a readable notebook: not JSON ({error.msg}, line "
                         f"{error.lineno})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
        raise UnreadableNotebook("is not a readable notebook: no nbformat version") from None
    written = raw["nbformat"]
    _fill_top_level(raw)
    try:
        return nbformat.convert(nbformat.from_dict(raw), 4), written
    except Exception as error:  # noqa: BLE001 - nbformat raises many types for bad input
        raise UnreadableNotebook(f"is not a readable notebook: {_message(error)}") from None


def _fill_top_level(raw: dict) -> None:
    """A notebook without top-level ``metadata`` still opens in Jupyter: add it empty."""
    raw.setdefault("metadata", {})
    raw.setdefault("nbformat_minor", 0)


def _fill_cells(notebook: Any) -> int:
    """Add the fields a cell must have (empty) and drop outputs of unknown type; count changes."""
    changes = 0
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        for key, default in _CELL_REQUIRED.get(cell.get("cell_type"), {}).items():
            if key not in cell:
                cell[key] = copy.deepcopy(default)
                changes += 1
        outputs = cell.get("outputs")
        if isinstance(outputs, list):
            kept = [o for o in outputs if isinstance(o, dict)
                    and o.get("output_type") in _OUTPUT_TYPES]
            if len(kept) != len(outputs):
                cell["outputs"] = kept
                changes += 1
    return changes


def _strip_unknown_keys(notebook: Any) -> int:
    """Remove keys the schema reports as not allowed (``additionalProperties``); count them."""
    removed = 0
    errors = nbformat.validator.iter_validate(notebook)
    for count, error in enumerate(errors):
        if count >= _MAX_ERRORS_PER_ROUND:
            break
        if getattr(error, "validator", None) != "additionalProperties":
            continue
        holder = notebook
        for part in error.absolute_path:
            holder = holder[part]
        allowed = set((getattr(error, "schema", None) or {}).get("properties", {}))
        if isinstance(holder, dict) and allowed:
            for key in [k for k in holder if k not in allowed]:
                del holder[key]
                removed += 1
    return removed


def _repair(notebook: Any) -> tuple[Any, list[str]]:
    """nbformat's own normalisation, then the conservative repairs; what was done, in words."""
    done: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        changes, notebook = nbformat.validator.normalize(notebook, strip_invalid_metadata=True)
    if changes:
        done.append("normalised by nbformat (cell ids, metadata)")
    if _fill_cells(notebook):
        done.append("missing cell fields added, unknown outputs dropped")
    for _ in range(_MAX_REPAIR_ROUNDS):
        if _first_error(notebook) is None or not _strip_unknown_keys(notebook):
            break
        if "keys the schema does not allow removed" not in done:
            done.append("keys the schema does not allow removed")
    return nbformat.from_dict(notebook), done


def check_notebook(path: Path, rel: str) -> NotebookCheck:
    """Read, validate and if needed repair ``path`` in place; never raises for bad content."""
    try:
        notebook, written = _read(path)
    except UnreadableNotebook as error:
        return NotebookCheck(rel, "unreadable", str(error))
    except RecursionError:
        return NotebookCheck(rel, "unreadable", "is not a readable notebook: nested too deeply")
    try:
        error = _first_error(notebook)
        if error is None:
            return NotebookCheck(rel, "ok", f"converted from nbformat {written}"
                                 if written and written < 4 else "")
        repaired, done = _repair(notebook)
        remaining = _first_error(repaired)
        if remaining is not None:
            return NotebookCheck(rel, "unreadable",
                                 f"is invalid: {_location(remaining)}{_message(remaining)}")
        path.write_text(nbformat.writes(repaired), encoding="utf-8")
    except RecursionError:
        return NotebookCheck(rel, "unreadable", "is not a readable notebook: nested too deeply")
    return NotebookCheck(rel, "repaired", "repaired: " + "; ".join(done or ["normalised"]))


def validate_notebook(path: Path, rel: str) -> None:
    """Raise SubmissionRejected naming the notebook if it cannot be read or repaired.

    Kept for callers that need a strict check; intake uses :func:`check_notebook`.
    """
    check = check_notebook(path, rel)
    if check.status == "unreadable":
        raise SubmissionRejected(
            f"notebook {rel!r} {check.detail}",
            hint="open the notebook in Jupyter and save it again, or fix its JSON",
        )
