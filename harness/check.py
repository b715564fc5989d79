"""`takehome check`: the candidates' self-check before they send their work.

Runs the submission in the same sandbox as grading, but on the PUBLIC sample of the test
features (no hidden data is used), then checks the submission contract: the submission is
accepted by intake, it runs top to bottom, and it writes a well-formed predictions file with one
row per sample id. It prints every problem with a fix and exits non-zero when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contracts.errors import EXIT_FAILED, EXIT_OK, SubmissionRejected
from contracts.predictions import ids_from_csv, validate_predictions
from harness.assignment import Assignment, load_assignment, run_command_for
from harness.intake import ingest

Echo = Callable[[str], None]


@dataclass(frozen=True)
class ContractProblem:
    """One way the submission breaks the contract, and how to fix it."""

    message: str
    fix: str


def _what_runs(snapshot_root: Path, notebooks: list[str], assignment: Assignment) -> str | None:
    command = run_command_for(snapshot_root, assignment.spec)
    parts = []
    if command:
        parts.append("command `" + " ".join(command) + "`")
    if notebooks:
        parts.append("notebook(s) " + ", ".join(notebooks))
    return " and ".join(parts) or None


def _tail(text: str, lines: int = 12) -> str:
    """The last lines of a log, indented for the terminal."""
    kept = [ln for ln in (text or "").strip().splitlines() if ln.strip()][-lines:]
    return "\n".join("    " + ln for ln in kept)


def _candidate_frame(traceback: str) -> str:
    """The candidate's own frame of an IPython traceback ("Cell In[n], line k" and its code)."""
    lines = [ln for ln in traceback.splitlines() if ln.strip()]
    starts = [i for i, ln in enumerate(lines) if ln.lstrip().startswith(("Cell In[", "Input In["))]
    if not starts:
        return _tail(traceback, 6)
    frame = [lines[starts[-1]]]
    for line in lines[starts[-1] + 1 : starts[-1] + 6]:
        if line.lstrip().startswith("File "):
            break  # library frames follow
        frame.append(line)
    return "\n".join("    " + ln for ln in frame)


def _failure_detail(errors: dict) -> str:
    """The failing cell and the end of its traceback (public data only, so safe to show)."""
    parts = []
    for path, error in sorted(errors.items()):
        cell = error.get("cell")
        where = f"{path}, cell {cell}" if cell is not None else path
        parts.append(f"  in {where}: {error.get('ename', '')}: {error.get('evalue', '')}")
        parts.append(_candidate_frame(str(error.get("traceback", ""))))
    return "\n".join(p for p in parts if p)


def check_submission(assignment: Assignment, submission: Path, work_dir: Path,
                     image: str) -> tuple[list[ContractProblem], str]:
    """Run the contract checks; returns the problems and a one-line description of the run."""
    from harness.stages import run_stages, select_notebooks

    try:
        snapshot = ingest(submission, work_dir / "snapshots")
    except SubmissionRejected as error:
        return [ContractProblem(f"submission rejected: {error.message}",
                                error.hint or "fix the archive and try again")], "not run"
    notebooks = select_notebooks(snapshot, assignment)
    described = _what_runs(snapshot.root, notebooks, assignment)
    if described is None:
        return [ContractProblem(
            "nothing to run: no notebook, no takehome.toml [run] command, no predict.py",
            "add a takehome.toml with [run] command = \"python predict.py\" (see the assignment README)",
        )], "not run"
    artifacts = run_stages(snapshot, assignment, image=image, work_dir=work_dir / "run",
                           hidden=False, stages=("run",))
    problems: list[ContractProblem] = []
    run = artifacts.stages.get("run")
    if run is not None and run.verdict != "ok":
        detail = _failure_detail(artifacts.notebook_errors) or _tail(run.stderr_tail)
        problems.append(ContractProblem(
            f"the run failed ({run.verdict}): {run.reason}" + (f"\n{detail}" if detail else ""),
            "run it top to bottom in a fresh environment; read data only from $TAKEHOME_DATA_DIR",
        ))
    spec = assignment.spec
    sample_ids = ids_from_csv(assignment.sample_test_features_csv, spec.id_column)
    outcome = validate_predictions(
        artifacts.predictions,
        task_type=spec.task_type,
        id_column=spec.id_column,
        expected_ids=sample_ids,
        classes=spec.classes,
    )
    if not outcome.ok:
        columns = ", ".join(assignment.prediction_columns())
        problems.append(ContractProblem(
            outcome.summary(),
            f"write $TAKEHOME_OUTPUT_DIR/{spec.submission.predictions_file} with columns "
            f"{columns}, one row per id of test_features.csv",
        ))
    return problems, f"ran {described} on the public sample ({len(sample_ids)} rows)"


def check(assignment_name: str, submission: Path, out_dir: Path, echo: Echo = print) -> int:
    """CLI entry point: print the problems (or that all is well); the exit code."""
    from sandbox.image import build_image

    assignment = load_assignment(assignment_name)
    image = build_image(echo=lambda _m: None)
    problems, description = check_submission(assignment, submission, out_dir, image)
    echo(description)
    if not problems:
        echo("OK: the submission follows the contract. (Scores are computed only at grading time.)")
        return EXIT_OK
    for problem in problems:
        echo(f"problem: {problem.message}")
        echo(f"  fix: {problem.fix}")
    return EXIT_FAILED
