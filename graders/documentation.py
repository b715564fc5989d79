"""Documentation grader: README sections, notebook narrative and docstrings.

Everything is read statically from the snapshot (through :mod:`graders.source`): the README at
the root, the markdown cells of notebooks in their order, and the ``ast`` of ``.py`` modules.
"""

from __future__ import annotations

import ast
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from graders.artifacts import read_text_capped
from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag, clip
from graders.source import CodeUnit, MarkdownUnit, SubmissionSource, source_for, word_count

README_NAMES = ("readme.md", "readme.rst", "readme.txt", "readme")  # by preference
MIN_README_WORDS = 30
MIN_PROSE_WORDS = 10  # an opening or closing markdown passage
MIN_NOTEBOOK_PROSE_WORDS = 30  # below this a notebook has "no prose" (red flag)
MIN_MARKDOWN_RATIO = 0.25  # markdown cells per code cell
MIN_HEADINGS = 2
MIN_REASONING = 3  # occurrences of "because", "chose", ... in the markdown
MIN_DOCSTRING_SHARE = 0.5
MAX_EVIDENCE = 20

# Section -> heading pattern (matched against lower-cased heading text).
README_SECTIONS: dict[str, re.Pattern[str]] = {
    "problem": re.compile(
        r"\b(problem|task|objective|goal|overview|introduction|intro|background|context|"
        r"motivation|summary|about|challenge|assignment|business)"
    ),
    "approach": re.compile(
        r"\b(approach|method|methodology|solution|model|modell?ing|pipeline|design|"
        r"feature engineering|features|strategy|process|how it works|architecture|analysis)"
    ),
    "results": re.compile(
        r"\b(result|evaluation|performance|metric|finding|score|outcome|benchmark|"
        r"conclusion|validation)"
    ),
    "how_to_run": re.compile(
        r"\b(how to run|how to use|running|run|usage|getting started|setup|set up|"
        r"install|installation|quick ?start|reproduc|requirements|instructions|build)"
    ),
    "limitations": re.compile(
        r"\b(limitation|next step|future|improvement|caveat|known issue|todo|to do|"
        r"further work|what i would|trade-?off|weakness|open question|shortcoming)"
    ),
}
SECTION_LABELS = {
    "problem": "problem",
    "approach": "approach",
    "results": "results",
    "how_to_run": "how to run",
    "limitations": "limitations / next steps",
}
MIN_README_SECTIONS = 4
MIN_SECTION_WORDS = 15  # prose under a section heading (until the next same-or-higher heading)
BOLD_LEVEL = 7  # bold-only lines rank below every real heading level

CONCLUSION_HEADING = re.compile(
    r"\b(conclusion|summary|takeaway|key finding|findings|final thoughts|wrap[- ]?up|next steps|"
    r"discussion|results)"
)
REASONING = re.compile(
    r"\b(because|chose|chosen|choose|since|trade-?offs?|instead of|rather than|decided|"
    r"the reason|reasoning|in order to|so that|prefer(?:red)?|justif\w*|opted)\b",
    re.IGNORECASE,
)
_ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^\s*([=\-~^*+#`'\"])\1{2,}\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)([^*_]{2,80})(?:\*\*|__)\s*:?\s*$")
_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test|conftest)\.py$")


@dataclass(frozen=True)
class Heading:
    """A markdown/rst heading: its text, 1-based line and level (1 = top).

    ``level`` is 1-6 for ATX headings, 1 for ``===`` and 2 for ``---`` underlines (other
    reStructuredText underline characters get 3, 4, ... in order of first use) and
    :data:`BOLD_LEVEL` for bold-only lines. ``underlined`` marks a setext/rst heading, whose
    next line is its underline.
    """

    text: str
    line: int
    level: int = 1
    underlined: bool = False


def headings(text: str) -> list[Heading]:
    """ATX (``# x``), setext / reStructuredText underlined and bold-only-line headings."""
    found: list[Heading] = []
    lines = text.splitlines()
    in_fence = False
    underline_levels = {"=": 1, "-": 2}
    underline_at = -1  # the line under a setext/rst heading (a ``~~~`` one is not a fence)
    for index, line in enumerate(lines):
        if index == underline_at:
            continue
        if line.strip().startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        atx = _ATX.match(line)
        if atx:
            found.append(Heading(atx.group(2).strip(), index + 1, len(atx.group(1))))
            continue
        bold = _BOLD_LINE.match(line)
        if bold:
            found.append(Heading(bold.group(1).strip(), index + 1, BOLD_LEVEL))
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        title = line.strip()
        underlined = _UNDERLINE.match(following) and len(following.strip()) >= min(len(title), 3)
        if title and underlined and not _UNDERLINE.match(line):
            char = following.strip()[0]
            level = underline_levels.setdefault(char, len(underline_levels) + 1)
            found.append(Heading(title, index + 1, level, underlined=True))
            underline_at = index + 1
    return found


def section_body(text: str, heading: Heading, all_headings: list[Heading]) -> str:
    """The text under ``heading`` until the next heading of the same or a higher level.

    Subsection headings themselves are left out; their prose counts for the section.
    """
    lines = text.splitlines()
    start = heading.line + (1 if heading.underlined else 0)  # 0-based index of the first body line
    end = len(lines)
    skip: set[int] = set()
    for other in all_headings:
        if other.line <= heading.line:
            continue
        if other.level <= heading.level:
            end = min(end, other.line - 1)
            break
        skip.add(other.line - 1)
        if other.underlined:
            skip.add(other.line)
    return "\n".join(lines[i] for i in range(start, end) if i not in skip)


def find_readme(root: Path) -> tuple[str, str] | None:
    """``(relative path, text)`` of the README at the snapshot root, or None."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return None
    by_lower: dict[str, str] = {}
    for name in names:
        try:
            if not stat.S_ISREG(os.lstat(root / name).st_mode):
                continue
        except OSError:
            continue
        by_lower.setdefault(name.lower(), name)
    for wanted in README_NAMES:
        if wanted in by_lower:
            text = read_text_capped(root / by_lower[wanted])
            if text is not None:
                return by_lower[wanted], text
    return None


# --------------------------------------------------------------------------- README


def find_sections(text: str) -> tuple[dict[str, Heading], dict[str, Heading]]:
    """``(sections with prose, sections present but nearly empty)`` of a README.

    A section counts when one of its matching headings has at least
    :data:`MIN_SECTION_WORDS` words of prose under it; otherwise its first matching heading is
    reported as empty.
    """
    all_headings = headings(text)
    found: dict[str, Heading] = {}
    empty: dict[str, Heading] = {}
    for heading in all_headings:
        lowered = heading.text.lower()
        for section, pattern in README_SECTIONS.items():
            if section in found or not pattern.search(lowered):
                continue
            if word_count(section_body(text, heading, all_headings)) >= MIN_SECTION_WORDS:
                found[section] = heading
                empty.pop(section, None)
            else:
                empty.setdefault(section, heading)
    return found, empty


def sections_sentence(path: str, found: dict[str, Heading], empty: dict[str, Heading]) -> str:
    """Which of the five sections are written, which are empty headings, which are missing."""
    have = [SECTION_LABELS[s] for s in README_SECTIONS if s in found]
    hollow = [SECTION_LABELS[s] for s in README_SECTIONS if s in empty]
    missing = [SECTION_LABELS[s] for s in README_SECTIONS if s not in found and s not in empty]
    sentence = f"{path} has {len(found)} of the 5 sections an interviewer needs"
    sentence += f" ({', '.join(have)})" if have else ""
    if hollow:
        sentence += (
            f"; present but nearly empty (under {MIN_SECTION_WORDS} words of prose): "
            f"{', '.join(hollow)}"
        )
    sentence += f"; missing: {', '.join(missing)}." if missing else "."
    return sentence


def readme_checks(readme: tuple[str, str] | None) -> list[Check]:
    """``documentation.readme_present`` and ``documentation.readme_sections``."""
    if readme is None:
        return [
            Check(
                id="documentation.readme_present",
                passed=False,
                sentence="No README (README.md, README.rst or README.txt) at the submission root.",
            ),
            Check(
                id="documentation.readme_sections",
                passed=False,
                weight=2.0,
                sentence=(
                    "Without a README none of the sections an interviewer needs (problem, "
                    "approach, results, how to run, limitations / next steps) is written down."
                ),
            ),
        ]
    path, text = readme
    words = word_count(text)
    present = Check(
        id="documentation.readme_present",
        passed=words >= MIN_README_WORDS,
        sentence=(
            f"{path} has {words} words"
            + (
                "."
                if words >= MIN_README_WORDS
                else f", too short to explain the work (at least {MIN_README_WORDS} expected)."
            )
        ),
        evidence=[
            Evidence(
                path=path,
                line=1,
                excerpt=clip(" ".join(text.split()), 200),
                metric={"words": words},
            )
        ],
    )
    found, empty = find_sections(text)
    sections = Check(
        id="documentation.readme_sections",
        passed=len(found) >= MIN_README_SECTIONS,
        weight=2.0,
        sentence=sections_sentence(path, found, empty),
        evidence=[
            Evidence(path=path, line=h.line, excerpt=h.text, note=SECTION_LABELS[s])
            for s, h in sorted(found.items(), key=lambda item: (item[1].line, item[0]))
        ]
        + [
            Evidence(
                path=path,
                line=h.line,
                excerpt=h.text,
                note=f"{SECTION_LABELS[s]}: under {MIN_SECTION_WORDS} words",
            )
            for s, h in sorted(empty.items(), key=lambda item: (item[1].line, item[0]))
        ],
    )
    return [present, sections]


# --------------------------------------------------------------------------- notebooks


@dataclass(frozen=True)
class NotebookProse:
    """Narrative measures of one notebook."""

    path: str
    code_cells: int
    markdown_cells: int
    markdown_words: int
    headings: tuple[tuple[int, Heading], ...]  # (cell, heading)
    intro: tuple[int, ...]  # markdown cells before the first code cell, with prose
    intro_words: int
    closing: tuple[int, ...]  # markdown cells after the last code cell, or a conclusion cell
    closing_words: int


def notebook_prose(path: str, cells: list[tuple[str, str]]) -> NotebookProse:
    """Measure the narrative of one notebook from its ``(cell_type, source)`` list."""
    code_indexes = [i for i, (kind, src) in enumerate(cells) if kind == "code" and src.strip()]
    first = code_indexes[0] if code_indexes else len(cells)
    last = code_indexes[-1] if code_indexes else -1
    md = [(i, src) for i, (kind, src) in enumerate(cells) if kind == "markdown" and src.strip()]
    heads = tuple((i, h) for i, src in md for h in headings(src))
    intro = [(i, src) for i, src in md if i < first]
    closing = [(i, src) for i, src in md if i > last]
    closing_words = sum(word_count(src) for _, src in closing)
    if closing_words < MIN_PROSE_WORDS:
        half = len(cells) / 2
        for i, src in md:
            words = word_count(src)
            is_conclusion = any(CONCLUSION_HEADING.search(h.text.lower()) for h in headings(src))
            if i >= half and is_conclusion and words >= MIN_PROSE_WORDS:
                closing, closing_words = [(i, src)], words
                break
    return NotebookProse(
        path=path,
        code_cells=len(code_indexes),
        markdown_cells=len(md),
        markdown_words=sum(word_count(src) for _, src in md),
        headings=heads,
        intro=tuple(i for i, _ in intro),
        intro_words=sum(word_count(src) for _, src in intro),
        closing=tuple(i for i, _ in closing),
        closing_words=closing_words,
    )


def _cell_excerpt(cells: list[tuple[str, str]], index: int) -> str:
    return clip(" ".join(cells[index][1].split()), 200)


def notebook_checks(source: SubmissionSource, notebooks: list[NotebookProse]) -> list[Check]:
    """Ratio, headings, opening and closing prose over the notebooks that have code."""
    cells_of = source.notebook_cells
    code = sum(n.code_cells for n in notebooks)
    markdown = sum(n.markdown_cells for n in notebooks)
    ratio = markdown / code if code else 0.0
    checks = [
        Check(
            id="documentation.notebook_markdown_ratio",
            passed=ratio >= MIN_MARKDOWN_RATIO,
            sentence=(
                f"The notebooks have {markdown} markdown cells for {code} code cells "
                f"({ratio:.2f} per code cell; at least {MIN_MARKDOWN_RATIO} expected)."
            ),
            evidence=[
                Evidence(
                    path=n.path,
                    metric={
                        "markdown_cells": n.markdown_cells,
                        "code_cells": n.code_cells,
                        "markdown_words": n.markdown_words,
                    },
                )
                for n in notebooks
            ],
        )
    ]
    few_headings = [n.path for n in notebooks if len(n.headings) < MIN_HEADINGS]
    checks.append(
        Check(
            id="documentation.notebook_headings",
            passed=not few_headings,
            sentence=(
                f"Every notebook is structured with at least {MIN_HEADINGS} markdown headings."
                if not few_headings
                else f"Fewer than {MIN_HEADINGS} markdown headings in: {', '.join(few_headings)}."
            ),
            evidence=[
                Evidence(path=n.path, cell=cell, line=h.line, excerpt=h.text)
                for n in notebooks
                for cell, h in n.headings[:MAX_EVIDENCE]
            ][:MAX_EVIDENCE],
        )
    )
    no_intro = [n.path for n in notebooks if n.intro_words < MIN_PROSE_WORDS]
    checks.append(
        Check(
            id="documentation.notebook_intro",
            passed=not no_intro,
            sentence=(
                "Every notebook opens with prose before its first code cell."
                if not no_intro
                else "No opening prose (at least "
                f"{MIN_PROSE_WORDS} words before the first code cell) in: {', '.join(no_intro)}."
            ),
            evidence=[
                Evidence(
                    path=n.path,
                    cell=n.intro[0],
                    line=1,
                    excerpt=_cell_excerpt(cells_of[n.path], n.intro[0]),
                    metric={"words": n.intro_words},
                )
                for n in notebooks
                if n.intro
            ],
        )
    )
    no_closing = [n.path for n in notebooks if n.closing_words < MIN_PROSE_WORDS]
    checks.append(
        Check(
            id="documentation.notebook_conclusion",
            passed=not no_closing,
            sentence=(
                "Every notebook closes with a conclusion in prose."
                if not no_closing
                else "No closing prose or conclusion (at least "
                f"{MIN_PROSE_WORDS} words after the last code cell) in: {', '.join(no_closing)}."
            ),
            evidence=[
                Evidence(
                    path=n.path,
                    cell=n.closing[0],
                    line=1,
                    excerpt=_cell_excerpt(cells_of[n.path], n.closing[0]),
                    metric={"words": n.closing_words},
                )
                for n in notebooks
                if n.closing
            ],
        )
    )
    return checks


# --------------------------------------------------------------------------- reasoning


def _is_prose_doc(unit: MarkdownUnit) -> bool:
    if unit.cell is not None:
        return True
    name = unit.path.rsplit("/", 1)[-1].lower()
    return name.endswith((".md", ".rst")) or name in README_NAMES


def reasoning_check(source: SubmissionSource, readme: tuple[str, str] | None) -> Check:
    """``documentation.explains_choices``: words that justify a choice, in the markdown."""
    units = [u for u in source.markdown_units if _is_prose_doc(u)]
    if readme is not None and not any(u.path == readme[0] for u in units):
        units.append(MarkdownUnit(readme[0], None, readme[1]))
    hits: list[Evidence] = []
    count = 0
    for unit in sorted(units, key=lambda u: (u.path, -1 if u.cell is None else u.cell)):
        for number, line in enumerate(unit.text.splitlines(), start=1):
            matches = REASONING.findall(line)
            if not matches:
                continue
            count += len(matches)
            if len(hits) < MAX_EVIDENCE:
                hits.append(
                    Evidence(
                        path=unit.path, cell=unit.cell, line=number, excerpt=clip(line.strip(), 240)
                    )
                )
    return Check(
        id="documentation.explains_choices",
        passed=count >= MIN_REASONING,
        sentence=(
            f"The written explanations justify choices {count} time{'' if count == 1 else 's'} "
            f'("because", "chose", '
            f'"since", "trade-off" ...; at least {MIN_REASONING} expected).'
        ),
        evidence=hits,
    )


# --------------------------------------------------------------------------- docstrings


@dataclass(frozen=True)
class PublicDef:
    """A public function, class or method of a ``.py`` module."""

    path: str
    line: int
    qualname: str
    kind: str  # "function", "class", "method"
    documented: bool


def public_defs(unit: CodeUnit) -> list[PublicDef]:
    """Top-level public functions and classes, and public methods of public classes."""
    if unit.tree is None:
        return []
    found: list[PublicDef] = []
    for node in unit.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name.startswith("_"):
                continue
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            found.append(
                PublicDef(
                    unit.path, node.lineno, node.name, kind, ast.get_docstring(node) is not None
                )
            )
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not (
                        item.name.startswith("_")
                    ):
                        found.append(
                            PublicDef(
                                unit.path,
                                item.lineno,
                                f"{node.name}.{item.name}",
                                "method",
                                ast.get_docstring(item) is not None,
                            )
                        )
    return found


def docstring_check(source: SubmissionSource) -> Check | None:
    """``documentation.docstrings`` over non-test ``.py`` modules; None when there are none."""
    defs = [
        d
        for unit in source.code_units
        if unit.origin == "py"
        and not _TEST_FILE.search(unit.path)
        and unit.path.rsplit("/", 1)[-1] != "setup.py"
        for d in public_defs(unit)
    ]
    if not defs:
        return None
    defs.sort(key=lambda d: (d.path, d.line, d.qualname))
    documented = sum(1 for d in defs if d.documented)
    share = documented / len(defs)
    missing = [d for d in defs if not d.documented]
    evidence = [
        Evidence(path=d.path, line=d.line, excerpt=f"{d.kind} {d.qualname}", note="no docstring")
        for d in missing[:MAX_EVIDENCE]
    ]
    if len(missing) > MAX_EVIDENCE:
        evidence.append(Evidence(note=f"{len(missing) - MAX_EVIDENCE} more undocumented"))
    return Check(
        id="documentation.docstrings",
        passed=share >= MIN_DOCSTRING_SHARE,
        sentence=(
            f"{documented} of {len(defs)} public functions, classes and methods in .py modules "
            f"({share:.0%}) have a docstring (at least {MIN_DOCSTRING_SHARE:.0%} expected)."
        ),
        evidence=[Evidence(metric={"documented": documented, "public": len(defs)})] + evidence,
    )


# --------------------------------------------------------------------------- grader


def poor_sentence(has_readme: bool, notebooks: int, prose_words: int) -> str:
    """The ``documentation.poor`` sentence: what is missing, in plain words."""
    start = "The README is nearly empty" if has_readme else "There is no README"
    middle = (
        f" and the notebooks hold only {prose_words} words of prose"
        if notebooks
        else " and no notebook"
    )
    return start + middle + ": nothing explains the problem, the approach or the results."


class DocumentationGrader:
    """Judges whether an interviewer can follow the work: README, narrative, docstrings."""

    name = "documentation"
    version = "1"

    def grade(self, context: GraderContext) -> GraderResult:
        """Grade the README, the notebooks' narrative and the docstrings of ``.py`` modules."""
        source = source_for(context)
        readme = find_readme(context.snapshot_root)
        checks = readme_checks(readme)
        notebooks = [
            notebook_prose(path, cells) for path, cells in sorted(source.notebook_cells.items())
        ]
        notebooks = [n for n in notebooks if n.code_cells]
        if notebooks:
            checks.extend(notebook_checks(source, notebooks))
        checks.append(reasoning_check(source, readme))
        docstrings = docstring_check(source)
        if docstrings is not None:
            checks.append(docstrings)

        prose_words = sum(n.markdown_words for n in notebooks)
        readme_words = word_count(readme[1]) if readme else 0
        red_flags: list[RedFlag] = []
        if readme_words < MIN_README_WORDS and prose_words < MIN_NOTEBOOK_PROSE_WORDS:
            red_flags.append(
                RedFlag(
                    id="documentation.poor",
                    severity="medium",
                    sentence=poor_sentence(readme is not None, len(notebooks), prose_words),
                    evidence=[Evidence(path=readme[0], metric={"words": readme_words})]
                    if readme
                    else [],
                )
            )
        details = {
            "readme": readme[0] if readme else None,
            "readme_words": readme_words,
            "notebook_markdown_words": prose_words,
            "notebooks": {
                n.path: {
                    "code_cells": n.code_cells,
                    "markdown_cells": n.markdown_cells,
                    "headings": len(n.headings),
                }
                for n in notebooks
            },
        }
        passed = sum(1 for c in checks if c.passed)
        reason = f"{passed} of {len(checks)} documentation checks passed."
        return GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details=details, reason=reason
        )
