"""The command's exit (harness.cli.run): exit handlers run, then os._exit, never a teardown."""

from __future__ import annotations

import atexit
import subprocess
import sys
import threading
import time

import pytest

from contracts.errors import EXIT_HARNESS
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


@pytest.mark.parametrize("code", [0, 1, None, 2, 3, 130, 143])
def test_every_ending_runs_the_exit_handlers_then_exits_at_once(monkeypatch, hard_exits, code):
    ending_with(monkeypatch, code)
    with pytest.raises(Exited):
        cli.run()
    assert hard_exits == [-1, int(code or 0)]  # handlers first, then the status


def test_a_message_ending_is_printed_and_exits_1(monkeypatch, hard_exits, capsys):
    ending_with(monkeypatch, "error: message")
    with pytest.raises(Exited):
        cli.run()
    assert hard_exits == [-1, 1] and "error: message" in capsys.readouterr().err


def test_a_harness_fault_is_an_internal_error_not_a_traceback(monkeypatch, hard_exits, capsys):
    def broken_main():
        raise RuntimeError("boom")

    monkeypatch.setattr(cli, "main", broken_main)
    with pytest.raises(Exited):
        cli.run()
    assert hard_exits == [-1, EXIT_HARNESS]
    assert "internal error: RuntimeError('boom')" in capsys.readouterr().err


def test_a_thread_still_running_is_waited_for_before_the_exit(monkeypatch, hard_exits):
    ending_with(monkeypatch, 0)
    finished = []

    def slow_writer():
        time.sleep(0.3)
        finished.append(True)

    worker = threading.Thread(target=slow_writer, daemon=False)
    worker.start()
    with pytest.raises(Exited):
        cli.run()
    assert finished == [True] and hard_exits == [-1, 0]


# A daemon thread laying out text in matplotlib's C++ code when the interpreter finalises is
# unwound through a noexcept frame: the process aborts (SIGABRT, sometimes SIGSEGV) instead of
# exiting with its status. It happened in CI when SIGTERM arrived while the report plots warmed up.
_DAEMON_DRAWING_AT_EXIT = """
import io, sys, threading, time
import harness.cli as cli

def draw():
    from matplotlib.figure import Figure
    while True:
        figure = Figure()
        figure.add_subplot().set_title("text laid out in C++")
        figure.savefig(io.BytesIO(), format="png")

threading.Thread(target=draw, daemon=True).start()
time.sleep(1.0)

def stopped_by_sigterm():
    raise SystemExit(143)

cli.main = stopped_by_sigterm
cli.run()
"""


def test_a_daemon_thread_inside_native_code_does_not_crash_the_exit():
    codes = [subprocess.run([sys.executable, "-c", _DAEMON_DRAWING_AT_EXIT], check=False,
                            capture_output=True, timeout=60).returncode for _ in range(4)]
    assert codes == [143] * 4  # an ordinary exit gave -6 or -11 in about half the runs


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
