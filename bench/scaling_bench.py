"""Scale-out figures: queue overhead per job, throughput with 1 and 2 workers, broker memory.

    .venv/bin/python bench/scaling_bench.py [--rounds 3] [--batch 6] [--queued 50] [--json F]

Everything runs on this machine, against a redis-server the script starts on a free loopback
port (no persistence) and ``takehome worker`` processes it starts and stops:

overhead
    The same trivial submission (a generated diabetes-progression notebook) graded ``--rounds``
    times, alternately on the local path (``harness.stages.run_stages``) and through one idle
    worker (:class:`harness.workers.coordinator.RemoteStageRunner`, new job ids each time).
    Overhead per job = the remote call's wall time minus the time the worker spent in
    ``run_stages`` (``worker_stages``): packing and uploading the snapshot, the queue, the
    worker's fetch and unpack, packing and uploading the artifacts, the download and checks on
    the coordinator. The local stage time is printed beside it.
throughput
    A batch of ``--batch`` distinct trivial submissions through ``grade_batch`` with 1 worker,
    then with 2 worker processes (each ``--concurrency 1``), and on the local path
    (``-j`` default), each into a fresh output folder: submissions per minute.
broker memory
    With no worker listening, ``--queued`` distinct trivial submissions (and, separately, copies
    of the fraud-detection strong example, a repository with tests) are sent (payload upload +
    message, as the coordinator does); ``INFO memory`` ``used_memory`` before and after gives
    bytes per queued submission, and ``MEMORY USAGE`` of the keys it added (snapshot payloads
    and the queue) gives the same figure without allocator noise (the one printed first). The
    assignment bundle is stored once per assignment and printed apart.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    from bench.common import (
        REPO,
        loadavg,
        machine,
        machine_line,
        settings_for,
        write_trivial_submission,
    )
except ImportError:  # run as a script: bench/ is not a package on sys.path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.common import (
        REPO,
        loadavg,
        machine,
        machine_line,
        settings_for,
        write_trivial_submission,
    )

sys.path.insert(0, str(REPO / "tests"))
from test_workers_support import RedisServer, Worker  # the worker tests' helpers


def _used_memory(client) -> int:
    return int(client.info("memory")["used_memory"])


def _runner(url: str, settings, **kwargs):
    from harness.workers.coordinator import RemoteStageRunner, image_inputs

    return RemoteStageRunner(url, image_inputs=image_inputs(settings.image), force=True,
                             **kwargs)


def measure_overhead(url: str, workdir: Path, rounds: int) -> dict:
    """Remote call wall time vs the worker's stage time, and the local stage time."""
    from harness.intake import ingest
    from harness.stages import run_stages

    assignment, settings, _ = settings_for("diabetes-progression", workdir / "settings")
    source = write_trivial_submission(workdir / "overhead-sub", offset=0.5)
    snapshot = ingest(source, workdir / "snapshots")
    runner = _runner(url, settings)
    rows = []
    for index in range(rounds):
        t0 = time.perf_counter()
        run_stages(snapshot, assignment, image=settings.image, work_dir=workdir / f"local{index}")
        local_s = time.perf_counter() - t0
        runner.namespace = f"overhead-{index}-{time.time()}"  # a new job each round
        work = workdir / f"remote{index}"
        work.mkdir()
        t0 = time.perf_counter()
        artifacts = runner(snapshot, assignment, image=settings.image, work_dir=work)
        remote_s = time.perf_counter() - t0
        timings = artifacts.timings
        rows.append({"local_s": local_s, "remote_s": remote_s,
                     "worker_stages_s": timings["worker_stages"],
                     "worker_fetch_s": timings["worker_fetch"],
                     "worker_return_s": timings["worker_return"],
                     "overhead_s": remote_s - timings["worker_stages"]})
    from harness.workers.payloads import pack_tree

    artifacts_bytes = len(pack_tree(work / "artifacts"))
    return {"rounds": rows,
            "median_overhead_ms": 1000 * statistics.median(r["overhead_s"] for r in rows),
            "median_local_s": statistics.median(r["local_s"] for r in rows),
            "median_remote_s": statistics.median(r["remote_s"] for r in rows),
            "snapshot_payload_bytes": len(pack_tree(snapshot.root)),
            "artifacts_payload_bytes": artifacts_bytes}


def _batch(count: int, folder: Path) -> list[Path]:
    return [write_trivial_submission(folder / f"sub{i:03d}", offset=1000 + i)
            for i in range(count)]


def measure_throughput(url: str, workdir: Path, count: int, workers: list[Worker]) -> dict:
    """Submissions per minute: local path, one worker, two workers."""
    from harness.batch import grade_batch

    assignment, settings, _ = settings_for("diabetes-progression", workdir / "settings")
    figures = {}
    for label, active in (("local", 0), ("1 worker", 1), ("2 workers", 2)):
        sources = _batch(count, workdir / f"batch-{active}")
        runner = None
        if active:
            for worker in workers[:active]:
                worker.start(wait=False)
            for worker in workers[:active]:
                worker.wait_ready()
            runner = _runner(url, settings)
        t0 = time.perf_counter()
        outcome = grade_batch(assignment, sources, workdir / f"out-{active}", settings=settings,
                              force=True, stage_runner=runner, formats=("json",),
                              jobs=None if runner is None else 8)
        seconds = time.perf_counter() - t0
        for worker in workers[:active]:
            worker.stop()
        statuses = sorted({i.result.status for i in outcome.items if i.result})
        figures[label] = {"seconds": seconds, "per_minute": 60 * count / seconds,
                          "statuses": statuses}
        print(f"  {label}: {count} submissions in {seconds:.1f} s "
              f"({60 * count / seconds:.1f}/min; {statuses})", flush=True)
    return figures


def measure_broker_memory(server: RedisServer, workdir: Path, count: int) -> dict:
    """Bytes of broker memory per queued submission (payload + message), no worker listening."""
    from harness.intake import ingest

    client = server.client()
    figures = {}
    strong = REPO / "assignments" / "fraud-detection" / "examples" / "strong"
    for label, slug in (("trivial notebook", "diabetes-progression"),
                        ("fraud-detection strong (repository with tests)", "fraud-detection")):
        client.flushall()
        assignment, settings, _ = settings_for(slug, workdir / "settings")
        runner = _runner(server.url, settings)
        bundle = runner._bundle(assignment)  # the bundle is stored once per assignment
        figures[f"{label}: bundle_bytes"] = client.strlen(f"takehome:blob:{bundle}")
        time.sleep(2)  # let the server shrink the query buffer of that upload
        before = _used_memory(client)
        sizes = []
        for index in range(count):
            if slug == "fraud-detection":
                source = workdir / f"strong{index}"
                shutil.copytree(strong, source)
                readme = source / "README.md"
                readme.write_text(readme.read_text() + f"\n<!-- copy {index} -->\n")
            else:
                source = write_trivial_submission(workdir / f"queued{index}", offset=5000 + index)
            snapshot = ingest(source, workdir / "snapshots")
            request = runner._prepare(snapshot, assignment, True, ["run", "checks"])
            runner._send(request, assignment, snapshot.root)
            sizes.append(client.strlen(f"takehome:blob:{request.snapshot_blob}"))
        after = _used_memory(client)
        blobs = [k for k in client.scan_iter("takehome:blob:*")
                 if k != f"takehome:blob:{bundle}".encode()]
        distinct = len(blobs)
        keys_bytes = sum(client.memory_usage(k, samples=0) or 0 for k in blobs)
        keys_bytes += client.memory_usage("takehome", samples=0) or 0
        figures[label] = {"per_submission_bytes": keys_bytes / count,
                          "used_memory_delta_per_submission": (after - before) / count,
                          "snapshot_payload_bytes": statistics.median(sizes),
                          "message_bytes": statistics.median(
                              len(m) for m in client.lrange("takehome", 0, -1)),
                          "distinct_payloads": distinct,
                          "queue_length": client.llen("takehome")}
        print(f"  {label}: {keys_bytes / count / 1024:.1f} KiB per queued submission "
              f"(MEMORY USAGE of its keys; used_memory delta "
              f"{(after - before) / count / 1024:.1f} KiB) "
              f"(snapshot payload {statistics.median(sizes) / 1024:.1f} KiB, message "
              f"{figures[label]['message_bytes'] / 1024:.1f} KiB, {distinct} distinct "
              "payloads)", flush=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--queued", type=int, default=50)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        print("redis-server is not installed: run sandbox/scripts/ensure_redis.sh", file=sys.stderr)
        return 3
    info = machine()
    print(machine_line(info), f"load {loadavg()}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="takehome-scaling-"))
    server = RedisServer(workdir / "redis").start()
    workers = [Worker(server.url, workdir / "workers", f"w{i}") for i in (1, 2)]
    report: dict = {"machine": info, "load_before": loadavg()}
    try:
        print("overhead (one idle worker):", flush=True)
        workers[0].start()
        report["overhead"] = overhead = measure_overhead(server.url, workdir, args.rounds)
        workers[0].stop()
        print(f"  median per-job overhead {overhead['median_overhead_ms']:.0f} ms; stages "
              f"{overhead['median_local_s']:.2f} s local, remote call "
              f"{overhead['median_remote_s']:.2f} s; payloads: snapshot "
              f"{overhead['snapshot_payload_bytes']} B, artifacts "
              f"{overhead['artifacts_payload_bytes']} B", flush=True)
        print(f"throughput ({args.batch} distinct trivial submissions):", flush=True)
        report["throughput"] = measure_throughput(server.url, workdir, args.batch, workers)
        print(f"broker memory ({args.queued} queued submissions, no worker):", flush=True)
        report["broker_memory"] = measure_broker_memory(server, workdir, args.queued)
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
        report["load_after"] = loadavg()
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
