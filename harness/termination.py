"""Stopping cleanly on SIGINT, SIGTERM and SIGHUP: no sandbox left running, nothing half-graded.

``timeout``, systemd, ``docker stop``, Kubernetes and a Celery warm shutdown send SIGTERM; a
closed terminal or ssh session sends SIGHUP; Ctrl-C sends SIGINT. takehome treats the three
alike. On the **first** signal:

1. the stop flag is set (:func:`stop_requested` turns True, :data:`STOP` is set), so no new
   submission starts, no new sandbox container is created and nothing graded from now on is
   stored as a result (``harness.batch`` checks the flag right before each store write);
2. the stop callbacks run, newest first: by default every sandbox container this process
   created is removed (``sandbox.runner.stop_all_sessions``), which also makes the execs that
   were running return at once;
3. in the main thread, :class:`Terminated` (a ``KeyboardInterrupt`` subclass, so every
   ``finally`` and ``with`` block unwinds as for Ctrl-C) is raised; ``takehome`` catches it,
   prints one line and exits with :func:`exit_code` = 128 + the signal number:

   ====== ====== ==========================================================
   signal  exit   notes
   ====== ====== ==========================================================
   SIGINT  130    Ctrl-C
   SIGTERM 143    timeout, systemd, docker stop, Kubernetes, Celery
   SIGHUP  129    terminal or ssh session closed
   ====== ====== ==========================================================

A **second** signal (of any of the three) stops the process at once (``os._exit`` with the
same code), without waiting for anything; containers still listed are then removed by
``cleanup_stale_containers()`` the next time takehome starts on that engine (they carry the
owner's pid, which is gone).

Results written before the signal stay in ``results.sqlite`` (each in its own transaction) and
reports are written atomically, so a rerun regrades exactly what was not finished.

Using it in another long-running command
----------------------------------------
Every ``takehome`` command already runs inside :func:`handle_signals` (``harness/cli.py``). A
command that owns its event loop and its own signal handling (a Celery worker, uvicorn) does
not raise; it calls :func:`request_stop` from its own shutdown hook instead::

    from harness import termination

    # a loop of your own, under takehome's handlers (raises Terminated in the main thread):
    with termination.handle_signals():
        while not termination.stop_requested():
            do_one_unit_of_work()          # a worker thread may call termination.check()

    # a server or worker with its own handlers (uvicorn, Celery's worker_shutting_down):
    termination.request_stop(signal.SIGTERM)   # flag + callbacks (containers removed), no raise

    # your own clean-up, run on the first signal (newest first, each at most once):
    termination.on_stop(lambda: my_queue.close())

``check()`` raises :class:`Terminated` once a stop is requested: call it between units of work
in worker threads so they stop early instead of finishing a doomed submission.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

STOP = threading.Event()  # set on the first signal (or request_stop); never cleared in production
_callbacks: list[Callable[[], None]] = []
_state_lock = threading.Lock()
_stop_signal: int | None = None
_depth = 0  # nesting of handle_signals() (the CLI's groups nest)
_previous: dict[int, object] = {}


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on the first SIGINT/SIGTERM/SIGHUP (and by :func:`check`)."""

    def __init__(self, signum: int):
        super().__init__(signal_name(signum))
        self.signum = signum
        self.exit_code = exit_code(signum)


def signal_name(signum: int) -> str:
    """``SIGTERM`` for 15, etc."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_code(signum: int) -> int:
    """The documented exit status after a signal: 128 + its number (SIGTERM -> 143)."""
    return 128 + int(signum)


def stop_requested() -> bool:
    """True once a stop was requested (a handled signal arrived or :func:`request_stop` ran)."""
    return STOP.is_set()


def stop_signal() -> int | None:
    """The signal that requested the stop (None when none did)."""
    return _stop_signal


def check() -> None:
    """Raise :class:`Terminated` when a stop was requested (call it between units of work)."""
    if STOP.is_set():
        raise Terminated(_stop_signal or signal.SIGTERM)


def on_stop(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` on the first stop request (newest first). Returns it (usable as decorator).

    A callback must be quick and must not raise (exceptions are printed and ignored).
    """
    with _state_lock:
        _callbacks.append(callback)
    return callback


def remove_on_stop(callback: Callable[[], None]) -> None:
    """Forget a callback registered with :func:`on_stop` (no error when it is unknown)."""
    with _state_lock, contextlib.suppress(ValueError):
        _callbacks.remove(callback)


def _stop_sandboxes() -> None:
    """Remove this process's sandbox containers, when the sandbox was used at all."""
    runner = sys.modules.get("sandbox.runner")
    if runner is not None:
        runner.stop_all_sessions()


def request_stop(signum: int = signal.SIGTERM) -> bool:
    """Request a clean stop: set the flag and run the stop callbacks. Never raises.

    Returns True for the first request, False when a stop was already requested (then nothing
    runs again). Safe to call from any thread and from a signal handler.
    """
    global _stop_signal
    with _state_lock:
        if STOP.is_set():
            return False
        _stop_signal = int(signum)
        STOP.set()
        callbacks = [*reversed(_callbacks), _stop_sandboxes]
    for callback in callbacks:
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - a clean-up failure must not hide the stop
            _write_stderr(f"takehome: clean-up on stop failed: {type(exc).__name__}: {exc}\n")
    return True


def _write_stderr(text: str) -> None:
    with contextlib.suppress(OSError):
        os.write(2, text.encode("utf-8", "replace"))


def _handler(signum: int, _frame: object) -> None:
    if STOP.is_set():
        _write_stderr(f"takehome: second signal ({signal_name(signum)}): stopping now\n")
        os._exit(exit_code(signum))
    _write_stderr(f"takehome: {signal_name(signum)} received: removing running sandboxes "
                  "(send it again to stop at once)\n")
    request_stop(signum)
    raise Terminated(signum)


@contextlib.contextmanager
def handle_signals(signals: tuple[signal.Signals, ...] = HANDLED_SIGNALS) -> Iterator[None]:
    """Install the handlers (main thread only; elsewhere a no-op) and restore the old ones after.

    Nested uses are fine: only the outermost installs and restores.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _depth == 0:
        for sig in signals:
            _previous[sig] = signal.signal(sig, _handler)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            for sig, previous in list(_previous.items()):
                signal.signal(sig, previous)  # type: ignore[arg-type]
            _previous.clear()


def reset_for_tests() -> None:
    """Clear the stop flag and let sandboxes start again (tests that run in one process)."""
    global _stop_signal
    with _state_lock:
        STOP.clear()
        _stop_signal = None
    runner = sys.modules.get("sandbox.runner")
    if runner is not None:
        runner.allow_new_sessions()
