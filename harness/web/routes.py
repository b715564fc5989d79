"""The interviewers' pages (every route here requires a login; see :mod:`harness.web.app`)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from harness.reviews import ReviewLog
from harness.web.templating import render


async def rounds_page(request: Request) -> Response:
    """The rounds (output folders) served, with how far each one's review has got."""
    state = request.app.state.web
    rows = []
    for rid, rnd in state.rounds.items():
        log = ReviewLog(rnd.store.path)
        states = log.states()
        candidates = rnd.candidates()
        hashes = {c.stored.key.submission_hash for c in candidates}
        rows.append({
            "id": rid, "title": rnd.title(), "candidates": len(candidates),
            "decided": sum(1 for h in hashes if h in states and states[h].decision_value),
            "reviewed": sum(1 for h in hashes if h in states and states[h].overrides),
            "forced_blind": bool(log.settings().get("blind")),
        })
    return render(request, "rounds.html.j2", {"rows": rows, "title": "Rounds"})


ROUTES = [
    Route("/", rounds_page, methods=["GET"], name="rounds"),
]
