"""The stores switch to WAL mode once, and a briefly locked database is waited for."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from harness.portal.store import PortalStore
from harness.sqlite_wal import ensure_wal


def connect(path, timeout=30.0):
    return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)


def test_a_database_locked_by_another_connection_is_switched_once_it_is_free(tmp_path):
    path = tmp_path / "db.sqlite"
    holder = connect(path)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    conn = connect(path)
    started = time.monotonic()
    ensure_wal(conn)
    assert time.monotonic() - started >= 0.2  # it waited instead of failing
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_already_in_wal_mode_is_left_alone_while_another_writes(tmp_path):
    path = tmp_path / "db.sqlite"
    first = connect(path)
    ensure_wal(first)
    first.execute("CREATE TABLE t (x)")
    first.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (1)")
    ensure_wal(connect(path), retry_s=0)  # no lock needed: nothing to wait for
    first.execute("COMMIT")


def test_a_lock_that_outlasts_the_retry_window_is_reported(tmp_path):
    path = tmp_path / "db.sqlite"
    holder = connect(path)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        ensure_wal(connect(path, timeout=0.1), retry_s=0.2)
    holder.execute("COMMIT")


def test_many_stores_opened_at_once_while_others_write_all_open(tmp_path):
    PortalStore(tmp_path)
    errors: list[BaseException] = []

    def open_and_write(n):
        try:
            for _ in range(20):
                store = PortalStore(tmp_path)
                with store.write() as conn:
                    conn.execute("SELECT 1")
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=open_and_write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
