"""The runner's errors: one actionable line, raised before any container starts when possible."""

from __future__ import annotations

import io
import socket
import threading
from pathlib import Path

import docker
import pytest
from pydantic import ValidationError

from contracts.errors import EnvironmentProblem, SpecError, SubmissionRejected
from sandbox.limits import Limits
from sandbox.runner import (
    MANAGED_LABEL,
    OWNER_LABEL,
    Mount,
    SandboxSession,
    Verdict,
    cleanup_stale_containers,
    run_in_sandbox,
)

QUICK = Limits(
    wall_time_s=20, memory_mb=256, pids=64, tmp_mb=16, home_mb=8, workspace_mb=16, output_mb=8
)


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text, text
    return text


def _folder(tmp_path: Path, name: str = "sub", mode: int = 0o755) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "main.py").write_text("print('hello')\n")
    (folder / "main.py").chmod(0o644)
    folder.chmod(mode)
    return folder


# --- before any engine call (no Docker needed) ---------------------------------------------------


def test_missing_mount_source_fails_before_any_container(tmp_path):
    starts = SandboxSession.container_starts
    with pytest.raises(EnvironmentProblem) as caught:
        SandboxSession("any-image", mounts=[Mount(source=tmp_path / "nope", target="/data")])
    assert "does not exist" in _one_line(caught.value)
    assert str(tmp_path / "nope") in str(caught.value)
    assert SandboxSession.container_starts == starts


def test_mount_source_unreadable_by_the_sandbox_user_is_refused(tmp_path):
    private = _folder(tmp_path, "private", mode=0o700)
    with pytest.raises(EnvironmentProblem) as caught:
        SandboxSession("any-image", mounts=[Mount(source=private, target="/data")])
    text = _one_line(caught.value)
    assert "not readable by the sandbox user (uid 10001, mode 0700)" in text
    assert f"chmod -R o+rX {private}" in text


def test_unreadable_submission_is_refused(tmp_path):
    with pytest.raises(EnvironmentProblem, match="submission .* not readable"):
        SandboxSession("any-image", submission=_folder(tmp_path, mode=0o700))


def test_docker_socket_is_never_mounted(tmp_path):
    with pytest.raises(EnvironmentProblem, match="Docker socket"):
        SandboxSession("any-image", mounts=[Mount(source=Path("/var/run"), target="/data")])


@pytest.mark.parametrize("target", ["/output", "/workspace/x", "relative", "/proc/x", "/"])
def test_reserved_or_unsafe_mount_targets_are_refused(tmp_path, target):
    with pytest.raises(EnvironmentProblem, match="mount target"):
        SandboxSession("any-image", mounts=[Mount(source=_folder(tmp_path), target=target)])


def test_invalid_environment_names_are_refused():
    with pytest.raises(EnvironmentProblem, match="invalid environment variable name"):
        SandboxSession("any-image", env={"BAD NAME": "x"})


def test_negative_limits_are_refused_with_one_line():
    with pytest.raises(ValidationError, match="cpus"):
        Limits(cpus=-1)
    with pytest.raises(SpecError) as caught:
        Limits.from_mapping({"cpus": -1}, where="assignment.yaml: limits")
    text = _one_line(caught.value)
    assert text.startswith("assignment.yaml: limits: invalid limit 'cpus'")
    with pytest.raises(SpecError, match="invalid limit 'memroy_mb'"):
        Limits.from_mapping({"memroy_mb": 512})


def test_limits_beyond_the_engine_are_refused():
    with pytest.raises(EnvironmentProblem) as caught:
        Limits(cpus=64).check_supported(engine_cpus=2, engine_memory_bytes=None)
    assert "cpus=64 is more than the Docker engine has (2)" in _one_line(caught.value)
    with pytest.raises(EnvironmentProblem, match="memory_mb=4096"):
        Limits(memory_mb=4096).check_supported(engine_cpus=None, engine_memory_bytes=2**31)


def test_unreachable_engine_is_one_line(monkeypatch, tmp_path):
    dead = f"unix://{tmp_path}/dead.sock"
    monkeypatch.setenv("DOCKER_HOST", dead)
    with pytest.raises(EnvironmentProblem) as caught, SandboxSession("any-image"):
        pass
    text = _one_line(caught.value)
    assert f"cannot reach the Docker engine at {dead}" in text
    assert "DOCKER_HOST" in text
    with pytest.raises(EnvironmentProblem, match="cannot reach the Docker engine"):
        cleanup_stale_containers()


def test_command_must_be_a_sequence(tmp_path):
    session = SandboxSession("any-image")
    with pytest.raises(ValueError, match="non-empty sequence"):
        session.exec("python3 main.py")
    with pytest.raises(RuntimeError, match="inside `with SandboxSession`"):
        session.exec(["true"])


# --- with an engine ------------------------------------------------------------------------------


@pytest.mark.docker
def test_missing_image_names_the_build_command(tmp_path):
    starts = SandboxSession.container_starts
    with pytest.raises(EnvironmentProblem) as caught:
        run_in_sandbox(["true"], image="takehome-sandbox:does-not-exist")
    text = _one_line(caught.value)
    assert "sandbox image 'takehome-sandbox:does-not-exist' not found" in text
    assert "takehome sandbox build" in text
    assert SandboxSession.container_starts == starts


@pytest.mark.docker
def test_cpus_beyond_the_machine_fail_before_a_container_starts(sandbox_image):
    starts = SandboxSession.container_starts
    with pytest.raises(EnvironmentProblem, match=r"cpus=4096 is more than the Docker engine has"):
        run_in_sandbox(["true"], image=sandbox_image, limits=Limits(cpus=4096))
    assert SandboxSession.container_starts == starts


@pytest.mark.docker
def test_image_without_the_supervisor_is_an_environment_problem(sandbox_image):
    broken = "takehome-test-no-supervisor:latest"
    dockerfile = f"FROM {sandbox_image}\nUSER root\nRUN rm -rf /opt/takehome/*\n"
    client = docker.from_env()
    try:
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=broken, rm=True)
        starts = SandboxSession.container_starts
        with pytest.raises(EnvironmentProblem) as caught:
            run_in_sandbox(["true"], image=broken, limits=QUICK)
        text = _one_line(caught.value)
        assert f"the sandbox supervisor does not run in {broken!r}" in text
        assert "/opt/takehome/supervise.py" in text
        assert "takehome sandbox build" in text
        assert SandboxSession.container_starts == starts + 1  # it did start, and was removed
    finally:
        try:
            client.images.remove(broken, force=True)
        except docker.errors.DockerException:
            pass
        client.close()


@pytest.mark.docker
def test_submission_larger_than_the_workspace_is_rejected(sandbox_image, tmp_path):
    folder = _folder(tmp_path)
    (folder / "weights.bin").write_bytes(b"\0" * (3 * 2**20))
    (folder / "weights.bin").chmod(0o644)
    limits = QUICK.model_copy(update={"workspace_mb": 1})
    with pytest.raises(SubmissionRejected) as caught:
        run_in_sandbox(["true"], image=sandbox_image, submission=folder, limits=limits)
    assert "does not fit in the sandbox workspace (1 MB)" in _one_line(caught.value)


@pytest.mark.docker
def test_command_not_found_is_the_candidates_failure(sandbox_image):
    result = run_in_sandbox(["no-such-program"], image=sandbox_image, limits=QUICK)
    assert result.verdict == Verdict.EXIT_NONZERO
    assert result.exit_code == 127
    assert "command not found" in result.reason


@pytest.mark.docker
def test_container_removed_from_outside_is_a_sandbox_error_then_restarts(sandbox_image, tmp_path):
    with SandboxSession(sandbox_image, submission=_folder(tmp_path), limits=QUICK) as box:
        client = docker.from_env()
        try:
            container_id = box.container_id
            threading.Timer(1.0, lambda: client.api.kill(container_id)).start()
            lost = box.exec(["sleep", "30"], timeout_s=15)
            starts = SandboxSession.container_starts
            again = box.exec(["python3", "main.py"], timeout_s=15)
        finally:
            client.close()
        assert box.container_id != container_id
    assert lost.verdict == Verdict.SANDBOX_ERROR, lost
    assert "container stopped during the stage" in lost.reason
    assert lost.wall_time_s < 10
    assert again.verdict == Verdict.OK, again
    assert again.stdout_tail == "hello\n"
    assert "fresh container" in again.reason
    assert SandboxSession.container_starts == starts + 1


@pytest.mark.docker
def test_session_removes_its_container_on_exception(sandbox_image):
    with pytest.raises(KeyboardInterrupt), SandboxSession(sandbox_image, limits=QUICK) as box:
        container_id = box.container_id
        raise KeyboardInterrupt
    client = docker.from_env()
    try:
        assert client.containers.list(all=True, filters={"id": container_id}) == []
    finally:
        client.close()


@pytest.mark.docker
def test_cleanup_removes_orphans_but_not_live_sessions(sandbox_image):
    client = docker.from_env()
    gone_pid = 4_194_304 + 4242  # above the kernel's pid_max: no such process
    created = []
    try:
        orphan = client.containers.create(
            sandbox_image,
            entrypoint=["true"],
            labels={MANAGED_LABEL: "1", OWNER_LABEL: f"{socket.gethostname()}:{gone_pid}"},
        )
        foreign = client.containers.create(
            sandbox_image,
            entrypoint=["true"],
            labels={MANAGED_LABEL: "1", OWNER_LABEL: "another-host:1"},
        )
        created = [orphan, foreign]
        with SandboxSession(sandbox_image, limits=QUICK) as box:
            removed = cleanup_stale_containers()
            assert len(client.containers.list(filters={"id": box.container_id})) == 1
        remaining = {c.id for c in client.containers.list(all=True)}
        assert orphan.id not in remaining
        assert foreign.id in remaining  # another host sharing the engine: not ours to judge
        assert removed >= 1
    finally:
        for container in created:
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass
        client.close()


# --- judging without Docker ----------------------------------------------------------------------


def _outcome(code: int | None, *, timed_out: bool = False, stderr: bytes = b""):
    from sandbox.runner import _ExecOutcome, _Tail

    tail = _Tail(1024)
    tail.add(stderr)
    return _ExecOutcome(code, 1.0, _Tail(1024), tail, timed_out=timed_out)


def _stats(oom: int = 0, pids: int = 0, full: tuple[str, ...] = ()):
    from sandbox.runner import _Stats

    return _Stats(memory_peak=1, oom_kill=oom, pids_max_hits=pids, full=list(full))


@pytest.mark.parametrize(
    ("code", "timed_out", "after", "verdict", "words"),
    [
        (0, False, _stats(), Verdict.OK, "exit code 0"),
        (3, False, _stats(), Verdict.EXIT_NONZERO, "exit code 3"),
        (None, True, _stats(oom=1), Verdict.TIMEOUT, "wall-clock limit of 7 s"),
        (137, False, _stats(oom=1), Verdict.OOM, "memory limit of 256 MB"),
        (1, False, _stats(pids=4), Verdict.PIDS_EXHAUSTED, "process limit of 64"),
        (1, False, _stats(oom=1, pids=4), Verdict.OOM, "OOM killer"),
        (0, False, _stats(oom=1), Verdict.OK, "OOM kill"),  # a worker died, the program coped
        (1, False, _stats(full=("/output",)), Verdict.OUTPUT_LIMIT, "/output, 8 MB"),
        (1, False, _stats(full=("/tmp",)), Verdict.EXIT_NONZERO, "/tmp is full"),
        (153, False, _stats(), Verdict.EXIT_NONZERO, "SIGXFSZ"),
    ],
)
def test_verdicts_come_from_exit_code_timer_and_counters(code, timed_out, after, verdict, words):
    session = SandboxSession("any-image", limits=QUICK)
    got, reason = session._judge(_outcome(code, timed_out=timed_out), 7, _stats(), after)
    assert got == verdict
    assert words in reason


def test_a_container_lost_mid_exec_is_a_sandbox_error():
    session = SandboxSession("any-image", limits=QUICK)
    got, reason = session._judge(_outcome(137), 7, _stats(), None, container_lost=True)
    assert got == Verdict.SANDBOX_ERROR
    assert "container stopped during the stage" in reason


def test_tails_keep_the_last_bytes_within_the_cap():
    from sandbox.runner import _Tail

    tail = _Tail(1000)
    for index in range(5000):
        tail.add(f"line {index}\n".encode())
    text = tail.text()
    assert len(text.encode()) <= 1000
    assert text.startswith("[… ") and "earlier bytes not kept" in text
    assert text.endswith("line 4999\n")
    assert tail.total == sum(len(f"line {i}\n") for i in range(5000))


class _FakeContainer:
    id = "fake-container"

    def start(self) -> None:
        pass


def _started_with(monkeypatch, first_stdout: bytes, reread_stdout: bytes | None):
    """Start a session against fakes: the copy exits 0 with ``first_stdout``; a re-read of the
    counters (``--reap --stats``) prints ``reread_stdout``. Returns (session, helper calls)."""
    from types import SimpleNamespace

    from sandbox import runner

    monkeypatch.setattr(runner, "_LIVE", set())  # the fake container never reaches the real set
    session = SandboxSession("any-image", limits=QUICK)
    session._client = SimpleNamespace(
        containers=SimpleNamespace(create=lambda **kwargs: _FakeContainer()))
    copy = _outcome(0)
    copy.stdout.add(first_stdout)
    monkeypatch.setattr(session, "_copy_submission", lambda: copy)
    session.submission = Path("/nowhere")  # only read to choose the copy
    calls: list[list[str]] = []

    def helper(args, timeout_s):
        calls.append(args)
        outcome = _outcome(0)
        outcome.stdout.add(reread_stdout or b"")
        return outcome

    monkeypatch.setattr(session, "_run_helper", helper)
    monkeypatch.setattr(session, "_alive", lambda: True)
    return session, calls


def test_lost_output_of_a_successful_copy_rereads_the_counters_once(monkeypatch):
    counters = b'{"memory_peak": 5, "oom_kill": 0, "pids_max_hits": 0, "full": []}\n'
    session, calls = _started_with(monkeypatch, b"", counters)
    session._start_container()
    assert calls == [["--reap", "--stats"]]
    assert session._stats is not None and session._stats.memory_peak == 5


def test_counters_printed_by_the_copy_need_no_second_read(monkeypatch):
    counters = b'{"memory_peak": 7, "oom_kill": 0, "pids_max_hits": 0, "full": []}\n'
    session, calls = _started_with(monkeypatch, counters, None)
    session._start_container()
    assert calls == [] and session._stats.memory_peak == 7


def test_counters_lost_twice_still_mean_a_broken_image(monkeypatch):
    session, calls = _started_with(monkeypatch, b"", None)
    with pytest.raises(EnvironmentProblem, match="the sandbox supervisor does not run"):
        session._start_container()
    assert calls == [["--reap", "--stats"]]
