"""The portal's routes in the web app (``harness.web`` extension ``portal``).

Candidates (public routes, authenticated by the token in the path; every refusal is the same
404 page, failed lookups are rate-limited per client address):

=========================================  =====================================================
``GET  /c/{token}``                        the assignment, the data, the deadline, the uploads
``GET  /c/{token}/contract``               the submission contract (``docs/candidates.md``)
``GET  /c/{token}/data/{name}``            a public data file (the assignment's ``public/``)
``GET  /c/{token}/uploads/{n}``            one of their own uploads' self-check
``POST /c/{token}/upload?csrf_token=...``  a streamed upload (capped while receiving)
``POST /c/{token}/final``                  mark the current upload final (queues grading)
=========================================  =====================================================

Interviewers (login required): ``GET/POST /invitations`` (list, invite), ``POST
/invitations/{round}/{id}/revoke``, ``POST /invitations/{round}/{id}/regrade`` (a failed grading). Routes are small: the store, the receiver and the page
builder do the work.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from contracts.errors import SubmissionRejected, TakehomeError
from harness.portal.invitations import (
    InvitationRefused,
    create_invitation,
    parse_deadline,
    resolve_token,
    revoke_invitation,
)
from harness.portal.pages import candidate_page, contract_html, numbered_uploads, public_files
from harness.portal.queue import enqueue
from harness.portal.status import round_invitations, round_status_rows
from harness.portal.store import InvitationRow, PortalStore, has_portal
from harness.portal.submissions import (
    Portal,
    SubmissionClosed,
    accept_upload,
    mark_final,
    refuse_if_closed,
    remove_stale_incoming,
)
from harness.portal.upload import UploadTooLarge, receive_upload
from harness.web import Extension, RateLimiter, WebState, render

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
WORKER_ENV = "TAKEHOME_PORTAL_WORKER"  # "0": do not start a worker (one runs elsewhere)
MAX_UPLOAD_ENV = "TAKEHOME_PORTAL_MAX_UPLOAD_MB"  # a smaller upload cap than intake's total
FORM_FIELDS = ("round", "assignment", "name", "email", "deadline")
NOT_VALID = "This link is not valid. It may have expired or been withdrawn; ask the hiring team."


def upload_cap_from_env() -> int | None:
    """``TAKEHOME_PORTAL_MAX_UPLOAD_MB`` in bytes (None: the intake's cap)."""
    text = os.environ.get(MAX_UPLOAD_ENV, "").strip()
    if not text:
        return None
    try:
        megabytes = float(text)
    except ValueError as error:
        raise TakehomeError(f"{MAX_UPLOAD_ENV}={text!r} is not a number",
                            hint="give the upload cap in MiB, e.g. 50") from error
    if megabytes <= 0:
        raise TakehomeError(f"{MAX_UPLOAD_ENV} must be positive", hint="e.g. 50")
    return int(megabytes * 1024 * 1024)


class PortalWeb:
    """The portal's per-app state: the rounds' portals, rate limiters and the worker process."""

    def __init__(self, state: WebState, *, start_worker: bool, caps_for=None):
        self.state = state
        self.start_worker = start_worker
        self.caps_for = caps_for  # tests: Path -> Portal with small caps
        self.lookups = RateLimiter(30, 600)  # failed token lookups per client address
        self.uploads = RateLimiter(30, 3600)  # uploads per invitation
        self._worker = None
        self._lock = threading.Lock()

    def portal(self, folder: Path) -> Portal:
        """The portal of a round folder (``TAKEHOME_PORTAL_MAX_UPLOAD_MB`` lowers the cap)."""
        if self.caps_for:
            return self.caps_for(folder)
        return Portal(folder, upload_cap=upload_cap_from_env())

    def find(self, request: Request, token: str) -> tuple[Portal, InvitationRow]:
        """The round and invitation a token opens; a 404 (or 429) otherwise."""
        address = request.client.host if request.client else "unknown"
        if self.lookups.retry_after(address):
            raise HTTPException(429, "Too many invalid links from this address; wait a while.")
        for rnd in self.state.rounds.values():
            if not has_portal(rnd.folder):
                continue
            portal = self.portal(rnd.folder)
            try:
                return portal, resolve_token(portal.store, token)
            except InvitationRefused:
                continue
        self.lookups.hit(address)
        raise HTTPException(404, NOT_VALID)

    def ensure_worker(self) -> None:
        """Start the worker process for the served rounds unless one is running."""
        if not self.start_worker:
            return
        from harness.portal.worker import start_worker_process, worker_running

        with self._lock:
            if self._worker is not None and self._worker.poll() is None:
                return
            folders = [r.folder for r in self.state.rounds.values()]
            if folders and all(worker_running(f) for f in folders):
                return
            log = folders[0] / ".portal" / "worker.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            self._worker = start_worker_process(folders, log_path=log)


def _portal_web(request: Request) -> PortalWeb:
    return request.app.state.web.portal


# --- candidate pages ---------------------------------------------------------------------------


def _candidate_render(request: Request, portal: Portal, invitation: InvitationRow, *,
                      error: str | None = None, status: int = 200) -> Response:
    page = candidate_page(portal.store, invitation, portal.max_upload_bytes)
    token = request.path_params["token"]
    return private(render(request, "portal/candidate.html.j2", {
        "page": page, "base": f"/c/{token}", "error": error, "title": page.title,
    }, status_code=status))


def private(response: Response) -> Response:
    """A candidate's response: the token in the URL never leaves in a Referer, nor is indexed."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


async def candidate_home(request: Request) -> Response:
    """The candidate's page."""
    portal, invitation = _portal_web(request).find(request, request.path_params["token"])
    return _candidate_render(request, portal, invitation)


async def candidate_contract(request: Request) -> Response:
    """The submission contract."""
    _portal_web(request).find(request, request.path_params["token"])
    return private(render(request, "portal/contract.html.j2", {
        "contract_html": contract_html(), "base": f"/c/{request.path_params['token']}",
        "title": "Submission contract"}))


async def candidate_data(request: Request) -> Response:
    """A public data file of the invitation's assignment."""
    from harness.assignment import load_assignment

    _, invitation = _portal_web(request).find(request, request.path_params["token"])
    files = public_files(load_assignment(invitation.assignment))
    path = files.get(request.path_params["name"])
    if path is None:
        raise HTTPException(404, "no such file")
    return private(FileResponse(path, media_type="text/csv" if path.suffix == ".csv"
                                else "application/octet-stream", filename=path.name))


async def candidate_upload_page(request: Request) -> Response:
    """The self-check of one of the candidate's own uploads (numbered within the invitation)."""
    portal, invitation = _portal_web(request).find(request, request.path_params["token"])
    number = request.path_params["number"]
    uploads = dict(numbered_uploads(portal.store, invitation))
    if number not in uploads:
        raise HTTPException(404, "no such upload")
    from harness.portal.pages import upload_view

    return private(render(request, "portal/upload.html.j2", {
        "upload": upload_view(number, uploads[number]),
        "base": f"/c/{request.path_params['token']}", "title": f"Upload {number}"}))


async def candidate_upload(request: Request) -> Response:
    """Receive an upload (streamed, capped), ingest it and queue its self-check."""
    web = _portal_web(request)
    portal, invitation = web.find(request, request.path_params["token"])
    try:
        refuse_if_closed(portal.store, invitation)
        if web.uploads.retry_after(invitation.id):
            raise SubmissionClosed("too many uploads in the last hour", hint="wait a while")
        web.uploads.hit(invitation.id)
        received = await receive_upload(request.stream(), request.headers.get("content-type", ""),
                                        request.headers.get("content-length"),
                                        portal.incoming_dir, portal.max_upload_bytes)
        await run_in_threadpool(accept_upload, portal, invitation, received)
    except UploadTooLarge as error:
        return _candidate_render(request, portal, invitation, error=str(error), status=413)
    except SubmissionClosed as error:
        return _candidate_render(request, portal, invitation, error=str(error), status=409)
    except SubmissionRejected as error:
        return _candidate_render(request, portal, invitation, error=str(error), status=400)
    web.ensure_worker()
    return private(RedirectResponse(f"/c/{request.path_params['token']}", status_code=303))


async def candidate_final(request: Request) -> Response:
    """Mark the current upload final: it is queued for grading and can no longer change."""
    web = _portal_web(request)
    portal, invitation = web.find(request, request.path_params["token"])
    try:
        mark_final(portal, invitation)
    except SubmissionClosed as error:
        return _candidate_render(request, portal, invitation, error=str(error), status=409)
    web.ensure_worker()
    return private(RedirectResponse(f"/c/{request.path_params['token']}", status_code=303))


# --- interviewer pages -------------------------------------------------------------------------


def _assignments() -> list[str]:
    from harness.assignment import repo_root

    root = repo_root() / "assignments"
    return sorted(p.name for p in root.iterdir() if (p / "assignment.yaml").is_file())


def _round_assignment(state: WebState, rounds: list[dict]) -> str:
    """The form's default assignment: the first round's invitations', else its results'."""
    for rnd in rounds:
        for row in rnd["rows"]:
            return row["assignment"]
    for rnd in state.rounds.values():
        for candidate in rnd.candidates()[:1]:
            try:
                return candidate.result.assignment.slug
            except ValueError:
                continue
    return ""


def _invitations_render(request: Request, *, created=None, error: str | None = None,
                        form: dict | None = None, status: int = 200) -> Response:
    state: WebState = request.app.state.web
    from harness.web.routes import is_blind

    rounds = [round_invitations(rid, rnd.folder, request) | {"blind": is_blind(request, rnd)[0]}
              for rid, rnd in state.rounds.items()]
    return render(request, "portal/invitations.html.j2", {
        "rounds": rounds, "round_ids": list(state.rounds), "assignments": _assignments(),
        "default_assignment": _round_assignment(state, rounds),
        "created": created, "error": error, "title": "Invitations",
        "form": {k: "" for k in FORM_FIELDS} | (form or {}),
    }, status_code=status)


async def invitations_page(request: Request) -> Response:
    """Every invitation of every served round, with its upload and grading state."""
    return _invitations_render(request)


async def invitations_create(request: Request) -> Response:
    """Invite a candidate; the link is shown once."""
    state: WebState = request.app.state.web
    form = await request.form()
    values = {k: str(form.get(k) or "").strip()[:300] for k in FORM_FIELDS}
    rnd = state.rounds.get(values["round"])
    try:
        if rnd is None:
            raise TakehomeError("choose a round")
        if values["assignment"] not in _assignments():
            raise TakehomeError("choose an assignment")
        new = create_invitation(PortalStore(rnd.folder), values["assignment"], values["name"],
                                email=values["email"] or None,
                                deadline=parse_deadline(values["deadline"] or None),
                                created_by=request.state.session.username)
    except TakehomeError as error:
        return _invitations_render(request, error=str(error), form=values, status=400)
    _portal_web(request).ensure_worker()
    link = new.link(str(request.base_url))
    return _invitations_render(request, created={"name": new.invitation.name, "link": link,
                                                 "round": values["round"]})


async def invitations_revoke(request: Request) -> Response:
    """Revoke an invitation: its link stops working at once."""
    state: WebState = request.app.state.web
    rnd = state.round(request.path_params["rid"])
    if not has_portal(rnd.folder):
        raise HTTPException(404, "no such invitation")
    try:
        revoke_invitation(PortalStore(rnd.folder), request.path_params["iid"],
                          revoked_by=request.state.session.username)
    except TakehomeError as error:
        raise HTTPException(404, "no such invitation") from error
    return RedirectResponse("/invitations", status_code=303)


async def invitations_regrade(request: Request) -> Response:
    """Queue a failed grading again (a harness fault is never a score: it is retried)."""
    state: WebState = request.app.state.web
    rnd = state.round(request.path_params["rid"])
    if not has_portal(rnd.folder):
        raise HTTPException(404, "no such invitation")
    store = PortalStore(rnd.folder)
    invitation = store.invitation(request.path_params["iid"])
    current = store.submission(invitation.current_submission) \
        if invitation and invitation.current_submission else None
    if current is None or current.final_at is None:
        raise HTTPException(404, "no final submission to grade")
    with store.write() as conn:
        enqueue(conn, "grade", current.id)
    _portal_web(request).ensure_worker()
    return RedirectResponse("/invitations", status_code=303)


def make_extension(state: WebState, *, start_worker: bool | None = None, caps_for=None) -> Extension:
    """The portal extension for an app; ``start_worker`` None reads ``TAKEHOME_PORTAL_WORKER``."""
    if start_worker is None:
        start_worker = os.environ.get(WORKER_ENV, "1") != "0"
    upload_cap_from_env()  # a bad setting fails at start, not at the first upload
    web = PortalWeb(state, start_worker=start_worker, caps_for=caps_for)
    state.portal = web  # type: ignore[attr-defined]
    if any(has_portal(r.folder) for r in state.rounds.values()):
        for rnd in state.rounds.values():
            remove_stale_incoming(web.portal(rnd.folder))
        web.ensure_worker()  # queued or interrupted jobs from before a restart
    return Extension(
        name="portal",
        public_routes=[
            Route("/c/{token}", candidate_home, methods=["GET"]),
            Route("/c/{token}/contract", candidate_contract, methods=["GET"]),
            Route("/c/{token}/data/{name}", candidate_data, methods=["GET"]),
            Route("/c/{token}/uploads/{number:int}", candidate_upload_page, methods=["GET"]),
            Route("/c/{token}/upload", candidate_upload, methods=["POST"]),
            Route("/c/{token}/final", candidate_final, methods=["POST"]),
        ],
        routes=[
            Route("/invitations", invitations_page, methods=["GET"]),
            Route("/invitations", invitations_create, methods=["POST"]),
            Route("/invitations/{rid}/{iid}/revoke", invitations_revoke, methods=["POST"]),
            Route("/invitations/{rid}/{iid}/regrade", invitations_regrade, methods=["POST"]),
        ],
        templates=TEMPLATES,
        static=STATIC,
        nav=[("Invitations", "/invitations")],
        template_globals={"portal_round_status": round_status_rows},
    )


def portal(state: WebState) -> Extension:
    """The ``takehome.web`` entry point."""
    return make_extension(state)
