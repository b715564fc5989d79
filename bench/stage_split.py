"""Per-submission grading time split by stage, for the bundled example submissions.

    .venv/bin/python bench/stage_split.py [--repeat N] [--only fraud-detection/strong ...]

Each example is graded the way ``grade_submission`` does it (``ingest_submission`` then
``grade_snapshot``, called separately so that intake is timed too) in a fresh work folder, then
its reports are rendered (``render_reports``: html, json, md). Stage times come from the result
(``result.run.timings``, filled by harness/stages.py and harness/pipeline.py) and the number of
containers from ``result.run.container_starts``. Run on its own it prints the table;
bench/run_benchmarks.py writes it to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from bench.common import ASSIGNMENTS, fmt_s, median, settings_for
except ImportError:  # run as a script: bench/ is on sys.path, the repo is added by common
    from common import ASSIGNMENTS, fmt_s, median, settings_for  # type: ignore[no-redef]

EXAMPLES = (
    "fraud-detection/strong",
    "fraud-detection/weak",
    "fraud-detection/broken",
    "diabetes-progression/strong",
    "diabetes-progression/weak",
    "diabetes-progression/broken",
)

COLUMNS = (  # (column, timing keys summed); seconds
    ("intake", ("intake",)),
    ("data copy", ("data",)),
    ("sandbox start", ("run_start", "checks_start")),
    ("execution", ("run_exec",)),
    ("tests", ("tests_exec",)),
    ("env + lint", ("lint_exec",)),
    ("copy-out", ("run_copy_out", "checks_copy_out")),
    ("teardown", ("teardown",)),
    ("host graders", ("host_graders",)),
    ("reports", ("reports",)),
)


def _teardown(timings: dict[str, float]) -> float:
    """Container removal: each container's total minus its start, execs and copy-out."""
    total = 0.0
    for box, parts in (
        ("run", ("run_start", "run_exec", "run_copy_out")),
        ("checks", ("checks_start", "tests_exec", "lint_exec", "checks_copy_out")),
    ):
        if f"{box}_total" in timings:
            total += timings[f"{box}_total"] - sum(timings.get(p, 0.0) for p in parts)
    return max(total, 0.0)


def grade_once(source: Path, assignment: Any, settings: Any, work_root: Path) -> dict[str, Any]:
    """Grade one submission in ``work_root`` and render its reports; the measured split."""
    from harness.pipeline import grade_snapshot, ingest_submission
    from harness.report import render_reports
    from harness.rubric import load_rubric

    rubric = load_rubric(assignment.spec.rubric)
    t0 = time.perf_counter()
    snapshot = ingest_submission(source, work_root, settings.intake_caps)
    t_intake = time.perf_counter() - t0
    work_dir = work_root / "runs" / snapshot.content_hash[:16]
    t1 = time.perf_counter()
    graded = grade_snapshot(snapshot, assignment, rubric, settings, work_dir,
                            source_display=source.name)
    t_grade = time.perf_counter() - t1
    t2 = time.perf_counter()
    render_reports(graded.result, work_root / "report", formats=("html", "json", "md"),
                   artifacts_root=graded.artifacts_root)
    t_reports = time.perf_counter() - t2
    total = time.perf_counter() - t0
    run = graded.result.run
    timings = dict(run.timings)
    timings["intake"] = t_intake
    timings["reports"] = t_reports
    timings["teardown"] = _teardown(timings)
    split = {col: sum(timings.get(k, 0.0) for k in keys) for col, keys in COLUMNS}
    split["other"] = max(total - sum(split.values()), 0.0)
    return {
        "status": graded.result.status,
        "total_score": graded.result.total,
        "container_starts": run.container_starts,
        "timings": timings,
        "split": split,
        "total": total,
        "grade_snapshot": t_grade,
    }


def measure(examples: tuple[str, ...] = EXAMPLES, repeat: int = 1,
            settings_cache: dict[str, tuple[Any, Any, float]] | None = None,
            log=print) -> list[dict[str, Any]]:
    """Grade each example ``repeat`` times; the median split per example."""
    cache = settings_cache if settings_cache is not None else {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="takehome-bench-stages-") as tmp:
        for example in examples:
            slug, name = example.split("/")
            if slug not in cache:
                cache[slug] = settings_for(slug, Path(tmp) / f"settings-{slug}")
            assignment, settings, _ = cache[slug]
            source = ASSIGNMENTS / slug / "examples" / name
            runs = []
            for i in range(repeat):
                runs.append(grade_once(source, assignment, settings, Path(tmp) / f"{slug}-{name}-{i}"))
                log(f"  {example} run {i + 1}/{repeat}: {runs[-1]['total']:.1f} s, "
                    f"{runs[-1]['status']}, {runs[-1]['container_starts']} container(s)")
            split = {col: median([r["split"][col] for r in runs]) for col in runs[0]["split"]}
            rows.append({
                "example": example,
                "status": runs[-1]["status"],
                "score": runs[-1]["total_score"],
                "container_starts": runs[-1]["container_starts"],
                "split": split,
                "total": median([r["total"] for r in runs]),
                "runs": repeat,
                "raw": runs,
            })
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table: one row per example, seconds per stage."""
    cols = [c for c, _ in COLUMNS] + ["other"]
    head = ["example", "status", "containers", *cols, "**total**"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row["example"], row["status"], str(row["container_starts"])]
        cells += [fmt_s(row["split"][c]) if row["split"][c] > 0 else "–" for c in cols]
        cells.append(f"**{fmt_s(row['total'])}**")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", nargs="*", default=None, help="e.g. fraud-detection/strong")
    args = parser.parse_args()
    rows = measure(tuple(args.only) if args.only else EXAMPLES, repeat=args.repeat)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
