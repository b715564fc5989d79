"""Engine and disk faults: never a score, the others finish, the store stays consistent.

- The Docker engine stopping mid-batch: a private ``dockerd`` of the test's own
  (tests/private_engine.py; the shared engine is never touched) is stopped while a submission's
  containers run, then started again. The affected submission is a ``harness_error`` (no total,
  not stored), the others are graded, and a rerun regrades only the affected one.
- A full output disk: a small tmpfs mounted by the test. ENOSPC while writing a result or a
  report stops the batch with one clear line; the store keeps exactly the rows written before,
  passes SQLite's integrity check, and no half-written report exists.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from private_engine import PrivateEngine

from harness.store import OutputDiskFull, ResultKey, ResultStore

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "assignments" / "diabetes-progression" / "examples"


# --- a small full disk -----------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int):
    """A tmpfs of ``size_mb`` at ``path`` (root only; the test skips otherwise)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill ``disk`` until at most ``leave`` bytes are free; returns the filler file."""
    filler = disk / "filler.bin"
    with filler.open("ab") as handle:
        while shutil.disk_usage(disk).free > leave:
            try:
                handle.write(b"\0" * min(1 << 20, max(4096, shutil.disk_usage(disk).free - leave)))
                handle.flush()
            except OSError:
                break
    return filler


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def _key(n: int) -> ResultKey:
    return ResultKey(f"sub{n}", "a", "r", "img", "v")


def test_enospc_writing_a_result_is_one_line_and_leaves_the_store_consistent(tmp_path):
    with small_disk(tmp_path / "disk", 4) as disk:
        store = ResultStore(disk / "results.sqlite")
        store.put(_key(1), name="one", status="graded", total=50.0, result_json="{}",
                  report_path=None)
        filler = fill(disk)
        with pytest.raises(OutputDiskFull) as raised:
            store.put(_key(2), name="two", status="graded", total=60.0,
                      result_json="x" * 2_000_000, report_path=None)
        message = str(raised.value)
        assert "is full" in message and "the result of two" in message
        assert "\n" not in message
        assert [r.name for r in store.all()] == ["one"]
        assert integrity(disk / "results.sqlite") == "ok"
        filler.unlink()  # space again: the store works as before
        store.put(_key(2), name="two", status="graded", total=60.0, result_json="{}",
                  report_path=None)
        assert store.count() == 2


def test_enospc_writing_a_report_keeps_the_old_one_and_leaves_no_partial_file(tmp_path):
    from harness.report import write_atomic

    with small_disk(tmp_path / "disk", 4) as disk:
        report = disk / "report.html"
        write_atomic(report, "<p>complete old report</p>")
        fill(disk)
        with pytest.raises(OutputDiskFull) as raised:
            write_atomic(report, "<p>" + "new " * 2_000_000 + "</p>")
        assert "the report report.html" in str(raised.value)
        assert report.read_text() == "<p>complete old report</p>"
        assert sorted(p.name for p in disk.iterdir()) == ["filler.bin", "report.html"]


def _static_batch(out: Path, sources: list[Path], on_stage=None):
    from harness.assignment import load_assignment
    from harness.batch import grade_batch
    from harness.pipeline import GradeSettings

    return grade_batch(load_assignment("diabetes-progression"), sources, out,
                       settings=GradeSettings(image=None, run=False), jobs=1,
                       formats=("json", "html"), on_stage=on_stage)


def test_a_disk_filling_up_mid_batch_stops_it_and_a_rerun_resumes(tmp_path):
    sources = [EXAMPLES / "strong", EXAMPLES / "weak"]
    with small_disk(tmp_path / "disk", 96) as disk:
        out = disk / "out"
        fillers = []

        def on_stage(name: str, stage: str) -> None:
            if name == "weak" and stage == "rubric" and not fillers:
                fillers.append(fill(disk))  # weak's result (or the reports) cannot be written

        with pytest.raises(OutputDiskFull) as raised:
            _static_batch(out, sources, on_stage)
        assert "is full" in str(raised.value) and "\n" not in str(raised.value)
        with pytest.raises(OutputDiskFull):  # opening the store on the full disk: one line too
            ResultStore(out / "results.sqlite")
        fillers[0].unlink()
        store = ResultStore(out / "results.sqlite")
        stored = store.all()
        assert "strong" in [r.name for r in stored]  # written before the disk filled up
        for row in stored:  # every row is whole
            assert json.loads(row.result_json)["status"] == row.status
        assert integrity(out / "results.sqlite") == "ok"
        assert not list(out.rglob("*.tmp"))  # no half-written report anywhere
        for path in out.rglob("result.json"):
            json.loads(path.read_text())
        for path in out.rglob("report.html"):
            assert path.read_text().rstrip().endswith("</html>")
        before = {r.name: r.result_json for r in stored}
        outcome = _static_batch(out, sources)
        items = {i.name: i for i in outcome.items}
        assert items["strong"].reused
        assert items["weak"].reused == ("weak" in before)
        assert {r.name: r.result_json for r in store.all()}["strong"] == before["strong"]
        assert (out / "weak" / "report.html").is_file()


def test_the_cli_says_the_disk_is_full_and_exits_3(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        import harness.batch as batch
        from harness.store import ResultStore
        real_put = ResultStore.put
        def put(self, *args, **kwargs):
            with open({str(tmp_path / 'disk' / 'filler.bin')!r}, "ab") as handle:
                try:
                    while True:
                        handle.write(b"\\0" * 65536)
                        handle.flush()
                except OSError:
                    pass
            return real_put(self, *args, **kwargs)
        ResultStore.put = put
        from harness.cli import main
        sys.argv = ["takehome", "grade", "diabetes-progression", {str(EXAMPLES / 'weak')!r},
                    "--no-run", "-o", {str(tmp_path / 'disk' / 'out')!r}]
        main()
    """))
    with small_disk(tmp_path / "disk", 64):
        done = subprocess.run([sys.executable, str(script)], cwd=REPO, capture_output=True,
                              text=True, timeout=120, check=False)
    assert done.returncode == 3, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "is full" in lines[0], done.stderr[-2000:]
    assert "Traceback" not in done.stderr


# --- the engine stopping mid-batch ---------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(sandbox_image) -> PrivateEngine:
    try:
        return PrivateEngine.shared(sandbox_image)
    except RuntimeError as exc:
        pytest.skip(f"no private Docker engine: {exc}")


def _sleeper(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("# sleeper\n")
    (folder / "predict.py").write_text("import time\ntime.sleep(300)\n")
    return folder


def _stored(out: Path) -> dict[str, float]:
    with sqlite3.connect(out / "results.sqlite") as conn:
        try:
            return dict(conn.execute("SELECT name, graded_at FROM results").fetchall())
        except sqlite3.OperationalError as error:
            # polled while the store is being created: the file exists, its table not yet
            if "no such table" in str(error):
                return {}
            raise


def _containers(engine: PrivateEngine, stage: str | None = None) -> list[str]:
    args = ["ps", "-a", "-q", "--filter", "label=takehome.managed=1"]
    if stage:
        args += ["--filter", f"label=takehome.stage={stage}", "--filter", "status=running"]
    return engine.docker(*args).stdout.decode().split()


@pytest.mark.docker
def test_engine_stopping_mid_batch_is_a_harness_error_and_a_rerun_regrades_only_it(
        engine, tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(EXAMPLES / "weak", subs / "a-weak")
    _sleeper(subs / "b-sleeper")
    shutil.copytree(EXAMPLES / "strong", subs / "c-strong")
    from sandbox.image import build_image

    engine.load_image(build_image())  # the current tag (inputs may have changed since start)
    out, log = tmp_path / "out", tmp_path / "grade.log"
    cmd = [sys.executable, "-m", "harness.cli", "grade", "diabetes-progression", str(subs),
           "-o", str(out), "-j", "1", "--format", "json"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=engine.env(), stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline and proc.poll() is None:
            if "a-weak" in (_stored(out) if (out / "results.sqlite").exists() else {}) \
                    and _containers(engine, "run"):
                break  # a-weak is stored and b-sleeper's run container is up
            time.sleep(0.5)
        assert proc.poll() is None, log.read_text()[-2000:]
        engine.stop()  # the engine goes away under the running stage...
        time.sleep(2)
        engine.start()  # ...and comes back: c-strong finds it again
        code = proc.wait(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
        if engine.process is None:
            engine.start()
    text = log.read_text(errors="replace") + "".join(
        f"\n{p.parent.name}: {json.loads(p.read_text()).get('status_reason', '')}"
        for p in out.glob("*/result.json"))
    assert code == 4, text[-3000:]  # EXIT_HARNESS: a harness fault happened
    first = _stored(out)
    assert "a-weak" in first and "b-sleeper" not in first, text[-3000:]
    assert "harness_error" in text
    if "c-strong" not in first:  # it ran while the engine was still down: affected, not scored
        assert text.count("harness_error") >= 2

    # the sleeper now finishes quickly; a rerun regrades only what has no stored result
    (subs / "b-sleeper" / "predict.py").write_text("print('no predictions')\n")
    rerun = subprocess.run(cmd, cwd=REPO, env=engine.env(), capture_output=True, text=True,
                           timeout=600, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    second = _stored(out)
    assert set(second) == {"a-weak", "b-sleeper", "c-strong"}
    for name in ("a-weak", "c-strong"):  # graded in the first run: reused, not regraded
        if name in first:
            assert second[name] == first[name], (name, rerun.stderr[-2000:])
    assert _containers(engine) == []  # the stopped engine's leftovers were removed at the rerun
