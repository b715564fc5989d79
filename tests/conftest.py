"""Shared fixtures. Tests that need Docker use the `sandbox_image` fixture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root folder."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def sandbox_image() -> str:
    """Tag of the sandbox image, built once per session (a no-op when already built).

    TAKEHOME_TEST_IMAGE overrides it (used while developing the sandbox itself).
    """
    override = os.environ.get("TAKEHOME_TEST_IMAGE")
    if override:
        return override
    from sandbox.image import build_image

    return build_image()
