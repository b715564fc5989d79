"""Interviewer accounts and login sessions, in ``web.sqlite`` next to the served output folder.

Passwords are hashed with argon2id (argon2-cffi's defaults: salted, memory-hard); a password is
never stored or logged. A session is a random token in an HttpOnly cookie; the database keeps
only its SHA-256, with the CSRF token bound to it, its expiry and the user. Removing a user or
logging out deletes the session rows, so a copied cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from contracts.errors import SpecError
from harness.sqlite_wal import ensure_wal

ACCOUNTS_FILE = "web.sqlite"
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS preferences (
    username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (username, key)
);
"""
_HASHER = PasswordHasher()
# verified against when the user does not exist, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _HASHER.hash("takehome-no-such-user")


@dataclass(frozen=True)
class User:
    """An interviewer account (never carries the password hash out of this module)."""

    username: str
    admin: bool
    created_at: float


@dataclass(frozen=True)
class Session:
    """A logged-in session: who, its CSRF token, and when it started / was last used."""

    username: str
    admin: bool
    csrf_token: str
    created_at: float
    last_seen: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_username(username: str) -> str:
    """The username, or a SpecError saying what a username may contain."""
    if not USERNAME.match(username or ""):
        raise SpecError(f"invalid username {username!r}",
                        hint="1-64 characters: letters, digits and . _ @ - (starting with a "
                        "letter or digit)")
    return username


def check_password(password: str) -> str:
    """The password, or a SpecError when it is too short or too long."""
    if len(password) < MIN_PASSWORD:
        raise SpecError(f"the password is too short ({len(password)} characters)",
                        hint=f"use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise SpecError(f"the password is too long (more than {MAX_PASSWORD} characters)")
    return password


class AccountStore:
    """Users and sessions in one SQLite file (WAL; safe from several threads)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            ensure_wal(conn)
            conn.executescript(SCHEMA)
        try:
            self.path.chmod(0o600)
        except OSError:  # pragma: no cover - a read-only or foreign-owned file
            pass

    @classmethod
    def for_folder(cls, folder: Path) -> AccountStore:
        """The accounts of a served output folder: ``<folder>/web.sqlite``."""
        return cls(Path(folder) / ACCOUNTS_FILE)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    def _run(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self._connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    # --- users -----------------------------------------------------------------------------

    def add_user(self, username: str, password: str, *, admin: bool = False,
                 replace: bool = False) -> User:
        """Create an account (or, with ``replace``, set a new password; sessions end)."""
        check_username(username)
        check_password(password)
        digest = _HASHER.hash(password)
        now = time.time()
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            exists = conn.execute("SELECT 1 FROM users WHERE username=?", (username,)).fetchone()
            if exists and not replace:
                conn.execute("ROLLBACK")
                raise SpecError(f"user {username!r} already exists",
                                hint="use --replace to set a new password")
            if exists:
                conn.execute("UPDATE users SET password_hash=?, admin=? WHERE username=?",
                             (digest, int(admin), username))
                conn.execute("DELETE FROM sessions WHERE username=?", (username,))
            else:
                conn.execute("INSERT INTO users VALUES (?,?,?,?)",
                             (username, digest, int(admin), now))
            conn.execute("COMMIT")
        finally:
            conn.close()
        return User(username, admin, now)

    def remove_user(self, username: str) -> bool:
        """Delete an account and its sessions; False when there was none."""
        conn = self._connect()
        try:
            conn.execute("DELETE FROM sessions WHERE username=?", (username,))
            conn.execute("DELETE FROM preferences WHERE username=?", (username,))
            return conn.execute("DELETE FROM users WHERE username=?", (username,)).rowcount > 0
        finally:
            conn.close()

    def users(self) -> list[User]:
        """Every account, by name."""
        rows = self._run("SELECT username, admin, created_at FROM users ORDER BY username")
        return [User(r[0], bool(r[1]), r[2]) for r in rows]

    def verify(self, username: str, password: str) -> User | None:
        """The user when the password is right, else None (same cost for unknown users)."""
        rows = self._run("SELECT password_hash, admin, created_at FROM users WHERE username=?",
                         (username,)) if USERNAME.match(username or "") else []
        stored = rows[0][0] if rows else _DUMMY_HASH
        try:
            _HASHER.verify(stored, password[:MAX_PASSWORD])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not rows:
            return None
        if _HASHER.check_needs_rehash(stored):
            self._run("UPDATE users SET password_hash=? WHERE username=?",
                      (_HASHER.hash(password), username))
        return User(username, bool(rows[0][1]), rows[0][2])

    def preference(self, username: str, key: str, default: str = "") -> str:
        """A reviewer's saved choice (e.g. ``blind``), or ``default``."""
        rows = self._run("SELECT value FROM preferences WHERE username=? AND key=?",
                         (username, key))
        return rows[0][0] if rows else default

    def set_preference(self, username: str, key: str, value: str) -> None:
        """Save a reviewer's choice."""
        self._run("INSERT OR REPLACE INTO preferences VALUES (?,?,?)", (username, key, value))

    # --- sessions --------------------------------------------------------------------------

    def start_session(self, username: str) -> str:
        """A new session token for ``username`` (the cookie value; only its hash is kept)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        self._run("INSERT INTO sessions VALUES (?,?,?,?,?)",
                  (_digest(token), username, secrets.token_urlsafe(32), now, now))
        return token

    def session(self, token: str | None, *, idle_seconds: float, max_seconds: float,
                now: float | None = None) -> Session | None:
        """The live session for a cookie token (refreshing its last use), or None.

        A session ends after ``idle_seconds`` without a request or ``max_seconds`` after login.
        """
        if not token or len(token) > 200:
            return None
        now = time.time() if now is None else now
        key = _digest(token)
        rows = self._run(
            "SELECT s.username, u.admin, s.csrf_token, s.created_at, s.last_seen FROM sessions s "
            "JOIN users u ON u.username = s.username WHERE s.token_hash=?", (key,))
        if not rows:
            return None
        username, admin, csrf, created, seen = rows[0]
        if now - seen > idle_seconds or now - created > max_seconds:
            self._run("DELETE FROM sessions WHERE token_hash=?", (key,))
            return None
        if now - seen > 30:  # one write per half minute at most
            self._run("UPDATE sessions SET last_seen=? WHERE token_hash=?", (now, key))
        return Session(username, bool(admin), csrf, created, now)

    def end_session(self, token: str | None) -> None:
        """Log out: forget the session of this token."""
        if token:
            self._run("DELETE FROM sessions WHERE token_hash=?", (_digest(token),))

    def purge_sessions(self, *, idle_seconds: float, max_seconds: float) -> int:
        """Delete expired sessions; return how many."""
        now = time.time()
        conn = self._connect()
        try:
            return conn.execute("DELETE FROM sessions WHERE last_seen < ? OR created_at < ?",
                                (now - idle_seconds, now - max_seconds)).rowcount
        finally:
            conn.close()
