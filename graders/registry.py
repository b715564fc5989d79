"""Find graders through the ``takehome.graders`` entry points and run them safely.

Built-in graders register exactly as third-party plugins do (see ``pyproject.toml``). Each
entry point names a class (or a no-argument factory) whose instance satisfies
:class:`graders.base.Grader` and whose ``name`` equals the entry point's name.

:func:`run_grader` is the only way the pipeline calls a grader: it turns an exception, or a
result that breaks the contract, into a *harness fault* (``score=None``, ``not_applicable=True``,
``reason="grader error: ..."``, ``details["harness_fault"] = True``) so that a bug in a grader
is never scored as the candidate's fault.

Two optional parts of the contract let the pipeline use the time the sandbox runs:
``reads_artifacts = False`` declares a grader that reads only the snapshot and the assignment
(never ``context.artifacts``); it is run while the sandbox runs, with ``artifacts=None``.
``warm_up(assignment)`` loads ahead what grading that assignment will need (imports, the
assignment's own files) and is called in the background meanwhile; it must not depend on the
submission. See :func:`reads_artifacts` and :func:`warm_up_graders`.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path, PurePosixPath

from contracts.errors import TakehomeError
from graders.base import Evidence, Grader, GraderContext, GraderResult, clip

ENTRY_POINT_GROUP = "takehome.graders"
ARTIFACT_PREFIX = "artifact:"
HARNESS_FAULT_KEY = "harness_fault"


class GraderLoadError(TakehomeError):
    """One or more grader plugins could not be loaded (each failure names its plugin)."""


@dataclass(frozen=True)
class GraderLoadFailure:
    """Why the plugin ``name`` (entry point ``value``) could not be loaded."""

    name: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"grader plugin '{self.name}' ({self.value}): {self.reason}"


def _entry_points() -> dict[str, list[EntryPoint]]:
    """Entry points of the group by name (several when distributions disagree)."""
    found: dict[str, list[EntryPoint]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        same = found.setdefault(point.name, [])
        if all(existing.value != point.value for existing in same):
            same.append(point)
    return found


def available_grader_names() -> list[str]:
    """Names of every registered grader plugin, loadable or not, sorted."""
    return sorted(_entry_points())


def _contract_problem(grader: object, name: str) -> str | None:
    """A sentence saying how ``grader`` breaks the contract, or None when it conforms."""
    if not isinstance(grader, Grader):
        return "the object has no `name`, `version` and `grade(context)` (see graders/base.py)"
    if not callable(getattr(grader, "grade", None)):
        return "`grade` is not callable"
    if not isinstance(grader.name, str) or grader.name != name:
        return f"its `name` is {grader.name!r}; it must equal the entry point name {name!r}"
    if not isinstance(grader.version, str) or not grader.version:
        return "its `version` must be a non-empty string"
    return None


def _load_one(name: str, points: list[EntryPoint]) -> Grader | GraderLoadFailure:
    if len(points) > 1:
        values = ", ".join(sorted(point.value for point in points))
        return GraderLoadFailure(name, values, "registered more than once with different targets")
    point = points[0]
    try:
        target = point.load()
    except Exception as exc:  # noqa: BLE001 - any import-time error is the plugin's fault
        return GraderLoadFailure(name, point.value, f"cannot be imported: {_describe(exc)}")
    if not callable(target):
        return GraderLoadFailure(name, point.value, "the entry point does not name a class")
    try:
        grader = target()
    except Exception as exc:  # noqa: BLE001
        reason = f"cannot be built without arguments: {_describe(exc)}"
        return GraderLoadFailure(name, point.value, reason)
    problem = _contract_problem(grader, name)
    if problem is not None:
        return GraderLoadFailure(name, point.value, f"breaks the grader contract: {problem}")
    return grader


def discover_graders(
    names: Iterable[str] | None = None,
) -> tuple[list[Grader], list[GraderLoadFailure]]:
    """Load the graders ``names`` (all registered ones when None), sorted by name.

    Returns the graders that loaded and the failures; never raises for a plugin's fault. A name
    that is not registered is a failure too.
    """
    points = _entry_points()
    wanted = sorted(set(points) if names is None else set(names))
    graders: list[Grader] = []
    failures: list[GraderLoadFailure] = []
    for name in wanted:
        if name not in points:
            known = ", ".join(sorted(points)) or "none"
            failures.append(
                GraderLoadFailure(name, "-", f"no such grader is registered (known: {known})")
            )
            continue
        loaded = _load_one(name, points[name])
        if isinstance(loaded, GraderLoadFailure):
            failures.append(loaded)
        else:
            graders.append(loaded)
    return graders, failures


def load_graders(names: Iterable[str] | None = None, *, strict: bool = True) -> list[Grader]:
    """Instances of the graders ``names`` (all registered ones when None), sorted by name.

    With ``strict`` (the default) any plugin that fails to load raises :class:`GraderLoadError`
    listing every failing plugin; otherwise failing plugins are skipped.
    """
    graders, failures = discover_graders(names)
    if failures and strict:
        listed = "; ".join(str(failure) for failure in failures)
        raise GraderLoadError(
            f"{len(failures)} grader plugin(s) failed to load: {listed}",
            hint="fix or uninstall the plugin, or choose graders explicitly",
        )
    return graders


# --------------------------------------------------------------------------- running


def reads_artifacts(grader: object) -> bool:
    """False only for a grader that declares ``reads_artifacts = False`` (snapshot-only)."""
    return getattr(grader, "reads_artifacts", True) is not False


def warm_up_graders(graders: Iterable[Grader], assignment: object) -> None:
    """Call each grader's optional ``warm_up(assignment)``; a failing warm-up is ignored (the
    grader then does that work itself in ``grade``, where a fault is reported)."""
    for grader in graders:
        warm_up = getattr(grader, "warm_up", None)
        if callable(warm_up):
            try:
                warm_up(assignment)
            except Exception:  # noqa: BLE001, S110 - only an optimisation; grade() reports it
                pass


def harness_fault(grader: object, message: str, trace: str | None = None) -> GraderResult:
    """The result standing for a grader's own failure: no score, never the candidate's fault."""
    name = getattr(grader, "name", None)
    version = getattr(grader, "version", None)
    details: dict[str, object] = {HARNESS_FAULT_KEY: True}
    if trace:
        details["traceback"] = clip(trace, 4000)
    return GraderResult(
        grader=name if isinstance(name, str) and name else type(grader).__name__,
        version=version if isinstance(version, str) and version else "?",
        score=None,
        not_applicable=True,
        reason=clip(f"grader error: {message}", 500),
        details=details,
    )


def is_harness_fault(result: GraderResult) -> bool:
    """True when ``result`` stands for a grader failure rather than a judgement."""
    return bool(result.details.get(HARNESS_FAULT_KEY))


def run_grader(grader: Grader, context: GraderContext) -> GraderResult:
    """Run ``grader`` on ``context``; exceptions and invalid results become a harness fault."""
    try:
        result = grader.grade(context)
    except Exception as exc:  # noqa: BLE001 - a grader bug must not crash the pipeline
        return harness_fault(grader, _describe(exc), traceback.format_exc())
    problem = result_problem(result, grader, context)
    if problem is not None:
        return harness_fault(grader, f"invalid result: {problem}")
    return result


def result_problem(result: object, grader: Grader, context: GraderContext) -> str | None:
    """A sentence saying how ``result`` breaks the contract, or None when it is valid."""
    if not isinstance(result, GraderResult):
        return f"grade() returned {type(result).__name__}, not GraderResult"
    try:  # re-validate: model_construct() or mutation can bypass the field validators
        GraderResult.model_validate(result.model_dump())
    except Exception as exc:  # noqa: BLE001
        return f"fails validation: {_describe(exc)}"
    try:
        json.dumps(result.model_dump(mode="json"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"cannot be written as JSON: {_describe(exc)}"
    if result.grader != grader.name:
        return f"result names grader {result.grader!r}, expected {grader.name!r}"
    if result.not_applicable != (result.score is None):
        return "score must be None exactly when not_applicable is True"
    if result.score is not None and not 0.0 <= result.score <= 1.0:
        return f"score {result.score} is outside [0, 1]"
    if result.not_applicable and not result.reason:
        return "a not-applicable result needs a reason"
    evidence = [e for check in result.checks for e in check.evidence]
    evidence += [e for flag in result.red_flags for e in flag.evidence]
    for item in evidence:
        problem = evidence_problem(item, context)
        if problem is not None:
            return problem
    return None


def evidence_problem(evidence: Evidence, context: GraderContext) -> str | None:
    """A sentence saying why ``evidence`` points nowhere, or None when its paths exist."""
    artifacts_root = context.artifacts.root if context.artifacts is not None else None
    if evidence.path is not None:
        if evidence.path.startswith(ARTIFACT_PREFIX):
            relative = evidence.path[len(ARTIFACT_PREFIX) :]
            if artifacts_root is None or not _exists_inside(artifacts_root, relative):
                return f"evidence artifact {relative!r} does not exist"
        elif not _exists_inside(context.snapshot_root, evidence.path):
            return f"evidence path {evidence.path!r} is not a file in the snapshot"
    if evidence.image is not None:
        roots = [root for root in (artifacts_root, context.snapshot_root) if root is not None]
        if not any(_exists_inside(root, evidence.image) for root in roots):
            return f"evidence image {evidence.image!r} does not exist"
    if evidence.line is not None and evidence.line < 1:
        return f"evidence line {evidence.line} is not 1-based"
    if evidence.cell is not None and evidence.cell < 0:
        return f"evidence cell {evidence.cell} is negative"
    return None


def _exists_inside(root: Path, relative: str) -> bool:
    """True when the posix ``relative`` path is a file or folder inside ``root`` (no escape)."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        return False
    candidate = Path(root).joinpath(*pure.parts)
    try:
        resolved_root = Path(root).resolve()
        resolved = candidate.resolve()
    except (OSError, RuntimeError):
        return False
    return resolved.is_relative_to(resolved_root) and (candidate.is_file() or candidate.is_dir())


def _describe(exc: BaseException) -> str:
    return clip(f"{type(exc).__name__}: {exc}", 300)
