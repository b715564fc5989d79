"""graders.source and graders.artifacts: static reading of hostile submissions."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import nbformat
import pytest
from fixtures_graders import image_output, make_notebook, png_bytes, text_output, write_files

from graders.artifacts import (
    read_csv_capped,
    read_json_capped,
    read_notebook_capped,
    read_text_capped,
    sniff_image,
    sniff_image_file,
)
from graders.source import (
    MAX_SALVAGE_CHARS,
    blank_ipython_syntax,
    evidence_for,
    find_calls,
    find_imports,
    find_keywords,
    find_names,
    load_source,
    salvage_tree,
)


def test_magics_and_shell_lines_are_blanked_keeping_line_numbers(tmp_path: Path) -> None:
    code = (
        "!pip install lightgbm\n"
        "import pandas as pd\n"
        "%matplotlib inline\n"
        "files = !ls data\n"
        "for f in files:\n"
        "    !echo $f\n"
        "df = pd.read_csv('train.csv')\n"
        "df.describe?\n"
        "df.describe()"
    )
    make_notebook(tmp_path, [("code", code)])
    source = load_source(tmp_path)
    (unit,) = source.code_units
    assert unit.parse_error is None and unit.tree is not None
    assert unit.code == code  # the source as written is kept for excerpts
    sites = find_calls(source, ["pd.read_csv", "describe"])
    assert [(s.cell, s.line, s.name) for s in sites] == [
        (0, 7, "pd.read_csv"),
        (0, 9, "df.describe"),
    ]


def test_foreign_cell_magic_blanks_the_whole_cell() -> None:
    assert blank_ipython_syntax("%%bash\nls -la\nrm x") == "\n\n"
    assert blank_ipython_syntax("%%time\nx = 1") == "pass\nx = 1"


def test_unparsable_cell_gets_parse_error_and_never_raises(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", "def broken(:\n    pass"), ("code", "x.fit()")])
    write_files(
        tmp_path,
        {
            "bad.py": "class (",
            "deep.py": "(" * 5000 + ")" * 5000,
            "chain.py": "x = df" + ".a" * 2000 + "()",  # parses, but too deep to walk safely
        },
    )
    source = load_source(tmp_path)
    by_place = {(u.path, u.cell): u for u in source.code_units}
    assert by_place[("analysis.ipynb", 0)].tree is None
    assert by_place[("analysis.ipynb", 0)].parse_error.startswith("SyntaxError")
    assert by_place[("bad.py", None)].tree is None
    assert by_place[("deep.py", None)].tree is None
    assert by_place[("chain.py", None)].parse_error.startswith("TooDeep")
    assert by_place[("analysis.ipynb", 1)].tree is not None
    assert [s.cell for s in find_calls(source, ["fit"])] == [1]


def test_python_312_f_strings_reusing_their_quote_are_read_by_every_grader(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "plots.py": "import pandas as pd\nname = 'a b'\n"
                    "path = f'{name.replace(' ', \"_\")}.png'\nmodel.fit(X, y)\n",
        "broken.py": "path = f'{name.replace(' ', '_')}.png'\ndef (:\n",
    })
    source = load_source(tmp_path)
    by_path = {u.path: u for u in source.code_units}
    assert by_path["plots.py"].tree is not None and by_path["plots.py"].parse_error is None
    assert [s.line for s in find_calls(source, ["fit"])] == [4]  # line numbers unchanged
    assert by_path["broken.py"].tree is None  # not a 3.12 file: still a parse error
    assert by_path["broken.py"].parse_error.startswith("SyntaxError")


def test_markdown_units_come_from_cells_and_text_files(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("markdown", "# Intro"), ("code", "x = 1")])
    write_files(tmp_path, {"README.md": "hello", "notes.rst": "n", "data.csv": "a,b"})
    source = load_source(tmp_path)
    assert [(m.path, m.cell, m.text) for m in source.markdown_units] == [
        ("README.md", None, "hello"),
        ("analysis.ipynb", 0, "# Intro"),
        ("notes.rst", None, "n"),
    ]
    assert source.notebook_cells == {"analysis.ipynb": [("markdown", "# Intro"), ("code", "x = 1")]}


def test_outputs_come_from_the_executed_notebook_when_given(tmp_path: Path) -> None:
    snapshot = tmp_path / "snap"
    snapshot.mkdir()
    cells = [("code", "plot()"), ("code", "print(1)")]
    make_notebook(snapshot, cells, outputs={0: [image_output()], 1: [text_output("stale")]})
    executed = make_notebook(tmp_path / "artifacts", cells, outputs={1: [text_output("fresh")]})
    submitted = load_source(snapshot)
    assert [(o.cell, o.text, o.reproduced) for o in submitted.output_units] == [
        (0, "<Figure size 640x480>", False),
        (1, "stale", False),
    ]
    assert submitted.output_units[0].image_bytes_len == len(png_bytes())
    rerun = load_source(snapshot, {"analysis.ipynb": executed})
    # cell 0 has no output in our run: the submitted one is kept, marked not reproduced
    assert [(o.cell, o.text, o.reproduced) for o in rerun.output_units] == [
        (0, "<Figure size 640x480>", False),
        (1, "fresh", True),
    ]


def test_fake_image_output_has_no_image_bytes(tmp_path: Path) -> None:
    make_notebook(tmp_path, [("code", "x")], outputs={0: [image_output(b"not an image" * 10)]})
    (output,) = load_source(tmp_path).output_units
    assert output.mime_types == ("image/png", "text/plain")
    assert output.image_bytes_len == 0


def test_oversized_hidden_and_linked_files_are_skipped(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "big.py": "x = 1\n" * 1000,
            ".hidden/a.py": "import os",
            "venv/lib.py": "import os",
            "__pycache__/c.py": "import os",
            "ok.py": "import json",
        },
    )
    (tmp_path / "outside.py").write_text("import sys")
    os.symlink(tmp_path / "outside.py", tmp_path / "link.py")
    source = load_source(tmp_path, max_file_bytes=1000)
    assert [u.path for u in source.code_units] == ["ok.py", "outside.py"]


def test_lenient_notebook_reading_and_garbage(tmp_path: Path) -> None:
    lenient = {"cells": [{"cell_type": "code", "source": ["import os\n", "os.getcwd()"]}, 7]}
    write_files(
        tmp_path,
        {
            "lenient.ipynb": json.dumps(lenient),
            "garbage.ipynb": "{not json",
            "list.ipynb": "[1, 2]",
        },
    )
    source = load_source(tmp_path)
    assert [(u.path, u.cell) for u in source.code_units] == [("lenient.ipynb", 0)]
    assert [s.line for s in find_calls(source, ["os.getcwd"])] == [2]


def test_find_calls_resolves_import_aliases(tmp_path: Path) -> None:
    write_files(
        tmp_path,
        {
            "a.py": "from sklearn.model_selection import train_test_split as tts\n"
            "import pandas as pandas_lib\n"
            "X = tts(df)\n"
            "df = pandas_lib.read_csv('x')\n",
        },
    )
    source = load_source(tmp_path)
    sites = find_calls(source, ["train_test_split", "pandas.read_csv"])
    assert [(s.path, s.line, s.name) for s in sites] == [
        ("a.py", 3, "tts"),
        ("a.py", 4, "pandas_lib.read_csv"),
    ]


def test_find_names_imports_and_evidence(tmp_path: Path) -> None:
    make_notebook(
        tmp_path,
        [
            ("code", "import numpy as np\nfrom sklearn.svm import SVC"),
            ("code", "m = SVC(class_weight='balanced')\nw = m.class_weight\nsplit(stratify=None)"),
        ],
    )
    source = load_source(tmp_path)
    names = find_names(source, ["class_weight", "stratify"])
    assert [(s.cell, s.line, s.name) for s in names] == [
        (1, 1, "class_weight"),
        (1, 2, "m.class_weight"),
        (1, 3, "stratify"),
    ]
    assert [(module, site.cell, site.line) for module, site in find_imports(source)] == [
        ("numpy", 0, 1),
        ("sklearn.svm.SVC", 0, 2),
    ]
    evidence = evidence_for(names[0], reproduced=False)
    assert (evidence.path, evidence.cell, evidence.line, evidence.reproduced) == (
        "analysis.ipynb",
        1,
        1,
        False,
    )
    assert evidence.excerpt == "m = SVC(class_weight='balanced')"


def test_load_source_is_cached_per_root(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.py": "x = 1"})
    assert load_source(tmp_path) is load_source(tmp_path)


# --------------------------------------------------------------------------- artifacts


def test_capped_readers_refuse_big_special_and_malformed_files(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.txt": "héllo", "a.json": '{"a": 1}', "bad.json": "{"})
    assert read_text_capped(tmp_path / "a.txt", 100) == "héllo"
    assert read_text_capped(tmp_path / "a.txt", 3) is None
    assert read_text_capped(tmp_path / "missing.txt", 100) is None
    assert read_text_capped(tmp_path, 100) is None  # a directory
    os.symlink(tmp_path / "a.txt", tmp_path / "link.txt")
    assert read_text_capped(tmp_path / "link.txt", 100) is None
    os.mkfifo(tmp_path / "fifo")
    assert read_text_capped(tmp_path / "fifo", 100) is None
    assert read_json_capped(tmp_path / "a.json") == {"a": 1}
    assert read_json_capped(tmp_path / "bad.json") is None
    write_files(tmp_path, {"deep.json": "[" * 100_000 + "]" * 100_000})
    assert read_json_capped(tmp_path / "deep.json") is None


def test_read_notebook_capped_validates(tmp_path: Path) -> None:
    good = make_notebook(tmp_path, [("code", "x = 1")])
    assert read_notebook_capped(good).cells[0].source == "x = 1"
    broken = json.loads(good.read_text())
    del broken["cells"][0]["outputs"]
    write_files(tmp_path, {"broken.ipynb": json.dumps(broken)})
    assert read_notebook_capped(tmp_path / "broken.ipynb") is None
    assert read_notebook_capped(good, max_bytes=10) is None


def test_sniff_image_file_reads_only_real_images(tmp_path: Path) -> None:
    write_files(tmp_path, {"a.png": png_bytes(), "b.png": b"text" * 20, "big.png": png_bytes()})
    assert sniff_image_file(tmp_path / "a.png") == "png"
    assert sniff_image_file(tmp_path / "b.png") is None
    assert sniff_image_file(tmp_path / "big.png", max_bytes=10) is None
    os.symlink(tmp_path / "a.png", tmp_path / "link.png")
    assert sniff_image_file(tmp_path / "link.png") is None


def test_sniff_image() -> None:
    assert sniff_image(png_bytes()) == "png"
    assert sniff_image(b"\xff\xd8\xff\xe0" + b"\x00" * 40) == "jpeg"
    assert sniff_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30) is None  # no IHDR
    assert sniff_image(png_bytes(width=0)) is None
    assert sniff_image(b"GIF89a" + b"\x00" * 40) is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("id,label\n1,0\n2,1\n", [["1", "0"], ["2", "1"]]),
        ("id,label\n1,0,9\n", None),  # ragged row
        ("id,label\n" + "1,0\n" * 20, None),  # more rows than allowed
    ],
)
def test_read_csv_capped(tmp_path: Path, content: str, expected: list[list[str]] | None) -> None:
    write_files(tmp_path, {"p.csv": content})
    frame = read_csv_capped(tmp_path / "p.csv", max_bytes=10_000, max_rows=10)
    if expected is None:
        assert frame is None
    else:
        assert frame.values.tolist() == expected


def test_nbformat_is_what_the_fixtures_write(tmp_path: Path) -> None:
    path = make_notebook(tmp_path, [("markdown", "m")])
    assert nbformat.read(str(path), as_version=4).nbformat == 4


def test_find_keywords_skips_none_and_false_but_not_zero(tmp_path: Path) -> None:
    code = "a(random_state=0)\nb(random_state=None)\nc(stratify=y)\nd(stratify=False)"
    write_files(tmp_path, {"k.py": code})
    sites = find_keywords(load_source(tmp_path), ["random_state", "stratify"])
    assert [(s.line, s.name) for s in sites] == [(1, "random_state"), (3, "stratify")]


def test_notebook_cells_and_outputs_are_capped(tmp_path: Path) -> None:
    cells = [("code", f"x{i} = {i}") for i in range(5005)]
    make_notebook(tmp_path, cells, outputs={0: [text_output("o")] * 150})
    source = load_source(tmp_path)
    assert len(source.code_units) == 5000
    assert len(source.output_units) == 100


def test_parses_are_serialised_across_threads(monkeypatch):
    """CPython 3.11's AST constructor is not safe in threads (python/cpython#106905)."""
    import ast
    import threading

    from graders import source as source_module

    inside, overlaps = [0], []
    real_parse = ast.parse

    def watched(*args, **kwargs):
        inside[0] += 1
        overlaps.append(inside[0])
        try:
            threading.Event().wait(0.002)  # invite another thread in
            return real_parse(*args, **kwargs)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(source_module.ast, "parse", watched)
    threads = [
        threading.Thread(target=lambda: [source_module.parse_python("x = 1") for _ in range(20)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    assert len(overlaps) == 80 and max(overlaps) == 1


def test_salvage_tree_blanks_a_few_bad_lines_then_keeps_parsable_blocks() -> None:
    few_bad = "import pandas as pd\npip install xgboost\ndf = pd.read_csv('x.csv')\n"
    tree = salvage_tree(few_bad)
    assert tree is not None
    assigned = [n for n in tree.body if isinstance(n, ast.Assign)]
    assert assigned and assigned[0].lineno == 3  # line numbers are kept

    # more broken lines than are blanked: the blocks that parse alone are still read
    broken = "\n".join(f"!cmd {i} --x\n" for i in range(12))
    many_bad = broken + "\nmodel = fit(df)\n"
    tree = salvage_tree(many_bad)
    assert tree is not None
    assert [type(n).__name__ for n in tree.body] == ["Assign"]
    assert tree.body[0].lineno == many_bad.split("\n").index("model = fit(df)") + 1

    assert salvage_tree("x = (\n" * 10) is None  # nothing parses: no tree
    assert salvage_tree("#" * (MAX_SALVAGE_CHARS + 1)) is None  # bounded cost
