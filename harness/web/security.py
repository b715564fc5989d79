"""Security machinery applied once for every route: headers, sessions, login, CSRF, rate limits.

- :class:`SecurityHeaders` (ASGI middleware) adds a strict Content-Security-Policy (no inline
  script or style, nothing from other origins, ``frame-ancestors 'none'``), ``nosniff``,
  ``Referrer-Policy: same-origin``, ``Cache-Control: no-store`` and, under TLS, HSTS, to every
  response that does not set its own policy.
- :func:`guard` wraps every route's endpoint when the app is built (never by hand in a route): it
  loads the session from the cookie, refuses interviewer routes without one (a redirect to the
  login page for page loads, 401 otherwise), and on every state-changing method checks the
  Origin and the CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``). Logged-in
  requests carry the session's token; anonymous ones (the login form, a candidate's public page)
  a double-submit token from the ``takehome_csrf`` cookie.
- :class:`RateLimiter` counts failures per key in a sliding window (login: per client address
  and per username).
"""

from __future__ import annotations

import hmac
import inspect
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "takehome_session"
CSRF_COOKIE = "takehome_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
       "form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
# the report document shown inside the candidate page: the report renderer's own policy (no
# script at all), framed by our own pages only
REPORT_FRAME_CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")

Endpoint = Callable[[Request], Awaitable[Response] | Response]


class SecurityHeaders:
    """ASGI middleware: the security headers on every HTTP response (a route may set its own
    ``Content-Security-Policy``, e.g. the framed report, and keeps it)."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False):
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                own_policy = "content-security-policy" in headers
                headers.setdefault("Content-Security-Policy", CSP)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "SAMEORIGIN" if own_policy else "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                # pages hold candidates' data: never cached; stylesheets and scripts are
                # linked with a content version (templating.static_url), so they may be
                headers.setdefault("Cache-Control", "private, max-age=86400"
                                   if scope.get("path", "").startswith("/static/")
                                   else "no-store")
                if https or self.hsts:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_FORM_BYTES = 1024 * 1024


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: request bodies over ``max_bytes`` get 413 before they are buffered.

    Forms are parsed in memory, so their size is capped here, for every route (the login form
    included). A multipart upload that carries its CSRF token in the query string is left to
    its endpoint, which streams it under its own cap (the candidate portal's uploads).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_FORM_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or self._streamed(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await refuse(413, "request too large")(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await refuse(413, "request too large")(scope, receive, send)

    @staticmethod
    def _streamed(scope: Scope) -> bool:
        headers = dict(scope.get("headers") or [])
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        return content_type.startswith("multipart/form-data") and f"{CSRF_FIELD}=" in query


class RateLimiter:
    """At most ``limit`` events per key within ``window`` seconds (in memory, thread-safe)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and now - events[0] > self.window:
            events.popleft()
        return events

    def retry_after(self, *keys: str) -> int:
        """Seconds until any of ``keys`` may try again; 0 when none is limited."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                events = self._recent(key, now)
                if len(events) >= self.limit:
                    wait = max(wait, self.window - (now - events[0]))
        return int(wait) + 1 if wait else 0

    def hit(self, *keys: str) -> None:
        """Record one event (a failed attempt) under each key."""
        now = self.clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._events) > 10_000:  # forget idle keys so memory stays bounded
                for key in [k for k, v in self._events.items() if not v]:
                    del self._events[key]

    def reset(self, *keys: str) -> None:
        """Forget the events of ``keys`` (after a successful login)."""
        with self._lock:
            for key in keys:
                self._events.pop(key, None)


def client_address(request: Request) -> str:
    """The client's address (uvicorn puts the proxy's forwarded address here when trusted)."""
    return request.client.host if request.client else "unknown"


def is_https(request: Request) -> bool:
    """Whether the request came over TLS (directly, or via a trusted proxy's headers)."""
    return request.url.scheme == "https"


def csrf_token(request: Request) -> str:
    """The CSRF token a form on this page must send back (the session's, else the cookie's)."""
    session = getattr(request.state, "session", None)
    if session is not None:
        return session.csrf_token
    token = getattr(request.state, "anonymous_csrf", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or ""
        if len(token) < 32 or len(token) > 100:
            token = secrets.token_urlsafe(32)
        request.state.anonymous_csrf = token
    return token


def set_cookie(response: Response, request: Request, name: str, value: str, *,
               max_age: int | None, secure: bool) -> None:
    """Set a cookie the way every takehome cookie is set (HttpOnly, SameSite=Lax, path /)."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=secure or is_https(request))


def _same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site.

    ``Sec-Fetch-Site`` first (every current browser sends it), else the ``Origin`` header; a
    client that sends neither (curl, a script) is not a browser being abused, and still needs
    the CSRF token.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()


async def _sent_token(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data") and request.query_params.get(CSRF_FIELD):
        # a streamed upload (harness.portal): the endpoint reads the body itself, under its cap
        return request.query_params[CSRF_FIELD]
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached on the request: the endpoint reads the same form
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def refuse(status: int, text: str) -> Response:
    """A short plain-text refusal."""
    return PlainTextResponse(text, status_code=status)


def guard(endpoint: Endpoint, *, public: bool, load_session: Callable[[Request], object | None],
          secure_cookies: bool) -> Endpoint:
    """``endpoint`` behind the session, login and CSRF checks (see the module docstring)."""

    async def guarded(request: Request) -> Response:
        request.state.session = load_session(request)
        if request.state.session is None and not public:
            if request.method in SAFE_METHODS:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return refuse(401, "login required")
        if request.method not in SAFE_METHODS:
            if not _same_origin(request):
                return refuse(403, "cross-origin request refused")
            expected = csrf_token(request)
            sent = await _sent_token(request)
            if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
                return refuse(403, "missing or wrong CSRF token: reload the page and try again")
        if inspect.iscoroutinefunction(endpoint):
            response = await endpoint(request)
        else:  # a plain function runs in the thread pool, as Starlette runs it
            response = await run_in_threadpool(endpoint, request)
        anonymous = getattr(request.state, "anonymous_csrf", None)
        if anonymous and request.cookies.get(CSRF_COOKIE) != anonymous:
            set_cookie(response, request, CSRF_COOKIE, anonymous, max_age=None,
                       secure=secure_cookies)
        return response

    guarded.__name__ = getattr(endpoint, "__name__", "guarded")
    guarded.__doc__ = endpoint.__doc__
    guarded.public = public  # type: ignore[attr-defined]  # read by the tests of every route
    return guarded
