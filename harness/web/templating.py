"""Jinja2 rendering for the web pages (autoescape always on; extensions add template folders).

Pages extend ``base.html.j2``, which links ``/static/web.css`` and has no inline script or style,
so the app's Content-Security-Policy can forbid both. Every page gets ``user`` (the session, or
None), ``csrf_token`` (for its forms), ``nav`` (links) and ``static(path)`` (a versioned URL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse

from harness.report.html import new_environment
from harness.web.security import csrf_token

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


def make_environment(extra_dirs: Sequence[Path] = ()) -> Environment:
    """The page environment: the web templates, then each extension's folder."""
    loaders = [FileSystemLoader(str(TEMPLATES))] + [FileSystemLoader(str(d)) for d in extra_dirs]
    env = new_environment(ChoiceLoader(loaders))
    env.globals["static"] = static_url
    return env


def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>`` so browsers never use a stale stylesheet."""
    file = (STATIC / path).resolve()
    version = ""
    if file.is_relative_to(STATIC) and file.is_file():
        version = hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    return f"/static/{path}" + (f"?v={version}" if version else "")


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> HTMLResponse:
    """Render ``template`` for ``request`` as an HTML response."""
    state = request.app.state.web
    page = {
        "request": request,
        "user": getattr(request.state, "session", None),
        "csrf_token": csrf_token(request),
        "nav": state.nav,
        "title": "",
    }
    page.update(context or {})
    html = state.templates.get_template(template).render(page)
    return HTMLResponse(html, status_code=status_code)
