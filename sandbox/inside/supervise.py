"""In-container supervisor: the only harness code that runs inside the sandbox.

Run as the candidate user (uid 10001) with ``python3 -I`` (isolated mode: the candidate's
``~/.local`` site-packages and PYTHON* variables cannot hijack it). Standard library only.

Modes (exactly one):

``--init``
    The container's main process (pid 1): reaps orphans forever, installs no handler for
    catchable signals (so the candidate cannot signal it: pid-namespace init ignores them).
``--copy SRC DST [--stats]``
    Copy the read-only submission into the writable workspace. Exit 0, or 28 when the
    workspace is full (ENOSPC), or 1 with a one-line message on stderr. With ``--stats``, a
    successful copy then prints the cgroup counters like ``--reap --stats`` (one exec fewer
    when a container starts).
``[--workdir DIR] [--timeout SECONDS] -- COMMAND...``
    Run COMMAND with the allow-listed environment, wait for it, then SIGKILL every other
    process of this user (``kill(-1)`` spares pid 1 and the caller), so the exec's output stream
    closes even when a child was left running. Exit status: the command's, or 128+N when it was
    killed by signal N; 127 command not found; 126 not executable; 124 the timeout was reached
    (everything was killed; needs no new process, so it works during a fork bomb).
``--reap``
    Kill every other process of this user. With ``--stats``: then print the cgroup counters as
    one JSON line (memory peak, OOM kills, pids-limit hits).
``--tar DIR [--stats]``
    Kill every other process of this user, then write DIR as an uncompressed tar stream to
    stdout without following links (the host validates every member). With ``--stats``, then
    print the cgroup counters on stderr as ``takehome-supervise: stats {json}`` (the session's
    last exec reads them this way, one exec fewer).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile
import time

ALLOWED_ENV_VAR = "TAKEHOME_ALLOWED_ENV"
EXIT_NO_SPACE = 28
EXIT_TIMEOUT = 124  # like coreutils timeout(1); the host also checks the elapsed time


def _nondumpable() -> None:
    """Make this process non-dumpable: candidate processes (same uid) cannot ptrace it."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


def _other_pids() -> list[int]:
    """Pids of live processes in this pid namespace other than pid 1 and ourselves."""
    me = os.getpid()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        if pid in (1, me):
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in (b"Z", b"X"):
            pids.append(pid)
    return pids


def kill_all(rounds: int = 50) -> None:
    """SIGKILL every process we may signal (all of the candidate's), until none is left."""
    for _ in range(rounds):
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        _reap_children()
        if not _other_pids():
            return
        time.sleep(0.02)


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == 0:
            return


def run_init() -> int:
    """Idle main process: reap orphaned children forever."""
    _nondumpable()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    while True:
        _reap_children()
        signal.sigtimedwait({signal.SIGCHLD}, 5.0)


def _child_env() -> dict[str, str]:
    allowed = set(filter(None, os.environ.get(ALLOWED_ENV_VAR, "").split(",")))
    return {key: value for key, value in os.environ.items() if key in allowed}


def run_command(command: list[str], workdir: str | None, timeout: float | None = None) -> int:
    """Run the command, wait (at most ``timeout`` s), kill the leftovers, return the status.

    At the timeout every process of the user is killed and the status is ``EXIT_TIMEOUT``; the
    host still keeps its own timer (this process can be killed by the candidate).
    """
    _nondumpable()
    if not command:
        _say("empty command")
        return 127
    if workdir and not os.path.isdir(workdir):
        _say(f"working directory does not exist: {workdir}")
        return 126
    try:
        child = subprocess.Popen(command, env=_child_env(), cwd=workdir, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        _say(f"command not found: {command[0]}")
        return 127
    except PermissionError:
        _say(f"command not executable: {command[0]}")
        return 126
    except OSError as exc:
        _say(f"cannot start {command[0]}: {exc.strerror or exc}")
        return 126
    try:
        returncode = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_all()
        child.wait()
        _say(f"time limit of {timeout:g} s reached: all processes killed")
        return EXIT_TIMEOUT
    kill_all()
    return 128 - returncode if returncode < 0 else returncode


def _say(message: str) -> None:
    sys.stderr.write(f"takehome-supervise: {message}\n")
    sys.stderr.flush()


def copy_tree(source: str, target: str) -> int:
    """Copy the submission into the workspace (links copied as links; files owner-writable)."""
    _nondumpable()
    try:
        for root, dirs, files in os.walk(source):
            rel = os.path.relpath(root, source)
            dest_root = target if rel == "." else os.path.join(target, rel)
            for name in dirs:
                src = os.path.join(root, name)
                dst = os.path.join(dest_root, name)
                if os.path.islink(src):
                    os.symlink(os.readlink(src), dst)
                else:
                    os.mkdir(dst, 0o755)
            for name in files:
                src = os.path.join(root, name)
                dst = os.path.join(dest_root, name)
                info = os.lstat(src)
                if stat.S_ISLNK(info.st_mode):
                    os.symlink(os.readlink(src), dst)
                elif stat.S_ISREG(info.st_mode):
                    shutil.copyfile(src, dst, follow_symlinks=False)
                    os.chmod(dst, (info.st_mode & 0o755) | 0o644)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            _say(f"workspace is full while copying {exc.filename}")
            return EXIT_NO_SPACE
        _say(f"cannot copy {exc.filename}: {exc.strerror}")
        return 1
    return 0


CGROUP_ROOT = "/sys/fs/cgroup"
PROC_CGROUP = "/proc/self/cgroup"


def _cgroup_dir(controller: str | None, root: str = CGROUP_ROOT, proc: str = PROC_CGROUP) -> str:
    """The container's cgroup directory for a v1 controller, or the v2 unified one (None)."""
    base = root if controller is None else os.path.join(root, controller)
    try:
        with open(proc, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return base
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        names = parts[1].split(",")
        if (controller is None and parts[0] == "0" and parts[1] == "") or controller in names:
            nested = os.path.join(base, parts[2].lstrip("/"))
            if parts[2] not in ("", "/") and os.path.isdir(nested):
                return nested
            return base
    return base


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def _read_keyed(path: str) -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                    values[parts[0]] = int(parts[1])
    except OSError:
        pass
    return values


WRITABLE_AREAS = ("/tmp", "/home/candidate", "/workspace", "/output")


def full_areas(min_free: int = 64 * 1024) -> list[str]:
    """The writable tmpfs areas with (almost) no space left."""
    full = []
    for path in WRITABLE_AREAS:
        try:
            info = os.statvfs(path)
        except OSError:
            continue
        if info.f_bavail * info.f_frsize < min_free:
            full.append(path)
    return full


def cgroup_stats() -> dict[str, object]:
    """Memory peak, OOM-kill count, pids-limit hits and full areas of this container."""
    stats = _cgroup_counters()
    stats["full"] = full_areas()
    return stats


def _cgroup_counters(root: str = CGROUP_ROOT, proc: str = PROC_CGROUP) -> dict[str, object]:
    """The counters from cgroup v2 (unified) or v1 files under ``root``."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):  # cgroup v2
        unified = _cgroup_dir(None, root, proc)
        events = _read_keyed(os.path.join(unified, "memory.events"))
        pids_events = _read_keyed(os.path.join(unified, "pids.events"))
        return {
            "cgroup": 2,
            "memory_peak": _read_int(os.path.join(unified, "memory.peak")),
            "oom_kill": events.get("oom_kill"),
            "memory_max_hits": events.get("max"),
            "pids_max_hits": pids_events.get("max"),
        }
    memory = _cgroup_dir("memory", root, proc)
    pids = _cgroup_dir("pids", root, proc)
    oom_control = _read_keyed(os.path.join(memory, "memory.oom_control"))
    return {
        "cgroup": 1,
        "memory_peak": _read_int(os.path.join(memory, "memory.max_usage_in_bytes")),
        "oom_kill": oom_control.get("oom_kill"),
        "memory_max_hits": _read_int(os.path.join(memory, "memory.failcnt")),
        "pids_max_hits": _read_keyed(os.path.join(pids, "pids.events")).get("max"),
    }


def write_tar(directory: str) -> int:
    """Stream ``directory`` as a tar to stdout; links/FIFOs are sent as headers, never followed."""
    out = sys.stdout.buffer
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(dirs) + sorted(files):
                path = os.path.join(root, name)
                arcname = os.path.relpath(path, directory)
                try:
                    info = tar.gettarinfo(path, arcname)
                except (OSError, UnicodeError) as exc:
                    _say(f"skipped {arcname!r}: {exc}")
                    continue
                if info is None:  # sockets cannot be represented
                    _say(f"skipped {arcname!r}: unsupported file type")
                    continue
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                try:
                    if info.isreg():
                        with open(path, "rb") as handle:
                            tar.addfile(info, handle)
                    else:
                        tar.addfile(info)
                except (OSError, UnicodeError, tarfile.TarError) as exc:
                    _say(f"skipped {arcname!r}: {exc}")
                    if info.isreg():  # the stream may be inconsistent now: stop cleanly
                        return 1
    out.flush()
    return 0


def main(argv: list[str]) -> int:
    """Dispatch on the mode flag (see the module docstring)."""
    if "--" in argv:
        index = argv.index("--")
        options, command = argv[:index], argv[index + 1 :]
        workdir = timeout = None
        if "--workdir" in options:
            workdir = options[options.index("--workdir") + 1]
        if "--timeout" in options:
            timeout = float(options[options.index("--timeout") + 1])
        return run_command(command, workdir, timeout)
    if argv[:1] == ["--init"]:
        return run_init()
    if argv[:1] == ["--copy"] and len(argv) in (3, 4) and argv[3:] in ([], ["--stats"]):
        status = copy_tree(argv[1], argv[2])
        if status == 0 and argv[3:] == ["--stats"]:
            sys.stdout.write(json.dumps(cgroup_stats()) + "\n")
        return status
    if argv[:1] == ["--reap"]:
        _nondumpable()
        kill_all()
        if "--stats" in argv:
            sys.stdout.write(json.dumps(cgroup_stats()) + "\n")
        return 0
    if argv[:1] == ["--tar"] and len(argv) in (2, 3) and argv[2:] in ([], ["--stats"]):
        _nondumpable()
        kill_all()
        status = write_tar(argv[1])
        if argv[2:] == ["--stats"]:
            _say("stats " + json.dumps(cgroup_stats()))
        return status
    _say(
        "usage: supervise.py --init | --copy SRC DST [--stats] | --reap [--stats] "
        "| --tar DIR [--stats] | -- CMD..."
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
