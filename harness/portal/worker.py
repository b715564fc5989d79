"""The portal's worker process: takes queued self-checks and gradings and runs them.

``python -m harness.portal.worker ROUND... [--parent PID]`` (``takehome serve`` starts one for
the rounds it serves; ``takehome invitations worker ROUND...`` runs one by hand). It holds an
exclusive lock per round (``.portal/worker.lock``), so a second worker for the same round waits
instead of racing. A job is claimed with a lease refreshed by a heartbeat thread; a job whose
worker died (killed, server restarted) is put back on the queue by the next worker, so nothing
queued or running is lost. Self-checks and gradings run in two lanes side by side, so a
candidate's self-check never waits for another's grading. With ``--parent`` it exits, between
jobs, once that process is gone.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from harness.portal.jobs import JobContext, JobOutcome, run_job
from harness.portal.queue import HEARTBEAT_S, claim, finish, heartbeat, recover, worker_id
from harness.portal.store import PortalStore
from harness.portal.submissions import PORTAL_DIR, Portal, finalise_past_deadline

HOUSEKEEPING_S = 15.0  # how often dead workers' jobs and passed deadlines are looked at
KINDS = ("check", "grade")
LANES = (("check",), ("grade",))  # run side by side: a self-check never waits behind a grading


class _Heartbeat:
    """Refreshes a running job's lease from a thread until the job ends."""

    def __init__(self, store: PortalStore, job_id: int, owner: str, every: float = HEARTBEAT_S):
        self.store, self.job_id, self.owner, self.every = store, job_id, owner, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="portal-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            with contextlib.suppress(Exception):  # a busy database: try again next beat
                heartbeat(self.store, self.job_id, self.owner)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _release(store: PortalStore, job_id: int, owner: str) -> None:
    """Give a job back to the queue (the worker is stopping)."""
    with store.write() as conn:
        conn.execute("UPDATE portal_jobs SET state = 'queued', owner = NULL, heartbeat = NULL "
                     "WHERE id = ? AND owner = ? AND state = 'running'", (job_id, owner))


def has_queued(store: PortalStore, kinds: tuple[str, ...] = KINDS) -> bool:
    """A cheap read: is a job of these kinds waiting?"""
    marks = ",".join("?" for _ in kinds)
    return bool(store.query(f"SELECT 1 FROM portal_jobs WHERE state = 'queued' AND kind IN "
                            f"({marks}) LIMIT 1", kinds))


def work_once(context: JobContext, owner: str, kinds: tuple[str, ...] = KINDS) -> JobOutcome | None:
    """Claim and run one job (of ``kinds``) of the context's round; None when there is none.

    A job cut short because the worker is stopping goes back to the queue, never ``failed``.
    """
    from harness import termination

    store = context.portal.store
    if not has_queued(store, kinds):
        return None
    job = claim(store, owner, kinds)
    if job is None:
        return None
    with _Heartbeat(store, job.id, owner):
        try:
            outcome = run_job(context, job)
        except KeyboardInterrupt:  # includes harness.termination.Terminated
            _release(store, job.id, owner)
            raise
        except Exception as error:  # noqa: BLE001 - a fault in one job never stops the worker
            outcome = JobOutcome(False, f"{type(error).__name__}: {error}")
    if termination.stop_requested():
        _release(store, job.id, owner)
        return None
    finish(store, job.id, owner, ok=outcome.ok, outcome=outcome.outcome)
    return outcome


def _lock_round(folder: Path):
    """The round's worker lock (an open file), or None when another worker holds it."""
    path = folder / PORTAL_DIR / "worker.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+b")  # noqa: SIM115 - held for the worker's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def worker_running(folder: Path) -> bool:
    """True when some worker holds the round's lock."""
    handle = _lock_round(Path(folder))
    if handle is None:
        return True
    handle.close()
    return False


class _Lane(threading.Thread):
    """Runs the jobs of some kinds, round after round, until halted (or idle, with ``once``)."""

    def __init__(self, kinds: tuple[str, ...], active: dict[Path, JobContext], owner: str,
                 halt: threading.Event, poll_s: float, once: bool):
        super().__init__(name=f"portal-{'-'.join(kinds)}", daemon=True)
        self.kinds, self.active, self.owner = kinds, active, owner
        self.halt, self.poll_s, self.once = halt, poll_s, once
        self.done = 0

    def run(self) -> None:
        while not self.halt.is_set():
            ran = 0
            try:
                for context in list(self.active.values()):
                    if work_once(context, self.owner, self.kinds) is not None:
                        ran += 1
            except KeyboardInterrupt:  # the process is stopping
                return
            except Exception as error:  # noqa: BLE001 - a busy or broken store: retry later
                print(f"portal worker ({self.name}): {type(error).__name__}: {error}",
                      file=sys.stderr, flush=True)
            self.done += ran
            if ran == 0:
                if self.once:
                    return
                self.halt.wait(self.poll_s)


def _housekeeping(active: dict[Path, JobContext]) -> bool:
    """Requeue dead workers' jobs and close rounds past their deadline; False if it must retry.

    A busy or briefly locked store is reported and retried on the next loop: it never ends the
    worker.
    """
    try:
        for context in list(active.values()):
            recover(context.portal.store)
            finalise_past_deadline(context.portal.store)
    except Exception as error:  # noqa: BLE001 - the store is busy or broken: try again soon
        print(f"portal worker (housekeeping): {type(error).__name__}: {error}",
              file=sys.stderr, flush=True)
        return False
    return True


def run_worker(folders: Sequence[Path], *, contexts: dict[Path, JobContext] | None = None,
               poll_s: float = 1.0, parent_pid: int | None = None,
               stop: threading.Event | None = None, once: bool = False) -> int:
    """Serve the queues of ``folders`` until stopped; the number of jobs run.

    Two lanes run side by side, self-checks and gradings, so a candidate's self-check never
    waits behind another candidate's grading. ``once`` returns as soon as the queues are empty
    (tests and ``--once``).
    """
    from harness import termination

    owner = worker_id()
    locks = {}
    known = dict(contexts or {})
    active: dict[Path, JobContext] = {}
    halt = threading.Event()
    lanes: list[_Lane] = []
    last_housekeeping = 0.0
    try:
        while not (stop is not None and stop.is_set()) and not termination.stop_requested():
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the server is gone; a new one starts its own worker
            for folder in folders:
                folder = Path(folder).resolve()
                if folder not in locks:
                    handle = _lock_round(folder)
                    if handle is None:
                        continue
                    locks[folder] = handle
                    active[folder] = known.get(folder) or JobContext(Portal(folder))
            due = time.monotonic() - last_housekeeping > HOUSEKEEPING_S or not lanes
            if due and _housekeeping(active):
                last_housekeeping = time.monotonic()
            if not lanes:
                lanes = [_Lane(kinds, active, owner, halt, poll_s, once) for kinds in LANES]
                for lane in lanes:
                    lane.start()
            if once:
                for lane in lanes:
                    lane.join()
                break
            time.sleep(poll_s)
    finally:
        halt.set()
        for lane in lanes:
            lane.join(timeout=60)
        for handle in locks.values():
            handle.close()
    return sum(lane.done for lane in lanes)


def start_worker_process(folders: Sequence[Path], log_path: Path | None = None):
    """Start ``python -m harness.portal.worker`` for ``folders`` with this process as parent."""
    import subprocess

    command = [sys.executable, "-m", "harness.portal.worker", "--parent", str(os.getpid()),
               *[str(Path(f).resolve()) for f in folders]]
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    from harness import termination

    parser = argparse.ArgumentParser(prog="python -m harness.portal.worker",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="round folders (output folders)")
    parser.add_argument("--parent", type=int, default=None,
                        help="exit (between jobs) once this process is gone")
    parser.add_argument("--once", action="store_true", help="exit when the queues are empty")
    args = parser.parse_args(argv)
    try:
        with termination.handle_signals():
            run_worker(args.folders, parent_pid=args.parent, once=args.once)
    except termination.Terminated as stopped:
        return stopped.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
