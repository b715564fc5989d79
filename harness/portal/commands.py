"""``takehome invite`` and ``takehome invitations list|revoke|worker``: the portal's CLI verbs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from contracts.errors import EXIT_OK
from harness.portal.store import STORE_FILE

Echo = Callable[..., None]
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def round_folder(out_dir: Path | None, assignment_slug: str) -> Path:
    """The round an invitation belongs to.

    ``out_dir`` is a round (an output folder of ``takehome grade``) or a folder of rounds (what
    ``takehome demo`` writes); for the latter, and by default (``out``), the assignment's round
    ``<out_dir>/<slug>``.
    """
    out_dir = Path(out_dir) if out_dir is not None else Path("out")
    if (out_dir / STORE_FILE).is_file():
        return out_dir
    holds_rounds = out_dir.is_dir() and any((p / STORE_FILE).is_file() for p in out_dir.iterdir()
                                            if p.is_dir())
    if holds_rounds or out_dir == Path("out"):
        return out_dir / assignment_slug
    return out_dir


def invite(assignment: str, name: str, *, email: str | None, deadline: str | None,
           out_dir: Path | None, base_url: str | None, echo: Echo) -> int:
    """Create an invitation and print its link (the only time the token is shown)."""
    from harness.assignment import load_assignment
    from harness.portal.invitations import create_invitation, format_time, parse_deadline
    from harness.portal.store import PortalStore

    slug = load_assignment(assignment).spec.slug
    folder = round_folder(out_dir, slug)
    new = create_invitation(PortalStore(folder), assignment, name, email=email,
                            deadline=parse_deadline(deadline), created_by="cli")
    row = new.invitation
    echo(f"invited {row.name} to {slug} (invitation {row.id}, round {folder}, deadline "
         f"{format_time(row.deadline) if row.deadline else 'none'}, link valid until "
         f"{format_time(row.expires_at)})", err=True)
    echo(new.link(base_url or DEFAULT_BASE_URL))
    echo(f"serve it with: takehome serve {folder}   (revoke: takehome invitations revoke "
         f"{row.id} -o {folder})", err=True)
    return EXIT_OK


def list_invitations(out_dir: Path, echo: Echo) -> int:
    """One line per invitation of the round: id, state, name, upload, self-check, grading."""
    from harness.portal.status import round_invitations

    rows = round_invitations(out_dir.name, out_dir)["rows"]
    if not rows:
        echo(f"no invitations in {out_dir}", err=True)
        return EXIT_OK
    echo("id\tstate\tname\temail\tassignment\tdeadline\tuploads\tself-check\tgrading")
    for row in rows:
        echo("\t".join(str(row[k]) for k in ("id", "state", "name", "email", "assignment",
                                             "deadline", "uploads", "check", "grading")))
    return EXIT_OK


def revoke(invitation_id: str, out_dir: Path, echo: Echo) -> int:
    """Revoke an invitation by id."""
    from harness.portal.invitations import revoke_invitation
    from harness.portal.store import PortalStore

    row = revoke_invitation(PortalStore(out_dir), invitation_id, revoked_by="cli")
    echo(f"revoked invitation {row.id} ({row.name}); its link no longer opens anything")
    return EXIT_OK


def worker(folders: list[Path], once: bool) -> int:
    """Run the portal's worker in this process (when ``takehome serve`` does not start one)."""
    from harness.portal.worker import main

    return main([*map(str, folders), *(["--once"] if once else [])])
