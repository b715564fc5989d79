"""Overhead of grading versus running the same code bare on the host.

    .venv/bin/python bench/overhead_bench.py [--repeat-trivial 3] [--repeat-realistic 2]

For each submission, alternately:

bare
    What the candidate's own code costs without takehome: in a temporary copy of the
    submission, with ``TAKEHOME_DATA_DIR`` pointing at fresh copies of ``train.csv`` and the
    held-out ``test_features.csv`` (never the labels), ``TAKEHOME_OUTPUT_DIR`` at an empty
    folder, ``MPLBACKEND=Agg``, ``PYTHONHASHSEED=0``: the run command (takehome.toml or a
    default, as ``run_command_for`` picks it), then ``jupyter nbconvert --to notebook --execute``
    of each notebook the run stage would execute, then ``python -m pytest -q`` when the
    submission has test files. Tools come from the harness's virtualenv (same package
    versions as the sandbox image).
graded
    ``takehome grade`` minus its one-off set-up: ``grade_batch`` of that one submission with
    ``force=True`` into a fresh output folder (intake, sandbox stages, host graders, rubric,
    reports, index). ``prepare_settings`` (image check, cached calibration) is timed apart: it
    runs once per batch, not per submission.

Submissions: *trivial*, a generated diabetes-progression notebook that predicts the training
mean; *realistic*, the bundled fraud-detection strong example (our own code, so running it
on the host is acceptable). Ratio = median graded / median bare; the target is at most 1.3.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from bench.common import ASSIGNMENTS, fmt_s, median, settings_for, write_trivial_submission
except ImportError:
    from common import (  # type: ignore[no-redef]
        ASSIGNMENTS,
        fmt_s,
        median,
        settings_for,
        write_trivial_submission,
    )

VENV_BIN = Path(sys.executable).parent
TARGET = 1.3


def _bare_env(data: Path, output: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        "TAKEHOME_DATA_DIR": str(data),
        "TAKEHOME_OUTPUT_DIR": str(output),
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-1500:]
        raise RuntimeError(f"bare run failed ({done.returncode}): {' '.join(argv)}\n{tail}")
    return seconds


def bare_run(source: Path, assignment: Any) -> dict[str, float]:
    """Run the submission's command, notebooks and tests on the host; seconds per step."""
    from harness.assignment import run_command_for
    from harness.intake import IntakeCaps, ingest
    from harness.stages import is_test_file, select_notebooks

    with tempfile.TemporaryDirectory(prefix="takehome-bench-bare-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        workspace = root / "workspace"
        shutil.copytree(source, workspace, ignore=shutil.ignore_patterns("__pycache__", ".git"))
        data, output = root / "data", root / "output"
        data.mkdir()
        output.mkdir()
        shutil.copyfile(assignment.train_csv, data / "train.csv")
        shutil.copyfile(assignment.hidden_features_csv, data / "test_features.csv")
        setup = time.perf_counter() - t0
        # The same choices as the run stage: the command and the notebooks (from a snapshot).
        snapshot = ingest(source, root / "snapshots", IntakeCaps())
        command = run_command_for(workspace, assignment.spec)
        notebooks = select_notebooks(snapshot, assignment)
        has_tests = any(is_test_file(rel) for rel in snapshot.python_files)
        env = _bare_env(data, output)
        steps = {"setup": setup, "command": 0.0, "notebooks": 0.0, "tests": 0.0}
        if command:
            steps["command"] = _run(command, workspace, env)
        for rel in notebooks:
            nb = workspace / rel
            steps["notebooks"] += _run(
                [str(VENV_BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                 "--output-dir", str(root / "executed"), nb.name],
                nb.parent, env,
            )
        if has_tests:
            steps["tests"] = _run(
                [str(VENV_BIN / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                workspace, env,
            )
        if not (output / assignment.spec.submission.predictions_file).is_file():
            raise RuntimeError(f"bare run of {source} wrote no predictions")
        steps["total"] = sum(steps.values())
        return steps


def graded_run(source: Path, assignment: Any, settings: Any) -> dict[str, Any]:
    """``grade_batch`` of one submission, forced, in a fresh output folder."""
    from harness.batch import grade_batch

    with tempfile.TemporaryDirectory(prefix="takehome-bench-graded-") as tmp:
        t0 = time.perf_counter()
        outcome = grade_batch(assignment, [source], Path(tmp) / "out", settings=settings,
                              jobs=1, force=True)
        seconds = time.perf_counter() - t0
        result = outcome.items[0].result
        if result is None or result.status not in ("graded",):
            raise RuntimeError(f"grading {source} ended in {result and result.status}: "
                               f"{result and result.status_reason}")
        return {"total": seconds, "timings": dict(result.run.timings),
                "container_starts": result.run.container_starts}


def measure(repeat_trivial: int = 3, repeat_realistic: int = 2,
            settings_cache: dict[str, tuple[Any, Any, float]] | None = None,
            log=print) -> list[dict[str, Any]]:
    cache = settings_cache if settings_cache is not None else {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="takehome-bench-overhead-") as tmp:
        trivial = write_trivial_submission(Path(tmp) / "trivial-mean", offset=0.0)
        cases = [
            ("trivial (generated mean-model notebook, diabetes-progression)",
             "diabetes-progression", trivial, repeat_trivial),
            ("realistic (fraud-detection/examples/strong: predict.py, notebook, tests)",
             "fraud-detection", ASSIGNMENTS / "fraud-detection" / "examples" / "strong",
             repeat_realistic),
        ]
        for label, slug, source, repeat in cases:
            if repeat <= 0:
                continue
            if slug not in cache:
                cache[slug] = settings_for(slug, Path(tmp) / f"settings-{slug}")
            assignment, settings, setup_s = cache[slug]
            bare, graded = [], []
            for i in range(repeat):
                bare.append(bare_run(source, assignment))
                graded.append(graded_run(source, assignment, settings))
                log(f"  {slug} {source.name} run {i + 1}/{repeat}: bare "
                    f"{bare[-1]['total']:.1f} s, graded {graded[-1]['total']:.1f} s")
            b = median([r["total"] for r in bare])
            g = median([r["total"] for r in graded])
            rows.append({
                "label": label,
                "slug": slug,
                "repeat": repeat,
                "bare": b,
                "bare_steps": {k: median([r[k] for r in bare]) for k in bare[0]},
                "graded": g,
                "graded_timings": {k: median([r["timings"].get(k, 0.0) for r in graded])
                                   for k in graded[0]["timings"]},
                "container_starts": graded[0]["container_starts"],
                "prepare_settings": setup_s,
                "ratio": g / b if b > 0 else float("nan"),
                "raw": {"bare": bare, "graded": graded},
            })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = ["submission", "runs", "bare (s)", "graded (s)", "ratio", "target ≤ 1.3",
            "bare steps (s)", "containers"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        steps = ", ".join(f"{k} {fmt_s(v, 1)}" for k, v in row["bare_steps"].items()
                          if k != "total" and v > 0.05)
        lines.append("| " + " | ".join([
            row["label"], str(row["repeat"]), fmt_s(row["bare"]), fmt_s(row["graded"]),
            f"**{row['ratio']:.2f}**", "met" if row["ratio"] <= TARGET else "**missed**",
            steps, str(row["container_starts"]),
        ]) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat-trivial", type=int, default=3)
    parser.add_argument("--repeat-realistic", type=int, default=2)
    args = parser.parse_args()
    rows = measure(args.repeat_trivial, args.repeat_realistic)
    print(table(rows))
    for row in rows:
        print(row["label"], "graded timings:", row["graded_timings"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
