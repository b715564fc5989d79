"""The code_quality grader: pylint, function length, nesting, reusable code, secrets, paths."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from fixtures_graders import by_id, cell_locations, make_context, make_notebook, write_files

from graders.base import Artifacts, GraderContext, GraderResult
from graders.code_quality import CodeQualityGrader, mask_user, secret_spans
from graders.registry import is_harness_fault, run_grader

AWS_KEY = "AKIA" + "Q7XZ3RTV9LMN2PK4"  # built at runtime: no literal key in the repository
GH_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
PASSWORD = "hunter2" + "Secret!"

GOOD_MODULE = '''"""Features."""


def build(frame):
    """Add features."""
    return frame
'''


def grade(context: GraderContext) -> GraderResult:
    """Run the grader the way the pipeline does; fail on any contract breach."""
    result = run_grader(CodeQualityGrader(), context)
    assert not is_harness_fault(result), result.reason
    return result


def snapshot(tmp_path: Path) -> Path:
    root = tmp_path / "snap"
    root.mkdir()
    return root


def pylint_artifacts(tmp_path: Path, report: dict, lint_sources: dict | None = None) -> Artifacts:
    """Artifacts with a pylint json2 report (and lint_sources.json next to it)."""
    root = tmp_path / "artifacts"
    root.mkdir()
    (root / "pylint.json").write_text(json.dumps(report), encoding="utf-8")
    if lint_sources is not None:
        (root / "lint_sources.json").write_text(json.dumps(lint_sources), encoding="utf-8")
    return Artifacts(root=root, pylint_json=root / "pylint.json")


def message(symbol: str, path: str, line: int, text: str = "msg") -> dict:
    return {
        "type": "convention",
        "symbol": symbol,
        "message": text,
        "messageId": "C0000",
        "path": path,
        "absolutePath": path if path.startswith("/") else f"/workspace/{path}",
        "line": line,
        "column": 0,
        "obj": "",
    }


def test_clean_package_passes_and_pylint_top_symbols_are_evidence(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"src/features.py": GOOD_MODULE})
    make_notebook(root, [("markdown", "# EDA"), ("code", "import pandas as pd\nx = 1\ny = 2")])
    export = "/tmp/takehome/notebooks_py/analysis.py"
    report = {
        "messages": [
            message("invalid-name", "src/features.py", 4),
            message("invalid-name", export, 5),
            message("invalid-name", "src/features.py", 2),
            message("line-too-long", export, 6, "Line too long (120/100)"),
            message("missing-final-newline", "generated/elsewhere.py", 3),
        ],
        "statistics": {"score": 8.5, "messageTypeCount": {"convention": 5}},
    }
    lint_sources = {
        "notebooks": {export: {"path": "analysis.ipynb", "cells": [{"cell": 1, "first_line": 2}]}}
    }
    artifacts = pylint_artifacts(tmp_path, report, lint_sources)
    result = grade(make_context(root, artifacts=artifacts))
    assert [c.id for c in result.checks if c.passed] == [
        "code_quality.pylint_score",
        "code_quality.function_length",
        "code_quality.nesting",
    ]  # one two-line function is not reusable structure
    assert not any(c.id.endswith(("syntax_errors", "duplication")) for c in result.checks)
    assert [f.id for f in result.red_flags] == ["code_quality.notebook_only"]
    pylint = by_id(result.checks)["code_quality.pylint_score"]
    assert pylint.sentence == (
        "pylint scores the code 8.50/10, 10.00 without formatting-only messages (at least 7 "
        "expected); most frequent: invalid-name ×3, "
        "line-too-long ×1, missing-final-newline ×1."
    )
    assert [(e.path, e.cell, e.line, e.metric) for e in pylint.evidence[1:]] == [
        ("analysis.ipynb", 1, 4, {"count": 3}),
        ("analysis.ipynb", 1, 5, {"count": 1}),
        (None, None, None, {"count": 1}),
    ]
    assert pylint.evidence[3].note == "missing-final-newline (in generated/elsewhere.py:3)"
    assert result.details["pylint_top_symbols"] == {
        "invalid-name": 3,
        "line-too-long": 1,
        "missing-final-newline": 1,
    }


def test_low_pylint_score_fails(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"src/features.py": GOOD_MODULE})
    report = {"messages": [], "statistics": {"score": 4.25}}
    result = grade(make_context(root, artifacts=pylint_artifacts(tmp_path, report)))
    assert not by_id(result.checks)["code_quality.pylint_score"].passed


def test_formatting_only_messages_do_not_sink_the_pylint_check(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"src/features.py": GOOD_MODULE})
    whitespace = [message("trailing-whitespace", "src/features.py", 2) for _ in range(40)]
    undefined = [message("undefined-variable", "src/features.py", 6) for _ in range(2)]
    # 40 conventions + 2 errors (x5) = 50 penalty points over 100 statements: 5.0/10
    report = {
        "messages": whitespace + undefined,
        "statistics": {"score": 5.0, "messageTypeCount": {"convention": 40, "error": 2}},
    }
    result = grade(make_context(root, artifacts=pylint_artifacts(tmp_path, report)))
    check = by_id(result.checks)["code_quality.pylint_score"]
    assert check.passed
    assert check.evidence[0].metric == {
        "pylint_score": 5.0,
        "messages": 42,
        "substantive_score": 9.0,
    }


def test_long_functions_and_deep_nesting_are_located(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    body = "".join(f"    v{i} = {i}\n" for i in range(51))
    nested = (
        "def deep(x):\n"
        "    for a in x:\n"
        "        if a:\n"
        "            while a:\n"
        "                with open(a) as f:\n"
        "                    try:\n"
        "                        pass\n"
        "                    except OSError:\n"
        "                        pass\n"
        "\n\n"
        "def chain(x):\n"
        "    if x == 1:\n        return 1\n"
        "    elif x == 2:\n        return 2\n"
        "    elif x == 3:\n        return 3\n"
        "    elif x == 4:\n        return 4\n"
        "    elif x == 5:\n        return 5\n"
        "    return 0\n"
    )
    write_files(root, {"pipeline.py": f"def long():\n{body}\n\n{nested}"})
    result = grade(make_context(root))
    checks = by_id(result.checks)
    length = checks["code_quality.function_length"]
    assert not length.passed
    assert [(e.path, e.line, e.note) for e in length.evidence] == [
        ("pipeline.py", 1, "long: 51 statements, 52 lines")
    ]
    nesting = checks["code_quality.nesting"]
    assert not nesting.passed
    assert [(e.path, e.line, e.excerpt) for e in nesting.evidence] == [("pipeline.py", 60, "try:")]
    assert nesting.sentence == "Blocks nested deeper than 4 levels in 1 function or cell."


def test_notebook_only_code_is_flagged(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    make_notebook(root, [("code", "import pandas as pd"), ("code", "df = pd.read_csv('x.csv')")])
    result = grade(make_context(root))
    assert not by_id(result.checks)["code_quality.reusable_code"].passed
    flags = {f.id: f for f in result.red_flags}
    assert flags["code_quality.notebook_only"].severity == "medium"
    assert cell_locations(flags["code_quality.notebook_only"]) == [("analysis.ipynb", None, None)]
    assert "code_quality.throwaway" in flags  # not a single function anywhere: rubric level 1


def test_notebook_functions_lower_the_severity(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    clean = "def clean(df):\n    df = df.dropna()\n    df = df.copy()\n    return df"
    make_notebook(root, [("code", clean), ("code", "frame = clean(frame)")])
    result = grade(make_context(root))
    [flag] = result.red_flags
    assert (flag.id, flag.severity) == ("code_quality.notebook_only", "low")  # not throwaway
    assert "reuses clean (defined in cell 0)" in [e.note for e in flag.evidence]


def test_secrets_are_found_and_masked(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "src/config.py": f'"""Config."""\n\nAWS = "{AWS_KEY}"\nMAX_TOKENS = 512\n',
            ".env": f"DB_PASSWORD='{PASSWORD}'\n",
        },
    )
    token_output = nbformat.v4.new_output("stream", text=f"token is {GH_TOKEN}\n")
    make_notebook(
        root,
        [("code", "print(token)"), ("code", "pad_token = '[PAD]'")],
        outputs={0: [token_output]},
    )
    result = grade(make_context(root))
    check = by_id(result.checks)["code_quality.no_secrets"]
    assert not check.passed
    assert [(e.path, e.cell, e.line, e.note, e.reproduced) for e in check.evidence] == [
        (".env", None, 1, "password assignment", True),
        ("analysis.ipynb", 0, None, "GitHub token (in a cell output)", False),
        ("src/config.py", None, 3, "AWS access key id", True),
    ]
    assert check.evidence[2].excerpt == 'AWS = "AKIA[masked 16 chars]"'
    [flag] = [f for f in result.red_flags if f.id == "code_quality.secrets"]
    assert flag.severity == "high"
    text = result.model_dump_json()
    for secret in (AWS_KEY, GH_TOKEN, PASSWORD):
        assert secret not in text


def test_placeholders_are_not_secrets() -> None:
    assert secret_spans('api_key = "YOUR_API_KEY_HERE_1234567"') == []
    assert secret_spans("password = os.environ['DB_PASSWORD']") == []
    assert secret_spans('tokenizer = "bert-base-uncased"') == []
    assert [s[2] for s in secret_spans("url = 'postgres://admin:s3cr3t@db:5432/x'")] == [
        "credentials in a URL"
    ]


def test_absolute_paths_are_flagged_with_the_user_masked(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(
        root,
        {
            "load.py": '"""Load."""\n\nURL = "https://example.com/home/page"\n'
            'DATA = "/home/alice/projects/fraud/train.csv"\n'
            'OUT = r"C:\\Users\\bob\\Desktop\\out.csv"\n'
            'REL = "data/train.csv"\n',
        },
    )
    result = grade(make_context(root))
    check = by_id(result.checks)["code_quality.no_absolute_paths"]
    assert not check.passed
    assert [(e.path, e.line, e.excerpt) for e in check.evidence] == [
        ("load.py", 4, 'DATA = "/home/<user>/projects/fraud/train.csv"'),
        ("load.py", 5, 'OUT = r"C:\\Users\\<user>\\Desktop\\out.csv"'),
    ]
    [flag] = [f for f in result.red_flags if f.id == "code_quality.absolute_paths"]
    assert flag.severity == "medium"
    assert "alice" not in result.model_dump_json()
    assert mask_user("/Users/jane/x") == "/Users/<user>/x"


def test_no_code_is_not_applicable(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"README.md": "# Nothing here\n"})
    result = grade(make_context(root))
    assert result.not_applicable
    assert result.reason == "No Python files or notebook code cells to judge."


# --------------------------------------------------------------------------- practice, hygiene

TIDY_MODULE = '''"""Feature building."""

import logging

LOG = logging.getLogger(__name__)


def load(path: str) -> list[str]:
    """Read the rows of ``path``."""
    LOG.info("reading %s", path)
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()


def build(rows: list[str], scale: float = 1.0) -> list[float]:
    """Turn rows into scaled numbers."""
    numbers = [float(row) for row in rows]
    LOG.info("%d rows", len(numbers))
    return [number * scale for number in numbers]
'''

TIDY_TOOLING = {
    "pyproject.toml": '[project]\nname = "fraud"\n\n[tool.ruff]\nline-length = 100\n',
    ".github/workflows/ci.yml": "jobs:\n  test:\n    steps:\n      - run: pip install . && pytest\n",
    "config.yaml": "scale: 2.0\n",
    "fraud/__init__.py": '"""Fraud."""\n',
    "fraud/features.py": TIDY_MODULE,
    "fraud/cli.py": '"""CLI."""\n\nimport argparse\n\nfrom fraud.features import build, load\n\n'
                    'CONFIG = "config.yaml"\n\n\ndef main() -> None:\n    """Run."""\n'
                    '    parser = argparse.ArgumentParser()\n    args = parser.parse_args()\n'
                    '    build(load(CONFIG), args.scale)\n\n\nif __name__ == "__main__":\n'
                    '    main()\n',
}


def levels(result: GraderResult) -> dict[str, bool]:
    return {c.id: c.passed for c in result.checks}


def test_tidy_package_with_tooling_passes_every_practice_check(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, TIDY_TOOLING)
    result = grade(make_context(root))
    passed = levels(result)
    for check in ("docstrings", "type_hints", "configuration", "logging", "packaging",
                  "linters", "ci", "reusable_code"):  # fmt: skip
        assert passed[f"code_quality.{check}"], check
    assert all(passed.values()), [k for k, v in passed.items() if not v]
    assert result.score == 1.0 and result.red_flags == []
    config = by_id(result.checks)["code_quality.configuration"]
    assert ("fraud/cli.py", "reads config.yaml") in [(e.path, e.note) for e in config.evidence]


def test_the_same_code_without_tooling_misses_the_production_checks(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"fraud/__init__.py": "", "fraud/features.py": TIDY_MODULE})
    passed = levels(grade(make_context(root)))
    assert not passed["code_quality.packaging"]
    assert not passed["code_quality.linters"]
    assert not passed["code_quality.ci"]
    assert passed["code_quality.type_hints"] and passed["code_quality.docstrings"]


def test_throwaway_script_with_export_leftovers_and_syntax_error(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    export = (
        "#!/usr/bin/env python\n# coding: utf-8\n\n# In[1]:\n\n\nimport pandas as pd\n"
        "df = pd.read_csv('/home/alice/data/train.csv')\n\n# In[2]:\n\n\nprint(df.head())\n"
        "pip freeze > requirements.txt\n"
    )
    write_files(root, {"analysis.py": export})
    result = grade(make_context(root))
    checks = by_id(result.checks)
    assert not checks["code_quality.syntax_errors"].passed
    assert [(e.path, e.line) for e in checks["code_quality.syntax_errors"].evidence] == [
        ("analysis.py", 14)
    ]
    export_check = checks["code_quality.notebook_export"]
    assert [(e.path, e.line, e.excerpt) for e in export_check.evidence] == [
        ("analysis.py", 4, "# In[1]:")
    ]
    flags = {f.id for f in result.red_flags}
    assert {"code_quality.broken", "code_quality.throwaway"} <= flags


def test_commented_out_code_is_found_but_prose_comments_are_not(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    dead = "".join(f"# model_{i} = fit(X_train, y_train, depth={i})\n" for i in range(6))
    prose = "# Step 1: load the data.\n# We keep rows with a label.\n# TODO tune this later\n"
    write_files(root, {"train.py": f'"""Train."""\n\n{prose}\n{dead}\n\ndef fit(a, b, depth):\n'
                       '    """Fit."""\n    return a, b, depth\n'})  # fmt: skip
    check = by_id(grade(make_context(root)).checks)["code_quality.commented_out_code"]
    assert not check.passed
    assert [(e.path, e.line, e.note) for e in check.evidence] == [
        ("train.py", 7, "6 commented-out code lines")
    ]


def test_copy_pasted_blocks_between_files_and_cells(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    block = "".join(f"    score_{i} = metric_{i}(y_true, y_pred)\n" for i in range(8))
    body = f'def evaluate(y_true, y_pred):\n    """Scores."""\n{block}    return score_0\n'
    write_files(root, {"a/model_a.py": body, "b/model_b.py": body})
    make_notebook(root, [("code", block.replace("    ", "")), ("code", block.replace("    ", ""))])
    check = by_id(grade(make_context(root)).checks)["code_quality.duplication"]
    assert not check.passed
    located = [(e.path, e.cell, e.line) for e in check.evidence]
    assert ("b/model_b.py", None, 1) in located  # the whole file repeats a/model_a.py
    assert ("analysis.ipynb", 0, 1) in located  # the cells repeat the module's block
    assert check.evidence[-1].note == "repeats a/model_a.py line 1"


def test_empty_scaffolding_and_library_prints(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    prints = "".join(f"    print('step {i}')\n" for i in range(5))
    write_files(root, {
        "src/predict.py": '"""Predict."""\n',
        "src/utils.py": f'"""Utils."""\n\n\ndef run():\n    """Run."""\n{prints}\n\ndef todo():\n    pass\n',
        "main.py": "from src import utils\n\nutils.run()\n",
    })  # fmt: skip
    checks = by_id(grade(make_context(root)).checks)
    stubs = checks["code_quality.scaffolding"]
    assert [(e.path, e.line) for e in stubs.evidence] == [
        ("src/predict.py", 1),
        ("src/utils.py", 13),
    ]
    assert not checks["code_quality.library_prints"].passed


def test_committed_junk_includes_what_intake_left_out(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"src/features.py": GOOD_MODULE, ".idea/workspace.xml": "<x/>"})
    context = make_context(root)
    context = GraderContext(**{**context.__dict__, "snapshot_meta": {
        "files": ["src/features.py", ".idea/workspace.xml"], "skipped": ["src/__pycache__/"]}})  # fmt: skip
    check = by_id(grade(context).checks)["code_quality.committed_junk"]
    assert [(e.path, e.note) for e in check.evidence] == [
        (".idea/workspace.xml", "committed .idea"),
        (None, "committed src/__pycache__ (left out at intake)"),
    ]


# --------------------------------------------------------------------------- static pylint

MARKER_CODE = "import pathlib\npathlib.Path({marker!r}).joinpath({name!r}).write_text('ran')\n"
#: Names pylint/astroid import lazily while the submission's folders are on sys.path, plus the
#: files pytest or a plugin loader would execute. Each writes a marker when executed.
SHADOWS = ("difflib", "isort", "csv", "colorama", "mypy_extensions", "zipfile", "conftest",
           "pylint_plugin", "sitecustomize")  # fmt: skip


def hostile_submission(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "hostile"
    markers = tmp_path / "markers"
    markers.mkdir()
    files = {f"{name}.py": MARKER_CODE.format(marker=str(markers), name=name) for name in SHADOWS}
    files["main.py"] = "import difflib\nimport csv\nimport conftest\nimport pylint_plugin\n"
    files["pkg/__init__.py"] = MARKER_CODE.format(marker=str(markers), name="pkg")
    files["pkg/model.py"] = (
        '"""Model."""\n\n\ndef fit(x):\n    """Fit."""\n    return undefined_thing + x\n'
    )
    write_files(root, files)
    make_notebook(root, [("code", "import isort\nimport pkg.model")])
    return root, markers


def test_static_lint_never_executes_candidate_code_and_still_reports(tmp_path: Path) -> None:
    from harness.static_lint import run_static_lint

    root, markers = hostile_submission(tmp_path)
    record = run_static_lint(root, tmp_path / "lint")
    assert record["status"] == "ok", record
    assert list(markers.iterdir()) == []
    report = json.loads((tmp_path / "lint" / "pylint.json").read_text())
    assert isinstance(report["statistics"]["score"], (int, float))
    located = {(m["symbol"], m["path"]) for m in report["messages"]}
    assert ("undefined-variable", "pkg/model.py") in located
    sources = json.loads((tmp_path / "lint" / "lint_sources.json").read_text())
    assert list(sources["notebooks"]) == ["/tmp/takehome/notebooks_py/analysis.py"]


def test_without_the_guard_pylint_would_import_a_shadowing_module(tmp_path: Path) -> None:
    """The control: plain pylint on the same tree runs a shadowing module (so the test above
    proves something). If pylint stops importing these names lazily, pick new ones."""
    import subprocess
    import sys

    root, markers = hostile_submission(tmp_path)
    subprocess.run(
        [sys.executable, "-I", "-m", "pylint", "--persistent=n", "--rcfile",
         str(Path(__file__).resolve().parent.parent / "sandbox/inside/pylintrc"),
         str(root / "main.py"), str(root / "pkg")],
        cwd=tmp_path, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert list(markers.iterdir()), "no shadow module was imported by unguarded pylint"


def test_static_lint_report_feeds_the_grader(tmp_path: Path) -> None:
    from harness.static_lint import run_static_lint

    root = snapshot(tmp_path)
    write_files(root, {"pkg/__init__.py": "", "pkg/model.py": '"""Model."""\n\n\ndef fit(x):\n'
                       '    """Fit."""\n    return missing + x\n'})  # fmt: skip
    run_static_lint(root, tmp_path / "lint")
    context = make_context(root)
    context = GraderContext(**{**context.__dict__, "static_lint_dir": tmp_path / "lint"})
    result = grade(context)
    checks = by_id(result.checks)
    assert "code_quality.pylint_score" in checks
    assert result.details["pylint_mode"] == "static (host)"
    undefined = checks["code_quality.broken_references"]
    assert not undefined.passed
    assert [(e.path, e.line) for e in undefined.evidence] == [("pkg/model.py", 6)]


def test_static_lint_timeout_grades_without_pylint(tmp_path: Path) -> None:
    from harness.static_lint import run_static_lint

    root = snapshot(tmp_path)
    write_files(root, {"pkg/model.py": GOOD_MODULE})
    record = run_static_lint(root, tmp_path / "lint", timeout_s=0.01)
    assert record["status"] == "timeout"
    context = make_context(root)
    context = GraderContext(**{**context.__dict__, "static_lint_dir": tmp_path / "lint"})
    result = grade(context)
    assert "code_quality.pylint_score" not in by_id(result.checks)
    assert "pylint gave no score in static mode (pylint did not finish" in result.reason


def test_path_hacks_and_two_notable_smells_raise_the_smells_flag(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    dead = "".join(f"# model_{i} = fit(X_train, y_train, depth={i})\n" for i in range(6))
    write_files(root, {"src/run.py": f'"""Run."""\n\nimport os\nimport sys\n\n'
                       f'sys.path.insert(0, "..")\nos.chdir("..")\n{dead}\n\ndef go():\n'
                       '    """Go."""\n    return 1\n'})  # fmt: skip
    result = grade(make_context(root))
    hacks = by_id(result.checks)["code_quality.path_hacks"]
    assert [(e.line, e.note) for e in hacks.evidence] == [(6, "sys.path.insert"), (7, "os.chdir")]
    [smells] = [f for f in result.red_flags if f.id == "code_quality.smells"]
    assert smells.sentence == "Notable smells: commented out code, path hacks."


def test_undocumented_notebook_helpers_earn_no_structure_floor(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    make_notebook(root, [("code", "def clean(df):\n    return df.dropna()")])
    bare = grade(make_context(root))
    assert "score_floor" not in bare.details or bare.details["score_floor"] < 0.4
    documented = tmp_path / "doc"
    documented.mkdir()
    make_notebook(
        documented, [("code", 'def clean(df):\n    """Drop gaps."""\n    return df.dropna()')]
    )
    assert grade(make_context(documented)).score >= 0.4


def test_thin_wrappers_are_not_reusable_code(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"io_helpers.py": '"""IO."""\nimport pandas as pd\n\n\ndef load(p):\n'
                       '    return pd.read_csv(p)\n\n\ndef save(d, p):\n    d.to_csv(p)\n'})  # fmt: skip
    make_notebook(root, [("code", "from io_helpers import load\ndf = load('x.csv')")])
    check = by_id(grade(make_context(root)).checks)["code_quality.reusable_code"]
    assert not check.passed and "thin wrappers" in check.sentence


def test_clean_pipeline_notebook_is_not_throwaway_and_vacuous_checks_are_skipped(
    tmp_path: Path,
) -> None:
    root = snapshot(tmp_path)
    code = "from sklearn.pipeline import Pipeline\nmodel = Pipeline([('m', clf)])\nmodel.fit(X, y)"
    make_notebook(root, [("code", code)])
    result = grade(make_context(root))
    ids = {c.id for c in result.checks}
    assert not ids & {"code_quality.docstrings", "code_quality.type_hints", "code_quality.logging"}
    flags = {f.id: f.severity for f in result.red_flags}
    assert flags == {"code_quality.notebook_only": "low"}  # structured by a pipeline
    # not throwaway (a works-ish script at least), but a pipeline alone is not the "functions in
    # a module, or documented notebook functions" of level 2
    assert 0.2 <= result.score < 0.4


def test_broken_own_imports_import_time_work_and_cwd_paths(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    body = "    frame = pd.read_csv(path)\n    frame = frame.dropna()\n    return frame\n"
    write_files(root, {
        "src/__init__.py": "",
        "src/prep.py": f"import pandas as pd\n\n\ndef prep(path):\n{body}\n\n"
                       "df = prep('../data/train.csv')\ndf.to_csv('../data/clean.csv')\n",
        "src/train.py": "from src.prep import prep, missing_name\nfrom .absent import x\n"
                        "df = prep('data/clean.csv')\n",
    })  # fmt: skip
    checks = by_id(grade(make_context(root)).checks)
    notes = [e.note for e in checks["code_quality.broken_references"].evidence]
    assert notes == ["src.prep has no missing_name", "no module .absent in the submission"]
    assert [e.path for e in checks["code_quality.import_time_work"].evidence] == ["src/prep.py"]
    assert {e.path for e in checks["code_quality.cwd_paths"].evidence} == {
        "src/prep.py", "src/train.py"}


def test_clones_with_renamed_names_and_constants_are_duplication(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    block = ("counts_{v} = df['{v}'].value_counts()\nrare_{v} = counts_{v}[counts_{v} < {n}].index\n"
             "df['{v}'] = df['{v}'].replace(rare_{v}, 'other')\nprint(df['{v}'].nunique())\n"
             "df['{v}_code'] = df['{v}'].astype('category').cat.codes\n"
             "assert df['{v}_code'].min() >= {n} - {n}\n")
    cells = [("code", block.format(v=name, n=limit))
             for name, limit in (("city", 10), ("brand", 25), ("colour", 5), ("model", 40))]
    make_notebook(root, cells)
    check = by_id(grade(make_context(root)).checks)["code_quality.duplication"]
    assert not check.passed
    other = tmp_path / "two"
    other.mkdir()
    make_notebook(other, cells[:2])  # one parallel copy is not yet a pattern
    assert "code_quality.duplication" not in by_id(grade(make_context(other)).checks)


def test_configuration_needs_settings_and_ci_needs_tests_or_lint(tmp_path: Path) -> None:
    from graders.code_quality_signals import ci_workflows, json_settings, lint_tooling

    root = snapshot(tmp_path)
    write_files(root, {
        "features.json": json.dumps({"features": [f"f{i}" for i in range(30)]}),
        "params.json": json.dumps({"depth": 4, "rate": 0.1}),
        ".github/workflows/fmt.yml": "steps:\n  - run: pip install ruff\n  - run: ruff check --select I .\n",
        ".github/workflows/test.yml": "steps:\n  - run: python -m pytest -q\n",
        "service/pyproject.toml": "[tool.ruff]\nline-length = 100\n",
        "Makefile": "lint:\n\tflake8 src\n",
    })  # fmt: skip
    assert not json_settings(root, "features.json") and json_settings(root, "params.json")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert [s.path for s in ci_workflows(root, files)] == [".github/workflows/test.yml"]
    assert {s.path for s in lint_tooling(root, files)} == {"Makefile", "service/pyproject.toml"}


# --------------------------------------------------------------------------- defects (v4)

TWO_FUNCTIONS = (
    "def load(path):\n    rows = open(path).read()\n    rows = rows.split()\n    return rows\n\n\n"
    "def count(rows):\n    total = len(rows)\n    total += 0\n    return total\n"
)


def test_broken_shell_scripts_are_defects(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {
        "src/main.py": TWO_FUNCTIONS,
        "run.sh": "#!/bin/bash\n# start\n!/bin/bash\ncd src\npython main.py --all\n"
                  "python3 train.py\n&& sleep 10\ncd project\n",
        "ok.sh": "#!/bin/sh\ncd src && python main.py\npython src/main.py \\\n  --x 1\n",
    })  # fmt: skip
    check = by_id(grade(make_context(root)).checks)["code_quality.defects"]
    assert not check.passed
    assert [(e.path, e.line) for e in check.evidence] == [
        ("run.sh", 3), ("run.sh", 6), ("run.sh", 7), ("run.sh", 8)]  # ok.sh is fine
    notes = [e.note for e in check.evidence]
    assert notes[1] == "runs train.py, which is not in the submission"  # resolved after `cd src`
    assert notes[3] == "cd project: the submission has no such folder"


def test_options_parsed_and_never_read_and_undefined_self_members(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {
        "src/cli.py": "import argparse\n\nparser = argparse.ArgumentParser()\n"
                      "parser.add_argument('--model', default='all')\n"
                      "parser.add_argument('--seed', type=int)\nargs = parser.parse_args()\n"
                      "print(args.seed)\n",
        "src/predict.py": "class Predict:\n    def __init__(self):\n        self.model = None\n\n"
                          "    def run(self, x):\n        x = self.scale(x)\n"
                          "        return self.model.predict(self.pca(x))\n\n"
                          "    def scale(self, x):\n        return x\n",
        "src/other.py": "from base import Base\n\n\nclass Child(Base):\n"
                        "    def run(self):\n        return self.inherited()\n",
    })  # fmt: skip
    result = grade(make_context(root))
    checks = by_id(result.checks)
    [option] = checks["code_quality.defects"].evidence
    assert (option.path, option.line, option.note) == (
        "src/cli.py", 4, "option 'model' is parsed but never read")
    refs = [(e.path, e.line, e.note) for e in checks["code_quality.broken_references"].evidence]
    assert ("src/predict.py", 7, "Predict has no attribute 'pca'") in refs
    assert not any(path == "src/other.py" for path, _, _ in refs)  # Base may define it
    flags = {f.id: f for f in result.red_flags}
    assert "code_quality.defective" in flags  # broken names + ignored options: two kinds


def test_vars_of_the_namespace_reads_every_option(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {
        "cli.py": "import argparse\n\np = argparse.ArgumentParser()\np.add_argument('--lr')\n"
                  "settings = vars(p.parse_args())\n",
        "lib.py": TWO_FUNCTIONS,
    })  # fmt: skip
    checks = by_id(grade(make_context(root)).checks)
    assert "code_quality.defects" not in checks  # hygiene is listed only when it fails


def test_one_defect_kind_is_a_smell_two_make_the_code_defective(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {
        "app.py": "import os\nfrom flask import Flask\n\napp = Flask(__name__)\n"
                  "ALLOWED = eval(os.getenv('ALLOWED'))\n\n\nif __name__ == '__main__':\n"
                  "    app.run(debug=True)\n",
        "lib.py": TWO_FUNCTIONS,
    })  # fmt: skip
    result = grade(make_context(root))
    notes = [e.note for e in by_id(result.checks)["code_quality.defects"].evidence]
    assert notes == ["server started in debug mode",
                     "eval() of a computed value runs it as code"]  # fmt: skip
    flag = {f.id: f for f in result.red_flags}["code_quality.defective"]
    assert "debug leftovers, dynamic eval" in flag.sentence
    other = tmp_path / "other"
    write_files(other, {
        "app.py": "from flask import Flask\n\napp = Flask(__name__)\nALLOWED = eval('[1, 2]')\n",
        "serve.py": "from app import app\n\napp.run(debug=True)\n",
        "lib.py": TWO_FUNCTIONS,
    })  # fmt: skip
    one = grade(make_context(other))
    assert not by_id(one.checks)["code_quality.defects"].passed  # debug server alone: a smell
    assert "code_quality.defective" not in {f.id for f in one.red_flags}


def test_undocumented_modules_are_held_at_level_two(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {"pkg/lib.py": TWO_FUNCTIONS})
    flags = {f.id for f in grade(make_context(root)).red_flags}
    assert "code_quality.undocumented" in flags
    typed = TWO_FUNCTIONS.replace("load(path)", "load(path: str)").replace(
        "count(rows)", "count(rows: list)")
    other = tmp_path / "typed"
    write_files(other, {"pkg/lib.py": typed})
    assert "code_quality.undocumented" not in {f.id for f in grade(make_context(other)).red_flags}


def test_rubric_caps_defective_code_at_one_and_undocumented_at_two() -> None:
    from harness.rubric import load_rubric

    [criterion] = [c for c in load_rubric("ml-take-home").criteria if c.id == "code_quality"]
    caps = {cap.when: cap.max_level for cap in criterion.caps}
    assert caps["code_quality.defective"] == 1
    assert caps["code_quality.undocumented"] == 2


def test_what_a_script_creates_heredocs_templates_and_version_options_are_not_defects(
    tmp_path: Path,
) -> None:
    root = snapshot(tmp_path)
    write_files(root, {
        "lib.py": TWO_FUNCTIONS,
        "setup.sh": "#!/bin/bash\ngit clone https://example.invalid/tool.git\ncd tool\n"
                    "jupyter nbconvert --to script report.ipynb\npython report.py\n"
                    "cat <<EOF > notes.txt\n&& not a command here\nEOF\nmkdir -p out\ncd out\n",
        "cli.py": "import argparse\n\np = argparse.ArgumentParser()\n"
                  "p.add_argument('--version', action='version', version='1')\n"
                  "args = p.parse_args()\n",
        "models.py": "class Base:\n    def predict(self, x):\n        return self.model.predict(x)\n\n\n"
                     "class Tree(Base):\n    def __init__(self):\n        self.model = None\n",
    })  # fmt: skip
    checks = by_id(grade(make_context(root)).checks)
    assert "code_quality.defects" not in checks
    refs = checks.get("code_quality.broken_references")
    assert refs is None or not any(e.path == "models.py" for e in refs.evidence)


def test_production_tooling_with_two_failed_checks_is_unpolished(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    write_files(root, {**TIDY_TOOLING, "fraud/hack.py": "import sys\n\nsys.path.insert(0, '..')\n"})
    one = grade(make_context(root))
    assert [c.id for c in one.checks if not c.passed] == ["code_quality.path_hacks"]
    assert "code_quality.unpolished" not in {f.id for f in one.red_flags}  # one blemish: fine
    other = tmp_path / "two"
    write_files(other, {**TIDY_TOOLING, "fraud/hack.py": "import sys\n\nsys.path.insert(0, '..')\n",
                        "serve.py": "from flask import Flask\n\nFlask(__name__).run(debug=True)\n"})
    flags = {f.id: f for f in grade(make_context(other)).red_flags}
    assert "(path hacks, defects)" in flags["code_quality.unpolished"].sentence


def test_pylint_call_arity_alone_does_not_make_code_defective(tmp_path: Path) -> None:
    files = {"lib.py": TWO_FUNCTIONS,
             "serve.py": "from flask import Flask\n\nFlask(__name__).run(debug=True)\n"}  # fmt: skip
    found = {}
    for symbol in ("no-value-for-parameter", "undefined-variable"):
        (tmp_path / symbol).mkdir()
        root = snapshot(tmp_path / symbol)
        write_files(root, files)
        report = {"messages": [message(symbol, "lib.py", 2)],
                  "statistics": {"score": 9.0, "messageTypeCount": {"error": 1}}}  # fmt: skip
        artifacts = pylint_artifacts(tmp_path / symbol, report)
        result = grade(make_context(root, artifacts=artifacts))
        assert not by_id(result.checks)["code_quality.broken_references"].passed
        found[symbol] = "code_quality.defective" in {f.id for f in result.red_flags}
    assert found == {"no-value-for-parameter": False, "undefined-variable": True}
