"""The `takehome grade` and `takehome demo` verbs: set up, grade a batch, show progress."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.errors import EXIT_FAILED, EXIT_HARNESS, EXIT_OK, TakehomeError
from harness.assignment import Assignment, load_assignment, repo_root
from harness.batch import BatchOutcome, expand_sources, grade_batch
from harness.pipeline import GradeSettings

FORMATS = {"html", "json", "md", "gradescope"}
FINAL_STAGES = {"graded", "execution_failed", "rejected", "harness_error", "cached"}


def parse_formats(text: str) -> list[str]:
    """Split and check a comma-separated list of report formats."""
    formats = [f.strip() for f in text.split(",") if f.strip()]
    unknown = sorted(set(formats) - FORMATS)
    if unknown or not formats:
        raise TakehomeError(
            f"unknown report format(s): {', '.join(unknown) or '(none)'}",
            hint=f"choose from {', '.join(sorted(FORMATS))}",
        )
    return formats


def prepare_settings(assignment: Assignment, run: bool, work_root: Path,
                     console: Console | None = None) -> GradeSettings:
    """Build the image (a no-op when current) and the calibration scores for ``assignment``."""
    if not run:
        return GradeSettings(image=None, run=False)
    from harness.calibration import reference_scores
    from sandbox.image import build_image, image_digest
    from sandbox.runner import cleanup_stale_containers

    echo = (lambda m: console.print(m, markup=False, highlight=False)) if console else print
    image = build_image(echo=echo)
    removed = cleanup_stale_containers()
    if removed and console:
        console.print(f"removed {removed} stale takehome container(s)")
    if console:
        console.print(f"calibrating {assignment.spec.slug} (reference and baseline solutions)...")
    scores = reference_scores(assignment, image, work_root / "calibration")
    return GradeSettings(image=image, image_digest=image_digest(image), run=True,
                         reference_scores=scores)


def run_batch_with_progress(assignment: Assignment, sources: Sequence[Path], out_dir: Path,
                            settings: GradeSettings, console: Console, **kwargs) -> BatchOutcome:
    """Grade with a rich progress display: an overall bar plus each submission's stage."""
    lock = threading.Lock()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        overall = progress.add_task(f"[bold]{assignment.spec.slug}", total=len(sources), stage="")
        tasks: dict[str, int] = {}

        def on_stage(name: str, stage: str) -> None:
            with lock:
                if name not in tasks:
                    tasks[name] = progress.add_task(f"  {name}", total=1, stage=stage)
                progress.update(tasks[name], stage=stage)
                if stage in FINAL_STAGES:
                    progress.update(tasks[name], completed=1)
                    progress.advance(overall)

        return grade_batch(assignment, sources, out_dir, settings=settings, on_stage=on_stage,
                           **kwargs)


def print_summary(outcome: BatchOutcome, console: Console) -> None:
    """A final table: one row per submission."""
    table = Table(title="takehome results")
    for column in ("submission", "status", "total", "red flags", "time (s)"):
        table.add_column(column, overflow="fold")
    table.add_column("report", overflow="fold", min_width=20)
    for item in outcome.items:
        result = item.result
        total = "-" if result is None or result.total is None else f"{result.total:.1f}"
        flags = "-" if result is None else str(len(result.red_flags))
        status = "-" if result is None else result.status + (" (cached)" if item.reused else "")
        report = str(item.reports.get("html") or item.reports.get("md") or "")
        table.add_row(item.name, status, total, flags, f"{item.seconds:.1f}", report)
    console.print(table)
    if outcome.similarity:
        console.print(f"[yellow]{len(outcome.similarity)} similar pair(s) flagged[/yellow]")
    if outcome.index_html:
        console.print(f"index: {outcome.index_html}")


def progress_console() -> Console:
    """Progress and tables go to stderr; wide enough for paths when it is not a terminal."""
    return Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def grade(assignment_name: str, submissions: list[Path], *, out_dir: Path, formats: str = "html,json,md",
          blind: bool = False, jobs: int | None = None, force: bool = False, run: bool = True,
          json_out: Path | None = None, public_solutions: Path | None = None) -> int:
    """Grade submissions; returns the exit code (0 graded, 1 some rejected/failed, 4 harness fault)."""
    console = progress_console()
    assignment = load_assignment(assignment_name)
    fmt = parse_formats(formats)
    sources = expand_sources(submissions)
    if not sources:
        raise TakehomeError("no submissions found", hint="pass folders, archives or notebooks")
    settings = prepare_settings(assignment, run, out_dir / ".work", console)
    outcome = run_batch_with_progress(assignment, sources, out_dir, settings, console,
                                      jobs=jobs, force=force, formats=fmt, blind=blind,
                                      public_solutions=public_solutions)
    return finish_batch(outcome, console, json_out)


def finish_batch(outcome: BatchOutcome, console: Console, json_out: Path | None) -> int:
    """Print the summary, write ``--json`` and return the batch's exit code."""
    print_summary(outcome, console)
    if json_out is not None:
        results = [i.result.model_dump(mode="json") for i in outcome.items if i.result]
        payload = results[0] if len(results) == 1 else results
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(payload, indent=2, sort_keys=True))
    statuses = {i.result.status for i in outcome.items if i.result}
    if "harness_error" in statuses:
        return EXIT_HARNESS
    if statuses & {"rejected"}:
        return EXIT_FAILED
    return EXIT_OK


def demo(out_dir: Path, jobs: int | None = None) -> int:
    """Grade every bundled assignment's examples as a batch; print where the reports are."""
    console = progress_console()
    root = repo_root() / "assignments"
    indexes: list[tuple[str, Path]] = []
    code = EXIT_OK
    for folder in sorted(p for p in root.iterdir() if (p / "assignment.yaml").is_file()):
        assignment = load_assignment(folder)
        examples = sorted(p for p in (folder / "examples").iterdir() if not p.name.startswith("."))
        target = out_dir / assignment.spec.slug
        settings = prepare_settings(assignment, True, target / ".work", console)
        outcome = run_batch_with_progress(assignment, examples, target, settings, console,
                                          jobs=jobs)
        print_summary(outcome, console)
        if outcome.index_html:
            indexes.append((assignment.spec.title, outcome.index_html))
        if any(i.result is None or i.result.status == "harness_error" for i in outcome.items):
            code = EXIT_HARNESS
    landing = write_landing_page(out_dir, indexes)
    print(f"Reports written. Open {landing.resolve()}")
    for title, index in indexes:
        print(f"  {title}: {index.resolve()}")
    return code


def write_landing_page(out_dir: Path, indexes: list[tuple[str, Path]]) -> Path:
    """A small page linking each assignment's batch index."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    template = env.from_string(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'\">"
        "<title>takehome demo</title><style>body{font-family:system-ui,sans-serif;max-width:48rem;"
        "margin:3rem auto;padding:0 1rem;color:#1f2933}a{color:#0b5fff}li{margin:.5rem 0}</style>"
        "</head><body><h1>takehome demo</h1><p>Each assignment's example submissions were graded "
        "as one batch. Open an index to compare candidates, then a report for the details.</p>"
        "<ul>{% for title, href in links %}<li><a href=\"{{ href }}\">{{ title }}</a></li>{% endfor %}"
        "</ul></body></html>"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    links = [(title, str(index.resolve().relative_to(out_dir.resolve()))) for title, index in indexes]
    path = out_dir / "index.html"
    path.write_text(template.render(links=links), encoding="utf-8")
    return path


def clean_output(out_dir: Path) -> None:
    """Remove a previous output folder (used by tests and `make clean`)."""
    shutil.rmtree(out_dir, ignore_errors=True)
