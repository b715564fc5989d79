"""The HTML report: one self-contained file an interviewer reads before the deep-dive.

Safety: everything that came from a submission is hostile. Templates autoescape; code excerpts
go through Pygments (which escapes); candidate HTML/JS/SVG is never rendered, only shown as
escaped text; images are embedded only after their PNG/JPEG magic bytes are checked, as
``data:`` URIs. A strict Content-Security-Policy forbids scripts and every network fetch.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer, TextLexer, get_lexer_for_filename
from pygments.token import Error
from pygments.util import ClassNotFound

from graders.base import Evidence, GraderResult
from harness import __version__
from harness.report import plots
from harness.result import NOT_JUDGED_KEYS, GradingResult, not_judged_notes

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'")
MAX_IMAGES = 12
MAX_IMAGE_BYTES = 2 * 1024 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
STATUS_LABELS = {
    "graded": "Graded",
    "execution_failed": "Graded — code failed to run",
    "rejected": "Rejected — not graded",
    "harness_error": "Harness error — not graded",
}
HELDOUT_GRADER = "heldout_metrics"
NO_ARTIFACTS = "figure not available (artifacts not found)"
_FORMATTER = HtmlFormatter(noclasses=True, nowrap=True, style="friendly")


def new_environment(loader: BaseLoader, *, keep_trailing_newline: bool = False) -> Environment:
    """A Jinja2 environment with takehome's settings (autoescape always on, undefined names an
    error) and the report's filters; the reports and the web app each build theirs with it."""
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
    )
    env.filters.update(highlight=highlight_excerpt, fmt=fmt_number, pct=fmt_percent,
                       short=fmt_short, where=evidence_location, level_class=level_class)
    env.globals["harness_version"] = __version__
    return env


@functools.cache
def environment() -> Environment:
    """The Jinja2 environment shared by the report templates.

    One per process: Jinja2 then compiles each template once, not once per report (the
    environment is thread-safe for rendering and nobody changes it after this function).
    """
    env = new_environment(FileSystemLoader(str(TEMPLATES)), keep_trailing_newline=True)
    env.globals["csp"] = CSP
    return env


# --- filters -----------------------------------------------------------------------------------


# the usual evidence files, without pygments' scan of every lexer's file patterns (slow at start)
_KNOWN_LEXERS = {".py": PythonLexer, ".ipynb": PythonLexer, ".md": TextLexer, ".txt": TextLexer,
                 ".rst": TextLexer, ".csv": TextLexer, ".log": TextLexer}


def highlight_excerpt(excerpt: str | None, path: str | None = None) -> Markup:
    """Syntax-highlighted, escaped HTML for a code excerpt (lexer chosen by file name only)."""
    if not excerpt:
        return Markup("")
    lexer: Any = TextLexer()
    if path:
        name = path.rsplit("/", 1)[-1]
        known = _KNOWN_LEXERS.get(name[name.rfind("."):].lower() if "." in name else "")
        if known is not None:
            lexer = known()
        else:
            try:
                lexer = get_lexer_for_filename(name, stripnl=False)
            except ClassNotFound:
                lexer = TextLexer()
            if lexer.name in {"HTML", "XML", "SVG", "JavaScript+Ruby"}:
                lexer = TextLexer()
    if not isinstance(lexer, TextLexer) and any(
            token in Error for token, _ in lexer.get_tokens(excerpt)):
        # not code in that language (a markdown cell of a notebook, prose): plain text reads
        # better than red error boxes
        lexer = TextLexer()
    return Markup(pygments_highlight(excerpt, lexer, _FORMATTER))


def fmt_number(value: Any, digits: int = 3) -> str:
    """A number for display (``–`` for missing)."""
    if value is None or isinstance(value, bool):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.{digits}f}"
    return str(value)


def fmt_short(value: Any) -> str:
    """A compact number (up to 4 significant digits, no trailing zeros) or the text as is."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return fmt_number(value)


def fmt_percent(value: Any) -> str:
    """A 0–1 share as a percentage."""
    return "–" if not isinstance(value, (int, float)) else f"{100 * value:.0f}%"


def evidence_location(evidence: Evidence) -> str:
    """``path · cell 3 · line 12`` for an evidence item."""
    parts = []
    if evidence.path:
        parts.append(evidence.path)
    if evidence.cell is not None:
        parts.append(f"cell {evidence.cell}")
    if evidence.line is not None:
        parts.append(f"line {evidence.line}")
    return " · ".join(parts)


def level_class(level: int | None) -> str:
    """CSS class for a level (``lvl-n`` for not graded)."""
    return "lvl-n" if level is None else f"lvl-{level}"


# --- images ------------------------------------------------------------------------------------


def sniff_image(data: bytes) -> str | None:
    """``image/png`` or ``image/jpeg`` from the magic bytes; None for anything else (SVG, HTML)."""
    if data.startswith(PNG_MAGIC):
        return "image/png"
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    return None


class ImageBudget:
    """Embeds candidate images from the artifacts folder, checked and capped in count and size."""

    def __init__(self, root: Path | None, max_images: int = MAX_IMAGES,
                 max_bytes: int = MAX_IMAGE_BYTES, snapshot_root: Path | None = None):
        self.roots = [r.resolve() for r in (root, snapshot_root) if r is not None]
        self.left = max_images
        self.max_bytes = max_bytes
        self.cache: dict[str, str | None] = {}
        self.problems: dict[str, str] = {}
        self.skipped: list[str] = []

    def uri(self, relative: str | None) -> str | None:
        """A data: URI for an artifact-relative image path, or None when refused."""
        if not relative:
            return None
        if not self.roots:
            if relative not in self.problems:
                self.problems[relative] = NO_ARTIFACTS
                self.skipped.append(f"{relative}: artifacts not found")
            return None
        if relative in self.cache:
            return self.cache[relative]
        self.cache[relative] = value = self._load(relative)
        return value

    def problem(self, relative: str | None) -> str:
        """Why an image was not shown (after :meth:`uri` returned None)."""
        return self.problems.get(relative or "", "not shown")

    def _load(self, relative: str) -> str | None:
        """Evidence images are relative to the artifacts root, else to the snapshot root."""
        original = relative
        if self.left <= 0:
            self.problems[original] = "not shown: image limit reached"
            self.skipped.append(f"{relative}: image limit reached")
            return None
        relative = relative.removeprefix("artifact:")
        problem = "missing"
        for root in self.roots:
            candidate = root / relative
            try:
                if candidate.is_symlink() or not candidate.resolve().is_relative_to(root):
                    problem = "outside the artifacts folder"
                    continue
                if not candidate.is_file():
                    continue
                if candidate.stat().st_size > self.max_bytes:
                    problem = "too large"
                    continue
                with candidate.open("rb") as handle:
                    data = handle.read(self.max_bytes + 1)
            except OSError:
                problem = "unreadable"
                continue
            mime = sniff_image(data)
            if mime is None:
                problem = "not a PNG or JPEG"
                continue
            self.left -= 1
            return plots.data_uri(data, mime)
        self.problems[original] = (
            "figure not available (not found in the artifacts folder)" if problem == "missing"
            else f"not shown: {problem}")
        self.skipped.append(f"{relative}: {problem}")
        return None


# --- held-out metrics ----------------------------------------------------------------------------


def _num(value: Any, key: str | None = None) -> float | None:
    if isinstance(value, Mapping):
        for candidate in (key, "value", "score"):
            if candidate and candidate in value:
                return _num(value[candidate])
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _first(details: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in details and details[key] is not None:
            return details[key]
    return None


def heldout_primary(result: GraderResult | None) -> tuple[str | None, float | None]:
    """(primary metric name, held-out value) of a held-out grader result; Nones when absent."""
    if result is None or result.not_applicable:
        return None, None
    details = result.details or {}
    metrics = details.get("metrics") if isinstance(details.get("metrics"), Mapping) else {}
    primary = _first(details, "primary_metric", "metric")
    primary = str(primary) if primary is not None else None
    value = _num(_first(details, "primary_value", "value", "score"))
    if value is None and primary and primary in metrics:
        value = _num(metrics[primary])
    return primary, value


def heldout_view(result: GraderResult | None) -> dict[str, Any] | None:
    """What the held-out panel shows (metrics table, position bar, plots); None to omit it."""
    if result is None or result.not_applicable:
        return None
    details = result.details or {}
    metrics = details.get("metrics") if isinstance(details.get("metrics"), Mapping) else {}
    primary, value = heldout_primary(result)
    scale = details.get("scale") if isinstance(details.get("scale"), Mapping) else {}
    reference = _num(_first(details, "reference", "reference_score"), primary)
    if reference is None:
        reference = _num(scale.get("reference"))
    baseline = _num(_first(details, "baseline", "baseline_score"), primary)
    if baseline is None:
        baseline = _num(scale.get("baseline"))
    ci_low = _num(_first(details, "ci_low"))
    ci_high = _num(_first(details, "ci_high"))
    ci = details.get("ci")
    if (ci_low is None or ci_high is None) and isinstance(ci, Mapping):
        ci_low, ci_high = _num(ci.get("low")), _num(ci.get("high"))
    if (ci_low is None or ci_high is None) and isinstance(ci, (list, tuple)) and len(ci) == 2:
        ci_low, ci_high = _num(ci[0]), _num(ci[1])
    greater = details.get("greater_is_better")
    greater = True if not isinstance(greater, bool) else greater
    view: dict[str, Any] = {
        "baseline_source": str(scale.get("source_baseline") or "baseline"),
        "reference_source": str(scale.get("source_reference") or "reference"),
        "primary": primary, "value": value, "reference": reference, "baseline": baseline,
        "ci_low": ci_low, "ci_high": ci_high, "greater_is_better": greater,
        "metrics": [(str(k), _num(v)) for k, v in sorted(metrics.items())
                    if _num(v) is not None and str(k) != primary],
        "bar": _position_bar(value, ci_low, ci_high, baseline, reference),
        "plots": [],
    }
    matrix = _first(details, "confusion_matrix", "confusion")
    labels = details.get("labels") if isinstance(details.get("labels"), list) else None
    if isinstance(matrix, Mapping):  # {"labels": [...], "matrix": [[...]], ...}
        if isinstance(matrix.get("labels"), list):
            labels = matrix["labels"]
        matrix = matrix.get("matrix")
    pr = _first(details, "pr_curve", "precision_recall_curve", "pr")
    if isinstance(pr, Mapping):
        rate = _num(_first(details, "positive_rate", "prevalence"))
        cells = plots.valid_matrix(matrix)
        if rate is None and cells is not None and len(cells) == 2 and sum(map(sum, cells)):
            rate = sum(cells[1]) / sum(map(sum, cells))  # rows are the truth
        png = plots.pr_curve_png(pr.get("precision"), pr.get("recall"), rate)
        if png:
            view["plots"].append(("Precision–recall curve", plots.data_uri(png)))
    roc = _first(details, "roc_curve", "roc")
    if isinstance(roc, Mapping):
        png = plots.roc_curve_png(roc.get("fpr"), roc.get("tpr"))
        if png:
            view["plots"].append(("ROC curve", plots.data_uri(png)))
    if matrix is not None:
        png = plots.confusion_matrix_png(matrix, labels)
        if png:
            view["plots"].append(("Confusion matrix", plots.data_uri(png)))
    if value is None and not view["metrics"] and not view["plots"]:
        return None
    return view


def _position_bar(value: float | None, low: float | None, high: float | None,
                  baseline: float | None, reference: float | None) -> dict[str, Any] | None:
    """Marker positions (percent of the bar's width) for candidate, CI, baseline and reference."""
    points = [v for v in (value, low, high, baseline, reference) if v is not None]
    if value is None or len(points) < 2:
        return None
    lo, hi = min(points), max(points)
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - 0.1 * span, hi + 0.1 * span
    if all(0 <= p <= 1 for p in points):
        lo, hi = max(0.0, lo), min(1.0, hi)

    def at(v: float | None) -> float | None:
        return None if v is None else round(100 * (v - lo) / (hi - lo), 2)

    return {"lo": lo, "hi": hi, "value": at(value), "ci_low": at(low), "ci_high": at(high),
            "baseline": at(baseline), "reference": at(reference)}


# --- view model ----------------------------------------------------------------------------------


def _scalar(key: str, value: Any) -> str | None:
    """A detail value for display, or None when it is not a short scalar."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and key.endswith("_bytes"):
        return f"{value / 1048576:,.0f} MiB"
    if isinstance(value, (int, float)):
        return fmt_short(value)
    if isinstance(value, str) and len(value) <= 200:
        return value
    if isinstance(value, list) and len(value) <= 8 and all(
            isinstance(v, (str, int, float)) and len(str(v)) <= 60 for v in value):
        return ", ".join(str(v) for v in value) if value else "none"
    return None


def _scalar_details(details: Mapping[str, Any], skip: set[str]) -> list[tuple[str, str]]:
    """Short details (numbers, short strings and lists, one level of nesting) as display
    pairs, sorted by key; long or deep values are left to result.json."""
    rows: list[tuple[str, str]] = []
    for key in sorted(details, key=str):
        if key in skip or key in ("harness_fault", "traceback", "sites"):
            continue  # "sites" only counts evidence per check: the checks above already show it
        value = details[key]
        if isinstance(value, Mapping):
            for sub in sorted(value, key=str)[:12]:
                shown = _scalar(str(sub), value[sub])
                if shown is not None:
                    rows.append((f"{key}.{sub}", shown))
            continue
        shown = _scalar(str(key), value)
        if shown is not None:
            rows.append((str(key), shown))
    return rows[:40]


_HELDOUT_KEYS = {"metrics", "primary_metric", "metric", "primary_value", "value", "score",
                 "reference", "reference_score", "baseline", "baseline_score", "ci_low", "ci_high",
                 "ci", "greater_is_better", "pr_curve", "precision_recall_curve", "pr",
                 "roc_curve", "roc", "confusion_matrix", "confusion", "labels", "scale",
                 "positive_rate", "prevalence"}


# a few details worth a line of their own, per grader; everything else that is short and not
# empty goes into a collapsed "more details" block (the checks above already say what matters)
KEY_DETAILS = {
    "code_quality": ("pylint_score",),
    "data_quality": ("train_has_missing_values",),
    "documentation": ("readme_words", "notebook_markdown_words"),
    "exploration": ("target",),
    "heldout_metrics": ("n_rows",),
    "imbalance": ("minority_share",),
    "modeling": ("estimators",),
    "reproducibility": ("run_wall_time_s", "run_peak_memory_bytes"),
    "tests": ("coverage_percent", "test_functions"),
}
# details that only repeat what a check (or the held-out panel) already shows
HIDDEN_DETAILS = {"validation.ok", "validation.errors", "validation.warnings"}


def split_details(name: str, details: Mapping[str, Any],
                  skip: set[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(key details, the rest) of a grader's details, without empty values and duplicates."""
    rows = [(k, v) for k, v in _scalar_details(details, skip)
            if v not in ("none", "") and k not in HIDDEN_DETAILS]
    keys = KEY_DETAILS.get(name, ())
    main = [(k, v) for k, v in rows if k in keys]
    main.sort(key=lambda kv: keys.index(kv[0]))
    return main, [(k, v) for k, v in rows if k not in keys]


def _figure_note(check: Any, images: ImageBudget) -> str:
    """Says how many of a check's figures are shown, and why the others are not."""
    figures = [e.image for e in check.evidence if e.image]
    if not figures:
        return ""
    shown = sum(1 for f in figures if images.uri(f))
    note = f"{shown} of {len(figures)} figure{'' if len(figures) == 1 else 's'} shown"
    if shown < len(figures):
        note += " (the others: see the reason under each)"
    if check.id == "exploration.figures":
        note += ("; the grader keeps at most 2 saved figures and 3 notebook image outputs as "
                 "evidence, so the counts in the sentence can be higher")
    return note + "."


def _grader_view(name: str, result: GraderResult | None, images: ImageBudget) -> dict[str, Any]:
    if result is None:
        return {"name": name, "missing": True}
    skip = (_HELDOUT_KEYS if name == HELDOUT_GRADER else set()) | set(NOT_JUDGED_KEYS)
    checks = sorted(result.checks, key=lambda c: (c.passed, -c.weight, c.id))
    main, more = split_details(name, result.details or {}, skip)
    return {
        "name": name,
        "missing": False,
        "result": result,
        "checks": checks,
        "figure_notes": {c.id: _figure_note(c, images) for c in checks},
        "details": main,
        "more_details": more,
        "not_judged": not_judged_notes(result),
        "heldout": heldout_view(result) if name == HELDOUT_GRADER else None,
    }


def build_view(result: GradingResult, artifacts_root: Path | None = None,
               snapshot_root: Path | None = None) -> dict[str, Any]:
    """Everything the report template needs, computed in Python (templates stay simple)."""
    images = ImageBudget(artifacts_root, snapshot_root=snapshot_root)
    criteria: list[dict[str, Any]] = []
    used: set[str] = set()
    if result.rubric is not None:
        for criterion in result.rubric.criteria:
            names = list(criterion.grader_scores) or []
            used.update(names)
            criteria.append({
                "c": criterion,
                "graders": [_grader_view(n, result.graders.get(n), images) for n in names],
            })
    others = [_grader_view(n, r, images) for n, r in sorted(result.graders.items())
              if n not in used]
    stages = sorted(result.stages.values(), key=lambda s: s.stage)
    failing_cells = []
    for name in ("reproducibility",):
        grader = result.graders.get(name)
        if grader:
            for key in ("failing_cell", "failed_cell", "error_cell"):
                if key in grader.details and isinstance(grader.details[key], (int, str)):
                    failing_cells.append(str(grader.details[key]))
    return {
        "r": result,
        "name": result.submission.name,
        "status_label": STATUS_LABELS.get(result.status, result.status),
        "criteria": criteria,
        "others": others,
        "stages": stages,
        "failing_cells": failing_cells,
        "top_flags": result.red_flags[:5],
        "image_uri": images.uri,
        "image_problem": images.problem,
        "images_skipped": images.skipped,
        "not_reproduced": any(
            not e.reproduced
            for g in result.graders.values()
            for c in g.checks for e in c.evidence
        ),
        "graded_count": sum(1 for c in criteria if c["c"].graded),
    }


def render_html(result: GradingResult, artifacts_root: Path | None = None,
                snapshot_root: Path | None = None) -> str:
    """The report for one result, as one self-contained HTML document.

    Evidence images are looked up under ``artifacts_root``, then ``snapshot_root``.
    """
    view = build_view(result, artifacts_root, snapshot_root)
    return environment().get_template("report.html.j2").render(**view)
