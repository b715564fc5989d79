"""A private Docker engine for tests that stop, restart or reconfigure one (never the shared one).

``PrivateEngine.shared()`` starts, once per test session, a ``dockerd`` of its own: its own
socket, data root, exec root and pid file under a temporary folder, its own bridge interface
(never ``--bridge=none``: dockerd then deletes the host's ``docker0``, which the shared engine
uses) and no iptables (sandbox containers use no network), and the ``runsc`` runtime registered
when ``/usr/bin/runsc`` exists. The sandbox image is copied into it with ``docker save | docker load``. The engine is
stopped and its folder removed when the session ends. Tests point takehome at it with
``DOCKER_HOST=<engine.address>`` (in a child process, so the test process keeps the shared
engine).

``skip_reason`` says why it could not start (not root, no dockerd, a start-up failure); tests
skip with it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

RUNSC = Path("/usr/bin/runsc")
RUNSC_ARGS = ("--network=none",)  # sandbox containers have no network: gVisor's stack is off
START_TIMEOUT_S = 60


class PrivateEngine:
    """One private dockerd (see the module docstring)."""

    _instance: PrivateEngine | None = None
    _failure: str | None = None

    def __init__(self, root: Path, *, with_runsc: bool = True):
        self.root = root
        self.with_runsc = with_runsc
        self.socket = root / "docker.sock"
        self.address = f"unix://{self.socket}"
        self.pidfile = root / "dockerd.pid"
        self.log = root / "dockerd.log"
        self.process: subprocess.Popen | None = None
        self.image: str | None = None
        self.bridge = f"thpe{os.getpid() % 100000}"  # an interface name: at most 15 characters

    # -- the session's one engine --

    @classmethod
    def shared(cls, image: str) -> PrivateEngine:
        """The session's engine with ``image`` loaded; raises RuntimeError(reason) when impossible."""
        if cls._failure:
            raise RuntimeError(cls._failure)
        if cls._instance is None:
            try:
                cls._instance = cls._start_new()
                cls._instance.load_image(image)
            except RuntimeError as exc:
                cls._failure = str(exc)
                if cls._instance is not None:
                    cls._instance.destroy()
                    cls._instance = None
                raise
            atexit.register(cls._instance.destroy)
        return cls._instance

    @classmethod
    def _start_new(cls) -> PrivateEngine:
        if os.geteuid() != 0:
            raise RuntimeError("a private dockerd needs root")
        if shutil.which("dockerd") is None and not Path("/usr/sbin/dockerd").exists():
            raise RuntimeError("dockerd is not installed")
        engine = cls(Path(tempfile.mkdtemp(prefix="takehome-engine-", dir="/tmp")))
        engine.start()
        return engine

    # -- lifecycle --

    def command(self) -> list[str]:
        """The dockerd command line."""
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        # Its own bridge: with --bridge=none dockerd deletes the host's docker0 at start,
        # which the shared engine needs (builds run on the default bridge).
        # setpriv --pdeathsig: the engine stops when the test process dies, even by SIGKILL
        # (a killed run leaves no private dockerd, containers or runsc sandboxes running).
        argv = [*(["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []),
                dockerd, "--host", self.address, "--data-root", str(self.root / "data"),
                "--exec-root", str(self.root / "exec"), "--pidfile", str(self.pidfile),
                f"--bridge={self.bridge}", "--iptables=false", "--ip-masq=false",
                "--cgroup-parent=takehome-private-engine"]
        config = self.root / "daemon.json"
        if not config.exists():  # as ensure_runsc.sh --register writes it (runtimeArgs need a file)
            runtimes = ({"runsc": {"path": str(RUNSC), "runtimeArgs": list(RUNSC_ARGS)}}
                        if RUNSC.exists() and self.with_runsc else {})
            config.write_text(json.dumps({"runtimes": runtimes, "log-level": "warn"}))
        argv.append(f"--config-file={config}")
        return argv

    def _ensure_bridge(self) -> None:
        if Path(f"/sys/class/net/{self.bridge}").exists():
            return
        for args in (["link", "add", self.bridge, "type", "bridge"],
                     ["addr", "add", "10.213.213.1/24", "dev", self.bridge],
                     ["link", "set", self.bridge, "up"]):
            done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"cannot create the bridge {self.bridge}: {done.stderr.strip()}")

    def start(self) -> None:
        """Start dockerd and wait until it answers; RuntimeError with its log tail otherwise."""
        self._ensure_bridge()
        env = {**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"}
        env.pop("DOCKER_HOST", None)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, env=env,
                                            start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.docker("info", check=False, timeout=10).returncode == 0:
                return
            time.sleep(0.5)
        tail = self.log.read_text(errors="replace")[-800:]
        self.stop()
        raise RuntimeError(f"the private dockerd did not answer: {tail}")

    def stop(self, timeout: float = 60) -> None:
        """Stop this dockerd (SIGTERM, then SIGKILL) and wait for it to exit."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        """Stop and start again (same data root: images and stopped containers survive)."""
        self.stop()
        self.start()

    def destroy(self) -> None:
        """Stop the engine and remove its folder (unmounting what it left mounted)."""
        self.stop()
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            mounts = Path("/proc/mounts").read_text().splitlines()
            for line in reversed(mounts):
                target = line.split()[1]
                if target.startswith(str(self.root)):
                    subprocess.run(["umount", "-l", target], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)

    # -- use --

    def docker(self, *args: str, check: bool = True, timeout: float = 120,
               **kwargs) -> subprocess.CompletedProcess:
        """Run the docker CLI against this engine."""
        return subprocess.run(["docker", "--host", self.address, *args], check=check,
                              capture_output=True, timeout=timeout, **kwargs)

    def load_image(self, image: str) -> None:
        """Copy ``image`` and its base from the shared engine into this one (once).

        The base matters: the sandbox tag hashes the resolved base image, so without it takehome
        would resolve another base here and build a new tag.
        """
        shared_env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        label = subprocess.run(
            ["docker", "image", "inspect", "-f", '{{index .Config.Labels "org.takehome.base"}}',
             image], capture_output=True, text=True, env=shared_env, check=False).stdout.strip()
        base = label.split("@", 1)[0]
        for name in ([base] if base and base != "<no value>" else []) + [image]:
            self._load_one(name, shared_env)
        self.image = image

    def _load_one(self, image: str, shared_env: dict[str, str]) -> None:
        if self.docker("image", "inspect", image, check=False).returncode == 0:
            return
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE, env=shared_env)
        try:
            loaded = subprocess.run(["docker", "--host", self.address, "load"], stdin=save.stdout,
                                    capture_output=True, timeout=600, check=False)
        finally:
            if save.stdout is not None:
                save.stdout.close()
            save.wait(60)
        if loaded.returncode != 0 or save.returncode != 0:
            raise RuntimeError(f"cannot load {image} into the private engine: "
                               f"{loaded.stderr.decode(errors='replace')[-400:]}")

    def runtimes(self) -> list[str]:
        """The runtimes this engine knows."""
        done = self.docker("info", "--format", "{{json .Runtimes}}", check=False)
        try:
            return sorted(json.loads(done.stdout or b"{}"))
        except ValueError:
            return []

    def env(self) -> dict[str, str]:
        """The environment of a takehome child process that uses this engine."""
        return {**os.environ, "DOCKER_HOST": self.address}
