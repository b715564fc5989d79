"""The job queue and the worker: checks before gradings, nothing lost when a worker dies."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from fixtures.portal_samples import small_submission
from test_portal_submissions import received

from harness.check import ContractProblem
from harness.portal.invitations import create_invitation
from harness.portal.jobs import JobContext
from harness.portal.queue import claim, enqueue, grading_state, recover
from harness.portal.submissions import Portal, accept_upload, mark_final
from harness.portal.worker import run_worker, worker_running


class Fakes:
    """Records what the worker asked for; the check finds one problem."""

    def __init__(self):
        self.checked: list[Path] = []
        self.graded: list[list[Path]] = []

    def check(self, assignment, upload, work_dir):
        self.checked.append(upload)
        work_dir.mkdir(parents=True, exist_ok=True)
        return [ContractProblem("predictions.csv is missing", "write it")], "ran predict.py"

    def grade(self, assignment, sources, out_dir):
        self.graded.append(list(sources))
        return {s: "graded" for s in sources}


@pytest.fixture()
def portal(tmp_path) -> Portal:
    return Portal(tmp_path / "round")


def context(portal: Portal, fakes: Fakes) -> JobContext:
    return JobContext(portal, check_fn=fakes.check, grade_fn=fakes.grade)


def invite_and_upload(portal: Portal, name: str, final: bool = False):
    invitation = create_invitation(portal.store, "fraud-detection", name).invitation
    row = accept_upload(portal, invitation, received(portal, small_submission(name)))
    if final:
        mark_final(portal, invitation)
    return invitation, row


def test_worker_runs_checks_then_gradings_with_the_round(portal):
    fakes = Fakes()
    _, first = invite_and_upload(portal, "Ada", final=True)
    _, second = invite_and_upload(portal, "Bo", final=True)
    ran = run_worker([portal.out_dir], contexts={portal.out_dir.resolve(): context(portal, fakes)},
                     once=True)
    assert ran == 4
    assert [p.name for p in fakes.checked] == [Path(first.path).name, Path(second.path).name]
    assert fakes.graded[-1] == [Path(first.path), Path(second.path)]  # similarity: whole round
    row = portal.store.submission(first.id)
    assert row.check_state == "problems" and "predictions.csv" in row.check_json
    assert grading_state(portal.store, first.id) == ("graded", "graded")


def test_a_harness_fault_fails_the_job_and_is_never_a_score(portal):
    def broken_grade(assignment, sources, out_dir):
        return {s: "harness_error" for s in sources}

    def broken_check(assignment, upload, work_dir):
        raise RuntimeError("engine gone")

    _, row = invite_and_upload(portal, "Ada", final=True)
    ctx = JobContext(portal, check_fn=broken_check, grade_fn=broken_grade)
    run_worker([portal.out_dir], contexts={portal.out_dir.resolve(): ctx}, once=True)
    assert portal.store.submission(row.id).check_state == "error"
    state, outcome = grading_state(portal.store, row.id)
    assert state == "failed" and "harness_error" in outcome


def test_a_dead_workers_job_is_picked_up_again(portal, repo_root):
    _, row = invite_and_upload(portal, "Ada")
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(repo_root)!r})
        from harness.portal.queue import claim
        from harness.portal.store import PortalStore
        job = claim(PortalStore({str(portal.out_dir)!r}))
        print(job.id, job.owner, flush=True)
        os._exit(9)  # killed in the middle of the job
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 9, done.stderr
    job_id = int(done.stdout.split()[0])
    assert portal.store.job(job_id).state == "running"
    fakes = Fakes()
    run_worker([portal.out_dir], contexts={portal.out_dir.resolve(): context(portal, fakes)},
               once=True)
    job = portal.store.job(job_id)
    assert job.state == "done" and job.attempts == 2
    assert fakes.checked == [Path(row.path)]


def test_a_live_workers_job_is_left_alone_until_its_lease_ends(portal):
    invite_and_upload(portal, "Ada")
    job = claim(portal.store)  # this process: alive
    assert recover(portal.store) == []
    assert recover(portal.store, now=time.time() + 10_000) == [job.id]  # heartbeat stopped
    assert portal.store.job(job.id).state == "queued"


def test_the_same_job_is_queued_once(portal):
    _, row = invite_and_upload(portal, "Ada")
    with portal.store.write() as conn:
        assert enqueue(conn, "check", row.id) == portal.store.jobs()[0].id
    assert len(portal.store.jobs()) == 1


def test_one_worker_per_round(portal):
    stop = threading.Event()
    fakes = Fakes()
    thread = threading.Thread(target=run_worker, args=([portal.out_dir],), kwargs={
        "contexts": {portal.out_dir.resolve(): context(portal, fakes)}, "stop": stop,
        "poll_s": 0.05})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not worker_running(portal.out_dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker_running(portal.out_dir)
        _, row = invite_and_upload(portal, "Ada")
        deadline = time.monotonic() + 30  # its own allowance: the upload's intake took some
        while portal.store.submission(row.id).check_state != "problems":
            assert time.monotonic() < deadline, "the running worker did not pick the job up"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not worker_running(portal.out_dir)


def test_a_self_check_does_not_wait_behind_a_grading(portal):
    grading = threading.Event()
    release = threading.Event()
    fakes = Fakes()

    def slow_grade(assignment, sources, out_dir):
        grading.set()
        assert release.wait(30)
        return {s: "graded" for s in sources}

    ctx = JobContext(portal, check_fn=fakes.check, grade_fn=slow_grade)
    _, first = invite_and_upload(portal, "Ada", final=True)
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=([portal.out_dir],), kwargs={
        "contexts": {portal.out_dir.resolve(): ctx}, "stop": stop, "poll_s": 0.05})
    thread.start()
    try:
        assert grading.wait(30)
        _, second = invite_and_upload(portal, "Bo")
        deadline = time.monotonic() + 20
        while portal.store.submission(second.id).check_state != "problems":
            assert time.monotonic() < deadline, "the self-check waited for the grading"
            time.sleep(0.05)
        assert grading_state(portal.store, first.id)[0] == "grading"
    finally:
        release.set()
        stop.set()
        thread.join(timeout=30)
    assert grading_state(portal.store, first.id)[0] == "graded"


def test_a_job_cut_short_by_a_stop_goes_back_to_the_queue(portal, monkeypatch):
    from harness import termination
    from harness.portal.worker import work_once

    invite_and_upload(portal, "Ada")

    def check_then_stop(assignment, upload, work_dir):
        monkeypatch.setattr(termination, "stop_requested", lambda: True)
        raise RuntimeError("container removed by the stop")

    ctx = JobContext(portal, check_fn=check_then_stop)
    assert work_once(ctx, "host:1") is None
    job = portal.store.jobs()[0]
    assert job.state == "queued" and job.owner is None
    assert portal.store.submission(job.submission_id).check_state == "queued"


def test_a_busy_store_during_housekeeping_does_not_end_the_worker(portal, monkeypatch):
    from harness.portal import worker

    real_recover = worker.recover
    calls = []

    def flaky_recover(store):
        calls.append(store)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real_recover(store)

    monkeypatch.setattr(worker, "recover", flaky_recover)
    fakes = Fakes()
    _, row = invite_and_upload(portal, "Ada")
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=([portal.out_dir],), kwargs={
        "contexts": {portal.out_dir.resolve(): context(portal, fakes)}, "stop": stop,
        "poll_s": 0.05})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while portal.store.submission(row.id).check_state != "problems" or len(calls) < 2:
            assert thread.is_alive(), "the worker ended on a busy store"
            assert time.monotonic() < deadline, "the worker did not run the job and retry"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
