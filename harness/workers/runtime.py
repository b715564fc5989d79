"""``takehome worker``: a Celery worker that runs sandbox stages on this machine's engine.

At start: the Docker engine is checked (a clear error when it is missing), the sandbox image is
built or found (the same build as ``takehome sandbox build``), containers left by a worker that
died on this engine are removed (``cleanup_stale_containers``: their owner pid is gone), job
folders it left are removed, and the broker is pinged. Then the worker consumes the
``takehome`` queue with ``--concurrency`` threads (prefetch 1 each, late acknowledgement).

It logs one line per job. SIGTERM, SIGINT and SIGHUP stop it alike (``harness.termination``):
Celery's warm shutdown, with every sandbox container of this worker removed first; the jobs
that were running are requeued, never answered, so another worker grades them. A second signal
stops it at once (Celery's cold shutdown).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from contracts.errors import EnvironmentProblem
from harness import termination
from harness.workers.config import (
    DEFAULT_MAX_WALL_TIME_S,
    QUEUE,
    TASK_NAME,
    WORKER_REFRESH_S,
    broker_url,
    make_celery,
    redact,
    redis_client,
    register_worker,
    unregister_worker,
    visibility_timeout_s,
    worker_name,
)
from harness.workers.task import WorkerState, clean_scratch, run_job, set_state

log = logging.getLogger("takehome.worker")


def worker_cache_root() -> Path:
    """Where a worker caches bundles and unpacks jobs (``TAKEHOME_WORKER_DIR`` overrides)."""
    base = os.environ.get("TAKEHOME_WORKER_DIR")
    if base:
        return Path(base)
    from harness.calibration import cache_dir

    return cache_dir() / "worker"


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _slots(concurrency: int):
    """Sandbox containers this worker runs at once: as a local batch of ``concurrency`` jobs
    (one more than the CPUs, at least one per job, at most two per job; harness.batch)."""
    from harness.stages import SandboxSlots

    cpus = os.cpu_count() or 1
    return SandboxSlots(max(concurrency, min(2 * concurrency, cpus + 1)))


def prepare_state(url: str, concurrency: int, max_wall_time_s: float,
                  echo: Callable[[str], None]) -> WorkerState:
    """Check the engine, the image and the broker; the state the task runs with."""
    from harness.workers.coordinator import image_inputs
    from sandbox.image import build_image, image_digest
    from sandbox.runner import cleanup_stale_containers, docker_client

    docker_client().close()  # EnvironmentProblem with a hint when there is no engine
    image = build_image(echo=echo)
    removed = cleanup_stale_containers()
    if removed:
        echo(f"removed {removed} stale takehome container(s) left on this engine")
    cache = worker_cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    clean_scratch(cache)
    try:
        redis_client(url).ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the broker is reported
        raise EnvironmentProblem(f"cannot reach the broker at {redact(url)}: {exc}",
                                 hint="start redis-server or fix --broker / TAKEHOME_BROKER"
                                 ) from None
    return WorkerState(broker=url, name=worker_name(), image=image,
                       image_digest=image_digest(image), image_inputs=image_inputs(image),
                       max_wall_time_s=max_wall_time_s, cache_root=cache,
                       slots=_slots(concurrency))


def _keep_registered(url: str, name: str, stop: threading.Event) -> None:
    client = redis_client(url)
    while not stop.is_set():
        try:
            register_worker(client, name)
        except Exception as exc:  # noqa: BLE001 - the broker may be restarting
            log.warning("broker unreachable (%s); retrying", exc)
        stop.wait(WORKER_REFRESH_S)


def run_worker(broker: str | None, concurrency: int = 1,
               max_wall_time_s: float = DEFAULT_MAX_WALL_TIME_S,
               echo: Callable[[str], None] = print) -> int:
    """Run the worker until it is stopped; returns its exit code."""
    from celery import signals
    from celery.apps.worker import install_worker_term_handler

    url = broker_url(broker)
    if url is None:
        raise EnvironmentProblem("no broker given",
                                 hint="pass --broker redis://HOST:PORT/DB or set TAKEHOME_BROKER")
    _setup_logging()
    state = prepare_state(url, concurrency, max_wall_time_s, echo)
    set_state(state)
    visibility = visibility_timeout_s(max_wall_time_s)
    app = make_celery(url, visibility_timeout=visibility)
    app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True,
             ignore_result=True)(run_job)

    def shutting_down(sig: str = "SIGTERM", **_kwargs) -> None:
        log.info("%s: stopping; removing this worker's sandbox containers", sig)
        termination.request_stop(getattr(signal, str(sig), signal.SIGTERM))

    signals.worker_shutting_down.connect(shutting_down, weak=False)

    class Worker(app.Worker):  # SIGHUP stops like SIGTERM (Celery would re-exec the worker)
        def install_platform_tweaks(self, worker):
            super().install_platform_tweaks(worker)
            install_worker_term_handler(worker, sig="SIGHUP")

    stop = threading.Event()
    beat = threading.Thread(target=_keep_registered, args=(url, state.name, stop),
                            name="register", daemon=True)
    beat.start()
    log.info("worker %s: broker %s, image %s, concurrency %d, visibility timeout %d s",
             state.name, redact(url), state.image, concurrency, visibility)
    worker = Worker(hostname=f"takehome-{state.name.replace(':', '-')}@%h",
                    pool="threads" if concurrency > 1 else "solo", concurrency=concurrency,
                    queues=[QUEUE], loglevel="WARNING", quiet=True, without_gossip=True,
                    without_mingle=True, without_heartbeat=True, optimization="fair",
                    redirect_stdouts=False)
    try:
        worker.start()
    finally:
        stop.set()
        with contextlib.suppress(Exception):  # the broker may be gone; the entry expires
            unregister_worker(redis_client(url), state.name)
        log.info("worker %s stopped after %d job(s)", state.name, state.jobs_done)
    return int(worker.exitcode or 0)
