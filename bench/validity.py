"""Grading validity: agreement of takehome's static levels with expert reviewers (issue 10).

    make validity                                  # grade the corpus, print the tables
    .venv/bin/python bench/validity.py [--corpus DIR] [--out DIR] [--stats-only] [--top N]

Runs the corpus's own measuring script (``<corpus>/measure.py``: it grades every submission
with ``takehome screen`` without running candidate code and compares the rubric levels with two
reviewers' scores) and then prints the figures against the targets of docs/validity.md:
quadratic-weighted kappa >= 0.80 and Spearman >= 0.75 per criterion, no submission more than
two levels from the reviewers' mean, and under 3 s of wall time per submission on average.

The corpus is not part of the repository (real candidates' work, kept beside the checkout in
``../shared/realcorpus-dev`` by default). This is a benchmark, not a test: it prints figures and
exits 0 whether or not a target is met; it exits 1 only when the corpus or its script is missing
or the measurement itself fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "realcorpus-dev"
QWK_TARGET = 0.80
SPEARMAN_TARGET = 0.75
SECONDS_TARGET = 3.0


def run_measure(corpus: Path, out: Path, figures: Path, stats_only: bool, top: int) -> int:
    """Run ``measure.py`` from the project root (it finds ./.venv/bin/takehome there)."""
    argv = [sys.executable, str(corpus / "measure.py"), "--out", str(out), "--json", str(figures),
            "--top", str(top)]
    if stats_only:
        argv.append("--stats-only")
    return subprocess.run(argv, cwd=REPO, check=False).returncode


def verdict(value: float | None, target: float) -> str:
    """``value`` formatted with whether it meets ``target``."""
    if value is None:
        return "  n/a  miss"
    return f"{value:5.2f}  {'met ' if value >= target else 'miss'}"


def print_targets(figures: dict) -> None:
    """One line per criterion: QWK, Spearman and far-off count against the targets."""
    print(f"\n{'criterion':14s} {'QWK':>11s} {'Spearman':>11s} {'>2 off':>7s}")
    for criterion, row in figures["figures"].items():
        print(f"{criterion:14s} {verdict(row['qwk_vs_mean'], QWK_TARGET):>11s} "
              f"{verdict(row['spearman_vs_mean'], SPEARMAN_TARGET):>11s} {row['far_off']:7d}")
    walls = [run["wall_s"] for run in figures.get("runs", {}).values()]
    if walls:
        mean = sum(walls) / len(walls)
        print(f"\nwall time per submission: {mean:.2f} s mean over {len(walls)} "
              f"({'met' if mean < SECONDS_TARGET else 'miss'}: target < {SECONDS_TARGET:g} s)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help="folder with measure.py, MANIFEST.tsv, LABELS_*.json and repos/")
    parser.add_argument("--out", type=Path, default=REPO / "out" / "validity",
                        help="where the graded results are kept (reused by --stats-only)")
    parser.add_argument("--stats-only", action="store_true", help="re-print stored results")
    parser.add_argument("--top", type=int, default=12, help="largest disagreements to list")
    args = parser.parse_args(argv)
    script = args.corpus / "measure.py"
    if not script.is_file():
        print(f"validity: no measuring script at {script}; pass --corpus DIR "
              "(a folder with measure.py and the reviewers' labels)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    figures_file = args.out / "figures.json"
    code = run_measure(args.corpus, args.out, figures_file, args.stats_only, args.top)
    if code != 0 or not figures_file.is_file():
        print(f"validity: measure.py failed (exit {code})", file=sys.stderr)
        return 1
    print_targets(json.loads(figures_file.read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
