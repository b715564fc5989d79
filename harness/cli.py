"""The `takehome` command. Thin: parses arguments and calls one function per verb.

Each verb's implementation lives in its own module, imported lazily so that a broken or slow
import in one verb never affects another (and `takehome --help` stays fast).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from harness import __version__
from harness.errors import EXIT_HARNESS, TakehomeError


def _fail(error: TakehomeError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


class _Group(click.Group):
    """A click group that turns TakehomeError into a one-line message and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TakehomeError as error:
            _fail(error)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="takehome")
def main() -> None:
    """Grade machine-learning take-home submissions in a locked-down sandbox."""


# --- sandbox -----------------------------------------------------------------------------------


@main.group(cls=_Group)
def sandbox() -> None:
    """Build and check the sandbox image and the Docker engine."""


@sandbox.command("build")
@click.option("--base-image", default=None, help="Base image (default: python:3.11-slim, "
              "or a locally bootstrapped Debian bookworm when it cannot be pulled).")
@click.option("--force", is_flag=True, help="Rebuild even when the tagged image exists.")
def sandbox_build(base_image: str | None, force: bool) -> None:
    """Build the sandbox image (a no-op when its inputs are unchanged)."""
    from sandbox.image import build_image

    tag = build_image(base_image=base_image, force=force, echo=click.echo)
    click.echo(tag)


@sandbox.command("doctor")
def sandbox_doctor() -> None:
    """Report engine version, cgroup limit support and the image, with a fix for each problem."""
    from sandbox.doctor import run_doctor

    sys.exit(run_doctor(echo=click.echo))


if __name__ == "__main__":  # pragma: no cover
    try:
        main()
    except Exception as exc:  # noqa: BLE001 - last resort: a harness fault, never a score
        click.echo(f"internal error: {exc!r}", err=True)
        sys.exit(EXIT_HARNESS)
