"""SIGINT, SIGTERM and SIGHUP stop takehome cleanly (harness/termination.py).

The unit cases run the handlers in child processes; the end-to-end cases run `takehome grade`
as a real process on a submission whose command sleeps, signal it while its sandbox containers
run, and check that no container is left, the exit status is 128 + the signal, results written
before the signal stay and nothing half-graded is stored.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness import termination

REPO = Path(__file__).resolve().parent.parent
TAKEHOME = [sys.executable, "-m", "harness.cli"]


def _child(code: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, check=False,
                          capture_output=True, text=True, timeout=timeout)


# --- the module on its own ----------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_each_signal_raises_terminated_runs_callbacks_and_maps_to_128_plus_n(sig):
    done = _child(f"""
        import os, signal, sys, time
        from harness import termination
        termination.on_stop(lambda: print("callback ran", flush=True))
        try:
            with termination.handle_signals():
                os.kill(os.getpid(), {int(sig)})
                time.sleep(5)
            print("not interrupted")
        except termination.Terminated as stop:
            print("terminated", stop.signum, stop.exit_code, termination.stop_requested())
        print("restored", signal.getsignal({int(sig)}) is not termination._handler)
    """)
    assert done.returncode == 0, done.stderr
    assert "callback ran" in done.stdout
    assert f"terminated {int(sig)} {128 + int(sig)} True" in done.stdout
    assert "restored True" in done.stdout


def test_a_second_signal_stops_at_once_with_the_same_code():
    done = _child("""
        import os, signal, time
        from harness import termination
        def slow_cleanup():
            os.kill(os.getpid(), signal.SIGTERM)  # the second signal arrives during clean-up
            time.sleep(30)
        termination.on_stop(slow_cleanup)
        with termination.handle_signals():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(30)
    """, timeout=15)
    assert done.returncode == 143
    assert "second signal (SIGTERM): stopping now" in done.stderr


def test_check_raises_only_after_a_stop_request_and_request_stop_is_idempotent():
    termination.reset_for_tests()
    calls = []
    callback = termination.on_stop(lambda: calls.append(1))
    try:
        termination.check()
        assert termination.request_stop(signal.SIGTERM) is True
        assert termination.request_stop(signal.SIGTERM) is False
        assert calls == [1]
        with pytest.raises(termination.Terminated) as raised:
            termination.check()
        assert raised.value.exit_code == 143
    finally:
        termination.remove_on_stop(callback)
        termination.reset_for_tests()


def test_handlers_are_not_installed_outside_the_main_thread():
    import threading

    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def worker():
        with termination.handle_signals():
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [before]


# --- takehome grade, for real --------------------------------------------------------------------


def _sleeper(root: Path, name: str, seconds: int = 240) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "README.md").write_text(f"# {name}\n\nSleeps instead of predicting.\n")
    (folder / "predict.py").write_text(f"import time\ntime.sleep({seconds})\n")
    for path in [folder, *folder.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder


def _containers_of(pid: int) -> list:
    import docker

    from sandbox.runner import MANAGED_LABEL, OWNER_LABEL

    client = docker.from_env()
    try:
        owner = f"{socket.gethostname()}:{pid}"
        return [c for c in client.containers.list(all=True,
                                                   filters={"label": f"{MANAGED_LABEL}=1"})
                if c.labels.get(OWNER_LABEL) == owner]
    finally:
        client.close()


def _remove(containers: list) -> None:
    for container in containers:
        with contextlib.suppress(Exception):  # best effort: already gone
            container.remove(force=True)


def _start_grade(args: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([*TAKEHOME, "grade", *args], cwd=REPO, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for_containers(proc: subprocess.Popen, count: int, log: Path,
                         timeout: float = 240) -> None:
    """Wait until ``proc`` runs ``count`` sandbox containers (calibration may come first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"takehome exited early ({proc.returncode}): {log.read_text()[-2000:]}")
        running = [c for c in _containers_of(proc.pid) if c.labels.get("takehome.stage")]
        if len(running) >= count:
            return
        time.sleep(0.5)
    proc.kill()
    pytest.fail(f"no sandbox container appeared: {log.read_text()[-2000:]}")


def _stored_names(out: Path) -> list[str]:
    path = out / "results.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        return sorted(r[0] for r in conn.execute("SELECT name FROM results"))


@pytest.fixture(scope="module")
def grade_ready(sandbox_image, tmp_path_factory) -> str:
    """The image is built and diabetes-progression's calibration is cached before timing."""
    from harness.assignment import load_assignment
    from harness.calibration import reference_scores

    reference_scores(load_assignment("diabetes-progression"), sandbox_image,
                     tmp_path_factory.mktemp("calibration"))
    return sandbox_image


@pytest.mark.docker
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_mid_run_removes_the_containers_and_exits_128_plus_n(grade_ready, tmp_path, sig):
    sub = _sleeper(tmp_path / "subs", "sleeper")
    out, log = tmp_path / "out", tmp_path / "grade.log"
    proc = _start_grade(["diabetes-progression", str(sub), "-o", str(out), "-j", "1"], log)
    try:
        _wait_for_containers(proc, 2, log)  # run and checks, side by side
        started = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
        stopped_in = time.monotonic() - started
        left = _containers_of(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
        _remove(_containers_of(proc.pid))
    text = log.read_text(errors="replace")
    assert code == 128 + int(sig), text[-2000:]
    assert left == [], f"containers left running: {[c.name for c in left]}"
    assert f"stopped by {sig.name}" in text
    assert stopped_in < 30
    assert _stored_names(out) == []  # nothing half-graded became a result
    assert not list(out.glob("*/result.json"))


@pytest.mark.docker
def test_results_written_before_the_signal_are_kept_and_a_rerun_grades_the_rest(
        grade_ready, tmp_path):
    quick = tmp_path / "subs" / "quick"
    quick.mkdir(parents=True)
    (quick / "README.md").write_text("# quick\n\nNothing to run.\n")
    quick.chmod(0o755)
    (quick / "README.md").chmod(0o644)
    _sleeper(tmp_path / "subs", "sleeper")
    out, log = tmp_path / "out", tmp_path / "grade.log"
    proc = _start_grade(["diabetes-progression", str(tmp_path / "subs"), "-o", str(out),
                         "-j", "1", "--format", "json"], log)
    try:
        _wait_for_containers(proc, 1, log)
        deadline = time.monotonic() + 60
        while "quick" not in _stored_names(out) and time.monotonic() < deadline:
            time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        _remove(_containers_of(proc.pid))
    assert code == 143, log.read_text(errors="replace")[-2000:]
    assert _stored_names(out) == ["quick"]  # the finished one stays, the sleeper is not stored


def test_the_cli_turns_terminated_into_the_documented_exit_status(tmp_path):
    """`takehome sandbox build` (any verb) under SIGTERM exits 143 with one line."""
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        import sandbox.image
        def fake_build(**_kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            import time; time.sleep(10)
        sandbox.image.build_image = fake_build
        from harness.cli import main
        sys.argv = ["takehome", "sandbox", "build"]
        main()
    """))
    done = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True, check=False,
                          text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 143, done.stderr
    assert "stopped by SIGTERM" in done.stderr
