"""Shared helpers of the grading benchmarks (bench/run_benchmarks.py and its parts).

Machine description, the settings (image, calibration) every part grades with, a tiny
generated diabetes-progression notebook, and the writer that replaces one marked section of
docs/benchmarks.md (``## Heading`` then ``<!-- bench:KEY -->`` ... ``<!-- /bench:KEY -->``;
the markers sit *under* the heading so that other writers that replace a "## " section up to the
next "## " heading never swallow them).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
ASSIGNMENTS = REPO / "assignments"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


# --- machine -------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _mem_total_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def loadavg() -> str:
    """The 1/5/15-minute load averages, as /proc/loadavg prints them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def machine() -> dict[str, Any]:
    """nproc, memory, CPU model, kernel, Docker engine version, cgroup version."""
    info: dict[str, Any] = {
        "nproc": os.cpu_count() or 1,
        "mem_gib": round(_mem_total_gib(), 1),
        "cpu": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    try:
        import docker

        client = docker.from_env()
        engine = client.info()
        info["docker"] = engine.get("ServerVersion", "?")
        info["cgroup"] = f"v{engine.get('CgroupVersion', '?')}"
        info["storage"] = engine.get("Driver", "?")
    except Exception as exc:  # noqa: BLE001 - informational only
        info["docker"] = f"unavailable ({type(exc).__name__})"
    return info


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['nproc']} CPUs ({info['cpu']}), {info['mem_gib']:g} GiB, "
        f"Docker {info.get('docker', '?')} ({info.get('storage', '?')}, cgroup "
        f"{info.get('cgroup', '?')}), kernel {info['kernel']}, Python {info['python']}"
    )


# --- grading settings ----------------------------------------------------------------------------


def settings_for(slug: str, work_root: Path) -> tuple[Any, Any, float]:
    """(assignment, GradeSettings, seconds) via harness.grade.prepare_settings.

    The image build is a no-op when current; calibration is cached under .cache/calibration.
    """
    from harness.assignment import load_assignment
    from harness.grade import prepare_settings

    assignment = load_assignment(slug)
    t0 = time.perf_counter()
    settings = prepare_settings(assignment, True, work_root)
    return assignment, settings, time.perf_counter() - t0


# --- a tiny generated submission -----------------------------------------------------------------

TRIVIAL_CELLS = [
    "import os\nimport pandas as pd",
    ("data_dir = os.environ.get('TAKEHOME_DATA_DIR', 'data')\n"
    "out_dir = os.environ.get('TAKEHOME_OUTPUT_DIR', 'outputs')\n"
    "train = pd.read_csv(os.path.join(data_dir, 'train.csv'))\n"
    "test = pd.read_csv(os.path.join(data_dir, 'test_features.csv'))\n"
    "OFFSET = {offset!r}  # varies per generated copy so that content hashes differ"),
    ("# constant model: the training mean of the target\n"
    "mean = float(train['progression'].mean()) + OFFSET\n"
    "print(f'predicting the mean, {{mean:.2f}}, for {{len(test)}} patients')"),
    ("os.makedirs(out_dir, exist_ok=True)\n"
    "pd.DataFrame({{'patient_id': test['patient_id'], 'prediction': mean}})"
    ".to_csv(os.path.join(out_dir, 'predictions.csv'), index=False)"),
]


def trivial_notebook(offset: float = 0.0) -> dict[str, Any]:
    """A diabetes-progression notebook predicting the (shifted) training mean."""
    cells = []
    for i, source in enumerate(TRIVIAL_CELLS):
        cells.append({
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{i}",
            "metadata": {},
            "outputs": [],
            "source": source.format(offset=offset),
        })
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def write_trivial_submission(folder: Path, offset: float = 0.0) -> Path:
    """A submission folder with one notebook, ``solution.ipynb``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "solution.ipynb").write_text(json.dumps(trivial_notebook(offset), indent=1))
    return folder


# --- numbers -------------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_s(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}"


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
        rev = out.stdout.strip() or "?"
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip()
        return rev + ("+uncommitted changes" if dirty else "")
    except OSError:
        return "?"


# --- docs/benchmarks.md --------------------------------------------------------------------------


def replace_marked_section(text: str, key: str, heading: str, body: str) -> str:
    """``text`` with the body between ``<!-- bench:key -->`` markers replaced (appended with
    its heading when absent). Nothing else in the file changes."""
    start_marker, end_marker = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{start_marker}\n{body.strip()}\n{end_marker}"
    start = text.find(start_marker)
    end = text.find(end_marker, start + 1) if start >= 0 else -1
    if start >= 0 and end >= 0:
        return text[:start] + block + text[end + len(end_marker):]
    head = text.rstrip("\n")
    if not head:
        head = "# Benchmarks\n\nFigures measured on one machine; each section says how."
    return f"{head}\n\n{heading}\n\n{block}\n"


def write_sections(sections: list[tuple[str, str, str]], path: Path = BENCHMARKS_MD) -> None:
    """Replace each (key, heading, body) section of docs/benchmarks.md, re-reading the file
    just before writing (other benchmark scripts write their own sections of it)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    for key, heading, body in sections:
        text = replace_marked_section(text, key, heading, body)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    tmp.replace(path)
