"""The batch index: ``index.html`` (a sortable table of every submission) and ``summary.csv``.

The only script in any takehome page is the small table sorter below, allowed by its SHA-256
hash in the Content-Security-Policy; it reads cell text and reorders rows, nothing else.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from contracts.errors import TakehomeError
from harness.report.blind import blind_result
from harness.report.html import HELDOUT_GRADER, STATUS_LABELS, environment, heldout_primary
from harness.result import GradingResult

SORT_SCRIPT = """\
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    th.closest('tr').querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""
_INJECTION_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# short column headers for the default rubric's criteria (the full title is the tooltip)
SHORT_TITLES = {
    "exploration": "Explore",
    "imbalance": "Imbalance",
    "data_quality": "Data",
    "modeling": "Model",
    "heldout": "Held-out",
    "code_quality": "Code",
    "tests": "Tests",
    "documentation": "Docs",
    "reproducibility": "Repro",
}


def script_hash(script: str = SORT_SCRIPT) -> str:
    """The CSP source expression (``'sha256-…'``) for an inline script."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def index_csp() -> str:
    """The index page's policy: the report policy plus the sorter script, by hash."""
    return ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
            f"script-src {script_hash()}; base-uri 'none'; form-action 'none'")


def csv_safe(value: Any) -> str:
    """A CSV cell that spreadsheets will not evaluate as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_INJECTION_PREFIXES):
        return "'" + text
    return text


def report_href(report: Path, out_dir: Path) -> str:
    """A relative, percent-encoded link from the index to a report (always ``./`` or ``../``)."""
    relative = Path(os.path.relpath(report.resolve(), out_dir.resolve())).as_posix()
    if not relative.startswith("../"):
        relative = "./" + relative
    return quote(relative, safe="/.-_~")


def criterion_ids(results: Sequence[GradingResult]) -> list[tuple[str, str]]:
    """(id, title) of every criterion, in first-seen order across results."""
    seen: dict[str, str] = {}
    for result in results:
        if result.rubric:
            for c in result.rubric.criteria:
                seen.setdefault(c.id, c.title)
    return list(seen.items())


def short_title(cid: str, title: str) -> str:
    """A column header for a criterion: a known abbreviation, else its title's first word."""
    if cid in SHORT_TITLES:
        return SHORT_TITLES[cid]
    first = (title.split() or [cid])[0].strip("&,:;")
    return first if len(first) <= 10 else first[:9] + "."


def _primary(results: Sequence[GradingResult]) -> str | None:
    """The primary held-out metric's name, when every result that has one agrees on it."""
    names = {heldout_primary(r.graders.get(HELDOUT_GRADER))[0] for r in results}
    names.discard(None)
    return names.pop() if len(names) == 1 else None


def index_row(result: GradingResult, report: str, criteria: list[tuple[str, str]]) -> dict[str, Any]:
    """One candidate's row of the batch index (and of the web app's round table)."""
    levels: list[dict[str, Any]] = []
    scored = {c.id: c for c in result.rubric.criteria} if result.rubric else {}
    for cid, _ in criteria:
        c = scored.get(cid)
        levels.append({
            "level": c.level if c else None,
            "score": c.score if c else None,
            "label": ("–" if c is None else str(c.level) if c.level is not None else
                      ("fault" if c.harness_fault else "n/a")),
            "reviewed": bool(c and c.review),
            "tip": (f"reviewed by {c.review.reviewer}: automatic level "
                    f"{'–' if c.automatic_level is None else c.automatic_level} → {c.level}. "
                    f"{c.review.reason}") if c and c.review else "",
        })
    high = sum(1 for f in result.red_flags if f.severity == "high")
    _, value = heldout_primary(result.graders.get(HELDOUT_GRADER))
    automatic = result.rubric.automatic_total if result.rubric else None
    return {"r": result, "report": report, "levels": levels, "flags": len(result.red_flags),
            "high": high, "status_label": STATUS_LABELS.get(result.status, result.status),
            "primary_value": value,
            "automatic_total": automatic if automatic is not None and automatic != result.total
            else None}


def render_index(
    results: Sequence[tuple[GradingResult, Path]],
    out_dir: Path,
    similarity: Sequence[Any] | None = None,
    blind: bool = False,
) -> tuple[Path, Path]:
    """Write ``index.html`` and ``summary.csv`` for a batch; return both paths.

    ``results`` pairs each result with the path of its HTML report (linked relatively).
    ``similarity`` lists flagged pairs (``harness.similarity.SimilarityPair`` objects, or dicts
    with ``a``, ``b``, ``score``), shown in a "Similarity" section. Rows are sorted by total (highest first, ungraded last).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prepared = [(blind_result(r) if blind else r, p) for r, p in results]
    names = {}
    if blind:
        for (original, _), (shown, _) in zip(results, prepared):
            names[original.submission.name] = shown.submission.name
    prepared.sort(key=lambda item: (item[0].total is None, -(item[0].total or 0.0),
                                    item[0].submission.name))
    criteria = criterion_ids([r for r, _ in prepared])
    rows = [index_row(r, report_href(Path(p), out_dir), criteria) for r, p in prepared]
    links: dict[str, str] = {}
    for (original, path), (shown, _) in zip(results, [(blind_result(r) if blind else r, p)
                                                      for r, p in results]):
        href = report_href(Path(path), out_dir)
        if not blind:
            links.setdefault(Path(path).parent.name, href)
            links.setdefault(original.submission.name, href)
        links[shown.submission.name] = href
    pairs = []
    for item in similarity or []:
        public = False
        if isinstance(item, dict):
            a, b, score = str(item.get("a", "")), str(item.get("b", "")), item.get("score")
        elif hasattr(item, "first"):  # harness.similarity.SimilarityPair
            a, b, score = str(item.first), str(item.second), getattr(item, "score", None)
            public = bool(getattr(item, "second_is_public", False))
        else:
            a, b, score = str(item[0]), str(item[1]), getattr(item[2], "score", item[2])
        if blind:
            a = names.get(a, "another submission")
            b = names.get(b, "another submission") if not public else b
        if public:
            b = f"public solution: {b}"
        pairs.append({"a": a, "b": b, "a_href": links.get(a), "b_href": links.get(b),
                      "score": float(score) if isinstance(score, (int, float)) else None})
    pairs.sort(key=lambda p: (-(p["score"] or 0), p["a"], p["b"]))
    shown_results = [r for r, _ in prepared]
    titles = {r.assignment.title for r in shown_results if r.assignment.title}
    html = environment().get_template("index.html.j2").render(
        rows=rows, criteria=[(cid, title, short_title(cid, title)) for cid, title in criteria],
        pairs=pairs, similarity_checked=similarity is not None,
        csp=index_csp(), script=SORT_SCRIPT,
        blind=blind, title=titles.pop() if len(titles) == 1 else "Batch index",
        primary=_primary(shown_results),
        static=sum(1 for r in shown_results if r.run.mode == "static"),
        reviewed=sum(1 for row in rows if any(lv["reviewed"] for lv in row["levels"])),
    )
    index_path = out_dir / "index.html"
    index_path.write_text(html, encoding="utf-8")
    csv_path = out_dir / "summary.csv"
    csv_path.write_text(summary_csv(shown_results, criteria), encoding="utf-8")
    return index_path, csv_path


def pairs_from_results(results: Sequence[tuple[GradingResult, Path]]) -> list[dict[str, Any]]:
    """The flagged similarity pairs of a batch, rebuilt from each result's ``similarity``.

    Names are the batch's submission folder names (what the batch compared); a pair is listed
    once, and a public solution keeps its "public solution: " prefix.
    """
    folder_of = {r.submission.name: Path(p).parent.name for r, p in results}
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for result, path in results:
        mine = Path(path).parent.name
        for pair in result.similarity:
            other = pair.other
            if other.startswith("public solution: "):
                key: tuple[str, str] = (mine, other)
                seen.setdefault(key, {"a": mine, "b": other.removeprefix("public solution: "),
                                      "score": pair.score, "public": True})
                continue
            other = folder_of.get(other, other)
            a, b = sorted((mine, other))
            seen.setdefault((a, b), {"a": a, "b": b, "score": pair.score})
    pairs = []
    for item in seen.values():
        if item.pop("public", False):
            item["b"] = "public solution: " + item["b"]
        pairs.append(item)
    return pairs


def folder_results(batch_dir: Path, exclude: Collection[str] = (),
                   skip_unreadable: bool = False) -> list[tuple[GradingResult, Path]]:
    """Every ``<batch_dir>/*/result.json`` with its reviewers' overrides applied, and the path
    of its ``report.html``; folders named in ``exclude`` are left out.

    ``skip_unreadable``: a result that cannot be read (damaged, too large, from an unknown
    schema) is left out with a warning on stderr instead of raising.
    """
    from harness.overrides import apply_overrides, load_overrides, overrides_path_for
    from harness.result import load_result

    results: list[tuple[GradingResult, Path]] = []
    for path in sorted(Path(batch_dir).glob("*/result.json")):
        if path.parent.name in exclude:
            continue
        try:
            result = load_result(path)
            overrides = overrides_path_for(path)
            if overrides.is_file():
                result = apply_overrides(result, load_overrides(overrides))
        except (TakehomeError, OSError, ValueError) as error:
            if not skip_unreadable:
                raise
            print(f"warning: {path} left out of the index: {error}", file=sys.stderr)
            continue
        results.append((result, path.parent / "report.html"))
    return results


def refresh_index(batch_dir: Path) -> tuple[Path, Path]:
    """Re-render a batch's ``index.html`` and ``summary.csv`` from its results on disk.

    Loads every ``<batch_dir>/*/result.json`` and applies the reviewers' overrides
    (``result.overrides.yaml`` next to each), so that the index shows reviewed levels and
    totals; links go to each folder's ``report.html``. The results are never modified. Results
    written by a blind batch are already blind, and the index says so.
    """
    batch_dir = Path(batch_dir)
    results = folder_results(batch_dir)
    if not results:
        raise TakehomeError(f"{batch_dir}: no */result.json to index")
    pairs = pairs_from_results(results)
    if all(r.blind for r, _ in results):
        return _render_blind_refresh(results, batch_dir, pairs)
    return render_index(results, batch_dir, similarity=pairs)


def _render_blind_refresh(results: Sequence[tuple[GradingResult, Path]], batch_dir: Path,
                          pairs: list[dict[str, Any]]) -> tuple[Path, Path]:
    """A refreshed blind index: the results are already blind; only the pair names (folder
    names) are replaced by the candidates' pseudonyms."""
    by_folder = {Path(p).parent.name: r.submission.name for r, p in results}
    hidden = []
    for pair in pairs:
        b = pair["b"]
        hidden.append({"a": by_folder.get(pair["a"], "another submission"),
                       "b": b if b.startswith("public solution: ")
                       else by_folder.get(b, "another submission"),
                       "score": pair["score"]})
    return render_index(results, batch_dir, similarity=hidden, blind=True)


def summary_csv(results: Sequence[GradingResult], criteria: list[tuple[str, str]]) -> str:
    """One row per submission: identity, status, total, red flags, per-criterion level/score."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["candidate", "content_hash", "status", "total", "red_flags", "high_red_flags"]
    for cid, _ in criteria:
        header += [f"{cid}_level", f"{cid}_score"]
    header += ["primary_metric", "primary_value", "automatic_total", "reviewed", "mode"]
    writer.writerow(header)
    for result in results:
        scored = {c.id: c for c in result.rubric.criteria} if result.rubric else {}
        row: list[Any] = [
            result.submission.name, result.submission.content_hash, result.status,
            "" if result.total is None else f"{result.total:.1f}", len(result.red_flags),
            sum(1 for f in result.red_flags if f.severity == "high"),
        ]
        for cid, _ in criteria:
            c = scored.get(cid)
            row += ["" if c is None or c.level is None else c.level,
                    "" if c is None or c.score is None else f"{c.score:.3f}"]
        metric, value = heldout_primary(result.graders.get(HELDOUT_GRADER))
        automatic = result.rubric.automatic_total if result.rubric else None
        row += [metric or "", "" if value is None else f"{value:.4f}",
                "" if automatic is None else f"{automatic:.1f}",
                " ".join(sorted(c.id for c in scored.values() if c.review)), result.run.mode]
        writer.writerow([csv_safe(v) for v in row])
    return buffer.getvalue()
