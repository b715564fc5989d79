"""`takehome sandbox doctor`: findings with fixes, and its exit codes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts.errors import EXIT_ENVIRONMENT, EXIT_OK
from sandbox import doctor, image

GOOD_INFO: dict[str, Any] = {
    "ServerVersion": "20.10.24",
    "OSType": "linux",
    "Architecture": "x86_64",
    "NCPU": 2,
    "MemTotal": 8 * 2**30,
    "CgroupVersion": "1",
    "CgroupDriver": "cgroupfs",
    "MemoryLimit": True,
    "SwapLimit": True,
    "PidsLimit": True,
    "CpuCfsQuota": True,
    "SecurityOptions": ["name=seccomp,profile=default"],
    "Warnings": None,
}


class FakeClient:
    """Just enough of DockerClient for the engine findings."""

    def __init__(self, **overrides: Any) -> None:
        self._info = {**GOOD_INFO, **overrides}

    def info(self) -> dict[str, Any]:
        return self._info

    def version(self) -> dict[str, Any]:
        return {"ApiVersion": "1.41"}


def _doctor_with(monkeypatch: pytest.MonkeyPatch, client: FakeClient, tag: str | None):
    monkeypatch.setattr(image, "docker_client", lambda timeout=60: client)
    monkeypatch.setattr(image, "find_image", lambda base_image=None: tag)
    monkeypatch.setattr(image, "image_digest", lambda _tag: "sha256:" + "ab" * 32)
    monkeypatch.setattr(doctor, "smoke_run", lambda _c, _t: doctor.Finding("ok", "smoke run", "ok"))
    lines: list[str] = []
    return doctor.run_doctor(echo=lines.append), lines


def test_doctor_is_ready_when_engine_supports_all_limits_and_image_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, lines = _doctor_with(monkeypatch, FakeClient(), "takehome-sandbox:0123456789ab")
    assert code == EXIT_OK
    assert lines[-1] == "ready"
    assert not any(line.startswith(("problem", "warn")) for line in lines)
    assert any("takehome-sandbox:0123456789ab" in line for line in lines)


def test_missing_memory_limit_support_is_a_problem_with_a_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, lines = _doctor_with(
        monkeypatch, FakeClient(MemoryLimit=False), "takehome-sandbox:0123456789ab"
    )
    assert code == EXIT_ENVIRONMENT
    index = next(i for i, line in enumerate(lines) if "memory limit" in line)
    assert lines[index].startswith("problem")
    assert "fix:" in lines[index + 1]


def test_missing_swap_limit_is_only_a_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    code, lines = _doctor_with(
        monkeypatch,
        FakeClient(SwapLimit=False, Warnings=["WARNING: No swap limit support"]),
        "takehome-sandbox:0123456789ab",
    )
    assert code == EXIT_OK
    assert any(line.startswith("warn") and "swap limit" in line for line in lines)
    assert any("No swap limit support" in line for line in lines)
    assert lines[-1] == "ready (2 warning(s))"


def test_unbuilt_image_is_a_problem_naming_the_build_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, lines = _doctor_with(monkeypatch, FakeClient(), None)
    assert code == EXIT_ENVIRONMENT
    assert any("takehome sandbox build" in line for line in lines)


def test_cgroup_version_and_engine_version_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    _, lines = _doctor_with(
        monkeypatch, FakeClient(CgroupVersion="2", CgroupDriver="systemd"), "t:1"
    )
    assert any("cgroups" in line and "v2 (systemd driver)" in line for line in lines)
    assert any("Docker 20.10.24 (API 1.41)" in line for line in lines)


def test_doctor_without_engine_exits_3_with_one_line_fix(tmp_path: Path) -> None:
    dead = tmp_path / "dead.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(dead))
    listener.close()  # the socket file exists, but nothing listens on it
    result = subprocess.run(
        [sys.executable, "-m", "harness.cli", "sandbox", "doctor"],
        env={"DOCKER_HOST": f"unix://{dead}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == EXIT_ENVIRONMENT
    assert len(output.splitlines()) == 1
    assert "not reachable" in output and str(dead) in output
    assert "ensure_docker.sh" in output


@pytest.mark.docker
def test_doctor_reports_ready_with_the_engine_and_built_image() -> None:
    tag = image.build_image(echo=lambda _: None)
    lines: list[str] = []
    code = doctor.run_doctor(echo=lines.append)
    assert code == EXIT_OK, "\n".join(lines)
    assert any(line.startswith("ok") and tag in line for line in lines)
    assert any(line.startswith("ok") and "smoke run" in line for line in lines)
    for topic in ("memory limit", "pids limit", "cpu limit"):
        assert any(topic in line for line in lines)
