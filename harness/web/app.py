"""The app factory: :func:`create_app` builds the Starlette application ``takehome serve`` runs.

Three concerns, kept apart: routes (``harness.web.auth`` for login/logout, ``harness.web.routes``
for the interviewer pages, and each extension's), the data they read (:class:`WebState`: the
rounds' results stores and the accounts), and templates (:mod:`harness.web.templating`).
Security is applied here, once, to every route: :func:`harness.web.security.guard` wraps each
endpoint (login required unless the route is public; CSRF on every state-changing method) and
:class:`harness.web.security.SecurityHeaders` wraps the whole app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from contracts.errors import TakehomeError
from harness.web.accounts import AccountStore, Session
from harness.web.rounds import Round, discover_rounds, import_overrides_files
from harness.web.security import (
    SESSION_COOKIE,
    BodyLimit,
    RateLimiter,
    SecurityHeaders,
    guard,
)
from harness.web.templating import STATIC, make_environment, render

EXTENSION_GROUP = "takehome.web"


@dataclass(frozen=True)
class WebSettings:
    """How the app behaves; every field has a safe default."""

    session_idle_seconds: float = 8 * 3600  # a session ends after 8 h without a request
    session_max_seconds: float = 7 * 24 * 3600  # and a week after login at the latest
    secure_cookies: bool = False  # always mark cookies Secure (automatic for https requests)
    hsts: bool = False  # send Strict-Transport-Security on plain-http responses too (behind TLS)
    login_attempts: int = 5  # failed logins allowed per client address and per username ...
    login_window_seconds: float = 15 * 60  # ... within this window
    accounts_path: Path | None = None  # default: <first served folder>/web.sqlite


@dataclass(frozen=True)
class Extension:
    """Routes, templates and static files another package adds to the app.

    ``routes`` require an interviewer login; ``public_routes`` do not (a candidate's
    token-authenticated page checks its own token), but their state-changing requests still
    need the CSRF token (``{{ csrf_token }}`` in a form). Only :class:`starlette.routing.Route`
    is accepted, so that every endpoint is wrapped by the security guard. ``templates`` is
    searched after the web app's own folder (so ``{% extends "base.html.j2" %}`` works);
    ``static`` is served under ``/static/<name>/``; ``nav`` adds ``(label, href)`` links to the
    interviewers' navigation bar; ``template_globals`` are functions (or values) every template
    can use (e.g. the portal's grading state of a round, for the round page).
    """

    name: str
    routes: Sequence[Route] = ()
    public_routes: Sequence[Route] = ()
    templates: Path | None = None
    static: Path | None = None
    nav: Sequence[tuple[str, str]] = ()
    template_globals: Mapping[str, Any] = field(default_factory=dict)


ExtensionFactory = Callable[["WebState"], Extension]


@dataclass
class WebState:
    """What every route reads: ``request.app.state.web``."""

    settings: WebSettings
    rounds: dict[str, Round]
    accounts: AccountStore
    templates: Environment
    login_limiter: RateLimiter
    nav: list[tuple[str, str]] = field(default_factory=list)
    served: list[Path] = field(default_factory=list)

    def round(self, rid: str) -> Round:
        """The round with id ``rid`` (404 when there is none)."""
        found = self.rounds.get(rid) or self.refresh_rounds().get(rid)
        if found is None:
            raise HTTPException(404, "no such round")
        return found

    def refresh_rounds(self) -> dict[str, Round]:
        """Pick up rounds graded into the served folders since the server started (the ids of
        known rounds never change)."""
        known = {r.folder for r in self.rounds.values()}
        try:
            found = discover_rounds(self.served)
        except TakehomeError:
            return self.rounds
        for rnd in found.values():
            if rnd.folder not in known:
                rid, n = rnd.id, 2
                while rid in self.rounds:
                    rid, n = f"{rnd.id}-{n}", n + 1
                rnd.id = rid
                import_overrides_files(rnd)
                self.rounds[rid] = rnd
        return self.rounds

    def load_session(self, request: Request) -> Session | None:
        """The live session of the request's cookie, or None."""
        return self.accounts.session(request.cookies.get(SESSION_COOKIE),
                                     idle_seconds=self.settings.session_idle_seconds,
                                     max_seconds=self.settings.session_max_seconds)


def discover_extensions() -> list[ExtensionFactory]:
    """Extension factories registered under the ``takehome.web`` entry-point group."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group=EXTENSION_GROUP), key=lambda e: e.name)]


def _protected(routes: Sequence[BaseRoute], *, public: bool, state: WebState) -> list[Route]:
    wrapped = []
    for route in routes:
        if not isinstance(route, Route):
            raise TakehomeError(f"web extension route {route!r} is not a starlette Route",
                                hint="Mounts and websockets would bypass the login and CSRF "
                                "guard; list each Route")
        wrapped.append(Route(route.path, guard(route.endpoint, public=public,
                                               load_session=state.load_session,
                                               secure_cookies=state.settings.secure_cookies),
                             methods=list(route.methods or ["GET"]), name=route.name))
    return wrapped


async def _error_page(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    if not hasattr(request.state, "session"):
        request.state.session = None
    return render(request, "error.html.j2", {"status": status, "detail": detail,
                                             "title": f"{status}"}, status_code=status)


def create_app(out_dirs: Sequence[Path], *, settings: WebSettings | None = None,
               extensions: Sequence[Extension | ExtensionFactory] | None = None) -> Starlette:
    """The web app over the output folders ``out_dirs`` (see :mod:`harness.web`).

    ``extensions`` are :class:`Extension` objects or factories ``(WebState) -> Extension``;
    None loads the factories registered under the ``takehome.web`` entry-point group.
    """
    from harness.web import auth, routes

    settings = settings or WebSettings()
    folders = [Path(d).resolve() for d in out_dirs]
    rounds = discover_rounds(folders)
    for rnd in rounds.values():
        import_overrides_files(rnd)
    accounts = AccountStore(settings.accounts_path or AccountStore.for_folder(folders[0]).path)
    state = WebState(settings=settings, rounds=rounds, accounts=accounts,
                     templates=make_environment(),
                     login_limiter=RateLimiter(settings.login_attempts,
                                               settings.login_window_seconds),
                     served=folders)
    loaded = [e if isinstance(e, Extension) else e(state)
              for e in (discover_extensions() if extensions is None else extensions)]
    state.templates = make_environment([e.templates for e in loaded if e.templates])
    for ext in loaded:
        state.templates.globals.update(ext.template_globals)
    state.nav = [("Rounds", "/")] + [link for e in loaded for link in e.nav]

    table: list[BaseRoute] = []
    table += _protected(auth.PUBLIC_ROUTES, public=True, state=state)
    table += _protected(auth.ROUTES, public=False, state=state)
    table += _protected(routes.ROUTES, public=False, state=state)
    for ext in loaded:
        table += _protected(ext.routes, public=False, state=state)
        table += _protected(ext.public_routes, public=True, state=state)
        if ext.static:
            table.append(Mount(f"/static/{ext.name}", StaticFiles(directory=ext.static),
                               name=f"static-{ext.name}"))
    table.append(Mount("/static", StaticFiles(directory=STATIC), name="static"))

    app = Starlette(routes=table, exception_handlers={HTTPException: _error_page,
                                                      Exception: _error_page})
    app.state.web = state
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders, hsts=settings.hsts)
    return app
