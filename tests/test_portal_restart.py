"""A server restart loses no job: `takehome serve` starts a worker that finishes what a dead one held.

The round holds an upload whose self-check was claimed by a worker that then died (a process
killed mid-job); a fresh `takehome serve` (a real subprocess) starts the portal's worker, which
puts the job back on the queue and runs it in the real sandbox.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from fixtures.portal_samples import free_port, small_submission
from test_portal_submissions import received

from harness.portal.invitations import create_invitation
from harness.portal.submissions import Portal, accept_upload

pytestmark = pytest.mark.docker


def test_a_job_held_by_a_dead_worker_is_finished_after_a_restart(tmp_path, sandbox_image,
                                                                  repo_root):
    portal = Portal(tmp_path / "round")
    invitation = create_invitation(portal.store, "fraud-detection", "Ada").invitation
    row = accept_upload(portal, invitation, received(portal, small_submission()))
    claim = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(repo_root)!r})
        from harness.portal.queue import claim
        from harness.portal.store import PortalStore
        claim(PortalStore({str(portal.out_dir)!r}))
        os._exit(9)
    """)
    died = subprocess.run([sys.executable, "-c", claim], capture_output=True, text=True,
                          timeout=60, check=False)
    assert died.returncode == 9, died.stderr
    assert portal.store.jobs()[0].state == "running"

    env = dict(os.environ)
    env.pop("TAKEHOME_PORTAL_WORKER", None)
    env.pop("TAKEHOME_BROKER", None)
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115 - closed below
    serve = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", str(portal.out_dir),
                              "--port", str(free_port())], stdout=log, stderr=subprocess.STDOUT,
                             env=env, cwd=repo_root, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while portal.store.jobs()[0].state != "done":
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the restarted server's worker did not finish it"
            time.sleep(1)
    finally:
        os.killpg(serve.pid, signal.SIGINT)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
        log.close()
    job = portal.store.jobs()[0]
    assert job.attempts == 2
    checked = portal.store.submission(row.id)
    assert checked.check_state == "problems"  # it prints, but writes no predictions.csv
    assert "predictions" in checked.check_json
