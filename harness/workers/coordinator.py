"""The coordinator's side: send a snapshot's sandbox stages to the workers, take the first valid
result back.

:class:`RemoteStageRunner` has the signature of :func:`harness.stages.run_stages`, so
``grade_batch(..., stage_runner=RemoteStageRunner(...))`` grades a batch exactly as locally
(intake, store, graders, held-out scoring, rubric, similarity and reports all stay here); only
where the containers run changes.

Per job (a submission's stages, id derived from its inputs and the output folder, so a rerun
after a crash finds the jobs of the run it resumes):

1. the assignment bundle (no labels) and the snapshot go to the broker as content-addressed,
   compressed, size-capped payloads, then one Celery message;
2. the runner waits: for a result (``takehome:result:<job>``), watching the job's claim. A claim
   that disappears without a result means the worker died or stopped: the job is sent again
   (at most :data:`MAX_ATTEMPTS` times). No live worker for ``no_worker_timeout`` seconds, or a
   job running past its budget, ends the job with a clear :class:`WorkerFault`. A broker outage
   is waited out (``broker_timeout``), then the job is sent again (a restarted broker without
   persistence has lost its queue; duplicates are harmless);
3. the returned artifacts are hostile input: the reply is validated (pydantic), the archive is
   capped and unpacked with the sandbox copy-out checks, run.json is re-read and validated here,
   and the artifact paths are rebuilt from the coordinator's own notebook list.

A :class:`WorkerFault` makes the submission a ``harness_error`` (never a score, never stored).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from contracts.errors import EnvironmentProblem, TakehomeError
from graders.base import Artifacts
from harness import __version__, termination
from harness.assignment import Assignment
from harness.intake import Snapshot
from harness.stages import STAGE_NAMES, read_run_report, select_notebooks
from harness.workers.bundle import upload_bundle
from harness.workers.config import (
    QUEUE,
    TASK_NAME,
    job_budget_s,
    key,
    live_workers,
    make_celery,
    redact,
    redis_client,
    worker_name,
)
from harness.workers.payloads import (
    MAX_SNAPSHOT_PAYLOAD,
    JobReply,
    JobRequest,
    PayloadError,
    artifacts_cap,
    artifacts_file_cap,
    get_blob,
    has_blob,
    pack_tree,
    put_blob,
    unpack_tree,
)

MAX_ATTEMPTS = 3
MAX_REPLY_BYTES = 1024 * 1024
RELEASE_TTL_S = 600  # a consumed job's artifacts, snapshot and reply stay this long
LOST_GRACE_S = 2.0  # a claim gone without a result for this long: the worker is gone


class WorkerFault(TakehomeError):
    """A job could not be graded on the workers (recorded as ``harness_error``)."""


def image_inputs(tag: str) -> str:
    """The build-inputs digest label of a local sandbox image (what workers must match)."""
    from sandbox.image import INPUTS_LABEL, docker_client

    labels = docker_client().images.get(tag).labels or {}
    return labels.get(INPUTS_LABEL) or tag


class RemoteStageRunner:
    """A :data:`harness.pipeline.StageRunner` that runs the stages on Celery workers."""

    def __init__(self, broker: str, *, image_inputs: str, namespace: str = "", force: bool = False,
                 no_worker_timeout: float = 120.0, broker_timeout: float = 300.0,
                 on_event: Callable[[str], None] | None = None):
        self.broker = broker
        self.client = redis_client(broker)
        self.app = make_celery(broker)
        self.image_inputs = image_inputs
        # force: new job ids, so results of an earlier run are not reused
        self.namespace = namespace + (uuid.uuid4().hex if force else "")
        self.no_worker_timeout = no_worker_timeout
        self.broker_timeout = broker_timeout
        self.on_event = on_event or (lambda _m: None)
        self._bundles: dict[str, str] = {}

    # --- the StageRunner call ---------------------------------------------------------------

    def __call__(self, snapshot: Snapshot, assignment: Assignment, *, image: str | None,
                 work_dir: Path, progress: Callable[[str], None] | None = None, slots=None,
                 hidden: bool = True, stages: Sequence[str] = STAGE_NAMES,
                 limits=None) -> Artifacts:
        say = progress or (lambda _m: None)
        if limits is not None:
            raise WorkerFault("custom sandbox limits cannot be sent to workers")
        request = self._prepare(snapshot, assignment, hidden, list(stages))
        reply = self._wait(request, assignment, snapshot.root, say)
        artifacts = self._artifacts(reply, snapshot, assignment, Path(work_dir))
        self._broker(lambda: self.client.expire(key("blob", request.snapshot_blob),
                                                RELEASE_TTL_S))
        return artifacts

    # --- sending ---------------------------------------------------------------------------

    def _prepare(self, snapshot: Snapshot, assignment: Assignment, hidden: bool,
                 stages: list[str]) -> JobRequest:
        bundle = self._bundle(assignment)
        blob = self._broker(lambda: put_blob(self.client, pack_tree(snapshot.root),
                                             cap=MAX_SNAPSHOT_PAYLOAD, what="snapshot"))
        identity = "\0".join([self.namespace, snapshot.content_hash, bundle, self.image_inputs,
                              __version__, ",".join(stages), str(hidden)])
        meta = snapshot.to_meta()
        meta.pop("root", None)
        return JobRequest(
            job_id=hashlib.sha256(identity.encode()).hexdigest()[:32], attempt=1,
            snapshot_hash=snapshot.content_hash, snapshot_blob=blob, snapshot_meta=meta,
            bundle_digest=bundle, image_inputs=self.image_inputs, harness_version=__version__,
            wall_time_s=float(assignment.spec.limits.wall_time_s), stages=stages, hidden=hidden,
            coordinator=worker_name(),
        )

    def _bundle(self, assignment: Assignment) -> str:
        root = str(assignment.root)
        if root not in self._bundles:
            self._bundles[root] = self._broker(lambda: upload_bundle(self.client, assignment))
        return self._bundles[root]

    def _send(self, request: JobRequest, assignment: Assignment, snapshot_root: Path) -> None:
        """(Re)publish the job, re-uploading payloads a restarted broker may have lost."""
        def send() -> None:
            if not has_blob(self.client, request.bundle_digest):
                self._bundles.pop(str(assignment.root), None)
                self._bundle(assignment)
            if not has_blob(self.client, request.snapshot_blob):
                put_blob(self.client, pack_tree(snapshot_root), cap=MAX_SNAPSHOT_PAYLOAD,
                         what="snapshot")
            self.app.send_task(TASK_NAME, args=[request.model_dump(mode="json")], queue=QUEUE,
                               task_id=f"{request.job_id}-{request.attempt}-{uuid.uuid4().hex[:8]}")

        self._broker(send)

    # --- waiting ---------------------------------------------------------------------------

    def _wait(self, request: JobRequest, assignment: Assignment, snapshot_root: Path,
              say) -> JobReply:
        """Block until a valid reply; resend on a lost worker or broker; raise WorkerFault."""
        job = request.job_id
        try:
            stored = self._broker(lambda: self._reply(job))
        except WorkerFault:  # a bad reply left by an earlier run: forget it and run again
            self._broker(lambda: self.client.delete(key("result", job)))
            stored = None
        if stored is not None and stored.status == "ok" and stored.artifacts_blob and \
                self._broker(lambda: has_blob(self.client, stored.artifacts_blob)):
            say("worker: reused")
            return stored  # a previous run of this batch already has it (coordinator restart)
        if stored is not None:
            self._broker(lambda: self.client.delete(key("result", job)))
        if not self._broker(lambda: self.client.exists(key("claim", job))):
            self._send(request, assignment, snapshot_root)
        say("queued")
        budget = job_budget_s(request.wall_time_s) * 1.5
        holder: str | None = None
        running_since = lost_since = no_worker_since = None
        while True:
            termination.check()  # the coordinator is stopping: stop waiting (rerun resumes)
            try:
                self.client.blpop([key("notify", job)], timeout=1)
                reply = self._reply(job)
                if reply is not None:
                    return self._accept(reply)
                claim = self.client.get(key("claim", job))
                workers_alive = live_workers(self.client) > 0
            except PayloadError:
                raise
            except Exception as exc:  # a broker outage: wait it out, then resend
                if not _is_connection_error(exc):
                    raise
                self._outage(request, assignment, snapshot_root, say)
                continue
            now = time.monotonic()
            if claim is not None:
                name = claim.decode(errors="replace")
                if name != holder:
                    holder, running_since, lost_since = name, now, None
                    say(f"running on {name}")
                if now - running_since > budget:
                    raise WorkerFault(f"job ran longer than its budget of {budget:.0f} s on "
                                      f"worker {holder}")
                continue
            if holder is not None:  # the claim went away without a result
                lost_since = lost_since or now
                if now - lost_since < LOST_GRACE_S:
                    continue
                if request.attempt >= MAX_ATTEMPTS:
                    raise WorkerFault(f"worker lost {request.attempt} times (last: {holder}); "
                                      "see the workers' logs")
                self.on_event(f"job {job[:12]}: worker {holder} lost; sending it again")
                request = request.model_copy(update={"attempt": request.attempt + 1})
                holder = running_since = lost_since = None
                self._send(request, assignment, snapshot_root)
                say(f"queued (attempt {request.attempt})")
                continue
            if workers_alive:
                no_worker_since = None
            else:
                no_worker_since = no_worker_since or now
                if now - no_worker_since > self.no_worker_timeout:
                    raise WorkerFault(f"no worker is listening on {redact(self.broker)} (waited "
                                      f"{self.no_worker_timeout:.0f} s); start `takehome worker "
                                      "--broker URL`")

    def _outage(self, request: JobRequest, assignment: Assignment, snapshot_root: Path,
                say) -> None:
        say("broker unreachable")
        self.on_event(f"broker {redact(self.broker)} unreachable; waiting")
        self._broker(lambda: self.client.ping())
        if self._broker(lambda: self._reply(request.job_id)) is None and not self._broker(
                lambda: self.client.exists(key("claim", request.job_id))):
            self._send(request, assignment, snapshot_root)  # the old queue may be gone
        say("queued")

    def _reply(self, job: str) -> JobReply | None:
        raw = self.client.get(key("result", job))
        if raw is None:
            return None
        if len(raw) > MAX_REPLY_BYTES:
            raise WorkerFault(f"worker reply is {len(raw)} bytes, over the cap of "
                              f"{MAX_REPLY_BYTES}; rejected")
        try:
            return JobReply.model_validate_json(raw)
        except ValidationError as exc:
            raise WorkerFault(f"malformed worker reply rejected ({exc.error_count()} schema "
                              f"error(s): {_first_error(exc)})") from None

    def _accept(self, reply: JobReply) -> JobReply:
        if reply.status == "ok":
            return reply
        what = "refused the job" if reply.status == "refused" else "failed"
        raise WorkerFault(f"worker {reply.worker} {what}: {reply.reason}")

    def _broker(self, action):
        """Run a broker call, retrying connection errors up to ``broker_timeout``."""
        deadline = time.monotonic() + self.broker_timeout
        while True:
            try:
                return action()
            except Exception as exc:  # only connection errors are retried
                if not _is_connection_error(exc):
                    raise
                if time.monotonic() > deadline:
                    raise EnvironmentProblem(
                        f"broker {redact(self.broker)} unreachable for "
                        f"{self.broker_timeout:.0f} s: {exc}",
                        hint="check the broker and its URL (--broker / TAKEHOME_BROKER)",
                    ) from None
                time.sleep(1.0)

    # --- what came back --------------------------------------------------------------------

    def _artifacts(self, reply: JobReply, snapshot: Snapshot, assignment: Assignment,
                   work_dir: Path) -> Artifacts:
        from harness.stages import StageArtifacts, StageClock, build_artifacts, write_summary

        cap = artifacts_cap(assignment)
        if reply.artifacts_blob is None:
            raise WorkerFault(f"worker {reply.worker} returned no artifacts; rejected")
        try:
            data = self._broker(lambda: get_blob(self.client, reply.artifacts_blob, cap=cap,
                                                 what="artifacts"))
        except PayloadError as exc:
            raise WorkerFault(f"worker {reply.worker}: {exc}; rejected") from None
        root = work_dir / "artifacts"
        report = unpack_tree(data, root, max_bytes=cap, max_files=artifacts_file_cap(assignment))
        if not report.ok:
            raise WorkerFault(f"worker {reply.worker} returned an invalid artifacts archive: "
                              f"{report.error or report.violation_reason()}; rejected")
        records = {name: stage.to_record() for name, stage in reply.stages.items()}
        run_report = read_run_report(root / "run" / "takehome" / "run.json")
        clock = StageClock()
        clock.timings.update({k: round(float(v), 3) for k, v in reply.timings.items()})
        clock.timings["worker_total"] = reply.seconds
        artifacts: StageArtifacts = build_artifacts(
            root, records, select_notebooks(snapshot, assignment), run_report,
            assignment.spec.submission.predictions_file, reply.container_starts, clock)
        write_summary(artifacts)  # the worker's stages.json is replaced by the checked values
        self._release(reply)
        return artifacts

    def _release(self, reply: JobReply) -> None:
        """Let the broker forget a finished job's payloads soon (memory stays bounded by the
        jobs in flight); ten minutes cover a coordinator restart before its store write."""
        def expire() -> None:
            if reply.artifacts_blob:
                self.client.expire(key("blob", reply.artifacts_blob), RELEASE_TTL_S)
            self.client.expire(key("result", reply.job_id), RELEASE_TTL_S)

        self._broker(expire)


def _is_connection_error(exc: BaseException) -> bool:
    import redis
    from kombu.exceptions import OperationalError

    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OperationalError,
                            ConnectionError))


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}"[:200]
