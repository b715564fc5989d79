"""Accepting uploads through the safe intake, replacing them, marking them final."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from fixtures.portal_samples import small_submission, zip_bomb, zip_slip, zip_symlink

from harness.portal.invitations import create_invitation
from harness.portal.submissions import (
    Portal,
    SubmissionClosed,
    accept_upload,
    finalise_past_deadline,
    mark_final,
)
from harness.portal.upload import ReceivedUpload


def received(portal: Portal, data: bytes, name: str = "work.zip") -> ReceivedUpload:
    import hashlib

    portal.incoming_dir.mkdir(parents=True, exist_ok=True)
    path = portal.incoming_dir / f".incoming-{time.monotonic_ns()}-{threading.get_ident()}"
    path.write_bytes(data)
    suffix = ".zip" if name.endswith(".zip") else ".ipynb"
    return ReceivedUpload(path, name, suffix, len(data), hashlib.sha256(data).hexdigest())


@pytest.fixture()
def portal(tmp_path) -> Portal:
    return Portal(tmp_path / "round")


@pytest.fixture()
def invitation(portal):
    return create_invitation(portal.store, "fraud-detection", "Ada Lovelace").invitation


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


def test_accepted_upload_becomes_current_and_is_queued_for_the_check(portal, invitation):
    row = accept_upload(portal, invitation, received(portal, small_submission()))
    assert row.intake_error is None and row.content_hash and row.files == 2
    assert Path(row.path).name.startswith("ada-lovelace-") and Path(row.path).is_file()
    assert portal.store.invitation(invitation.id).current_submission == row.id
    assert [j.kind for j in portal.store.jobs("queued")] == ["check"]
    assert (portal.snapshots_dir / row.content_hash[:16]).is_dir()  # the same intake as grade


@pytest.mark.parametrize("archive,reason", [
    (zip_slip, "outside|\\.\\."), (zip_symlink, "symlink"), (zip_bomb, "ratio|compress|large"),
])
def test_hostile_archives_are_rejected_and_nothing_is_kept(portal, invitation, tmp_path,
                                                           archive, reason):
    before = files_under(tmp_path)
    row = accept_upload(portal, invitation, received(portal, archive()))
    assert row.intake_error and __import__("re").search(reason, row.intake_error)
    assert portal.store.invitation(invitation.id).current_submission is None
    assert not Path(row.path).exists()
    assert not (tmp_path / "evil.py").exists() and not (tmp_path.parent / "evil.py").exists()
    new = files_under(tmp_path) - before
    assert all(not n.endswith(("evil.py", "passwd", "data.bin")) for n in new), new
    assert portal.store.jobs() == []


def test_a_new_upload_replaces_the_current_one_until_final(portal, invitation):
    first = accept_upload(portal, invitation, received(portal, small_submission("1")))
    second = accept_upload(portal, invitation, received(portal, small_submission("2")))
    assert portal.store.invitation(invitation.id).current_submission == second.id
    assert portal.store.submission(first.id).check_state == "superseded"
    final = mark_final(portal, invitation)
    assert final.id == second.id and final.final_at is not None
    assert [j.kind for j in portal.store.jobs_of(second.id)] == ["check", "grade"]
    assert mark_final(portal, invitation).final_at == final.final_at  # idempotent
    with pytest.raises(SubmissionClosed, match="final"):
        accept_upload(portal, invitation, received(portal, small_submission("3")))
    assert portal.store.invitation(invitation.id).current_submission == second.id


def test_upload_after_the_deadline_is_refused(portal):
    now = time.time()
    invitation = create_invitation(portal.store, "fraud-detection", "Bo", deadline=now + 60,
                                   now=now).invitation
    with pytest.raises(SubmissionClosed, match="deadline"):
        accept_upload(portal, invitation, received(portal, small_submission()), now=now + 61)
    assert portal.store.submissions_of(invitation.id) == []
    assert not any(portal.uploads_dir(invitation.id).rglob("*.zip"))


def test_mark_final_needs_an_accepted_submission(portal, invitation):
    with pytest.raises(SubmissionClosed, match="upload your work"):
        mark_final(portal, invitation)
    accept_upload(portal, invitation, received(portal, zip_slip()))
    with pytest.raises(SubmissionClosed):
        mark_final(portal, invitation)


def test_passed_deadline_makes_the_last_upload_final(portal):
    now = time.time()
    invitation = create_invitation(portal.store, "fraud-detection", "Cy", deadline=now + 60,
                                   now=now).invitation
    row = accept_upload(portal, invitation, received(portal, small_submission()), now=now)
    assert finalise_past_deadline(portal.store, now=now + 30) == []
    assert finalise_past_deadline(portal.store, now=now + 61) == [row.id]
    assert portal.store.submission(row.id).final_at is not None
    assert [j.kind for j in portal.store.jobs_of(row.id)] == ["check", "grade"]


def test_concurrent_uploads_leave_one_consistent_submission(portal, invitation):
    bodies = [small_submission(str(i)) for i in range(6)]
    uploads = [received(portal, body) for body in bodies]
    barrier = threading.Barrier(len(uploads))
    rows = []

    def go(upload):
        barrier.wait()
        rows.append(accept_upload(portal, invitation, upload))

    threads = [threading.Thread(target=go, args=(u,)) for u in uploads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    current = portal.store.invitation(invitation.id).current_submission
    assert current in {r.id for r in rows}
    row = portal.store.submission(current)
    import hashlib

    assert hashlib.sha256(Path(row.path).read_bytes()).hexdigest() == row.sha256
    live = [s for s in portal.store.submissions_of(invitation.id) if s.check_state == "queued"]
    assert [s.id for s in live] == [current]  # every other one superseded
    assert not any(n.startswith(".incoming-") for n in os.listdir(portal.incoming_dir))


def test_notebooks_and_tar_archives_are_accepted(portal, invitation, tmp_path):
    import io
    import tarfile

    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    nb_bytes = nbformat.writes(notebook).encode()
    row = accept_upload(portal, invitation, received(portal, nb_bytes, "analysis.ipynb"))
    assert row.intake_error is None and Path(row.path).suffix == ".ipynb"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("README.md", b"# hi\n"), ("predict.py", b"print(2)\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    upload = received(portal, buffer.getvalue(), "work.tar.gz")
    upload = ReceivedUpload(upload.path, upload.original_name, ".tar.gz", upload.size,
                            upload.sha256)
    row = accept_upload(portal, invitation, upload)
    assert row.intake_error is None and row.path.endswith(".tar.gz") and row.files == 2


def test_partial_uploads_of_a_killed_server_are_removed(portal):
    from harness.portal.submissions import remove_stale_incoming

    portal.incoming_dir.mkdir(parents=True)
    old, new = portal.incoming_dir / ".incoming-old", portal.incoming_dir / ".incoming-new"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert remove_stale_incoming(portal) == 1
    assert not old.exists() and new.exists()


def test_a_harness_fault_during_intake_keeps_nothing(portal, invitation, monkeypatch):
    from harness.portal import submissions

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(submissions, "ingest", broken)
    with pytest.raises(OSError):
        accept_upload(portal, invitation, received(portal, small_submission()))
    assert not any(p.is_file() for p in portal.uploads_dir(invitation.id).rglob("*"))
    assert portal.store.submissions_of(invitation.id) == []
