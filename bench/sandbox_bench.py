"""Benchmark the sandbox: image builds and the cost of one sandboxed command.

    .venv/bin/python bench/sandbox_bench.py [--runs 10] [--bootstrap-base] [--no-write]

Measures, on this machine:

- wheel download into an empty cache (``pip download`` of sandbox/requirements.txt);
- optionally, the debootstrap of a Debian base image (``--bootstrap-base``; root on Debian);
- a cold image build: ``build_image(force=True)``, i.e. no build cache, with the wheel cache and
  the base image already present;
- a no-op rebuild (unchanged inputs);
- the median wall time of ``python -c pass`` in a fresh hardened container (create, start, wait,
  remove), and of the same command exec'd in an already running hardened container (how stages
  run). Both go through ``sandbox.runner`` (``run_in_sandbox``, ``SandboxSession.exec``) when it
  exists, else through the plain Docker SDK with the same hardening flags.

Prints the figures and replaces the "## Sandbox" section of docs/benchmarks.md (other sections are
kept) unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox import image

REPO = Path(__file__).resolve().parent.parent

BENCHMARKS_MD = REPO / "docs" / "benchmarks.md"
SECTION = "## Sandbox"
BENCH_BASE_TAG = "takehome-base:bench"

HARDENED: dict[str, Any] = {
    "user": "10001:10001",
    "network_mode": "none",
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges"],
    "read_only": True,
    "tmpfs": {"/tmp": "size=64m", "/home/candidate": "size=16m,uid=10001,gid=10001"},
    "mem_limit": "1g",
    "memswap_limit": "1g",
    "pids_limit": 128,
    "nano_cpus": 1_000_000_000,
}


def _quiet(_: str) -> None:
    pass


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_wheel_download() -> tuple[float, int]:
    """Seconds to fill an empty wheel cache, and the number of wheels."""
    with tempfile.TemporaryDirectory(prefix="takehome-bench-cache-") as cache:
        previous = os.environ.get("TAKEHOME_CACHE_DIR")
        os.environ["TAKEHOME_CACHE_DIR"] = cache
        try:
            holder: list[Path] = []
            seconds = _timed(lambda: holder.append(image.ensure_wheels(echo=_quiet)))
            count = len(list(holder[0].glob("*.whl")))
        finally:
            if previous is None:
                os.environ.pop("TAKEHOME_CACHE_DIR", None)
            else:
                os.environ["TAKEHOME_CACHE_DIR"] = previous
    return seconds, count


def bench_bootstrap_base() -> float:
    """Seconds to debootstrap and import a Debian base under a throwaway tag."""
    client = image.docker_client()
    subprocess.run(["docker", "rmi", "-f", BENCH_BASE_TAG], capture_output=True, check=False)
    try:
        seconds = _timed(
            lambda: subprocess.run(
                ["bash", str(image.BOOTSTRAP_SCRIPT), BENCH_BASE_TAG],
                capture_output=True,
                check=True,
            )
        )
    finally:
        client.images.remove(BENCH_BASE_TAG, force=True)
    return seconds


def bench_noop(repeats: int = 5) -> float:
    """Median seconds of a build with unchanged inputs (the tag exists, nothing is built)."""
    tag = image.build_image(echo=_quiet)  # settles any input change since the cold build
    times = []
    for _ in range(repeats):
        messages: list[str] = []
        started = time.perf_counter()
        again = image.build_image(echo=messages.append)
        times.append(time.perf_counter() - started)
        if again != tag or messages:
            raise RuntimeError("the image inputs changed during the benchmark; run it again")
    return statistics.median(times)


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"`python -c pass` failed: {what}")


def _sdk_timers(client: Any, tag: str) -> tuple[Callable[[], float], Callable[[], Callable]]:
    """Timers through the plain Docker SDK with the hardened flags (when there is no runner)."""

    def fresh() -> float:
        started = time.perf_counter()
        container = client.containers.create(tag, ["python", "-c", "pass"], **HARDENED)
        try:
            container.start()
            status = container.wait(timeout=120)
            _check(status.get("StatusCode") == 0, str(status))
        finally:
            container.remove(force=True)
        return time.perf_counter() - started

    def session() -> Any:
        container = client.containers.create(tag, ["sleep", "infinity"], **HARDENED)
        container.start()

        def exec_once() -> float:
            started = time.perf_counter()
            result = container.exec_run(["python", "-c", "pass"], user="10001:10001")
            _check(result.exit_code == 0, f"exit {result.exit_code}")
            return time.perf_counter() - started

        exec_once.close = lambda: container.remove(force=True)  # type: ignore[attr-defined]
        return exec_once

    return fresh, session


def _runner_timers(tag: str) -> tuple[Callable[[], float], Callable[[], Callable]] | None:
    """Timers through sandbox.runner (run_in_sandbox, SandboxSession.exec), when it exists."""
    try:
        from sandbox.runner import SandboxSession, Verdict, run_in_sandbox
    except ImportError:
        return None

    def fresh() -> float:
        started = time.perf_counter()
        result = run_in_sandbox(["python", "-c", "pass"], image=tag)
        _check(result.verdict == Verdict.OK, result.reason)
        return time.perf_counter() - started

    def session() -> Any:
        live = SandboxSession(tag)
        live.__enter__()

        def exec_once() -> float:
            started = time.perf_counter()
            result = live.exec(["python", "-c", "pass"], timeout_s=120)
            _check(result.verdict == Verdict.OK, result.reason)
            return time.perf_counter() - started

        exec_once.close = lambda: live.__exit__(None, None, None)  # type: ignore[attr-defined]
        return exec_once

    return fresh, session


def bench_trivial_command(tag: str, runs: int) -> dict[str, float | str]:
    """Median seconds of `python -c pass`: fresh container per run, and exec in a live one."""
    timers = _runner_timers(tag)
    method = "sandbox.runner (run_in_sandbox / SandboxSession.exec)"
    if timers is None:
        timers = _sdk_timers(image.docker_client(), tag)
        method = "docker SDK, hardened flags"
    fresh_timer, open_session = timers
    fresh_timer()  # warm-up: page cache, first container of the session
    fresh = [fresh_timer() for _ in range(runs)]
    exec_once = open_session()
    try:
        exec_once()  # warm-up
        execs = [exec_once() for _ in range(runs)]
    finally:
        exec_once.close()
    return {
        "fresh_median": statistics.median(fresh),
        "fresh_min": min(fresh),
        "fresh_max": max(fresh),
        "exec_median": statistics.median(execs),
        "method": method,
    }


def _machine() -> str:
    info = image.docker_client().info()
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{info.get('NCPU')} CPUs ({cpu}), {int(info.get('MemTotal', 0)) / 2**30:.0f} GiB, "
        f"Docker {info.get('ServerVersion')} ({info.get('Driver')}, cgroup "
        f"v{info.get('CgroupVersion') or 1}), kernel {platform.release()}"
    )


def render(figures: dict[str, Any], command: str) -> str:
    """The "## Sandbox" section as Markdown."""
    rows = []
    if "wheels_seconds" in figures:
        rows.append(
            (
                "wheel download into an empty cache",
                f"{figures['wheels_seconds']:.1f} s",
                f"{figures['wheels_count']} wheels; from this machine's package index",
            )
        )
    if "bootstrap_seconds" in figures:
        rows.append(
            (
                "base image bootstrap (debootstrap + import)",
                f"{figures['bootstrap_seconds']:.1f} s",
                "only when the base image cannot be pulled",
            )
        )
    rows += [
        (
            "cold image build (`build_image(force=True)`)",
            f"{figures['cold_seconds']:.1f} s",
            "no build cache; wheel cache and base image present",
        ),
        (
            "no-op rebuild (unchanged inputs)",
            f"{figures['noop_seconds'] * 1000:.0f} ms",
            "median of 5; the tag exists, nothing is built",
        ),
        (
            f"`python -c pass`, fresh hardened container (median of {figures['runs']})",
            f"{figures['fresh_median']:.2f} s",
            f"min {figures['fresh_min']:.2f} s, max {figures['fresh_max']:.2f} s",
        ),
        (
            f"`python -c pass`, exec in a running hardened container (median of {figures['runs']})",
            f"{figures['exec_median']:.2f} s",
            f"how stages run; {figures['method']}",
        ),
    ]
    table = ["| what | time | notes |", "|---|---|---|"]
    table += [f"| {what} | {value} | {notes} |" for what, value, notes in rows]
    return "\n".join(
        [
            SECTION,
            "",
            (
                f"Measured {figures['date']} on {figures['machine']}; image `{figures['tag']}` "
                f"on base `{figures['base']}`; 1-minute load average at the start "
                f"{figures['load']:.1f}."
            ),
            "",
            *table,
            "",
            f"Produced by `{command}`.",
            "",
        ]
    )


def replace_section(text: str, section: str) -> str:
    """``text`` with its "## Sandbox" section replaced by ``section`` (appended when absent)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        head = text.rstrip("\n")
        if not head:
            head = "# Benchmarks\n\nFigures measured on one machine; each section says how."
        return f"{head}\n\n{section}"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    before = "\n".join(lines[:start]).rstrip("\n")
    after = "\n".join(lines[end:])
    return f"{before}\n\n{section}" + (f"\n{after}\n" if after else "")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks, print them, and update docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of the trivial command")
    parser.add_argument("--bootstrap-base", action="store_true", help="also time debootstrap")
    parser.add_argument("--skip-wheels", action="store_true", help="skip the wheel download")
    parser.add_argument("--no-write", action="store_true", help="do not update the docs")
    args = parser.parse_args(argv)
    command = ".venv/bin/python bench/sandbox_bench.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )

    figures: dict[str, Any] = {"runs": args.runs, "date": time.strftime("%Y-%m-%d")}
    figures["machine"] = _machine()
    figures["load"] = os.getloadavg()[0]
    if not args.skip_wheels:
        figures["wheels_seconds"], figures["wheels_count"] = bench_wheel_download()
        print(f"wheel download: {figures['wheels_seconds']:.1f} s", flush=True)
    if args.bootstrap_base:
        figures["bootstrap_seconds"] = bench_bootstrap_base()
        print(f"base bootstrap: {figures['bootstrap_seconds']:.1f} s", flush=True)
    image.build_image(echo=_quiet)  # wheels in the real cache, base present
    holder: list[str] = []
    figures["cold_seconds"] = _timed(
        lambda: holder.append(image.build_image(force=True, echo=_quiet))
    )
    tag = figures["tag"] = holder[0]
    print(f"cold build: {figures['cold_seconds']:.1f} s ({tag})", flush=True)
    figures["noop_seconds"] = bench_noop()
    print(f"no-op rebuild: {figures['noop_seconds'] * 1000:.0f} ms", flush=True)
    labels = image.docker_client().images.get(tag).labels
    figures["base"] = labels.get("org.takehome.base", "?").split("@")[0]
    figures.update(bench_trivial_command(tag, args.runs))
    print(
        f"python -c pass: fresh container {figures['fresh_median']:.2f} s, "
        f"exec {figures['exec_median']:.2f} s (median of {args.runs})",
        flush=True,
    )

    section = render(figures, command.strip())
    print()
    print(section)
    if not args.no_write:
        existing = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else ""
        staged = BENCHMARKS_MD.with_suffix(".md.sandbox-tmp")
        staged.write_text(replace_section(existing, section))
        staged.replace(BENCHMARKS_MD)  # atomic: other benchmark scripts write other sections
        print(f"updated {BENCHMARKS_MD.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
