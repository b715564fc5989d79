"""Helpers shared by the in-container stage scripts (run_stage.py, checks_stage.py).

Runs inside the sandbox as the candidate user. Only the standard library; everything written
goes under ``$TAKEHOME_OUTPUT_DIR/takehome`` (default ``/output/takehome``). The host treats
every file written here as untrusted input and validates it again.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
LOG_HEAD_BYTES = 16 * 1024
LOG_TAIL_BYTES = 48 * 1024
SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".ipynb_checkpoints",
        ".venv",
        "venv",
        "env",
        "node_modules",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        "site-packages",
        "build",
        "dist",
    }
)


def output_dir() -> Path:
    """``$TAKEHOME_OUTPUT_DIR/takehome``, created."""
    base = Path(os.environ.get("TAKEHOME_OUTPUT_DIR", "/output"))
    path = base / "takehome"
    path.mkdir(parents=True, exist_ok=True)
    return path


def strip_ansi(text: str) -> str:
    """Remove terminal colour and control sequences."""
    return ANSI.sub("", text)


def cap(text: str, limit: int) -> str:
    """Keep the first ``limit`` characters of ``text``, marking a cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 40] + f"\n… [{len(text) - limit + 40} characters cut]"


def cap_tail(text: str, limit: int) -> str:
    """Keep the last ``limit`` characters of ``text``, marking a cut."""
    if len(text) <= limit:
        return text
    return f"[{len(text) - limit + 40} characters cut] …\n" + text[-(limit - 40) :]


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (a partial file is never left under the final name)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


def walk_files(root: Path, max_files: int = 20_000) -> list[Path]:
    """Regular files under ``root`` (no symlinks followed, tool/VCS dirs skipped), sorted."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append(path)
            if len(found) >= max_files:
                return found
    return found


class _Capture:
    """Keeps the first and last bytes of a stream (bounded memory whatever the volume)."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = LOG_HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > LOG_TAIL_BYTES:
                del self.tail[: len(self.tail) - LOG_TAIL_BYTES]

    def text(self) -> str:
        kept = len(self.head) + len(self.tail)
        middle = "" if kept >= self.total else f"\n… [{self.total - kept} bytes cut] …\n"
        raw = bytes(self.head).decode("utf-8", "replace") + middle
        return strip_ansi(raw + bytes(self.tail).decode("utf-8", "replace"))


def run_bounded(
    argv: list[str],
    *,
    cwd: Path,
    timeout_s: float,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run ``argv`` (no shell) with stdout+stderr merged and capped; kill its group on timeout.

    Returns ``{argv, exit_code, duration_s, timed_out, output}``; ``exit_code`` is 127 when the
    program does not exist, 126 when it cannot be executed, -N when killed by signal N.
    """
    started = time.monotonic()
    capture = _Capture()
    try:
        process = subprocess.Popen(
            argv,
            cwd=str(cwd),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError:
        return _result(argv, 127, started, False, f"command not found: {argv[0]}")
    except (PermissionError, OSError) as exc:
        return _result(argv, 126, started, False, f"cannot execute {argv[0]}: {exc.strerror}")

    def pump() -> None:
        assert process.stdout is not None
        for chunk in iter(lambda: process.stdout.read1(65536), b""):
            capture.feed(chunk)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        process.wait(timeout=max(timeout_s, 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()
    reader.join(timeout=5)
    return _result(argv, process.returncode, started, timed_out, capture.text())


def _result(argv: list[str], code: int, started: float, timed_out: bool, output: str) -> dict:
    return {
        "argv": argv,
        "exit_code": code,
        "duration_s": round(time.monotonic() - started, 3),
        "timed_out": timed_out,
        "output": output,
    }
