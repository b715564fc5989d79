"""The interviewers' web app (``takehome serve``): review, compare, override and decide.

A Starlette application over the output folders of ``takehome grade``: it reads each round's
``results.sqlite`` live, renders reports with :mod:`harness.report` (one rendering, the same as
the files), and records reviews with :mod:`harness.reviews` (the same records as the CLI's
``takehome review``). Modules: :mod:`~harness.web.app` (the factory), :mod:`~harness.web.security`
(headers, login guard, CSRF, rate limits), :mod:`~harness.web.accounts` (users and sessions in
``web.sqlite``), :mod:`~harness.web.auth` (login/logout), :mod:`~harness.web.routes` (the pages),
:mod:`~harness.web.rounds` (rounds and candidates), :mod:`~harness.web.templating`.

Extension point (used by the candidates' portal, ``harness.portal``)
--------------------------------------------------------------------
Another package adds routes, templates and static files by giving :func:`create_app` an
:class:`Extension`, or a factory ``(WebState) -> Extension``::

    from starlette.routing import Route
    from harness.web import Extension, WebState, render

    def portal(state: WebState) -> Extension:
        async def upload_page(request):          # public: no interviewer login
            ...                                  # check the candidate's token yourself
            return render(request, "portal/upload.html.j2", {...})
        async def invitations(request):          # interviewers only (login required)
            ...
        return Extension(
            name="portal",
            public_routes=[Route("/p/{token}", upload_page, methods=["GET", "POST"])],
            routes=[Route("/invitations", invitations)],
            templates=Path(__file__).parent / "templates",   # may {% extends "base.html.j2" %}
            static=Path(__file__).parent / "static",         # served at /static/portal/
            nav=[("Invitations", "/invitations")],
        )

``takehome serve`` loads every factory registered under the entry-point group ``takehome.web``
(``[project.entry-points."takehome.web"] portal = "harness.portal.web:portal"``); tests pass
``extensions=[...]`` to :func:`create_app` directly.

What the app guarantees to every extension route, applied once when the app is built:

- ``routes`` need a logged-in interviewer (page loads without one are redirected to ``/login``,
  other requests get 401); ``public_routes`` do not, so they must authenticate the caller
  themselves (e.g. a token in the path, compared with :func:`hmac.compare_digest`).
- Every POST/PUT/PATCH/DELETE, public or not, must carry the CSRF token: put
  ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">`` in each form (or send the
  ``X-CSRF-Token`` header); cross-origin requests are refused. The endpoint may call
  ``await request.form()`` again: the form is parsed once. Request bodies are capped at 1 MiB
  (413), except a ``multipart/form-data`` upload whose CSRF token is in the query string
  (``?csrf_token=...``): its endpoint streams ``request.stream()`` under its own cap.
- ``request.state.session`` is the interviewer's :class:`~harness.web.accounts.Session` or None;
  ``request.app.state.web`` is the :class:`WebState` (rounds, accounts, settings, limiter).
- Responses get the security headers (a CSP without ``unsafe-inline``: use static files for CSS
  and JS, no inline ``<script>``, ``<style>`` or ``style=`` attributes), unless a response sets
  its own ``Content-Security-Policy``.
- :class:`~harness.web.security.RateLimiter` is there for public forms (uploads, token checks).
- Only :class:`starlette.routing.Route` entries are accepted (a ``Mount`` would bypass the
  guard).
"""

from harness.web.app import Extension, WebSettings, WebState, create_app
from harness.web.security import RateLimiter, csrf_token
from harness.web.templating import render

__all__ = ["Extension", "RateLimiter", "WebSettings", "WebState", "create_app", "csrf_token",
           "render"]
