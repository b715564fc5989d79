"""The engine and base-image scripts in sandbox/scripts/.

ensure_docker.sh: a no-op with a working engine, clear failures otherwise. Its start-up path is
exercised with fake `docker`/`dockerd`/`id` commands on PATH, so nothing on the machine changes.
bootstrap_base.sh: the Debian mirror is read from the host's apt sources.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "sandbox" / "scripts"
SCRIPT = SCRIPTS / "ensure_docker.sh"


def _fake(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _run(env_path: str, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": env_path,
        "HOME": str(tmp_path),
        "TAKEHOME_DOCKERD_LOG": str(tmp_path / "dockerd.log"),
        **extra,
    }
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture()
def fake_bin(tmp_path: Path) -> Path:
    """A bin directory with a docker CLI that fails (no engine) and a root `id`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake(bin_dir, "docker", "exit 1")
    _fake(bin_dir, "id", "echo 0")
    _fake(bin_dir, "pgrep", "exit 1")
    _fake(bin_dir, "apt-get", f'echo "apt-get $*" >> "{tmp_path}/apt.calls"; exit 100')
    return bin_dir


@pytest.mark.docker
def test_script_is_a_noop_when_docker_info_works(tmp_path: Path) -> None:
    started = time.monotonic()
    result = _run("/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert time.monotonic() - started < 15
    assert not (tmp_path / "dockerd.log").exists()


def test_script_refuses_without_root(fake_bin: Path, tmp_path: Path) -> None:
    _fake(fake_bin, "id", "echo 1000")
    result = _run(f"{fake_bin}:/usr/bin:/bin", tmp_path)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not root" in result.stderr and "sudo" in result.stderr
    assert not (tmp_path / "apt.calls").exists()


def test_script_refuses_without_apt(fake_bin: Path, tmp_path: Path) -> None:
    (fake_bin / "apt-get").unlink()
    only = tmp_path / "only"
    only.mkdir()
    for tool in ("timeout", "dirname", "mkdir", "sleep"):
        (only / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    result = _run(f"{fake_bin}:{only}", tmp_path)
    assert result.returncode == 1
    assert "not Debian" in result.stderr


def test_script_installs_docker_io_when_dockerd_is_missing_and_reports_apt_failure(
    fake_bin: Path, tmp_path: Path
) -> None:
    # Only the fake bin and coreutils: `dockerd` is missing, like on CI (docker CLI, no daemon).
    only = tmp_path / "only"
    only.mkdir()
    for tool in ("timeout", "dirname", "mkdir", "sleep", "chmod", "rm"):
        (only / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    result = _run(f"{fake_bin}:{only}", tmp_path)
    if not Path("/etc/debian_version").exists():
        pytest.skip("the install path runs on Debian only")
    assert result.returncode == 2
    assert "apt-get update failed" in result.stderr
    assert (tmp_path / "apt.calls").read_text().startswith("apt-get update")


def test_script_starts_dockerd_and_waits_until_the_engine_answers(
    fake_bin: Path, tmp_path: Path
) -> None:
    ready = tmp_path / "engine-ready"
    _fake(fake_bin, "dockerd", f'sleep 1; touch "{ready}"')
    _fake(fake_bin, "containerd", "exit 0")
    _fake(fake_bin, "docker", f'test -e "{ready}" || exit 1; echo 99.0')
    result = _run(f"{fake_bin}:/usr/bin:/bin", tmp_path, TAKEHOME_DOCKERD_WAIT="20")
    if not Path("/etc/debian_version").exists():
        pytest.skip("the start-up path runs on Debian only")
    assert result.returncode == 0, result.stderr
    assert "starting dockerd" in result.stderr
    assert "Docker engine ready" in result.stderr
    assert not (tmp_path / "apt.calls").exists()


def test_script_gives_up_when_dockerd_never_answers(fake_bin: Path, tmp_path: Path) -> None:
    _fake(fake_bin, "dockerd", "exit 0")
    _fake(fake_bin, "containerd", "exit 0")
    result = _run(f"{fake_bin}:/usr/bin:/bin", tmp_path, TAKEHOME_DOCKERD_WAIT="2")
    if not Path("/etc/debian_version").exists():
        pytest.skip("the start-up path runs on Debian only")
    assert result.returncode == 2
    assert "did not answer within 2s" in result.stderr
    assert str(tmp_path / "dockerd.log") in result.stderr


# --- bootstrap_base.sh: mirror discovery ------------------------------------------------------

DEB822 = """\
Types: deb
URIs: http://security.example.org/debian-security
Suites: bookworm-security
Components: main

# a comment
Types: deb-src deb
URIs: http://mirror.example.org/debian/
Suites: bookworm bookworm-updates
Components: main
"""


def _print_mirror(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(SCRIPTS / "bootstrap_base.sh"), "--print-mirror"],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_bootstrap_reads_the_debian_archive_from_deb822_sources(tmp_path: Path) -> None:
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (parts / "debian.sources").write_text(DEB822)
    (parts / "other.list").write_text("deb http://ignored.example.org/x stable main\n")
    result = _print_mirror(
        tmp_path,
        TAKEHOME_APT_SOURCES_DIR=str(parts),
        TAKEHOME_APT_SOURCES_LIST=str(tmp_path / "missing.list"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "http://mirror.example.org/debian\n"


def test_bootstrap_reads_the_debian_archive_from_sources_list(tmp_path: Path) -> None:
    sources = tmp_path / "sources.list"
    sources.write_text(
        "# deb http://commented.example.org/debian bookworm main\n"
        "deb http://security.example.org/debian-security bookworm-security main\n"
        "deb [signed-by=/usr/share/keyrings/k.gpg] http://list.example.org/debian bookworm main\n"
    )
    result = _print_mirror(
        tmp_path,
        TAKEHOME_APT_SOURCES_DIR=str(tmp_path / "empty"),
        TAKEHOME_APT_SOURCES_LIST=str(sources),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "http://list.example.org/debian\n"


def test_bootstrap_without_any_mirror_fails_naming_the_override(tmp_path: Path) -> None:
    result = _print_mirror(
        tmp_path,
        TAKEHOME_APT_SOURCES_DIR=str(tmp_path / "empty"),
        TAKEHOME_APT_SOURCES_LIST=str(tmp_path / "missing.list"),
    )
    assert result.returncode == 1
    assert "TAKEHOME_DEBIAN_MIRROR" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
