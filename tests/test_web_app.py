"""The interviewers' web app, route by route (Starlette's TestClient; no server, no browser)."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import sqlite3

import pytest
from fixtures.report_samples import hostile_result, make_result
from fixtures.web_samples import PASSWORD, add_to_round, csrf_of, login
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from harness.reviews import ReviewLog
from harness.web import Extension, WebSettings, create_app
from harness.web.auth import safe_next


@functools.cache
def sample(kind: str, name: str):
    return make_result(kind, name=name)


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    """argon2id with small costs: the same code path, a fraction of the time (the shipped
    parameters are argon2-cffi's defaults)."""
    from argon2 import PasswordHasher

    from harness.web import accounts

    monkeypatch.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024))


@pytest.fixture()
def round_dir(tmp_path):
    folder = tmp_path / "out" / "fraud"
    folder.mkdir(parents=True)
    add_to_round(folder, sample("strong", "Ada Lovelace"), folder_name="ada")
    add_to_round(folder, sample("weak", "bob"), folder_name="bob")
    failed = sample("failed", "carol").model_copy(deep=True)
    failed.submission.content_hash = "sha256:" + "c0" * 32
    add_to_round(folder, failed, folder_name="carol")
    return folder


def make_app(round_dir, **settings):
    app = create_app([round_dir.parent], extensions=[],
                     settings=WebSettings(accounts_path=round_dir.parent / "web.sqlite",
                                          **settings))
    accounts = app.state.web.accounts
    if not accounts.users():
        accounts.add_user("dana", PASSWORD)
        accounts.add_user("root", PASSWORD, admin=True)
    return app


@pytest.fixture()
def app(round_dir):
    return make_app(round_dir)


@pytest.fixture()
def client(app):
    with TestClient(app) as c:
        yield c


def ids(app) -> dict[str, str]:
    """Candidate name -> URL id."""
    rnd = app.state.web.rounds["fraud"]
    return {c.stored.name: c.id for c in rnd.candidates()}


def events(round_dir):
    return ReviewLog(round_dir / "results.sqlite").events()


def concrete_paths(app):
    """Every route of the app with its parameters filled in with real ids."""
    cid = ids(app)["bob"]
    paths = []
    for route in app.routes:
        if not isinstance(route, Route):
            continue
        path = (route.path.replace("{rid}", "fraud").replace("{cid}", cid)
                .replace("{fmt}", "json"))
        paths.append((path, sorted(route.methods or [])))
    return paths


# --- login, sessions ------------------------------------------------------------------------------


def test_every_route_without_a_session_is_refused(app, client):
    checked = 0
    for path, methods in concrete_paths(app):
        if path == "/login":
            continue
        for method in methods:
            if method == "HEAD":
                continue
            response = client.request(method, path, follow_redirects=False,
                                       data={"csrf_token": "x"} if method == "POST" else None)
            checked += 1
            if method == "GET":
                assert response.status_code == 303, path
                assert response.headers["location"].startswith("/login?next=")
            else:
                assert response.status_code == 401, (method, path)
            assert "Ada" not in response.text and "bob" not in response.text
    assert checked >= 12  # every interviewer route was tried
    assert events(app.state.web.rounds["fraud"].folder) == []


def test_login_cookie_is_httponly_samesite_and_secure_under_tls(app):
    with TestClient(app, base_url="https://testserver") as tls:
        token = csrf_of(tls.get("/login").text)
        response = tls.post("/login", data={"username": "dana", "password": PASSWORD,
                                            "csrf_token": token}, follow_redirects=False)
        cookie = response.headers["set-cookie"]
        assert "takehome_session=" in cookie and "HttpOnly" in cookie
        assert "SameSite=lax" in cookie and "Secure" in cookie
        assert "max-age=31536000" in tls.get("/").headers["strict-transport-security"]
    with TestClient(app) as plain:
        token = csrf_of(plain.get("/login").text)
        response = plain.post("/login", data={"username": "dana", "password": PASSWORD,
                                              "csrf_token": token}, follow_redirects=False)
        assert "Secure" not in response.headers["set-cookie"]


def test_wrong_password_is_refused_and_rate_limited(client):
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        response = client.post("/login", data={"username": "dana", "password": "wrong one!!",
                                               "csrf_token": token})
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
    # the right password is refused too while the limit holds
    response = client.post("/login", data={"username": "dana", "password": PASSWORD,
                                           "csrf_token": token}, follow_redirects=False)
    assert response.status_code == 429 and int(response.headers["retry-after"]) > 0
    assert "takehome_session" not in response.headers.get("set-cookie", "")


def test_rate_limit_is_per_username_across_addresses(app):
    for n in range(5):
        with TestClient(app, client=(f"10.0.0.{n}", 5000)) as c:
            token = csrf_of(c.get("/login").text)
            c.post("/login", data={"username": "dana", "password": "nope-nope-nope",
                                   "csrf_token": token})
    with TestClient(app, client=("10.0.0.99", 5000)) as c:
        token = csrf_of(c.get("/login").text)
        response = c.post("/login", data={"username": "dana", "password": PASSWORD,
                                          "csrf_token": token}, follow_redirects=False)
        assert response.status_code == 429


def test_unknown_user_gets_the_same_answer(client):
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"username": "nobody", "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 401 and "Wrong username or password" in response.text


def test_login_form_needs_its_csrf_token(client):
    response = client.post("/login", data={"username": "dana", "password": PASSWORD},
                           follow_redirects=False)
    assert response.status_code == 403


def test_logout_ends_the_session_server_side(app, client):
    token = login(client)
    cookie = client.cookies.get("takehome_session")
    assert client.post("/logout", data={"csrf_token": token},
                       follow_redirects=False).status_code == 303
    with TestClient(app, cookies={"takehome_session": cookie}) as replay:
        assert replay.get("/", follow_redirects=False).status_code == 303


def test_sessions_expire_when_idle(round_dir):
    app = make_app(round_dir, session_idle_seconds=-1)
    with TestClient(app) as c:
        token = csrf_of(c.get("/login").text)
        c.post("/login", data={"username": "dana", "password": PASSWORD, "csrf_token": token})
        assert c.get("/", follow_redirects=False).status_code == 303


def test_removing_a_user_ends_their_sessions(app, client):
    login(client)
    app.state.web.accounts.remove_user("dana")
    assert client.get("/", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target,expected", [
    ("/rounds/fraud", "/rounds/fraud"), ("//evil.example/", "/"), ("https://evil.example", "/"),
    ("/\\evil.example", "/"), ("", "/"), ("/ok\r\nSet-Cookie: x=1", "/"),
])
def test_login_only_redirects_to_local_paths(target, expected):
    assert safe_next(target) == expected


# --- CSRF, headers, traversal --------------------------------------------------------------------


def post_routes(app):
    cid = ids(app)["bob"]
    base = f"/rounds/fraud/c/{cid}"
    return [
        (f"{base}/override", {"criterion": "tests", "level": "3", "reason": "r"}),
        (f"{base}/note", {"question": "q", "text": "t"}),
        (f"{base}/decision", {"decision": "advance", "reason": "r"}),
        ("/rounds/fraud/settings", {"blind": "1"}),
        ("/prefs/blind", {"blind": "1"}),
        ("/logout", {}),
    ]


def test_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(app, client):
    token = login(client, "root")
    for path, data in post_routes(app):
        for sent in (None, "wrong" + token[5:], ""):
            form = dict(data) if sent is None else {**data, "csrf_token": sent}
            response = client.post(path, data=form, follow_redirects=False)
            assert response.status_code == 403, (path, sent)
        header = client.post(path, data=data, headers={"X-CSRF-Token": "nope"},
                             follow_redirects=False)
        assert header.status_code == 403
    assert events(app.state.web.rounds["fraud"].folder) == []
    assert app.state.web.accounts.preference("root", "blind") == ""
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in


def test_cross_site_post_is_refused_even_with_the_token(app, client):
    token = login(client)
    cid = ids(app)["bob"]
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"},
                    {"Origin": "null"}):
        response = client.post(f"/rounds/fraud/c/{cid}/decision", headers=headers, data={
            "csrf_token": token, "decision": "reject", "reason": "csrf"}, follow_redirects=False)
        assert response.status_code == 403
    assert events(app.state.web.rounds["fraud"].folder) == []


def test_security_headers_on_every_page(app, client):
    login(client)
    cid = ids(app)["bob"]
    for path in ("/login", "/", "/rounds/fraud", f"/rounds/fraud/c/{cid}",
                 f"/rounds/fraud/compare?c={cid}&c={ids(app)['carol']}", "/rounds/fraud/audit"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "unsafe-inline" not in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert "<script" not in response.text and " style=" not in response.text
    report = client.get(f"/rounds/fraud/c/{cid}/report")
    policy = report.headers["content-security-policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy  # no script at all
    assert "frame-ancestors 'self'" in policy
    css = client.get("/static/web.css")
    assert css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", [
    "/static/../accounts.py", "/static/%2e%2e/accounts.py", "/static/..%2faccounts.py",
    "/static/%2e%2e/%2e%2e/web.sqlite", "/rounds/..%2f..%2fweb.sqlite",
    "/rounds/fraud/c/..%2f..%2fresults.sqlite/files/json", "/rounds/fraud/c/x/files/..%2fresult",
    "/rounds/%2e%2e/c/x/report", "/rounds/fraud/c/%2e%2e%2fbob/report",
    "/rounds/fraud/c/{cid}/files/..%2f..%2f..%2fweb.sqlite", "/rounds/fraud/c/{cid}/files/yaml",
    "/../../etc/passwd", "/rounds/fraud/../../web.sqlite",
])
def test_path_traversal_is_refused(app, client, path):
    login(client)
    response = client.get(path.replace("{cid}", ids(app)["bob"]), follow_redirects=False)
    assert response.status_code in (400, 404), path
    assert "SQLite format" not in response.text and "argon2" not in response.text
    assert "def " not in response.text


# --- reviewing ------------------------------------------------------------------------------------


def test_override_is_audited_shown_and_mirrored_never_modifying_the_result(app, client,
                                                                           round_dir):
    token = login(client)
    cid = ids(app)["bob"]
    original = (round_dir / "bob" / "result.json").read_bytes()
    stored = app.state.web.rounds["fraud"].candidate(cid).stored.result_json
    response = client.post(f"/rounds/fraud/c/{cid}/override", data={
        "csrf_token": token, "criterion": "tests", "level": "3",
        "reason": "Tests live in checks/."}, follow_redirects=False)
    assert response.status_code == 303
    [event] = events(round_dir)
    assert (event.kind, event.target, event.reviewer) == ("override", "tests", "dana")
    assert event.before == {"level": 0, "reviewed": False} and event.after["level"] == 3
    page = client.get(f"/rounds/fraud/c/{cid}").text
    assert "tests: level 0 → level 3" in page and "Tests live in checks/." in page
    report = client.get(f"/rounds/fraud/c/{cid}/report").text
    assert "Reviewed by dana" in report and "automatic level 0" in report
    table = client.get("/rounds/fraud").text
    assert "3*" in table
    # the files `takehome report` and `takehome grade` read are kept in step
    assert "reviewer: dana" in (round_dir / "bob" / "result.overrides.yaml").read_text()
    assert "Reviewed by dana" in (round_dir / "bob" / "report.html").read_text()
    assert (round_dir / "bob" / "result.json").read_bytes() == original
    assert app.state.web.rounds["fraud"].candidate(cid).stored.result_json == stored
    # back to the automatic level: audited too, and the YAML is removed
    client.post(f"/rounds/fraud/c/{cid}/override", data={
        "csrf_token": token, "criterion": "tests", "level": "auto", "reason": "my mistake"})
    assert events(round_dir)[-1].after is None
    assert not (round_dir / "bob" / "result.overrides.yaml").exists()
    assert "Reviewed by dana" not in client.get(f"/rounds/fraud/c/{cid}/report").text


@pytest.mark.parametrize("form,message", [
    ({"criterion": "tests", "level": "3", "reason": "  "}, "a reason is required"),
    ({"criterion": "nope", "level": "3", "reason": "r"}, "unknown criterion"),
    ({"criterion": "tests", "level": "7", "reason": "r"}, "choose a level"),
    ({"criterion": "tests", "level": "auto", "reason": "r"}, "no override to remove"),
])
def test_bad_override_is_refused_with_a_message(app, client, round_dir, form, message):
    token = login(client)
    cid = ids(app)["bob"]
    response = client.post(f"/rounds/fraud/c/{cid}/override", data={**form, "csrf_token": token})
    assert response.status_code == 400 and message in response.text
    assert events(round_dir) == []


def test_decision_and_notes_are_recorded_and_exported(app, client, round_dir):
    token = login(client)
    cid = ids(app)["Ada Lovelace"]
    question = app.state.web.rounds["fraud"].candidate(cid).result.questions[0].id
    client.post(f"/rounds/fraud/c/{cid}/note", data={
        "csrf_token": token, "question": question, "text": "Explained the threshold well."})
    client.post(f"/rounds/fraud/c/{cid}/note", data={  # unchanged: no new entry
        "csrf_token": token, "question": question, "text": "Explained the threshold well."})
    client.post(f"/rounds/fraud/c/{cid}/decision", data={
        "csrf_token": token, "decision": "advance", "reason": "Best of the round."})
    kinds = [e.kind for e in events(round_dir)]
    assert kinds == ["note", "decision"]
    page = client.get(f"/rounds/fraud/c/{cid}").text
    assert "Explained the threshold well." in page and "decision: none → advance" in page
    rows = list(csv.DictReader(io.StringIO(client.get("/rounds/fraud/export.csv").text)))
    ada = next(r for r in rows if r["candidate"] == "Ada Lovelace")
    assert (ada["decision"], ada["decision_reviewer"], ada["decision_reason"]) == (
        "advance", "dana", "Best of the round.")
    assert ada["tests_level"] and ada["total"]
    assert {r["candidate"] for r in rows} == {"Ada Lovelace", "bob", "carol"}
    question_text = app.state.web.rounds["fraud"].candidate(cid).result.questions[0].text
    assert ada["interview_notes"] == f"{question_text}: Explained the threshold well."
    assert next(r for r in rows if r["candidate"] == "bob")["interview_notes"] == ""
    markdown = client.get(f"/rounds/fraud/c/{cid}/files/md").text
    review = markdown[markdown.index("## Interview review"):]
    assert "**Decision:** advance by dana" in review and "Best of the round." in review
    assert "Explained the threshold well." in review
    assert "## Interview review" not in client.get(
        f"/rounds/fraud/c/{ids(app)['bob']}/files/md").text
    response = client.post(f"/rounds/fraud/c/{cid}/decision", data={
        "csrf_token": token, "decision": "maybe", "reason": "r"})
    assert response.status_code == 400
    client.post(f"/rounds/fraud/c/{cid}/decision", data={
        "csrf_token": token, "decision": "none", "reason": "wrong candidate"})
    assert "decision: advance → none" in client.get("/rounds/fraud/audit").text


def test_review_events_are_append_only(client, app, round_dir):
    token = login(client)
    cid = ids(app)["bob"]
    client.post(f"/rounds/fraud/c/{cid}/decision", data={
        "csrf_token": token, "decision": "hold", "reason": "r"})
    conn = sqlite3.connect(round_dir / "results.sqlite")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE review_events SET reviewer='mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM review_events")
    conn.close()


def test_cli_review_and_web_write_the_same_records(app, client, round_dir):
    from click.testing import CliRunner

    from harness.cli import main

    outcome = CliRunner().invoke(main, [
        "review", str(round_dir / "bob" / "result.json"), "--criterion", "modeling",
        "--level", "2", "--reviewer", "cli-dana", "--reason", "Baseline was there."])
    assert outcome.exit_code == 0, outcome.output
    [event] = events(round_dir)
    assert (event.kind, event.target, event.source) == ("override", "modeling", "cli")
    login(client)
    cid = ids(app)["bob"]
    assert "modeling: level 1 → level 2" in client.get(f"/rounds/fraud/c/{cid}").text
    assert "Reviewed by cli-dana" in client.get(f"/rounds/fraud/c/{cid}/report").text


def test_overrides_yaml_written_by_hand_is_imported_once(round_dir):
    (round_dir / "bob" / "result.overrides.yaml").write_text(
        "criteria:\n  tests:\n    level: 2\n    reviewer: Hand\n    reason: edited by hand\n")
    make_app(round_dir)
    make_app(round_dir)
    [event] = events(round_dir)
    assert (event.source, event.reviewer, event.after["level"]) == ("import", "Hand", 2)


def test_regrade_keeps_reviews_and_says_they_refer_to_an_older_grading(app, client, round_dir):
    token = login(client)
    cid = ids(app)["bob"]
    client.post(f"/rounds/fraud/c/{cid}/override", data={
        "csrf_token": token, "criterion": "tests", "level": "3", "reason": "checked"})
    assert "older grading" not in client.get(f"/rounds/fraud/c/{cid}").text
    add_to_round(round_dir, sample("weak", "bob"), folder_name="bob",
                 harness_version="newer")
    page = client.get(f"/rounds/fraud/c/{cid}").text
    assert "made on an older grading" in page
    assert "Reviewed by dana" in client.get(f"/rounds/fraud/c/{cid}/report").text
    assert "review on older grading" in client.get("/rounds/fraud").text
    rows = list(csv.DictReader(io.StringIO(client.get("/rounds/fraud/export.csv").text)))
    assert next(r for r in rows if r["candidate"] == "bob")["reviews_on_older_grading"] == "yes"


# --- pages ----------------------------------------------------------------------------------------


def names_in_order(html: str) -> list[str]:
    import re

    return re.findall(r'class="cand-link"><b>([^<]+)</b>', html)


def test_round_table_sorts_and_filters(client):
    login(client)
    assert names_in_order(client.get("/rounds/fraud").text) == ["Ada Lovelace", "carol", "bob"] \
        or names_in_order(client.get("/rounds/fraud").text)[0] == "Ada Lovelace"
    by_total = names_in_order(client.get("/rounds/fraud?sort=total&dir=asc").text)
    assert by_total[-1] == "Ada Lovelace"
    assert names_in_order(client.get("/rounds/fraud?sort=name&dir=asc").text) == [
        "Ada Lovelace", "bob", "carol"]
    assert names_in_order(client.get("/rounds/fraud?sort=name&dir=desc").text) == [
        "carol", "bob", "Ada Lovelace"]
    assert names_in_order(client.get("/rounds/fraud?status=execution_failed").text) in (
        [], ["carol"])
    assert names_in_order(client.get("/rounds/fraud?flags=none").text) == ["Ada Lovelace"]
    assert "Ada Lovelace" not in names_in_order(
        client.get("/rounds/fraud?criterion=tests&level_op=le&level=1").text)
    assert names_in_order(client.get("/rounds/fraud?sort=evil&status=<x>").text)  # ignored


def test_compare_two_or_three_candidates(app, client):
    login(client)
    c = ids(app)
    page = client.get(f"/rounds/fraud/compare?c={c['Ada Lovelace']}&c={c['bob']}")
    assert page.status_code == 200
    assert "Ada Lovelace" in page.text and "bob" in page.text and 'data-criterion="tests"' in page.text
    assert client.get(f"/rounds/fraud/compare?c={c['bob']}").status_code == 400
    assert client.get("/rounds/fraud/compare?c=aaaa&c=bbbb").status_code == 404


def test_downloads_are_attachments_with_safe_types(app, client):
    login(client)
    cid = ids(app)["bob"]
    for fmt, media in (("json", "application/json"), ("md", "text/plain"),
                       ("gradescope", "application/json")):
        response = client.get(f"/rounds/fraud/c/{cid}/files/{fmt}")
        assert response.headers["content-type"].startswith(media)
        assert response.headers["content-disposition"].startswith("attachment;")
    assert json.loads(client.get(f"/rounds/fraud/c/{cid}/files/json").text)["submission"][
        "name"] == "bob"


def test_blind_mode_hides_names_everywhere(app, client):
    token = login(client)
    c = ids(app)
    client.post("/prefs/blind", data={"csrf_token": token, "blind": "1"})
    pages = [client.get(p).text for p in (
        "/rounds/fraud", f"/rounds/fraud/c/{c['Ada Lovelace']}",
        f"/rounds/fraud/c/{c['Ada Lovelace']}/report",
        f"/rounds/fraud/compare?c={c['Ada Lovelace']}&c={c['bob']}",
        "/rounds/fraud/export.csv", f"/rounds/fraud/c/{c['Ada Lovelace']}/files/json")]
    for text in pages:
        assert "Lovelace" not in text
        assert "Candidate " in text
    client.post("/prefs/blind", data={"csrf_token": token, "blind": "0"})
    assert "Lovelace" in client.get("/rounds/fraud").text


def test_only_an_admin_can_force_blind_mode_for_a_round(app, round_dir):
    with TestClient(app) as dana:
        token = login(dana)
        assert dana.post("/rounds/fraud/settings", data={"csrf_token": token, "blind": "1"},
                         follow_redirects=False).status_code == 403
    with TestClient(app) as root:
        token = login(root, "root")
        root.post("/rounds/fraud/settings", data={"csrf_token": token, "blind": "1",
                                                  "reason": "policy"})
    with TestClient(app) as dana:
        token = login(dana)
        dana.post("/prefs/blind", data={"csrf_token": token, "blind": "0"})
        page = dana.get("/rounds/fraud").text
        assert "Lovelace" not in page and "blind (forced)" in page
    assert [e.kind for e in events(round_dir)] == ["setting"]


def test_hostile_result_is_escaped_in_every_page(round_dir, tmp_path):
    add_to_round(round_dir, hostile_result(), folder_name="evil")
    app = make_app(round_dir)
    with TestClient(app) as client:
        token = login(client)
        cid = next(c.id for c in app.state.web.rounds["fraud"].candidates()
                   if c.stored.name.startswith("evil"))
        client.post(f"/rounds/fraud/c/{cid}/note", data={
            "csrf_token": token, "question": app.state.web.rounds["fraud"].candidate(cid)
            .result.questions[0].id, "text": "<script>window.__pwned=1</script>"})
        for path in ("/rounds/fraud", f"/rounds/fraud/c/{cid}", f"/rounds/fraud/c/{cid}/report",
                     f"/rounds/fraud/compare?c={cid}&c={ids(app)['bob']}",
                     "/rounds/fraud/audit"):
            text = client.get(path).text
            assert "<script>" not in text and "onerror=" not in text.replace(
                "onerror=&", "")  # escaped forms only
            assert "&lt;script&gt;" in text or path.endswith("/rounds/fraud")
        markdown = client.get(f"/rounds/fraud/c/{cid}/files/md").text  # no raw HTML at all
        assert "<script" not in markdown and "<img" not in markdown
        review = markdown[markdown.index("## Interview review"):]
        assert "&lt;script&gt;window.\\_\\_pwned=1&lt;/script&gt;" in review  # the note


# --- the extension point --------------------------------------------------------------------------


def test_extension_routes_are_guarded_and_public_routes_still_need_csrf(round_dir):
    async def public(request):
        if request.method == "POST":
            form = await request.form()
            return PlainTextResponse(f"got {form.get('x')}")
        from harness.web import csrf_token

        return PlainTextResponse(f"public page {csrf_token(request)}")

    async def private(request):
        return PlainTextResponse(f"hello {request.state.session.username}")

    ext = Extension(name="portal", public_routes=[Route("/p/{token}", public,
                                                        methods=["GET", "POST"])],
                    routes=[Route("/invitations", private)], nav=[("Invitations", "/invitations")])
    app = create_app([round_dir.parent], extensions=[ext],
                     settings=WebSettings(accounts_path=round_dir.parent / "web.sqlite"))
    app.state.web.accounts.add_user("dana", PASSWORD)
    with TestClient(app) as client:
        page = client.get("/p/abc")
        assert page.status_code == 200 and "public page" in page.text
        assert "unsafe-inline" not in page.headers["content-security-policy"]
        assert client.post("/p/abc", data={"x": "1"}).status_code == 403
        token = page.text.split()[-1]
        assert client.post("/p/abc", data={"x": "1", "csrf_token": token}).text == "got 1"
        assert client.get("/invitations", follow_redirects=False).status_code == 303
        login(client)
        assert client.get("/invitations").text == "hello dana"
        assert 'href="/invitations"' in client.get("/").text


def test_extension_cannot_bypass_the_guard_with_a_mount(round_dir):
    from starlette.routing import Mount

    from contracts.errors import TakehomeError

    ext = Extension(name="bad", routes=[Mount("/x", routes=[])])  # type: ignore[list-item]
    with pytest.raises(TakehomeError, match="not a starlette Route"):
        create_app([round_dir.parent], extensions=[ext],
                   settings=WebSettings(accounts_path=round_dir.parent / "web.sqlite"))


def test_rejected_and_harness_error_candidates_can_be_decided_but_not_leveled(round_dir):
    from fixtures.report_samples import ASSIGNMENT

    from harness.result import GradingResult, harness_error_result

    rejected = sample("weak", "mallory").model_dump(mode="json")
    rejected.update(status="rejected", status_reason="zip slip: ../evil", rubric=None,
                    total=None, graders={}, red_flags=[], questions=[])
    rejected["submission"]["content_hash"] = "sha256:" + "ab" * 32
    add_to_round(round_dir, GradingResult.model_validate(rejected), folder_name="mallory")
    fault = harness_error_result(name="trent", assignment=ASSIGNMENT, rubric=None,
                                 reason="grader crashed", content_hash="sha256:" + "cd" * 32)
    add_to_round(round_dir, fault, folder_name="trent")
    app = make_app(round_dir)
    with TestClient(app) as client:
        token = login(client)
        table = client.get("/rounds/fraud?sort=total&dir=asc")
        assert table.status_code == 200
        assert names_in_order(table.text)[-2:] in (["mallory", "trent"], ["trent", "mallory"])
        for name in ("mallory", "trent"):
            cid = ids(app)[name]
            page = client.get(f"/rounds/fraud/c/{cid}")
            assert page.status_code == 200 and "no levels to override" in page.text
            assert client.get(f"/rounds/fraud/c/{cid}/report").status_code == 200
            for fmt in ("json", "md", "gradescope"):
                assert client.get(f"/rounds/fraud/c/{cid}/files/{fmt}").status_code == 200
            refused = client.post(f"/rounds/fraud/c/{cid}/override", data={
                "csrf_token": token, "criterion": "tests", "level": "2", "reason": "r"})
            assert refused.status_code == 400 and "no rubric scores" in refused.text
            decided = client.post(f"/rounds/fraud/c/{cid}/decision", data={
                "csrf_token": token, "decision": "reject", "reason": "not gradable"},
                follow_redirects=False)
            assert decided.status_code == 303
        other = ids(app)
        compare = client.get(f"/rounds/fraud/compare?c={other['mallory']}&c={other['bob']}")
        assert compare.status_code == 200
        rows = list(csv.DictReader(io.StringIO(client.get("/rounds/fraud/export.csv").text)))
        assert {r["candidate"]: r["decision"] for r in rows}["trent"] == "reject"


def test_unknown_pages_and_head_requests(client):
    login(client)
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "unsafe-inline" not in missing.headers[
        "content-security-policy"]
    assert client.get("/rounds/nope").status_code == 404
    assert client.head("/rounds/fraud").status_code == 200


def test_a_round_graded_after_the_start_is_served(app, client, round_dir):
    login(client)
    later = round_dir.parent / "later"
    later.mkdir()
    add_to_round(later, sample("weak", "dave"), folder_name="dave")
    assert 'href="/rounds/later"' in client.get("/").text
    assert "dave" in client.get("/rounds/later").text
    assert client.get("/rounds/fraud").status_code == 200


def test_extension_may_use_plain_functions(round_dir):
    def hello(request):
        return PlainTextResponse("plain")

    app = create_app([round_dir.parent], extensions=[
        Extension(name="x", public_routes=[Route("/hello", hello)])],
        settings=WebSettings(accounts_path=round_dir.parent / "web.sqlite"))
    with TestClient(app) as client:
        assert client.get("/hello").text == "plain"


def test_candidate_page_links_the_previous_and_next_candidates(app, client):
    login(client)
    c = ids(app)
    page = client.get(f"/rounds/fraud/c/{c['bob']}").text
    assert f'href="/rounds/fraud/c/{c["Ada Lovelace"]}" id="previous"' in page
    assert f'href="/rounds/fraud/c/{c["carol"]}" id="next"' in page
    first = client.get(f"/rounds/fraud/c/{c['Ada Lovelace']}").text
    assert 'id="previous"' not in first and 'id="next"' in first


def test_an_invalid_stored_result_is_reported_not_shown(round_dir):
    from harness.store import ResultKey, ResultStore

    key = ResultKey("sha256:" + "ee" * 32, "a", "r", "i", "v")
    ResultStore(round_dir / "results.sqlite").put(key, name="broken-row", status="graded",
                                                  total=1.0, result_json='{"not": "a result"}',
                                                  report_path=None)
    app = make_app(round_dir)
    with TestClient(app) as client:
        token = login(client)
        table = client.get("/rounds/fraud")
        assert table.status_code == 200 and "1 stored result is not valid" in table.text
        assert names_in_order(table.text) and "broken-row" not in names_in_order(table.text)
        cid = "ee" * 8
        assert client.get(f"/rounds/fraud/c/{cid}").status_code == 422
        assert client.post(f"/rounds/fraud/c/{cid}/decision", data={
            "csrf_token": token, "decision": "hold", "reason": "r"}).status_code == 422
        assert client.get("/rounds/fraud/export.csv").status_code == 200
        assert client.get("/").status_code == 200


def test_oversized_forms_are_refused_before_they_are_buffered(app, client, round_dir):
    big = "x" * (2 * 1024 * 1024)
    response = client.post("/login", data={"username": "dana", "password": big})
    assert response.status_code == 413
    assert "default-src 'none'" in response.headers["content-security-policy"]

    def chunks():
        for _ in range(40):
            yield b"a=" + b"y" * 65536 + b"&"

    streamed = client.post("/login", content=chunks(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413
    token = login(client)
    cid = ids(app)["bob"]
    response = client.post(f"/rounds/fraud/c/{cid}/decision", data={
        "csrf_token": token, "decision": "hold", "reason": big})
    assert response.status_code == 413 and events(round_dir) == []


def test_every_interviewer_route_of_every_extension_needs_a_login(round_dir, monkeypatch):
    """The app as `takehome serve` builds it (extensions from the entry points): every route
    that is not public refuses a request without a session, whatever its parameters."""
    monkeypatch.setenv("TAKEHOME_PORTAL_WORKER", "0")
    app = create_app([round_dir.parent], extensions=None,
                     settings=WebSettings(accounts_path=round_dir.parent / "web.sqlite"))
    guarded = [r for r in app.routes if isinstance(r, Route)]
    assert guarded and all(hasattr(r.endpoint, "public") for r in guarded)
    private = [r for r in guarded if not r.endpoint.public]
    with TestClient(app) as client:
        for route in private:
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                response = client.request(method, path, follow_redirects=False,
                                          data={"csrf_token": "x"} if method != "GET" else None)
                expected = 303 if method == "GET" else 401
                assert response.status_code == expected, (method, route.path)
    assert {r.path for r in private} >= {"/", "/rounds/{rid}", "/rounds/{rid}/c/{cid}"}


def test_round_page_counts_the_decisions_and_static_files_may_be_cached(app, client):
    token = login(client)
    cid = ids(app)["bob"]
    client.post(f"/rounds/fraud/c/{cid}/decision", data={
        "csrf_token": token, "decision": "reject", "reason": "r"})
    summary = client.get("/rounds/fraud").text.split('id="decision-summary"')[1][:600]
    assert "1 reject" in summary and "0 advance" in summary and "2 undecided" in summary
    assert "max-age" in client.get("/static/web.css").headers["cache-control"]
    assert client.get("/rounds/fraud").headers["cache-control"] == "no-store"
