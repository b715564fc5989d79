"""Reports rendered from the canonical result: HTML, JSON, Markdown, Gradescope, batch index.

Every format renders from a :class:`harness.result.GradingResult` (after reviewer overrides and
blinding are applied, in that order), so all formats always agree.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from pathlib import Path

from contracts.errors import TakehomeError
from harness.overrides import OverridesFile, apply_overrides
from harness.result import GradingResult, dump_result

FORMATS = ("html", "json", "md", "gradescope")
DEFAULT_FORMATS = ("html", "json", "md")
FILE_NAMES = {
    "html": "report.html",
    "json": "result.json",
    "md": "summary.md",
    "gradescope": "gradescope_results.json",
}


def prepare(result: GradingResult, overrides: OverridesFile | None = None,
            blind: bool = False) -> GradingResult:
    """The result every format renders: overrides applied, then names hidden when blind."""
    from harness.report.blind import blind_result

    prepared = apply_overrides(result, overrides)
    return blind_result(prepared) if blind else prepared


def render_reports(
    result: GradingResult,
    out_dir: Path,
    formats: Iterable[str] = DEFAULT_FORMATS,
    blind: bool = False,
    overrides: OverridesFile | None = None,
    artifacts_root: Path | None = None,
    snapshot_root: Path | None = None,
) -> dict[str, Path]:
    """Write the requested formats into ``out_dir``; return ``{format: path}``.

    ``artifacts_root`` (then ``snapshot_root``) is where evidence images are looked up; images
    are embedded only when they are real PNG/JPEG files inside those folders.
    """
    wanted = list(dict.fromkeys(formats))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise TakehomeError(f"unknown report format(s): {', '.join(unknown)}",
                            hint=f"choose from {', '.join(FORMATS)}")
    shown = prepare(result, overrides, blind)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for fmt in wanted:
        path = out_dir / FILE_NAMES[fmt]
        if fmt == "json":
            text = dump_result(shown)
        elif fmt == "html":
            from harness.report.html import render_html

            text = render_html(shown, artifacts_root=artifacts_root, snapshot_root=snapshot_root)
        elif fmt == "md":
            from harness.report.markdown import render_markdown

            text = render_markdown(shown)
        else:
            from harness.report.gradescope import render_gradescope

            text = json.dumps(render_gradescope(shown), sort_keys=True, indent=2) + "\n"
        write_atomic(path, text)
        written[fmt] = path
    return written


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` through a temporary file and a rename: readers see the old file or the
    whole new one, never a half-written report. A full disk raises
    :class:`harness.store.OutputDiskFull` and leaves no temporary file behind."""
    import os
    import tempfile

    from harness.store import disk_full_error, is_disk_full

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and is_disk_full(exc):
            raise disk_full_error(path, f"the report {path.name}") from exc
        raise


def render_index(*args, **kwargs):
    """See :func:`harness.report.index.render_index`."""
    from harness.report.index import render_index as _render_index

    return _render_index(*args, **kwargs)


def refresh_index(*args, **kwargs):
    """See :func:`harness.report.index.refresh_index`."""
    from harness.report.index import refresh_index as _refresh_index

    return _refresh_index(*args, **kwargs)


__all__ = ["FILE_NAMES", "FORMATS", "find_artifacts_root", "prepare", "refresh_index",
           "render_index", "render_reports", "report_from_file", "write_atomic"]


def find_artifacts_root(result_path: Path, result: GradingResult) -> Path | None:
    """Where the candidate's figures of a result file are, or None when they cannot be found.

    ``<result dir>/artifacts`` first (a copied or exported result), then the batch's work folder
    ``<result dir>/../.work/runs/<content hash[:16]>/artifacts`` (where ``takehome grade`` keeps
    them).
    """
    folder = Path(result_path).parent
    candidates = [folder / "artifacts"]
    digest = result.submission.content_hash.split(":")[-1]
    if digest:
        candidates.append(folder.parent / ".work" / "runs" / digest[:16] / "artifacts")
    return next((c for c in candidates if c.is_dir()), None)


def is_batch_folder(folder: Path) -> bool:
    """A batch output folder: ``index.html`` and ``summary.csv`` next to ``*/result.json``."""
    folder = Path(folder)
    return ((folder / "index.html").is_file() and (folder / "summary.csv").is_file()
            and any(folder.glob("*/result.json")))


def in_place_formats(folder: Path) -> list[str]:
    """What ``takehome report`` re-renders in place: HTML and Markdown, and the Gradescope file
    when it was written before (never ``result.json``)."""
    formats = ["html", "md"]
    if (Path(folder) / FILE_NAMES["gradescope"]).is_file():
        formats.append("gradescope")
    return formats


def report_from_file(
    result_path: Path,
    out_dir: Path | None = None,
    formats: Iterable[str] | None = None,
    blind: bool = False,
    overrides_path: Path | None = None,
    artifacts_root: Path | None = None,
    refresh_batch: bool = True,
) -> dict[str, Path]:
    """Re-render the reports of a result file (the ``takehome report`` verb).

    Defaults: the reports are re-rendered in place, next to the result (HTML, Markdown, and the
    Gradescope file when present; ``formats`` defaults to ``html,json,md`` with ``out_dir``);
    the overrides file next to the result is applied when it exists; candidate figures come
    from :func:`find_artifacts_root`. The result file itself is never written. When the result's
    folder is part of a batch (see :func:`is_batch_folder`) and the reports were written in
    place, the batch's ``index.html`` and ``summary.csv`` are refreshed too (key ``index`` and
    ``csv`` in the returned mapping).
    """
    from harness.overrides import load_overrides, overrides_path_for
    from harness.result import load_result

    result_path = Path(result_path)
    result = load_result(result_path)
    if overrides_path is None and overrides_path_for(result_path).is_file():
        overrides_path = overrides_path_for(result_path)
    overrides = load_overrides(overrides_path) if overrides_path is not None else None
    in_place = out_dir is None or Path(out_dir).resolve() == result_path.parent.resolve()
    out_dir = result_path.parent if out_dir is None else Path(out_dir)
    if formats is None:
        wanted = in_place_formats(out_dir) if in_place else list(DEFAULT_FORMATS)
    else:
        wanted = list(formats)
    for fmt in wanted:
        target = out_dir / FILE_NAMES.get(fmt, "")
        if fmt in FILE_NAMES and target.resolve() == result_path.resolve():
            raise TakehomeError(f"{target}: writing the {fmt} report would overwrite the result "
                                "file", hint="choose another output folder with -o, or leave "
                                "json out of --format")
    if artifacts_root is None:
        artifacts_root = find_artifacts_root(result_path, result)
    written = render_reports(result, out_dir, wanted, blind=blind, overrides=overrides,
                             artifacts_root=artifacts_root)
    batch_dir = result_path.parent.parent
    if refresh_batch and in_place and not blind and is_batch_folder(batch_dir):
        from harness.report.index import refresh_index

        written["index"], written["csv"] = refresh_index(batch_dir)
    return written
