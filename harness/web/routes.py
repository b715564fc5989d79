"""The interviewers' pages (every route here requires a login; see :mod:`harness.web.app`).

Each route is a small function: it looks the round and candidate up by id (404 otherwise), asks
:mod:`harness.web.views` what to show or :mod:`harness.reviews` to record a change, and renders a
template. A change is answered by a redirect back to the page it was made on (post/redirect/get).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from urllib.parse import urlsplit

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from contracts.errors import TakehomeError
from harness.report.blind import pseudonym
from harness.reviews import (
    DECISIONS,
    ReviewLog,
    record_decision,
    record_note,
    record_override,
    set_round_setting,
    sync_overrides_file,
)
from harness.web.rounds import Candidate, Round
from harness.web.security import REPORT_FRAME_CSP
from harness.web.templating import render
from harness.web.views import (
    SORT_KEYS,
    STATUSES,
    Shown,
    TableQuery,
    comparison,
    display_name,
    metric_of,
    review_markdown,
    round_csv,
    show,
    shown_candidates,
    table_rows,
    unreadable,
)

MAX_COMPARE = 3
DOWNLOADS = {"json": ("application/json", "result.json"),
             "md": ("text/plain; charset=utf-8", "summary.md"),
             "gradescope": ("application/json", "gradescope_results.json")}
_report_cache: OrderedDict[tuple, str] = OrderedDict()
_report_lock = threading.Lock()
_mirror_locks: dict[str, threading.Lock] = {}


def _round(request: Request) -> Round:
    return request.app.state.web.round(request.path_params["rid"])


def _candidate(rnd: Round, request: Request) -> Candidate:
    found = rnd.candidate(request.path_params["cid"])
    if found is None:
        raise HTTPException(404, "no such candidate in this round")
    return found


def _log(rnd: Round) -> ReviewLog:
    return ReviewLog(rnd.store.path)


def is_blind(request: Request, rnd: Round | None = None) -> tuple[bool, bool]:
    """(blind, forced): the reviewer's choice, or the round owner's when forced."""
    state = request.app.state.web
    forced = bool(rnd is not None and _log(rnd).settings().get("blind"))
    mine = state.accounts.preference(request.state.session.username, "blind") == "1"
    return forced or mine, forced


def _reviewer(request: Request) -> str:
    return request.state.session.username


def _back(request: Request, fallback: str) -> str:
    """The page the request came from when it is one of ours, else ``fallback``."""
    parts = urlsplit(request.headers.get("referer", ""))
    if parts.netloc == request.headers.get("host") and parts.path.startswith("/"):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return fallback


# --- rounds -------------------------------------------------------------------------------------


async def rounds_page(request: Request) -> Response:
    """The rounds (output folders) served, with how far each one's review has got."""
    state = request.app.state.web
    rows = []
    for rid, rnd in list(state.refresh_rounds().items()):
        log = _log(rnd)
        states = log.states()
        hashes = {c.stored.key.submission_hash for c in rnd.candidates()}
        rows.append({
            "id": rid, "title": rnd.title(), "candidates": len(hashes),
            "decided": sum(1 for h in hashes if h in states and states[h].decision_value),
            "reviewed": sum(1 for h in hashes if h in states and states[h].overrides),
            "forced_blind": bool(log.settings().get("blind")),
        })
    return render(request, "rounds.html.j2", {"rows": rows, "title": "Rounds"})


async def round_page(request: Request) -> Response:
    """The candidate table of a round: sortable, filterable, live from the store."""
    rnd = _round(request)
    blind, forced = is_blind(request, rnd)
    shown = await run_in_threadpool(shown_candidates, rnd, blind)
    criteria = sorted({c.id for s in shown if s.result.rubric for c in s.result.rubric.criteria})
    query = TableQuery.from_params(request.query_params, criteria)
    rows, columns = table_rows(shown, query)
    metric = {metric_of(s.result)[0] for s in shown} - {None}
    decided = {d: sum(1 for s in shown if s.review.decision_value == d) for d in DECISIONS}
    return render(request, "round.html.j2", {
        "title": rnd.title(), "rnd": rnd, "rows": rows, "columns": columns, "q": query,
        "total_count": len(shown), "blind": blind, "forced": forced, "statuses": STATUSES,
        "unreadable": len(unreadable(rnd, shown)), "decided": decided,
        "undecided": sum(1 for s in shown if not s.review.decision_value),
        "decisions": DECISIONS, "sort_keys": SORT_KEYS,
        "primary": metric.pop() if len(metric) == 1 else None,
    })


async def export_csv(request: Request) -> Response:
    """The round as CSV for applicant-tracking systems (pseudonyms when blind)."""
    rnd = _round(request)
    blind, _ = is_blind(request, rnd)
    shown = await run_in_threadpool(shown_candidates, rnd, blind)
    return Response(round_csv(shown), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{rnd.id}-decisions.csv"'})


async def audit_page(request: Request) -> Response:
    """Every review event of the round, newest first."""
    rnd = _round(request)
    blind, forced = is_blind(request, rnd)
    names = {s.candidate.stored.key.submission_hash: (display_name(s), s.id)
             for s in await run_in_threadpool(shown_candidates, rnd, blind)}
    events = list(reversed(_log(rnd).events()))
    return render(request, "audit.html.j2", {"title": f"Audit — {rnd.title()}", "rnd": rnd,
                                             "events": events, "names": names,
                                             "blind": blind, "forced": forced})


async def round_settings(request: Request) -> Response:
    """Force (or stop forcing) blind mode for everyone in this round: admins only."""
    rnd = _round(request)
    if not request.state.session.admin:
        raise HTTPException(403, "only an admin (takehome users add --admin) can force blind mode")
    form = await request.form()
    wanted = form.get("blind") == "1"
    if bool(_log(rnd).settings().get("blind")) != wanted:
        set_round_setting(_log(rnd), "blind", wanted, reviewer=_reviewer(request),
                          reason=str(form.get("reason") or "")[:2000])
    return RedirectResponse(f"/rounds/{rnd.id}", status_code=303)


async def blind_preference(request: Request) -> Response:
    """The reviewer's own blind-mode choice (kept across sessions)."""
    form = await request.form()
    request.app.state.web.accounts.set_preference(_reviewer(request), "blind",
                                                  "1" if form.get("blind") == "1" else "0")
    return RedirectResponse(_back(request, "/"), status_code=303)


# --- candidates ---------------------------------------------------------------------------------


def _shown(rnd: Round, candidate: Candidate, blind: bool) -> Shown:
    log = _log(rnd)
    try:
        return show(candidate, log.state(candidate.stored.key.submission_hash), blind)
    except ValueError:
        raise HTTPException(422, "this candidate's stored result is not a valid takehome "
                            "result; grade the submission again (takehome grade --force)") from None


async def candidate_page(request: Request, error: str = "", status_code: int = 200) -> Response:
    """A candidate: the report, and the forms to override levels, take notes and decide."""
    rnd = _round(request)
    candidate = _candidate(rnd, request)
    blind, forced = is_blind(request, rnd)
    shown = await run_in_threadpool(_shown, rnd, candidate, blind)
    everyone = [(c.id, pseudonym(c.stored.key.submission_hash, c.stored.name) if blind
                 else c.stored.name) for c in rnd.candidates()]
    everyone.sort(key=lambda pair: pair[1].lower())
    at = next(i for i, (cid, _) in enumerate(everyone) if cid == candidate.id)
    others = [pair for pair in everyone if pair[0] != candidate.id]
    automatic = {c.id: c for c in shown.original.rubric.criteria} if shown.original.rubric else {}
    return render(request, "candidate.html.j2", {
        "title": display_name(shown), "rnd": rnd, "s": shown, "name": display_name(shown),
        "automatic": automatic, "others": others, "blind": blind, "forced": forced,
        "previous": everyone[at - 1] if at > 0 else None,
        "following": everyone[at + 1] if at + 1 < len(everyone) else None,
        "decisions": DECISIONS, "error": error, "saved": request.query_params.get("saved", ""),
        "events": list(reversed(shown.review.events)),
    }, status_code=status_code)


def _report_html(rnd: Round, candidate: Candidate, shown: Shown) -> str:
    from harness.report.html import render_html

    key = (rnd.id, candidate.stored.key.submission_hash, candidate.result_ref, shown.blind,
           tuple(e.id for e in shown.review.overrides.values()))
    with _report_lock:
        if key in _report_cache:
            _report_cache.move_to_end(key)
            return _report_cache[key]
    html = render_html(shown.result, artifacts_root=rnd.artifacts_root(candidate))
    with _report_lock:
        _report_cache[key] = html
        while len(_report_cache) > 32:
            _report_cache.popitem(last=False)
    return html


async def report_frame(request: Request) -> Response:
    """The candidate's report, rendered by the report renderer with the reviews applied.

    Served with the report's own policy (no script at all) and framed by the candidate page
    only (``frame-ancestors 'self'``, in a sandboxed iframe).
    """
    rnd = _round(request)
    candidate = _candidate(rnd, request)
    blind, _ = is_blind(request, rnd)
    shown = await run_in_threadpool(_shown, rnd, candidate, blind)
    html = await run_in_threadpool(_report_html, rnd, candidate, shown)
    return HTMLResponse(html, headers={"Content-Security-Policy": REPORT_FRAME_CSP})


async def download(request: Request) -> Response:
    """The candidate's result as JSON, Markdown or Gradescope file (reviews applied)."""
    fmt = request.path_params["fmt"]
    if fmt not in DOWNLOADS:
        raise HTTPException(404, "no such format")
    rnd = _round(request)
    candidate = _candidate(rnd, request)
    blind, _ = is_blind(request, rnd)
    shown = await run_in_threadpool(_shown, rnd, candidate, blind)
    if fmt == "json":
        from harness.result import dump_result

        text = dump_result(shown.result)
    elif fmt == "md":
        from harness.report.markdown import render_markdown

        text = render_markdown(shown.result) + review_markdown(shown)
    else:
        from harness.report.gradescope import render_gradescope

        text = json.dumps(render_gradescope(shown.result), sort_keys=True, indent=2) + "\n"
    media, name = DOWNLOADS[fmt]
    return Response(text, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{candidate.id}-{name}"'})


async def compare_page(request: Request) -> Response:
    """Two or three candidates side by side, criterion by criterion."""
    rnd = _round(request)
    blind, forced = is_blind(request, rnd)
    wanted = list(dict.fromkeys(request.query_params.getlist("c")))
    if not 2 <= len(wanted) <= MAX_COMPARE:
        raise HTTPException(400, f"choose 2 or {MAX_COMPARE} candidates to compare")
    chosen = []
    for cid in wanted:
        candidate = rnd.candidate(cid)
        if candidate is None:
            raise HTTPException(404, "no such candidate in this round")
        chosen.append(candidate)
    shown = [_shown(rnd, c, blind) for c in chosen]
    return render(request, "compare.html.j2", {
        "title": "Compare", "rnd": rnd, "shown": shown, "rows": comparison(shown),
        "names": [display_name(s) for s in shown], "metrics": [metric_of(s.result) for s in shown],
        "blind": blind, "forced": forced})


# --- changes ------------------------------------------------------------------------------------


def mirror_to_files(rnd: Round, candidate: Candidate) -> None:
    """Keep the files in step: the overrides YAML next to the result, then the on-disk reports
    and the batch index re-rendered in place (what ``takehome report`` would do)."""
    folder = rnd.report_dir(candidate)
    result_file = folder / "result.json"
    if not result_file.is_file():
        return
    lock = _mirror_locks.setdefault(rnd.id, threading.Lock())
    with lock:
        sync_overrides_file(_log(rnd), candidate.stored.key.submission_hash,
                            folder / "result.overrides.yaml")
        try:
            from harness.report import report_from_file

            report_from_file(result_file)
        except (TakehomeError, OSError, ValueError):  # the store stays right; files catch up later
            pass


async def _change(request: Request, apply) -> Response:
    rnd = _round(request)
    candidate = _candidate(rnd, request)
    form = await request.form()
    result = (await run_in_threadpool(_shown, rnd, candidate, False)).original
    try:
        saved = await run_in_threadpool(apply, _log(rnd), result, form, candidate.result_ref)
    except TakehomeError as error:
        return await candidate_page(request, error=str(error), status_code=400)
    return RedirectResponse(f"/rounds/{rnd.id}/c/{candidate.id}?saved={saved}#{saved}",
                            status_code=303,
                            background=BackgroundTask(mirror_to_files, rnd, candidate)
                            if saved == "levels" else None)


async def override(request: Request) -> Response:
    """Set a criterion's level (or back to automatic) with a required reason."""
    reviewer = _reviewer(request)

    def apply(log, result, form, ref):
        level_text = str(form.get("level") or "")
        if level_text not in ("auto", "0", "1", "2", "3", "4"):
            raise TakehomeError("choose a level 0–4, or automatic")
        record_override(log, result, criterion=str(form.get("criterion") or ""),
                        level=None if level_text == "auto" else int(level_text),
                        reviewer=reviewer, reason=str(form.get("reason") or ""),
                        note=str(form.get("note") or "") or None, result_ref=ref)
        return "levels"

    return await _change(request, apply)


async def note(request: Request) -> Response:
    """Save the note on one interview question."""
    reviewer = _reviewer(request)

    def apply(log, result, form, ref):
        record_note(log, result, question=str(form.get("question") or ""),
                    text=str(form.get("text") or ""), reviewer=reviewer, result_ref=ref)
        return "questions"

    return await _change(request, apply)


async def decision(request: Request) -> Response:
    """Record the decision on a candidate (advance / hold / reject, or none) with a reason."""
    reviewer = _reviewer(request)

    def apply(log, result, form, ref):
        value = str(form.get("decision") or "")
        if value not in (*DECISIONS, "none"):
            raise TakehomeError("choose advance, hold or reject")
        record_decision(log, result, decision=None if value == "none" else value,
                        reviewer=reviewer, reason=str(form.get("reason") or ""), result_ref=ref)
        return "decision"

    return await _change(request, apply)


ROUTES = [
    Route("/", rounds_page, methods=["GET"], name="rounds"),
    Route("/prefs/blind", blind_preference, methods=["POST"], name="blind_preference"),
    Route("/rounds/{rid}", round_page, methods=["GET"], name="round"),
    Route("/rounds/{rid}/export.csv", export_csv, methods=["GET"], name="export_csv"),
    Route("/rounds/{rid}/audit", audit_page, methods=["GET"], name="audit"),
    Route("/rounds/{rid}/compare", compare_page, methods=["GET"], name="compare"),
    Route("/rounds/{rid}/settings", round_settings, methods=["POST"], name="round_settings"),
    Route("/rounds/{rid}/c/{cid}", candidate_page, methods=["GET"], name="candidate"),
    Route("/rounds/{rid}/c/{cid}/report", report_frame, methods=["GET"], name="report"),
    Route("/rounds/{rid}/c/{cid}/files/{fmt}", download, methods=["GET"], name="download"),
    Route("/rounds/{rid}/c/{cid}/override", override, methods=["POST"], name="override"),
    Route("/rounds/{rid}/c/{cid}/note", note, methods=["POST"], name="note"),
    Route("/rounds/{rid}/c/{cid}/decision", decision, methods=["POST"], name="decision"),
]
