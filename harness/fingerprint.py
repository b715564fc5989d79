"""A fingerprint of the grading code, so stored results follow code changes.

The results store and the calibration cache key their entries by the harness version; during
development (or after an upgrade that keeps the version number) that is not enough. The
fingerprint hashes every Python source file and template of the harness and its graders.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from harness import __version__

_PACKAGES = ("harness", "graders", "sandbox")
_SUFFIXES = {".py", ".j2", ".css", ".yaml"}


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over the harness's own source files (sorted, path and bytes)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in _SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def harness_build() -> str:
    """The version string stored with results: ``<version>+<fingerprint[:12]>``."""
    return f"{__version__}+{code_fingerprint()[:12]}"
