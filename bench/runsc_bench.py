"""gVisor (runsc) against runc on the bundled examples: time per submission, levels, start-up.

Usage (the engine must list both runtimes; see sandbox/scripts/ensure_runsc.sh --register):

    DOCKER_HOST=unix:///path/to/engine.sock .venv/bin/python bench/runsc_bench.py [--repeat 5]

For each bundled assignment, every example submission is graded once per runtime (fresh output
folders, ``-j 1``, calibration cached beforehand), and a trivial sandboxed command is timed
``--repeat`` times per runtime (container start, workspace copy, one exec, removal). Prints one
table per measure, the overhead ratio, and whether both runtimes gave the same levels and
statuses (they must: the runtime is isolation, not grading).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

RUNTIMES = ("runc", "runsc")


def _engine_runtimes() -> list[str]:
    from sandbox.image import docker_client

    client = docker_client()
    try:
        return sorted(client.info().get("Runtimes") or {})
    finally:
        client.close()


def trivial_runs(image: str, repeat: int) -> dict[str, list[float]]:
    """Seconds for a fresh hardened container running `python -c pass` (start to removal)."""
    from sandbox.limits import Limits
    from sandbox.runner import run_in_sandbox

    times: dict[str, list[float]] = {r: [] for r in RUNTIMES}
    with tempfile.TemporaryDirectory() as folder:
        sub = Path(folder) / "sub"
        sub.mkdir()
        (sub / "x.py").write_text("pass\n")
        for path in (Path(folder), sub):
            path.chmod(0o755)
        (sub / "x.py").chmod(0o644)
        for _ in range(repeat):
            for runtime in RUNTIMES:
                started = time.monotonic()
                result = run_in_sandbox(["python3", "-c", "pass"], image=image, submission=sub,
                                        limits=Limits(wall_time_s=60), runtime=runtime)
                times[runtime].append(time.monotonic() - started)
                assert result.verdict.value == "ok", result
    return times


def grade_examples(runtime: str, root: Path) -> dict[str, dict]:
    """Grade every bundled example under ``runtime``; {assignment/name: figures}."""
    from harness.assignment import load_assignment, repo_root
    from harness.batch import grade_batch
    from harness.grade import prepare_settings

    os.environ["TAKEHOME_RUNTIME"] = runtime
    figures: dict[str, dict] = {}
    for folder in sorted((repo_root() / "assignments").iterdir()):
        if not (folder / "assignment.yaml").is_file():
            continue
        assignment = load_assignment(folder)
        out = root / runtime / assignment.spec.slug
        settings = prepare_settings(assignment, True, out / ".work")
        examples = sorted(p for p in (folder / "examples").iterdir() if not p.name.startswith("."))
        outcome = grade_batch(assignment, examples, out, settings=settings, jobs=1, force=True,
                              formats=("json",))
        for item in outcome.items:
            result = item.result
            levels = {} if result is None or result.rubric is None else {
                c.id: c.level for c in result.rubric.criteria}
            run_exec = None
            if item.artifacts_root is not None and (item.artifacts_root / "stages.json").is_file():
                import json

                timings = json.loads((item.artifacts_root / "stages.json").read_text())["timings"]
                run_exec = timings.get("run_exec")
            figures[f"{assignment.spec.slug}/{item.name}"] = {
                "seconds": item.seconds, "status": result.status if result else None,
                "levels": levels, "run_exec": run_exec,
            }
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runtimes = _engine_runtimes()
    if "runsc" not in runtimes:
        print(f"the engine at {os.environ.get('DOCKER_HOST', 'the default socket')} has no runsc "
              "runtime (it has: " + ", ".join(runtimes) + "); run "
              "`sudo bash sandbox/scripts/ensure_runsc.sh --register` or point DOCKER_HOST at an "
              "engine that has it", file=sys.stderr)
        return 2
    from sandbox.image import build_image

    image = build_image()
    trivial = trivial_runs(image, args.repeat)
    print(f"trivial sandboxed command ({args.repeat} runs each), median seconds")
    for runtime in RUNTIMES:
        print(f"  {runtime:<6} {statistics.median(trivial[runtime]):6.2f}  "
              f"(min {min(trivial[runtime]):.2f}, max {max(trivial[runtime]):.2f})")
    with tempfile.TemporaryDirectory() as folder:
        graded = {runtime: grade_examples(runtime, Path(folder)) for runtime in RUNTIMES}
    print("\nbundled examples, -j 1: seconds per submission (run stage exec in brackets)")
    print(f"  {'submission':<36} {'runc':>14} {'runsc':>14} {'ratio':>6}  same levels")
    ratios = []
    for name in sorted(graded["runc"]):
        a, b = graded["runc"][name], graded["runsc"].get(name, {})
        ratio = b.get("seconds", 0) / a["seconds"] if a["seconds"] else float("nan")
        ratios.append(ratio)
        same = a["levels"] == b.get("levels") and a["status"] == b.get("status")

        def cell(f: dict) -> str:
            run = f.get("run_exec")
            return f"{f.get('seconds', 0):6.1f} [{run:5.1f}]" if run else f"{f.get('seconds', 0):6.1f}  [  -  ]"

        print(f"  {name:<36} {cell(a):>14} {cell(b):>14} {ratio:6.2f}  "
              f"{'yes' if same else 'NO: ' + str(a['status']) + ' / ' + str(b.get('status'))}")
    total = {r: sum(f["seconds"] for f in graded[r].values()) for r in RUNTIMES}
    print(f"\n  total: runc {total['runc']:.1f} s, runsc {total['runsc']:.1f} s, "
          f"ratio {total['runsc'] / total['runc']:.2f} (median per submission "
          f"{statistics.median(ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
