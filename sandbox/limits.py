"""Resource limits of one sandbox container, with documented defaults.

Every limit is enforced by the kernel or by the host, never by code the candidate controls:

| field | default | enforced by |
|---|---|---|
| ``wall_time_s`` | 900 | host-side timer per exec (verdict ``timeout``) |
| ``memory_mb`` | 2048 | cgroup memory limit, swap disabled (verdict ``oom``) |
| ``cpus`` | 1.0 | CFS quota (``nano_cpus``): slower, never an error |
| ``pids`` | 256 | cgroup pids limit (verdict ``pids_exhausted``) |
| ``nofile`` | 1024 | ``RLIMIT_NOFILE`` (open files per process) |
| ``fsize_mb`` | 512 | ``RLIMIT_FSIZE`` (largest file a process may write; SIGXFSZ) |
| ``tmp_mb`` | 512 | size of the ``/tmp`` tmpfs (ENOSPC inside) |
| ``home_mb`` | 128 | size of the ``/home/candidate`` tmpfs |
| ``workspace_mb`` | 1024 | size of the ``/workspace`` tmpfs (the copy of the submission) |
| ``output_mb`` | 200 | size of the ``/output`` tmpfs and the copy-out byte cap (``output_limit``) |
| ``output_files`` | 2000 | copy-out cap on files (and, separately, on directories) |
| ``tail_bytes`` | 32768 | bytes of stdout and of stderr kept (the last ones) |
| ``footprint_mb`` | 25 | what one submission leaves on the host: snapshot + kept artifacts |

tmpfs pages are charged to the container's memory cgroup, so files written to ``/tmp``,
``/workspace``, ``/output`` and the home count against ``memory_mb`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import EnvironmentProblem, SpecError

MIB = 1024 * 1024


class Limits(BaseModel):
    """Resource limits of one sandbox container (see the module docstring for what enforces each)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    wall_time_s: float = Field(default=900, gt=0, le=7 * 24 * 3600)
    memory_mb: int = Field(default=2048, ge=16)
    cpus: float = Field(default=1.0, ge=0.01)
    pids: int = Field(default=256, ge=8)
    nofile: int = Field(default=1024, ge=16, le=1_048_576)
    fsize_mb: int = Field(default=512, ge=1)
    tmp_mb: int = Field(default=512, ge=1)
    home_mb: int = Field(default=128, ge=1)
    workspace_mb: int = Field(default=1024, ge=1)
    output_mb: int = Field(default=200, ge=1)
    output_files: int = Field(default=2000, ge=1)
    tail_bytes: int = Field(default=32768, ge=256)
    footprint_mb: int = Field(default=25, ge=4)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, *, where: str = "limits") -> Limits:
        """Build limits from a YAML/JSON mapping, raising a one-line :class:`SpecError`.

        ``where`` names the source (e.g. ``assignments/churn/assignment.yaml: limits``).
        """
        try:
            return cls.model_validate(dict(data or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first.get("loc", ())) or "?"
            raise SpecError(
                f"{where}: invalid limit {field!r}: {first.get('msg', 'invalid value')}",
                hint=f"valid fields: {', '.join(cls.model_fields)}",
            ) from None

    def check_supported(self, *, engine_cpus: int | None, engine_memory_bytes: int | None) -> None:
        """Raise a one-line :class:`EnvironmentProblem` when the engine cannot honour the limits.

        ``engine_cpus``/``engine_memory_bytes`` come from ``docker info`` (NCPU, MemTotal);
        None skips that check.
        """
        if engine_cpus is not None and self.cpus > engine_cpus:
            raise EnvironmentProblem(
                f"limit cpus={self.cpus:g} is more than the Docker engine has ({engine_cpus})",
                hint=f"set cpus to at most {engine_cpus} in the assignment's limits",
            )
        if engine_memory_bytes is not None and self.memory_mb * MIB > engine_memory_bytes:
            have = engine_memory_bytes // MIB
            raise EnvironmentProblem(
                f"limit memory_mb={self.memory_mb} is more than the Docker engine has ({have} MB)",
                hint=f"set memory_mb to at most {have} in the assignment's limits",
            )
