"""The in-container stage scripts, exercised on the host with the venv's nbclient/ipykernel.

They are the harness's own code, so running them here is safe; the Docker tests in
test_stages.py prove the same behaviour inside the sandbox.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

INSIDE = Path(__file__).resolve().parent.parent / "sandbox" / "inside"


def run_script(script: str, args: list[str], workspace: Path, out: Path, timeout: float = 120):
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "HOME": str(workspace.parent / "home"),
        "TAKEHOME_OUTPUT_DIR": str(out),
        "TAKEHOME_DATA_DIR": str(workspace.parent / "data"),
        "MPLBACKEND": "Agg",
        "TMPDIR": str(workspace.parent),
    }
    return subprocess.run(
        [sys.executable, "-I", str(INSIDE / script), *args],
        check=False,
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def notebook(path: Path, cells: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title")]
    nb.cells += [nbformat.v4.new_code_cell(textwrap.dedent(c)) for c in cells]
    nbformat.write(nb, str(path))


@pytest.fixture()
def dirs(tmp_path):
    workspace, out = tmp_path / "workspace", tmp_path / "output"
    for d in (workspace, out, tmp_path / "home"):
        d.mkdir()
    return workspace, out


def run_json(out: Path) -> dict:
    return json.loads((out / "takehome" / "run.json").read_text())


def test_failing_cell_is_recorded_and_the_partial_notebook_saved(dirs):
    workspace, out = dirs
    notebook(
        workspace / "nb" / "analysis.ipynb",
        [
            "print('\\x1b[31mred\\x1b[0m')",
            "def explode():\n    raise KeyError('no such column')\nexplode()",
            "print('never')",
        ],
    )
    proc = run_script("run_stage.py", ["--notebook", "nb/analysis.ipynb"], workspace, out)
    assert proc.returncode == 1, proc.stderr
    [record] = run_json(out)["notebooks"]
    assert record["status"] == "error"
    assert record["failing_cell"] == 2  # notebook index, markdown cell included
    assert record["ename"] == "KeyError" and "no such column" in record["evalue"]
    assert "\x1b[" not in record["traceback"] and "explode()" in record["traceback"]
    assert record["cells_executed"] == 2
    saved = nbformat.read(str(out / "takehome" / "notebooks" / "nb" / "analysis.ipynb"), 4)
    assert saved.cells[1].outputs and saved.cells[3].get("execution_count") is None


def test_clean_notebook_and_command(dirs):
    workspace, out = dirs
    notebook(
        workspace / "ok.ipynb",
        ["import os\nopen(os.environ['TAKEHOME_OUTPUT_DIR'] + '/p.csv', 'w').write('x')"],
    )
    (workspace / "predict.py").write_text("print('trained')\n")
    proc = run_script(
        "run_stage.py",
        ["--command-json", '["python3", "predict.py"]', "--notebook", "ok.ipynb"],
        workspace,
        out,
    )
    assert proc.returncode == 0, proc.stderr
    report = run_json(out)
    assert report["command"]["exit_code"] == 0 and report["command"]["argv"] == [
        "python3",
        "predict.py",
    ]
    assert report["notebooks"][0]["status"] == "ok"
    assert (out / "p.csv").read_text() == "x"
    assert "trained" in (out / "takehome" / "command.log").read_text()


def test_command_output_is_capped_and_exit_code_kept(dirs):
    workspace, out = dirs
    (workspace / "noisy.py").write_text(
        "import sys\nfor _ in range(200000): print('x' * 50)\nsys.exit(3)\n"
    )
    proc = run_script("run_stage.py", ["--command-json", '["python3", "noisy.py"]'], workspace, out)
    assert proc.returncode == 1
    assert run_json(out)["command"]["exit_code"] == 3
    log = (out / "takehome" / "command.log").read_text()
    assert len(log) < 100_000 and "bytes cut" in log


def test_missing_command_and_notebook(dirs):
    workspace, out = dirs
    proc = run_script(
        "run_stage.py",
        ["--command-json", '["no-such-program-xyz"]', "--notebook", "../escape.ipynb"],
        workspace,
        out,
    )
    assert proc.returncode == 1
    report = run_json(out)
    assert report["command"]["exit_code"] == 127
    assert report["notebooks"][0]["status"] == "missing"


def test_cell_timeout_and_budget(dirs):
    workspace, out = dirs
    notebook(workspace / "slow.ipynb", ["import time\ntime.sleep(60)", "print(1)"])
    proc = run_script(
        "run_stage.py",
        ["--notebook", "slow.ipynb", "--cell-timeout", "3", "--budget", "60"],
        workspace,
        out,
    )
    assert proc.returncode == 1
    record = run_json(out)["notebooks"][0]
    assert record["status"] == "timeout" and record["failing_cell"] == 1
    assert record["duration_s"] < 30


def test_huge_outputs_are_dropped_with_a_note(dirs):
    workspace, out = dirs
    notebook(workspace / "big.ipynb", ["print('y' * 3_000_000)", "print('small')"])
    proc = run_script("run_stage.py", ["--notebook", "big.ipynb"], workspace, out)
    assert proc.returncode == 0, proc.stderr
    saved = nbformat.read(str(out / "takehome" / "notebooks" / "big.ipynb"), 4)
    assert "outputs of this cell dropped" in saved.cells[1].outputs[0]["text"]
    assert "small" in saved.cells[2].outputs[0]["text"]
    assert (out / "takehome" / "notebooks" / "big.ipynb").stat().st_size < 100_000


# --- checks stage --------------------------------------------------------------------------------


def test_env_inventory_records_integrity_findings(dirs):
    workspace, out = dirs
    (workspace / "conftest.py").write_text(
        "import pytest\npytest_plugins = ['x']\n"
        "def pytest_runtest_makereport(item, call):\n    pass\n"
        "def pytest_collection_modifyitems(items):\n    pass\n"
    )
    (workspace / "sub").mkdir()
    (workspace / "sub" / "conftest.py").write_text("import pytest\n")
    (workspace / "sitecustomize.py").write_text("")
    (workspace / "evil.pth").write_text("import os\n")
    (workspace / "pyproject.toml").write_text(
        "[tool.pylint.main]\njobs = 4\n[tool.pytest.ini_options]\n"
    )
    (workspace / "setup.cfg").write_text("[metadata]\nname = x\n")
    proc = run_script("checks_stage.py", ["env"], workspace, out)
    assert proc.returncode == 0, proc.stderr
    env = json.loads((out / "takehome" / "environment.json").read_text())
    found = env["integrity"]
    assert found["conftest"] == ["conftest.py", "sub/conftest.py"]
    assert found["pytest_hooks"] == [
        {
            "path": "conftest.py",
            "plugins": True,
            "parse_error": False,
            "hooks": ["pytest_collection_modifyitems", "pytest_runtest_makereport"],
        }
    ]
    assert found["sitecustomize"] == ["sitecustomize.py"]
    assert found["pth_files"] == ["evil.pth"]
    assert found["pylintrc"] == ["pyproject.toml"]  # setup.cfg has no pylint section
    assert found["pytest_config"] == ["pyproject.toml"]
    assert "nbformat" in env["packages"]


def _lint(workspace: Path, out: Path) -> list[tuple]:
    proc = run_script("checks_stage.py", ["lint"], workspace, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((out / "takehome" / "pylint.json").read_text())
    return sorted((m["path"], m["symbol"], m["line"]) for m in report["messages"])


def test_lint_ignores_the_candidates_pylint_configuration(tmp_path):
    results = []
    for with_rc in (False, True):
        workspace, out = tmp_path / f"w{with_rc}", tmp_path / f"o{with_rc}"
        workspace.mkdir()
        (tmp_path / "home").mkdir(exist_ok=True)
        (workspace / "model.py").write_text(
            "import os\n\ndef f(a):\n    if a == None:\n        return 1\n"
        )
        if with_rc:
            (workspace / ".pylintrc").write_text("[MESSAGES CONTROL]\ndisable=all\n")
            (workspace / "pylintrc").write_text("[MESSAGES CONTROL]\ndisable=all\n")
            (workspace / "setup.cfg").write_text("[pylint.messages_control]\ndisable=all\n")
        results.append(_lint(workspace, out))
        argv = json.loads((out / "takehome" / "lint.json").read_text())["pylint"]["argv"]
        assert f"--rcfile={INSIDE / 'pylintrc'}" in argv
    assert ("model.py", "singleton-comparison", 4) in results[0]
    assert results[0] == results[1]


def test_notebook_code_is_linted_with_magics_commented_out(dirs):
    workspace, out = dirs
    notebook(workspace / "eda.ipynb", ["%matplotlib inline\n!ls\nimport os", "x = 1"])
    messages = _lint(workspace, out)
    sources = json.loads((out / "takehome" / "lint_sources.json").read_text())["notebooks"]
    [(export, info)] = sources.items()
    assert info["path"] == "eda.ipynb"
    assert info["cells"] == [{"cell": 1, "first_line": 2}, {"cell": 2, "first_line": 7}]
    text = Path(export).read_text()
    assert "# %matplotlib inline" in text and "# !ls" in text
    assert not any(symbol == "syntax-error" for _, symbol, _ in messages)
    assert any(path == export and symbol == "unused-import" for path, symbol, _ in messages)


@pytest.mark.skipif(
    importlib.util.find_spec("coverage") is None,
    reason="coverage is installed in the sandbox image only",
)
def test_tests_mode_ignores_candidate_addopts(dirs):
    workspace, out = dirs
    (workspace / "lib.py").write_text("def one():\n    return 1\n")
    (workspace / "test_lib.py").write_text(
        "from lib import one\n\ndef test_one():\n    assert one() == 1\n"
    )
    (workspace / "pytest.ini").write_text("[pytest]\naddopts = --no-such-flag\n")
    proc = run_script("checks_stage.py", ["tests"], workspace, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'tests="1"' in (out / "takehome" / "junit.xml").read_text()
    assert "lib.py" in json.loads((out / "takehome" / "coverage.json").read_text())["files"]


FORGER = textwrap.dedent("""\
    import atexit
    import os

    FORGED = (
        '<testsuites><testsuite name="pytest" tests="12">'
        + '<testcase classname="test_forge" name="t"/>' * 12
        + "</testsuite></testsuites>"
    )


    def _forge():
        path = os.path.join(os.environ["TAKEHOME_OUTPUT_DIR"], "takehome", "junit.xml")
        with open(path, "w") as handle:
            handle.write(FORGED)
        print("12 passed in 0.01s")


    atexit.register(_forge)


    def test_one():
        assert 1 == 2


    def test_two():
        assert "a" == "b"
    """)


@pytest.mark.skipif(
    importlib.util.find_spec("coverage") is None,
    reason="coverage is installed in the sandbox image only",
)
def test_tests_mode_publishes_pytests_own_junit_over_a_forgery(dirs):
    workspace, out = dirs
    (workspace / "test_forge.py").write_text(FORGER)
    proc = run_script("checks_stage.py", ["tests"], workspace, out)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    junit = (out / "takehome" / "junit.xml").read_text()
    assert 'tests="2"' in junit and 'failures="2"' in junit  # the forgery was overwritten
    record = json.loads((out / "takehome" / "tests.json").read_text())
    evidence = record["evidence"]
    assert evidence["exit_code"] == 1
    assert evidence["junit_counts"] == {
        "tests": 2,
        "passed": 0,
        "failed": 2,
        "error": 0,
        "skipped": 0,
    }
    assert evidence["planted"] == ["junit.xml"]
    assert evidence["summary_line"] == "12 passed in 0.01s"  # forged, but the host sees it
    assert evidence["summary_lines"][0].startswith("2 failed in ")  # pytest's own, kept too
    assert evidence["summary_lines"][1:] == ["12 passed in 0.01s"]
    assert "--junitxml=" + str(out) not in " ".join(record["pytest"]["argv"])
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("TAKEHOME_TESTS_EVIDENCE ")]
    assert json.loads(line.split(" ", 1)[1]) == evidence
    assert proc.stdout.rstrip().endswith(line)


def test_summary_line_and_junit_counts_parsers():
    sys.path.insert(0, str(INSIDE))
    try:
        import checks_stage
    finally:
        sys.path.remove(str(INSIDE))
    output = "....F\n===== 1 failed, 4 passed, 2 warnings in 0.31s =====\ntrailing noise\n"
    assert (
        checks_stage.summary_line(output) == "===== 1 failed, 4 passed, 2 warnings in 0.31s ====="
    )
    assert checks_stage.summary_line("no tests ran in 0.01s\n") == "no tests ran in 0.01s"
    assert checks_stage.summary_line("FAILED test_x.py::test_y\n") is None
    assert checks_stage.junit_counts(b'<!DOCTYPE x [<!ENTITY a "a">]><testsuite/>') is None
    assert checks_stage.junit_counts(b"<html/>") is None
    counts = checks_stage.junit_counts(
        b'<testsuites><testsuite><testcase name="a"/><testcase name="b"><skipped/></testcase>'
        b'<testcase name="c"><error/></testcase></testsuite></testsuites>'
    )
    assert counts == {"tests": 3, "passed": 1, "failed": 0, "error": 1, "skipped": 1}


def test_inspect_mode_writes_the_inventory_then_lints_in_one_process(dirs):
    workspace, out = dirs
    (workspace / "model.py").write_text('"""Model."""\nimport os\n')
    (workspace / "conftest.py").write_text("")
    proc = run_script("checks_stage.py", ["inspect"], workspace, out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    takehome = out / "takehome"
    env = json.loads((takehome / "environment.json").read_text())
    assert env["integrity"]["conftest"] == ["conftest.py"]
    report = json.loads((takehome / "pylint.json").read_text())
    assert ("model.py", "unused-import") in {(m["path"], m["symbol"]) for m in report["messages"]}


LINT_PROBE = textwrap.dedent("""\
    import json, runpy, sys
    hook, target, report = sys.argv[1:4]
    if hook != "-":
        runpy.run_path(hook, run_name="takehome_lint_hook")
    from pylint.lint import Run
    Run(["--rcfile=" + {rcfile!r}, "--output-format=json2:" + report, target], exit=False)
    import astroid
    parsed = sorted(m for m in astroid.MANAGER.astroid_cache if m.split(".")[0] == "sklearn")
    print(json.dumps(parsed))
""")


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs scikit-learn")
def test_lint_hook_keeps_astroid_out_of_installed_packages_with_the_same_messages(tmp_path):
    target = tmp_path / "analysis.py"
    target.write_text(
        '"""Analysis."""\nimport os\nimport json\nfrom sklearn.linear_model import Ridge\n\n'
        'MODEL = Ridge(alpha=os.cpu_count()).fit([[0], [1]], [0, 1])\nprint(MODEL.coef_)\n'
    )
    probe = tmp_path / "probe.py"
    probe.write_text(LINT_PROBE.format(rcfile=str(INSIDE / "pylintrc")))
    outcome = {}
    for hook in ("-", str(INSIDE / "lint_hook.py")):
        report = tmp_path / f"report{len(outcome)}.json"
        proc = subprocess.run(
            [sys.executable, "-I", str(probe), hook, str(target), str(report)],
            capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr
        messages = json.loads(report.read_text())["messages"]
        outcome[hook] = (
            json.loads(proc.stdout.strip().splitlines()[-1]),
            sorted((m["symbol"], m["line"]) for m in messages),
        )
    (parsed_without, messages_without), (parsed_with, messages_with) = outcome.values()
    # pylintrc's ignored-modules only match exact names: sklearn.linear_model is parsed
    assert parsed_without, "without the hook astroid parses sklearn (the cost the hook removes)"
    assert parsed_with == []
    assert messages_with == messages_without
    assert ("unused-import", 3) in messages_with


def test_lint_hook_denylist_matches_site_packages_modules_only(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("takehome_lint_hook_test", INSIDE / "lint_hook.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    site, local = tmp_path / "site-packages", tmp_path / "workspace"
    (site / "fakepkg").mkdir(parents=True)
    (site / "fakepkg" / "__init__.py").write_text("")
    (site / "fakemod.py").write_text("")
    local.mkdir()
    (local / "helpers.py").write_text("")
    monkeypatch.syspath_prepend(str(local))
    monkeypatch.syspath_prepend(str(site))
    denylist = hook.ThirdPartyDenylist({"exact.name"}, site_dirs=[str(site.resolve()) + os.sep])
    assert "fakepkg" in denylist and "fakepkg.sub.module" in denylist and "fakemod" in denylist
    assert "exact.name" in denylist  # pylint's ignored-modules entries are kept
    assert "helpers" not in denylist and "os" not in denylist and "json.decoder" not in denylist
    assert "no_such_module_anywhere" not in denylist and "" not in denylist
    denylist.update({"added"})  # pylint adds its ignored-modules this way
    assert "added" in denylist


def test_supervisor_copy_with_stats_prints_the_counters_after_copying(tmp_path):
    source, target = tmp_path / "submission", tmp_path / "workspace"
    (source / "pkg").mkdir(parents=True)
    (source / "pkg" / "a.py").write_text("A = 1\n")
    target.mkdir()
    proc = subprocess.run(
        [sys.executable, "-I", str(INSIDE / "supervise.py"), "--copy", str(source), str(target),
         "--stats"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (target / "pkg" / "a.py").read_text() == "A = 1\n"
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"memory_peak", "oom_kill", "pids_max_hits", "full"} <= set(stats)
    bad = subprocess.run(
        [sys.executable, "-I", str(INSIDE / "supervise.py"), "--copy", str(source),
         str(tmp_path / "other"), "--bogus"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert bad.returncode == 2 and "usage" in bad.stderr


def _supervisor_module():
    spec = importlib.util.spec_from_file_location("takehome_supervise_test", INSIDE / "supervise.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


@pytest.mark.parametrize("nested", ["/", "/docker/abc123"], ids=["cgroupns", "host-namespace"])
def test_supervisor_reads_cgroup_v2_counters(tmp_path, nested):
    # this host runs cgroup v1; the v2 layout is checked on a fake /sys/fs/cgroup
    supervise = _supervisor_module()
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    unified = root / nested.lstrip("/")
    proc.write_text(f"0::{nested}\n")
    _files(root, {"cgroup.controllers": "cpu memory pids\n"})
    _files(unified, {
        "memory.events": "low 0\nhigh 0\nmax 7\noom 2\noom_kill 1\n",
        "memory.peak": "268435456\n",
        "pids.events": "max 3\n",
    })
    assert supervise._cgroup_counters(str(root), str(proc)) == {
        "cgroup": 2, "memory_peak": 268435456, "oom_kill": 1, "memory_max_hits": 7,
        "pids_max_hits": 3,
    }
    (unified / "memory.peak").unlink()  # kernels before 5.19 have no memory.peak
    assert supervise._cgroup_counters(str(root), str(proc))["memory_peak"] is None


def test_supervisor_reads_cgroup_v1_counters_from_nested_controllers(tmp_path):
    supervise = _supervisor_module()
    root, proc = tmp_path / "cgroup", tmp_path / "proc_self_cgroup"
    proc.write_text("12:pids:/docker/abc\n9:memory:/docker/abc\n1:name=systemd:/docker/abc\n")
    _files(root, {
        "memory/docker/abc/memory.max_usage_in_bytes": "1048576\n",
        "memory/docker/abc/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        "memory/docker/abc/memory.failcnt": "5\n",
        "pids/docker/abc/pids.events": "max 4\n",
        "memory/memory.max_usage_in_bytes": "999\n",  # the host's: must not be read
    })
    assert supervise._cgroup_counters(str(root), str(proc)) == {
        "cgroup": 1, "memory_peak": 1048576, "oom_kill": 2, "memory_max_hits": 5,
        "pids_max_hits": 4,
    }
