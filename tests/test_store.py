"""The SQLite results store: keyed results, transactional writes, survives a killed writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from harness.store import ResultKey, ResultStore


def key(n: int) -> ResultKey:
    return ResultKey(f"sub{n}", "assign", "rubric", "sha256:img", "0.1.0")


def test_put_then_get_returns_the_result(tmp_path):
    store = ResultStore(tmp_path / "results.sqlite")
    store.put(key(1), name="alice", status="graded", total=71.5, result_json="{}", report_path="r")
    got = store.get(key(1))
    assert got is not None and got.name == "alice" and got.total == 71.5
    assert store.get(key(2)) is None


def test_same_key_replaces_instead_of_duplicating(tmp_path):
    store = ResultStore(tmp_path / "results.sqlite")
    store.put(key(1), name="a", status="graded", total=1.0, result_json="{}", report_path=None)
    store.put(key(1), name="a", status="graded", total=2.0, result_json="{}", report_path=None)
    assert store.count() == 1
    assert store.get(key(1)).total == 2.0


def test_a_different_harness_version_is_a_different_key(tmp_path):
    store = ResultStore(tmp_path / "results.sqlite")
    other = ResultKey("sub1", "assign", "rubric", "sha256:img", "9.9.9")
    store.put(key(1), name="a", status="graded", total=1.0, result_json="{}", report_path=None)
    assert store.get(other) is None


def test_sigkilled_writer_loses_nothing_already_committed(tmp_path):
    db = tmp_path / "results.sqlite"
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(os.getcwd())!r})
        from harness.store import ResultKey, ResultStore
        store = ResultStore(__import__("pathlib").Path({str(db)!r}))
        for n in range(1000):
            store.put(ResultKey(f"sub{{n}}", "a", "r", "d", "v"), name=str(n), status="graded",
                      total=float(n), result_json="{{}}" * 100, report_path=None)
            if n == 20:
                print("ready", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = ResultStore(db)
    rows = store.all()
    assert len(rows) >= 21
    totals = sorted(r.total for r in rows)
    assert totals == [float(n) for n in range(len(rows))]  # no gaps, no duplicates
