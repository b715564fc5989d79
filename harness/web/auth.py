"""Login and logout routes. Failed logins are rate-limited per client address and per username.

After a successful login the browser gets a fresh session cookie (no session fixation) and is
sent to ``next`` when that is a local path, else to the rounds list.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from harness.web.security import SESSION_COOKIE, client_address, set_cookie
from harness.web.templating import render


def safe_next(target: str | None) -> str:
    """A local path to go to after login (never another site: ``//host`` or ``/\\host``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\t") or len(target) > 2000:
        return "/"
    return target


async def login_page(request: Request) -> Response:
    """The login form (a logged-in user goes straight on)."""
    target = safe_next(request.query_params.get("next"))
    if request.state.session is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html.j2", {"next": target, "error": "", "username": "",
                                             "title": "Log in"})


async def login_submit(request: Request) -> Response:
    """Check the password; start a session, or count the failure."""
    state = request.app.state.web
    form = await request.form()
    username = str(form.get("username") or "")[:64]
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    keys = (f"ip:{client_address(request)}", f"user:{username.lower()}")
    wait = state.login_limiter.retry_after(*keys)
    if wait:
        response = render(request, "login.html.j2", {
            "next": target, "username": username, "title": "Log in",
            "error": f"Too many failed attempts. Try again in {wait // 60 + 1} minute(s)."},
            status_code=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = await run_in_threadpool(state.accounts.verify, username, password)  # argon2: slow
    if user is None:
        state.login_limiter.hit(*keys)
        return render(request, "login.html.j2", {
            "next": target, "username": username, "title": "Log in",
            "error": "Wrong username or password."}, status_code=401)
    state.login_limiter.reset(*keys)
    old = request.cookies.get(SESSION_COOKIE)
    state.accounts.end_session(old)
    token = state.accounts.start_session(user.username)
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token,
               max_age=int(state.settings.session_max_seconds),
               secure=state.settings.secure_cookies)
    return response


async def logout(request: Request) -> Response:
    """End the session and forget the cookie."""
    request.app.state.web.accounts.end_session(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


PUBLIC_ROUTES = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login_submit, methods=["POST"], name="login_submit"),
]
ROUTES = [
    Route("/logout", logout, methods=["POST"], name="logout"),
]
