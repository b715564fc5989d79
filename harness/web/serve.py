"""``takehome serve``: run the web app with uvicorn, on loopback unless told otherwise.

TLS: either give uvicorn a certificate (``--ssl-certfile`` / ``--ssl-keyfile``), or run behind a
reverse proxy that terminates TLS and pass ``--proxy`` so that uvicorn trusts the proxy's
``X-Forwarded-Proto`` / ``X-Forwarded-For`` from loopback; cookies are then marked Secure and HSTS
is sent (docs/interviewers.md has a Caddy and an nginx example).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from contracts.errors import TakehomeError
from harness.web.app import WebSettings, create_app

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def serve(out_dirs: Sequence[Path], *, host: str = "127.0.0.1", port: int = 8000,
          ssl_certfile: Path | None = None, ssl_keyfile: Path | None = None,
          proxy: bool = False, accounts: Path | None = None,
          echo: Callable[[str], None] = print) -> int:
    """Serve ``out_dirs`` until interrupted; returns the exit code."""
    import uvicorn

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise TakehomeError("--ssl-certfile and --ssl-keyfile go together")
    tls = ssl_certfile is not None
    settings = WebSettings(secure_cookies=tls or proxy, hsts=tls or proxy,
                           accounts_path=accounts)
    app = create_app(list(out_dirs), settings=settings)
    state = app.state.web
    if not state.accounts.users():
        echo(f"warning: no interviewer accounts in {state.accounts.path}; create one with: "
             f"takehome users add {out_dirs[0]} NAME")
    if host not in LOOPBACK and not (tls or proxy):
        echo("warning: serving on a non-loopback address without TLS: passwords and session "
             "cookies cross the network in clear (see docs/interviewers.md, TLS)")
    for rid, rnd in state.rounds.items():
        echo(f"round {rid}: {rnd.folder}")
    scheme = "https" if tls else "http"
    shown = f"[{host}]" if ":" in host else host
    echo(f"takehome serving on {scheme}://{shown}:{port}/  (Ctrl-C to stop)")
    sys.stdout.flush()
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            proxy_headers=proxy, forwarded_allow_ips="127.0.0.1" if proxy else None,
                            server_header=False,
                            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
                            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None)
    uvicorn.Server(config).run()
    return 0
