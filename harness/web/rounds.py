"""The rounds the web app serves: output folders of ``takehome grade`` and their candidates.

A round is one folder with a ``results.sqlite`` (what ``takehome grade -o DIR`` writes); a folder
given to ``takehome serve`` is a round itself, or holds rounds one level down (``out/demo`` holds
one per bundled assignment). Rounds and candidates are looked up by id in the store, never by a
path taken from a URL. Every result read from the store is validated (pydantic) before use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from contracts.errors import TakehomeError
from harness.result import GradingResult
from harness.store import ResultStore, StoredResult

STORE_FILE = "results.sqlite"
CANDIDATE_ID_LENGTH = 16
ROUND_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Candidate:
    """One submission of a round (its newest result)."""

    id: str  # the submission's content hash, first 16 hex digits
    stored: StoredResult
    graded_at: float

    @cached_property
    def result(self) -> GradingResult:
        """The validated result (as graded; reviews are applied by the caller)."""
        return GradingResult.model_validate_json(self.stored.result_json)

    @property
    def result_ref(self) -> str:
        """Which grading this is: reviews remember it to tell when they refer to an older one."""
        from harness.reviews import result_ref

        return result_ref(self.stored.key, self.graded_at)


@dataclass
class Round:
    """One output folder with a results store."""

    id: str
    folder: Path

    @cached_property
    def store(self) -> ResultStore:
        """The folder's results store (the web app adds its review tables to it)."""
        return ResultStore(self.folder / STORE_FILE)

    def candidates(self) -> list[Candidate]:
        """Every submission's newest result, by name (read live from the store)."""
        return [Candidate(candidate_id(stored.key.submission_hash), stored, at)
                for stored, at in self.store.latest_by_submission()]

    def candidate(self, cid: str) -> Candidate | None:
        """The candidate with id ``cid``, or None."""
        return next((c for c in self.candidates() if c.id == cid), None)

    def title(self) -> str:
        """The assignment's title (from a stored result), else the folder name."""
        candidates = self.candidates()
        if candidates:
            try:
                return candidates[0].result.assignment.title
            except ValueError:
                pass
        return self.folder.name

    def artifacts_root(self, candidate: Candidate) -> Path | None:
        """Where the candidate's figures are (``.work/runs/<hash16>/artifacts``), or None."""
        from harness.report import find_artifacts_root

        report_dir = self.report_dir(candidate)
        return find_artifacts_root(report_dir / "result.json", candidate.result)

    def report_dir(self, candidate: Candidate) -> Path:
        """The candidate's report folder inside the round (where ``grade`` wrote it)."""
        name = Path(candidate.stored.report_path or candidate.stored.name).parent.name
        if not name or name in (".", ".."):
            name = candidate.stored.name
        folder = (self.folder / name).resolve()
        if not folder.is_relative_to(self.folder.resolve()):
            return self.folder / "missing"
        return folder


def import_overrides_files(rnd: Round) -> int:
    """Bring reviews that exist only in ``<report>/result.overrides.yaml`` (written by hand or by
    an older takehome) into the round's audit log; return how many were imported."""
    from harness.reviews import ReviewLog, import_overrides_file

    log = ReviewLog(rnd.store.path)
    imported = 0
    for candidate in rnd.candidates():
        path = rnd.report_dir(candidate) / "result.overrides.yaml"
        if path.is_file():
            try:
                imported += import_overrides_file(log, candidate.result, path,
                                                  result_ref=candidate.result_ref)
            except (TakehomeError, ValueError):
                continue  # an invalid file: `takehome report` names its problem
    return imported


def candidate_id(submission_hash: str) -> str:
    """The URL id of a submission: the first 16 hex digits of its content hash."""
    return submission_hash.split(":")[-1][:CANDIDATE_ID_LENGTH]


def discover_rounds(folders: list[Path]) -> dict[str, Round]:
    """The rounds under the served folders, by id (the folder name; made unique).

    A folder with ``results.sqlite`` is a round; otherwise each sub-folder with one is.
    """
    rounds: dict[str, Round] = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise TakehomeError(f"{folder}: no such folder", hint="give the folder that "
                                "`takehome grade -o` or `takehome demo -o` wrote")
        found = [folder] if (folder / STORE_FILE).is_file() else sorted(
            p for p in folder.iterdir() if p.is_dir() and (p / STORE_FILE).is_file())
        for round_folder in found:
            base = ROUND_ID.sub("-", round_folder.resolve().name).strip("-.") or "round"
            rid, n = base, 2
            while rid in rounds:
                rid, n = f"{base}-{n}", n + 1
            rounds[rid] = Round(rid, round_folder.resolve())
    if not rounds:
        raise TakehomeError(f"no results store ({STORE_FILE}) in {', '.join(map(str, folders))}",
                            hint="grade first: takehome grade ASSIGNMENT SUBMISSIONS -o DIR, "
                            "or make demo")
    return rounds
