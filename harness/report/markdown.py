"""A short Markdown summary for pasting into an applicant-tracking system.

Deterministic (same result, same text). Candidate-derived text is escaped so that it cannot add
links, images, HTML or table cells when the ATS renders the Markdown.
"""

from __future__ import annotations

import re

from harness.result import GradingResult, not_judged_notes

# brackets (links, images), emphasis, code, tables, strike-through; parentheses and "#", "+",
# "!" are harmless once brackets are escaped and text never starts a line
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
STATUS_TEXT = {
    "graded": "graded",
    "execution_failed": "graded, but the code failed to run",
    "rejected": "rejected (not graded)",
    "harness_error": "harness error (not graded)",
}


def md_escape(text: str, limit: int = 300) -> str:
    """One line of text, safe inside Markdown paragraphs and table cells."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    text = text.replace("<", "&lt;").replace(">", "&gt;")  # no raw HTML in the ATS
    text = _SPECIAL.sub(r"\\\1", text)
    return text


def _level(level: int | None, harness_fault: bool) -> str:
    if level is not None:
        return f"{level}/4 " + "■" * level + "□" * (4 - level)
    return "not graded (harness fault)" if harness_fault else "n/a"


def _task_context_lines(result: GradingResult) -> list[str]:
    """The inferred task context of a screened submission (``takehome screen``), else nothing."""
    context = result.assignment.task_context
    if context is None:
        return []
    task = (context.task_type or "unknown").replace("_", " ")
    target = f"`{md_escape(context.target, 80)}`" if context.target else "unknown"
    lines = ["### Task context (inferred)", "",
             "No assignment: the task was inferred from the submission; no held-out set.", "",
             f"- target: {target}; task type: {task}"]
    if context.class_shares:
        shares = ", ".join(f"{md_escape(k, 40)} {100 * v:.1f}%"
                           for k, v in sorted(context.class_shares.items()))
        lines.append(f"- class shares: {shares} (from {md_escape(context.data_file or '?', 120)})")
    elif context.stated_minority_share is not None:
        lines.append(f"- minority share stated: {100 * context.stated_minority_share:.2f}%")
    for item in context.evidence:
        where = md_escape(item.path, 120) + (f" cell {item.cell}" if item.cell is not None else "")
        where += f":{item.line}" if item.line else ""
        lines.append(f"- {item.field.replace('_', ' ')} from {item.source}"
                     + (f" ({where})" if item.path else "")
                     + (f": {md_escape(item.excerpt, 160)}" if item.excerpt else ""))
    lines.extend(f"- not inferred: {md_escape(n, 200)}" for n in context.not_judged)
    lines.append("")
    return lines


def _not_judged_lines(result: GradingResult) -> list[str]:
    """In static mode, what each grader says it could not judge from the files alone."""
    if result.run.mode != "static":
        return []
    notes = [(name, note) for name, grader in sorted(result.graders.items())
             for note in not_judged_notes(grader)]
    if not notes:
        return []
    lines = ["### Not judged statically", "",
             "The code was read, not run; the graders say what that leaves open:", ""]
    lines.extend(f"- {md_escape(name, 40)}: {md_escape(note, 300)}" for name, note in notes)
    lines.append("")
    return lines


def render_markdown(result: GradingResult) -> str:
    """The Markdown summary: total, levels table, red flags, questions."""
    lines: list[str] = []
    name = md_escape(result.submission.name, 80)
    lines.append(f"## {name} — {md_escape(result.assignment.title, 120)}")
    lines.append("")
    total = f"**{result.total:.1f} / 100**" if result.total is not None else "**no total**"
    status = STATUS_TEXT.get(result.status, result.status)
    lines.append(f"Total: {total} · status: {status}"
                 + (f" ({md_escape(result.status_reason, 200)})" if result.status_reason else ""))
    if result.rubric and result.rubric.automatic_total is not None \
            and result.rubric.automatic_total != result.total:
        lines.append("")
        lines.append(f"Reviewed: the automatic total was {result.rubric.automatic_total:.1f}.")
    if result.rubric and result.rubric.harness_fault:
        lines.append("")
        lines.append("Provisional: some criteria were not graded because of a harness fault.")
    lines.append("")
    if result.rubric:
        lines.append("| Criterion | Level | Score | Weight |")
        lines.append("|---|---|---:|---:|")
        reviews = []
        for c in result.rubric.criteria:
            score = f"{100 * c.score:.0f}%" if c.score is not None else "–"
            weight = f"{100 * c.effective_weight:.0f}%" if c.graded else "–"
            title = md_escape(c.title, 80)
            level = _level(c.level, c.harness_fault)
            if c.review:
                auto = "not graded" if c.automatic_level is None else str(c.automatic_level)
                title += f" (reviewed by {md_escape(c.review.reviewer, 60)})"
                level = f"{c.level}/4 (reviewed; auto {auto})"
                if c.automatic_level != c.level:
                    score += " (level/4, set by review)"
                reviews.append(f"- {md_escape(c.title, 80)}: level {auto} → {c.level} by "
                               f"{md_escape(c.review.reviewer, 60)}: "
                               f"{md_escape(c.review.reason, 400)}")
            lines.append(f"| {title} | {level} | {score} | {weight} |")
        if reviews:
            lines.append("")
            lines.append("Reviews:")
            lines.append("")
            lines.extend(reviews)
        lines.append("")
    lines.extend(_task_context_lines(result))
    lines.extend(_not_judged_lines(result))
    lines.append("### Red flags")
    lines.append("")
    if result.red_flags:
        for flag in result.red_flags:
            lines.append(f"- **{flag.severity}** `{flag.id}`: {md_escape(flag.sentence)}")
    else:
        lines.append("None.")
    lines.append("")
    if result.questions:
        lines.append("### Questions to ask")
        lines.append("")
        for index, question in enumerate(result.questions, 1):
            lines.append(f"{index}. {md_escape(question.text, 400)}")
        lines.append("")
    if result.similarity:
        lines.append("### Similar submissions")
        lines.append("")
        for pair in result.similarity:
            lines.append(f"- {md_escape(pair.other, 80)}: {100 * pair.score:.0f}% similar")
        lines.append("")
    lines.append(f"_takehome {result.run.harness_version} · rubric {md_escape(result.run.rubric)} "
                 f"· submission {result.submission.content_hash[:19]}_")
    return "\n".join(lines) + "\n"
