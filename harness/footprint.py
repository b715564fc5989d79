"""What one submission may leave on the host, and the free-space check before a batch.

A submission's *retained host footprint* is its snapshot (``.work/snapshots/<hash>``) plus its
artifacts (``.work/runs/<hash>``). It stays under ``Limits.footprint_mb`` (25 MB by default),
whatever the candidate's code writes and whatever it submits within the intake caps:

- the copy-out keeps only what the graders and reports read (:func:`run_keep_rules`,
  :func:`checks_keep_rules`): the predictions file, the harness's own records, the executed
  notebooks, a bounded number of figures, a few other files of the candidate's and the checks
  reports, each class within per-file,
  per-class and file-count caps, all within :func:`artifact_budget`; every other file is read
  past and listed with the reason in ``artifacts/copyout-<container>.json`` and the stage's reason;
- scratch (the per-submission copies of the data files mounted at ``/data``) is removed once
  the containers are gone (:func:`remove_scratch`);
- after the batch, a snapshot that does not fit in what the artifacts leave of the bound is
  removed (:func:`trim_retained`; grading is over and a rerun ingests the submission again),
  and ``artifacts/footprint.json`` says so.

Sizes are allocated disk blocks (``st_blocks``), so a flood of tiny files counts as what it
costs the disk, not as its few bytes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from contracts.errors import EnvironmentProblem
from sandbox.copyout import BLOCK, CopyReport, KeepClass, KeepRules
from sandbox.limits import MIB, Limits

RECORDS_ALLOWANCE = 1 * MIB  # stages.json, copyout-*.json, footprint.json written by the harness
CHECKS_SHARE = 4 * MIB  # of the artifact budget: junit, coverage, pylint and inventory reports
MAX_FIGURES_KEPT = 20
REPORTS_ALLOWANCE = 5 * MIB  # per submission, for the free-space check: report.html and friends
SCRATCH_FOLDER = "data"


def artifact_budget(limits: Limits) -> tuple[int, int]:
    """Bytes kept from the run and from the checks container's ``/output``."""
    total = max(2 * MIB, limits.footprint_mb * MIB - RECORDS_ALLOWANCE)
    checks = min(CHECKS_SHARE, total // 4)
    return total - checks, checks


def run_keep_rules(predictions_file: str, limits: Limits) -> KeepRules:
    """What the run container's ``/output`` keeps (see the module docstring).

    The class budgets are shares of the run budget that add up to it, so no class can starve
    another whatever order the files come in: predictions 30 %, run records 15 %, executed
    notebooks 30 %, figures 12.5 %, other small files of the candidate's 12.5 %.
    """
    budget, _ = artifact_budget(limits)

    def share(fraction: float) -> int:
        return int(budget * fraction) // BLOCK * BLOCK

    return KeepRules(max_bytes=budget, classes=(
        KeepClass(name="predictions", patterns=(predictions_file.strip("/"),),
                  max_file_bytes=share(0.30), max_bytes=share(0.30)),
        KeepClass(name="run record", patterns=("takehome/run.json", "takehome/command.log"),
                  max_files=2, max_file_bytes=share(0.10), max_bytes=share(0.15)),
        KeepClass(name="executed notebook", patterns=("takehome/notebooks/*.ipynb",),
                  max_files=20, max_file_bytes=share(0.30), max_bytes=share(0.30)),
        KeepClass(name="figure", patterns=tuple(f"*.{ext}" for ext in
                                                ("png", "PNG", "jpg", "JPG", "jpeg", "JPEG")),
                  max_files=MAX_FIGURES_KEPT, max_file_bytes=share(0.10),
                  max_bytes=share(0.125)),
        # small files of the candidate's (metrics.json, a log): kept for the reviewer, bounded
        KeepClass(name="other", patterns=("*",), max_files=20, max_file_bytes=share(0.125),
                  max_bytes=share(0.125)),
    ))


def checks_keep_rules(limits: Limits) -> KeepRules:
    """What the checks container's ``/output`` keeps: its reports under ``takehome/``."""
    _, budget = artifact_budget(limits)
    return KeepRules(max_bytes=budget, classes=(
        KeepClass(name="checks report", patterns=("takehome/*.json", "takehome/junit.xml"),
                  max_files=12, max_file_bytes=min(3 * MIB, budget), max_bytes=budget),
    ))


def record_copy_out(artifacts_root: Path, container: str, report: CopyReport) -> None:
    """Write ``copyout-<container>.json``: what the copy-out kept and what it did not, and why."""
    data = {
        "kept_files": len(report.files),
        "kept_bytes": report.bytes_copied,
        "dropped_files": report.dropped_files,
        "dropped_bytes": report.dropped_bytes,
        "dropped": [entry.model_dump() for entry in report.dropped],
    }
    path = Path(artifacts_root) / f"copyout-{container}.json"
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def disk_bytes(path: Path) -> int:
    """Allocated bytes of ``path`` and everything below it (links not followed)."""
    total = 0
    try:
        total += os.lstat(path).st_blocks * 512
    except OSError:
        return 0
    for folder, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                total += os.lstat(os.path.join(folder, name)).st_blocks * 512
            except OSError:
                continue
    return total


def remove_scratch(work_dir: Path) -> None:
    """Remove a submission's scratch (the data copies mounted at /data) after its stages."""
    shutil.rmtree(Path(work_dir) / SCRATCH_FOLDER, ignore_errors=True)


def trim_retained(snapshot_root: Path | None, work_dir: Path | None, limits: Limits) -> dict:
    """Keep a submission's snapshot only when snapshot + artifacts fit ``limits.footprint_mb``.

    Called once grading and reports are done. Returns (and writes to
    ``<work_dir>/artifacts/footprint.json`` when that folder exists) what is retained.
    """
    from harness.intake.snapshot import remove_snapshot

    bound = limits.footprint_mb * MIB
    kept = disk_bytes(work_dir) if work_dir is not None and work_dir.exists() else 0
    snapshot = disk_bytes(snapshot_root) if snapshot_root is not None else 0
    note = {"bound_bytes": bound, "artifacts_bytes": kept, "snapshot_bytes": snapshot,
            "snapshot_retained": True}
    if snapshot_root is not None and snapshot and kept + snapshot > bound:
        remove_snapshot(snapshot_root)
        note.update(snapshot_retained=False, reason=(
            f"the snapshot ({snapshot / MIB:.1f} MB) does not fit in the {limits.footprint_mb} MB "
            f"host footprint with the artifacts ({kept / MIB:.1f} MB); removed after grading "
            "(a rerun ingests the submission again)"))
    artifacts = work_dir / "artifacts" if work_dir is not None else None
    if artifacts is not None and artifacts.is_dir():
        (artifacts / "footprint.json").write_text(json.dumps(note, indent=1, sort_keys=True),
                                                  encoding="utf-8")
    return note


def batch_needs_bytes(sources: Sequence[Path], limits: Limits, jobs: int,
                      data_bytes: int) -> int:
    """What a batch could need on the output disk: each submission's bound and reports, plus
    the data copies and one intake staging per concurrent job."""
    staging = sum(sorted((_source_bytes(s) for s in sources), reverse=True)[:jobs])
    per_submission = limits.footprint_mb * MIB + REPORTS_ALLOWANCE
    return len(sources) * per_submission + jobs * 2 * data_bytes + staging


def _source_bytes(source: Path) -> int:
    return disk_bytes(source) if source.is_dir() else (source.stat().st_size if source.exists()
                                                        else 0)


def check_free_space(out_dir: Path, need: int, count: int) -> None:
    """Raise a one-line :class:`EnvironmentProblem` when ``out_dir``'s disk has less than ``need``."""
    out_dir = Path(out_dir)
    probe = out_dir if out_dir.exists() else next(p for p in out_dir.parents if p.exists())
    free = shutil.disk_usage(probe).free
    if free < need:
        raise EnvironmentProblem(
            f"not enough free space for this batch in {out_dir}: {free / MIB:.0f} MB free, up to "
            f"{need / MIB:.0f} MB needed for {count} submission(s)",
            hint="free some space, choose another --output folder, or grade fewer submissions "
                 "at once",
        )


def check_batch_space(out_dir: Path, sources: Sequence[Path], data_files: Sequence[Path | None],
                      jobs: int, limits: Limits | None = None) -> None:
    """Before a batch: refuse to start when ``out_dir``'s disk cannot hold what it could need.

    ``data_files`` may hold None (``takehome screen``: a submission without an assignment has no
    data files).
    """
    data_bytes = sum(p.stat().st_size for p in data_files if p is not None and p.is_file())
    need = batch_needs_bytes(sources, limits or Limits(), jobs, data_bytes)
    check_free_space(out_dir, need, len(sources))
