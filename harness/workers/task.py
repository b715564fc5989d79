"""The worker's one task: run a snapshot's sandbox stages and send the artifacts back.

Delivery is at least once (late acknowledgement, redelivery after a lost worker or the
visibility timeout); this module makes it exactly once in effect:

* a job whose result is already stored (``takehome:result:<job>``) is acknowledged and skipped;
* a worker runs a job only after winning its claim (``SET NX`` on ``takehome:claim:<job>``,
  refreshed while it runs, gone within :data:`CLAIM_TTL_S` of the worker's death); a duplicate
  delivered while another worker holds the claim is acknowledged and skipped;
* the reply is written with ``SET NX``: the first result for a job id wins.

Everything a job brings is checked before use: the message (pydantic), the payload digests, the
snapshot's content hash recomputed from the unpacked files, the sandbox image (its build inputs
must be the coordinator's) and the assignment's wall-time limit (within what this worker's
visibility timeout covers). A harness fault is a reply with ``status="error"`` (the coordinator
records ``harness_error``), never a score.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from harness import __version__, termination
from harness.intake import Snapshot, content_hash, remove_snapshot
from harness.intake.staging import FileRecord
from harness.stages import run_stages
from harness.workers.bundle import cached_assignment
from harness.workers.config import (
    CLAIM_REFRESH_S,
    CLAIM_TTL_S,
    RESULT_TTL_S,
    key,
    redis_client,
)
from harness.workers.payloads import (
    MAX_SNAPSHOT_PAYLOAD,
    JobReply,
    JobRequest,
    PayloadError,
    artifacts_cap,
    directory_files,
    get_blob,
    pack_tree,
    put_blob,
    unpack_tree,
)

log = logging.getLogger("takehome.worker")
T = TypeVar("T")
BROKER_RETRY_S = 300.0  # how long a worker keeps retrying the broker (a restart) for one write


@dataclass
class WorkerState:
    """What the running ``takehome worker`` process grades with."""

    broker: str
    name: str
    image: str
    image_digest: str
    image_inputs: str
    max_wall_time_s: float
    cache_root: Path
    slots: Any  # harness.stages.SandboxSlots shared by this worker's jobs
    jobs_done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


_state: WorkerState | None = None


def set_state(state: WorkerState) -> None:
    """Install the worker's state (``takehome worker`` does it before consuming)."""
    global _state
    _state = state


def retrying(action: Callable[[], T], what: str, seconds: float = BROKER_RETRY_S) -> T:
    """Run a broker call, retrying connection errors for ``seconds`` (a broker restart)."""
    import redis

    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("broker unreachable during %s (%s); retrying", what, exc)
            time.sleep(1.0)


class ClaimKeeper:
    """Holds a job's claim: refreshes it while the job runs, releases it at the end."""

    def __init__(self, client, job_id: str, owner: str):
        self._client, self._name, self._owner = client, key("claim", job_id), owner.encode()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name="claim", daemon=True)

    def acquire(self) -> str | None:
        """Take the claim; None when taken, else the current holder's name."""
        if retrying(lambda: self._client.set(self._name, self._owner, nx=True, ex=CLAIM_TTL_S),
                    "claim"):
            self._thread.start()
            return None
        holder = retrying(lambda: self._client.get(self._name), "claim") or b"?"
        return holder.decode(errors="replace")

    def _refresh(self) -> None:
        while not self._done.wait(CLAIM_REFRESH_S):
            try:  # extend only a claim that is still ours (it may have expired in an outage)
                if self._client.get(self._name) in (self._owner, None):
                    self._client.set(self._name, self._owner, ex=CLAIM_TTL_S)
            except Exception as exc:  # noqa: BLE001 - the broker may be restarting; next tick
                log.warning("claim refresh failed (%s); retrying", exc)

    def release(self) -> None:
        """Stop refreshing and delete the claim when it is still ours."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

        def delete() -> None:
            if self._client.get(self._name) == self._owner:
                self._client.delete(self._name)

        retrying(delete, "release")


def run_job(message: dict) -> dict:
    """The Celery task body: returns a one-line summary (results travel through the broker)."""
    from celery.exceptions import Reject

    state = _state
    assert state is not None, "takehome worker state is not set"
    try:
        request = JobRequest.model_validate(message)
    except ValidationError as exc:
        log.warning("job rejected: malformed message (%s error(s))", exc.error_count())
        return {"status": "malformed"}
    client = redis_client(state.broker)
    job = request.job_id[:12]
    if retrying(lambda: client.exists(key("result", request.job_id)), "lookup"):
        log.info("job %s duplicate: already done", job)
        return {"status": "duplicate"}
    claim = ClaimKeeper(client, request.job_id, state.name)
    holder = claim.acquire()
    if holder is not None:
        log.info("job %s duplicate: running on %s", job, holder)
        return {"status": "duplicate"}
    started = time.monotonic()
    try:
        reply = execute(request, state, client)
        if termination.stop_requested():  # the worker is stopping: its containers were removed
            log.info("job %s requeued: worker stopping", job)
            raise Reject("worker stopping", requeue=True)
        publish(client, reply)
    finally:
        claim.release()
    with state.lock:
        state.jobs_done += 1
    verdicts = ",".join(f"{n}={r.verdict}" for n, r in sorted(reply.stages.items())) or "-"
    log.info("job %s %s: snapshot %s attempt %d in %.1fs (%s)%s", job, reply.status,
             request.snapshot_hash[:12], request.attempt, time.monotonic() - started, verdicts,
             f" reason: {reply.reason[:200]}" if reply.reason else "")
    return {"status": reply.status}


def publish(client, reply: JobReply) -> None:
    """Write the reply (first one wins) and wake the coordinator."""
    body = reply.model_dump_json().encode()

    def write() -> None:
        client.set(key("result", reply.job_id), body, nx=True, ex=RESULT_TTL_S)
        notify = key("notify", reply.job_id)
        client.lpush(notify, b"1")
        client.expire(notify, 600)

    retrying(write, "publish")


def execute(request: JobRequest, state: WorkerState, client) -> JobReply:
    """Check the job, run its stages and upload the artifacts; faults become an error reply."""
    base = {"job_id": request.job_id, "worker": state.name, "image": state.image,
            "image_digest": state.image_digest, "image_inputs": state.image_inputs}
    refusal = _refusal(request, state)
    if refusal:
        return JobReply(**base, status="refused", reason=refusal)
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix=f"job-{request.job_id[:12]}-", dir=state.cache_root))
    try:
        assignment = retrying(lambda: cached_assignment(client, request.bundle_digest,
                                                        state.cache_root), "bundle")
        snapshot = materialize_snapshot(client, request, scratch / "snapshot")
        fetched = time.monotonic()
        artifacts = run_stages(snapshot, assignment, image=state.image,
                               work_dir=scratch / "work", hidden=request.hidden,
                               stages=tuple(request.stages), slots=state.slots)
        ran = time.monotonic()
        data = pack_tree(artifacts.root)
        cap = artifacts_cap(assignment)
        blob = retrying(lambda: put_blob(client, data, cap=cap, what="artifacts"), "upload")
        timings = dict(getattr(artifacts, "timings", {}) or {})
        timings.update(worker_fetch=round(fetched - started, 3),
                       worker_stages=round(ran - fetched, 3),
                       worker_return=round(time.monotonic() - ran, 3))
        return JobReply(
            **base, status="ok", artifacts_blob=blob, artifacts_bytes=len(data),
            stages={n: r.model_dump() for n, r in artifacts.stages.items()},
            container_starts=int(getattr(artifacts, "container_starts", 0) or 0),
            timings=timings, seconds=round(time.monotonic() - started, 3),
        )
    except Exception as exc:  # noqa: BLE001 - a harness fault on a worker is reported, not scored
        return JobReply(**base, status="error", reason=f"{type(exc).__name__}: {exc}"[:4000],
                        seconds=round(time.monotonic() - started, 3))
    finally:
        remove_snapshot(scratch)


def _refusal(request: JobRequest, state: WorkerState) -> str:
    if request.harness_version != __version__:
        return (f"worker runs takehome {__version__}, the coordinator {request.harness_version}; "
                "install the same version on both")
    if request.image_inputs != state.image_inputs:
        return (f"worker sandbox image {state.image} was built from other inputs "
                f"({state.image_inputs[:12]}) than the coordinator's ({request.image_inputs[:12]}); "
                "run both from the same takehome release (`takehome sandbox build`)")
    if request.wall_time_s > state.max_wall_time_s:
        return (f"the assignment's wall-time limit ({request.wall_time_s:g} s) exceeds this "
                f"worker's --max-wall-time ({state.max_wall_time_s:g} s), which sets its broker "
                "visibility timeout; restart the worker with a larger --max-wall-time")
    return ""


def materialize_snapshot(client, request: JobRequest, dest: Path) -> Snapshot:
    """Fetch, unpack and verify the job's snapshot; a read-only folder like the coordinator's."""
    from harness.intake.models import IntakeCaps
    from harness.intake.snapshot import FIXED_MTIME, make_read_only

    caps = IntakeCaps()
    data = retrying(lambda: get_blob(client, request.snapshot_blob, cap=MAX_SNAPSHOT_PAYLOAD,
                                     what="snapshot"), "snapshot")
    report = unpack_tree(data, dest, max_bytes=caps.max_total_bytes, max_files=caps.max_files)
    if not report.ok:
        raise PayloadError(f"snapshot payload rejected: {report.error or report.violation_reason()}")
    files = directory_files(dest)
    records = {}
    for rel in files:
        digest = hashlib.sha256((dest / rel).read_bytes()).hexdigest()
        records[rel] = FileRecord(size=0, sha256=digest)
    if content_hash(records) != request.snapshot_hash:
        raise PayloadError("snapshot payload does not match the snapshot's content hash")
    meta = {**request.snapshot_meta, "root": str(dest)}
    snapshot = Snapshot.model_validate(meta)
    if snapshot.content_hash != request.snapshot_hash or sorted(snapshot.files) != files:
        raise PayloadError("snapshot metadata does not match the snapshot payload")
    make_read_only(dest)  # as intake leaves a snapshot, the folder itself included
    os.utime(dest, (FIXED_MTIME, FIXED_MTIME))
    os.chmod(dest, 0o555)
    return snapshot


def clean_scratch(cache_root: Path) -> None:
    """Remove job folders left by a worker that died (called at start)."""
    for folder in cache_root.glob("job-*"):
        remove_snapshot(folder)
    shutil.rmtree(cache_root / "tmp", ignore_errors=True)
