"""Put an SQLite database in WAL mode without tripping over other connections.

``PRAGMA journal_mode=WAL`` needs an exclusive lock for a moment, and SQLite answers
``database is locked`` straight away, without its busy handler, when another connection (a
worker thread, the web server, a second process) holds the file. The mode is persistent, so it
is set once: read first, and only a database not yet in WAL mode is switched, retrying for a
while when another connection is in the way.
"""

from __future__ import annotations

import sqlite3
import time

RETRY_S = 30.0  # as long as the stores' busy timeout


def ensure_wal(conn: sqlite3.Connection, retry_s: float = RETRY_S) -> None:
    """Switch ``conn``'s database to WAL mode unless it already is; retry while it is locked."""
    deadline = time.monotonic() + retry_s
    pause = 0.01
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)
