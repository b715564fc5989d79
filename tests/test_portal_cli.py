"""`takehome invite` and `takehome invitations list|revoke`."""

from __future__ import annotations

from click.testing import CliRunner

from harness.cli import main
from harness.portal.invitations import InvitationRefused, resolve_token
from harness.portal.store import PortalStore


def test_invite_prints_a_link_that_opens_the_invitation_until_revoked(tmp_path):
    runner = CliRunner()
    folder = tmp_path / "round"
    done = runner.invoke(main, ["invite", "fraud-detection", "--name", "Ada", "--email",
                                "ada@example.org", "--deadline", "2099-01-01T12:00:00+02:00",
                                "-o", str(folder), "--base-url", "https://jobs.example.org/"])
    assert done.exit_code == 0, done.output
    link = done.stdout.strip().splitlines()[-1]
    assert link.startswith("https://jobs.example.org/c/")
    token = link.rsplit("/", 1)[1]
    store = PortalStore(folder)
    invitation = resolve_token(store, token)
    assert invitation.name == "Ada" and invitation.deadline == 4070944800.0
    listed = runner.invoke(main, ["invitations", "list", "-o", str(folder)])
    assert listed.exit_code == 0 and invitation.id in listed.stdout and "open" in listed.stdout
    revoked = runner.invoke(main, ["invitations", "revoke", invitation.id, "-o", str(folder)])
    assert revoked.exit_code == 0, revoked.output
    try:
        resolve_token(store, token)
        raise AssertionError("a revoked token still opened the invitation")
    except InvitationRefused:
        pass
    assert "revoked" in runner.invoke(main, ["invitations", "list", "-o", str(folder)]).stdout


def test_invite_into_a_folder_of_rounds_uses_the_assignments_round(tmp_path):
    PortalStore(tmp_path / "demo" / "diabetes-progression")  # an existing round
    done = CliRunner().invoke(main, ["invite", "fraud-detection", "--name", "Bo", "-o",
                                     str(tmp_path / "demo")])
    assert done.exit_code == 0, done.output
    assert (tmp_path / "demo" / "fraud-detection" / "results.sqlite").is_file()
    assert not (tmp_path / "demo" / "results.sqlite").exists()


def test_bad_invitations_fail_with_one_line(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(main, ["invite", "fraud-detection", "--name", "Ada", "--deadline",
                               "tomorrow", "-o", str(tmp_path / "r")])
    assert bad.exit_code == 1 and "ISO-8601" in bad.output
    unknown = runner.invoke(main, ["invitations", "revoke", "abc", "-o", str(tmp_path)])
    assert unknown.exit_code == 1 and "no invitation" in unknown.output
