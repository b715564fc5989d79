"""Grade many submissions: in parallel, resumable from the results store, with similarity.

``grade_batch`` is what ``takehome grade`` calls, for one submission or a hundred. Each
submission is graded by one worker thread (the heavy work happens in its sandbox containers);
one submission's failure never stops the others. Results are written to the SQLite store as
soon as each finishes, so an interrupted batch resumes where it stopped.

The batch is a pipeline: similarity needs only the snapshots, so it is computed in the
background as soon as every submission is ingested (while the sandboxes run), and each
submission's reports are rendered as soon as it is graded, by one renderer thread, instead of
all of them after the last container; the index comes last. matplotlib is preloaded in the
background when html reports may show held-out plots.
"""

from __future__ import annotations

import math
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from contracts.errors import SubmissionRejected
from harness import footprint, termination
from harness.assignment import Assignment
from harness.fingerprint import harness_build
from harness.intake import Snapshot, ingest
from harness.overrides import OverridesFile, apply_overrides, load_overrides, overrides_path_for
from harness.pipeline import (
    GradedSubmission,
    GradeSettings,
    StageRunner,
    grade_snapshot,
    grade_submission,
)
from harness.result import (
    GradingResult,
    SubmissionInfo,
    attach_similarity,
    submission_from_snapshot,
)
from harness.rubric import load_rubric, rubric_hash
from harness.similarity import SimilarityPair, find_similar
from harness.stages import CHECKS_DONE, SandboxSlots
from harness.store import OutputDiskFull, ResultKey, ResultStore, disk_full_error, is_disk_full
from sandbox.limits import Limits

SUBMISSION_MARKERS = (".git", "takehome.toml", "README.md", "README.rst", "README.txt", "README",
                      "requirements.txt", "pyproject.toml", "setup.py", "Makefile")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".ipynb", ".bundle")

StageCallback = Callable[[str, str], None]  # (submission name, stage)


@dataclass
class BatchItem:
    """One submission of a batch and what became of it."""

    source: Path
    name: str
    result: GradingResult | None = None
    reports: dict[str, Path] = field(default_factory=dict)
    snapshot_root: Path | None = None
    artifacts_root: Path | None = None
    reused: bool = False
    seconds: float = 0.0
    overrides: OverridesFile | None = None  # an interviewer's review, kept across regrades


@dataclass
class BatchOutcome:
    """Everything a batch produced."""

    items: list[BatchItem]
    index_html: Path | None
    summary_csv: Path | None
    similarity: list[SimilarityPair]
    store_path: Path


def _looks_like_submission(folder: Path) -> bool:
    """A folder with project files (or a single notebook) is one submission."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".") or p.name == ".git"]
    if any((folder / marker).exists() for marker in SUBMISSION_MARKERS):
        return True
    if any(p.is_file() and p.suffix == ".py" for p in entries):
        return True
    items = [p for p in entries if p.is_dir() or p.name.endswith(ARCHIVE_SUFFIXES)]
    return len(items) < 2


def expand_sources(paths: Sequence[Path]) -> list[Path]:
    """Each argument is a submission, or a folder whose entries are submissions.

    A folder counts as one submission when it holds a README, a takehome.toml, a .git,
    requirements or ``.py`` files at its top level, or a single notebook; otherwise (a folder of
    notebooks, archives or submission folders) each of its entries is one submission.
    """
    sources: list[Path] = []
    for path in paths:
        if path.is_dir() and not _looks_like_submission(path):
            for entry in sorted(path.iterdir()):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir() or entry.name.endswith(ARCHIVE_SUFFIXES):
                    sources.append(entry)
        else:
            sources.append(path)
    return sources


def display_name(source: Path) -> str:
    """A file-system-safe display name for a submission path."""
    name = source.name
    for suffix in (".tar.gz", ".tgz", ".zip", ".tar", ".ipynb", ".bundle"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "submission"


def _existing_overrides(folder: Path) -> OverridesFile | None:
    """The interviewer's overrides already recorded next to a previous result, if any."""
    path = overrides_path_for(folder / "result.json")
    return load_overrides(path) if path.is_file() else None


def report_folder(item: BatchItem, blind: bool) -> str:
    """The report folder's name: the submission's name, or its pseudonym in blind mode."""
    digest = item.result.submission.content_hash if item.result is not None else ""
    return _folder_name(item.name, digest, blind)


def _folder_name(name: str, content_hash: str, blind: bool) -> str:
    if not blind:
        return name
    from harness.report.blind import pseudonym

    return pseudonym(content_hash, name).lower().replace(" ", "-")


def _earlier_snapshots(earlier_results: Sequence[tuple[GradingResult, Path]], snapshots: Path,
                       hashes: set[str], content_hashes: dict[str, str]) -> dict[str, Path]:
    """Snapshots of the submissions graded into the output folder before this batch (by
    report folder), for the similarity check: a copy between candidates graded on different
    days is still found. Those with this batch's content are left out, and so are those whose
    snapshot was not kept (larger than the host footprint). ``content_hashes`` gains each one's
    hash (the blind report names the other submission by it)."""
    earlier = {}
    for result, report in earlier_results:
        digest = result.submission.content_hash
        root = snapshots / digest[:16]
        if digest and digest not in hashes and root.is_dir():
            earlier[report.parent.name] = root
            content_hashes.setdefault(report.parent.name, digest)
    return earlier


def _mem_total_mb() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 4096


def _sandboxes_by_cpu(assignment: Assignment) -> int:
    """How many of the assignment's sandboxes (``limits.cpus`` each) the CPUs can run at once."""
    cpus = os.cpu_count() or 1
    return max(1, int(cpus // max(1.0, math.ceil(assignment.spec.limits.cpus))))


def default_jobs(assignment: Assignment) -> int:
    """As many sandboxes at once as the machine's CPUs and memory allow for this assignment."""
    limits = assignment.spec.limits
    by_cpu = _sandboxes_by_cpu(assignment)
    # Each submission runs two containers side by side (run and checks), each with the limit.
    by_mem = max(1, int((_mem_total_mb() * 0.8) // max(1, 2 * limits.memory_mb)))
    return max(1, min(by_cpu, by_mem))


def sandbox_slots(jobs: int, assignment: Assignment) -> int:
    """Containers a batch with ``jobs`` workers runs at once (see harness.stages.SandboxSlots).

    One more than the CPUs can run (a container starting, stopping or waiting on the host
    leaves its CPU idle), at least one per worker and at most two (a lone submission's run and
    checks containers side by side; the memory budget of :func:`default_jobs`). On 2 CPUs: 2
    at -j 1, 3 at -j 2 (measured against 2 and 4 in docs/benchmarks.md).
    """
    return max(jobs, min(2 * jobs, _sandboxes_by_cpu(assignment) + 1))


def _unique_names(sources: Sequence[Path]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for source in sources:
        base = display_name(source)
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.append(base if count == 0 else f"{base}-{count + 1}")
    return names


class _Latch:
    """Counts each item once; :meth:`wait` returns when every item has counted (or on abort)."""

    def __init__(self, count: int):
        self._left = count
        self._seen: set[str] = set()
        self._cond = threading.Condition()

    def count(self, key: str) -> None:
        with self._cond:
            if key not in self._seen:
                self._seen.add(key)
                self._left -= 1
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self._left = 0
            self._cond.notify_all()

    def wait(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._left <= 0)


def _in_background(name: str, target: Callable[[], object]) -> Future:
    """Run ``target`` in a daemon thread (never holds up an interrupted exit); its Future."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(target())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


def grade_batch(
    assignment: Assignment,
    sources: Sequence[Path],
    out_dir: Path,
    *,
    settings: GradeSettings,
    jobs: int | None = None,
    force: bool = False,
    formats: Sequence[str] = ("html", "json", "md"),
    blind: bool = False,
    public_solutions: Path | None = None,
    similarity_threshold: float | None = None,
    on_stage: StageCallback | None = None,
    assignment_for: Callable[[Snapshot], Assignment] | None = None,
    stage_runner: StageRunner | None = None,
) -> BatchOutcome:
    """Grade ``sources`` into ``out_dir`` (reports, index, summary.csv, results.sqlite).

    ``assignment_for`` gives each ingested submission its own task context (``takehome
    screen``: inferred from the submission); its ``content_hash()`` is part of the store key.
    ``stage_runner`` runs the sandbox stages elsewhere (see :data:`harness.pipeline.StageRunner`).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    work_root = out_dir / ".work"
    store = ResultStore(out_dir / "results.sqlite")
    rubric = load_rubric(assignment.spec.rubric)
    r_hash = rubric_hash(rubric)
    a_hash = assignment.content_hash()
    names = _unique_names(sources)
    items = [BatchItem(source=s, name=n) for s, n in zip(sources, names)]
    stage = on_stage or (lambda _n, _s: None)
    lock = threading.Lock()
    n_jobs = max(1, jobs or default_jobs(assignment))
    slots = SandboxSlots(sandbox_slots(n_jobs, assignment))
    footprint.check_batch_space(out_dir, sources, [assignment.train_csv,
                                                   assignment.hidden_features_csv], n_jobs)

    ingested = _Latch(len(items))  # similarity starts once every submission is ingested
    content_hashes: dict[str, str] = {}
    core_idle = threading.Event()  # a checks container is gone: host warm-ups may start
    if not settings.run or stage_runner is not None:
        core_idle.set()  # no local containers to take CPU from

    def work(item: BatchItem) -> BatchItem:
        started = time.monotonic()
        termination.check()  # a stop was requested: start nothing new
        stage(item.name, "intake")
        try:
            snapshot = ingest(item.source, work_root / "snapshots", settings.intake_caps)
        except SubmissionRejected:
            ingested.count(item.name)
            graded = grade_submission(item.source, assignment, settings, work_root, rubric)
            item.result = graded.result
            stage(item.name, "rejected")
            item.seconds = time.monotonic() - started
            return item
        item.snapshot_root = snapshot.root
        content_hashes[item.name] = snapshot.content_hash
        ingested.count(item.name)
        task = assignment_for(snapshot) if assignment_for is not None else assignment
        key = ResultKey(snapshot.content_hash, task.content_hash() if task is not assignment
                        else a_hash, r_hash,
                        settings.image_digest or "static", harness_build())
        stored = None if force else store.get(key)
        work_dir = work_root / "runs" / snapshot.content_hash[:16]
        if stored is not None:
            item.result = _as_submitted(GradingResult.model_validate_json(stored.result_json),
                                        submission_from_snapshot(snapshot, item.source.name))
            item.reused = True
            item.artifacts_root = (work_dir / "artifacts") if (work_dir / "artifacts").is_dir() else None
            stage(item.name, "cached")
        else:
            graded: GradedSubmission = grade_snapshot(
                snapshot, task, rubric, settings, work_dir,
                progress=lambda s: (termination.check(), _note_idle(s), stage(item.name, s)),
                source_display=item.source.name,
                slots=slots, stage_runner=stage_runner,
            )
            item.result = graded.result
            item.artifacts_root = graded.artifacts_root
            if graded.result.status != "harness_error":
                with lock:
                    termination.check()  # graded while stopping: sandboxes were removed
                    store.put(key, name=item.name, status=graded.result.status,
                              total=graded.result.total,
                              result_json=graded.result.model_dump_json(),
                              report_path=str(out_dir / report_folder(item, blind) / "report.html"))
            stage(item.name, graded.result.status)
        item.seconds = time.monotonic() - started
        return item

    disk_full: list[OutputDiskFull] = []  # a full output disk stops the batch (store.py)

    def safe_work(item: BatchItem) -> BatchItem:
        try:
            if disk_full:
                raise disk_full[0]
            return work(item)
        except Exception as exc:  # one submission's fault never stops the batch (a full disk does)
            if is_disk_full(exc):
                disk_full.append(exc if isinstance(exc, OutputDiskFull)
                                 else disk_full_error(work_root, f"{item.name}'s files"))
                raise disk_full[0] from exc
            graded = grade_submission_failed(item, assignment, settings, rubric, exc)
            item.result = graded
            stage(item.name, "harness_error")
            return item
        finally:
            ingested.count(item.name)

    def compare() -> tuple[list[SimilarityPair], list[tuple[GradingResult, Path]]]:
        """The similarity pairs, and the results graded into the folder before this batch
        (read once: the similarity and the index both use them)."""
        from harness.report.index import folder_results

        ingested.wait()
        roots = {i.name: i.snapshot_root for i in items if i.snapshot_root is not None}
        mine = {_folder_name(i.name, content_hashes.get(i.name, ""), blind) for i in items}
        earlier_results = folder_results(out_dir, exclude=mine, skip_unreadable=True)
        earlier = _earlier_snapshots(earlier_results, work_root / "snapshots",
                                     set(content_hashes.values()), content_hashes)
        pairs: list[SimilarityPair] = []
        if len(roots) >= 2 or (roots and (public_solutions or earlier)):
            starter = [assignment.root / p for p in (assignment.spec.starter_code or [])]
            kwargs = {} if similarity_threshold is None else {"threshold": similarity_threshold}
            pairs = find_similar(roots, public_solutions, starter, earlier=earlier, **kwargs)
        return pairs, earlier_results

    def render(item: BatchItem, similarity: list[SimilarityPair]) -> None:
        from harness.report import render_reports

        if item.result is None:
            return
        pairs = [p for p in similarity if item.name in (p.first, p.second)]
        if pairs:
            item.result = attach_similarity(item.result, item.name, pairs, rubric=rubric,
                                            content_hashes=content_hashes)
        folder = out_dir / report_folder(item, blind)
        item.overrides = _existing_overrides(folder) if item.result.rubric is not None else None
        # result.json stays the canonical, unreviewed result; the views apply the review.
        canonical = [f for f in formats if f == "json"]
        views = [f for f in formats if f != "json"]
        item.reports = render_reports(item.result, folder, formats=canonical, blind=blind)
        item.reports |= render_reports(item.result, folder, formats=views, blind=blind,
                                       overrides=item.overrides,
                                       artifacts_root=item.artifacts_root)

    graded_items: queue.Queue[BatchItem | None] = queue.Queue()

    def _note_idle(message: str) -> None:
        if message == CHECKS_DONE:
            core_idle.set()

    def render_as_graded() -> None:
        core_idle.wait()  # on cgroup v1 host work beside both containers takes a core from them
        if settings.run and "html" in formats:
            from harness.report import plots

            plots.preload()  # matplotlib's import and fonts, while the run container finishes
        from harness.report.html import environment  # Jinja2 and the report modules

        for template in ("report.html.j2", "index.html.j2"):  # compiled while sandboxes run
            environment().get_template(template)
        similarity, _ = pairs_found.result()
        while (item := graded_items.get()) is not None:
            render(item, similarity)

    pairs_found = _in_background("batch-similarity", compare)
    rendered = _in_background("batch-reports", render_as_graded)
    try:
        with ThreadPoolExecutor(max_workers=n_jobs, thread_name_prefix="grade") as pool:
            futures = [pool.submit(safe_work, item) for item in items]
            for future in as_completed(futures):
                graded_items.put(future.result())
    finally:
        ingested.release()
        core_idle.set()
        graded_items.put(None)
    rendered.result()
    similarity, earlier = pairs_found.result()
    index_html, summary_csv = _write_index(items, out_dir, similarity, earlier, blind)
    for item in items:  # grading and reports are done: keep each within its host footprint
        runs = item.artifacts_root.parent if item.artifacts_root is not None else None
        footprint.trim_retained(item.snapshot_root, runs, Limits())
    return BatchOutcome(items, index_html, summary_csv, similarity, store.path)


def _as_submitted(result: GradingResult, submission: SubmissionInfo) -> GradingResult:
    """A stored result reused for a submission with the same content but submitted under
    another name or path (a copy sent by a second candidate): it carries this one's identity."""
    if (result.submission.name, result.submission.source) == (submission.name, submission.source):
        return result
    return result.model_copy(update={"submission": result.submission.model_copy(
        update={"name": submission.name, "source": submission.source})})


def _write_index(items: Sequence[BatchItem], out_dir: Path, similarity: list[SimilarityPair],
                 earlier: list[tuple[GradingResult, Path]], blind: bool) -> tuple[Path, Path]:
    """The output folder's index.html and summary.csv: this batch's submissions and
    ``earlier``, those graded into the folder before (an index never loses a candidate graded
    earlier)."""
    from harness.report import render_index
    from harness.report.index import pairs_from_results

    entries = [(apply_overrides(i.result, i.overrides),
                i.reports.get("html", out_dir / report_folder(i, blind) / "report.html"))
               for i in items if i.result is not None]
    if blind:  # their folders and reports carry the names: a blind index cannot list them
        named = [path.parent.name for result, path in earlier if not result.blind]
        if named:
            print(f"warning: {len(named)} submission(s) graded into {out_dir} without --blind "
                  "are left out of this blind index (grade them again with --blind)",
                  file=sys.stderr)
        earlier = [(result, path) for result, path in earlier if result.blind]
    pairs: list = [*similarity, *pairs_from_results(earlier)]
    return render_index([*entries, *earlier], out_dir, similarity=pairs, blind=blind)


def grade_submission_failed(item: BatchItem, assignment: Assignment, settings: GradeSettings,
                            rubric, exc: Exception) -> GradingResult:
    """A result for a submission whose grading crashed in the harness (never a score)."""
    from harness.result import harness_error_result

    return harness_error_result(
        name=item.name, assignment=assignment, rubric=rubric,
        reason=f"{type(exc).__name__}: {exc}", image=settings.image or "",
        image_digest=settings.image_digest,
    )
