"""The portal grades through the scale-out workers when a broker is configured.

A real redis-server, a real `takehome worker` process and real containers: a candidate's final
upload is graded by the portal's worker, whose sandbox stages run on the scale-out worker, with
the same levels as a local grading of the same files.
"""

from __future__ import annotations

import json

import pytest
from fixtures.portal_samples import zip_folder
from test_portal_submissions import received
from test_workers_support import RedisServer, Worker, needs_redis

from harness.assignment import load_assignment
from harness.batch import grade_batch
from harness.grade import prepare_settings
from harness.portal.invitations import create_invitation
from harness.portal.jobs import JobContext
from harness.portal.queue import grading_state
from harness.portal.submissions import Portal, accept_upload, mark_final
from harness.portal.worker import run_worker

pytestmark = [pytest.mark.docker, needs_redis]


def levels(result: dict) -> dict:
    return {c["id"]: c["level"] for c in result["rubric"]["criteria"]}


def test_a_final_upload_is_graded_on_the_scale_out_worker(tmp_path, monkeypatch, sandbox_image):
    assignment = load_assignment("diabetes-progression")
    example = assignment.root / "examples" / "weak"
    broker = RedisServer(tmp_path / "redis").start()
    worker = Worker(broker.url, tmp_path / "workers", "w1").start()
    try:
        monkeypatch.setenv("TAKEHOME_BROKER", broker.url)
        portal = Portal(tmp_path / "round")
        invitation = create_invitation(portal.store, assignment.spec.slug, "Ada").invitation
        row = accept_upload(portal, invitation, received(portal, zip_folder(example)))
        mark_final(portal, invitation)
        run_worker([portal.out_dir], contexts={portal.out_dir.resolve(): JobContext(portal)},
                   once=True)
        assert grading_state(portal.store, row.id)[0] == "graded"
        assert worker.jobs(), worker.log()[-2000:]  # the stages ran on the scale-out worker
    finally:
        worker.stop()
        broker.stop()
    remote = [json.loads(p.read_text()) for p in portal.out_dir.glob("*/result.json")]
    assert len(remote) == 1 and remote[0]["status"] == "graded"

    monkeypatch.delenv("TAKEHOME_BROKER")
    local_out = tmp_path / "local"
    settings = prepare_settings(assignment, True, local_out / ".work")
    local = grade_batch(assignment, [example], local_out, settings=settings, jobs=1).items[0]
    assert levels(remote[0]) == levels(json.loads(local.result.model_dump_json()))
    assert remote[0]["total"] == local.result.total
