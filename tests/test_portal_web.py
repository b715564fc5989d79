"""The portal's routes in the web app: what a token opens, uploads, and the interviewers' side.

Starlette's TestClient against the real app (security guard and headers included); the
self-check and grading worker is not started here (tests/test_portal_queue.py covers it).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from fixtures.portal_samples import multipart, small_submission, zip_bomb, zip_slip, zip_symlink
from starlette.testclient import TestClient

from harness.portal.invitations import create_invitation, revoke_invitation
from harness.portal.store import PortalStore
from harness.portal.submissions import Portal
from harness.portal.web import make_extension
from harness.web import create_app

CAP = 200_000
PASSWORD = "correct horse battery staple"


@pytest.fixture()
def world(tmp_path):
    folder = tmp_path / "round"
    store = PortalStore(folder)
    ada = create_invitation(store, "fraud-detection", "Ada <b>Lovelace</b>")
    bo = create_invitation(store, "fraud-detection", "Bo Bramble", deadline=time.time() + 3600)
    app = create_app([folder], extensions=[lambda state: make_extension(
        state, start_worker=False, caps_for=lambda f: Portal(f, upload_cap=CAP))])
    app.state.web.accounts.add_user("lead", PASSWORD)
    return {"folder": folder, "store": store, "ada": ada, "bo": bo, "app": app}


def client(world) -> TestClient:
    return TestClient(world["app"], base_url="http://127.0.0.1:8000", follow_redirects=False)


def csrf(page_html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_html).group(1)


def upload(http: TestClient, token: str, filename: str, data: bytes):
    page = http.get(f"/c/{token}")
    assert page.status_code == 200
    if 'name="csrf_token"' not in page.text:  # no form left on the page: the cookie's token
        page = http.get("/login")
    body, ctype = multipart(filename, data)
    return http.post(f"/c/{token}/upload?csrf_token={csrf(page.text)}", content=body,
                     headers={"content-type": ctype})


def test_candidate_page_shows_the_assignment_and_nothing_of_the_interviewers(world):
    http = client(world)
    page = http.get(f"/c/{world['ada'].token}")
    assert page.status_code == 200
    assert "Card transaction fraud detection" in page.text and "train.csv" in page.text
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in page.text  # the name, escaped
    assert "Bo Bramble" not in page.text and "Invitations" not in page.text
    assert "Log out" not in page.text and 'href="/"' not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in page.text.lower()
    data = http.get(f"/c/{world['ada'].token}/data/train.csv")
    assert data.status_code == 200 and data.text.startswith("transaction_id")
    contract = http.get(f"/c/{world['ada'].token}/contract")
    assert contract.status_code == 200 and "predictions.csv" in contract.text


def test_hidden_data_is_never_served(world):
    http = client(world)
    base = f"/c/{world['ada'].token}/data/"
    for name in ("test_labels.csv", "test_features.csv", "..%2Fhidden%2Ftest_labels.csv",
                 "../hidden/test_labels.csv", "%2e%2e%2fassignment.yaml", "assignment.yaml"):
        assert http.get(base + name).status_code == 404, name


@pytest.mark.parametrize("kind", ["wrong", "revoked", "expired"])
def test_wrong_revoked_or_expired_token_is_refused_on_every_route(world, kind):
    http = client(world)
    token = world["ada"].token
    if kind == "wrong":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    elif kind == "revoked":
        revoke_invitation(world["store"], world["ada"].invitation.id)
    else:
        with world["store"].write() as conn:
            conn.execute("UPDATE portal_invitations SET expires_at = ?", (time.time() - 1,))
    for path in ("", "/contract", "/data/train.csv", "/uploads/1"):
        response = http.get(f"/c/{token}{path}")
        assert response.status_code == 404, (kind, path)
        assert "not valid" in response.text and "Card transaction" not in response.text
    anon = http.get("/login")  # an anonymous CSRF token, so the POSTs reach the endpoint
    body, ctype = multipart("w.zip", small_submission())
    refused = http.post(f"/c/{token}/upload?csrf_token={csrf(anon.text)}", content=body,
                        headers={"content-type": ctype})
    assert refused.status_code == 404
    assert http.post(f"/c/{token}/final", data={"csrf_token": csrf(anon.text)}).status_code == 404
    assert world["store"].submissions_of(world["ada"].invitation.id) == []


def test_one_token_cannot_read_another_candidates_pages_or_files(world):
    http = client(world)
    ada, bo = world["ada"].token, world["bo"].token
    assert upload(http, bo, "bo-work.zip", small_submission("bo")).status_code == 303
    assert upload(http, ada, "ada-work.zip", small_submission("ada")).status_code == 303
    bo_rows = world["store"].submissions_of(world["bo"].invitation.id)
    for path in ("", "/contract", "/uploads/1", "/uploads/2", f"/uploads/{bo_rows[0].id}",
                 "/data/train.csv"):
        text = http.get(f"/c/{ada}{path}").text
        assert "bo-work.zip" not in text and "Bo Bramble" not in text, path
    assert http.get(f"/c/{ada}/uploads/2").status_code == 404  # Ada has one upload only
    assert "ada-work.zip" in http.get(f"/c/{ada}/uploads/1").text
    # interviewer pages stay closed to a candidate
    for path in ("/", "/invitations", f"/rounds/{world['folder'].name}"):
        assert http.get(path).status_code in (303, 401, 404), path
        assert "Bo Bramble" not in http.get(path).text


def test_upload_is_ingested_and_queued_for_the_self_check(world):
    http = client(world)
    response = upload(http, world["ada"].token, "work.zip", small_submission())
    assert response.status_code == 303
    page = http.get(f"/c/{world['ada'].token}").text
    assert "work.zip" in page and "waiting for the self-check" in page
    assert 'http-equiv="refresh"' in page  # refreshes until the check is done
    assert [j.kind for j in world["store"].jobs("queued")] == ["check"]


def test_over_cap_upload_is_refused_before_it_is_written_whole(world):
    http = client(world)
    folder = world["folder"]
    response = upload(http, world["ada"].token, "big.zip", b"z" * (CAP * 3))
    assert response.status_code == 413
    assert "larger than" in response.text
    assert world["store"].submissions_of(world["ada"].invitation.id) == []
    leftovers = [p for p in (folder / ".portal").rglob("*") if p.is_file() and
                 p.name not in ("worker.lock",)]
    assert leftovers == []


@pytest.mark.parametrize("archive,words", [
    (zip_slip, "escapes the submission"), (zip_symlink, "symlink"), (zip_bomb, "ratio"),
])
def test_hostile_archives_are_rejected_with_a_clear_message(world, tmp_path, archive, words):
    http = client(world)
    before = {p for p in tmp_path.rglob("*")}
    response = upload(http, world["ada"].token, "hostile.zip", archive())
    assert response.status_code == 303
    page = http.get(f"/c/{world['ada'].token}").text
    banner = re.search(r'<div class="banner bad" id="rejected".*?</div>', page, re.DOTALL)
    assert banner and "was not accepted" in banner.group(0), page[:3000]
    assert re.search(words, banner.group(0), re.IGNORECASE), banner.group(0)
    created = {p for p in tmp_path.rglob("*")} - before
    assert not any(p.name in ("evil.py", "passwd", "data.bin") for p in created), created
    assert not (tmp_path / "evil.py").exists() and not Path("/tmp/evil.py").exists()
    assert world["store"].invitation(world["ada"].invitation.id).current_submission is None


def test_file_name_with_html_or_path_separators_is_shown_inert(world):
    http = client(world)
    name = '../../<img src=x onerror=alert(1)>\\..\\evil".zip'
    assert upload(http, world["ada"].token, name, small_submission()).status_code == 303
    page = http.get(f"/c/{world['ada'].token}").text
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    row = world["store"].submissions_of(world["ada"].invitation.id)[0]
    assert Path(row.path).parent.parent == Path(world["folder"]) / ".portal" / "uploads" / \
        world["ada"].invitation.id
    assert "<" not in Path(row.path).name and ".." not in Path(row.path).name


def test_upload_after_the_deadline_is_refused(world):
    http = client(world)
    with world["store"].write() as conn:
        conn.execute("UPDATE portal_invitations SET deadline = ? WHERE id = ?",
                     (time.time() - 5, world["bo"].invitation.id))
    page = http.get(f"/c/{world['bo'].token}")
    assert "uploads are closed" in page.text and 'id="file"' not in page.text
    body, ctype = multipart("late.zip", small_submission())
    token = csrf(http.get("/login").text)  # the page has no form left; the cookie's token
    late = http.post(f"/c/{world['bo'].token}/upload?csrf_token={token}", content=body,
                     headers={"content-type": ctype})
    assert late.status_code == 409 and "deadline has passed" in late.text
    assert world["store"].submissions_of(world["bo"].invitation.id) == []


def test_upload_without_or_with_a_wrong_csrf_token_is_refused(world):
    http = client(world)
    http.get(f"/c/{world['ada'].token}")
    body, ctype = multipart("w.zip", small_submission())
    for query in ("", "?csrf_token=wrong"):
        response = http.post(f"/c/{world['ada'].token}/upload{query}", content=body,
                             headers={"content-type": ctype})
        assert response.status_code == 403
    assert world["store"].submissions_of(world["ada"].invitation.id) == []


def test_mark_final_closes_the_submission_and_queues_grading(world):
    http = client(world)
    token = world["ada"].token
    upload(http, token, "work.zip", small_submission())
    page = http.get(f"/c/{token}").text
    assert http.post(f"/c/{token}/final", data={"csrf_token": csrf(page)}).status_code == 303
    page = http.get(f"/c/{token}").text
    assert "Marked final" in page and 'id="file"' not in page
    assert {j.kind for j in world["store"].jobs("queued")} == {"check", "grade"}
    again = upload(http, token, "again.zip", small_submission("2"))
    assert again.status_code == 409 and "final" in again.text


def test_interviewer_invites_sees_states_and_revokes(world):
    http = client(world)
    login = http.get("/login")
    http.post("/login", data={"username": "lead", "password": PASSWORD,
                              "csrf_token": csrf(login.text), "next": "/invitations"})
    page = http.get("/invitations")
    assert page.status_code == 200 and "Bo Bramble" in page.text
    created = http.post("/invitations", data={
        "csrf_token": csrf(page.text), "round": world["folder"].name, "assignment": "fraud-detection",
        "name": "Cy Candidate", "email": "cy@example.org", "deadline": "2099-01-01"})
    assert created.status_code == 200
    link = re.search(r'id="invite-link" readonly value="([^"]+)"', created.text).group(1)
    assert link.startswith("http://127.0.0.1:8000/c/")
    token = link.rsplit("/", 1)[1]
    assert token not in world["store"].path.read_bytes().decode("latin-1")
    assert http.get(f"/c/{token}").status_code == 200
    cy = next(i for i in world["store"].invitations() if i.name == "Cy Candidate")
    assert cy.created_by == "lead"
    revoke = http.post(f"/invitations/{world['folder'].name}/{cy.id}/revoke",
                       data={"csrf_token": csrf(page.text)})
    assert revoke.status_code == 303
    assert http.get(f"/c/{token}").status_code == 404
    assert "revoked" in http.get("/invitations").text


def test_invitation_pages_need_a_login(world):
    http = client(world)
    assert http.get("/invitations").status_code == 303
    anon = http.get("/login")
    refused = http.post("/invitations", data={"csrf_token": csrf(anon.text), "name": "X",
                                              "round": world["folder"].name,
                                              "assignment": "fraud-detection"})
    assert refused.status_code == 401
    assert len(world["store"].invitations()) == 2


def test_round_page_status_lists_final_submissions_with_their_grading_state(world):
    http = client(world)
    token = world["ada"].token
    upload(http, token, "work.zip", small_submission())
    page = http.get(f"/c/{token}").text
    http.post(f"/c/{token}/final", data={"csrf_token": csrf(page)})
    state = world["app"].state.web
    rnd = next(iter(state.rounds.values()))
    rows = state.templates.globals["portal_round_status"](rnd)
    assert [(r["name"], r["grading"]) for r in rows] == [("Ada <b>Lovelace</b>", "queued")]
    html = state.templates.get_template("portal/round_status.html.j2").render(rnd=rnd)
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html and "grade-queued" in html


def test_round_table_shows_queued_portal_submissions(world):
    http = client(world)
    token = world["ada"].token
    upload(http, token, "work.zip", small_submission())
    http.post(f"/c/{token}/final", data={"csrf_token": csrf(http.get(f"/c/{token}").text)})
    login = http.get("/login")
    http.post("/login", data={"username": "lead", "password": PASSWORD,
                              "csrf_token": csrf(login.text), "next": "/"})
    page = http.get(f"/rounds/{world['folder'].name}")
    assert page.status_code == 200
    section = page.text[page.text.index('id="portal-status"'):]
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in section and ">queued<" in section


def test_a_failed_grading_can_be_queued_again(world):
    http = client(world)
    token = world["ada"].token
    upload(http, token, "work.zip", small_submission())
    http.post(f"/c/{token}/final", data={"csrf_token": csrf(http.get(f"/c/{token}").text)})
    store = world["store"]
    with store.write() as conn:
        conn.execute("UPDATE portal_jobs SET state = 'failed', outcome = 'harness_error' "
                     "WHERE kind = 'grade'")
    login = http.get("/login")
    http.post("/login", data={"username": "lead", "password": PASSWORD,
                              "csrf_token": csrf(login.text), "next": "/"})
    page = http.get("/invitations").text
    assert "Grade again" in page
    iid = world["ada"].invitation.id
    done = http.post(f"/invitations/{world['folder'].name}/{iid}/regrade",
                     data={"csrf_token": csrf(page)})
    assert done.status_code == 303
    assert [j.state for j in store.jobs() if j.kind == "grade"] == ["failed", "queued"]
    bo = world["bo"].invitation.id  # no final submission: nothing to grade
    assert http.post(f"/invitations/{world['folder'].name}/{bo}/regrade",
                     data={"csrf_token": csrf(page)}).status_code == 404


def test_guessing_tokens_is_rate_limited(world):
    http = client(world)
    statuses = [http.get(f"/c/{'x' * 43}{i:02d}").status_code for i in range(32)]
    assert statuses[:30] == [404] * 30 and statuses[-1] == 429
    assert http.get(f"/c/{world['ada'].token}").status_code == 429  # the address, not the token


def test_invitations_page_hides_names_and_emails_in_blind_mode(world):
    store = world["store"]
    create_invitation(store, "fraud-detection", "Cy Candidate", email="cy@example.org")
    http = client(world)
    login = http.get("/login")
    http.post("/login", data={"username": "lead", "password": PASSWORD,
                              "csrf_token": csrf(login.text), "next": "/invitations"})
    page = http.get("/invitations")
    assert "Bo Bramble" in page.text and "cy@example.org" in page.text
    http.post("/prefs/blind", data={"csrf_token": csrf(page.text), "blind": "1"})
    blind = http.get("/invitations")
    assert blind.status_code == 200
    for identity in ("Bo Bramble", "Lovelace", "Cy Candidate", "cy@example.org"):
        assert identity not in blind.text
    assert blind.text.count("Candidate ") >= 3  # pseudonyms instead
