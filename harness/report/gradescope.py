"""Gradescope-style ``results.json``: one test per rubric criterion, scores summing to the total."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.result import GradingResult

Visibility = Literal["hidden", "after_due_date", "after_published", "visible"]


class GradescopeTest(BaseModel):
    """One criterion as a Gradescope test case."""

    model_config = ConfigDict(extra="forbid")

    name: str
    score: float = Field(ge=0)
    max_score: float = Field(ge=0)
    output: str
    visibility: Visibility = "hidden"


class GradescopeResults(BaseModel):
    """The top-level Gradescope results document."""

    model_config = ConfigDict(extra="forbid")

    score: float = Field(ge=0, le=100)
    max_score: float = 100
    output: str
    tests: list[GradescopeTest]
    visibility: Visibility = "hidden"


def render_gradescope(result: GradingResult, visibility: Visibility = "hidden") -> dict:
    """The Gradescope document as a dict (validated by :class:`GradescopeResults`).

    A criterion's ``max_score`` is its share of 100 after renormalisation; criteria left out of
    the total (not applicable, harness fault) have ``max_score`` 0 and say why in ``output``.
    """
    tests: list[GradescopeTest] = []
    if result.rubric:
        for c in result.rubric.criteria:
            max_score = round(100 * c.effective_weight, 2) if c.graded else 0.0
            score = round(max_score * (c.score or 0.0), 2) if c.graded else 0.0
            if c.graded:
                output = f"Level {c.level}/4: {c.descriptor}"
                if c.review:
                    output += (f"\nReviewed by {c.review.reviewer} (automatic level "
                               f"{c.automatic_level}): {c.review.reason}")
            elif c.harness_fault:
                output = "Not graded (harness fault): " + c.note
            else:
                output = "Not applicable: " + (c.note or "no applicable grader")
            tests.append(GradescopeTest(name=c.title, score=min(score, max_score),
                                        max_score=max_score, output=output,
                                        visibility=visibility))
    flags = "\n".join(f"[{f.severity}] {f.id}: {f.sentence}" for f in result.red_flags)
    summary = f"Status: {result.status}"
    if result.status_reason:
        summary += f" ({result.status_reason})"
    if flags:
        summary += "\nRed flags:\n" + flags
    document = GradescopeResults(
        score=result.total if result.total is not None else 0.0,
        output=summary,
        tests=tests,
        visibility=visibility,
    )
    return document.model_dump(mode="json")
