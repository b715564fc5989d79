"""Notebook validation: every ``.ipynb`` must read as nbformat 4 and validate."""

from __future__ import annotations

import warnings
from pathlib import Path

import nbformat
import nbformat.reader

from harness.errors import SubmissionRejected

_MESSAGE_MAX_CHARS = 300


def _location(error: Exception) -> str:
    path = list(getattr(error, "absolute_path", None) or getattr(error, "path", None) or [])
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        return f"cell {path[1]}: "
    return ""


def _message(error: Exception) -> str:
    text = str(getattr(error, "message", None) or error).strip().splitlines()
    first = text[0] if text else type(error).__name__
    return first[:_MESSAGE_MAX_CHARS]


def validate_notebook(path: Path, rel: str) -> None:
    """Raise SubmissionRejected naming the notebook (and the cell, where known) if invalid."""
    hint = "open the notebook in Jupyter and save it again, or fix its JSON"
    try:
        text = path.read_text(encoding="utf-8")
        # nbformat.read(as_version=4) without its logging: parse, convert, then validate.
        notebook = nbformat.convert(nbformat.reader.reads(text), 4)
    except UnicodeDecodeError:
        raise SubmissionRejected(f"notebook {rel!r} is not UTF-8 text", hint=hint) from None
    except Exception as error:  # noqa: BLE001 - nbformat raises many types for bad input
        raise SubmissionRejected(
            f"notebook {rel!r} is not a readable notebook: {_message(error)}", hint=hint
        ) from None
    error: Exception | None = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(notebook)
    except Exception as raised:  # noqa: BLE001 - ValidationError, or worse breakage
        error = raised
    if error is not None:
        raise SubmissionRejected(
            f"notebook {rel!r} is invalid: {_location(error)}{_message(error)}", hint=hint
        )
