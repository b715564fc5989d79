"""Broker settings shared by the coordinator and the workers.

One Redis database holds three things: Celery's queue (``takehome`` queue, one task), the
payloads (content-addressed, with a TTL) and the per-job state (claim, result, notification),
all under the :data:`PREFIX` key prefix. The broker URL comes from ``--broker`` or the
``TAKEHOME_BROKER`` environment variable; ``redis://:PASSWORD@HOST:PORT/DB`` authenticates,
``rediss://`` uses TLS (docs/scaling.md).
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache

from contracts.errors import EnvironmentProblem

BROKER_ENV = "TAKEHOME_BROKER"
QUEUE = "takehome"
TASK_NAME = "takehome.run_stages"
PREFIX = "takehome:"

CLAIM_TTL_S = 20  # a worker refreshes its claim every CLAIM_REFRESH_S while it runs a job
CLAIM_REFRESH_S = 5
WORKER_TTL_S = 30  # a live worker refreshes takehome:worker:<name> every WORKER_REFRESH_S
WORKER_REFRESH_S = 10
PAYLOAD_TTL_S = 7 * 24 * 3600  # payloads and results outlive a batch by a week
RESULT_TTL_S = 7 * 24 * 3600
CHECKS_EXEC_CAP_S = 600  # harness.stages.CHECKS_TIMEOUT_S: each checks exec is capped like this
STAGE_MARGIN_S = 180  # container start, copy-in, copy-out, payload transfer
DEFAULT_MAX_WALL_TIME_S = 3600  # the longest assignment wall-time limit a worker accepts


def key(*parts: str) -> str:
    """A broker key under the takehome prefix: ``key("claim", job)`` -> ``takehome:claim:<job>``."""
    return PREFIX + ":".join(parts)


def broker_url(option: str | None) -> str | None:
    """The broker URL from ``--broker`` or ``TAKEHOME_BROKER``; None means grade locally."""
    url = option or os.environ.get(BROKER_ENV) or None
    if url is None:
        return None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise EnvironmentProblem(
            f"unsupported broker URL {redact(url)!r}",
            hint="use redis://[:PASSWORD@]HOST:PORT/DB or rediss://... for TLS",
        )
    return url


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs and errors)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0] if ":" in credentials else ""
    return f"{scheme}://{user}:***@{host}"


def job_budget_s(wall_time_s: float) -> float:
    """The longest a job may legitimately hold a worker for an assignment's wall-time limit.

    The run container (``wall_time_s``) and the checks container (tests then lint, each capped
    at ``min(wall_time_s, 600)``) run side by side; a job waits for whichever ends last, plus
    container start-up, copy-out and transfer.
    """
    checks = 2 * min(float(wall_time_s), CHECKS_EXEC_CAP_S)
    return max(float(wall_time_s), checks) + STAGE_MARGIN_S


def visibility_timeout_s(max_wall_time_s: float) -> int:
    """Redis visibility timeout for a worker accepting assignments up to ``max_wall_time_s``.

    An unacknowledged message is redelivered by the broker once this much time has passed, so
    it must exceed the longest job (a quarter more than its budget): the broker then never
    hands a job that is still running to a second worker. A worker that died is noticed much
    sooner by the coordinator, through the job's claim (see ``coordinator``).
    """
    return int(job_budget_s(max_wall_time_s) * 1.25) + 60


def register_worker(client, name: str) -> None:
    """Say that worker ``name`` is alive for the next :data:`WORKER_TTL_S` seconds."""
    import time

    client.zadd(key("workers"), {name: time.time() + WORKER_TTL_S})


def unregister_worker(client, name: str) -> None:
    """Remove worker ``name`` from the live set (a clean stop)."""
    client.zrem(key("workers"), name)


def live_workers(client) -> int:
    """How many workers refreshed their registration within :data:`WORKER_TTL_S`."""
    import time

    now = time.time()
    client.zremrangebyscore(key("workers"), "-inf", now)
    return int(client.zcard(key("workers")))


def worker_name() -> str:
    """``<hostname>:<pid>``: the same owner string the sandbox runner labels containers with."""
    return f"{socket.gethostname()}:{os.getpid()}"


def make_celery(url: str, *, visibility_timeout: int | None = None):
    """The Celery app: late acknowledgement, prefetch 1, reject on a lost worker, JSON only."""
    from celery import Celery

    app = Celery("takehome", broker=url, set_as_current=False)
    if url.startswith("rediss://") and "ssl_cert_reqs" not in url:
        import ssl  # kombu would not verify the broker's certificate unless told to

        app.conf.broker_use_ssl = {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    transport = {"visibility_timeout": visibility_timeout or visibility_timeout_s(
        DEFAULT_MAX_WALL_TIME_S)}
    app.conf.update(
        broker_transport_options=transport,
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # results travel in takehome:result:<job> (first valid wins)
        task_serializer="json",
        accept_content=["json"],  # never pickle: a message is hostile input too
        task_default_queue=QUEUE,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        broker_heartbeat=0,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


@lru_cache(maxsize=8)
def redis_client(url: str):
    """A redis-py client for ``url`` (binary values; payloads are bytes)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10,
                                health_check_interval=15, retry_on_timeout=True)
