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


def _force_serial_stages() -> bool:
    """Investigation only (``--serial-stages``): run a submission's run and checks containers
    one after the other, as before harness/stages.py started them side by side. Patches this
    child process only; the harness's code is unchanged."""
    from concurrent.futures import ThreadPoolExecutor

    from harness import stages

    if not hasattr(stages, "ThreadPoolExecutor"):
        return False  # stages already serial

    class Serial(ThreadPoolExecutor):
        def __init__(self, max_workers=None, *args, **kwargs):
            super().__init__(1, *args, **kwargs)

    stages.ThreadPoolExecutor = Serial
    return True


def child(sources_dir: Path, out_dir: Path, jobs: int, report: Path,
          serial_stages: bool = False) -> int:
    import resource

    from rich.console import Console

    from harness.assignment import load_assignment
    from harness.batch import expand_sources
    from harness.grade import prepare_settings, print_summary, run_batch_with_progress

    patched = _force_serial_stages() if serial_stages else False
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
        "serial_stages": patched,
        "prepare_settings_s": t_settings,
        "batch_s": t_batch,
        "items": items,
        "similar_pairs": len(outcome.similarity),
        "vm_hwm_kb": _status_kb("VmHWM"),
        "cpu_self_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
        "vm_rss_before_batch_kb": rss_before,
        "ru_maxrss_self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "threads": threading.active_count(),
    }, indent=1))
    return 0


# --- parent ---------------------------------------------------------------------------------------


CPUACCT = Path("/sys/fs/cgroup/cpuacct/docker")  # cgroup v1, cgroupfs driver


class ContainerCpu:
    """CPU seconds used by the containers of one process (label ``takehome.owner=<host>:<pid>``),
    from their cgroup v1 ``cpuacct.usage``, sampled every poll (the last sample before a
    container is removed counts; up to one poll interval of CPU per container can be missed).
    Empty when the engine does not use cgroup v1 cgroupfs paths."""

    def __init__(self, pid: int):
        import socket

        self.owner = f"{socket.gethostname()}:{pid}"
        self.usage_ns: dict[str, int] = {}
        self.foreign: set[str] = set()
        self.available = CPUACCT.is_dir()
        self._client = None

    def _owned(self, cid: str) -> bool:
        if cid in self.usage_ns:
            return True
        if cid in self.foreign:
            return False
        try:
            if self._client is None:
                import docker

                self._client = docker.from_env()
            labels = self._client.api.inspect_container(cid)["Config"]["Labels"] or {}
        except Exception:  # noqa: BLE001 - gone already, or not ours
            return False
        if labels.get("takehome.owner") == self.owner:
            self.usage_ns[cid] = 0
            return True
        self.foreign.add(cid)
        return False

    def sample(self) -> None:
        if not self.available:
            return
        try:
            entries = [e for e in os.scandir(CPUACCT) if e.is_dir()]
        except OSError:
            return
        for entry in entries:
            if not self._owned(entry.name):
                continue
            try:
                value = int(Path(entry.path, "cpuacct.usage").read_text())
            except (OSError, ValueError):
                continue
            self.usage_ns[entry.name] = max(self.usage_ns[entry.name], value)

    def seconds(self) -> float | None:
        return sum(self.usage_ns.values()) / 1e9 if self.available else None


ENGINE_COMMS = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc")


class EngineCpu:
    """CPU seconds of the Docker engine's processes (dockerd, containerd, the shims, runc),
    sampled every poll: each one's own user + system time, counted from the first sample
    (processes born during the batch from zero). A lower bound (a short-lived runc between two
    samples is missed) and machine-wide (other users of the engine count too)."""

    def __init__(self) -> None:
        self.tick = os.sysconf("SC_CLK_TCK")
        self.first: dict[tuple[int, str], int] = {}
        self.last: dict[tuple[int, str], int] = {}
        self.started = False

    def sample(self) -> None:
        try:
            pids = [int(e.name) for e in os.scandir("/proc") if e.name.isdigit()]
        except OSError:
            return
        for pid in pids:
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            comm = stat[stat.find("(") + 1: stat.rfind(")")]
            if not comm.startswith(ENGINE_COMMS):
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            ticks = int(fields[11]) + int(fields[12])  # utime + stime (children's time would
            # count the containers' own processes, which the shims reap)
            key = (pid, fields[19])  # pid + start time
            if key not in self.first:
                self.first[key] = ticks if not self.started else 0
            self.last[key] = max(self.last.get(key, 0), ticks)
        self.started = True

    def seconds(self) -> float:
        return sum(self.last[k] - self.first[k] for k in self.last) / self.tick


def _busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def run_batch(sources_dir: Path, out_dir: Path, jobs: int,
              serial_stages: bool = False) -> dict[str, Any]:
    """Run one batch in a child process; its report plus the parent's memory and CPU readings."""
    report = out_dir.parent / f"report-j{jobs}{'-serial' if serial_stages else ''}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--child",
            "--sources", str(sources_dir), "--out", str(out_dir), "--jobs", str(jobs),
            "--report", str(report)] + (["--serial-stages"] if serial_stages else [])
    env = dict(os.environ, PYTHONPATH=str(REPO))
    busy0, total0 = _busy_jiffies()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    peak = {"hwm": 0, "rss": 0}
    stop = threading.Event()
    cpu = ContainerCpu(proc.pid)
    engine = EngineCpu()
    engine.sample()

    def poll() -> None:
        pid = str(proc.pid)
        while not stop.is_set():
            cpu.sample()
            engine.sample()
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
    busy1, total1 = _busy_jiffies()
    engine.sample()
    if proc.returncode != 0 or not report.is_file():
        raise RuntimeError(f"batch child failed ({proc.returncode}):\n"
                           f"{output.decode(errors='replace')[-3000:]}")
    data = json.loads(report.read_text())
    data.update({"child_wall_s": wall, "polled_hwm_kb": peak["hwm"],
                 "polled_rss_kb": peak["rss"], "wait4_maxrss_kb": usage.ru_maxrss,
                 "container_cpu_s": cpu.seconds(), "engine_cpu_s": engine.seconds(),
                 "machine_cores_busy": (busy1 - busy0) / max(1, total1 - total0)
                 * (os.cpu_count() or 1), "containers_seen": len(cpu.usage_ns),
                 "machine_busy_fraction": (busy1 - busy0) / max(1, total1 - total0)})
    return data


def _cpu_per_submission(run: dict[str, Any], count: int, engine: bool = False) -> float | None:
    if run.get("container_cpu_s") is None:
        return None
    extra = run.get("engine_cpu_s", 0.0) if engine else 0.0
    return (run["container_cpu_s"] + run["cpu_self_s"] + extra) / count


def measure(count: int = 20, jobs: int = 2, log=print, rounds: int = 1,
            serial_comparison: bool = False) -> dict[str, Any]:
    """``rounds`` × (a batch at -j 1, then one at -j ``jobs``), alternating so that a burst of
    other load on the machine hits both; T(j) is the median over the rounds. With
    ``serial_comparison`` the same again with the run and checks containers of each submission
    forced one after the other (investigation)."""
    variants = [False, True] if serial_comparison else [False]
    out: dict[str, Any] = {"count": count, "jobs": jobs, "nproc": os.cpu_count() or 1,
                           "rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="takehome-bench-batch-") as tmp:
        root = Path(tmp)
        sources = root / "submissions"
        make_submissions(sources, count)
        for serial in variants:
            all_runs: dict[int, list[dict[str, Any]]] = {1: [], jobs: []}
            for r in range(rounds):
                for j in (1, jobs):
                    folder = root / f"j{j}{'-serial' if serial else ''}-r{r}"
                    folder.mkdir()
                    run = run_batch(sources, folder / "out", j, serial_stages=serial)
                    all_runs[j].append(run)
                    statuses = sorted({str(i["status"]) for i in run["items"]})
                    cpu = _cpu_per_submission(run, count)
                    log(f"  batch of {count} at -j {j}"
                        f"{' (stages forced serial)' if serial else ''}, round {r + 1}/{rounds}: "
                        f"{run['batch_s']:.1f} s (statuses {statuses}), peak "
                        f"{peak_mb(run):.0f} MB, CPU {fmt_s(cpu)} s per submission + engine "
                        f"{fmt_s(run['engine_cpu_s'] / count)} s, machine cores busy "
                        f"{run['machine_cores_busy']:.2f}")
            runs = {}
            for j, found in all_runs.items():
                ordered = sorted(found, key=lambda run: run["batch_s"])
                runs[j] = dict(ordered[(len(ordered) - 1) // 2])  # the (lower) median run
                runs[j]["peak_all_rounds_mb"] = max(peak_mb(run) for run in found)
                runs[j]["batch_s_rounds"] = [run["batch_s"] for run in found]
            t1, tj = runs[1]["batch_s"], runs[jobs]["batch_s"]
            entry = {"t1": t1, "tj": tj, "runs": runs,
                     "efficiency": t1 / (jobs * tj) if tj > 0 else float("nan"),
                     "efficiency_rounds": [a["batch_s"] / (jobs * b["batch_s"])
                                           for a, b in zip(all_runs[1], all_runs[jobs])]}
            # CPU-bound ceiling of the speed-up: -j 1 already keeps (CPU / T1) cores busy, so at
            # most min(jobs, nproc) / that many batches' worth of work fit in parallel.
            cpu1 = runs[1].get("container_cpu_s")
            if cpu1:
                busy_cores = (cpu1 + runs[1]["cpu_self_s"] + runs[1]["engine_cpu_s"]) / t1
                entry["cores_busy_j1"] = busy_cores
                entry["efficiency_ceiling"] = min(1.0, min(jobs, out["nproc"])
                                                  / (jobs * busy_cores))
            out["serial" if serial else "default"] = entry
    out.update({k: out["default"][k] for k in ("t1", "tj", "runs", "efficiency",
                                                "efficiency_rounds")})
    for key in ("cores_busy_j1", "efficiency_ceiling"):
        if key in out["default"]:
            out[key] = out["default"][key]
    return out


def _per_item(run: dict[str, Any]) -> float:
    secs = [i["seconds"] for i in run["items"]]
    return sum(secs) / len(secs) if secs else float("nan")


def peak_mb(run: dict[str, Any]) -> float:
    return max(run["vm_hwm_kb"] or 0, run["polled_hwm_kb"] or 0) / 1024


def table(result: dict[str, Any]) -> str:
    jobs = result["jobs"]
    head = ["-j", "batch time (s)", "mean per submission (s)", "statuses", "containers",
            "CPU per submission: containers + harness (s)", "+ engine (s)",
            "machine cores busy", "harness peak RSS (MB)", "RSS before batch (MB)"]
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
            fmt_s(_cpu_per_submission(run, result["count"])),
            fmt_s(run["engine_cpu_s"] / result["count"]),
            f"{run['machine_cores_busy']:.2f} of {result['nproc']}",
            f"{run.get('peak_all_rounds_mb', peak_mb(run)):.0f}",
            f"{(run['vm_rss_before_batch_kb'] or 0) / 1024:.0f}",
        ]) + " |")
    eff = result["efficiency"]
    mem = max(result["runs"][j].get("peak_all_rounds_mb", peak_mb(result["runs"][j]))
              for j in (1, jobs))
    lines += [
        "",
        (f"- parallel efficiency T(j1) / ({jobs} × T(j{jobs})) = {fmt_s(result['t1'], 1)} / "
        f"({jobs} × {fmt_s(result['tj'], 1)}) = **{eff:.2f}** (target ≥ {EFFICIENCY_TARGET}: "
        f"{'met' if eff >= EFFICIENCY_TARGET else '**missed**'})"),
        (f"- host-side memory peak of the harness process: **{mem:.0f} MB** (target < "
        f"{MEMORY_TARGET_MB} MB: {'met' if mem < MEMORY_TARGET_MB else '**missed**'}); the "
        "larger of its own VmHWM at exit and /proc polling every 0.1 s"),
    ]
    if result.get("rounds", 1) > 1:
        per_round = ", ".join(
            f"{a:.1f}/{b:.1f} s ({e:.2f})" for a, b, e in zip(
                result["runs"][1]["batch_s_rounds"], result["runs"][jobs]["batch_s_rounds"],
                result["efficiency_rounds"]))
        lines.append(f"- {result['rounds']} alternating rounds, T(j1)/T(j{jobs}) (efficiency) per "
                     f"round: {per_round}; the table shows the median round of each")
    if "efficiency_ceiling" in result:
        lines.append(
            f"- at -j 1 the batch already keeps {result['cores_busy_j1']:.2f} cores busy (CPU of "
            "its containers from their cgroups, of the harness process and of the Docker engine's "
            "processes, divided by T(j1)), so "
            f"on {result['nproc']} CPUs the efficiency cannot exceed "
            f"**{result['efficiency_ceiling']:.2f}** whatever the harness does")
    serial = result.get("serial")
    if serial:
        lines.append(
            f"- investigation, run and checks containers of a submission forced one after the "
            f"other (child process patched, harness unchanged): T(j1) {fmt_s(serial['t1'], 1)} s, "
            f"T(j{jobs}) {fmt_s(serial['tj'], 1)} s, efficiency **{serial['efficiency']:.2f}**"
            + (f", ceiling {serial['efficiency_ceiling']:.2f}"
               if "efficiency_ceiling" in serial else ""))
        versus_sequential = serial["t1"] / (jobs * result["tj"])
        lines.append(
            f"- speed-up of the default -j {jobs} over grading one container at a time (a "
            f"sequential grader on one core, the forced-serial -j 1 above): "
            f"T_serial(j1) / ({jobs} × T(j{jobs})) = {fmt_s(serial['t1'], 1)} / ({jobs} × "
            f"{fmt_s(result['tj'], 1)}) = **{versus_sequential:.2f}** of linear")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="alternating j1/jJ rounds")
    parser.add_argument("--serial-comparison", action="store_true",
                        help="also run both batches with each submission's stages serial")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serial-stages", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.sources, args.out, args.jobs, args.report, args.serial_stages)
    result = measure(args.submissions, args.jobs, rounds=args.rounds,
                     serial_comparison=args.serial_comparison)
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
