"""Static view of a submission's source: code, markdown and notebook outputs, never executed.

:func:`load_source` walks the snapshot once (cached) and returns a :class:`SubmissionSource`:

* :class:`CodeUnit` per ``.py`` file and per notebook code cell, with its parsed ``ast`` tree
  (IPython magics and shell lines are blanked first so line numbers are preserved; code that
  still does not parse keeps ``tree=None`` and a ``parse_error``; nothing ever raises);
* :class:`MarkdownUnit` per notebook markdown cell and per ``.md``/``.rst``/``.txt`` file;
* :class:`OutputUnit` per output of a notebook code cell, taken from the notebook the sandbox
  executed when there is one (``reproduced=True``), else from the notebook as submitted.

Query helpers (:func:`find_calls`, :func:`find_imports`, :func:`find_names`) return
:class:`CallSite` locations sorted by ``(path, cell, line)``; :func:`evidence_for` turns one into
:class:`graders.base.Evidence`. Everything read is size-capped; nothing is executed or unpickled.
"""

from __future__ import annotations

import ast
import base64
import binascii
import functools
import os
import re
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from graders.artifacts import read_json_capped, read_notebook_capped, read_text_capped, sniff_image
from graders.base import Check, Evidence, GraderContext, clip

DEFAULT_MAX_FILE_BYTES = 2_000_000
MAX_NOTEBOOK_BYTES = 50_000_000  # notebooks carry base64 images; their code is capped per cell
MAX_FILES = 5_000
MAX_TOTAL_BYTES = 200_000_000
MAX_CELL_CHARS = 200_000
MAX_NOTEBOOK_CELLS = 5_000  # cells past this are ignored
MAX_CELL_OUTPUTS = 100  # outputs of one cell past this are ignored
OUTPUT_TEXT_CHARS = 4_000
MAX_TREE_DEPTH = 400  # deeper trees are refused: graders walk them recursively
MAX_SALVAGE_CHARS = 300_000  # larger files that do not parse are not salvaged (bounded cost)
MAX_SALVAGE_BLANKS = 8  # offending lines blanked before falling back to block-wise parsing
MAX_BLOCK_PARSES = 200  # block parses on one file that does not parse as a whole

SOURCE_SUFFIXES = frozenset({".py", ".ipynb", ".md", ".rst", ".txt"})
TEXT_SUFFIXES = frozenset({".md", ".rst", ".txt"})
SKIPPED_DIRS = frozenset(
    {"__pycache__", "node_modules", "site-packages", "venv", "__MACOSX", "build", "dist"}
)
IMAGE_MIME_TYPES = ("image/png", "image/jpeg")

# Cell magics whose body is not Python: the whole cell is blanked.
_FOREIGN_CELL_MAGICS = frozenset(
    {
        "bash", "sh", "script", "writefile", "file", "html", "HTML", "javascript", "js",
        "latex", "markdown", "svg", "perl", "ruby", "python2", "sql", "cmd", "powershell",
    }
)  # fmt: skip
_SHELL_ASSIGN = re.compile(r"^\s*[\w.,\s\[\]()*]+=\s*[!%]")
_HELP_LINE = re.compile(r"^\s*(\?\??[\w.]+|[\w.()\[\]]+\?\??)\s*$")


@dataclass(frozen=True)
class CodeUnit:
    """One ``.py`` file or one notebook code cell."""

    path: str  # relative to the snapshot root, posix separators
    cell: int | None  # notebook cell index (0-based, counting all cells); None for .py files
    code: str  # the source as written (magics included)
    tree: ast.Module | None
    parse_error: str | None
    origin: Literal["py", "notebook"]

    @functools.cached_property
    def nodes(self) -> tuple[ast.AST, ...]:
        """Every node of ``tree`` in ``ast.walk`` order, walked once (graders walk it often)."""
        return tuple(ast.walk(self.tree)) if self.tree is not None else ()


@dataclass(frozen=True)
class MarkdownUnit:
    """One notebook markdown cell, or one whole ``.md``/``.rst``/``.txt`` file (cell None)."""

    path: str
    cell: int | None
    text: str


@dataclass(frozen=True)
class OutputUnit:
    """One output of a notebook code cell."""

    path: str
    cell: int
    output_type: str  # stream, execute_result, display_data, error
    mime_types: tuple[str, ...]  # sorted; ("text/plain",) for streams, () for errors
    text: str  # text/plain (or stream text, or "ename: evalue"), capped
    image_bytes_len: int  # decoded size of a valid PNG/JPEG in the output, else 0
    reproduced: bool  # True: from the notebook the sandbox executed


@dataclass(frozen=True, eq=False)
class SubmissionSource:
    """Everything :func:`load_source` found. Shared through a cache: treat it as read-only.

    Compared and hashed by identity (the cache hands out one object per snapshot).
    """

    root: Path
    code_units: tuple[CodeUnit, ...]
    markdown_units: tuple[MarkdownUnit, ...]
    output_units: tuple[OutputUnit, ...]
    notebook_cells: dict[str, list[tuple[str, str]]]  # path -> [(cell_type, source)] in order


@dataclass(frozen=True)
class CallSite:
    """A location in the code: a call, an import, a name or a keyword argument."""

    path: str
    cell: int | None
    line: int  # 1-based, within the cell for notebooks
    name: str  # dotted name as written, e.g. "df.isnull().sum", "pd.read_csv", "stratify"
    excerpt: str


# --------------------------------------------------------------------------- loading


def load_source(
    snapshot_root: Path,
    executed_notebooks: Mapping[str, Path] | None = None,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> SubmissionSource:
    """Read the snapshot's ``.py``, ``.ipynb``, ``.md``, ``.rst`` and ``.txt`` files (cached).

    ``executed_notebooks`` maps a notebook's snapshot-relative path to the executed copy the
    sandbox produced; outputs are read from it when it is readable. Files over
    ``max_file_bytes`` (notebooks: over ``max(max_file_bytes, 50 MB)``, since they embed
    images), symlinks, hidden folders and virtualenvs are skipped.
    """
    executed = tuple(sorted((str(k), str(v)) for k, v in (executed_notebooks or {}).items()))
    return _load_source_cached(str(Path(snapshot_root).resolve()), executed, max_file_bytes)


def source_for(context: GraderContext) -> SubmissionSource:
    """The :class:`SubmissionSource` of a grader context (executed notebooks when available)."""
    executed = context.artifacts.executed_notebooks if context.artifacts is not None else None
    return load_source(context.snapshot_root, executed)


@functools.lru_cache(maxsize=32)
def _load_source_cached(
    root: str, executed: tuple[tuple[str, str], ...], max_file_bytes: int
) -> SubmissionSource:
    root_path = Path(root)
    executed_map = dict(executed)
    code_units: list[CodeUnit] = []
    markdown_units: list[MarkdownUnit] = []
    output_units: list[OutputUnit] = []
    notebook_cells: dict[str, list[tuple[str, str]]] = {}
    files = sorted(_iter_source_files(root_path, max_file_bytes))
    for rel, full in files:
        suffix = full.suffix.lower()
        if suffix == ".py":
            text = read_text_capped(full, max_file_bytes)
            if text is not None:
                code_units.append(_python_unit(rel, None, text, "py"))
        elif suffix in TEXT_SUFFIXES:
            text = read_text_capped(full, max_file_bytes)
            if text is not None:
                markdown_units.append(MarkdownUnit(rel, None, text))
        elif suffix == ".ipynb":
            cells = _read_cells(full, max(max_file_bytes, MAX_NOTEBOOK_BYTES))
            if cells is None:
                continue
            notebook_cells[rel] = [(kind, src) for kind, src, _ in cells]
            executed_cells = None
            if rel in executed_map:
                executed_cells = _read_cells(
                    Path(executed_map[rel]), max(max_file_bytes, MAX_NOTEBOOK_BYTES)
                )
            for index, (kind, src, outputs) in enumerate(cells):
                if kind == "markdown":
                    markdown_units.append(MarkdownUnit(rel, index, src))
                elif kind == "code":
                    code_units.append(_python_unit(rel, index, src, "notebook"))
                    output_units.extend(_cell_outputs(rel, index, outputs, executed_cells))
    return SubmissionSource(
        root=root_path,
        code_units=tuple(code_units),
        markdown_units=tuple(markdown_units),
        output_units=tuple(output_units),
        notebook_cells=notebook_cells,
    )


def _iter_source_files(root: Path, max_file_bytes: int) -> Iterator[tuple[str, Path]]:
    """Yield ``(posix relative path, path)`` of candidate source files, sorted, capped."""
    count = 0
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        current = Path(dirpath)
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in SKIPPED_DIRS
            and not (current / d / "pyvenv.cfg").exists()
        )
        for name in sorted(filenames):
            full = current / name
            if name.startswith(".") or full.suffix.lower() not in SOURCE_SUFFIXES:
                continue
            notebook = name.lower().endswith(".ipynb")
            cap = max(max_file_bytes, MAX_NOTEBOOK_BYTES) if notebook else max_file_bytes
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or info.st_size > cap:
                continue
            count += 1
            total += info.st_size
            if count > MAX_FILES or total > MAX_TOTAL_BYTES:
                return
            yield full.relative_to(root).as_posix(), full


def _read_cells(path: Path, max_bytes: int) -> list[tuple[str, str, list[Any]]] | None:
    """Return ``[(cell_type, source, outputs)]`` of a notebook, validated or leniently read."""
    notebook = read_notebook_capped(path, max_bytes)
    raw_cells: Any
    if notebook is not None:
        raw_cells = notebook.cells
    else:
        document = read_json_capped(path, max_bytes)
        if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
            return None
        raw_cells = document["cells"]
    cells: list[tuple[str, str, list[Any]]] = []
    for raw in raw_cells[:MAX_NOTEBOOK_CELLS]:
        if not isinstance(raw, Mapping):
            continue
        kind = raw.get("cell_type")
        kind = kind if isinstance(kind, str) else "unknown"
        source = _joined(raw.get("source"))[:MAX_CELL_CHARS]
        outputs = raw.get("outputs") if kind == "code" else None
        kept = list(outputs[:MAX_CELL_OUTPUTS]) if isinstance(outputs, list) else []
        cells.append((kind, source, kept))
    return cells


def _joined(value: Any) -> str:
    """A notebook multiline string (str or list of str) as one string; anything else is ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(part for part in value if isinstance(part, str))
    return ""


# --------------------------------------------------------------------------- parsing


def _python_unit(
    path: str, cell: int | None, code: str, origin: Literal["py", "notebook"]
) -> CodeUnit:
    tree, error = _parse(code)
    if tree is None and origin == "notebook":
        cleaned = blank_ipython_syntax(code)
        if cleaned != code:
            tree, error = _parse(cleaned)
    return CodeUnit(path=path, cell=cell, code=code, tree=tree, parse_error=error, origin=origin)


_PARSE_LOCK = threading.Lock()


def parse_python(code: str) -> ast.Module:
    """``ast.parse`` for every grader, one call at a time in the process.

    CPython 3.11 keeps the AST constructor's recursion counter in state shared by threads, so
    parses running at once in a batch's worker threads can fail with "SystemError: AST
    constructor recursion depth mismatch" (python/cpython#106905); the lock rules that out.
    Raises what ``ast.parse`` raises.
    """
    with _PARSE_LOCK:
        return ast.parse(code)


def _parse(code: str) -> tuple[ast.Module | None, str | None]:
    try:
        tree = parse_python(code)
    except SyntaxError as exc:
        tree = _parse_as_312(code)
        if tree is None:
            return None, f"SyntaxError: {exc.msg} (line {exc.lineno})"
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return None, f"{type(exc).__name__}: {clip(str(exc), 200)}"
    if too_deep(tree, MAX_TREE_DEPTH):
        return None, f"TooDeep: the syntax tree is nested more than {MAX_TREE_DEPTH} levels"
    return tree, None


def _parse_as_312(code: str) -> ast.Module | None:
    """The tree of code that is valid Python 3.12 but not 3.11: f-strings reusing their own
    quote inside a replacement field (PEP 701), read with the other quote there, which means
    the same (:func:`graders.source_repair.requote_fstrings`). None when that is not why."""
    from graders.source_repair import requote_fstrings  # it builds on this module

    if len(code) > MAX_SALVAGE_CHARS:
        return None
    requoted = requote_fstrings(code)
    if requoted == code:
        return None
    try:
        return parse_python(requoted)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def salvage_tree(code: str) -> ast.Module | None:
    """A syntax tree for code that does not parse as a whole, or None; line numbers are kept.

    A script exported from a notebook, or a file with a pasted shell command, often has a line
    or two that are not Python while the rest says what the candidate did. First up to
    ``MAX_SALVAGE_BLANKS`` offending lines are replaced by ``pass``; when that is not enough, the
    top-level blocks that parse on their own are kept (:func:`_parsable_blocks`). Bounded: files
    over ``MAX_SALVAGE_CHARS`` are not tried and trees deeper than ``MAX_TREE_DEPTH`` refused.
    """
    if len(code) > MAX_SALVAGE_CHARS:
        return None
    lines = code.split("\n")
    for _ in range(MAX_SALVAGE_BLANKS):
        try:
            tree = parse_python("\n".join(lines))
        except SyntaxError as exc:
            number = (exc.lineno or 0) - 1
            if not 0 <= number < len(lines) or lines[number].strip() in ("", "pass"):
                break
            indent = lines[number][: len(lines[number]) - len(lines[number].lstrip())]
            lines[number] = indent + "pass"
            continue
        except (ValueError, RecursionError, MemoryError, OverflowError):
            return None
        return None if too_deep(tree, MAX_TREE_DEPTH) else tree
    return _parsable_blocks(code.split("\n"))


def _parsable_blocks(lines: list[str]) -> ast.Module | None:
    """The top-level blocks of ``lines`` that parse on their own, as one module (or None).

    Blocks start at a line with no indentation after a blank line. Runs of blocks are parsed
    together and split in halves only where they fail, so a long file costs a few parses, not
    one per block (at most ``MAX_BLOCK_PARSES``).
    """
    starts = [0] + [i for i in range(1, len(lines))
                    if lines[i][:1] not in ("", " ", "\t", ")", "]", "}")
                    and not lines[i - 1].strip()]
    ends = starts[1:] + [len(lines)]
    parsed: list[tuple[int, ast.Module]] = []
    pending = [(0, len(starts))]  # ranges of block indexes still to parse
    for _ in range(MAX_BLOCK_PARSES):
        if not pending:
            break
        low, high = pending.pop()
        try:
            block = parse_python("\n".join(lines[starts[low]:ends[high - 1]]))
            usable = not too_deep(block, MAX_TREE_DEPTH)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
            usable = False
        if usable:
            ast.increment_lineno(block, starts[low])
            parsed.append((low, block))
        elif high - low > 1:
            middle = (low + high) // 2
            pending.extend([(middle, high), (low, middle)])
    body = [stmt for _low, block in sorted(parsed, key=lambda p: p[0]) for stmt in block.body]
    return ast.Module(body=body, type_ignores=[]) if body else None


def too_deep(tree: ast.AST, limit: int) -> bool:
    """True when ``tree`` nests deeper than ``limit`` (checked iteratively: recursive walkers
    in graders can then never hit Python's recursion limit on hostile code)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


def blank_ipython_syntax(code: str) -> str:
    """Replace IPython-only lines by ``pass`` (same indentation), keeping line numbers.

    Blanked: line magics (``%time``), shell escapes (``!pip``), ``x = !cmd`` / ``x = %magic``,
    help lines (``obj?``, ``??obj``) and their backslash continuations; a cell magic whose body
    is not Python (``%%bash``, ``%%writefile`` ...) blanks the whole cell, others (``%%time``)
    only their first line.
    """
    lines = code.split("\n")
    first = next((line.strip() for line in lines if line.strip()), "")
    if first.startswith("%%"):
        magic = first[2:].split(maxsplit=1)[0] if len(first) > 2 else ""
        if magic in _FOREIGN_CELL_MAGICS:
            return "\n".join("" for _ in lines)
    out: list[str] = []
    continuing = False
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        is_magic = (
            continuing
            or stripped.startswith(("%", "!"))
            or bool(_SHELL_ASSIGN.match(line))
            or bool(_HELP_LINE.match(line))
        )
        if is_magic:
            out.append(indent + "pass" if not continuing else "")
            continuing = stripped.endswith("\\")
        else:
            out.append(line)
    return "\n".join(out)


# --------------------------------------------------------------------------- outputs


def _cell_outputs(
    path: str,
    index: int,
    submitted: list[Any],
    executed_cells: list[tuple[str, str, list[Any]]] | None,
) -> list[OutputUnit]:
    """Outputs of one code cell: executed ones when available, else the submitted ones."""
    if executed_cells is not None and index < len(executed_cells):
        executed = executed_cells[index][2]
        if executed or not submitted:
            return [_output_unit(path, index, out, True) for out in executed if _ok(out)]
    return [_output_unit(path, index, out, False) for out in submitted if _ok(out)]


def _ok(output: Any) -> bool:
    return isinstance(output, Mapping) and isinstance(output.get("output_type"), str)


def _output_unit(path: str, cell: int, output: Mapping[str, Any], reproduced: bool) -> OutputUnit:
    output_type = str(output["output_type"])
    text = ""
    mime_types: tuple[str, ...] = ()
    image_len = 0
    if output_type == "stream":
        text = _joined(output.get("text"))
        mime_types = ("text/plain",)
    elif output_type == "error":
        text = f"{output.get('ename', '')}: {output.get('evalue', '')}"
    else:
        data = output.get("data")
        if isinstance(data, Mapping):
            mime_types = tuple(sorted(str(key) for key in data))
            text = _joined(data.get("text/plain"))
            for mime in IMAGE_MIME_TYPES:
                image_len = image_len or _image_len(data.get(mime))
    return OutputUnit(
        path=path,
        cell=cell,
        output_type=output_type,
        mime_types=mime_types,
        text=text[:OUTPUT_TEXT_CHARS],
        image_bytes_len=image_len,
        reproduced=reproduced,
    )


def _image_len(value: Any) -> int:
    encoded = _joined(value)
    if not encoded:
        return 0
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        return 0
    return len(data) if sniff_image(data) else 0


# --------------------------------------------------------------------------- queries


def dotted_name(node: ast.AST) -> str | None:
    """``df.isnull().sum`` for the callee of ``df.isnull().sum()``; None for other shapes."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base is not None else f"?.{node.attr}"
    if isinstance(node, ast.Call):
        base = dotted_name(node.func)
        return f"{base}()" if base is not None else None
    if isinstance(node, ast.Subscript):
        base = dotted_name(node.value)
        return f"{base}[]" if base is not None else None
    return None


def iter_trees(source: SubmissionSource) -> Iterator[tuple[CodeUnit, ast.Module]]:
    """Yield ``(unit, tree)`` for every code unit that parsed, in source order."""
    for unit in source.code_units:
        if unit.tree is not None:
            yield unit, unit.tree


def import_aliases(source: SubmissionSource) -> dict[str, dict[str, str]]:
    """Per path: local name -> fully qualified imported name (``S`` -> ``imblearn...SMOTE``)."""
    return _import_aliases_cached(source)


@functools.lru_cache(maxsize=32)
def _import_aliases_cached(source: SubmissionSource) -> dict[str, dict[str, str]]:
    aliases: dict[str, dict[str, str]] = {}
    for unit, _ in iter_trees(source):
        table = aliases.setdefault(unit.path, {})
        for node in unit.nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    table.setdefault(local, alias.name if alias.asname else local)
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                for alias in node.names:
                    if alias.name != "*":
                        table.setdefault(alias.asname or alias.name, f"{module}.{alias.name}")
    return aliases


def _canonical(name: str, table: Mapping[str, str]) -> str:
    head, _, rest = name.partition(".")
    full = table.get(head)
    if full is None or full == head:
        return name
    return f"{full}.{rest}" if rest else full


def _matches(name: str, canonical: str, wanted: Iterable[str]) -> bool:
    last = name.rsplit(".", 1)[-1]
    canonical_last = canonical.rsplit(".", 1)[-1]
    for target in wanted:
        if "." in target:
            if name == target or canonical == target or canonical.endswith("." + target):
                return True
        elif last == target or canonical_last == target:
            return True
    return False


def excerpt_of(unit: CodeUnit, line: int, lines: int = 1) -> str:
    """The stripped source line(s) at ``line`` (1-based) of ``unit``, clipped."""
    code_lines = unit.code.split("\n")
    chunk = code_lines[line - 1 : line - 1 + lines] if 0 < line <= len(code_lines) else []
    return clip("\n".join(part.strip() for part in chunk), 300)


def _site(unit: CodeUnit, node: ast.AST, name: str) -> CallSite:
    line = getattr(node, "lineno", 1) or 1
    return CallSite(unit.path, unit.cell, line, name, excerpt_of(unit, line))


def _sorted(sites: Iterable[CallSite]) -> list[CallSite]:
    unique = {
        (s.path, -1 if s.cell is None else s.cell, s.line, s.name, s.excerpt): s for s in sites
    }
    return [unique[key] for key in sorted(unique)]


def find_calls(source: SubmissionSource, names: Iterable[str]) -> list[CallSite]:
    """Calls whose callee matches one of ``names``, sorted by ``(path, cell, line)``.

    A dotted target (``pd.read_csv``) matches the dotted callee as written or as resolved
    through the file's imports (``pandas.read_csv``); a plain target (``describe``) matches the
    callee's last component (``df.describe()``, ``train.describe()``).
    """
    wanted = tuple(names)
    return _sorted(
        _site(unit, node, name)
        for unit, node, name, canonical in iter_calls(source)
        if _matches(name, canonical, wanted)
    )


def find_imports(source: SubmissionSource) -> list[tuple[str, CallSite]]:
    """Every imported module or name (fully qualified, e.g. ``sklearn.svm.SVC``) with location."""
    found: list[tuple[str, CallSite]] = []
    for unit, node in walk_all(source):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, _site(unit, node, alias.name)))
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                full = f"{module}.{alias.name}"
                found.append((full, _site(unit, node, full)))
    return sorted(found, key=lambda item: (*site_key(item[1]), item[0]))


def find_names(source: SubmissionSource, names: Iterable[str]) -> list[CallSite]:
    """``Name``/``Attribute`` uses and keyword arguments matching ``names``, sorted.

    ``stratify`` matches ``train_test_split(..., stratify=y)``; ``class_weight`` matches both the
    keyword and ``model.class_weight``. Dotted targets match dotted attributes as written or
    resolved through imports.
    """
    wanted = tuple(names)
    aliases = import_aliases(source)
    found: list[CallSite] = []
    for unit, node in walk_all(source):
        if isinstance(node, ast.keyword) and node.arg is not None:
            if _matches(node.arg, node.arg, wanted):
                found.append(_site(unit, node, node.arg))
        elif isinstance(node, (ast.Name, ast.Attribute)):
            name = dotted_name(node)
            table = aliases.get(unit.path, {})
            if name is not None and _matches(name, _canonical(name, table), wanted):
                found.append(_site(unit, node, name))
    return _sorted(found)


def evidence_for(site: CallSite, reproduced: bool = True, note: str | None = None) -> Evidence:
    """Evidence pointing at ``site`` (path, cell, line and the source line as excerpt)."""
    return Evidence(
        path=site.path,
        cell=site.cell,
        line=site.line,
        excerpt=site.excerpt,
        reproduced=reproduced,
        note=note,
    )


def output_evidence(output: OutputUnit, note: str | None = None) -> Evidence:
    """Evidence pointing at a notebook output (``reproduced`` says whether we re-ran it)."""
    excerpt = output.text.strip() or ", ".join(output.mime_types) or output.output_type
    return Evidence(
        path=output.path,
        cell=output.cell,
        excerpt=clip(excerpt, 300),
        reproduced=output.reproduced,
        note=note,
    )


def markdown_evidence(unit: MarkdownUnit, note: str | None = None) -> Evidence:
    """Evidence pointing at a markdown cell or text file, with its start as excerpt."""
    return Evidence(
        path=unit.path,
        cell=unit.cell,
        line=1,
        excerpt=clip(" ".join(unit.text.split()), 300),
        note=note,
    )


def site_key(site: CallSite) -> tuple[str, int, int]:
    """Sort key of a location: ``(path, cell or -1, line)``."""
    return (site.path, -1 if site.cell is None else site.cell, site.line)


def word_count(text: str) -> int:
    """Number of words in prose (markdown markup and code spans are not counted)."""
    text = re.sub(r"```.*?```", " ", text, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return len(re.findall(r"[A-Za-z][A-Za-z'\-]*", text))


# --------------------------------------------------------------------------- flow helpers


def iter_calls(source: SubmissionSource) -> Iterator[tuple[CodeUnit, ast.Call, str, str]]:
    """Yield ``(unit, call, name as written, name resolved through imports)`` for every call."""
    yield from _calls_cached(source)


def walk_all(source: SubmissionSource) -> tuple[tuple[CodeUnit, ast.AST], ...]:
    """Every ``(unit, node)`` of every parsed code unit, in source order (cached)."""
    return _walk_all_cached(source)


@functools.lru_cache(maxsize=32)
def _walk_all_cached(source: SubmissionSource) -> tuple[tuple[CodeUnit, ast.AST], ...]:
    return tuple((unit, node) for unit, _ in iter_trees(source) for node in unit.nodes)


@functools.lru_cache(maxsize=32)
def _calls_cached(source: SubmissionSource) -> tuple[tuple[CodeUnit, ast.Call, str, str], ...]:
    aliases = import_aliases(source)
    found = []
    for unit, node in walk_all(source):
        if isinstance(node, ast.Call):
            name = dotted_name(node.func)
            if name is not None:
                found.append((unit, node, name, _canonical(name, aliases.get(unit.path, {}))))
    return tuple(found)


def call_matches(name: str, canonical: str, names: Iterable[str]) -> bool:
    """The matching rule of :func:`find_calls`, for one callee."""
    return _matches(name, canonical, tuple(names))


def site_at(unit: CodeUnit, node: ast.AST, name: str) -> CallSite:
    """The :class:`CallSite` of ``node`` (its first line) in ``unit``."""
    return _site(unit, node, name)


def sort_sites(sites: Iterable[CallSite]) -> list[CallSite]:
    """``sites`` without duplicates, sorted by ``(path, cell, line, name)``."""
    return _sorted(sites)


def flow_statements(source: SubmissionSource) -> dict[str, list[tuple[CodeUnit, ast.stmt]]]:
    """Per path, every simple statement in reading order (cells in order, then lines).

    Bodies of compound statements (``for``, ``if``, ``with``, ``try``, functions) are flattened
    in place: an approximation of execution order that static analysis can afford. Cached:
    do not modify the lists.
    """
    return _flow_cached(source)


@functools.lru_cache(maxsize=32)
def _flow_cached(source: SubmissionSource) -> dict[str, list[tuple[CodeUnit, ast.stmt]]]:
    flows: dict[str, list[tuple[CodeUnit, ast.stmt]]] = {}
    for unit, tree in iter_trees(source):
        flows.setdefault(unit.path, []).extend((unit, stmt) for stmt in _flatten(tree.body))
    return flows


def _flatten(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for stmt in body:
        children = [
            getattr(stmt, attr, None) for attr in ("body", "orelse", "finalbody", "handlers")
        ]
        nested = [child for child in children if isinstance(child, list) and child]
        if not nested and not isinstance(stmt, ast.Match):
            yield stmt
            continue
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith)):
            yield stmt  # the header (iterable, test, context) is evaluated here
        for child in nested:
            for item in child:
                if isinstance(item, ast.ExceptHandler):
                    yield from _flatten(item.body)
                elif isinstance(item, ast.stmt):
                    yield from _flatten([item])
        if isinstance(stmt, ast.Match):
            for case in stmt.cases:
                yield from _flatten(case.body)


def header_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The parts of ``stmt`` evaluated by the statement itself (not its nested bodies)."""
    if isinstance(stmt, (ast.For, ast.AsyncFor)):
        return [stmt.target, stmt.iter]
    if isinstance(stmt, (ast.While, ast.If)):
        return [stmt.test]
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        return list(stmt.items)
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Try)):
        return []
    return [stmt]


def walk_header(stmt: ast.stmt) -> tuple[ast.AST, ...]:
    """``ast.walk`` over :func:`header_nodes` of ``stmt`` (cached: many graders walk each one)."""
    return _walked_header(stmt)


@functools.lru_cache(maxsize=200_000)
def _walked_header(stmt: ast.stmt) -> tuple[ast.AST, ...]:
    return tuple(node for part in header_nodes(stmt) for node in ast.walk(part))


def root_name(node: ast.AST) -> str | None:
    """The variable an expression starts from: ``df`` for ``df[cols].values`` or ``df.drop(...)``."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return None


def names_in(node: ast.AST) -> set[str]:
    """Every variable name read anywhere in ``node``."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def string_constants(node: ast.AST) -> set[str]:
    """Every string literal in ``node``."""
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def assigned_names(stmt: ast.stmt) -> set[str]:
    """Root names a statement binds or mutates (``a, b = ...``, ``df["x"] = ...``, ``x += 1``)."""
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor)):
        targets = [stmt.target]
    found: set[str] = set()
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name):
                found.add(node.id)
        name = root_name(target)
        if name:
            found.add(name)
    return found


def plain_targets(stmt: ast.stmt) -> set[str]:
    """Variables an assignment rebinds as a whole (``x = ...``, ``a, b = ...``; not ``x[i] = ...``)."""
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.AnnAssign):
        targets = [stmt.target]
    found: set[str] = set()
    for target in targets:
        elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
        found.update(e.id for e in elements if isinstance(e, ast.Name))
    return found


def assigned_value(stmt: ast.stmt) -> ast.AST | None:
    """The right-hand side of an assignment statement, else None."""
    if isinstance(stmt, (ast.Assign, ast.AugAssign)) or (
        isinstance(stmt, ast.AnnAssign) and stmt.value is not None
    ):
        return stmt.value
    return None


def position(unit: CodeUnit, node: ast.AST) -> tuple[int, int]:
    """Reading-order key of ``node`` within its path: ``(cell or -1, line)``."""
    return (-1 if unit.cell is None else unit.cell, getattr(node, "lineno", 0) or 0)


def comment_lines(unit: CodeUnit) -> list[tuple[int, str]]:
    """``(line, text)`` of the ``#`` comments in a code unit (best effort, no tokenizer)."""
    found: list[tuple[int, str]] = []
    for number, line in enumerate(unit.code.split("\n"), start=1):
        match = re.search(r"(?:^|\s)#\s?(.*)$", line)
        if match and not re.match(r"^\s*['\"]", line):
            found.append((number, match.group(1).strip()))
    return found


# --------------------------------------------------------------------------- check building


def site_check(
    check_id: str,
    sites: Iterable[CallSite],
    *,
    weight: float,
    found: str,
    missing: str,
    limit: int = 3,
) -> Check:
    """A check that passes when ``sites`` is non-empty, with up to ``limit`` of them as evidence.

    ``found`` may use ``{names}`` (the distinct matched names, sorted) and ``{count}``.
    """
    ordered = sort_sites(sites)
    if not ordered:
        return Check(id=check_id, passed=False, weight=weight, sentence=missing)
    names = ", ".join(sorted({short_name(site.name) for site in ordered}))
    return Check(
        id=check_id,
        passed=True,
        weight=weight,
        sentence=found.format(names=clip(names, 200), count=len(ordered)),
        evidence=[evidence_for(site) for site in distinct_locations(ordered)[:limit]],
    )


def short_name(name: str) -> str:
    """The last component of a dotted name, for sentences (``df[].value_counts`` -> ``value_counts``)."""
    return name.rsplit(".", 1)[-1].rstrip("()[]") or name


def distinct_locations(sites: Iterable[CallSite]) -> list[CallSite]:
    """The first site at each ``(path, cell, line)``, in the given order."""
    seen: set[tuple[str, int, int]] = set()
    kept = []
    for site in sites:
        if site_key(site) not in seen:
            seen.add(site_key(site))
            kept.append(site)
    return kept


def callee(source: SubmissionSource, unit: CodeUnit, call: ast.Call) -> tuple[str, str] | None:
    """``(name as written, name resolved through imports)`` of a call's callee, or None."""
    name = dotted_name(call.func)
    if name is None:
        return None
    return name, _canonical(name, import_aliases(source).get(unit.path, {}))


def is_call_to(
    source: SubmissionSource, unit: CodeUnit, node: ast.AST, names: Iterable[str]
) -> bool:
    """True when ``node`` is a call matching ``names`` (the rule of :func:`find_calls`)."""
    if not isinstance(node, ast.Call):
        return False
    resolved = callee(source, unit, node)
    return resolved is not None and _matches(resolved[0], resolved[1], tuple(names))


def find_keywords(source: SubmissionSource, names: Iterable[str]) -> list[CallSite]:
    """Keyword arguments named like ``names`` whose value is not ``None`` or ``False``, sorted.

    ``stratify=y`` and ``class_weight="balanced"`` count; ``stratify=None`` does not.
    """
    wanted = set(names)
    found: list[CallSite] = []
    for unit, node in walk_all(source):
        if isinstance(node, ast.keyword) and node.arg in wanted:
            value = node.value
            if isinstance(value, ast.Constant) and (value.value is None or value.value is False):
                continue
            found.append(_site(unit, node, node.arg))
    return _sorted(found)


def clear_caches() -> None:
    """Forget every cached source and derived index (tests; long-running processes)."""
    for cached in (
        _load_source_cached,
        _import_aliases_cached,
        _walk_all_cached,
        _calls_cached,
        _flow_cached,
        _walked_header,
    ):
        cached.cache_clear()
