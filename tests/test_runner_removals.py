"""Removing containers in the background: the caller goes on, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from harness.assignment import load_assignment
from harness.intake import ingest
from harness.pipeline import GradeSettings, grade_snapshot
from harness.rubric import load_rubric
from sandbox.limits import Limits
from sandbox.runner import SandboxSession, allow_new_sessions, stop_all_sessions, wait_for_removals

pytestmark = pytest.mark.docker

QUICK = Limits(wall_time_s=20, memory_mb=256, pids=64, tmp_mb=16, home_mb=8, workspace_mb=16,
               output_mb=8)


def folder(tmp_path: Path) -> Path:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "main.py").write_text("print('hello')\n")
    return sub


def exists(container_id: str) -> bool:
    client = docker.from_env()
    try:
        client.containers.get(container_id)
        return True
    except docker.errors.NotFound:
        return False
    finally:
        client.close()


def test_a_session_with_a_removal_list_hands_the_removal_over(sandbox_image, tmp_path):
    removals: list = []
    with SandboxSession(sandbox_image, submission=folder(tmp_path), limits=QUICK,
                        removals=removals) as box:
        container_id = box.container_id
        assert box.exec(["python3", "-c", "print(1)"]).exit_code == 0
    assert len(removals) == 1
    wait_for_removals(removals)
    assert not exists(container_id)


def test_a_stop_signal_still_removes_a_container_whose_removal_is_pending(sandbox_image,
                                                                          tmp_path):
    removals: list = []
    try:
        with SandboxSession(sandbox_image, submission=folder(tmp_path), limits=QUICK,
                            removals=removals) as box:
            container_id = box.container_id
        stop_all_sessions()  # what SIGTERM does, whether or not the thread got there first
        wait_for_removals(removals)
        assert not exists(container_id)
    finally:
        allow_new_sessions()


def test_grading_returns_with_every_container_gone(sandbox_image, tmp_path):
    assignment = load_assignment("diabetes-progression")
    source = assignment.root / "examples" / "weak"
    snapshot = ingest(source, tmp_path / "snapshots")
    client = docker.from_env()
    before = {c.id for c in client.containers.list(all=True)}
    graded = grade_snapshot(snapshot, assignment, load_rubric(assignment.spec.rubric),
                            GradeSettings(image=sandbox_image), tmp_path / "work")
    after = {c.id for c in client.containers.list(all=True)}
    client.close()
    assert graded.result.status == "graded" and graded.result.run.container_starts == 2
    assert after - before == set()
