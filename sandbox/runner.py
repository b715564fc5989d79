"""Run candidate code in a hardened, throw-away Docker container and judge the outcome on the host.

One :class:`SandboxSession` is one container; each stage is an ``exec`` of the in-container
supervisor (``sandbox/inside/supervise.py``). Verdicts are computed here, on the host, from the
exit code, the host's wall-clock timer and the container's cgroup counters, never from anything
the candidate's code prints.

Errors: problems found before a container starts (engine unreachable, image missing, unusable
mount, limits the engine cannot honour) raise :class:`contracts.errors.EnvironmentProblem` (or
:class:`SubmissionRejected` when the submission does not fit in the workspace). Every fault
after that is returned as the ``sandbox_error`` verdict, never confused with a candidate failure.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import signal
import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, NoReturn, Self

import docker
import docker.errors
import requests
from docker.types import Mount as DockerMount
from docker.types import Ulimit
from pydantic import BaseModel, ConfigDict, Field

from contracts.errors import EnvironmentProblem, SubmissionRejected
from sandbox.copyout import CopyReport, KeepRules, RejectedEntry, check_dest, extract_tar_stream
from sandbox.limits import MIB, Limits

DEFAULT_LIMITS = Limits()  # frozen: safe to share as a default

MANAGED_LABEL = "takehome.managed"
OWNER_LABEL = "takehome.owner"  # "<hostname>:<pid>" of the process that created the container
SANDBOX_USER = "10001:10001"
SANDBOX_UID = 10001
SUPERVISOR = "/opt/takehome/supervise.py"
SEED_DIR = "/opt/takehome/seed"  # sandbox/inside/seed: seeds the random generators of candidate code
PYTHON = ["python3", "-I"]  # isolated mode: the candidate's ~/.local cannot hijack our scripts
DEFAULT_PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUILD_HINT = "build it with `takehome sandbox build`"
ENGINE_HINT = "start the engine (`make engine`) or point DOCKER_HOST at a running one"
RESERVED_TARGETS = ("/workspace", "/output", "/tmp", "/home/candidate", "/opt/takehome")
FORBIDDEN_TARGET_ROOTS = ("/proc", "/sys", "/dev", "/etc", "/usr", "/bin", "/sbin", "/lib")
HELPER_TIMEOUT_S = 20.0  # stats helper execs
REAP_TIMEOUT_S = 8.0  # after a timeout: the reap exec (slow to start during a fork bomb)
COPY_TIMEOUT_S = 300.0  # workspace copy and output copy-out
REAP_GRACE_S = 10.0  # after a timeout: how long the output stream may take to close
API_TIMEOUT_S = 60
EXIT_NO_SPACE = 28  # supervise.py --copy: the workspace is full
EXIT_TIMEOUT = 124  # supervise.py: its own timer fired and it killed everything
SUPERVISOR_GRACE_S = 5.0  # the host's backstop timer fires this long after the supervisor's
RUNTIMES = ("runc", "runsc")  # the engine's OCI runtimes takehome knows (runsc: gVisor)
RUNTIME_ENV = "TAKEHOME_RUNTIME"  # the default runtime when none is passed
# Under gVisor the host's pids cgroup also counts the sandbox kernel's own threads and stub
# processes (about 40 when idle): with only ``limits.pids`` it dies when it needs one more.
# The candidate's processes are then limited inside by RLIMIT_NPROC = ``limits.pids``.
RUNSC_PIDS_OVERHEAD = 512
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SKIPPED = re.compile(r"^takehome-supervise: skipped '(.*)': (.*)$")
_STATS_LINE = re.compile(r"^takehome-supervise: stats (\{.*\})$")

_DOCKER_ERRORS: tuple[type[BaseException], ...] = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    OSError,
)


class Verdict(str, Enum):
    """The host's judgement of one exec."""

    OK = "ok"
    EXIT_NONZERO = "exit_nonzero"
    TIMEOUT = "timeout"
    OOM = "oom"
    PIDS_EXHAUSTED = "pids_exhausted"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"


class Mount(BaseModel):
    """A host path made visible inside the container (read-only unless said otherwise)."""

    model_config = ConfigDict(frozen=True)

    source: Path
    target: str
    read_only: bool = True


class RunResult(BaseModel):
    """What one exec did, as judged on the host."""

    verdict: Verdict
    reason: str
    exit_code: int | None
    wall_time_s: float
    peak_memory_bytes: int | None  # the container's peak so far (cgroup), None when unknown
    stdout_tail: str
    stderr_tail: str
    output_dir: Path | None = None
    output_files: list[str] = Field(default_factory=list)


# --- small helpers -------------------------------------------------------------------------------


def _one_line(exc: BaseException, limit: int = 240) -> str:
    """An exception as one short line (docker errors can be multi-line and very long)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Tail:
    """Keeps the last ``cap`` bytes of a stream and counts the rest (memory stays flat)."""

    def __init__(self, cap: int):
        self.cap = cap
        self.total = 0
        self._buf = bytearray()
        self._lock = threading.Lock()

    def add(self, data: bytes) -> None:
        with self._lock:
            self.total += len(data)
            self._buf += data[-self.cap :]
            if len(self._buf) > 2 * self.cap:
                del self._buf[: len(self._buf) - self.cap]

    def text(self) -> str:
        """The tail as text, at most ``cap`` bytes, prefixed with a note when bytes were cut."""
        with self._lock:
            data = bytes(self._buf[-self.cap :])
            omitted = self.total - len(data)
        if omitted <= 0:
            return data.decode("utf-8", errors="replace")
        marker = f"[… {omitted} earlier bytes not kept …]\n".encode()
        data = data[len(marker) :]
        newline = data.find(b"\n", 0, 512)  # start on a line boundary when one is near
        if newline >= 0:
            data = data[newline + 1 :]
        return (marker + data).decode("utf-8", errors="replace")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _describe_exit(code: int, limits: Limits, stderr_tail: str) -> str:
    """A sentence for a non-zero exit code, naming the limit behind well-known signals."""
    if code == 127 and "command not found" in stderr_tail:
        return "exit code 127 (command not found)"
    if code > 128 and code - 128 < 65:
        sig = code - 128
        text = f"exit code {code} (killed by {_signal_name(sig)})"
        if sig == signal.SIGXFSZ:
            text += f": a file exceeded the size limit of {limits.fsize_mb} MB (fsize_mb)"
        return text
    return f"exit code {code}"


@dataclass
class _ExecOutcome:
    exit_code: int | None
    wall_time_s: float
    stdout: _Tail
    stderr: _Tail
    timed_out: bool = False
    container_killed: bool = False
    error: str | None = None


@dataclass
class _Stats:
    memory_peak: int | None = None
    oom_kill: int | None = None
    pids_max_hits: int | None = None
    full: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> _Stats | None:
        for line in reversed(text.strip().splitlines()):
            try:
                data = json.loads(line)
            except ValueError:
                continue
            if isinstance(data, dict):
                return cls(
                    memory_peak=_int_or_none(data.get("memory_peak")),
                    oom_kill=_int_or_none(data.get("oom_kill")),
                    pids_max_hits=_int_or_none(data.get("pids_max_hits")),
                    full=[str(p) for p in data.get("full", []) if isinstance(p, str)],
                )
        return None


def _cgroup_root_of(controller: str) -> str:
    """This process's own cgroup path for ``controller`` (the host's cgroup namespace root)."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                return path
    except OSError:
        pass
    return "/"


def host_cgroup_stats(container: Any) -> _Stats | None:
    """Memory peak and OOM kills of ``container`` read from this host's cgroup v1 files.

    None when the container's process is not visible here (a remote engine) or the files are
    missing (cgroup v2 hosts keep the in-container counters).
    """
    try:
        container.reload()
        pid = int(container.attrs.get("State", {}).get("Pid") or 0)
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines() if pid > 0 else []
    except (OSError, ValueError, *_DOCKER_ERRORS):
        return None
    memory = next((ln.split(":", 2)[2] for ln in lines
                   if "memory" in ln.split(":", 2)[1].split(",")), None)
    if memory is None or container.id not in memory:
        return None
    own = _cgroup_root_of("memory").rstrip("/")
    paths = [memory] + ([memory[len(own):]] if own and memory.startswith(own + "/") else [])
    base = Path("/sys/fs/cgroup/memory")  # mounted at the hierarchy's root, or at our own cgroup
    folder = next((base / p.lstrip("/") for p in paths if (base / p.lstrip("/")).is_dir()), None)
    if folder is None:
        return None
    try:
        peak = int((folder / "memory.max_usage_in_bytes").read_text())
        control = dict(line.split() for line in
                       (folder / "memory.oom_control").read_text().splitlines() if " " in line)
    except (OSError, ValueError):
        return None
    return _Stats(memory_peak=peak, oom_kill=_int_or_none(int(control["oom_kill"]))
                  if control.get("oom_kill", "").isdigit() else None)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _grew(before: int | None, after: int | None) -> bool:
    return after is not None and after > (before or 0)


# --- engine access -------------------------------------------------------------------------------


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


_API_VERSIONS: dict[str, str] = {}  # engine address -> the API version it negotiated


def docker_client() -> docker.DockerClient:
    """A client for the engine named by the environment, or a one-line EnvironmentProblem.

    The API version is negotiated with an engine once per process (one request fewer for
    every later container).
    """
    address = _engine_address()
    try:
        client = docker.from_env(timeout=API_TIMEOUT_S, version=_API_VERSIONS.get(address))
        client.ping()
    except _DOCKER_ERRORS as exc:
        _API_VERSIONS.pop(address, None)
        raise EnvironmentProblem(
            f"cannot reach the Docker engine at {address}: {_one_line(exc, 160)}",
            hint=ENGINE_HINT,
        ) from None
    _API_VERSIONS.setdefault(address, client.api.api_version)
    return client


@dataclass(frozen=True)
class _EngineFacts:
    """What a session needs to know about the engine and the image before it creates a container."""

    image_env: tuple[tuple[str, str], ...]
    runtimes: frozenset[str]
    cpus: int | None
    memory_bytes: int | None


_FACTS_TTL_S = 60.0  # an image rebuilt under the same tag or a runtime registered is seen soon
_FACTS: dict[tuple[str, str], tuple[float, _EngineFacts]] = {}
_FACTS_LOCK = threading.Lock()


def _engine_facts(client: docker.DockerClient, image_name: str) -> _EngineFacts:
    """The image's ENV and the engine's runtimes and capacity, remembered for a minute: the
    containers of a batch are created from the same image on the same engine."""
    key = (_engine_address(), image_name)
    with _FACTS_LOCK:
        known = _FACTS.get(key)
    if known is not None and time.monotonic() - known[0] < _FACTS_TTL_S:
        return known[1]
    image = client.images.get(image_name)
    info = client.info()
    env = []
    for item in (image.attrs.get("Config") or {}).get("Env") or []:
        name, sep, value = item.partition("=")
        if sep and _ENV_NAME.match(name):
            env.append((name, value))
    facts = _EngineFacts(tuple(env), frozenset(info.get("Runtimes") or {}),
                         _int_or_none(info.get("NCPU")), _int_or_none(info.get("MemTotal")))
    with _FACTS_LOCK:
        _FACTS[key] = (time.monotonic(), facts)
    return facts


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


_LIVE: set[str] = set()  # ids of containers created by this process and not yet removed
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by stop_all_sessions(): no new container may start
STOPPING_REASON = "takehome is stopping (a termination signal arrived)"


def stop_all_sessions(timeout_s: float = 10.0) -> int:
    """Refuse new containers from now on and remove every container this process created.

    Called on SIGINT/SIGTERM/SIGHUP (``harness.termination``). Execs running in the removed
    containers return ``sandbox_error`` at once. Returns how many containers were removed;
    never raises (an unreachable engine leaves them to ``cleanup_stale_containers``).
    """
    with _LIVE_LOCK:
        _STOPPING.set()
        ids = list(_LIVE)
    if not ids:
        return 0
    removed = 0
    try:
        client = docker.from_env(timeout=timeout_s)
    except _DOCKER_ERRORS:
        return 0
    try:
        for cid in ids:
            try:
                client.api.remove_container(cid, force=True, v=True)
                removed += 1
            except docker.errors.NotFound:
                pass
            except _DOCKER_ERRORS:
                continue
            with _LIVE_LOCK:
                _LIVE.discard(cid)
    finally:
        client.close()
    return removed


def allow_new_sessions() -> None:
    """Undo :func:`stop_all_sessions`' refusal (tests that stop and go on in one process)."""
    _STOPPING.clear()


def _refuse_when_stopping() -> None:
    if _STOPPING.is_set():
        raise EnvironmentProblem(f"no new sandbox container: {STOPPING_REASON}")


def _remove_container(container: Any) -> None:
    """Remove a container (force), ignoring one that is already gone."""
    for attempt in range(3):
        try:
            container.remove(force=True, v=True)
            break
        except docker.errors.NotFound:
            break
        except _DOCKER_ERRORS:
            if attempt == 2:
                raise
            time.sleep(0.5)
    with _LIVE_LOCK:
        _LIVE.discard(container.id)


def _remove_live_at_exit() -> None:  # pragma: no cover - runs at interpreter exit
    with _LIVE_LOCK:
        ids = list(_LIVE)
    if not ids:
        return
    try:
        client = docker.from_env(timeout=10)
        for cid in ids:
            try:
                client.api.remove_container(cid, force=True, v=True)
            except _DOCKER_ERRORS:
                pass
    except _DOCKER_ERRORS:
        pass


atexit.register(_remove_live_at_exit)


def cleanup_stale_containers(*, include_live: bool = False) -> int:
    """Remove leftover containers labelled ``takehome.managed=1``; return how many were removed.

    A container is stale when the process that created it (label ``takehome.owner``, host and
    pid) is gone, or is this process but the container is no longer in use, or it has no owner
    label and is not running. Containers owned by
    a live process (e.g. a parallel batch) are kept unless ``include_live`` is True; those of
    another host sharing the engine are kept too.
    """
    client = docker_client()
    removed = 0
    host = socket.gethostname()
    try:
        containers = client.containers.list(all=True, filters={"label": f"{MANAGED_LABEL}=1"})
        for container in containers:
            owner = container.labels.get(OWNER_LABEL, "")
            if not include_live and not _is_stale(owner, container.id, host, container.status):
                continue
            try:
                _remove_container(container)
                removed += 1
            except _DOCKER_ERRORS:
                continue
    except _DOCKER_ERRORS as exc:
        raise EnvironmentProblem(
            f"cannot list sandbox containers: {_one_line(exc)}", hint=ENGINE_HINT
        ) from None
    finally:
        client.close()
    return removed


def _is_stale(owner: str, container_id: str, host: str, status: str) -> bool:
    owner_host, _, pid_text = owner.rpartition(":")
    if not pid_text.isdigit():
        return status != "running"  # no owner label: stale once it is no longer running
    if owner_host != host:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _LIVE_LOCK:
            return container_id not in _LIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


# --- validation before any container starts -----------------------------------------------------


def resolve_runtime(runtime: str | None = None) -> str:
    """``runtime``, else ``$TAKEHOME_RUNTIME``, else ``runc``; EnvironmentProblem when unknown."""
    chosen = (runtime or os.environ.get(RUNTIME_ENV) or "runc").strip()
    if chosen not in RUNTIMES:
        where = "runtime" if runtime else RUNTIME_ENV
        raise EnvironmentProblem(f"unknown sandbox runtime {chosen!r} ({where})",
                                 hint=f"choose one of {', '.join(RUNTIMES)}")
    return chosen


def _docker_socket_paths() -> list[Path]:
    paths = [Path("/var/run/docker.sock"), Path("/run/docker.sock")]
    address = os.environ.get("DOCKER_HOST", "")
    if address.startswith("unix://"):
        paths.append(Path(address[len("unix://") :]))
    return [p.resolve() for p in paths]


def _check_source(source: Path, what: str) -> Path:
    """Resolve a mount source and make sure uid 10001 can read it; raise EnvironmentProblem."""
    path = Path(source).expanduser()
    if not path.exists():
        raise EnvironmentProblem(f"{what} {path} does not exist", hint="check the path")
    resolved = path.resolve()
    info = resolved.stat()
    if stat.S_ISSOCK(info.st_mode):
        raise EnvironmentProblem(f"{what} {path} is a socket; sockets are never mounted")
    for sock in _docker_socket_paths():
        if sock == resolved or resolved in sock.parents:
            raise EnvironmentProblem(
                f"{what} {path} contains the Docker socket {sock}; it cannot be mounted",
                hint="mount a narrower folder",
            )
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(info.st_mode) else 0)
    readable = (info.st_mode & need) == need or (
        info.st_uid == SANDBOX_UID and info.st_mode & stat.S_IRUSR
    )
    if not os.access(resolved, os.R_OK) or not readable:
        raise EnvironmentProblem(
            f"{what} {path} is not readable by the sandbox user (uid {SANDBOX_UID}, "
            f"mode {stat.S_IMODE(info.st_mode):04o})",
            hint=f"make it world-readable: chmod -R o+rX {path}",
        )
    return resolved


def _check_target(target: str, taken: set[str]) -> str:
    posix = PurePosixPath(target)
    if not posix.is_absolute() or ".." in posix.parts or str(posix) == "/":
        raise EnvironmentProblem(f"mount target {target!r} must be an absolute path below /")
    norm = str(posix)
    if norm in taken or any(norm == r or norm.startswith(r + "/") for r in RESERVED_TARGETS):
        raise EnvironmentProblem(f"mount target {norm} is reserved or used twice")
    if any(norm == r or norm.startswith(r + "/") for r in FORBIDDEN_TARGET_ROOTS):
        raise EnvironmentProblem(f"mount target {norm} would shadow a system folder")
    taken.add(norm)
    return norm


def _check_env(env: Mapping[str, str] | None, what: str) -> dict[str, str]:
    clean: dict[str, str] = {}
    for key, value in (env or {}).items():
        if not isinstance(key, str) or not _ENV_NAME.match(key) or key == "TAKEHOME_ALLOWED_ENV":
            raise EnvironmentProblem(f"{what}: invalid environment variable name {key!r}")
        if not isinstance(value, str) or "\x00" in value:
            raise EnvironmentProblem(f"{what}: value of {key} must be a string without NUL bytes")
        clean[key] = value
    return clean


# --- the session ---------------------------------------------------------------------------------


class PendingRemoval:
    """A container being removed by a background thread (see ``SandboxSession(removals=...)``).

    Until it is gone it stays among this process's live containers, so a termination signal
    or the exit handler still removes it.
    """

    def __init__(self, container: Any, client: docker.DockerClient | None):
        self._container, self._client = container, client
        self._thread = threading.Thread(target=self._remove, name="sandbox-remove", daemon=True)
        self._thread.start()

    def _remove(self) -> None:
        try:
            _remove_container(self._container)
        except _DOCKER_ERRORS:
            pass  # cleanup_stale_containers() removes it later (still labelled)
        finally:
            if self._client is not None:
                self._client.close()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until the container is removed (or the removal gave up); False on timeout."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()


def wait_for_removals(removals: list[PendingRemoval], timeout_s: float = 60.0) -> None:
    """Wait for every pending removal in ``removals`` (at most ``timeout_s`` in all)."""
    deadline = time.monotonic() + timeout_s
    for removal in removals:
        removal.wait(max(0.0, deadline - time.monotonic()))



class SandboxSession:
    """One hardened container for one submission; several execs (stages) run in it in turn.

    ``with SandboxSession(image, submission=snapshot) as box: box.exec([...])``. Entering creates
    and starts the container and copies ``/submission`` into the ``/workspace`` tmpfs; leaving
    always removes the container (normal exit, exception, Ctrl-C). Execs are serialised.
    ``SandboxSession.container_starts`` counts containers started by this process (all sessions).

    ``removals``: leaving hands the removal to a background thread and appends its
    :class:`PendingRemoval` to this list, so the caller goes on with the outputs while the
    engine removes the container, and waits for the list later (:func:`wait_for_removals`).
    """

    container_starts: ClassVar[int] = 0
    _starts_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        image: str,
        *,
        submission: Path | None = None,
        mounts: Sequence[Mount] = (),
        limits: Limits = DEFAULT_LIMITS,
        env: Mapping[str, str] | None = None,
        labels: Mapping[str, str] | None = None,
        runtime: str | None = None,
        removals: list[PendingRemoval] | None = None,
    ):
        self.image = image
        self._removals = removals
        self.limits = limits
        self.runtime = resolve_runtime(runtime)
        taken: set[str] = set()
        self._mounts: list[DockerMount] = []
        if submission is not None:
            source = _check_source(Path(submission), "submission")
            if not source.is_dir():
                raise EnvironmentProblem(f"submission {submission} is not a folder")
            self._mounts.append(DockerMount("/submission", str(source), "bind", read_only=True))
            taken.add("/submission")
        for mount in mounts:
            target = _check_target(mount.target, taken)
            source = _check_source(mount.source, f"mount source for {target}")
            self._mounts.append(DockerMount(target, str(source), "bind", read_only=mount.read_only))
        self.submission = submission
        self._env = _check_env(env, "sandbox environment")
        self._labels = {str(k): str(v) for k, v in (labels or {}).items()}
        self._client: docker.DockerClient | None = None
        self._container: Any = None
        self._image_env: dict[str, str] = {}  # ENV declared by the sandbox image itself
        self._stats: _Stats | None = None
        self._dead_reason: str | None = None  # why the container stopped (then restarted)
        self._keep: KeepRules | None = None  # the next copy-out's keep rules
        self._lock = threading.Lock()

    # -- lifecycle --

    @property
    def container_id(self) -> str | None:
        """The running container's id (None outside the ``with`` block)."""
        return None if self._container is None else self._container.id

    def __enter__(self) -> Self:
        self._client = docker_client()
        try:
            self._check_engine()
            self._start_container()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._teardown()

    def _teardown(self) -> None:
        container, self._container = self._container, None
        if container is not None and self._removals is not None:
            client, self._client = self._client, None
            self._removals.append(PendingRemoval(container, client))
            return
        try:
            if container is not None:
                try:
                    _remove_container(container)
                except _DOCKER_ERRORS:
                    pass  # cleanup_stale_containers() removes it later (still labelled)
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None

    def _check_engine(self) -> None:
        assert self._client is not None
        try:
            facts = _engine_facts(self._client, self.image)
        except docker.errors.ImageNotFound:
            raise EnvironmentProblem(
                f"sandbox image {self.image!r} not found", hint=BUILD_HINT
            ) from None
        except _DOCKER_ERRORS as exc:
            raise EnvironmentProblem(
                f"cannot inspect sandbox image {self.image!r}: {_one_line(exc)}", hint=BUILD_HINT
            ) from None
        self._image_env.update(facts.image_env)
        if self.runtime not in facts.runtimes and self.runtime != "runc":
            raise EnvironmentProblem(
                f"the Docker engine at {_engine_address()} has no {self.runtime!r} runtime",
                hint="install and register it: sudo bash sandbox/scripts/ensure_runsc.sh --register",
            )
        self.limits.check_supported(engine_cpus=facts.cpus, engine_memory_bytes=facts.memory_bytes)

    def _base_env(self) -> dict[str, str]:
        """The allow-listed environment: the image's own ENV, then the fixed variables."""
        return {
            **self._image_env,
            "PATH": self._image_env.get("PATH", DEFAULT_PATH),
            "HOME": "/home/candidate",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TZ": "UTC",
            "PYTHONHASHSEED": "0",
            # sitecustomize there seeds random and NumPy for candidate code (same scores on
            # a regrade); takehome's own processes run with -I and ignore it
            "PYTHONPATH": SEED_DIR,
            "MPLBACKEND": "Agg",
            "TAKEHOME_DATA_DIR": "/data",
            "TAKEHOME_OUTPUT_DIR": "/output",
        }

    def _create_kwargs(self) -> dict[str, Any]:
        lim = self.limits
        uid = f"uid={SANDBOX_UID},gid={SANDBOX_UID}"
        labels = {**self._labels, MANAGED_LABEL: "1", OWNER_LABEL: _owner()}
        return {
            "image": self.image,
            "entrypoint": [*PYTHON, SUPERVISOR, "--init"],
            "command": [],
            "name": f"takehome-{uuid.uuid4().hex[:12]}",
            "hostname": "sandbox",
            # gVisor does not shield pid 1 from its namespace's SIGKILL: there the idle init
            # runs as (capability-less) root, which the candidate's uid cannot signal.
            "user": "0:0" if self.runtime == "runsc" else SANDBOX_USER,
            "working_dir": "/",
            "environment": self._base_env(),
            "labels": labels,
            "network_mode": "none",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "read_only": True,
            "privileged": False,
            "tmpfs": {
                "/tmp": f"rw,nosuid,nodev,size={lim.tmp_mb}m,{uid},mode=1777",
                "/home/candidate": f"rw,nosuid,nodev,size={lim.home_mb}m,{uid},mode=0700",
                "/workspace": f"rw,nosuid,nodev,size={lim.workspace_mb}m,{uid},mode=0755",
                "/output": f"rw,nosuid,nodev,noexec,size={lim.output_mb}m,{uid},mode=0755",
            },
            "mounts": list(self._mounts),
            "shm_size": "64m",
            "pids_limit": lim.pids + (RUNSC_PIDS_OVERHEAD if self.runtime == "runsc" else 0),
            "mem_limit": lim.memory_mb * MIB,
            "memswap_limit": lim.memory_mb * MIB,
            "nano_cpus": int(lim.cpus * 1e9),
            "ulimits": [
                Ulimit(name="nofile", soft=lim.nofile, hard=lim.nofile),
                Ulimit(name="fsize", soft=lim.fsize_mb * MIB, hard=lim.fsize_mb * MIB),
                Ulimit(name="core", soft=0, hard=0),
                *([Ulimit(name="nproc", soft=lim.pids, hard=lim.pids)]
                  if self.runtime == "runsc" else []),
            ],
            "oom_score_adj": 500,  # the host's OOM killer prefers sandbox processes
            "log_config": {"type": "none", "config": {}},
            "detach": True,
            **({"runtime": self.runtime} if self.runtime != "runc" else {}),
        }

    def _start_container(self) -> None:
        """Create and start a container, copy the submission in and read baseline counters."""
        assert self._client is not None
        _refuse_when_stopping()
        try:
            self._container = self._client.containers.create(**self._create_kwargs())
            with _LIVE_LOCK:
                _LIVE.add(self._container.id)
                stopping = _STOPPING.is_set()
            if stopping:  # stop_all_sessions() ran while this one was being created
                _remove_container(self._container)
                self._container = None
                _refuse_when_stopping()
            self._container.start()
        except docker.errors.ImageNotFound:
            raise EnvironmentProblem(
                f"sandbox image {self.image!r} not found", hint=BUILD_HINT
            ) from None
        except _DOCKER_ERRORS as exc:
            raise EnvironmentProblem(
                f"cannot start a sandbox container from {self.image!r}: {_one_line(exc)}",
                hint="run `takehome sandbox doctor`",
            ) from None
        with SandboxSession._starts_lock:
            SandboxSession.container_starts += 1
        self._dead_reason = None
        if self.submission is not None:  # the copy also reads the baseline counters
            check = self._copy_submission()
        else:
            check = self._run_helper(["--reap", "--stats"], HELPER_TIMEOUT_S)
        stats = _Stats.parse(check.stdout.text()) if check.exit_code == 0 else None
        if check.exit_code == 0 and stats is None:
            # The helper succeeded but its one line of output never arrived (seen once in CI,
            # Docker 20.10 under load: a short exec's output stream came back empty). The
            # copy is done; only the counters are read again, once.
            self._stats = self._read_stats()
        else:
            self._stats = self._complete(stats)
        if self._stats is None:
            self._raise_broken_image(check)

    def _raise_broken_image(self, outcome: _ExecOutcome) -> NoReturn:
        """The in-container supervisor does not work: a wrong or stale image."""
        lines = outcome.stderr.text().strip().splitlines()
        detail = lines[-1] if lines else outcome.error or f"exit code {outcome.exit_code}"
        state = "" if self._alive() else "; the container stopped right after starting"
        raise EnvironmentProblem(
            f"the sandbox supervisor does not run in {self.image!r}: {_one_line(Exception(detail))}"
            f"{state} (is {SUPERVISOR} in the image?)",
            hint=BUILD_HINT,
        )

    def _copy_submission(self) -> _ExecOutcome:
        """Copy /submission to /workspace; the outcome's stdout holds the baseline counters."""
        outcome = self._run_helper(
            ["--copy", "/submission", "/workspace", "--stats"], COPY_TIMEOUT_S
        )
        if outcome.exit_code == 0:
            return outcome
        detail = outcome.stderr.text().strip().splitlines()
        message = detail[-1] if detail else (outcome.error or "no message")
        if outcome.exit_code == EXIT_NO_SPACE:
            raise SubmissionRejected(
                f"submission {self.submission} does not fit in the sandbox workspace "
                f"({self.limits.workspace_mb} MB)",
                hint="raise limits.workspace_mb or remove large files from the submission",
            )
        if "can't open file" in message or not self._alive():
            self._raise_broken_image(outcome)
        raise EnvironmentProblem(
            f"cannot copy the submission into the sandbox: {message}",
            hint=f"make the snapshot world-readable (chmod -R o+rX {self.submission})",
        )

    def _alive(self) -> bool:
        if self._container is None:
            return False
        try:
            self._container.reload()
        except _DOCKER_ERRORS:
            return False
        return self._container.status == "running"

    def _alive_after_settling(self, wait_s: float = 3.0) -> bool:
        """Whether the container still runs, once the engine has caught up.

        Called when the counters could not be read after an exec: a container killed from
        outside can still be listed as running for a moment on a loaded engine, and judging
        then would blame the candidate (exit 137) for the engine's fault.
        """
        deadline = time.monotonic() + wait_s
        while self._alive():
            if time.monotonic() >= deadline:
                return True
            time.sleep(0.2)
        return False

    def _ensure_running(self) -> str:
        """Start a fresh container when the previous one died; return a note for the reason."""
        if self._dead_reason is None and self._alive():
            return ""
        why = self._dead_reason or "it stopped unexpectedly"
        old, self._container = self._container, None
        if old is not None:
            try:
                _remove_container(old)
            except _DOCKER_ERRORS:
                pass
        self._start_container()
        return f" (ran in a fresh container: the previous one was removed because {why})"

    # -- execs --

    def _exec_env(self, extra: Mapping[str, str]) -> dict[str, str]:
        env = {**self._base_env(), **self._env, **extra}
        env["TAKEHOME_ALLOWED_ENV"] = ",".join(sorted(env))
        return env

    def _start_exec(self, argv: list[str], env: Mapping[str, str]) -> tuple[str, Any]:
        assert self._client is not None and self._container is not None
        api = self._client.api
        exec_id = api.exec_create(
            self._container.id,
            argv,
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            user=SANDBOX_USER,
            environment=dict(env),
            workdir="/",
        )["Id"]
        stream = api.exec_start(exec_id, stream=True, demux=True)
        return exec_id, stream

    def _exit_code(self, exec_id: str) -> int | None:
        assert self._client is not None
        for _ in range(50):
            try:
                info = self._client.api.exec_inspect(exec_id)
            except _DOCKER_ERRORS:
                return None
            if not info.get("Running"):
                return _int_or_none(info.get("ExitCode"))
            time.sleep(0.05)
        return None

    def _pump(
        self,
        argv: list[str],
        env: Mapping[str, str],
        timeout_s: float,
        on_timeout: Callable[[_ExecOutcome, threading.Thread], None] | None = None,
    ) -> _ExecOutcome:
        """Run one exec, keeping capped tails, and stop it at ``timeout_s``."""
        tail = self.limits.tail_bytes
        outcome = _ExecOutcome(None, 0.0, _Tail(tail), _Tail(tail))
        started = time.monotonic()
        try:
            exec_id, stream = self._start_exec(argv, env)
        except _DOCKER_ERRORS as exc:
            outcome.error = f"cannot start the exec: {_one_line(exc)}"
            return outcome
        failure: list[BaseException] = []

        def pump() -> None:
            try:
                for out, err in stream:
                    if out:
                        outcome.stdout.add(out)
                    if err:
                        outcome.stderr.add(err)
            except BaseException as exc:  # noqa: BLE001 - reported as a sandbox fault
                failure.append(exc)

        reader = threading.Thread(target=pump, name="takehome-exec-pump", daemon=True)
        reader.start()
        try:
            reader.join(timeout_s)
            if reader.is_alive():
                outcome.timed_out = True
                (on_timeout or self._stop_runaway)(outcome, reader)
        finally:
            if reader.is_alive():
                stream.close()
                reader.join(2.0)
        outcome.wall_time_s = round(time.monotonic() - started, 3)
        if failure and not outcome.timed_out:
            outcome.error = f"lost the exec's output stream: {_one_line(failure[0])}"
        if not outcome.container_killed:
            outcome.exit_code = self._exit_code(exec_id)
        return outcome

    def _stop_runaway(self, outcome: _ExecOutcome, reader: threading.Thread) -> None:
        """After a timeout: kill the candidate's processes; kill the container if that fails."""
        reap = self._pump(
            [*PYTHON, SUPERVISOR, "--reap"],
            self._exec_env({}),
            REAP_TIMEOUT_S,
            on_timeout=lambda _o, _r: None,
        )
        if reap.exit_code == 0:
            reader.join(REAP_GRACE_S)
        if reader.is_alive():
            self._kill_container("a stage timed out and its processes could not be stopped")
            outcome.container_killed = True
            reader.join(5.0)

    def _kill_container(self, why: str) -> None:
        self._dead_reason = why
        try:
            self._container.kill()
        except _DOCKER_ERRORS:
            pass

    def _run_helper(self, args: list[str], timeout_s: float) -> _ExecOutcome:
        return self._pump(
            [*PYTHON, SUPERVISOR, *args],
            self._exec_env({}),
            timeout_s,
            on_timeout=lambda _o, _r: None,
        )

    def _read_stats(self) -> _Stats | None:
        """Kill leftovers, then read the cgroup counters (None when they cannot be read)."""
        outcome = self._run_helper(["--reap", "--stats"], HELPER_TIMEOUT_S)
        if outcome.exit_code != 0:
            return None
        return self._complete(_Stats.parse(outcome.stdout.text()))

    def _complete(self, stats: _Stats | None) -> _Stats | None:
        """Under gVisor the guest sees no cgroup files: read the counters on the host instead.

        Only when the engine runs on this machine (the container's process is visible here and
        its cgroup names the container); otherwise the counters stay unknown (None), and the
        verdicts say so rather than guess.
        """
        if stats is None or self.runtime != "runsc" or self._container is None:
            return stats
        host = host_cgroup_stats(self._container)
        if host is not None:
            stats.memory_peak = host.memory_peak
            stats.oom_kill = host.oom_kill
            stats.pids_max_hits = None  # host pids count the sandbox kernel's threads too
        return stats

    def exec(
        self,
        command: Sequence[str],
        *,
        timeout_s: float | None = None,
        workdir: str = "/workspace",
        env: Mapping[str, str] | None = None,
    ) -> RunResult:
        """Run ``command`` in the container as the candidate user and judge it on the host.

        ``timeout_s`` defaults to ``limits.wall_time_s``. Never raises for candidate behaviour;
        harness faults come back as ``sandbox_error``.
        """
        return self._exec_checked(command, timeout_s, workdir, env, None)[0]

    def exec_then_collect(
        self,
        command: Sequence[str],
        dest: Path,
        *,
        timeout_s: float | None = None,
        workdir: str = "/workspace",
        env: Mapping[str, str] | None = None,
        keep: KeepRules | None = None,
    ) -> tuple[RunResult, CopyReport]:
        """:meth:`exec`, then :meth:`collect_output` into ``dest``, with one exec fewer.

        For a session's last command: the copy-out kills every leftover process and reads the
        cgroup counters the verdict needs, so no separate counters exec runs in between.
        ``keep``: which files are written to the host (see :class:`sandbox.copyout.KeepRules`).
        Raises ValueError like :meth:`collect_output` when ``dest`` is unusable.
        """
        check_dest(Path(dest))
        self._keep = keep
        result, report = self._exec_checked(command, timeout_s, workdir, env, Path(dest))
        assert report is not None
        return result, report

    def _exec_checked(
        self,
        command: Sequence[str],
        timeout_s: float | None,
        workdir: str,
        env: Mapping[str, str] | None,
        dest: Path | None,
    ) -> tuple[RunResult, CopyReport | None]:
        if isinstance(command, str) or not command or not all(isinstance(a, str) for a in command):
            raise ValueError("command must be a non-empty sequence of strings")
        if self._container is None:
            raise RuntimeError("SandboxSession.exec() must be called inside `with SandboxSession`")
        extra = _check_env(env, "exec environment")
        timeout = float(timeout_s if timeout_s is not None else self.limits.wall_time_s)
        with self._lock:
            try:
                return self._exec_locked(list(command), timeout, workdir, extra, dest)
            except Exception as exc:  # noqa: BLE001 - a harness fault, never the candidate's
                why = f"sandbox fault: {type(exc).__name__}: {_one_line(exc)}"
                report = None if dest is None else CopyReport(dest=dest, error=why)
                return self._error_result(why), report

    def _exec_locked(
        self,
        command: list[str],
        timeout: float,
        workdir: str,
        extra: dict[str, str],
        dest: Path | None,
    ) -> tuple[RunResult, CopyReport | None]:
        try:
            note = self._ensure_running()
        except (EnvironmentProblem, SubmissionRejected) as exc:
            result = self._error_result(f"cannot restart the sandbox container: {exc}")
            return result, None if dest is None else self._collect_locked(dest)[0]
        argv = [*PYTHON, SUPERVISOR, "--workdir", workdir, "--timeout", f"{timeout:g}"]
        outcome = self._pump(
            [*argv, "--", *command], self._exec_env(extra), timeout + SUPERVISOR_GRACE_S
        )
        if outcome.exit_code == EXIT_TIMEOUT and outcome.wall_time_s >= timeout:
            outcome.timed_out = True  # the supervisor's own timer fired (the usual case)
        if outcome.timed_out:
            outcome.exit_code = None
        before = self._stats
        after: _Stats | None = None
        report = None
        if dest is not None:  # the copy-out also kills leftovers and reads the counters
            report, after = self._collect_locked(dest, read_stats=True)
        if after is None and not outcome.container_killed:
            after = self._read_stats()
        lost = False
        if after is not None:
            self._stats = after
        elif not outcome.container_killed and not self._alive_after_settling():
            self._dead_reason = "it stopped during a stage"
            lost = True
        verdict, reason = self._judge(outcome, timeout, before, after, lost)
        peak = after.memory_peak if after else (before.memory_peak if before else None)
        result = RunResult(
            verdict=verdict,
            reason=reason + note,
            exit_code=outcome.exit_code,
            wall_time_s=outcome.wall_time_s,
            peak_memory_bytes=peak,
            stdout_tail=outcome.stdout.text(),
            stderr_tail=outcome.stderr.text(),
        )
        return result, report

    def _error_result(self, reason: str) -> RunResult:
        return RunResult(
            verdict=Verdict.SANDBOX_ERROR,
            reason=reason,
            exit_code=None,
            wall_time_s=0.0,
            peak_memory_bytes=None,
            stdout_tail="",
            stderr_tail="",
        )

    def _container_oom_killed(self) -> bool:
        try:
            self._container.reload()
            return bool(self._container.attrs.get("State", {}).get("OOMKilled"))
        except _DOCKER_ERRORS:
            return False

    def _judge(
        self,
        outcome: _ExecOutcome,
        timeout: float,
        before: _Stats | None,
        after: _Stats | None,
        container_lost: bool = False,
    ) -> tuple[Verdict, str]:
        """Turn the exit code, the timer and the cgroup counters into a verdict and a reason.

        ``container_lost``: the container stopped during the exec without the host killing it.
        """
        lim = self.limits
        oom = _grew(before and before.oom_kill, after and after.oom_kill)
        pids = _grew(before and before.pids_max_hits, after and after.pids_max_hits)
        if after is None and self._dead_reason and self._container_oom_killed():
            oom = True
        if container_lost and not outcome.timed_out and not oom:
            return Verdict.SANDBOX_ERROR, (
                "sandbox fault: the container stopped during the stage (it was killed or removed "
                "outside takehome, or the engine failed)"
            )
        notes = []
        if oom:
            notes.append(f"the memory limit of {lim.memory_mb} MB was hit (OOM kill)")
        if pids:
            notes.append(f"the process limit of {lim.pids} was hit")
        for path in after.full if after else []:
            notes.append(f"{path} is full")
        if outcome.exit_code not in (0, None) and (after is None or after.pids_max_hits is None):
            notes.append("whether the process limit was hit is unknown (no counter"
                         + (" under gVisor)" if self.runtime == "runsc" else ")"))
        extra = ("; " + "; ".join(notes)) if notes else ""
        if outcome.timed_out:
            return Verdict.TIMEOUT, (
                f"wall-clock limit of {timeout:g} s exceeded; all processes were killed{extra}"
            )
        if outcome.error is not None:
            return Verdict.SANDBOX_ERROR, f"sandbox fault: {outcome.error}"
        code = outcome.exit_code
        if code is None:
            if oom:
                return Verdict.OOM, (
                    f"memory limit of {lim.memory_mb} MB exceeded; the container was killed by "
                    "the kernel OOM killer"
                )
            return Verdict.SANDBOX_ERROR, (
                "sandbox fault: the exec's exit code is unknown (the container stopped)"
            )
        if code == 0:
            return Verdict.OK, "exit code 0" + extra
        described = _describe_exit(code, lim, outcome.stderr.text())
        if oom:
            return Verdict.OOM, (
                f"memory limit of {lim.memory_mb} MB exceeded: the kernel OOM killer killed a "
                f"process; {described}"
            )
        if pids:
            return Verdict.PIDS_EXHAUSTED, (
                f"process limit of {lim.pids} reached: creating a process or thread failed; "
                f"{described}"
            )
        if after and "/output" in after.full:
            return Verdict.OUTPUT_LIMIT, (
                f"the output area (/output, {lim.output_mb} MB) is full; {described}"
            )
        return Verdict.EXIT_NONZERO, described + extra

    # -- copy-out --

    def collect_output(self, dest: Path, keep: KeepRules | None = None) -> CopyReport:
        """Copy the container's ``/output`` to ``dest`` (absent or empty) through a checked tar.

        Returns the :class:`CopyReport`: ``ok`` False means a violation (links, devices, FIFOs,
        unsafe names, size or count cap -> verdict ``output_limit``); ``error`` set means a
        harness fault (-> ``sandbox_error``). Kills any leftover candidate process first.
        Raises ValueError when ``dest`` is a symbolic link or a non-empty folder.
        """
        if self._container is None:
            raise RuntimeError("collect_output() must be called inside `with SandboxSession`")
        with self._lock:
            self._keep = keep
            return self._collect_locked(Path(dest))[0]

    def _collect_locked(
        self, dest: Path, *, read_stats: bool = False
    ) -> tuple[CopyReport, _Stats | None]:
        """The copy-out, and with ``read_stats`` the counters read right after it (or None)."""
        if self._dead_reason is not None or not self._alive():
            why = self._dead_reason or "it stopped"
            error = f"/output could not be collected: the container was removed because {why}"
            return _nothing_copied(dest, error), None
        try:
            return self._copy_out(dest, read_stats)
        except ValueError:
            raise  # the destination itself is unusable: the caller's mistake
        except Exception as exc:  # noqa: BLE001 - a harness fault, never the candidate's
            error = f"copy-out fault: {type(exc).__name__}: {_one_line(exc)}"
            return CopyReport(dest=dest, error=error), None

    def _copy_out(self, dest: Path, read_stats: bool) -> tuple[CopyReport, _Stats | None]:
        lim = self.limits
        stderr = _Tail(lim.tail_bytes)
        argv = [*PYTHON, SUPERVISOR, "--tar", "/output", *(["--stats"] if read_stats else [])]
        try:
            exec_id, stream = self._start_exec(argv, self._exec_env({}))
        except _DOCKER_ERRORS as exc:
            return _nothing_copied(dest, f"cannot start the copy-out: {_one_line(exc)}"), None
        watchdog = threading.Timer(COPY_TIMEOUT_S, stream.close)
        watchdog.daemon = True
        watchdog.start()
        try:
            reader = _StdoutReader(stream, stderr)
            report = extract_tar_stream(
                reader, dest, max_bytes=lim.output_mb * MIB, max_files=lim.output_files,
                keep=self._keep,
            )
            if report.ok:  # let the tar writer finish (end-of-archive padding) before closing
                _drain(reader, limit=MIB)
        finally:
            watchdog.cancel()
            stream.close()
        stats = None
        for line in stderr.text().splitlines():
            match = _SKIPPED.match(line)
            if match:
                report.rejected.append(
                    RejectedEntry(name=match.group(1), kind="other", reason=match.group(2))
                )
            counters = _STATS_LINE.match(line)
            if counters:  # only the supervisor writes to this exec's stderr
                stats = self._complete(_Stats.parse(counters.group(1)))
        if report.ok:
            code = self._exit_code(exec_id)
            if code not in (0, None):
                report.error = (
                    f"copy-out failed (exit code {code}): {_one_line(Exception(stderr.text()))}"
                )
        return report, (stats if report.ok and report.error is None else None)


def _drain(reader: _StdoutReader, *, limit: int) -> None:
    """Read ``reader`` to its end, giving up after ``limit`` bytes."""
    seen = 0
    while seen <= limit:
        chunk = reader.read(65536)
        if not chunk:
            return
        seen += len(chunk)


class _EmptyStream:
    def read(self, size: int = -1) -> bytes:
        return b""


def _nothing_copied(dest: Path, error: str) -> CopyReport:
    """A failed copy-out's report; ``dest`` is still created empty, as a copy-out would."""
    report = extract_tar_stream(_EmptyStream(), dest, max_bytes=1, max_files=1)
    report.error = error
    return report


class _StdoutReader:
    """A file object over an exec's demuxed frames: stdout is read, stderr goes to a tail."""

    def __init__(self, frames: Any, stderr: _Tail):
        self._frames: Iterator[tuple[bytes | None, bytes | None]] = iter(frames)
        self._stderr = stderr
        self._buf = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        while not self._buf:
            try:
                out, err = next(self._frames)
            except StopIteration:
                return b""
            if err:
                self._stderr.add(err)
            if out:
                self._buf = memoryview(out)
        if size is None or size < 0:
            size = len(self._buf)
        data, self._buf = self._buf[:size], self._buf[size:]
        return bytes(data)


def run_in_sandbox(
    command: Sequence[str],
    *,
    image: str,
    submission: Path | None = None,
    mounts: Sequence[Mount] = (),
    limits: Limits = DEFAULT_LIMITS,
    output_dest: Path | None = None,
    env: Mapping[str, str] | None = None,
    keep: KeepRules | None = None,
    runtime: str | None = None,
) -> RunResult:
    """Run one command in a fresh container, collect ``/output`` into ``output_dest``, remove it.

    An output violation (links, devices, unsafe names, size or count cap) turns an ``ok`` or
    ``exit_nonzero`` verdict into ``output_limit``; other verdicts keep priority and the reason
    says what was rejected. Raises like :class:`SandboxSession` before any container starts.
    """
    with SandboxSession(
        image, submission=submission, mounts=mounts, limits=limits, env=env, runtime=runtime
    ) as session:
        if output_dest is None:
            return session.exec(command, timeout_s=limits.wall_time_s)
        result, report = session.exec_then_collect(
            command, Path(output_dest), timeout_s=limits.wall_time_s, keep=keep
        )
    update: dict[str, Any] = {"output_dir": Path(output_dest), "output_files": report.files}
    if report.error is not None:
        update["reason"] = f"{result.reason}; {report.error}"
        if result.verdict == Verdict.OK:
            update["verdict"] = Verdict.SANDBOX_ERROR
    elif not report.ok:
        update["reason"] = f"{result.reason}; {report.violation_reason()}"
        if result.verdict in (Verdict.OK, Verdict.EXIT_NONZERO):
            update["verdict"] = Verdict.OUTPUT_LIMIT
    return result.model_copy(update=update)
