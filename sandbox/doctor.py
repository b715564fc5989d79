"""`takehome sandbox doctor`: is this machine ready to run the sandbox, and if not, how to fix it.

Each finding is one line (status, topic, what was found) followed by a ``fix:`` line when
something is wrong. Problems make the exit code EXIT_ENVIRONMENT (3); warnings (the sandbox works,
but a protection is weaker than designed) keep it 0.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import docker.errors
import requests
from docker import DockerClient

from contracts.errors import EXIT_ENVIRONMENT, EXIT_OK, EnvironmentProblem
from sandbox import image as sandbox_image

Echo = Callable[[str], None]
Status = Literal["ok", "info", "warn", "problem"]

SMOKE_TIMEOUT_SECONDS = 60
KERNEL_FIX = "use a kernel with that cgroup controller enabled (or a VM/host that provides it)"


@dataclass(frozen=True)
class Finding:
    """One thing the doctor checked: its status, a short topic, what it found, how to fix it."""

    status: Status
    topic: str
    detail: str
    fix: str | None = None


def _capability(info: dict[str, Any], key: str, topic: str, fix: str, *, required: bool) -> Finding:
    if info.get(key):
        return Finding("ok", topic, "supported")
    return Finding("problem" if required else "warn", topic, f"not supported ({key}=false)", fix)


def engine_findings(client: DockerClient) -> list[Finding]:
    """Findings about the engine: version, cgroups, limit support, seccomp, engine warnings."""
    info = client.info()
    version = client.version()
    findings = [
        Finding(
            "ok",
            "engine",
            f"Docker {info.get('ServerVersion', '?')} (API {version.get('ApiVersion', '?')}), "
            f"{info.get('OSType', '?')}/{info.get('Architecture', '?')}, "
            f"{info.get('NCPU', '?')} CPUs, {int(info.get('MemTotal', 0)) / 2**30:.1f} GiB",
        ),
        Finding(
            "ok",
            "cgroups",
            f"v{info.get('CgroupVersion') or '1'} ({info.get('CgroupDriver', '?')} driver)",
        ),
    ]
    if info.get("OSType") not in (None, "linux"):
        findings.append(
            Finding(
                "problem",
                "engine",
                f"the engine runs {info.get('OSType')} containers",
                "switch the engine to Linux containers",
            )
        )
    findings += [
        _capability(info, "MemoryLimit", "memory limit", KERNEL_FIX, required=True),
        _capability(info, "PidsLimit", "pids limit", KERNEL_FIX, required=True),
        _capability(info, "CpuCfsQuota", "cpu limit", KERNEL_FIX, required=True),
        _capability(
            info,
            "SwapLimit",
            "swap limit",
            "enable swap accounting (kernel parameter swapaccount=1 on cgroup v1); until then "
            "candidate code may swap beyond its memory limit",
            required=False,
        ),
    ]
    security = " ".join(info.get("SecurityOptions") or [])
    if "seccomp" in security:
        findings.append(Finding("ok", "seccomp", "default profile active"))
    else:
        findings.append(
            Finding(
                "warn",
                "seccomp",
                "not active in the engine",
                "use an engine built with seccomp support (Debian's docker.io has it)",
            )
        )
    for warning in info.get("Warnings") or []:
        text = " ".join(str(warning).split()).removeprefix("WARNING: ")
        findings.append(Finding("warn", "engine warning", text, "see the Docker documentation"))
    return findings


def image_findings(client: DockerClient) -> list[Finding]:
    """Findings about the sandbox image for the current inputs; a smoke run when it exists."""
    tag = sandbox_image.find_image()
    if tag is None:
        return [
            Finding(
                "problem",
                "image",
                "the sandbox image for the current inputs is not built",
                "run `takehome sandbox build` (or `make image`)",
            )
        ]
    digest = sandbox_image.image_digest(tag)
    return [Finding("ok", "image", f"{tag} ({digest})"), smoke_run(client, tag)]


def smoke_run(client: DockerClient, tag: str, runtime: str | None = None) -> Finding:
    """Run `python -c pass` in ``tag`` with the sandbox's hardening flags and limits."""
    started = time.monotonic()
    container = None
    extra: dict[str, Any] = {"runtime": runtime} if runtime else {}
    try:
        container = client.containers.create(
            tag,
            ["python", "-c", "import sklearn, pandas"],
            **extra,
            user="10001:10001",
            network_mode="none",
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            read_only=True,
            tmpfs={"/tmp": "size=16m"},
            mem_limit="512m",
            memswap_limit="512m",
            pids_limit=64 + (512 if runtime == "runsc" else 0),  # gVisor's own threads
            nano_cpus=1_000_000_000,
        )
        container.start()
        status = container.wait(timeout=SMOKE_TIMEOUT_SECONDS)
        code = status.get("StatusCode")
        if code != 0:
            tail = container.logs(tail=1).decode(errors="replace").strip()
            return Finding(
                "problem",
                "smoke run",
                f"a hardened container exited {code}: {tail[:160]}",
                "rebuild the image with `takehome sandbox build --force`",
            )
    except (docker.errors.DockerException, requests.RequestException) as exc:
        # the engine refused the flags, or the run hung
        return Finding(
            "problem",
            "smoke run",
            f"a hardened container could not run: {' '.join(str(exc).split())[:160]}",
            "check the engine's cgroup and seccomp support above",
        )
    finally:
        if container is not None:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
    elapsed = time.monotonic() - started
    return Finding("ok", "smoke run", f"hardened `python` container ran in {elapsed:.1f}s")


SYSTRAP_DEFAULT_SINCE = 20230605  # gVisor releases from this date default to systrap


def runsc_platform(runtime: dict[str, Any], version_text: str) -> str:
    """gVisor's platform: the ``--platform`` runtime argument, else the release's default."""
    for arg in runtime.get("runtimeArgs") or []:
        if str(arg).startswith("--platform="):
            return str(arg).split("=", 1)[1] + " (runtimeArgs)"
    match = re.search(r"(20\d{6})", version_text)
    if match is None:
        return "unknown (runsc --version gave no release date)"
    default = "systrap" if int(match.group(1)) >= SYSTRAP_DEFAULT_SINCE else "ptrace"
    return f"{default} (the default of release {match.group(1)})"


def runsc_findings(client: DockerClient, tag: str | None) -> list[Finding]:
    """Whether gVisor (``runsc``) is registered, which platform it uses, and a run under it."""
    from sandbox.runner import RUNTIME_ENV

    wanted = os.environ.get(RUNTIME_ENV) == "runsc"
    fix = "sudo bash sandbox/scripts/ensure_runsc.sh --register"
    runtimes = client.info().get("Runtimes") or {}
    if "runsc" not in runtimes:
        status = "problem" if wanted else "info"
        return [Finding(status, "gvisor", "runsc is not registered with the engine (optional; "
                        "--runtime runsc needs it)", fix)]
    path = str(runtimes["runsc"].get("path") or "runsc")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        version = ""
    platform = runsc_platform(runtimes["runsc"], version)
    if tag is None:
        return [Finding("ok", "gvisor", f"runsc registered, platform {platform}")]
    finding = smoke_run(client, tag, runtime="runsc")
    if finding.status != "ok":
        return [Finding("problem" if wanted else "warn", "gvisor",
                        f"runsc is registered but {finding.detail}", fix)]
    return [Finding("ok", "gvisor", f"runsc works ({finding.detail.split(' in ')[-1]}), "
                    f"platform {platform}")]


def collect_findings(client: DockerClient) -> list[Finding]:
    """All findings, engine first."""
    images = image_findings(client)
    tag = sandbox_image.find_image() if images and images[0].status == "ok" else None
    return engine_findings(client) + images + runsc_findings(client, tag)


def format_finding(finding: Finding) -> list[str]:
    """The finding as output lines: status, topic and detail, then the fix when there is one."""
    lines = [f"{finding.status:<8}{finding.topic:<16}{finding.detail}"]
    if finding.fix and finding.status != "ok":
        lines.append(f"{'':<24}fix: {finding.fix}")
    return lines


def run_doctor(echo: Echo = print) -> int:
    """Print the findings; return EXIT_OK when there is no problem, else EXIT_ENVIRONMENT."""
    try:
        client = sandbox_image.docker_client()
    except EnvironmentProblem as problem:
        echo(f"error: {problem}")
        return EXIT_ENVIRONMENT
    findings = collect_findings(client)
    for finding in findings:
        for line in format_finding(finding):
            echo(line)
    problems = sum(finding.status == "problem" for finding in findings)
    warnings = sum(finding.status == "warn" for finding in findings)
    if problems:
        echo(f"{problems} problem(s), {warnings} warning(s): fix the problems above")
        return EXIT_ENVIRONMENT
    echo(f"ready ({warnings} warning(s))" if warnings else "ready")
    return EXIT_OK
