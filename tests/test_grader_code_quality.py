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
        "code_quality.reusable_code",
    ]
    assert result.score == 1.0
    assert result.red_flags == []
    pylint = by_id(result.checks)["code_quality.pylint_score"]
    assert pylint.sentence == (
        "pylint scores the code 8.50/10 (at least 7 expected); most frequent: invalid-name ×3, "
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
    assert [c.id for c in result.checks if not c.passed] == ["code_quality.pylint_score"]
    assert result.score == round(4 / 6, 6)  # pylint (2) fails; reusable (2) passes


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
    assert [c.id for c in result.checks if not c.passed] == ["code_quality.reusable_code"]
    [flag] = result.red_flags
    assert (flag.id, flag.severity) == ("code_quality.notebook_only", "medium")
    assert cell_locations(flag) == [("analysis.ipynb", None, None)]


def test_notebook_functions_lower_the_severity(tmp_path: Path) -> None:
    root = snapshot(tmp_path)
    make_notebook(root, [("code", "def clean(df):\n    return df.dropna()")])
    result = grade(make_context(root))
    [flag] = result.red_flags
    assert (flag.id, flag.severity) == ("code_quality.notebook_only", "low")


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
