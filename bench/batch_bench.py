"""Batch grading: parallel efficiency (-j 2 versus -j 1) and the harness process's memory peak.

    .venv/bin/python bench/batch_bench.py [--submissions 20] [--jobs 2]

Generates N distinct diabetes-progression submissions (the trivial mean-model notebook with a
different constant in each, so every content hash differs; a few seconds each), then grades
them as one batch at ``-j 1`` and at ``-j J``, each in a fresh output folder with ``force``
(no reuse of stored results).

Each batch runs in a child process (``bench/batch_bench.py --child``) that does what
``takehome grade diabetes-progression <folder> -o OUT -j J --force`` does (harness.grade:
``prepare_settings``, ``run_batch_with_progress``, ``print_summary``), timing
``run_batch_with_progress`` alone (``prepare_settings``: image check and cached calibration, is
reported apart). The child's memory peak is its own ``VmHWM`` at exit, cross-checked by the
parent polling ``/proc/<pid>/status`` every 0.1 s. (``ru_maxrss`` from ``os.wait4`` is kept in
the raw figures but not used: Linux carries the high-water mark across ``execve``, so it reports
the RSS of the *forking parent*, this benchmark, when that is larger. The harness starts no
child processes of its own during a batch: the Docker SDK talks to the engine over its socket.)

Efficiency = T(j1) / (J × T(jJ)); the target is at least 0.85 for J = 2. Memory target: the
peak under 300 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

try:
    from bench.common import REPO, fmt_s, write_trivial_submission
except ImportError:
    from common import REPO, fmt_s, write_trivial_submission  # type: ignore[no-redef]

SLUG = "diabetes-progression"
EFFICIENCY_TARGET = 0.85
MEMORY_TARGET_MB = 300


def make_submissions(folder: Path, count: int) -> list[Path]:
    """``count`` distinct trivial submissions (sub-01 ...), each with its own constant."""
    return [write_trivial_submission(folder / f"sub-{i + 1:02d}", offset=0.25 * (i + 1))
            for i in range(count)]


# --- child: one batch, as `takehome grade` runs it ----------------------------------------------


def _status_kb(field: str, pid: str = "self") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def child(sources_dir: Path, out_dir: Path, jobs: int, report: Path) -> int:
    import resource

    from rich.console import Console

    from harness.assignment import load_assignment
    from harness.batch import expand_sources
    from harness.grade import prepare_settings, print_summary, run_batch_with_progress

    console = Console(file=io.StringIO(), width=120)
    assignment = load_assignment(SLUG)
    sources = expand_sources([sources_dir])
    t0 = time.perf_counter()
    settings = prepare_settings(assignment, True, out_dir / ".work", console)
    t_settings = time.perf_counter() - t0
    rss_before = _status_kb("VmRSS")
    t1 = time.perf_counter()
    outcome = run_batch_with_progress(assignment, sources, out_dir, settings, console,
                                      jobs=jobs, force=True, formats=["html", "json", "md"])
    t_batch = time.perf_counter() - t1
    print_summary(outcome, console)
    items = [{
        "name": i.name,
        "status": i.result.status if i.result else None,
        "seconds": round(i.seconds, 3),
        "reused": i.reused,
        "container_starts": i.result.run.container_starts if i.result else 0,
        "timings": dict(i.result.run.timings) if i.result else {},
    } for i in outcome.items]
    report.write_text(json.dumps({
        "jobs": jobs,
        "prepare_settings_s": t_settings,
        "batch_s": t_batch,
        "items": items,
        "similar_pairs": len(outcome.similarity),
        "vm_hwm_kb": _status_kb("VmHWM"),
        "vm_rss_before_batch_kb": rss_before,
        "ru_maxrss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "threads": threading.active_count(),
    }, indent=1))
    return 0


# --- parent ---------------------------------------------------------------------------------------


def run_batch(sources_dir: Path, out_dir: Path, jobs: int) -> dict[str, Any]:
    """Run one batch in a child process; its report plus the parent's memory readings."""
    report = out_dir.parent / f"report-j{jobs}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--child",
            "--sources", str(sources_dir), "--out", str(out_dir), "--jobs", str(jobs),
            "--report", str(report)]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    peak = {"hwm": 0, "rss": 0}
    stop = threading.Event()

    def poll() -> None:
        pid = str(proc.pid)
        while not stop.is_set():
            hwm, rss = _status_kb("VmHWM", pid), _status_kb("VmRSS", pid)
            if hwm:
                peak["hwm"] = max(peak["hwm"], hwm)
            if rss:
                peak["rss"] = max(peak["rss"], rss)
            stop.wait(0.1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    output = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stop.set()
    poller.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not report.is_file():
        raise RuntimeError(f"batch child failed ({proc.returncode}):\n"
                           f"{output.decode(errors='replace')[-3000:]}")
    data = json.loads(report.read_text())
    data.update({"child_wall_s": wall, "polled_hwm_kb": peak["hwm"],
                 "polled_rss_kb": peak["rss"], "wait4_maxrss_kb": usage.ru_maxrss})
    return data


def measure(count: int = 20, jobs: int = 2, log=print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="takehome-bench-batch-") as tmp:
        root = Path(tmp)
        sources = root / "submissions"
        make_submissions(sources, count)
        runs: dict[int, dict[str, Any]] = {}
        for j in (1, jobs):
            (root / f"j{j}").mkdir()
            runs[j] = run_batch(sources, root / f"j{j}" / "out", j)
            statuses = sorted({i["status"] for i in runs[j]["items"]})
            log(f"  batch of {count} at -j {j}: {runs[j]['batch_s']:.1f} s "
                f"(statuses {statuses}), peak {runs[j]['vm_hwm_kb'] / 1024:.0f} MB")
    t1, tj = runs[1]["batch_s"], runs[jobs]["batch_s"]
    return {
        "count": count,
        "jobs": jobs,
        "t1": t1,
        "tj": tj,
        "efficiency": t1 / (jobs * tj) if tj > 0 else float("nan"),
        "runs": runs,
    }


def _per_item(run: dict[str, Any]) -> float:
    secs = [i["seconds"] for i in run["items"]]
    return sum(secs) / len(secs) if secs else float("nan")


def peak_mb(run: dict[str, Any]) -> float:
    return max(run["vm_hwm_kb"] or 0, run["polled_hwm_kb"] or 0) / 1024


def table(result: dict[str, Any]) -> str:
    jobs = result["jobs"]
    head = ["-j", "batch time (s)", "mean per submission (s)", "statuses", "containers",
            "harness peak RSS (MB)", "RSS before batch (MB)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for j in (1, jobs):
        run = result["runs"][j]
        statuses = {}
        for item in run["items"]:
            statuses[item["status"]] = statuses.get(item["status"], 0) + 1
        lines.append("| " + " | ".join([
            str(j), fmt_s(run["batch_s"], 1), fmt_s(_per_item(run)),
            ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())),
            str(sum(i["container_starts"] for i in run["items"])),
            f"{peak_mb(run):.0f}", f"{(run['vm_rss_before_batch_kb'] or 0) / 1024:.0f}",
        ]) + " |")
    eff = result["efficiency"]
    mem = max(peak_mb(result["runs"][j]) for j in (1, jobs))
    lines += [
        "",
        f"- parallel efficiency T(j1) / ({jobs} × T(j{jobs})) = {fmt_s(result['t1'], 1)} / "
        f"({jobs} × {fmt_s(result['tj'], 1)}) = **{eff:.2f}** (target ≥ {EFFICIENCY_TARGET}: "
        f"{'met' if eff >= EFFICIENCY_TARGET else '**missed**'})",
        f"- host-side memory peak of the harness process: **{mem:.0f} MB** (target < "
        f"{MEMORY_TARGET_MB} MB: {'met' if mem < MEMORY_TARGET_MB else '**missed**'}); the "
        "larger of its own VmHWM at exit and /proc polling every 0.1 s",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.sources, args.out, args.jobs, args.report)
    result = measure(args.submissions, args.jobs)
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
