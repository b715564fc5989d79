"""gVisor (runsc): registration by ensure_runsc.sh, the doctor's finding, sandboxes under it.

Everything that needs an engine uses a private dockerd of the test's own
(tests/private_engine.py): the shared engine is never reconfigured or signalled. The adversarial
suite under runsc is tests/test_sandbox_adversarial.py (parametrised by runtime).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from private_engine import RUNSC, PrivateEngine

from sandbox.doctor import runsc_platform

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "sandbox" / "scripts" / "ensure_runsc.sh"

needs_runsc = pytest.mark.skipif(not RUNSC.exists(), reason="runsc is not installed "
                                 "(bash sandbox/scripts/ensure_runsc.sh installs it)")


@pytest.mark.parametrize(("runtime", "version", "expected"), [
    ({"runtimeArgs": ["--network=none", "--platform=systrap"]}, "", "systrap (runtimeArgs)"),
    ({}, "runsc version 0.0~20221219.0", "ptrace (the default of release 20221219)"),
    ({}, "runsc version release-20240212.0", "systrap (the default of release 20240212)"),
    ({}, "runsc version unknown", "unknown (runsc --version gave no release date)"),
])
def test_the_platform_comes_from_runtime_args_or_the_release_default(runtime, version, expected):
    assert runsc_platform(runtime, version) == expected


def test_an_unknown_runtime_is_a_one_line_environment_problem(monkeypatch):
    from contracts.errors import EnvironmentProblem
    from sandbox.runner import resolve_runtime

    monkeypatch.setenv("TAKEHOME_RUNTIME", "kata")
    with pytest.raises(EnvironmentProblem) as raised:
        resolve_runtime()
    assert "unknown sandbox runtime 'kata' (TAKEHOME_RUNTIME)" in str(raised.value)
    assert resolve_runtime("runsc") == "runsc"


@pytest.mark.docker
@needs_runsc
def test_register_merges_daemon_json_and_reloads_the_engine_without_a_restart():
    if os.geteuid() != 0:
        pytest.skip("a private dockerd needs root")
    engine = PrivateEngine(Path(tempfile.mkdtemp(prefix="takehome-engine-", dir="/tmp")),
                           with_runsc=False)
    try:
        engine.start()
        assert "runsc" not in engine.runtimes()
        pid = engine.process.pid
        env = {**os.environ, "DOCKER_HOST": engine.address,
               "TAKEHOME_DAEMON_JSON": str(engine.root / "daemon.json"),
               "TAKEHOME_DOCKERD_PID": str(pid)}
        done = subprocess.run(["bash", str(SCRIPT), "--register"], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "registered with the Docker engine" in done.stdout
        assert "runsc" in engine.runtimes()
        assert engine.process.poll() is None and engine.process.pid == pid  # reloaded, not restarted
        config = json.loads((engine.root / "daemon.json").read_text())
        assert config["log-level"] == "warn"  # other settings kept
        assert config["runtimes"]["runsc"] == {"path": str(RUNSC), "runtimeArgs": ["--network=none"]}
        again = subprocess.run(["bash", str(SCRIPT), "--register"], env=env, capture_output=True,
                               text=True, timeout=60, check=False)
        assert again.returncode == 0 and "already registered" in again.stdout
        check = subprocess.run(["bash", str(SCRIPT), "--check"], env=env, capture_output=True,
                               text=True, timeout=60, check=False)
        assert check.returncode == 0
    finally:
        engine.destroy()


@pytest.fixture(scope="module")
def engine(sandbox_image) -> PrivateEngine:
    if not RUNSC.exists():
        pytest.skip("runsc is not installed")
    try:
        return PrivateEngine.shared(sandbox_image)
    except RuntimeError as exc:
        pytest.skip(f"no private Docker engine: {exc}")


@pytest.mark.docker
def test_doctor_says_runsc_works_and_names_the_platform(engine):
    done = subprocess.run([sys.executable, "-m", "harness.cli", "sandbox", "doctor"], cwd=REPO,
                          env=engine.env(), capture_output=True, text=True, timeout=180,
                          check=False)
    line = next((ln for ln in done.stdout.splitlines() if "gvisor" in ln), "")
    assert line.startswith("ok") and "runsc works" in line, done.stdout
    assert "platform ptrace" in line or "platform systrap" in line


@pytest.mark.docker
def test_a_session_under_runsc_runs_in_gvisor_with_the_same_hardening(engine, monkeypatch,
                                                                     sandbox_image):
    from sandbox.runner import SandboxSession, Verdict

    monkeypatch.setenv("DOCKER_HOST", engine.address)
    with SandboxSession(sandbox_image, runtime="runsc") as box:
        import docker

        client = docker.from_env()
        try:
            attrs = client.api.inspect_container(box.container_id)
        finally:
            client.close()
        probe = box.exec(["python3", "-c", ("import os, resource; print(open('/proc/version')"
                          ".read().split()[2], os.getuid(), resource.getrlimit("
                          "resource.RLIMIT_NPROC)[0])")])
    assert attrs["HostConfig"]["Runtime"] == "runsc"
    assert attrs["HostConfig"]["NetworkMode"] == "none"
    assert attrs["HostConfig"]["CapDrop"] == ["ALL"]
    assert probe.verdict == Verdict.OK, probe
    kernel, uid, nproc = probe.stdout_tail.split()
    assert kernel == "4.4.0"  # gVisor's kernel, not the host's
    assert (uid, nproc) == ("10001", "256")  # the default pids limit, as RLIMIT_NPROC
    assert probe.peak_memory_bytes is not None  # read on the host: the guest has no cgroups
