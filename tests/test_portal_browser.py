"""End to end: a candidate submits through the link, in Chromium, against a real `takehome serve`.

`takehome invite` records the invitation; `takehome serve` (a subprocess on a free loopback
port) starts the portal's worker process; the candidate opens the link in Debian's Chromium,
uploads a hostile archive (refused with intake's reason, shown inert), then the bundled strong
example as a zip, sees the self-check pass, marks it final; the interviewer logs in and sees it
graded, with the same levels as `takehome grade` of the same example. Along the way, against the
same server: an over-cap upload is refused while streaming, and two uploads at once leave one
consistent submission. Screenshots go to /tmp/takehome-portal-*.png.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fixtures.browser import NEEDS_CHROMIUM, launch_chromium
from fixtures.portal_samples import free_port, multipart, small_submission, zip_folder, zip_slip

from harness.store import ResultStore

PASSWORD = "correct horse battery staple"
CAP_MB = 2
SHOTS = Path("/tmp")

pytestmark = [
    pytest.mark.docker,
    pytest.mark.browser,
    NEEDS_CHROMIUM,
]


def takehome(*args: str, stdin: str | None = None, cwd: Path | None = None,
             env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], input=stdin,
                          capture_output=True, text=True, timeout=900, check=False, cwd=cwd,
                          env=env)


def levels(folder: Path, name_part: str) -> dict[str, int | None]:
    from harness.result import GradingResult

    rows = [r for r in ResultStore(folder / "results.sqlite").all() if name_part in r.name]
    assert len(rows) == 1, [r.name for r in ResultStore(folder / "results.sqlite").all()]
    result = GradingResult.model_validate_json(rows[0].result_json)
    return {c.id: c.level for c in result.rubric.criteria}


@pytest.fixture(scope="module")
def server(tmp_path_factory, sandbox_image, repo_root):
    """A round with two invitations, an interviewer account and `takehome serve` on it."""
    root = tmp_path_factory.mktemp("portal-e2e")
    folder = root / "fraud-round"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    links = {}
    for name in ("Ada Lovelace", "Bo Bramble"):
        done = takehome("invite", "fraud-detection", "--name", name, "--deadline", "2099-01-01",
                        "-o", str(folder), "--base-url", base, cwd=repo_root)
        assert done.returncode == 0, done.stderr
        links[name] = done.stdout.strip().splitlines()[-1]
    added = takehome("users", "add", str(folder), "lead", "--password-stdin", stdin=PASSWORD + "\n",
                     cwd=repo_root)
    assert added.returncode == 0, added.stderr
    # the reference: `takehome grade` of the same example, graded meanwhile
    reference = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "grade", "fraud-detection",
         str(repo_root / "assignments/fraud-detection/examples/strong"), "-o", str(root / "ref"),
         "-j", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=repo_root)
    env = dict(os.environ, TAKEHOME_PORTAL_MAX_UPLOAD_MB=str(CAP_MB))
    env.pop("TAKEHOME_PORTAL_WORKER", None)
    env.pop("TAKEHOME_BROKER", None)
    serve_log = open(root / "serve.log", "w")  # noqa: SIM115 - closed at teardown
    serve = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", str(folder),
                              "--port", str(port)], stdout=serve_log,
                             stderr=subprocess.STDOUT, text=True, env=env, cwd=repo_root,
                             start_new_session=True)  # its own group: the worker is in it
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/login", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert serve.poll() is None and time.monotonic() < deadline, "takehome serve did not start"
        time.sleep(0.3)
    try:
        yield {"base": base, "folder": folder, "links": links, "root": root,
               "reference": reference, "serve": serve}
    finally:
        os.killpg(serve.pid, signal.SIGINT)  # Ctrl-C: the server and its worker stop
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
        if reference.poll() is None:
            reference.kill()
        serve_log.close()
        print((root / "serve.log").read_text()[-4000:])
        worker_log = folder / ".portal" / "worker.log"
        if worker_log.is_file():
            print(worker_log.read_text()[-4000:])


@pytest.fixture(scope="module")
def browser():
    yield from launch_chromium()


def watch(page) -> dict:
    seen = {"dialogs": [], "errors": [], "foreign": []}
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["foreign"].append(r.url)
            if not r.url.startswith(("http://127.0.0.1", "data:")) else None)
    return seen


def session_client(server, link: str) -> tuple[httpx.Client, str]:
    """An HTTP client holding the candidate page's CSRF cookie, and the token."""
    client = httpx.Client(base_url=server["base"], timeout=60)
    page = client.get(link)
    assert page.status_code == 200
    return client, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_over_cap_upload_is_refused_while_streaming(server):
    """A chunked (no Content-Length) upload bigger than the cap: 413, nothing kept."""
    link = server["links"]["Bo Bramble"]
    client, csrf = session_client(server, link)
    incoming = server["folder"] / ".portal" / "incoming"
    biggest = [0]
    stop = threading.Event()

    def measure():
        while not stop.is_set():
            for path in incoming.glob(".incoming-*") if incoming.is_dir() else []:
                try:
                    biggest[0] = max(biggest[0], path.stat().st_size)
                except FileNotFoundError:
                    pass
            time.sleep(0.005)

    head, ctype = multipart("huge.zip", b"")
    head = head[: head.rindex(b"\r\n--")]
    sent = [0]

    def body():
        yield head
        for _ in range(CAP_MB * 8):  # 4x the cap, 256 KiB at a time
            sent[0] += 256 * 1024
            yield b"\0" * (256 * 1024)
        yield b"\r\n--" + ctype.split("boundary=")[1].encode() + b"--\r\n"

    watcher = threading.Thread(target=measure)
    watcher.start()
    try:
        response = client.post(f"{link}/upload?csrf_token={csrf}", content=body(),
                               headers={"content-type": ctype})
        status = response.status_code
    except httpx.HTTPError:  # the server may close the connection while we still send
        status = 413
    finally:
        stop.set()
        watcher.join()
    assert status == 413
    assert biggest[0] <= CAP_MB * 1024 * 1024
    assert not list(incoming.glob(".incoming-*"))
    invitation_id = [p for p in (server["folder"] / ".portal" / "uploads").iterdir()] \
        if (server["folder"] / ".portal" / "uploads").is_dir() else []
    assert all(not list(p.rglob("*.zip")) for p in invitation_id)


def test_two_uploads_at_once_leave_one_consistent_submission(server):
    link = server["links"]["Bo Bramble"]
    client, csrf = session_client(server, link)
    bodies = [multipart(f"v{i}.zip", small_submission(f"v{i}")) for i in range(4)]
    barrier = threading.Barrier(len(bodies))
    statuses = []

    def send(body, ctype):
        with httpx.Client(base_url=server["base"], cookies=client.cookies, timeout=60) as mine:
            barrier.wait()
            statuses.append(mine.post(f"{link}/upload?csrf_token={csrf}", content=body,
                                      headers={"content-type": ctype}).status_code)

    threads = [threading.Thread(target=send, args=b) for b in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * len(bodies)
    page = client.get(link).text
    current = re.search(r'id="current-name">([^<]+)<', page).group(1)
    assert current in {f"v{i}.zip" for i in range(len(bodies))}
    from harness.portal.invitations import hash_token
    from harness.portal.store import PortalStore

    store = PortalStore(server["folder"])
    invitation = store.invitation_by_token_hash(hash_token(link.rsplit("/", 1)[1]))
    row = store.submission(invitation.current_submission)
    assert row.original_name == current
    import hashlib

    assert hashlib.sha256(Path(row.path).read_bytes()).hexdigest() == row.sha256
    live = [s.id for s in store.submissions_of(invitation.id)
            if s.check_state not in ("superseded", "skipped")]
    assert live == [row.id]
    # Bo is done: revoke, so the worker does not self-check these uploads
    from harness.portal.invitations import revoke_invitation

    revoke_invitation(store, invitation.id)
    assert client.get(link).status_code == 404


def test_candidate_submits_and_the_interviewer_sees_it_graded(server, browser, tmp_path,
                                                              repo_root):
    link = server["links"]["Ada Lovelace"]
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    seen = watch(page)
    page.goto(link)
    assert page.locator("main > h1").inner_text() == "Card transaction fraud detection"
    assert page.locator("#data a", has_text="train.csv").count() == 1
    page.screenshot(path=str(SHOTS / "takehome-portal-1-open.png"), full_page=True)

    # a hostile archive whose name carries HTML: refused with intake's reason, shown inert
    page.set_input_files("#file", files=[{"name": "<img src=x onerror=alert(1)>.zip",
                                          "mimeType": "application/zip", "buffer": zip_slip()}])
    page.click("#send")
    page.wait_for_load_state("load")
    banner = page.locator("#rejected")
    assert "<img src=x onerror=alert(1)>.zip" in banner.inner_text()
    assert "escapes the submission" in banner.inner_text()
    assert page.locator("#rejected img").count() == 0
    page.screenshot(path=str(SHOTS / "takehome-portal-2-rejected.png"), full_page=True)
    assert not (tmp_path.parent / "evil.py").exists() and not Path("/tmp/evil.py").exists()

    # the strong example as a zip: accepted, self-checked on the public sample
    archive = tmp_path / "strong.zip"
    archive.write_bytes(zip_folder(repo_root / "assignments/fraud-detection/examples/strong"))
    page.set_input_files("#file", str(archive))
    page.click("#send")
    page.wait_for_load_state("load")
    assert page.locator("#current-name").inner_text() == "strong.zip"
    page.screenshot(path=str(SHOTS / "takehome-portal-3-checking.png"), full_page=True)
    deadline = time.monotonic() + 420
    while page.locator("#check-ok, #problems, .chk-error").count() == 0:
        assert time.monotonic() < deadline, "the self-check did not finish"
        page.wait_for_timeout(2000)
        page.goto(link)
    assert page.locator("#check-ok").count() == 1, page.locator("#submission").inner_text()
    assert "public sample" in page.locator("#check-ok").inner_text()
    page.screenshot(path=str(SHOTS / "takehome-portal-4-checked.png"), full_page=True)

    page.click("#mark-final")
    page.wait_for_load_state("load")
    assert page.locator("#final").count() == 1 and page.locator("#file").count() == 0
    text = page.locator("main").inner_text()
    assert not re.search(r"\b(score|total|red flag|level)\b", text.split("The assignment")[0],
                         re.IGNORECASE)
    page.screenshot(path=str(SHOTS / "takehome-portal-5-final.png"), full_page=True)
    assert seen["dialogs"] == [] and seen["errors"] == [] and seen["foreign"] == []
    context.close()

    # the interviewer: log in, watch the invitation go queued -> grading -> graded
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.goto(server["base"] + "/login?next=/invitations")
    page.fill("input[name=username]", "lead")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/invitations")
    row = page.locator("tr", has_text="Ada Lovelace")
    assert row.locator(".grade-queued, .grade-grading, .grade-graded").count() == 1
    deadline = time.monotonic() + 600
    while row.locator(".grade-graded, .grade-failed").count() == 0:
        assert time.monotonic() < deadline, "grading did not finish"
        page.wait_for_timeout(3000)
        page.reload()
        row = page.locator("tr", has_text="Ada Lovelace")
    assert row.locator(".grade-graded").count() == 1, row.inner_text()
    page.screenshot(path=str(SHOTS / "takehome-portal-6-invitations.png"), full_page=True)
    row.locator("a", has_text="report").click()
    page.wait_for_load_state("load")
    assert "/rounds/" in page.url
    page.screenshot(path=str(SHOTS / "takehome-portal-7-report.png"), full_page=True)
    page.goto(server["base"] + f"/rounds/{server['folder'].name}")
    assert page.locator("#candidates", has_text="ada-lovelace").count() == 1
    status = page.locator("#portal-status tr", has_text="Ada Lovelace")
    assert status.locator(".grade-graded").count() == 1
    page.screenshot(path=str(SHOTS / "takehome-portal-8-round.png"), full_page=True)
    context.close()

    # the same levels as `takehome grade` of the same example
    reference = server["reference"]
    assert reference.wait(timeout=900) == 0, reference.stderr.read()[-3000:]
    mine = levels(server["folder"], "ada-lovelace")
    assert mine == levels(server["root"] / "ref", "strong")
    assert any(level is not None and level >= 3 for level in mine.values())
