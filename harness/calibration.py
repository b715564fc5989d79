"""Calibration: the reference and baseline solutions' held-out scores for an assignment.

The held-out metrics grader scores a candidate by where their primary metric falls between the
baseline (weak) and the reference (strong) solution. Those two are graded once per assignment
and image, through the same sandbox as candidates, and cached on disk as JSON keyed by the
assignment's content hash and the image tag.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from graders.base import GraderContext
from harness.assignment import Assignment, repo_root
from harness.fingerprint import code_fingerprint
from harness.intake import IntakeCaps, ingest

SOLUTIONS = ("reference", "baseline")


def cache_dir() -> Path:
    """Where calibration results are cached (TAKEHOME_CACHE_DIR or the checkout's .cache)."""
    base = os.environ.get("TAKEHOME_CACHE_DIR")
    return Path(base) if base else repo_root() / ".cache"


def _solutions_hash(assignment: Assignment) -> str:
    """Hash of the assignment's data and of every solution file (the cache must follow both)."""
    digest = hashlib.sha256(assignment.content_hash().encode() + code_fingerprint().encode())
    for path in sorted(assignment.solutions_dir.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(assignment.solutions_dir).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _cache_file(assignment: Assignment, image: str) -> Path:
    safe_image = image.replace("/", "_").replace(":", "_")
    key = _solutions_hash(assignment)[:16]
    return cache_dir() / "calibration" / f"{assignment.spec.slug}-{key}-{safe_image}.json"


def solution_primary_scores(assignment: Assignment, image: str, work_root: Path) -> dict[str, float]:
    """Run each solution in the sandbox and compute its primary metric on the hidden labels."""
    from graders.heldout_metrics import HeldoutMetricsGrader
    from harness.stages import run_stages

    scores: dict[str, float] = {}
    for name in SOLUTIONS:
        source = assignment.solutions_dir / name
        if not source.exists():
            continue
        snapshot = ingest(source, work_root / "snapshots", IntakeCaps())
        artifacts = run_stages(snapshot, assignment, image=image,
                               work_dir=work_root / "runs" / f"solution-{name}", stages=("run",))
        context = GraderContext(snapshot.root, snapshot.to_meta(), assignment, artifacts)
        result = HeldoutMetricsGrader().grade(context)
        value = result.details.get("primary_value")
        if isinstance(value, (int, float)):
            scores[name] = float(value)
            for bound in ("ci_low", "ci_high"):
                if isinstance(result.details.get(bound), (int, float)):
                    scores[f"{name}_{bound}"] = float(result.details[bound])
    return scores


def reference_scores(assignment: Assignment, image: str, work_root: Path) -> dict[str, float]:
    """Cached ``{"reference": x, "baseline": y}`` for the assignment's primary metric."""
    path = _cache_file(assignment, image)
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            return {k: float(v) for k, v in data.items()}
        except (ValueError, TypeError):
            pass  # a corrupt cache entry is recomputed
    scores = solution_primary_scores(assignment, image, work_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(scores, sort_keys=True))
    tmp.replace(path)
    return scores


def calibrate_for_validation(assignment: Assignment) -> dict[str, float]:
    """The `takehome validate` calibration hook: grade both solutions, check they separate.

    The reference must beat the baseline (checked by the caller) and the baseline's primary
    metric must fall outside the reference's bootstrap 95% confidence interval, so that the
    scale from baseline (score 0) to reference (score 1) is wider than the metric's noise.
    """
    import tempfile

    from contracts.errors import SpecError
    from sandbox.image import build_image

    image = build_image(echo=lambda _m: None)
    with tempfile.TemporaryDirectory(prefix="takehome-calibrate-") as tmp:
        scores = reference_scores(assignment, image, Path(tmp))
    low, high = scores.get("reference_ci_low"), scores.get("reference_ci_high")
    baseline = scores.get("baseline")
    if low is not None and high is not None and baseline is not None and low <= baseline <= high:
        raise SpecError(
            f"baseline {assignment.spec.primary_metric} {baseline:.4g} lies inside the "
            f"reference's 95% CI [{low:.4g}, {high:.4g}]: the two are not separated",
            hint="weaken solutions/baseline or strengthen solutions/reference",
        )
    return scores
