"""``takehome users add/remove/list``: the interviewer accounts of a served output folder."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

from contracts.errors import SpecError
from harness.web.accounts import AccountStore, check_password, check_username


def accounts_for(folder: Path, accounts: Path | None = None) -> AccountStore:
    """The account store ``takehome serve FOLDER`` uses (``FOLDER/web.sqlite`` by default)."""
    if accounts is None and not Path(folder).is_dir():
        raise SpecError(f"{folder}: no such folder",
                        hint="give the output folder you serve, e.g. out/demo")
    return AccountStore(accounts) if accounts else AccountStore.for_folder(folder)


def read_password(password_stdin: bool) -> str:
    """The new password: one line from stdin, or typed twice without echo."""
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(password)


def add_user(folder: Path, username: str, *, admin: bool, replace: bool, password_stdin: bool,
             accounts: Path | None = None, echo: Callable[[str], None] = click.echo) -> int:
    """Create (or with ``replace``, reset) an account."""
    store = accounts_for(folder, accounts)
    check_username(username)
    password = check_password(read_password(password_stdin))
    store.add_user(username, password, admin=admin, replace=replace)
    echo(f"{'updated' if replace else 'added'} {username}{' (admin)' if admin else ''} in "
         f"{store.path}")
    return 0


def remove_user(folder: Path, username: str, *, accounts: Path | None = None,
                echo: Callable[[str], None] = click.echo) -> int:
    """Delete an account and end its sessions (its reviews stay in the audit log)."""
    store = accounts_for(folder, accounts)
    if not store.remove_user(username):
        raise SpecError(f"no user {username!r} in {store.path}")
    echo(f"removed {username}")
    return 0


def list_users(folder: Path, *, accounts: Path | None = None,
               echo: Callable[[str], None] = click.echo) -> int:
    """Print one line per account: name, role, creation time."""
    store = accounts_for(folder, accounts)
    users = store.users()
    if not users:
        echo(f"no accounts in {store.path}")
    for user in users:
        created = datetime.fromtimestamp(user.created_at, UTC).replace(microsecond=0).isoformat()
        echo(f"{user.username}\t{'admin' if user.admin else 'interviewer'}\t{created}")
    return 0
