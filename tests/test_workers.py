"""End to end through a real broker, real `takehome worker` processes and real containers.

Each test starts its own redis-server on a free loopback port and its own workers, and stops
them. The bundled examples graded through two workers equal the local results; the faults of
docs/scaling.md (a worker SIGKILLed mid-job, a broker restart, a coordinator killed mid-batch, a
hostile worker's reply) lose nothing and grade nothing twice.
"""

from __future__ import annotations

import collections
import io
import json
import re
import signal
import sqlite3
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
from test_workers_support import (
    TAKEHOME,
    RedisServer,
    Worker,
    containers_of,
    needs_redis,
    pop_job,
    trivial_submissions,
)

from harness.assignment import load_assignment, repo_root
from harness.batch import grade_batch
from harness.grade import prepare_settings
from harness.pipeline import GradeSettings
from harness.store import ResultStore
from harness.workers.coordinator import RemoteStageRunner, image_inputs
from harness.workers.payloads import put_blob

pytestmark = [pytest.mark.docker, needs_redis]

ASSIGNMENTS = ("diabetes-progression", "fraud-detection")
#: Fields that differ between any two runs (clocks, durations, memory peaks, where it ran).
VOLATILE = {"timings", "started_at", "finished_at", "wall_time_s", "peak_memory_bytes",
            "duration_s", "graded_at", "container_starts", "source", "report_path"}


def examples(slug: str) -> list[Path]:
    folder = repo_root() / "assignments" / slug / "examples"
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


DURATION = re.compile(r"\d+(\.\d+)? ?s\b( \(\d+:\d\d:\d\d\))?")


def stable(value):
    """A result without what legitimately changes between runs: clocks, durations (also inside
    sentences: "ran ... in 38 s", "4 passed in 10.27s") and memory peaks."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items()
                if k not in VOLATILE and not k.endswith("_s") and "memory" not in k}
    if isinstance(value, list):
        return [stable(v) for v in value]
    if isinstance(value, str):
        return DURATION.sub("<duration>", value)
    return value


def wait_for(condition, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def grade_cli(slug: str, sources: list[Path], out: Path, broker: str, *extra: str,
              background: bool = False):
    argv = [str(TAKEHOME), "grade", slug, *map(str, sources), "-o", str(out), "--broker", broker,
            *extra]
    log = open(out.parent / f"{out.name}.log", "ab")  # noqa: SIM115 - closed by the process end
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=repo_root())
    if background:
        return process
    assert process.wait(timeout=600) == 0, (out.parent / f"{out.name}.log").read_text()[-3000:]
    return process


def results_in(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(out.glob("*/result.json"))}


def store_rows(out: Path) -> list[tuple]:
    """(name, submission hash, harness build, graded at) of every stored result."""
    with sqlite3.connect(out / "results.sqlite") as conn:
        return conn.execute("SELECT name, submission_hash, harness_version, graded_at "
                            "FROM results ORDER BY name").fetchall()


def claim_holder(client) -> str | None:
    for name in client.scan_iter("takehome:claim:*"):
        holder = client.get(name)
        if holder:
            return holder.decode()
    return None


@pytest.fixture(scope="session")
def local_results(sandbox_image, tmp_path_factory) -> dict[str, dict[str, dict]]:
    """Every bundled example graded once on the local path (the reference for equality)."""
    found = {}
    for slug in ASSIGNMENTS:
        assignment = load_assignment(slug)
        out = tmp_path_factory.mktemp(f"local-{slug}")
        settings = prepare_settings(assignment, True, out / ".work")
        grade_batch(assignment, examples(slug), out, settings=settings, jobs=2)
        found[slug] = results_in(out)
        for name, result in found[slug].items():
            result["summary.md"] = (out / name / "summary.md").read_text()
    return found


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def two_workers(broker, tmp_path, sandbox_image):
    workers = [Worker(broker.url, tmp_path / "workers", name) for name in ("w1", "w2")]
    for worker in workers:
        worker.start(wait=False)
    for worker in workers:
        worker.wait_ready()
    yield workers
    for worker in workers:
        worker.stop()


def assert_same_as_local(slug: str, name: str, remote: dict, local: dict) -> None:
    assert remote["status"] == local["status"], (name, remote.get("status_reason"))
    levels = {c["id"]: c["level"] for c in remote["rubric"]["criteria"]}
    expected = {c["id"]: c["level"] for c in local["rubric"]["criteria"]}
    # Every example, the weak ones whose DecisionTreeRegressor() / RandomForestClassifier()
    # have no random_state included: the sandbox seeds candidate code (sandbox/inside/seed).
    assert remote["total"] == local["total"], name
    assert stable(remote["graders"]) == stable(local["graders"]), name
    # rubric_hash names the rubric file's bytes, which other work in a shared checkout may
    # edit between the two gradings; the levels, weights and sentences are compared.
    assert stable(remote["rubric"]) | {"rubric_hash": ""} == stable(local["rubric"]) | {
        "rubric_hash": ""}, name
    assert levels == expected, name
    assert sorted(f["id"] for f in remote["red_flags"]) == sorted(
        f["id"] for f in local["red_flags"]), name
    assert stable(remote["stages"]).keys() == stable(local["stages"]).keys()
    for stage, record in remote["stages"].items():
        assert record["verdict"] == local["stages"][stage]["verdict"], (name, stage)


def test_examples_graded_through_two_workers_equal_local(two_workers, broker, local_results,
                                                          tmp_path):
    # The coordinator runs in this process, with the graders the local grading used: in a
    # shared checkout a grader edited between two `takehome` processes would differ otherwise.
    # (`takehome grade --broker` itself is exercised by the fault tests below.)
    for slug in ASSIGNMENTS:
        assignment = load_assignment(slug)
        out = tmp_path / slug
        settings = prepare_settings(assignment, True, out / ".work")
        runner = RemoteStageRunner(broker.url, image_inputs=image_inputs(settings.image),
                                   namespace=str(out))
        grade_batch(assignment, examples(slug), out, settings=settings, jobs=4,
                    stage_runner=runner)
        remote = results_in(out)
        assert remote.keys() == local_results[slug].keys()
        for name, result in remote.items():
            local = local_results[slug][name]
            assert_same_as_local(slug, name, result, local)
            # the interviewer's summary, word for word
            assert (out / name / "summary.md").read_text() == local["summary.md"], name
        assert len(store_rows(out)) == len(remote)
    done = [w.jobs("ok") for w in two_workers]
    assert all(done), [w.log()[-1500:] for w in two_workers]  # both workers took jobs
    assert sum(map(len, done)) == sum(len(examples(s)) for s in ASSIGNMENTS)
    for worker in two_workers:  # labels never left the coordinator
        cache = worker.folder / worker.name
        assert not list(cache.rglob("test_labels.csv"))
        assert list(cache.rglob("test_features.csv"))


def test_sigkilled_worker_job_is_finished_by_another(two_workers, broker, tmp_path):
    slug = "diabetes-progression"
    out = tmp_path / "out"
    [source] = trivial_submissions(tmp_path / "subs", 1)
    coordinator = grade_cli(slug, [source], out, broker.url, background=True)
    client = broker.client()
    by_owner = {w.owner: w for w in two_workers}
    # 600 s: the wait includes the coordinator's set-up (a recalibration after a code change)
    holder = wait_for(lambda: claim_holder(client), 600, "a worker to claim the job")
    victim = by_owner[holder]
    wait_for(lambda: containers_of(victim.owner), 60, "the victim's sandbox containers", 0.05)
    old_owner = victim.owner
    victim.kill(signal.SIGKILL)
    assert containers_of(old_owner), "the killed worker's containers are still there"
    assert coordinator.wait(timeout=300) == 0, (tmp_path / "out.log").read_text()[-3000:]

    survivor = next(w for w in two_workers if w is not victim)
    assert len(survivor.jobs("ok")) == 1 and not victim.jobs("ok")
    assert "lost; sending it again" in (tmp_path / "out.log").read_text()
    assert len(store_rows(out)) == 1
    [result] = results_in(out).values()
    assert result["status"] == "graded" and result["total"] is not None

    victim.start()  # the restarted worker removes what its previous process left on the engine
    assert not containers_of(old_owner)


def test_sigterm_stops_a_worker_at_once_and_another_grades_its_job(two_workers, broker,
                                                                    tmp_path):
    slug = "diabetes-progression"
    out = tmp_path / "out"
    [source] = trivial_submissions(tmp_path / "subs", 1)
    coordinator = grade_cli(slug, [source], out, broker.url, background=True)
    holder = wait_for(lambda: claim_holder(broker.client()), 600, "a worker to claim the job")
    victim = next(w for w in two_workers if w.owner == holder)
    wait_for(lambda: containers_of(victim.owner), 60, "the victim's sandbox containers", 0.05)
    owner, started = victim.owner, time.monotonic()
    victim.kill(signal.SIGTERM)  # warm shutdown: containers removed, the job requeued
    assert time.monotonic() - started < 30
    assert not containers_of(owner)
    assert coordinator.wait(timeout=300) == 0, (tmp_path / "out.log").read_text()[-3000:]
    survivor = next(w for w in two_workers if w is not victim)
    assert victim.jobs("requeued") and not victim.jobs("ok")
    assert survivor.jobs("ok") == victim.jobs("requeued")
    assert [r["status"] for r in results_in(out).values()] == ["graded"]
    assert len(store_rows(out)) == 1


def test_broker_restart_mid_batch_completes(two_workers, broker, tmp_path):
    slug = "diabetes-progression"
    sources = trivial_submissions(tmp_path / "subs", 3)
    out = tmp_path / "out"
    coordinator = grade_cli(slug, sources, out, broker.url, background=True)
    wait_for(lambda: claim_holder(broker.client()), 600, "a job to start")
    broker.stop()  # no persistence: the queue, payloads and claims are lost with it
    time.sleep(2)
    broker.start()
    assert coordinator.wait(timeout=300) == 0, (tmp_path / "out.log").read_text()[-3000:]
    results = results_in(out)
    assert sorted(results) == [p.name for p in sources]
    assert {r["status"] for r in results.values()} == {"graded"}
    assert len(store_rows(out)) == len(sources)


def test_killed_coordinator_rerun_resumes_and_grades_nothing_twice(two_workers, broker, tmp_path):
    slug = "diabetes-progression"
    sources = trivial_submissions(tmp_path / "subs", 3)
    out = tmp_path / "out"
    first = grade_cli(slug, sources, out, broker.url, "-j", "1", background=True)
    wait_for(lambda: (out / "results.sqlite").exists() and store_rows(out), 600,
             "the first stored result", step=0.1)
    first.kill()  # SIGKILL: no clean-up at all
    first.wait(timeout=30)
    before = store_rows(out)
    assert 1 <= len(before) < len(sources)

    grade_cli(slug, sources, out, broker.url, "-j", "1")
    after = store_rows(out)
    build = after[-1][2] if len({r[2] for r in after}) == 1 else None
    if build is not None:  # the usual case: the same code before and after the kill
        assert len(after) == len(sources)
        assert set(before) <= set(after)  # rows stored before the kill were not regraded
    else:  # a shared checkout whose code changed meanwhile: new store keys, same jobs
        assert {r[0] for r in after} == {p.name for p in sources}
    ran = collections.Counter(job for w in two_workers for job in w.jobs("ok"))
    assert sum(ran.values()) == len(sources), ran  # each submission's stages ran once
    assert max(ran.values()) == 1, ran


# --- a hostile worker: replies the coordinator must reject ----------------------------------


def _symlink_archive() -> bytes:
    import gzip

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as tar:
        link = tarfile.TarInfo("run/predictions.csv")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/shadow"
        tar.addfile(link)
    return buffer.getvalue()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int):
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = b"\0" * count
        self.left -= count
        return count


def _bomb_archive(size: int) -> bytes:
    import gzip

    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1) as zipped, \
            tarfile.open(fileobj=zipped, mode="w") as tar:
        info = tarfile.TarInfo("run/predictions.csv")
        info.size = size
        tar.addfile(info, io.BufferedReader(_Zeros(size), 1 << 20))
    return buffer.getvalue()


def _hostile_reply(fault: str, client, job_id: str) -> bytes:
    base = {"job_id": job_id, "worker": "evil:1", "status": "ok",
            "stages": {"run": {"stage": "run", "verdict": "ok"}}}
    if fault == "oversized_reply":
        return json.dumps({**base, "reason": "x" * 2_000_000}).encode()
    if fault == "malformed_reply":
        return json.dumps({**base, "stages": {"run": {"stage": "run", "verdict": "perfect"}},
                           "score": 100}).encode()
    if fault == "not_json":
        return b"\x80\x04\x95 pickle? no"
    archive = _symlink_archive() if fault == "link_in_artifacts" else _bomb_archive(420 << 20)
    blob = put_blob(client, archive, cap=1 << 30, what="test")
    return json.dumps({**base, "artifacts_blob": blob}).encode()


EXPECTED = {
    "oversized_reply": "over the cap",
    "malformed_reply": "malformed worker reply rejected",
    "not_json": "malformed worker reply rejected",
    "link_in_artifacts": "symbolic link",
    "oversized_artifacts": "larger than the cap",
}


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_hostile_worker_reply_is_rejected_with_a_clear_status(fault, broker, tmp_path):
    client = broker.client()
    assignment = load_assignment("diabetes-progression")
    settings = GradeSettings(image="takehome-sandbox:none", image_digest="sha256:none", run=True)
    runner = RemoteStageRunner(broker.url, image_inputs="inputs", no_worker_timeout=60)
    errors = []

    def hostile_worker() -> None:
        try:
            client.zadd("takehome:workers", {"evil:1": time.time() + 60})
            job = pop_job(client, timeout=60)
            assert job is not None
            client.set(f"takehome:claim:{job['job_id']}", b"evil:1", ex=60)
            client.set(f"takehome:result:{job['job_id']}", _hostile_reply(fault, client,
                                                                          job["job_id"]))
            client.lpush(f"takehome:notify:{job['job_id']}", b"1")
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=hostile_worker)
    thread.start()
    weak = assignment.root / "examples" / "weak"
    outcome = grade_batch(assignment, [weak], tmp_path / "out", settings=settings, jobs=1,
                          stage_runner=runner)
    thread.join(timeout=60)
    assert not errors, errors
    result = outcome.items[0].result
    assert result.status == "harness_error"
    assert result.total is None
    assert "WorkerFault" in result.status_reason and "rejected" in result.status_reason
    assert EXPECTED[fault] in result.status_reason, result.status_reason
    assert ResultStore(tmp_path / "out" / "results.sqlite").count() == 0
    assert not (tmp_path / "out" / ".work" / "etc").exists()


def test_no_worker_gives_a_clear_status_instead_of_hanging(broker, tmp_path):
    assignment = load_assignment("diabetes-progression")
    settings = GradeSettings(image="takehome-sandbox:none", image_digest="sha256:none", run=True)
    runner = RemoteStageRunner(broker.url, image_inputs="inputs", no_worker_timeout=3)
    started = time.monotonic()
    outcome = grade_batch(assignment, [assignment.root / "examples" / "weak"], tmp_path / "out",
                          settings=settings, jobs=1, stage_runner=runner)
    assert time.monotonic() - started < 60
    result = outcome.items[0].result
    assert result.status == "harness_error"
    assert "no worker is listening" in result.status_reason


def test_worker_with_another_image_build_refuses_the_job(broker, tmp_path, sandbox_image):
    worker = Worker(broker.url, tmp_path / "workers", "w1").start()
    try:
        assignment = load_assignment("diabetes-progression")
        settings = GradeSettings(image=sandbox_image, image_digest="sha256:x", run=True)
        runner = RemoteStageRunner(broker.url, image_inputs="0" * 64, no_worker_timeout=60)
        outcome = grade_batch(assignment, [assignment.root / "examples" / "weak"],
                              tmp_path / "out", settings=settings, jobs=1, stage_runner=runner)
    finally:
        worker.stop()
    result = outcome.items[0].result
    assert result.status == "harness_error"
    assert "refused the job" in result.status_reason and "other inputs" in result.status_reason
    assert worker.jobs("refused")
