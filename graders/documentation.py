"""Documentation grader: can an interviewer learn what was done, why, with what results, how to
run it and what its limits are, from what the candidate wrote?

Everything is read statically from the snapshot (through :mod:`graders.source`). The written
material is the whole submission's prose, judged together: the README and other ``.md`` /
``.rst`` documents, the markdown cells of notebooks, and module docstrings. It is cut into
*sections* (a heading and the text under it, up to the next heading); each section is read
line by line for five kinds of content, one per question an interviewer asks:

* **approach** (what was done): sentences describing the work, sections about the method;
* **choices** (why): declarative sentences giving a reason ("because the classes are
  imbalanced we ..."), never planning text or the assignment's own instructions;
* **results**: metric names next to values, in prose or in a table;
* **how to run**: commands in a code block, inline code or a list, or run instructions under a
  run heading;
* **limitations** (explicit) and **next steps** (future work, "with more time").

A heading is classified by its words *and* by its body: a heading about "executing the
pipeline" whose body is commands is how-to-run, not approach. Passages that read as the
assignment prompt or a template (imperative task statements, "Your task is", "you should",
questions to the candidate, placeholders such as "Coming soon") are never credited. Numbers a
document reports that appear in no notebook output, code or text output are noted, with low
weight: they may come from a run that was not saved.

Reading the material (sections, vocabularies, prompt detection) lives in
:mod:`graders.documentation_text`; this module answers the questions and builds the result.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from graders.base import Check, Evidence, GraderContext, GraderResult, RedFlag, clip, plural
from graders.documentation_text import (
    IMPERATIVE,
    LIMITATION,
    ML_NOUN,
    MODEL_NAME,
    NEXT_STEP,
    NUMBER,
    REASON,
    RUN_FILE,
    RUN_PROSE,
    TEST_FILE,
    Heading,
    Hit,
    Section,
    SectionFacts,
    about_own_work,
    classify,
    collect_sections,
    describes_action,
    find_readme,
    heading_class,
    headings,
    is_prompt_sentence,
    makefile_help,
    own_reason,
    own_statement,
    read_section,
    referenced_files,
    reported_values,
    snapshot_file_names,
    split_sections,
)
from graders.source import SubmissionSource, source_for, word_count

__all__ = [  # the reading helpers are re-exported: tests and other graders import them here
    "DocumentationGrader",
    "Heading",
    "Section",
    "classify",
    "heading_class",
    "headings",
    "read_section",
    "reported_values",
    "split_sections",
]

MAX_EVIDENCE = 8
MIN_CREDITED_WORDS = 30  # below this in all the material: red flag documentation.poor

# Thresholds of the five questions (counts of distinct lines or sentences).
MIN_APPROACH_POINTS = 3  # action sentences + 1 per 20 words of approach-section prose
MIN_REASONS = 3  # justified choices
MIN_RESULT_VALUES = 1  # metric values
MIN_RUN_PROSE_WORDS = 6  # run instructions in prose under a how-to-run heading
MIN_LIMITATION_SECTION_WORDS = 12
MIN_LIMITATION_SENTENCES = 2
MIN_NEXT_STEP_SECTION_WORDS = 8
MIN_PLACEHOLDER_SECTIONS = 2
MIN_OWN_SENTENCES = 1  # the candidate wrote something of substance: at least level 1
MIN_OWN_WORDS = 12
MIN_CLAIMS_TO_COMPARE = 2
MIN_UNBACKED_CLAIMS = 5  # none of this many reported values saved anywhere: red flag
MIN_MISSING_FILES = 2  # documents naming files the submission lacks: red flag from this many
MAX_MISSING_SHARE = 1 / 3  # ... when they are at least this share of the files named
MAX_SUPPORT_NUMBERS = 100_000

WEIGHTS = {
    "approach": 1.5,
    "choices": 1.0,
    "results": 1.0,
    "how_to_run": 1.25,
    "limitations": 1.0,
    "next_steps": 0.5,
    "results_supported": 0.5,
    "own_words": 0.25,  # alone it reaches level 1 (the criterion's first threshold)
}

# --------------------------------------------------------------------------- the five questions


@dataclass
class Findings:
    """The written material read for the five questions."""

    facts: list[SectionFacts]
    credited: list[SectionFacts]  # not prompt text
    prompt: list[SectionFacts]

    @property
    def document_paths(self) -> set[str]:
        """Paths of the credited sections that come from documents (README, .md, .rst)."""
        return {f.section.path for f in self.credited if f.section.origin == "document"}

    def sentences(self) -> Iterator[tuple[SectionFacts, Hit]]:
        """Every credited sentence with its section. Under a general-knowledge questions
        heading only sentences about the candidate's own work count (a definition of LASSO
        explains no choice of theirs)."""
        for facts in self.credited:
            for sentence in facts.sentences:
                if facts.kind != "qa" or about_own_work(sentence.text):
                    yield facts, sentence


def read_material(sections: list[Section]) -> Findings:
    """Read every section; split the credited ones from prompt/template text."""
    facts = [read_section(s) for s in sections]
    return Findings(
        facts=facts,
        credited=[f for f in facts if not f.prompt],
        prompt=[f for f in facts if f.prompt],
    )


def _words(sentence: str) -> int:
    """Words of an already plain sentence (cheaper than :func:`word_count`)."""
    return len(sentence.split())


def _distinct(hits: Iterable[Hit]) -> list[Hit]:
    seen: set[str] = set()
    out: list[Hit] = []
    for hit in hits:
        key = " ".join(hit.text.lower().split())
        if key not in seen:
            seen.add(key)
            out.append(hit)
    return out


def _where(hits: list[Hit]) -> str:
    places = sorted({h.path for h in hits})
    return ", ".join(places[:3]) + (f" and {len(places) - 3} more" if len(places) > 3 else "")


def section_evidence(facts: SectionFacts, note: str) -> Evidence:
    """Evidence pointing at a section: its heading, or its first sentence when it has none."""
    section = facts.section
    if section.heading:
        return Evidence(
            path=section.path, cell=section.cell, line=section.heading_line,
            excerpt=section.heading, note=note,
        )
    first = facts.sentences[0] if facts.sentences else None
    line = first.line if first else (section.lines[0][0] if section.lines else 1)
    return Evidence(
        path=section.path, cell=section.cell, line=line,
        excerpt=clip(first.text, 240) if first else None, note=note,
    )


@dataclass
class Approach:
    """What the material says was done: action sentences, approach sections, their points."""

    actions: list[Hit]
    sections: list[SectionFacts]

    @property
    def section_words(self) -> int:
        """Words of prose in approach sections."""
        return sum(f.words for f in self.sections)

    @property
    def points(self) -> int:
        """One per action sentence, one per 20 words of approach-section prose."""
        return len(self.actions) + self.section_words // 20

    def document_points(self, findings: Findings) -> int:
        """The points earned in documents (README, other ``.md``/``.rst``), not notebooks."""
        paths = findings.document_paths
        words = sum(f.words for f in self.sections if f.section.origin == "document")
        return sum(1 for h in self.actions if h.path in paths) + words // 20


def read_approach(findings: Findings) -> Approach:
    """The sentences and sections that describe what was done."""
    actions = _distinct(
        s
        for f, s in findings.sentences()
        if f.kind != "how_to_run"
        and _words(s.text) >= 5
        and ML_NOUN.search(s.text)
        and describes_action(s.text)
        and own_statement(s.text)
    )
    sections = [f for f in findings.credited if f.kind == "approach" and f.words >= 10]
    return Approach(actions, sections)


def approach_check(
    findings: Findings,
    trains_models: bool = False,
    has_results: bool = True,
    approach: Approach | None = None,
) -> Check:
    """``documentation.approach``: what was done is described. When the code trains models and
    no result is reported, some sentence must also say what was modelled (name a model, a
    model family or a baseline), and the documents themselves must describe the work: cleaning
    steps and a file map alone, or notebook narration under a README that only says how to run
    it, do not tell an interviewer what was done."""
    approach = approach or read_approach(findings)
    actions, approach_sections = approach.actions, approach.sections
    section_words, points = approach.section_words, approach.points
    modelled = [h for h in actions if MODEL_NAME.search(h.text)]
    silent_on_models = trains_models and not has_results and not modelled
    # Notebook narration of the steps, with no document describing the work and no result
    # reported anywhere, is a lab notebook rather than a write-up of what was done.
    narration_only = (
        trains_models
        and not has_results
        and approach.document_points(findings) < MIN_APPROACH_POINTS
    )
    passed = points >= MIN_APPROACH_POINTS and not silent_on_models and not narration_only
    evidence = [
        section_evidence(f, f"approach section, {f.words} words") for f in approach_sections[:3]
    ] + [h.evidence("describes what was done") for h in actions[:MAX_EVIDENCE]]
    return Check(
        id="documentation.approach",
        passed=passed,
        weight=WEIGHTS["approach"],
        sentence=(
            f"What was done: {len(actions)} sentence"
            f"{'s describe' if len(actions) != 1 else ' describes'} the work and approach sections hold {section_words} words of prose"
            + (f" ({_where(actions)})." if actions else ".")
            + (
                ""
                if passed
                else " Too little to tell what was done."
                if points < MIN_APPROACH_POINTS
                else " The code trains models, but no sentence says what was modelled and no "
                "result is reported."
                if silent_on_models
                else " The code trains models, but no document (README or other) describes the "
                "work and no result is reported: notebook narration of the steps alone does not "
                "say what was done and what came of it."
            )
        ),
        evidence=evidence,
    )


def choices_check(findings: Findings) -> Check:
    """``documentation.choices``: choices are justified in the candidate's own sentences: a
    sentence giving a reason ("because", "so that"...), or any statement under a heading about
    the choices ("Why XGBoost?", "Design decisions")."""
    reasons = _distinct(
        s
        for f, s in findings.sentences()
        if _words(s.text) >= 5
        and (
            (f.kind != "how_to_run" and REASON.search(s.text) and own_reason(s.text))
            or (f.kind == "choices" and own_statement(s.text) and not IMPERATIVE.match(s.text))
        )
    )
    passed = len(reasons) >= MIN_REASONS
    return Check(
        id="documentation.choices",
        passed=passed,
        weight=WEIGHTS["choices"],
        sentence=(
            f"Why: {plural(len(reasons), 'sentence')} give a reason for a "
            f"choice (at least {MIN_REASONS} expected; instructions, questions and plans do not "
            "count)" + (f", in {_where(reasons)}." if reasons else ".")
        ),
        evidence=[h.evidence("a reason") for h in reasons[:MAX_EVIDENCE]],
    )


def result_values(findings: Findings) -> list[Hit]:
    """Credited lines that report a metric with a value."""
    return _distinct(
        h
        for f in findings.credited
        for h in f.metric_values
        if f.section.origin != "docstring" and h.count
    )


def write_up_values(values: list[Hit], write_up_in_documents: bool) -> list[Hit]:
    """The metric values the write-up reports. When the documents are the write-up (they
    describe the work themselves) and give no number, values found only in notebook cells
    are not the write-up's results: the reader of the README learns none of them."""
    if not write_up_in_documents or any(not _in_notebook(h) for h in values):
        return values
    return []


def _in_notebook(hit: Hit) -> bool:
    return hit.path.lower().endswith(".ipynb")


def results_check(values: list[Hit], notebook_only: list[Hit] | None = None) -> Check:
    """``documentation.results``: metrics with values are reported in writing.
    ``notebook_only``: values left out because the write-up is in documents that give none."""
    count = sum(h.count for h in values)
    passed = count >= MIN_RESULT_VALUES
    left_out = sum(h.count for h in notebook_only or [])
    return Check(
        id="documentation.results",
        passed=passed,
        weight=WEIGHTS["results"],
        sentence=(
            f"Results: {plural(count, 'metric value')} reported on {plural(len(values), 'line')}"
            f" (at least {MIN_RESULT_VALUES} expected;"
            ' requirements such as "F1 >= 0.75" do not count)'
            + (f", in {_where(values)}." if values else ".")
            + (
                f" The documents describe the work but report no number; "
                f"{plural(left_out, 'value')} appear only in notebook cells "
                f"({_where(notebook_only or [])}), which the write-up does not give."
                if left_out and not passed
                else ""
            )
        ),
        evidence=[h.evidence("a metric value") for h in values[:MAX_EVIDENCE]]
        + [h.evidence("a value only in a notebook") for h in (notebook_only or [])[:3]
           if not passed],
    )


def how_to_run_check(findings: Findings, makefile: Hit | None = None) -> Check:
    """``documentation.how_to_run``: commands (or a self-documenting Makefile), run
    instructions under a run heading, or anywhere a sentence that says which file to run."""
    commands = _distinct(
        [*(h for f in findings.credited for h in f.commands), *([makefile] if makefile else [])]
    )
    instructions = _distinct(
        s
        for f, s in findings.sentences()
        if _words(s.text) >= MIN_RUN_PROSE_WORDS
        and own_statement(s.text)
        and (
            (f.kind == "how_to_run" and RUN_PROSE.search(s.text))
            or RUN_FILE.search(s.text)
        )
    )
    passed = bool(commands or instructions)
    found = commands or instructions
    return Check(
        id="documentation.how_to_run",
        passed=passed,
        weight=WEIGHTS["how_to_run"],
        sentence=(
            f"How to run: {plural(len(commands), 'command')} "
            f"(code block, inline code or list) and {plural(len(instructions), 'run instruction')}"
            " (under a run heading or naming the file"
            " to run)"
            + (f", in {_where(found)}." if found else "; nothing says how to run the work.")
        ),
        evidence=[h.evidence("a command") for h in commands[:MAX_EVIDENCE]]
        + [h.evidence("run instruction") for h in instructions[: MAX_EVIDENCE - len(commands)]],
    )


def limitation_checks(findings: Findings) -> list[Check]:
    """``documentation.limitations`` (explicit) and ``documentation.next_steps`` (at least)."""
    sections = [
        f
        for f in findings.credited
        if f.kind == "limitations" and f.words >= MIN_LIMITATION_SECTION_WORDS and not f.placeholder
    ]
    sentences = _distinct(
        s
        for f, s in findings.sentences()
        if LIMITATION.search(s.text) and own_statement(s.text) and _words(s.text) >= 5
    )
    explicit = bool(sections) or len(sentences) >= MIN_LIMITATION_SENTENCES
    step_sections = [
        f
        for f in findings.credited
        if f.kind == "next_steps" and f.words >= MIN_NEXT_STEP_SECTION_WORDS and not f.placeholder
    ]
    steps = _distinct(
        s
        for f, s in findings.sentences()
        if NEXT_STEP.search(s.text) and not is_prompt_sentence(s.text) and _words(s.text) >= 4
    )
    touched = explicit or bool(step_sections) or bool(steps) or bool(sentences)

    def sections_evidence(items: list[SectionFacts], note: str) -> list[Evidence]:
        return [section_evidence(f, f"{note}, {f.words} words") for f in items[:3]]

    limitations = Check(
        id="documentation.limitations",
        passed=explicit,
        weight=WEIGHTS["limitations"],
        sentence=(
            f"Limitations: {plural(len(sections), 'limitations section')}"
            f" and {plural(len(sentences), 'sentence')} naming a "
            f"limitation, caveat or assumption"
            + ("." if explicit else "; the limits of the work are not stated explicitly.")
        ),
        evidence=sections_evidence(sections, "limitations section")
        + [h.evidence("a limitation") for h in sentences[:MAX_EVIDENCE]],
    )
    next_steps = Check(
        id="documentation.next_steps",
        passed=touched,
        weight=WEIGHTS["next_steps"],
        sentence=(
            f"Limitations or next steps touched on: {plural(len(step_sections), 'future-work section')}"
            f", {plural(len(steps), 'sentence')} on what to do next, and "
            f"{plural(len(sections), 'limitations section')} and "
            f"{plural(len(sentences), 'sentence')} naming a limitation"
            + ("." if touched else "; neither limitations nor next steps are discussed.")
        ),
        evidence=sections_evidence(step_sections, "next steps section")
        + [h.evidence("a next step") for h in steps[:MAX_EVIDENCE]],
    )
    return [limitations, next_steps]


def own_words_check(findings: Findings) -> Check:
    """``documentation.own_words``: the candidate wrote something of their own (declarative
    sentences of at least :data:`MIN_OWN_WORDS` words in all, in a document or a notebook),
    which alone is worth level 1; nothing, a bare title or only the pasted prompt is level 0."""
    own = _distinct(
        s
        for f, s in findings.sentences()
        if f.section.origin != "docstring" and _words(s.text) >= 3 and own_statement(s.text)
    )
    words = sum(_words(s.text) for s in own)
    passed = len(own) >= MIN_OWN_SENTENCES and words >= MIN_OWN_WORDS
    return Check(
        id="documentation.own_words",
        passed=passed,
        weight=WEIGHTS["own_words"],
        sentence=(
            f"Own words: {plural(len(own), 'sentence')} ({words} words) of the "
            "candidate's own prose in documents or notebook markdown"
            + (f" ({_where(own)})." if passed else "; nothing of their own is written.")
        ),
        evidence=[h.evidence("the candidate's own prose") for h in own[:2]],
    )


_FIT_CALL = re.compile(r"\.(?:fit|fit_predict|train)\(")


def trains_models(source: SubmissionSource) -> bool:
    """Some code calls ``.fit(`` / ``.train(`` (a cheap textual test, outside test files)."""
    return any(
        _FIT_CALL.search(u.code) for u in source.code_units if not TEST_FILE.search(u.path)
    )


# --------------------------------------------------------------------------- supported results


def _number_keys(text: str) -> Iterator[str]:
    """Normalised forms of every decimal number in ``text`` (1-4 decimals, and as a percent)."""
    for match in re.finditer(r"(?<![\d.])(\d{0,4}\.\d+|\d{1,4})(?![\d])", text):
        try:
            value = float(match.group(1))
        except ValueError:
            continue
        for scaled in (value, value * 100, value / 100):
            for decimals in (1, 2, 3, 4):
                yield f"{round(scaled, decimals):.{decimals}f}"


def _claim_keys(text: str) -> list[tuple[str, str]]:
    """``(shown, key)`` of each decimal or percent value claimed on a line."""
    keys = []
    for match in NUMBER.finditer(text):
        shown = match.group(1).replace(" ", "")
        digits = shown.rstrip("%")
        if "." not in digits and not shown.endswith("%"):
            continue
        decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
        value = float(digits)
        if shown.endswith("%"):
            value, decimals = value / 100, decimals + 2
        if value == 0 or decimals == 0 or decimals > 4:
            continue
        keys.append((shown, f"{round(value, decimals):.{decimals}f}"))
    return keys


def support_numbers(source: SubmissionSource) -> set[str] | None:
    """Numbers the submission's code, notebook outputs and text outputs hold, or None when
    there is no saved output to compare with (then claims cannot be checked)."""
    outputs = [o.text for o in source.output_units if o.text]
    text_files = [
        u.text
        for u in source.markdown_units
        if u.cell is None
        and u.path.lower().endswith((".txt", ".log"))
        and not u.path.rsplit("/", 1)[-1].lower().startswith(("requirements", "readme"))
    ]
    if not outputs and not text_files:
        return None
    keys: set[str] = set()
    for text in [*outputs, *text_files, *(u.code for u in source.code_units)]:
        for key in _number_keys(text):
            keys.add(key)
            if len(keys) >= MAX_SUPPORT_NUMBERS:
                return keys
    return keys


@dataclass
class Support:
    """The values the documents report, and those found nowhere in the code or saved outputs."""

    claims: int
    unsupported: list[tuple[Hit, str]]


def claims_support(source: SubmissionSource, values: list[Hit]) -> Support | None:
    """Compare the values documents (not notebooks) report with the code and saved outputs.
    None when documents report too few numbers or nothing was saved."""
    claims = [
        (hit, shown, key)
        for hit in values
        if not hit.path.lower().endswith(".ipynb")
        for shown, key in _claim_keys(hit.text)
    ]
    if len({key for _, _, key in claims}) < MIN_CLAIMS_TO_COMPARE:
        return None
    support = support_numbers(source)
    if support is None:
        return None
    return Support(len(claims), [(hit, shown) for hit, shown, key in claims if key not in support])


def results_supported_check(support: Support | None) -> Check | None:
    """``documentation.results_supported`` (low confidence): reported numbers are found in the
    code or saved outputs. None when there is nothing to compare."""
    if support is None:
        return None
    found = support.claims - len(support.unsupported)
    passed = found * 2 >= support.claims
    return Check(
        id="documentation.results_supported",
        passed=passed,
        weight=WEIGHTS["results_supported"],
        sentence=(
            f"{found} of the {support.claims} values the documents report appear in the code or "
            "in a saved output (notebook outputs, text files)"
            + (
                "."
                if passed
                else "; most reported numbers are backed by nothing saved in the submission "
                "(low confidence: they may come from a run that was not saved)."
            )
        ),
        evidence=[
            hit.evidence(f"{shown} not found in any output or code")
            for hit, shown in support.unsupported[:MAX_EVIDENCE]
        ],
    )


# --------------------------------------------------------------------------- red flags


def prompt_flag(findings: Findings) -> RedFlag | None:
    """``documentation.prompt_text`` (low): passages that read as the assignment's prompt."""
    words = sum(f.words for f in findings.prompt)
    if words < MIN_CREDITED_WORDS:
        return None
    return RedFlag(
        id="documentation.prompt_text",
        severity="low",
        sentence=(
            f"{words} words read as the assignment's prompt or instructions to the candidate "
            f'(imperative task statements, "you should"...) and were not credited.'
        ),
        evidence=[
            Evidence(
                path=f.section.path,
                cell=f.section.cell,
                line=f.section.heading_line or (f.section.lines[0][0] if f.section.lines else 1),
                excerpt=clip(" ".join(s.text for s in f.sentences[:2]), 240),
                note="prompt text",
            )
            for f in findings.prompt[:MAX_EVIDENCE]
        ],
    )


def template_flag(findings: Findings) -> RedFlag | None:
    """``documentation.template_text`` (medium): placeholder sections or editing leftovers."""
    placeholders = [f for f in findings.facts if f.placeholder and f.section.origin == "document"]
    leftovers = [h for f in findings.facts for h in f.leftovers]
    if len(placeholders) < MIN_PLACEHOLDER_SECTIONS and not leftovers:
        return None
    parts = []
    if len(placeholders) >= MIN_PLACEHOLDER_SECTIONS:
        parts.append(f'{len(placeholders)} sections are placeholders ("Coming soon", "TBD"...)')
    if leftovers:
        parts.append(
            f"{plural(len(leftovers), 'line')} of template or "
            'editing leftovers ("Save the file", "[your name]"...)'
        )
    return RedFlag(
        id="documentation.template_text",
        severity="medium",
        sentence="The write-up is partly an unfilled template: " + "; ".join(parts) + ".",
        evidence=[
            Evidence(
                path=f.section.path,
                line=f.section.heading_line,
                excerpt=f.section.heading,
                note="placeholder section",
            )
            for f in placeholders[:MAX_EVIDENCE]
        ]
        + [h.evidence("template leftover") for h in leftovers[:MAX_EVIDENCE]],
    )


def unbacked_results_flag(support: Support | None) -> RedFlag | None:
    """``documentation.results_unbacked`` (medium): the documents report at least
    :data:`MIN_UNBACKED_CLAIMS` values and not one of them appears in the code or in anything
    the submission saved (notebook outputs, text files), which it does hold: the write-up's
    results cannot be traced to the work handed in."""
    if support is None or support.claims < MIN_UNBACKED_CLAIMS:
        return None
    if len(support.unsupported) < support.claims:
        return None
    return RedFlag(
        id="documentation.results_unbacked",
        severity="medium",
        sentence=(
            "None of the values the documents report appears in the code or in a saved output, "
            "although the submission saved outputs: the reported results cannot be traced to "
            "the work handed in (they may come from a run that was not kept)."
        ),
        evidence=[
            hit.evidence(f"{shown} not found in any output or code")
            for hit, shown in support.unsupported[:MAX_EVIDENCE]
        ],
    )


def missing_files_flag(source: SubmissionSource, root: Path) -> RedFlag | None:
    """``documentation.missing_files`` (medium): the documents name several local files (code,
    notebooks, documents, configuration) that are not in the submission, a good share of all
    they name: the write-up describes work or run steps the reader cannot follow."""
    documents = [
        (u.path, u.text)
        for u in source.markdown_units
        if u.cell is None and u.path.lower().endswith((".md", ".rst"))
    ]
    named = referenced_files(documents)
    if len(named) < MIN_MISSING_FILES:
        return None
    present = snapshot_file_names(root)
    missing = [ref for ref in named if ref.rsplit("/", 1)[-1].lower() not in present]
    if len(missing) < MIN_MISSING_FILES or len(missing) < MAX_MISSING_SHARE * len(named):
        return None
    return RedFlag(
        id="documentation.missing_files",
        severity="medium",
        sentence=(
            f"The documents name {len(missing)} of {len(named)} local files that are not in the "
            "submission (code, notebooks, documents or configuration): the write-up does not "
            "match what was handed in."
        ),
        evidence=[
            Evidence(path=named[ref][0], line=named[ref][1], excerpt=ref,
                     note="named but not in the submission")
            for ref in missing[:MAX_EVIDENCE]
        ],
    )


def poor_sentence(has_readme: bool, words: int) -> str:
    """The ``documentation.poor`` sentence: what is missing, in plain words."""
    start = "The README is nearly empty" if has_readme else "There is no README"
    return (
        f"{start} and the whole submission holds only {words} words of the candidate's own "
        "prose: nothing explains the approach or the results."
    )


# --------------------------------------------------------------------------- docstrings (details)


def docstring_share(source: SubmissionSource) -> dict[str, int]:
    """Public top-level functions/classes of non-test ``.py`` modules, and how many are
    documented (reported in ``details``; docstrings are a code-quality matter)."""
    public = documented = 0
    for unit in source.code_units:
        if unit.origin != "py" or unit.tree is None or TEST_FILE.search(unit.path):
            continue
        for node in unit.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name.startswith("_"):
                    continue
                public += 1
                documented += ast.get_docstring(node) is not None
    return {"public": public, "documented": documented}


# --------------------------------------------------------------------------- grader


class DocumentationGrader:
    """Judges whether an interviewer learns what was done, why, the results, how to run it and
    its limits from the submission's written material."""

    name = "documentation"
    version = "5"

    def grade(self, context: GraderContext) -> GraderResult:
        """Read all written material and answer the five questions, with evidence."""
        source = source_for(context)
        readme = find_readme(context.snapshot_root)
        findings = read_material(collect_sections(source, readme))
        values = result_values(findings)
        approach = read_approach(findings)
        written = write_up_values(
            values, approach.document_points(findings) >= MIN_APPROACH_POINTS
        )
        checks = [
            approach_check(findings, trains_models(source), bool(values), approach),
            choices_check(findings),
            results_check(written, [h for h in values if h not in written]),
            how_to_run_check(findings, makefile_help(context.snapshot_root)),
            *limitation_checks(findings),
            own_words_check(findings),
        ]
        support = claims_support(source, values)
        supported = results_supported_check(support)
        if supported is not None:
            checks.append(supported)

        credited_words = sum(f.words for f in findings.credited)
        red_flags = [
            flag
            for flag in (
                prompt_flag(findings),
                template_flag(findings),
                missing_files_flag(source, context.snapshot_root),
                unbacked_results_flag(support),
            )
            if flag is not None
        ]
        if credited_words < MIN_CREDITED_WORDS:
            red_flags.append(
                RedFlag(
                    id="documentation.poor",
                    severity="medium",
                    sentence=poor_sentence(readme is not None, credited_words),
                    evidence=[Evidence(path=readme[0], metric={"words": word_count(readme[1])})]
                    if readme
                    else [],
                )
            )
        by_origin: dict[str, int] = {}
        for facts in findings.credited:
            by_origin[facts.section.origin] = by_origin.get(facts.section.origin, 0) + facts.words
        details = {
            "readme": readme[0] if readme else None,
            "readme_words": word_count(readme[1]) if readme else 0,
            "credited_words": by_origin,
            "prompt_words": sum(f.words for f in findings.prompt),
            "sections": len(findings.facts),
            "docstrings": docstring_share(source),
            "not_judged": (
                "Static reading: words and patterns are matched, not understood. Whether the "
                "write-up is true of the code (a method described but never run, files that do "
                "not exist) is checked only for file names the documents cite; options or "
                "steps the write-up describes but the code ignores are not checked; whether "
                "notebook prose states findings or only logs steps is not told apart; "
                "reported numbers are compared with saved outputs, with low confidence."
            ),
        }
        passed = [c.id.split(".", 1)[1] for c in checks if c.passed]
        reason = f"{len(passed)} of {len(checks)} documentation checks passed" + (
            f" ({', '.join(passed)})." if passed else "."
        )
        return GraderResult.from_checks(
            self.name, self.version, checks, red_flags, details=details, reason=reason
        )
