"""Which code runs on the submission's real data, for the imbalance and data-quality graders.

Code that never touches the real data earns nothing: test files (``tests/``, ``test_*.py``,
``*_test.py``, ``conftest.py``) exercise the pipeline on fixtures, and a ``__main__`` block that
builds a toy frame (``pd.DataFrame({...})``, ``np.random``, ``make_classification``) without
reading any file is a demo. :func:`off_path` tells whether a location is in such code.
Computed once per source (cached), from the trees :mod:`graders.source` already parsed.
"""

from __future__ import annotations

import ast
import functools
import os
import re
import stat
from pathlib import Path, PurePosixPath

from graders.artifacts import read_text_capped
from graders.source import (
    SKIPPED_DIRS,
    CallSite,
    SubmissionSource,
    clip,
    dotted_name,
    find_calls,
    iter_trees,
)

READERS = (
    "read_csv", "read_parquet", "read_excel", "read_feather", "read_json", "read_sql",
    "read_table", "read_pickle", "load_dataset", "open", "loadtxt", "genfromtxt",
)  # fmt: skip
TOY_DATA = ("DataFrame", "make_classification", "make_regression", "make_blobs")
NOT_DATA = ("seed", "default_rng", "RandomState", "set_state")


@functools.lru_cache(maxsize=4096)
def is_test_file(path: str) -> bool:
    """True for files that hold tests rather than the pipeline."""
    pure = PurePosixPath(path)
    name = pure.name.lower()
    folders = {part.lower() for part in pure.parts[:-1]}
    return (
        bool(folders & {"tests", "test"})
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def off_path(source: SubmissionSource, site: CallSite) -> bool:
    """True when ``site`` is in a test file or inside a toy ``__main__`` demo block."""
    if is_test_file(site.path):
        return True
    for start, end in _toy_blocks(source).get((site.path, site.cell), ()):
        if start <= site.line <= end:
            return True
    return False


def on_path(source: SubmissionSource, sites: list[CallSite]) -> list[CallSite]:
    """``sites`` without those :func:`off_path` rejects."""
    return [site for site in sites if not off_path(source, site)]


@functools.lru_cache(maxsize=32)
def _toy_blocks(source: SubmissionSource) -> dict[tuple[str, int | None], list[tuple[int, int]]]:
    """Line ranges of ``if __name__ == "__main__":`` blocks that run on made-up data only."""
    blocks: dict[tuple[str, int | None], list[tuple[int, int]]] = {}
    for unit, tree in iter_trees(source):
        for node in tree.body:
            if isinstance(node, ast.If) and _is_main_guard(node.test) and _runs_on_toy(node):
                end = getattr(node, "end_lineno", None) or node.lineno
                blocks.setdefault((unit.path, unit.cell), []).append((node.lineno, end))
    return blocks


def _is_main_guard(test: ast.AST) -> bool:
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators)
    )


def _runs_on_toy(block: ast.If) -> bool:
    """Builds data in place (a literal frame, random numbers) and reads no file."""
    toy = reads = False
    for node in (n for stmt in block.body for n in ast.walk(stmt)):
        if not isinstance(node, ast.Call):
            continue
        name = dotted_name(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if last in READERS:
            reads = True
        elif last in TOY_DATA or (_is_random(name) and last not in NOT_DATA):
            toy = True
    return toy and not reads


def _is_random(name: str) -> bool:
    return ".random." in f".{name}" or name.startswith("random.")


CONFIG_SUFFIXES = (".yaml", ".yml", ".toml", ".json", ".cfg", ".ini")
MAX_CONFIG_FILES = 50
MAX_CONFIG_BYTES = 256_000
CONFIG_LOADERS = ("safe_load", "full_load", "load", "load_config", "compose", "read_config")


def config_lines(source: SubmissionSource, pattern: re.Pattern[str]) -> list[CallSite]:
    """Lines of the submission's small config files matching ``pattern``, as locations.

    Only when the code loads a config file (``yaml.safe_load``, ``json.load``, Hydra, ...): a
    setting in a file nothing reads is not used. Comment lines are skipped.
    """
    if not find_calls(source, CONFIG_LOADERS):
        return []
    found = []
    for rel, lines in _config_files(str(source.root)):
        for number, line in enumerate(lines, start=1):
            if not line.lstrip().startswith(("#", ";", "//")) and pattern.search(line):
                found.append(CallSite(rel, None, number, "config", clip(line.strip(), 300)))
    return found


@functools.lru_cache(maxsize=32)
def _config_files(root: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(relative path, lines)`` of up to 50 small config files (hidden folders skipped)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    base = Path(root)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in SKIPPED_DIRS
                             and d not in ("mlruns", "data", "node_modules"))  # fmt: skip
        for name in sorted(filenames):
            if not name.lower().endswith(CONFIG_SUFFIXES) or name.startswith("."):
                continue
            full = Path(dirpath) / name
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CONFIG_BYTES:
                continue
            text = read_text_capped(full, MAX_CONFIG_BYTES)
            if text is not None:
                found.append((full.relative_to(base).as_posix(), tuple(text.split("\n"))))
            if len(found) >= MAX_CONFIG_FILES:
                return tuple(found)
    return tuple(found)
