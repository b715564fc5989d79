"""Invitations: unguessable tokens stored hashed, refused when wrong, revoked or expired."""

from __future__ import annotations

import sqlite3
import time

import pytest

from contracts.errors import TakehomeError
from harness.portal.invitations import (
    InvitationRefused,
    create_invitation,
    invitation_state,
    parse_deadline,
    resolve_token,
    revoke_invitation,
)
from harness.portal.store import PortalStore


@pytest.fixture()
def store(tmp_path) -> PortalStore:
    return PortalStore(tmp_path / "round")


def test_token_is_stored_only_as_its_hash(store):
    new = create_invitation(store, "fraud-detection", "Ada Lovelace", email="ada@example.org")
    assert len(new.token) >= 43  # 32 random bytes
    raw = sqlite3.connect(store.path).execute("SELECT * FROM portal_invitations").fetchall()
    assert raw and new.token not in repr(raw)
    assert new.invitation.token_hash != new.token
    assert resolve_token(store, new.token).id == new.invitation.id


def test_two_invitations_get_different_tokens_and_ids(store):
    first = create_invitation(store, "fraud-detection", "A")
    second = create_invitation(store, "fraud-detection", "B")
    assert first.token != second.token and first.invitation.id != second.invitation.id
    assert resolve_token(store, second.token).name == "B"


@pytest.mark.parametrize("token", ["", "x", "a" * 43, "../../etc/passwd", "a" * 200])
def test_wrong_token_is_refused(store, token):
    create_invitation(store, "fraud-detection", "Ada")
    with pytest.raises(InvitationRefused):
        resolve_token(store, token)


def test_revoked_token_is_refused(store):
    new = create_invitation(store, "fraud-detection", "Ada")
    revoke_invitation(store, new.invitation.id, revoked_by="lead")
    with pytest.raises(InvitationRefused, match="revoked"):
        resolve_token(store, new.token)
    assert invitation_state(store.invitation(new.invitation.id)) == "revoked"


def test_expired_token_is_refused(store):
    now = time.time()
    new = create_invitation(store, "fraud-detection", "Ada", deadline=now + 3600, now=now)
    assert resolve_token(store, new.token, now=now + 7200).id == new.invitation.id  # past deadline
    with pytest.raises(InvitationRefused, match="expired"):
        resolve_token(store, new.token, now=new.invitation.expires_at + 1)


def test_unknown_assignment_and_bad_fields_are_refused(store):
    with pytest.raises(TakehomeError):
        create_invitation(store, "no-such-assignment", "Ada")
    with pytest.raises(TakehomeError, match="empty"):
        create_invitation(store, "fraud-detection", "   ")
    with pytest.raises(TakehomeError, match="e-mail"):
        create_invitation(store, "fraud-detection", "Ada", email="nope")
    with pytest.raises(TakehomeError, match="past"):
        create_invitation(store, "fraud-detection", "Ada", deadline=time.time() - 5)
    with pytest.raises(TakehomeError, match="no invitation"):
        revoke_invitation(store, "deadbeef0000")


def test_deadline_parsing():
    assert parse_deadline("2026-12-09T17:00:00+01:00") == parse_deadline("2026-12-09T16:00:00Z")
    assert parse_deadline("2026-12-09T16:00:00") == parse_deadline("2026-12-09T16:00:00+00:00")
    assert parse_deadline("2026-12-09") == parse_deadline("2026-12-09T23:59:59+00:00")
    assert parse_deadline(None) is None
    with pytest.raises(TakehomeError, match="ISO-8601"):
        parse_deadline("next friday")
