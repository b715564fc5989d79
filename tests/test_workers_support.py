"""Helpers for the worker tests (no tests here): a private redis-server, `takehome worker`
processes and a reader of the broker's queue. Everything listens on loopback only."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TAKEHOME = Path(sys.executable).with_name("takehome")
REDIS_SERVER = shutil.which("redis-server")

needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None,
    reason="redis-server is not installed (sandbox/scripts/ensure_redis.sh installs it)")


def trivial_submissions(folder: Path, count: int, start: int = 0) -> list[Path]:
    """Distinct tiny diabetes-progression notebooks (a few seconds each in the sandbox)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from bench.common import write_trivial_submission

    return [write_trivial_submission(folder / f"tiny{start + i:02d}", offset=0.25 + start + i)
            for i in range(count)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of our own on a free loopback port (no persistence unless asked)."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = open(self.folder / "redis.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)


class Worker:
    """One `takehome worker` subprocess with its own scratch folder and log."""

    def __init__(self, broker: str, folder: Path, name: str, concurrency: int = 1):
        self.broker, self.folder, self.name, self.concurrency = broker, folder, name, concurrency
        self.log_path = folder / f"{name}.log"
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self, wait: bool = True) -> Worker:
        env = {**os.environ, "TAKEHOME_WORKER_DIR": str(self.folder / self.name)}
        env.pop("TAKEHOME_BROKER", None)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [str(TAKEHOME), "worker", "--broker", self.broker, "--concurrency",
             str(self.concurrency)], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO)
        if wait:
            self.wait_ready()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def owner(self) -> str:
        return f"{socket.gethostname()}:{self.pid}"

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the worker registered in the broker (it built/found the image first)."""
        import redis

        client = redis.Redis.from_url(self.broker)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited: {self.log()[-2000:]}")
            if client.zscore("takehome:workers", self.owner) is not None:
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker {self.name} not ready: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def jobs(self, status: str = "ok") -> list[str]:
        """Job ids this worker logged with ``status`` (its whole log, restarts included)."""
        found = []
        for line in self.log().splitlines():
            parts = line.split()
            if "job" in parts and len(parts) > parts.index("job") + 2:
                at = parts.index("job")
                if parts[at + 2].rstrip(":") == status:
                    found.append(parts[at + 1])
        return found

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def containers_of(owner: str) -> list:
    """Sandbox containers labelled as created by ``owner`` (host:pid), running or not."""
    import docker

    client = docker.from_env()
    try:
        return client.containers.list(all=True, filters={"label": f"takehome.owner={owner}"})
    finally:
        client.close()


def pop_job(client, timeout: float = 30) -> dict | None:
    """Take the next job message off the queue, as a (hostile) worker would; its JobRequest."""
    item = client.brpop(["takehome"], timeout=timeout)
    if item is None:
        return None
    envelope = json.loads(item[1])
    body = json.loads(base64.b64decode(envelope["body"]))
    args = body[0]
    return args[0]
