"""The console script's quick exit: only after a normal ending, with exit handlers run."""

from __future__ import annotations

import atexit
import subprocess
import sys
import threading

import pytest

from harness import cli


class Exited(Exception):
    """os._exit, recorded instead of ending the test process."""


@pytest.fixture()
def hard_exits(monkeypatch):
    codes: list[int] = []

    def fake_exit(code: int) -> None:
        codes.append(code)
        raise Exited

    monkeypatch.setattr("os._exit", fake_exit)
    monkeypatch.setattr(atexit, "_run_exitfuncs", lambda: codes.append(-1))
    return codes


def ending_with(monkeypatch, code):
    def fake_main():
        raise SystemExit(code)

    monkeypatch.setattr(cli, "main", fake_main)


@pytest.mark.parametrize("code", [0, 1, None])
def test_a_normal_ending_runs_the_exit_handlers_then_exits_at_once(monkeypatch, hard_exits, code):
    ending_with(monkeypatch, code)
    with pytest.raises(Exited):
        cli.run()
    assert hard_exits == [-1, int(code or 0)]  # handlers first, then the status


@pytest.mark.parametrize("code", [2, 3, 130, 143, "error: message"])
def test_other_endings_take_the_ordinary_exit(monkeypatch, hard_exits, code):
    ending_with(monkeypatch, code)
    with pytest.raises(SystemExit) as done:
        cli.run()
    assert done.value.code == code and hard_exits == []


def test_a_thread_still_running_takes_the_ordinary_exit(monkeypatch, hard_exits):
    ending_with(monkeypatch, 0)
    release = threading.Event()
    worker = threading.Thread(target=release.wait, daemon=False)
    worker.start()
    try:
        with pytest.raises(SystemExit):
            cli.run()
    finally:
        release.set()
        worker.join()
    assert hard_exits == []


def test_the_installed_script_flushes_its_output_and_runs_exit_handlers(tmp_path):
    marker = tmp_path / "handler-ran"
    script = (
        "import atexit, sys, harness.cli as cli\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('yes'))\n"
        "sys.argv = ['takehome', '--version']\n"
        "sys.stdout.write('x' * 100000)\n"  # buffered, not yet written when run() exits
        "cli.run()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.startswith("x" * 100000) and "takehome, version" in done.stdout
    assert marker.read_text() == "yes"
